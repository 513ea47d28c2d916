"""Batch and single changes follow the same rules: for any batch, the outcome equals that
of the same operations applied one by one (Hypothesis builds the batches)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.graph.models import PLANT, pump, tank
from tests.graph.sensors import LIVE, sensor
from twinforge.errors import Conflict, PreconditionFailed, TwinforgeError
from twinforge.graph import RefusalKind, TwinGraph, Update
from twinforge.store import SQLiteStore

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _plant() -> TwinGraph:
    graph = TwinGraph(SQLiteStore(":memory:"))
    graph.add_models(PLANT)
    graph.create_twins([*((f"p{i}", pump()) for i in range(3)), *((f"t{i}", tank()) for i in range(2))])
    graph.create_relationship("p0", "c0", {"$relationshipName": "controlledBy", "$targetId": "t0"})
    return graph


def _kind(exc: TwinforgeError) -> type[TwinforgeError]:
    # A single create with If-None-Match and a batch create refuse an existing id alike.
    return Conflict if isinstance(exc, PreconditionFailed) else type(exc)


def _error_of(*calls: Callable[[], object]) -> TwinforgeError | None:
    """The error of the first call that raises (the later ones are not made), or None."""
    for call in calls:
        try:
            call()
        except TwinforgeError as exc:
            return exc
    return None


def _relationships(graph: TwinGraph) -> list[dict[str, Any]]:
    out = []
    for source in ("p0", "p1", "p2", "t0", "t1"):
        for rel in graph.list_relationships(source):
            out.append({k: v for k, v in rel.items() if k != "$etag"})
    return out


relationship_ops = st.lists(st.tuples(
    st.sampled_from(["p0", "p1", "p2", "t0", "ghost"]),
    st.sampled_from(["r0", "r1", "r2", "c0", ""]),
    st.fixed_dictionaries({
        "$relationshipName": st.sampled_from(["feeds", "controlledBy", "nosuch"]),
        "$targetId": st.sampled_from(["t0", "t1", "p1", "ghost"]),
    }, optional={"pipeLength": st.sampled_from([1.5, "long", None])}),
), max_size=6)


@SETTINGS
@given(relationship_ops)
def test_relationship_batch_equals_one_by_one(ops: list[tuple[str, str, dict[str, Any]]]) -> None:
    batch, single = _plant(), _plant()
    before = _relationships(batch)
    batch_error = _error_of(lambda: batch.create_relationships(ops))
    single_error = _error_of(*(functools.partial(single.create_relationship, source, rel_id, body, if_none_match=True)
                               for source, rel_id, body in ops))
    if single_error is None:
        assert batch_error is None
        assert _relationships(batch) == _relationships(single)
    else:
        assert batch_error is not None, f"the batch accepted what one by one refused: {single_error}"
        assert _kind(batch_error) is _kind(single_error), (batch_error, single_error)
        assert _relationships(batch) == before  # all or nothing


twin_ops = st.lists(st.tuples(
    st.sampled_from(["n0", "n1", "p0", "", "bad\nid"]),
    st.one_of(st.just(pump(flow=1.0)), st.just(pump(flow="fast")), st.just(tank(level=2.0)),
              st.just({"$metadata": {"$model": "dtmi:test:Nope;1"}}), st.just({"no": "metadata"}),
              st.just(pump(pressure=1.0))),
), max_size=5)


@SETTINGS
@given(twin_ops)
def test_twin_batch_equals_one_by_one(ops: list[tuple[str, dict[str, Any]]]) -> None:
    batch, single = _plant(), _plant()
    before = batch.list_twins(limit=100)
    batch_error = _error_of(lambda: batch.create_twins(ops))
    single_error = _error_of(*(functools.partial(single.create_twin, twin_id, body, if_none_match=True)
                               for twin_id, body in ops))

    def ids(graph: TwinGraph) -> list[tuple[str, str]]:
        return [(t["$dtId"], t["$metadata"]["$model"]) for t in graph.list_twins(limit=100)]

    if single_error is None:
        assert batch_error is None and ids(batch) == ids(single)
    else:
        assert batch_error is not None and _kind(batch_error) is _kind(single_error), (batch_error, single_error)
        assert batch.list_twins(limit=100) == before


def _sensors() -> TwinGraph:
    graph = TwinGraph(SQLiteStore(":memory:"))
    graph.add_models(LIVE)
    graph.create_twins([(f"s{i}", sensor(temperature=0.0)) for i in range(3)])
    return graph


updates = st.lists(st.builds(
    Update,
    twin=st.sampled_from(["s0", "s1", "s2", "ghost"]),
    values=st.dictionaries(st.sampled_from(["temperature", "seq", "online", "reading", "nosuch"]),
                           st.one_of(st.floats(-1e6, 1e6), st.integers(-5, 5), st.booleans(), st.text(max_size=3)),
                           max_size=2),
    telemetry=st.booleans(),
    component=st.sampled_from(["", "", "", "battery", "engine"]),
), max_size=8)


def _state(graph: TwinGraph) -> list[dict[str, Any]]:
    out = []
    for twin in graph.list_twins(limit=100):
        doc = {k: v for k, v in twin.items() if k not in ("$etag", "$metadata")}
        out.append(doc)
        for name in ("temperature", "seq", "online", "reading", "level"):
            points = [p.value for p in graph.store.read_history(twin["$dtId"], name)]
            points += [p.value for p in graph.store.read_history(twin["$dtId"], name, component="battery")]
            doc[f"history:{name}"] = points
    return out


@SETTINGS
@given(updates)
def test_value_batches_equal_single_updates_and_patches(batch_updates: list[Update]) -> None:
    batch, single, patched = _sensors(), _sensors(), _sensors()
    outcome = batch.apply_updates(batch_updates)
    kinds: list[RefusalKind | None] = []
    for update in batch_updates:
        one = single.apply_updates([update])
        kinds.append(one.refusals[0].kind if one.refusals else None)
    assert [r.kind for r in outcome.refusals] == [k for k in kinds if k is not None]
    assert outcome.accepted == kinds.count(None)
    assert _state(batch) == _state(single)
    # Property updates through JSON Patch (the API's path) are accepted and refused alike.
    for update, kind in zip(batch_updates, kinds, strict=True):
        if update.telemetry or not update.values:  # an empty patch is a valid no-op; an empty update is not
            continue
        prefix = f"/{update.component}/" if update.component else "/"
        patch = [{"op": "add", "path": prefix + name, "value": value} for name, value in update.values.items()]
        try:
            patched.update_twin(update.twin, patch)
            accepted = True
        except TwinforgeError:
            accepted = False
        assert accepted == (kind is None), (update, kind)


put_ops = st.lists(st.tuples(
    st.sampled_from(["n0", "n1", "p0", "", "bad\nid"]),
    st.one_of(st.just(pump(flow=1.0)), st.just(pump(flow="fast")), st.just(tank(level=2.0)),
              st.just({"$metadata": {"$model": "dtmi:test:Nope;1"}})),
    st.booleans(),
), max_size=6)


@SETTINGS
@given(put_ops)
def test_put_batches_equal_one_by_one(ops: list[tuple[str, dict[str, Any], bool]]) -> None:
    """`put_twins` (the API's concurrent PUTs) answers each item as `create_twin` would."""
    batch, single = _plant(), _plant()
    results = batch.put_twins(ops)
    expected: list[type[TwinforgeError] | None] = []
    for twin_id, body, if_none_match in ops:
        try:
            single.create_twin(twin_id, body, if_none_match=if_none_match)
            expected.append(None)
        except TwinforgeError as exc:
            expected.append(type(exc))
    assert [type(r) if isinstance(r, TwinforgeError) else None for r in results] == expected

    def state(graph: TwinGraph) -> list[tuple[str, str, Any]]:
        return [(t["$dtId"], t["$metadata"]["$model"], t.get("flow", t.get("level")))
                for t in graph.list_twins(limit=100)]

    assert state(batch) == state(single)
