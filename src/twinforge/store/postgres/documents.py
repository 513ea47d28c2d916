"""Models, twins and relationships in PostgreSQL."""

from __future__ import annotations

import json

from twinforge.errors import Conflict
from twinforge.store.base import ModelRecord, RelationshipRecord, TwinRecord, TwinValues
from twinforge.store.common import CommonRows, model_record
from twinforge.store.postgres.connections import PostgresConnections, _psycopg


class DocumentRows(PostgresConnections, CommonRows):
    """Rows of the models, twins and relationships tables."""

    # -- models -----------------------------------------------------------

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

    def list_models(self) -> list[ModelRecord]:
        return [model_record(r) for r in self._query(
            "SELECT id, document, upload_time, decommissioned FROM models ORDER BY seq")]

    def set_decommissioned(self, model_id: str, value: bool) -> None:
        with self.transaction():
            self._write("UPDATE models SET decommissioned = %s WHERE id = %s", (value, model_id))
            self._bump_models()

    def delete_model(self, model_id: str) -> None:
        with self.transaction():
            self._write("DELETE FROM models WHERE id = %s", (model_id,))
            self._bump_models()

    # -- twins ------------------------------------------------------------

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
            with self.transaction():
                self._write_many("INSERT INTO twins (id, model, etag, document) VALUES (%s, %s, %s, %s)",
                                 [(t.id, t.model, t.etag, t.document) for t in twins])
                self._write(self._TWINS_CHANGED)
        except _psycopg().errors.UniqueViolation as exc:
            raise Conflict(f"a twin in the batch already exists ({_first(exc)})",
                           code="DigitalTwinAlreadyExists") from None

    def replace_twin(self, twin: TwinRecord) -> None:
        self.replace_twins([twin], upsert=True)

    def replace_twins(self, twins: list[TwinRecord], *, upsert: bool = False) -> None:
        with self.transaction():
            self._write_many(f"{self._sql(self._TWINS_CHANGED)} AND NOT EXISTS "
                             "(SELECT 1 FROM twins WHERE id = %s AND model = %s)", [(t.id, t.model) for t in twins])
            self._replace_twins(twins, upsert)

    def _replace_twins(self, twins: list[TwinRecord], upsert: bool) -> None:
        if upsert:
            self._write_many(
                "INSERT INTO twins (id, model, etag, document) VALUES (%s, %s, %s, %s) ON CONFLICT (id) "
                "DO UPDATE SET model = EXCLUDED.model, etag = EXCLUDED.etag, document = EXCLUDED.document",
                [(t.id, t.model, t.etag, t.document) for t in twins])
        else:
            self._write_many("UPDATE twins SET model = %s, etag = %s, document = %s WHERE id = %s",
                             [(t.model, t.etag, t.document, t.id) for t in twins])

    # -- relationships ----------------------------------------------------

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


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]


__all__ = ["DocumentRows"]
