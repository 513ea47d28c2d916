"""Simulation and what-if: behaviour models animate twins; scenarios fork the live graph
(now or as of a past time) into a sandbox, run a baseline and a variant, and compare KPIs;
sweeps run many variants on Dask; optimisation searches the variants with SciPy."""

from twinforge.sim.behaviour import (
    Behaviour,
    OdeBehaviour,
    PerTwinBehaviour,
    Registry,
    Var,
    default_registry,
)
from twinforge.sim.engine import Override, Trajectory, simulate
from twinforge.sim.fork import Snapshot, fork, sandbox
from twinforge.sim.library import Battery, CentrifugalPump, ThermalZone, Turbofan
from twinforge.sim.scenario import Kpi, Scenario, ScenarioResult

__all__ = ["Battery", "Behaviour", "CentrifugalPump", "Kpi", "OdeBehaviour", "Override", "PerTwinBehaviour",
           "Registry", "Scenario", "ScenarioResult", "Snapshot", "ThermalZone", "Trajectory", "Turbofan", "Var",
           "default_registry", "fork", "sandbox", "simulate"]
