"""Several servers, one platform: two `twinforge serve` processes over one PostgreSQL see the
same rules, detectors, work orders and scenarios; one evaluator (a lease) feeds the detectors
every value in order, whichever server took it, and raises an alert once; when it dies the
other server takes over; a scenario run interrupted by its server's death is marked failed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.graph.sensors import LIVE, sensor
from tests.servers import ServeProcess, wait_for

SENSOR = "dtmi:live:Sensor;1"
ZONE = "dtmi:twinforge:sim:ThermalZone;1"


@pytest.fixture
def servers(pg_url: str) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    a, b = ServeProcess(pg_url), ServeProcess(pg_url)
    yield a, b
    a.stop()
    b.stop()


def evaluators(*servers: ServeProcess) -> list[dict[str, Any]]:
    return [httpx.get(s.url + "/ingest/status").json()["background"]["evaluator"] for s in servers]


def test_records_are_shared_and_one_evaluator_raises_each_alert_once(
        servers: tuple[ServeProcess, ServeProcess]) -> None:
    a, b = servers
    assert httpx.post(a.url + "/models", json=LIVE).status_code == 201
    for i in (1, 2):
        assert httpx.put(a.url + f"/digitaltwins/s{i}", json=sensor(temperature=20.0)).status_code == 200
    detector = {"model": SENSOR, "name": "temperature", "kind": "robust_z"}
    assert httpx.put(a.url + "/analytics/detectors/z", json=detector).status_code == 200
    got = httpx.get(b.url + "/analytics/detectors/z")
    assert got.status_code == 200 and got.json()["kind"] == "robust_z", got.text  # was a 404
    rule = {"model": SENSOR, "condition": "temperature > 50", "severity": "critical"}
    assert httpx.put(b.url + "/alerts/rules/hot", json=rule).status_code == 200
    assert httpx.get(a.url + "/alerts/rules/hot").status_code == 200
    assert httpx.put(a.url + "/alerts/rules/gone", json=rule).status_code == 200
    assert httpx.delete(b.url + "/alerts/rules/gone").status_code == 204
    assert httpx.get(a.url + "/alerts/rules/gone").status_code == 404
    order = httpx.post(a.url + "/workorders", json={"asset": "s1", "dueDate": "2027-01-01"}).json()
    assert [o["id"] for o in httpx.get(b.url + "/workorders").json()["value"]] == [order["id"]]

    # Values of one twin through both servers, alternately: one evaluator scores them all, in order.
    for k in range(60):
        value = 80.0 if k == 40 else 20.0 + (k % 5) * 0.1
        server = (a, b)[k % 2]
        r = httpx.patch(server.url + "/digitaltwins/s1", json=[{"op": "replace", "path": "/temperature",
                                                                 "value": value}])
        assert r.status_code == 204
    scores = wait_for(lambda: (rows := httpx.get(a.url + "/digitaltwins/s1/history",
                                                 params={"name": "temperature:anomaly:z"}).json()["value"])
                      and len(rows) == 60 and rows)
    values = [p["value"] for p in scores]
    assert values.index(max(values)) == 40  # the spike, scored against the 40 values before it
    # (each server's evaluator process reports its status every second)
    status = wait_for(lambda: (got := evaluators(a, b)) and sum(s.get("samples", 0) for s in got) >= 60 and got)
    assert sorted(s["leading"] for s in status) == [False, True], status
    raised = wait_for(lambda: httpx.get(b.url + "/alerts").json()["value"])
    assert len(raised) == 1 and raised[0]["twinId"] == "s1"  # raised once, not once per server
    assert wait_for(lambda: httpx.get(a.url + "/alerts", params={"state": "resolved"}).json()["value"])

    # The leading evaluator's server dies: the other takes over from the stored cursor.
    leader, other = (a, b) if status[0]["leading"] else (b, a)
    leader.kill()
    assert httpx.patch(other.url + "/digitaltwins/s2", json=[{"op": "replace", "path": "/temperature",
                                                              "value": 99.0}]).status_code == 204
    alerts = wait_for(lambda: [x for x in httpx.get(other.url + "/alerts", params={"twin": "s2"}).json()["value"]])
    assert len(alerts) == 1
    assert wait_for(lambda: evaluators(other)[0]["leading"])


def test_scenarios_live_in_the_store_and_an_interrupted_run_fails(pg_url: str) -> None:
    from twinforge.graph import TwinGraph
    from twinforge.sim import library

    graph = TwinGraph.open(pg_url)
    graph.add_models(library.models())
    graph.create_twin("zone-1", {"$metadata": {"$model": ZONE}, "temperature": 18.0, "outdoorTemperature": 5.0,
                                 "heaterPower": 1000.0, "thermalResistance": 0.01, "thermalCapacitance": 1.0e6})
    graph.close()
    doc = {"id": "long", "scope": f"SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{ZONE}')",
           "horizon": "P100D", "step": "PT1S", "record": "PT1H",
           "overrides": [{"twin": "zone-1", "property": "heaterPower", "value": 2000}],
           "kpis": [{"name": "finalTemp", "twin": "zone-1", "property": "temperature", "agg": "last"}]}
    a, b = ServeProcess(pg_url), ServeProcess(pg_url)
    try:
        assert httpx.post(a.url + "/scenarios", json=doc).status_code == 201
        assert [s["id"] for s in httpx.get(b.url + "/scenarios").json()["value"]] == ["long"]
        assert httpx.post(b.url + "/scenarios", json=doc).status_code == 409  # one id, whichever server
        assert httpx.post(a.url + "/scenarios/long/run").status_code == 202
        assert httpx.get(b.url + "/scenarios/long").json()["status"] == "running"
        assert httpx.post(b.url + "/scenarios/long/run").status_code == 409  # it runs on A
        a.kill()
        failed = wait_for(lambda: (s := httpx.get(b.url + "/scenarios/long").json())["status"] == "failed" and s)
        assert "interrupted" in failed["error"]
        short = {**doc, "id": "short", "horizon": "PT6H", "step": "PT1M"}
        short.pop("record")
        assert httpx.post(b.url + "/scenarios", json=short).status_code == 201
        assert httpx.post(b.url + "/scenarios/short/run").status_code == 202
        done = wait_for(lambda: (s := httpx.get(b.url + "/scenarios/short").json())["status"] == "done" and s)
        assert done["progress"] == 1.0
        a = ServeProcess(pg_url)  # a server that did not run it answers its results and history
        results = httpx.get(a.url + "/scenarios/short/results").json()
        assert results == httpx.get(b.url + "/scenarios/short/results").json()
        history = httpx.get(a.url + "/scenarios/short/history", params={"twin": "zone-1", "name": "temperature"})
        assert history.status_code == 200 and len(history.json()["value"]) > 300
        assert httpx.delete(a.url + "/scenarios/short").status_code == 204
        assert httpx.get(b.url + "/scenarios/short").status_code == 404
    finally:
        a.stop()
        b.stop()
