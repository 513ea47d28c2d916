"""Scenarios: a document (JSON or YAML) saying what to fork, what to change and what to
measure; running it simulates a baseline and a variant from the same fork and compares
their KPIs. The same document drives the library, the CLI and the REST API."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twinforge.errors import InvalidArgument
from twinforge.sim.behaviour import Registry, default_registry
from twinforge.sim.durations import seconds
from twinforge.sim.engine import KPI_AGGREGATES, Override, Trajectory, aggregate, simulate, value_of
from twinforge.sim.fork import Snapshot, fork

if TYPE_CHECKING:
    import pandas

    from twinforge.graph import TwinGraph

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
MAX_STEPS = 10_000_000


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
    sweep: dict[str, Any] | None = None
    optimise: dict[str, Any] | None = None
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
        if not isinstance(doc, dict):
            raise InvalidArgument("a scenario is a JSON/YAML object with id, scope, horizon, step, ...")
        known = {"id", "scope", "asOf", "horizon", "step", "overrides", "kpis", "record", "seed", "sweep",
                 "optimise", "optimize", "description"}
        unknown = sorted(set(doc) - known)
        if unknown:
            raise InvalidArgument(f"unknown scenario field(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        sid = doc.get("id")
        if not isinstance(sid, str) or not _ID.match(sid):
            raise InvalidArgument("the scenario needs an id: 1-100 letters, digits, '.', '-' or '_'")
        scope = doc.get("scope")
        if not isinstance(scope, str) or not scope.strip():
            raise InvalidArgument("the scenario needs a scope: a query selecting twins")
        as_of = doc.get("asOf")
        if as_of is not None:
            from twinforge.history import parse_time

            as_of = str(as_of) if not hasattr(as_of, "isoformat") else as_of.isoformat()
            parse_time(as_of)
        horizon = seconds(doc.get("horizon"), "horizon")
        step = seconds(doc.get("step"), "step")
        if horizon <= 0 or step <= 0:
            raise InvalidArgument("horizon and step must be longer than zero")
        if step > horizon:
            raise InvalidArgument(f"step ({doc.get('step')}) is longer than the horizon ({doc.get('horizon')})")
        if horizon / step > MAX_STEPS:
            raise InvalidArgument(f"horizon/step is {horizon / step:,.0f} steps; the limit is {MAX_STEPS:,}")
        record = doc.get("record")
        record_s = seconds(record, "record") if record is not None else None
        for listed in ("overrides", "kpis"):
            if doc.get(listed) is not None and not isinstance(doc.get(listed), list):
                raise InvalidArgument(f"{listed} must be a list")
        overrides = [cls._override(o, k) for k, o in enumerate(doc.get("overrides") or [])]
        kpis = [cls._kpi(k, i) for i, k in enumerate(doc.get("kpis") or [])]
        names = [k.name for k in kpis]
        if len(set(names)) != len(names):
            raise InvalidArgument("KPI names must be unique")
        seed = doc.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise InvalidArgument("seed must be an integer")
        optimise = doc.get("optimise", doc.get("optimize"))
        for block, what in ((doc.get("sweep"), "sweep"), (optimise, "optimise")):
            if block is not None and not isinstance(block, dict):
                raise InvalidArgument(f"{what} must be an object")
        return cls(sid, scope, horizon, step, overrides, kpis, as_of, record_s, seed, doc.get("sweep"),
                   optimise, doc)

    @staticmethod
    def _override(o: Any, k: int) -> Override:
        where = f"overrides[{k}]"
        if not isinstance(o, dict) or not isinstance(o.get("twin"), str) or not isinstance(o.get("property"), str):
            raise InvalidArgument(f"{where}: an override is {{twin, property, value}} or {{twin, property, series}}")
        if ("value" in o) == ("series" in o):
            raise InvalidArgument(f"{where}: give either value or series")
        if "value" in o:
            value = o["value"]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidArgument(f"{where}: value must be a number, got {value!r}")
            return Override(o["twin"], o["property"], float(value))
        series = o["series"]
        if not isinstance(series, list) or not series:
            raise InvalidArgument(f"{where}: series is a list of [duration, value] points")
        points = []
        for p in series:
            if not isinstance(p, list | tuple) or len(p) != 2 or isinstance(p[1], bool) \
                    or not isinstance(p[1], (int, float)):
                raise InvalidArgument(f"{where}: each series point is [duration, value], got {p!r}")
            points.append((seconds(p[0], f"{where} series time"), float(p[1])))
        if any(b[0] < a[0] for a, b in itertools.pairwise(points)):
            raise InvalidArgument(f"{where}: series times must not go back")
        return Override(o["twin"], o["property"], None, tuple(points))

    @staticmethod
    def _kpi(k: Any, i: int) -> Kpi:
        where = f"kpis[{i}]"
        if not isinstance(k, dict) or not all(isinstance(k.get(f), str) for f in ("name", "twin", "property")):
            raise InvalidArgument(f"{where}: a KPI is {{name, twin, property, agg}}")
        agg = k.get("agg", "last")
        if agg not in KPI_AGGREGATES:
            raise InvalidArgument(f"{where}: agg must be one of {', '.join(KPI_AGGREGATES)}, not {agg!r}")
        return Kpi(k["name"], k["twin"], k["property"], agg)

    # -- checking against the graph -----------------------------------------

    def check(self, snapshot: Snapshot, registry: Registry) -> None:
        """Every twin and property the document names exists in the fork."""
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
                            registry=registry, seed=self.seed, progress=part(0.0))
        variant = self.run_variant(snapshot, self.overrides, registry=registry, progress=part(0.5))
        return ScenarioResult(self, snapshot, baseline, variant)

    def run_variant(self, snapshot: Snapshot, overrides: list[Override], *, registry: Registry | None = None,
                    progress: Callable[[float], None] | None = None, record: float | str | None = "default",
                    seed: int | None = None) -> Trajectory:
        """One run with ``overrides`` (static twins' property overrides change their documents)."""
        snap = apply_static(snapshot, overrides, registry or default_registry())
        return simulate(snap, horizon=self.horizon, step=self.step, overrides=overrides,
                        record=self.record if record == "default" else record,  # type: ignore[arg-type]
                        registry=registry, seed=self.seed if seed is None else seed, progress=progress)

    def kpis_of(self, snapshot: Snapshot, trajectory: Trajectory) -> dict[str, float]:
        """The scenario's KPIs over one run."""
        out = {}
        for k in self.kpis:
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
                "twins": len(self.snapshot.twins), "steps": len(self.variant.times) - 1,
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
