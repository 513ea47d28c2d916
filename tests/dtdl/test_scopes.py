"""Rules on where a definition is visible and how localized text is keyed (DTDL v2-v4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from twinforge.dtdl import ModelError, parse_models
from twinforge.graph import TwinGraph

UNITS = {"@id": "dtmi:ex:Units;1", "@type": "Enum", "valueSchema": "string",
         "enumValues": [{"name": "metric", "enumValue": "m"}, {"name": "imperial", "enumValue": "i"}]}


def iface(dtmi: str, *contents: dict[str, Any], version: int = 3, **extra: Any) -> dict[str, Any]:
    return {"@context": f"dtmi:dtdl:context;{version}", "@id": dtmi, "@type": "Interface",
            "contents": list(contents), **extra}


def uses_units(name: str = "units") -> dict[str, Any]:
    return {"@type": "Property", "name": name, "schema": "dtmi:ex:Units;1"}


def errors(documents: list[dict[str, Any]]) -> list[str]:
    with pytest.raises(ModelError) as caught:
        parse_models(documents)
    return caught.value.errors


@pytest.mark.parametrize("version", [2, 3, 4])
def test_a_schema_in_schemas_is_used_inside_its_interface(version: int) -> None:
    models = parse_models([iface("dtmi:ex:A;1", uses_units(), uses_units("other"), version=version, schemas=[UNITS])])
    assert models.element("dtmi:ex:Units;1") is not None


@pytest.mark.parametrize("version", [2, 3, 4])
def test_a_sibling_interface_cannot_use_another_interfaces_schemas(version: int) -> None:
    owner = iface("dtmi:ex:A;1", uses_units(), version=version, schemas=[UNITS])
    other = iface("dtmi:ex:B;1", uses_units(), version=version)
    (message,) = errors([owner, other])
    assert "'dtmi:ex:Units;1' is declared in the schemas of dtmi:ex:A;1" in message and "dtmi:ex:B;1" in message


@pytest.mark.parametrize("version", [2, 3, 4])
def test_neither_a_child_nor_a_component_interface_sees_the_schemas(version: int) -> None:
    parent = iface("dtmi:ex:A;1", version=version, schemas=[UNITS])
    child = iface("dtmi:ex:Child;1", uses_units(), version=version, extends="dtmi:ex:A;1")
    assert "can be used only inside that interface" in errors([parent, child])[0]
    inner = iface("dtmi:ex:Inner;1", uses_units(), version=version)
    del inner["@context"]
    holder = iface("dtmi:ex:Holder;1", {"@type": "Component", "name": "c", "schema": inner},
                   version=version, schemas=[UNITS])
    assert "can be used only inside that interface" in errors([holder])[0]


def test_a_nested_schema_with_an_id_is_not_visible_from_another_interface() -> None:
    a = iface("dtmi:ex:A;1", {"@type": "Property", "name": "mode", "schema": UNITS})
    b = iface("dtmi:ex:B;1", uses_units())
    assert "declared in the definition of dtmi:ex:A;1" in errors([a, b])[0]


def test_the_rule_holds_against_stored_models(tmp_path: Path) -> None:
    graph = TwinGraph.open(f"sqlite:///{tmp_path / 'twins.db'}")
    try:
        graph.add_models([iface("dtmi:ex:A;1", uses_units(), schemas=[UNITS])])
        with pytest.raises(ModelError, match="can be used only inside that interface"):
            graph.add_models([iface("dtmi:ex:B;1", uses_units())])
        assert [m.id for m in graph.list_models()] == ["dtmi:ex:A;1"]
    finally:
        graph.close()


@pytest.mark.parametrize("tag", ["en", "de", "zh-Hant", "zh-TW", "sr-Latn-RS", "fr-155", "haw"])
def test_language_codes_the_specification_allows(tag: str) -> None:
    parse_models([iface("dtmi:ex:L;1", displayName={tag: "x"}, description=[{"@value": "y", "@language": tag}])])


@pytest.mark.parametrize("tag", ["English", "EN", "en-us", "en_US", "e", "i-klingon", "de-DE-1996", "x-private",
                                 "zh-hant", "en-"])
def test_language_codes_the_specification_refuses(tag: str) -> None:
    assert f"'{tag}' is not a language code" in errors([iface("dtmi:ex:L;1", displayName={tag: "x"})])[0]
    assert "is not a language code" in errors([iface("dtmi:ex:L;1", displayName=[{"@value": "x", "@language": tag}])])[0]


@pytest.mark.parametrize("abstract", ["SemanticType", "Unit", "NumericSchema", "ComplexSchema"])
def test_an_abstract_metamodel_class_is_not_a_co_type(abstract: str) -> None:
    telemetry = {"@type": ["Telemetry", abstract], "name": "t", "schema": "double"}
    assert f"'{abstract}' in @type is not a DTDL type" in errors([iface("dtmi:ex:T;1", telemetry, version=2)])[0]
