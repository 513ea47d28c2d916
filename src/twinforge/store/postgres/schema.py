"""The PostgreSQL tables. Ids sort byte-wise (``COLLATE "C"``) as in SQLite, so paging by id
gives the same pages; documents are ``jsonb``; history is kept in chunks (below), partitioned by
time, one partition per month, created ahead as time moves."""

from __future__ import annotations

from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    seq BIGSERIAL,
    id TEXT COLLATE "C" PRIMARY KEY,
    document TEXT NOT NULL,
    upload_time TEXT NOT NULL,
    decommissioned BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE IF NOT EXISTS twins (
    id TEXT COLLATE "C" PRIMARY KEY,
    model TEXT COLLATE "C" NOT NULL,
    etag TEXT NOT NULL,
    document JSONB NOT NULL
);
CREATE INDEX IF NOT EXISTS twins_by_model ON twins (model, id);
CREATE TABLE IF NOT EXISTS relationships (
    source TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    target TEXT COLLATE "C" NOT NULL,
    etag TEXT NOT NULL,
    document JSONB NOT NULL,
    PRIMARY KEY (source, id)
);
CREATE INDEX IF NOT EXISTS relationships_by_target ON relationships (target, source, id);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('models_generation', 0), ('data_version', 0), ('twins_version', 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS events (
    seq BIGSERIAL PRIMARY KEY,
    time TEXT NOT NULL,
    type TEXT NOT NULL,
    twin TEXT NOT NULL,
    relationship TEXT,
    data TEXT NOT NULL,
    model TEXT
);
CREATE SEQUENCE IF NOT EXISTS history_seq;
CREATE TABLE IF NOT EXISTS history_chunks (
    twin TEXT COLLATE "C" NOT NULL,
    component TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    first_ts BIGINT NOT NULL,
    last_ts BIGINT NOT NULL,
    seq BIGINT NOT NULL DEFAULT nextval('history_seq'),
    n INTEGER NOT NULL,  -- how many points
    points TEXT NOT NULL  -- JSON, written by us: not parsed on the way in
) PARTITION BY RANGE (first_ts);
CREATE TABLE IF NOT EXISTS history_chunks_default PARTITION OF history_chunks DEFAULT;
CREATE INDEX IF NOT EXISTS history_chunks_by_series ON history_chunks (twin, component, name, first_ts)
    INCLUDE (last_ts, n);
CREATE INDEX IF NOT EXISTS history_chunks_by_last ON history_chunks (twin, component, name, last_ts, seq);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    kind TEXT COLLATE "C" NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS audit (
    seq BIGSERIAL PRIMARY KEY,
    ts BIGINT NOT NULL,
    principal TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    twin TEXT NOT NULL,
    status INTEGER NOT NULL,
    entry TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (ts, seq);
CREATE INDEX IF NOT EXISTS audit_by_twin ON audit (twin, ts, seq);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT COLLATE "C" PRIMARY KEY,
    rule TEXT COLLATE "C" NOT NULL,
    twin TEXT COLLATE "C" NOT NULL,
    state TEXT NOT NULL,
    severity TEXT NOT NULL,
    raised BIGINT NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_by_time ON alerts (raised, id);
CREATE INDEX IF NOT EXISTS alerts_open ON alerts (rule, twin) WHERE state <> 'resolved';
CREATE TABLE IF NOT EXISTS blobs (
    key TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    data BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq BIGSERIAL PRIMARY KEY,
    time TEXT NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload TEXT NOT NULL
);
"""

DAY_US = 86_400_000_000

# History is kept as chunks: one row per series (twin, component, name) per write and UTC day,
# whose ``points`` is a JSON array of ``[ts, num, value]`` in time order. A bulk write of 10,000
# points over 1,000 series adds 1,000 index entries instead of 10,000: a per-point key costs
# about 3x a plain COPY. A point written again (a redelivered message) lands in a later chunk,
# and reads keep the point of the highest ``seq``, so redelivery stays idempotent. The view
# ``history`` shows the points as rows, for ad-hoc SQL.
HISTORY_POINTS = (
    "SELECT DISTINCT ON (h.twin, h.component, h.name, (e->>0)::bigint) h.twin, h.component, h.name, "
    "(e->>0)::bigint AS ts, (e->>1)::float8 AS num, e->>2 AS value "
    "FROM history_chunks h CROSS JOIN LATERAL json_array_elements(h.points::json) AS e {where} "
    "ORDER BY h.twin, h.component, h.name, (e->>0)::bigint, h.seq DESC")


def day_start_sql(column: str) -> str:
    """SQL for the start of the UTC day of a time in microseconds."""
    return f"({column} - mod(mod({column}, {DAY_US}) + {DAY_US}, {DAY_US}))"


def chunks_from_rows_sql(rows: str) -> str:
    """An INSERT of chunks (one per series and day) from a query of (twin, component, name, ts,
    num, value) rows with no repeated (series, ts)."""
    return ("INSERT INTO history_chunks (twin, component, name, first_ts, last_ts, n, points) "
            "SELECT twin, component, name, min(ts), max(ts), count(*), "
            "json_agg(json_build_array(ts, num, value) ORDER BY ts)::text "
            f"FROM ({rows}) AS r GROUP BY twin, component, name, {day_start_sql('ts')}")


def adopt_history(conn: Any) -> None:
    """Inside the schema transaction: move a ``history`` table of one row per point (the layout
    before chunks) into chunks, then make the ``history`` view."""
    kind = conn.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass('history')").fetchone()
    if kind and kind[0] in ("r", "p"):
        conn.execute(chunks_from_rows_sql("SELECT twin, component, name, ts, num, value FROM history"))
        conn.execute("DROP TABLE history CASCADE")
        kind = None
    if not kind:
        conn.execute("CREATE VIEW history AS " + HISTORY_POINTS.format(where=""))


# Every write transaction takes this transaction-level advisory lock first: writers are one at
# a time across every process and server sharing the database (as SQLite's write lock does),
# which keeps ETag checks, maxMultiplicity and the event order right without retries.
WRITE_LOCK = 7_310_001
SCHEMA_LOCK = 7_310_000


def pg_path(path: tuple[str, ...]) -> str:
    """A text-array literal for ``#>``/``#>>``: '{a,"b c"}'."""
    parts = ['"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in path]
    return "'" + ("{" + ",".join(parts) + "}").replace("'", "''") + "'"


__all__ = ["DAY_US", "HISTORY_POINTS", "SCHEMA", "SCHEMA_LOCK", "WRITE_LOCK", "adopt_history", "chunks_from_rows_sql", "day_start_sql", "pg_path"]
