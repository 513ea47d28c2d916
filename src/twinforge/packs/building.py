"""The smart-building pack: RealEstateCore (DTDL v3, MIT) and a small demo building."""

from __future__ import annotations

import gzip
import json
from importlib import resources
from typing import Any

from twinforge.graph import TwinGraph

REC = "dtmi:digitaltwins:rec_3_3:"


def realestatecore() -> list[Any]:
    """The RealEstateCore ontology as a list of DTDL interfaces (767 of them)."""
    data = resources.files("twinforge.packs").joinpath("data/realestatecore.json.gz").read_bytes()
    docs: list[Any] = json.loads(gzip.decompress(data))
    return docs


def _twin(model: str, **props: Any) -> dict[str, Any]:
    return {"$metadata": {"$model": REC + model}, **props}


def demo_twins(levels: int = 3, rooms_per_level: int = 4) -> tuple[list[tuple[str, Any]],
                                                                      list[tuple[str, str, Any]]]:
    """Twins and relationships of a small office building with HVAC and room sensors."""
    twins: list[tuple[str, Any]] = [("building-1", _twin("core:Building;1", name="Forge House"))]
    rels: list[tuple[str, str, Any]] = []

    def rel(source: str, name: str, target: str) -> None:
        rels.append((source, f"{source}-{name}-{target}",
                     {"$relationshipName": name, "$targetId": target}))

    twins.append(("ahu-1", _twin("asset:AirHandlingUnit;1", name="AHU 1", serialNumber="AHU-0001")))
    rel("ahu-1", "locatedIn", "building-1")
    for lv in range(1, levels + 1):
        level = f"level-{lv}"
        twins.append((level, _twin("core:Level;1", name=f"Level {lv}", levelNumber=lv)))
        rel(level, "isPartOf", "building-1")
        for rn in range(1, rooms_per_level + 1):
            room = f"room-{lv}{rn:02d}"
            twins.append((room, _twin("core:Room;1", name=f"Room {lv}.{rn:02d}",
                                      personCapacity=8 if rn == 1 else 4)))
            rel(room, "isPartOf", level)
            vav = f"vav-{lv}{rn:02d}"
            twins.append((vav, _twin("asset:VAVBox;1", name=f"VAV {lv}.{rn:02d}")))
            rel(vav, "serves", room)
            rel(vav, "isFedBy", "ahu-1")
            for kind, model in (("temp", "device:TemperatureSensor;1"),
                                ("hum", "device:HumiditySensor;1"),
                                ("co2", "device:CO2AirQualitySensor;1")):
                sensor = f"{kind}-{lv}{rn:02d}"
                twins.append((sensor, _twin(model, name=f"{kind.upper()} {lv}.{rn:02d}")))
                rel(sensor, "isCapabilityOf", room)
                rel(room, "hasCapability", sensor)
    return twins, rels


def load_demo(graph: TwinGraph, *, levels: int = 3, rooms_per_level: int = 4) -> tuple[int, int]:
    """Load RealEstateCore (if missing) and the demo building into ``graph``."""
    if f"{REC}core:Building;1" not in graph.models:
        graph.add_models(realestatecore())
    twins, rels = demo_twins(levels, rooms_per_level)
    missing = [(i, d) for i, d in twins if graph.store.get_twin(i) is None]
    made = graph.create_twins(missing) if missing else 0
    new_rels = [r for r in rels if graph.store.get_relationship(r[0], r[1]) is None]
    linked = graph.create_relationships(new_rels) if new_rels else 0
    return made, linked
