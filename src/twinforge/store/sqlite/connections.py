"""Connections to one SQLite file: the writer, per-thread readers, checkpoints, leases."""

from __future__ import annotations

import contextlib
import hashlib
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from twinforge.errors import InvalidArgument, NotFound
from twinforge.store.base import (
    Lease,
)
from twinforge.store.sqlite.schema import SCHEMA, path_from_url


class SQLiteConnections:
    """One SQLite file: a writer connection, per-thread readers, background checkpoints."""

    wal_keep = 64 * 1024 * 1024  # bytes of WAL file kept once SQLite starts the log over
    checkpoint_every = 1.0  # seconds between checkpoints
    checkpoint_rows = 20_000  # rows changed by this process's commits that call for one sooner
    checkpoint_gap = 0.05  # seconds at least between two checkpoints
    # Under sustained writes a passive checkpoint never ends with the WAL fully copied between
    # two commits, so SQLite never starts the WAL over: it grew to 1.5 GB in ten seconds of
    # small transactions, and the first commit after a pause spent 377 ms cutting it back to
    # ``wal_keep``. Past this size the checkpointer finishes the job itself (a RESTART checkpoint:
    # writers wait while it copies the frames the passive one left and syncs), so the WAL is
    # started over below ``wal_keep`` and never needs cutting.
    wal_restart = 32 * 1024 * 1024
    restart_wait = 0.05  # seconds a RESTART checkpoint waits for a writer or reader, then gives up
    restart_backoff = 5.0  # seconds without RESTART checkpoints after one that a reader held up

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = str(path)
        self.created = False
        if self.path != ":memory:":
            file = Path(self.path)
            if not file.exists():
                if not create:
                    raise NotFound(f"there is no store at {file} (it is made by the commands that "
                                   "write, such as 'twinforge models load' or 'twinforge demo building')")
                if not file.parent.is_dir():
                    raise InvalidArgument(f"cannot make a store at {file}: folder {file.parent} does not exist")
                self.created = True
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._lock = threading.RLock()
        self._depth = 0
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        # Several processes may share the file (serve --workers): wait for the write lock.
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._conn.execute("PRAGMA foreign_keys=OFF")
        self._conn.execute("PRAGMA cache_size=-262144")
        self._conn.execute("PRAGMA mmap_size=1073741824")
        self._conn.executescript(SCHEMA)
        self._conn.execute("PRAGMA busy_timeout=0")  # transactions wait for the write lock in _begin
        self.lock_wait = 10.0  # seconds a transaction waits for another process's write to end
        # Reads outside a transaction go through per-thread reader connections: in WAL mode
        # they see the last commit, never wait for a writer (an ingest batch, say), and a
        # slow query in one thread does not hold up a point read in another.
        self._writer_thread: int | None = None
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        # Checkpoints (copying the WAL into the database file, with an fsync) run in a
        # background thread on their own connection instead of inside a writer's commit.
        self._stop = threading.Event()
        self._committed = threading.Event()  # the checkpointer's cue: many rows were committed
        self._changed = 0  # rows changed by commits since the last checkpoint
        self._changes_at_begin = 0
        self._checkpointer: threading.Thread | None = None
        if self.path != ":memory:":
            self._conn.execute("PRAGMA wal_autocheckpoint=0")
            # Under sustained ingest the passive checkpoints never reach the WAL's end, so it
            # grows (to 2.2 GB after 200,000 MQTT messages with two detectors); when the load
            # pauses, SQLite starts it over, and this cuts the file back.
            self._conn.execute(f"PRAGMA journal_size_limit={self.wal_keep}")
            self._page_size = int(self._conn.execute("PRAGMA page_size").fetchone()[0])
            self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="sqlite-checkpoint",
                                                  daemon=True)
            self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        """Checkpoint every ``checkpoint_every`` seconds, and as soon as this process's commits
        have changed ``checkpoint_rows`` rows since the last one (at most every ``checkpoint_gap``
        seconds).

        Bulk writes (NDJSON, imports) wrote 17 MB of WAL per 10,000-line request: with only the
        timed checkpoint the WAL grew by every page written in that second, to 800 MB after
        500,000 lines, and each commit appended to the file's end. A checkpoint right after such
        a commit lets SQLite start the WAL over and rewrite it in place: 10-12 % more NDJSON
        lines per second from one client (docs/benchmarks.md). Small commits (MQTT batches) add
        up to the same threshold, so they call for a checkpoint less often than every commit.
        """
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={int(self.restart_wait * 1000)}")
        restart_after = 0.0
        try:
            while not self._stop.is_set():
                self._committed.wait(self.checkpoint_every)
                if self._stop.is_set():
                    break
                self._committed.clear()
                self._changed = 0
                with contextlib.suppress(sqlite3.Error):  # busy or locked: the next round catches up
                    frames = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
                    if (frames * self._page_size >= self.wal_restart and time.monotonic() >= restart_after
                            and conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()[0]):
                        # A reader kept it from finishing (a long query, say), and writers
                        # waited meanwhile: leave the WAL to grow for a while.
                        restart_after = time.monotonic() + self.restart_backoff
                self._stop.wait(self.checkpoint_gap)
        finally:
            conn.close()

    @property
    def url(self) -> str:
        """The URL that opens this store again (from another process, say)."""
        return f"sqlite:///{self.path}"

    @classmethod
    def from_url(cls, url: str, *, create: bool = True) -> Self:
        """The store a ``sqlite:///...`` URL names."""
        return cls(path_from_url(url), create=create)

    # -- transactions -----------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._begin()
                self._changes_at_begin = self._conn.total_changes
                self._writer_thread = threading.get_ident()
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self._writer_thread = None
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._writer_thread = None
                self._conn.execute("COMMIT")
                self._changed += self._conn.total_changes - self._changes_at_begin
                if self._changed >= self.checkpoint_rows:
                    self._committed.set()

    def _begin(self) -> None:
        """Take the write lock, asking again every half millisecond for up to ``lock_wait`` seconds.

        SQLite's own busy handler sleeps ever longer between tries (up to 100 ms), so a batch
        of MQTT ingest waiting behind another process's short write would wait several
        times as long as that write held the lock.
        """
        deadline = 0.0
        while True:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:  # BUSY, or BUSY_RECOVERY after a crash
                    raise
                now = time.monotonic()
                if not deadline:
                    deadline = now + self.lock_wait
                elif now > deadline:
                    raise
            time.sleep(0.0005)

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute("PRAGMA cache_size=-65536")
            conn.execute("PRAGMA mmap_size=1073741824")
            with self._readers_lock:
                if self._closed:
                    conn.close()
                    raise sqlite3.ProgrammingError("the store is closed")
                self._readers.append(conn)
            self._local.conn = conn
        return conn

    def _reading(self) -> tuple[sqlite3.Connection, Any]:
        """The connection (and its lock) for a read: the writer's own inside its transaction
        or for an in-memory database, else this thread's reader."""
        if self.path == ":memory:" or self._writer_thread == threading.get_ident():
            return self._conn, self._lock
        return self._reader(), contextlib.nullcontext()

    def _sql(self, sql: str) -> str:
        return sql  # SQLite takes the ``?`` marks the shared SQL is written with

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        conn, lock = self._reading()
        with lock:
            return conn.execute(sql, args).fetchall()

    def _one(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        conn, lock = self._reading()
        with lock:
            row: tuple[Any, ...] | None = conn.execute(sql, args).fetchone()
            return row

    def _write(self, sql: str, args: Sequence[Any] = ()) -> None:
        with self.transaction():
            self._conn.execute(sql, args)

    def _write_many(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        with self.transaction():
            self._conn.executemany(sql, rows)

    def close(self) -> None:
        self._stop.set()
        self._committed.set()
        if self._checkpointer is not None:
            self._checkpointer.join(5)
        with self._readers_lock:
            self._closed = True
            readers, self._readers = self._readers, []
        for reader in readers:
            with contextlib.suppress(sqlite3.Error):
                reader.close()
        with self._lock:
            # Another process may hold the database: its checkpointer then finishes the job.
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.close()

    # -- leases -----------------------------------------------------------

    def lease(self, name: str) -> FileLease:
        """A lease held as an exclusive lock on a file in a folder beside the database
        (``twinforge.db.locks/``): the processes sharing a SQLite file share its folder. The
        folder ignores itself for git, so a checkout holding a store stays clean. In memory,
        the one process always leads."""
        if self.path == ":memory:":
            return FileLease(None)
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):  # a file name, whatever the lease is called
            name = "h" + hashlib.sha256(name.encode()).hexdigest()[:32]
        folder = Path(f"{self.path}.locks")
        if not (folder / ".gitignore").exists():
            folder.mkdir(exist_ok=True)
            (folder / ".gitignore").write_text("# twinforge's lease files: nothing to keep\n*\n")
        return FileLease(folder / f"{name}.lock")


class FileLease(Lease):
    """A `Lease` as an advisory file lock (``flock``): the kernel frees it when its holder
    dies, so another process takes over at its next try."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._file: Any = None
        self.held = False

    def try_acquire(self) -> bool:
        if self.path is None or self.held:
            self.held = True
            return True
        import fcntl

        if self._file is None:
            self._file = open(self.path, "a")  # noqa: SIM115 - held while the lease is
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self.held = True
        return True

    def release(self) -> None:
        self.held = False
        if self._file is not None:
            self._file.close()  # closing the file drops the lock
            self._file = None

__all__ = ["FileLease", "SQLiteConnections"]
