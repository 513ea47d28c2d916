"""Twin documents and values checked against resolved interfaces."""

from __future__ import annotations

from typing import Any

import pytest

from twinforge.dtdl import ModelError, ModelSet, parse_models

CTX = "dtmi:dtdl:context;3"


@pytest.fixture(scope="module")
def models() -> ModelSet:
    address = {"@id": "dtmi:ex:Address;1", "@type": "Object", "fields": [
        {"name": "city", "schema": "string"}, {"name": "zip", "schema": "integer"}]}
    mode = {"@id": "dtmi:ex:Mode;1", "@type": "Enum", "valueSchema": "string", "enumValues": [
        {"name": "auto", "enumValue": "auto"}, {"name": "manual", "enumValue": "manual"}]}
    thermostat = {"@context": CTX, "@id": "dtmi:ex:Thermostat;1", "@type": "Interface",
                  "contents": [{"@type": "Property", "name": "setpoint", "schema": "double"}]}
    room = {
        "@context": CTX, "@id": "dtmi:ex:Room;1", "@type": "Interface",
        "schemas": [address, mode],
        "contents": [
            {"@type": "Property", "name": "name", "schema": "string"},
            {"@type": "Property", "name": "floor", "schema": "integer"},
            {"@type": "Property", "name": "occupied", "schema": "boolean"},
            {"@type": "Property", "name": "mode", "schema": "dtmi:ex:Mode;1"},
            {"@type": "Property", "name": "address", "schema": "dtmi:ex:Address;1"},
            {"@type": "Property", "name": "tags", "schema": {
                "@type": "Map", "mapKey": {"name": "k", "schema": "string"},
                "mapValue": {"name": "v", "schema": "string"}}},
            {"@type": "Property", "name": "readings", "schema": {"@type": "Array", "elementSchema": "double"}},
            {"@type": "Property", "name": "built", "schema": "date"},
            {"@type": "Telemetry", "name": "temperature", "schema": "double"},
            {"@type": "Relationship", "name": "contains"},
            {"@type": "Component", "name": "thermostat", "schema": "dtmi:ex:Thermostat;1"},
        ],
    }
    return parse_models([thermostat, room])


def test_conforming_twin(models: ModelSet) -> None:
    doc: dict[str, Any] = {
        "$dtId": "r1", "$metadata": {"$model": "dtmi:ex:Room;1"}, "name": "Lab", "floor": 3,
        "occupied": False, "mode": "auto", "address": {"city": "Oslo", "zip": 150},
        "tags": {"a": "b"}, "readings": [1, 2.5], "built": "2020-01-31",
        "thermostat": {"$metadata": {}, "setpoint": 21.5},
    }
    assert models.validate_value("dtmi:ex:Room;1", doc) == []


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({"floor": "three"}, "floor: expected integer"),
        ({"floor": 2**40}, "out of range"),
        ({"occupied": 1}, "occupied: expected a boolean"),
        ({"mode": "turbo"}, "mode: 'turbo' is not one of the enum values"),
        ({"address": {"city": 5}}, "address.city: expected a string"),
        ({"address": {"street": "x"}}, "address.street: 'street' is not a field"),
        ({"tags": {"a": 1}}, "tags.a: expected a string"),
        ({"readings": [1, "x"]}, "readings[1]: expected a number"),
        ({"built": "yesterday"}, "'yesterday' is not a valid date"),
        ({"colour": "red"}, "'colour' is not a property of dtmi:ex:Room;1"),
        ({"temperature": 20}, "is telemetry"),
        ({"contains": "x"}, "is a relationship"),
        ({"thermostat": {"setpoint": "warm"}}, "thermostat.setpoint: expected a number"),
        ({"thermostat": {"humidity": 3}}, "thermostat.humidity: 'humidity' is not a property"),
    ],
)
def test_violations_are_named(models: ModelSet, doc: dict[str, Any], fragment: str) -> None:
    problems = models.validate_value("dtmi:ex:Room;1", doc)
    assert any(fragment in p for p in problems), problems


def test_named_schema_validation(models: ModelSet) -> None:
    assert models.validate_value("dtmi:ex:Address;1", {"city": "Bergen"}) == []
    assert models.validate_value("dtmi:ex:Mode;1", "manual") == []
    assert models.validate_value("dtmi:ex:Mode;1", "x") != []
    assert models.validate_value("dtmi:ex:Nope;1", {}) == ["unknown model or schema 'dtmi:ex:Nope;1'"]


def test_enum_values_keep_their_kind() -> None:
    models = parse_models([{"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Fan;1", "@type": "Interface",
                            "contents": [{"@type": "Property", "name": "speed", "schema": {
                                "@type": "Enum", "valueSchema": "integer",
                                "enumValues": [{"name": "low", "enumValue": 1}, {"name": "high", "enumValue": 2}]}}]}])
    assert models.validate_value("dtmi:ex:Fan;1", {"speed": 1}) == []
    for wrong in (1.0, True, "1"):
        assert models.validate_value("dtmi:ex:Fan;1", {"speed": wrong}), wrong


def test_enum_value_objects_must_match_their_literal() -> None:
    def fan(value: Any, value_schema: str = "integer") -> list[Any]:
        return [{"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Fan;1", "@type": "Interface",
                 "contents": [{"@type": "Property", "name": "speed", "schema": {
                     "@type": "Enum", "valueSchema": value_schema,
                     "enumValues": [{"name": "low", "enumValue": value}]}}]}]

    parse_models(fan({"@value": 1, "@type": "xsd:integer"}))
    parse_models(fan({"@value": "x", "@type": "xsd:string"}, "string"))
    for bad in ({"@value": 1, "@type": "xsd:string"}, {"@value": 1.5}, {"@value": "x", "@type": "xsd:integer"}):
        with pytest.raises(ModelError, match="enumValue"):
            parse_models(fan(bad))


@pytest.mark.parametrize(("schema", "good", "bad"), [
    ("dtmi:dtdl:instance:Schema:double;2", 1.5, "x"),
    ("dtmi:dtdl:instance:Schema:dateTime;3", "2026-01-01T00:00:00Z", "yesterday"),
    ("dtmi:standard:schema:geospatial:point;3", {"type": "Point", "coordinates": [1, 2]}, [1, 2]),
    ("integer", 3, 3.5),
])
def test_validate_value_knows_primitive_schema_identifiers(schema: str, good: Any, bad: Any) -> None:
    models = parse_models([{"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:A;1", "@type": "Interface"}])
    assert models.validate_value(schema, good) == []
    assert models.validate_value(schema, bad)
