"""Live OEE from history: a scripted hour of a two-machine line, checked against OEE computed
by hand, written to KPI twins (so kept as history)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from twinforge.graph import TwinGraph
from twinforge.graph.updates import Update
from twinforge.history import History
from twinforge.packs.factory.monitor import KPI_MODEL, LINE_MODEL, LineMonitor, Machine, ensure_line

CTX = "dtmi:dtdl:context;3"
MACHINE = {"@context": CTX, "@id": "dtmi:test:Machine;1", "@type": "Interface", "contents": [
    {"@type": "Telemetry", "name": n, "schema": s} for n, s in
    (("State", "integer"), ("ProcessedCount", "long"), ("DefectiveCount", "long"), ("StopReason", "string"))]}
T0 = 1_800_000_000_000_000  # us
S = 1_000_000


def at(seconds: float) -> int:
    return T0 + int(seconds * S)


@pytest.fixture
def graph(tmp_path: Path) -> Any:
    g = TwinGraph.open(f"sqlite:///{tmp_path / 'line.db'}")
    g.add_models([MACHINE])
    for twin in ("L-A", "L-B"):
        g.create_twin(twin, {"$metadata": {"$model": "dtmi:test:Machine;1"}})
    ensure_line(g, "L", ["L-A", "L-B"])
    yield g
    g.close()


def send(graph: TwinGraph, twin: str, seconds: float, **values: Any) -> None:
    graph.apply_updates([Update(twin, values, telemetry=True, ts=at(seconds), source="test")])


def test_oee_of_a_scripted_hour_matches_the_hand_computation(graph: TwinGraph) -> None:
    # Machine A, ideal 0.5 s/unit, over [0, 3600): runs, a 600 s jam at 1000, a 30 s micro-stop
    # at 2000 (under the 60 s threshold: a performance loss), runs to the end.
    send(graph, "L-A", 0, State=6, ProcessedCount=0, DefectiveCount=0, StopReason="")
    send(graph, "L-A", 1000, State=11, ProcessedCount=1800, DefectiveCount=10, StopReason="jam")
    send(graph, "L-A", 1600, State=6, StopReason="")
    send(graph, "L-A", 2000, State=5, ProcessedCount=2500, DefectiveCount=15, StopReason="starved")
    send(graph, "L-A", 2030, State=6, StopReason="")
    send(graph, "L-A", 3599, ProcessedCount=5300, DefectiveCount=25)
    # Machine B, ideal 0.6 s/unit: a 300 s planned changeover at 500, otherwise running.
    send(graph, "L-B", 0, State=6, ProcessedCount=100, DefectiveCount=1, StopReason="")
    send(graph, "L-B", 500, State=2, StopReason="planned changeover")
    send(graph, "L-B", 800, State=6, StopReason="")
    send(graph, "L-B", 3599, ProcessedCount=4900, DefectiveCount=1)

    monitor = LineMonitor(graph, "L", [Machine("L-A", 0.5), Machine("L-B", 0.6)], window=3600, micro_stop=60)
    out = monitor.run_once(at(3600))

    a = out["L-A"]
    assert a.planned_time == 3600 and a.downtime == 600 and a.micro_stops == 1
    assert a.availability == pytest.approx(3000 / 3600)
    assert a.total == 5300 and a.good == 5275
    assert a.performance == pytest.approx(0.5 * 5300 / 3000)
    assert a.oee == pytest.approx(0.5 * 5275 / 3600)
    assert a.downtime_by_reason == {"jam": 600}
    b = out["L-B"]
    assert b.planned_time == 3300 and b.downtime == 0 and b.availability == 1.0
    assert b.total == 4800 and b.good == 4800  # the counters' values before the window are the baseline
    assert b.oee == pytest.approx(0.6 * 4800 / 3300)
    line = out["L"]
    assert line.ideal_cycle_time == 0.6 and line.good == b.good  # the last machine's output at the bottleneck's pace

    kpi = graph.get_twin("L-A-kpi")
    assert kpi["$metadata"]["$model"] == KPI_MODEL
    assert kpi["oee"] == round(a.oee, 4) and kpi["topLoss"] == "jam" and kpi["state"] == "Execute"
    assert kpi["microStops"] == 1 and kpi["window"] == "PT3600S"
    whole = graph.get_twin("L")
    assert whole["$metadata"]["$model"] == LINE_MODEL and whole["bottleneck"] == "L-B" and whole["topLoss"] == "jam"
    assert whole["oee"] == round(line.oee, 4)
    rows = History(graph.store).read_range("L-A-kpi", "oee")
    assert [r["value"] for r in rows] == [round(a.oee, 4)]  # kept as history, at the window's end
    assert rows[0]["_ts"] == at(3600)
    assert {r["$targetId"] for r in graph.list_relationships("L", "hasMachine")} == {"L-A", "L-B"}


def test_a_rolling_window_only_counts_what_is_inside_it(graph: TwinGraph) -> None:
    send(graph, "L-A", 0, State=11, ProcessedCount=0, DefectiveCount=0, StopReason="drive fault")
    send(graph, "L-A", 100, State=6, StopReason="")
    send(graph, "L-A", 1000, ProcessedCount=1800)
    send(graph, "L-B", 0, State=6, ProcessedCount=0, DefectiveCount=0, StopReason="")
    monitor = LineMonitor(graph, "L", [Machine("L-A", 0.5), Machine("L-B", 0.6)], window=600, micro_stop=60)
    first = monitor.run_once(at(1000))["L-A"]  # [400, 1000): running all along
    assert first.downtime == 0 and first.total == 1800 and first.availability == 1.0
    again = monitor.run_once(at(500))["L-A"]  # [-100, 500): the fault's 100 s inside
    assert again.downtime == 100 and again.downtime_by_reason == {"drive fault": 100}


def test_ensure_line_is_idempotent(graph: TwinGraph) -> None:
    ensure_line(graph, "L", ["L-A", "L-B"])
    assert len(graph.list_relationships("L")) == 2 and len(graph.list_relationships("L-A-kpi")) == 1
