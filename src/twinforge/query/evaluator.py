"""A plain Python evaluator of ADT queries, written from the language's definition.

It is the reference the SQL compiler is tested against, and it can serve stores that
have no SQL. It shares the semantics stated in `compiler.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from twinforge.query.ast import And, Compare, Expr, Func, InList, Literal, Not, Or, Query, Ref

MISSING = object()
Binding = dict[str | None, dict[str, Any]]


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object" if isinstance(value, dict) else "array"


def lookup(doc: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = doc
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return MISSING
        node = node[key]
    return node


def compare(value: Any, op: str, literal: Any) -> bool:
    if value is MISSING or kind(value) != kind(literal):
        return False
    if kind(literal) in ("bool", "null"):
        return bool(value == literal) if op == "=" else bool(value != literal) if op == "!=" else False
    result = {
        "=": value == literal, "!=": value != literal, "<": value < literal, ">": value > literal,
        "<=": value <= literal, ">=": value >= literal,
    }[op]
    return bool(result)


class Evaluator:
    """Runs a query over twins and relationships held in memory: the reference the SQL
    compiler is tested against, and the engine behind event-route filters."""

    def __init__(self, twins: dict[str, dict[str, Any]], relationships: list[dict[str, Any]],
                 descendants: Callable[[str], list[str]]) -> None:
        self.twins = twins
        self.relationships = relationships
        self.descendants = descendants
        self.outgoing: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for rel in sorted(relationships, key=lambda r: r["$relationshipId"]):
            self.outgoing.setdefault((rel["$sourceId"], rel["$relationshipName"]), []).append(rel)

    def bindings(self, query: Query) -> Iterator[Binding]:
        """Every combination of twins and relationships the query's FROM and JOINs bind."""
        if query.collection == "RELATIONSHIPS":
            for rel in sorted(self.relationships, key=lambda r: (r["$sourceId"], r["$relationshipId"])):
                yield {query.alias: rel}
            return

        def extend(binding: Binding, joins: tuple[Any, ...]) -> Iterator[Binding]:
            if not joins:
                yield binding
                return
            join, rest = joins[0], joins[1:]
            source = binding[join.source]["$dtId"]
            for rel in self.outgoing.get((source, join.relationship), []):
                target = self.twins.get(rel["$targetId"])
                if target is None:
                    continue
                extended = {**binding, join.alias: target}
                if join.rel_alias:
                    extended[join.rel_alias] = rel
                yield from extend(extended, rest)

        for twin_id in sorted(self.twins):
            yield from extend({query.alias: self.twins[twin_id]}, query.joins)

    def test(self, expr: Expr, binding: Binding) -> bool:
        """Whether a condition holds for one binding."""
        if isinstance(expr, Compare):
            return compare(self.value(expr.left, binding), expr.op, expr.right.value)
        if isinstance(expr, InList):
            value = self.value(expr.ref, binding)
            equal = any(compare(value, "=", item.value) for item in expr.items)
            if not expr.negated:
                return equal
            return value is not MISSING and kind(value) in ("null", "bool", "number", "string") and not equal
        if isinstance(expr, And):
            return all(self.test(e, binding) for e in expr.items)
        if isinstance(expr, Or):
            return any(self.test(e, binding) for e in expr.items)
        if isinstance(expr, Not):
            return not self.test(expr.item, binding)
        if isinstance(expr, Literal):
            return bool(expr.value)
        return self.function(expr, binding)

    def value(self, ref: Ref, binding: Binding) -> Any:
        """The value a property reference names in one binding."""
        return lookup(binding[ref.alias], ref.path)

    def function(self, func: Func, binding: Binding) -> bool:
        """The result of a function call (IS_OF_MODEL, STARTSWITH, ...) for one binding."""
        if func.name == "IS_OF_MODEL":
            twin = binding[func.args[0] or None]  # type: ignore[index]
            model = str(func.args[1].value)  # type: ignore[union-attr]
            allowed = [model] if len(func.args) == 3 else self.descendants(model)
            return bool(twin["$metadata"]["$model"] in allowed)
        value = self.value(func.args[0], binding)  # type: ignore[arg-type]
        if func.name in ("STARTSWITH", "ENDSWITH", "CONTAINS"):
            needle = str(func.args[1].value)  # type: ignore[union-attr]
            if not isinstance(value, str) or value is MISSING:
                return False
            return {"STARTSWITH": value.startswith, "ENDSWITH": value.endswith,
                    "CONTAINS": value.__contains__}[func.name](needle)
        if value is MISSING:
            return False
        k = kind(value)
        return {
            "IS_DEFINED": True, "IS_NULL": k == "null", "IS_BOOL": k == "bool",
            "IS_NUMBER": k == "number", "IS_STRING": k == "string", "IS_OBJECT": k == "object",
            "IS_PRIMITIVE": k in ("null", "bool", "number", "string"),
        }[func.name]

    def run(self, query: Query) -> list[Any]:
        """Every result row of the query."""
        matches = [b for b in self.bindings(query) if query.where is None or self.test(query.where, b)]
        if query.count:
            return [{"COUNT": len(matches)}]
        if query.top is not None:
            matches = matches[:query.top]
        return [shape(query, b) for b in matches]


def shape(query: Query, binding: Binding) -> Any:
    """One result row as ADT returns it."""
    if query.star or not query.projections:
        if len(binding) == 1:
            return next(iter(binding.values()))
        return {alias: doc for alias, doc in binding.items()}
    row: dict[str, Any] = {}
    for proj in query.projections:
        doc = binding[proj.ref.alias]
        value = doc if proj.whole else lookup(doc, proj.ref.path)
        if value is not MISSING:
            row[proj.name] = value
    return row
