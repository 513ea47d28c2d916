"""The rules every twin change follows: ids, ETags, which paths a patch may touch, the
``$metadata`` times and history points it produces, and batching."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from twinforge.errors import InvalidArgument, NotFound, PreconditionFailed, ValidationError
from twinforge.graph.jsonpatch import parse_pointer
from twinforge.graph.records import MAX_ID_LENGTH, Json, history_point
from twinforge.store.base import HistoryPoint, TwinDocumentStore, TwinRecord


def check_id(value: Any, what: str = "twin") -> str:
    """``value`` if it can be a twin or relationship id, else `InvalidArgument`."""
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise InvalidArgument(f"a {what} id must be 1 to {MAX_ID_LENGTH} characters", code="InvalidArgument")
    if not value.isprintable():
        raise InvalidArgument(f"a {what} id may not contain control or separator characters",
                              code="InvalidArgument")
    return value


def twin_record(store: TwinDocumentStore, twin_id: str) -> TwinRecord:
    """The stored twin; `NotFound` (ADT's DigitalTwinNotFound) when there is none."""
    record = store.get_twin(twin_id)
    if record is None:
        raise NotFound(f"there is no digital twin '{twin_id}'", code="DigitalTwinNotFound")
    return record


def refuse(model: str, problems: list[str]) -> ValidationError:
    """The error for a document that does not conform (the first three problems named)."""
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return ValidationError("twin does not conform to " + model + ": " + "; ".join(problems[:3]) + more)


def check_etag(current: str, if_match: str | None, what: str) -> None:
    """`PreconditionFailed` unless ``if_match`` is absent, ``*`` or the current ETag."""
    if if_match is not None and if_match != "*" and if_match != current:
        raise PreconditionFailed(f"{what} has changed: ETag {if_match} is stale (now {current})")


def touched_paths(patch: Any) -> list[list[str]]:
    """The JSON Pointer tokens of every path a patch touches; system paths are refused."""
    if not isinstance(patch, list):
        return []
    out = []
    for op in patch:
        if isinstance(op, dict) and isinstance(op.get("path"), str):
            tokens = parse_pointer(op["path"])
            if (tokens and tokens[0] in ("$dtId", "$etag")) or (
                tokens and tokens[0] == "$metadata" and tokens[1:] != ["$model"]
            ):
                raise InvalidArgument(f"'{op['path']}' cannot be patched", code="JsonPatchInvalid")
            out.append(tokens)
    return out


def stamp_touched(doc: Json, touched: list[list[str]], now: str, components: dict[str, str]) -> None:
    """Keep per-property lastUpdateTime in step with what a patch touched."""
    meta = doc["$metadata"]
    for tokens in touched:
        if not tokens or tokens[0].startswith("$"):
            continue
        head = tokens[0]
        if head in components and len(tokens) > 1 and isinstance(doc.get(head), dict):
            comp = doc[head]
            comp_meta = comp.setdefault("$metadata", {})
            if tokens[1] in comp:
                comp_meta[tokens[1]] = {"lastUpdateTime": now}
            else:
                comp_meta.pop(tokens[1], None)
        elif head in doc:
            if head in components:
                doc[head].setdefault("$metadata", {})
            else:
                meta[head] = {"lastUpdateTime": now}
        else:
            meta.pop(head, None)


def touched_points(twin: str, doc: Json, touched: list[list[str]], components: dict[str, str],
                   ts: int) -> list[HistoryPoint]:
    """History points for every value a patch touched (its new value, null when removed)."""
    seen: set[tuple[str, str]] = set()
    out: list[HistoryPoint] = []
    for tokens in touched:
        if not tokens or tokens[0][:1] == "$":
            continue
        if tokens[0] in components:
            if len(tokens) < 2:
                comp = doc.get(tokens[0], {})
                keys = [(tokens[0], k) for k in comp if k[:1] != "$"]
            else:
                keys = [(tokens[0], tokens[1])]
        else:
            keys = [("", tokens[0])]
        for component, name in keys:
            if (component, name) in seen:
                continue
            seen.add((component, name))
            holder = doc.get(component, {}) if component else doc
            out.append(history_point(twin, component, name, ts,
                                     holder.get(name) if isinstance(holder, dict) else None))
    return out


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in lists of at most ``size``."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


_paused = 0  # bulk writes under way in this process (threads may overlap)
_resume = False  # whether the collector was on when the first of them began
_pause_lock = threading.Lock()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a bulk write.

    A batch builds tens of thousands of records, which set off collections over everything
    the process holds (a large ontology's model objects among it): a third of a bulk
    create's time went to them. Nothing a batch builds is cyclic, so reference counting
    frees it all anyway. The collector is resumed when the last overlapping batch ends.
    """
    global _paused, _resume
    with _pause_lock:
        if _paused == 0:
            _resume = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _pause_lock:
            _paused -= 1
            if _paused == 0 and _resume:
                gc.enable()


__all__ = ["check_etag", "check_id", "chunks", "collector_paused", "refuse", "stamp_touched", "touched_paths", "touched_points",
           "twin_record"]
