"""Road-network twins from a SUMO network, on the smart-cities ontology where it has the concept.

- Each street section (a SUMO edge) is ``dtmi:twinforge:city:traffic:RoadSegment;1``, which
  extends the ontology's ``RoadSegment`` (so ``refRoad`` names its ``Road``) with its length,
  speed limit, lanes, and what a run measures on it (mean speed, vehicles, halting vehicles).
- The two directions between a pair of junctions are one ``Road`` of the ontology, as it is.
- Induction loops are ``dtmi:twinforge:city:traffic:InductionLoop;1``, extending the ontology's
  ``TrafficFlowObserved`` (intensity, averageVehicleSpeed, occupancy, refRoadSegment).
- Junctions, lanes and traffic lights have no class in the ontology: they get ours.

`import_network` keeps the network, demand and detector files in the store's blobs (the
twins hold what a what-if changes: a lane closed, a light's phase durations, the demand's
scale) so a run can be rebuilt from the twins alone (`traffic_run.setup_of`).

SUMO itself (``eclipse-sumo``, ``libsumo``, ``sumolib``) is in the ``[city]`` extra.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from twinforge.errors import Conflict, InvalidArgument, MissingDependency
from twinforge.packs.city import SMART_CITY

CITY = SMART_CITY
NS = "dtmi:twinforge:city:traffic:"
NETWORK = NS + "RoadNetwork;1"
JUNCTION = NS + "Junction;1"
SEGMENT = NS + "RoadSegment;1"
LANE = NS + "Lane;1"
LIGHT = NS + "TrafficLight;1"
LOOP = NS + "InductionLoop;1"
ROAD = CITY + "Road;1"
FILES = ("net.xml", "routes.xml", "detectors.xml")
_ID = re.compile(r"[^A-Za-z0-9_.:-]")


def sumo_home() -> Path:
    """Where the ``eclipse-sumo`` wheel put SUMO (its ``bin/`` has sumo and netgenerate)."""
    try:
        import sumo
    except ImportError:
        raise MissingDependency("traffic needs SUMO: pip install 'twinforge[city]'") from None
    return Path(sumo.SUMO_HOME)


def sumolib() -> Any:
    try:
        import sumolib as lib
    except ImportError:
        raise MissingDependency("traffic needs sumolib: pip install 'twinforge[city]'") from None
    return lib


def run_tool(name: str, *args: str) -> None:
    """Run one of SUMO's programs; its own message if it fails."""
    exe = sumo_home() / "bin" / name
    done = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise InvalidArgument(f"{name} failed: {(done.stderr or done.stdout).strip()[-500:]}")


def grid_network(path: str | Path, *, size: int = 3, length: float = 200.0, lanes: int = 2) -> Path:
    """A ``size`` x ``size`` grid of streets from SUMO's netgenerate, traffic lights where it
    guesses them (``--tls.guess``)."""
    if not 2 <= size <= 30:
        raise InvalidArgument("a grid is 2 to 30 junctions wide")
    run_tool("netgenerate", "--grid", "--grid.number", str(size), "--grid.length", str(length),
             "--default.lanenumber", str(lanes), "--tls.guess", "true", "--no-turnarounds", "true",
             "--seed", "1", "-o", str(path))
    return Path(path)


def _edges(net: Any) -> list[Any]:
    return [e for e in net.getEdges() if e.getFunction() != "internal"]


def write_demand(net_file: str | Path, path: str | Path, *, flows: int = 40, seed: int = 1,
                 end: float = 3600.0, per_hour: tuple[int, int] = (20, 80)) -> Path:
    """Random origin-destination flows between the network's edges (fixed by ``seed``); SUMO
    routes each vehicle when it departs."""
    net = sumolib().net.readNet(str(net_file))
    edges = [e.getID() for e in _edges(net)]
    rng = random.Random(seed)
    lines = ["<routes>"]
    for k in range(flows):
        a, b = rng.sample(edges, 2)
        lines.append(f'  <flow id="f{k}" from={quoteattr(a)} to={quoteattr(b)} begin="0" end="{end:g}" '
                     f'vehsPerHour="{rng.randint(*per_hour)}" departLane="best" departSpeed="max"/>')
    lines.append("</routes>")
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def write_detectors(net_file: str | Path, path: str | Path, *, before_end: float = 30.0) -> Path:
    """An induction loop on every lane, ``before_end`` metres before the stop line."""
    net = sumolib().net.readNet(str(net_file))
    lines = ["<additional>"]
    for edge in _edges(net):
        for lane in edge.getLanes():
            pos = max(1.0, lane.getLength() - before_end)
            lines.append(f'  <inductionLoop id={quoteattr("loop_" + lane.getID())} lane={quoteattr(lane.getID())} '
                         f'pos="{pos:.2f}" period="3600" file="NUL"/>')
    lines.append("</additional>")
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def _prop(name: str, schema: Any, *, writable: bool = False, unit: str | None = None, kind: str | None = None,
          text: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"@type": ["Property", kind] if kind else "Property", "name": name, "schema": schema}
    if unit:
        out["unit"] = unit
    if writable:
        out["writable"] = True
    if text:
        out["description"] = text
    return out


def _rel(name: str, target: str | None = None) -> dict[str, Any]:
    out = {"@type": "Relationship", "name": name}
    if target:
        out["target"] = target
    return out


def _interface(dtmi: str, display: str, contents: list[dict[str, Any]], extends: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"@context": ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"], "@id": dtmi, "@type": "Interface",
                           "displayName": display, "contents": contents}
    if extends:
        out["extends"] = extends
    return out


def models() -> list[dict[str, Any]]:
    """The pack's traffic interfaces (DTDL v3: a light's phases are arrays)."""
    measured = [_prop("meanSpeed", "double", writable=True, kind="Velocity", unit="metrePerSecond",
                      text="mean speed of the vehicles on it in the last second"),
                _prop("vehicleCount", "integer", writable=True, text="vehicles on it"),
                _prop("haltingCount", "integer", writable=True, text="vehicles slower than 0.1 m/s (the queue)")]
    return [
        _interface(NETWORK, "Road network", [
            _prop("sumoVersion", "string"),
            _prop("demandScale", "double", writable=True, text="the demand's flows multiplied by this"),
            _prop("simTime", "double", writable=True, kind="TimeSpan", unit="second", text="where the live run is"),
            _prop("running", "integer", writable=True, text="vehicles in the network now"),
            _prop("arrived", "integer", writable=True, text="vehicles arrived since the run began"),
            _rel("hasPart")]),
        _interface(JUNCTION, "Junction", [
            _prop("sumoId", "string"), _prop("junctionType", "string"),
            _prop("x", "double", kind="Distance", unit="metre"), _prop("y", "double", kind="Distance", unit="metre"),
            *measured[1:]]),
        _interface(SEGMENT, "Road segment (SUMO edge)", [
            _prop("sumoId", "string"), _prop("length", "double", kind="Distance", unit="metre"),
            _prop("speedLimit", "double", kind="Velocity", unit="metrePerSecond"),
            _prop("laneCount", "integer"), *measured,
            _rel("startsAt", JUNCTION), _rel("endsAt", JUNCTION)], extends=CITY + "RoadSegment;1"),
        _interface(LANE, "Lane", [
            _prop("sumoId", "string"), _prop("index", "integer"),
            _prop("length", "double", kind="Distance", unit="metre"),
            _prop("speedLimit", "double", kind="Velocity", unit="metrePerSecond"),
            _prop("closed", "boolean", writable=True, text="closed to every vehicle"),
            _rel("laneOf", SEGMENT)]),
        _interface(LIGHT, "Traffic light", [
            _prop("sumoId", "string"), _prop("programId", "string"),
            _prop("offset", "double", writable=True, kind="TimeSpan", unit="second"),
            _prop("phaseStates", {"@type": "Array", "elementSchema": "string"},
                  text="each phase's signal per link (SUMO's rRyYgGou letters)"),
            _prop("phaseDurations", {"@type": "Array", "elementSchema": "double"}, writable=True,
                  text="each phase's duration (s)"),
            _prop("phase", "integer", writable=True, text="the phase shown now"),
            _rel("controls", JUNCTION)]),
        _interface(LOOP, "Induction loop", [
            _prop("sumoId", "string"), _prop("position", "double", kind="Distance", unit="metre"),
            _rel("onLane", LANE)], extends=CITY + "TrafficFlowObserved;1"),
    ]


def ensure_models(graph: Any) -> None:
    from twinforge.packs.city.grid import ontology

    if NETWORK in graph.models:
        return
    if ROAD not in graph.models:
        graph.add_models(ontology("smartcities"))
    graph.add_models(models())


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("eclipse-sumo")
    except PackageNotFoundError:  # pragma: no cover - SUMO from elsewhere
        return ""


def twin_id(network: str, kind: str, sumo_id: str) -> str:
    """The twin of SUMO object ``sumo_id`` (``kind`` j, e, l, tls, loop, road)."""
    return f"{network}-{kind}-{_ID.sub('_', sumo_id)}"


def blob_key(network: str, name: str) -> str:
    return f"traffic/{network}/{name}"


def _loops(path: Path) -> list[tuple[str, str, float]]:
    import xml.etree.ElementTree as ET

    return [(e.get("id", ""), e.get("lane", ""), float(e.get("pos", "0")))
            for e in ET.parse(path).getroot().iter() if e.tag in ("inductionLoop", "e1Detector")]


def import_network(graph: Any, network: str, net_file: str | Path, *, routes: str | Path | None = None,
                   detectors: str | Path | None = None, demand_scale: float = 1.0) -> dict[str, int]:
    """Twins of a SUMO network's junctions, edges, lanes, traffic lights and induction loops,
    related to each other and to the network twin ``network``; created in one transaction (a
    network of that name already there is a Conflict, with nothing written)."""
    lib = sumolib()
    ensure_models(graph)
    if graph.store.get_blob(blob_key(network, "net.xml")) is not None:
        raise Conflict(f"a road network '{network}' exists already", code="DigitalTwinAlreadyExists")
    net = lib.net.readNet(str(net_file), withPrograms=True, withInternal=False)
    twins: list[tuple[str, dict[str, Any]]] = [(network, {
        "$metadata": {"$model": NETWORK}, "sumoVersion": _version(),
        "demandScale": float(demand_scale), "simTime": 0.0, "running": 0, "arrived": 0})]
    rels: list[tuple[str, str, dict[str, Any]]] = []
    counts = {"junctions": 0, "segments": 0, "lanes": 0, "roads": 0, "trafficLights": 0, "loops": 0}

    def add(twin: str, doc: dict[str, Any], model: str, what: str) -> None:
        twins.append((twin, {"$metadata": {"$model": model}, **doc}))
        rels.append((network, f"{network}-has-{twin}", {"$relationshipName": "hasPart", "$targetId": twin}))
        counts[what] += 1

    def rel(source: str, name: str, target: str) -> None:
        rels.append((source, f"{source}-{name}", {"$relationshipName": name, "$targetId": target}))

    for node in net.getNodes():
        x, y = node.getCoord()
        add(twin_id(network, "j", node.getID()), {"sumoId": node.getID(), "junctionType": node.getType(),
                                                  "x": float(x), "y": float(y), "vehicleCount": 0,
                                                  "haltingCount": 0}, JUNCTION, "junctions")
    roads: set[str] = set()
    for edge in _edges(net):
        eid = twin_id(network, "e", edge.getID())
        a, b = edge.getFromNode().getID(), edge.getToNode().getID()
        road = twin_id(network, "road", "-".join(sorted((a, b))))
        if road not in roads:
            roads.add(road)
            add(road, {}, ROAD, "roads")
        add(eid, {"sumoId": edge.getID(), "length": float(edge.getLength()), "speedLimit": float(edge.getSpeed()),
                  "laneCount": edge.getLaneNumber(), "meanSpeed": float(edge.getSpeed()), "vehicleCount": 0,
                  "haltingCount": 0}, SEGMENT, "segments")
        rel(eid, "startsAt", twin_id(network, "j", a))
        rel(eid, "endsAt", twin_id(network, "j", b))
        rel(eid, "refRoad", road)
        for lane in edge.getLanes():
            lid = twin_id(network, "l", lane.getID())
            add(lid, {"sumoId": lane.getID(), "index": lane.getIndex(), "length": float(lane.getLength()),
                      "speedLimit": float(lane.getSpeed()), "closed": False}, LANE, "lanes")
            rel(lid, "laneOf", eid)
    for tls in net.getTrafficLights():
        programs = tls.getPrograms()
        if not programs:
            continue
        pid, program = sorted(programs.items())[0]
        phases = program.getPhases()
        tid = twin_id(network, "tls", tls.getID())
        add(tid, {"sumoId": tls.getID(), "programId": str(pid), "offset": float(program._offset or 0),
                  "phaseStates": [p.state for p in phases], "phaseDurations": [float(p.duration) for p in phases],
                  "phase": 0}, LIGHT, "trafficLights")
        if net.hasNode(tls.getID()):
            rel(tid, "controls", twin_id(network, "j", tls.getID()))
    det_file = Path(detectors) if detectors else None
    for loop, lane_id, pos in _loops(det_file) if det_file else []:
        did = twin_id(network, "loop", loop)
        edge_id = lane_id.rsplit("_", 1)[0]
        add(did, {"sumoId": loop, "position": pos, "intensity": 0, "averageVehicleSpeed": 0.0, "occupancy": 0.0},
            LOOP, "loops")
        rel(did, "onLane", twin_id(network, "l", lane_id))
        rel(did, "refRoadSegment", twin_id(network, "e", edge_id))
    files = {"net.xml": Path(net_file), "routes.xml": Path(routes) if routes else None, "detectors.xml": det_file}
    with graph.store.transaction():
        graph.create_twins(twins)
        graph.create_relationships(rels)
        for name, path in files.items():
            data = path.read_bytes() if path else (b"<routes/>\n" if name == "routes.xml" else b"<additional/>\n")
            graph.store.put_blob(blob_key(network, name), "application/xml", data)
    return counts


def demo_network(graph: Any, network: str = "streets", *, size: int = 3, flows: int = 40, seed: int = 1,
                 end: float = 3600.0) -> dict[str, int]:
    """A ``size`` x ``size`` street grid from netgenerate with random flows and a loop on
    every lane, imported as ``network``."""
    with tempfile.TemporaryDirectory(prefix="twinforge-sumo-") as tmp:
        net = grid_network(os.path.join(tmp, "net.xml"), size=size)
        routes = write_demand(net, os.path.join(tmp, "routes.xml"), flows=flows, seed=seed, end=end)
        loops = write_detectors(net, os.path.join(tmp, "detectors.xml"))
        return import_network(graph, network, net, routes=routes, detectors=loops)


__all__ = ["JUNCTION", "LANE", "LIGHT", "LOOP", "NETWORK", "ROAD", "SEGMENT", "blob_key", "demo_network",
           "ensure_models", "grid_network", "import_network", "models", "run_tool", "sumo_home", "sumolib",
           "twin_id", "write_demand", "write_detectors"]
