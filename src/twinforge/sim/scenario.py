"""Scenarios: a document (JSON or YAML) saying what to fork, what to change and what to
measure; running it simulates a baseline and a variant from the same fork and compares
their KPIs. The same document drives the library, the CLI and the REST API."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twinforge.documents import OptimiseDocument, ScenarioDocument, SweepDocument, check
from twinforge.documents.scenario import MAX_TWIN_STEPS
from twinforge.errors import InvalidArgument
from twinforge.sim.behaviour import Registry, default_registry
from twinforge.sim.engine import Override, Trajectory, aggregate, simulate, value_of
from twinforge.sim.fork import Snapshot, fork

if TYPE_CHECKING:
    import pandas

    from twinforge.graph import TwinGraph



@dataclass(frozen=True, slots=True)
class Kpi:
    name: str
    twin: str
    property: str
    agg: str = "last"


@dataclass(slots=True)
class Scenario:
    """A parsed scenario document."""

    id: str
    scope: str
    horizon: float  # seconds
    step: float  # seconds
    overrides: list[Override] = field(default_factory=list)
    kpis: list[Kpi] = field(default_factory=list)
    as_of: str | None = None
    record: float | None = None  # seconds between recorded samples; None: every step
    seed: int = 0
    sweep: SweepDocument | None = None
    optimise: OptimiseDocument | None = None
    document: dict[str, Any] = field(default_factory=dict)

    # -- reading ----------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | Path) -> Scenario:
        text = Path(path).read_text()
        if str(path).endswith((".yaml", ".yml")):
            return cls.from_text(text, yaml=True)
        return cls.from_text(text)

    @classmethod
    def from_text(cls, text: str, *, yaml: bool | None = None) -> Scenario:
        if yaml is None:
            yaml = not text.lstrip().startswith("{")
        try:
            if yaml:
                import yaml as pyyaml

                doc = pyyaml.safe_load(text)
            else:
                doc = json.loads(text)
        except Exception as exc:
            raise InvalidArgument(f"the scenario is not valid {'YAML' if yaml else 'JSON'}: {exc}") from None
        return cls.from_dict(doc)

    @classmethod
    def from_dict(cls, doc: Any) -> Scenario:
        """A scenario from its document, checked by `ScenarioDocument`."""
        if not isinstance(doc, dict):
            raise InvalidArgument("a scenario is a JSON/YAML object with id, scope, horizon, step, ...")
        d = check(ScenarioDocument, doc, "scenario")
        overrides = [Override(o.twin, o.property, o.value, tuple(o.series or ()))
                     for o in d.overrides or []]
        kpis = [Kpi(k.name, k.twin, k.property, k.agg) for k in d.kpis or []]
        return cls(d.id, d.scope, d.horizon, d.step, overrides, kpis, d.asOf, d.record, d.seed, d.sweep,
                   d.optimise, doc)

    # -- checking against the graph -----------------------------------------

    def check(self, snapshot: Snapshot, registry: Registry) -> None:
        """Every twin and property the document names exists in the fork, and the run is not
        larger than a server takes (twins x steps)."""
        work = len(snapshot.twins) * math.ceil(self.horizon / self.step)
        if work > MAX_TWIN_STEPS:
            raise InvalidArgument(f"the run is {len(snapshot.twins):,} twins x {math.ceil(self.horizon / self.step):,} "
                                  f"steps = {work:,}; the limit is {MAX_TWIN_STEPS:,} (narrow the scope or "
                                  "lengthen the step)")
        models = snapshot.model_set()
        for what, twin, name in ([("override", o.twin, o.name) for o in self.overrides]
                                 + [(f"KPI '{k.name}'", k.twin, k.property) for k in self.kpis]):
            doc = snapshot.twins.get(twin)
            if doc is None:
                raise InvalidArgument(f"{what}: twin '{twin}' is not in the scope ({len(snapshot.twins)} twin(s) selected)")
            model = doc["$metadata"]["$model"]
            view = models.interface(model)
            behaviour = registry.for_model(models, model)
            known = set(view.properties) | set(view.telemetry)
            if behaviour is not None:
                known |= {v.name for v in behaviour.variables}
            if name not in known:
                raise InvalidArgument(f"{what}: '{name}' is not a property or telemetry of twin '{twin}' ({model})")

    # -- running ----------------------------------------------------------

    def run(self, graph: TwinGraph | None = None, *, snapshot: Snapshot | None = None,
            registry: Registry | None = None, progress: Callable[[float], None] | None = None) -> ScenarioResult:
        """Fork ``graph`` (or use ``snapshot``), run the baseline and the variant, compare."""
        registry = registry or default_registry()
        if snapshot is None:
            if graph is None:
                raise ValueError("run() needs a graph or a snapshot")
            snapshot = fork(graph, self.scope, self.as_of)
        self.check(snapshot, registry)

        def part(offset: float) -> Callable[[float], None] | None:
            return None if progress is None else (lambda f: progress(offset + f / 2))

        baseline = simulate(snapshot, horizon=self.horizon, step=self.step, record=self.record,
                            registry=registry, seed=self.seed, progress=part(0.0), measure=self.measured)
        variant = self.run_variant(snapshot, self.overrides, registry=registry, progress=part(0.5))
        return ScenarioResult(self, snapshot, baseline, variant)

    def run_variant(self, snapshot: Snapshot, overrides: list[Override], *, registry: Registry | None = None,
                    progress: Callable[[float], None] | None = None, record: float | str | None = "default",
                    seed: int | None = None) -> Trajectory:
        """One run with ``overrides`` (static twins' property overrides change their documents)."""
        snap = apply_static(snapshot, overrides, registry or default_registry())
        return simulate(snap, horizon=self.horizon, step=self.step, overrides=overrides,
                        record=self.record if record == "default" else record,  # type: ignore[arg-type]
                        registry=registry, seed=self.seed if seed is None else seed, progress=progress,
                        measure=self.measured)

    @property
    def measured(self) -> list[tuple[str, str]]:
        """The (twin, property) pairs the KPIs read: measured on every step of a run."""
        return [(k.twin, k.property) for k in self.kpis]

    def kpis_of(self, snapshot: Snapshot, trajectory: Trajectory) -> dict[str, float]:
        """The scenario's KPIs over one run: from every step, whatever ``record`` kept (a twin
        no behaviour animates holds its value)."""
        out = {}
        for k in self.kpis:
            measure = trajectory.measured.get((k.twin, k.property))
            if measure is not None:
                out[k.name] = measure.value(k.agg)
                continue
            times, values = value_of(trajectory, snapshot, k.twin, k.property)
            out[k.name] = aggregate(times, values, k.agg)
        return out


def apply_static(snapshot: Snapshot, overrides: list[Override], registry: Registry) -> Snapshot:
    """The snapshot with value overrides of twins no behaviour animates written into their
    documents (animated twins get theirs through the engine)."""
    models = snapshot.model_set()
    static = [o for o in overrides
              if registry.for_model(models, snapshot.twins[o.twin]["$metadata"]["$model"]) is None
              and o.value is not None]
    if not static:
        return snapshot
    twins = {t: dict(d) for t, d in snapshot.twins.items()}
    for o in static:
        twins[o.twin][o.name] = o.value
    copy = Snapshot(snapshot.models, twins, snapshot.relationships, snapshot.start, snapshot.as_of)
    copy._models = snapshot._models
    return copy


@dataclass(slots=True)
class ScenarioResult:
    """The baseline and variant runs of a scenario, and their KPIs."""

    scenario: Scenario
    snapshot: Snapshot
    baseline: Trajectory
    variant: Trajectory

    @property
    def kpis(self) -> dict[str, float]:
        return self.scenario.kpis_of(self.snapshot, self.variant)

    @property
    def baseline_kpis(self) -> dict[str, float]:
        return self.scenario.kpis_of(self.snapshot, self.baseline)

    @property
    def deltas(self) -> dict[str, float]:
        base = self.baseline_kpis
        return {k: v - base[k] for k, v in self.kpis.items()}

    def to_json(self) -> dict[str, Any]:
        """KPIs, baseline KPIs and deltas as the REST API answers them."""
        return {"kpis": self.kpis, "baseline": {"kpis": self.baseline_kpis}, "deltas": self.deltas,
                "twins": len(self.snapshot.twins), "steps": self.variant.steps,
                "recorded": len(self.variant.times),
                "wallSeconds": {"baseline": round(self.baseline.wall, 4), "variant": round(self.variant.wall, 4)}}

    def kpi_frame(self) -> pandas.DataFrame:
        """One row per KPI: baseline, variant, delta."""
        import pandas as pd

        base, var = self.baseline_kpis, self.kpis
        return pd.DataFrame({"baseline": base, "variant": var, "delta": {k: var[k] - base[k] for k in var}})

    def frame(self, twin: str, name: str) -> pandas.DataFrame:
        """One variable of one twin over time, baseline and variant side by side (UTC index)."""
        import pandas as pd

        columns = {}
        for run, trajectory in (("baseline", self.baseline), ("variant", self.variant)):
            times, values = value_of(trajectory, self.snapshot, twin, name)
            columns[run] = pd.Series(values, index=pd.to_datetime(trajectory.start + times, unit="s", utc=True))
        return pd.DataFrame(columns)


__all__ = ["Kpi", "Scenario", "ScenarioResult", "apply_static"]
