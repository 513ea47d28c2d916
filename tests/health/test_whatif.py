"""What-if dosing on patient twins: KPIs by hand, plans through the engine on a fork (the
live twin untouched), as-of forks from history, bolus optimisation, population percentiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.requirements import need_module

need_module("scipy")
import numpy as np  # noqa: E402

from twinforge.errors import InvalidArgument  # noqa: E402
from twinforge.graph import TwinGraph  # noqa: E402
from twinforge.packs.health.patients import virtual_patient  # noqa: E402
from twinforge.packs.health.twins import create_patient  # noqa: E402
from twinforge.packs.health.whatif import (  # noqa: E402
    DosingPlan,
    compare,
    glucose_kpis,
    optimise_bolus,
    population,
    run_plan,
)

MEAL = [(3600.0, 60.0)]


@pytest.fixture
def graph(tmp_path: Path) -> TwinGraph:
    g = TwinGraph.open(f"sqlite:///{tmp_path / 'ward.db'}")
    create_patient(g, "bed-1", virtual="adult#001", ward="A")
    yield g
    g.close()


def test_glucose_kpis_by_hand() -> None:
    """Ten 5-minute samples held to the next: 60 (x4), 50 (x1), 120 (x2), 200 (x2), then an end
    point: 45 min measured."""
    times = np.arange(10) * 300.0
    g = np.array([60, 60, 60, 60, 50, 120, 120, 200, 200, 100.0])
    k = glucose_kpis(times, g)
    assert k["timeBelow70"] == pytest.approx(500 / 9)
    assert k["timeBelow54"] == pytest.approx(100 / 9)
    assert k["timeInRange"] == pytest.approx(200 / 9)
    assert k["timeAbove180"] == pytest.approx(200 / 9)
    held = g[:-1]
    assert k["meanGlucose"] == pytest.approx(held.mean())
    assert k["glucoseCv"] == pytest.approx(100 * held.std() / held.mean())
    assert k["hypoEvents"] == 1.0  # 25 minutes below 70: one event (15 min or more)
    assert glucose_kpis(times[:3], np.array([65.0, 65.0, 90.0]))["hypoEvents"] == 0.0  # 10 minutes: none


def test_a_bolus_what_if_on_a_fork_leaves_the_live_twin_alone(graph: TwinGraph) -> None:
    before = graph.get_twin("bed-1-glucose")
    result = compare(graph, "bed-1", DosingPlan(meals=MEAL), DosingPlan(meals=MEAL, boluses=[(3600.0, 6.0)]),
                     horizon="PT8H", step="PT2M")
    base, variant = result["baseline"], result["variant"]
    assert variant["timeInRange"] > base["timeInRange"] + 30
    assert variant["meanGlucose"] < base["meanGlucose"] - 20
    assert result["delta"]["maxGlucose"] < 0
    assert graph.get_twin("bed-1-glucose") == before


def test_a_basal_change_moves_the_rest_glucose(graph: TwinGraph) -> None:
    rate = virtual_patient("adult#001").basal_rate
    same = run_plan(graph, "bed-1", DosingPlan(), horizon="PT6H", step="PT5M")
    more = run_plan(graph, "bed-1", DosingPlan(basal=rate * 1.5), horizon="PT6H", step="PT5M")
    assert np.abs(same.glucose - 138.56).max() < 0.1
    assert more.glucose[-1] < 138.56 - 20


def test_as_of_forks_the_patient_as_it_was(graph: TwinGraph) -> None:
    """The glucose twin's plasma glucose mass is changed after a recorded instant; a what-if as of
    that instant starts from the old value."""
    import time

    from twinforge.history.timeutil import from_us, now_us

    time.sleep(0.01)
    then = from_us(now_us())
    time.sleep(0.01)
    gp = graph.get_twin("bed-1-glucose")["plasmaGlucoseMass"]
    graph.update_twin("bed-1-glucose", [{"op": "replace", "path": "/plasmaGlucoseMass", "value": gp * 1.5}])
    now = run_plan(graph, "bed-1", DosingPlan(), horizon="PT10M", step="PT5M")
    old = run_plan(graph, "bed-1", DosingPlan(), horizon="PT10M", step="PT5M", as_of=then)
    assert old.glucose[0] == pytest.approx(138.56, abs=0.01)
    assert now.glucose[0] == pytest.approx(138.56 * 1.5, abs=0.01)


def test_the_optimised_bolus_maximises_time_in_range_without_lows(graph: TwinGraph) -> None:
    choice = optimise_bolus(graph, "bed-1", DosingPlan(meals=MEAL), resolution=1.0, horizon="PT8H", step="PT5M")
    assert choice.feasible and choice.kpis["timeBelow54"] == 0.0
    safe = [k for _, k in choice.candidates if k["timeBelow54"] == 0.0]
    assert choice.kpis["timeInRange"] == max(k["timeInRange"] for k in safe)
    assert 0.0 < choice.units < 3 * 60.0 / virtual_patient("adult#001").carb_ratio
    assert choice.candidates[-1][1]["timeBelow54"] > 0  # the grid reaches harmful doses
    assert all(k["timeBelow70"] > 0 for u, k in choice.candidates if u > choice.units + 1)


def test_population_percentiles_over_the_30_patients() -> None:
    plan = DosingPlan(meals=[(3600.0, 50.0)], boluses=[(3600.0, 50.0)])  # bolus covers 50 g for each patient
    result = population(plan, horizon="PT6H", step="PT5M")
    assert len(result["patients"]) == 30
    tir = result["percentiles"]["timeInRange"]
    assert 0 <= tir["p5"] <= tir["p25"] <= tir["p50"] <= tir["p75"] <= tir["p95"] <= 100
    none = population(DosingPlan(meals=[(3600.0, 50.0)]), horizon="PT6H", step="PT5M")
    assert none["percentiles"]["meanGlucose"]["p50"] > result["percentiles"]["meanGlucose"]["p50"] + 20


def test_plan_documents_are_checked() -> None:
    plan = DosingPlan.from_dict({"basal": 0.8, "boluses": [["PT1H", 5]], "meals": [[1800, 40]]})
    assert plan.boluses == [(3600.0, 5.0)] and plan.meals == [(1800.0, 40.0)]
    with pytest.raises(InvalidArgument, match=r"'boluses\[0\]' is \[time, units\]"):
        DosingPlan.from_dict({"boluses": [5]})
    with pytest.raises(InvalidArgument, match="unknown field"):
        DosingPlan.from_dict({"bolus": []})
    with pytest.raises(InvalidArgument, match="'basal' must be a rate"):
        DosingPlan.from_dict({"basal": -1})
    with pytest.raises(InvalidArgument, match="grams must be a number >= 0"):
        DosingPlan.from_dict({"meals": [["PT1H", "lots"]]})


def test_a_dose_scenario_gives_peak_auc_and_time_above_mic(tmp_path: Path) -> None:
    """An oral dose as a scenario on a DrugCompartment twin: peak concentration, AUC and time above
    the MIC from ordinary KPIs, against the Bateman curve."""
    from twinforge.packs.health.pharmacokinetics import bateman, peak_time
    from twinforge.packs.health.twins import ensure_models
    from twinforge.sim import Scenario

    graph = TwinGraph.open(f"sqlite:///{tmp_path / 'pk.db'}")
    try:
        ensure_models(graph)
        ka, cl, vol, f, mic = 1.2, 6.0, 40.0, 0.8, 3.0
        graph.create_twin("drug-1", {"$metadata": {"$model": "dtmi:twinforge:health:DrugCompartment;1"},
                                     "absorptionRate": ka, "clearance": cl, "centralVolume": vol,
                                     "bioavailability": f, "minimumInhibitoryConcentration": mic})
        result = Scenario.from_dict({
            "id": "dose", "scope": "SELECT T FROM DIGITALTWINS T WHERE T.$dtId = 'drug-1'", "horizon": "PT48H",
            "step": "PT1M", "overrides": [{"twin": "drug-1", "property": "depotAmount", "value": 500}],
            "kpis": [{"name": "peak", "twin": "drug-1", "property": "concentration", "agg": "max"},
                     {"name": "auc", "twin": "drug-1", "property": "areaUnderCurve", "agg": "last"},
                     {"name": "aboveMic", "twin": "drug-1", "property": "aboveMic", "agg": "integral"}]}).run(graph)
    finally:
        graph.close()
    ke = cl / vol
    hours = np.arange(0, 48 * 60 + 1) / 60.0
    curve = bateman(hours, 500.0, ka=ka, ke=ke, volume=vol, f=f)
    assert result.kpis["peak"] == pytest.approx(float(bateman(np.array([peak_time(ka, ke)]), 500.0, ka=ka, ke=ke,
                                                               volume=vol, f=f)[0]), rel=1e-4)
    assert result.kpis["auc"] == pytest.approx(f * 500.0 / cl, rel=1e-3)
    assert result.kpis["aboveMic"] == pytest.approx(float((curve > mic).sum()) * 60.0, abs=120.0)
    assert result.baseline_kpis["peak"] == 0.0  # no dose, no drug


def test_population_on_dask_workers_matches_the_local_run() -> None:
    plan = DosingPlan(meals=[(1800.0, 40.0)], boluses=[(1800.0, 40.0)])
    here = population(plan, patients=["adult#001", "child#002", "adolescent#004"], horizon="PT3H", step="PT10M")
    there = population(plan, patients=["adult#001", "child#002", "adolescent#004"], horizon="PT3H", step="PT10M",
                       workers=2)
    for name, kpis in here["patients"].items():
        for key, value in kpis.items():
            assert there["patients"][name][key] == pytest.approx(value, rel=1e-6), (name, key)


def test_a_circulation_scenario_reports_mean_arterial_pressure(tmp_path: Path) -> None:
    """A faster heart raises cardiac output and mean arterial pressure; MAP stays R x mean flow."""
    from twinforge.packs.health.twins import ensure_models
    from twinforge.sim import Scenario

    graph = TwinGraph.open(f"sqlite:///{tmp_path / 'cv.db'}")
    try:
        ensure_models(graph)
        graph.create_twin("heart-1", {"$metadata": {"$model": "dtmi:twinforge:health:Circulation;1"}})
        result = Scenario.from_dict({
            "id": "tachy", "scope": "SELECT T FROM DIGITALTWINS T WHERE T.$dtId = 'heart-1'", "horizon": "PT3M",
            "step": "PT1M", "overrides": [{"twin": "heart-1", "property": "heartRate", "value": 100}],
            "kpis": [{"name": "map", "twin": "heart-1", "property": "meanArterialPressure", "agg": "last"},
                     {"name": "co", "twin": "heart-1", "property": "cardiacOutput", "agg": "last"}]}).run(graph)
    finally:
        graph.close()
    assert result.kpis["co"] > result.baseline_kpis["co"]
    assert result.kpis["map"] > result.baseline_kpis["map"] + 5
    for kpis in (result.kpis, result.baseline_kpis):
        assert kpis["map"] == pytest.approx(1.0 * kpis["co"] * 1000.0 / 60.0, rel=5e-3)  # R = 1 mmHg·s/mL
