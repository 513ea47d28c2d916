"""Scenario documents (docs/simulation.md): what to fork, what to change, what to measure, and
the optional sweep and optimise blocks. Checked here as far as the document alone allows; the
twins and properties it names are checked against the fork when it runs."""

from __future__ import annotations

import itertools
import math
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    AliasChoices,
    BeforeValidator,
    Field,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    model_validator,
)

from twinforge.documents.base import Document, Duration
from twinforge.errors import TwinforgeError

Aggregate = Literal["last", "avg", "min", "max", "integral"]
Method = Literal["SLSQP", "COBYLA", "trust-constr", "differential_evolution"]
KPI_AGGREGATES: tuple[str, ...] = get_args(Aggregate)
METHODS: tuple[str, ...] = get_args(Method)
DISTRIBUTIONS = {"normal": ("mean", "std"), "uniform": ("low", "high"), "lognormal": ("mean", "sigma"),
                 "triangular": ("left", "mode", "right")}
MAX_STEPS = 10_000_000
MAX_RUNS = 100_000  # the runs of one sweep
MAX_TWIN_STEPS = 200_000_000  # twins x steps of one run (x runs for a sweep: MAX_SWEEP_WORK)
MAX_SWEEP_WORK = 20_000_000_000
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def _time(value: Any) -> Any:
    """``asOf``: a time (YAML reads unquoted times as datetimes), checked as twinforge reads times."""
    from twinforge.history import parse_time

    if isinstance(value, (date, datetime)):
        value = value.isoformat()
    if isinstance(value, str):
        try:
            parse_time(value)
        except TwinforgeError as exc:
            raise ValueError(str(exc)) from None
    return value


def _identifier(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"an id is 1-100 letters, digits, '.', '-' or '_' (starting with a letter or digit), got {value!r}"[:200])
    return value


def _query(value: str) -> str:
    if not value.strip():
        raise ValueError("the scope is a query selecting twins (SELECT T FROM DIGITALTWINS T WHERE ...)")
    return value


def _point(value: Any) -> tuple[float, float]:
    """A series point ``[duration, value]``, as (seconds, value)."""
    from twinforge.documents.base import _duration

    if not isinstance(value, (list, tuple)) or len(value) != 2 or isinstance(value[1], bool) \
            or not isinstance(value[1], (int, float)):
        raise ValueError(f"a series point is [duration, value], got {value!r}"[:200])
    return _duration(value[0]), float(value[1])


SeriesPoint = Annotated[tuple[float, float], BeforeValidator(_point), WithJsonSchema({
    "type": "array", "prefixItems": [{"anyOf": [{"type": "string"}, {"type": "number"}]}, {"type": "number"}],
    "minItems": 2, "maxItems": 2, "description": "[duration from the start, value]"})]


class OverrideDocument(Document):
    """A property held at a value, or following a series, for the whole run of the variant."""

    twin: StrictStr
    property: StrictStr
    value: float | None = Field(None, description="held for the whole run")
    series: list[SeriesPoint] | None = Field(None, min_length=1, description="a step function of time")

    @model_validator(mode="after")
    def _one_of(self) -> OverrideDocument:
        if (self.value is None) == (self.series is None):
            raise ValueError("give either value or series")
        if self.series and any(b[0] < a[0] for a, b in itertools.pairwise(self.series)):
            raise ValueError("series times must not go back")
        return self


class KpiDocument(Document):
    """A number measured on both runs: a property of one twin, aggregated over the run."""

    name: StrictStr
    twin: StrictStr
    property: StrictStr
    agg: Aggregate = "last"


class DistributionDocument(Document):
    """A distribution a Monte Carlo parameter is drawn from, with the numbers its type needs."""

    type: Literal["normal", "uniform", "lognormal", "triangular"]
    mean: float | None = None
    std: float | None = Field(None, ge=0)
    sigma: float | None = Field(None, ge=0)
    low: float | None = None
    high: float | None = None
    left: float | None = None
    mode: float | None = None
    right: float | None = None

    @model_validator(mode="after")
    def _complete(self) -> DistributionDocument:
        needed = DISTRIBUTIONS[self.type]
        missing = [f for f in needed if getattr(self, f) is None]
        if missing:
            raise ValueError(f"a {self.type} distribution needs {', '.join(needed)}")
        other = sorted(f for f in self.model_fields_set - set(needed) - {"type"})
        if other:
            raise ValueError(f"a {self.type} distribution takes {', '.join(needed)}, not {', '.join(other)}")
        return self

    def numbers(self) -> dict[str, Any]:
        return {"type": self.type, **{f: getattr(self, f) for f in DISTRIBUTIONS[self.type]}}


class SweepParameterDocument(Document):
    twin: StrictStr
    property: StrictStr
    values: list[float] | None = Field(None, min_length=1, description="a grid: every value runs")
    distribution: DistributionDocument | None = Field(None, description="drawn anew for each run")

    @model_validator(mode="after")
    def _one_of(self) -> SweepParameterDocument:
        if (self.values is None) == (self.distribution is None):
            raise ValueError("give either values (a grid) or a distribution")
        return self


class SweepDocument(Document):
    """Many variants: every combination of the grids, ``runs`` times with fresh draws."""

    parameters: list[SweepParameterDocument] = Field(min_length=1)
    runs: StrictInt = Field(1, ge=1, le=1_000_000)
    percentiles: list[Annotated[float, Field(ge=0, le=100)]] = Field(default_factory=lambda: [5.0, 50.0, 95.0])

    def count(self) -> int:
        """How many runs: every combination of the grids, ``runs`` times when something is drawn."""
        grid = [len(p.values) for p in self.parameters if p.values]
        drawn = any(p.distribution for p in self.parameters)
        return math.prod(grid) * (self.runs if drawn or not grid else 1)

    @model_validator(mode="after")
    def _bounded(self) -> SweepDocument:
        if self.count() > MAX_RUNS:
            raise ValueError(f"the sweep makes {self.count():,} runs; the limit is {MAX_RUNS:,}")
        return self


def _bounds(value: list[float]) -> list[float]:
    if value[0] >= value[1]:
        raise ValueError(f"bounds are [low, high] with low < high, got {value}")
    return value


class DecisionDocument(Document):
    """A decision variable: a property the optimiser chooses within bounds."""

    twin: StrictStr
    property: StrictStr
    bounds: Annotated[list[float], Field(min_length=2, max_length=2), AfterValidator(_bounds)]
    initial: float | None = Field(None, description="where to start (default: the middle; clipped to the bounds)")


class ConstraintDocument(Document):
    kpi: StrictStr
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _some(self) -> ConstraintDocument:
        if self.min is None and self.max is None:
            raise ValueError("a constraint needs min and/or max")
        return self


class OptimiseDocument(Document):
    """Choose the decision variables that minimise one KPI, subject to bounds on others."""

    variables: list[DecisionDocument] = Field(min_length=1)
    minimise: StrictStr = Field(validation_alias=AliasChoices("minimise", "minimize"),
                                description="the KPI to minimise (minimize is read too)")
    constraints: list[ConstraintDocument] = Field(default_factory=list)
    method: Method = "SLSQP"
    maxEvaluations: StrictInt = Field(200, ge=1, le=100_000)

    def unknown_kpi(self, kpis: set[str]) -> str | None:
        """What is wrong when the objective or a constraint names no KPI of ``kpis``."""
        if self.minimise not in kpis:
            return f"optimise.minimise must name a KPI of the scenario ({', '.join(sorted(kpis)) or 'none'})"
        for k, c in enumerate(self.constraints):
            if c.kpi not in kpis:
                return f"optimise.constraints[{k}]: '{c.kpi}' is not a KPI of the scenario"
        return None


class ScenarioDocument(Document):
    """A what-if: fork ``scope`` (now or ``asOf``), run a baseline and a variant with
    ``overrides`` for ``horizon`` in steps of ``step``, compare ``kpis``."""

    id: Annotated[StrictStr, AfterValidator(_identifier)] = Field(description="1-100 letters, digits, '.', '-' or '_'")
    scope: Annotated[StrictStr, AfterValidator(_query)] = Field(description="a query selecting the twins to fork")
    asOf: Annotated[StrictStr | None, BeforeValidator(_time)] = Field(
        None, description="fork the graph as it was at this time (default: now)")
    horizon: Duration
    step: Duration
    overrides: list[OverrideDocument] | None = None
    kpis: list[KpiDocument] | None = None
    record: Duration | None = Field(None, description="time between recorded samples (default: every step)")
    seed: StrictInt = 0
    sweep: SweepDocument | None = None
    optimise: OptimiseDocument | None = Field(None, validation_alias=AliasChoices("optimise", "optimize"))
    description: StrictStr | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ScenarioDocument:
        if self.horizon <= 0 or self.step <= 0:
            raise ValueError("horizon and step must be longer than zero")
        if self.step > self.horizon:
            raise ValueError(f"step ({self.step:g} s) is longer than the horizon ({self.horizon:g} s)")
        if self.horizon / self.step > MAX_STEPS:
            raise ValueError(f"horizon/step is {self.horizon / self.step:,.0f} steps; the limit is {MAX_STEPS:,}")
        names = [k.name for k in self.kpis or []]
        if len(set(names)) != len(names):
            raise ValueError("KPI names must be unique")
        wrong = None if self.optimise is None else self.optimise.unknown_kpi(set(names))
        if wrong:
            raise ValueError(wrong)
        return self


__all__ = [
    "DISTRIBUTIONS",
    "KPI_AGGREGATES",
    "MAX_RUNS",
    "MAX_STEPS",
    "MAX_SWEEP_WORK",
    "MAX_TWIN_STEPS",
    "METHODS",
    "ConstraintDocument",
    "DecisionDocument",
    "DistributionDocument",
    "KpiDocument",
    "OptimiseDocument",
    "OverrideDocument",
    "ScenarioDocument",
    "SweepDocument",
    "SweepParameterDocument",
]
