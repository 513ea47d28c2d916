"""Buildings whose heating and cooling load the grid: EPW weather, the demand of an ideal
thermostat on the RC model, and the cross-domain what-if (heat wave, heat-pump rollout)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.requirements import need_module
from twinforge.graph import TwinGraph

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning", "ignore::DeprecationWarning")
need_module("pandapower")


def test_epw_round_trip_and_bad_files(tmp_path: Path) -> None:
    from twinforge.errors import InvalidArgument
    from twinforge.packs.city.district import read_epw, synthetic_weather, write_epw

    weather = synthetic_weather("Testville")
    path = tmp_path / "w.epw"
    write_epw(path, weather)
    back = read_epw(path)
    assert back.location.startswith("Testville") and len(back.temperature) == 8760
    np.testing.assert_allclose(back.temperature, weather.temperature)
    assert back.temperature.min() < 0 < 15 < back.temperature.max()  # a winter and a summer
    lines = path.read_text(encoding="latin-1").splitlines()
    bad = [*lines[:20], lines[20].replace(lines[20].split(",")[6], "99.9", 1), *lines[21:]]
    (tmp_path / "missing.epw").write_text("\n".join(bad), encoding="latin-1")
    with pytest.raises(InvalidArgument, match=r"missing.epw:21: the dry-bulb temperature is missing"):
        read_epw(tmp_path / "missing.epw")
    (tmp_path / "short.epw").write_text("\n".join([*lines[:12], "2023,1,1,5,60"]), encoding="latin-1")
    with pytest.raises(InvalidArgument, match=r"short.epw:13: 5 fields"):
        read_epw(tmp_path / "short.epw")
    (tmp_path / "no.epw").write_text("hello\n")
    with pytest.raises(InvalidArgument, match="not an EPW file"):
        read_epw(tmp_path / "no.epw")


def test_demand_is_the_rc_models_steady_heat_through_the_cop() -> None:
    from twinforge.packs.city.district import building, electric_demand

    doc = building(0.001, 1e8, heat_pump_share=1.0, heat_pump_cop=3.0, cooling_cop=4.0)
    demand = electric_demand(doc, np.array([-10.0, 20.0, 22.0, 33.0]))
    # (20 - -10) K / 0.001 K/W = 30 kW of heat, 10 kW electric; none between the setpoints;
    # (33 - 25) / 0.001 = 8 kW of cooling, 2 kW electric
    np.testing.assert_allclose(demand, [0.010, 0.0, 0.0, 0.002])
    assert electric_demand(building(0.001, 1e8), np.array([-10.0]))[0] == 0.0  # heated by gas


def test_the_ideal_thermostat_demand_holds_the_zone_in_the_rc_behaviour() -> None:
    from twinforge.packs.city.district import building, electric_demand, models
    from twinforge.sim import Snapshot, library, simulate
    from twinforge.sim.engine import Override, value_of

    doc = building(0.002, 5e7, heat_pump_share=1.0, heat_pump_cop=1.0)
    outdoor = -5.0
    heat_w = electric_demand(doc, np.array([outdoor]))[0] * 1e6
    snapshot = Snapshot(library.models() + models(), {"b": doc}, [], 0.0)
    run = simulate(snapshot, horizon=48 * 3600.0, step=3600.0,
                   overrides=[Override("b", "outdoorTemperature", outdoor), Override("b", "heaterPower", heat_w)])
    assert value_of(run, snapshot, "b", "temperature")[1][-1] == pytest.approx(20.0, abs=1e-9)


def _district(tmp_path: Path) -> TwinGraph:
    import pandapower.networks as pn

    from twinforge.packs.city.district import add_buildings, building
    from twinforge.packs.city.grid import import_network

    graph = TwinGraph.open(f"sqlite:///{tmp_path / 'city.db'}")
    import_network(graph, pn.case14(), "g")
    rng = np.random.default_rng(7)
    add_buildings(graph, "g", [(f"b{i:02d}", int(bus), building(float(rng.uniform(2e-5, 6e-5)), 1e9,
                                                               heat_pump_share=0.2))
                               for i, bus in enumerate(rng.choice([9, 10, 12, 13], size=30))])
    return graph


def test_a_heat_pump_rollout_in_a_cold_snap_loads_the_grid(tmp_path: Path) -> None:
    from twinforge.packs.city.district import bus_demand, district_what_if, synthetic_weather

    graph = _district(tmp_path)
    try:
        assert graph.get_twin("b00")["$metadata"]["$model"] == "dtmi:twinforge:city:Building;1"
        assert graph.models.is_of_model("dtmi:twinforge:city:Building;1", "dtmi:twinforge:sim:ThermalZone;1")
        weather = synthetic_weather()
        today = bus_demand(graph, "g", weather)
        rollout = bus_demand(graph, "g", weather, heat_pump_share=1.0)
        assert set(today) <= {9, 10, 12, 13} and sum(s.max() for s in rollout.values()) > \
            4 * sum(s.max() for s in today.values())
        now = district_what_if(graph, "g", weather)
        all_heat_pumps = district_what_if(graph, "g", weather, heat_pump_share=1.0)
        assert now.baseline == all_heat_pumps.baseline  # the same grid before the buildings' loads
        assert all_heat_pumps.scenario["slackMw"] > now.scenario["slackMw"] > now.baseline["slackMw"]
        assert all_heat_pumps.scenario["lossesMw"] > now.scenario["lossesMw"]
        # the live grid has no new load twin
        assert not [r for r in graph.list_relationships("g", "hasElement") if r["$targetId"] == "g-load-11"]
    finally:
        graph.close()


def test_a_heat_wave_shows_as_cooling_load(tmp_path: Path) -> None:
    from twinforge.packs.city.district import bus_demand, district_what_if, synthetic_weather

    graph = _district(tmp_path)
    try:
        weather = synthetic_weather()
        summer = slice(24 * 190, 24 * 200)
        hot = weather.heat_wave(8.0, summer)
        assert sum(s[summer].sum() for s in bus_demand(graph, "g", hot).values()) > \
            2 * sum(s[summer].sum() for s in bus_demand(graph, "g", weather).values())
        noon = 24 * 195 + 14
        before = district_what_if(graph, "g", weather, hour=noon)
        during = district_what_if(graph, "g", hot, hour=noon)
        assert during.scenario["slackMw"] > before.scenario["slackMw"]
    finally:
        graph.close()
