"""Power-grid twins from pandapower networks, on the energy-grid (IEC CIM) ontology, and back.

Each element of a pandapower network becomes a twin of an interface that extends the
ontology's class for it, adding the parameters the CIM class does not carry
(``dtmi:twinforge:city:grid:``):

=============  =====================================================  ==========================
pandapower     interface (extends)                                    bus references
=============  =====================================================  ==========================
bus            ``Bus`` (ConnectivityNode)                             —
line           ``Line`` (ACLineSegment)                               ``fromBus``, ``toBus``
trafo          ``Transformer`` (PowerTransformer)                     ``hvBus``, ``lvBus``
load           ``Load`` (EnergyConsumer)                              ``atBus``
gen            ``Generator`` (GeneratingUnit)                         ``atBus``
sgen           ``StaticGenerator`` (PowerElectronicsUnit, PV...)      ``atBus``
ext_grid       ``ExternalGrid`` (EnergySource)                        ``atBus``
shunt          ``Shunt`` (ShuntCompensator)                           ``atBus``
switch         ``Switch`` (Switch)                                    ``atBus``
=============  =====================================================  ==========================

Numeric and boolean parameters are typed properties (``rOhmPerKm``, ``pMw``, ``inService``,
...), so a what-if patches them as any twin; everything else of the row (names, standard
types, NaN limits) is kept in ``extra``; the element's pandapower index in ``ppIndex``. A
``Grid`` twin holds the network's frequency and base power and relates ``hasElement`` to
every element. `network_of` rebuilds the network from the twins (the same tables, indices
and dtypes), `run_power_flow` writes the results back as properties (``vmPu``,
``loadingPercent``, ...), and `contingencies` runs N-1 over lines and transformers.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from twinforge.errors import MissingDependency, NotFound

NS = "dtmi:twinforge:city:grid:"
CIM = "dtmi:digitaltwins:ngsi_ld:cim:energy:"
GRID = NS + "Grid;1"
# pandapower table -> (interface name, ontology class it extends, bus columns -> relationship names)
TABLES: dict[str, tuple[str, str, dict[str, str]]] = {
    "bus": ("Bus", "ConnectivityNode", {}),
    "line": ("Line", "ACLineSegment", {"from_bus": "fromBus", "to_bus": "toBus"}),
    "trafo": ("Transformer", "PowerTransformer", {"hv_bus": "hvBus", "lv_bus": "lvBus"}),
    "load": ("Load", "EnergyConsumer", {"bus": "atBus"}),
    "gen": ("Generator", "GeneratingUnit", {"bus": "atBus"}),
    "sgen": ("StaticGenerator", "PowerElectronicsUnit", {"bus": "atBus"}),
    "ext_grid": ("ExternalGrid", "EnergySource", {"bus": "atBus"}),
    "shunt": ("Shunt", "ShuntCompensator", {"bus": "atBus"}),
    "switch": ("Switch", "Switch", {"bus": "atBus"}),
}
# typed parameters of each table (numbers and booleans; the rest goes in `extra`)
PARAMETERS: dict[str, tuple[str, ...]] = {
    "bus": ("vn_kv", "in_service", "max_vm_pu", "min_vm_pu"),
    "line": ("length_km", "r_ohm_per_km", "x_ohm_per_km", "c_nf_per_km", "g_us_per_km", "max_i_ka", "df",
             "parallel", "in_service", "max_loading_percent"),
    "trafo": ("sn_mva", "vn_hv_kv", "vn_lv_kv", "vk_percent", "vkr_percent", "pfe_kw", "i0_percent",
              "shift_degree", "tap_neutral", "tap_min", "tap_max", "tap_step_percent", "tap_step_degree", "tap_pos",
              "parallel", "df", "in_service", "max_loading_percent"),
    "load": ("p_mw", "q_mvar", "sn_mva", "scaling", "in_service", "const_z_p_percent", "const_z_q_percent",
             "const_i_p_percent", "const_i_q_percent"),
    "gen": ("p_mw", "vm_pu", "sn_mva", "min_q_mvar", "max_q_mvar", "scaling", "slack", "in_service", "slack_weight",
            "max_p_mw", "min_p_mw"),
    "sgen": ("p_mw", "q_mvar", "sn_mva", "scaling", "in_service"),
    "ext_grid": ("vm_pu", "va_degree", "slack_weight", "in_service", "max_p_mw", "min_p_mw", "max_q_mvar",
                 "min_q_mvar"),
    "shunt": ("p_mw", "q_mvar", "vn_kv", "step", "max_step", "in_service"),
    # `element` is the pandapower index of the line, transformer or bus (`et` in extra) it cuts
    "switch": ("element", "closed", "z_ohm", "in_ka"),
}
BOOLEAN = {"in_service", "slack", "closed"}
INTEGER = {"parallel", "tap_neutral", "tap_min", "tap_max", "tap_pos", "step", "max_step", "element"}
# what N-1 leaves when this line or transformer is out (written by `record_contingencies`)
N1 = (("n1Converged", "boolean"), ("n1MaxLoadingPercent", "double"), ("n1VoltageViolations", "long"),
      ("n1LossesMw", "double"))
RESULTS: dict[str, tuple[str, ...]] = {
    "bus": ("vm_pu", "va_degree", "p_mw", "q_mvar"),
    "line": ("loading_percent", "pl_mw", "ql_mvar", "i_ka", "p_from_mw", "p_to_mw"),
    "trafo": ("loading_percent", "pl_mw", "ql_mvar", "p_hv_mw", "p_lv_mw"),
    "load": ("p_mw", "q_mvar"),
    "gen": ("p_mw", "q_mvar", "va_degree", "vm_pu"),
    "sgen": ("p_mw", "q_mvar"),
    "ext_grid": ("p_mw", "q_mvar"),
    "shunt": ("p_mw", "q_mvar", "vm_pu"),
    "switch": (),
}


def camel(column: str, prefix: str = "") -> str:
    head, *rest = column.split("_")
    name = (prefix + head[:1].upper() + head[1:]) if prefix else head
    return name + "".join(p[:1].upper() + p[1:] for p in rest)


def _pandapower() -> Any:
    try:
        import pandapower
    except ImportError:  # pragma: no cover - the [city] extra
        raise MissingDependency("power grids need pandapower: pip install 'twinforge[city]'") from None
    return pandapower


def runpp(net: Any) -> None:
    """pandapower's power flow; without numba installed it is told so (else it warns at every run)."""
    import importlib.util

    _pandapower().runpp(net, numba=importlib.util.find_spec("numba") is not None)


def ontology(name: str = "energygrid") -> list[dict[str, Any]]:
    """The energy-grid (or smart-cities) ontology as published, shipped with the pack."""
    raw = (resources.files("twinforge.packs.city") / "data" / f"{name}.json.gz").read_bytes()
    docs: list[dict[str, Any]] = json.loads(gzip.decompress(raw))
    return docs


def models() -> list[dict[str, Any]]:
    """The pack's grid interfaces (DTDL v2, as the ontology they extend)."""
    ctx = "dtmi:dtdl:context;2"
    out: list[dict[str, Any]] = [{
        "@context": ctx, "@id": GRID, "@type": "Interface", "displayName": "Power grid",
        "extends": CIM + "GeographicalRegion;1",
        "contents": [{"@type": "Property", "name": n, "schema": s, "writable": True}
                     for n, s in (("fHz", "double"), ("snMva", "double"), ("lossesMw", "double"),
                                  ("converged", "boolean"))]
                    + [{"@type": "Property", "name": "columns", "schema": "string",
                        "description": "each table's columns and dtypes (JSON), to rebuild the network as it was"}]
                    + [{"@type": "Relationship", "name": "hasElement"}]}]
    for table, (name, base, buses) in TABLES.items():
        contents: list[dict[str, Any]] = [
            {"@type": "Property", "name": "ppIndex", "schema": "long"},
            {"@type": "Property", "name": "extra", "schema": "string", "description": "the row's other columns (JSON)"}]
        for column in PARAMETERS[table]:
            schema = "boolean" if column in BOOLEAN else "long" if column in INTEGER else "double"
            contents.append({"@type": "Property", "name": camel(column), "schema": schema, "writable": True})
        for column in RESULTS[table]:
            contents.append({"@type": "Property", "name": camel(column, "res"), "schema": "double"})
        if table in ("line", "trafo"):
            contents += [{"@type": "Property", "name": n, "schema": s} for n, s in N1]
        contents += [{"@type": "Relationship", "name": rel, "target": NS + "Bus;1"} for rel in buses.values()]
        out.append({"@context": ctx, "@id": f"{NS}{name};1", "@type": "Interface", "extends": f"{CIM}{base};1",
                    "displayName": f"{name} (pandapower {table})", "contents": contents})
    return out


def ensure_models(graph: Any) -> None:
    if GRID in graph.models:
        return
    known = set(graph.models.interface_ids()) if hasattr(graph.models, "interface_ids") else set()
    graph.add_models([d for d in ontology() if d["@id"] not in known] + models())


def _plain(value: Any) -> Any:
    """A pandas cell as JSON (NaN as null)."""
    import pandas as pd

    if hasattr(value, "item"):
        value = value.item()
    if value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def twin_id(grid: str, table: str, index: int) -> str:
    return f"{grid}-{table.replace('_', '')}-{index}"


def import_network(graph: Any, net: Any, grid: str) -> dict[str, int]:
    """Twins of every element of ``net``, in one transaction: a grid of that name (or any of
    its twins) already there is a Conflict, and nothing is written."""
    ensure_models(graph)
    columns = {table: [[c, str(net[table][c].dtype)] for c in net[table].columns] for table in TABLES}
    twins: list[tuple[str, dict[str, Any]]] = [(grid, {
        "$metadata": {"$model": GRID}, "fHz": float(net.f_hz), "snMva": float(net.sn_mva),
        "columns": json.dumps(columns)})]
    counts: dict[str, int] = {}
    rels: list[tuple[str, str, dict[str, Any]]] = []
    for table, (name, _, buses) in TABLES.items():
        frame = net[table]
        for index, row in frame.iterrows():
            doc: dict[str, Any] = {"$metadata": {"$model": f"{NS}{name};1"}, "ppIndex": int(index)}
            extra: dict[str, Any] = {}
            for column in frame.columns:
                value = _plain(row[column])
                if column in buses:
                    continue
                if column in PARAMETERS[table] and value is not None and not isinstance(value, str):
                    doc[camel(column)] = bool(value) if column in BOOLEAN else int(value) if column in INTEGER \
                        else float(value)
                else:
                    extra[column] = value
            doc["extra"] = json.dumps(extra)
            tid = twin_id(grid, table, int(index))
            twins.append((tid, doc))
            rels.append((grid, f"{grid}-has-{tid}", {"$relationshipName": "hasElement", "$targetId": tid}))
            for column, rel in buses.items():
                rels.append((tid, f"{tid}-{rel}", {"$relationshipName": rel,
                                                   "$targetId": twin_id(grid, "bus", int(row[column]))}))
            counts[table] = counts.get(table, 0) + 1
    graph.create_twins(twins)  # each checked against its model; one transaction
    graph.create_relationships(rels)
    return counts


@dataclass
class _Element:
    table: str
    twin: dict[str, Any]
    buses: dict[str, str]  # relationship name -> bus twin id


def _elements(graph: Any, grid: str) -> list[_Element]:
    try:
        graph.get_twin(grid)
    except NotFound:
        raise NotFound(f"there is no grid twin '{grid}'", code="DigitalTwinNotFound") from None
    by_model = {f"{NS}{name};1": table for table, (name, _, _) in TABLES.items()}
    out = []
    for rel in graph.list_relationships(grid, "hasElement"):
        twin = graph.get_twin(rel["$targetId"])
        table = by_model.get(twin["$metadata"]["$model"])
        if table is None:
            continue
        buses = {r["$relationshipName"]: r["$targetId"] for r in graph.list_relationships(twin["$dtId"])}
        out.append(_Element(table, twin, buses))
    return out


def network_of(graph: Any, grid: str) -> Any:
    """The pandapower network the grid's twins describe (their current parameters)."""
    pp = _pandapower()
    import pandas as pd

    doc = graph.get_twin(grid)
    net = pp.create_empty_network(name=grid, f_hz=doc.get("fHz", 50.0), sn_mva=doc.get("snMva", 1.0))
    elements = _elements(graph, grid)
    bus_index = {e.twin["$dtId"]: e.twin["ppIndex"] for e in elements if e.table == "bus"}
    for table, (_, _, buses) in TABLES.items():
        rows, index = [], []
        for e in (e for e in elements if e.table == table):
            row: dict[str, Any] = json.loads(e.twin.get("extra") or "{}")
            for column in PARAMETERS[table]:
                if camel(column) in e.twin:
                    row[column] = e.twin[camel(column)]
            for column, rel in buses.items():
                row[column] = bus_index[e.buses[rel]]
            rows.append(row)
            index.append(e.twin["ppIndex"])
        if not rows:
            continue
        layout = json.loads(doc.get("columns") or "{}").get(table) or [[c, str(net[table][c].dtype)]
                                                                        for c in net[table].columns]
        frame = pd.DataFrame(rows, index=pd.Index(index, dtype="int64"))
        frame = frame.reindex(columns=[c for c, _ in layout] + [c for c in frame.columns
                                                                if c not in {n for n, _ in layout}]).sort_index()
        for column, dtype in layout:
            try:
                frame[column] = frame[column].astype(dtype)
            except (TypeError, ValueError):
                with contextlib.suppress(TypeError, ValueError):  # nullable integers of nulls come as objects
                    frame[column] = pd.to_numeric(frame[column]).astype(dtype)
        net[table] = frame
    return net


def run_power_flow(graph: Any, grid: str) -> dict[str, float]:
    """A power flow on the grid's twins; results written back to them. KPIs returned."""
    from twinforge.graph.updates import Update

    _pandapower()
    net = network_of(graph, grid)
    runpp(net)
    updates = []
    for table in TABLES:
        res = net.get(f"res_{table}")
        if res is None or not len(res):
            continue
        for index, row in res.iterrows():
            values = {camel(c, "res"): float(row[c]) for c in RESULTS[table] if c in res.columns
                      and not math.isnan(float(row[c]))}
            if values:
                updates.append(Update(twin_id(grid, table, int(index)), values, source="powerflow"))
    kpis = kpis_of(net)
    updates.append(Update(grid, {"lossesMw": kpis["lossesMw"], "converged": bool(net.converged)}, source="powerflow"))
    graph.apply_updates(updates)
    return kpis


def kpis_of(net: Any, band: tuple[float, float] = (0.95, 1.05)) -> dict[str, float]:
    """Losses, the largest line and transformer loading, and buses outside the voltage band."""
    losses = float(net.res_line.pl_mw.sum() + (net.res_trafo.pl_mw.sum() if len(net.res_trafo) else 0.0))
    loading = [float(net.res_line.loading_percent.max())] if len(net.res_line) else []
    if len(net.res_trafo):
        loading.append(float(net.res_trafo.loading_percent.max()))
    vm = net.res_bus.vm_pu
    outside = int(((vm < band[0]) | (vm > band[1])).sum())
    return {"lossesMw": losses, "maxLoadingPercent": max(loading) if loading else 0.0,
            "voltageViolations": outside, "slackMw": float(net.res_ext_grid.p_mw.sum())}


def contingencies(net: Any, band: tuple[float, float] = (0.95, 1.05),
                  only: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """N-1: each line and transformer in service (or each of ``only``: "line 3", "trafo 1")
    taken out in turn; the KPIs after each (or ``converged: false`` when the case has no
    solution, e.g. an islanded load)."""
    pp = _pandapower()
    out = []
    for table in ("line", "trafo"):
        for index in net[table].index[net[table].in_service]:
            if only is not None and f"{table} {index}" not in only:
                continue
            net[table].at[index, "in_service"] = False
            try:
                runpp(net)
                row: dict[str, Any] = {"element": f"{table} {index}", "converged": True, **kpis_of(net, band)}
            except pp.powerflow.LoadflowNotConverged:
                row = {"element": f"{table} {index}", "converged": False}
            finally:
                net[table].at[index, "in_service"] = True
            out.append(row)
    return out


__all__ = [
    "GRID",
    "NS",
    "PARAMETERS",
    "RESULTS",
    "TABLES",
    "camel",
    "contingencies",
    "ensure_models",
    "import_network",
    "kpis_of",
    "models",
    "network_of",
    "ontology",
    "run_power_flow",
    "runpp",
    "twin_id",
]
