"""Queries over a graph: ADT's query language compiled to the store's SQL dialect."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

from twinforge.errors import InvalidArgument
from twinforge.graph.catalog import ModelCatalog
from twinforge.query import Compiled, compile_query, json_path, parse_query
from twinforge.store.base import QueryStore

_PROPERTY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


class Queries:
    """Runs queries with the store's dialect; compiled SQL is cached per models generation."""

    def __init__(self, store: QueryStore, catalog: ModelCatalog) -> None:
        self.store = store
        self.catalog = catalog
        self._compiled: dict[tuple[int, str], Compiled] = {}

    def compile(self, text: str) -> Compiled:
        """The SQL for a query (cached)."""
        key = (self.catalog.generation, text)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = compile_query(parse_query(text), self.catalog.descendants, self.store.dialect)
            if len(self._compiled) > 256:
                self._compiled.clear()
            self._compiled[key] = compiled
        return compiled

    def page(self, text: str, *, offset: int = 0, size: int = 100,
             timeout: float = 10.0) -> tuple[list[Any], bool]:
        """One page of a query's rows, and whether more follow."""
        self.catalog.refresh()
        compiled = self.compile(text)
        if compiled.count:
            if offset:
                return [], False
            (count,) = self.store.select(compiled.sql, compiled.params, timeout=timeout)[0]
            return [{"COUNT": count}], False
        limit = size if compiled.top is None else min(size, compiled.top - offset)
        if limit <= 0:
            return [], False
        raw = self.store.select(compiled.sql, compiled.params, limit=limit + 1, offset=offset, timeout=timeout)
        more = len(raw) > limit
        if compiled.top is not None and offset + limit >= compiled.top:
            more = False
        return [shape(compiled, r) for r in raw[:limit]], more

    def rows(self, text: str, *, page_size: int = 1000, timeout: float = 10.0) -> Iterator[Any]:
        """Every row of a query, fetched lazily a page at a time."""
        offset = 0
        while True:
            rows, more = self.page(text, offset=offset, size=page_size, timeout=timeout)
            yield from rows
            if not more:
                return
            offset += len(rows)

    def add_property_index(self, path: str) -> str:
        """Index twins on a property (``temperature`` or ``address.city``) so queries on it are fast."""
        parts = tuple(path.split(".")) if isinstance(path, str) else ()
        if not parts or not all(_PROPERTY.match(p) for p in parts):
            raise InvalidArgument(f"'{path}' is not a property path like temperature or address.city",
                                  code="InvalidArgument")
        return self.store.add_property_index(json_path(parts))

    def property_indexes(self) -> list[str]:
        """The JSON paths twins are indexed on."""
        return self.store.list_property_indexes()


def shape(compiled: Compiled, row: tuple[Any, ...]) -> Any:
    """A result row as ADT returns it: a twin, or an object of the projected columns."""
    if compiled.star_single:
        return orjson.loads(row[0])
    out: dict[str, Any] = {}
    for (name, kind), value in zip(compiled.columns, row, strict=True):
        if value is None:
            continue
        out[name] = value if kind == "text" else orjson.loads(value)
    return out


__all__ = ["Queries", "shape"]
