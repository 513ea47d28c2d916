"""`twinforge bench predict`: how well prediction predicts, and how fast it runs.

Quality, with ranges over three seeds (each seed a fresh corpus or held-out set), computed in a
pool of processes (one per core; they are not timings):

- Anomaly detection on the NAB-style harness (`twinforge.analytics.harness.anomalies`): the
  normalised standard-profile score at the best threshold over the corpus and at the
  documented fixed threshold 0.5, for the ensemble, robust z and EWMA on three corpora, and
  every other detector on one.
- Forecasts on the M4-style hourly harness (`...harness.forecasts`, moderate noise; and the
  noisy corpus once): OWA against Naive2, sMAPE, MASE, MSIS (95 %), coverage of the 90 % band,
  and the time per forecast.
- RUL on C-MAPSS FD001: RMSE on held-out whole engines cut like the official test set (truth
  uncapped, and capped at 125), the interval's coverage, training time (3 MLP members).

- Detector throughput: each detector scores (and learns) a 20,000-value stream one value at a
  time, against a plain NumPy z-score of the same data in one vectorised call, same run.
- Ingest with detectors on and off: 50,000 telemetry updates through `Ingestor.apply` in
  batches of 1,000 into a SQLite store, with nothing evaluated and with two detectors (robust
  z and EWMA) and ten alert rules evaluated from the event log meanwhile by the evaluator in
  its own process (as `serve` runs it), and in a thread of the ingesting process; and how long
  after the last batch the evaluator had caught up.
- The maintenance planner on 200 assets x 30 days.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from twinforge.analytics.alerts import AlertService
from twinforge.analytics.detectors import KINDS, IsolationBatch, make
from twinforge.analytics.engine import AnalyticsEngine
from twinforge.analytics.evaluator import CURSOR, Evaluator
from twinforge.analytics.planning import PlanningProblem, plan
from twinforge.analytics.worker import EvaluatorProcess
from twinforge.graph import TwinGraph, Update
from twinforge.ingest import Ingestor

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cmapss" / "train_FD001.txt"
MODEL = {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:bench:Sensor;1", "@type": "Interface",
         "contents": [{"@type": "Telemetry", "name": "value", "schema": "double"}]}


SIGNED = ("score", "fixed")  # NAB scores: below 0 is worse than never alerting
CHEAP = ("ensemble", "robust_z", "ewma")  # scored on every seed's corpus; the others on one


def anomaly_quality(kind: str, seed: int, count: int, length: int) -> tuple[str, int, dict[str, float]]:
    from twinforge.analytics.harness.anomalies import corpus, run_detector, score_corpus

    series = corpus(count, length, seed=seed)
    result = score_corpus(series, [run_detector(lambda: make(kind), s.values) for s in series])
    return kind, seed, {"score": result.score, "threshold": result.threshold, "fixed": result.at_fixed,
                        "detected": result.detected, "windows": result.windows, "fp": result.false_positives}


def forecast_quality(seed: int, count: int, noise: str) -> tuple[str, int, dict[str, float]]:
    from twinforge.analytics.forecast import forecast_series
    from twinforge.analytics.harness import forecasts as m4
    from twinforge.analytics.methods import METHODS

    ours, ours95, naive2, snaive, covered, took = [], [], [], [], [], []
    for s in m4.corpus(count, seed=seed, noise=noise):
        times = (np.arange(len(s.history)) * 3_600_000_000).astype(np.int64)
        start = time.perf_counter()
        f = forecast_series(times, s.history, m4.H * 3600.0, 3600.0)
        took.append(time.perf_counter() - start)
        f95 = forecast_series(times, s.history, m4.H * 3600.0, 3600.0, level=0.95)
        p = np.array(f.values)
        ours.append((m4.smape(s.future, p), m4.mase(s.history, s.future, p)))
        ours95.append(m4.msis(s.history, s.future, np.array(f95.low), np.array(f95.high)))
        covered.append(float(np.mean((s.future >= np.array(f.low)) & (s.future <= np.array(f.high)))))
        for out, name in ((naive2, "naive2"), (snaive, "seasonal_naive")):
            q = METHODS[name](s.history, m4.H, [24, 168])
            out.append((m4.smape(s.future, q), m4.mase(s.history, s.future, q)))
    base = np.mean(naive2, 0)
    mine = np.mean(ours, 0)
    return noise, seed, {"owa": m4.owa(*mine, *base), "smape": float(mine[0]), "mase": float(mine[1]),
                         "owa_snaive": m4.owa(*np.mean(snaive, 0), *base), "msis": float(np.mean(ours95)),
                         "coverage": float(np.mean(covered)), "seconds_median": statistics.median(took),
                         "seconds_max": max(took)}


def rul_quality(seed: int, quick: bool) -> tuple[str, int, dict[str, float]]:
    from twinforge.analytics.rul import read_cmapss, train

    data = read_cmapss(DATA)
    if quick:
        data = data[data[:, 0] <= 20]
    model = train(data, seed=seed, members=1 if quick else 3, refit=False)
    info = model.info
    return "rul", seed, {"rmse_uncapped": info["rmseUncapped"], "rmse": info["rmse"],
                         "coverage": info["intervalCoverage"], "train_s": info["trainSeconds"]}


def quality(quick: bool, progress: Any) -> dict[str, Any]:
    """Every quality figure, in a pool of processes (results keyed by what and seed)."""
    from twinforge.analytics.threads import cores

    seeds = [0] if quick else [0, 1, 2]
    count, length = (6, 1500) if quick else (30, 3000)
    jobs: list[tuple[Any, tuple[Any, ...]]] = []
    for seed in seeds:
        jobs += [(anomaly_quality, (kind, seed, count, length)) for kind in CHEAP]
        jobs.append((forecast_quality, (seed, 8 if quick else 100, "moderate")))
        if DATA.exists():
            jobs.append((rul_quality, (seed, quick)))
    jobs += [(anomaly_quality, (kind, seeds[0], count, length)) for kind in KINDS
             if kind not in CHEAP and kind != "isolation_forest"]  # (one value at a time: see throughput)
    jobs.append((forecast_quality, (seeds[0], 8 if quick else 100, "noisy")))
    out: dict[str, Any] = {}
    with ProcessPoolExecutor(max_workers=max(1, cores())) as pool:
        futures = [pool.submit(fn, *args) for fn, args in jobs]
        for k, future in enumerate(futures):
            what, seed, figures = future.result()
            out.setdefault(what, {})[seed] = figures
            progress(f"quality: {k + 1}/{len(futures)} ({what}, seed {seed})")
    return out


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
        stream = values
        if isinstance(detector, IsolationBatch):
            detector.fit(values[:1000])
            stream = values[: max(200, n // 20)]  # one value at a time is slow: fewer of them
        start = time.perf_counter()
        for x in stream:
            detector.score_one(float(x))
            detector.learn_one(float(x))
        out[f"{kind}_per_s"] = len(stream) / (time.perf_counter() - start)
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
    began = time.perf_counter()
    results["quality"] = quality(quick, progress)
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
    progress("planning 200 assets x 30 days")
    rng = np.random.default_rng(3)
    assets = [{"id": f"a{i}", "rul": {"mean": float(rng.uniform(2, 40)), "std": float(rng.uniform(0.5, 6))},
               "preventiveCost": float(rng.uniform(500, 2000)), "correctiveCost": float(rng.uniform(4000, 20000))}
              for i in range(40 if quick else 200)]
    problem = PlanningProblem.parse({"horizonDays": 30, "crewsPerDay": 3, "assets": assets})
    times = [plan(problem).wall for _ in range(3)]
    results["plan_s"], results["plan_range"] = statistics.median(times), times
    results["plan_assets"] = len(assets)
    results["bench_s"] = time.perf_counter() - began
    return results


def _span(values: list[float], fmt: str = "{:.1f}") -> str:
    lo, hi = min(values), max(values)
    return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else f"{fmt.format(lo)}-{fmt.format(hi)}"


def quality_rows(q: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows = []
    for kind in [*CHEAP, *sorted(k for k in q if k in KINDS and k not in CHEAP)]:
        if kind not in q:
            continue
        runs = list(q[kind].values())
        rows.append((f"anomaly detection: {kind} (NAB-style harness, standard profile)",
                     _span([r["score"] for r in runs]),
                     f"at the fixed threshold 0.5: {_span([r['fixed'] for r in runs])}; best threshold "
                     f"{_span([r['threshold'] for r in runs], '{:.2f}')}; windows detected "
                     f"{'/'.join(str(int(r['detected'])) for r in runs)} of {int(runs[0]['windows'])}; "
                     f"false positives {'/'.join(str(int(r['fp'])) for r in runs)}; {len(runs)} corpus(es)"))
    for noise in ("moderate", "noisy"):
        if noise not in q:
            continue
        runs = list(q[noise].values())
        rows.append((f"forecast, M4-style hourly harness ({noise} noise), 48 h: OWA vs Naive2",
                     _span([r["owa"] for r in runs], "{:.3f}"),
                     f"sMAPE {_span([r['smape'] for r in runs], '{:.2f}')}, MASE {_span([r['mase'] for r in runs], '{:.2f}')}, "
                     f"MSIS(95 %) {_span([r['msis'] for r in runs], '{:.2f}')}; 90 % band covers "
                     f"{_span([100 * r['coverage'] for r in runs])} %; seasonal naive OWA "
                     f"{_span([r['owa_snaive'] for r in runs], '{:.3f}')}; "
                     f"{1000 * statistics.median([r['seconds_median'] for r in runs]):.0f} ms per forecast "
                     f"(max {1000 * max(r['seconds_max'] for r in runs):.0f} ms); goal OWA <= 0.50"))
    if "rul" in q:
        runs = list(q["rul"].values())
        rows.append(("RUL RMSE, held-out FD001 engines cut like the official test set (truth uncapped)",
                     _span([r["rmse_uncapped"] for r in runs], "{:.2f}"),
                     f"capped truth {_span([r['rmse'] for r in runs], '{:.2f}')}; 90 % interval covers "
                     f"{_span([100 * r['coverage'] for r in runs], '{:.0f}')} %; trained in "
                     f"{_span([r['train_s'] for r in runs], '{:.0f}')} s (validation fit only); goal <= 12 on the "
                     f"official test set, trained in < 5 min"))
    return rows


def report(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    r = results
    rows = quality_rows(r.get("quality", {})) + [(f"detector {k.removesuffix('_per_s')}", f"{v:,.0f} scores/s",
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
    rows.append((f"plan {r['plan_assets']} assets x 30 days", f"{r['plan_s']:.2f} s", "exact (MILP)"))
    rows.append(("the whole benchmark", f"{r['bench_s']:.0f} s", "goal < 5 minutes"))
    return rows
