"""Apply batches of property updates and telemetry to twins, with history and events.

Every connector (MQTT, OPC UA, HTTP) turns what it receives into `Update`s and hands
them here. A batch is one store transaction: twin states, history points, change events
and dead letters are written together. An update that cannot be applied (unknown twin,
unknown name, a value of the wrong type) becomes a dead letter and the rest of the batch
goes on: one bad device never stops the others.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from twinforge.dtdl.values import check_primitive, check_value
from twinforge.graph import TwinGraph, new_etag
from twinforge.history import from_us, parse_time
from twinforge.store.base import DeadLetter, EventRecord, HistoryPoint, TwinValues

log = logging.getLogger("twinforge.ingest")
_UNKNOWN: tuple[str, Any] = ("unknown", None)


@dataclass(frozen=True, slots=True)
class Update:
    """New values for one twin (or one of its components): properties, or telemetry."""

    twin: str
    values: Mapping[str, Any]
    telemetry: bool = False
    component: str = ""
    ts: int | None = None  # source time, microseconds since the epoch; None means now
    source: str = "api"


@dataclass
class IngestResult:
    accepted: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (index in the batch, reason)

    def to_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "rejected": self.rejected, "errors": self.errors[:20]}


@dataclass
class _Plan:
    """What a batch writes, prepared before its transaction."""

    now: str
    result: IngestResult
    letters: list[DeadLetter]
    changes: dict[str, dict[tuple[str, str], tuple[str, str]]] = field(default_factory=dict)
    patches: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    points: list[HistoryPoint] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)


class Ingestor:
    """Turns batches of `Update`s into twin changes; counts and keeps what it refuses."""

    def __init__(self, graph: TwinGraph) -> None:
        self.graph = graph
        self.counters: Counter[str] = Counter()
        self._logged: set[str] = set()
        self._model_cache: dict[str, str] = {}
        self._cache_version: tuple[int, int] = (-1, -1)

    # -- refusals ---------------------------------------------------------

    def dead_letter(self, letters: list[DeadLetter], source: str, kind: str, reason: str,
                    payload: Any) -> None:
        """Record one refused input: counted, logged once per kind, kept in the store."""
        self.counters[kind] += 1
        if kind not in self._logged:
            self._logged.add(kind)
            log.warning("refused input (%s) from %s: %s; further refusals of this kind are only counted",
                        kind, source, reason)
        text = payload if isinstance(payload, str) else orjson.dumps(payload, default=str).decode()
        letters.append(DeadLetter(self.graph.clock(), source, kind, reason, text[:65536]))

    def keep_dead_letters(self, letters: list[DeadLetter]) -> None:
        if letters:
            self.graph.store.append_dead_letters(letters)

    # -- the batch --------------------------------------------------------

    def apply(self, updates: Sequence[Update], letters: list[DeadLetter] | None = None) -> IngestResult:
        """Apply a batch in one transaction; refused updates (and ``letters``) are dead-lettered.

        The batch is checked and prepared before the transaction, so that several processes
        sharing a store hold the write lock only to write; inside it the twins' models are
        checked again, and the batch is prepared anew if any changed meanwhile.
        """
        graph = self.graph
        graph.refresh_models()
        store = graph.store
        ids = list({u.twin for u in updates})
        seen = (graph.twins_version, store.data_version())
        twin_models = self._models_of(ids, seen)
        plan = self._plan(updates, twin_models, list(letters or []))
        with store.transaction():
            if (graph.twins_version, store.data_version()) != seen:
                current = store.get_twin_models(ids)  # a twin may have gone or changed model
                if current != twin_models:
                    plan = self._plan(updates, current, list(letters or []))
            if plan.changes:
                store.set_twin_values([TwinValues(twin_id, new_etag(), plan.now, values)
                                       for twin_id, values in plan.changes.items()])
            if plan.events:
                store.append_events(plan.events)
            if plan.points:
                store.append_history(plan.points)
            self.keep_dead_letters(plan.letters)
        if plan.events:
            graph.notify()
        return plan.result

    def _models_of(self, ids: list[str], version: tuple[int, int]) -> dict[str, str]:
        """Each twin's model, from a cache kept while no twin was created, replaced or
        deleted (here or by another process); what the cache lacks is read from the store."""
        if version != self._cache_version or len(self._model_cache) > 1_000_000:
            self._model_cache = {}
            self._cache_version = version
        cache = self._model_cache
        missing = [i for i in ids if i not in cache]
        if missing:
            cache.update(self.graph.store.get_twin_models(missing))
        return {i: cache[i] for i in ids if i in cache}

    def _plan(self, updates: Sequence[Update], twin_models: dict[str, str], letters: list[DeadLetter]) -> _Plan:
        """Check every update and turn the batch into the rows to write."""
        models = self.graph.models
        now = self.graph.clock()
        now_ts = parse_time(now)
        result = IngestResult(rejected=len(letters))
        plan = _Plan(now, result, letters)
        changes, patches, points, events = plan.changes, plan.patches, plan.points, plan.events
        last_ts: dict[tuple[str, str, str], int] = {}
        now_stamp = orjson.dumps({"lastUpdateTime": now}).decode()
        for index, update in enumerate(updates):
            model = twin_models.get(update.twin)
            if model is None:
                self._refuse(letters, result, update, "unknown_twin",
                             f"there is no digital twin '{update.twin}'", index)
                continue
            target = model
            if update.component:
                target = models.interface(model).components.get(update.component, "")
                if not target:
                    self._refuse(letters, result, update, "unknown_name",
                                 f"{model} has no component '{update.component}'", index)
                    continue
            problems = self._problems(target, update)
            if problems:
                kind = "unknown_name" if any(("is not" in p) or ("is telemetry" in p) or
                                             ("relationship" in p) for p in problems) else "invalid_value"
                self._refuse(letters, result, update, kind, "; ".join(problems[:3]), index)
                continue
            base_ts = update.ts if update.ts is not None else now_ts
            twin_id, component = update.twin, update.component
            if update.telemetry:
                twin_changes = None
                message = {"component": component or None, "values": dict(update.values),
                           "sourceTime": from_us(base_ts) if update.ts is not None else None}
                events.append(EventRecord(now, "Telemetry", twin_id, orjson.dumps(message).decode(),
                                          model=model))
                stamp = ""
            else:
                twin_changes = changes.setdefault(twin_id, {})
                patch = patches.setdefault(twin_id, [])
                stamp = now_stamp if update.ts is None else orjson.dumps(
                    {"lastUpdateTime": from_us(base_ts)}).decode()
                prefix = f"/{component}/" if component else "/"
            for name, value in update.values.items():
                # Two samples of one value at the same microsecond: keep both, one µs apart.
                key = (twin_id, component, name)
                previous = last_ts.get(key)
                ts = base_ts if previous is None or previous < base_ts else previous + 1
                last_ts[key] = ts
                text = orjson.dumps(value).decode()
                kind_of = type(value)
                points.append(HistoryPoint(twin_id, component, name, ts,
                                           float(value) if kind_of is float or kind_of is int or kind_of is bool
                                           else None, text))
                if twin_changes is not None:
                    twin_changes[(component, name)] = (text, stamp)
                    patch.append({"op": "add", "path": prefix + name, "value": value})
            result.accepted += 1
        for twin_id in changes:
            events.append(EventRecord(now, "Twin.Update", twin_id, orjson.dumps(patches[twin_id]).decode(),
                                      model=twin_models[twin_id]))
        return plan

    def _problems(self, model: str, update: Update) -> list[str]:
        models = self.graph.models
        values = update.values
        if not isinstance(values, Mapping) or not values:
            return ["the update holds no values (expected a JSON object of name: value)"]
        if not update.telemetry:
            # Fast path: primitive properties checked straight from the interface's member table.
            members = models.member_table(model)
            for name, value in values.items():
                kind, schema = members.get(name, _UNKNOWN)
                if kind != "property" or not isinstance(schema, str) or check_primitive(schema, value):
                    return models.validate_twin(model, values)
            return []
        telemetry = models.interface(model).telemetry
        problems: list[str] = []
        for name, value in update.values.items():
            element = telemetry.get(name)
            if element is None:
                problems.append(f"'{name}' is not telemetry of {model}")
            else:
                problems.extend(check_value(element, value, name, models.deref))
        return problems

    def _refuse(self, letters: list[DeadLetter], result: IngestResult, update: Update, kind: str,
                reason: str, index: int) -> None:
        result.rejected += 1
        result.refused.append((index, f"{update.twin}: {reason}"))
        if len(result.errors) < 20:
            result.errors.append(f"{update.twin}: {reason}")
        payload = {"twin": update.twin, "component": update.component or None,
                   "telemetry" if update.telemetry else "properties": dict(update.values)
                   if isinstance(update.values, Mapping) else update.values}
        self.dead_letter(letters, update.source, kind, reason, payload)


def update_from_json(obj: Any, source: str) -> tuple[Update | None, str, str]:
    """An `Update` from one bulk record, or (None, kind, reason).

    Records look like ``{"twin": "pump-1", "properties": {"flow": 2.5}}`` or
    ``{"twin": "pump-1", "telemetry": {"pressure": 1.2}, "component": "motor",
    "time": "2026-01-01T00:00:00Z"}``.
    """
    if not isinstance(obj, dict):
        return None, "bad_shape", "each record must be a JSON object"
    twin = obj.get("twin", obj.get("$dtId"))
    if not isinstance(twin, str) or not twin:
        return None, "bad_shape", "a record needs 'twin' (the twin id)"
    has_props, has_tel = "properties" in obj, "telemetry" in obj
    if has_props == has_tel:
        return None, "bad_shape", "a record needs exactly one of 'properties' or 'telemetry'"
    values = obj["properties"] if has_props else obj["telemetry"]
    if not isinstance(values, dict):
        return None, "bad_shape", "'properties' or 'telemetry' must be a JSON object"
    component = obj.get("component") or ""
    if not isinstance(component, str):
        return None, "bad_shape", "'component' must be a string"
    ts = None
    if obj.get("time") is not None:
        try:
            ts = parse_time(str(obj["time"]))
        except Exception:  # a BadRequest: kept as a dead letter, not raised
            return None, "bad_shape", f"'time' {obj['time']!r} is not ISO 8601"
    return Update(twin, values, telemetry=has_tel, component=component, ts=ts, source=source), "", ""


__all__ = ["IngestResult", "Ingestor", "Update", "update_from_json"]
