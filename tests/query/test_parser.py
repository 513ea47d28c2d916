"""Parsing ADT queries: forms, case, errors with positions, limits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twinforge.api.errors import status_of
from twinforge.query import InvalidQuery, QuerySyntaxError, compile_query, parse_query
from twinforge.query.ast import And, Compare, Func, InList, Literal, Not, Or, Ref


def test_select_star_with_where() -> None:
    q = parse_query("select * from digitaltwins where $dtId = 'a' and IS_OF_MODEL('dtmi:x:A;1')")
    assert q.star and q.collection == "DIGITALTWINS" and q.alias is None
    assert isinstance(q.where, And)
    first, second = q.where.items
    assert first == Compare("=", Ref(None, ("$dtId",)), Literal("a"))
    assert isinstance(second, Func) and second.args[0] == "" and second.args[1] == Literal("dtmi:x:A;1")


def test_projections_joins_and_aliases() -> None:
    q = parse_query("SELECT T.name AS n, T.$metadata.$model, R, C FROM DIGITALTWINS T "
                    "JOIN C RELATED T.contains R WHERE T.a.b >= 2.5 OR NOT C.x IN [1, 'y', null]")
    assert [p.name for p in q.projections] == ["n", "$model", "R", "C"]
    assert q.projections[2].whole and q.projections[1].ref == Ref("T", ("$metadata", "$model"))
    assert q.joins[0].alias == "C" and q.joins[0].rel_alias == "R"
    assert isinstance(q.where, Or)
    assert q.where.items[0] == Compare(">=", Ref("T", ("a", "b")), Literal(2.5))
    negated = q.where.items[1]
    assert isinstance(negated, Not) and isinstance(negated.item, InList)
    assert negated.item.items == (Literal(1), Literal("y"), Literal(None))


def test_top_count_and_flipped_literal() -> None:
    q = parse_query("SELECT TOP(3) FROM DIGITALTWINS WHERE 5 < x")
    assert q.top == 3 and q.star and q.where == Compare(">", Ref(None, ("x",)), Literal(5))
    assert parse_query("SELECT COUNT() FROM RELATIONSHIPS").count
    q = parse_query("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:x:A;1', exact) AND T.s NIN []")
    assert isinstance(q.where, And) and q.where.items[0].args[2] == "exact"  # type: ignore[union-attr]


def test_string_escapes() -> None:
    q = parse_query("SELECT * FROM DIGITALTWINS WHERE name = 'it''s' OR name = \"say \\\"hi\\\"\"")
    assert isinstance(q.where, Or)
    assert q.where.items[0].right.value == "it's"  # type: ignore[union-attr]
    assert q.where.items[1].right.value == 'say "hi"'  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("SELECT * FROM DIGITALTWINS WHERE (a = 1", "position 39: expected ')' to close '('"),
        ("SELECT * FROM DIGITALTWINS WHERE a = 1)", "position 38: expected WHERE, JOIN or the end"),
        ("SELEC * FROM DIGITALTWINS", "position 0: expected SELECT"),
        ("SELECT * FROM TWINS", "expected DIGITALTWINS or RELATIONSHIPS"),
        ("SELECT * FROM DIGITALTWINS WHERE a ==", "position 36"),
        ("SELECT * FROM DIGITALTWINS WHERE a = ", "expected a string, number, true, false or null"),
        ("SELECT * FROM DIGITALTWINS WHERE a IN [1, 2", "expected ',' or ']'"),
        ("SELECT * FROM DIGITALTWINS WHERE a = 'open", "unexpected character"),
        ("SELECT TOP(x) FROM DIGITALTWINS", "expected a whole number"),
        ("", "empty"),
    ],
)
def test_syntax_errors_name_position(text: str, fragment: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(text)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("SELECT * FROM DIGITALTWINS WHERE FOO(a)", "unknown function FOO"),
        ("SELECT * FROM DIGITALTWINS T WHERE X.a = 1", "does not start with one of the query's aliases"),
        ("SELECT X FROM DIGITALTWINS T", "does not start with one of the query's aliases"),
        ("SELECT * FROM DIGITALTWINS T JOIN U RELATED V.r", "'V' is not a twin alias"),
        ("SELECT * FROM DIGITALTWINS JOIN U RELATED T.r", "needs an alias"),
        ("SELECT * FROM DIGITALTWINS T JOIN T RELATED T.r", "alias is used twice"),
        ("SELECT T.a, T.a FROM DIGITALTWINS T", "use AS"),
        ("SELECT * FROM DIGITALTWINS WHERE STARTSWITH(a)", "takes 2 argument"),
        ("SELECT * FROM DIGITALTWINS WHERE STARTSWITH(a, 1)", "must be a string"),
        ("SELECT * FROM DIGITALTWINS WHERE a = b", "comparing two properties"),
        ("SELECT TOP(2) COUNT() FROM DIGITALTWINS", "TOP and COUNT"),
        ("SELECT * FROM RELATIONSHIPS R JOIN T RELATED R.x", "only allowed FROM DIGITALTWINS"),
        ("SELECT * FROM DIGITALTWINS WHERE " + "(" * 60 + "a = 1" + ")" * 60, "nested more than"),
        ("SELECT * FROM DIGITALTWINS WHERE " + "NOT " * 60 + "a = 1", "nested more than"),
        ("SELECT * FROM DIGITALTWINS WHERE a = '" + "x" * 9000 + "'", "limit is 8000"),
    ],
)
def test_invalid_queries(text: str, fragment: str) -> None:
    with pytest.raises((InvalidQuery, QuerySyntaxError)) as info:
        parse_query(text)
    assert fragment in str(info.value)
    assert status_of(info.value) == 400


def test_joins_are_capped() -> None:
    joins = [f"JOIN A{i} RELATED {'T' if i == 0 else f'A{i - 1}'}.r" for i in range(11)]
    with pytest.raises(InvalidQuery, match="at most 10"):
        parse_query(f"SELECT * FROM DIGITALTWINS T {' '.join(joins)}")
    assert len(parse_query(f"SELECT * FROM DIGITALTWINS T {' '.join(joins[:10])}").joins) == 10


VOCABULARY = ["SELECT", "FROM", "DIGITALTWINS", "RELATIONSHIPS", "WHERE", "JOIN", "RELATED", "AND", "OR",
              "NOT", "IN", "NIN", "TOP", "COUNT", "AS", "T", "R", "T.x", "R.y", "$dtId", "*", "(", ")", "[",
              "]", ",", ".", "=", "!=", "<", ">=", "'s'", "1", "2.5", "true", "null", "IS_OF_MODEL",
              "STARTSWITH", "IS_DEFINED", "exact", "'dtmi:x:A;1'", "FOO", "\"q\"", "-", "@", "'"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(VOCABULARY), max_size=25) | st.text(max_size=60))
def test_any_input_parses_or_fails_cleanly(tokens: list[str] | str) -> None:
    text = tokens if isinstance(tokens, str) else " ".join(tokens)
    try:
        compile_query(parse_query(text), lambda model: [model])
    except (QuerySyntaxError, InvalidQuery) as exc:
        failure: Exception = exc
        assert status_of(exc) == 400
        assert str(failure)
