"""Maintenance planning: on which day to maintain each asset so the expected cost is least.

The failure day T of an asset is normal(mean, std). Maintaining it on day d (1 <= d <= horizon)
costs P(T > d)·preventiveCost + P(T <= d)·correctiveCost; leaving it unscheduled costs
P(T <= horizon)·correctiveCost. At most ``crewsPerDay`` assets are maintained on one day.
The exact optimum of this model is a small integer programme, solved with scipy's MILP.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from twinforge.errors import InvalidArgument


@dataclass(frozen=True, slots=True)
class Asset:
    id: str
    mean: float
    std: float
    preventive: float
    corrective: float

    def p_fail_by(self, day: float) -> float:
        """P(T <= day) for T ~ normal(mean, std) (a step at the mean when std is 0)."""
        if self.std == 0:
            return 1.0 if day >= self.mean else 0.0
        return 0.5 * (1.0 + math.erf((day - self.mean) / (self.std * math.sqrt(2.0))))

    def cost_on(self, day: int) -> float:
        p = self.p_fail_by(day)
        return (1.0 - p) * self.preventive + p * self.corrective


@dataclass(frozen=True, slots=True)
class PlanningProblem:
    horizon: int
    crews: int
    assets: tuple[Asset, ...]

    @classmethod
    def parse(cls, doc: Any) -> PlanningProblem:
        """A problem from its document (checked by `PlanningDocument`: unknown fields refused)."""
        from twinforge.documents import check
        from twinforge.documents.records import PlanningDocument

        if not isinstance(doc, dict):
            raise InvalidArgument("a planning file is an object with horizonDays, crewsPerDay and assets")
        checked = check(PlanningDocument, doc, "planning")
        return cls(checked.horizonDays, checked.crewsPerDay,
                   tuple(Asset(a.id, a.rul.mean, a.rul.std, a.preventiveCost, a.correctiveCost)
                         for a in checked.assets))


@dataclass(slots=True)
class Plan:
    schedule: list[dict[str, Any]]  # [{"asset", "day"}]; day None: left unscheduled
    expected_cost: float
    unscheduled_cost: float  # doing nothing
    wall: float

    def to_json(self) -> dict[str, Any]:
        return {"schedule": self.schedule, "expectedCost": round(self.expected_cost, 6),
                "costOfDoingNothing": round(self.unscheduled_cost, 6), "seconds": round(self.wall, 4)}


def plan(problem: PlanningProblem) -> Plan:
    """The exact least-expected-cost schedule."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import lil_matrix

    began = time.perf_counter()
    n, h = len(problem.assets), problem.horizon
    options = h + 1  # days 1..h, then "unscheduled"
    cost = np.empty(n * options)
    for i, asset in enumerate(problem.assets):
        for d in range(1, h + 1):
            cost[i * options + d - 1] = asset.cost_on(d)
        cost[i * options + h] = asset.p_fail_by(h) * asset.corrective
    one_choice = lil_matrix((n, n * options))
    for i in range(n):
        one_choice[i, i * options:(i + 1) * options] = 1
    crews = lil_matrix((h, n * options))
    for d in range(h):
        for i in range(n):
            crews[d, i * options + d] = 1
    result = milp(cost, integrality=np.ones(n * options), bounds=Bounds(0, 1),
                  constraints=[LinearConstraint(one_choice.tocsr(), 1, 1),
                               LinearConstraint(crews.tocsr(), 0, problem.crews)])
    if not result.success:  # pragma: no cover - the problem always has a solution (leave all unscheduled)
        raise RuntimeError(f"the planner failed: {result.message}")
    chosen = np.round(result.x).reshape(n, options)
    schedule = []
    for i, asset in enumerate(problem.assets):
        k = int(np.argmax(chosen[i]))
        schedule.append({"asset": asset.id, "day": k + 1 if k < h else None})
    nothing = sum(a.p_fail_by(h) * a.corrective for a in problem.assets)
    return Plan(schedule, float(result.fun), nothing, time.perf_counter() - began)


__all__ = ["Asset", "Plan", "PlanningProblem", "plan"]
