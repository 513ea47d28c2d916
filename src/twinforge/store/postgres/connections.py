"""Connections to one PostgreSQL database: one per thread, writers one at a time, leases."""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Self

from twinforge.errors import InvalidArgument, MissingDependency, NotFound, Unavailable
from twinforge.outages import Outage
from twinforge.store.base import Lease
from twinforge.store.postgres.schema import SCHEMA, SCHEMA_LOCK, WRITE_LOCK, adopt_history

log = logging.getLogger("twinforge.store.postgres")
# Where reads may go when the store has a replica. None (the default: writes, background work,
# commands): the primary. A WAL position: the replica once it has replayed that far (a
# client's session token, the position after its last write), else the primary; "0/0" is
# any replica state. The API sets it for read requests.
READ_FLOOR: ContextVar[str | None] = ContextVar("twinforge_read_floor", default=None)
ANY = "0/0"


def lsn(text: str) -> int:
    """A WAL position as PostgreSQL writes it ('16/B374D848') as a number."""
    try:
        high, low = text.split("/")
        return (int(high, 16) << 32) | int(low, 16)
    except (ValueError, AttributeError):
        raise InvalidArgument(f"'{text}' is not a session token (a WAL position such as 0/16B3748)") from None


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise MissingDependency("the PostgreSQL store needs psycopg: pip install 'twinforge[postgres]'") from None
    return psycopg


def _connect(url: str) -> Any:
    psycopg = _psycopg()
    from psycopg.types.string import TextLoader

    try:
        conn = psycopg.connect(url, autocommit=True, **({} if "connect_timeout" in url else {"connect_timeout": 5}))
    except psycopg.OperationalError as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        if "does not exist" in text and "database" in text:
            raise NotFound(f"cannot open {_safe(url)}: {text}") from None
        raise InvalidArgument(f"cannot connect to {_safe(url)}: {text}") from None
    # documents stay the JSON text they were written as
    conn.adapters.register_loader("json", TextLoader)
    conn.adapters.register_loader("jsonb", TextLoader)
    return conn


def _safe(url: str) -> str:
    """The URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        user, host = rest.rsplit("@", 1)
        return f"{scheme}://{user.split(':', 1)[0]}@{host}"
    return url


@contextmanager
def _guarded(owner: PostgresConnections) -> Iterator[None]:
    """A lost connection (the database restarted or went away) becomes `Unavailable` (503);
    the thread's connection is dropped, so the next call connects again."""
    psycopg = _psycopg()
    try:
        yield
    except psycopg.errors.QueryCanceled:
        raise  # a statement timeout, not a lost connection: the caller says what it means
    except psycopg.OperationalError as exc:
        owner._drop_here()
        text = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        owner.unavailable = f"the database at {owner.path} is not reachable now ({text}); try again shortly"
        raise Unavailable(owner.unavailable) from None
    except Unavailable as exc:
        owner.unavailable = str(exc)
        raise
    owner.unavailable = None



@functools.lru_cache(maxsize=512)
def marks(sql: str) -> str:
    """The compiler's ``?`` marks as psycopg's ``%s`` (outside string literals); ``%`` escaped."""
    out = []
    quoted = False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
        if ch == "%":
            out.append("%%")
        elif ch == "?" and not quoted:
            out.append("%s")
        else:
            out.append(ch)
    return "".join(out)


class PostgresConnections:
    """One database: a connection per thread (reads see the last commit), and write
    transactions that take one advisory lock so that writers go one at a time."""

    def __init__(self, url: str, *, create: bool = True, read_url: str | None = None) -> None:
        self._url = url.replace("postgres://", "postgresql://", 1)
        self.path = _safe(self._url)
        self._local = threading.local()
        # a streaming replica for reads outside transactions (`serve --db-read`)
        self._read_url = read_url.replace("postgres://", "postgresql://", 1) if read_url else None
        self.written = "0/0"  # the WAL position after this process's last commit (with a replica)
        self.replica_wait = 1.0  # seconds a read with a floor waits for the replica before the primary
        self.reads = {"replica": 0, "primary": 0}
        self.unavailable: str | None = None  # why the last operation could not reach the database
        self._all: list[Any] = []
        self._all_lock = threading.Lock()
        self._closed = False
        conn = self._conn_here()
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            exists = conn.execute("SELECT to_regclass('twins') IS NOT NULL").fetchone()[0]
            if not exists and not create:
                raise NotFound(f"there is no twinforge store in {self.path} (it is made by the commands "
                               "that write, such as 'twinforge models load')")
            self.created = not exists
            conn.execute(SCHEMA)
            adopt_history(conn)
        self._partitions: set[str] = set()
        # series-days that got small history chunks from this process (`HistoryRows`)
        self._small_days: set[tuple[str, str, str, int]] = set()
        self._small_count = 0
        self._compacted_at = time.monotonic()
        self._small_lock = threading.Lock()
        if self._read_url:
            replica = self._replica_here()
            if not replica.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                raise InvalidArgument(f"{_safe(self._read_url)} is not a replica (pg_is_in_recovery() is false): "
                                      "--db-read takes a streaming standby of the primary")

    @property
    def replicated(self) -> bool:
        return self._read_url is not None

    def session_token(self) -> str:
        """What a client sends back (``Twinforge-Session``) to read its own writes."""
        return self.written

    def _replica_here(self) -> Any:
        conn = getattr(self._local, "replica", None)
        if conn is None or conn.closed or conn.broken:
            assert self._read_url is not None
            conn = self._register(_connect(self._read_url))
            self._local.replica = conn
        return conn

    def _drop_replica_here(self) -> None:
        conn = getattr(self._local, "replica", None)
        self._local.replica = None
        self._forget(conn)

    def _replica_for_read(self) -> Any:
        """The replica's connection when this read may go there: outside a transaction, and
        once the replica has replayed the request's floor (waiting up to ``replica_wait``
        seconds); None sends it to the primary."""
        depth: int = getattr(self._local, "depth", 0)
        if self._read_url is None or depth:
            return None
        floor = READ_FLOOR.get()
        if floor is None:
            return None
        try:
            conn = self._replica_here()
            if floor == ANY:
                return conn
            target, deadline = lsn(floor), time.monotonic() + self.replica_wait
            while True:
                row = conn.execute("SELECT pg_last_wal_replay_lsn()").fetchone()
                if row and row[0] is not None and lsn(str(row[0])) >= target:
                    return conn
                if time.monotonic() > deadline:
                    return None
                time.sleep(0.002)
        except Exception as exc:  # the replica is away: the primary answers
            if isinstance(exc, InvalidArgument) and "session token" in str(exc):
                raise
            self._drop_replica_here()
            return None

    @property
    def url(self) -> str:
        return self._url

    @classmethod
    def from_url(cls, url: str, *, create: bool = True, read_url: str | None = None) -> Self:
        return cls(url, create=create, read_url=read_url)

    def _drop_here(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        self._local.depth = 0
        self._forget(conn)

    def _register(self, conn: Any) -> Any:
        """Keep a new connection among those `close` closes (refused once the store is closed)."""
        with self._all_lock:
            if self._closed:
                conn.close()
                raise InvalidArgument("the store is closed")
            self._all.append(conn)
        return conn

    def _forget(self, conn: Any) -> None:
        """Close a connection this thread no longer uses (lost, or the store closing)."""
        if conn is not None:
            with self._all_lock:
                if conn in self._all:
                    self._all.remove(conn)
            with contextlib.suppress(Exception):
                conn.close()

    def _conn_here(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            try:
                conn = _connect(self._url)
            except InvalidArgument as exc:  # the database is away (it was there when we started)
                self.unavailable = f"the database is not reachable now ({exc}); try again shortly"
                raise Unavailable(self.unavailable) from None
            self._register(conn)
            self._local.conn = conn
            self._local.depth = 0
        return conn

    # -- transactions -----------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        conn = self._conn_here()
        if self._local.depth:
            self._local.depth += 1
            try:
                yield
            finally:
                self._local.depth -= 1
            return
        self._local.depth = 1
        try:
            with _guarded(self), conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                yield
                # One round trip for both (no parameters: the simple protocol takes two statements);
                # the NOTIFY is delivered to listeners at commit.
                conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'data_version'; NOTIFY twinforge_commits")
            if self._read_url is not None:  # where the commit ends: what a reader of its writes waits for
                self.written = str(conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0])
        finally:
            self._local.depth = 0
        self._committed()

    def _committed(self) -> None:
        """After this thread's outermost transaction commits: work kept out of it (`HistoryRows`)."""

    @property
    def _conn(self) -> Any:
        return self._conn_here()

    def _read(self, sql: str, args: Sequence[Any], fetch: str) -> Any:
        """A read; outside a transaction, a connection lost since its last use (the database
        restarted) is replaced and the read tried once more."""
        psycopg = _psycopg()
        replica = self._replica_for_read()
        if replica is not None:
            try:
                cursor = replica.execute(sql, args)
                rows = cursor.fetchall() if fetch == "all" else cursor.fetchone()
                self.reads["replica"] += 1
                return rows
            except psycopg.OperationalError:  # the replica went away: the primary answers
                self._drop_replica_here()
            except psycopg.errors.UndefinedTable:  # it has not replayed the schema yet
                pass
        if self._read_url is not None:
            self.reads["primary"] += 1
        if not getattr(self._local, "depth", 0):
            try:
                cursor = self._conn_here().execute(sql, args)
                rows = cursor.fetchall() if fetch == "all" else cursor.fetchone()
                self.unavailable = None
                return rows
            except (psycopg.OperationalError, Unavailable):
                self._drop_here()
        with _guarded(self):
            cursor = self._conn_here().execute(sql, args)
            return cursor.fetchall() if fetch == "all" else cursor.fetchone()

    def _sql(self, sql: str) -> str:
        return marks(sql)

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self._read(sql, args, "all")
        return rows

    def _one(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._read(sql, args, "one")
        return row

    def _write(self, sql: str, args: Sequence[Any] = ()) -> Any:
        with self.transaction():
            return self._conn_here().execute(sql, args)

    def _write_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        with self.transaction(), self._conn_here().cursor() as cursor:
            if len(rows) == 1:  # executemany's pipeline costs extra round trips for a single row
                cursor.execute(sql, rows[0])
            else:
                cursor.executemany(sql, rows)

    def close(self) -> None:
        with self._all_lock:
            self._closed = True
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()

    # -- commits made by any process ---------------------------------------

    def watch_commits(self, callback: Any) -> Any:
        """Call ``callback()`` (from a thread of its own) after every write committed to the
        database by any process or server (LISTEN/NOTIFY); returns a function that stops it."""
        stop = threading.Event()
        outage = Outage("listening for commits (LISTEN/NOTIFY)", log)

        def listen() -> None:
            while not stop.is_set():
                try:
                    conn = _connect(self._url)
                    conn.execute("LISTEN twinforge_commits")
                    callback()  # catch up on what was committed while not listening
                    outage.ok()
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=1000):
                            callback()
                    conn.close()
                except Exception as exc:  # the database went away: listen again when it is back
                    outage.failed(exc)
                    stop.wait(1.0)

        thread = threading.Thread(target=listen, name="pg-listen", daemon=True)
        thread.start()

        def unwatch() -> None:
            stop.set()
            thread.join(2)

        return unwatch

    # -- leases -----------------------------------------------------------

    def lease(self, name: str) -> Lease:
        return AdvisoryLease(self._url, name)


class AdvisoryLease(Lease):
    """A `Lease` as a session advisory lock on a connection of its own: PostgreSQL frees it
    when the holder's connection ends (its process died), so another server takes over at
    its next try."""

    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.name = name
        self._conn: Any = None
        self.held = False
        self.outage = Outage(f"lease {name}", log)

    def try_acquire(self) -> bool:
        if self.held and self._conn is not None and not self._conn.closed:
            return True
        try:
            if self._conn is None or self._conn.closed:
                self._conn = _connect(self.url)
            row = self._conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", ("twinforge:" + self.name,)).fetchone()
        except Exception as exc:  # the database is away: not the leader now
            self.outage.failed(exc)
            self.release()
            return False
        self.outage.ok()
        self.held = bool(row[0])
        return self.held

    def release(self) -> None:
        held, self.held = self.held, False
        if self._conn is not None:
            with contextlib.suppress(Exception):
                if held:  # at once: a closed connection's locks go only when its backend notices
                    self._conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", ("twinforge:" + self.name,))
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


__all__ = ["ANY", "READ_FLOOR", "AdvisoryLease", "PostgresConnections", "lsn"]
