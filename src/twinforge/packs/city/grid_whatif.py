"""What-ifs a grid engineer runs on the grid's twins, in a sandbox: load growth, a new PV
plant, elements out of service, N-1; each compared with the baseline of the same fork.

The grid and its elements are forked (as they are now, or as of a time: each parameter as its
history had it) into a sandbox graph; the changes are made there as twin patches and new
twins, so they go through the models' validation as any change does, and the live grid is
never written. `record_contingencies` is the one function that writes to the live twins: it
puts each line's and transformer's N-1 outcome on the twin itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from twinforge.errors import InvalidArgument, NotFound
from twinforge.packs.city.grid import (
    GRID,
    NS,
    TABLES,
    contingencies,
    kpis_of,
    network_of,
    runpp,
    twin_id,
)


@dataclass(frozen=True)
class GridChange:
    """One what-if. ``load_growth`` multiplies every load's P and Q (or only the loads at
    ``growth_buses``, pandapower bus indices); ``pv`` adds static generators (bus index, MW);
    ``out_of_service`` takes elements out ("line 3", "trafo 0"); ``n_minus_1`` also runs N-1
    on the changed grid."""

    load_growth: float = 1.0
    growth_buses: Sequence[int] | None = None
    pv: Sequence[tuple[int, float]] = ()
    added_load: Sequence[tuple[int, float]] = ()  # new loads (bus index, MW), e.g. heat pumps
    out_of_service: Sequence[str] = ()
    n_minus_1: bool = False
    n_minus_1_of: Sequence[str] = ()  # N-1 over these elements only (e.g. one feeder's); empty: all

    @classmethod
    def from_json(cls, doc: Any) -> GridChange:
        """From the REST body: {loadGrowth, growthBuses, pv: [[bus, MW]], addedLoad: [[bus, MW]],
        outOfService: ["line 3"], nMinus1, nMinus1Of: ["line 10", "trafo 1"]}."""
        fields = {"loadGrowth": "load_growth", "growthBuses": "growth_buses", "pv": "pv", "addedLoad": "added_load",
                  "outOfService": "out_of_service", "nMinus1": "n_minus_1", "nMinus1Of": "n_minus_1_of"}
        if not isinstance(doc, dict):
            raise InvalidArgument("a grid what-if is a JSON object: {loadGrowth, pv, outOfService, nMinus1, ...}")
        unknown = sorted(set(doc) - set(fields) - {"asOf"})
        if unknown:
            raise InvalidArgument(f"unknown field(s) of a grid what-if: {', '.join(unknown)}")
        try:
            args: dict[str, Any] = {fields[k]: v for k, v in doc.items() if k in fields}
            for key in ("pv", "added_load"):
                if key in args:
                    args[key] = [(int(bus), float(mw)) for bus, mw in args[key]]
            if "load_growth" in args:
                args["load_growth"] = float(args["load_growth"])
            for key in ("out_of_service", "n_minus_1_of"):
                if key in args and not all(isinstance(e, str) for e in args[key]):
                    raise TypeError(f"{key} holds element names")
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"a grid what-if's field has the wrong shape: {exc}") from None
        return cls(**args)

    def check(self) -> None:
        if not self.load_growth >= 0:
            raise InvalidArgument(f"load growth must be a factor >= 0, not {self.load_growth}")
        for what, items in (("a PV plant's output", self.pv), ("an added load", self.added_load)):
            for bus, mw in items:
                if not mw >= 0:
                    raise InvalidArgument(f"{what} must be >= 0 MW, not {mw} (bus {bus})")
        for element in [*self.out_of_service, *self.n_minus_1_of]:
            table, _, index = element.partition(" ")
            if table not in TABLES or not index.isdigit():
                raise InvalidArgument(f"'{element}' is not an element: write 'line 3', 'trafo 0', ...")


@dataclass
class GridWhatIf:
    """The baseline and the changed grid's KPIs, what changed, and N-1 when asked."""

    baseline: dict[str, float]
    scenario: dict[str, float]
    overloaded: list[dict[str, Any]] = field(default_factory=list)  # lines/trafos above 100 % after the change
    voltage_violations: list[dict[str, Any]] = field(default_factory=list)  # buses outside the band
    contingencies: list[dict[str, Any]] = field(default_factory=list)

    def delta(self) -> dict[str, float]:
        return {k: self.scenario[k] - self.baseline[k] for k in self.baseline if k in self.scenario}

    def to_json(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "scenario": self.scenario, "delta": self.delta(),
                "overloaded": self.overloaded, "voltageViolations": self.voltage_violations,
                "contingencies": self.contingencies}


def grid_scope(grid: str) -> str:
    """The query selecting a grid twin and its elements (a scenario's scope)."""
    if "'" in grid:
        raise InvalidArgument(f"a grid id cannot hold a quote: {grid!r}")
    return f"SELECT G, E FROM DIGITALTWINS G JOIN E RELATED G.hasElement WHERE G.$dtId = '{grid}'"


def _apply(graph: Any, grid: str, change: GridChange) -> None:
    from twinforge.graph.updates import Update

    updates = []
    growth_buses = None if change.growth_buses is None else {int(b) for b in change.growth_buses}
    for rel in graph.list_relationships(grid, "hasElement"):
        twin = graph.get_twin(rel["$targetId"])
        if twin["$metadata"]["$model"] != NS + "Load;1" or change.load_growth == 1.0:
            continue
        if growth_buses is not None:
            bus = graph.list_relationships(twin["$dtId"], "atBus")[0]["$targetId"]
            if graph.get_twin(bus)["ppIndex"] not in growth_buses:
                continue
        values = {k: twin[k] * change.load_growth for k in ("pMw", "qMvar") if k in twin}
        updates.append(Update(twin["$dtId"], values, source="whatif"))
    for element in change.out_of_service:
        table, _, index = element.partition(" ")
        updates.append(Update(twin_id(grid, table, int(index)), {"inService": False}, source="whatif"))
    if updates:
        graph.apply_updates(updates)
    existing = [r["$targetId"] for r in graph.list_relationships(grid, "hasElement")]
    for table, name, items in (("sgen", "StaticGenerator", change.pv), ("load", "Load", change.added_load)):
        first = 1 + max((graph.get_twin(t)["ppIndex"] for t in existing if t.startswith(f"{grid}-{table}-")),
                        default=-1)
        label = "PV what-if" if table == "sgen" else "added load what-if"
        for number, (bus, mw) in enumerate(items):
            bus_twin = twin_id(grid, "bus", int(bus))
            graph.get_twin(bus_twin)  # NotFound names a bus the grid does not have
            tid = twin_id(grid, table, first + number)
            doc = {"$metadata": {"$model": f"{NS}{name};1"}, "ppIndex": first + number, "pMw": float(mw),
                   "qMvar": 0.0, "scaling": 1.0, "inService": True,
                   "extra": json.dumps({"name": label, "type": "PV" if table == "sgen" else "wye",
                                        "controllable": False})}
            if table == "load":  # constant power
                doc.update(constZPPercent=0.0, constZQPercent=0.0, constIPPercent=0.0, constIQPercent=0.0)
            graph.create_twin(tid, doc)
            graph.create_relationship(tid, f"{tid}-atBus", {"$relationshipName": "atBus", "$targetId": bus_twin})
            graph.create_relationship(grid, f"{grid}-has-{tid}", {"$relationshipName": "hasElement",
                                                                  "$targetId": tid})


def _findings(net: Any, band: tuple[float, float]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    over = []
    for table in ("line", "trafo"):
        res = net[f"res_{table}"]
        for index in res.index[res.loading_percent > 100.0]:
            over.append({"element": f"{table} {index}", "loadingPercent": float(res.at[index, "loading_percent"])})
    vm = net.res_bus.vm_pu
    bad = [{"bus": int(i), "vmPu": float(vm[i])} for i in vm.index[(vm < band[0]) | (vm > band[1])]]
    return over, bad


def _is_grid(graph: Any, grid: str) -> bool:
    try:
        return bool(graph.get_twin(grid)["$metadata"]["$model"] == GRID)
    except NotFound:
        return False


def what_if(graph: Any, grid: str, change: GridChange, *, as_of: str | None = None,
            band: tuple[float, float] = (0.95, 1.05)) -> GridWhatIf:
    """Run ``change`` on a fork of ``grid`` (now, or ``as_of``) against its baseline."""
    from twinforge.packs.city.grid import _pandapower
    from twinforge.sim.fork import fork, sandbox

    change.check()
    pp = _pandapower()
    if not _is_grid(graph, grid):
        raise NotFound(f"there is no grid twin '{grid}'", code="DigitalTwinNotFound")
    snapshot = fork(graph, grid_scope(grid), as_of)
    box = sandbox(snapshot)
    try:
        base_net = network_of(box, grid)
        runpp(base_net)
        baseline = kpis_of(base_net, band)
        _apply(box, grid, change)
        net = network_of(box, grid)
        try:
            runpp(net)
        except pp.powerflow.LoadflowNotConverged:
            return GridWhatIf(baseline, {"converged": False})
        result = GridWhatIf(baseline, kpis_of(net, band), *_findings(net, band))
        if change.n_minus_1 or change.n_minus_1_of:
            result.contingencies = contingencies(net, band, list(change.n_minus_1_of) or None)
        return result
    finally:
        box.close()


def record_contingencies(graph: Any, grid: str, band: tuple[float, float] = (0.95, 1.05)) -> list[dict[str, Any]]:
    """N-1 on the grid's twins as they are; each line's and transformer's outcome written to
    its twin (``n1Converged``, ``n1MaxLoadingPercent``, ``n1VoltageViolations``, ``n1LossesMw``)."""
    from twinforge.graph.updates import Update

    rows = contingencies(network_of(graph, grid), band)
    updates = []
    for row in rows:
        table, _, index = row["element"].partition(" ")
        values: dict[str, Any] = {"n1Converged": row["converged"]}
        if row["converged"]:
            values.update(n1MaxLoadingPercent=row["maxLoadingPercent"], n1VoltageViolations=row["voltageViolations"],
                          n1LossesMw=row["lossesMw"])
        updates.append(Update(twin_id(grid, table, int(index)), values, source="n-1"))
    graph.apply_updates(updates)
    return rows


def cigre_mv(with_der: bool = True) -> Any:
    """CIGRE's medium-voltage benchmark network (pandapower's), with its PV and wind plants."""
    from twinforge.packs.city.grid import _pandapower

    _pandapower()
    import pandapower.networks as pn

    return pn.create_cigre_network_mv(with_der="pv_wind" if with_der else False)


__all__ = ["GridChange", "GridWhatIf", "cigre_mv", "grid_scope", "record_contingencies",
           "what_if"]
