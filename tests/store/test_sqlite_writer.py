"""The SQLite writer waits for another process's write lock in short steps, and gives up
with SQLite's own error after `lock_wait` seconds, leaving the store as it was."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from twinforge.store import open_store


def hold_write_lock(path: Path, seconds: float, held: threading.Event,
                    release: threading.Event | None = None) -> None:
    """Hold the write lock from another connection for ``seconds``, or until ``release``."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    held.set()
    if release is not None:
        release.wait(seconds)
    else:
        time.sleep(seconds)
    conn.execute("COMMIT")
    conn.close()


def test_a_write_waits_for_another_writer_then_lands(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = open_store(f"sqlite:///{path}")
    held = threading.Event()
    other = threading.Thread(target=hold_write_lock, args=(path, 0.3, held))
    other.start()
    held.wait(5)
    store.put_setting("k", "v")  # waits for the other connection's commit
    other.join()
    assert store.get_setting("k") == "v"
    store.close()


def test_a_write_that_waits_too_long_fails_and_leaves_the_store_intact(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = open_store(f"sqlite:///{path}")
    store.put_setting("k", "before")
    store.lock_wait = 0.2  # type: ignore[attr-defined]
    held, release = threading.Event(), threading.Event()
    other = threading.Thread(target=hold_write_lock, args=(path, 60, held, release))
    other.start()
    held.wait(5)
    try:
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            store.put_setting("k", "after")
    finally:
        release.set()
        other.join()
    assert store.get_setting("k") == "before"
    store.put_setting("k", "after")  # the writer is usable again once the lock is free
    assert store.get_setting("k") == "after"
    store.close()


def test_the_wal_file_is_cut_back_once_sqlite_starts_it_over(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from twinforge.store.sqlite.connections import SQLiteConnections

    monkeypatch.setattr(SQLiteConnections, "wal_keep", 64 * 1024)
    path = tmp_path / "s.db"
    store = open_store(f"sqlite:///{path}")
    wal = Path(f"{path}-wal")
    store.put_setting("big", "x" * 3_000_000)  # a WAL of some 3 MB
    grown = wal.stat().st_size
    assert grown > 2_000_000
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and wal.stat().st_size >= grown:
        time.sleep(0.2)  # the background checkpoint copies it into the database
        store.put_setting("small", str(time.monotonic()))  # a write after it starts the WAL over
    assert wal.stat().st_size <= 64 * 1024
    assert len(store.get_setting("big") or "") == 3_000_000
    store.close()
