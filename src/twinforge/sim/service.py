"""Scenarios as a service: created from documents kept in the store, run in the background,
each run kept in a sandbox store of its own (an SQLite file per run, kept as a blob in the
store) whose history answers queries later, on any server.
The live graph is only read (forked); its twins, history and events are never written."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twinforge.errors import Conflict, InvalidArgument
from twinforge.history import History
from twinforge.history.timeutil import now_us
from twinforge.records import Collection, Kind
from twinforge.sim.behaviour import Registry, default_registry
from twinforge.sim.engine import Trajectory
from twinforge.sim.fork import Snapshot, fork, sandbox, utc
from twinforge.sim.scenario import Scenario, ScenarioResult

if TYPE_CHECKING:
    from twinforge.graph import TwinGraph

log = logging.getLogger("twinforge.scenarios")
RUNS = ("baseline", "variant")
RECORD_CHUNK = 20_000


def record(graph: TwinGraph, snapshot: Snapshot, trajectory: Trajectory) -> int:
    """Write a run's trajectories into ``graph`` (a sandbox) through its update path, so its
    history holds every recorded sample at its simulated time; returns the updates made."""
    from twinforge.graph import Update

    models = snapshot.model_set()
    by_twin: dict[str, list[tuple[str, bool]]] = {}
    for twin, name in trajectory.series:
        view = models.interface(snapshot.twins[twin]["$metadata"]["$model"])
        if name in view.properties:
            by_twin.setdefault(twin, []).append((name, False))
        elif name in view.telemetry:
            by_twin.setdefault(twin, []).append((name, True))
    start_us = int(trajectory.start * 1_000_000)
    updates: list[Any] = []
    done = 0
    for k, t in enumerate(trajectory.times):
        ts = start_us + round(float(t) * 1_000_000)
        for twin, names in by_twin.items():
            props = {n: float(trajectory.series[(twin, n)][k]) for n, tel in names if not tel}
            tele = {n: float(trajectory.series[(twin, n)][k]) for n, tel in names if tel}
            if props:
                updates.append(Update(twin, props, ts=ts, source="simulation"))
            if tele:
                updates.append(Update(twin, tele, telemetry=True, ts=ts, source="simulation"))
        if len(updates) >= RECORD_CHUNK:
            graph.apply_updates(updates)
            done += len(updates)
            updates = []
    if updates:
        graph.apply_updates(updates)
        done += len(updates)
    return done


@dataclass(slots=True)
class Entry:
    """A scenario as stored: its document, status, progress and results (a record every server
    shares)."""

    scenario: Scenario
    status: str = "created"  # created | running | done | failed
    progress: float = 0.0
    error: str | None = None
    created: str = field(default_factory=lambda: utc(now_us() / 1e6))
    result: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.scenario.id, "status": self.status, "progress": round(self.progress, 4),
                "error": self.error, "created": self.created, "scenario": self.scenario.document}

    def to_record(self) -> dict[str, Any]:
        return {**self.to_json(), "result": self.result}

    @classmethod
    def from_record(cls, _: str, data: dict[str, Any]) -> Entry:
        return cls(Scenario.from_dict(data["scenario"]), data["status"], float(data["progress"]), data.get("error"),
                   data["created"], data.get("result"))


SCENARIOS: Kind[Entry] = Kind("scenario", "scenario", "ScenarioNotFound", Entry.from_record, Entry.to_record)
INTERRUPTED = ("interrupted: the server running it stopped before it finished "
               "(POST /scenarios/{id}/run to run it again)")


class ScenarioManager:
    """Scenarios in the store (every server lists and serves them), run in the background on
    the server asked to run them. A finished run's sandbox (an SQLite file) is kept as a blob in
    the store, so any server answers its history; a run whose server died is marked failed."""

    def __init__(self, graph: TwinGraph, *, directory: str | Path | None = None,
                 registry: Registry | None = None,
                 announce: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.graph = graph
        self.registry = registry or default_registry()
        self._own_dir = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="twinforge-scenarios-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.announce = announce  # (scenario id, event data): progress on the event stream
        self.records = Collection(graph.store, SCENARIOS)
        self._threads: dict[str, threading.Thread] = {}  # the runs of this server
        self._leases: dict[str, Any] = {}
        self._sandboxes: dict[tuple[str, str], TwinGraph] = {}
        self._lock = threading.Lock()
        self.failures = 0  # progress announcements that could not be sent

    # -- documents --------------------------------------------------------

    def create(self, document: Any) -> Entry:
        scenario = Scenario.from_dict(document)
        if self.records.exists(scenario.id):
            raise Conflict(f"scenario '{scenario.id}' exists already", code="ScenarioAlreadyExists")
        scenario.check(fork(self.graph, scenario.scope, scenario.as_of), self.registry)
        try:
            return self.records.create(scenario.id, Entry(scenario))
        except Conflict:
            raise Conflict(f"scenario '{scenario.id}' exists already", code="ScenarioAlreadyExists") from None

    def _checked(self, entry: Entry) -> Entry:
        """A running entry whose server is gone (its lease is free) is marked failed."""
        scenario_id = entry.scenario.id
        if entry.status != "running" or scenario_id in self._threads:
            return entry
        lease = self.graph.store.lease(f"scenario-{scenario_id}")
        if not lease.try_acquire():
            return entry  # another live server runs it
        try:
            with self.graph.store.transaction():
                current = self.records.find(scenario_id)
                if current is not None and current.status == "running":
                    current.status, current.error = "failed", INTERRUPTED.format(id=scenario_id)
                    self.records.put(scenario_id, current)
                    log.warning("scenario '%s' was interrupted: marked failed", scenario_id)
                    entry = current
        finally:
            lease.release()
        return entry

    def get(self, scenario_id: str) -> Entry:
        return self._checked(self.records.get(scenario_id))

    def list_scenarios(self) -> list[Entry]:
        return [self._checked(e) for e in self.records.list()]

    def delete(self, scenario_id: str) -> None:
        entry = self.get(scenario_id)
        if entry.status == "running":
            raise Conflict(f"scenario '{scenario_id}' is running; wait for it to finish", code="ScenarioRunning")
        self._drop_sandboxes(scenario_id)
        with self.graph.store.transaction():
            for run in RUNS:
                self.graph.store.delete_blob(f"scenario/{scenario_id}/{run}.db")
            self.records.discard(scenario_id)

    def _drop_sandboxes(self, scenario_id: str) -> None:
        with self._lock:
            for run in RUNS:
                box = self._sandboxes.pop((scenario_id, run), None)
                if box is not None:
                    box.close()
        shutil.rmtree(self.directory / scenario_id, ignore_errors=True)

    # -- running ----------------------------------------------------------

    def start(self, scenario_id: str) -> Entry:
        self.records.get(scenario_id)  # NotFound before anything is locked
        lease = self.graph.store.lease(f"scenario-{scenario_id}")
        with self._lock:
            if scenario_id in self._threads or not lease.try_acquire():
                raise Conflict(f"scenario '{scenario_id}' is already running", code="ScenarioRunning")
            self._leases[scenario_id] = lease  # held while it runs: its death frees it
            try:
                with self.graph.store.transaction():
                    entry = self.records.get(scenario_id)  # "running" here was a dead server's run
                    entry.status, entry.progress, entry.error, entry.result = "running", 0.0, None, None
                    self.records.put(scenario_id, entry)
            except BaseException:
                self._leases.pop(scenario_id).release()
                raise
            thread = self._threads[scenario_id] = threading.Thread(
                target=self._run, args=(entry,), name=f"scenario-{scenario_id}", daemon=True)
        thread.start()
        return entry

    def wait(self, scenario_id: str, timeout: float = 60.0) -> Entry:
        thread = self._threads.get(scenario_id)
        if thread is not None:
            thread.join(timeout)
        return self.get(scenario_id)

    def _tell(self, entry: Entry) -> None:
        if self.announce is not None:
            try:
                self.announce(entry.scenario.id, {"scenario": entry.scenario.id, "status": entry.status,
                                                  "progress": round(entry.progress, 4), "error": entry.error})
            except Exception:
                self.failures += 1
                log.exception("scenario '%s': its progress could not be announced", entry.scenario.id)

    def _run(self, entry: Entry) -> None:
        scenario = entry.scenario
        last = [0.0]

        def progress(fraction: float) -> None:
            entry.progress = 0.9 * fraction  # the last tenth is recording into the sandboxes
            if entry.progress - last[0] >= 0.05:
                last[0] = entry.progress
                self.records.put(scenario.id, entry)
                self._tell(entry)

        self._tell(entry)
        try:
            result = scenario.run(self.graph, registry=self.registry, progress=progress)
            self._drop_sandboxes(scenario.id)
            folder = self.directory / scenario.id
            folder.mkdir(parents=True, exist_ok=True)
            for run, trajectory in (("baseline", result.baseline), ("variant", result.variant)):
                path = folder / f"{run}.db"
                box = sandbox(result.snapshot, str(path))
                record(box, result.snapshot, trajectory)
                box.close()
                self.graph.store.put_blob(f"scenario/{scenario.id}/{run}.db", "application/vnd.sqlite3",
                                          path.read_bytes())
            entry.result = result.to_json()
            entry.status, entry.progress = "done", 1.0
        except Exception as exc:  # reported on the scenario; the server goes on
            log.warning("scenario '%s' failed: %s", scenario.id, exc)
            entry.status, entry.error = "failed", str(exc)
        try:
            self.records.put(scenario.id, entry)
        except Exception:
            log.exception("scenario '%s': its outcome (%s) could not be stored", scenario.id, entry.status)
        finally:
            with self._lock:
                self._threads.pop(scenario.id, None)
                lease = self._leases.pop(scenario.id, None)
            if lease is not None:
                lease.release()
        self._tell(entry)

    # -- results ----------------------------------------------------------

    def results(self, scenario_id: str) -> dict[str, Any]:
        entry = self.get(scenario_id)
        if entry.status != "done" or entry.result is None:
            raise Conflict(f"scenario '{scenario_id}' has no results yet (status {entry.status})",
                           code="ScenarioNotDone")
        return entry.result

    def _sandbox(self, scenario_id: str, run: str) -> TwinGraph | None:
        """A finished run's sandbox, fetched from the store the first time this server needs it."""
        from twinforge.graph import TwinGraph

        with self._lock:
            box = self._sandboxes.get((scenario_id, run))
            if box is not None:
                return box
            blob = self.graph.store.get_blob(f"scenario/{scenario_id}/{run}.db")
            if blob is None:
                return None
            folder = self.directory / scenario_id
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{run}.db"
            path.write_bytes(blob[1])
            box = self._sandboxes[(scenario_id, run)] = TwinGraph.open(f"sqlite:///{path}")
            return box

    def history(self, scenario_id: str, run: str, twin: str, name: str, **kwargs: Any) -> list[dict[str, Any]]:
        entry = self.get(scenario_id)
        if run not in RUNS:
            raise InvalidArgument(f"run must be baseline or variant, not {run!r}", code="InvalidArgument")
        box = self._sandbox(scenario_id, run) if entry.status == "done" else None
        if box is None:
            raise Conflict(f"scenario '{scenario_id}' has no {run} run yet (status {entry.status})",
                           code="ScenarioNotDone")
        box.get_twin(twin)  # DigitalTwinNotFound for a twin outside the scenario
        return History(box.store).read_range(twin, name, **kwargs)

    def close(self) -> None:
        for thread in list(self._threads.values()):
            thread.join(5)
        with self._lock:
            for box in self._sandboxes.values():
                box.close()
            self._sandboxes.clear()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)


def run_and_record(scenario: Scenario, graph: TwinGraph, directory: Path,
                   progress: Callable[[float], None] | None = None) -> ScenarioResult:
    """Run a scenario and keep both runs as sandbox stores in ``directory`` (for the CLI)."""
    result = scenario.run(graph, progress=progress)
    directory.mkdir(parents=True, exist_ok=True)
    for run, trajectory in (("baseline", result.baseline), ("variant", result.variant)):
        path = directory / f"{run}.db"
        path.unlink(missing_ok=True)
        box = sandbox(result.snapshot, str(path))
        record(box, result.snapshot, trajectory)
        box.close()
    return result


__all__ = ["Entry", "ScenarioManager", "record", "run_and_record"]
