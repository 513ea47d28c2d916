"""Service routes: dead-letter counts that survive a restart, docs pages with no CDN."""

from __future__ import annotations

import re

import httpx

from tests.graph.sensors import LIVE, sensor
from tests.servers import running_api
from twinforge.graph import TwinGraph

MSG = {"Message-Id": "m-1"}  # ADT requires one on telemetry


def test_dead_letter_counts_survive_a_restart(graph: TwinGraph) -> None:
    graph.add_models(LIVE)
    graph.create_twins([("s1", sensor())])
    lines = b'{"twin": "s1", "properties": {"temperature": "hot"}}\n{"twin": "ghost", "properties": {}}\nnope\n'
    with running_api(graph) as url, httpx.Client(base_url=url) as client:
        assert client.post("/ingest", content=lines).json()["rejected"] == 3
        first = client.get("/deadletters").json()["counts"]
    assert first == {"invalid_value": 1, "not_json": 1, "unknown_twin": 1}
    with running_api(graph) as url, httpx.Client(base_url=url) as client:  # a new server process' view
        again = client.get("/deadletters").json()
    assert again["counts"] == first and len(again["value"]) == 3


def test_docs_pages_load_nothing_from_outside(graph: TwinGraph) -> None:
    with running_api(graph) as url, httpx.Client(base_url=url) as client:
        for page in ("/docs", "/redoc"):
            html = client.get(page).text
            sources = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: ?'([^']+)'", html)
            assert sources, page
            for source in sources:
                assert not source.startswith(("http://", "https://", "//")), (page, source)
                if source.startswith("/static/"):
                    r = client.get(source)
                    assert r.status_code == 200 and len(r.content) > 10_000, source
        assert client.get("/static/docs/../../errors.py").status_code == 404
        assert client.get("/openapi.json").json()["info"]["title"] == "twinforge"


def test_telemetry_refusals_have_adt_codes(graph: TwinGraph) -> None:
    graph.add_models(LIVE)
    graph.create_twins([("s1", sensor())])
    with running_api(graph) as url, httpx.Client(base_url=url) as client:
        missing = client.post("/digitaltwins/ghost/telemetry", json={"reading": 1.0}, headers=MSG)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "DigitalTwinNotFound"
        wrong = client.post("/digitaltwins/s1/telemetry", json={"temperature": 1.0}, headers=MSG)
        assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "ValidationFailed"
        assert "not telemetry" in wrong.json()["error"]["message"]
        assert client.post("/digitaltwins/s1/telemetry", json={"reading": 1.0}, headers=MSG).status_code == 204
