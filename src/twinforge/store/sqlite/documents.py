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
from twinforge.store.common import CommonRows, model_record
from twinforge.store.sqlite.connections import SQLiteConnections
from twinforge.store.sqlite.schema import sql_path


class DocumentRows(SQLiteConnections, CommonRows):
    """Rows of the models, twins and relationships tables."""

    # -- models -----------------------------------------------------------

    def _bump_models(self) -> None:
        self._conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'models_generation'")

    def put_models(self, models: list[ModelRecord]) -> None:
        with self.transaction():
            self._write_many(
                "INSERT INTO models (id, document, upload_time, decommissioned) VALUES (?, ?, ?, ?)",
                [(m.id, m.document, m.upload_time, int(m.decommissioned)) for m in models],
            )
            self._bump_models()

    def list_models(self) -> list[ModelRecord]:
        rows = self._query("SELECT id, document, upload_time, decommissioned FROM models ORDER BY rowid")
        return [model_record(r) for r in rows]

    def set_decommissioned(self, model_id: str, value: bool) -> None:
        with self.transaction():
            self._write("UPDATE models SET decommissioned = ? WHERE id = ?", (int(value), model_id))
            self._bump_models()

    def delete_model(self, model_id: str) -> None:
        with self.transaction():
            self._write("DELETE FROM models WHERE id = ?", (model_id,))
            self._bump_models()

    # -- twins ------------------------------------------------------------

    def get_twins(self, twin_ids: list[str]) -> dict[str, TwinRecord]:
        return {row[0]: TwinRecord(*row) for row in self._rows_for_ids("id, model, etag, document", twin_ids)}

    def replace_twins(self, twins: list[TwinRecord]) -> None:
        # An UPDATE keeps the row (and the model index) in place: only the document changes.
        with self.transaction():
            self._count_model_changes(twins)
            self._write_many("UPDATE twins SET model = ?, etag = ?, document = ? WHERE id = ?",
                             [(t.model, t.etag, t.document, t.id) for t in twins])

    def _count_model_changes(self, twins: list[TwinRecord]) -> None:
        """Move the twins' version if one of these twins is new or changes model (call before
        writing them, in their transaction)."""
        self._write_many(f"{self._TWINS_CHANGED} AND NOT EXISTS (SELECT 1 FROM twins WHERE id = ? AND model = ?)",
                         [(t.id, t.model) for t in twins])

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

    def insert_twins(self, twins: list[TwinRecord]) -> None:
        try:
            with self.transaction():
                self._write_many(
                    "INSERT INTO twins (id, model, etag, document) VALUES (?, ?, ?, ?)",
                    [(t.id, t.model, t.etag, t.document) for t in twins],
                )
                self._write(self._TWINS_CHANGED)
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"a twin in the batch already exists ({exc})", code="DigitalTwinAlreadyExists") from exc

    def replace_twin(self, twin: TwinRecord) -> None:
        with self.transaction():
            self._count_model_changes([twin])
            self._write(
                "INSERT OR REPLACE INTO twins (id, model, etag, document) VALUES (?, ?, ?, ?)",
                (twin.id, twin.model, twin.etag, twin.document),
            )

    # -- relationships ----------------------------------------------------

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


__all__ = ["DocumentRows"]
