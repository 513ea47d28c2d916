"""The PostgreSQL tables. Ids sort byte-wise (``COLLATE "C"``) as in SQLite, so paging by id
gives the same pages; documents are ``jsonb``; history
is partitioned by time, one partition per month, created ahead as time moves."""

from __future__ import annotations

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
CREATE TABLE IF NOT EXISTS history (
    twin TEXT COLLATE "C" NOT NULL,
    component TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    ts BIGINT NOT NULL,
    num DOUBLE PRECISION,
    value TEXT NOT NULL,
    PRIMARY KEY (twin, component, name, ts)
) PARTITION BY RANGE (ts);
CREATE TABLE IF NOT EXISTS history_default PARTITION OF history DEFAULT;
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

# Every write transaction takes this transaction-level advisory lock first: writers are one at
# a time across every process and server sharing the database (as SQLite's write lock does),
# which keeps ETag checks, maxMultiplicity and the event order right without retries.
WRITE_LOCK = 7_310_001
SCHEMA_LOCK = 7_310_000


def pg_path(path: tuple[str, ...]) -> str:
    """A text-array literal for ``#>``/``#>>``: '{a,"b c"}'."""
    parts = ['"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in path]
    return "'" + ("{" + ",".join(parts) + "}").replace("'", "''") + "'"


__all__ = ["SCHEMA", "SCHEMA_LOCK", "WRITE_LOCK", "pg_path"]
