"""Compile a parsed ADT query to SQL for a store dialect.

Semantics (shared with the reference evaluator in `evaluator.py`): a comparison is
true only when the property is defined and has the literal's JSON kind (number,
string, boolean or null); otherwise it is false, so `NOT (T.x = 1)` holds for a twin
without `x`. Ordering comparisons apply to numbers and strings only.

Each atomic predicate compiles to ``<value> op ? AND <type test>`` so that an
expression index on ``document ->> '$.path'`` serves it; only NOT wraps its operand in
COALESCE, which is what keeps SQL's three-valued logic two-valued.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from twinforge.query.ast import And, Compare, Expr, Func, InList, Literal, Not, Or, Query, Ref
from twinforge.query.parser import InvalidQuery

_SIMPLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PRIMITIVE_TYPES = ("text", "integer", "real", "true", "false", "null")
NUMBER_TYPES = ("integer", "real")

TWIN_COLUMNS: dict[tuple[str, ...], str] = {("$dtId",): "id", ("$metadata", "$model"): "model", ("$etag",): "etag"}
REL_COLUMNS: dict[tuple[str, ...], str] = {("$relationshipId",): "id", ("$sourceId",): "source", ("$targetId",): "target",
               ("$relationshipName",): "name", ("$etag",): "etag"}


def json_path(path: tuple[str, ...]) -> str:
    """A JSON path in the one canonical spelling that expression indexes are built with."""
    parts = ["$"]
    for key in path:
        if _SIMPLE_KEY.match(key):
            parts.append(f".{key}")
        else:
            parts.append('."' + key.replace('"', '\\"') + '"')
    return "".join(parts)


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Dialect:
    """How one SQL engine spells JSON access. SQLite's spelling; PostgreSQL overrides."""

    name = "sqlite"
    true = "TRUE"
    false = "FALSE"

    def value(self, column: str, path: tuple[str, ...]) -> str:
        """The SQL value at ``path``: numbers and strings as such, booleans as 1/0."""
        return f"{column} ->> {sql_string(json_path(path))}"

    def number(self, column: str, path: tuple[str, ...]) -> str:
        """The value at ``path`` for comparing with a number (only used where its type is a number)."""
        return self.value(column, path)

    def text(self, column: str, path: tuple[str, ...]) -> str:
        """The value at ``path`` for comparing with a string (only used where its type is text)."""
        return self.value(column, path)

    def document(self, table: str) -> str:
        """A row's whole document as JSON text."""
        return f"{table}.document"

    def json(self, column: str, path: tuple[str, ...]) -> str:
        """The JSON text at ``path`` (NULL when absent)."""
        return f"{column} -> {sql_string(json_path(path))}"

    def type(self, column: str, path: tuple[str, ...]) -> str:
        """One of text, integer, real, true, false, null, object, array, or NULL when absent."""
        return f"json_type({column}, {sql_string(json_path(path))})"

    def quote_text(self, column: str) -> str:
        """SQL giving a text column as a JSON string."""
        return f"json_quote({column})"

    def starts_with(self, value: str) -> str:
        """A test that ``value`` starts with the next parameter (given twice)."""
        return f"substr({value}, 1, length(?)) = ?"

    def ends_with(self, value: str) -> str:
        """A test that ``value`` ends with the next parameter (given twice)."""
        return f"substr({value}, -length(?)) = ?"

    def contains(self, value: str) -> str:
        """A test that ``value`` contains the next parameter."""
        return f"instr({value}, ?) > 0"


@dataclass
class Compiled:
    """SQL and parameters, and how to turn a row into a result."""

    sql: str
    params: list[Any]
    columns: list[tuple[str, str]]  # (result key, kind: doc | json | text | count)
    star_single: bool
    count: bool
    top: int | None


@dataclass
class _Ctx:
    query: Query
    dialect: Dialect
    descendants: Callable[[str], list[str]]
    params: list[Any] = field(default_factory=list)
    tables: dict[str | None, tuple[str, str]] = field(default_factory=dict)  # alias -> (sql alias, kind)
    order: list[str] = field(default_factory=list)


def compile_query(query: Query, descendants: Callable[[str], list[str]],
                  dialect: Dialect | None = None) -> Compiled:
    """SQL for ``query``; ``descendants(dtmi)`` lists a model and every model extending it."""
    ctx = _Ctx(query, dialect or Dialect(), descendants)
    from_sql = _from(ctx)
    where = _expr(ctx, query.where) if query.where is not None else ctx.dialect.true
    columns: list[tuple[str, str]] = []
    select: list[str] = []
    if query.count:
        select.append("COUNT(*)")
        columns.append(("COUNT", "count"))
    elif query.star or not query.projections:
        for alias, (table, _) in ctx.tables.items():
            select.append(ctx.dialect.document(table))
            columns.append((alias or "", "doc"))
    else:
        for proj in query.projections:
            table, kind = ctx.tables[proj.ref.alias]
            if proj.whole:
                select.append(ctx.dialect.document(table))
                columns.append((proj.name, "doc"))
                continue
            column = (TWIN_COLUMNS if kind == "twin" else REL_COLUMNS).get(proj.ref.path)
            if column is not None:
                select.append(f"{table}.{column}")
                columns.append((proj.name, "text"))
            else:
                select.append(ctx.dialect.json(f"{table}.document", proj.ref.path))
                columns.append((proj.name, "json"))
    sql = f"SELECT {', '.join(select)} FROM {from_sql} WHERE {where}"
    if not query.count:
        sql += " ORDER BY " + ", ".join(ctx.order)
    star_single = (query.star or not query.projections) and len(ctx.tables) == 1
    return Compiled(sql, ctx.params, columns, star_single, query.count, query.top)


def _from(ctx: _Ctx) -> str:
    q = ctx.query
    if q.collection == "RELATIONSHIPS":
        ctx.tables[q.alias] = ("r0", "rel")
        ctx.order += ["r0.source", "r0.id"]
        return "relationships r0"
    ctx.tables[q.alias] = ("t0", "twin")
    ctx.order.append("t0.id")
    parts = ["twins t0"]
    for n, join in enumerate(q.joins, start=1):
        source = ctx.tables[join.source][0]
        ctx.params.append(join.relationship)
        parts.append(f"JOIN relationships r{n} ON r{n}.source = {source}.id AND r{n}.name = ?")
        parts.append(f"JOIN twins t{n} ON t{n}.id = r{n}.target")
        ctx.tables[join.alias] = (f"t{n}", "twin")
        ctx.order += [f"r{n}.id", f"t{n}.id"]
        if join.rel_alias:
            ctx.tables[join.rel_alias] = (f"r{n}", "rel")
    return " ".join(parts)


def _operand(ctx: _Ctx, ref: Ref, against: str = "value") -> tuple[str, str | None]:
    """(SQL value, SQL type expression); the type is None for text columns. ``against`` says
    what the value is compared with: ``number``, ``text`` or anything (``value``)."""
    if ref.alias not in ctx.tables:
        raise InvalidQuery(f"unknown alias in '{ref.text()}'")
    table, kind = ctx.tables[ref.alias]
    if not ref.path:
        raise InvalidQuery(f"'{ref.text()}' is a whole twin or relationship; compare one of its properties")
    column = (TWIN_COLUMNS if kind == "twin" else REL_COLUMNS).get(ref.path)
    if column is not None:
        return f"{table}.{column}", None
    doc = f"{table}.document"
    spell = {"number": ctx.dialect.number, "text": ctx.dialect.text}.get(against, ctx.dialect.value)
    return spell(doc, ref.path), ctx.dialect.type(doc, ref.path)


def _in(types: tuple[str, ...]) -> str:
    return "(" + ", ".join(sql_string(t) for t in types) + ")"


def _compare(ctx: _Ctx, ref: Ref, op: str, value: Any) -> str:
    kind = "text" if isinstance(value, str) else "value" if isinstance(value, bool) or value is None else "number"
    sql_value, sql_type = _operand(ctx, ref, kind)
    false = ctx.dialect.false
    if isinstance(value, bool) or value is None:
        if op not in ("=", "!="):
            raise InvalidQuery(f"'{ref.text()} {op} {_show(value)}': only = and != apply to "
                               "booleans and null")
        if sql_type is None or (value is None and op == "!="):
            return false
        if value is None:
            return f"{sql_type} = 'null'"
        wanted = ("true" if value else "false") if op == "=" else ("false" if value else "true")
        return f"{sql_type} = {sql_string(wanted)}"
    if isinstance(value, str):
        ctx.params.append(value)
        if sql_type is None:
            return f"{sql_value} {op} ?"
        return f"({sql_value} {op} ? AND {sql_type} = 'text')"
    if sql_type is None:
        return false
    ctx.params.append(value)
    return f"({sql_value} {op} ? AND {sql_type} IN {_in(NUMBER_TYPES)})"


def _show(value: Any) -> str:
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else repr(value)


def _expr(ctx: _Ctx, expr: Expr) -> str:
    if isinstance(expr, Compare):
        return _compare(ctx, expr.left, expr.op, expr.right.value)
    if isinstance(expr, InList):
        if not expr.items:
            equal = ctx.dialect.false
        else:
            equal = "(" + " OR ".join(_compare(ctx, expr.ref, "=", i.value) for i in expr.items) + ")"
        if not expr.negated:
            return equal
        _, sql_type = _operand(ctx, expr.ref)
        defined = ctx.dialect.true if sql_type is None else f"{sql_type} IN {_in(PRIMITIVE_TYPES)}"
        return f"({defined} AND NOT COALESCE({equal}, {ctx.dialect.false}))"
    if isinstance(expr, And):
        return "(" + " AND ".join(_expr(ctx, e) for e in expr.items) + ")"
    if isinstance(expr, Or):
        return "(" + " OR ".join(_expr(ctx, e) for e in expr.items) + ")"
    if isinstance(expr, Not):
        return f"NOT COALESCE({_expr(ctx, expr.item)}, {ctx.dialect.false})"
    if isinstance(expr, Literal):
        if isinstance(expr.value, bool):
            return ctx.dialect.true if expr.value else ctx.dialect.false
        raise InvalidQuery(f"{_show(expr.value)} is not a condition")
    return _function(ctx, expr)


def _function(ctx: _Ctx, func: Func) -> str:
    if func.name == "IS_OF_MODEL":
        alias = func.args[0] or None
        table = ctx.tables[alias][0]  # type: ignore[index]
        model = func.args[1].value  # type: ignore[union-attr]
        models = [str(model)] if len(func.args) == 3 else ctx.descendants(str(model))
        if not models:
            return ctx.dialect.false
        ctx.params.extend(models)
        return f"{table}.model IN ({', '.join('?' * len(models))})"
    ref = func.args[0]
    assert isinstance(ref, Ref)
    sql_value, sql_type = _operand(ctx, ref, "text" if func.name in ("STARTSWITH", "ENDSWITH", "CONTAINS") else "value")
    if func.name in ("STARTSWITH", "ENDSWITH", "CONTAINS"):
        needle = str(func.args[1].value)  # type: ignore[union-attr]
        is_text = ctx.dialect.true if sql_type is None else f"{sql_type} = 'text'"
        if needle == "":
            return is_text
        if func.name == "CONTAINS":
            ctx.params.append(needle)
            test = ctx.dialect.contains(sql_value)
        else:
            ctx.params.extend([needle, needle])
            test = (ctx.dialect.starts_with if func.name == "STARTSWITH" else ctx.dialect.ends_with)(sql_value)
        return f"({is_text} AND {test})"
    if sql_type is None:  # a text column: always defined, a string
        return ctx.dialect.true if func.name in ("IS_DEFINED", "IS_PRIMITIVE", "IS_STRING") else ctx.dialect.false
    types = {
        "IS_DEFINED": None, "IS_NULL": ("null",), "IS_BOOL": ("true", "false"),
        "IS_NUMBER": NUMBER_TYPES, "IS_STRING": ("text",), "IS_OBJECT": ("object",),
        "IS_PRIMITIVE": PRIMITIVE_TYPES,
    }[func.name]
    if types is None:
        return f"{sql_type} IS NOT NULL"
    return f"{sql_type} IN {_in(types)}"
