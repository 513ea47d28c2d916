"""The syntax tree of an ADT query."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

Scalar: TypeAlias = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Literal:
    value: Scalar


@dataclass(frozen=True, slots=True)
class Ref:
    """A property path of a collection alias; ``alias`` is None when the query has no alias."""

    alias: str | None
    path: tuple[str, ...]

    def text(self) -> str:
        return ".".join(([self.alias] if self.alias else []) + list(self.path))


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # = != < > <= >=
    left: Ref
    right: Literal


@dataclass(frozen=True, slots=True)
class InList:
    ref: Ref
    items: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True, slots=True)
class Func:
    name: str  # upper case
    args: tuple[Ref | Literal | str, ...]  # str: a bare alias or the keyword `exact`


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Expr


Expr: TypeAlias = "Compare | InList | Func | And | Or | Not | Literal"


@dataclass(frozen=True, slots=True)
class Join:
    alias: str  # the twin reached
    source: str  # the alias it is reached from
    relationship: str  # relationship name
    rel_alias: str | None


@dataclass(frozen=True, slots=True)
class Projection:
    """``alias`` alone (a whole twin or relationship) or a property path, with an AS name."""

    ref: Ref
    whole: bool
    name: str


@dataclass(frozen=True, slots=True)
class Query:
    collection: str  # DIGITALTWINS | RELATIONSHIPS
    alias: str | None
    joins: tuple[Join, ...]
    star: bool
    count: bool
    projections: tuple[Projection, ...]
    top: int | None
    where: Expr | None

    def aliases(self) -> list[str]:
        """Every alias the query binds, in FROM and JOIN order."""
        out = [self.alias] if self.alias else []
        for j in self.joins:
            out.append(j.alias)
            if j.rel_alias:
                out.append(j.rel_alias)
        return out

    def twin_aliases(self) -> set[str | None]:
        """The aliases that bind twins (not relationships)."""
        if self.collection == "RELATIONSHIPS":
            return set()
        return {self.alias, *(j.alias for j in self.joins)}
