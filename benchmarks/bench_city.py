"""`twinforge bench city`: the city pack's engines through twins, against the engines alone.

- Power grid N-1 on MATPOWER case118 (186 lines and transformers): through twins (the network
  rebuilt from the grid's twins, every contingency run, each outcome written on its line or
  transformer twin) against a plain pandapower loop over the same network (goal: at least
  0.8x). Both must find the same worst loadings. Also the rate of building the grid's twins.
- District energy for one year at hourly steps (8,760 steps): RC ThermalZone twins for 30
  buildings through the simulation engine against a plain NumPy loop of the same equation.

- Traffic: SUMO on netgenerate's 3x3 street grid with heavy demand, vehicle-steps per second
  through twinforge (the run rebuilt from the twins, every simulated second's measurements of
  every changed segment, junction, light and loop written into the twins and their history
  through the ingest path) against SUMO alone on the same network and demand, stepping with
  nothing read (goal: at least 0.7x). Both runs must move the same vehicle-steps.
Quick mode: case14, one simulated month, five simulated minutes of traffic.
"""

from __future__ import annotations

import logging
import math
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from twinforge.benchmarking import spread
from twinforge.graph import TwinGraph
from twinforge.sim import Snapshot, library, simulate

ZONE = library.NS + "ThermalZone;1"


def plain_n_minus_1(net: Any) -> dict[str, float]:
    """Each line and transformer out in turn with pandapower alone: the largest loading after each."""
    import pandapower as pp

    worst: dict[str, float] = {}
    for table in ("line", "trafo"):
        for index in net[table].index[net[table].in_service]:
            net[table].at[index, "in_service"] = False
            try:
                pp.runpp(net, numba=False)
                loading = [net.res_line.loading_percent.max()]
                if len(net.res_trafo):
                    loading.append(net.res_trafo.loading_percent.max())
                worst[f"{table} {index}"] = float(max(loading))
            except pp.powerflow.LoadflowNotConverged:
                worst[f"{table} {index}"] = math.nan
            finally:
                net[table].at[index, "in_service"] = True
    return worst


def grid_run(case: str, repeat: int, progress: Any) -> dict[str, Any]:
    import pandapower.networks as pn

    from twinforge.packs.city.grid import import_network
    from twinforge.packs.city.grid_whatif import record_contingencies

    twin_times, plain_times, agree = [], [], True
    with tempfile.TemporaryDirectory() as tmp:
        graph = TwinGraph.open(f"sqlite:///{Path(tmp) / 'grid.db'}")
        try:
            began = time.perf_counter()
            counts = import_network(graph, getattr(pn, case)(), "g")
            import_s = time.perf_counter() - began
            for k in range(repeat):
                progress(f"N-1 on {case} through twins {k + 1}/{repeat}")
                began = time.perf_counter()
                rows = record_contingencies(graph, "g")
                twin_times.append(time.perf_counter() - began)
                progress(f"N-1 on {case}, pandapower alone {k + 1}/{repeat}")
                net = getattr(pn, case)()
                began = time.perf_counter()
                plain = plain_n_minus_1(net)
                plain_times.append(time.perf_counter() - began)
                ours = {r["element"]: r.get("maxLoadingPercent", math.nan) for r in rows}
                agree = agree and ours.keys() == plain.keys() and all(
                    (math.isnan(plain[e]) and math.isnan(ours[e])) or abs(plain[e] - ours[e]) < 1e-6 for e in plain)
        finally:
            graph.close()
    twins = sum(counts.values())
    return {"case": case, "contingencies": len(rows), "twins": twins, "import_s": import_s,
            "twin_s": statistics.median(twin_times), "plain_s": statistics.median(plain_times),
            "twin_range": twin_times, "plain_range": plain_times, "agree": agree,
            "ratio": statistics.median(plain_times) / statistics.median(twin_times)}


def district_snapshot(buildings: int, seed: int = 3) -> Snapshot:
    rng = np.random.default_rng(seed)
    twins = {f"building-{i:02d}": {"$metadata": {"$model": ZONE}, "temperature": 20.0, "outdoorTemperature": 5.0,
                                   "heaterPower": 0.0,
                                   "thermalResistance": float(rng.uniform(5e-4, 3e-3)),
                                   "thermalCapacitance": float(rng.uniform(2e7, 2e8))} for i in range(buildings)}
    return Snapshot(library.models(), twins, [], 0.0)


def outdoor(hours: int) -> np.ndarray:
    """A year's hourly outdoor temperature: a seasonal and a daily swing (°C)."""
    h = np.arange(hours, dtype=float)
    return 10.0 - 8.0 * np.cos(2 * np.pi * (h - 24 * 20) / 8760.0) - 4.0 * np.cos(2 * np.pi * (h - 4) / 24.0)


def heating(temperature: np.ndarray, resistance: np.ndarray, out: float) -> np.ndarray:
    """A thermostat to 20 °C: the power that holds the setpoint, capped at 200 kW."""
    return np.clip((20.0 - out) / resistance, 0.0, 2e5) * (temperature < 21.0)


def district_run(buildings: int, hours: int) -> tuple[float, float, float]:
    """Seconds through the engine, seconds for the plain loop, largest difference (°C)."""
    snapshot = district_snapshot(buildings)
    weather = outdoor(hours)
    resistance = np.array([t["thermalResistance"] for t in snapshot.twins.values()])
    capacitance = np.array([t["thermalCapacitance"] for t in snapshot.twins.values()])
    heat = heating(np.full(buildings, 20.0), resistance, float(weather.mean()))
    from twinforge.sim.engine import Override

    points = tuple(zip((np.arange(hours) * 3600.0).tolist(), weather.tolist(), strict=True))
    overrides = [Override(tid, "outdoorTemperature", series=points) for tid in snapshot.twins]
    overrides += [Override(tid, "heaterPower", float(heat[i])) for i, tid in enumerate(snapshot.twins)]
    began = time.perf_counter()
    trajectory = simulate(snapshot, horizon=hours * 3600.0, step=3600.0, overrides=overrides)
    engine_s = time.perf_counter() - began
    began = time.perf_counter()
    temp = np.full(buildings, 20.0)
    for h in range(hours):
        steady = weather[h] + heat * resistance
        temp = steady + (temp - steady) * np.exp(-3600.0 / (resistance * capacitance))
    loop_s = time.perf_counter() - began
    from twinforge.sim.engine import value_of

    final = np.array([value_of(trajectory, snapshot, tid, "temperature")[1][-1] for tid in snapshot.twins])
    return engine_s, loop_s, float(np.abs(final - temp).max())


def traffic_bench(end: float, repeat: int, progress: Any) -> dict[str, Any]:
    from twinforge.packs.city import traffic
    from twinforge.packs.city import traffic_run as tr

    with tempfile.TemporaryDirectory(prefix="twinforge-bench-traffic-") as tmp:
        net = traffic.grid_network(Path(tmp) / "net.xml", size=3)
        routes = traffic.write_demand(net, Path(tmp) / "routes.xml", flows=80, seed=1, end=end, per_hour=(60, 180))
        loops = traffic.write_detectors(net, Path(tmp) / "detectors.xml")
        graph = TwinGraph.open(f"sqlite:///{tmp}/traffic.db")
        try:
            counts = traffic.import_network(graph, "bench", net, routes=routes, detectors=loops)
            alone, twins, updates, steps, same = [], [], 0, 0, True
            for k in range(repeat):
                progress(f"SUMO alone and through twins, {end:.0f} simulated s {k + 1}/{repeat}")
                runs = {}
                for name in (("alone", "twins") if k % 2 == 0 else ("twins", "alone")):
                    start = time.perf_counter()
                    if name == "alone":
                        kpis = tr.run(tr.setup_of(graph, "bench"), tr.RunOptions(end=end, bare=True))
                    else:
                        feed = tr.TrafficFeed(graph, "bench", tr.RunOptions(end=end))
                        kpis = feed.run()
                        updates = feed.updates
                    runs[name] = (time.perf_counter() - start, kpis.vehicle_steps)
                alone.append(runs["alone"][0])
                twins.append(runs["twins"][0])
                steps = runs["twins"][1]
                same = same and runs["alone"][1] == runs["twins"][1]
        finally:
            graph.close()
    ratios = [a / t for a, t in zip(alone, twins, strict=True)]
    return {"end": end, "twins": sum(counts.values()), "vehicle_steps": steps, "updates": updates,
            "alone_range": alone, "twins_range": twins, "alone_s": statistics.median(alone),
            "twins_s": statistics.median(twins), "ratio_range": ratios, "ratio": statistics.median(ratios),
            "same": same}


def main(quick: bool, progress: Any) -> dict[str, Any]:
    logging.getLogger("pandapower").setLevel(logging.ERROR)  # "numba cannot be imported" at every run
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    repeat = 1 if quick else 3
    results: dict[str, Any] = {"grid": grid_run("case14" if quick else "case118", repeat, progress)}
    hours = 24 * 30 if quick else 8760
    engine_times, loop_times, diffs = [], [], []
    for k in range(repeat):
        progress(f"district of 30 buildings, {hours} hourly steps {k + 1}/{repeat}")
        engine_s, loop_s, diff = district_run(30, hours)
        engine_times.append(engine_s)
        loop_times.append(loop_s)
        diffs.append(diff)
    results["district"] = {"buildings": 30, "hours": hours, "engine_range": engine_times, "loop_range": loop_times,
                           "engine_s": statistics.median(engine_times), "loop_s": statistics.median(loop_times),
                           "max_difference": max(diffs)}
    results["traffic"] = traffic_bench(300.0 if quick else 900.0, repeat, progress)
    return results


def report(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    g, d, t = results["grid"], results["district"], results["traffic"]
    return [
        (f"grid twins built from {g['case']}", f"{g['twins'] / g['import_s']:,.0f} twins/s",
         f"{g['twins']} twins with their relationships in {g['import_s']:.2f} s"),
        (f"N-1 on {g['case']} through twins ({g['contingencies']} outages, outcomes on the twins)",
         f"{g['contingencies'] / g['twin_s']:.1f} outages/s",
         f"pandapower alone {g['contingencies'] / g['plain_s']:.1f}/s: {g['ratio']:.2f}x (goal >= 0.8x); "
         f"runs {spread(g['twin_range'])} s vs {spread(g['plain_range'])} s; "
         f"{'same worst loadings' if g['agree'] else 'RESULTS DIFFER'}"),
        (f"district, {d['buildings']} RC buildings x {d['hours']:,} hourly steps (engine)",
         f"{d['hours'] / d['engine_s']:,.0f} district-hours/s",
         f"plain NumPy loop {d['hours'] / d['loop_s']:,.0f}/s: {d['loop_s'] / d['engine_s']:.2f}x; "
         f"runs {spread(d['engine_range'], fmt='{:.3f}')} s vs {spread(d['loop_range'], fmt='{:.3f}')} s; "
         f"largest difference {d['max_difference']:.1e} °C"),
        (f"SUMO 3x3 street grid, {t['end']:.0f} simulated s through twins ({t['twins']} twins, "
         f"{t['updates']:,} twin updates)", f"{t['vehicle_steps'] / t['twins_s']:,.0f} vehicle-steps/s",
         f"SUMO alone {t['vehicle_steps'] / t['alone_s']:,.0f}/s: {t['ratio']:.2f}x "
         f"(runs {spread(t['ratio_range'], fmt='{:.2f}')}x; goal >= 0.7x); "
         f"{'same vehicle-steps' if t['same'] else 'RUNS DIFFER'}"),
    ]
