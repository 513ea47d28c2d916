"""The maintenance planner against brute force and known optima."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from twinforge.analytics.planning import PlanningProblem, plan
from twinforge.errors import InvalidArgument


def problem(assets: list[dict[str, Any]], horizon: int = 6, crews: int = 1) -> PlanningProblem:
    return PlanningProblem.parse({"horizonDays": horizon, "crewsPerDay": crews, "assets": assets})


def asset(name: str, mean: float, std: float, pre: float = 1000, corr: float = 8000) -> dict[str, Any]:
    return {"id": name, "rul": {"mean": mean, "std": std}, "preventiveCost": pre, "correctiveCost": corr}


def brute_force(p: PlanningProblem) -> float:
    best = float("inf")
    options = [*range(1, p.horizon + 1), None]
    for choice in itertools.product(options, repeat=len(p.assets)):
        days = [d for d in choice if d is not None]
        if any(days.count(d) > p.crews for d in set(days)):
            continue
        cost = sum(a.cost_on(d) if d is not None else a.p_fail_by(p.horizon) * a.corrective
                   for a, d in zip(p.assets, choice, strict=True))
        best = min(best, cost)
    return best


@pytest.mark.parametrize("case", [
    [asset("a", 3, 1), asset("b", 3, 1), asset("c", 4, 2)],
    [asset("a", 2, 0.5), asset("b", 9, 1), asset("c", 5, 3, pre=5000)],
    [asset("a", 1.5, 1), asset("b", 2, 1), asset("c", 2.5, 1), asset("d", 30, 5)],
])
def test_the_planner_finds_the_exact_optimum(case: list[dict[str, Any]]) -> None:
    p = problem(case)
    result = plan(p)
    assert result.expected_cost == pytest.approx(brute_force(p), rel=1e-9)
    days = [s["day"] for s in result.schedule if s["day"] is not None]
    assert len(days) == len(set(days))  # one crew a day


def test_known_cases() -> None:
    # Far from failure and cheap to repair: leave it; about to fail and costly: do it on day 1.
    result = plan(problem([asset("safe", 100, 5, pre=1000, corr=500), asset("urgent", 2, 0.5)]))
    assert result.schedule == [{"asset": "safe", "day": None}, {"asset": "urgent", "day": 1}]
    two_crews = plan(problem([asset("a", 2, 0.5), asset("b", 2, 0.5)], crews=2))
    assert [s["day"] for s in two_crews.schedule] == [1, 1]


@pytest.mark.parametrize(("doc", "message"), [
    ({"horizonDays": 14, "assets": []}, "'assets': must not be empty"),
    ({"horizonDays": 14, "assets": [asset("a", 5, -1)]}, r"'assets\[0\].rul.std': must be >= 0, got -1"),
    ({"horizonDays": 0, "assets": [asset("a", 5, 1)]}, "'horizonDays': must be >= 1, got 0"),
    ({"horizonDays": 14, "assets": [asset("a", 5, 1), asset("a", 6, 1)]}, "asset 'a' is listed twice"),
    ({"horizonDays": 14, "assets": [{"id": "a", "rul": {"mean": "soon", "std": 1}, "preventiveCost": 1,
                                     "correctiveCost": 2}]}, r"'assets\[0\].rul.mean': must be a number, got 'soon'"),
    # unknown fields were ignored: a misspelt crewsPerDay planned with one crew without a word
    ({"horizonDays": 14, "crewPerDay": 3, "assets": [asset("a", 5, 1)]},
     r"unknown field 'crewPerDay' \(known: assets, crewsPerDay, horizonDays\)"),
])
def test_bad_planning_files_name_the_problem(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        PlanningProblem.parse(doc)
