"""Trained RUL models uploaded to the store (`PUT /analytics/rul/models/{id}`): the file as a
blob, its manifest as a record, so every server estimates with the same model. Nothing is read
from a server path, and nothing uploaded can run code (see `twinforge.analytics.rul`)."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twinforge.analytics.rul import FORMAT, VERSION, RulModel
from twinforge.errors import Conflict, InvalidArgument
from twinforge.records import Collection, Kind

if TYPE_CHECKING:
    from twinforge.graph import TwinGraph

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True, slots=True)
class RulModelEntry:
    """What the store keeps of an uploaded model besides its bytes."""

    id: str
    sha256: str  # of the whole file
    bytes: int
    members: int
    rmse: float | None
    training_data: str | None
    uploaded: float

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "format": FORMAT, "version": VERSION, "sha256": self.sha256, "bytes": self.bytes,
                "members": self.members, "rmse": self.rmse, "trainingData": self.training_data,
                "uploaded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.uploaded))}


def _decode(key: str, v: Any) -> RulModelEntry:
    return RulModelEntry(key, v["sha256"], int(v["bytes"]), int(v["members"]), v.get("rmse"), v.get("trainingData"),
                         float(v["uploaded"]))


def _encode(e: RulModelEntry) -> dict[str, Any]:
    return {"sha256": e.sha256, "bytes": e.bytes, "members": e.members, "rmse": e.rmse,
            "trainingData": e.training_data, "uploaded": e.uploaded}


class RulModels:
    """The uploaded models, and the ones this process has read (by id and content hash)."""

    def __init__(self, graph: TwinGraph) -> None:
        self.store = graph.store
        self.records = Collection(graph.store, Kind("rul-model", "RUL model", "RulModelNotFound", _decode, _encode))
        self._cache = self.records.cache()
        self._loaded: dict[tuple[str, str], RulModel] = {}
        self._lock = threading.Lock()

    @staticmethod
    def parse(model_id: str, data: bytes) -> RulModel:
        """The file checked (CPU work: call it off the event loop and off the writer)."""
        if not _ID.match(model_id):
            raise InvalidArgument("a RUL model id is 1-100 letters, digits, '.', '-' or '_'")
        return RulModel.from_bytes(data, f"RUL model '{model_id}'")

    def put(self, model_id: str, data: bytes, model: RulModel | None = None) -> RulModelEntry:
        model = model or self.parse(model_id, data)
        entry = RulModelEntry(model_id, hashlib.sha256(data).hexdigest(), len(data), len(model.members),
                              model.info.get("rmse"), model.info.get("trainingData"), time.time())
        self.store.put_blob(f"rul-model/{model_id}", "application/json", data)
        self.records.put(model_id, entry)
        self._cache.invalidate()
        with self._lock:
            self._loaded[(model_id, entry.sha256)] = model
        return entry

    def get(self, model_id: str) -> RulModelEntry:
        return self.records.get(model_id)

    def entries(self) -> list[RulModelEntry]:
        return self.records.list()

    def delete(self, model_id: str, in_use: list[str]) -> None:
        """Remove a model no attachment names (``in_use``: the attachments that do)."""
        self.records.get(model_id)
        if in_use:
            raise Conflict(f"RUL model '{model_id}' is used by attachment(s) {', '.join(sorted(in_use))}: "
                           "delete or change them first", code="RulModelInUse")
        self.records.delete(model_id)
        self.store.delete_blob(f"rul-model/{model_id}")
        self._cache.invalidate()

    def load(self, model_id: str) -> RulModel:
        """The model as uploaded last (through any server)."""
        entry = self._cache.get(model_id)
        if entry is None:
            entry = self.records.get(model_id)  # raises RulModelNotFound
        key = (model_id, entry.sha256)
        with self._lock:
            model = self._loaded.get(key)
        if model is None:
            blob = self.store.get_blob(f"rul-model/{model_id}")
            if blob is None:
                raise InvalidArgument(f"RUL model '{model_id}' has no file in the store (upload it again)")
            model = RulModel.from_bytes(blob[1], f"RUL model '{model_id}'")
            with self._lock:
                self._loaded = {k: v for k, v in self._loaded.items() if k[0] != model_id}
                self._loaded[key] = model
        return model


__all__ = ["RulModelEntry", "RulModels"]
