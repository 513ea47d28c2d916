"""Models for live-data tests: a sensor with properties, telemetry and a component."""

from __future__ import annotations

from typing import Any

CTX = "dtmi:dtdl:context;3"
BATTERY = {"@context": CTX, "@id": "dtmi:live:Battery;1", "@type": "Interface",
           "contents": [{"@type": "Property", "name": "level", "schema": "double"},
                        {"@type": "Telemetry", "name": "voltage", "schema": "double"}]}
DEVICE = {"@context": CTX, "@id": "dtmi:live:Device;1", "@type": "Interface",
          "contents": [{"@type": "Property", "name": "name", "schema": "string"}]}
SENSOR = {"@context": CTX, "@id": "dtmi:live:Sensor;1", "@type": "Interface", "extends": "dtmi:live:Device;1",
          "contents": [{"@type": "Property", "name": "temperature", "schema": "double"},
                       {"@type": "Property", "name": "seq", "schema": "integer"},
                       {"@type": "Property", "name": "online", "schema": "boolean"},
                       {"@type": "Telemetry", "name": "humidity", "schema": "double"},
                       {"@type": "Telemetry", "name": "reading", "schema": "double"},
                       {"@type": "Component", "name": "battery", "schema": "dtmi:live:Battery;1"}]}
VALVE = {"@context": CTX, "@id": "dtmi:live:Valve;1", "@type": "Interface", "extends": "dtmi:live:Device;1",
         "contents": [{"@type": "Property", "name": "open", "schema": "boolean"}]}
LIVE = [BATTERY, DEVICE, SENSOR, VALVE]


def sensor(**props: Any) -> dict[str, Any]:
    return {"$metadata": {"$model": "dtmi:live:Sensor;1"}, **props}


def valve(**props: Any) -> dict[str, Any]:
    return {"$metadata": {"$model": "dtmi:live:Valve;1"}, **props}
