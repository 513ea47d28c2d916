"""Models, twins and relationships in SQLite."""

from __future__ import annotations

import sqlite3
from typing import Any

from twinforge.errors import Conflict
from twinforge.store.base import (
    ModelRecord,
    RelationshipRecord,
    TwinRecord,
    TwinValues,
)
from twinforge.store.sqlite.connections import SQLiteConnections
from twinforge.store.sqlite.schema import sql_path


class DocumentRows(SQLiteConnections):
    """Rows of the models, twins and relationships tables."""

    # -- models -----------------------------------------------------------

    def models_generation(self) -> int:
        row = self._one("SELECT value FROM meta WHERE key = 'models_generation'")
        return int(row[0]) if row else 0

    def _bump_models(self) -> None:
        self._conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'models_generation'")

    def put_models(self, models: list[ModelRecord]) -> None:
        with self.transaction():
            self._write_many(
                "INSERT INTO models (id, document, upload_time, decommissioned) VALUES (?, ?, ?, ?)",
                [(m.id, m.document, m.upload_time, int(m.decommissioned)) for m in models],
            )
            self._bump_models()

    def get_model(self, model_id: str) -> ModelRecord | None:
        row = self._one("SELECT id, document, upload_time, decommissioned FROM models WHERE id = ?",
                        (model_id,))
        return _model(row) if row else None

    def list_models(self) -> list[ModelRecord]:
        rows = self._query("SELECT id, document, upload_time, decommissioned FROM models ORDER BY rowid")
        return [_model(r) for r in rows]

    def set_decommissioned(self, model_id: str, value: bool) -> None:
        with self.transaction():
            self._write("UPDATE models SET decommissioned = ? WHERE id = ?", (int(value), model_id))
            self._bump_models()

    def delete_model(self, model_id: str) -> None:
        with self.transaction():
            self._write("DELETE FROM models WHERE id = ?", (model_id,))
            self._bump_models()

    def count_twins_of_model(self, model_id: str) -> int:
        row = self._one("SELECT count(*) FROM twins WHERE model = ?", (model_id,))
        return int(row[0]) if row else 0

    # -- twins ------------------------------------------------------------

    def get_twins(self, twin_ids: list[str]) -> dict[str, TwinRecord]:
        return {row[0]: TwinRecord(*row) for row in self._rows_for_ids("id, model, etag, document", twin_ids)}

    def replace_twins(self, twins: list[TwinRecord]) -> None:
        # An UPDATE keeps the row (and the model index) in place: only the document changes.
        self._write_many("UPDATE twins SET model = ?, etag = ?, document = ? WHERE id = ?",
                         [(t.model, t.etag, t.document, t.id) for t in twins])

    def data_version(self) -> int:
        """Changes whenever another connection (another process) commits to the database."""
        with self._lock:  # always the writer's connection: the number is per connection
            row = self._conn.execute("PRAGMA data_version").fetchone()
        return int(row[0]) if row else 0

    def _rows_for_ids(self, columns: str, twin_ids: list[str]) -> list[tuple[Any, ...]]:
        """Rows of twins with the given ids, queried in chunks that fit SQLite's parameter limit."""
        rows: list[tuple[Any, ...]] = []
        for k in range(0, len(twin_ids), 5000):
            chunk = tuple(twin_ids[k:k + 5000])
            marks = ", ".join("?" * len(chunk))
            rows.extend(self._query(f"SELECT {columns} FROM twins WHERE id IN ({marks})", chunk))
        return rows

    def get_twin_models(self, twin_ids: list[str]) -> dict[str, str]:
        return dict(self._rows_for_ids("id, model", twin_ids))

    def set_twin_values(self, changes: list[TwinValues]) -> None:
        """Set values (and their lastUpdateTime) inside twin documents, in SQL, without reading them.

        Rows with the same set of paths share one statement.
        """
        groups: dict[tuple[tuple[str, str], ...], list[tuple[Any, ...]]] = {}
        for change in changes:
            keys = tuple(change.values)
            row: list[Any] = [change.etag, change.etag, change.time]
            for json_value, stamp in change.values.values():
                row.append(json_value)
                row.append(stamp)
            row.append(change.twin)
            groups.setdefault(keys, []).append(tuple(row))
        with self.transaction():
            for keys, rows in groups.items():
                sets = [f"{sql_path('$etag')}, ?", f"{sql_path('$metadata', '$lastUpdateTime')}, ?"]
                for component, name in keys:
                    prefix = (component,) if component else ()
                    sets.append(f"{sql_path(*prefix, name)}, json(?)")
                    sets.append(f"{sql_path(*prefix, '$metadata', name)}, json(?)")
                sql = f"UPDATE twins SET etag = ?, document = json_set(document, {', '.join(sets)}) WHERE id = ?"
                self._conn.executemany(sql, rows)

    def get_twin(self, twin_id: str) -> TwinRecord | None:
        row = self._one("SELECT id, model, etag, document FROM twins WHERE id = ?", (twin_id,))
        return TwinRecord(*row) if row else None

    def insert_twins(self, twins: list[TwinRecord]) -> None:
        try:
            self._write_many(
                "INSERT INTO twins (id, model, etag, document) VALUES (?, ?, ?, ?)",
                [(t.id, t.model, t.etag, t.document) for t in twins],
            )
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"a twin in the batch already exists ({exc})", code="DigitalTwinAlreadyExists") from exc

    def replace_twin(self, twin: TwinRecord) -> None:
        self._write(
            "INSERT OR REPLACE INTO twins (id, model, etag, document) VALUES (?, ?, ?, ?)",
            (twin.id, twin.model, twin.etag, twin.document),
        )

    def delete_twin(self, twin_id: str) -> None:
        self._write("DELETE FROM twins WHERE id = ?", (twin_id,))

    def list_twins(self, *, model: str | None = None, after: str = "", limit: int = 100) -> list[TwinRecord]:
        if model is None:
            rows = self._query(
                "SELECT id, model, etag, document FROM twins WHERE id > ? ORDER BY id LIMIT ?",
                (after, limit))
        else:
            rows = self._query(
                "SELECT id, model, etag, document FROM twins WHERE model = ? AND id > ? "
                "ORDER BY id LIMIT ?", (model, after, limit))
        return [TwinRecord(*r) for r in rows]

    def count_twins(self) -> int:
        row = self._one("SELECT count(*) FROM twins")
        return int(row[0]) if row else 0

    # -- relationships ----------------------------------------------------

    _REL = "SELECT source, id, name, target, etag, document FROM relationships"

    def get_relationship(self, source: str, rel_id: str) -> RelationshipRecord | None:
        row = self._one(f"{self._REL} WHERE source = ? AND id = ?", (source, rel_id))
        return RelationshipRecord(*row) if row else None

    def insert_relationships(self, rels: list[RelationshipRecord]) -> None:
        try:
            self._write_many(
                "INSERT INTO relationships (source, id, name, target, etag, document) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(r.source, r.id, r.name, r.target, r.etag, r.document) for r in rels],
            )
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"a relationship in the batch already exists ({exc})",
                           code="RelationshipAlreadyExists") from exc

    def replace_relationship(self, rel: RelationshipRecord) -> None:
        self._write(
            "INSERT OR REPLACE INTO relationships (source, id, name, target, etag, document) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (rel.source, rel.id, rel.name, rel.target, rel.etag, rel.document),
        )

    def delete_relationship(self, source: str, rel_id: str) -> None:
        self._write("DELETE FROM relationships WHERE source = ? AND id = ?", (source, rel_id))

    def list_relationships(self, source: str, name: str | None = None, *, after: str = "",
                           limit: int = 1000) -> list[RelationshipRecord]:
        if name is None:
            rows = self._query(f"{self._REL} WHERE source = ? AND id > ? ORDER BY id LIMIT ?",
                               (source, after, limit))
        else:
            rows = self._query(
                f"{self._REL} WHERE source = ? AND name = ? AND id > ? ORDER BY id LIMIT ?",
                (source, name, after, limit))
        return [RelationshipRecord(*r) for r in rows]

    def list_incoming(self, target: str, *, after: tuple[str, str] = ("", ""),
                      limit: int = 1000) -> list[RelationshipRecord]:
        rows = self._query(
            f"{self._REL} WHERE target = ? AND (source, id) > (?, ?) ORDER BY source, id LIMIT ?",
            (target, after[0], after[1], limit))
        return [RelationshipRecord(*r) for r in rows]

    def count_relationships(self, source: str, name: str) -> int:
        row = self._one("SELECT count(*) FROM relationships WHERE source = ? AND name = ?",
                        (source, name))
        return int(row[0]) if row else 0

    def has_relationships(self, twin_id: str) -> bool:
        row = self._one(
            "SELECT EXISTS(SELECT 1 FROM relationships WHERE source = ?) "
            "OR EXISTS(SELECT 1 FROM relationships WHERE target = ?)", (twin_id, twin_id))
        return bool(row and row[0])


def _model(row: tuple[object, ...]) -> ModelRecord:
    return ModelRecord(str(row[0]), str(row[1]), str(row[2]), bool(row[3]))


__all__ = ["DocumentRows"]
