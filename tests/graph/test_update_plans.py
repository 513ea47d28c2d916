"""What a batch of updates writes: the twin's values, one history point per value, one
``Twin.Update`` event per twin with its patch, and a refusal of the right kind for each update
that cannot be applied. Batches mix the fast path (primitive properties, checked in place)
with everything it hands to the full check."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from twinforge.graph import RefusalKind, TwinGraph, Update

MOTOR = {"@id": "dtmi:test:plans:Motor;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
         "contents": [{"@type": "Property", "name": "speed", "schema": "double", "writable": True}]}
PUMP = {"@id": "dtmi:test:plans:Pump;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
        "contents": [{"@type": "Property", "name": "flow", "schema": "double", "writable": True},
                     {"@type": "Property", "name": "label", "schema": "string", "writable": True},
                     {"@type": "Property", "name": "count", "schema": "integer", "writable": True},
                     {"@type": "Property", "name": "on", "schema": "boolean", "writable": True},
                     {"@type": "Property", "name": "spec", "writable": True,
                      "schema": {"@type": "Object", "fields": [{"name": "rated", "schema": "double"}]}},
                     {"@type": "Telemetry", "name": "pressure", "schema": "double"},
                     {"@type": "Component", "name": "motor", "schema": MOTOR["@id"]}]}
T = 1_790_000_000_000_000


@pytest.fixture
def pumps(graph: TwinGraph) -> TwinGraph:
    graph.add_models([MOTOR, PUMP])
    for twin in ("p1", "p2"):
        graph.create_twin(twin, {"$metadata": {"$model": PUMP["@id"]}, "motor": {"$metadata": {}}})
    return graph


def events_after(graph: TwinGraph, seq: int) -> list[tuple[str, str, Any]]:
    return [(e.type, e.twin, orjson.loads(e.data)) for e in graph.store.read_events(seq, 100)]


def test_each_twin_gets_one_event_with_its_values_in_order(pumps: TwinGraph) -> None:
    graph = pumps
    seq = graph.store.last_event_seq()
    outcome = graph.apply_updates([
        Update("p1", {"flow": 1.5, "label": "a \"quoted\" name"}),
        Update("p2", {"count": 7}),
        Update("p1", {"flow": 2}, component=""),
        Update("p1", {"speed": 900.0}, component="motor"),
        Update("p2", {"spec": {"rated": 3.5}, "on": True}),
        Update("p1", {"pressure": 4.25}, telemetry=True, ts=T),
    ])
    assert outcome.accepted == 6 and outcome.refusals == []
    events = events_after(graph, seq)
    assert events[0] == ("Telemetry", "p1", {"component": None, "values": {"pressure": 4.25},
                                             "sourceTime": "2026-09-21T14:13:20.000000Z"})
    assert events[1:] == [
        ("Twin.Update", "p1", [{"op": "add", "path": "/flow", "value": 1.5},
                               {"op": "add", "path": "/label", "value": "a \"quoted\" name"},
                               {"op": "add", "path": "/flow", "value": 2},
                               {"op": "add", "path": "/motor/speed", "value": 900.0}]),
        ("Twin.Update", "p2", [{"op": "add", "path": "/count", "value": 7},
                               {"op": "add", "path": "/spec", "value": {"rated": 3.5}},
                               {"op": "add", "path": "/on", "value": True}]),
    ]
    p1, p2 = graph.get_twin("p1"), graph.get_twin("p2")
    assert (p1["flow"], p1["label"], p1["motor"]["speed"]) == (2, "a \"quoted\" name", 900.0)
    assert (p2["count"], p2["spec"], p2["on"]) == (7, {"rated": 3.5}, True)
    assert p1["$metadata"]["flow"]["lastUpdateTime"] == p1["$metadata"]["$lastUpdateTime"]
    flow = graph.store.read_history("p1", "flow")
    assert [(p.num, p.value) for p in flow] == [(1.5, "1.5"), (2.0, "2")]  # both kept, one µs apart
    assert flow[1].ts == flow[0].ts + 1
    assert [(p.num, p.value) for p in graph.store.read_history("p2", "on")] == [(1.0, "true")]
    assert [(p.num, p.value) for p in graph.store.read_history("p1", "label")] == [(None, '"a \\"quoted\\" name"')]
    assert [p.value for p in graph.store.read_history("p1", "speed", component="motor")] == ["900.0"]


@pytest.mark.parametrize(("values", "kind", "reason"), [
    ({"flow": "fast"}, RefusalKind.INVALID_VALUE, "flow"),
    ({"flow": True}, RefusalKind.INVALID_VALUE, "flow"),
    ({"flow": float("inf")}, RefusalKind.INVALID_VALUE, "flow"),
    ({"flow": float("nan")}, RefusalKind.INVALID_VALUE, "flow"),
    ({"count": 1.5}, RefusalKind.INVALID_VALUE, "count"),
    ({"count": 2**40}, RefusalKind.INVALID_VALUE, "count"),
    ({"label": 3}, RefusalKind.INVALID_VALUE, "label"),
    ({"on": 1}, RefusalKind.INVALID_VALUE, "on"),
    ({"spec": {"rated": "high"}}, RefusalKind.INVALID_VALUE, "rated"),
    ({"flow": 1.0, "label": 5}, RefusalKind.INVALID_VALUE, "label"),
    ({"pressure": 1.0}, RefusalKind.UNKNOWN_NAME, "is telemetry of"),
    ({"motor": 1.0}, RefusalKind.UNKNOWN_NAME, "is not a property"),
    ({"nope": 1.0}, RefusalKind.UNKNOWN_NAME, "'nope' is not a property"),
    ({}, RefusalKind.INVALID_VALUE, "holds no values"),
])
def test_a_refused_update_changes_nothing_and_says_why(pumps: TwinGraph, values: dict[str, Any],
                                                       kind: RefusalKind, reason: str) -> None:
    graph = pumps
    before, seq = graph.get_twin("p1"), graph.store.last_event_seq()
    outcome = graph.apply_updates([Update("p2", {"flow": 9.0}), Update("p1", values)])
    assert outcome.accepted == 1
    assert [(r.index, r.kind) for r in outcome.refusals] == [(1, kind)]
    assert reason in outcome.refusals[0].reason
    assert graph.get_twin("p1") == before
    assert [(t, twin) for t, twin, _ in events_after(graph, seq)] == [("Twin.Update", "p2")]
    assert graph.store.read_history("p1", "flow") == []


def test_unknown_twins_and_components_are_refused_by_kind(pumps: TwinGraph) -> None:
    graph = pumps
    outcome = graph.apply_updates([Update("ghost", {"flow": 1.0}), Update("p1", {"speed": 1.0}, component="gearbox"),
                                   Update("p1", {"flow": 1.0}, component="motor")])
    assert [(r.index, r.kind) for r in outcome.refusals] == [
        (0, RefusalKind.UNKNOWN_TWIN), (1, RefusalKind.UNKNOWN_COMPONENT), (2, RefusalKind.UNKNOWN_NAME)]
    assert outcome.accepted == 0


def test_numpy_numbers_are_stored_as_the_plain_ones(pumps: TwinGraph) -> None:
    graph = pumps
    outcome = graph.apply_updates([Update("p1", {"flow": np.float64(2.5)})])
    assert outcome.refusals == [] and outcome.accepted == 1
    assert graph.get_twin("p1")["flow"] == 2.5
    assert [(p.num, p.value) for p in graph.store.read_history("p1", "flow")] == [(2.5, "2.5")]
