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

from twinforge.dtdl.values import check_value
from twinforge.graph import TwinGraph, new_etag
from twinforge.history import from_us, parse_time
from twinforge.store.base import DeadLetter, EventRecord, HistoryPoint, TwinRecord

log = logging.getLogger("twinforge.ingest")


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

    def to_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "rejected": self.rejected, "errors": self.errors[:20]}


def _num(value: Any) -> float | None:
    kind = type(value)
    return float(value) if kind is float or kind is int or kind is bool else None


class Ingestor:
    """Turns batches of `Update`s into twin changes; counts and keeps what it refuses."""

    def __init__(self, graph: TwinGraph) -> None:
        self.graph = graph
        self.counters: Counter[str] = Counter()
        self._logged: set[str] = set()

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
        """Apply a batch in one transaction; refused updates (and ``letters``) are dead-lettered."""
        graph = self.graph
        graph.refresh_models()
        models = graph.models
        letters = letters if letters is not None else []
        result = IngestResult(rejected=len(letters))
        now = graph.clock()
        now_ts = parse_time(now)
        store = graph.store
        with store.transaction():
            records = store.get_twins(list({u.twin for u in updates}))
            docs: dict[str, dict[str, Any]] = {}
            patches: dict[str, list[dict[str, Any]]] = {}
            points: list[HistoryPoint] = []
            events: list[EventRecord] = []
            seen_ts: set[tuple[str, str, str, int]] = set()
            for update in updates:
                record = records.get(update.twin)
                if record is None:
                    self._refuse(letters, result, update, "unknown_twin",
                                 f"there is no digital twin '{update.twin}'")
                    continue
                target = record.model
                if update.component:
                    target = models.interface(record.model).components.get(update.component, "")
                    if not target:
                        self._refuse(letters, result, update, "unknown_name",
                                     f"{record.model} has no component '{update.component}'")
                        continue
                problems = self._problems(target, update)
                if problems:
                    kind = "unknown_name" if any(("is not" in p) or ("is telemetry" in p) or
                                                 ("relationship" in p) for p in problems) else "invalid_value"
                    self._refuse(letters, result, update, kind, "; ".join(problems[:3]))
                    continue
                ts = update.ts if update.ts is not None else now_ts
                for name, value in update.values.items():
                    key = (update.twin, update.component, name, ts)
                    while key in seen_ts:  # two samples at the same microsecond: keep both
                        ts += 1
                        key = (update.twin, update.component, name, ts)
                    seen_ts.add(key)
                    points.append(HistoryPoint(update.twin, update.component, name, ts, _num(value),
                                               orjson.dumps(value).decode()))
                if update.telemetry:
                    message = {"component": update.component or None, "values": dict(update.values),
                               "sourceTime": from_us(ts) if update.ts is not None else None}
                    events.append(EventRecord(now, "Telemetry", update.twin, orjson.dumps(message).decode(),
                                              model=record.model))
                else:
                    doc = docs.get(update.twin)
                    if doc is None:
                        doc = docs[update.twin] = orjson.loads(record.document)
                    self._merge(doc, update, from_us(ts) if update.ts is not None else now,
                                patches.setdefault(update.twin, []))
                result.accepted += 1
            changed = []
            for twin_id, doc in docs.items():
                doc["$etag"] = new_etag()
                doc["$metadata"]["$lastUpdateTime"] = now
                model = records[twin_id].model
                changed.append(TwinRecord(twin_id, model, doc["$etag"], orjson.dumps(doc).decode()))
                events.append(EventRecord(now, "Twin.Update", twin_id, orjson.dumps(patches[twin_id]).decode(),
                                          model=model))
            if changed:
                store.replace_twins(changed)
            if events:
                store.append_events(events)
            if points:
                store.append_history(points)
            self.keep_dead_letters(letters)
        if events:
            graph.notify()
        return result

    def _problems(self, model: str, update: Update) -> list[str]:
        models = self.graph.models
        if not isinstance(update.values, Mapping) or not update.values:
            return ["the update holds no values (expected a JSON object of name: value)"]
        if not update.telemetry:
            return models.validate_twin(model, update.values)
        telemetry = models.interface(model).telemetry
        problems: list[str] = []
        for name, value in update.values.items():
            element = telemetry.get(name)
            if element is None:
                problems.append(f"'{name}' is not telemetry of {model}")
            else:
                problems.extend(check_value(element, value, name, models.deref))
        return problems

    @staticmethod
    def _merge(doc: dict[str, Any], update: Update, when: str, patch: list[dict[str, Any]]) -> None:
        holder = doc
        prefix = ""
        if update.component:
            holder = doc.setdefault(update.component, {"$metadata": {}})
            prefix = f"/{update.component}"
        meta = holder.setdefault("$metadata", {})
        for name, value in update.values.items():
            holder[name] = value
            meta[name] = {"lastUpdateTime": when}
            patch.append({"op": "add", "path": f"{prefix}/{name}", "value": value})

    def _refuse(self, letters: list[DeadLetter], result: IngestResult, update: Update, kind: str,
                reason: str) -> None:
        result.rejected += 1
        if len(result.errors) < 20:
            result.errors.append(f"{update.twin}: {reason}")
        payload = {"twin": update.twin, "component": update.component or None,
                   "telemetry" if update.telemetry else "properties": dict(update.values)
                   if isinstance(update.values, Mapping) else update.values}
        self.dead_letter(letters, update.source, kind, reason, payload)


def parse_json(raw: bytes | str) -> tuple[Any, str | None]:
    """(value, None), or (None, reason) when ``raw`` is not JSON."""
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError as exc:
        return None, f"not JSON: {exc}"


__all__ = ["IngestResult", "Ingestor", "Update", "parse_json"]


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
