"""Scenarios on a real graph: forks (now and as of a past time), baseline against variant,
KPIs, overrides in time, and the live graph left exactly as it was."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest

from twinforge.errors import InvalidArgument
from twinforge.graph import TwinGraph, Update
from twinforge.history import History
from twinforge.sim import Scenario, fork, library, sandbox
from twinforge.sim.service import run_and_record

ZONE = "dtmi:twinforge:sim:ThermalZone;1"
SCOPE = f"SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{ZONE}')"


def zone(**values: Any) -> dict[str, Any]:
    base = {"temperature": 18.0, "outdoorTemperature": 5.0, "heaterPower": 1000.0,
            "thermalResistance": 0.01, "thermalCapacitance": 1.0e6}
    return {"$metadata": {"$model": ZONE}, **base, **values}


@pytest.fixture
def building(graph: TwinGraph) -> TwinGraph:
    graph.add_models(library.models())
    for i in range(1, 4):
        graph.create_twin(f"zone-{i}", zone())
    graph.create_twin("pump-1", {"$metadata": {"$model": library.NS + "CentrifugalPump;1"}, "speed": 1450.0})
    return graph


def document(**extra: Any) -> dict[str, Any]:
    return {"id": "warmer-office", "scope": SCOPE, "horizon": "PT24H", "step": "PT1M",
            "overrides": [{"twin": "zone-1", "property": "heaterPower", "value": 2000},
                          {"twin": "zone-1", "property": "outdoorTemperature",
                           "series": [["PT0S", 5.0], ["PT12H", 15.0]]}],
            "kpis": [{"name": "finalTemp", "twin": "zone-1", "property": "temperature", "agg": "last"},
                     {"name": "heatUsed", "twin": "zone-1", "property": "heaterPower", "agg": "integral"},
                     {"name": "coldest", "twin": "zone-2", "property": "temperature", "agg": "min"}],
            **extra}


def live_state(graph: TwinGraph) -> tuple[Any, ...]:
    twins = sorted((t["$dtId"], t["$etag"]) for t in graph.list_twins(limit=1000))
    points = sum(len(History(graph.store).read_range(t, "temperature", limit=100_000)) for t, _ in twins)
    return twins, points, graph.store.last_event_seq()


def test_baseline_and_variant_follow_the_physics(building: TwinGraph) -> None:
    before = live_state(building)
    result = Scenario.from_dict(document()).run(building)
    # Baseline: every zone settles at outdoor + P·R = 5 + 1000·0.01 = 15 °C (RC = 10^4 s << 24 h).
    assert result.baseline_kpis["finalTemp"] == pytest.approx(15.0, abs=1e-3)
    # Variant: 2 kW, outside 5 -> 15 °C over 12 h then held: the steady state is 15 + 20 = 35 °C,
    # approached by a first-order lag (tau = RC) that trails the ramp by rate·tau.
    tau, rate, x = 1.0e4, 10.0 / 43_200, math.exp(-43_200 / 1.0e4)
    lag_at_12h = rate * tau * (1 - x) + (25.0 - 18.0) * x
    assert result.kpis["finalTemp"] == pytest.approx(35.0 - lag_at_12h * x, abs=1e-3)
    assert result.deltas["finalTemp"] == pytest.approx(20.0 - lag_at_12h * x, abs=2e-3)
    assert result.kpis["heatUsed"] == pytest.approx(2000.0 * 86_400)  # J
    assert result.baseline_kpis["heatUsed"] == pytest.approx(1000.0 * 86_400)
    assert result.kpis["coldest"] == result.baseline_kpis["coldest"]  # zone-2 unchanged
    frame = result.kpi_frame()
    assert list(frame.columns) == ["baseline", "variant", "delta"] and frame.loc["finalTemp", "delta"] > 19
    series = result.frame("zone-1", "outdoorTemperature")
    assert series["variant"].iloc[0] == 5.0 and series["variant"].iloc[-1] == 15.0
    assert series["variant"].iloc[360] == pytest.approx(10.0)  # 6 h: halfway along the ramp
    assert len(series) == 24 * 60 + 1 and str(series.index.tz) == "UTC"
    # The live graph, its history and its events are untouched.
    assert live_state(building) == before


def test_runs_are_recorded_in_sandboxes_with_history(building: TwinGraph, tmp_path: Path) -> None:
    before = live_state(building)
    scenario = Scenario.from_dict(document(record="PT15M"))
    result = run_and_record(scenario, building, tmp_path / "runs")
    box = TwinGraph.open(f"sqlite:///{tmp_path / 'runs' / 'variant.db'}")
    try:
        points = History(box.store).read_range("zone-1", "temperature", limit=1000)
        assert len(points) == 24 * 4 + 1
        assert points[-1]["value"] == pytest.approx(result.kpis["finalTemp"])
        assert box.get_twin("zone-1")["temperature"] == pytest.approx(result.kpis["finalTemp"])
        assert {r["$dtId"] for r in box.list_twins(limit=100)} == {"zone-1", "zone-2", "zone-3"}
    finally:
        box.close()
    assert live_state(building) == before


def test_a_fork_as_of_a_past_time_rebuilds_values_from_history(building: TwinGraph) -> None:
    past = time.time() - 3600
    # zone-2 was at 10 °C an hour ago, then warmed to 21 °C; its heater was switched later.
    building.apply_updates([Update("zone-2", {"temperature": 10.0}, ts=int((past - 60) * 1e6))])
    building.apply_updates([Update("zone-2", {"temperature": 21.0}, ts=int((past + 60) * 1e6))])
    from twinforge.history.timeutil import from_us

    as_of = from_us(int(past * 1e6))
    snapshot = fork(building, SCOPE, as_of)
    assert snapshot.twins["zone-2"]["temperature"] == 10.0
    assert building.get_twin("zone-2")["temperature"] == 21.0  # live value is the newer one
    assert snapshot.start == pytest.approx(past, abs=1e-3)
    # A property first set after the as-of time is left out of the fork.
    building.apply_updates([Update("zone-3", {"heaterPower": 50.0})])
    assert "heaterPower" not in fork(building, SCOPE, as_of).twins["zone-3"]
    result = Scenario.from_dict(document(asOf=as_of, horizon="PT1H", step="PT1M")).run(building)
    assert result.baseline.start == pytest.approx(past, abs=1e-3)
    assert result.baseline.get("zone-2", "temperature")[0] == 10.0
    with pytest.raises(InvalidArgument, match="in the future"):
        fork(building, SCOPE, from_us(int((time.time() + 3600) * 1e6)))


@pytest.mark.parametrize(("change", "message"), [
    ({"overrides": [{"twin": "nope", "property": "heaterPower", "value": 1}]}, "twin 'nope' is not in the scope"),
    ({"overrides": [{"twin": "zone-1", "property": "colour", "value": 1}]}, "'colour' is not a property"),
    ({"kpis": [{"name": "k", "twin": "zone-1", "property": "temperature", "agg": "median"}]}, "'kpis\\[0\\].agg': must be 'last', 'avg'"),
    ({"horizon": "a day"}, "'horizon': 'a day' is not a duration"),
    ({"step": "PT48H"}, "step .* is longer than the horizon"),
    ({"scope": "SELECT T FROM DIGITALTWINS T WHERE T.temperature > 1000"}, "the scope selects no twin"),
    ({"scope": ""}, "'scope': the scope is a query selecting twins"),
    ({"scope": "SELEKT *"}, "expected SELECT"),
    ({"id": "bad id!"}, "'id': an id is 1-100 letters"),
    ({"colour": "red"}, "unknown field 'colour' \\(known: asOf, "),
    ({"overrides": [{"twin": "zone-1", "property": "heaterPower", "value": 1, "series": [["PT0S", 2]]}]},
     "'overrides\\[0\\]': give either value or series"),
    ({"overrides": [{"twin": "zone-1", "property": "heaterPower", "series": [["PT1H", 1], ["PT0S", 2]]}]},
     "must not go back"),
    ({"overrides": [{"twin": "zone-1", "property": "heaterPower", "series": [["PT1H", 1], [3]]}]},
     r"'overrides\[0\].series\[1\]': a series point is \[duration, value\], got \[3\]"),
    ({"overrides": [{"twin": "zone-1", "property": "heaterPower", "value": True}]},
     r"'overrides\[0\].value': must be a number, got True"),
    ({"seed": "7"}, "'seed': must be a whole number, got '7'"),
    ({"asOf": "yesterday"}, "'asOf': 'yesterday' is not an ISO 8601 time"),
    ({"sweep": {"parameters": [{"twin": "zone-1", "property": "heaterPower", "distribution": {"type": "normal"}}]}},
     r"'sweep.parameters\[0\].distribution': a normal distribution needs mean, std"),
    ({"optimise": {"variables": [{"twin": "zone-1", "property": "heaterPower", "bounds": [0, 1]}],
                   "minimise": "nope"}}, "optimise.minimise must name a KPI of the scenario"),
])
def test_bad_scenarios_are_refused_before_anything_runs(building: TwinGraph, change: dict[str, Any],
                                                        message: str) -> None:
    before = live_state(building)
    with pytest.raises(InvalidArgument, match=message):
        Scenario.from_dict(document(**change)).run(building)
    assert live_state(building) == before


def test_yaml_documents_and_static_twins(building: TwinGraph, tmp_path: Path) -> None:
    text = """
id: pump-check
scope: "SELECT T FROM DIGITALTWINS T"
horizon: PT2H
step: PT10M
overrides:
  - {twin: pump-1, property: speed, value: 725}
kpis:
  - {name: flow, twin: pump-1, property: flow, agg: last}
  - {name: power, twin: pump-1, property: shaftPower, agg: avg}
"""
    path = tmp_path / "pump.yaml"
    path.write_text(text)
    result = Scenario.from_file(path).run(building)
    assert result.kpis["flow"] == pytest.approx(result.baseline_kpis["flow"] / 2)
    assert result.kpis["power"] == pytest.approx(result.baseline_kpis["power"] / 8, rel=1e-3)
    assert math.isfinite(result.to_json()["deltas"]["power"])


def test_a_sandbox_holds_the_fork(building: TwinGraph) -> None:
    snapshot = fork(building, "SELECT T FROM DIGITALTWINS T")
    box = sandbox(snapshot)
    assert len(box.list_twins(limit=100)) == 4 and box.get_twin("zone-1")["heaterPower"] == 1000.0


def test_yaml_numbers_that_are_not_numbers_are_named() -> None:
    """NaN and infinity would make every KPI nan; YAML 1.1 reads 1e308 as text: both are refused
    with the field's path, and the second says why a number was read as text."""
    text = "\n".join(["id: odd-numbers", f'scope: "{SCOPE}"', "horizon: PT1H", "step: PT1M", "overrides:",
                      "  - {twin: zone-1, property: heaterPower, value: .nan}",
                      "  - {twin: zone-1, property: thermalResistance, value: -.inf}",
                      "  - {twin: zone-2, property: heaterPower, value: 1e308}"])
    with pytest.raises(InvalidArgument) as info:
        Scenario.from_text(text, yaml=True)
    message = str(info.value)
    assert "'overrides[0].value': must be a finite number, got nan" in message
    assert "'overrides[1].value': must be a finite number, got -inf" in message
    assert "'overrides[2].value': must be a number, got '1e308' (text, not a number: YAML reads" in message
    assert Scenario.from_text(text.replace("1e308", "1.0e+308").replace(".nan", "1").replace("-.inf", "2"),
                              yaml=True).overrides[2].value == 1e308


def test_kpis_count_every_step_whatever_is_recorded(building: TwinGraph) -> None:
    """A one-minute spike between two recorded samples: `record: PT15M` used to give 0 for both
    its peak and its energy; KPIs are now computed on every step."""
    spike = {"twin": "zone-1", "property": "heaterPower",
             "series": [["PT0S", 0.0], ["PT37M", 0.0], ["PT38M", 5000.0], ["PT39M", 0.0]]}
    kpis = [{"name": "peak", "twin": "zone-1", "property": "heaterPower", "agg": "max"},
            {"name": "energy", "twin": "zone-1", "property": "heaterPower", "agg": "integral"},
            {"name": "mean", "twin": "zone-1", "property": "heaterPower", "agg": "avg"},
            {"name": "warmest", "twin": "zone-1", "property": "temperature", "agg": "max"}]
    every = Scenario.from_dict(document(horizon="PT2H", step="PT1M", overrides=[spike], kpis=kpis)).run(building)
    sparse = Scenario.from_dict(document(horizon="PT2H", step="PT1M", overrides=[spike], kpis=kpis,
                                         record="PT15M")).run(building)
    assert every.kpis["peak"] == sparse.kpis["peak"] == 5000.0
    assert every.kpis["energy"] == pytest.approx(300_000.0) and sparse.kpis["energy"] == pytest.approx(300_000.0)
    assert sparse.kpis == pytest.approx(every.kpis)
    assert len(sparse.variant.times) == 9 and sparse.variant.steps == 120  # 0, 15 ... 120 min recorded
    assert sparse.to_json()["steps"] == 120 and sparse.to_json()["recorded"] == 9


def test_live_runs_follow_the_twin_and_show_what_they_apply(building: TwinGraph) -> None:
    """`simulate --live` read the twins once: a PATCH of heaterPower during the run changed
    nothing, and an overridden input never showed on the twin. Each step now reads the live
    inputs, and writes the ones the scenario overrides."""
    from twinforge.sim.live import run_live

    scenario = Scenario.from_dict(document(horizon="PT10M", step="PT1M", kpis=[],
                                           overrides=[{"twin": "zone-1", "property": "heaterPower", "value": 2000}]))
    temps: list[tuple[float, float]] = []

    def step(k: int, t: float) -> None:
        temps.append((building.get_twin("zone-1")["temperature"], building.get_twin("zone-2")["temperature"]))
        if k == 3:  # someone turns zone-2's heater up while the run goes on
            building.update_twin("zone-2", [{"op": "replace", "path": "/heaterPower", "value": 5000.0}])

    stats = run_live(building, scenario, speed=1e9, steps=6, on_step=step)
    assert stats.steps == 6 and stats.refused == 0
    assert building.get_twin("zone-1")["heaterPower"] == 2000.0  # the override shows on the twin
    decay = math.exp(-60.0 / (0.01 * 1.0e6))

    def after(temp: float, power: float) -> float:
        steady = 5.0 + power * 0.01
        return steady + (temp - steady) * decay

    zone1, zone2 = 18.0, 18.0
    for k, (t1, t2) in enumerate(temps, 1):
        zone1 = after(zone1, 2000.0)
        zone2 = after(zone2, 5000.0 if k > 3 else 1000.0)  # felt from the step after the PATCH
        assert t1 == pytest.approx(zone1, abs=1e-9) and t2 == pytest.approx(zone2, abs=1e-9), k
