"""Twins: create, read, patch and delete documents, components, and batches of new values.

Every change here is the one owner of what a twin change means: the document is checked
against its model, gets a fresh ETag and ``$metadata`` times, and is written together with
its event and history points in one store transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import orjson

from twinforge.errors import (
    Conflict,
    InvalidArgument,
    NotFound,
    PreconditionFailed,
    TwinforgeError,
    ValidationError,
)
from twinforge.graph.catalog import ModelCatalog
from twinforge.graph.jsonpatch import apply_patch
from twinforge.graph.records import Json, dumps, history_point, new_etag
from twinforge.graph.rules import (
    check_etag,
    check_id,
    chunks,
    collector_paused,
    refuse,
    stamp_touched,
    touched_paths,
    touched_points,
    twin_record,
)
from twinforge.graph.updates import Refusal, Update, UpdateOutcome, plan_updates
from twinforge.history.timeutil import parse_time
from twinforge.store.base import (
    DeadLetter,
    DeadLetterStore,
    EventRecord,
    EventStore,
    HistoryPoint,
    HistoryStore,
    RelationshipStore,
    Transactional,
    TwinDocumentStore,
    TwinRecord,
)


class TwinsStore(Transactional, TwinDocumentStore, RelationshipStore, EventStore, HistoryStore,
                 DeadLetterStore, Protocol):
    """What the twins part needs of a store."""


class Twins:
    """The twins of a graph."""

    def __init__(self, store: TwinsStore, catalog: ModelCatalog, clock: Callable[[], str],
                 notify: Callable[[], None]) -> None:
        self.store = store
        self.catalog = catalog
        self.clock = clock
        self.notify = notify
        # Bumped when a twin is created, replaced, deleted or changes model in this process.
        self.version = 0
        self._model_cache: dict[str, str] = {}
        self._cache_version: tuple[int, int] = (-1, -1)

    # -- documents --------------------------------------------------------

    def _build(self, twin_id: str, body: Any, now: str, etag: str, points: list[HistoryPoint],
               ts: int) -> tuple[str, Json]:
        """The stored document of a new twin; its initial values go to ``points``."""
        if not isinstance(body, dict):
            raise InvalidArgument("a twin must be a JSON object", code="InvalidArgument")
        meta = body.get("$metadata")
        if not isinstance(meta, dict):
            raise ValidationError("twin must have $metadata.$model naming its DTDL interface")
        model = self.catalog.usable(meta.get("$model"))
        if "$dtId" in body and body["$dtId"] != twin_id:
            raise InvalidArgument(f"$dtId '{body['$dtId']}' does not match the twin id '{twin_id}'",
                                  code="InvalidArgument")
        models = self.catalog.models
        problems = models.validate_twin(model, body)
        if problems:
            raise refuse(model, problems)
        components = models.interface(model).components
        stamp = {"lastUpdateTime": now}  # one stamp object per document: every value has this time
        doc_meta: Json = {"$model": model, "$lastUpdateTime": now}
        doc: Json = {"$dtId": twin_id, "$etag": etag, "$metadata": doc_meta}
        for key, value in body.items():
            if key[:1] == "$":
                continue
            if key in components:
                comp = {k: v for k, v in value.items() if k[:1] != "$"}
                points.extend(history_point(twin_id, key, k, ts, v) for k, v in comp.items())
                comp["$metadata"] = dict.fromkeys(comp, stamp)
                doc[key] = comp
            else:
                doc[key] = value
                doc_meta[key] = stamp
                points.append(history_point(twin_id, "", key, ts, value))
        for name in components:
            if name not in doc:
                doc[name] = {"$metadata": {}}
        return model, doc

    def create(self, twin_id: str, body: Any, *, if_none_match: bool = False) -> Json:
        """Create or replace a twin (ADT's PUT). ``if_none_match`` refuses a replace."""
        self.catalog.refresh()
        check_id(twin_id)
        now = self.clock()
        points: list[HistoryPoint] = []
        model, doc = self._build(twin_id, body, now, new_etag(), points, parse_time(now))
        with self.store.transaction():
            self._put(twin_id, model, doc, points, now, if_none_match)
        self.notify()
        return doc

    def put_many(self, items: Sequence[tuple[str, Any, bool]]) -> list[Json | TwinforgeError]:
        """Several creates or replaces ((twin id, body, If-None-Match) each) in one
        transaction, each on its own: a refused one is returned as its error."""
        self.catalog.refresh()
        now = self.clock()
        ts = parse_time(now)
        out: list[Json | TwinforgeError] = []
        with self.store.transaction():
            for twin_id, body, if_none_match in items:
                try:  # every check comes before anything of this twin is written
                    check_id(twin_id)
                    points: list[HistoryPoint] = []
                    model, doc = self._build(twin_id, body, now, new_etag(), points, ts)
                    self._put(twin_id, model, doc, points, now, if_none_match)
                    out.append(doc)
                except TwinforgeError as exc:
                    out.append(exc)
        if any(not isinstance(r, TwinforgeError) for r in out):
            self.notify()
        return out

    def _put(self, twin_id: str, model: str, doc: Json, points: list[HistoryPoint], now: str,
             if_none_match: bool) -> None:
        existing = self.store.get_twin_models([twin_id])
        if existing and if_none_match:
            raise PreconditionFailed(f"twin '{twin_id}' already exists (If-None-Match: *)")
        record = TwinRecord(twin_id, model, doc["$etag"], dumps(doc))
        if existing:
            self.store.replace_twin(record)
        else:
            self.store.insert_twins([record])
        self.version += 1
        kind = "Twin.Update" if existing else "Twin.Create"
        self.store.append_events([EventRecord(now, kind, twin_id, record.document, model=model)])
        self.store.append_history(points)

    def create_many(self, items: Iterable[tuple[str, Any]], *, chunk: int = 10_000) -> int:
        """Create many new twins in one transaction: all of them or none. The same rules as
        `create` with ``if_none_match``; a twin that exists already is a `Conflict`."""
        self.catalog.refresh()
        now = self.clock()
        ts = parse_time(now)
        count = 0
        with collector_paused(), self.store.transaction():
            for batch in chunks(items, chunk):
                records: list[TwinRecord] = []
                events: list[EventRecord] = []
                points: list[HistoryPoint] = []
                ids = [twin_id for twin_id, _ in batch if isinstance(twin_id, str)]
                existing = set(self.store.get_twin_models(ids))
                for twin_id, body in batch:
                    check_id(twin_id)
                    model, doc = self._build(twin_id, body, now, new_etag(), points, ts)
                    # Checked in order, as one create after another would be.
                    if twin_id in existing:
                        raise Conflict(f"twin '{twin_id}' already exists", code="DigitalTwinAlreadyExists")
                    existing.add(twin_id)
                    text = dumps(doc)
                    records.append(TwinRecord(twin_id, model, doc["$etag"], text))
                    events.append(EventRecord(now, "Twin.Create", twin_id, text, model=model))
                self.store.insert_twins(records)
                self.version += 1
                self.store.append_events(events)
                self.store.append_history(points)
                count += len(records)
        self.notify()
        return count

    def record(self, twin_id: str) -> TwinRecord:
        """The stored twin; `NotFound` when there is none."""
        return twin_record(self.store, twin_id)

    def get(self, twin_id: str) -> Json:
        """A twin's document."""
        doc: Json = orjson.loads(self.record(twin_id).document)
        return doc

    def get_raw(self, twin_id: str) -> tuple[str, str]:
        """The stored JSON text and ETag, for callers that serve it as is."""
        record = self.record(twin_id)
        return record.document, record.etag

    def update(self, twin_id: str, patch: Any, *, if_match: str | None = None) -> Json:
        """Apply a JSON Patch to a twin; ``if_match`` gives optimistic concurrency."""
        self.catalog.refresh()
        with self.store.transaction():
            doc = self._update(twin_id, patch, if_match, self.clock())
        self.notify()
        return doc

    def update_many(self, items: Sequence[tuple[str, Any, str | None]]) -> list[Json | TwinforgeError]:
        """Apply several JSON Patches (twin id, patch, If-Match) in one transaction, each on
        its own: a refused patch is returned as its error and the others still apply."""
        self.catalog.refresh()
        out: list[Json | TwinforgeError] = []
        with self.store.transaction():
            now = self.clock()
            for twin_id, patch, if_match in items:
                try:
                    out.append(self._update(twin_id, patch, if_match, now))
                except TwinforgeError as exc:  # checked before anything is written: nothing to undo
                    out.append(exc)
        if any(not isinstance(r, TwinforgeError) for r in out):
            self.notify()
        return out

    def _update(self, twin_id: str, patch: Any, if_match: str | None, now: str) -> Json:
        """One patch inside the caller's transaction; every check comes before any write."""
        record = self.record(twin_id)
        check_etag(record.etag, if_match, f"twin '{twin_id}'")
        old = orjson.loads(record.document)
        touched = touched_paths(patch)
        new = apply_patch(old, patch)
        if not isinstance(new, dict) or new.get("$dtId") != twin_id or new.get("$etag") != old["$etag"]:
            raise InvalidArgument("a patch may not change $dtId or $etag", code="JsonPatchInvalid")
        meta = new.get("$metadata")
        if not isinstance(meta, dict):
            raise InvalidArgument("a patch may not remove $metadata", code="JsonPatchInvalid")
        model = meta.get("$model")
        if model != old["$metadata"]["$model"]:
            model = self.catalog.usable(model)
            self.version += 1
        content = {k: v for k, v in new.items() if not k.startswith("$")}
        problems = self.catalog.models.validate_twin(model, content)
        if problems:
            raise refuse(model, problems)
        components = self.catalog.models.interface(model).components
        stamp_touched(new, touched, now, components)
        new["$etag"] = new_etag()
        meta["$lastUpdateTime"] = now
        self.store.replace_twin(TwinRecord(twin_id, model, new["$etag"], dumps(new)))
        self.store.append_events([EventRecord(now, "Twin.Update", twin_id, dumps(patch), model=model)])
        self.store.append_history(touched_points(twin_id, new, touched, components, parse_time(now)))
        return new

    def delete(self, twin_id: str, *, if_match: str | None = None) -> None:
        """Delete a twin; refused while relationships start or end at it."""
        now = self.clock()
        with self.store.transaction():
            record = self.record(twin_id)
            check_etag(record.etag, if_match, f"twin '{twin_id}'")
            if self.store.has_relationships(twin_id):
                raise Conflict(f"twin '{twin_id}' has relationships; delete them first",
                               code="RelationshipsNotDeleted")
            self.store.delete_twin(twin_id)
            self.version += 1
            self.store.append_events([EventRecord(now, "Twin.Delete", twin_id, record.document,
                                                  model=record.model)])
        self.notify()

    def list_twins(self, *, model: str | None = None, after: str = "", limit: int = 100) -> list[Json]:
        """Twins in id order (of exactly ``model`` when given), after the id ``after``."""
        if limit < 0:
            raise InvalidArgument("limit must be zero or more", code="InvalidArgument")
        return [orjson.loads(r.document) for r in self.store.list_twins(model=model, after=after, limit=limit)]

    # -- components -------------------------------------------------------

    def get_component(self, twin_id: str, component: str) -> Json:
        """One component of a twin."""
        self.catalog.refresh()
        doc = self.get(twin_id)
        model = doc["$metadata"]["$model"]
        if component not in self.catalog.models.interface(model).components:
            raise NotFound(f"twin '{twin_id}' has no component '{component}'", code="ComponentNotFound")
        value: Json = doc.get(component, {"$metadata": {}})
        return value

    def update_component(self, twin_id: str, component: str, patch: Any, *,
                         if_match: str | None = None) -> Json:
        """Apply a JSON Patch (paths relative to the component) to one component of a twin."""
        self.get_component(twin_id, component)
        if not isinstance(patch, list):
            raise InvalidArgument("a JSON Patch must be an array of operations", code="JsonPatchInvalid")
        prefixed = []
        for op in patch:
            if not isinstance(op, dict):
                raise InvalidArgument("each patch operation must be an object", code="JsonPatchInvalid")
            moved = dict(op)
            for key in ("path", "from"):
                if isinstance(op.get(key), str):
                    moved[key] = f"/{component}{op[key]}"
            prefixed.append(moved)
        return self.update(twin_id, prefixed, if_match=if_match)

    # -- batches of values ------------------------------------------------

    def apply_updates(self, updates: Sequence[Update], *, dead_letters: Sequence[DeadLetter] = (),
                      on_refusals: Callable[[list[Refusal]], list[DeadLetter]] | None = None) -> UpdateOutcome:
        """Apply a batch of `Update`s in one transaction; refused ones are reported, not raised.

        ``dead_letters`` (and what ``on_refusals`` makes of the refusals) are written in the
        same transaction. The batch is checked before the transaction, so processes sharing
        a store hold the write lock only to write; inside it, the twins' models are checked
        again and the batch planned anew if one changed meanwhile.
        """
        with collector_paused():
            return self._apply_updates(updates, dead_letters, on_refusals)

    def _apply_updates(self, updates: Sequence[Update], dead_letters: Sequence[DeadLetter],
                       on_refusals: Callable[[list[Refusal]], list[DeadLetter]] | None) -> UpdateOutcome:
        self.catalog.refresh()
        store = self.store
        ids = list({u.twin for u in updates})
        seen = (self.version, store.twins_version())
        twin_models = self.models_of(ids, seen)
        plan = plan_updates(self.catalog.models, updates, twin_models, self.clock())
        with store.transaction():
            if (self.version, store.twins_version()) != seen:
                current = store.get_twin_models(ids)  # a twin may have gone or changed model
                if current != twin_models:
                    plan = plan_updates(self.catalog.models, updates, current, self.clock())
            if plan.changes:
                store.set_twin_values(plan.write_values())
            if plan.events:
                store.append_events(plan.events)
            if plan.points:
                store.append_history(plan.points)
            letters = list(dead_letters)
            if on_refusals is not None and plan.outcome.refusals:
                letters.extend(on_refusals(plan.outcome.refusals))
            if letters:
                store.append_dead_letters(letters)
        if plan.events:
            self.notify()
        return plan.outcome

    def models_of(self, ids: list[str], version: tuple[int, int]) -> dict[str, str]:
        """Each twin's model, from a cache kept while no twin was created, replaced or
        deleted (here or by another process); what the cache lacks is read from the store."""
        if version != self._cache_version or len(self._model_cache) > 1_000_000:
            self._model_cache = {}
            self._cache_version = version
        cache = self._model_cache
        missing = [i for i in ids if i not in cache]
        if missing:
            cache.update(self.store.get_twin_models(missing))
        return {i: cache[i] for i in ids if i in cache}


__all__ = ["Twins", "TwinsStore"]
