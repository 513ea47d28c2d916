"""/scenarios over a real server: create, run (202), progress on /stream, results,
history of each run, bad documents refused with 400 and nothing changed, delete."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.servers import running_api
from twinforge.graph import TwinGraph
from twinforge.sim import library

ZONE = "dtmi:twinforge:sim:ThermalZone;1"


@pytest.fixture
def client(graph: TwinGraph) -> Iterator[httpx.Client]:
    graph.add_models(library.models())
    for i in (1, 2):
        graph.create_twin(f"zone-{i}", {"$metadata": {"$model": ZONE}, "temperature": 18.0,
                                        "outdoorTemperature": 5.0, "heaterPower": 1000.0,
                                        "thermalResistance": 0.01, "thermalCapacitance": 1.0e6})
    with running_api(graph) as url, httpx.Client(base_url=url, timeout=30) as c:
        yield c


DOC = {"id": "warmer-office",
       "scope": f"SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{ZONE}')",
       "horizon": "PT24H", "step": "PT1M",
       "overrides": [{"twin": "zone-1", "property": "heaterPower", "value": 2000}],
       "kpis": [{"name": "finalTemp", "twin": "zone-1", "property": "temperature", "agg": "last"}]}


def live_state(c: httpx.Client) -> Any:
    twins = c.post("/query", json={"query": "SELECT * FROM DIGITALTWINS"}).json()["value"]
    history = c.get("/digitaltwins/zone-1/history", params={"name": "temperature"}).json()["value"]
    return sorted((t["$dtId"], t["$etag"]) for t in twins), len(history)


def wait_done(c: httpx.Client, sid: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        body: dict[str, Any] = c.get(f"/scenarios/{sid}").json()
        if body["status"] in ("done", "failed"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


def test_a_scenario_from_creation_to_deletion(client: httpx.Client) -> None:
    before = live_state(client)
    r = client.post("/scenarios", json=DOC)
    assert r.status_code == 201 and r.json()["id"] == "warmer-office" and r.json()["status"] == "created"
    assert client.post("/scenarios", json=DOC).status_code == 409
    r = client.get("/scenarios/warmer-office/results")
    assert r.status_code == 409 and r.json()["error"]["code"] == "ScenarioNotDone"

    progress: list[dict[str, Any]] = []
    opened = threading.Event()

    def listen() -> None:
        with client.stream("GET", "/stream", params={"type": "Scenario.Progress"}) as stream:
            opened.set()
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    progress.append(json.loads(line[6:])["data"])
                    if progress[-1]["status"] in ("done", "failed"):
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert opened.wait(5)
    time.sleep(0.3)
    r = client.post("/scenarios/warmer-office/run")
    assert r.status_code == 202 and r.json()["status"] == "running"
    status = wait_done(client, "warmer-office")
    assert status["status"] == "done" and status["progress"] == 1.0, status
    listener.join(10)
    assert progress and progress[-1]["status"] == "done" and progress[0]["scenario"] == "warmer-office"

    results = client.get("/scenarios/warmer-office/results").json()
    x = math.exp(-86_400 / 1.0e4)  # 24 h over the time constant RC
    assert results["baseline"]["kpis"]["finalTemp"] == pytest.approx(15.0 + 3.0 * x, abs=1e-6)
    assert results["kpis"]["finalTemp"] == pytest.approx(25.0 - 7.0 * x, abs=1e-6)
    assert results["deltas"]["finalTemp"] == pytest.approx(10.0 - 10.0 * x, abs=1e-6)

    r = client.get("/scenarios/warmer-office/history",
                   params={"twin": "zone-1", "name": "temperature", "run": "variant"},
                   headers={"max-items-per-page": "1000"})
    page = r.json()
    assert len(page["value"]) == 1000 and page["nextLink"]
    rest = client.get(page["nextLink"]).json()
    assert len(page["value"]) + len(rest["value"]) == 24 * 60 + 1
    assert rest["value"][-1]["value"] == pytest.approx(results["kpis"]["finalTemp"])
    base = client.get("/scenarios/warmer-office/history",
                      params={"twin": "zone-1", "name": "temperature", "run": "baseline", "bucket": "1h",
                              "agg": "max", "from": page["value"][0]["time"]}).json()["value"]
    assert max(b["value"] for b in base) == pytest.approx(18.0, abs=1e-6)  # cooling from 18 to 15
    assert client.get("/scenarios/warmer-office/history", params={"twin": "zone-1", "name": "temperature",
                                                                   "run": "nope"}).status_code == 400
    assert client.get("/scenarios/warmer-office/history", params={"twin": "ghost", "name": "temperature"}
                      ).status_code == 404
    assert [s["id"] for s in client.get("/scenarios").json()["value"]] == ["warmer-office"]
    assert live_state(client) == before  # the live twins and their history are untouched
    assert client.delete("/scenarios/warmer-office").status_code == 204
    assert client.get("/scenarios/warmer-office").status_code == 404


@pytest.mark.parametrize(("change", "message"), [
    ({"overrides": [{"twin": "ghost", "property": "heaterPower", "value": 1}]}, "twin 'ghost' is not in the scope"),
    ({"overrides": [{"twin": "zone-1", "property": "colour", "value": 1}]}, "'colour' is not a property"),
    ({"horizon": "tomorrow"}, "is not a duration"),
    ({"scope": "SELECT T FROM DIGITALTWINS T WHERE T.temperature > 99"}, "selects no twin"),
    ({"sweep": {"parameters": []}}, "'sweep.parameters': must not be empty"),  # refused before any run
    ({"kpis": [{"name": "t", "twin": "zone-1"}]}, "'kpis[0].property' is required"),
    ({"horizon": "PT1H", "step": "PT2H"}, "step (7200 s) is longer than the horizon (3600 s)"),
])
def test_bad_scenarios_get_a_400_naming_the_problem(client: httpx.Client, change: dict[str, Any],
                                                    message: str) -> None:
    before = live_state(client)
    r = client.post("/scenarios", json={**DOC, **change})
    assert r.status_code == 400 and message in r.json()["error"]["message"], r.text
    assert client.get("/scenarios").json()["value"] == []
    assert live_state(client) == before


def test_yaml_documents_are_accepted(client: httpx.Client) -> None:
    text = "\n".join(["id: from-yaml", f"scope: \"{DOC['scope']}\"", "horizon: PT1H", "step: PT5M",
                      "kpis:", "  - {name: t, twin: zone-2, property: temperature}"])
    r = client.post("/scenarios", content=text, headers={"content-type": "application/yaml"})
    assert r.status_code == 201, r.text
    client.post("/scenarios/from-yaml/run")
    assert wait_done(client, "from-yaml")["status"] == "done"
    assert client.post("/scenarios", content="id: [", headers={"content-type": "application/yaml"}).status_code == 400
