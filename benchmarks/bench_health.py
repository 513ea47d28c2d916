"""`twinforge bench health`: how fast the health pack simulates patients and imports FHIR.

- Patient-days per second: the 30 UVA/Padova virtual patients for one day at 1-minute steps
  (three meals, each with its bolus) through the simulation engine, against a plain SciPy
  loop of the same equations in the same run: each patient stepped minute by minute with
  `solve_ivp`, as simglucose does (goal: at least 0.8x the loop). Both runs must agree.
- FHIR import: Synthea-shaped transaction bundles (tests/health/data/make_bundles.py) into a
  SQLite store, entries and history points per second.
"""

from __future__ import annotations

import importlib.util
import json
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.integrate import solve_ivp

from twinforge.benchmarking import spread
from twinforge.graph import TwinGraph
from twinforge.packs.health.fhir import import_bundle
from twinforge.packs.health.patients import names, virtual_patient
from twinforge.packs.health.whatif import DosingPlan, population_snapshot
from twinforge.sim import simulate

MEALS = ((7 * 60, 50.0), (12 * 60, 70.0), (19 * 60, 80.0))  # minute of the day, grams


def plan_for(name: str) -> DosingPlan:
    ratio = virtual_patient(name).carb_ratio
    return DosingPlan(None, [(m * 60.0, g / ratio) for m, g in MEALS], [(m * 60.0, g) for m, g in MEALS])


def engine_run(patients: list[str], minutes: int) -> np.ndarray:
    snapshot = population_snapshot(patients)
    overrides = [o for n in patients for o in plan_for(n).overrides(n, minutes * 60.0, 60.0)]
    trajectory = simulate(snapshot, horizon=minutes * 60.0, step=60.0, overrides=overrides,
                          recorded=lambda b: ["glucose"])
    return np.array([trajectory.final[(n, "glucose")] for n in patients])


def _rhs(t: float, x: np.ndarray, p: dict[str, float], cho: float, insulin_u_min: float, dbar: float) -> np.ndarray:
    """The UVA/Padova equations for one patient, written plainly (per minute)."""
    d = np.zeros(13)
    meal = cho * 1000.0
    insulin = insulin_u_min * 6000.0 / p["BW"]
    qsto = x[0] + x[1]
    if dbar > 0:
        aa = 5.0 / (2.0 * dbar * (1.0 - p["b"]))
        cc = 5.0 / (2.0 * dbar * p["d"])
        kgut = p["kmin"] + (p["kmax"] - p["kmin"]) / 2.0 * (
            math.tanh(aa * (qsto - p["b"] * dbar)) - math.tanh(cc * (qsto - p["d"] * dbar)) + 2.0)
    else:
        kgut = p["kmax"]
    d[0] = -p["kmax"] * x[0] + meal
    d[1] = p["kmax"] * x[0] - x[1] * kgut
    d[2] = kgut * x[1] - p["kabs"] * x[2]
    rat = p["f"] * p["kabs"] * x[2] / p["BW"]
    egp = max(p["kp1"] - p["kp2"] * x[3] - p["kp3"] * x[8], 0.0)
    et = p["ke1"] * (x[3] - p["ke2"]) if x[3] > p["ke2"] else 0.0
    d[3] = (x[3] >= 0) * (egp + rat - p["Fsnc"] - et - p["k1"] * x[3] + p["k2"] * x[4])
    uid = (p["Vm0"] + p["Vmx"] * x[6]) * x[4] / (p["Km0"] + x[4])
    d[4] = (x[4] >= 0) * (-uid + p["k1"] * x[3] - p["k2"] * x[4])
    d[5] = (x[5] >= 0) * (-(p["m2"] + p["m4"]) * x[5] + p["m1"] * x[9] + p["ka1"] * x[10] + p["ka2"] * x[11])
    it = x[5] / p["Vi"]
    d[6] = -p["p2u"] * x[6] + p["p2u"] * (it - p["Ib"])
    d[7] = -p["ki"] * (x[7] - it)
    d[8] = -p["ki"] * (x[8] - x[7])
    d[9] = (x[9] >= 0) * (-(p["m1"] + p["m30"]) * x[9] + p["m2"] * x[5])
    d[10] = (x[10] >= 0) * (insulin - (p["ka1"] + p["kd"]) * x[10])
    d[11] = (x[11] >= 0) * (p["kd"] * x[10] - p["ka2"] * x[11])
    d[12] = (x[12] >= 0) * (-p["ksc"] * x[12] + p["ksc"] * x[3])
    return d


def loop_run(patients: list[str], minutes: int) -> np.ndarray:
    """Each patient minute by minute with solve_ivp: the baseline."""
    out = []
    for name in patients:
        vp = virtual_patient(name)
        p, x = vp.parameters, np.array(vp.state)
        basal = vp.basal_rate / 60.0
        ratio = vp.carb_ratio
        meals = {m + k: 5.0 for m, g in MEALS for k in range(int(g / 5))}
        boluses = {m: g / ratio for m, g in MEALS}
        dbar_start, eaten, eating = 0.0, 0.0, False
        for minute in range(minutes):
            cho = meals.get(minute % 1440, 0.0)
            if cho > 0 and not eating:
                dbar_start, eaten = x[0] + x[1], 0.0
            if cho > 0:
                eaten += cho
            eating = cho > 0
            sol = solve_ivp(_rhs, (0.0, 1.0), x, method="RK45", rtol=1e-6, atol=1e-9,
                            args=(p, cho, basal + boluses.get(minute % 1440, 0.0), dbar_start + eaten * 1000.0))
            x = sol.y[:, -1]
        out.append(x[3] / p["Vg"])
    return np.array(out)


def _bundle_maker() -> Any:
    path = Path(__file__).resolve().parents[1] / "tests" / "health" / "data" / "make_bundles.py"
    spec = importlib.util.spec_from_file_location("twinforge_make_bundles", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fhir_import(bundles: int) -> tuple[float, int, int]:
    """Seconds to import ``bundles`` ward bundles, the entries and the points they hold."""
    import random

    maker = _bundle_maker()
    docs = [maker.good_bundle(random.Random(k)) for k in range(bundles)]
    entries = sum(len(d["entry"]) for d in docs)
    with tempfile.TemporaryDirectory() as folder:
        graph = TwinGraph.open(f"sqlite:///{Path(folder) / 'fhir.db'}")
        try:
            import_bundle(graph, json.loads(json.dumps(docs[0])))  # models loaded before the clock
            began = time.perf_counter()
            points = sum(import_bundle(graph, d).points for d in docs)
            return time.perf_counter() - began, entries, points
        finally:
            graph.close()


def main(quick: bool, progress: Any) -> dict[str, Any]:
    patients = names()[:: 10] if quick else names()
    minutes = 180 if quick else 1440
    repeat = 1 if quick else 3
    results: dict[str, Any] = {"patients": len(patients), "minutes": minutes}
    engine_times, loop_times = [], []
    for k in range(repeat):
        progress(f"engine run {k + 1}/{repeat}: {len(patients)} patients x {minutes} minutes")
        began = time.perf_counter()
        ours = engine_run(patients, minutes)
        engine_times.append(time.perf_counter() - began)
        progress(f"plain solve_ivp loop {k + 1}/{repeat}")
        began = time.perf_counter()
        theirs = loop_run(patients, minutes)
        loop_times.append(time.perf_counter() - began)
    days = len(patients) * minutes / 1440.0
    results.update(engine_s=statistics.median(engine_times), loop_s=statistics.median(loop_times),
                   engine_range=engine_times, loop_range=loop_times,
                   engine_patient_days_per_s=days / statistics.median(engine_times),
                   loop_patient_days_per_s=days / statistics.median(loop_times),
                   max_difference=float(np.abs(ours - theirs).max()))
    results["engine_vs_loop"] = results["engine_patient_days_per_s"] / results["loop_patient_days_per_s"]
    bundles = 2 if quick else 20
    progress(f"FHIR import of {bundles} bundles")
    seconds, entries, points = fhir_import(bundles)
    results.update(fhir_bundles=bundles, fhir_entries=entries, fhir_points=points, fhir_s=seconds,
                   fhir_entries_per_s=entries / seconds, fhir_points_per_s=points / seconds)
    return results



def report(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    r = results
    return [
        (f"UVA/Padova, {r['patients']} patients x {r['minutes']} one-minute steps (engine)",
         f"{r['engine_patient_days_per_s']:.2f} patient-days/s",
         f"plain solve_ivp loop {r['loop_patient_days_per_s']:.3f}/s: {r['engine_vs_loop']:.1f}x (goal >= 0.8x); "
         f"runs {spread(r['engine_range'])} s vs {spread(r['loop_range'])} s"),
        ("engine vs loop: largest final-glucose difference", f"{r['max_difference']:.1e} mg/dL",
         "same equations, same result"),
        (f"FHIR import, {r['fhir_bundles']} Synthea-shaped bundles", f"{r['fhir_entries_per_s']:,.0f} entries/s",
         f"{r['fhir_points_per_s']:,.0f} history points/s; {r['fhir_entries']:,} entries in {r['fhir_s']:.2f} s"),
    ]
