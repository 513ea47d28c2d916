"""Hypothesis: generated interfaces parse, values generated from them validate, and any
JSON at all makes the parser answer with a ModelError rather than crash."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from twinforge.dtdl import ModelError, parse_models

NAMES = st.from_regex(r"[a-z][a-zA-Z0-9]{0,8}", fullmatch=True)
PRIMITIVES = {
    "boolean": st.booleans(),
    "integer": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "double": st.floats(allow_nan=False, allow_infinity=False),
    "string": st.text(max_size=5),
    "date": st.dates().map(lambda d: d.isoformat()),
}


@st.composite
def schemas(draw: st.DrawFn, depth: int = 0) -> tuple[Any, st.SearchStrategy[Any]]:
    """A DTDL schema and a strategy for values that conform to it."""
    kind = draw(st.sampled_from(["primitive", "primitive", "object", "enum", "map", "array"]
                                if depth < 3 else ["primitive"]))
    if kind == "primitive":
        name = draw(st.sampled_from(sorted(PRIMITIVES)))
        return name, PRIMITIVES[name]
    if kind == "enum":
        values = draw(st.lists(st.integers(0, 50), min_size=1, max_size=4, unique=True))
        names = draw(st.lists(NAMES, min_size=len(values), max_size=len(values), unique=True))
        schema = {"@type": "Enum", "valueSchema": "integer",
                  "enumValues": [{"name": n, "enumValue": v} for n, v in zip(names, values, strict=True)]}
        return schema, st.sampled_from(values)
    if kind == "array":
        inner, values = draw(schemas(depth + 1))
        return {"@type": "Array", "elementSchema": inner}, st.lists(values, max_size=3)
    if kind == "map":
        inner, values = draw(schemas(depth + 1))
        return ({"@type": "Map", "mapKey": {"name": "k", "schema": "string"},
                 "mapValue": {"name": "v", "schema": inner}},
                st.dictionaries(st.text(min_size=1, max_size=3), values, max_size=3))
    field_names = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    fields = [(name, draw(schemas(depth + 1))) for name in field_names]
    schema = {"@type": "Object", "fields": [{"name": n, "schema": s} for n, (s, _) in fields]}
    return schema, st.fixed_dictionaries({n: v for n, (_, v) in fields})


@st.composite
def interfaces(draw: st.DrawFn) -> tuple[dict[str, Any], st.SearchStrategy[dict[str, Any]]]:
    names = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    contents, values = [], {}
    for name in names:
        schema, strategy = draw(schemas())
        contents.append({"@type": "Property", "name": name, "schema": schema})
        values[name] = strategy
    doc = {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:gen:Thing;1", "@type": "Interface",
           "contents": contents}
    return doc, st.fixed_dictionaries({}, optional=values)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_generated_interfaces_accept_their_values(data: st.DataObject) -> None:
    doc, values = data.draw(interfaces())
    models = parse_models([doc])
    twin = data.draw(values)
    assert models.validate_value("dtmi:gen:Thing;1", twin) == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    | st.sampled_from(["Interface", "Property", "dtmi:dtdl:context;3", "dtmi:x:y;1", "string", "@type"]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["@context", "@id", "@type", "contents", "name", "schema",
                                       "extends", "fields", "enumValues", "valueSchema", "x"]), inner, max_size=5),
    max_leaves=20)


@settings(max_examples=500, deadline=None)
@given(st.lists(json_values, max_size=3))
def test_any_json_gets_a_model_error_or_parses(documents: list[Any]) -> None:
    try:
        parse_models(documents)
    except ModelError as exc:
        assert exc.errors and all(isinstance(e, str) and e for e in exc.errors)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*prefix, i))
    return out


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_mutated_interfaces_never_crash_the_parser(data: st.DataObject) -> None:
    doc, _ = data.draw(interfaces())
    path = data.draw(st.sampled_from(_paths(doc)[1:]))
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = data.draw(json_values)
    try:
        models = parse_models([doc])
    except ModelError as exc:
        assert exc.errors
    else:
        for dtmi in models.interface_ids():
            models.validate_value(dtmi, {})
