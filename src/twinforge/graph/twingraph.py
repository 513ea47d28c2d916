"""TwinGraph: the library's entry point, a thin facade over the graph's parts.

`ModelCatalog` (models), `Twins` (twins, components, batches of values), `Relationships`
and `Queries` each own one concern; TwinGraph wires them to one store and one clock and
tells listeners after every committed change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from twinforge.dtdl import ModelSet, Resolve
from twinforge.errors import TwinforgeError
from twinforge.graph.catalog import ModelCatalog, ModelInfo
from twinforge.graph.queries import Queries
from twinforge.graph.records import Json, utc_now
from twinforge.graph.relationships import Relationships
from twinforge.graph.twins import Twins
from twinforge.graph.updates import Refusal, Update, UpdateOutcome
from twinforge.store.base import DeadLetter, EventRecord, TwinStore


class TwinGraph:
    """A graph of DTDL-typed twins and their relationships, kept in a store."""

    def __init__(self, store: TwinStore, *, clock: Callable[[], str] = utc_now) -> None:
        self.store = store
        self.clock = clock
        self._listeners: list[Callable[[], None]] = []
        self.catalog = ModelCatalog(store, clock)
        self.twins = Twins(store, self.catalog, clock, self.notify)
        self.relationships = Relationships(store, self.catalog, clock, self.notify)
        self.queries = Queries(store, self.catalog)

    @classmethod
    def open(cls, url: str, *, create: bool = True, read_url: str | None = None) -> TwinGraph:
        """The graph in the store a URL names (``sqlite:///path.db``); with ``create=False``
        a store that does not exist yet is `NotFound` instead of being made. ``read_url``: a
        PostgreSQL streaming replica for reads."""
        from twinforge.store import open_store

        return cls(open_store(url, create=create, read_url=read_url))

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    @property
    def models(self) -> ModelSet:
        """The parsed models (refreshed by the calls that need them)."""
        return self.catalog.models

    @property
    def twins_version(self) -> int:
        """Changes when this process creates, replaces or deletes a twin."""
        return self.twins.version

    # -- models -----------------------------------------------------------

    def refresh_models(self) -> None:
        """Reload models if another process (or this one) changed them."""
        self.catalog.refresh()

    def add_models(self, documents: list[Any], *, resolver: Resolve | None = None,
                   sources: list[str] | None = None) -> list[ModelInfo]:
        """Upload a batch of DTDL interfaces; dependencies may be in the batch, stored, or
        fetched by ``resolver`` (and then uploaded too). ``sources`` names each document's
        file for error messages."""
        return self.catalog.add(documents, resolver=resolver, sources=sources)

    def get_model(self, model_id: str) -> ModelInfo:
        """One stored model."""
        return self.catalog.get(model_id)

    def list_models(self, dependencies_for: list[str] | None = None) -> list[ModelInfo]:
        """All stored models, or those named and everything they depend on."""
        return self.catalog.list_models(dependencies_for)

    def decommission_model(self, model_id: str) -> None:
        """Refuse a model for new twins."""
        self.catalog.decommission(model_id)

    def delete_model(self, model_id: str) -> None:
        """Delete a model no twin uses and no model depends on."""
        self.catalog.delete(model_id)

    # -- twins ------------------------------------------------------------

    def create_twin(self, twin_id: str, body: Any, *, if_none_match: bool = False) -> Json:
        """Create or replace a twin; ``if_none_match`` refuses a replace."""
        return self.twins.create(twin_id, body, if_none_match=if_none_match)

    def put_twins(self, items: Sequence[tuple[str, Any, bool]]) -> list[Json | TwinforgeError]:
        """Several creates or replaces ((twin id, body, If-None-Match) each) in one
        transaction; each result is the new document or the error that refused it alone."""
        return self.twins.put_many(items)

    def create_twins(self, items: Iterable[tuple[str, Any]], *, chunk: int = 10_000) -> int:
        """Create many new twins in one transaction: all of them or none."""
        return self.twins.create_many(items, chunk=chunk)

    def get_twin(self, twin_id: str) -> Json:
        """A twin's document."""
        return self.twins.get(twin_id)

    def get_twin_raw(self, twin_id: str) -> tuple[str, str]:
        """A twin's stored JSON text and ETag."""
        return self.twins.get_raw(twin_id)

    def update_twin(self, twin_id: str, patch: Any, *, if_match: str | None = None) -> Json:
        """Apply a JSON Patch to a twin; ``if_match`` gives optimistic concurrency."""
        return self.twins.update(twin_id, patch, if_match=if_match)

    def update_twins(self, items: Sequence[tuple[str, Any, str | None]]) -> list[Json | TwinforgeError]:
        """Apply several JSON Patches ((twin id, patch, If-Match) each) in one transaction;
        each result is the new document or the error that refused that patch alone."""
        return self.twins.update_many(items)

    def delete_twin(self, twin_id: str, *, if_match: str | None = None) -> None:
        """Delete a twin without relationships."""
        self.twins.delete(twin_id, if_match=if_match)

    def list_twins(self, *, model: str | None = None, after: str = "", limit: int = 100) -> list[Json]:
        """Twins in id order."""
        return self.twins.list_twins(model=model, after=after, limit=limit)

    def get_component(self, twin_id: str, component: str) -> Json:
        """One component of a twin."""
        return self.twins.get_component(twin_id, component)

    def update_component(self, twin_id: str, component: str, patch: Any, *,
                         if_match: str | None = None) -> Json:
        """Apply a JSON Patch to one component of a twin."""
        return self.twins.update_component(twin_id, component, patch, if_match=if_match)

    def apply_updates(self, updates: Sequence[Update], *, dead_letters: Sequence[DeadLetter] = (),
                      on_refusals: Callable[[list[Refusal]], list[DeadLetter]] | None = None) -> UpdateOutcome:
        """Apply a batch of new property and telemetry values in one transaction."""
        return self.twins.apply_updates(updates, dead_letters=dead_letters, on_refusals=on_refusals)

    # -- relationships ----------------------------------------------------

    def create_relationship(self, source_id: str, rel_id: str, body: Any, *,
                            if_none_match: bool = False) -> Json:
        """Create or replace a relationship."""
        return self.relationships.create(source_id, rel_id, body, if_none_match=if_none_match)

    def create_relationships(self, items: Iterable[tuple[str, str, Any]], *, chunk: int = 10_000) -> int:
        """Create many new relationships in one transaction: all of them or none."""
        return self.relationships.create_many(items, chunk=chunk)

    def get_relationship(self, source_id: str, rel_id: str) -> Json:
        """A relationship's document."""
        return self.relationships.get(source_id, rel_id)

    def update_relationship(self, source_id: str, rel_id: str, patch: Any, *,
                            if_match: str | None = None) -> Json:
        """Apply a JSON Patch to a relationship's properties."""
        return self.relationships.update(source_id, rel_id, patch, if_match=if_match)

    def delete_relationship(self, source_id: str, rel_id: str, *, if_match: str | None = None) -> None:
        """Delete a relationship."""
        self.relationships.delete(source_id, rel_id, if_match=if_match)

    def list_relationships(self, source_id: str, name: str | None = None, *, after: str = "",
                           limit: int = 1000) -> list[Json]:
        """A twin's outgoing relationships."""
        return self.relationships.list_outgoing(source_id, name, after=after, limit=limit)

    def list_incoming(self, target_id: str, *, after: tuple[str, str] = ("", ""),
                      limit: int = 1000) -> list[Json]:
        """Relationships that point at a twin."""
        return self.relationships.list_incoming(target_id, after=after, limit=limit)

    # -- queries ----------------------------------------------------------

    def query_page(self, text: str, *, offset: int = 0, size: int = 100,
                   timeout: float = 10.0) -> tuple[list[Any], bool]:
        """One page of an ADT query's rows, and whether more follow."""
        return self.queries.page(text, offset=offset, size=size, timeout=timeout)

    def query(self, text: str, *, page_size: int = 1000, timeout: float = 10.0) -> Iterator[Any]:
        """The rows of an ADT query, fetched lazily a page at a time."""
        return self.queries.rows(text, page_size=page_size, timeout=timeout)

    def add_property_index(self, path: str) -> str:
        """Index twins on a property so queries on it are fast."""
        return self.queries.add_property_index(path)

    # -- events and dead letters ------------------------------------------

    def events(self, after: int = 0) -> Iterator[EventRecord]:
        """Every committed change after event ``after``, in order."""
        return self.store.iter_events(after)

    def keep_dead_letters(self, letters: list[DeadLetter]) -> None:
        """Store inputs that could not be applied."""
        if letters:
            with self.store.transaction():
                self.store.append_dead_letters(letters)

    def dead_letters(self, *, after: int = 0, limit: int = 100) -> list[DeadLetter]:
        """Stored dead letters, oldest first."""
        return self.store.read_dead_letters(after, limit)

    def dead_letter_counts(self) -> dict[str, int]:
        """How many dead letters are stored, by kind."""
        return self.store.count_dead_letters()

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every committed change (it should only wake a reader up)."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[], None]) -> None:
        """Stop calling ``listener``."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def notify(self) -> None:
        """Tell every listener that a change was committed."""
        for listener in list(self._listeners):
            listener()


__all__ = ["TwinGraph"]
