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


@dataclass(slots=True)
class Update:
    """New values for one twin (or one of its components): properties, or telemetry.

    Treat it as immutable. It is not frozen because a frozen dataclass takes three times as
    long to build, and one is built per ingested record: that was half the time of parsing an
    NDJSON body.
    """

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
new_tuple = tuple.__new__  # a NamedTuple built without its Python-level __new__: half the time


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
    """Check every update of a batch and turn the accepted ones into rows to write.

    This runs once per value ingested, so it avoids what it can: a value whose schema is a
    primitive is checked in place (`problems_of` only explains a refusal), and each twin's
    ``Twin.Update`` patch is written as JSON text from the values' own JSON.
    """
    now_ts = parse_time(now)
    plan = Plan(now, UpdateOutcome())
    outcome, changes, points, events = plan.outcome, plan.changes, plan.points, plan.events
    refusals = outcome.refusals
    patches: dict[str, list[str]] = {}
    # The batch's points so far, by value key: the first one's (ts, value), then all of them.
    first_ts: dict[tuple[str, str, str], tuple[int, Any]] = {}
    used_ts: dict[tuple[str, str, str], dict[int, Any]] = {}
    now_stamp = stamp_json(now)
    tables: dict[str, dict[str, tuple[str, Any]]] = {}
    targets: dict[tuple[str, str], str] = {}
    paths: dict[tuple[str, str], str] = {}  # JSON text of each value's path in a patch
    accepted = 0
    for index, update in enumerate(updates):
        twin_id, component, values, telemetry = update.twin, update.component, update.values, update.telemetry
        model = twin_models.get(twin_id)
        if model is None:
            refusals.append(Refusal(index, RefusalKind.UNKNOWN_TWIN, f"there is no digital twin '{twin_id}'"))
            continue
        target = model
        if component:
            target = targets.get((model, component), "")
            if not target:
                target = targets[model, component] = models.interface(model).components.get(component, "")
            if not target:
                refusals.append(Refusal(index, RefusalKind.UNKNOWN_COMPONENT,
                                        f"{model} has no component '{component}'"))
                continue
        if telemetry or not _primitive_properties(tables, models, target, values):
            found = problems_of(models, target, update)
            if found is not None:
                refusals.append(Refusal(index, found[0], "; ".join(found[1][:3])))
                continue
        source_ts = update.ts
        base_ts = source_ts if source_ts is not None else now_ts
        if telemetry:
            twin_changes = None
            message = {"component": component or None, "values": dict(values),
                       "sourceTime": from_us(base_ts) if source_ts is not None else None}
            events.append(EventRecord(now, "Telemetry", twin_id, orjson.dumps(message).decode(), model=model))
        else:
            twin_changes = changes.get(twin_id)
            if twin_changes is None:
                twin_changes = changes[twin_id] = {}
                patch = patches[twin_id] = []
            else:
                patch = patches[twin_id]
            stamp = now_stamp if source_ts is None else stamp_json(from_us(base_ts))
            prefix = f"/{component}/" if component else "/"
        for name, value in values.items():
            # Two samples of one value at the same microsecond: keep both, one µs apart. With
            # a source time, the same sample twice (a redelivered message) stays one point at
            # its own time, wherever it comes in the batch: redelivery must not add points.
            key = (twin_id, component, name)
            ts = base_ts
            seen = first_ts.get(key)
            if seen is None:
                first_ts[key] = (ts, value)
            else:
                used = used_ts.get(key)
                if used is None:
                    used = used_ts[key] = {seen[0]: seen[1]}
                if ts in used and (source_ts is None or used[ts] != value):
                    ts = max(used) + 1
                used[ts] = value
            kind = type(value)
            if kind is float or kind is int or kind is str:  # history_point's common cases, inline
                text = orjson.dumps(value).decode()
                points.append(new_tuple(HistoryPoint, (twin_id, component, name, ts,
                                                       None if kind is str else float(value), text)))
            else:
                point = history_point(twin_id, component, name, ts, value)
                points.append(point)
                text = point.value
            if twin_changes is not None:
                twin_changes[(component, name)] = (text, stamp)
                path = paths.get((component, name))
                if path is None:
                    path = paths[component, name] = orjson.dumps(prefix + name).decode()
                patch.append(f'{{"op":"add","path":{path},"value":{text}}}')
        accepted += 1
    outcome.accepted = accepted
    for twin_id in changes:
        events.append(EventRecord(now, "Twin.Update", twin_id, "[" + ",".join(patches[twin_id]) + "]", None, 0,
                                  twin_models[twin_id]))
    return plan


def _primitive_properties(tables: dict[str, dict[str, tuple[str, Any]]], models: ModelSet, model: str,
                          values: Mapping[str, Any]) -> bool:
    """Whether ``values`` are all properties of ``model`` with primitive schemas, and valid:
    the common case, checked without building any message."""
    members = tables.get(model)
    if members is None:
        members = tables[model] = models.member_table(model)
    if not values or (type(values) is not dict and not isinstance(values, Mapping)):
        return False
    for name, value in values.items():
        kind, schema = members.get(name, _UNKNOWN)
        if kind != "property" or not isinstance(schema, str):
            return False
        if schema == "double":
            if type(value) is float:
                if value - value != 0.0:  # NaN or infinite
                    return False
                continue
            if type(value) is int:
                continue
        if check_primitive(schema, value) is not None:
            return False
    return True


__all__ = ["Plan", "Refusal", "RefusalKind", "Update", "UpdateOutcome", "plan_updates", "problems_of"]
