"""Group commit: concurrent submissions share a transaction and each gets its own outcome."""

from __future__ import annotations

import asyncio

from tests.graph.sensors import LIVE, sensor
from twinforge.graph import TwinGraph
from twinforge.ingest import Ingestor, Update
from twinforge.ingest.group import GroupCommitter


def test_submissions_share_a_commit_and_keep_their_own_results(graph: TwinGraph) -> None:
    graph.add_models(LIVE)
    graph.create_twins([(f"s{i}", sensor()) for i in range(3)])
    committer = GroupCommitter(Ingestor(graph))

    async def scenario() -> list[object]:
        first = committer.submit([Update("s0", {"temperature": 1.0}), Update("ghost", {"temperature": 1.0})], [])
        second = committer.submit([Update("s1", {"temperature": "hot"}), Update("s2", {"temperature": 2.0}),
                                   Update("s1", {"temperature": 3.0})], [])
        return list(await asyncio.gather(first, second))

    one, two = asyncio.run(scenario())
    assert (one.accepted, one.rejected) == (1, 1) and "ghost" in one.errors[0]  # type: ignore[attr-defined]
    assert (two.accepted, two.rejected) == (2, 1) and "s1: temperature" in two.errors[0]  # type: ignore[attr-defined]
    assert committer.batches == 1
    assert [graph.get_twin(f"s{i}")["temperature"] for i in range(3)] == [1.0, 3.0, 2.0]
