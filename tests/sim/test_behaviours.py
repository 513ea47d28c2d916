"""Behaviour kinds and the registry: plain Python, ODE systems, an FMU built with pythonfmu
(offline), SimPy processes; behaviours follow `extends`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.requirements import need_module
from twinforge.dtdl import parse_models
from twinforge.sim import (
    OdeBehaviour,
    PerTwinBehaviour,
    Registry,
    Snapshot,
    ThermalZone,
    Var,
    simulate,
)
from twinforge.sim.adapters import FmuBehaviour, SimPyBehaviour, TwinView
from twinforge.sim.behaviour import Values
from twinforge.sim.library import models as sim_models

CTX = "dtmi:dtdl:context;3"


def tank_model(extra: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    base = {"@context": CTX, "@id": "dtmi:ex:Tank;1", "@type": "Interface", "contents": [
        {"@type": "Property", "name": n, "schema": "double"} for n in ("level", "inflow", "area", "outflowCoefficient")]}
    child = {"@context": CTX, "@id": "dtmi:ex:BigTank;1", "@type": "Interface", "extends": "dtmi:ex:Tank;1",
             "contents": extra or []}
    return [base, child]


class DrainingTank(OdeBehaviour):
    """Torricelli: A·dh/dt = inflow - k·√h."""

    model = "dtmi:ex:Tank;1"
    variables = (Var("level", "state", "m", 1.0), Var("inflow", "input", "m³/s", 0.0),
                 Var("area", "parameter", "m²", 1.0), Var("outflowCoefficient", "parameter", "", 0.1))

    def derivatives(self, t: float, states: Values, values: Values) -> Values:
        h = np.maximum(states["level"], 0.0)
        return {"level": (values["inflow"] - values["outflowCoefficient"] * np.sqrt(h)) / values["area"]}


def snapshot(models: list[dict[str, Any]], twins: dict[str, dict[str, Any]]) -> Snapshot:
    return Snapshot(models, twins, [], 0.0)


def test_an_ode_behaviour_matches_the_closed_form_and_extends_finds_it() -> None:
    registry = Registry([DrainingTank()])
    twins = {f"t{i}": {"$metadata": {"$model": "dtmi:ex:BigTank;1" if i else "dtmi:ex:Tank;1"}, "level": 4.0,
                       "area": 2.0, "outflowCoefficient": 0.2 * (i + 1)} for i in range(3)}
    snap = snapshot(tank_model(), twins)
    assert registry.for_model(snap.model_set(), "dtmi:ex:BigTank;1") is registry.for_model(
        snap.model_set(), "dtmi:ex:Tank;1")
    out = simulate(snap, horizon=10.0, step=1.0, registry=registry)
    # With no inflow: √h(t) = √h0 - k·t/(2A).
    for i in range(3):
        k = 0.2 * (i + 1)
        expected = (2.0 - k * 10.0 / (2 * 2.0)) ** 2
        assert out.final[(f"t{i}", "level")] == pytest.approx(expected, rel=1e-5)


class Counter(PerTwinBehaviour):
    model = "dtmi:ex:Tank;1"
    variables = (Var("level", "state"), Var("inflow", "input"))

    def step_one(self, t: float, dt: float, values: dict[str, float]) -> dict[str, float]:
        return {"level": values["level"] + values["inflow"] * dt}


def test_a_plain_python_behaviour_registers_in_a_few_lines() -> None:
    twins = {"a": {"$metadata": {"$model": "dtmi:ex:Tank;1"}, "level": 1.0, "inflow": 0.5}}
    out = simulate(snapshot(tank_model(), twins), horizon=10.0, step=2.0, registry=Registry([Counter()]))
    assert out.final[("a", "level")] == pytest.approx(6.0)
    assert out.get("a", "level").tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


class Machine(SimPyBehaviour):
    """Runs until it breaks (exponential, mean MTBF), is repaired (mean MTTR), runs again."""

    model = "dtmi:ex:Tank;1"
    variables = (Var("level", "state"), Var("inflow", "parameter", default=100.0),
                 Var("area", "parameter", default=20.0))

    def process(self, env: Any, twin: TwinView, rng: np.random.Generator) -> Generator[Any, Any, Any]:
        while True:
            twin.level = 1.0  # running
            yield env.timeout(rng.exponential(twin.inflow))
            twin.level = 0.0  # broken
            yield env.timeout(rng.exponential(twin.area))


def test_a_simpy_behaviour_has_the_availability_queueing_theory_predicts() -> None:
    twins = {f"m{i}": {"$metadata": {"$model": "dtmi:ex:Tank;1"}} for i in range(200)}
    out = simulate(snapshot(tank_model(), twins), horizon=20_000.0, step=10.0, registry=Registry([Machine()]))
    up = np.mean([out.get(f"m{i}", "level")[1:].mean() for i in range(200)])
    assert up == pytest.approx(100.0 / (100.0 + 20.0), abs=0.02)


FMU_SOURCE = '''
from pythonfmu import Fmi2Causality, Fmi2Slave, Real


class Room(Fmi2Slave):
    author = "twinforge tests"
    description = "a first-order room, as the ThermalZone behaviour"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.temperature = 20.0
        self.heaterPower = 0.0
        self.outdoorTemperature = 10.0
        self.thermalResistance = 0.005
        self.thermalCapacitance = 2.0e6
        self.register_variable(Real("temperature", causality=Fmi2Causality.output))
        self.register_variable(Real("heaterPower", causality=Fmi2Causality.input))
        self.register_variable(Real("outdoorTemperature", causality=Fmi2Causality.input))
        self.register_variable(Real("thermalResistance", causality=Fmi2Causality.parameter, variability="tunable"))
        self.register_variable(Real("thermalCapacitance", causality=Fmi2Causality.parameter, variability="tunable"))

    def do_step(self, current_time, step_size):
        import math
        r, c = self.thermalResistance, self.thermalCapacitance
        steady = self.outdoorTemperature + self.heaterPower * r
        self.temperature = steady + (self.temperature - steady) * math.exp(-step_size / (r * c))
        return True
'''


@pytest.fixture(scope="module")
def room_fmu(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_module("pythonfmu")
    need_module("fmpy")
    folder = tmp_path_factory.mktemp("fmu")
    (folder / "Room.py").write_text(FMU_SOURCE)
    subprocess.run([sys.executable, "-m", "pythonfmu", "build", "-f", str(folder / "Room.py"), "-d", str(folder)],
                   check=True, capture_output=True, cwd=folder)
    return folder / "Room.fmu"


def test_an_fmu_animates_twins_like_the_python_model(room_fmu: Path) -> None:
    variables = tuple(v for v in ThermalZone.variables)
    fmu = FmuBehaviour(room_fmu, "dtmi:twinforge:sim:ThermalZone;1", variables)
    twins = {f"z{i}": {"$metadata": {"$model": "dtmi:twinforge:sim:ThermalZone;1"}, "temperature": 15.0 + i,
                       "heaterPower": 1000.0 * i, "outdoorTemperature": 5.0} for i in range(3)}
    snap = snapshot(sim_models(), twins)
    by_fmu = simulate(snap, horizon=6 * 3600.0, step=300.0, registry=Registry([fmu]))
    by_python = simulate(snap, horizon=6 * 3600.0, step=300.0, registry=Registry([ThermalZone()]))
    for i in range(3):
        assert by_fmu.final[(f"z{i}", "temperature")] == pytest.approx(
            by_python.final[(f"z{i}", "temperature")], rel=1e-9)
    with pytest.raises(ValueError, match="has no variable 'nope'"):
        FmuBehaviour(room_fmu, "dtmi:x:Y;1", (Var("nope", "input"),))


def test_a_behaviour_without_a_model_is_refused() -> None:
    class Nameless(PerTwinBehaviour):
        variables = (Var("x", "state"),)

    with pytest.raises(ValueError, match="names no model"):
        Registry([Nameless()])


def test_models_parse() -> None:
    assert len(parse_models(sim_models())) == 4
