"""Buildings as RC thermal twins whose heat pumps load the power grid, and the weather that
drives them (EPW files): the cross-domain what-if "a heat wave" or "every building gets a heat
pump" shows in the grid's line loadings and voltages.

A building twin (``dtmi:twinforge:city:Building;1``) extends the simulation pack's
``ThermalZone`` (so the RC behaviour animates it) with a heating and a cooling setpoint, the
share of its heating done by a heat pump, the heat pump's and the chiller's COP, and a
``suppliedBy`` relationship to the grid bus that feeds it. With the zone held at its setpoint
by an ideal thermostat the first-order model needs ``(setpoint - outdoor) / R`` watts, which
is what `electric_demand` charges to the building's bus, hour by hour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from twinforge.errors import InvalidArgument
from twinforge.sim.library import NS as SIM

BUILDING = "dtmi:twinforge:city:Building;1"
EPW_FIELDS = 35  # the columns of an EPW data row (EnergyPlus Auxiliary Programs, "Weather Converter")


def models() -> list[dict[str, Any]]:
    """The building interface (DTDL v3, as the ThermalZone it extends)."""
    def prop(name: str, description: str, semantic: str | None = None, unit: str | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {"@type": "Property", "name": name, "schema": "double", "writable": True,
                                "description": description}
        if semantic:
            item["@type"] = ["Property", semantic]
            item["unit"] = unit
        return item

    return [{"@context": ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"],
             "@id": BUILDING, "@type": "Interface", "displayName": "Building (district energy)",
             "extends": SIM + "ThermalZone;1",
             "contents": [
                 prop("heatingSetpoint", "held by the thermostat in the cold", "Temperature", "degreeCelsius"),
                 prop("coolingSetpoint", "held by the thermostat in the heat", "Temperature", "degreeCelsius"),
                 prop("heatPumpShare", "share of the heating done by an electric heat pump (0-1)"),
                 prop("heatPumpCop", "the heat pump's coefficient of performance"),
                 prop("coolingCop", "the chiller's coefficient of performance"),
                 {"@type": "Relationship", "name": "suppliedBy",
                  "target": "dtmi:twinforge:city:grid:Bus;1", "maxMultiplicity": 1}]}]


@dataclass(frozen=True)
class Weather:
    """Hourly outdoor dry-bulb temperature (°C) of one site, from an EPW file or made up."""

    location: str
    temperature: np.ndarray  # one value per hour of the year, in file order

    def heat_wave(self, degrees: float, hours: slice | None = None) -> Weather:
        """The same weather ``degrees`` warmer (over ``hours``, or all year)."""
        warmer = self.temperature.copy()
        warmer[hours if hours is not None else slice(None)] += degrees
        return Weather(f"{self.location} +{degrees:g} °C", warmer)


def read_epw(path: str | Path) -> Weather:
    """An EnergyPlus weather file: the LOCATION header and the dry-bulb temperature of every
    hourly row (field 7). A row with the wrong number of fields, or a temperature that is
    missing (99.9) or not a number, is refused with its line number."""
    lines = Path(path).read_text(encoding="latin-1").splitlines()
    if not lines or not lines[0].startswith("LOCATION,"):
        raise InvalidArgument(f"{path}: not an EPW file (the first line must be LOCATION,...)")
    header = lines[0].split(",")
    location = ", ".join(p for p in header[1:4] if p)
    temperatures = []
    for number, line in enumerate(lines[8:], start=9):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) < EPW_FIELDS:
            raise InvalidArgument(f"{path}:{number}: {len(fields)} fields, an EPW data row has {EPW_FIELDS}")
        try:
            value = float(fields[6])
        except ValueError:
            raise InvalidArgument(f"{path}:{number}: dry-bulb temperature {fields[6]!r} is not a number") from None
        if value >= 99.9:
            raise InvalidArgument(f"{path}:{number}: the dry-bulb temperature is missing (99.9)")
        temperatures.append(value)
    if not temperatures:
        raise InvalidArgument(f"{path}: no hourly rows after the 8 header lines")
    return Weather(location, np.array(temperatures))


def write_epw(path: str | Path, weather: Weather, year: int = 2023) -> None:
    """An EPW file of ``weather``: its dry-bulb temperature, a dew point 5 K below, 70 %
    humidity, standard pressure, and 9999 in the other fields."""
    import datetime as dt

    start = dt.datetime(year, 1, 1)
    rows = ["LOCATION," + ",".join([weather.location.replace(",", " "), "", "", "twinforge", "0",
                                     "0", "0", "0", "0"]),
            "DESIGN CONDITIONS,0", "TYPICAL/EXTREME PERIODS,0", "GROUND TEMPERATURES,0",
            "HOLIDAYS/DAYLIGHT SAVINGS,No,0,0,0", "COMMENTS 1,written by twinforge", "COMMENTS 2,",
            f"DATA PERIODS,1,1,Data,Sunday, 1/ 1,{12}/{31}"]
    for hour, value in enumerate(weather.temperature):
        moment = start + dt.timedelta(hours=hour)
        fields = [str(moment.year), str(moment.month), str(moment.day), str(moment.hour + 1), "60", "?",
                  f"{value:.1f}", f"{value - 5:.1f}", "70", "101325"]
        fields += ["9999"] * (EPW_FIELDS - len(fields))
        rows.append(",".join(fields))
    Path(path).write_text("\n".join(rows) + "\n", encoding="latin-1")


def synthetic_weather(location: str = "Temperate city", mean: float = 10.0, seasonal: float = 8.0,
                      daily: float = 4.0) -> Weather:
    """A year of hours: a seasonal swing (coldest in late January) and a daily one (coldest at 4 am)."""
    h = np.arange(8760, dtype=float)
    temperature = mean - seasonal * np.cos(2 * np.pi * (h - 24 * 20) / 8760.0) \
        - daily * np.cos(2 * np.pi * (h - 4) / 24.0)
    return Weather(location, np.round(temperature, 1))


def building(resistance: float, capacitance: float, *, heat_pump_share: float = 0.0, heat_pump_cop: float = 3.0,
             cooling_cop: float = 3.5, heating: float = 20.0, cooling: float = 25.0) -> dict[str, Any]:
    """A building twin document."""
    return {"$metadata": {"$model": BUILDING}, "temperature": heating, "outdoorTemperature": 10.0,
            "heaterPower": 0.0, "thermalResistance": resistance, "thermalCapacitance": capacitance,
            "heatingSetpoint": heating, "coolingSetpoint": cooling, "heatPumpShare": heat_pump_share,
            "heatPumpCop": heat_pump_cop, "coolingCop": cooling_cop}


def electric_demand(doc: dict[str, Any], outdoor: np.ndarray) -> np.ndarray:
    """A building's electric power for heating and cooling (MW) each hour: the thermal power
    that holds the zone at its setpoints, through the heat pump's and chiller's COP."""
    r = float(doc["thermalResistance"])
    heat = np.clip((float(doc["heatingSetpoint"]) - outdoor) / r, 0.0, None)
    cool = np.clip((outdoor - float(doc["coolingSetpoint"])) / r, 0.0, None)
    electric = heat * float(doc.get("heatPumpShare", 0.0)) / float(doc.get("heatPumpCop", 3.0)) \
        + cool / float(doc.get("coolingCop", 3.5))
    return electric / 1e6


def bus_demand(graph: Any, grid: str, weather: Weather, *, heat_pump_share: float | None = None) -> dict[int, np.ndarray]:
    """Every building's electric demand, summed per grid bus (pandapower index → MW per hour).
    ``heat_pump_share`` overrides every building's own share (a heat-pump rollout)."""
    out: dict[int, np.ndarray] = {}
    for row in graph.query(f"SELECT B, X FROM DIGITALTWINS B JOIN X RELATED B.suppliedBy "
                           f"WHERE IS_OF_MODEL(B, '{BUILDING}') AND STARTSWITH(X.$dtId, '{grid}-bus-')"):
        doc = dict(row["B"])
        if heat_pump_share is not None:
            doc["heatPumpShare"] = heat_pump_share
        bus = int(row["X"]["ppIndex"])
        out[bus] = out.get(bus, 0.0) + electric_demand(doc, weather.temperature)
    return out


def peak_loads(demand: dict[int, np.ndarray], hour: int | None = None) -> list[tuple[int, float]]:
    """The (bus, MW) loads at ``hour``, or at the district's peak hour."""
    if not demand:
        return []
    total = sum(demand.values())
    at = int(np.argmax(total)) if hour is None else hour
    return [(bus, float(series[at])) for bus, series in sorted(demand.items())]


def district_what_if(graph: Any, grid: str, weather: Weather, *, heat_pump_share: float | None = None,
                     hour: int | None = None, band: tuple[float, float] = (0.95, 1.05)) -> Any:
    """The grid at the district's peak hour (or ``hour``) with every building's heating and
    cooling load added at its bus, against the grid without them."""
    from twinforge.packs.city.grid_whatif import GridChange, what_if

    loads = peak_loads(bus_demand(graph, grid, weather, heat_pump_share=heat_pump_share), hour)
    return what_if(graph, grid, GridChange(added_load=loads), band=band)


def ensure_models(graph: Any) -> None:
    from twinforge.packs.city import grid as grid_pack
    from twinforge.sim import library

    grid_pack.ensure_models(graph)
    if SIM + "ThermalZone;1" not in graph.models:
        graph.add_models([m for m in library.models() if m["@id"] == SIM + "ThermalZone;1"])
    if BUILDING not in graph.models:
        graph.add_models(models())


def add_buildings(graph: Any, grid: str, buildings: Sequence[tuple[str, int, dict[str, Any]]]) -> None:
    """Building twins (id, bus index, document), each related to its grid bus."""
    ensure_models(graph)
    from twinforge.packs.city.grid import twin_id

    graph.create_twins([(tid, doc) for tid, _, doc in buildings])
    graph.create_relationships([(tid, f"{tid}-suppliedBy", {"$relationshipName": "suppliedBy",
                                                           "$targetId": twin_id(grid, "bus", bus)})
                                for tid, bus, _ in buildings])


__all__ = ["BUILDING", "Weather", "add_buildings", "building", "bus_demand", "district_what_if", "electric_demand",
           "ensure_models", "models", "peak_loads", "read_epw", "synthetic_weather", "write_epw"]
