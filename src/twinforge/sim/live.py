"""Live mode: the same behaviours, on the wall clock, driving the live twins.

Each step reads the twins' inputs and parameters as they are now (a PATCH of ``heaterPower``
during the run is felt at the next step), steps the behaviours, and writes their states and
outputs, and the inputs the scenario overrides, through the ingest path (`Ingestor.apply`,
source ``simulation``): the twin shows what is applied, and history, `/stream` and event
routes see it as they see device data. ``speed`` runs the clock faster (``speed=60``: a
simulated minute per second).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from twinforge.errors import NotFound
from twinforge.sim.behaviour import Registry, default_registry
from twinforge.sim.engine import build_fleets
from twinforge.sim.fork import fork
from twinforge.sim.scenario import Scenario

if TYPE_CHECKING:
    from twinforge.graph import TwinGraph


@dataclass(slots=True)
class LiveStats:
    steps: int = 0
    updates: int = 0
    refused: int = 0


def run_live(graph: TwinGraph, scenario: Scenario, *, speed: float = 1.0, registry: Registry | None = None,
             stop: threading.Event | None = None, steps: int | None = None,
             on_step: Callable[[int, float], None] | None = None) -> LiveStats:
    """Animate the scenario's scope on the live graph in (scaled) real time, for its horizon
    or ``steps`` steps or until ``stop`` is set. Overrides apply; nothing is forked."""
    from twinforge.graph import Update
    from twinforge.ingest import Ingestor

    registry = registry or default_registry()
    snapshot = fork(graph, scenario.scope)
    scenario.check(snapshot, registry)
    fleets = build_fleets(snapshot, registry)
    by_twin = {t: f for f in fleets for t in f.twins}
    for o in scenario.overrides:
        fleet = by_twin.get(o.twin)
        if fleet is not None and o.name in fleet.values:
            fleet.values[o.name][fleet.index[o.twin]] = o.at(0.0)
    rng = np.random.default_rng(scenario.seed)
    for fleet in fleets:
        fleet.behaviour.initial(fleet.values, rng)
    models = snapshot.model_set()
    overridden = {(o.twin, o.name) for o in scenario.overrides}
    # what the twins hold and the run reads each step: inputs and parameters nobody overrides
    followed = [(fleet, i, twin, [n for n in fleet.behaviour.names("input", "parameter")
                                  if (twin, n) not in overridden])
                for fleet in fleets for i, twin in enumerate(fleet.twins)]
    kinds: dict[tuple[str, str], bool] = {}  # (model, name) -> is telemetry
    ingestor = Ingestor(graph)
    stats = LiveStats()
    total = steps if steps is not None else max(1, round(scenario.horizon / scenario.step))
    began = time.monotonic()
    t = 0.0
    for k in range(total):
        if stop is not None and stop.is_set():
            break
        for fleet, i, twin, names in followed:  # the live values: a change during the run is felt
            try:
                current = graph.get_twin(twin)
            except NotFound:
                continue
            for name in names:
                value = current.get(name)
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                    fleet.values[name][i] = float(value)
        for fleet in fleets:
            fleet.behaviour.step(t, scenario.step, fleet.values, rng)
        t += scenario.step
        for o in scenario.overrides:
            fleet = by_twin.get(o.twin)
            if fleet is not None and o.name in fleet.values and o.series:
                fleet.values[o.name][fleet.index[o.twin]] = o.at(t)
        updates = []
        for fleet in fleets:
            for i, twin in enumerate(fleet.twins):
                written = [*fleet.behaviour.written(),
                           *(n for n in fleet.behaviour.names("input") if (twin, n) in overridden)]
                model = snapshot.twins[twin]["$metadata"]["$model"]
                props: dict[str, float] = {}
                tele: dict[str, float] = {}
                for name in written:
                    key = (model, name)
                    if key not in kinds:
                        view = models.interface(model)
                        if name not in view.properties and name not in view.telemetry:
                            continue
                        kinds[key] = name in view.telemetry
                    (tele if kinds[key] else props)[name] = float(fleet.values[name][i])
                if props:
                    updates.append(Update(twin, props, source="simulation"))
                if tele:
                    updates.append(Update(twin, tele, telemetry=True, source="simulation"))
        result = ingestor.apply(updates)
        stats.steps += 1
        stats.updates += len(updates) - len(result.refused)
        stats.refused += len(result.refused)
        if on_step is not None:
            on_step(k + 1, t)
        wait = began + (k + 1) * scenario.step / speed - time.monotonic()
        if wait > 0:
            if stop is not None:
                if stop.wait(wait):
                    break
            else:
                time.sleep(wait)
    return stats


__all__ = ["LiveStats", "run_live"]
