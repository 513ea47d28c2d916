"""TwinGraph: models, twins, relationships and components over a TwinStore.

Every accepted change is validated against its DTDL model, written together
with an event record in one store transaction, and given a fresh ETag.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from twinforge.dtdl import ModelError, ModelSet, parse_models
from twinforge.dtdl.elements import Element
from twinforge.errors import BadRequest, Conflict, NotFound, PreconditionFailed, ValidationError
from twinforge.graph.jsonpatch import apply_patch, parse_pointer
from twinforge.history import parse_time
from twinforge.query import Compiled, compile_query, json_path, parse_query
from twinforge.store.base import (
    EventRecord,
    HistoryPoint,
    ModelRecord,
    RelationshipRecord,
    TwinRecord,
    TwinStore,
)

Json = dict[str, Any]
MAX_ID_LENGTH = 128


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# ETags only need to differ whenever a document changes: a random per-process prefix
# and a counter give that without paying for a random UUID per change.
_ETAG_PREFIX = os.urandom(8).hex()
_etag_counter = itertools.count(1)


def new_etag() -> str:
    return f'W/"{_ETAG_PREFIX}-{next(_etag_counter):x}"'


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A stored model as ADT describes it."""

    id: str
    upload_time: str
    decommissioned: bool
    display_name: dict[str, str]
    description: dict[str, str]
    definition: Any

    def to_json(self, *, include_definition: bool = False) -> Json:
        out: Json = {"id": self.id, "description": self.description,
                     "displayName": self.display_name, "decommissioned": self.decommissioned,
                     "uploadTime": self.upload_time}
        if include_definition:
            out["model"] = self.definition
        return out


class TwinGraph:
    """The library's main entry point: a graph of DTDL-typed twins kept in a store."""

    def __init__(self, store: TwinStore, *, clock: Callable[[], str] = utc_now) -> None:
        self.store = store
        self.clock = clock
        self._generation = -1
        self._compiled: dict[tuple[int, str], Compiled] = {}
        self._listeners: list[Callable[[], None]] = []
        # Bumped when a twin is created, replaced, deleted or changes model in this process.
        self.twins_version = 0
        self.models = ModelSet({}, [])
        self._decommissioned: set[str] = set()
        self._usable_models: set[str] = set()  # models new twins may use, checked once
        self.refresh_models()

    @classmethod
    def open(cls, url: str) -> TwinGraph:
        from twinforge.store import open_store

        return cls(open_store(url))

    def close(self) -> None:
        self.store.close()

    # == models ==========================================================

    def refresh_models(self) -> None:
        """Reload models if another process (or this one) changed them since the last look."""
        generation = self.store.models_generation()
        if generation == self._generation:
            return
        records = self.store.list_models()
        self.models = (parse_models([orjson.loads(r.document) for r in records],
                                    allow_undefined_extensions=True) if records else ModelSet({}, []))
        self._decommissioned = {r.id for r in records if r.decommissioned}
        self._usable_models = set()
        self._generation = generation

    def add_models(self, documents: list[Any]) -> list[ModelInfo]:
        """Upload a batch of DTDL interfaces; dependencies may be in the batch or stored."""
        self.refresh_models()
        if not isinstance(documents, list) or not documents:
            raise BadRequest("expected a non-empty JSON array of DTDL interfaces", code="InvalidArgument")
        flat: list[Any] = []
        for doc in documents:
            flat.extend(doc if isinstance(doc, list) else [doc])
        parsed = parse_models(flat, known=self.models)
        new_ids = parsed.root_ids()
        clash = [i for i in new_ids if self.store.get_model(i) is not None]
        if clash:
            raise Conflict(f"model {clash[0]} already exists", code="ModelAlreadyExists")
        now = self.clock()
        by_id = {d["@id"]: d for d in flat if isinstance(d, dict) and isinstance(d.get("@id"), str)}
        with self.store.transaction():
            if self.store.models_generation() != self._generation:
                raise Conflict("models changed while this batch was being checked; retry",
                               code="ModelsChanged")
            self.store.put_models([ModelRecord(i, _dumps(by_id[i]), now) for i in new_ids])
        self.models = parsed
        self._generation = self.store.models_generation()
        return [self.get_model(i) for i in new_ids]

    def get_model(self, model_id: str) -> ModelInfo:
        self.refresh_models()
        record = self.store.get_model(model_id)
        if record is None:
            raise NotFound(f"there is no model '{model_id}'", code="ModelNotFound")
        definition = orjson.loads(record.document)
        el = self.models.element(model_id)
        names = el.props.get("displayName") if el else None
        descs = el.props.get("description") if el else None
        return ModelInfo(record.id, record.upload_time, record.decommissioned,
                         names if isinstance(names, dict) else {},
                         descs if isinstance(descs, dict) else {}, definition)

    def list_models(self, dependencies_for: list[str] | None = None) -> list[ModelInfo]:
        """All stored models, or only those named and everything they depend on."""
        self.refresh_models()
        records = self.store.list_models()
        if not dependencies_for:
            return [self.get_model(r.id) for r in records]
        wanted: list[str] = []
        todo = list(dependencies_for)
        while todo:
            current = todo.pop(0)
            if current in wanted:
                continue
            if self.store.get_model(current) is None:
                raise NotFound(f"there is no model '{current}'", code="ModelNotFound")
            wanted.append(current)
            todo.extend(sorted(self.models.dependencies(current)))
        return [self.get_model(i) for i in wanted]

    def decommission_model(self, model_id: str) -> None:
        self.get_model(model_id)
        self.store.set_decommissioned(model_id, True)
        self.refresh_models()

    def delete_model(self, model_id: str) -> None:
        self.refresh_models()
        self.get_model(model_id)
        users = self.store.count_twins_of_model(model_id)
        if users:
            raise Conflict(f"model {model_id} is used by {users} twin(s); delete them first",
                           code="ModelReferencesNotDeleted")
        dependants = [r.id for r in self.store.list_models()
                      if r.id != model_id and model_id in self.models.dependencies(r.id)]
        if dependants:
            raise Conflict(f"model {model_id} is referenced by {dependants[0]}; delete it first",
                           code="ModelReferencesNotDeleted")
        with self.store.transaction():
            self.store.delete_model(model_id)
        self.refresh_models()

    # == twins ===========================================================

    def _check_model(self, model_id: Any) -> str:
        if model_id in self._usable_models:
            return str(model_id)
        if not isinstance(model_id, str):
            raise ValidationError("twin must have $metadata.$model naming its DTDL interface")
        if model_id not in self.models or self.models.element(model_id).cls != "Interface":  # type: ignore[union-attr]
            raise ValidationError(f"model '{model_id}' is not uploaded", code="ModelNotFound")
        if model_id in self._decommissioned:
            raise ValidationError(f"model '{model_id}' is decommissioned; new twins cannot use it",
                                  code="ModelDecommissioned")
        self._usable_models.add(model_id)
        return model_id

    @staticmethod
    def _check_id(twin_id: Any) -> str:
        if not isinstance(twin_id, str) or not twin_id or len(twin_id) > MAX_ID_LENGTH:
            raise BadRequest(f"a twin id must be 1 to {MAX_ID_LENGTH} characters", code="InvalidArgument")
        if not twin_id.isprintable():
            raise BadRequest("a twin id may not contain control or separator characters", code="InvalidArgument")
        return twin_id

    def _validate(self, model: str, doc: Json) -> None:
        problems = self.models.validate_twin(model, doc)
        if problems:
            self._refuse(model, problems)

    @staticmethod
    def _refuse(model: str, problems: list[str]) -> None:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ValidationError("twin does not conform to " + model + ": "
                              + "; ".join(problems[:3]) + more)

    def _build_twin(self, twin_id: str, body: Any, now: str, etag: str,
                    points: list[HistoryPoint] | None = None, ts: int = 0) -> tuple[str, Json]:
        """The stored document of a new twin; its initial values go to ``points``."""
        if not isinstance(body, dict):
            raise BadRequest("a twin must be a JSON object", code="InvalidArgument")
        meta = body.get("$metadata")
        if not isinstance(meta, dict):
            raise ValidationError("twin must have $metadata.$model naming its DTDL interface")
        model = self._check_model(meta.get("$model"))
        if "$dtId" in body and body["$dtId"] != twin_id:
            raise BadRequest(f"$dtId '{body['$dtId']}' does not match the twin id '{twin_id}'",
                             code="InvalidArgument")
        problems = self.models.validate_twin(model, body)
        if problems:
            self._refuse(model, problems)
        components = self.models.interface(model).components
        # One stamp object per document: every property of a new twin has the same time.
        stamp = {"lastUpdateTime": now}
        doc_meta: Json = {"$model": model, "$lastUpdateTime": now}
        doc: Json = {"$dtId": twin_id, "$etag": etag, "$metadata": doc_meta}
        for key, value in body.items():
            if key[:1] == "$":
                continue
            if key in components:
                comp = {k: v for k, v in value.items() if k[:1] != "$"}
                if points is not None:
                    points.extend(_point(twin_id, key, k, ts, v) for k, v in comp.items())
                comp["$metadata"] = dict.fromkeys(comp, stamp)
                doc[key] = comp
            else:
                doc[key] = value
                doc_meta[key] = stamp
                if points is not None:
                    points.append(_point(twin_id, "", key, ts, value))
        for name in components:
            if name not in doc:
                doc[name] = {"$metadata": {}}
        return model, doc

    def create_twin(self, twin_id: str, body: Any, *, if_none_match: bool = False) -> Json:
        """Create or replace a twin (ADT's PUT). ``if_none_match`` refuses a replace."""
        self.refresh_models()
        self._check_id(twin_id)
        now = self.clock()
        points: list[HistoryPoint] = []
        model, doc = self._build_twin(twin_id, body, now, new_etag(), points, parse_time(now))
        with self.store.transaction():
            existing = self.store.get_twin(twin_id)
            if existing is not None and if_none_match:
                raise PreconditionFailed(f"twin '{twin_id}' already exists (If-None-Match: *)")
            record = TwinRecord(twin_id, model, doc["$etag"], _dumps(doc))
            if existing is None:
                self.store.insert_twins([record])
            else:
                self.store.replace_twin(record)
            kind = "Twin.Create" if existing is None else "Twin.Update"
            self.twins_version += 1
            self.store.append_events([EventRecord(now, kind, twin_id, record.document, model=model)])
            self.store.append_history(points)
        self.notify()
        return doc

    def create_twins(self, items: Iterable[tuple[str, Any]], *, chunk: int = 10_000) -> int:
        """Create many new twins in one transaction: all of them or none."""
        self.refresh_models()
        now = self.clock()
        ts = parse_time(now)
        count = 0
        with self.store.transaction():
            for batch in _chunks(items, chunk):
                records: list[TwinRecord] = []
                events: list[EventRecord] = []
                points: list[HistoryPoint] = []
                for twin_id, body in batch:
                    self._check_id(twin_id)
                    model, doc = self._build_twin(twin_id, body, now, new_etag(), points, ts)
                    text = _dumps(doc)
                    records.append(TwinRecord(twin_id, model, doc["$etag"], text))
                    events.append(EventRecord(now, "Twin.Create", twin_id, text, model=model))
                self.store.insert_twins(records)
                self.store.append_events(events)
                self.store.append_history(points)
                count += len(records)
        self.notify()
        return count

    def _record(self, twin_id: str) -> TwinRecord:
        record = self.store.get_twin(twin_id)
        if record is None:
            raise NotFound(f"there is no digital twin '{twin_id}'", code="DigitalTwinNotFound")
        return record

    def get_twin(self, twin_id: str) -> Json:
        doc: Json = orjson.loads(self._record(twin_id).document)
        return doc

    def get_twin_raw(self, twin_id: str) -> tuple[str, str]:
        """The stored JSON text and ETag, for callers that serve it as is."""
        record = self._record(twin_id)
        return record.document, record.etag

    @staticmethod
    def _check_etag(current: str, if_match: str | None, what: str) -> None:
        if if_match is not None and if_match != "*" and if_match != current:
            raise PreconditionFailed(f"{what} has changed: ETag {if_match} is stale (now {current})")

    def update_twin(self, twin_id: str, patch: Any, *, if_match: str | None = None) -> Json:
        """Apply a JSON Patch to a twin; ``if_match`` gives optimistic concurrency."""
        self.refresh_models()
        now = self.clock()
        with self.store.transaction():
            record = self._record(twin_id)
            self._check_etag(record.etag, if_match, f"twin '{twin_id}'")
            old = orjson.loads(record.document)
            touched = self._touched_paths(patch)
            new = apply_patch(old, patch)
            if not isinstance(new, dict) or new.get("$dtId") != twin_id or new.get("$etag") != old["$etag"]:
                raise BadRequest("a patch may not change $dtId or $etag", code="JsonPatchInvalid")
            meta = new.get("$metadata")
            if not isinstance(meta, dict):
                raise BadRequest("a patch may not remove $metadata", code="JsonPatchInvalid")
            model = meta.get("$model")
            if model != old["$metadata"]["$model"]:
                model = self._check_model(model)
                self.twins_version += 1
            content = {k: v for k, v in new.items() if not k.startswith("$")}
            self._validate(model, content)
            self._stamp(new, touched, now)
            new["$etag"] = new_etag()
            meta["$lastUpdateTime"] = now
            text = _dumps(new)
            self.store.replace_twin(TwinRecord(twin_id, model, new["$etag"], text))
            self.store.append_events([EventRecord(now, "Twin.Update", twin_id, _dumps(patch), model=model)])
            self.store.append_history(_touched_points(twin_id, new, touched,
                                                      self.models.interface(model).components,
                                                      parse_time(now)))
        self.notify()
        return new

    @staticmethod
    def _touched_paths(patch: Any) -> list[list[str]]:
        if not isinstance(patch, list):
            return []
        out = []
        for op in patch:
            if isinstance(op, dict) and isinstance(op.get("path"), str):
                tokens = parse_pointer(op["path"])
                if (tokens and tokens[0] in ("$dtId", "$etag")) or (
                    tokens and tokens[0] == "$metadata" and tokens[1:] != ["$model"]
                ):
                    raise BadRequest(f"'{op['path']}' cannot be patched", code="JsonPatchInvalid")
                out.append(tokens)
        return out

    def _stamp(self, doc: Json, touched: list[list[str]], now: str) -> None:
        """Keep per-property lastUpdateTime in step with what the patch touched."""
        meta = doc["$metadata"]
        model = meta["$model"]
        components = self.models.interface(model).components
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

    def delete_twin(self, twin_id: str, *, if_match: str | None = None) -> None:
        now = self.clock()
        with self.store.transaction():
            record = self._record(twin_id)
            self._check_etag(record.etag, if_match, f"twin '{twin_id}'")
            if self.store.has_relationships(twin_id):
                raise Conflict(f"twin '{twin_id}' has relationships; delete them first",
                               code="RelationshipsNotDeleted")
            self.store.delete_twin(twin_id)
            self.twins_version += 1
            self.store.append_events([EventRecord(now, "Twin.Delete", twin_id, record.document,
                                                  model=record.model)])
        self.notify()

    def list_twins(self, *, model: str | None = None, after: str = "", limit: int = 100) -> list[Json]:
        return [orjson.loads(r.document) for r in self.store.list_twins(model=model, after=after, limit=limit)]

    # == components ======================================================

    def get_component(self, twin_id: str, component: str) -> Json:
        self.refresh_models()
        doc = self.get_twin(twin_id)
        model = doc["$metadata"]["$model"]
        if component not in self.models.interface(model).components:
            raise NotFound(f"twin '{twin_id}' has no component '{component}'", code="ComponentNotFound")
        value: Json = doc.get(component, {"$metadata": {}})
        return value

    def update_component(self, twin_id: str, component: str, patch: Any, *,
                         if_match: str | None = None) -> Json:
        self.get_component(twin_id, component)
        if not isinstance(patch, list):
            raise BadRequest("a JSON Patch must be an array of operations", code="JsonPatchInvalid")
        prefixed = []
        for op in patch:
            if not isinstance(op, dict):
                raise BadRequest("each patch operation must be an object", code="JsonPatchInvalid")
            moved = dict(op)
            for key in ("path", "from"):
                if isinstance(op.get(key), str):
                    moved[key] = f"/{component}{op[key]}"
            prefixed.append(moved)
        return self.update_twin(twin_id, prefixed, if_match=if_match)

    # == relationships ===================================================

    def _relationship_def(self, source_model: str, name: Any) -> Element:
        view = self.models.interface(source_model)
        if not isinstance(name, str) or name not in view.relationships:
            known = ", ".join(sorted(view.relationships)) or "none"
            raise ValidationError(f"model {source_model} has no relationship '{name}' (it has: {known})")
        return view.relationships[name]

    def _build_relationship(self, source: TwinRecord, rel_id: str, body: Any, target_model: str | None,
                            etag: str) -> tuple[Element, Json]:
        if not isinstance(body, dict):
            raise BadRequest("a relationship must be a JSON object", code="InvalidArgument")
        name = body.get("$relationshipName")
        target = body.get("$targetId")
        if not isinstance(target, str) or not target:
            raise ValidationError("a relationship needs $targetId")
        rel = self._relationship_def(source.model, name)
        if target_model is None:
            raise ValidationError(f"target twin '{target}' does not exist", code="TargetTwinNotFound")
        wanted = rel.props.get("target")
        if isinstance(wanted, str) and not self.models.is_of_model(target_model, wanted):
            raise ValidationError(f"relationship '{name}' must target a {wanted}; "
                                  f"'{target}' is a {target_model}")
        props = {k: v for k, v in body.items() if not k.startswith("$")}
        allowed = {}
        for ref in rel.refs.get("properties", []):
            prop = self.models.deref(ref)
            if isinstance(prop, Element) and prop.name:
                allowed[prop.name] = prop
        problems = []
        from twinforge.dtdl.values import check_value

        for key, value in props.items():
            if key not in allowed:
                problems.append(f"'{key}' is not a property of relationship '{name}'")
            else:
                problems.extend(check_value(allowed[key], value, key, self.models.deref))
        if problems:
            raise ValidationError("relationship does not conform to its model: " + "; ".join(problems[:3]))
        doc: Json = {"$relationshipId": rel_id, "$etag": etag, "$sourceId": source.id,
                     "$relationshipName": name, "$targetId": target, **props}
        return rel, doc

    def create_relationship(self, source_id: str, rel_id: str, body: Any, *,
                            if_none_match: bool = False) -> Json:
        self.refresh_models()
        self._check_id(rel_id)
        now = self.clock()
        with self.store.transaction():
            source = self._record(source_id)
            target_id = body.get("$targetId") if isinstance(body, dict) else None
            target = self.store.get_twin(target_id) if isinstance(target_id, str) else None
            rel, doc = self._build_relationship(source, rel_id, body,
                                                target.model if target else None, new_etag())
            existing = self.store.get_relationship(source_id, rel_id)
            if existing is not None and if_none_match:
                raise PreconditionFailed(f"relationship '{rel_id}' already exists (If-None-Match: *)")
            limit = rel.props.get("maxMultiplicity")
            if existing is None and isinstance(limit, int) and (
                self.store.count_relationships(source_id, doc["$relationshipName"]) >= limit
            ):
                raise ValidationError(f"'{doc['$relationshipName']}' allows at most {limit} relationship(s)")
            record = RelationshipRecord(source_id, rel_id, doc["$relationshipName"], doc["$targetId"],
                                        doc["$etag"], _dumps(doc))
            if existing is None:
                self.store.insert_relationships([record])
            else:
                self.store.replace_relationship(record)
            kind = "Relationship.Create" if existing is None else "Relationship.Update"
            self.store.append_events([EventRecord(now, kind, source_id, record.document, rel_id,
                                                  model=source.model)])
        self.notify()
        return doc

    def create_relationships(self, items: Iterable[tuple[str, str, Any]], *, chunk: int = 10_000) -> int:
        """Create many new relationships in one transaction: all of them or none."""
        self.refresh_models()
        now = self.clock()
        count = 0
        models: dict[str, TwinRecord | None] = {}

        def twin(twin_id: str) -> TwinRecord | None:
            if twin_id not in models:
                models[twin_id] = self.store.get_twin(twin_id)
            return models[twin_id]

        with self.store.transaction():
            for batch in _chunks(items, chunk):
                records: list[RelationshipRecord] = []
                events: list[EventRecord] = []
                for source_id, rel_id, body in batch:
                    self._check_id(rel_id)
                    source = twin(source_id)
                    if source is None:
                        raise NotFound(f"there is no digital twin '{source_id}'", code="DigitalTwinNotFound")
                    target_id = body.get("$targetId") if isinstance(body, dict) else None
                    target = twin(target_id) if isinstance(target_id, str) else None
                    _, doc = self._build_relationship(source, rel_id, body,
                                                      target.model if target else None, new_etag())
                    text = _dumps(doc)
                    records.append(RelationshipRecord(source_id, rel_id, doc["$relationshipName"],
                                                      doc["$targetId"], doc["$etag"], text))
                    events.append(EventRecord(now, "Relationship.Create", source_id, text, rel_id,
                                              model=source.model))
                self.store.insert_relationships(records)
                self.store.append_events(events)
                count += len(records)
        self.notify()
        return count

    def _relationship(self, source_id: str, rel_id: str) -> RelationshipRecord:
        record = self.store.get_relationship(source_id, rel_id)
        if record is None:
            raise NotFound(f"twin '{source_id}' has no relationship '{rel_id}'",
                           code="RelationshipNotFound")
        return record

    def get_relationship(self, source_id: str, rel_id: str) -> Json:
        doc: Json = orjson.loads(self._relationship(source_id, rel_id).document)
        return doc

    def update_relationship(self, source_id: str, rel_id: str, patch: Any, *,
                            if_match: str | None = None) -> Json:
        self.refresh_models()
        now = self.clock()
        with self.store.transaction():
            record = self._relationship(source_id, rel_id)
            self._check_etag(record.etag, if_match, f"relationship '{rel_id}'")
            old = orjson.loads(record.document)
            new = apply_patch(old, patch)
            fixed = ("$relationshipId", "$etag", "$sourceId", "$relationshipName", "$targetId")
            if not isinstance(new, dict) or any(new.get(k) != old[k] for k in fixed):
                raise BadRequest("a patch may change only a relationship's properties",
                                 code="JsonPatchInvalid")
            source = self._record(source_id)
            target = self.store.get_twin(record.target)
            _, doc = self._build_relationship(source, rel_id, new, target.model if target else None,
                                              new_etag())
            text = _dumps(doc)
            self.store.replace_relationship(RelationshipRecord(source_id, rel_id, record.name,
                                                               record.target, doc["$etag"], text))
            self.store.append_events([EventRecord(now, "Relationship.Update", source_id,
                                                  _dumps(patch), rel_id, model=source.model)])
        self.notify()
        return doc

    def delete_relationship(self, source_id: str, rel_id: str, *, if_match: str | None = None) -> None:
        now = self.clock()
        with self.store.transaction():
            record = self._relationship(source_id, rel_id)
            self._check_etag(record.etag, if_match, f"relationship '{rel_id}'")
            self.store.delete_relationship(source_id, rel_id)
            source = self.store.get_twin(source_id)
            self.store.append_events([EventRecord(now, "Relationship.Delete", source_id,
                                                  record.document, rel_id,
                                                  model=source.model if source else None)])
        self.notify()

    def list_relationships(self, source_id: str, name: str | None = None, *, after: str = "",
                           limit: int = 1000) -> list[Json]:
        self._record(source_id)
        return [orjson.loads(r.document)
                for r in self.store.list_relationships(source_id, name, after=after, limit=limit)]

    def list_incoming(self, target_id: str, *, after: tuple[str, str] = ("", ""),
                      limit: int = 1000) -> list[Json]:
        """Incoming relationships in ADT's short form."""
        self._record(target_id)
        return [{"$relationshipId": r.id, "$sourceId": r.source, "$relationshipName": r.name,
                 "$relationshipLink": f"/digitaltwins/{r.source}/relationships/{r.id}"}
                for r in self.store.list_incoming(target_id, after=after, limit=limit)]

    # == queries =========================================================

    def _compile(self, text: str) -> Compiled:
        key = (self._generation, text)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = compile_query(parse_query(text), self._descendants)
            if len(self._compiled) > 256:
                self._compiled.clear()
            self._compiled[key] = compiled
        return compiled

    def _descendants(self, dtmi: str) -> list[str]:
        return self.models.descendants(dtmi) if dtmi in self.models else []

    def query_page(self, text: str, *, offset: int = 0, size: int = 100,
                   timeout: float = 10.0) -> tuple[list[Any], bool]:
        """One page of an ADT query's rows, and whether more follow."""
        self.refresh_models()
        compiled = self._compile(text)
        if compiled.count:
            if offset:
                return [], False
            (count,) = self.store.select(compiled.sql, compiled.params, timeout=timeout)[0]
            return [{"COUNT": count}], False
        limit = size if compiled.top is None else min(size, compiled.top - offset)
        if limit <= 0:
            return [], False
        raw = self.store.select(compiled.sql, compiled.params, limit=limit + 1, offset=offset,
                                timeout=timeout)
        more = len(raw) > limit
        if compiled.top is not None and offset + limit >= compiled.top:
            more = False
        return [_shape(compiled, r) for r in raw[:limit]], more

    def query(self, text: str, *, page_size: int = 1000, timeout: float = 10.0) -> Iterator[Any]:
        """The rows of an ADT query, fetched lazily a page at a time."""
        offset = 0
        while True:
            rows, more = self.query_page(text, offset=offset, size=page_size, timeout=timeout)
            yield from rows
            if not more:
                return
            offset += len(rows)

    def add_property_index(self, path: str) -> str:
        """Index twins on a property (``temperature`` or ``address.city``) so queries on it are fast."""
        parts = tuple(p for p in path.split("."))
        if not path or not all(parts):
            raise BadRequest(f"'{path}' is not a property path", code="InvalidArgument")
        return self.store.add_property_index(json_path(parts))

    # == events ==========================================================

    def events(self, after: int = 0) -> Iterator[EventRecord]:
        return self.store.iter_events(after)

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every committed change (it should only wake a reader up)."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def notify(self) -> None:
        for listener in list(self._listeners):
            listener()


def _point(twin: str, component: str, name: str, ts: int, value: Any) -> HistoryPoint:
    kind = type(value)
    num = float(value) if kind is float or kind is int or kind is bool else None
    return HistoryPoint(twin, component, name, ts, num, orjson.dumps(value).decode())


def _touched_points(twin: str, doc: Json, touched: list[list[str]], components: dict[str, str],
                    ts: int) -> list[HistoryPoint]:
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
            out.append(_point(twin, component, name, ts, holder.get(name) if isinstance(holder, dict) else None))
    return out


def _shape(compiled: Compiled, row: tuple[Any, ...]) -> Any:
    if compiled.star_single:
        return orjson.loads(row[0])
    out: dict[str, Any] = {}
    for (name, kind), value in zip(compiled.columns, row, strict=True):
        if value is None:
            continue
        out[name] = value if kind == "text" else orjson.loads(value)
    return out


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


__all__ = ["ModelError", "ModelInfo", "TwinGraph", "new_etag", "utc_now"]
