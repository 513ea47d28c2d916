"""SQLite twin store: one file, WAL mode, every multi-step change in one transaction."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from twinforge.errors import Conflict, InvalidArgument, NotFound, QueryTimeout
from twinforge.query.compiler import Dialect
from twinforge.store.base import (
    DeadLetter,
    EventRecord,
    HistoryPoint,
    Lease,
    ModelRecord,
    RelationshipRecord,
    TwinRecord,
    TwinStore,
    TwinValues,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    upload_time TEXT NOT NULL,
    decommissioned INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS twins (
    id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    etag TEXT NOT NULL,
    document TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS twins_by_model ON twins (model);
CREATE TABLE IF NOT EXISTS relationships (
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    target TEXT NOT NULL,
    etag TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (source, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS relationships_by_target ON relationships (target, source, id);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('models_generation', 0);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    type TEXT NOT NULL,
    twin TEXT NOT NULL,
    relationship TEXT,
    data TEXT NOT NULL,
    model TEXT
);
CREATE TABLE IF NOT EXISTS history (
    twin TEXT NOT NULL,
    component TEXT NOT NULL,
    name TEXT NOT NULL,
    ts INTEGER NOT NULL,
    num REAL,
    value TEXT NOT NULL,
    PRIMARY KEY (twin, component, name, ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload TEXT NOT NULL
);
"""

_DIALECT = Dialect()


def _sql_path(*keys: str) -> str:
    """A SQL string literal holding the JSON path of ``keys`` (each key quoted)."""
    path = "$" + "".join('."' + key.replace('"', '\\"') + '"' for key in keys)
    return "'" + path.replace("'", "''") + "'"


def path_from_url(url: str) -> str:
    """``sqlite:///rel.db``, ``sqlite:////abs.db`` or ``sqlite:///:memory:`` -> a file path
    (``~`` expanded); a URL that names no file is refused."""
    for prefix in ("sqlite:///", "sqlite://"):
        if url.startswith(prefix):
            path = url[len(prefix):]
            break
    else:
        raise InvalidArgument(f"'{url}' is not a SQLite URL like sqlite:///path.db")
    if not path:
        raise InvalidArgument(f"'{url}' names no file: use sqlite:///path.db, or sqlite:///:memory: "
                              "for a store that lives only as long as the process")
    return path if path == ":memory:" else str(Path(path).expanduser())


class SQLiteStore(TwinStore):
    """A `TwinStore` on one SQLite file, safe to share between threads."""

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
        self._checkpointer: threading.Thread | None = None
        if self.path != ":memory:":
            self._conn.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="sqlite-checkpoint",
                                                  daemon=True)
            self._checkpointer.start()

    def _checkpoint_loop(self, interval: float = 1.0) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=1000")
        try:
            while not self._stop.wait(interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    continue  # busy or locked: the next round catches up
        finally:
            conn.close()

    @classmethod
    def from_url(cls, url: str, *, create: bool = True) -> SQLiteStore:
        """The store a ``sqlite:///...`` URL names."""
        return cls(path_from_url(url), create=create)

    # -- transactions -----------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
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

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn, lock = self._reading()
        with lock:
            return conn.execute(sql, args).fetchall()

    def _one(self, sql: str, args: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        conn, lock = self._reading()
        with lock:
            row: tuple[Any, ...] | None = conn.execute(sql, args).fetchone()
            return row

    def _write(self, sql: str, args: tuple[object, ...] = ()) -> None:
        with self.transaction():
            self._conn.execute(sql, args)

    def _write_many(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        with self.transaction():
            self._conn.executemany(sql, rows)

    # -- models -----------------------------------------------------------

    def models_generation(self) -> int:
        row = self._one("SELECT value FROM meta WHERE key = 'models_generation'")
        return int(row[0]) if row else 0

    def _bump_models(self) -> None:
        self._conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'models_generation'")

    def put_models(self, models: list[ModelRecord]) -> None:
        with self.transaction():
            self._write_many(
                "INSERT INTO models (id, document, upload_time, decommissioned) VALUES (?, ?, ?, ?)",
                [(m.id, m.document, m.upload_time, int(m.decommissioned)) for m in models],
            )
            self._bump_models()

    def get_model(self, model_id: str) -> ModelRecord | None:
        row = self._one("SELECT id, document, upload_time, decommissioned FROM models WHERE id = ?",
                        (model_id,))
        return _model(row) if row else None

    def list_models(self) -> list[ModelRecord]:
        rows = self._query("SELECT id, document, upload_time, decommissioned FROM models ORDER BY rowid")
        return [_model(r) for r in rows]

    def set_decommissioned(self, model_id: str, value: bool) -> None:
        with self.transaction():
            self._write("UPDATE models SET decommissioned = ? WHERE id = ?", (int(value), model_id))
            self._bump_models()

    def delete_model(self, model_id: str) -> None:
        with self.transaction():
            self._write("DELETE FROM models WHERE id = ?", (model_id,))
            self._bump_models()

    def count_twins_of_model(self, model_id: str) -> int:
        row = self._one("SELECT count(*) FROM twins WHERE model = ?", (model_id,))
        return int(row[0]) if row else 0

    # -- twins ------------------------------------------------------------

    def get_twins(self, twin_ids: list[str]) -> dict[str, TwinRecord]:
        return {row[0]: TwinRecord(*row) for row in self._rows_for_ids("id, model, etag, document", twin_ids)}

    def replace_twins(self, twins: list[TwinRecord]) -> None:
        # An UPDATE keeps the row (and the model index) in place: only the document changes.
        self._write_many("UPDATE twins SET model = ?, etag = ?, document = ? WHERE id = ?",
                         [(t.model, t.etag, t.document, t.id) for t in twins])

    def data_version(self) -> int:
        """Changes whenever another connection (another process) commits to the database."""
        with self._lock:  # always the writer's connection: the number is per connection
            row = self._conn.execute("PRAGMA data_version").fetchone()
        return int(row[0]) if row else 0

    def _rows_for_ids(self, columns: str, twin_ids: list[str]) -> list[tuple[Any, ...]]:
        """Rows of twins with the given ids, queried in chunks that fit SQLite's parameter limit."""
        rows: list[tuple[Any, ...]] = []
        for k in range(0, len(twin_ids), 5000):
            chunk = tuple(twin_ids[k:k + 5000])
            marks = ", ".join("?" * len(chunk))
            rows.extend(self._query(f"SELECT {columns} FROM twins WHERE id IN ({marks})", chunk))
        return rows

    def get_twin_models(self, twin_ids: list[str]) -> dict[str, str]:
        return dict(self._rows_for_ids("id, model", twin_ids))

    def set_twin_values(self, changes: list[TwinValues]) -> None:
        """Set values (and their lastUpdateTime) inside twin documents, in SQL, without reading them.

        Rows with the same set of paths share one statement.
        """
        groups: dict[tuple[tuple[str, str], ...], list[tuple[Any, ...]]] = {}
        for change in changes:
            keys = tuple(change.values)
            row: list[Any] = [change.etag, change.etag, change.time]
            for json_value, stamp in change.values.values():
                row.append(json_value)
                row.append(stamp)
            row.append(change.twin)
            groups.setdefault(keys, []).append(tuple(row))
        with self.transaction():
            for keys, rows in groups.items():
                sets = [f"{_sql_path('$etag')}, ?", f"{_sql_path('$metadata', '$lastUpdateTime')}, ?"]
                for component, name in keys:
                    prefix = (component,) if component else ()
                    sets.append(f"{_sql_path(*prefix, name)}, json(?)")
                    sets.append(f"{_sql_path(*prefix, '$metadata', name)}, json(?)")
                sql = f"UPDATE twins SET etag = ?, document = json_set(document, {', '.join(sets)}) WHERE id = ?"
                self._conn.executemany(sql, rows)

    def get_twin(self, twin_id: str) -> TwinRecord | None:
        row = self._one("SELECT id, model, etag, document FROM twins WHERE id = ?", (twin_id,))
        return TwinRecord(*row) if row else None

    def insert_twins(self, twins: list[TwinRecord]) -> None:
        try:
            self._write_many(
                "INSERT INTO twins (id, model, etag, document) VALUES (?, ?, ?, ?)",
                [(t.id, t.model, t.etag, t.document) for t in twins],
            )
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"a twin in the batch already exists ({exc})", code="DigitalTwinAlreadyExists") from exc

    def replace_twin(self, twin: TwinRecord) -> None:
        self._write(
            "INSERT OR REPLACE INTO twins (id, model, etag, document) VALUES (?, ?, ?, ?)",
            (twin.id, twin.model, twin.etag, twin.document),
        )

    def delete_twin(self, twin_id: str) -> None:
        self._write("DELETE FROM twins WHERE id = ?", (twin_id,))

    def list_twins(self, *, model: str | None = None, after: str = "", limit: int = 100) -> list[TwinRecord]:
        if model is None:
            rows = self._query(
                "SELECT id, model, etag, document FROM twins WHERE id > ? ORDER BY id LIMIT ?",
                (after, limit))
        else:
            rows = self._query(
                "SELECT id, model, etag, document FROM twins WHERE model = ? AND id > ? "
                "ORDER BY id LIMIT ?", (model, after, limit))
        return [TwinRecord(*r) for r in rows]

    def count_twins(self) -> int:
        row = self._one("SELECT count(*) FROM twins")
        return int(row[0]) if row else 0

    # -- relationships ----------------------------------------------------

    _REL = "SELECT source, id, name, target, etag, document FROM relationships"

    def get_relationship(self, source: str, rel_id: str) -> RelationshipRecord | None:
        row = self._one(f"{self._REL} WHERE source = ? AND id = ?", (source, rel_id))
        return RelationshipRecord(*row) if row else None

    def insert_relationships(self, rels: list[RelationshipRecord]) -> None:
        try:
            self._write_many(
                "INSERT INTO relationships (source, id, name, target, etag, document) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(r.source, r.id, r.name, r.target, r.etag, r.document) for r in rels],
            )
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"a relationship in the batch already exists ({exc})",
                           code="RelationshipAlreadyExists") from exc

    def replace_relationship(self, rel: RelationshipRecord) -> None:
        self._write(
            "INSERT OR REPLACE INTO relationships (source, id, name, target, etag, document) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (rel.source, rel.id, rel.name, rel.target, rel.etag, rel.document),
        )

    def delete_relationship(self, source: str, rel_id: str) -> None:
        self._write("DELETE FROM relationships WHERE source = ? AND id = ?", (source, rel_id))

    def list_relationships(self, source: str, name: str | None = None, *, after: str = "",
                           limit: int = 1000) -> list[RelationshipRecord]:
        if name is None:
            rows = self._query(f"{self._REL} WHERE source = ? AND id > ? ORDER BY id LIMIT ?",
                               (source, after, limit))
        else:
            rows = self._query(
                f"{self._REL} WHERE source = ? AND name = ? AND id > ? ORDER BY id LIMIT ?",
                (source, name, after, limit))
        return [RelationshipRecord(*r) for r in rows]

    def list_incoming(self, target: str, *, after: tuple[str, str] = ("", ""),
                      limit: int = 1000) -> list[RelationshipRecord]:
        rows = self._query(
            f"{self._REL} WHERE target = ? AND (source, id) > (?, ?) ORDER BY source, id LIMIT ?",
            (target, after[0], after[1], limit))
        return [RelationshipRecord(*r) for r in rows]

    def count_relationships(self, source: str, name: str) -> int:
        row = self._one("SELECT count(*) FROM relationships WHERE source = ? AND name = ?",
                        (source, name))
        return int(row[0]) if row else 0

    def has_relationships(self, twin_id: str) -> bool:
        row = self._one(
            "SELECT EXISTS(SELECT 1 FROM relationships WHERE source = ?) "
            "OR EXISTS(SELECT 1 FROM relationships WHERE target = ?)", (twin_id, twin_id))
        return bool(row and row[0])

    # -- queries ----------------------------------------------------------

    @property
    def dialect(self) -> Dialect:
        return _DIALECT

    def select(self, sql: str, params: list[Any], *, limit: int | None = None, offset: int = 0,
               timeout: float = 10.0) -> list[tuple[Any, ...]]:
        if limit is not None:
            sql = f"{sql} LIMIT {int(limit)} OFFSET {int(offset)}"
        deadline = time.monotonic() + timeout

        def check() -> int:
            return 1 if time.monotonic() > deadline else 0

        conn, lock = self._reading()
        with lock:
            conn.set_progress_handler(check, 20_000)
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:
                if "interrupted" in str(exc):
                    raise QueryTimeout(f"the query ran longer than {timeout:g} s; narrow it down") from exc
                raise
            finally:
                conn.set_progress_handler(None, 0)

    def add_property_index(self, path: str) -> str:
        name = "twins_prop_" + hashlib.sha1(path.encode()).hexdigest()[:12]
        quoted = "'" + path.replace("'", "''") + "'"
        with self.transaction():
            self._conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON twins (document ->> {quoted})")
        return name

    def list_property_indexes(self) -> list[str]:
        rows = self._query("SELECT sql FROM sqlite_master WHERE type = 'index' AND name LIKE 'twins_prop_%'")
        out = []
        for (sql,) in rows:
            start = str(sql).index("->> '") + 5
            out.append(str(sql)[start:str(sql).rindex("'")].replace("''", "'"))
        return out

    # -- events -----------------------------------------------------------

    def append_events(self, events: list[EventRecord]) -> None:
        self._write_many(
            "INSERT INTO events (time, type, twin, relationship, data, model) VALUES (?, ?, ?, ?, ?, ?)",
            [(e.time, e.type, e.twin, e.relationship, e.data, e.model) for e in events],
        )

    def read_events(self, after: int = 0, limit: int = 1000) -> list[EventRecord]:
        rows = self._query(
            "SELECT seq, time, type, twin, relationship, data, model FROM events WHERE seq > ? "
            "ORDER BY seq LIMIT ?", (after, limit))
        return [EventRecord(time=r[1], type=r[2], twin=r[3], relationship=r[4], data=r[5],
                            model=r[6], seq=r[0])
                for r in rows]

    def last_event_seq(self) -> int:
        row = self._one("SELECT max(seq) FROM events")
        return int(row[0]) if row and row[0] is not None else 0

    # -- history ----------------------------------------------------------

    def append_history(self, points: list[HistoryPoint]) -> None:
        self._write_many(
            "INSERT OR REPLACE INTO history (twin, component, name, ts, num, value) VALUES (?, ?, ?, ?, ?, ?)",
            points,
        )

    def read_history(self, twin: str, name: str, *, component: str = "", start: int | None = None,
                     end: int | None = None, after: int | None = None, limit: int = 1000) -> list[HistoryPoint]:
        lo = max(start if start is not None else -(2**62), (after + 1) if after is not None else -(2**62))
        hi = end if end is not None else 2**62
        rows = self._query(
            "SELECT twin, component, name, ts, num, value FROM history WHERE twin = ? AND component = ? "
            "AND name = ? AND ts >= ? AND ts < ? ORDER BY ts LIMIT ?", (twin, component, name, lo, hi, limit))
        return [HistoryPoint(*r) for r in rows]

    def aggregate_history(self, twin: str, name: str, *, component: str = "", start: int, end: int,
                          bucket: int, agg: str, after: int | None = None,
                          limit: int = 1000) -> list[tuple[int, Any]]:
        function = {"min": "min(num)", "max": "max(num)", "avg": "avg(num)", "count": "count(*)",
                    "last": "value"}[agg]
        lo = start if after is None else max(start, after + bucket)
        if agg == "last":
            sql = ("SELECT b, value FROM (SELECT (ts - ?) / ? AS b, value, row_number() OVER "
                   "(PARTITION BY (ts - ?) / ? ORDER BY ts DESC) AS rn FROM history WHERE twin = ? AND "
                   "component = ? AND name = ? AND ts >= ? AND ts < ?) WHERE rn = 1 ORDER BY b LIMIT ?")
            params: tuple[Any, ...] = (start, bucket, start, bucket, twin, component, name, lo, end, limit)
        else:
            sql = (f"SELECT (ts - ?) / ? AS b, {function} FROM history WHERE twin = ? AND component = ? "
                   "AND name = ? AND ts >= ? AND ts < ? GROUP BY b ORDER BY b LIMIT ?")
            params = (start, bucket, twin, component, name, lo, end, limit)
        return [(start + int(b) * bucket, v) for b, v in self._query(sql, params)]

    def delete_history_before(self, ts: int) -> int:
        with self.transaction():
            cursor = self._conn.execute("DELETE FROM history WHERE ts < ?", (ts,))
            return int(cursor.rowcount)

    def downsample_history(self, before: int, bucket: int) -> tuple[int, int]:
        """Replace numeric points older than ``before`` by one average point per bucket."""
        with self.transaction():
            self._conn.execute("DROP TABLE IF EXISTS temp.downsampled")
            self._conn.execute(
                "CREATE TEMP TABLE downsampled AS SELECT twin, component, name, "
                "(ts / ?) * ? AS bts, avg(num) AS num FROM history WHERE ts < ? AND num IS NOT NULL "
                "GROUP BY twin, component, name, bts", (bucket, bucket, before))
            removed = self._conn.execute("DELETE FROM history WHERE ts < ? AND num IS NOT NULL",
                                         (before,)).rowcount
            added = self._conn.execute(
                "INSERT OR REPLACE INTO history (twin, component, name, ts, num, value) SELECT twin, "
                "component, name, bts, num, CAST(num AS TEXT) FROM downsampled").rowcount
            self._conn.execute("DROP TABLE temp.downsampled")
            return int(removed), int(added)

    # -- settings (event routes, endpoints, cursors) ----------------------

    def get_setting(self, key: str) -> str | None:
        row = self._one("SELECT value FROM settings WHERE key = ?", (key,))
        return str(row[0]) if row else None

    def put_setting(self, key: str, value: str) -> None:
        self._write("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, value))

    def delete_setting(self, key: str) -> bool:
        with self.transaction():
            return bool(self._conn.execute("DELETE FROM settings WHERE key = ?", (key,)).rowcount)

    def list_settings(self, prefix: str) -> list[tuple[str, str]]:
        rows = self._query("SELECT key, value FROM settings WHERE key >= ? AND key < ? ORDER BY key",
                           (prefix, prefix + "\uffff"))
        return [(str(k), str(v)) for k, v in rows]

    # -- dead letters -----------------------------------------------------

    def append_dead_letters(self, letters: list[DeadLetter]) -> None:
        self._write_many(
            "INSERT INTO dead_letters (time, source, kind, reason, payload) VALUES (?, ?, ?, ?, ?)",
            [(d.time, d.source, d.kind, d.reason, d.payload) for d in letters])

    def read_dead_letters(self, after: int = 0, limit: int = 100) -> list[DeadLetter]:
        rows = self._query("SELECT seq, time, source, kind, reason, payload FROM dead_letters WHERE seq > ? "
                           "ORDER BY seq LIMIT ?", (after, limit))
        return [DeadLetter(time=r[1], source=r[2], kind=r[3], reason=r[4], payload=r[5], seq=r[0])
                for r in rows]

    def count_dead_letters(self) -> dict[str, int]:
        rows = self._query("SELECT kind, count(*) FROM dead_letters GROUP BY kind ORDER BY kind")
        return {str(kind): int(n) for kind, n in rows}

    def iter_events(self, after: int = 0) -> Iterator[EventRecord]:
        while True:
            batch = self.read_events(after, 1000)
            if not batch:
                return
            yield from batch
            after = batch[-1].seq

    def close(self) -> None:
        self._stop.set()
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
        """A lease held as an exclusive lock on a file beside the database: the processes
        sharing a SQLite file share its folder. In memory, the one process always leads."""
        return FileLease(None if self.path == ":memory:" else Path(f"{self.path}.{name}.lock"))


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


def _model(row: tuple[object, ...]) -> ModelRecord:
    return ModelRecord(str(row[0]), str(row[1]), str(row[2]), bool(row[3]))
