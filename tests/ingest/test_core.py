"""The ingest core on a real SQLite file: batches, history, events, dead letters."""

from __future__ import annotations

import pytest

from tests.graph.sensors import LIVE, sensor
from twinforge.graph import TwinGraph
from twinforge.ingest import Ingestor, Update


@pytest.fixture
def live(graph: TwinGraph) -> TwinGraph:
    graph.add_models(LIVE)
    graph.create_twins([(f"s{i}", sensor(temperature=20.0)) for i in range(5)])
    return graph


def test_property_updates_merge_and_keep_history(live: TwinGraph) -> None:
    ingestor = Ingestor(live)
    before = live.get_twin("s1")
    result = ingestor.apply([Update("s1", {"temperature": 21.5, "online": True}),
                             Update("s1", {"temperature": 22.0}),
                             Update("s1", {"level": 0.5}, component="battery")])
    assert (result.accepted, result.rejected) == (3, 0)
    twin = live.get_twin("s1")
    assert twin["temperature"] == 22.0 and twin["online"] is True and twin["battery"]["level"] == 0.5
    assert twin["$etag"] != before["$etag"]
    assert "lastUpdateTime" in twin["$metadata"]["online"]
    values = [p.num for p in live.store.read_history("s1", "temperature")]
    assert values == [20.0, 21.5, 22.0]
    assert [p.num for p in live.store.read_history("s1", "level", component="battery")] == [0.5]
    updates = [e for e in live.events() if e.type == "Twin.Update"]
    assert len(updates) == 1 and updates[0].model == "dtmi:live:Sensor;1"


def test_telemetry_goes_to_history_not_the_twin(live: TwinGraph) -> None:
    ingestor = Ingestor(live)
    result = ingestor.apply([Update("s2", {"humidity": 40.0}, telemetry=True, ts=1_000_000),
                             Update("s2", {"voltage": 3.3}, telemetry=True, component="battery")])
    assert result.accepted == 2
    assert "humidity" not in live.get_twin("s2")
    assert [(p.ts, p.num) for p in live.store.read_history("s2", "humidity")] == [(1_000_000, 40.0)]
    assert [e.type for e in live.events()][-2:] == ["Telemetry", "Telemetry"]


@pytest.mark.parametrize(
    ("update", "kind", "fragment"),
    [
        (Update("ghost", {"temperature": 1.0}), "unknown_twin", "no digital twin 'ghost'"),
        (Update("s1", {"colour": "red"}), "unknown_name", "'colour' is not a property"),
        (Update("s1", {"temperature": "hot"}), "invalid_value", "temperature: expected a number"),
        (Update("s1", {"humidity": 1.0}), "unknown_name", "telemetry"),
        (Update("s1", {"temperature": 1.0}, telemetry=True), "unknown_name", "not telemetry"),
        (Update("s1", {"reading": "x"}, telemetry=True), "invalid_value", "expected a number"),
        (Update("s1", {"level": 1.0}, component="engine"), "unknown_component", "no component 'engine'"),
        (Update("s1", {}), "invalid_value", "holds no values"),
    ],
)
def test_bad_updates_are_dead_lettered_and_the_rest_goes_on(live: TwinGraph, update: Update, kind: str,
                                                            fragment: str) -> None:
    ingestor = Ingestor(live)
    before = live.get_twin("s1")
    result = ingestor.apply([update, Update("s3", {"temperature": 30.0})])
    assert (result.accepted, result.rejected) == (1, 1)
    assert fragment in result.errors[0]
    assert live.get_twin("s3")["temperature"] == 30.0
    assert live.get_twin("s1") == before
    (letter,) = live.store.read_dead_letters()
    assert letter.kind == kind and fragment in letter.reason and letter.source == "api"
    assert ingestor.counters[kind] == 1


def test_same_microsecond_samples_are_both_kept(live: TwinGraph) -> None:
    Ingestor(live).apply([Update("s1", {"reading": 1.0}, telemetry=True, ts=5),
                          Update("s1", {"reading": 2.0}, telemetry=True, ts=5)])
    assert [(p.ts, p.num) for p in live.store.read_history("s1", "reading")] == [(5, 1.0), (6, 2.0)]


def test_failed_batch_leaves_nothing(live: TwinGraph, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(points: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(live.store, "append_history", broken)
    before = live.get_twin("s1")
    with pytest.raises(OSError, match="disk full"):
        Ingestor(live).apply([Update("s1", {"temperature": 99.0})])
    assert live.get_twin("s1") == before
    assert [e.type for e in live.events()].count("Twin.Update") == 0


def test_twin_deleted_by_another_process_while_planning(live: TwinGraph, monkeypatch: pytest.MonkeyPatch) -> None:
    import twinforge.graph.twins as twins_module

    other = TwinGraph.open(live.store.url)  # type: ignore[attr-defined]
    real_plan = twins_module.plan_updates
    raced: list[bool] = []

    def racing_plan(*args, **kwargs):  # type: ignore[no-untyped-def]
        plan = real_plan(*args, **kwargs)
        if not raced:
            raced.append(True)
            other.delete_twin("s4")  # another process commits between plan and write
        return plan

    monkeypatch.setattr(twins_module, "plan_updates", racing_plan)
    result = Ingestor(live).apply([Update("s4", {"temperature": 1.0}), Update("s3", {"temperature": 2.0})])
    assert (result.accepted, result.rejected) == (1, 1)
    assert [d.kind for d in live.store.read_dead_letters()] == ["unknown_twin"]
    assert live.get_twin("s3")["temperature"] == 2.0
    assert live.store.read_history("s4", "temperature")[-1].num == 20.0  # nothing written for the gone twin
    other.close()


def test_twin_models_stay_cached_across_other_processes_writes(live: TwinGraph,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process's history or settings writes leave the ingest's cache of twin models
    alone (it would otherwise read them again after every commit of the evaluator); a twin
    it deletes is seen at once."""
    other = TwinGraph.open(live.store.url)  # type: ignore[attr-defined]
    ingestor = Ingestor(live)
    ingestor.apply([Update("s1", {"temperature": 1.0}), Update("s2", {"temperature": 1.0})])
    reads: list[list[str]] = []
    real = live.store.get_twin_models

    def counted(ids: list[str]) -> dict[str, str]:
        reads.append(ids)
        return real(ids)

    monkeypatch.setattr(live.store, "get_twin_models", counted)
    other.store.put_setting("analytics:cursor", "7")
    other.store.append_history([])
    ingestor.apply([Update("s1", {"temperature": 2.0}), Update("s2", {"temperature": 2.0})])
    assert reads == []
    other.delete_twin("s2")
    result = ingestor.apply([Update("s1", {"temperature": 3.0}), Update("s2", {"temperature": 3.0})])
    assert (result.accepted, result.rejected) == (1, 1)
    assert "no digital twin 's2'" in result.errors[0]
    assert reads and live.get_twin("s1")["temperature"] == 3.0
    other.close()


@pytest.mark.parametrize("batch_fails", [False, True])
def test_each_message_gets_its_own_outcome(live: TwinGraph, monkeypatch: pytest.MonkeyPatch,
                                           batch_fails: bool) -> None:
    """A connector sharing a batch with others learns what became of each of its messages:
    accepted updates, and rejected ones (refused by the graph or dead-lettered while
    decoding), also when the batch fails and its messages are applied one by one."""
    from twinforge.ingest import apply_resilient
    from twinforge.store.base import DeadLetter

    if batch_fails:
        real = live.store.append_history

        def only_alone(points: list) -> None:  # type: ignore[type-arg]
            if len(points) > 2:  # a fault that only the whole batch meets
                raise OSError("the batch is too big today")
            real(points)

        monkeypatch.setattr(live.store, "append_history", only_alone)
    ingestor = Ingestor(live)
    messages = [("s1", 1.0), ("bad", 0.0), ("ghost", 2.0), ("s2", 3.0), ("s3", "warm")]

    def decode(message: tuple[str, object], letters: list[DeadLetter]) -> list[Update]:
        twin, value = message
        if twin == "bad":
            ingestor.dead_letter(letters, "test", "not_json", "not JSON", "{")
            return []
        return [Update(twin, {"temperature": value}), *([Update(twin, {"online": True})] if twin == "s2" else [])]

    outcomes: list[tuple[int, int]] = []
    result = apply_resilient(ingestor, messages, decode, lambda m: ("test", str(m)), outcomes=outcomes)
    assert outcomes == [(1, 0), (0, 1), (0, 1), (2, 0), (0, 1)]
    assert (result.accepted, result.rejected) == (3, 3)
    assert live.get_twin("s2")["temperature"] == 3.0 and live.get_twin("s1")["temperature"] == 1.0
    assert sorted(d.kind for d in live.store.read_dead_letters()) == ["invalid_value", "not_json", "unknown_twin"]
