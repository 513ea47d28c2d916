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


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One accepted change. ``seq`` is assigned by the store."""

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
    kind: str  # not_json | unknown_twin | unknown_name | invalid_value | ...
    reason: str
    payload: str
    seq: int = 0


class Transactional(Protocol):
    """Every write goes through `transaction()`: the block either commits whole or leaves
    nothing behind. Blocks nest; only the outermost one commits."""

    def transaction(self) -> AbstractContextManager[None]: ...


class ModelStore(Protocol):
    """DTDL documents as uploaded."""

    def models_generation(self) -> int:
        """A counter that changes whenever models change, in any process sharing the store."""
        ...

    def put_models(self, models: list[ModelRecord]) -> None: ...
    def get_model(self, model_id: str) -> ModelRecord | None: ...
    def list_models(self) -> list[ModelRecord]: ...
    def set_decommissioned(self, model_id: str, value: bool) -> None: ...
    def delete_model(self, model_id: str) -> None: ...
    def count_twins_of_model(self, model_id: str) -> int: ...


class TwinDocumentStore(Protocol):
    """Twin documents, with their model and ETag beside them."""

    def get_twin(self, twin_id: str) -> TwinRecord | None: ...
    def get_twins(self, twin_ids: list[str]) -> dict[str, TwinRecord]: ...
    def get_twin_models(self, twin_ids: list[str]) -> dict[str, str]: ...
    def data_version(self) -> int:
        """A number that changes when another process commits to the store."""
        ...
    def set_twin_values(self, changes: list[TwinValues]) -> None:
        """Set values (and their ``$metadata``) inside stored documents without reading them."""
        ...
    def insert_twins(self, twins: list[TwinRecord]) -> None:
        """Insert new twins; raises `Conflict` when one already exists."""
        ...
    def replace_twin(self, twin: TwinRecord) -> None: ...
    def replace_twins(self, twins: list[TwinRecord]) -> None: ...
    def delete_twin(self, twin_id: str) -> None: ...
    def list_twins(self, *, model: str | None = None, after: str = "", limit: int = 100) -> list[TwinRecord]: ...
    def count_twins(self) -> int: ...


class RelationshipStore(Protocol):
    """Relationship documents, by source and id, found also by target."""

    def get_relationship(self, source: str, rel_id: str) -> RelationshipRecord | None: ...
    def insert_relationships(self, rels: list[RelationshipRecord]) -> None:
        """Insert new relationships; raises `Conflict` when one already exists."""
        ...
    def replace_relationship(self, rel: RelationshipRecord) -> None: ...
    def delete_relationship(self, source: str, rel_id: str) -> None: ...
    def list_relationships(self, source: str, name: str | None = None, *, after: str = "",
                           limit: int = 1000) -> list[RelationshipRecord]: ...
    def list_incoming(self, target: str, *, after: tuple[str, str] = ("", ""),
                      limit: int = 1000) -> list[RelationshipRecord]: ...
    def count_relationships(self, source: str, name: str) -> int: ...
    def has_relationships(self, twin_id: str) -> bool: ...


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

    def list_property_indexes(self) -> list[str]: ...


class EventStore(Protocol):
    """The change log: one row per accepted change, numbered in commit order."""

    def append_events(self, events: list[EventRecord]) -> None: ...
    def read_events(self, after: int = 0, limit: int = 1000) -> list[EventRecord]: ...
    def iter_events(self, after: int = 0) -> Iterator[EventRecord]: ...
    def last_event_seq(self) -> int: ...


class HistoryStore(Protocol):
    """Time series of every property change and telemetry sample."""

    def append_history(self, points: list[HistoryPoint]) -> None: ...
    def read_history(self, twin: str, name: str, *, component: str = "", start: int | None = None,
                     end: int | None = None, after: int | None = None,
                     limit: int = 1000) -> list[HistoryPoint]: ...
    def aggregate_history(self, twin: str, name: str, *, component: str = "", start: int, end: int,
                          bucket: int, agg: str, after: int | None = None,
                          limit: int = 1000) -> list[tuple[int, Any]]: ...
    def delete_history_before(self, ts: int) -> int: ...
    def downsample_history(self, before: int, bucket: int) -> tuple[int, int]: ...


class SettingStore(Protocol):
    """Small JSON documents by key (event routes, endpoints, delivery cursors)."""

    def get_setting(self, key: str) -> str | None: ...
    def put_setting(self, key: str, value: str) -> None: ...
    def delete_setting(self, key: str) -> bool: ...
    def list_settings(self, prefix: str) -> list[tuple[str, str]]: ...


class DeadLetterStore(Protocol):
    """Inputs that could not be applied, kept so that nothing is silently lost."""

    def append_dead_letters(self, letters: list[DeadLetter]) -> None: ...
    def read_dead_letters(self, after: int = 0, limit: int = 100) -> list[DeadLetter]: ...
    def count_dead_letters(self) -> dict[str, int]:
        """How many dead letters the store holds, by kind."""
        ...


class Lease(Protocol):
    """Leadership among the processes sharing a store: at most one holds it at a time."""

    def try_acquire(self) -> bool:
        """Take (or keep) the lease; False while another process holds it."""
        ...

    def release(self) -> None: ...


class LeaseStore(Protocol):
    def lease(self, name: str) -> Lease:
        """The lease called ``name`` (for example ``routes``: who delivers event routes)."""
        ...


class TwinStore(Transactional, ModelStore, TwinDocumentStore, RelationshipStore, QueryStore, EventStore,
                HistoryStore, SettingStore, DeadLetterStore, LeaseStore, Protocol):
    """Everything a store keeps: the sum of the small protocols above."""

    def close(self) -> None: ...
