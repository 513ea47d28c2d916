"""The engine: steps every fleet (the twins of one behaviour) on one clock, applying
overrides, recording trajectories. It works on a `Snapshot` (plain data), so a run can
happen anywhere: in the server, the CLI, or a Dask worker."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twinforge.sim.behaviour import Behaviour, Registry, Values, as_float, default_registry
from twinforge.sim.fork import Snapshot


@dataclass(frozen=True, slots=True)
class Override:
    """A change applied to one twin's variable: a value, or a piecewise-linear series of
    (seconds from the start, value) points (held flat before the first and after the last)."""

    twin: str
    name: str
    value: float | None = None
    series: tuple[tuple[float, float], ...] = ()

    def at(self, t: float) -> float:
        """The value at ``t`` seconds from the start."""
        if not self.series:
            assert self.value is not None
            return self.value
        xs = [p[0] for p in self.series]
        ys = [p[1] for p in self.series]
        return float(np.interp(t, xs, ys))


class _SeriesInputs:
    """The series overrides of a run, set at each step: the series of one variable of one
    fleet that share their times (a weather file for every building) are interpolated as one
    matrix, the rest one by one."""

    def __init__(self, varying: list[tuple[Fleet, int, str, np.ndarray, np.ndarray]]) -> None:
        groups: dict[tuple[int, str, bytes], list[tuple[Fleet, int, str, np.ndarray, np.ndarray]]] = {}
        for item in varying:
            groups.setdefault((id(item[0]), item[2], item[3].tobytes()), []).append(item)
        self.groups = [(items[0][0].values, items[0][2], np.array([it[1] for it in items]), items[0][3],
                        np.vstack([it[4] for it in items])) for items in groups.values()]

    def apply(self, t: float) -> None:
        for values, name, rows, xs, ys in self.groups:
            if t <= xs[0]:
                values[name][rows] = ys[:, 0]
            elif t >= xs[-1]:
                values[name][rows] = ys[:, -1]
            else:
                j = int(np.searchsorted(xs, t, side="right"))
                w = (t - xs[j - 1]) / (xs[j] - xs[j - 1])
                values[name][rows] = ys[:, j - 1] + (ys[:, j] - ys[:, j - 1]) * w


@dataclass(slots=True)
class Fleet:
    """The twins one behaviour animates, with their variables as arrays."""

    behaviour: Behaviour
    twins: list[str]
    values: Values
    index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {t: i for i, t in enumerate(self.twins)}


@dataclass(slots=True)
class Block:
    """What one fleet recorded: samples (times x twins) per name, and the final values."""

    twins: list[str]
    index: dict[str, int]
    samples: dict[str, np.ndarray]
    last: dict[str, np.ndarray]


@dataclass(slots=True)
class Measure:
    """One variable's statistics over every step of a run, whatever is recorded: what KPIs read."""

    last: float
    low: float
    high: float
    start: float  # the time of the first value (s)
    at: float  # the time of the last value (s)
    area: float = 0.0  # trapezoidal integral over seconds

    @classmethod
    def first(cls, t: float, value: float) -> Measure:
        return cls(value, value, value, t, t)

    def add(self, t: float, value: float) -> None:
        self.area += (self.last + value) * (t - self.at) / 2.0
        self.last, self.at = value, t
        if math.isnan(value):  # as numpy's min and max: NaN once, NaN for good
            self.low = self.high = math.nan
        else:
            self.low = value if value < self.low else self.low
            self.high = value if value > self.high else self.high

    def value(self, agg: str) -> float:
        """The KPI: last, min, max, integral or avg (the integral over the run's length)."""
        if agg == "last":
            return self.last
        if agg == "min":
            return self.low
        if agg == "max":
            return self.high
        if agg == "integral":
            return self.area
        if agg == "avg":
            span = self.at - self.start
            return self.area / span if span > 0 else self.last
        raise ValueError(f"unknown aggregate {agg!r}")


@dataclass
class Trajectory:
    """Recorded values: ``times`` (seconds from the start) and, per (twin, name), the series
    (`get`, or the `series` mapping) and the final value (`final`)."""

    times: np.ndarray
    blocks: list[Block]
    start: float  # the start as seconds since the epoch (UTC)
    wall: float = 0.0  # how long the run took (s)
    twin_steps: int = 0
    steps: int = 0  # steps simulated (recorded samples may be fewer)
    measured: dict[tuple[str, str], Measure] = field(default_factory=dict)  # every step of (twin, name)

    def get(self, twin: str, name: str) -> np.ndarray | None:
        """The recorded series of one twin's variable, or None."""
        for block in self.blocks:
            i = block.index.get(twin)
            if i is not None and name in block.samples:
                return block.samples[name][:, i]
        return None

    @functools.cached_property
    def series(self) -> dict[tuple[str, str], np.ndarray]:
        return {(twin, name): arr[:, i] for b in self.blocks for name, arr in b.samples.items()
                for i, twin in enumerate(b.twins)}

    @functools.cached_property
    def final(self) -> dict[tuple[str, str], float]:
        return {(twin, name): float(arr[i]) for b in self.blocks for name, arr in b.last.items()
                for i, twin in enumerate(b.twins)}


def build_fleets(snapshot: Snapshot, registry: Registry, twins: Sequence[str] | None = None) -> list[Fleet]:
    """One fleet per behaviour, holding every snapshot twin whose model it animates."""
    models = snapshot.model_set()
    groups: dict[int, tuple[Behaviour, list[str]]] = {}
    for twin_id in twins if twins is not None else sorted(snapshot.twins):
        doc = snapshot.twins[twin_id]
        behaviour = registry.for_model(models, doc["$metadata"]["$model"])
        if behaviour is None:
            continue
        groups.setdefault(id(behaviour), (behaviour, []))[1].append(twin_id)
    fleets = []
    for behaviour, ids in groups.values():
        values: Values = {}
        for var in behaviour.variables:
            values[var.name] = np.array([as_float(snapshot.twins[t].get(var.name), var.default) for t in ids],
                                        dtype=float)
        fleets.append(Fleet(behaviour.fresh(), ids, values))
    return fleets


def simulate(snapshot: Snapshot, *, horizon: float, step: float, overrides: Sequence[Override] = (),
             record: float | None = None, registry: Registry | None = None, seed: int = 0,
             progress: Callable[[float], None] | None = None, twins: Sequence[str] | None = None,
             recorded: Callable[[Behaviour], Sequence[str]] | None = None,
             measure: Sequence[tuple[str, str]] = ()) -> Trajectory:
    """Run every fleet of ``snapshot`` for ``horizon`` seconds in steps of ``step``.

    ``record`` is the interval of recorded samples (default: every step; 0 records only the
    start and the end). ``recorded`` picks the names kept per behaviour (default: its
    states, outputs and inputs). ``measure`` names (twin, name) pairs whose statistics are kept
    over every step whatever is recorded (`Trajectory.measured`: what KPIs are computed from).
    """
    registry = registry or default_registry()
    rng = np.random.default_rng(seed)
    fleets = build_fleets(snapshot, registry, twins)
    by_twin: dict[str, Fleet] = {t: f for f in fleets for t in f.twins}
    constant: list[tuple[Fleet, int, str, float]] = []
    varying: list[tuple[Fleet, int, str, np.ndarray, np.ndarray]] = []  # a series as (times, values) arrays
    for o in overrides:
        fleet = by_twin.get(o.twin)
        if fleet is None or o.name not in fleet.values:
            continue  # checked by the scenario; a static twin's override only changes its document
        slot = (fleet, fleet.index[o.twin], o.name)
        if o.series:
            xs, ys = (np.array(column, dtype=float) for column in zip(*o.series, strict=True))
            varying.append((*slot, xs, ys))
        else:
            constant.append((*slot, float(o.at(0.0))))
    for fleet, i, name, value in constant:
        fleet.values[name][i] = value
    series = _SeriesInputs(varying)
    series.apply(0.0)
    for fleet in fleets:
        fleet.behaviour.initial(fleet.values, rng)

    pick = recorded or (lambda b: b.names("state", "output", "input"))
    kept = [(fleet, tuple(pick(fleet.behaviour))) for fleet in fleets]
    samples: dict[int, dict[str, list[np.ndarray]]] = {id(f): {n: [] for n in names} for f, names in kept}
    times: list[float] = []

    watched = [(key, by_twin[key[0]], by_twin[key[0]].index[key[0]]) for key in dict.fromkeys(measure)
               if key[0] in by_twin and key[1] in by_twin[key[0]].values]
    measured: dict[tuple[str, str], Measure] = {}

    def observe(t: float) -> None:
        for key, fleet, i in watched:
            value = float(fleet.values[key[1]][i])
            if key in measured:
                measured[key].add(t, value)
            else:
                measured[key] = Measure.first(t, value)

    def keep(t: float) -> None:
        times.append(t)
        for fleet, names in kept:
            store = samples[id(fleet)]
            for n in names:
                store[n].append(fleet.values[n].copy())

    steps = max(1, math.ceil(horizon / step - 1e-9)) if horizon > 0 else 0
    every = None if record is None else (0 if record == 0 else max(1, round(record / step)))
    began = time.perf_counter()
    keep(0.0)
    observe(0.0)
    t = 0.0
    for k in range(steps):
        dt = min(step, horizon - t)
        for fleet in fleets:
            fleet.behaviour.step(t, dt, fleet.values, rng)
        t = min(horizon, t + dt)
        series.apply(t)  # inputs held over the next step, as recorded at t
        last = k == steps - 1
        observe(t)
        if last or (every is None) or (every and (k + 1) % every == 0):
            keep(t)
        if progress is not None and (last or k % max(1, steps // 100) == 0):
            progress((k + 1) / steps)
    wall = time.perf_counter() - began
    for fleet in fleets:
        close = getattr(fleet.behaviour, "close", None)
        if close is not None:
            close()

    blocks = [Block(fleet.twins, fleet.index, {n: np.stack(samples[id(fleet)][n]) for n in names},
                    {n: arr.copy() for n, arr in fleet.values.items()}) for fleet, names in kept]
    return Trajectory(np.array(times), blocks, snapshot.start, wall, sum(len(f.twins) for f in fleets) * steps,
                      steps, measured)




def aggregate(times: np.ndarray, values: np.ndarray, agg: str) -> float:
    """A KPI of one recorded series: last, min, max, or (trapezoidal, over seconds) integral
    and its time average ``avg``."""
    if agg == "last":
        return float(values[-1])
    if agg == "min":
        return float(values.min())
    if agg == "max":
        return float(values.max())
    if len(values) < 2:
        return float(values[-1]) if agg == "avg" else 0.0
    area = float(np.sum((values[1:] + values[:-1]) * np.diff(times)) / 2.0)
    if agg == "integral":
        return area
    if agg == "avg":
        span = float(times[-1] - times[0])
        return area / span if span > 0 else float(values[-1])
    raise ValueError(f"unknown aggregate {agg!r}")


def value_of(trajectory: Trajectory, snapshot: Snapshot, twin: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The recorded series of (twin, name), or its constant value over the run."""
    recorded = trajectory.get(twin, name)
    if recorded is not None:
        return trajectory.times, recorded
    constant = next((float(b.last[name][b.index[twin]]) for b in trajectory.blocks
                     if twin in b.index and name in b.last), None)
    if constant is None:
        raw: Any = snapshot.twins[twin].get(name)
        constant = as_float(raw, math.nan)
    return trajectory.times, np.full(len(trajectory.times), constant)


__all__ = ["Block", "Fleet", "Measure", "Override", "Trajectory", "aggregate", "build_fleets", "simulate", "value_of"]
