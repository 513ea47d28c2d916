"""Compiled queries in PostgreSQL's JSON dialect, with a time limit; property indexes."""

from __future__ import annotations

import hashlib
from typing import Any

from twinforge.errors import QueryTimeout
from twinforge.query.compiler import Dialect
from twinforge.store.postgres.connections import PostgresConnections, _guarded, _psycopg, marks
from twinforge.store.postgres.schema import pg_path


class PostgresDialect(Dialect):
    """JSON access spelled for PostgreSQL (``jsonb`` documents): the same results as SQLite's.

    Types come out in SQLite's names (text, integer, real, true, false, null, object, array),
    so the compiler's type tests are shared; numbers compare as double precision only where
    the value is a JSON number (a CASE, never a cast that could fail).
    """

    name = "postgresql"

    def value(self, column: str, path: tuple[str, ...]) -> str:
        return f"({column} #>> {pg_path(path)})"

    def number(self, column: str, path: tuple[str, ...]) -> str:
        return (f"(CASE WHEN jsonb_typeof({column} #> {pg_path(path)}) = 'number' "
                f"THEN ({column} #>> {pg_path(path)})::double precision END)")

    def text(self, column: str, path: tuple[str, ...]) -> str:
        return f"({column} #>> {pg_path(path)} COLLATE \"C\")"

    def json(self, column: str, path: tuple[str, ...]) -> str:
        return f"(({column} #> {pg_path(path)})::text)"

    def type(self, column: str, path: tuple[str, ...]) -> str:
        node = f"{column} #> {pg_path(path)}"
        return (f"(CASE jsonb_typeof({node}) WHEN 'string' THEN 'text' WHEN 'boolean' THEN ({node})::text "
                f"WHEN 'number' THEN CASE WHEN ({node})::text ~ '^-?[0-9]+$' THEN 'integer' ELSE 'real' END "
                f"ELSE jsonb_typeof({node}) END)")

    def quote_text(self, column: str) -> str:
        return f"to_json({column})::text"

    def starts_with(self, value: str) -> str:
        return f"left({value}, length(?)) = ?"

    def ends_with(self, value: str) -> str:
        return f"right({value}, length(?)) = ?"

    def contains(self, value: str) -> str:
        return f"strpos({value}, ?) > 0"

    def document(self, table: str) -> str:
        return f"{table}.document::text"


_DIALECT = PostgresDialect()


class QueryRows(PostgresConnections):
    """Runs compiled queries with ``statement_timeout``; property indexes."""

    @property
    def dialect(self) -> Dialect:
        return _DIALECT

    def select(self, sql: str, params: list[Any], *, limit: int | None = None, offset: int = 0,
               timeout: float = 10.0) -> list[tuple[Any, ...]]:
        if limit is not None:
            sql = f"{sql} LIMIT {int(limit)} OFFSET {int(offset)}"
        psycopg = _psycopg()
        replica = self._replica_for_read()
        if replica is not None:
            try:
                with replica.transaction():
                    replica.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout * 1000))}")
                    found: list[tuple[Any, ...]] = replica.execute(marks(sql), params).fetchall()
                    self.reads["replica"] += 1
                    return found
            except psycopg.errors.QueryCanceled as exc:
                raise QueryTimeout(f"the query ran longer than {timeout:g} s; narrow it down") from exc
            except psycopg.OperationalError:  # the replica went away: the primary answers
                self._drop_replica_here()
            except psycopg.errors.UndefinedTable:  # it has not replayed the schema yet
                pass
        conn = self._conn
        try:
            with _guarded(self), conn.transaction():
                conn.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout * 1000))}")
                rows: list[tuple[Any, ...]] = conn.execute(marks(sql), params).fetchall()
                return rows
        except psycopg.errors.QueryCanceled as exc:
            raise QueryTimeout(f"the query ran longer than {timeout:g} s; narrow it down") from exc

    def add_property_index(self, path: str) -> str:
        name = "twins_prop_" + hashlib.sha1(path.encode()).hexdigest()[:12]
        keys = _keys(path)
        with self.transaction():
            # the same expression as `PostgresDialect.text`, which string comparisons use
            self._conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON twins ((document #>> {pg_path(keys)} COLLATE \"C\"))")
            self._conn.execute(f"COMMENT ON INDEX {name} IS " + "'" + path.replace("'", "''") + "'")
        return name

    def list_property_indexes(self) -> list[str]:
        rows = self._query("SELECT obj_description(c.oid, 'pg_class') FROM pg_class c WHERE c.relkind = 'i' "
                           "AND c.relname LIKE %s ORDER BY c.relname", ("twins\\_prop\\_%",))
        return [str(r[0]) for r in rows if r[0]]


def _keys(path: str) -> tuple[str, ...]:
    """'$.a."b c"' -> ('a', 'b c')."""
    keys: list[str] = []
    i = 1
    while i < len(path):
        if path[i] != ".":
            break
        i += 1
        if i < len(path) and path[i] == '"':
            j = i + 1
            buf = []
            while j < len(path) and path[j] != '"':
                if path[j] == "\\" and j + 1 < len(path):
                    j += 1
                buf.append(path[j])
                j += 1
            keys.append("".join(buf))
            i = j + 1
        else:
            j = i
            while j < len(path) and path[j] != ".":
                j += 1
            keys.append(path[i:j])
            i = j
    return tuple(keys)


__all__ = ["PostgresDialect", "QueryRows"]
