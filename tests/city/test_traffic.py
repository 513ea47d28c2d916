"""Road-network twins from a SUMO network (netgenerate's 3x3 grid), SUMO runs on them in their
own process: KPIs against SUMO's own tripinfo and summary of the same run, what-ifs on a fork,
and the live feed into the twins through the ingest path."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.requirements import need_module
from twinforge.errors import Conflict, InvalidArgument
from twinforge.graph import TwinGraph

need_module("libsumo")
need_module("sumolib")

from twinforge.packs.city import traffic  # noqa: E402
from twinforge.packs.city import traffic_run as tr  # noqa: E402

END = 600.0  # simulated seconds per run: queues form at the lights within the first minutes


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("sumo")
    net = traffic.grid_network(tmp / "net.xml")
    return {"net": net, "routes": traffic.write_demand(net, tmp / "routes.xml", flows=40, seed=3),
            "loops": traffic.write_detectors(net, tmp / "detectors.xml")}


@pytest.fixture
def graph(tmp_path: Path, files: dict[str, Path]) -> Any:
    g = TwinGraph.open(f"sqlite:///{tmp_path / 'city.db'}")
    traffic.import_network(g, "streets", files["net"], routes=files["routes"], detectors=files["loops"])
    yield g
    g.close()


def test_the_network_becomes_twins_on_the_ontology(graph: Any, files: dict[str, Path]) -> None:
    count = lambda q: next(iter(graph.query(q)))["COUNT"]  # noqa: E731
    assert count("SELECT COUNT() FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:digitaltwins:ngsi_ld:city:RoadSegment;1')") == 24
    assert count("SELECT COUNT() FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:digitaltwins:ngsi_ld:city:Road;1')") == 12
    assert count("SELECT COUNT() FROM DIGITALTWINS T WHERE "
                 "IS_OF_MODEL(T, 'dtmi:digitaltwins:ngsi_ld:city:TrafficFlowObserved;1')") == 48  # a loop per lane
    assert count(f"SELECT COUNT() FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{traffic.JUNCTION}')") == 9
    lights = graph.query(f"SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{traffic.LIGHT}')")
    assert {r["T"]["sumoId"] for r in lights} == {"A1", "B0", "B1", "B2", "C1"}  # netgenerate's guess
    # the relationships mirror the network: edge A0B0 runs from junction A0 to B0, on road A0-B0
    rels = {r["$relationshipName"]: r["$targetId"] for r in graph.list_relationships("streets-e-A0B0")}
    assert rels == {"startsAt": "streets-j-A0", "endsAt": "streets-j-B0", "refRoad": "streets-road-A0-B0"}
    assert graph.list_relationships("streets-l-A0B0_1", "laneOf")[0]["$targetId"] == "streets-e-A0B0"
    loop = {r["$relationshipName"]: r["$targetId"] for r in graph.list_relationships("streets-loop-loop_A0B0_1")}
    assert loop == {"onLane": "streets-l-A0B0_1", "refRoadSegment": "streets-e-A0B0"}
    assert graph.list_relationships("streets-tls-B1", "controls")[0]["$targetId"] == "streets-j-B1"
    net = ET.parse(files["net"]).getroot()
    edge = next(e for e in net.iter("edge") if e.get("id") == "A0B0")
    assert graph.get_twin("streets-e-A0B0")["length"] == pytest.approx(float(edge.find("lane").get("length")))
    # the same network again is a Conflict, and nothing more is written
    before = count("SELECT COUNT() FROM DIGITALTWINS")
    with pytest.raises(Conflict, match="road network 'streets' exists already"):
        traffic.import_network(graph, "streets", files["net"], routes=files["routes"], detectors=files["loops"])
    assert count("SELECT COUNT() FROM DIGITALTWINS") == before


def test_kpis_are_sumos_own_tripinfo_and_summary(graph: Any, tmp_path: Path) -> None:
    samples: list[tuple[float, dict[str, Any], int]] = []
    kpis = tr.run(tr.setup_of(graph, "streets"), tr.RunOptions(end=END, keep=str(tmp_path / "out")),
                  lambda now, values, halting: samples.append((now, values, halting)))
    trips = list(ET.parse(tmp_path / "out" / "tripinfo.xml").getroot().iter("tripinfo"))
    summary = tr.summary_rows(tmp_path / "out" / "summary.xml")
    assert kpis.vehicles == len(trips) == int(summary[-1]["arrived"]) > 100
    assert kpis.mean_travel_time_s == pytest.approx(sum(float(t.get("duration")) for t in trips) / len(trips), abs=1e-9)
    assert round(kpis.mean_travel_time_s, 2) == float(summary[-1]["meanTravelTime"])
    assert kpis.total_delay_s == pytest.approx(sum(float(t.get("timeLoss")) for t in trips), abs=1e-6)
    assert kpis.co2_kg == pytest.approx(sum(float(t.find("emissions").get("CO2_abs")) for t in trips) / 1e6,
                                        abs=1e-9)
    # the queue the samples carried, second by second, is the summary's count of halting vehicles
    assert len(samples) == len(summary) == kpis.steps == END
    assert [h for _, _, h in samples] == [int(row["halting"]) for row in summary]
    assert kpis.max_queue == max(int(row["halting"]) for row in summary) > 0
    assert kpis.mean_queue == pytest.approx(sum(int(row["halting"]) for row in summary) / END)
    running = [v["streets"]["running"] for _, v, _ in samples if "running" in v.get("streets", {})]
    assert running[-1] == int(summary[-1]["running"])


def test_a_what_if_runs_on_a_fork_and_leaves_the_live_network_alone(graph: Any) -> None:
    etags = {r["T"]["$dtId"]: r["T"]["$etag"] for r in graph.query("SELECT T FROM DIGITALTWINS T")}
    options = tr.RunOptions(end=END)
    plain = tr.run(tr.setup_of(graph, "streets"), options)
    # the inner lane closed on each street into the centre: the queues grow, fewer trips end
    closed = tr.what_if(graph, "streets", tr.TrafficChange(closed_lanes=["A1B1_1", "C1B1_1", "B0B1_1", "B2B1_1"]),
                        options=options)
    assert closed.baseline == plain  # the fork's baseline is the live network's run, to the vehicle
    assert closed.scenario.mean_queue > plain.mean_queue and closed.scenario.vehicles < plain.vehicles
    assert closed.to_json()["delta"]["vehicles"] == closed.scenario.vehicles - plain.vehicles
    more = tr.what_if(graph, "streets", tr.TrafficChange(demand_scale=1.2), options=options)
    assert more.scenario.vehicles > plain.vehicles  # a fifth more demand, more trips end
    assert more.scenario.co2_kg > plain.co2_kg
    # a light plan: B1 keeps the east-west green for 80 s and the north-south one for 10 s
    plan = tr.what_if(graph, "streets", tr.TrafficChange(signal_plans={"B1": [80, 3, 10, 3]}), options=options)
    assert plan.baseline == plain and plan.scenario != plain
    after = {r["T"]["$dtId"]: r["T"]["$etag"] for r in graph.query("SELECT T FROM DIGITALTWINS T")}
    assert after == etags
    assert graph.get_twin("streets-l-A1B1_1")["closed"] is False


@pytest.mark.parametrize(("change", "message"), [
    (tr.TrafficChange(closed_lanes=["nowhere_0"]), "'nowhere_0' is not a lane of road network 'streets'"),
    (tr.TrafficChange(signal_plans={"B1": [30, 3]}), "traffic light 'B1' has 4 phases, not 2"),
    (tr.TrafficChange(signal_plans={"Z9": [30]}), "'Z9' is not a traffic light"),
    (tr.TrafficChange(signal_plans={"B1": [30, -3, 30, 3]}), "phase durations are positive seconds"),
    (tr.TrafficChange(demand_scale=0), "demand_scale is above 0"),
])
def test_a_bad_change_is_refused_by_name(graph: Any, change: tr.TrafficChange, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        tr.what_if(graph, "streets", change, options=tr.RunOptions(end=60))


def test_a_network_sumo_cannot_load_is_a_clear_error(graph: Any) -> None:
    setup = tr.setup_of(graph, "streets")
    setup.files["net.xml"] = b"<net><edge id='broken'"
    with pytest.raises(InvalidArgument, match=r"the SUMO run failed: .*net\.xml is not well-formed XML"):
        tr.run(setup, tr.RunOptions(end=10))
    assert graph.get_twin("streets")["simTime"] == 0  # nothing was written


def test_the_live_feed_goes_through_the_ingest_path_into_twins_and_history(graph: Any) -> None:
    from twinforge.history import History

    feed = tr.TrafficFeed(graph, "streets", tr.RunOptions(end=300))
    kpis = feed.run()
    assert feed.samples == 300 and feed.updates > 300
    root = graph.get_twin("streets")
    assert root["simTime"] == 300 and root["arrived"] == kpis.vehicles
    # every simulated second is a point in the history, at the run's own clock
    points = History(graph.store).read_range("streets", "simTime", limit=10_000)
    assert [p["value"] for p in points] == [0.0] + [float(s) for s in range(1, 301)]  # created at 0
    assert points[-1]["_ts"] - points[1]["_ts"] == 299_000_000
    queued = History(graph.store).read_range("streets-e-B1C1", "haltingCount", limit=10_000)
    assert queued and max(p["value"] for p in queued) > 0  # the queue at the lights, as it formed
    loops = graph.query(f"SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{traffic.LOOP}') AND T.intensity > 0")
    assert loops  # loops counted the vehicles of the last minute
