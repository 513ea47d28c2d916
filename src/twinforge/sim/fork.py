"""Forking the live graph: the twins a scope query selects, the relationships among them and
every model, as plain data (a `Snapshot`), now or as they were at a past time (rebuilt from
history). A snapshot becomes a sandbox graph of its own; the live graph is only read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from twinforge.errors import InvalidArgument
from twinforge.history import History, now_us, parse_time
from twinforge.history.timeutil import from_us

if TYPE_CHECKING:
    from twinforge.dtdl import ModelSet
    from twinforge.graph import TwinGraph


@dataclass(slots=True)
class Snapshot:
    """What a scenario runs on: model documents, twin documents, relationships among them."""

    models: list[dict[str, Any]]
    twins: dict[str, dict[str, Any]]
    relationships: list[tuple[str, str, dict[str, Any]]]
    start: float  # the simulated start: the as-of time or the fork time, seconds since the epoch
    as_of: str | None = None
    _models: ModelSet | None = field(default=None, repr=False)

    def model_set(self) -> ModelSet:
        """The parsed models (parsed once)."""
        if self._models is None:
            from twinforge.dtdl import parse_models

            self._models = parse_models(self.models)
        return self._models

    def __getstate__(self) -> dict[str, Any]:  # sent to Dask workers without the parsed models
        return {"models": self.models, "twins": self.twins, "relationships": self.relationships,
                "start": self.start, "as_of": self.as_of}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)
        self._models = None


def scope_ids(graph: TwinGraph, scope: str) -> list[str]:
    """The ids of the twins a query selects (``SELECT T FROM DIGITALTWINS T WHERE ...``, or
    any query whose rows hold twins or ``$dtId``)."""
    if not isinstance(scope, str) or not scope.strip():
        raise InvalidArgument("the scenario needs a scope: a query selecting twins", code="InvalidArgument")
    ids: list[str] = []
    for row in graph.query(scope):
        if isinstance(row, dict) and isinstance(row.get("$dtId"), str):
            ids.append(row["$dtId"])
            continue
        for value in row.values() if isinstance(row, dict) else ():
            if isinstance(value, dict) and isinstance(value.get("$dtId"), str):
                ids.append(value["$dtId"])
    unique = sorted(set(ids))
    if not unique:
        raise InvalidArgument(f"the scope selects no twin: {scope}", code="InvalidArgument")
    return unique


def _plain(doc: dict[str, Any]) -> dict[str, Any]:
    """A twin document as a create request: its model and values, without system fields."""
    out: dict[str, Any] = {"$metadata": {"$model": doc["$metadata"]["$model"]}}
    for key, value in doc.items():
        if key.startswith("$"):
            continue
        if isinstance(value, dict) and "$metadata" in value:  # a component
            value = {"$metadata": {}, **{k: v for k, v in value.items() if not k.startswith("$")}}
        out[key] = value
    return out


def fork(graph: TwinGraph, scope: str, as_of: str | None = None) -> Snapshot:
    """The scoped twins (with the relationships among them and every model) as plain data.

    With ``as_of`` each property takes the value its history had then; a property whose
    history starts later is left out (it was not set yet), one with no history at all keeps
    its current value (history may have been pruned).
    """
    ids = scope_ids(graph, scope)
    start_us = now_us()
    if as_of is not None:
        at = parse_time(as_of)
        if at > start_us:
            raise InvalidArgument(f"asOf {as_of} is in the future", code="InvalidArgument")
        start_us = at
    history = History(graph.store)
    twins: dict[str, dict[str, Any]] = {}
    for twin_id in ids:
        doc = _plain(graph.get_twin(twin_id))
        if as_of is not None:
            for key in [k for k in doc if not k.startswith("$") and not isinstance(doc[k], dict)]:
                found, value = history.value_at(twin_id, key, start_us)
                if found:
                    doc[key] = value
                elif history.store.read_history(twin_id, key, limit=1):
                    del doc[key]  # set only after the as-of time
        twins[twin_id] = doc
    chosen = set(ids)
    relationships = []
    for twin_id in ids:
        for rel in graph.list_relationships(twin_id, limit=100_000):
            if rel["$targetId"] in chosen:
                body = {k: v for k, v in rel.items() if k not in ("$relationshipId", "$sourceId", "$etag")}
                relationships.append((twin_id, rel["$relationshipId"], body))
    models = [info.definition for info in graph.list_models()]
    start = datetime.fromisoformat(from_us(start_us).replace("Z", "+00:00")).timestamp()
    return Snapshot(models, twins, relationships, start, as_of)


def sandbox(snapshot: Snapshot, path: str = ":memory:") -> TwinGraph:
    """A graph of its own (an SQLite file, or memory) holding the snapshot."""
    from twinforge.graph import TwinGraph
    from twinforge.store import SQLiteStore

    graph = TwinGraph(SQLiteStore(path))
    graph.add_models(snapshot.models)
    graph.create_twins(list(snapshot.twins.items()))
    if snapshot.relationships:
        graph.create_relationships(snapshot.relationships)
    # Creating the twins put their values in history at the wall-clock time; a sandbox's
    # history is the simulated one only.
    graph.store.delete_history_before(now_us() + 1)
    return graph


def utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


__all__ = ["Snapshot", "fork", "sandbox", "scope_ids", "utc"]
