"""One typed home for every kind of record a capability keeps: alert rules, detectors, RUL
attachments, work orders, scenarios, tokens, jobs, event routes and endpoints.

A `Collection` is a kind of record over the store: it turns records into JSON and back (its
codec), answers `NotFound` with the kind's own code, and exposes the kind's version, which
every change bumps in the store. A `Cache` keeps the decoded records of a kind in memory and
reloads them when the version moves, so a rule put through one server is in force on every
server within a fraction of a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson

from twinforge.errors import Conflict, NotFound
from twinforge.store.recordbase import RecordStore

log = logging.getLogger("twinforge.records")
_T = TypeVar("_T")


def _identity(_: str, value: Any) -> Any:
    return value


def _plain(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Kind(Generic[_T]):
    """What a kind of record is: its name in the store, how it reads and writes, how it is named
    in errors (``what``) and the error code of a missing one."""

    name: str
    what: str
    code: str
    decode: Callable[[str, Any], _T] = _identity
    encode: Callable[[_T], Any] = _plain


class Collection(Generic[_T]):
    """The records of one kind in a store."""

    def __init__(self, store: RecordStore, kind: Kind[_T]) -> None:
        self.store = store
        self.kind = kind

    def _decode(self, key: str, raw: str) -> _T:
        return self.kind.decode(key, orjson.loads(raw))

    def _encode(self, item: _T) -> str:
        return orjson.dumps(self.kind.encode(item), option=orjson.OPT_SERIALIZE_NUMPY).decode()

    def find(self, key: str) -> _T | None:
        raw = self.store.get_record(self.kind.name, key)
        return None if raw is None else self._decode(key, raw)

    def get(self, key: str) -> _T:
        item = self.find(key)
        if item is None:
            raise NotFound(f"there is no {self.kind.what} '{key}'", code=self.kind.code)
        return item

    def exists(self, key: str) -> bool:
        return self.store.get_record(self.kind.name, key) is not None

    def put(self, key: str, item: _T) -> _T:
        self.store.put_record(self.kind.name, key, self._encode(item))
        return item

    def create(self, key: str, item: _T) -> _T:
        """Add a record whose key must be new (a `Conflict` names the one that exists)."""
        if not self.store.insert_record(self.kind.name, key, self._encode(item)):
            raise Conflict(f"a {self.kind.what} '{key}' already exists", code=f"{self.kind.code.removesuffix('NotFound')}"
                           "AlreadyExists")
        return item

    def delete(self, key: str) -> None:
        if not self.store.delete_record(self.kind.name, key):
            raise NotFound(f"there is no {self.kind.what} '{key}'", code=self.kind.code)

    def discard(self, key: str) -> bool:
        return self.store.delete_record(self.kind.name, key)

    def items(self, *, after: str = "", limit: int = 1_000_000) -> list[tuple[str, _T]]:
        """(key, record) in key order; a stored record that no longer decodes is logged and left out."""
        out: list[tuple[str, _T]] = []
        for key, raw in self.store.list_records(self.kind.name, after=after, limit=limit):
            try:
                out.append((key, self._decode(key, raw)))
            except Exception as exc:  # a record valid when written may refer to a model since deleted
                log.warning("%s '%s' is left out: %s", self.kind.what, key, exc)
        return out

    def list(self, *, after: str = "", limit: int = 1_000_000) -> list[_T]:
        return [item for _, item in self.items(after=after, limit=limit)]

    def version(self) -> int:
        return self.store.records_version(self.kind.name)

    def cache(self, *, max_age: float = 0.5) -> Cache[_T]:
        return Cache(self, max_age=max_age)


class Cache(Generic[_T]):
    """The decoded records of a kind, reloaded when its version moves (checked at most every
    ``max_age`` seconds, or at once after `invalidate`)."""

    def __init__(self, collection: Collection[_T], *, max_age: float = 0.5) -> None:
        self.collection = collection
        self.max_age = max_age
        self._items: dict[str, _T] = {}
        self._version = -1
        self._checked = 0.0
        self._lock = threading.Lock()
        self._invalidated = 0
        self.reloads = 0

    def invalidate(self) -> None:
        self._checked = 0.0
        self._invalidated += 1

    def changed(self) -> bool:
        """Reload if another process (or this one) changed the kind; whether it did. Until the
        first load has finished every caller waits for it (never an empty answer while another
        thread reads), and a reload that an `invalidate` overtook is not taken as fresh."""
        if self._version >= 0 and time.monotonic() - self._checked < self.max_age:
            return False
        with self._lock:
            started = time.monotonic()
            if self._version >= 0 and started - self._checked < self.max_age:
                return False  # another thread reloaded while this one waited
            seen = self._invalidated
            version = self.collection.version()
            reloaded = version != self._version
            if reloaded:
                self._items = dict(self.collection.items())
                self._version = version
                self.reloads += 1
            if seen == self._invalidated:
                self._checked = started
            return reloaded

    def all(self) -> dict[str, _T]:
        self.changed()
        return self._items

    def get(self, key: str) -> _T | None:
        return self.all().get(key)


__all__ = ["Cache", "Collection", "Kind", "RecordStore"]
