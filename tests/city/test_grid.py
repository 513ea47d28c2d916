"""Grid twins from pandapower's MATPOWER cases on the energy-grid ontology, and back: the same
tables, and case14's published solution from the twins."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.requirements import need_module
from twinforge.graph import TwinGraph

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning", "ignore::DeprecationWarning")
need_module("pandapower")


@pytest.mark.parametrize("case", ["case9", "case14", "case30"])
def test_network_to_twins_to_network_is_the_same_network(tmp_path: Path, case: str) -> None:
    import pandapower.networks as pn
    import pandas as pd

    from twinforge.packs.city.grid import TABLES, import_network, network_of

    net = getattr(pn, case)()
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
