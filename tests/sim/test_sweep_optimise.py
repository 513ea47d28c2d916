"""Sweeps on a real Dask LocalCluster (2 workers), optimisation against known optima, and
live mode writing through the ingest path."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from tests.requirements import need_module
from twinforge.errors import InvalidArgument
from twinforge.graph import TwinGraph
from twinforge.history import History
from twinforge.sim import Scenario, fork, library
from twinforge.sim.live import run_live
from twinforge.sim.optimise import optimise
from twinforge.sim.sweep import Sweep, run_batch, run_sweep

ZONE = "dtmi:twinforge:sim:ThermalZone;1"
PUMP = "dtmi:twinforge:sim:CentrifugalPump;1"
R, C, OUT, T0 = 0.01, 1.0e6, 5.0, 18.0


@pytest.fixture
def plant(graph: TwinGraph) -> TwinGraph:
    graph.add_models(library.models())
    graph.create_twin("zone-1", {"$metadata": {"$model": ZONE}, "temperature": T0, "outdoorTemperature": OUT,
                                 "heaterPower": 1000.0, "thermalResistance": R, "thermalCapacitance": C})
    graph.create_twin("pump-1", {"$metadata": {"$model": PUMP}, "speed": 1450.0, "staticHead": 0.0,
                                 "wearRate": 0.0})
    return graph


def zone_doc(**extra: Any) -> dict[str, Any]:
    return {"id": "z", "scope": f"SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{ZONE}')",
            "horizon": "PT6H", "step": "PT5M",
            "kpis": [{"name": "finalTemp", "twin": "zone-1", "property": "temperature", "agg": "last"},
                     {"name": "heatUsed", "twin": "zone-1", "property": "heaterPower", "agg": "integral"}],
            **extra}


def final_temperature(power: float, hours: float = 6.0) -> float:
    x = math.exp(-hours * 3600 / (R * C))
    steady = OUT + power * R
    return steady + (T0 - steady) * x


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    need_module("distributed")
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_a_grid_sweep_on_two_dask_workers(plant: TwinGraph, dask_client: Any) -> None:
    powers = [500.0, 1000.0, 1500.0, 2000.0]
    scenario = Scenario.from_dict(zone_doc(sweep={"parameters": [
        {"twin": "zone-1", "property": "heaterPower", "values": powers}], "percentiles": [0, 50, 100]}))
    snapshot = fork(plant, scenario.scope)
    result = run_sweep(scenario, snapshot, client=dask_client, batch=2)
    assert result.workers == 2 and len(result.runs) == 4
    finals = sorted(r["kpis"]["finalTemp"] for r in result.runs)
    assert finals == pytest.approx([final_temperature(p) for p in powers], rel=1e-9)
    assert result.percentiles["finalTemp"]["p0"] == pytest.approx(final_temperature(500.0))
    assert result.percentiles["finalTemp"]["p100"] == pytest.approx(final_temperature(2000.0))


def test_monte_carlo_percentiles_match_the_distribution(plant: TwinGraph, dask_client: Any) -> None:
    scenario = Scenario.from_dict(zone_doc(horizon="P2D", step="PT30M", sweep={"runs": 400, "parameters": [
        {"twin": "zone-1", "property": "outdoorTemperature", "distribution": {"type": "normal", "mean": 5, "std": 2}}]}))
    result = run_sweep(scenario, fork(plant, scenario.scope), client=dask_client, batch=100)
    # After two days the zone sits at outdoor + P·R: normal with mean 15, std 2.
    row = result.percentiles["finalTemp"]
    assert row["mean"] == pytest.approx(15.0, abs=0.3) and row["std"] == pytest.approx(2.0, rel=0.15)
    assert row["p5"] == pytest.approx(15.0 - 1.645 * 2, abs=0.5)


def test_replicas_give_the_same_kpis_as_single_runs(plant: TwinGraph) -> None:
    scenario = Scenario.from_dict(zone_doc())
    snapshot = fork(plant, scenario.scope)
    sets = Sweep.parse({"parameters": [{"twin": "zone-1", "property": "heaterPower", "values": [700, 1300]}]})
    batch = run_batch(snapshot, scenario, sets.override_sets(0))
    for overrides, kpis in zip(sets.override_sets(0), batch, strict=True):
        single = scenario.kpis_of(snapshot, scenario.run_variant(snapshot, overrides))
        assert kpis == pytest.approx(single)


def test_bad_sweeps_are_refused(plant: TwinGraph) -> None:
    for block, message in [({"parameters": []}, "sweep: 'parameters': must not be empty"),
                           ({"parameters": [{"twin": "zone-1", "property": "x", "values": []}]},
                            r"'parameters\[0\].values': must not be empty"),
                           ({"parameters": [{"twin": "zone-1", "property": "x", "values": [1, "2"]}]},
                            r"'parameters\[0\].values\[1\]': must be a number, got '2'"),
                           ({"parameters": [{"twin": "zone-1", "property": "x", "values": [1],
                                             "distribution": {"type": "normal", "mean": 1, "std": 1}}]},
                            "give either values"),
                           ({"parameters": [{"twin": "zone-1", "property": "x",
                                             "distribution": {"type": "uniform", "low": 0, "high": 1, "std": 1}}]},
                            "a uniform distribution takes low, high, not std"),
                           ({"parameters": [{"twin": "zone-1", "property": "x", "values": [1]}], "percentiles": [101]},
                            r"'percentiles\[0\]': must be <= 100"),
                           ({"parameters": [{"twin": "zone-1", "property": "x",
                                             "distribution": {"type": "poisson"}}]},
                            r"'parameters\[0\].distribution.type': must be 'normal', 'uniform'")]:
        with pytest.raises(InvalidArgument, match=message):
            Sweep.parse(block)


def test_least_heater_power_that_keeps_the_zone_warm(plant: TwinGraph) -> None:
    scenario = Scenario.from_dict(zone_doc(optimise={
        "variables": [{"twin": "zone-1", "property": "heaterPower", "bounds": [0, 5000], "initial": 4000}],
        "minimise": "heatUsed", "constraints": [{"kpi": "finalTemp", "min": 21}]}))
    result = optimise(scenario, fork(plant, scenario.scope))
    x = math.exp(-6 * 3600 / (R * C))
    best = ((21 - T0 * x) / (1 - x) - OUT) / R
    assert result.success, result.message
    assert result.values["zone-1.heaterPower"] == pytest.approx(best, rel=1e-4)
    assert result.kpis["finalTemp"] == pytest.approx(21.0, abs=1e-3)


def test_pump_speed_for_a_required_flow_at_least_energy(plant: TwinGraph) -> None:
    scenario = Scenario.from_dict({
        "id": "p", "scope": f"SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{PUMP}')", "horizon": "PT1H",
        "step": "PT10M",
        "kpis": [{"name": "energy", "twin": "pump-1", "property": "shaftPower", "agg": "integral"},
                 {"name": "flow", "twin": "pump-1", "property": "flow", "agg": "last"}],
        "optimise": {"variables": [{"twin": "pump-1", "property": "speed", "bounds": [300, 2900]}],
                     "minimise": "energy", "constraints": [{"kpi": "flow", "min": 40}],
                     "method": "differential_evolution", "maxEvaluations": 600}})
    snapshot = fork(plant, scenario.scope)
    rated_flow = math.sqrt(40.0 / (0.004 + 0.006))  # at 1450 rpm with no static head
    result = optimise(scenario, snapshot)
    assert result.success, result.message
    assert result.values["pump-1.speed"] == pytest.approx(1450 * 40 / rated_flow, rel=2e-3)
    with pytest.raises(InvalidArgument, match="must name a KPI"):
        optimise(Scenario.from_dict({**scenario.document, "optimise": {
            "variables": [{"twin": "pump-1", "property": "speed", "bounds": [300, 2900]}],
            "minimise": "nothing"}}), snapshot)


def test_live_mode_writes_through_the_ingest_path(plant: TwinGraph) -> None:
    scenario = Scenario.from_dict(zone_doc(horizon="PT1H", step="PT1M"))
    etag = plant.get_twin("zone-1")["$etag"]
    stats = run_live(plant, scenario, speed=600.0, steps=5)  # five simulated minutes, 0.5 s
    assert stats.steps == 5 and stats.updates == 5 and stats.refused == 0
    twin = plant.get_twin("zone-1")
    assert twin["$etag"] != etag and twin["temperature"] != T0
    points = History(plant.store).read_range("zone-1", "temperature", limit=100)
    assert len(points) == 1 + 5 and np.isclose(points[-1]["value"], twin["temperature"])
    events = [e.type for e in plant.events()]
    assert events.count("Twin.Update") >= 5
    stop = threading.Event()
    stop.set()
    assert run_live(plant, scenario, speed=1.0, stop=stop).steps == 0
