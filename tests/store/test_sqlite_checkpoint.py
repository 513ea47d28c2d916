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


def test_sustained_writes_keep_the_wal_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small transactions one after another: a passive checkpoint never catches up between two
    of them, so without help SQLite never starts the WAL over (1.5 GB in ten seconds), and the
    first commit after a pause spends hundreds of milliseconds cutting it back."""
    monkeypatch.setattr(SQLiteConnections, "wal_restart", 1024 * 1024)
    monkeypatch.setattr(SQLiteConnections, "wal_keep", 4 * 1024 * 1024)
    monkeypatch.setattr(SQLiteConnections, "checkpoint_rows", 200)
    db = tmp_path / "s.db"
    store = open_store(f"sqlite:///{db}")
    written = largest = 0
    try:
        for batch in range(400):  # about 40 MB of pages through the WAL
            write_pages(store, f"b{batch % 8}", rows=100)
            written += 100 * 900
            largest = max(largest, os.stat(f"{db}-wal").st_size)
            time.sleep(0.002)  # a broker's next batch: no pause long enough for a checkpoint to finish the WAL
        assert written > 30_000_000
        assert largest < 12 * 1024 * 1024, f"the WAL grew to {largest / 1e6:.0f} MB"
        assert store.get_setting("b7:99") == "x" * 900
    finally:
        store.close()
