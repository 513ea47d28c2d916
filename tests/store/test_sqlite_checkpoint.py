"""A commit of many rows wakes the SQLite checkpointer, so the WAL is copied into the database
soon after a bulk write and SQLite starts it over, instead of growing by every page written
between two timed checkpoints (800 MB after 500,000 NDJSON lines with a checkpoint a second)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from twinforge.store import open_store
from twinforge.store.sqlite.connections import SQLiteConnections


def write_pages(store: object, tag: str, rows: int = 2_000) -> None:
    with store.transaction():  # type: ignore[attr-defined]
        for k in range(rows):
            store.put_setting(f"{tag}:{k}", "x" * 900)  # type: ignore[attr-defined]


def wait_for(condition: object, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_a_bulk_commit_wakes_the_checkpointer_and_the_wal_starts_over(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SQLiteConnections, "checkpoint_every", 3600.0)  # only a commit can wake it
    monkeypatch.setattr(SQLiteConnections, "checkpoint_rows", 1_500)  # each write below is one bulk write
    db = tmp_path / "s.db"
    store = open_store(f"sqlite:///{db}")
    try:
        before = db.stat().st_size
        write_pages(store, "a")
        wal_after_one = os.stat(f"{db}-wal").st_size
        assert wal_after_one > 1_000_000
        # The checkpointer copies the pages into the database file without waiting an hour.
        assert wait_for(lambda: db.stat().st_size > before + 1_000_000), "no checkpoint after the commit"
        for tag in ("b", "c", "d"):
            grown = db.stat().st_size
            write_pages(store, tag)
            assert wait_for(lambda grown=grown: db.stat().st_size > grown + 1_000_000), f"no checkpoint after {tag}"
        # Each write after a finished checkpoint starts the WAL over: it holds one write, not four.
        assert os.stat(f"{db}-wal").st_size < 2 * wal_after_one
        assert store.get_setting("d:1999") == "x" * 900 and store.get_setting("a:0") == "x" * 900
    finally:
        store.close()
