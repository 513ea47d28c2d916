"""The SQLite writer waits for another process's write lock in short steps, and gives up
with SQLite's own error after `lock_wait` seconds, leaving the store as it was."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from twinforge.store import open_store


def hold_write_lock(path: Path, seconds: float, held: threading.Event) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    held.set()
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
    held = threading.Event()
    other = threading.Thread(target=hold_write_lock, args=(path, 1.5, held))
    other.start()
    held.wait(5)
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        store.put_setting("k", "after")
    other.join()
    assert store.get_setting("k") == "before"
    store.put_setting("k", "after")  # the writer is usable again once the lock is free
    assert store.get_setting("k") == "after"
    store.close()
