"""A small plant ontology used by graph and API tests."""

from __future__ import annotations

from typing import Any

CTX = "dtmi:dtdl:context;3"

ASSET = {"@context": CTX, "@id": "dtmi:test:Asset;1", "@type": "Interface",
         "displayName": "Asset",
         "contents": [{"@type": "Property", "name": "name", "schema": "string"}]}
MOTOR = {"@context": CTX, "@id": "dtmi:test:Motor;1", "@type": "Interface",
         "contents": [{"@type": "Property", "name": "rpm", "schema": "double"},
                      {"@type": "Property", "name": "running", "schema": "boolean"}]}
PUMP = {
    "@context": CTX, "@id": "dtmi:test:Pump;1", "@type": "Interface", "extends": "dtmi:test:Asset;1",
    "schemas": [{"@id": "dtmi:test:Mode;1", "@type": "Enum", "valueSchema": "string",
                 "enumValues": [{"name": "auto", "enumValue": "auto"}, {"name": "off", "enumValue": "off"}]}],
    "contents": [
        {"@type": "Property", "name": "flow", "schema": "double"},
        {"@type": "Property", "name": "mode", "schema": "dtmi:test:Mode;1"},
        {"@type": "Property", "name": "location", "schema": {
            "@type": "Object", "fields": [{"name": "x", "schema": "double"}, {"name": "y", "schema": "double"}]}},
        {"@type": "Telemetry", "name": "pressure", "schema": "double"},
        {"@type": "Component", "name": "motor", "schema": "dtmi:test:Motor;1"},
        {"@type": "Relationship", "name": "feeds", "target": "dtmi:test:Tank;1",
         "properties": [{"@type": "Property", "name": "pipeLength", "schema": "double"}]},
        {"@type": "Relationship", "name": "controlledBy", "maxMultiplicity": 1},
    ],
}
TANK = {"@context": CTX, "@id": "dtmi:test:Tank;1", "@type": "Interface", "extends": "dtmi:test:Asset;1",
        "contents": [{"@type": "Property", "name": "level", "schema": "double"}]}

PLANT: list[dict[str, Any]] = [ASSET, MOTOR, PUMP, TANK]


def pump(name: str = "P", **extra: Any) -> dict[str, Any]:
    return {"$metadata": {"$model": "dtmi:test:Pump;1"}, "name": name, **extra}


def tank(name: str = "T", **extra: Any) -> dict[str, Any]:
    return {"$metadata": {"$model": "dtmi:test:Tank;1"}, "name": name, **extra}
