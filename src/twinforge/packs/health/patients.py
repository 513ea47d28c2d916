"""The 30 virtual patients of the UVA/Padova type 1 diabetes simulator (2008 parameter sets,
as published with simglucose, MIT): 10 adolescents, 10 adults and 10 children.

`virtual_patient(name)` gives one patient's parameters, initial state and therapy
(carbohydrate ratio, correction factor, total daily insulin); `names()` lists them.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources

from twinforge.errors import InvalidArgument

# Column names of the parameter file in the order of the model's 13 states.
STATE_COLUMNS = tuple(f"x0_{i:2d}" for i in range(1, 14))


@dataclass(frozen=True, slots=True)
class VirtualPatient:
    """One virtual patient: its UVA/Padova parameters (by the paper's names), its initial
    state (13 values, at the basal steady state) and its therapy settings."""

    name: str
    parameters: dict[str, float]
    state: tuple[float, ...]
    carb_ratio: float  # g of carbohydrate one unit of insulin covers
    correction_factor: float  # mg/dL one unit lowers
    age: float  # years
    total_daily_insulin: float  # U/day

    @property
    def weight(self) -> float:
        """Body weight (kg)."""
        return self.parameters["BW"]

    @property
    def basal_glucose(self) -> float:
        """Plasma glucose at the basal steady state (mg/dL)."""
        return self.parameters["Gb"]

    @property
    def basal_rate(self) -> float:
        """The insulin rate that holds the basal steady state (U/h)."""
        return self.parameters["u2ss"] * self.parameters["BW"] / 6000.0 * 60.0

    @property
    def group(self) -> str:
        """adolescent, adult or child."""
        return self.name.split("#")[0]


@functools.cache
def _table() -> dict[str, VirtualPatient]:
    folder = resources.files("twinforge.packs.health").joinpath("data")
    with folder.joinpath("quest.csv").open() as f:
        quest = {row["Name"]: row for row in csv.DictReader(f)}
    patients: dict[str, VirtualPatient] = {}
    with folder.joinpath("vpatient_params.csv").open() as f:
        for row in csv.DictReader(f):
            name = row["Name"]
            params = {k: float(v) for k, v in row.items() if k not in ("Name", "i") and not k.startswith("x0_")}
            state = tuple(float(row[c]) for c in STATE_COLUMNS)
            q = quest[name]
            patients[name] = VirtualPatient(name, params, state, float(q["CR"]), float(q["CF"]), float(q["Age"]),
                                            float(q["TDI"]))
    return patients


def names() -> list[str]:
    """The virtual patients' names: adolescent#001-010, adult#001-010, child#001-010."""
    return list(_table())


def virtual_patient(name: str) -> VirtualPatient:
    """One virtual patient by name (e.g. ``adult#001``)."""
    table = _table()
    if name not in table:
        raise InvalidArgument(f"unknown virtual patient '{name}' (known: adolescent#001-010, adult#001-010, "
                              "child#001-010)")
    return table[name]


__all__ = ["STATE_COLUMNS", "VirtualPatient", "names", "virtual_patient"]
