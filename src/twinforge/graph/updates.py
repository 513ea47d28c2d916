"""Batches of new property and telemetry values: the one path that writes them.

`TwinGraph.apply_updates` takes `Update`s from any source (a connector, the HTTP API, a
simulation) and writes, in one store transaction, the twins' new values with their ETags
and ``$metadata`` times, one history point per value and one event per twin changed.
An update that cannot be applied is refused with a `Refusal` whose ``kind`` says why;
the rest of the batch goes on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from twinforge.dtdl import ModelSet
from twinforge.dtdl.values import check_primitive, check_schema, check_value
from twinforge.graph.records import history_point, new_etag, stamp_json
from twinforge.history.timeutil import from_us, parse_time
from twinforge.store.base import EventRecord, HistoryPoint, TwinValues


class RefusalKind(StrEnum):
    """Why an update was refused (also the dead-letter ``kind``)."""

    UNKNOWN_TWIN = "unknown_twin"
    UNKNOWN_NAME = "unknown_name"  # not a property (or telemetry) of the twin's model
    INVALID_VALUE = "invalid_value"  # the values do not conform to their schema (or there are none)
    UNKNOWN_COMPONENT = "unknown_component"  # the twin's model has no such component


@dataclass(frozen=True, slots=True)
class Update:
    """New values for one twin (or one of its components): properties, or telemetry."""

    twin: str
    values: Mapping[str, Any]
    telemetry: bool = False
    component: str = ""
    ts: int | None = None  # source time, microseconds since the epoch; None means now
    source: str = "api"


@dataclass(frozen=True, slots=True)
class Refusal:
    """One refused update: its position in the batch, the kind of problem and the reason."""

    index: int
    kind: RefusalKind
    reason: str


@dataclass
class UpdateOutcome:
    """What a batch did: how many updates were applied, and why the others were not."""

    accepted: int = 0
    refusals: list[Refusal] = field(default_factory=list)


@dataclass
class Plan:
    """The rows a batch writes, prepared before its transaction."""

    now: str
    outcome: UpdateOutcome
    changes: dict[str, dict[tuple[str, str], tuple[str, str]]] = field(default_factory=dict)
    points: list[HistoryPoint] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)

    def write_values(self) -> list[TwinValues]:
        return [TwinValues(twin_id, new_etag(), self.now, values) for twin_id, values in self.changes.items()]


_UNKNOWN: tuple[str, Any] = ("unknown", None)


def problems_of(models: ModelSet, model: str, update: Update) -> tuple[RefusalKind, list[str]] | None:
    """Why ``update`` cannot be applied to a twin (or component) of ``model``; None if it can."""
    values = update.values
    if not isinstance(values, Mapping) or not values:
        return RefusalKind.INVALID_VALUE, ["the update holds no values (expected a JSON object of name: value)"]
    members = models.member_table(model)
    wanted = "telemetry" if update.telemetry else "property"
    noun = "telemetry" if update.telemetry else "a property"
    telemetry = models.interface(model).telemetry if update.telemetry else {}
    unknown: list[str] = []
    invalid: list[str] = []
    for name, value in values.items():
        kind, schema = members.get(name, _UNKNOWN)
        if kind != wanted:
            unknown.append(f"'{name}' is not {noun} of {model}" if kind in ("unknown", "component")
                           else f"'{name}' is {kind} of {model}, not {noun}")
        elif update.telemetry:
            invalid.extend(check_value(telemetry[name], value, name, models.deref))
        elif isinstance(schema, str):
            problem = check_primitive(schema, value)
            if problem:
                invalid.append(f"{name}: {problem}")
        else:
            invalid.extend(check_schema(schema, value, name, models.deref))
    if unknown:
        return RefusalKind.UNKNOWN_NAME, unknown
    if invalid:
        return RefusalKind.INVALID_VALUE, invalid
    return None


def plan_updates(models: ModelSet, updates: Sequence[Update], twin_models: Mapping[str, str],
                 now: str) -> Plan:
    """Check every update of a batch and turn the accepted ones into rows to write."""
    now_ts = parse_time(now)
    plan = Plan(now, UpdateOutcome())
    outcome, changes, points, events = plan.outcome, plan.changes, plan.points, plan.events
    patches: dict[str, list[dict[str, Any]]] = {}
    used_ts: dict[tuple[str, str, str], dict[int, Any]] = {}  # the batch's points so far, by value key
    now_stamp = stamp_json(now)
    for index, update in enumerate(updates):
        model = twin_models.get(update.twin)
        if model is None:
            outcome.refusals.append(Refusal(index, RefusalKind.UNKNOWN_TWIN,
                                            f"there is no digital twin '{update.twin}'"))
            continue
        target = model
        if update.component:
            target = models.interface(model).components.get(update.component, "")
            if not target:
                outcome.refusals.append(Refusal(index, RefusalKind.UNKNOWN_COMPONENT,
                                                f"{model} has no component '{update.component}'"))
                continue
        found = problems_of(models, target, update)
        if found is not None:
            outcome.refusals.append(Refusal(index, found[0], "; ".join(found[1][:3])))
            continue
        base_ts = update.ts if update.ts is not None else now_ts
        twin_id, component = update.twin, update.component
        if update.telemetry:
            twin_changes = None
            message = {"component": component or None, "values": dict(update.values),
                       "sourceTime": from_us(base_ts) if update.ts is not None else None}
            events.append(EventRecord(now, "Telemetry", twin_id, orjson.dumps(message).decode(), model=model))
            stamp = ""
        else:
            twin_changes = changes.setdefault(twin_id, {})
            patch = patches.setdefault(twin_id, [])
            stamp = now_stamp if update.ts is None else stamp_json(from_us(base_ts))
            prefix = f"/{component}/" if component else "/"
        for name, value in update.values.items():
            # Two samples of one value at the same microsecond: keep both, one µs apart. With
            # a source time, the same sample twice (a redelivered message) stays one point at
            # its own time, wherever it comes in the batch: redelivery must not add points.
            used = used_ts.setdefault((twin_id, component, name), {})
            ts = base_ts
            if ts in used and (update.ts is None or used[ts] != value):
                ts = max(used) + 1
            used[ts] = value
            point = history_point(twin_id, component, name, ts, value)
            points.append(point)
            if twin_changes is not None:
                twin_changes[(component, name)] = (point.value, stamp)
                patch.append({"op": "add", "path": prefix + name, "value": value})
        outcome.accepted += 1
    for twin_id in changes:
        events.append(EventRecord(now, "Twin.Update", twin_id,
                                  orjson.dumps(patches[twin_id], option=orjson.OPT_SERIALIZE_NUMPY).decode(),
                                  model=twin_models[twin_id]))
    return plan


__all__ = ["Plan", "Refusal", "RefusalKind", "Update", "UpdateOutcome", "plan_updates", "problems_of"]
