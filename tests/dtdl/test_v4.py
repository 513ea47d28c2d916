"""DTDL v4 beyond the conformance cases: recursive schemas, limits contexts, use in a graph."""

from __future__ import annotations

from typing import Any

import pytest

from twinforge.dtdl import ModelError, parse_models
from twinforge.graph import TwinGraph
from twinforge.store import SQLiteStore

CTX4 = "dtmi:dtdl:context;4"
NODE = {"@id": "dtmi:ex:TreeNode;1", "@type": "Object", "fields": [
    {"name": "label", "schema": "string"},
    {"name": "children", "schema": {"@type": "Array", "elementSchema": "dtmi:ex:TreeNode;1"}},
]}
HIERARCHY = {"@context": CTX4, "@id": "dtmi:ex:Plant;1", "@type": "Interface", "schemas": [NODE],
             "contents": [{"@type": "Property", "name": "tree", "schema": "dtmi:ex:TreeNode;1"},
                          {"@type": "Property", "name": "speed", "schema": "dtmi:dtdl:instance:Schema:double;4"}]}


def test_recursive_schema_parses_and_validates_nested_values() -> None:
    models = parse_models([HIERARCHY])
    tree = {"label": "site", "children": [{"label": "line 1", "children": [{"label": "cell", "children": []}]}]}
    assert models.validate_value("dtmi:ex:Plant;1", {"tree": tree, "speed": 1.5}) == []
    bad: dict[str, Any] = {"label": "site", "children": [{"label": 7, "children": []}]}
    problems = models.validate_value("dtmi:ex:Plant;1", {"tree": bad})
    assert problems and "label" in problems[0]


def test_recursion_is_refused_before_v4() -> None:
    v3 = {**HIERARCHY, "@context": "dtmi:dtdl:context;3",
          "contents": [HIERARCHY["contents"][0]]}  # type: ignore[index]
    with pytest.raises(ModelError, match="contains itself"):
        parse_models([v3])


@pytest.mark.parametrize("context", [
    ["dtmi:dtdl:context;4#limitless", "dtmi:dtdl:context;4#limits"],
    ["dtmi:dtdl:context;4#limitless", "dtmi:dtdl:context;4"],
    ["dtmi:dtdl:context;4#limitless", "dtmi:dtdl:limits:onvif;1"],
])
def test_limitless_context_followed_by_limits(context: list[str]) -> None:
    parse_models([{"@context": context, "@id": "dtmi:ex:A;1", "@type": "Interface"}])


@pytest.mark.parametrize(("context", "message"), [
    (["dtmi:dtdl:context;4#limitless"], "must be followed by a limits context"),
    (["dtmi:dtdl:context;4", "dtmi:dtdl:context;4#limits"], "may only follow"),
    (["dtmi:dtdl:context;4#limitless", "dtmi:dtdl:extension:quantitativeTypes;1", "dtmi:dtdl:context;4#limits"],
     "must be followed by a limits context"),
])
def test_limits_contexts_out_of_place_are_refused(context: list[str], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        parse_models([{"@context": context, "@id": "dtmi:ex:A;1", "@type": "Interface"}])


def test_v4_limits_are_higher() -> None:
    def nested(depth: int) -> Any:
        schema: Any = "boolean"
        for _ in range(depth):
            schema = {"@type": "Array", "elementSchema": schema}
        return schema

    for context, ok, too_deep in (("dtmi:dtdl:context;3", 5, 6), (CTX4, 8, 9)):
        def model(depth: int, context: str = context) -> dict[str, Any]:
            return {"@context": context, "@id": "dtmi:ex:Deep;1", "@type": "Interface",
                    "contents": [{"@type": "Property", "name": "p", "schema": nested(depth)}]}

        parse_models([model(ok)])
        with pytest.raises(ModelError, match="nested"):
            parse_models([model(too_deep)])


def test_a_v4_model_in_the_graph() -> None:
    graph = TwinGraph(SQLiteStore(":memory:"))
    graph.add_models([HIERARCHY])
    twin = graph.create_twin("plant-1", {"$metadata": {"$model": "dtmi:ex:Plant;1"}, "speed": 2.0,
                                         "tree": {"label": "site", "children": []}})
    assert twin["tree"]["label"] == "site"
    graph.update_twin("plant-1", [{"op": "add", "path": "/tree/children/-",
                                   "value": {"label": "line 1", "children": []}}])
    assert graph.get_twin("plant-1")["tree"]["children"][0]["label"] == "line 1"


@pytest.mark.parametrize(("context", "ok"), [
    (["dtmi:dtdl:context;4", "dtmi:dtdl:extension:mqtt;3"], True),
    (["dtmi:dtdl:context;3", "dtmi:dtdl:extension:mqtt;2"], True),
    (["dtmi:dtdl:context;4", "dtmi:dtdl:extension:historization;2"], True),
    (["dtmi:dtdl:context;4", "dtmi:dtdl:extension:historization;1"], False),
    (["dtmi:dtdl:context;2", "dtmi:dtdl:extension:mqtt;3"], False),
])
def test_extension_contexts_by_version(context: list[str], ok: bool) -> None:
    doc = {"@context": context, "@id": "dtmi:ex:A;1", "@type": "Interface"}
    if ok:
        parse_models([doc])
    else:
        with pytest.raises(ModelError, match="undefined extension"):
            parse_models([doc])
