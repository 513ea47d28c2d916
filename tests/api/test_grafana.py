"""The requests Grafana's Infinity data source makes (docs/grafana.md), as it expands them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.graph.models import PLANT, tank
from tests.servers import running_api
from twinforge.graph import TwinGraph, Update


def iso(moment: datetime) -> str:
    """How ${__from:date:iso} expands: milliseconds and Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def test_a_panel_query_and_a_template_variable(graph: TwinGraph) -> None:
    graph.add_models(PLANT)
    graph.create_twin("t1", tank(level=0.0))
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    graph.apply_updates([Update("t1", {"level": float(k % 60)}, ts=int((start + timedelta(seconds=10 * k)).timestamp()
                                                                        * 1e6)) for k in range(720)])
    with running_api(graph) as url, httpx.Client(base_url=url) as grafana:
        frm, to = start + timedelta(minutes=30), start + timedelta(minutes=90)
        r = grafana.get("/digitaltwins/t1/history", headers={"max-items-per-page": "1000", "Accept": "application/json"},
                        params={"name": "level", "from": iso(frm), "to": iso(to), "bucket": "1m", "agg": "avg"})
        assert r.status_code == 200, r.text
        rows = r.json()["value"]
        assert 59 <= len(rows) <= 61  # one average a minute over the hour asked for
        assert all(set(row) == {"time", "value"} for row in rows)
        first = datetime.fromisoformat(rows[0]["time"].replace("Z", "+00:00"))
        assert frm - timedelta(minutes=1) <= first <= frm + timedelta(minutes=1)
        assert all(0.0 <= row["value"] <= 59.0 for row in rows)
        for interval in ("500ms", "15s", "1h", "1d"):  # what ${__interval} becomes at other widths
            r = grafana.get("/digitaltwins/t1/history", params={"name": "level", "from": iso(frm), "to": iso(to),
                                                                "bucket": interval, "agg": "max"})
            assert r.status_code == 200 and r.json()["value"], (interval, r.text)
        listed = grafana.post("/query", json={"query": "SELECT T.$dtId FROM DIGITALTWINS T WHERE "
                                                       "IS_OF_MODEL(T, 'dtmi:test:Tank;1')"}).json()["value"]
        assert listed == [{"$dtId": "t1"}]
