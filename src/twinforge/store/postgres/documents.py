"""Models, twins and relationships in PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

from twinforge.errors import Conflict
from twinforge.store.base import ModelRecord, RelationshipRecord, TwinRecord, TwinValues
from twinforge.store.postgres.connections import PostgresConnections, _psycopg


class DocumentRows(PostgresConnections):
    """Rows of the models, twins and relationships tables."""

    # -- models -----------------------------------------------------------

    def models_generation(self) -> int:
        row = self._one("SELECT value FROM meta WHERE key = 'models_generation'")
        return int(row[0]) if row else 0

    def _bump_models(self) -> None:
        self._conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'models_generation'")

    def put_models(self, models: list[ModelRecord]) -> None:
        with self.transaction():
            try:
                self._write_many(
                    "INSERT INTO models (id, document, upload_time, decommissioned) VALUES (%s, %s, %s, %s)",
                    [(m.id, m.document, m.upload_time, m.decommissioned) for m in models])
            except _psycopg().errors.UniqueViolation as exc:
                raise Conflict(f"a model in the batch already exists ({_first(exc)})",
                               code="ModelIdAlreadyExists") from None
            self._bump_models()

    def get_model(self, model_id: str) -> ModelRecord | None:
        row = self._one("SELECT id, document, upload_time, decommissioned FROM models WHERE id = %s", (model_id,))
        return _model(row) if row else None

    def list_models(self) -> list[ModelRecord]:
        return [_model(r) for r in self._query(
            "SELECT id, document, upload_time, decommissioned FROM models ORDER BY seq")]

    def set_decommissioned(self, model_id: str, value: bool) -> None:
        with self.transaction():
            self._write("UPDATE models SET decommissioned = %s WHERE id = %s", (value, model_id))
            self._bump_models()

    def delete_model(self, model_id: str) -> None:
        with self.transaction():
            self._write("DELETE FROM models WHERE id = %s", (model_id,))
            self._bump_models()

    def count_twins_of_model(self, model_id: str) -> int:
        row = self._one("SELECT count(*) FROM twins WHERE model = %s", (model_id,))
        return int(row[0]) if row else 0

    # -- twins ------------------------------------------------------------

    def get_twin(self, twin_id: str) -> TwinRecord | None:
        row = self._one("SELECT id, model, etag, document FROM twins WHERE id = %s", (twin_id,))
        return TwinRecord(*row) if row else None

    def get_twins(self, twin_ids: list[str]) -> dict[str, TwinRecord]:
        rows = self._query("SELECT id, model, etag, document FROM twins WHERE id = ANY(%s)", (list(twin_ids),))
        return {row[0]: TwinRecord(*row) for row in rows}

    def get_twin_models(self, twin_ids: list[str]) -> dict[str, str]:
        return {str(r[0]): str(r[1]) for r in self._query("SELECT id, model FROM twins WHERE id = ANY(%s)",
                                                          (list(twin_ids),))}

    def set_twin_values(self, changes: list[TwinValues]) -> None:
        """Set values (and their lastUpdateTime) inside twin documents: read, change, write back,
        in one transaction (writers are one at a time)."""
        if not changes:
            return
        with self.transaction():
            ids = list({c.twin for c in changes})
            docs = {r[0]: json.loads(r[1]) for r in self._query(
                "SELECT id, document FROM twins WHERE id = ANY(%s)", (ids,))}
            etags: dict[str, str] = {}
            for change in changes:
                doc = docs.get(change.twin)
                if doc is None:
                    continue
                doc["$etag"] = change.etag
                doc.setdefault("$metadata", {})["$lastUpdateTime"] = change.time
                for (component, name), (json_value, stamp) in change.values.items():
                    target = doc.setdefault(component, {}) if component else doc
                    target[name] = json.loads(json_value)
                    target.setdefault("$metadata", {})[name] = json.loads(stamp)
                etags[change.twin] = change.etag
            self._write_many("UPDATE twins SET etag = %s, document = %s WHERE id = %s",
                             [(etags[i], json.dumps(docs[i], separators=(",", ":"), ensure_ascii=False), i)
                              for i in etags])

    def insert_twins(self, twins: list[TwinRecord]) -> None:
        try:
            self._write_many("INSERT INTO twins (id, model, etag, document) VALUES (%s, %s, %s, %s)",
                             [(t.id, t.model, t.etag, t.document) for t in twins])
        except _psycopg().errors.UniqueViolation as exc:
            raise Conflict(f"a twin in the batch already exists ({_first(exc)})",
                           code="DigitalTwinAlreadyExists") from None

    def replace_twin(self, twin: TwinRecord) -> None:
        self.replace_twins([twin], upsert=True)

    def replace_twins(self, twins: list[TwinRecord], *, upsert: bool = False) -> None:
        if upsert:
            self._write_many(
                "INSERT INTO twins (id, model, etag, document) VALUES (%s, %s, %s, %s) ON CONFLICT (id) "
                "DO UPDATE SET model = EXCLUDED.model, etag = EXCLUDED.etag, document = EXCLUDED.document",
                [(t.id, t.model, t.etag, t.document) for t in twins])
        else:
            self._write_many("UPDATE twins SET model = %s, etag = %s, document = %s WHERE id = %s",
                             [(t.model, t.etag, t.document, t.id) for t in twins])

    def delete_twin(self, twin_id: str) -> None:
        self._write("DELETE FROM twins WHERE id = %s", (twin_id,))

    def list_twins(self, *, model: str | None = None, after: str = "", limit: int = 100) -> list[TwinRecord]:
        if model is None:
            rows = self._query("SELECT id, model, etag, document FROM twins WHERE id > %s ORDER BY id LIMIT %s",
                               (after, limit))
        else:
            rows = self._query("SELECT id, model, etag, document FROM twins WHERE model = %s AND id > %s "
                               "ORDER BY id LIMIT %s", (model, after, limit))
        return [TwinRecord(*r) for r in rows]

    def count_twins(self) -> int:
        row = self._one("SELECT count(*) FROM twins")
        return int(row[0]) if row else 0

    # -- relationships ----------------------------------------------------

    _REL = "SELECT source, id, name, target, etag, document FROM relationships"

    def get_relationship(self, source: str, rel_id: str) -> RelationshipRecord | None:
        row = self._one(f"{self._REL} WHERE source = %s AND id = %s", (source, rel_id))
        return RelationshipRecord(*row) if row else None

    def insert_relationships(self, rels: list[RelationshipRecord]) -> None:
        try:
            self._write_many(
                "INSERT INTO relationships (source, id, name, target, etag, document) VALUES (%s, %s, %s, %s, %s, %s)",
                [(r.source, r.id, r.name, r.target, r.etag, r.document) for r in rels])
        except _psycopg().errors.UniqueViolation as exc:
            raise Conflict(f"a relationship in the batch already exists ({_first(exc)})",
                           code="RelationshipAlreadyExists") from None

    def replace_relationship(self, rel: RelationshipRecord) -> None:
        self._write(
            "INSERT INTO relationships (source, id, name, target, etag, document) VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (source, id) DO UPDATE SET name = EXCLUDED.name, target = EXCLUDED.target, "
            "etag = EXCLUDED.etag, document = EXCLUDED.document",
            (rel.source, rel.id, rel.name, rel.target, rel.etag, rel.document))

    def delete_relationship(self, source: str, rel_id: str) -> None:
        self._write("DELETE FROM relationships WHERE source = %s AND id = %s", (source, rel_id))

    def list_relationships(self, source: str, name: str | None = None, *, after: str = "",
                           limit: int = 1000) -> list[RelationshipRecord]:
        if name is None:
            rows = self._query(f"{self._REL} WHERE source = %s AND id > %s ORDER BY id LIMIT %s",
                               (source, after, limit))
        else:
            rows = self._query(f"{self._REL} WHERE source = %s AND name = %s AND id > %s ORDER BY id LIMIT %s",
                               (source, name, after, limit))
        return [RelationshipRecord(*r) for r in rows]

    def list_incoming(self, target: str, *, after: tuple[str, str] = ("", ""),
                      limit: int = 1000) -> list[RelationshipRecord]:
        rows = self._query(f"{self._REL} WHERE target = %s AND (source, id) > (%s, %s) ORDER BY source, id LIMIT %s",
                           (target, after[0], after[1], limit))
        return [RelationshipRecord(*r) for r in rows]

    def count_relationships(self, source: str, name: str) -> int:
        row = self._one("SELECT count(*) FROM relationships WHERE source = %s AND name = %s", (source, name))
        return int(row[0]) if row else 0

    def has_relationships(self, twin_id: str) -> bool:
        row = self._one("SELECT EXISTS(SELECT 1 FROM relationships WHERE source = %s) "
                        "OR EXISTS(SELECT 1 FROM relationships WHERE target = %s)", (twin_id, twin_id))
        return bool(row and row[0])


def _model(row: tuple[Any, ...]) -> ModelRecord:
    return ModelRecord(str(row[0]), str(row[1]), str(row[2]), bool(row[3]))


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]


__all__ = ["DocumentRows"]
