"""Reads and plain writes whose SQL is the same on SQLite and on PostgreSQL.

The SQL here is written once, with ``?`` marks; each store's connections give ``_sql``, which
turns the marks into its driver's (``%s`` for psycopg). What differs between the two databases
(upserts, JSON, bulk loads, errors) stays in each store's own modules.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from twinforge.store.base import (
    EventRecord,
    HistoryPoint,
    ModelRecord,
    RelationshipRecord,
    TwinRecord,
)


class CommonRows:
    """Mixed into a store's row classes after its connections class."""

    if TYPE_CHECKING:  # given by the store's connections class
        def _sql(self, sql: str) -> str: ...
        def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
        def _one(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None: ...
        def _write(self, sql: str, args: Sequence[Any] = ()) -> Any: ...
        def transaction(self) -> AbstractContextManager[None]: ...

    def _count(self, sql: str, args: Sequence[Any] = ()) -> int:
        row = self._one(self._sql(sql), args)
        return int(row[0]) if row else 0

    # -- models -----------------------------------------------------------

    def models_generation(self) -> int:
        return self._count("SELECT value FROM meta WHERE key = 'models_generation'")

    def get_model(self, model_id: str) -> ModelRecord | None:
        row = self._one(self._sql("SELECT id, document, upload_time, decommissioned FROM models WHERE id = ?"),
                        (model_id,))
        return model_record(row) if row else None

    def count_twins_of_model(self, model_id: str) -> int:
        return self._count("SELECT count(*) FROM twins WHERE model = ?", (model_id,))

    # -- twins ------------------------------------------------------------

    _TWIN = "SELECT id, model, etag, document FROM twins"

    def get_twin(self, twin_id: str) -> TwinRecord | None:
        row = self._one(self._sql(f"{self._TWIN} WHERE id = ?"), (twin_id,))
        return TwinRecord(*row) if row else None

    def delete_twin(self, twin_id: str) -> None:
        with self.transaction():
            self._write(self._sql("DELETE FROM twins WHERE id = ?"), (twin_id,))
            self._write(self._TWINS_CHANGED)

    _TWINS_CHANGED = "UPDATE meta SET value = value + 1 WHERE key = 'twins_version'"

    def twins_version(self) -> int:
        return self._count("SELECT value FROM meta WHERE key = 'twins_version'")

    def list_twins(self, *, model: str | None = None, after: str = "", limit: int = 100) -> list[TwinRecord]:
        if model is None:
            rows = self._query(self._sql(f"{self._TWIN} WHERE id > ? ORDER BY id LIMIT ?"), (after, limit))
        else:
            rows = self._query(self._sql(f"{self._TWIN} WHERE model = ? AND id > ? ORDER BY id LIMIT ?"),
                               (model, after, limit))
        return [TwinRecord(*r) for r in rows]

    def count_twins(self) -> int:
        return self._count("SELECT count(*) FROM twins")

    # -- relationships ----------------------------------------------------

    _REL = "SELECT source, id, name, target, etag, document FROM relationships"

    def get_relationship(self, source: str, rel_id: str) -> RelationshipRecord | None:
        row = self._one(self._sql(f"{self._REL} WHERE source = ? AND id = ?"), (source, rel_id))
        return RelationshipRecord(*row) if row else None

    def delete_relationship(self, source: str, rel_id: str) -> None:
        self._write(self._sql("DELETE FROM relationships WHERE source = ? AND id = ?"), (source, rel_id))

    def list_relationships(self, source: str, name: str | None = None, *, after: str = "",
                           limit: int = 1000) -> list[RelationshipRecord]:
        if name is None:
            rows = self._query(self._sql(f"{self._REL} WHERE source = ? AND id > ? ORDER BY id LIMIT ?"),
                               (source, after, limit))
        else:
            rows = self._query(
                self._sql(f"{self._REL} WHERE source = ? AND name = ? AND id > ? ORDER BY id LIMIT ?"),
                (source, name, after, limit))
        return [RelationshipRecord(*r) for r in rows]

    def list_incoming(self, target: str, *, after: tuple[str, str] = ("", ""),
                      limit: int = 1000) -> list[RelationshipRecord]:
        rows = self._query(
            self._sql(f"{self._REL} WHERE target = ? AND (source, id) > (?, ?) ORDER BY source, id LIMIT ?"),
            (target, after[0], after[1], limit))
        return [RelationshipRecord(*r) for r in rows]

    def count_relationships(self, source: str, name: str) -> int:
        return self._count("SELECT count(*) FROM relationships WHERE source = ? AND name = ?", (source, name))

    def existing_relationships(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        for k in range(0, len(keys), 400):  # 800 parameters a query: within every SQLite's limit
            part = keys[k:k + 400]
            # OR of key lookups: both stores search the primary key for each (SQLite scans the
            # table for a row-value IN over VALUES)
            where = " OR ".join(["(source = ? AND id = ?)"] * len(part))
            rows = self._query(self._sql(f"SELECT source, id FROM relationships WHERE {where}"),
                               [v for key in part for v in key])
            found.update((str(r[0]), str(r[1])) for r in rows)
        return found

    def has_relationships(self, twin_id: str) -> bool:
        row = self._one(self._sql("SELECT EXISTS(SELECT 1 FROM relationships WHERE source = ?) "
                                  "OR EXISTS(SELECT 1 FROM relationships WHERE target = ?)"), (twin_id, twin_id))
        return bool(row and row[0])

    # -- events and dead letters -----------------------------------------

    def read_events(self, after: int = 0, limit: int = 1000) -> list[EventRecord]:
        rows = self._query(self._sql("SELECT seq, time, type, twin, relationship, data, model FROM events "
                                     "WHERE seq > ? ORDER BY seq LIMIT ?"), (after, limit))
        return [EventRecord(time=r[1], type=r[2], twin=r[3], relationship=r[4], data=r[5], model=r[6], seq=r[0])
                for r in rows]

    def last_event_seq(self) -> int:
        row = self._one("SELECT max(seq) FROM events")
        return int(row[0]) if row and row[0] is not None else 0

    def iter_events(self, after: int = 0) -> Iterator[EventRecord]:
        while True:
            batch = self.read_events(after, 1000)
            if not batch:
                return
            yield from batch
            after = batch[-1].seq

    def count_dead_letters(self) -> dict[str, int]:
        rows = self._query("SELECT kind, count(*) FROM dead_letters GROUP BY kind ORDER BY kind")
        return {str(kind): int(n) for kind, n in rows}

    # -- history ----------------------------------------------------------

    def last_history(self, twin: str, name: str, *, component: str = "") -> HistoryPoint | None:
        row = self._one(self._sql("SELECT twin, component, name, ts, num, value FROM history WHERE twin = ? AND "
                                  "component = ? AND name = ? ORDER BY ts DESC LIMIT 1"), (twin, component, name))
        return HistoryPoint(*row) if row else None

    # -- settings and blobs -----------------------------------------------

    def get_setting(self, key: str) -> str | None:
        row = self._one(self._sql("SELECT value FROM settings WHERE key = ?"), (key,))
        return str(row[0]) if row else None

    def list_settings(self, prefix: str) -> list[tuple[str, str]]:
        rows = self._query(self._sql("SELECT key, value FROM settings WHERE key >= ? AND key < ? ORDER BY key"),
                           (prefix, prefix + "\uffff"))
        return [(str(k), str(v)) for k, v in rows]

    def get_blob(self, key: str) -> tuple[str, bytes] | None:
        row = self._one(self._sql("SELECT content_type, data FROM blobs WHERE key = ?"), (key,))
        return (str(row[0]), bytes(row[1])) if row else None


def model_record(row: tuple[Any, ...]) -> ModelRecord:
    return ModelRecord(str(row[0]), str(row[1]), str(row[2]), bool(row[3]))


__all__ = ["CommonRows", "model_record"]
