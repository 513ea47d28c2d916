"""Bulk writes pause Python's cyclic collector and put it back as they found it, also when
batches overlap on several threads or one fails."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from tests.graph.sensors import LIVE, sensor
from twinforge.errors import Conflict
from twinforge.graph import TwinGraph
from twinforge.graph.rules import collector_paused
from twinforge.store import SQLiteStore


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_paused_inside_resumed_after_even_when_overlapping() -> None:
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def first() -> None:
        with collector_paused():
            first_in.set()
            second_in.wait(5)
        seen["after first"] = gc.isenabled()  # the second batch still runs
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with collector_paused():
            second_in.set()
            first_out.wait(5)
            seen["inside second"] = gc.isenabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"after first": False, "inside second": False}
    assert gc.isenabled()


def test_a_failed_batch_resumes_it_and_an_off_collector_stays_off() -> None:
    graph = TwinGraph(SQLiteStore(":memory:"))
    graph.add_models(LIVE)
    graph.create_twins([("s1", sensor())])
    with pytest.raises(Conflict):
        graph.create_twins([("s2", sensor()), ("s1", sensor())])
    assert gc.isenabled()
    assert graph.store.get_twin("s2") is None  # the whole batch was refused
    gc.disable()
    graph.create_twins([("s3", sensor())])
    assert not gc.isenabled()  # the caller's choice is kept
