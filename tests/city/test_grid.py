"""Grid twins from pandapower's MATPOWER cases on the energy-grid ontology, and back: the same
tables, and case14's published solution from the twins."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.requirements import need_module
from twinforge.graph import TwinGraph

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning", "ignore::DeprecationWarning")
need_module("pandapower")


@pytest.mark.parametrize("case", ["case9", "case14", "case30", "cigre_mv"])
def test_network_to_twins_to_network_is_the_same_network(tmp_path: Path, case: str) -> None:
    import pandapower.networks as pn
    import pandas as pd

    from twinforge.packs.city.grid import TABLES, import_network, network_of
    from twinforge.packs.city.grid_whatif import cigre_mv

    net = cigre_mv() if case == "cigre_mv" else getattr(pn, case)()
    graph = TwinGraph.open(f"sqlite:///{tmp_path / 'grid.db'}")
    try:
        import_network(graph, net, case)
        back = network_of(graph, case)
        for table in TABLES:
            if len(net[table]):
                pd.testing.assert_frame_equal(net[table], back[table])
    finally:
        graph.close()


def test_case14_solution_from_the_twins_and_n_minus_1(tmp_path: Path) -> None:
    import pandapower.networks as pn

    from twinforge.packs.city.grid import contingencies, import_network, network_of, run_power_flow

    graph = TwinGraph.open(f"sqlite:///{tmp_path / 'grid.db'}")
    try:
        import_network(graph, pn.case14(), "g")
        assert graph.get_twin("g-line-0")["$metadata"]["$model"] == "dtmi:twinforge:city:grid:Line;1"
        assert graph.models.is_of_model("dtmi:twinforge:city:grid:Line;1",
                                        "dtmi:digitaltwins:ngsi_ld:cim:energy:ACLineSegment;1")
        kpis = run_power_flow(graph, "g")
        assert kpis["slackMw"] == pytest.approx(232.393, abs=1e-3)
        assert kpis["lossesMw"] == pytest.approx(13.393, abs=1e-3)
        bus14 = graph.get_twin("g-bus-13")
        assert bus14["resVmPu"] == pytest.approx(1.0355, abs=1e-4)
        assert bus14["resVaDegree"] == pytest.approx(-16.03, abs=1e-2)
        graph.update_twin("g-load-0", [{"op": "replace", "path": "/pMw", "value": 40.0}])  # a what-if on the twin
        assert run_power_flow(graph, "g")["slackMw"] > 232.393
        rows = contingencies(network_of(graph, "g"))
        assert len(rows) == 20 and all("element" in r for r in rows)
    finally:
        graph.close()


def _case14(tmp_path: Path) -> TwinGraph:
    import pandapower.networks as pn

    from twinforge.packs.city.grid import import_network

    graph = TwinGraph.open(f"sqlite:///{tmp_path / 'grid.db'}")
    import_network(graph, pn.case14(), "g")
    return graph


def test_what_ifs_match_pandapower_and_leave_the_live_grid_alone(tmp_path: Path) -> None:
    import pandapower as pp
    import pandapower.networks as pn

    from twinforge.packs.city.grid import kpis_of
    from twinforge.packs.city.grid_whatif import GridChange, what_if

    graph = _case14(tmp_path)
    try:
        before = {t: graph.get_twin(t)["$etag"] for t in ("g", "g-load-0", "g-line-2", "g-bus-13")}
        ids = sorted(r["$targetId"] for r in graph.list_relationships("g", "hasElement"))
        result = what_if(graph, "g", GridChange(load_growth=1.2, pv=[(13, 5.0)], out_of_service=["line 2"]))
        # the same changes made to the network directly
        net = pn.case14()
        net.load[["p_mw", "q_mvar"]] *= 1.2
        pp.create_sgen(net, 13, p_mw=5.0, q_mvar=0.0)
        net.line.at[2, "in_service"] = False
        pp.runpp(net)
        expected = kpis_of(net)
        for key, value in expected.items():
            assert result.scenario[key] == pytest.approx(value, abs=1e-9), key
        assert result.baseline["slackMw"] == pytest.approx(232.393, abs=1e-3)
        assert result.delta()["lossesMw"] > 0
        # the live grid: no etag moved, no twin added
        assert {t: graph.get_twin(t)["$etag"] for t in before} == before
        assert sorted(r["$targetId"] for r in graph.list_relationships("g", "hasElement")) == ids
    finally:
        graph.close()


def test_load_growth_on_some_buses_pv_and_n_minus_1(tmp_path: Path) -> None:
    from twinforge.packs.city.grid_whatif import GridChange, what_if

    graph = _case14(tmp_path)
    try:
        pv = what_if(graph, "g", GridChange(pv=[(4, 20.0)]))
        # the slack gives the PV's 20 MW back, and a little more as the losses fall
        assert 20.0 < pv.baseline["slackMw"] - pv.scenario["slackMw"] < 23.0
        assert pv.delta()["lossesMw"] < 0
        some = what_if(graph, "g", GridChange(load_growth=2.0, growth_buses=[13]))
        everywhere = what_if(graph, "g", GridChange(load_growth=2.0))
        assert some.baseline["slackMw"] < some.scenario["slackMw"] < everywhere.scenario["slackMw"]
        heavy = what_if(graph, "g", GridChange(load_growth=1.6, n_minus_1=True))
        assert heavy.voltage_violations and all(not 0.95 <= v["vmPu"] <= 1.05 for v in heavy.voltage_violations)
        assert len(heavy.contingencies) == 20
        assert {r["element"] for r in heavy.contingencies} >= {"line 0", "trafo 0"}
    finally:
        graph.close()


def test_what_if_as_of_a_time_uses_the_parameters_then(tmp_path: Path) -> None:
    import time

    from twinforge.history.timeutil import from_us, now_us
    from twinforge.packs.city.grid_whatif import GridChange, what_if

    graph = _case14(tmp_path)
    try:
        then = from_us(now_us())
        time.sleep(0.01)
        graph.update_twin("g-load-0", [{"op": "replace", "path": "/pMw", "value": 60.0}])
        now = what_if(graph, "g", GridChange())
        past = what_if(graph, "g", GridChange(), as_of=then)
        assert past.baseline["slackMw"] == pytest.approx(232.393, abs=1e-3)
        assert now.baseline["slackMw"] > past.baseline["slackMw"] + 30
    finally:
        graph.close()


def test_bad_what_ifs_are_refused_by_name(tmp_path: Path) -> None:
    from twinforge.errors import InvalidArgument, NotFound
    from twinforge.packs.city.grid_whatif import GridChange, what_if

    graph = _case14(tmp_path)
    try:
        with pytest.raises(InvalidArgument, match="'feeder 2' is not an element"):
            what_if(graph, "g", GridChange(out_of_service=["feeder 2"]))
        with pytest.raises(InvalidArgument, match="load growth"):
            what_if(graph, "g", GridChange(load_growth=-1))
        with pytest.raises(NotFound):
            what_if(graph, "g", GridChange(pv=[(99, 1.0)]))
        with pytest.raises(NotFound, match="there is no grid twin 'nogrid'"):
            what_if(graph, "nogrid", GridChange())
        assert graph.get_twin("g-load-0")["pMw"] == pytest.approx(21.7)
        import pandapower.networks as pn

        from twinforge.errors import Conflict
        from twinforge.packs.city.grid import import_network

        count = len(list(graph.query("SELECT T FROM DIGITALTWINS T")))
        with pytest.raises(Conflict, match="'g' already exists"):
            import_network(graph, pn.case14(), "g")
        assert len(list(graph.query("SELECT T FROM DIGITALTWINS T"))) == count
    finally:
        graph.close()


def test_n_minus_1_outcomes_written_on_the_twins(tmp_path: Path) -> None:
    from twinforge.packs.city.grid_whatif import record_contingencies

    graph = _case14(tmp_path)
    try:
        rows = record_contingencies(graph, "g")
        row = next(r for r in rows if r["element"] == "line 0")
        twin = graph.get_twin("g-line-0")
        assert twin["n1Converged"] is True
        assert twin["n1MaxLoadingPercent"] == pytest.approx(row["maxLoadingPercent"])
        assert graph.get_twin("g-trafo-0")["n1LossesMw"] > 0
    finally:
        graph.close()
