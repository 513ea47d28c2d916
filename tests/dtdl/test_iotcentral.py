"""The IoT Central extension: its schemas (geopoint, vector) and adjunct types, in real use."""

from __future__ import annotations

from typing import Any

import pytest

from twinforge.dtdl import ModelError, parse_models
from twinforge.graph import TwinGraph, Update
from twinforge.store import SQLiteStore

CTX = ["dtmi:dtdl:context;2", "dtmi:iotcentral:context;2"]


def template(*contents: dict[str, Any], context: Any = CTX) -> dict[str, Any]:
    return {"@context": context, "@id": "dtmi:contoso:Truck;1", "@type": "Interface", "contents": list(contents)}


TRUCK = template(
    {"@type": ["Property", "Location"], "name": "position", "schema": "geopoint", "writable": False},
    {"@type": ["Telemetry", "AccelerationVector"], "name": "acceleration", "schema": "vector"},
    {"@type": ["Telemetry", "VelocityVector"], "name": "velocity", "schema": "vector"},
    {"@type": ["Telemetry", "State"], "name": "engine", "schema": {
        "@type": "Enum", "valueSchema": "integer",
        "enumValues": [{"name": "off", "enumValue": 0}, {"name": "running", "enumValue": 1}]}},
    {"@type": ["Telemetry", "Event"], "name": "doorOpened", "schema": "string"},
    {"@type": ["Telemetry", "Temperature"], "name": "cargoTemperature", "schema": "double",
     "unit": "degreeCelsius"},
)


def test_a_device_template_with_the_extension_parses_and_checks_values() -> None:
    models = parse_models([TRUCK])
    view = models.interface("dtmi:contoso:Truck;1")
    assert set(view.telemetry) == {"acceleration", "velocity", "engine", "doorOpened", "cargoTemperature"}
    assert models.validate_value("dtmi:contoso:Truck;1", {"position": {"lat": 47.6, "lon": -122.1}}) == []
    assert models.validate_value("dtmi:contoso:Truck;1", {"position": {"lat": 47.6, "lon": -122.1, "alt": 5}}) == []
    for bad in ({"lat": 47.6}, {"lat": "47", "lon": 1}, [47.6, -122.1], {"lat": 1, "lon": 2, "z": 3}):
        assert models.validate_value("dtmi:contoso:Truck;1", {"position": bad}), bad


@pytest.mark.parametrize(("content", "message"), [
    ({"@type": ["Property", "State"], "name": "s", "schema": "double"}, "co-typed State must have a schema that is Enum"),
    ({"@type": ["Telemetry", "AccelerationVector"], "name": "a", "schema": "double"}, "schema that is a vector"),
    ({"@type": ["Property", "Location"], "name": "l", "schema": "string"}, "a geopoint or a geospatial"),
    ({"@type": ["Telemetry", "Event"], "name": "e", "schema": {"@type": "Object", "fields": [
        {"name": "x", "schema": "double"}]}}, "a numeric or a string, not Object"),
    ({"@type": ["Command", "Location"], "name": "c"}, "may co-type only a Property or a Telemetry"),
    ({"@type": "Property", "name": "p", "schema": "geopointy"}, "geopointy"),
])
def test_misuse_is_refused(content: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        parse_models([template(content)])


def test_the_extension_is_only_for_dtdl_v2() -> None:
    with pytest.raises(ModelError, match="undefined extension context"):
        parse_models([template({"@type": "Property", "name": "p", "schema": "geopoint"},
                               context=["dtmi:dtdl:context;3", "dtmi:iotcentral:context;2"])])
    with pytest.raises(ModelError, match="geopoint"):
        parse_models([template({"@type": "Property", "name": "p", "schema": "geopoint"},
                               context="dtmi:dtdl:context;2")])


def test_vector_telemetry_flows_into_a_twin_and_its_history() -> None:
    graph = TwinGraph(SQLiteStore(":memory:"))
    graph.add_models([TRUCK])
    graph.create_twin("truck-1", {"$metadata": {"$model": "dtmi:contoso:Truck;1"},
                                  "position": {"lat": 47.6, "lon": -122.1}})
    outcome = graph.apply_updates([
        Update("truck-1", {"acceleration": {"x": 0.1, "y": 0.0, "z": 9.8}}, telemetry=True),
        Update("truck-1", {"acceleration": {"x": "fast"}}, telemetry=True),
        Update("truck-1", {"position": {"lat": 48.0, "lon": -122.0}}),
    ])
    assert outcome.accepted == 2 and [r.kind.value for r in outcome.refusals] == ["invalid_value"]
    assert graph.get_twin("truck-1")["position"] == {"lat": 48.0, "lon": -122.0}


def test_display_hints_of_exported_templates_are_accepted() -> None:
    exported = template({"@type": ["Telemetry", "Temperature"], "name": "temp", "schema": "double",
                         "unit": "degreeCelsius", "displayUnit": {"en": "°C"}, "decimalPlaces": 1,
                         "minValue": -40, "maxValue": 85})
    parse_models([exported])
