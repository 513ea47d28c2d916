"""SUMO runs on road-network twins: live (the measurements fed into the twins through the
ingest path, every simulated second) and as what-ifs on a fork of the network.

A run is rebuilt from the twins (`setup_of`): the network, demand and detector files from the
store's blobs, and from the twins what a what-if may change (closed lanes, the lights' phase
durations, the demand's scale). libsumo holds one simulation per process, so each run has a
process of its own (`run`), which sends a sample per simulated second through a pipe.

KPIs (`TrafficKpis`): vehicles arrived, mean travel time, total and mean delay (SUMO's
``timeLoss``), CO2 (SUMO's emission model, HBEFA by default), and the queue (vehicles
halting) mean and peak. Arrivals, travel times and queues come from the samples; delay and
CO2 from SUMO's tripinfo of the same run.
"""

from __future__ import annotations

import os
import pickle
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from twinforge.errors import InvalidArgument, NotFound, Unavailable
from twinforge.packs.city import traffic as tr
from twinforge.packs.city.traffic import FILES, blob_key, sumo_home

WINDOW = 60  # seconds an induction loop's intensity, speed and occupancy are taken over


@dataclass
class RunSetup:
    """Everything a run needs, read from the twins (`setup_of`)."""

    network: str
    files: dict[str, bytes]
    scale: float = 1.0
    closed: list[str] = field(default_factory=list)  # SUMO lane ids
    plans: dict[str, tuple[str, float, list[tuple[float, str]]]] = field(default_factory=dict)
    twins: dict[str, dict[str, str]] = field(default_factory=dict)  # kind -> SUMO id -> twin id


@dataclass
class RunOptions:
    """How long to run (simulated seconds), SUMO's seed, and the pace (simulated seconds per
    wall-clock second; None is as fast as SUMO goes). ``keep`` is a folder for SUMO's own
    tripinfo and summary output."""

    end: float = 3600.0
    seed: int = 1
    pace: float | None = None
    samples: bool = True
    keep: str | None = None
    bare: bool = False  # SUMO alone: only steps, no measurements taken (the benchmark's baseline)

    def check(self) -> None:
        if not 1 <= self.end <= 7 * 86400:
            raise InvalidArgument("a run is 1 s to 7 days of simulated time")
        if self.pace is not None and self.pace <= 0:
            raise InvalidArgument("pace is simulated seconds per second, above 0")


@dataclass
class TrafficKpis:
    vehicles: int = 0
    mean_travel_time_s: float = 0.0
    total_delay_s: float = 0.0
    mean_delay_s: float = 0.0
    co2_kg: float = 0.0
    mean_queue: float = 0.0
    max_queue: int = 0
    teleports: int = 0
    steps: int = 0
    vehicle_steps: int = 0
    flows_dropped: int = 0  # flows from or to a closed street: not run

    def to_json(self) -> dict[str, Any]:
        names = {"vehicles": "vehicles", "mean_travel_time_s": "meanTravelTimeS", "total_delay_s": "totalDelayS",
                 "mean_delay_s": "meanDelayS", "co2_kg": "co2Kg", "mean_queue": "meanQueue", "max_queue": "maxQueue",
                 "teleports": "teleports", "steps": "steps", "vehicle_steps": "vehicleSteps",
                 "flows_dropped": "flowsDropped"}
        return {names[k]: v for k, v in asdict(self).items()}


@dataclass
class TrafficChange:
    """A what-if: phase durations for traffic lights (by SUMO id, one per phase), lanes closed
    (SUMO lane ids), and the demand multiplied by ``demand_scale``."""

    signal_plans: dict[str, list[float]] = field(default_factory=dict)
    closed_lanes: list[str] = field(default_factory=list)
    demand_scale: float = 1.0

    @classmethod
    def from_json(cls, doc: Any) -> TrafficChange:
        """From the REST body: {closedLanes: ["B1C1_0"], signalPlans: {"B1": [60, 3, 20, 3]},
        demandScale: 1.3} (and the run's own: end, seed, asOf)."""
        if not isinstance(doc, dict):
            raise InvalidArgument("a traffic what-if is a JSON object: {closedLanes, signalPlans, demandScale, end}")
        unknown = sorted(set(doc) - {"closedLanes", "signalPlans", "demandScale", "end", "seed", "asOf"})
        if unknown:
            raise InvalidArgument(f"unknown field(s) of a traffic what-if: {', '.join(unknown)}")
        lanes, plans = doc.get("closedLanes", []), doc.get("signalPlans", {})
        if not isinstance(lanes, list) or not all(isinstance(lane, str) for lane in lanes):
            raise InvalidArgument("closedLanes is a list of SUMO lane ids, e.g. [\"B1C1_0\"]")
        if not isinstance(plans, dict) or not all(isinstance(v, list) for v in plans.values()):
            raise InvalidArgument("signalPlans maps a traffic light to its phase durations, e.g. {\"B1\": [60, 3, 20, 3]}")
        scale = doc.get("demandScale", 1.0)
        if isinstance(scale, bool) or not isinstance(scale, (int, float)):
            raise InvalidArgument("demandScale is a number, e.g. 1.3")
        return cls({k: list(v) for k, v in plans.items()}, list(lanes), float(scale))

    def check(self) -> None:
        if not 0 < self.demand_scale <= 20:
            raise InvalidArgument("demand_scale is above 0 and at most 20")
        for tls, durations in self.signal_plans.items():
            if not durations or any(not isinstance(d, (int, float)) or d <= 0 for d in durations):
                raise InvalidArgument(f"traffic light '{tls}': phase durations are positive seconds")


@dataclass
class TrafficWhatIf:
    baseline: TrafficKpis
    scenario: TrafficKpis

    def delta(self) -> dict[str, float]:
        base, new = self.baseline.to_json(), self.scenario.to_json()
        return {k: round(new[k] - base[k], 6) for k in base}

    def to_json(self) -> dict[str, Any]:
        return {"baseline": self.baseline.to_json(), "scenario": self.scenario.to_json(), "delta": self.delta()}


def network_scope(network: str) -> str:
    """The query selecting a road network and its parts (a scenario's scope)."""
    if "'" in network:
        raise InvalidArgument(f"a network id cannot hold a quote: {network!r}")
    return f"SELECT N, P FROM DIGITALTWINS N JOIN P RELATED N.hasPart WHERE N.$dtId = '{network}'"


def setup_of(graph: Any, network: str, *, files_from: Any = None) -> RunSetup:
    """A run of ``network`` as its twins in ``graph`` describe it (files from ``files_from``'s
    store, by default ``graph``'s: a sandbox reads them from the live graph)."""
    store = (files_from or graph).store
    files = {}
    for name in FILES:
        blob = store.get_blob(blob_key(network, name))
        if blob is None:
            raise NotFound(f"there is no road network '{network}'", code="DigitalTwinNotFound")
        files[name] = blob[1]
    root = graph.get_twin(network)
    setup = RunSetup(network, files, float(root.get("demandScale", 1.0)))
    kinds = {tr.JUNCTION: "junction", tr.SEGMENT: "edge", tr.LANE: "lane", tr.LIGHT: "light", tr.LOOP: "loop"}
    setup.twins = {kind: {} for kind in kinds.values()}
    for row in graph.query(network_scope(network)):
        twin = row["P"]
        kind = kinds.get(twin["$metadata"]["$model"])
        if kind is None:
            continue
        setup.twins[kind][twin["sumoId"]] = twin["$dtId"]
        if kind == "lane" and twin.get("closed"):
            setup.closed.append(twin["sumoId"])
        if kind == "light":
            setup.plans[twin["sumoId"]] = (twin.get("programId", "0"), float(twin.get("offset", 0.0)),
                                           list(zip(twin["phaseDurations"], twin["phaseStates"], strict=True)))
    return setup


# -- the run's own process --------------------------------------------------------------------


class _Pipe:
    """The child's end: each message a pickle on the stream the parent reads."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def send(self, message: Any) -> None:
        pickle.dump(message, self.stream, protocol=pickle.HIGHEST_PROTOCOL)
        self.stream.flush()


def _child() -> None:
    """``python -m twinforge.packs.city.traffic_run``: a run's own process (the setup and
    options come as a pickle on stdin; SUMO's own messages go to stderr)."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    conn = _Pipe(out)
    try:
        setup, options = pickle.load(sys.stdin.buffer)
        _simulate(setup, options, conn)
    except BaseException as exc:  # the parent says what went wrong
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        out.close()


def _simulate(setup: RunSetup, options: RunOptions, conn: Any) -> None:
    os.environ["LIBSUMO_AS_TRACI"] = "quiet"  # no notice about pyarrow's version on import
    import libsumo
    from libsumo import constants as tc

    work = Path(tempfile.mkdtemp(prefix="twinforge-run-"))
    try:
        for name, data in setup.files.items():
            try:
                ET.fromstring(data)
            except ET.ParseError as exc:  # SUMO would crash on it, saying nothing
                raise InvalidArgument(f"the road network's {name} is not well-formed XML ({exc})") from None
            (work / name).write_bytes(data)
        dropped = _drop_closed_flows(work / "routes.xml", work / "net.xml", setup.closed)
        args = ["sumo", "-n", str(work / "net.xml"), "-r", str(work / "routes.xml"), "-a", str(work / "detectors.xml"),
                "--begin", "0", "--step-length", "1", "--seed", str(options.seed), "--scale", repr(setup.scale),
                "--no-step-log", "true", "--no-warnings", "true", "--duration-log.disable", "true",
                "--device.emissions.probability", "1", "--tripinfo-output", str(work / "tripinfo.xml"),
                "--summary-output", str(work / "summary.xml")]
        libsumo.start(args)
        try:
            for lane in setup.closed:
                libsumo.lane.setDisallowed(lane, ["all"])
            for tls, (program, offset, phases) in setup.plans.items():
                logic = libsumo.trafficlight.Logic(f"{program}-twin", 0, 0,
                                                   [libsumo.trafficlight.Phase(d, s) for d, s in phases])
                libsumo.trafficlight.setProgramLogic(tls, logic)
                libsumo.trafficlight.setProgram(tls, f"{program}-twin")
                if offset:
                    libsumo.trafficlight.setParameter(tls, "offset", repr(offset))
            kpis = _bare(libsumo, options) if options.bare else _loop(libsumo, tc, setup, options, conn)
            kpis.flows_dropped = dropped
        finally:
            libsumo.close()
        _from_tripinfo(kpis, work / "tripinfo.xml")
        if options.keep:
            Path(options.keep).mkdir(parents=True, exist_ok=True)
            for name in ("tripinfo.xml", "summary.xml"):
                shutil.copy(work / name, Path(options.keep) / name)
        conn.send(("done", kpis))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _drop_closed_flows(routes: Path, net: Path, closed: list[str]) -> int:
    """Take out the flows and trips that start or end on a street whose every lane is closed
    (SUMO cannot insert them there); how many."""
    if not closed:
        return 0
    lanes: dict[str, int] = {}
    for edge in ET.parse(net).getroot().iter("edge"):
        lanes[edge.get("id", "")] = sum(1 for _ in edge.iter("lane"))
    shut = {edge for edge, n in lanes.items() if n and sum(1 for lane in closed if lane.rsplit("_", 1)[0] == edge) >= n}
    if not shut:
        return 0
    tree = ET.parse(routes)
    root, dropped = tree.getroot(), 0
    for item in list(root):
        if item.tag in ("flow", "trip") and (item.get("from") in shut or item.get("to") in shut):
            root.remove(item)
            dropped += 1
    tree.write(routes)
    return dropped


def _bare(libsumo: Any, options: RunOptions) -> TrafficKpis:
    kpis, step = TrafficKpis(), 0
    while step < options.end and (step == 0 or libsumo.simulation.getMinExpectedNumber() > 0):
        libsumo.simulationStep()
        step += 1
        kpis.vehicles += libsumo.simulation.getArrivedNumber()
        kpis.vehicle_steps += libsumo.vehicle.getIDCount()
    kpis.steps = step
    return kpis


def _loop(libsumo: Any, tc: Any, setup: RunSetup, options: RunOptions, conn: Any) -> TrafficKpis:
    edges, loops, lights = setup.twins["edge"], setup.twins["loop"], setup.twins["light"]
    junction_of = {}
    for edge in libsumo.edge.getIDList():
        if edge.startswith(":"):  # an internal edge: its queue is the junction's
            junction_of[edge] = setup.twins["junction"].get(edge[1:].rsplit("_", 1)[0])
    edge_vars = (tc.LAST_STEP_MEAN_SPEED, tc.LAST_STEP_VEHICLE_NUMBER, tc.LAST_STEP_VEHICLE_HALTING_NUMBER)
    for edge in libsumo.edge.getIDList():
        libsumo.edge.subscribe(edge, edge_vars)
    for loop in loops:
        libsumo.inductionloop.subscribe(loop, (tc.LAST_STEP_VEHICLE_NUMBER, tc.LAST_STEP_MEAN_SPEED,
                                               tc.LAST_STEP_OCCUPANCY))
    for tls in lights:
        libsumo.trafficlight.subscribe(tls, (tc.TL_CURRENT_PHASE,))
    ring = {loop: [(0, 0.0, 0.0)] * WINDOW for loop in loops}  # per second: count, speed sum, occupancy
    sums = {loop: [0, 0.0, 0.0] for loop in loops}
    sent: dict[str, dict[str, Any]] = {}
    departed: dict[str, float] = {}
    kpis = TrafficKpis()
    travel = 0.0
    queue_total = 0
    wall0, step = time.monotonic(), 0
    while step < options.end and (step == 0 or libsumo.simulation.getMinExpectedNumber() > 0):
        libsumo.simulationStep()
        step += 1
        now = libsumo.simulation.getTime()
        for veh in libsumo.simulation.getDepartedIDList():
            departed[veh] = now
        for veh in libsumo.simulation.getArrivedIDList():
            travel += now - departed.pop(veh, now)
            kpis.vehicles += 1
        kpis.teleports += libsumo.simulation.getStartingTeleportNumber()
        running = libsumo.vehicle.getIDCount()
        kpis.vehicle_steps += running
        values: dict[str, dict[str, Any]] = {}
        halting = 0
        by_junction: dict[str, list[int]] = {}
        for edge, res in libsumo.edge.getAllSubscriptionResults().items():
            count, stopped = int(res[tc.LAST_STEP_VEHICLE_NUMBER]), int(res[tc.LAST_STEP_VEHICLE_HALTING_NUMBER])
            halting += stopped
            twin = edges.get(edge)
            if twin is not None:
                speed = float(res[tc.LAST_STEP_MEAN_SPEED])
                values[twin] = {"meanSpeed": round(speed, 3), "vehicleCount": count, "haltingCount": stopped}
            elif (junction := junction_of.get(edge)) is not None:
                acc = by_junction.setdefault(junction, [0, 0])
                acc[0] += count
                acc[1] += stopped
        for junction, (count, stopped) in by_junction.items():
            values[junction] = {"vehicleCount": count, "haltingCount": stopped}
        slot = step % WINDOW
        for loop, res in libsumo.inductionloop.getAllSubscriptionResults().items():
            count = int(res[tc.LAST_STEP_VEHICLE_NUMBER])
            speed = float(res[tc.LAST_STEP_MEAN_SPEED])
            new = (count, speed * count if count else 0.0, float(res[tc.LAST_STEP_OCCUPANCY]) / 100.0)
            old = ring[loop][slot]
            ring[loop][slot] = new
            acc3 = sums[loop]
            acc3[0] += new[0] - old[0]
            acc3[1] += new[1] - old[1]
            acc3[2] += new[2] - old[2]
            n = acc3[0]
            values[loops[loop]] = {"intensity": n, "averageVehicleSpeed": round(acc3[1] / n * 3.6, 2) if n else 0.0,
                                   "occupancy": round(max(acc3[2], 0.0) / WINDOW, 4)}
        for tls, res in libsumo.trafficlight.getAllSubscriptionResults().items():
            values[lights[tls]] = {"phase": int(res[tc.TL_CURRENT_PHASE])}
        queue_total += halting
        kpis.max_queue = max(kpis.max_queue, halting)
        values[setup.network] = {"simTime": now, "running": running, "arrived": kpis.vehicles}
        if options.samples:
            changed = {twin: v for twin, v in values.items() if sent.get(twin) != v}
            sent.update(changed)
            conn.send(("sample", now, changed, halting))
        if options.pace is not None:
            ahead = step / options.pace - (time.monotonic() - wall0)
            if ahead > 0:
                time.sleep(ahead)
    kpis.steps = step
    kpis.mean_travel_time_s = travel / kpis.vehicles if kpis.vehicles else 0.0
    kpis.mean_queue = queue_total / step if step else 0.0
    return kpis


def _from_tripinfo(kpis: TrafficKpis, path: Path) -> None:
    delay, co2 = 0.0, 0.0
    for trip in ET.parse(path).getroot().iter("tripinfo"):
        delay += float(trip.get("timeLoss", "0"))
        emissions = trip.find("emissions")
        if emissions is not None:
            co2 += float(emissions.get("CO2_abs", "0"))
    kpis.total_delay_s = delay
    kpis.mean_delay_s = delay / kpis.vehicles if kpis.vehicles else 0.0
    kpis.co2_kg = co2 / 1e6  # SUMO writes milligrams


# -- the parent's side ------------------------------------------------------------------------


Sample = Callable[[float, dict[str, dict[str, Any]], int], None]
Batch = Callable[[list[tuple[float, dict[str, dict[str, Any]], int]]], None]


def _read(stream: Any, inbox: queue.Queue[Any]) -> None:
    """The parent's reader: every message of the child into ``inbox``, then None at its end."""
    try:
        while True:
            inbox.put(pickle.load(stream))
    except (EOFError, OSError, pickle.UnpicklingError):
        inbox.put(None)


def run(setup: RunSetup, options: RunOptions | None = None, on_sample: Sample | None = None,
        stop: threading.Event | None = None, on_batch: Batch | None = None) -> TrafficKpis:
    """Run SUMO on ``setup`` in a process of its own; ``on_sample(sim time, changed values by
    twin, vehicles halting)`` every simulated second, or ``on_batch`` with the seconds that
    arrived while the last batch was handled (one, when the caller keeps up). ``stop`` ends
    the run early."""
    options = options or RunOptions()
    options.check()
    sumo_home()  # a clear error here, not in the child, if SUMO is not installed
    options = replace(options, samples=options.samples and (on_sample or on_batch) is not None)
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen([sys.executable, "-m", "twinforge.packs.city.traffic_run"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=errors)
        assert proc.stdin is not None and proc.stdout is not None
        inbox: queue.Queue[Any] = queue.Queue(maxsize=2000)  # the child waits when the parent is this far behind
        reader = threading.Thread(target=_read, args=(proc.stdout, inbox), daemon=True, name="sumo-reader")
        try:
            pickle.dump((setup, options), proc.stdin)
            proc.stdin.close()
            reader.start()
            message: Any = None
            while True:
                if stop is not None and stop.is_set():
                    raise Unavailable("the traffic run was stopped")
                if message is None:
                    try:
                        message = inbox.get(timeout=0.5)
                    except queue.Empty:
                        continue
                    if message is None:
                        proc.wait(10)
                        errors.seek(0)
                        tail = errors.read().decode(errors="replace").strip()[-400:]
                        how = (f"crashed (signal {-proc.returncode})" if (proc.returncode or 0) < 0
                               else f"ended without a result (exit code {proc.returncode})")
                        raise Unavailable(f"the SUMO process {how}" + (f": {tail}" if tail else ""))
                kind, *body = message
                message = None
                if kind == "sample":
                    batch = [tuple(body)]
                    while len(batch) < 600:  # what came in meanwhile goes in the same batch
                        try:
                            message = inbox.get_nowait()
                        except queue.Empty:
                            break
                        if message is None or message[0] != "sample":
                            break
                        batch.append(tuple(message[1:]))
                        message = None
                    if on_batch is not None:
                        on_batch(batch)
                    elif on_sample is not None:
                        for sample in batch:
                            on_sample(*sample)
                elif kind == "done":
                    kpis: TrafficKpis = body[0]
                    return kpis
                elif kind == "error":
                    raise InvalidArgument(f"the SUMO run failed: {body[0]}")
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
            reader.join(5)
            proc.stdout.close()


def what_if(graph: Any, network: str, change: TrafficChange, *, as_of: str | None = None,
            options: RunOptions | None = None) -> TrafficWhatIf:
    """Run ``change`` on a fork of ``network`` (now, or ``as_of``) against its baseline; the two
    runs go side by side, each in its own process. The live twins are not touched."""
    from concurrent.futures import ThreadPoolExecutor

    from twinforge.sim.fork import fork, sandbox

    change.check()
    options = options or RunOptions()
    if graph.store.get_blob(blob_key(network, "net.xml")) is None:
        raise NotFound(f"there is no road network '{network}'", code="DigitalTwinNotFound")
    snapshot = fork(graph, network_scope(network), as_of)
    box = sandbox(snapshot)
    try:
        base = setup_of(box, network, files_from=graph)
        _apply(box, network, change, base)
        changed = setup_of(box, network, files_from=graph)
    finally:
        box.close()
    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(run, s, RunOptions(options.end, options.seed)) for s in (base, changed)]
        baseline, scenario = (r.result() for r in runs)
    return TrafficWhatIf(baseline, scenario)


def _apply(box: Any, network: str, change: TrafficChange, setup: RunSetup) -> None:
    from twinforge.graph.updates import Update

    updates = []
    for lane in change.closed_lanes:
        twin = setup.twins["lane"].get(lane)
        if twin is None:
            raise InvalidArgument(f"'{lane}' is not a lane of road network '{network}'")
        updates.append(Update(twin, {"closed": True}, source="whatif"))
    for tls, durations in change.signal_plans.items():
        twin = setup.twins["light"].get(tls)
        if twin is None:
            raise InvalidArgument(f"'{tls}' is not a traffic light of road network '{network}'")
        phases = setup.plans[tls][2]
        if len(durations) != len(phases):
            raise InvalidArgument(f"traffic light '{tls}' has {len(phases)} phases, not {len(durations)}")
        updates.append(Update(twin, {"phaseDurations": [float(d) for d in durations]}, source="whatif"))
    if change.demand_scale != 1.0:
        updates.append(Update(network, {"demandScale": setup.scale * change.demand_scale}, source="whatif"))
    if updates:
        outcome = box.apply_updates(updates)
        if outcome.refusals:
            raise InvalidArgument(f"the change was refused: {outcome.refusals[0].reason}")


class TrafficFeed:
    """A live SUMO run on ``network`` whose measurements go into the twins through the ingest
    path every simulated second (in a thread; the simulation in its own process)."""

    def __init__(self, graph: Any, network: str, options: RunOptions | None = None) -> None:
        from twinforge.ingest.core import Ingestor

        self.graph = graph
        self.network = network
        self.options = options or RunOptions()
        self.ingestor = Ingestor(graph)
        self.samples = 0
        self.batches = 0
        self.updates = 0
        self.kpis: TrafficKpis | None = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._origin = 0

    def on_batch(self, samples: list[tuple[float, dict[str, dict[str, Any]], int]]) -> None:
        """The seconds that came in, one transaction; each value at its own simulated time."""
        from twinforge.graph.updates import Update

        updates = [Update(twin, v, ts=self._origin + int(now * 1e6), source="sumo")
                   for now, values, _ in samples for twin, v in values.items()]
        result = self.ingestor.apply(updates)
        self.samples += len(samples)
        self.batches += 1
        self.updates += result.accepted

    def run(self) -> TrafficKpis:
        """Run in this thread until the run ends."""
        from twinforge.history import now_us

        self._origin = now_us()
        setup = setup_of(self.graph, self.network)
        self.kpis = run(setup, self.options, stop=self._stop, on_batch=self.on_batch)
        return self.kpis

    def _main(self) -> None:
        try:
            self.run()
        except Exception as exc:
            self.error = str(exc)

    def start(self) -> TrafficFeed:
        thread = threading.Thread(target=self._main, name=f"traffic-{self.network}", daemon=True)
        thread.start()  # shown once started: a close() from elsewhere never joins an unstarted thread
        self._thread = thread
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(15)


def summary_rows(path: str | Path) -> list[dict[str, str]]:
    """SUMO's summary output, one row per step."""
    return [dict(step.attrib) for step in ET.parse(path).getroot().iter("step")]


if __name__ == "__main__":  # the module's own copy, so that what is pickled names the module
    from twinforge.packs.city.traffic_run import _child as child

    child()

__all__ = ["RunOptions", "RunSetup", "TrafficChange", "TrafficFeed", "TrafficKpis", "TrafficWhatIf", "network_scope",
           "run", "setup_of", "summary_rows", "what_if"]
