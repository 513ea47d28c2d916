"""Compiled queries and property indexes in SQLite."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from typing import Any

from twinforge.errors import QueryTimeout
from twinforge.query.compiler import Dialect
from twinforge.store.sqlite.connections import SQLiteConnections

_DIALECT = Dialect()


class QueryRows(SQLiteConnections):
    """Runs compiled queries (SQLite's JSON dialect) with a time limit; property indexes."""

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


__all__ = ["QueryRows"]
