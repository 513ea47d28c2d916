"""Detectors, alert rules, alerts, forecasts, work orders and plans over a real server, fed
through the ingest path (HTTP telemetry)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from tests.servers import running_api, wait_for
from twinforge.analytics.engine import AnalyticsEngine, DetectorSpec
from twinforge.analytics.methods import METHODS
from twinforge.graph import TwinGraph, Update
from twinforge.history import History

CTX = ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"]
MOTOR = {"@context": CTX, "@id": "dtmi:ex:Motor;1", "@type": "Interface", "contents": [
    {"@type": "Property", "name": "temperature", "schema": "double", "writable": True},
    {"@type": "Property", "name": "name", "schema": "string"},
    {"@type": "Telemetry", "name": "vibration", "schema": "double"}]}
MSG = {"Message-Id": "m"}


@pytest.fixture
def server(graph: TwinGraph) -> Iterator[tuple[TwinGraph, httpx.Client]]:
    graph.add_models([MOTOR])
    for twin in ("m1", "m2"):
        graph.create_twin(twin, {"$metadata": {"$model": "dtmi:ex:Motor;1"}, "temperature": 40.0, "name": twin})
    with running_api(graph) as url, httpx.Client(base_url=url, timeout=30) as c:
        yield graph, c


def test_detectors_score_the_ingest_path_and_alerts_follow(server: tuple[TwinGraph, httpx.Client]) -> None:
    graph, c = server
    r = c.put("/analytics/detectors/vib", json={"model": "dtmi:ex:Motor;1", "name": "vibration", "kind": "robust_z"})
    assert r.status_code == 200 and r.json()["kind"] == "robust_z"
    rule = {"model": "dtmi:ex:Motor;1", "condition": "anomaly.vib > 0.5", "severity": "critical", "for": "PT0S"}
    assert c.put("/alerts/rules/vib-spike", json=rule).status_code == 200
    rng = np.random.default_rng(1)
    for k in range(80):
        value = 2.0 + rng.normal(0, 0.1) + (5.0 if k == 60 else 0.0)  # one injected spike
        assert c.post("/digitaltwins/m1/telemetry", json={"vibration": value}, headers=MSG).status_code == 204
    # The evaluator follows the event log in its own thread: the scores arrive shortly after.
    scores = wait_for(lambda: (rows := History(graph.store).read_range("m1", "vibration:anomaly:vib",
                                                                         limit=1000)) and len(rows) == 80 and rows)
    values = [p["value"] for p in scores]
    assert values[60] > 0.5 and max(values[21:60]) < 0.5 and max(values[61:70]) < 0.5  # one threshold: 0.5
    # Raised by the spike, cleared by the next ordinary value (the rule has no hysteresis), kept.
    alerts = wait_for(lambda: c.get("/alerts", params={"state": "resolved"}).json()["value"])
    assert alerts[0]["twinId"] == "m1" and alerts[0]["severity"] == "critical" and alerts[0]["rule"] == "vib-spike"
    assert alerts[0]["raisedAt"] <= alerts[0]["resolvedAt"]
    assert len(c.get("/alerts").json()["value"]) == 1  # one alert for the one spike
    kinds = [e.type for e in graph.events() if e.type.startswith("Alert.")]
    assert kinds == ["Alert.Raised", "Alert.Resolved"]


def test_a_failing_detector_stops_no_other(server: tuple[TwinGraph, httpx.Client]) -> None:
    """A detector stored before its parameters were checked ({"alpha": "0.1"} was accepted) used
    to make every evaluation round raise, silently stopping every detector on the server."""
    graph, c = server
    assert c.put("/analytics/detectors/good", json={"model": "dtmi:ex:Motor;1", "name": "vibration",
                                                    "kind": "ewma"}).status_code == 200
    AnalyticsEngine(graph)._detector_records.put("bad", DetectorSpec(
        "bad", "dtmi:ex:Motor;1", "vibration", "ewma", {"alpha": "0.1"}))
    for k in range(30):
        assert c.post("/digitaltwins/m1/telemetry", json={"vibration": 2.0 + 0.01 * (k % 3)},
                      headers=MSG).status_code == 204
    rows = wait_for(lambda: (r := History(graph.store).read_range("m1", "vibration:anomaly:good", limit=100))
                    and len(r) == 30 and r)
    assert len(rows) == 30  # the good detector scored every value
    assert History(graph.store).read_range("m1", "vibration:anomaly:bad", limit=100) == []
    status = wait_for(lambda: (s := c.get("/analytics/detectors/bad").json()["status"])["state"] == "failed" and s)
    assert "alpha" in status["error"], status
    assert c.get("/analytics/detectors/good").json()["status"] == {"state": "running"}
    health = wait_for(lambda: (h := c.get("/health").json())["status"] == "degraded" and h)
    assert any("detector 'bad' stopped" in p for p in health["problems"]), health
    evaluator = c.get("/ingest/status").json()["background"]["evaluator"]
    assert evaluator["detectorFailures"] >= 1 and "bad" in evaluator["failedDetectors"]
    # Put again with a valid document: it starts afresh and scores.
    assert c.put("/analytics/detectors/bad", json={"model": "dtmi:ex:Motor;1", "name": "vibration", "kind": "ewma",
                                                   "params": {"alpha": 0.1}}).status_code == 200
    assert c.get("/analytics/detectors/bad").json()["status"] == {"state": "running"}
    c.post("/digitaltwins/m1/telemetry", json={"vibration": 2.0}, headers=MSG)
    assert wait_for(lambda: History(graph.store).read_range("m1", "vibration:anomaly:bad", limit=10))


def test_rules_with_for_and_hysteresis(server: tuple[TwinGraph, httpx.Client]) -> None:
    _, c = server
    rule = {"twin": "m2", "condition": "temperature > 80", "for": "PT1S", "clear": "temperature < 75",
            "severity": "warning"}
    assert c.put("/alerts/rules/hot", json=rule).status_code == 200
    patch = [{"op": "replace", "path": "/temperature", "value": 85.0}]
    assert c.patch("/digitaltwins/m2", json=patch).status_code == 204
    time.sleep(0.5)
    assert c.get("/alerts").json()["value"] == []  # not yet: it must hold for a second
    alert = wait_for(lambda: c.get("/alerts", params={"state": "active", "twin": "m2"}).json()["value"])[0]
    assert alert["value"] == {"temperature": 85.0}
    r = c.post(f"/alerts/{alert['id']}/acknowledge")
    assert r.status_code == 200 and r.json()["state"] == "acknowledged"
    c.patch("/digitaltwins/m2", json=[{"op": "replace", "path": "/temperature", "value": 78.0}])
    time.sleep(0.6)
    assert c.get(f"/alerts/{alert['id']}").json()["state"] == "acknowledged"  # 78 is not below 75: still open
    c.patch("/digitaltwins/m2", json=[{"op": "replace", "path": "/temperature", "value": 70.0}])
    assert wait_for(lambda: c.get(f"/alerts/{alert['id']}").json()["state"] == "resolved")
    work = c.post("/workorders", json={"alert": alert["id"], "dueDate": "2026-12-01"})
    assert work.status_code == 201 and work.json()["asset"] == "m2" and work.json()["source"] == "alert"
    done = c.patch(f"/workorders/{work.json()['id']}", json={"state": "done"})
    assert done.json()["state"] == "done"
    assert [w["state"] for w in c.get("/workorders", params={"asset": "m2"}).json()["value"]] == ["done"]


@pytest.mark.parametrize(("path", "body", "message"), [
    ("/alerts/rules/x", {"model": "dtmi:ex:Motor;1", "condition": "colour > 3"}, "'colour' is not a property"),
    ("/alerts/rules/x", {"model": "dtmi:ex:Motor;1", "condition": "temperature >"},
     "does not parse: at position 13: expected a string, number"),  # a position in the condition itself
    ("/alerts/rules/x", {"model": "dtmi:ex:Motor;1", "condition": "anomaly.nodetector > 3"},
     "'anomaly.nodetector' names no detector"),
    ("/alerts/rules/x", {"model": "dtmi:ex:Motor;1", "condition": "temperature > 'abc'"},
     "'temperature' is a number; it cannot be compared (>) with text"),
    ("/alerts/rules/x", {"model": "dtmi:ex:Motor;1", "condition": "temperature > 1", "severity": "doom"},
     "severity must be one of"),
    ("/analytics/detectors/x", {"model": "dtmi:ex:Motor;1", "name": "colour"}, "'colour' is not a property"),
    ("/analytics/detectors/x", {"model": "dtmi:ex:Nope;1", "name": "vibration"}, "unknown model"),
    ("/analytics/detectors/x", {"model": "dtmi:ex:Motor;1", "name": "vibration", "kind": "magic"},
     "unknown detector kind"),
    # the shape is checked by the documents' pydantic models, which name the field
    ("/alerts/rules/x", {"model": "dtmi:ex:Motor;1", "condition": "temperature > 1", "colour": 2},
     "unknown field 'colour'"),
    ("/alerts/rules/x", {"model": "dtmi:ex:Motor;1", "condition": "temperature > 1", "for": [1]}, "'for'"),
    ("/analytics/detectors/x", {"model": "dtmi:ex:Motor;1", "name": "vibration", "params": 3},
     "'params': must be an object, got"),
    ("/analytics/detectors/x", {"model": "dtmi:ex:Motor;1"}, "'name' is required"),
    ("/analytics/detectors/x", {"model": "dtmi:ex:Motor;1", "name": "vibration", "params": {"window": -5}},
     "robust_z params: 'window': must be >= 3, got -5"),  # was a plain-text 500
])
def test_bad_rules_and_detectors_are_refused_and_nothing_stored(server: tuple[TwinGraph, httpx.Client],
                                                                path: str, body: dict[str, Any], message: str) -> None:
    _, c = server
    r = c.put(path, json=body)
    assert r.status_code == 400 and message in r.json()["error"]["message"], r.text
    assert c.get("/alerts/rules").json()["value"] == [] and c.get("/analytics/detectors").json()["value"] == []


def test_forecast_and_plan_routes(server: tuple[TwinGraph, httpx.Client]) -> None:
    graph, c = server
    now = time.time()
    step = 300
    n = 3 * 288  # three days at 5-minute steps with a daily cycle
    updates = [Update("m1", {"temperature": 40 + 5 * np.sin(2 * np.pi * k / 288)},
                      ts=int((now - (n - k) * step) * 1e6)) for k in range(n)]
    graph.apply_updates(updates)
    r = c.get("/digitaltwins/m1/forecast", params={"name": "temperature", "horizon": "PT6H", "step": "PT5M"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["value"]) == 72 and body["model"].split("(")[0] in (*METHODS, "combination")
    assert body["level"] == 0.9 and body["backtestOrigins"] >= 1
    first = body["value"][0]
    assert first["low"] <= first["value"] <= first["high"]
    expected = 40 + 5 * np.sin(2 * np.pi * (n + np.arange(72)) / 288)
    got = np.array([p["value"] for p in body["value"]])
    assert np.sqrt(np.mean((got - expected) ** 2)) < 0.5
    assert c.get("/digitaltwins/m1/forecast", params={"name": "name"}).status_code == 400
    wide = c.get("/digitaltwins/m1/forecast", params={"name": "temperature", "horizon": "PT6H", "level": "0.99",
                                                      "lookback": "P1Y"})
    assert wide.status_code == 200 and wide.json()["level"] == 0.99, wide.text
    bad = c.get("/digitaltwins/m1/forecast", params={"name": "temperature", "level": "most"})
    assert bad.status_code == 400 and "level must be a number" in bad.json()["error"]["message"]
    plan = c.post("/maintenance/plan", json={"horizonDays": 14, "crewsPerDay": 1, "assets": [
        {"id": "m1", "rul": {"mean": 5.0, "std": 1.5}, "preventiveCost": 1000, "correctiveCost": 8000}]})
    assert plan.status_code == 200 and plan.json()["schedule"] == [{"asset": "m1", "day": 1}]
    bad = c.post("/maintenance/plan", json={"horizonDays": 14, "assets": []})
    assert bad.status_code == 400 and "'assets': must not be empty" in bad.json()["error"]["message"]
    assert json.loads(c.get("/alerts/rules").text)["value"] == []


def test_documents_are_checked_by_one_layer_and_show_their_schema(server: tuple[TwinGraph, httpx.Client]) -> None:
    _, c = server
    r = c.post("/workorders", json={"asset": 3, "dueDate": "2027-01-01"})
    assert r.status_code == 400 and "'asset': must be a string, got 3" in r.json()["error"]["message"]
    r = c.put("/endpoints/e1", json={"type": "webhook", "url": "http://127.0.0.1:1/x", "maxRetries": 99})
    assert r.status_code == 400 and "'maxRetries'" in r.json()["error"]["message"]
    r = c.put("/jobs/imports/j1", json={"inputBlobUri": 5, "outputBlobUri": "x"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "ValidationFailed"
    assert "'inputBlobUri'" in r.json()["error"]["message"]
    assert c.get("/workorders").json()["value"] == [] and c.get("/endpoints").json()["value"] == []
    spec = c.get("/openapi.json").json()["paths"]
    for path, method, field in (("/alerts/rules/{id}", "put", "condition"), ("/analytics/detectors/{id}", "put", "kind"),
                                ("/workorders", "post", "asset"), ("/eventroutes/{route_id}", "put", "endpointName"),
                                ("/endpoints/{name}", "put", "maxRetries"), ("/jobs/imports/{id}", "put", "inputBlobUri"),
                                ("/scenarios", "post", "horizon")):
        schema = spec[path][method]["requestBody"]["content"]["application/json"]["schema"]
        assert field in schema["properties"], (path, schema)


def test_scores_say_while_the_detector_warms_up(graph: TwinGraph) -> None:
    from twinforge.analytics.engine import Sample

    graph.add_models([MOTOR])
    graph.create_twin("m9", {"$metadata": {"$model": "dtmi:ex:Motor;1"}, "temperature": 1.0, "name": "m9"})
    said: list[dict[str, Any]] = []
    engine = AnalyticsEngine(graph, announce=lambda kind, twin, data: said.append(data))
    engine.put_detector("w", {"model": "dtmi:ex:Motor;1", "name": "vibration", "kind": "robust_z",
                              "params": {"warmup": 10}})
    engine.score([Sample("m9", "dtmi:ex:Motor;1", {"vibration": 1.0 + 0.1 * (k % 4)}, True, k) for k in range(15)])
    assert [d["warmingUp"] for d in said] == [True] * 10 + [False] * 5
    assert all(0.0 <= d["score"] <= 1.0 for d in said)
