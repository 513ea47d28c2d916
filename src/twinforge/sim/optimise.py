"""Optimisation on the twin: choose values of decision variables that minimise a KPI of
the scenario subject to bounds on other KPIs, with scipy.optimize over scenario runs::

    optimise:
      variables:
        - {twin: zone-1, property: heaterPower, bounds: [0, 5000], initial: 1000}
      minimise: heatUsed
      constraints:
        - {kpi: finalTemp, min: 21}
      method: SLSQP            # or differential_evolution (global, slower)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twinforge.documents import OptimiseDocument, check
from twinforge.errors import InvalidArgument
from twinforge.sim.behaviour import Registry, default_registry
from twinforge.sim.engine import Override
from twinforge.sim.fork import Snapshot
from twinforge.sim.scenario import Scenario


@dataclass(frozen=True, slots=True)
class Decision:
    twin: str
    property: str
    low: float
    high: float
    initial: float


@dataclass(frozen=True, slots=True)
class Problem:
    variables: tuple[Decision, ...]
    objective: str
    constraints: tuple[tuple[str, float | None, float | None], ...]  # (kpi, min, max)
    method: str = "SLSQP"
    max_evaluations: int = 200

    @classmethod
    def parse(cls, block: OptimiseDocument | dict[str, Any], kpis: set[str]) -> Problem:
        """A problem from its block (checked by `OptimiseDocument` when given as a dict); the
        objective and the constraints must name ``kpis``."""
        doc = block if isinstance(block, OptimiseDocument) else check(OptimiseDocument, block, "optimise")
        wrong = doc.unknown_kpi(kpis)
        if wrong:
            raise InvalidArgument(wrong)
        variables = tuple(Decision(v.twin, v.property, v.bounds[0], v.bounds[1],
                                   float(np.clip(v.initial if v.initial is not None else sum(v.bounds) / 2,
                                                 v.bounds[0], v.bounds[1])))
                          for v in doc.variables)
        constraints = tuple((c.kpi, c.min, c.max) for c in doc.constraints)
        return cls(variables, doc.minimise, constraints, doc.method, doc.maxEvaluations)


@dataclass(slots=True)
class OptimisationResult:
    values: dict[str, float]  # "twin.property" -> chosen value
    kpis: dict[str, float]
    objective: float
    success: bool
    message: str
    evaluations: int
    wall: float
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"values": self.values, "kpis": self.kpis, "objective": self.objective, "success": self.success,
                "message": self.message, "evaluations": self.evaluations, "wallSeconds": round(self.wall, 3)}


def optimise(scenario: Scenario, snapshot: Snapshot, *, registry: Registry | None = None,
             progress: Callable[[int], None] | None = None) -> OptimisationResult:
    """Solve the scenario's ``optimise`` block; every evaluation is one variant run."""
    from scipy import optimize

    if scenario.optimise is None:
        raise InvalidArgument("the scenario has no optimise block")
    registry = registry or default_registry()
    problem = Problem.parse(scenario.optimise, {k.name for k in scenario.kpis})
    scenario.check(snapshot, registry)
    for d in problem.variables:
        if d.twin not in snapshot.twins:
            raise InvalidArgument(f"optimise variable: twin '{d.twin}' is not in the scope")
    lows = np.array([d.low for d in problem.variables])
    spans = np.array([d.high - d.low for d in problem.variables])
    cache: dict[tuple[float, ...], dict[str, float]] = {}
    history: list[dict[str, Any]] = []
    began = time.perf_counter()

    def kpis_at(u: np.ndarray) -> dict[str, float]:
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        key = tuple(np.round(u, 12))
        if key not in cache:
            x = lows + u * spans
            extra = [Override(d.twin, d.property, float(v)) for d, v in zip(problem.variables, x, strict=True)]
            overrides = [o for o in scenario.overrides
                         if (o.twin, o.name) not in {(d.twin, d.property) for d in problem.variables}] + extra
            run = scenario.run_variant(snapshot, overrides, registry=registry, record=scenario.record)
            cache[key] = scenario.kpis_of(snapshot, run)
            history.append({"values": [float(v) for v in x], "kpis": cache[key]})
            if progress is not None:
                progress(len(cache))
        return cache[key]

    scale = max(1.0, abs(kpis_at(np.full(len(lows), 0.5))[problem.objective]))

    def objective(u: np.ndarray) -> float:
        return kpis_at(u)[problem.objective] / scale

    cons = []
    for name, lo, hi in problem.constraints:
        if lo is not None:
            cons.append({"type": "ineq", "fun": (lambda u, n=name, b=lo: kpis_at(u)[n] - b)})
        if hi is not None:
            cons.append({"type": "ineq", "fun": (lambda u, n=name, b=hi: b - kpis_at(u)[n])})
    u0 = (np.array([d.initial for d in problem.variables]) - lows) / spans
    bounds = [(0.0, 1.0)] * len(lows)
    if problem.method == "differential_evolution":
        nonlinear = [optimize.NonlinearConstraint(c["fun"], 0.0, np.inf) for c in cons]
        found = optimize.differential_evolution(objective, bounds, constraints=nonlinear, seed=scenario.seed,
                                                maxiter=max(1, problem.max_evaluations // (15 * len(lows))),
                                                polish=False, tol=1e-8)
    else:
        options: dict[str, Any] = {"maxiter": problem.max_evaluations}
        if problem.method == "SLSQP":
            options["ftol"] = 1e-12
        found = optimize.minimize(objective, u0, method=problem.method, bounds=bounds, constraints=cons,
                                  options=options)
    best = np.clip(found.x, 0.0, 1.0)
    kpis = kpis_at(best)
    feasible = all((lo is None or kpis[n] >= lo - 1e-6 * max(1.0, abs(lo)))
                   and (hi is None or kpis[n] <= hi + 1e-6 * max(1.0, abs(hi))) for n, lo, hi in problem.constraints)
    x = lows + best * spans
    return OptimisationResult({f"{d.twin}.{d.property}": float(v) for d, v in zip(problem.variables, x, strict=True)},
                              kpis, kpis[problem.objective], bool(found.success) and feasible, str(found.message),
                              len(cache), time.perf_counter() - began, history)


__all__ = ["Decision", "OptimisationResult", "Problem", "optimise"]
