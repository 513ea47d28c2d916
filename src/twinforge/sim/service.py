"""Scenarios as a service: created from documents, run in the background, each run kept in
a sandbox store of its own (an SQLite file per run) whose history answers queries later.
The live graph is only read (forked); its twins, history and events are never written."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twinforge.errors import Conflict, InvalidArgument, NotFound
from twinforge.history import History
from twinforge.history.timeutil import now_us
from twinforge.sim.behaviour import Registry, default_registry
from twinforge.sim.engine import Trajectory
from twinforge.sim.fork import Snapshot, fork, sandbox, utc
from twinforge.sim.scenario import Scenario, ScenarioResult

if TYPE_CHECKING:
    from twinforge.graph import TwinGraph

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
    scenario: Scenario
    status: str = "created"  # created | running | done | failed
    progress: float = 0.0
    error: str | None = None
    created: str = field(default_factory=lambda: utc(now_us() / 1e6))
    result: dict[str, Any] | None = None
    sandboxes: dict[str, TwinGraph] = field(default_factory=dict)
    thread: threading.Thread | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.scenario.id, "status": self.status, "progress": round(self.progress, 4),
                "error": self.error, "created": self.created, "scenario": self.scenario.document}


class ScenarioManager:
    """The scenarios of one server: documents, runs, sandboxes, results."""

    def __init__(self, graph: TwinGraph, *, directory: str | Path | None = None,
                 registry: Registry | None = None,
                 announce: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.graph = graph
        self.registry = registry or default_registry()
        self._own_dir = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="twinforge-scenarios-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.announce = announce  # (scenario id, event data): progress on the event stream
        self.entries: dict[str, Entry] = {}
        self._lock = threading.Lock()

    # -- documents --------------------------------------------------------

    def create(self, document: Any) -> Entry:
        scenario = Scenario.from_dict(document)
        with self._lock:
            if scenario.id in self.entries:
                raise Conflict(f"scenario '{scenario.id}' exists already", code="ScenarioAlreadyExists")
        scenario.check(fork(self.graph, scenario.scope, scenario.as_of), self.registry)
        with self._lock:
            if scenario.id in self.entries:
                raise Conflict(f"scenario '{scenario.id}' exists already", code="ScenarioAlreadyExists")
            entry = self.entries[scenario.id] = Entry(scenario)
        return entry

    def get(self, scenario_id: str) -> Entry:
        entry = self.entries.get(scenario_id)
        if entry is None:
            raise NotFound(f"there is no scenario '{scenario_id}'", code="ScenarioNotFound")
        return entry

    def list_scenarios(self) -> list[Entry]:
        return [self.entries[k] for k in sorted(self.entries)]

    def delete(self, scenario_id: str) -> None:
        entry = self.get(scenario_id)
        if entry.status == "running":
            raise Conflict(f"scenario '{scenario_id}' is running; wait for it to finish", code="ScenarioRunning")
        self._drop_sandboxes(entry)
        with self._lock:
            self.entries.pop(scenario_id, None)

    def _drop_sandboxes(self, entry: Entry) -> None:
        for graph in entry.sandboxes.values():
            graph.close()
        entry.sandboxes = {}
        shutil.rmtree(self.directory / entry.scenario.id, ignore_errors=True)

    # -- running ----------------------------------------------------------

    def start(self, scenario_id: str) -> Entry:
        entry = self.get(scenario_id)
        with self._lock:
            if entry.status == "running":
                raise Conflict(f"scenario '{scenario_id}' is already running", code="ScenarioRunning")
            entry.status, entry.progress, entry.error, entry.result = "running", 0.0, None, None
        entry.thread = threading.Thread(target=self._run, args=(entry,), name=f"scenario-{scenario_id}",
                                        daemon=True)
        entry.thread.start()
        return entry

    def wait(self, scenario_id: str, timeout: float = 60.0) -> Entry:
        entry = self.get(scenario_id)
        if entry.thread is not None:
            entry.thread.join(timeout)
        return entry

    def _tell(self, entry: Entry) -> None:
        if self.announce is not None:
            with contextlib.suppress(Exception):
                self.announce(entry.scenario.id, {"scenario": entry.scenario.id, "status": entry.status,
                                                  "progress": round(entry.progress, 4), "error": entry.error})

    def _run(self, entry: Entry) -> None:
        scenario = entry.scenario
        last = [0.0]

        def progress(fraction: float) -> None:
            entry.progress = 0.9 * fraction  # the last tenth is recording into the sandboxes
            if entry.progress - last[0] >= 0.05:
                last[0] = entry.progress
                self._tell(entry)

        self._tell(entry)
        try:
            result = scenario.run(self.graph, registry=self.registry, progress=progress)
            self._drop_sandboxes(entry)
            folder = self.directory / scenario.id
            folder.mkdir(parents=True, exist_ok=True)
            for run, trajectory in (("baseline", result.baseline), ("variant", result.variant)):
                box = sandbox(result.snapshot, str(folder / f"{run}.db"))
                record(box, result.snapshot, trajectory)
                entry.sandboxes[run] = box
            entry.result = result.to_json()
            entry.status, entry.progress = "done", 1.0
        except Exception as exc:  # reported on the scenario; the server goes on
            entry.status, entry.error = "failed", str(exc)
        self._tell(entry)

    # -- results ----------------------------------------------------------

    def results(self, scenario_id: str) -> dict[str, Any]:
        entry = self.get(scenario_id)
        if entry.status != "done" or entry.result is None:
            raise Conflict(f"scenario '{scenario_id}' has no results yet (status {entry.status})",
                           code="ScenarioNotDone")
        return entry.result

    def history(self, scenario_id: str, run: str, twin: str, name: str, **kwargs: Any) -> list[dict[str, Any]]:
        entry = self.get(scenario_id)
        if run not in RUNS:
            raise InvalidArgument(f"run must be baseline or variant, not {run!r}", code="InvalidArgument")
        box = entry.sandboxes.get(run)
        if box is None:
            raise Conflict(f"scenario '{scenario_id}' has no {run} run yet (status {entry.status})",
                           code="ScenarioNotDone")
        box.get_twin(twin)  # DigitalTwinNotFound for a twin outside the scenario
        return History(box.store).read_range(twin, name, **kwargs)

    def close(self) -> None:
        for entry in list(self.entries.values()):
            if entry.thread is not None:
                entry.thread.join(5)
            for graph in entry.sandboxes.values():
                graph.close()
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
