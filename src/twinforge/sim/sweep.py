"""Sweeps and Monte Carlo: many variants of a scenario, their KPIs and percentiles.

A ``sweep`` block lists parameters, each with ``values`` (a grid: every combination runs)
or a ``distribution`` (sampled anew for each of ``runs`` runs)::

    sweep:
      runs: 200
      parameters:
        - {twin: zone-1, property: heaterPower, values: [1000, 1500, 2000]}
        - {twin: zone-1, property: thermalResistance, distribution: {type: normal, mean: 0.01, std: 0.001}}
      percentiles: [5, 50, 95]

Runs go out in batches; a batch runs as one simulation in which every run is a replica of
the forked twins, so a behaviour that steps fleets as arrays steps all runs at once.
Batches run on Dask distributed: a `LocalCluster` by default, or a scheduler address.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from twinforge.documents import SweepDocument, check
from twinforge.documents.scenario import MAX_SWEEP_WORK
from twinforge.errors import InvalidArgument
from twinforge.sim.behaviour import Registry, default_registry
from twinforge.sim.engine import Override, aggregate, simulate, value_of
from twinforge.sim.fork import Snapshot

if TYPE_CHECKING:
    from twinforge.sim.scenario import Scenario

SEP = "#run"


@dataclass(frozen=True, slots=True)
class SweepParameter:
    twin: str
    property: str
    values: tuple[float, ...] = ()
    distribution: dict[str, Any] | None = None

    def sample(self, rng: np.random.Generator) -> float:
        d = self.distribution or {}
        kind = d["type"]
        if kind == "normal":
            return float(rng.normal(d["mean"], d["std"]))
        if kind == "uniform":
            return float(rng.uniform(d["low"], d["high"]))
        if kind == "lognormal":
            return float(rng.lognormal(d["mean"], d["sigma"]))
        return float(rng.triangular(d["left"], d["mode"], d["right"]))


@dataclass(frozen=True, slots=True)
class Sweep:
    parameters: tuple[SweepParameter, ...]
    runs: int
    percentiles: tuple[float, ...] = (5.0, 50.0, 95.0)

    @classmethod
    def parse(cls, block: SweepDocument | dict[str, Any]) -> Sweep:
        """A sweep from its block (checked by `SweepDocument` when given as a dict)."""
        doc = block if isinstance(block, SweepDocument) else check(SweepDocument, block, "sweep")
        params = tuple(SweepParameter(p.twin, p.property, tuple(p.values or ()),
                                      None if p.distribution is None else p.distribution.numbers())
                       for p in doc.parameters)
        return cls(params, doc.runs, tuple(doc.percentiles))

    def override_sets(self, seed: int) -> list[list[Override]]:
        """The overrides of every run: each grid combination, ``runs`` times with fresh samples."""
        rng = np.random.default_rng(seed)
        grid = [p for p in self.parameters if p.values]
        random = [p for p in self.parameters if p.distribution]
        combos = list(itertools.product(*[p.values for p in grid])) if grid else [()]
        repeats = self.runs if random else max(1, self.runs if not grid else 1)
        out = []
        for combo in combos:
            for _ in range(repeats):
                run = [Override(p.twin, p.property, v) for p, v in zip(grid, combo, strict=True)]
                run += [Override(p.twin, p.property, p.sample(rng)) for p in random]
                out.append(run)
        return out


def replicate(snapshot: Snapshot, count: int) -> Snapshot:
    """``count`` copies of the snapshot's twins in one snapshot (``zone-1#run3``); no relationships."""
    twins = {f"{t}{SEP}{k}": doc for k in range(count) for t, doc in snapshot.twins.items()}
    copy = Snapshot(snapshot.models, twins, [], snapshot.start, snapshot.as_of)
    copy._models = snapshot._models
    return copy


def run_batch(snapshot: Snapshot, scenario: Scenario, override_sets: Sequence[Sequence[Override]],
              registry: Registry | None = None, seed: int = 0) -> list[dict[str, float]]:
    """The KPIs of each override set, all simulated together as replicas."""
    from twinforge.sim.scenario import apply_static

    registry = registry or default_registry()
    count = len(override_sets)
    if count == 0:
        return []
    replicas = replicate(snapshot, count)
    overrides: list[Override] = []
    for k, extra in enumerate(override_sets):
        for o in [*scenario.overrides, *extra]:
            overrides.append(Override(f"{o.twin}{SEP}{k}", o.name, o.value, o.series))
    replicas = apply_static(replicas, overrides, registry)
    wanted = {k.property for k in scenario.kpis}
    measure = [(f"{kpi.twin}{SEP}{k}", kpi.property) for k in range(count) for kpi in scenario.kpis]
    trajectory = simulate(replicas, horizon=scenario.horizon, step=scenario.step, overrides=overrides,
                          record=0, registry=registry, seed=seed, measure=measure,
                          recorded=lambda b: [v.name for v in b.variables if v.name in wanted])
    out = []
    for k in range(count):
        kpis = {}
        for kpi in scenario.kpis:
            measured = trajectory.measured.get((f"{kpi.twin}{SEP}{k}", kpi.property))
            if measured is not None:
                kpis[kpi.name] = measured.value(kpi.agg)
                continue
            times, values = value_of(trajectory, replicas, f"{kpi.twin}{SEP}{k}", kpi.property)
            kpis[kpi.name] = aggregate(times, values, kpi.agg)
        out.append(kpis)
    return out


@dataclass(slots=True)
class SweepResult:
    runs: list[dict[str, Any]]  # per run: the swept values and the KPIs
    percentiles: dict[str, dict[str, float]]  # KPI -> {"p5": ..., "p50": ..., "mean": ...}
    workers: int
    wall: float

    def to_json(self) -> dict[str, Any]:
        return {"runs": len(self.runs), "percentiles": self.percentiles, "workers": self.workers,
                "wallSeconds": round(self.wall, 3), "samples": self.runs[:1000]}


def run_sweep(scenario: Scenario, snapshot: Snapshot, *, registry: Registry | None = None,
              scheduler: str | None = None, workers: int = 2, batch: int = 50,
              progress: Callable[[float], None] | None = None, client: Any = None) -> SweepResult:
    """Run the scenario's sweep on Dask: ``scheduler`` (tcp://host:8786), a given ``client``,
    or a LocalCluster of ``workers`` processes."""
    import time

    from twinforge.errors import MissingDependency

    if scenario.sweep is None:
        raise InvalidArgument("the scenario has no sweep block")
    sweep = Sweep.parse(scenario.sweep)
    scenario.check(snapshot, registry or default_registry())
    work = len(snapshot.twins) * math.ceil(scenario.horizon / scenario.step) * scenario.sweep.count()
    if work > MAX_SWEEP_WORK:
        raise InvalidArgument(f"the sweep is {scenario.sweep.count():,} runs of {len(snapshot.twins):,} twins and "
                              f"{math.ceil(scenario.horizon / scenario.step):,} steps = {work:,} twin-steps; the "
                              f"limit is {MAX_SWEEP_WORK:,}")
    for p in sweep.parameters:
        if p.twin not in snapshot.twins:
            raise InvalidArgument(f"sweep parameter: twin '{p.twin}' is not in the scope")
    sets = sweep.override_sets(scenario.seed)
    chunks = [sets[i:i + batch] for i in range(0, len(sets), batch)]
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - dask is in the [sim] extra
        raise MissingDependency("sweeps run on Dask: pip install 'twinforge[sim]'") from None
    began = time.perf_counter()
    own: list[Any] = []
    if client is None:
        if scheduler:
            client = Client(scheduler)  # type: ignore[no-untyped-call]
        else:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1,  # type: ignore[no-untyped-call]
                                   processes=True, dashboard_address=":0")
            own.append(cluster)
            client = Client(cluster)  # type: ignore[no-untyped-call]
        own.insert(0, client)
    try:
        shared = client.scatter(snapshot, broadcast=True, hash=False)  # a key of its own per sweep
        futures = {client.submit(run_batch, shared, scenario, chunk, registry, scenario.seed + i, pure=False): i
                   for i, chunk in enumerate(chunks)}
        results: list[list[dict[str, float]] | None] = [None] * len(chunks)
        for done, future in enumerate(as_completed(futures), 1):  # type: ignore[no-untyped-call]
            results[futures[future]] = future.result()
            if progress is not None:
                progress(done / len(chunks))
        n_workers = len(client.scheduler_info().get("workers", {}))
    finally:
        for thing in own:
            thing.close()
    runs = []
    for chunk, kpis in zip(chunks, results, strict=True):
        assert kpis is not None
        for overrides, k in zip(chunk, kpis, strict=True):
            runs.append({"values": {f"{o.twin}.{o.name}": o.value for o in overrides}, "kpis": k})
    return SweepResult(runs, percentiles_of(runs, sweep.percentiles), n_workers, time.perf_counter() - began)


def percentiles_of(runs: list[dict[str, Any]], pct: Sequence[float]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    if not runs:
        return out
    for name in runs[0]["kpis"]:
        values = np.array([r["kpis"][name] for r in runs], dtype=float)
        row = {f"p{p:g}": float(np.percentile(values, p)) for p in pct}
        row["mean"] = float(values.mean())
        row["std"] = float(values.std())
        out[name] = {k: (v if math.isfinite(v) else float("nan")) for k, v in row.items()}
    return out


__all__ = ["Sweep", "SweepParameter", "SweepResult", "percentiles_of", "replicate", "run_batch", "run_sweep"]
