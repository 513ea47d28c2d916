"""With nothing to evaluate, the evaluator skips the event log without writing to the store.

The evaluator runs in a child process at the lowest CPU priority. A write it began (storing its
cursor after each idle round, twice a second) could hold the SQLite write lock while the busy
cores ran everything else, and ingest waited behind it. These tests hold the write lock from
another connection, as a long ingest batch would, and check that an idle round neither waits
for it nor fails, and that the cursor still reaches the store for the next leader.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from twinforge.analytics.alerts import AlertService
from twinforge.analytics.engine import AnalyticsEngine
from twinforge.analytics.evaluator import CURSOR, Evaluator
from twinforge.graph import TwinGraph

MODEL = {"@id": "dtmi:ex:Pump;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
         "contents": [{"@type": "Property", "name": "flow", "schema": "double"},
                      {"@type": "Telemetry", "name": "vibration", "schema": "double"}]}


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[TwinGraph]:
    graph = TwinGraph.open(f"sqlite:///{tmp_path / 's.db'}")
    graph.add_models([MODEL])
    graph.create_twin("p1", {"$metadata": {"$model": "dtmi:ex:Pump;1"}, "flow": 1.0})
    yield graph
    graph.close()


def evaluator_of(graph: TwinGraph, **options: float) -> tuple[Evaluator, AnalyticsEngine]:
    engine = AnalyticsEngine(graph)
    return Evaluator(graph, engine, AlertService(graph, engine), **options), engine


def patch_flow(graph: TwinGraph, times: int) -> None:
    for k in range(times):
        graph.update_twin("p1", [{"op": "replace", "path": "/flow", "value": float(k)}])


def test_an_idle_round_skips_the_log_while_another_writer_holds_the_lock(graph: TwinGraph,
                                                                          tmp_path: Path) -> None:
    evaluator, _ = evaluator_of(graph)
    evaluator.step()  # takes the lead; the cursor starts at the log's end
    stored = graph.store.get_setting(CURSOR)
    patch_flow(graph, 3)
    graph.store.lock_wait = 0.3  # type: ignore[attr-defined]  # a round that waited would fail fast
    other = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # an ingest batch in another process, holding the write lock
    try:
        assert evaluator.step() == 0
        assert evaluator.counters["failures"] == 0
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert evaluator.cursor == graph.store.last_event_seq()
    assert graph.store.get_setting(CURSOR) == stored  # skipped in memory only
    evaluator.close()
    assert graph.store.get_setting(CURSOR) == str(graph.store.last_event_seq())  # kept for the next leader


def test_the_skipped_cursor_is_stored_once_the_interval_has_passed(graph: TwinGraph) -> None:
    evaluator, _ = evaluator_of(graph, idle_store=0.0)
    evaluator.step()
    patch_flow(graph, 2)
    evaluator.step()
    assert graph.store.get_setting(CURSOR) == str(graph.store.last_event_seq())
    evaluator.close()


def test_a_detector_put_after_an_idle_skip_sees_only_later_values(graph: TwinGraph) -> None:
    evaluator, engine = evaluator_of(graph)
    evaluator.step()
    patch_flow(graph, 5)  # nothing evaluates these
    evaluator.step()
    engine.put_detector("d", {"model": "dtmi:ex:Pump;1", "name": "flow", "kind": "robust_z",
                              "params": {"warmup": 1}})
    before = graph.store.last_event_seq()
    patch_flow(graph, 2)
    evaluator.step()
    assert evaluator.counters["events"] == graph.store.last_event_seq() - before == 2
    assert graph.store.get_setting(CURSOR) == str(graph.store.last_event_seq())
    evaluator.close()

    # The next leader goes on from the stored cursor: nothing is read twice.
    successor, _ = evaluator_of(graph)
    assert successor.step() == 0
    successor.close()
