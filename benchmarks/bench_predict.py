"""`twinforge bench predict`: how fast prediction runs, and how well RUL predicts.

- Detector throughput: each detector scores (and learns) a 20,000-value stream one value at a
  time, against a plain NumPy z-score of the same data in one vectorised call, same run.
- Ingest with detectors on and off: 50,000 telemetry updates through `Ingestor.apply` in
  batches of 1,000 into a SQLite store, with nothing evaluated and with two detectors (robust
  z and EWMA) and ten alert rules evaluated from the event log meanwhile by the evaluator in
  its own process (as `serve` runs it), and in a thread of the ingesting process; and how long
  after the last batch the evaluator had caught up.
- RUL: training time and RMSE on held-out whole engines of C-MAPSS FD001 (truth capped at
  125, and uncapped), for three seeds (three different held-out sets).
- The maintenance planner on 200 assets x 30 days.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from twinforge.analytics.alerts import AlertService
from twinforge.analytics.detectors import KINDS, IsolationBatch, make
from twinforge.analytics.engine import AnalyticsEngine
from twinforge.analytics.evaluator import CURSOR, Evaluator
from twinforge.analytics.planning import PlanningProblem, plan
from twinforge.analytics.rul import read_cmapss, train
from twinforge.analytics.worker import EvaluatorProcess
from twinforge.graph import TwinGraph, Update
from twinforge.ingest import Ingestor

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cmapss" / "train_FD001.txt"
MODEL = {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:bench:Sensor;1", "@type": "Interface",
         "contents": [{"@type": "Telemetry", "name": "value", "schema": "double"}]}


def detector_rates(n: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    values = rng.normal(20, 1, n)
    out: dict[str, Any] = {}
    start = time.perf_counter()
    z = np.abs(values - values.mean()) / values.std()
    out["numpy_per_s"] = n / (time.perf_counter() - start)
    assert len(z) == n
    for kind in sorted(KINDS):
        detector = make(kind)
        if isinstance(detector, IsolationBatch):
            detector.fit(values[:1000])
        start = time.perf_counter()
        for x in values:
            detector.score_one(float(x))
            detector.learn_one(float(x))
        out[f"{kind}_per_s"] = n / (time.perf_counter() - start)
    return out


def ingest_rate(n: int, evaluator: str | None) -> tuple[float, float]:
    """Updates/s through `Ingestor.apply`; with ``evaluator`` (``thread`` or ``process``, as
    `serve` runs it), two detectors and ten alert rules are evaluated from the event log
    meanwhile. Also returns how long the evaluator took to catch up after the last batch."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        graph = TwinGraph.open(url)
        graph.add_models([MODEL])
        twins = [f"s{i}" for i in range(100)]
        graph.create_twins([(t, {"$metadata": {"$model": MODEL["@id"]}}) for t in twins])
        ingestor = Ingestor(graph)
        running: Any = None
        if evaluator is not None:
            engine = AnalyticsEngine(graph)
            engine.put_detector("z", {"model": MODEL["@id"], "name": "value", "kind": "robust_z"})
            engine.put_detector("e", {"model": MODEL["@id"], "name": "value", "kind": "ewma"})
            alerts = AlertService(graph, engine)
            for k in range(10):
                alerts.put_rule(f"r{k}", {"model": MODEL["@id"], "condition": f"value > {3 + k * 0.1:.1f}",
                                          "for": "PT5S", "severity": "warning"})
            if evaluator == "process":
                running = EvaluatorProcess(url)
            else:
                running = Evaluator(graph, engine, alerts)
                graph.subscribe(running.wake)
            running.start()
            while graph.store.get_setting(CURSOR) is None:  # it leads and has its cursor
                time.sleep(0.05)
        rng = np.random.default_rng(1)
        base = int(time.time() * 1e6) - n * 1000
        batches = [[Update(twins[k % 100], {"value": float(rng.normal())}, telemetry=True, ts=base + k * 1000)
                    for k in range(b, min(n, b + 1000))] for b in range(0, n, 1000)]
        start = time.perf_counter()
        for batch in batches:
            ingestor.apply(batch)
        rate = n / (time.perf_counter() - start)
        lag = 0.0
        if running is not None:
            done = time.perf_counter()
            last = graph.store.last_event_seq()
            while int(graph.store.get_setting(CURSOR) or 0) < last:
                time.sleep(0.01)
            lag = time.perf_counter() - done
            running.close()
        graph.close()
        return rate, lag


def main(quick: bool, progress: Any) -> dict[str, Any]:
    results: dict[str, Any] = {}
    progress("detector throughput")
    results.update(detector_rates(2_000 if quick else 20_000))
    progress("ingest with and without detectors")
    n = 5_000 if quick else 50_000
    off, on, lags, threaded = [], [], [], []
    for _ in range(1 if quick else 3):
        off.append(ingest_rate(n, None)[0])
        rate, lag = ingest_rate(n, "process")
        on.append(rate)
        lags.append(lag)
        threaded.append(ingest_rate(n, "thread")[0])
    results["evaluator_lag_s"] = lags
    results["ingest_thread"], results["ingest_thread_range"] = statistics.median(threaded), threaded
    results["ingest_off"], results["ingest_off_range"] = statistics.median(off), off
    results["ingest_on"], results["ingest_on_range"] = statistics.median(on), on
    results["ingest_ratio"] = results["ingest_on"] / results["ingest_off"]
    if DATA.exists():
        progress("RUL training on FD001")
        data = read_cmapss(DATA)
        if quick:
            data = data[data[:, 0] <= 20]
        runs = [train(data, seed=seed, members=1 if quick else 3) for seed in range(1 if quick else 3)]
        results["rul_rmse"] = [r.info["rmse"] for r in runs]
        results["rul_rmse_uncapped"] = [r.info["rmseUncapped"] for r in runs]
        results["rul_train_s"] = [r.info["trainSeconds"] for r in runs]
    progress("planning 200 assets x 30 days")
    rng = np.random.default_rng(3)
    assets = [{"id": f"a{i}", "rul": {"mean": float(rng.uniform(2, 40)), "std": float(rng.uniform(0.5, 6))},
               "preventiveCost": float(rng.uniform(500, 2000)), "correctiveCost": float(rng.uniform(4000, 20000))}
              for i in range(40 if quick else 200)]
    problem = PlanningProblem.parse({"horizonDays": 30, "crewsPerDay": 3, "assets": assets})
    times = [plan(problem).wall for _ in range(3)]
    results["plan_s"], results["plan_range"] = statistics.median(times), times
    results["plan_assets"] = len(assets)
    return results


def report(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    r = results
    rows = [(f"detector {k.removesuffix('_per_s')}", f"{v:,.0f} scores/s",
             f"NumPy z-score of the same data: {r['numpy_per_s']:,.0f}/s ({v / r['numpy_per_s']:.1e}x)")
            for k, v in sorted(r.items()) if k.endswith("_per_s") and k != "numpy_per_s"]
    rows.append(("ingest, no detector", f"{r['ingest_off']:,.0f} updates/s",
                 "-".join(f"{v:,.0f}" for v in (min(r["ingest_off_range"]), max(r["ingest_off_range"])))))
    rows.append(("ingest, two detectors and ten rules (evaluator process, as serve runs it)",
                 f"{r['ingest_on']:,.0f} updates/s",
                 f"{r['ingest_ratio']:.2f}x of none (goal >= 0.8x; runs {'-'.join(f'{v:,.0f}' for v in (min(r['ingest_on_range']), max(r['ingest_on_range'])))}); "
                 f"the evaluator caught up {max(r['evaluator_lag_s']):.2f} s after the last batch"))
    rows.append(("ingest, the same evaluated in a thread of the same process", f"{r['ingest_thread']:,.0f} updates/s",
                 f"{r['ingest_thread'] / r['ingest_off']:.2f}x of none (one interpreter lock for both)"))
    if "rul_rmse" in r:
        rows.append(("RUL RMSE, held-out FD001 engines (capped truth)",
                     "-".join(f"{v:.2f}" for v in (min(r["rul_rmse"]), max(r["rul_rmse"]))),
                     f"uncapped {min(r['rul_rmse_uncapped']):.2f}-{max(r['rul_rmse_uncapped']):.2f}; "
                     f"goal <= 12 on the official test set"))
        rows.append(("RUL training", f"{max(r['rul_train_s']):.1f} s", "goal < 5 minutes on 2 cores"))
    rows.append((f"plan {r['plan_assets']} assets x 30 days", f"{r['plan_s']:.2f} s", "exact (MILP)"))
    return rows
