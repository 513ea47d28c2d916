"""The smart-building pack: RealEstateCore (DTDL v3, MIT) and a small demo building."""

from __future__ import annotations

import gzip
import json
from importlib import resources
from typing import Any

from twinforge.graph import TwinGraph
from twinforge.packs.publisher import DevicePublisher

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


SCENE_URL = ("/ui/scene/building-1?rel=isPartOf&color=lastValue&via=hasCapability"
             "&model=dtmi:digitaltwins:rec_3_3:device:TemperatureSensor;1&min=17&max=27")


def demo_geometry(graph: TwinGraph, *, levels: int = 3, rooms_per_level: int = 4) -> int:
    """Boxes for the building's ground, levels and rooms (each placed in its parent's frame), so the
    3D view has something to show; returns how many twins got geometry."""
    from twinforge.geometry import Geometry, Transform, box_glb

    geometry = Geometry(graph.store)
    room_w, room_d, height = 6.0, 5.0, 3.2
    width = rooms_per_level * room_w
    geometry.put("building-1", box_glb((width + 4, 0.2, room_d + 4), (0.55, 0.6, 0.55, 1.0), "ground"),
                 None, Transform(translation=[0.0, -0.1, 0.0]))
    for lv in range(1, levels + 1):
        level = f"level-{lv}"
        geometry.put(level, box_glb((width, 0.2, room_d), (0.75, 0.75, 0.78, 1.0), level), None,
                     Transform(translation=[0.0, (lv - 1) * height + 0.1, 0.0]))
        for rn in range(1, rooms_per_level + 1):
            room = f"room-{lv}{rn:02d}"
            x = -width / 2 + (rn - 0.5) * room_w
            geometry.put(room, box_glb((room_w - 0.3, height - 0.5, room_d - 0.3), (0.85, 0.85, 0.85, 1.0), room),
                         None, Transform(translation=[x, 0.1 + (height - 0.5) / 2, 0.0]))
    return 1 + levels * (1 + rooms_per_level)


def load_demo(graph: TwinGraph, *, levels: int = 3, rooms_per_level: int = 4) -> tuple[int, int]:
    """Load RealEstateCore (if missing), the demo building and its geometry into ``graph``."""
    if f"{REC}core:Building;1" not in graph.models:
        graph.add_models(realestatecore())
    twins, rels = demo_twins(levels, rooms_per_level)
    missing = [(i, d) for i, d in twins if graph.store.get_twin(i) is None]
    made = graph.create_twins(missing) if missing else 0
    new_rels = [r for r in rels if graph.store.get_relationship(r[0], r[1]) is None]
    linked = graph.create_relationships(new_rels) if new_rels else 0
    if graph.store.get_blob("geometry/building-1") is None:
        demo_geometry(graph, levels=levels, rooms_per_level=rooms_per_level)
    return made, linked


class SensorSimulator(DevicePublisher):
    """Publishes plausible readings of the demo building's sensors over MQTT, like real devices."""

    KINDS = {"temp": (21.0, 0.3, 17.0, 27.0), "hum": (45.0, 1.0, 25.0, 70.0), "co2": (600.0, 25.0, 400.0, 1500.0)}
    client_id = "twinforge-demo-sensors"

    def __init__(self, url: str, sensors: list[str], *, interval: float = 2.0, seed: int = 1) -> None:
        import random

        super().__init__(url)
        self.sensors = sensors
        self.interval = interval
        self.rng = random.Random(seed)
        self.values = {s: self.KINDS[s.split("-")[0]][0] + self.rng.uniform(-1, 1) for s in sensors}

    def publish(self, client: Any) -> None:
        from twinforge.graph import utc_now

        while not self._stop.wait(self.interval):
            for sensor in self.sensors:
                _, step, low, high = self.KINDS[sensor.split("-")[0]]
                value = min(high, max(low, self.values[sensor] + self.rng.gauss(0, step)))
                self.values[sensor] = value
                payload = json.dumps({"lastValue": round(value, 2), "lastValueTime": utc_now()})
                client.publish(f"twinforge/twins/{sensor}/properties", payload, qos=1)
                self.sent += 1


def demo_sensor_ids(levels: int = 3, rooms_per_level: int = 4) -> list[str]:
    twins, _ = demo_twins(levels, rooms_per_level)
    return [t for t, _ in twins if t.split("-")[0] in SensorSimulator.KINDS]
