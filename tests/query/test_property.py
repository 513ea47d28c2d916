"""Random graphs and random queries: the compiled SQL must agree with the reference evaluator."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twinforge.graph import TwinGraph
from twinforge.query import Evaluator, parse_query
from twinforge.store.base import RelationshipRecord, TwinRecord

CTX = "dtmi:dtdl:context;3"
MODELS = [
    {"@context": CTX, "@id": "dtmi:p:A;1", "@type": "Interface",
     "contents": [{"@type": "Relationship", "name": "r"}, {"@type": "Relationship", "name": "s"}]},
    {"@context": CTX, "@id": "dtmi:p:B;1", "@type": "Interface", "extends": "dtmi:p:A;1"},
    {"@context": CTX, "@id": "dtmi:p:C;1", "@type": "Interface", "extends": "dtmi:p:B;1"},
    {"@context": CTX, "@id": "dtmi:p:D;1", "@type": "Interface"},
]
MODEL_IDS = [m["@id"] for m in MODELS] + ["dtmi:p:Nope;1"]
IDS = ["a", "b", "c", "d", "e", "f", "g", "A", "é"]

text = st.text(alphabet="ab'\"é😀 x", max_size=4)
scalar = (st.none() | st.booleans() | st.integers(-5, 5)
          | st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=32) | text)
value = st.recursive(scalar, lambda inner: st.lists(inner, max_size=2)
                     | st.dictionaries(st.sampled_from(["a", "b"]), inner, max_size=2), max_leaves=4)
props = st.dictionaries(st.sampled_from(["x", "y", "name"]), value, max_size=3)


@st.composite
def graphs(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    ids = draw(st.lists(st.sampled_from(IDS), unique=True, min_size=1, max_size=7))
    twins = [{"$dtId": i, "$etag": "W/\"e\"", "$metadata": {"$model": draw(st.sampled_from(MODEL_IDS[:4]))},
              **draw(props)} for i in ids]
    rels = []
    for n in range(draw(st.integers(0, 10))):
        rel = {"$relationshipId": f"r{n}", "$etag": "W/\"e\"", "$sourceId": draw(st.sampled_from(ids)),
               "$relationshipName": draw(st.sampled_from(["r", "s"])), "$targetId": draw(st.sampled_from(ids))}
        rel.update(draw(st.dictionaries(st.just("w"), scalar, max_size=1)))
        rels.append(rel)
    return twins, rels


def render(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


literal = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-10, 10, allow_nan=False,
                                                                     allow_infinity=False, width=32) | text
order_literal = st.integers(-5, 5) | st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=32) | text


def conditions(aliases: list[str], twin_aliases: list[str]) -> st.SearchStrategy[str]:
    paths = st.sampled_from([["x"], ["y"], ["name"], ["x", "a"], ["$dtId"], ["$metadata", "$model"], ["w"]])
    ref = st.builds(lambda a, p: ".".join([a, *p]), st.sampled_from(aliases), paths)
    compare = (st.builds(lambda r, op, v: f"{r} {op} {render(v)}", ref, st.sampled_from(["=", "!="]), literal)
               | st.builds(lambda r, op, v: f"{r} {op} {render(v)}", ref,
                           st.sampled_from(["<", ">", "<=", ">="]), order_literal))
    in_list = st.builds(lambda r, neg, vs: f"{r} {'NIN' if neg else 'IN'} [{', '.join(render(v) for v in vs)}]",
                        ref, st.booleans(), st.lists(literal, max_size=3))
    unary = st.builds(lambda f, r: f"{f}({r})", st.sampled_from(
        ["IS_DEFINED", "IS_NULL", "IS_PRIMITIVE", "IS_BOOL", "IS_NUMBER", "IS_STRING", "IS_OBJECT"]), ref)
    strings = st.builds(lambda f, r, v: f"{f}({r}, {render(v)})",
                        st.sampled_from(["STARTSWITH", "ENDSWITH", "CONTAINS"]), ref, text)
    of_model = st.builds(lambda a, m, exact: f"IS_OF_MODEL({a}, '{m}'{', exact' if exact else ''})",
                         st.sampled_from(twin_aliases), st.sampled_from(MODEL_IDS), st.booleans())
    atom = compare | in_list | unary | strings | of_model
    return st.recursive(atom, lambda inner: st.builds(lambda a, op, b: f"({a} {op} {b})", inner,
                                                      st.sampled_from(["AND", "OR"]), inner)
                        | st.builds(lambda a: f"NOT {a}", inner), max_leaves=5)


@st.composite
def queries(draw: st.DrawFn) -> str:
    shape = draw(st.sampled_from(["twins", "join", "join2", "rels"]))
    if shape == "rels":
        aliases, twin_aliases, source = ["R"], ["R"], "FROM RELATIONSHIPS R"
        cond = draw(conditions(aliases, ["R"]).filter(lambda c: "IS_OF_MODEL" not in c))
    else:
        joins = {"twins": "", "join": " JOIN U RELATED T.r E", "join2": " JOIN U RELATED T.r JOIN V RELATED U.s"}[shape]
        twin_aliases = {"twins": ["T"], "join": ["T", "U"], "join2": ["T", "U", "V"]}[shape]
        aliases = twin_aliases + (["E"] if shape == "join" else [])
        source = f"FROM DIGITALTWINS T{joins}"
        cond = draw(conditions(aliases, twin_aliases))
    select = draw(st.sampled_from(["*", "COUNT()", f"TOP({draw(st.integers(0, 3))}) *",
                                   f"{aliases[0]}.x, {aliases[-1]}.$dtId AS id", ", ".join(aliases)]))
    where = draw(st.sampled_from(["", f" WHERE {cond}"]))
    return f"SELECT {select} {source}{where}"


def _agree(graph: TwinGraph, graph_data: tuple[list[dict[str, Any]], list[dict[str, Any]]], texts: list[str]) -> None:
    twins, rels = graph_data
    graph.add_models(MODELS)
    # Stored directly, so that property values of every JSON kind reach the query engine.
    graph.store.insert_twins([TwinRecord(t["$dtId"], t["$metadata"]["$model"], "e", json.dumps(t))
                              for t in twins])
    graph.store.insert_relationships([RelationshipRecord(r["$sourceId"], r["$relationshipId"],
                                                         r["$relationshipName"], r["$targetId"],
                                                         "e", json.dumps(r)) for r in rels])
    reference = Evaluator({t["$dtId"]: t for t in twins}, rels, graph.models.descendants)
    for text in texts:
        expected = reference.run(parse_query(text))
        assert list(graph.query(text, page_size=2)) == expected, text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.lists(queries(), min_size=1, max_size=4))
def test_sql_agrees_with_reference(graph_data: tuple[list[dict[str, Any]], list[dict[str, Any]]],
                                   texts: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        graph = TwinGraph.open(f"sqlite:///{Path(tmp) / 'p.db'}")
        try:
            _agree(graph, graph_data, texts)
        finally:
            graph.close()


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(graphs(), st.lists(queries(), min_size=1, max_size=4))
def test_postgresql_agrees_with_reference(postgres: Any, graph_data: tuple[list[dict[str, Any]], list[dict[str, Any]]],
                                         texts: list[str]) -> None:
    """The same oracle on the PostgreSQL dialect: one database, emptied before each example."""
    import psycopg

    url = _oracle_database(postgres)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE models, twins, relationships")
    graph = TwinGraph.open(url)
    try:
        _agree(graph, graph_data, texts)
    finally:
        graph.close()


_ORACLE: dict[int, str] = {}


def _oracle_database(postgres: Any) -> str:
    if id(postgres) not in _ORACLE:
        _ORACLE[id(postgres)] = postgres.new_database()
        TwinGraph.open(_ORACLE[id(postgres)]).close()  # makes the tables
    return _ORACLE[id(postgres)]
