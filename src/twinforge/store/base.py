"""The storage contract, as small protocols each part of the library asks for.

A store (SQLite now, PostgreSQL next) implements all of them; `TwinStore` is their sum.
Parts of the graph, the event bus and the API type what they hold with the smallest
protocol that covers what they call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from twinforge.store.recordbase import AlertStore, AuditStore, RecordStore

if TYPE_CHECKING:
    from twinforge.query import Dialect


@dataclass(frozen=True, slots=True)
class ModelRecord:
    id: str
    document: str  # the DTDL JSON as uploaded
    upload_time: str
    decommissioned: bool = False


@dataclass(frozen=True, slots=True)
class TwinRecord:
    id: str
    model: str
    etag: str
    document: str  # the full twin JSON, with $dtId, $etag and $metadata


@dataclass(frozen=True, slots=True)
class TwinValues:
    """New values for some properties of one twin.

    ``values`` maps (component or "", name) to (the value as JSON, the JSON of its
    ``$metadata`` entry, ``{"lastUpdateTime": ...}``).
    """

    twin: str
    etag: str
    time: str  # ISO 8601: the twin's $lastUpdateTime
    values: dict[tuple[str, str], tuple[str, str]]


@dataclass(frozen=True, slots=True)
class RelationshipRecord:
    source: str
    id: str
    name: str
    target: str
    etag: str
    document: str


@dataclass(slots=True)
class EventRecord:
    """One accepted change. ``seq`` is assigned by the store.

    Treat it as immutable: it is not frozen because ingest builds one per twin changed, and a
    frozen dataclass takes three times as long to build (a fifth of planning a batch).
    """

    time: str
    type: str
    twin: str
    data: str  # JSON: the patch, or the document created or deleted, or the telemetry message
    relationship: str | None = None
    seq: int = 0
    model: str | None = None  # the twin's model, so streams can filter by model cheaply


class HistoryPoint(NamedTuple):
    """One sample of a property or telemetry value. ``ts`` is microseconds since the epoch (UTC)."""

    twin: str
    component: str  # "" for the twin itself
    name: str
    ts: int
    num: float | None  # the value when it is a number (or a boolean), for aggregates
    value: str  # the value as JSON


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An input that could not be applied, kept so that nothing is silently lost."""

    time: str
    source: str  # mqtt:<topic>, opcua:<node>, http, ...
    kind: str  # not_json | unknown_twin | unknown_name | unknown_component | invalid_value | ...
    reason: str
    payload: str
    seq: int = 0


class Transactional(Protocol):
    """Every write goes through `transaction()`: the block either commits whole or leaves
    nothing behind. Blocks nest; only the outermost one commits."""

    def transaction(self) -> AbstractContextManager[None]:
        """A block whose writes commit together or not at all."""
        ...


class ModelStore(Protocol):
    """DTDL documents as uploaded."""

    def models_generation(self) -> int:
        """A counter that changes whenever models change, in any process sharing the store."""
        ...

    def put_models(self, models: list[ModelRecord]) -> None:
        """Store new models (and bump the models generation)."""
        ...

    def get_model(self, model_id: str) -> ModelRecord | None:
        """The model with this id, or None."""
        ...

    def list_models(self) -> list[ModelRecord]:
        """Every stored model, in upload order."""
        ...

    def set_decommissioned(self, model_id: str, value: bool) -> None:
        """Mark a model decommissioned (or not)."""
        ...

    def delete_model(self, model_id: str) -> None:
        """Delete a model."""
        ...

    def count_twins_of_model(self, model_id: str) -> int:
        """How many twins use exactly this model."""
        ...


class TwinDocumentStore(Protocol):
    """Twin documents, with their model and ETag beside them."""

    def get_twin(self, twin_id: str) -> TwinRecord | None:
        """The twin with this id, or None."""
        ...

    def get_twins(self, twin_ids: list[str]) -> dict[str, TwinRecord]:
        """The twins among these ids that exist, by id."""
        ...

    def get_twin_models(self, twin_ids: list[str]) -> dict[str, str]:
        """The model of each twin among these ids that exists."""
        ...

    def twins_version(self) -> int:
        """A number that changes whenever a twin is created, deleted or given another model
        (by any process): what caches of twins' models are checked against."""
        ...

    def set_twin_values(self, changes: list[TwinValues]) -> None:
        """Set values (and their ``$metadata``) inside stored documents without reading them."""
        ...

    def insert_twins(self, twins: list[TwinRecord]) -> None:
        """Insert new twins; raises `Conflict` when one already exists."""
        ...

    def replace_twin(self, twin: TwinRecord) -> None:
        """Write a twin's document, whether or not it exists."""
        ...

    def replace_twins(self, twins: list[TwinRecord]) -> None:
        """Write the documents of existing twins."""
        ...

    def delete_twin(self, twin_id: str) -> None:
        """Delete a twin."""
        ...

    def list_twins(self, *, model: str | None = None, after: str = "", limit: int = 100) -> list[TwinRecord]:
        """Twins in id order after ``after`` (of exactly ``model`` when given)."""
        ...

    def count_twins(self) -> int:
        """How many twins there are."""
        ...


class RelationshipStore(Protocol):
    """Relationship documents, by source and id, found also by target."""

    def get_relationship(self, source: str, rel_id: str) -> RelationshipRecord | None:
        """The relationship ``rel_id`` of twin ``source``, or None."""
        ...

    def insert_relationships(self, rels: list[RelationshipRecord]) -> None:
        """Insert new relationships; raises `Conflict` when one already exists."""
        ...

    def replace_relationship(self, rel: RelationshipRecord) -> None:
        """Write a relationship, whether or not it exists."""
        ...

    def delete_relationship(self, source: str, rel_id: str) -> None:
        """Delete a relationship."""
        ...

    def list_relationships(self, source: str, name: str | None = None, *, after: str = "",
                           limit: int = 1000) -> list[RelationshipRecord]:
        """A twin's outgoing relationships in id order (only those called ``name`` if given)."""
        ...

    def list_incoming(self, target: str, *, after: tuple[str, str] = ("", ""),
                      limit: int = 1000) -> list[RelationshipRecord]:
        """Relationships whose target is ``target``, in (source, id) order after ``after``."""
        ...

    def count_relationships(self, source: str, name: str) -> int:
        """How many relationships called ``name`` start at ``source``."""
        ...

    def existing_relationships(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (source, relationship id) pairs are stored."""
        ...

    def has_relationships(self, twin_id: str) -> bool:
        """Whether any relationship starts or ends at this twin."""
        ...


class QueryStore(Protocol):
    """Compiled queries run here, in the store's own SQL dialect."""

    @property
    def dialect(self) -> Dialect:
        """How this store's SQL spells JSON access (the query compiler's target)."""
        ...

    def select(self, sql: str, params: list[Any], *, limit: int | None = None, offset: int = 0,
               timeout: float = 10.0) -> list[tuple[Any, ...]]:
        """Rows of a compiled query; raises `QueryTimeout` past ``timeout`` seconds."""
        ...

    def add_property_index(self, path: str) -> str:
        """Index twins on the JSON property at ``path`` (a canonical JSON path); returns its name."""
        ...

    def list_property_indexes(self) -> list[str]:
        """The JSON paths twins are indexed on."""
        ...


class EventStore(Protocol):
    """The change log: one row per accepted change, numbered in commit order."""

    def append_events(self, events: list[EventRecord]) -> None:
        """Append change events; the store numbers them in commit order."""
        ...

    def read_events(self, after: int = 0, limit: int = 1000) -> list[EventRecord]:
        """Up to ``limit`` events numbered after ``after``, in order."""
        ...

    def iter_events(self, after: int = 0) -> Iterator[EventRecord]:
        """Every event numbered after ``after``, read a page at a time."""
        ...

    def last_event_seq(self) -> int:
        """The number of the last event (0 when there is none)."""
        ...


class HistoryStore(Protocol):
    """Time series of every property change and telemetry sample."""

    def append_history(self, points: list[HistoryPoint]) -> None:
        """Add history points (a point at an existing time replaces it)."""
        ...

    def read_history(self, twin: str, name: str, *, component: str = "", start: int | None = None,
                     end: int | None = None, after: int | None = None,
                     limit: int = 1000) -> list[HistoryPoint]:
        """Raw points of one series in time order, within [start, end) and after ``after``."""
        ...

    def last_history(self, twin: str, name: str, *, component: str = "") -> HistoryPoint | None:
        """The newest point of one series, or None."""
        ...

    def aggregate_history(self, twin: str, name: str, *, component: str = "", start: int, end: int,
                          bucket: int, agg: str, after: int | None = None,
                          limit: int = 1000) -> list[tuple[int, Any]]:
        """One row (bucket start, value) per bucket of one series, aggregated by ``agg``."""
        ...

    def delete_history_before(self, ts: int) -> int:
        """Drop every point older than ``ts``; returns how many."""
        ...

    def downsample_history(self, before: int, bucket: int) -> tuple[int, int]:
        """Replace numeric points older than ``before`` by bucket averages; returns (removed, added)."""
        ...


class SettingStore(Protocol):
    """Small JSON documents by key (event routes, endpoints, delivery cursors)."""

    def get_setting(self, key: str) -> str | None:
        """The setting's value, or None."""
        ...

    def put_setting(self, key: str, value: str) -> None:
        """Set a setting."""
        ...

    def delete_setting(self, key: str) -> bool:
        """Delete a setting; whether it existed."""
        ...

    def list_settings(self, prefix: str) -> list[tuple[str, str]]:
        """Every (key, value) whose key starts with ``prefix``, in key order."""
        ...


class DeadLetterStore(Protocol):
    """Inputs that could not be applied, kept so that nothing is silently lost."""

    def append_dead_letters(self, letters: list[DeadLetter]) -> None:
        """Keep inputs that could not be applied."""
        ...

    def read_dead_letters(self, after: int = 0, limit: int = 100) -> list[DeadLetter]:
        """Up to ``limit`` dead letters numbered after ``after``, oldest first."""
        ...

    def count_dead_letters(self) -> dict[str, int]:
        """How many dead letters the store holds, by kind."""
        ...


class Lease(Protocol):
    """Leadership among the processes sharing a store: at most one holds it at a time."""

    def try_acquire(self) -> bool:
        """Take (or keep) the lease; False while another process holds it."""
        ...

    def release(self) -> None:
        """Give the lease up (another process may then take it)."""
        ...


class LeaseStore(Protocol):
    def lease(self, name: str) -> Lease:
        """The lease called ``name`` (for example ``routes``: who delivers event routes)."""
        ...


class BlobStore(Protocol):
    """Binary documents by key with their media type (twins' geometry)."""

    def get_blob(self, key: str) -> tuple[str, bytes] | None:
        """(content type, bytes), or None."""
        ...

    def put_blob(self, key: str, content_type: str, data: bytes) -> None:
        """Store or replace a blob."""
        ...

    def delete_blob(self, key: str) -> bool:
        """Delete a blob; whether it existed."""
        ...


class TwinStore(Transactional, ModelStore, TwinDocumentStore, RelationshipStore, QueryStore, EventStore,
                HistoryStore, SettingStore, RecordStore, AuditStore, AlertStore, DeadLetterStore, LeaseStore,
                BlobStore, Protocol):
    """Everything a store keeps: the sum of the small protocols above."""

    @property
    def url(self) -> str:
        """The URL that opens this store again (from another process, say)."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...
