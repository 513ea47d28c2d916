"""OEE computed live from a line's history, written back as twin properties (so kept as history).

The machines' twins are what `twinforge connect opcua` made of the OPC UA server; their
telemetry (``State``, ``ProcessedCount``, ``DefectiveCount``, ``StopReason``) is in history.
`LineMonitor.run_once` reads a rolling window of it through `twinforge.history`, turns state
changes into stops (every state but Execute; ``planned ...`` reasons are planned downtime),
computes each machine's OEE with `oee.compute` and the line's with `oee.line_oee`, and writes
them to a KPI twin per machine (``Line1-Filler-kpi``, model ``MachineKpi``, related to its
machine by ``measures``) and to the line's twin (``Line1``, model ``ProductionLine``, related to
its machines by ``hasMachine``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from twinforge.errors import NotFound
from twinforge.graph import TwinGraph
from twinforge.graph.updates import Update
from twinforge.history import History
from twinforge.history.timeutil import from_us, now_us
from twinforge.packs.factory.oee import OeeResult, Stop, compute, line_oee

NS = "dtmi:twinforge:factory:"
LINE_MODEL = NS + "ProductionLine;1"
KPI_MODEL = NS + "MachineKpi;1"
EXECUTE = 6


def _kpi_contents() -> list[dict[str, Any]]:
    share = [("oee", "Overall equipment effectiveness: availability x performance x quality"),
             ("availability", "Run time / planned production time"),
             ("performance", "Ideal cycle time x units / run time"),
             ("quality", "Good units / units")]
    out: list[dict[str, Any]] = [{"@type": "Property", "name": n, "schema": "double", "description": d}
                                 for n, d in share]
    out += [
        {"@type": "Property", "name": "totalCount", "schema": "double", "description": "Units made in the window"},
        {"@type": "Property", "name": "goodCount", "schema": "double", "description": "Good units in the window"},
        {"@type": ["Property", "TimeSpan"], "name": "downtime", "schema": "double", "unit": "second",
         "description": "Unplanned stops of at least the micro-stop length, inside planned time"},
        {"@type": "Property", "name": "microStops", "schema": "integer", "description": "Short stops counted"},
        {"@type": ["Property", "TimeSpan"], "name": "idealCycleTime", "schema": "double", "unit": "second"},
        {"@type": "Property", "name": "topLoss", "schema": "string", "description": "The stop reason that cost most"},
        {"@type": "Property", "name": "window", "schema": "duration", "description": "The rolling window"},
    ]
    return out


def models() -> list[dict[str, Any]]:
    """The pack's DTDL v3 interfaces for lines and their KPIs (with QuantitativeTypes)."""
    ctx = ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"]
    line = {"@context": ctx, "@id": LINE_MODEL, "@type": "Interface", "displayName": "Production line",
            "description": "A production line: its OEE over a rolling window, at the pace of its bottleneck.",
            "contents": [*_kpi_contents(),
                         {"@type": "Property", "name": "bottleneck", "schema": "string"},
                         {"@type": "Relationship", "name": "hasMachine", "description": "In flow order"}]}
    kpi = {"@context": ctx, "@id": KPI_MODEL, "@type": "Interface", "displayName": "Machine KPIs",
           "description": "The OEE of one machine over a rolling window.",
           "contents": [*_kpi_contents(),
                        {"@type": "Property", "name": "state", "schema": "string", "description": "PackML state now"},
                        {"@type": "Relationship", "name": "measures", "description": "The machine"}]}
    return [line, kpi]


def ensure_line(graph: TwinGraph, line: str, machines: Sequence[str]) -> None:
    """The line twin, a KPI twin per machine, and their relationships (idempotent)."""
    if LINE_MODEL not in graph.models:
        graph.add_models(models())
    _ensure_twin(graph, line, LINE_MODEL)
    for k, machine in enumerate(machines):
        kpi = f"{machine}-kpi"
        _ensure_twin(graph, kpi, KPI_MODEL)
        _ensure_rel(graph, line, f"{line}-has-{k}", {"$relationshipName": "hasMachine", "$targetId": machine,
                                                     "$relationshipId": f"{line}-has-{k}"})
        _ensure_rel(graph, kpi, f"{kpi}-measures", {"$relationshipName": "measures", "$targetId": machine})


def _ensure_twin(graph: TwinGraph, twin: str, model: str) -> None:
    try:
        graph.get_twin(twin)
    except NotFound:
        graph.create_twin(twin, {"$metadata": {"$model": model}})


def _ensure_rel(graph: TwinGraph, source: str, rel: str, body: dict[str, Any]) -> None:
    try:
        graph.get_relationship(source, rel)
    except NotFound:
        graph.create_relationship(source, rel, {k: v for k, v in body.items() if k != "$relationshipId"})


@dataclass(frozen=True, slots=True)
class Machine:
    twin: str
    ideal_cycle_time: float  # seconds per unit at rated speed


def _dt(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1e6, UTC)


class LineMonitor:
    """Computes a line's OEE from its machines' history and writes it to the KPI twins."""

    def __init__(self, graph: TwinGraph, line: str, machines: Sequence[Machine], *, window: float = 900.0,
                 micro_stop: float = 60.0) -> None:
        self.graph = graph
        self.line = line
        self.machines = list(machines)
        self.window = window
        self.micro_stop = micro_stop
        self.history = History(graph.store)

    def _series(self, twin: str, name: str, start: int, end: int) -> list[tuple[int, Any]]:
        """(ts, value) of a series over [start, end], led by its value at ``start``."""
        known, first = self.history.value_at(twin, name, start)
        rows = self.history.read_range(twin, name, start=from_us(start + 1), end=from_us(end + 1), limit=100_000)
        out = [(start, first)] if known else []
        out += [(int(r["_ts"]), r["value"]) for r in rows]
        return out

    def machine_oee(self, machine: Machine, start: int, end: int) -> tuple[OeeResult, int | None]:
        states = self._series(machine.twin, "State", start, end)
        reasons = self._series(machine.twin, "StopReason", start, end)
        stops: list[Stop] = []
        for k, (ts, state) in enumerate(states):
            if state == EXECUTE or not isinstance(state, int):
                continue
            until = states[k + 1][0] if k + 1 < len(states) else end
            reason = next((str(v) for t, v in reversed(reasons) if t <= ts + 1_000_000 and v), "")
            kind = "planned" if reason.startswith("planned") else "unplanned"
            stops.append(Stop(_dt(ts), _dt(until), kind, reason))
        counts = {name: [(_dt(t), float(v)) for t, v in self._series(machine.twin, name, start, end)
                         if isinstance(v, (int, float))] for name in ("ProcessedCount", "DefectiveCount")}
        if end <= start:
            return compute(start=_dt(end - 1), end=_dt(end), calendar=None, ideal_cycle_time=machine.ideal_cycle_time), None
        result = compute(start=_dt(start), end=_dt(end), calendar=None, ideal_cycle_time=machine.ideal_cycle_time,
                         stops=stops, processed=counts["ProcessedCount"], defective=counts["DefectiveCount"],
                         micro_stop=self.micro_stop)
        return result, (states[-1][1] if states else None)

    def run_once(self, at: int | None = None) -> dict[str, OeeResult]:
        """OEE of each machine and of the line over the window ending at ``at`` (us; now)."""
        end = at if at is not None else now_us()
        start = end - int(self.window * 1e6)
        # A line whose data begins inside the window (just connected) is measured from then: the
        # latest first sample of its machines, so all share one window.
        for machine in self.machines:
            known, _ = self.history.value_at(machine.twin, "State", start)
            if not known:
                first = self.history.read_range(machine.twin, "State", start=from_us(start), end=from_us(end + 1),
                                                limit=1)
                start = max(start, int(first[0]["_ts"])) if first else start
        out: dict[str, OeeResult] = {}
        updates: list[Update] = []
        window = f"PT{int(self.window)}S"
        for machine in self.machines:
            result, state = self.machine_oee(machine, start, end)
            out[machine.twin] = result
            values = _values(result, window)
            if isinstance(state, int):
                from twinforge.packs.factory.line import PACKML_STATES

                values["state"] = PACKML_STATES.get(state, str(state))
            updates.append(Update(f"{machine.twin}-kpi", values, ts=end, source="oee"))
        if self.machines:
            line = line_oee([out[m.twin] for m in self.machines])
            out[self.line] = line
            values = _values(line, window)
            slowest = max(self.machines, key=lambda m: m.ideal_cycle_time)
            values["bottleneck"] = slowest.twin
            losses: dict[str, float] = {}
            for m in self.machines:
                for reason, seconds in out[m.twin].downtime_by_reason.items():
                    losses[reason] = losses.get(reason, 0.0) + seconds
            values["topLoss"] = max(losses, key=lambda r: losses[r]) if losses else ""
            updates.append(Update(self.line, values, ts=end, source="oee"))
        self.graph.apply_updates(updates)
        return out


def _values(result: OeeResult, window: str) -> dict[str, Any]:
    top = max(result.downtime_by_reason, key=lambda r: result.downtime_by_reason[r]) if result.downtime_by_reason else ""
    return {"oee": round(result.oee, 4), "availability": round(result.availability, 4),
            "performance": round(result.performance, 4), "quality": round(result.quality, 4),
            "totalCount": result.total, "goodCount": result.good, "downtime": round(result.downtime, 1),
            "microStops": result.micro_stops, "idealCycleTime": result.ideal_cycle_time, "topLoss": top,
            "window": window}


__all__ = ["KPI_MODEL", "LINE_MODEL", "LineMonitor", "Machine", "ensure_line", "models"]
