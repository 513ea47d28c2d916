"""Relationships: create, read, patch, delete and list them, one at a time or in batches.

Single and batch creates apply the same rules (the relationship exists on the source's
model, targets a twin of the right model, has only declared properties, and stays within
``maxMultiplicity``), through the same check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

import orjson

from twinforge.dtdl.elements import Element
from twinforge.dtdl.values import check_value
from twinforge.errors import (
    Conflict,
    InvalidArgument,
    NotFound,
    PreconditionFailed,
    ValidationError,
)
from twinforge.graph.catalog import ModelCatalog
from twinforge.graph.jsonpatch import apply_patch
from twinforge.graph.records import Json, dumps, new_etag
from twinforge.graph.rules import check_etag, check_id, chunks, collector_paused, twin_record
from twinforge.store.base import (
    EventRecord,
    EventStore,
    RelationshipRecord,
    RelationshipStore,
    Transactional,
    TwinDocumentStore,
)

_FIXED = ("$relationshipId", "$etag", "$sourceId", "$relationshipName", "$targetId")


class RelationshipsStore(Transactional, TwinDocumentStore, RelationshipStore, EventStore, Protocol):
    """What the relationships part needs of a store."""


class Relationships:
    """The relationships of a graph."""

    def __init__(self, store: RelationshipsStore, catalog: ModelCatalog, clock: Callable[[], str],
                 notify: Callable[[], None]) -> None:
        self.store = store
        self.catalog = catalog
        self.clock = clock
        self.notify = notify
        self._checked: dict[tuple[str, Any, str], Element] = {}  # (source model, name, target model): its definition
        self._checked_models: object = None  # the catalog's models those checks were made against

    def _definition(self, source_model: str, name: Any) -> Element:
        view = self.catalog.models.interface(source_model)
        if not isinstance(name, str) or name not in view.relationships:
            known = ", ".join(sorted(view.relationships)) or "none"
            raise ValidationError(f"model {source_model} has no relationship '{name}' (it has: {known})",
                                  code="InvalidRelationship")
        return view.relationships[name]

    def _build(self, source_id: str, source_model: str, rel_id: str, body: Any, target_model: str | None,
               etag: str) -> tuple[Element, Json]:
        if not isinstance(body, dict):
            raise InvalidArgument("a relationship must be a JSON object", code="InvalidArgument")
        name = body.get("$relationshipName")
        target = body.get("$targetId")
        if not isinstance(target, str) or not target:
            raise InvalidArgument("a relationship needs $targetId", code="InvalidArgument")
        if target == source_id:
            raise InvalidArgument(f"a relationship cannot connect twin '{target}' to itself",
                                  code="OperationNotAllowed")
        models = self.catalog.models
        if models is not self._checked_models:
            self._checked, self._checked_models = {}, models
        key = (source_model, name, target_model or "")
        rel = self._checked.get(key)
        if rel is None:  # checked once per source model, name and target model
            rel = self._definition(source_model, name)
            if target_model is None:
                raise NotFound(f"target twin '{target}' does not exist", code="TargetTwinNotFound")
            wanted = rel.props.get("target")
            if isinstance(wanted, str) and not models.is_of_model(target_model, wanted):
                raise ValidationError(f"relationship '{name}' must target a {wanted}; "
                                      f"'{target}' is a {target_model}", code="InvalidRelationship")
            self._checked[key] = rel
        # most relationships carry no properties ($relationshipName and $targetId only)
        props = {k: v for k, v in body.items() if not k.startswith("$")} if len(body) > 2 else {}
        if props:
            allowed = {}
            for ref in rel.refs.get("properties", []):
                prop = models.deref(ref)
                if isinstance(prop, Element) and prop.name:
                    allowed[prop.name] = prop
            problems = []
            for key, value in props.items():
                if key not in allowed:
                    problems.append(f"'{key}' is not a property of relationship '{name}'")
                else:
                    problems.extend(check_value(allowed[key], value, key, models.deref))
            if problems:
                raise ValidationError("relationship does not conform to its model: " + "; ".join(problems[:3]))
        doc: Json = {"$relationshipId": rel_id, "$etag": etag, "$sourceId": source_id,
                     "$relationshipName": name, "$targetId": target, **props}
        return rel, doc

    @staticmethod
    def _check_multiplicity(rel: Element, name: str, count: int) -> None:
        """``count`` relationships called ``name`` would exist: refused past maxMultiplicity."""
        limit = rel.props.get("maxMultiplicity")
        if isinstance(limit, int) and count > limit:
            raise ValidationError(f"'{name}' allows at most {limit} relationship(s)")

    def create(self, source_id: str, rel_id: str, body: Any, *, if_none_match: bool = False) -> Json:
        """Create or replace a relationship (ADT's PUT). ``if_none_match`` refuses a replace."""
        self.catalog.refresh()
        check_id(rel_id, "relationship")
        now = self.clock()
        with self.store.transaction():
            source = twin_record(self.store, source_id)
            target_id = body.get("$targetId") if isinstance(body, dict) else None
            target = self.store.get_twin(target_id) if isinstance(target_id, str) else None
            rel, doc = self._build(source_id, source.model, rel_id, body, target.model if target else None,
                                   new_etag())
            existing = self.store.get_relationship(source_id, rel_id)
            if existing is not None and if_none_match:
                raise PreconditionFailed(f"relationship '{rel_id}' already exists (If-None-Match: *)")
            name = doc["$relationshipName"]
            if existing is None:
                self._check_multiplicity(rel, name, self.store.count_relationships(source_id, name) + 1)
            record = RelationshipRecord(source_id, rel_id, name, doc["$targetId"], doc["$etag"], dumps(doc))
            if existing is None:
                self.store.insert_relationships([record])
            else:
                self.store.replace_relationship(record)
            kind = "Relationship.Create" if existing is None else "Relationship.Update"
            self.store.append_events([EventRecord(now, kind, source_id, record.document, rel_id,
                                                  model=source.model)])
        self.notify()
        return doc

    def create_many(self, items: Iterable[tuple[str, str, Any]], *, chunk: int = 10_000) -> int:
        """Create many new relationships in one transaction: all of them or none. The same
        rules as `create` with ``if_none_match``; one that exists already is a `Conflict`."""
        self.catalog.refresh()
        now = self.clock()
        count = 0
        models: dict[str, str | None] = {}  # each twin's model (None: no such twin)
        counts: dict[tuple[str, str], int] = {}
        added: set[tuple[str, str]] = set()

        with collector_paused(), self.store.transaction():
            for batch in chunks(items, chunk):
                batch = list(batch)
                # the models the batch needs, in a few reads rather than two per item
                wanted = {s for s, _, _ in batch if isinstance(s, str) and s not in models}
                wanted |= {b["$targetId"] for _, _, b in batch
                           if isinstance(b, dict) and isinstance(b.get("$targetId"), str) and b["$targetId"] not in models}
                found = self.store.get_twin_models(sorted(wanted)) if wanted else {}
                models.update({t: found.get(t) for t in wanted})
                stored = self.store.existing_relationships(
                    [(s, r) for s, r, _ in batch if isinstance(s, str) and isinstance(r, str)])
                records: list[RelationshipRecord] = []
                events: list[EventRecord] = []
                for source_id, rel_id, body in batch:
                    check_id(rel_id, "relationship")
                    source_model = models.get(source_id) if isinstance(source_id, str) else None
                    if source_model is None:
                        raise NotFound(f"there is no digital twin '{source_id}'", code="DigitalTwinNotFound")
                    target_id = body.get("$targetId") if isinstance(body, dict) else None
                    target_model = models.get(target_id) if isinstance(target_id, str) else None
                    rel, doc = self._build(source_id, source_model, rel_id, body, target_model, new_etag())
                    # Checked in order, as one create after another would be.
                    if (source_id, rel_id) in added or (source_id, rel_id) in stored:
                        raise Conflict(f"relationship '{rel_id}' of twin '{source_id}' already exists",
                                       code="RelationshipAlreadyExists")
                    added.add((source_id, rel_id))
                    name = doc["$relationshipName"]
                    if isinstance(rel.props.get("maxMultiplicity"), int):  # counted only where there is a limit
                        key = (source_id, name)
                        if key not in counts:
                            counts[key] = self.store.count_relationships(source_id, name)
                        counts[key] += 1
                        self._check_multiplicity(rel, name, counts[key])
                    text = dumps(doc)
                    records.append(RelationshipRecord(source_id, rel_id, name, doc["$targetId"], doc["$etag"], text))
                    events.append(EventRecord(now, "Relationship.Create", source_id, text, rel_id,
                                              model=source_model))
                self.store.insert_relationships(records)
                self.store.append_events(events)
                count += len(records)
        self.notify()
        return count

    def record(self, source_id: str, rel_id: str) -> RelationshipRecord:
        """The stored relationship; `NotFound` when there is none."""
        record = self.store.get_relationship(source_id, rel_id)
        if record is None:
            twin_record(self.store, source_id)  # DigitalTwinNotFound before RelationshipNotFound
            raise NotFound(f"twin '{source_id}' has no relationship '{rel_id}'", code="RelationshipNotFound")
        return record

    def get(self, source_id: str, rel_id: str) -> Json:
        """A relationship's document."""
        doc: Json = orjson.loads(self.record(source_id, rel_id).document)
        return doc

    def update(self, source_id: str, rel_id: str, patch: Any, *, if_match: str | None = None) -> Json:
        """Apply a JSON Patch to a relationship's properties."""
        self.catalog.refresh()
        now = self.clock()
        with self.store.transaction():
            record = self.record(source_id, rel_id)
            check_etag(record.etag, if_match, f"relationship '{rel_id}'")
            old = orjson.loads(record.document)
            new = apply_patch(old, patch)
            if not isinstance(new, dict) or any(new.get(k) != old[k] for k in _FIXED):
                raise InvalidArgument("a patch may change only a relationship's properties",
                                      code="JsonPatchInvalid")
            source = twin_record(self.store, source_id)
            target = self.store.get_twin(record.target)
            _, doc = self._build(source_id, source.model, rel_id, new, target.model if target else None,
                                 new_etag())
            text = dumps(doc)
            self.store.replace_relationship(RelationshipRecord(source_id, rel_id, record.name,
                                                               record.target, doc["$etag"], text))
            self.store.append_events([EventRecord(now, "Relationship.Update", source_id,
                                                  dumps(patch), rel_id, model=source.model)])
        self.notify()
        return doc

    def delete(self, source_id: str, rel_id: str, *, if_match: str | None = None) -> None:
        """Delete a relationship."""
        now = self.clock()
        with self.store.transaction():
            record = self.record(source_id, rel_id)
            check_etag(record.etag, if_match, f"relationship '{rel_id}'")
            self.store.delete_relationship(source_id, rel_id)
            source = self.store.get_twin(source_id)
            self.store.append_events([EventRecord(now, "Relationship.Delete", source_id, record.document,
                                                  rel_id, model=source.model if source else None)])
        self.notify()

    def list_outgoing(self, source_id: str, name: str | None = None, *, after: str = "",
             limit: int = 1000) -> list[Json]:
        """A twin's outgoing relationships in id order (only those called ``name`` if given)."""
        twin_record(self.store, source_id)
        return [orjson.loads(r.document)
                for r in self.store.list_relationships(source_id, name, after=after, limit=limit)]

    def list_incoming(self, target_id: str, *, after: tuple[str, str] = ("", ""),
                      limit: int = 1000) -> list[Json]:
        """Relationships that point at a twin, in ADT's short form."""
        twin_record(self.store, target_id)
        return [{"$relationshipId": r.id, "$sourceId": r.source, "$relationshipName": r.name,
                 "$relationshipLink": f"/digitaltwins/{r.source}/relationships/{r.id}"}
                for r in self.store.list_incoming(target_id, after=after, limit=limit)]


__all__ = ["Relationships", "RelationshipsStore"]
