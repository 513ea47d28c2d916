"""The record cache under concurrent first reads: tokens are checked off the event loop by
several threads at once, and none may see an empty cache while another thread loads it."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from twinforge.auth.tokens import TOKENS, Token, Tokens
from twinforge.graph import TwinGraph
from twinforge.records import Cache, Collection


class SlowCollection(Collection[Token]):
    """The real token collection on a real SQLite file, whose listing takes as long as it does
    on a machine busy with other work."""

    def items(self, *, after: str = "", limit: int = 1_000_000) -> list[tuple[str, Token]]:
        time.sleep(0.3)
        return super().items(after=after, limit=limit)


def _read_together(cache: Cache[Token], threads: int = 8) -> list[Any]:
    barrier = threading.Barrier(threads)
    seen: list[Any] = []

    def read() -> None:
        barrier.wait()
        seen.append(sorted(cache.all()))

    workers = [threading.Thread(target=read) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    return seen


def test_concurrent_first_reads_all_wait_for_the_load(tmp_path: Path) -> None:
    graph = TwinGraph.open(f"sqlite:///{tmp_path / 'a.db'}")
    Tokens(graph.store).create("viewer", "reader")
    cache = Cache(SlowCollection(graph.store, TOKENS))
    assert _read_together(cache) == [["viewer"]] * 8
    assert cache.reloads == 1  # one load, the others waited for it
    graph.close()


def test_an_invalidate_during_a_reload_is_not_lost(tmp_path: Path) -> None:
    graph = TwinGraph.open(f"sqlite:///{tmp_path / 'a.db'}")
    tokens = Tokens(graph.store)
    tokens.create("first", "reader")
    cache = Cache(SlowCollection(graph.store, TOKENS), max_age=60)
    assert sorted(cache.all()) == ["first"]
    cache.invalidate()
    loading = threading.Thread(target=cache.all)
    loading.start()
    time.sleep(0.1)  # the reload has read the version and is listing
    tokens.create("second", "writer")
    cache.invalidate()  # what Tokens.create does for its own cache
    loading.join(30)
    assert sorted(cache.all()) == ["first", "second"]  # not served stale for max_age
    graph.close()
