"""Public services as IoT twins: streetlights, parking spots, waste containers and air-quality
stations, on the smart-cities ontology where it has the concept.

- Streetlights are ``dtmi:twinforge:city:Streetlight;1``, extending the ontology's
  ``Streetlight`` (powerState, illuminanceLevel, ...) with the lamp's rated power, the dimming
  level the schedule sets, the power drawn and the energy used.
- Parking spots are the ontology's ``ParkingSpot`` as it is (``status``: free / occupied).
- Air-quality stations are the ontology's ``AirQualityObserved`` as it is (NO2, PM10, PM25, ...).
- Waste containers have no class in the ontology: ``dtmi:twinforge:city:WasteContainer;1``
  extends its ``NGSILDBaseModel`` with FIWARE's WasteContainer fields (``fillingLevel`` 0-1,
  capacity) and a position in metres on the district's plan.

`ServicesPublisher` plays the devices over MQTT (``twinforge/twins/{id}/properties``), as the
demo's other simulators do. `fill_forecast` reads a container's filling history and says when
it will be full; `plan_collection` sends a truck of limited capacity from the depot to every
container due within the horizon, on the shortest tour it finds (exact up to 8 stops, else
nearest neighbour improved by 2-opt).
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from twinforge.errors import InvalidArgument
from twinforge.packs.city import SMART_CITY
from twinforge.packs.publisher import DevicePublisher

CITY = SMART_CITY
NS = "dtmi:twinforge:city:"
STREETLIGHT = NS + "Streetlight;1"
CONTAINER = NS + "WasteContainer;1"
PARKING = CITY + "ParkingSpot;1"
AIR = CITY + "AirQualityObserved;1"
# the default dimming schedule: (from hour, dimming level %) over a day
SCHEDULE: tuple[tuple[float, float], ...] = ((0, 50.0), (5, 100.0), (7, 0.0), (18, 100.0), (23, 50.0))


# our interfaces: id -> (what it extends, display name, its properties (all writable doubles))
EXTENSIONS: dict[str, tuple[str, str, tuple[tuple[str, str], ...]]] = {
    STREETLIGHT: (CITY + "Streetlight;1", "Streetlight (metered)", (
        ("ratedPowerW", "the lamp's power at full light (W)"),
        ("dimLevel", "the light level the schedule sets (% of full)"),
        ("powerW", "the power drawn now (W)"),
        ("energyKwh", "energy used since the meter started (kWh)"))),
    CONTAINER: (CITY + "NGSILDBaseModel;1", "Waste container", (
        ("fillingLevel", "how full, 0-1 (FIWARE WasteContainer)"),
        ("capacityL", "volume (litres)"),
        ("x", "east on the district plan (m)"),
        ("y", "north on the district plan (m)"))),
}


def models() -> list[dict[str, Any]]:
    """The pack's service interfaces (DTDL v2, as the ontology they extend)."""
    return [{"@context": "dtmi:dtdl:context;2", "@id": dtmi, "@type": "Interface", "extends": base,
             "displayName": display,
             "contents": [{"@type": "Property", "name": name, "schema": "double", "writable": True,
                           "description": text} for name, text in props]}
            for dtmi, (base, display, props) in EXTENSIONS.items()]


def ensure_models(graph: Any) -> None:
    from twinforge.packs.city.grid import ontology

    if STREETLIGHT in graph.models:
        return
    if CITY + "Streetlight;1" not in graph.models:
        graph.add_models(ontology("smartcities"))
    graph.add_models(models())


def dim_level(hour: float, schedule: Sequence[tuple[float, float]] = SCHEDULE) -> float:
    """The dimming level (%) the schedule sets at ``hour`` of the day (0-24)."""
    level = schedule[-1][1]
    for start, value in schedule:
        if hour % 24 >= start:
            level = value
    return level


def daily_energy_kwh(rated_w: float, schedule: Sequence[tuple[float, float]] = SCHEDULE) -> float:
    """A lamp's energy over one day on ``schedule`` (power proportional to the light level)."""
    bounds = [s for s, _ in schedule] + [24.0]
    return sum(rated_w * level / 100.0 * (bounds[k + 1] - bounds[k])
               for k, (_, level) in enumerate(schedule)) / 1000.0


def fill_forecast(times: np.ndarray, levels: np.ndarray, *, full: float = 0.8) -> float | None:
    """Seconds from the last reading until the container reaches ``full``, from a straight-line
    fit of the readings since it was last emptied (a drop of more than 0.2); 0 if already
    there, None if it is not filling (or fewer than three readings)."""
    if len(levels) and levels[-1] >= full:
        return 0.0
    drops = np.nonzero(np.diff(levels) < -0.2)[0]
    start = int(drops[-1]) + 1 if len(drops) else 0
    t, y = times[start:], levels[start:]
    if len(t) < 3 or t[-1] <= t[0]:
        return None
    rate = float(np.polyfit(t - t[0], y, 1)[0])
    if rate <= 0:
        return None
    return float((full - y[-1]) / rate)


def due_containers(graph: Any, horizon: float, *, full: float = 0.8, since: str | None = None) -> dict[str, float]:
    """Containers forecast to be ``full`` within ``horizon`` seconds: id → seconds left."""
    from twinforge.history import History

    history = History(graph.store)
    out: dict[str, float] = {}
    for row in graph.query(f"SELECT C FROM DIGITALTWINS C WHERE IS_OF_MODEL(C, '{CONTAINER}')"):
        twin = row["C"]
        points = [p for p in history.read_range(twin["$dtId"], "fillingLevel", start=since, limit=10_000)
                  if isinstance(p["value"], (int, float))]
        if not points:
            continue
        left = fill_forecast(np.array([p["_ts"] / 1e6 for p in points]),
                             np.array([float(p["value"]) for p in points]), full=full)
        if left is not None and left <= horizon:
            out[twin["$dtId"]] = left
    return out


@dataclass
class Collection:
    """The truck tours of one collection round: each starts and ends at the depot."""

    tours: list[list[str]]
    distance_m: float

    def to_json(self) -> dict[str, Any]:
        return {"tours": self.tours, "distanceM": round(self.distance_m, 1)}


def _length(order: Iterable[int], d: np.ndarray) -> float:
    path = [0, *order, 0]
    return float(sum(d[a, b] for a, b in itertools.pairwise(path)))


def _tour(stops: list[int], d: np.ndarray) -> list[int]:
    """The shortest tour through ``stops`` (indices into d; 0 is the depot)."""
    if len(stops) <= 8:
        return list(min(itertools.permutations(stops), key=lambda p: _length(p, d))) if stops else []
    order, left = [], set(stops)
    here = 0
    while left:
        here = min(left, key=lambda s: d[here, s])
        order.append(here)
        left.remove(here)
    improved = True
    while improved:  # 2-opt: reverse a stretch while that shortens the tour
        improved = False
        for i in range(len(order) - 1):
            for j in range(i + 1, len(order)):
                candidate = order[:i] + order[i:j + 1][::-1] + order[j + 1:]
                if _length(candidate, d) < _length(order, d) - 1e-9:
                    order, improved = candidate, True
    return order


def plan_collection(containers: dict[str, tuple[float, float, float]], depot: tuple[float, float],
                    truck_litres: float) -> Collection:
    """Tours emptying ``containers`` (id → (x, y, litres to collect)) with trucks of
    ``truck_litres``: containers are taken by angle around the depot into loads that fit a
    truck (the sweep method), then each load's tour is made as short as `_tour` can."""
    if truck_litres <= 0:
        raise InvalidArgument("a truck's capacity must be more than 0 litres")
    too_big = [c for c, (_, _, litres) in containers.items() if litres > truck_litres]
    if too_big:
        raise InvalidArgument(f"container {too_big[0]} holds more than a truck takes ({truck_litres:g} L)")
    ids = sorted(containers, key=lambda c: math.atan2(containers[c][1] - depot[1], containers[c][0] - depot[0]))
    points = np.array([depot] + [containers[c][:2] for c in ids], dtype=float)
    d = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(-1))
    loads: list[list[int]] = [[]]
    room = truck_litres
    for k, c in enumerate(ids, start=1):
        if containers[c][2] > room:
            loads.append([])
            room = truck_litres
        loads[-1].append(k)
        room -= containers[c][2]
    tours = [_tour(load, d) for load in loads if load]
    return Collection([[ids[k - 1] for k in tour] for tour in tours], sum(_length(t, d) for t in tours))


def district_services(streets: int = 3, spacing: float = 200.0, seed: int = 5) -> list[tuple[str, dict[str, Any]]]:
    """Twins of a small district's services: a streetlight at every crossing and mid-block,
    two parking spots, a waste container and (at the centre) an air-quality station per block."""
    rng = random.Random(seed)
    twins: list[tuple[str, dict[str, Any]]] = []
    for i in range(streets + 1):
        for j in range(streets + 1):
            for k in range(2):  # at the crossing and mid-block
                twins.append((f"light-{i}{j}{k}", {"$metadata": {"$model": STREETLIGHT}, "ratedPowerW": 120.0,
                                                   "dimLevel": 0.0, "powerW": 0.0, "energyKwh": 0.0,
                                                   "powerState": "off", "status": "ok"}))
    for i in range(streets):
        for j in range(streets):
            block = f"{i}{j}"
            for k in range(2):
                twins.append((f"parking-{block}-{k}", {"$metadata": {"$model": PARKING}, "status": "free",
                                                      "category": "onStreet"}))
            twins.append((f"waste-{block}", {"$metadata": {"$model": CONTAINER}, "capacityL": 1100.0,
                                            "fillingLevel": round(rng.uniform(0.05, 0.5), 3),
                                            "x": (i + 0.5) * spacing, "y": (j + 0.5) * spacing}))
    twins.append(("air-centre", {"$metadata": {"$model": AIR}}))
    return twins


class ServicesPublisher(DevicePublisher):
    """Plays the district's service devices over MQTT on the sim clock: streetlights report
    the power the dimming schedule sets and their energy, parking spots flip, containers fill,
    the air-quality station follows the traffic's daily rhythm."""

    client_id = "twinforge-demo-services"

    def __init__(self, url: str, twins: Sequence[tuple[str, dict[str, Any]]], *, interval: float = 2.0,
                 speedup: float = 600.0, seed: int = 1) -> None:
        super().__init__(url)
        self.twins = list(twins)
        self.interval = interval
        self.speedup = speedup
        self.rng = random.Random(seed)
        self.fill = {t: float(d.get("fillingLevel", 0.1)) for t, d in self.twins if t.startswith("waste-")}
        self.energy = {t: 0.0 for t, _ in self.twins if t.startswith("light-")}
        self.started = time.time()

    def sim_hour(self) -> float:
        return ((time.time() - self.started) * self.speedup / 3600.0 + 17.0) % 24  # starts at 5 pm

    def messages(self, hours: float) -> list[tuple[str, dict[str, Any]]]:
        """One round of readings, ``hours`` of sim time after the previous one."""
        hour = self.sim_hour()
        out: list[tuple[str, dict[str, Any]]] = []
        for twin, doc in self.twins:
            if twin.startswith("light-"):
                level = dim_level(hour)
                power = float(doc["ratedPowerW"]) * level / 100.0
                self.energy[twin] += power * hours / 1000.0
                out.append((twin, {"dimLevel": level, "powerW": power, "energyKwh": round(self.energy[twin], 4),
                                   "powerState": "on" if level >= 100 else "low" if level > 0 else "off"}))
            elif twin.startswith("parking-"):
                busy = 0.8 if 8 <= hour < 19 else 0.3
                out.append((twin, {"status": "occupied" if self.rng.random() < busy else "free"}))
            elif twin.startswith("waste-"):
                level = self.fill[twin] + hours * self.rng.uniform(0.005, 0.02)
                self.fill[twin] = 0.02 if level >= 1.0 else level  # the demo's own truck empties it
                out.append((twin, {"fillingLevel": round(min(level, 1.0), 4)}))
            elif twin.startswith("air-"):
                rush = math.exp(-((hour - 8.5) ** 2) / 2) + math.exp(-((hour - 17.5) ** 2) / 2)
                out.append((twin, {"NO2": round(20 + 40 * rush + self.rng.gauss(0, 2), 1),
                                   "PM10": round(15 + 10 * rush + self.rng.gauss(0, 1), 1)}))
        return out

    def publish(self, client: Any) -> None:
        import orjson

        hours = self.interval * self.speedup / 3600.0
        while not self._stop.is_set():
            for twin, values in self.messages(hours):
                client.publish(f"twinforge/twins/{twin}/properties", orjson.dumps(values), qos=1)
                self.sent += 1
            self._stop.wait(self.interval)


__all__ = ["AIR", "CONTAINER", "PARKING", "SCHEDULE", "STREETLIGHT", "Collection", "ServicesPublisher",
           "daily_energy_kwh", "dim_level", "district_services", "due_containers", "ensure_models", "fill_forecast",
           "models", "plan_collection"]
