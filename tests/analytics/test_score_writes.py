"""The evaluator stores its scores a slice at a time, so another process's write (MQTT
ingest) gets the SQLite write lock between slices instead of after a whole round."""

from __future__ import annotations

import threading
from pathlib import Path

from twinforge.analytics.engine import SLICE, write_slices
from twinforge.history import point
from twinforge.store import open_store


def test_another_writer_gets_in_between_slices(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    evaluator, ingest = open_store(url), open_store(url)
    points = [point("pump", "", "flow:anomaly:hst", ts, ts / 10) for ts in range(1, 3 * SLICE + 1)]
    seen_at_commit: list[int] = []

    def write_between() -> None:
        while not ingest.read_history("pump", "flow:anomaly:hst", limit=1):
            threading.Event().wait(0.001)
        with ingest.transaction():  # waits at most for the slice being written
            seen_at_commit.append(len(ingest.read_history("pump", "flow:anomaly:hst", limit=10_000)))
            ingest.put_setting("ingest", "batch")

    other = threading.Thread(target=write_between)
    other.start()
    write_slices(evaluator, points, pause=0.3)
    other.join(10)
    assert len(evaluator.read_history("pump", "flow:anomaly:hst", limit=10_000)) == 3 * SLICE
    assert seen_at_commit and seen_at_commit[0] in (SLICE, 2 * SLICE)
    assert evaluator.get_setting("ingest") == "batch"
    evaluator.close()
    ingest.close()
