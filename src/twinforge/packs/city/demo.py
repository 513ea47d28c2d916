"""The city demo's district: CIGRE's MV grid, 30 buildings on its buses, the public services,
a 3x3 street grid from SUMO's netgenerate (when SUMO is installed), geometry for the 3D scene,
and the live jobs that tie them (`DistrictEnergy`; the streets' `traffic_run.TrafficFeed`)."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from twinforge.errors import NotFound
from twinforge.graph.updates import Update
from twinforge.packs.city import district, grid, services

log = logging.getLogger("twinforge.city")

GRID = "mv"
STREETS = "streets"
ROOT = "district-1"
DISTRICT = "dtmi:twinforge:city:District;1"
SCENE_URL = f"/ui/scene/{ROOT}?rel=isPartOf&color=heaterPower&min=0&max=400000"
BUSES = (3, 4, 5, 6, 8, 9, 10, 11, 13, 14)  # CIGRE MV buses with residential and commercial loads


def models() -> list[dict[str, Any]]:
    return [{"@context": "dtmi:dtdl:context;3", "@id": DISTRICT, "@type": "Interface", "displayName": "District",
             "contents": [{"@type": "Property", "name": "name", "schema": "string"},
                          {"@type": "Property", "name": "outdoorTemperature", "schema": "double", "writable": True},
                          {"@type": "Property", "name": "simHour", "schema": "double", "writable": True},
                          {"@type": "Property", "name": "buildingsMw", "schema": "double", "writable": True}]},
            {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:twinforge:city:DistrictBuilding;1",
             "@type": "Interface", "displayName": "Building in a district", "extends": district.BUILDING,
             "contents": [{"@type": "Relationship", "name": "isPartOf", "target": DISTRICT}]}]


def load_district(graph: Any, buildings: int = 30, seed: int = 11) -> dict[str, int]:
    """Everything the demo runs on (skipped if already there)."""
    try:
        graph.get_twin(ROOT)
        return {"twins": 0}
    except NotFound:
        pass
    from twinforge.geometry import Geometry, Transform, box_glb
    from twinforge.packs.city.grid_whatif import cigre_mv

    district.ensure_models(graph)
    services.ensure_models(graph)
    if DISTRICT not in graph.models:
        graph.add_models(models())
    counts = grid.import_network(graph, cigre_mv(), GRID)
    graph.create_twin(ROOT, {"$metadata": {"$model": DISTRICT}, "name": "Demo district"})
    rng = np.random.default_rng(seed)
    docs = []
    for k in range(buildings):
        doc = district.building(float(rng.uniform(2e-5, 8e-5)), float(rng.uniform(5e8, 2e9)),
                                heat_pump_share=float(rng.choice([0.0, 0.3, 1.0])))
        doc["$metadata"]["$model"] = "dtmi:twinforge:city:DistrictBuilding;1"
        docs.append((f"bldg-{k:02d}", int(BUSES[k % len(BUSES)]), doc))
    district.add_buildings(graph, GRID, docs)
    graph.create_relationships([(tid, f"{tid}-isPartOf", {"$relationshipName": "isPartOf", "$targetId": ROOT})
                                for tid, _, _ in docs])
    graph.create_twins(services.district_services())
    geometry = Geometry(graph.store)
    geometry.put(ROOT, box_glb((260.0, 1.0, 260.0), (0.5, 0.55, 0.5, 1.0), "ground"), None,
                 Transform(translation=[0.0, -0.5, 0.0]))
    for k, (tid, _, _) in enumerate(docs):
        height = float(rng.uniform(8, 40))
        x, z = (k % 6) * 40.0 - 100.0, (k // 6) * 40.0 - 80.0
        geometry.put(tid, box_glb((24.0, height, 24.0), (0.85, 0.85, 0.85, 1.0), tid), None,
                     Transform(translation=[x, height / 2, z]))
    streets = add_streets(graph)
    return {"twins": graph.store.count_twins(), "buildings": buildings, **{f"grid {t}": n for t, n in counts.items()},
            **{f"streets {t}": n for t, n in streets.items()}}


def add_streets(graph: Any) -> dict[str, int]:
    """The district's streets: netgenerate's 3x3 grid with a day of random flows and a loop on
    every lane; nothing (said in the log) when SUMO is not installed."""
    from twinforge.errors import MissingDependency
    from twinforge.packs.city import traffic

    try:
        traffic.sumo_home()
        traffic.sumolib()
    except MissingDependency as exc:
        log.warning("the district has no streets: %s", exc)
        return {}
    return traffic.demo_network(graph, STREETS, size=3, flows=40, seed=1, end=86400.0)


class DistrictEnergy:
    """Once a run: the sim clock's outdoor temperature to every building, each building's
    heating and cooling (held at its setpoints) on its twin and its electric demand on its
    grid bus, then a power flow on the grid's twins."""

    def __init__(self, graph: Any, weather: district.Weather | None = None, speedup: float = 600.0) -> None:
        self.graph = graph
        self.weather = weather or district.synthetic_weather()
        self.speedup = speedup
        self.started = time.time()
        self.base: dict[str, float] = {}  # load twin -> its pMw before the buildings
        self.runs = 0

    def hour(self) -> int:
        return int(24 * 15 + (time.time() - self.started) * self.speedup / 3600.0) % len(self.weather.temperature)

    def run_once(self) -> dict[str, float]:
        hour = self.hour()
        outdoor = self.weather.temperature[hour: hour + 1]
        updates: list[Update] = []
        per_bus: dict[int, float] = {}
        for row in self.graph.query(f"SELECT B, X FROM DIGITALTWINS B JOIN X RELATED B.suppliedBy "
                                    f"WHERE IS_OF_MODEL(B, '{district.BUILDING}')"):
            doc, bus = row["B"], int(row["X"]["ppIndex"])
            r = float(doc["thermalResistance"])
            heat = max(0.0, (float(doc["heatingSetpoint"]) - float(outdoor[0])) / r)
            cool = max(0.0, (float(outdoor[0]) - float(doc["coolingSetpoint"])) / r)
            updates.append(Update(doc["$dtId"], {"outdoorTemperature": float(outdoor[0]), "heaterPower": heat - cool},
                                  source="district"))
            per_bus[bus] = per_bus.get(bus, 0.0) + float(district.electric_demand(doc, outdoor)[0])
        electric = sum(per_bus.values())
        for rel in self.graph.list_relationships(GRID, "hasElement"):
            target = rel["$targetId"]
            if not target.startswith(f"{GRID}-load-"):
                continue
            load = self.graph.get_twin(target)
            bus = self.graph.list_relationships(target, "atBus")[0]["$targetId"]
            index = int(bus.rsplit("-", 1)[1])
            base = self.base.setdefault(target, float(load["pMw"]))
            extra = per_bus.pop(index, 0.0)  # the first load at a bus takes its buildings
            updates.append(Update(target, {"pMw": base + extra}, source="district"))
        updates.append(Update(ROOT, {"outdoorTemperature": float(outdoor[0]), "simHour": float(hour),
                                     "buildingsMw": round(electric, 4)}, source="district"))
        self.graph.apply_updates(updates)
        kpis = grid.run_power_flow(self.graph, GRID)
        self.runs += 1
        return kpis


__all__ = ["GRID", "ROOT", "SCENE_URL", "STREETS", "DistrictEnergy", "add_streets", "load_district", "models"]
