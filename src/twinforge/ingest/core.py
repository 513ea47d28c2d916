"""The ingest core: what connectors (MQTT, OPC UA, HTTP) hand their input to.

Connectors turn what they receive into `Update`s; `Ingestor.apply` passes a batch to the
graph (`TwinGraph.apply_updates`, the one owner of twin changes), which writes twin
states, history points, events and dead letters in one transaction. An update the graph
refuses becomes a dead letter of the refusal's kind and the rest of the batch goes on:
one bad device never stops the others.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson

from twinforge.errors import InvalidArgument
from twinforge.graph import Refusal, RefusalKind, TwinGraph, Update
from twinforge.history import parse_time
from twinforge.store.base import DeadLetter

log = logging.getLogger("twinforge.ingest")
M = TypeVar("M")


@dataclass
class IngestResult:
    """What a batch did: counts, the first reasons, and each refusal by position."""

    accepted: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "rejected": self.rejected, "errors": self.errors[:20]}


class Ingestor:
    """Hands batches of `Update`s to the graph; counts, logs and keeps what is refused."""

    def __init__(self, graph: TwinGraph) -> None:
        self.graph = graph
        self.counters: Counter[str] = Counter()
        self._logged: set[str] = set()
        # Called after each applied batch with its updates and result (analytics scores them).
        self.listeners: list[Callable[[Sequence[Update], IngestResult], None]] = []
        self.listener_failures = 0

    def dead_letter(self, letters: list[DeadLetter], source: str, kind: str, reason: str,
                    payload: Any) -> None:
        """Record one refused input: counted, logged once per kind, kept with the batch."""
        self.counters[kind] += 1
        if kind not in self._logged:
            self._logged.add(kind)
            log.warning("refused input (%s) from %s: %s; further refusals of this kind are only counted",
                        kind, source, reason)
        text = payload if isinstance(payload, str) else orjson.dumps(payload, default=str).decode()
        letters.append(DeadLetter(self.graph.clock(), source, kind, reason, text[:65536]))

    def keep_dead_letters(self, letters: list[DeadLetter]) -> None:
        """Store dead letters that belong to no batch."""
        self.graph.keep_dead_letters(letters)

    def apply(self, updates: Sequence[Update], letters: list[DeadLetter] | None = None) -> IngestResult:
        """Apply a batch in one transaction; refused updates (and ``letters``) are dead-lettered."""

        def refused(refusals: list[Refusal]) -> list[DeadLetter]:
            out: list[DeadLetter] = []
            for refusal in refusals:
                update = updates[refusal.index]
                payload = {"twin": update.twin, "component": update.component or None,
                           "telemetry" if update.telemetry else "properties": dict(update.values)
                           if isinstance(update.values, dict) else update.values}
                self.dead_letter(out, update.source, refusal.kind.value, refusal.reason, payload)
            return out

        outcome = self.graph.apply_updates(updates, dead_letters=letters or [], on_refusals=refused)
        reasons = [f"{updates[r.index].twin}: {r.reason}" for r in outcome.refusals]
        result = IngestResult(accepted=outcome.accepted, rejected=len(letters or []) + len(outcome.refusals),
                              errors=reasons[:20], refused=outcome.refusals)
        for listener in self.listeners:
            try:
                listener(updates, result)
            except Exception:  # a listener must never lose or refuse data that was stored
                self.listener_failures += 1
                if self.listener_failures == 1:
                    log.exception("an ingest listener failed; further failures are only counted (/ingest/status)")
        return result

    def apply_many(self, submissions: Sequence[tuple[Sequence[Update], list[DeadLetter]]]) -> list[IngestResult]:
        """Several submissions (updates and their dead letters) as one batch, one transaction,
        each answered with its own result (its refused updates; the dead letters it brought
        were counted by whoever made them): requests that arrive together share a commit."""
        updates = [u for batch, _ in submissions for u in batch]
        result = self.apply(updates, [d for _, letters in submissions for d in letters])
        out: list[IngestResult] = []
        start = 0
        for batch, _ in submissions:
            end = start + len(batch)
            mine = [r for r in result.refused if start <= r.index < end]
            reasons = [f"{updates[r.index].twin}: {r.reason}" for r in mine]
            out.append(IngestResult(accepted=len(batch) - len(mine), rejected=len(mine),
                                    errors=reasons[:20],
                                    refused=[Refusal(r.index - start, r.kind, r.reason) for r in mine]))
            start = end
        return out


def connector_state(*, stopped: bool, dead: bool, connected: bool) -> str:
    """A connector's state as `/ingest/status` and `/health` report it."""
    if stopped:
        return "stopped"
    if dead:
        return "failed"  # its loop ended although nobody stopped it: a bug, said loudly
    return "running" if connected else "connecting"


def apply_resilient(ingestor: Ingestor, messages: Sequence[M],
                    decode: Callable[[M, list[DeadLetter]], list[Update]],
                    describe: Callable[[M], tuple[str, Any]], *,
                    outcomes: list[tuple[int, int]] | None = None) -> IngestResult:
    """Decode and apply a batch of connector messages so that no input can stop a connector.

    A message whose decoding raises becomes a ``bad_message`` dead letter. When applying
    the batch raises, each message is applied alone to find the one at fault, which
    becomes an ``internal_error`` dead letter. Only a failing store (a dead letter cannot
    be written either) raises, and the connector then retries the batch later.
    ``outcomes``, when given, gets each message's (accepted, rejected) updates, in order.
    """
    letters: list[DeadLetter] = []
    updates: list[Update] = []
    owner: list[int] = []  # the message each update came from
    made: list[int] = []  # dead letters each message made while decoding
    for k, message in enumerate(messages):
        before = len(letters)
        found = _decode_safely(ingestor, message, decode, describe, letters)
        updates.extend(found)
        owner.extend([k] * len(found))
        made.append(len(letters) - before)
    try:
        result = ingestor.apply(updates, letters)
    except Exception as batch_error:
        log.warning("a batch of %d message(s) failed (%s); applying them one by one", len(messages), batch_error)
        total = IngestResult()
        if outcomes is not None:
            outcomes.clear()
        for message in messages:
            part = _apply_alone(ingestor, message, decode, describe, batch_error)
            total.accepted += part.accepted
            total.rejected += part.rejected
            total.errors = (total.errors + part.errors)[:20]
            if outcomes is not None:
                outcomes.append((part.accepted, part.rejected))
        return total
    if outcomes is not None:
        counts = [[0, n] for n in made]
        for k in owner:
            counts[k][0] += 1
        for refusal in result.refused:
            counts[owner[refusal.index]][0] -= 1
            counts[owner[refusal.index]][1] += 1
        outcomes[:] = [(a, r) for a, r in counts]
    return result


def _apply_alone(ingestor: Ingestor, message: M, decode: Callable[[M, list[DeadLetter]], list[Update]],
                 describe: Callable[[M], tuple[str, Any]], batch_error: Exception) -> IngestResult:
    own: list[DeadLetter] = []
    found = _decode_safely(ingestor, message, decode, describe, own)
    try:
        return ingestor.apply(found, own)
    except Exception as exc:
        source, payload = describe(message)
        culprit: list[DeadLetter] = []
        ingestor.dead_letter(culprit, source, "internal_error",
                             f"applying this message failed: {type(exc).__name__}: {exc}", payload)
        try:
            ingestor.keep_dead_letters(culprit)
        except Exception:
            raise batch_error from exc  # the store itself is failing: retry later
        return IngestResult(rejected=1, errors=[culprit[0].reason])


def _decode_safely(ingestor: Ingestor, message: M, decode: Callable[[M, list[DeadLetter]], list[Update]],
                   describe: Callable[[M], tuple[str, Any]], letters: list[DeadLetter]) -> list[Update]:
    try:
        return decode(message, letters)
    except Exception as exc:
        source, payload = describe(message)
        ingestor.dead_letter(letters, source, "bad_message", f"{type(exc).__name__}: {exc}", payload)
        return []


def update_from_json(obj: Any, source: str) -> tuple[Update | None, str, str]:
    """An `Update` from one bulk record, or (None, kind, reason).

    Records look like ``{"twin": "pump-1", "properties": {"flow": 2.5}}`` or
    ``{"twin": "pump-1", "telemetry": {"pressure": 1.2}, "component": "motor",
    "time": "2026-01-01T00:00:00Z"}``.
    """
    if type(obj) is not dict and not isinstance(obj, dict):
        return None, "bad_shape", "each record must be a JSON object"
    twin = obj["twin"] if "twin" in obj else obj.get("$dtId")
    if not twin or not isinstance(twin, str):
        return None, "bad_shape", "a record needs 'twin' (the twin id)"
    has_props, has_tel = "properties" in obj, "telemetry" in obj
    if has_props == has_tel:
        return None, "bad_shape", "a record needs exactly one of 'properties' or 'telemetry'"
    values = obj["properties"] if has_props else obj["telemetry"]
    if type(values) is not dict and not isinstance(values, dict):
        return None, "bad_shape", "'properties' or 'telemetry' must be a JSON object"
    component = obj.get("component") or ""
    if type(component) is not str and not isinstance(component, str):
        return None, "bad_shape", "'component' must be a string"
    ts = None
    when = obj.get("time")
    if when is not None:
        try:
            ts = parse_time(str(when))
        except InvalidArgument:  # kept as a dead letter, not raised
            return None, "bad_shape", f"'time' {when!r} is not ISO 8601"
    return Update(twin, values, has_tel, component, ts, source), "", ""


__all__ = ["IngestResult", "Ingestor", "RefusalKind", "Update", "apply_resilient", "connector_state",
           "update_from_json"]
