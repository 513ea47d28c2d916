"""The models of a graph: upload, read, decommission and delete DTDL interfaces, and the
parsed `ModelSet` every other part validates against."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from twinforge.dtdl import ModelSet, Resolve, parse_models
from twinforge.dtdl.dtmi import is_dtmi
from twinforge.errors import Conflict, InvalidArgument, NotFound, ValidationError
from twinforge.graph.records import Json, dumps
from twinforge.store.base import ModelRecord, ModelStore, Transactional


class CatalogStore(Transactional, ModelStore, Protocol):
    """What the catalog needs of a store."""


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
        """ADT's model description (with the DTDL document when asked)."""
        out: Json = {"id": self.id, "description": self.description,
                     "displayName": self.display_name, "decommissioned": self.decommissioned,
                     "uploadTime": self.upload_time}
        if include_definition:
            out["model"] = self.definition
        return out


class ModelCatalog:
    """The graph's models, kept in step with the store (other processes may change them)."""

    def __init__(self, store: CatalogStore, clock: Callable[[], str]) -> None:
        self.store = store
        self.clock = clock
        self.generation = -1
        self.models = ModelSet({}, [])
        self._decommissioned: set[str] = set()
        self._usable: set[str] = set()  # models new twins may use, checked once per generation
        self.refresh()

    def refresh(self) -> None:
        """Reload models if another process (or this one) changed them since the last look."""
        generation = self.store.models_generation()
        if generation == self.generation:
            return
        records = self.store.list_models()
        self.models = (parse_models([orjson.loads(r.document) for r in records],
                                    allow_undefined_extensions=True) if records else ModelSet({}, []))
        self._decommissioned = {r.id for r in records if r.decommissioned}
        self._usable = set()
        self.generation = generation

    def add(self, documents: list[Any], *, resolver: Resolve | None = None,
            sources: list[str] | None = None) -> list[ModelInfo]:
        """Upload a batch of DTDL interfaces; dependencies may be in the batch, stored, or
        fetched by ``resolver`` (a models repository, say), and then are uploaded too."""
        self.refresh()
        if not isinstance(documents, list) or not documents:
            raise InvalidArgument("expected a non-empty JSON array of DTDL interfaces", code="InvalidArgument")
        flat: list[Any] = []
        for doc in documents:
            flat.extend(doc if isinstance(doc, list) else [doc])
        fetched: list[Any] = []

        def fetch(dtmis: list[str]) -> list[Any]:
            assert resolver is not None
            found = resolver(dtmis)
            fetched.extend(found)
            return found

        # Parsed as given (a document may be an array of interfaces), so that errors can
        # name each one's file and position; ``sources`` names the files.
        parsed = parse_models(documents, known=self.models, resolver=fetch if resolver is not None else None,
                              sources=sources)
        for doc in fetched:
            flat.extend(doc if isinstance(doc, list) else [doc])
        new_ids = parsed.root_ids()
        clash = [i for i in new_ids if self.store.get_model(i) is not None]
        if clash:
            raise Conflict(f"model {clash[0]} already exists", code="ModelAlreadyExists")
        now = self.clock()
        by_id = {d["@id"]: d for d in flat if isinstance(d, dict) and isinstance(d.get("@id"), str)}
        with self.store.transaction():
            if self.store.models_generation() != self.generation:
                raise Conflict("models changed while this batch was being checked; retry",
                               code="ModelsChanged")
            self.store.put_models([ModelRecord(i, dumps(by_id[i]), now) for i in new_ids])
        self.models = parsed
        self.generation = self.store.models_generation()
        return [self.get(i) for i in new_ids]

    def get(self, model_id: str) -> ModelInfo:
        """One stored model; `NotFound` when there is none."""
        self.refresh()
        record = self.store.get_model(model_id)
        if record is None:
            if not is_dtmi(model_id, 4):
                raise InvalidArgument(f"'{model_id}' is not a valid model id (a DTMI such as "
                                      "dtmi:com:example:Pump;1)", code="InvalidArgument")
            raise NotFound(f"there is no model '{model_id}'", code="ModelNotFound")
        el = self.models.element(model_id)
        names = el.props.get("displayName") if el else None
        descs = el.props.get("description") if el else None
        return ModelInfo(record.id, record.upload_time, record.decommissioned,
                         names if isinstance(names, dict) else {},
                         descs if isinstance(descs, dict) else {}, orjson.loads(record.document))

    def list_models(self, dependencies_for: list[str] | None = None) -> list[ModelInfo]:
        """All stored models, or only those named and everything they depend on."""
        self.refresh()
        if not dependencies_for:
            return [self.get(r.id) for r in self.store.list_models()]
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
        return [self.get(i) for i in wanted]

    def decommission(self, model_id: str) -> None:
        """Keep a model for existing twins but refuse it for new ones."""
        self.get(model_id)
        self.store.set_decommissioned(model_id, True)
        self.refresh()

    def delete(self, model_id: str) -> None:
        """Delete a model no twin uses and no other model depends on."""
        self.get(model_id)
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
        self.refresh()

    def usable(self, model_id: Any) -> str:
        """``model_id`` if new twins may use it: an uploaded, not decommissioned interface."""
        if model_id in self._usable:
            return str(model_id)
        if not isinstance(model_id, str):
            raise ValidationError("twin must have $metadata.$model naming its DTDL interface")
        element = self.models.element(model_id)
        if element is None or element.cls != "Interface":
            raise ValidationError(f"model '{model_id}' is not uploaded", code="ModelNotFound")
        if model_id in self._decommissioned:
            raise ValidationError(f"model '{model_id}' is decommissioned; new twins cannot use it",
                                  code="ModelDecommissioned")
        self._usable.add(model_id)
        return model_id

    def descendants(self, dtmi: str) -> list[str]:
        """``dtmi`` and every model extending it (empty for an unknown model)."""
        return self.models.descendants(dtmi) if dtmi in self.models else []


__all__ = ["CatalogStore", "ModelCatalog", "ModelInfo"]
