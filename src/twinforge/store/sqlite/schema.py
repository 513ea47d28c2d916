"""The SQLite tables, and how a URL names a database file."""

from __future__ import annotations

from pathlib import Path

from twinforge.errors import InvalidArgument

# the columns and key (series, then time) of history and history_recent
_HISTORY_BODY = """
    twin TEXT NOT NULL,
    component TEXT NOT NULL,
    name TEXT NOT NULL,
    ts INTEGER NOT NULL,
    num REAL,
    value TEXT NOT NULL,
    PRIMARY KEY (twin, component, name, ts)
) WITHOUT ROWID;"""

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
INSERT OR IGNORE INTO meta (key, value) VALUES ('models_generation', 0), ('twins_version', 0);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    type TEXT NOT NULL,
    twin TEXT NOT NULL,
    relationship TEXT,
    data TEXT NOT NULL,
    model TEXT
);
CREATE TABLE IF NOT EXISTS history ({history_body}
-- new points, moved to history in key-order slices (history.py)
CREATE TABLE IF NOT EXISTS history_recent ({history_body}
CREATE TABLE IF NOT EXISTS history_merge (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    twin TEXT NOT NULL,
    component TEXT NOT NULL,
    name TEXT NOT NULL,
    ts INTEGER NOT NULL,
    pending INTEGER NOT NULL
);
INSERT OR IGNORE INTO history_merge VALUES (0, '', '', '', -9223372036854775808, 0);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    ts INTEGER NOT NULL,
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
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    twin TEXT NOT NULL,
    state TEXT NOT NULL,
    severity TEXT NOT NULL,
    raised INTEGER NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_by_time ON alerts (raised, id);
CREATE INDEX IF NOT EXISTS alerts_open ON alerts (rule, twin) WHERE state <> 'resolved';
CREATE TABLE IF NOT EXISTS blobs (
    key TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload TEXT NOT NULL
);
""".replace("{history_body}", _HISTORY_BODY)


def sql_path(*keys: str) -> str:
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


__all__ = ["SCHEMA", "path_from_url", "sql_path"]
