"""Parser behaviour beyond the conformance suite: errors, ontologies, resolution."""

from __future__ import annotations

from typing import Any

import pytest

from twinforge.dtdl import ModelError, parse_models


def iface(dtmi: str, *contents: dict[str, Any], version: int = 3, **extra: Any) -> dict[str, Any]:
    return {"@context": f"dtmi:dtdl:context;{version}", "@id": dtmi, "@type": "Interface",
            "contents": list(contents), **extra}


def test_realestatecore_parses_and_resolves(rec_documents: list[Any]) -> None:
    models = parse_models(rec_documents)
    assert len(models) == 767
    room = models.interface("dtmi:digitaltwins:rec_3_3:core:Room;1")
    assert "dtmi:digitaltwins:rec_3_3:core:Space;1" in room.ancestors
    assert "isPartOf" in room.relationships
    assert room.components["temperature"] == "dtmi:digitaltwins:rec_3_3:SpaceTemperature;1"
    assert models.is_of_model("dtmi:digitaltwins:rec_3_3:core:Room;1", "dtmi:digitaltwins:rec_3_3:core:Space;1")


def test_error_names_element_dtmi_and_path() -> None:
    doc = iface("dtmi:ex:Pump;1", {"@type": "Property", "name": "1bad", "schema": "double"})
    with pytest.raises(ModelError) as info:
        parse_models([doc])
    (message,) = info.value.errors
    assert message.startswith("Property '1bad' (dtmi:ex:Pump;1, $[0].contents[0].name):")
    assert info.value.issues[0].element == "Property '1bad'"


def test_error_names_the_file_and_the_position_in_it() -> None:
    good = iface("dtmi:ex:Tank;1", {"@type": "Property", "name": "level", "schema": "double"})
    bad = iface("dtmi:ex:Hvac;1", {"@type": "Property", "name": "fanMode", "schema": {
        "@type": "Enum", "valueSchema": "string", "enumValues": [{"name": "low", "enumValue": 1}]}})
    with pytest.raises(ModelError) as info:
        parse_models([good, [good | {"@id": "dtmi:ex:Tank;2"}, bad]], sources=["tank.json", "hvac.json"])
    (message,) = info.value.errors
    assert message.startswith("EnumValue 'low' (dtmi:ex:Hvac;1, hvac.json $[1].contents[0].schema.enumValues[0]")
    assert "[0][" not in message


def test_every_error_is_reported() -> None:
    doc = iface(
        "dtmi:ex:Pump;1",
        {"@type": "Property", "name": "a", "schema": "nosuch"},
        {"@type": "Telemetry", "name": "b"},
    )
    with pytest.raises(ModelError) as info:
        parse_models([doc])
    assert len(info.value.errors) == 2


def test_extends_cycle_refused() -> None:
    a = iface("dtmi:ex:A;1", extends="dtmi:ex:B;1")
    b = iface("dtmi:ex:B;1", extends="dtmi:ex:A;1")
    with pytest.raises(ModelError, match="extends itself"):
        parse_models([a, b])


def test_extends_depth_limit() -> None:
    docs = [iface(f"dtmi:ex:L{i};1", extends=f"dtmi:ex:L{i + 1};1") for i in range(11)]
    docs.append(iface("dtmi:ex:L11;1"))
    with pytest.raises(ModelError, match="limit is 10"):
        parse_models(docs)
    parse_models(docs[1:])  # ten levels are fine


def test_duplicate_inherited_name_refused() -> None:
    base = iface("dtmi:ex:Base;1", {"@type": "Property", "name": "x", "schema": "double"})
    child = iface("dtmi:ex:Child;1", {"@type": "Telemetry", "name": "x", "schema": "double"},
                  extends="dtmi:ex:Base;1")
    with pytest.raises(ModelError, match="'x'"):
        parse_models([base, child])


def test_references_into_known_models() -> None:
    base = parse_models([iface("dtmi:ex:Base;1")])
    child = iface("dtmi:ex:Child;1", extends="dtmi:ex:Base;1")
    with pytest.raises(ModelError, match="not defined"):
        parse_models([child])
    models = parse_models([child], known=base)
    assert models.is_of_model("dtmi:ex:Child;1", "dtmi:ex:Base;1")


def test_semantic_type_and_unit_v3_needs_extension() -> None:
    prop = {"@type": ["Property", "Temperature"], "name": "t", "schema": "double",
            "unit": "degreeCelsius"}
    with pytest.raises(ModelError):
        parse_models([iface("dtmi:ex:T;1", prop)])
    doc = iface("dtmi:ex:T;1", prop)
    doc["@context"] = ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"]
    parse_models([doc])
    prop["unit"] = "metre"
    with pytest.raises(ModelError, match="not a unit of Temperature"):
        parse_models([doc])


def test_component_schema_with_components_refused() -> None:
    inner = iface("dtmi:ex:Inner;1")
    middle = iface("dtmi:ex:Middle;1", {"@type": "Component", "name": "i", "schema": "dtmi:ex:Inner;1"})
    outer = iface("dtmi:ex:Outer;1", {"@type": "Component", "name": "m", "schema": "dtmi:ex:Middle;1"})
    with pytest.raises(ModelError, match="may not itself contain components"):
        parse_models([inner, middle, outer])


def test_v2_property_may_not_be_array() -> None:
    doc = iface("dtmi:ex:A;1", {"@type": "Property", "name": "xs",
                                "schema": {"@type": "Array", "elementSchema": "double"}}, version=2)
    with pytest.raises(ModelError, match="Array"):
        parse_models([doc])
    doc["@context"] = "dtmi:dtdl:context;3"
    parse_models([doc])


def test_not_a_list_is_refused() -> None:
    with pytest.raises(ModelError):
        parse_models({"@id": "x"})  # type: ignore[arg-type]
