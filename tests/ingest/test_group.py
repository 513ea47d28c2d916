"""Group commit: concurrent submissions share a transaction and each gets its own outcome."""

from __future__ import annotations

import asyncio

from tests.graph.sensors import LIVE, sensor
from twinforge.api.batching import WriteBatcher
from twinforge.api.http import Workers
from twinforge.graph import TwinGraph
from twinforge.ingest import Ingestor, Update


def test_submissions_share_a_commit_and_keep_their_own_results(graph: TwinGraph) -> None:
    graph.add_models(LIVE)
    graph.create_twins([(f"s{i}", sensor()) for i in range(3)])
    workers = Workers()
    committer = WriteBatcher(workers, Ingestor(graph).apply_many, max_weight=100,
                             weight=lambda submission: len(submission[0]))
    events_before = graph.store.last_event_seq()

    async def scenario() -> list[object]:
        first = committer.submit(([Update("s0", {"temperature": 1.0}), Update("ghost", {"temperature": 1.0})], []))
        second = committer.submit(([Update("s1", {"temperature": "hot"}), Update("s2", {"temperature": 2.0}),
                                    Update("s1", {"temperature": 3.0})], []))
        return list(await asyncio.gather(first, second))

    try:
        one, two = asyncio.run(scenario())
    finally:
        workers.close()
    assert (one.accepted, one.rejected) == (1, 1) and "ghost" in one.errors[0]  # type: ignore[attr-defined]
    assert (two.accepted, two.rejected) == (2, 1) and "s1: temperature" in two.errors[0]  # type: ignore[attr-defined]
    assert two.refused[0].index == 0  # type: ignore[attr-defined]  # positions are the submission's own
    assert committer.batches == 1
    assert [graph.get_twin(f"s{i}")["temperature"] for i in range(3)] == [1.0, 3.0, 2.0]
    assert graph.store.last_event_seq() - events_before == 3  # one event per twin changed


def test_a_batch_stops_growing_at_its_weight(graph: TwinGraph) -> None:
    graph.add_models(LIVE)
    graph.create_twins([("s0", sensor())])
    workers = Workers()
    committer = WriteBatcher(workers, Ingestor(graph).apply_many, max_weight=2,
                             weight=lambda submission: len(submission[0]))

    async def scenario() -> None:
        await asyncio.gather(*(committer.submit(([Update("s0", {"seq": i}), Update("s0", {"seq": i})], []))
                               for i in range(3)))

    try:
        asyncio.run(scenario())
    finally:
        workers.close()
    assert committer.batches == 3
