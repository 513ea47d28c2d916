"""`twinforge bench sim`: how fast scenarios run.

- Stepping: 10,000 ThermalZone twins for one simulated day at 1-minute steps (1,440 steps)
  through the engine, against a plain NumPy loop of the same equation on the same arrays,
  in the same run (goal: at least 50 % of the plain loop's twin-steps per second).
- A 200-run Monte Carlo sweep (20 turbofans to failure per run, noisy sensors) on a Dask
  LocalCluster of 1 and of 2 worker processes (clusters started before the clock).
- Scenario start-up on a 10,000-twin graph: forking the scope from the store, and building
  a sandbox store from the fork.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from twinforge.benchmarking import spread, timed
from twinforge.graph import TwinGraph
from twinforge.sim import Scenario, Snapshot, fork, library, sandbox, simulate
from twinforge.sim.sweep import run_sweep

ZONE = library.NS + "ThermalZone;1"
ENGINE = library.NS + "Turbofan;1"


def zones(n: int, seed: int = 1) -> dict[str, dict[str, Any]]:
    rng = np.random.default_rng(seed)
    return {f"zone-{i:05d}": {"$metadata": {"$model": ZONE}, "temperature": float(rng.uniform(15, 22)),
                              "outdoorTemperature": float(rng.uniform(-5, 15)),
                              "heaterPower": float(rng.uniform(0, 3000)),
                              "thermalResistance": float(rng.uniform(0.002, 0.02)),
                              "thermalCapacitance": float(rng.uniform(5e5, 5e6))} for i in range(n)}


def numpy_loop(twins: dict[str, dict[str, Any]], steps: int, dt: float) -> np.ndarray:
    """The same first-order update, written directly on arrays: the baseline."""
    docs = list(twins.values())
    t = np.array([d["temperature"] for d in docs])
    out = np.array([d["outdoorTemperature"] for d in docs])
    p = np.array([d["heaterPower"] for d in docs])
    r = np.array([d["thermalResistance"] for d in docs])
    c = np.array([d["thermalCapacitance"] for d in docs])
    for _ in range(steps):
        steady = out + p * r
        t = steady + (t - steady) * np.exp(-dt / (r * c))
    return t


def main(quick: bool, progress: Any) -> dict[str, Any]:
    n = 1_000 if quick else 10_000
    steps = 60 if quick else 1_440
    runs = 20 if quick else 200
    repeat = 3
    results: dict[str, Any] = {"twins": n, "steps": steps, "runs": runs}
    models = library.models()
    twins = zones(n)
    snapshot = Snapshot(models, twins, [], time.time())
    progress(f"{n:,} zones x {steps:,} steps through the engine and as a plain NumPy loop")
    engine_times, loop_times = [], []
    for _ in range(repeat):  # interleaved, so both see the same machine
        engine_times.append(timed(lambda: simulate(snapshot, horizon=steps * 60.0, step=60.0, record=0), 1)[0])
        loop_times.append(timed(lambda: numpy_loop(twins, steps, 60.0), 1)[0])
    final = simulate(snapshot, horizon=steps * 60.0, step=60.0, record=0).final
    direct = numpy_loop(twins, steps, 60.0)
    results["max_difference"] = float(max(abs(final[(t, "temperature")] - direct[i]) for i, t in enumerate(twins)))
    results["engine_s"], results["engine_range"] = statistics.median(engine_times), engine_times
    results["loop_s"], results["loop_range"] = statistics.median(loop_times), loop_times
    results["engine_twin_steps_per_s"] = n * steps / results["engine_s"]
    results["loop_twin_steps_per_s"] = n * steps / results["loop_s"]
    results["engine_vs_loop"] = results["engine_twin_steps_per_s"] / results["loop_twin_steps_per_s"]

    progress(f"{runs}-run Monte Carlo sweep on 1 and 2 Dask workers")
    from distributed import Client, LocalCluster

    engines = {f"engine-{i:02d}": {"$metadata": {"$model": ENGINE}, "degradationRate": 0.02 + 0.0005 * i}
               for i in range(20)}
    fleet = Snapshot(models, engines, [], time.time())
    scenario = Scenario.from_dict({
        "id": "fleet-life", "scope": "SELECT T FROM DIGITALTWINS T", "horizon": f"PT{400 if not quick else 50}H",
        "step": "PT1H", "record": 0,
        "kpis": [{"name": "health", "twin": "engine-00", "property": "health", "agg": "last"},
                 {"name": "sensor4", "twin": "engine-00", "property": "sensor4", "agg": "last"}],
        "sweep": {"runs": runs, "parameters": [{"twin": "engine-00", "property": "degradationRate",
                                                "distribution": {"type": "normal", "mean": 0.02, "std": 0.002}}]}})
    for workers in (1, 2):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
        try:
            client.wait_for_workers(workers)
            results[f"sweep_{workers}w_s"], results[f"sweep_{workers}w_range"] = timed(
                lambda c=client: run_sweep(scenario, fleet, client=c, batch=10), repeat)
        finally:
            client.close()
            cluster.close()
    results["sweep_speedup"] = results["sweep_1w_s"] / results["sweep_2w_s"]

    progress(f"start-up on a {n:,}-twin graph")
    with tempfile.TemporaryDirectory() as tmp:
        graph = TwinGraph.open(f"sqlite:///{Path(tmp) / 'live.db'}")
        graph.add_models(models)
        graph.create_twins(list(twins.items()))
        scope = f"SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{ZONE}')"
        results["fork_s"], results["fork_range"] = timed(lambda: fork(graph, scope), repeat)
        forked = fork(graph, scope)
        results["sandbox_s"], results["sandbox_range"] = timed(lambda: sandbox(forked).close(), repeat)
        graph.close()
    return results



def report(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    r = results
    return [
        (f"{r['twins']:,} ThermalZones x {r['steps']:,} steps (engine)",
         f"{r['engine_twin_steps_per_s'] / 1e6:.1f} M twin-steps/s",
         f"plain NumPy loop {r['loop_twin_steps_per_s'] / 1e6:.1f} M/s: {r['engine_vs_loop']:.0%} "
         f"(goal >= 50%); runs {spread(r['engine_range'])} s vs {spread(r['loop_range'])} s"),
        ("engine vs loop: largest difference", f"{r['max_difference']:.1e} °C", "same equation, same result"),
        (f"{r['runs']}-run sweep, 1 Dask worker", f"{r['sweep_1w_s']:.2f} s", spread(r["sweep_1w_range"]) + " s"),
        (f"{r['runs']}-run sweep, 2 Dask workers", f"{r['sweep_2w_s']:.2f} s",
         f"speed-up {r['sweep_speedup']:.2f}x (2 cores); runs {spread(r['sweep_2w_range'])} s"),
        (f"fork of {r['twins']:,} twins from the store", f"{r['fork_s']:.2f} s", spread(r["fork_range"]) + " s"),
        (f"sandbox store of {r['twins']:,} twins", f"{r['sandbox_s']:.2f} s", spread(r["sandbox_range"]) + " s"),
    ]
