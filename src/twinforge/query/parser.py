"""Tokenizer and recursive-descent parser for the Azure Digital Twins query language.

Keywords and function names are case-insensitive; aliases and property names are not.
Every syntax error names the character position and what was expected there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from twinforge.errors import InvalidArgument
from twinforge.query.ast import (
    And,
    Compare,
    Expr,
    Func,
    InList,
    Join,
    Literal,
    Not,
    Or,
    Projection,
    Query,
    Ref,
    Scalar,
)

MAX_QUERY_LENGTH = 8000
MAX_DEPTH = 40
MAX_JOINS = 10
MAX_LIST = 1000

KEYWORDS = {"SELECT", "FROM", "WHERE", "JOIN", "RELATED", "AND", "OR", "NOT", "IN", "NIN", "AS",
            "TOP", "COUNT", "DIGITALTWINS", "RELATIONSHIPS", "TRUE", "FALSE", "NULL"}
FUNCTIONS = {"IS_OF_MODEL", "IS_DEFINED", "IS_NULL", "IS_PRIMITIVE", "IS_BOOL", "IS_NUMBER",
             "IS_STRING", "IS_OBJECT", "STARTSWITH", "ENDSWITH", "CONTAINS"}

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_$@][A-Za-z0-9_$@:\-]*)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),.\[\]*])
    """,
    re.VERBOSE,
)


class QuerySyntaxError(InvalidArgument):
    code = "SqlQueryError"  # ADT's code for a query it cannot run


class InvalidQuery(InvalidArgument):
    code = "SqlQueryError"


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # number string name op punct end
    text: str
    pos: int

    @property
    def upper(self) -> str:
        return self.text.upper()


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise QuerySyntaxError(f"unexpected character {text[pos]!r} at position {pos}")
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, m.group(), pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _unquote(token: Token) -> str:
    body = token.text[1:-1]
    if token.text[0] == "'":
        body = body.replace("''", "'")
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


class Parser:
    def __init__(self, text: str) -> None:
        if len(text) > MAX_QUERY_LENGTH:
            raise InvalidQuery(f"query is {len(text)} characters long; the limit is {MAX_QUERY_LENGTH}")
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    # -- helpers ----------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def fail(self, expected: str) -> QuerySyntaxError:
        found = "the end of the query" if self.tok.kind == "end" else repr(self.tok.text)
        return QuerySyntaxError(f"at position {self.tok.pos}: expected {expected}, found {found}")

    def is_kw(self, word: str) -> bool:
        return self.tok.kind == "name" and self.tok.upper == word

    def accept_kw(self, word: str) -> bool:
        if self.is_kw(word):
            self.i += 1
            return True
        return False

    def expect_kw(self, word: str) -> None:
        if not self.accept_kw(word):
            raise self.fail(word)

    def accept(self, text: str) -> bool:
        if self.tok.kind in ("punct", "op") and self.tok.text == text:
            self.i += 1
            return True
        return False

    def expect(self, text: str, what: str | None = None) -> None:
        if not self.accept(text):
            raise self.fail(what or f"'{text}'")

    def identifier(self, what: str) -> str:
        if self.tok.kind != "name" or self.tok.upper in KEYWORDS:
            raise self.fail(what)
        name = self.tok.text
        self.i += 1
        return name

    # -- grammar ----------------------------------------------------------

    def parse(self) -> Query:
        self.expect_kw("SELECT")
        top: int | None = None
        if self.accept_kw("TOP"):
            self.expect("(", "'(' after TOP")
            if self.tok.kind != "number" or not self.tok.text.isdigit():
                raise self.fail("a whole number")
            top = int(self.tok.text)
            self.i += 1
            self.expect(")")
        star = count = False
        projections: list[tuple[Ref, bool, str | None]] = []
        if self.accept("*"):
            star = True
        elif self.is_kw("COUNT"):
            self.i += 1
            self.expect("(", "'(' after COUNT")
            self.expect(")", "')' (COUNT takes no arguments)")
            count = True
        elif self.is_kw("FROM"):
            star = True  # SELECT TOP(n) FROM ...
        else:
            projections.append(self.projection())
            while self.accept(","):
                projections.append(self.projection())
        self.expect_kw("FROM")
        if self.accept_kw("DIGITALTWINS"):
            collection = "DIGITALTWINS"
        elif self.accept_kw("RELATIONSHIPS"):
            collection = "RELATIONSHIPS"
        else:
            raise self.fail("DIGITALTWINS or RELATIONSHIPS")
        alias = None
        if self.tok.kind == "name" and self.tok.upper not in KEYWORDS:
            alias = self.identifier("an alias")
        joins: list[Join] = []
        while self.accept_kw("JOIN"):
            if collection == "RELATIONSHIPS":
                raise InvalidQuery("JOIN is only allowed FROM DIGITALTWINS")
            if len(joins) >= MAX_JOINS:
                raise InvalidQuery(f"at most {MAX_JOINS} JOINs are allowed")
            target = self.identifier("an alias for the joined twins")
            self.expect_kw("RELATED")
            source = self.identifier("the alias of the source twins")
            self.expect(".", "'.' and a relationship name")
            rel = self.identifier("a relationship name")
            rel_alias = None
            if self.tok.kind == "name" and self.tok.upper not in KEYWORDS:
                rel_alias = self.identifier("a relationship alias")
            joins.append(Join(target, source, rel, rel_alias))
        where = None
        if self.accept_kw("WHERE"):
            where = self.expression()
        if self.tok.kind != "end":
            raise self.fail("WHERE, JOIN or the end of the query")
        if joins and alias is None:
            raise InvalidQuery("a query with JOIN needs an alias for DIGITALTWINS")
        if count and top is not None:
            raise InvalidQuery("TOP and COUNT cannot be combined")
        query = Query(collection, alias, tuple(joins), star, count, (), top, where)
        return self._check(query, projections)

    def projection(self) -> tuple[Ref, bool, str | None]:
        start = self.tok
        name = self.identifier("a projection (an alias or alias.property), '*' or COUNT()")
        path: list[str] = []
        while self.accept("."):
            path.append(self.identifier("a property name"))
        as_name = None
        if self.accept_kw("AS"):
            as_name = self.identifier("a name after AS")
        del start
        return Ref(name, tuple(path)), not path, as_name

    def expression(self) -> Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InvalidQuery(f"the query is nested more than {MAX_DEPTH} levels deep")
        items = [self.conjunction()]
        while self.accept_kw("OR"):
            items.append(self.conjunction())
        self.depth -= 1
        return items[0] if len(items) == 1 else Or(tuple(items))

    def conjunction(self) -> Expr:
        items = [self.negation()]
        while self.accept_kw("AND"):
            items.append(self.negation())
        return items[0] if len(items) == 1 else And(tuple(items))

    def negation(self) -> Expr:
        if self.accept_kw("NOT"):
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise InvalidQuery(f"the query is nested more than {MAX_DEPTH} levels deep")
            inner = self.negation()
            self.depth -= 1
            return Not(inner)
        return self.primary()

    def primary(self) -> Expr:
        if self.accept("("):
            inner = self.expression()
            self.expect(")", "')' to close '('")
            return inner
        if self.tok.kind == "name" and self.peek().text == "(" and self.tok.upper not in KEYWORDS:
            return self.function()
        if self.is_kw("TRUE") or self.is_kw("FALSE"):
            value = self.is_kw("TRUE")
            self.i += 1
            return Literal(value)
        if self.tok.kind in ("string", "number") or self.is_kw("NULL"):
            literal = self.literal()
            if self.tok.kind == "op":
                op = self._op()
                ref = self.ref()
                return Compare(_flip(op), ref, literal)
            raise self.fail("a comparison operator")
        ref = self.ref()
        if self.tok.kind == "op":
            op = self._op()
            if self.tok.kind == "name" and self.tok.upper not in KEYWORDS:
                raise InvalidQuery(f"at position {self.tok.pos}: comparing two properties is not "
                                   "supported; compare a property with a literal")
            return Compare(op, ref, self.literal())
        if self.accept_kw("IN"):
            return InList(ref, self.literal_list(), negated=False)
        if self.accept_kw("NIN"):
            return InList(ref, self.literal_list(), negated=True)
        raise self.fail("a comparison operator, IN or NIN")

    def _op(self) -> str:
        op = self.tok.text
        self.i += 1
        return "!=" if op == "<>" else op

    def ref(self) -> Ref:
        parts = [self.identifier("a property or alias.property")]
        while self.accept("."):
            parts.append(self.identifier("a property name"))
        return Ref(None, tuple(parts))  # resolved against aliases in _check

    def literal(self) -> Literal:
        tok = self.tok
        if tok.kind == "string":
            self.i += 1
            return Literal(_unquote(tok))
        if tok.kind == "number":
            self.i += 1
            number = float(tok.text)
            if number.is_integer() and re.fullmatch(r"-?\d+", tok.text):
                return Literal(int(tok.text))
            return Literal(number)
        if self.accept_kw("TRUE"):
            return Literal(True)
        if self.accept_kw("FALSE"):
            return Literal(False)
        if self.accept_kw("NULL"):
            return Literal(None)
        raise self.fail("a string, number, true, false or null")

    def literal_list(self) -> tuple[Literal, ...]:
        self.expect("[", "'[' to start a list")
        items: list[Literal] = []
        if not self.accept("]"):
            items.append(self.literal())
            while self.accept(","):
                items.append(self.literal())
            self.expect("]", "',' or ']'")
        if len(items) > MAX_LIST:
            raise InvalidQuery(f"a list may hold at most {MAX_LIST} values")
        return tuple(items)

    def function(self) -> Func:
        name = self.tok.upper
        pos = self.tok.pos
        if name not in FUNCTIONS:
            raise InvalidQuery(f"at position {pos}: unknown function {self.tok.text}; known functions: "
                               + ", ".join(sorted(FUNCTIONS)))
        self.i += 1
        self.expect("(")
        args: list[Ref | Literal | str] = []
        if not self.accept(")"):
            args.append(self.argument())
            while self.accept(","):
                args.append(self.argument())
            self.expect(")", "',' or ')'")
        return Func(name, tuple(args))

    def argument(self) -> Ref | Literal | str:
        if self.tok.kind in ("string", "number") or self.is_kw("TRUE") or self.is_kw("FALSE") or self.is_kw("NULL"):
            return self.literal()
        if self.tok.kind == "name" and self.tok.upper == "EXACT" and self.peek().text == ")":
            self.i += 1
            return "exact"
        return self.ref()

    # -- names and arity --------------------------------------------------

    def _check(self, query: Query, raw: list[tuple[Ref, bool, str | None]]) -> Query:
        aliases = query.aliases()
        if len(set(aliases)) != len(aliases):
            raise InvalidQuery("an alias is used twice")
        for join in query.joins:
            if join.source not in query.twin_aliases() or aliases.index(join.source) >= aliases.index(join.alias):
                raise InvalidQuery(f"JOIN {join.alias} RELATED {join.source}.{join.relationship}: "
                                   f"'{join.source}' is not a twin alias defined before it")
        projections: list[Projection] = []
        names: set[str] = set()
        for ref, whole, as_name in raw:
            resolved = self._resolve(query, Ref(None, (ref.alias or "", *ref.path)))
            if whole and resolved.path:
                whole = False
            if whole and resolved.alias is None:
                raise InvalidQuery(f"'{ref.alias}' is not an alias of this query")
            name = as_name or (resolved.alias if whole else resolved.path[-1]) or ""
            if name in names:
                raise InvalidQuery(f"two projections are named '{name}'; use AS to rename one")
            names.add(name)
            projections.append(Projection(resolved, whole, name))
        where = self._resolve_expr(query, query.where) if query.where is not None else None
        return Query(query.collection, query.alias, query.joins, query.star, query.count,
                     tuple(projections), query.top, where)

    def _resolve(self, query: Query, ref: Ref) -> Ref:
        """Split the leading alias off a dotted path, or check that the query has none."""
        first, rest = ref.path[0], ref.path[1:]
        aliases = query.aliases()
        if first in aliases:
            return Ref(first, rest)
        if aliases:
            raise InvalidQuery(f"'{ref.text()}' does not start with one of the query's aliases "
                               f"({', '.join(aliases)})")
        return Ref(None, ref.path)

    def _resolve_expr(self, query: Query, expr: Expr) -> Expr:
        if isinstance(expr, Compare):
            return Compare(expr.op, self._resolve(query, expr.left), expr.right)
        if isinstance(expr, InList):
            return InList(self._resolve(query, expr.ref), expr.items, expr.negated)
        if isinstance(expr, And):
            return And(tuple(self._resolve_expr(query, e) for e in expr.items))
        if isinstance(expr, Or):
            return Or(tuple(self._resolve_expr(query, e) for e in expr.items))
        if isinstance(expr, Not):
            return Not(self._resolve_expr(query, expr.item))
        if isinstance(expr, Func):
            return self._resolve_func(query, expr)
        return expr

    def _resolve_func(self, query: Query, func: Func) -> Func:
        args = list(func.args)
        if func.name == "IS_OF_MODEL":
            if args and isinstance(args[0], Ref) and len(args[0].path) == 1 and args[0].path[0] in query.aliases():
                alias = args[0].path[0]
                if alias not in query.twin_aliases():
                    raise InvalidQuery(f"IS_OF_MODEL: '{alias}' is not a twin alias")
                args[0] = alias
            elif query.aliases():
                if len(query.twin_aliases()) != 1:
                    raise InvalidQuery("IS_OF_MODEL needs the twin alias as its first argument")
                args.insert(0, str(query.alias))
            else:
                if query.collection == "RELATIONSHIPS":
                    raise InvalidQuery("IS_OF_MODEL applies to twins, not relationships")
                args.insert(0, "")
            if not (2 <= len(args) <= 3) or not (isinstance(args[1], Literal) and isinstance(args[1].value, str)):
                raise InvalidQuery("IS_OF_MODEL takes ([alias,] 'dtmi' [, exact])")
            if len(args) == 3 and args[2] != "exact":
                raise InvalidQuery("the third argument of IS_OF_MODEL may only be the keyword exact")
            return Func(func.name, tuple(args))
        wanted = 2 if func.name in ("STARTSWITH", "ENDSWITH", "CONTAINS") else 1
        if len(args) != wanted:
            raise InvalidQuery(f"{func.name} takes {wanted} argument(s), not {len(args)}")
        if not isinstance(args[0], Ref):
            raise InvalidQuery(f"the first argument of {func.name} must be a property")
        args[0] = self._resolve(query, args[0])
        if wanted == 2 and not (isinstance(args[1], Literal) and isinstance(args[1].value, str)):
            raise InvalidQuery(f"the second argument of {func.name} must be a string")
        return Func(func.name, tuple(args))


def _flip(op: str) -> str:
    return {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, "!=" if op == "<>" else op)


def parse_query(text: str) -> Query:
    """Parse an ADT query; raises `QuerySyntaxError` or `InvalidQuery` (both HTTP 400)."""
    if not isinstance(text, str) or not text.strip():
        raise QuerySyntaxError("the query is empty")
    return Parser(text).parse()


__all__ = ["InvalidQuery", "QuerySyntaxError", "Scalar", "parse_query"]
