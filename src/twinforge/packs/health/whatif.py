"""What-if dosing on a patient twin: a dosing plan (basal rate, boluses, meals) run forward
from the twin as it is now or as it was (``as_of``), glucose KPIs, the comparison of two
plans, the bolus that maximises time in range with no time below 54 mg/dL, and the same
plan over the 30 virtual patients with population percentiles.

Runs go through the simulation engine on a fork of the graph (the live twins are only
read); the candidates of an optimisation and the patients of a population run as one
fleet, stepped together.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twinforge.durations import seconds
from twinforge.errors import InvalidArgument
from twinforge.graph import TwinGraph
from twinforge.packs.health.glucose import uva_padova_values
from twinforge.packs.health.models import models
from twinforge.packs.health.patients import names, virtual_patient
from twinforge.packs.health.twins import UVA, glucose_system_of
from twinforge.sim.engine import Override, simulate
from twinforge.sim.fork import Snapshot, fork
from twinforge.sim.sweep import SEP, replicate

EAT_RATE = 5.0  # g/min, as the UVA/Padova simulator eats
RANGE = (70.0, 180.0)
KPI_NAMES = ("timeInRange", "timeBelow70", "timeBelow54", "timeAbove180", "meanGlucose", "glucoseCv",
             "hypoEvents", "minGlucose", "maxGlucose")


def glucose_kpis(times: np.ndarray, glucose: np.ndarray) -> dict[str, float]:
    """The consensus CGM metrics of one series (times in seconds): time in range 70-180,
    below 70 and 54, above 180 (percent of the time, each sample held until the next),
    mean glucose, coefficient of variation (percent) and hypoglycaemia events (runs below
    70 mg/dL lasting at least 15 minutes)."""
    t = np.asarray(times, dtype=float)
    g = np.asarray(glucose, dtype=float)
    if len(g) == 0:
        raise InvalidArgument("no glucose values to measure")
    weights = np.diff(t) if len(t) > 1 else np.ones(1)
    held = g[:-1] if len(t) > 1 else g
    total = float(weights.sum()) or 1.0

    def share(mask: np.ndarray) -> float:
        return 100.0 * float(weights[mask].sum()) / total

    mean = float(np.average(held, weights=weights))
    std = math.sqrt(float(np.average((held - mean) ** 2, weights=weights)))
    events, run = 0, 0.0
    for w, low in zip(weights, held < RANGE[0], strict=True):
        if low:
            run += float(w)
            if run >= 15 * 60 and run - float(w) < 15 * 60:
                events += 1
        else:
            run = 0.0
    return {"timeInRange": share((held >= RANGE[0]) & (held <= RANGE[1])), "timeBelow70": share(held < 70.0),
            "timeBelow54": share(held < 54.0), "timeAbove180": share(held > 180.0), "meanGlucose": mean,
            "glucoseCv": 100.0 * std / mean if mean else 0.0, "hypoEvents": float(events),
            "minGlucose": float(g.min()), "maxGlucose": float(g.max())}


@dataclass
class DosingPlan:
    """What happens over the run: times are seconds from its start."""

    basal: float | None = None  # U/h; None keeps the twin's own
    boluses: list[tuple[float, float]] = field(default_factory=list)  # (time, units)
    meals: list[tuple[float, float]] = field(default_factory=list)  # (time, grams of carbohydrate)

    @classmethod
    def from_dict(cls, doc: Any) -> DosingPlan:
        """A plan from ``{"basal": 0.9, "boluses": [["PT1H", 5]], "meals": [["PT1H", 60]]}``
        (times as ISO 8601 durations or seconds)."""
        if not isinstance(doc, dict):
            raise InvalidArgument("a dosing plan is an object with basal, boluses and meals")
        unknown = set(doc) - {"basal", "boluses", "meals"}
        if unknown:
            raise InvalidArgument(f"dosing plan: unknown field(s) {', '.join(sorted(unknown))} "
                                  "(known: basal, boluses, meals)")

        def pairs(name: str, what: str) -> list[tuple[float, float]]:
            out = []
            for k, item in enumerate(doc.get(name) or []):
                if not isinstance(item, (list, tuple)) or len(item) != 2:
                    raise InvalidArgument(f"dosing plan: '{name}[{k}]' is [time, {what}], got {item!r}")
                when = seconds(item[0], f"{name}[{k}] time") if isinstance(item[0], str) else float(item[0])
                amount = item[1]
                if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
                    raise InvalidArgument(f"dosing plan: '{name}[{k}]' {what} must be a number >= 0, got {amount!r}")
                out.append((when, float(amount)))
            return out

        basal = doc.get("basal")
        if basal is not None and (isinstance(basal, bool) or not isinstance(basal, (int, float)) or basal < 0):
            raise InvalidArgument(f"dosing plan: 'basal' must be a rate >= 0 (U/h), got {basal!r}")
        return cls(None if basal is None else float(basal), pairs("boluses", "units"), pairs("meals", "grams"))

    def overrides(self, twin: str, horizon: float, step: float) -> list[Override]:
        """The plan as input series of a glucose-insulin twin for an engine run."""
        n = max(1, math.ceil(horizon / step - 1e-9))
        carbs = np.zeros(n + 1)  # g/min held over each step
        bolus = np.zeros(n + 1)  # U/min
        for when, grams in self.meals:
            first = round(when / step)
            steps = max(1, math.ceil(grams / EAT_RATE * 60.0 / step - 1e-9))
            carbs[first:first + steps] += grams / (steps * step / 60.0) if first <= n else 0.0
        for when, units in self.boluses:
            k = round(when / step)
            if 0 <= k <= n:
                bolus[k] += units / (step / 60.0)
        out = [Override(twin, "carbIntake", series=_steps(carbs, step)),
               Override(twin, "bolusRate", series=_steps(bolus, step))]
        if self.basal is not None:
            out.append(Override(twin, "basalRate", self.basal))
        return out


def _steps(rates: np.ndarray, step: float) -> tuple[tuple[float, float], ...]:
    """A piecewise-linear series the engine samples, at every step start, as ``rates``."""
    eps = step / 1000.0
    points: list[tuple[float, float]] = [(0.0, float(rates[0]))]
    for k in range(1, len(rates)):
        if rates[k] != rates[k - 1]:
            points += [(k * step - eps, float(rates[k - 1])), (k * step, float(rates[k]))]
    points.append((len(rates) * step, float(rates[-1])))
    return tuple(points)


@dataclass
class Run:
    """One simulated plan: glucose every step and its KPIs."""

    times: np.ndarray  # seconds from the start
    glucose: np.ndarray
    kpis: dict[str, float]
    start: float  # the simulated start, seconds since the epoch


def _snapshot(graph: TwinGraph, patient: str, as_of: str | None) -> tuple[Snapshot, str]:
    twin = glucose_system_of(graph, patient)
    return fork(graph, f"SELECT T FROM DIGITALTWINS T WHERE T.$dtId = '{twin}'", as_of), twin


def run_plan(graph: TwinGraph, patient: str, plan: DosingPlan, *, horizon: str | float = "P1D",
             step: str | float = "PT1M", as_of: str | None = None) -> Run:
    """Simulate ``plan`` on a fork of the patient's glucose-insulin twin."""
    h, s = _durations(horizon, step)
    snapshot, twin = _snapshot(graph, patient, as_of)
    return _run(snapshot, twin, plan, h, s)


def _durations(horizon: str | float, step: str | float) -> tuple[float, float]:
    h = seconds(horizon, "horizon") if isinstance(horizon, str) else float(horizon)
    s = seconds(step, "step") if isinstance(step, str) else float(step)
    if s <= 0 or h <= 0 or s > h:
        raise InvalidArgument(f"need 0 < step <= horizon, got step {s} s and horizon {h} s")
    if h / s > 100_000:
        raise InvalidArgument(f"{h / s:,.0f} steps is too many (at most 100,000): lengthen the step")
    return h, s


def _run(snapshot: Snapshot, twin: str, plan: DosingPlan, horizon: float, step: float) -> Run:
    trajectory = simulate(snapshot, horizon=horizon, step=step, overrides=plan.overrides(twin, horizon, step),
                          recorded=lambda b: ["glucose"])
    glucose = trajectory.get(twin, "glucose")
    if glucose is None:
        raise InvalidArgument(f"twin '{twin}' has no glucose behaviour")
    return Run(trajectory.times, glucose, glucose_kpis(trajectory.times, glucose), snapshot.start)


def compare(graph: TwinGraph, patient: str, baseline: DosingPlan, variant: DosingPlan, *,
            horizon: str | float = "P1D", step: str | float = "PT1M", as_of: str | None = None,
            ) -> dict[str, Any]:
    """Both plans from the same fork: their KPIs and the variant's change."""
    h, s = _durations(horizon, step)
    snapshot, twin = _snapshot(graph, patient, as_of)
    a, b = _run(snapshot, twin, baseline, h, s), _run(snapshot, twin, variant, h, s)
    return {"patient": patient, "twin": twin, "asOf": as_of, "baseline": a.kpis, "variant": b.kpis,
            "delta": {k: b.kpis[k] - a.kpis[k] for k in a.kpis}, "runs": (a, b)}


@dataclass
class BolusChoice:
    """The result of a bolus optimisation."""

    units: float
    kpis: dict[str, float]
    candidates: list[tuple[float, dict[str, float]]]  # every size tried with its KPIs
    feasible: bool  # some size kept time below 54 at 0


def optimise_bolus(graph: TwinGraph, patient: str, plan: DosingPlan, *, at: float | None = None,
                   low: float = 0.0, high: float | None = None, resolution: float = 0.25,
                   horizon: str | float = "PT8H", step: str | float = "PT2M", as_of: str | None = None,
                   ) -> BolusChoice:
    """The bolus (given at ``at`` s, default the first meal) that maximises time in range with
    no time below 54 mg/dL, tried on a grid of ``resolution`` units (all sizes as one fleet);
    ties go to the smaller dose. ``high`` defaults to 3x the first meal over the carb ratio."""
    h, s = _durations(horizon, step)
    snapshot, twin = _snapshot(graph, patient, as_of)
    when = at if at is not None else (plan.meals[0][0] if plan.meals else 0.0)
    if high is None:
        ratio = float(snapshot.twins[twin].get("carbRatio") or _carb_ratio(graph, patient))
        grams = plan.meals[0][1] if plan.meals else 50.0
        high = max(3.0 * grams / ratio, low + resolution)
    if resolution <= 0 or high <= low:
        raise InvalidArgument(f"need low < high and resolution > 0, got {low}, {high}, {resolution}")
    sizes = [low + k * resolution for k in range(round((high - low) / resolution) + 1)]
    if len(sizes) > 400:
        raise InvalidArgument(f"{len(sizes)} candidate sizes; at most 400 (coarsen the resolution)")
    replicas = replicate(snapshot, len(sizes))
    overrides: list[Override] = []
    for k, units in enumerate(sizes):
        trial = DosingPlan(plan.basal, [*plan.boluses, (when, units)], plan.meals)
        overrides += trial.overrides(f"{twin}{SEP}{k}", h, s)
    trajectory = simulate(replicas, horizon=h, step=s, overrides=overrides, recorded=lambda b: ["glucose"])
    tried = []
    for k, units in enumerate(sizes):
        series = trajectory.get(f"{twin}{SEP}{k}", "glucose")
        assert series is not None
        tried.append((units, glucose_kpis(trajectory.times, series)))
    safe = [c for c in tried if c[1]["timeBelow54"] == 0.0]
    pool = safe or tried
    best = max(pool, key=lambda c: (c[1]["timeInRange"], -c[1]["timeBelow70"], -c[0]))
    return BolusChoice(best[0], best[1], tried, bool(safe))


def _carb_ratio(graph: TwinGraph, patient: str) -> float:
    doc = graph.get_twin(patient)
    name = doc.get("virtualPatient")
    return virtual_patient(str(name)).carb_ratio if isinstance(name, str) else 10.0


def population_snapshot(patients: Sequence[str] | None = None) -> Snapshot:
    """A snapshot holding one UVA/Padova twin per virtual patient (ids are their names)."""
    chosen = list(patients) if patients is not None else names()
    twins = {n: {"$dtId": n, "$metadata": {"$model": UVA}, **uva_padova_values(n)} for n in chosen}
    return Snapshot(models(), twins, [], 0.0)


def _population_chunk(snapshot: Snapshot, plan: DosingPlan, horizon: float, step: float,
                      scaled: bool) -> dict[str, dict[str, float]]:
    overrides: list[Override] = []
    for name in snapshot.twins:
        overrides += _patient_plan(name, plan, scaled).overrides(name, horizon, step)
    trajectory = simulate(snapshot, horizon=horizon, step=step, overrides=overrides, recorded=lambda b: ["glucose"])
    out = {}
    for name in snapshot.twins:
        series = trajectory.get(name, "glucose")
        assert series is not None
        out[name] = glucose_kpis(trajectory.times, series)
    return out


def _patient_plan(name: str, plan: DosingPlan, scaled: bool) -> DosingPlan:
    """With ``scaled``, boluses of the plan are read as grams covered (units = grams / carb
    ratio of each patient), so one plan suits adults and children alike."""
    if not scaled:
        return plan
    ratio = virtual_patient(name).carb_ratio
    return DosingPlan(plan.basal, [(t, g / ratio) for t, g in plan.boluses], plan.meals)


def population(plan: DosingPlan, *, patients: Sequence[str] | None = None, horizon: str | float = "P1D",
               step: str | float = "PT1M", scaled: bool = True, percentiles: Sequence[float] = (5, 25, 50, 75, 95),
               workers: int = 0, progress: Callable[[float], None] | None = None) -> dict[str, Any]:
    """The plan on every virtual patient: KPIs per patient and their percentiles. With
    ``workers`` > 0 the patients are split over a Dask LocalCluster of that many processes,
    each chunk one fleet; with 0 they run here as one fleet."""
    h, s = _durations(horizon, step)
    snapshot = population_snapshot(patients)
    if workers <= 0:
        per = _population_chunk(snapshot, plan, h, s, scaled)
        if progress is not None:
            progress(1.0)
    else:
        from distributed import Client, LocalCluster, as_completed

        ids = list(snapshot.twins)
        size = math.ceil(len(ids) / workers)
        chunks = [Snapshot(snapshot.models, {i: snapshot.twins[i] for i in ids[k:k + size]}, [], 0.0)
                  for k in range(0, len(ids), size)]
        per = {}
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,  # type: ignore[no-untyped-call]
                          dashboard_address=":0") as cluster, Client(cluster) as client:  # type: ignore[no-untyped-call]
            futures = [client.submit(_population_chunk, c, plan, h, s, scaled, pure=False) for c in chunks]
            for done, future in enumerate(as_completed(futures), 1):  # type: ignore[no-untyped-call]
                per.update(future.result())
                if progress is not None:
                    progress(done / len(chunks))
    table = {k: np.array([per[p][k] for p in per]) for k in KPI_NAMES}
    return {"patients": per,
            "percentiles": {k: {f"p{q:g}": float(np.percentile(v, q)) for q in percentiles} for k, v in table.items()}}


__all__ = ["EAT_RATE", "KPI_NAMES", "RANGE", "BolusChoice", "DosingPlan", "Run", "compare", "glucose_kpis",
           "optimise_bolus", "population", "population_snapshot", "run_plan"]
