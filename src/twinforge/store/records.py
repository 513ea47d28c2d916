"""Typed records, the audit log and alerts: SQL written once for SQLite and PostgreSQL.

Records are small JSON documents by (kind, key); every change of a kind bumps that kind's
version in ``meta``, so a cache in any process sharing the store sees it with one cheap read.
The audit log and alerts have tables of their own, indexed by time, read a page at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from twinforge.store.recordbase import AuditRow


class RecordRows:
    """Mixed into a store's row classes after its connections class."""

    if TYPE_CHECKING:  # given by the store's connections class
        from contextlib import AbstractContextManager

        def transaction(self) -> AbstractContextManager[None]: ...
        def _sql(self, sql: str) -> str: ...
        def _query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
        def _one(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None: ...
        def _write(self, sql: str, args: Sequence[Any] = ()) -> Any: ...
        def _write_many(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None: ...

    # -- records ----------------------------------------------------------

    def _bump(self, kind: str) -> None:
        self._write(self._sql("INSERT INTO meta (key, value) VALUES (?, 1) ON CONFLICT (key) "
                              "DO UPDATE SET value = meta.value + 1"), (f"records:{kind}",))

    def get_record(self, kind: str, key: str) -> str | None:
        row = self._one(self._sql("SELECT value FROM records WHERE kind = ? AND key = ?"), (kind, key))
        return str(row[0]) if row else None

    def put_record(self, kind: str, key: str, value: str) -> None:
        with self.transaction():
            self._write(self._sql("INSERT INTO records (kind, key, value) VALUES (?, ?, ?) ON CONFLICT (kind, key) "
                                  "DO UPDATE SET value = excluded.value"), (kind, key, value))
            self._bump(kind)

    def insert_record(self, kind: str, key: str, value: str) -> bool:
        with self.transaction():
            if self._one(self._sql("SELECT 1 FROM records WHERE kind = ? AND key = ?"), (kind, key)):
                return False
            self._write(self._sql("INSERT INTO records (kind, key, value) VALUES (?, ?, ?)"), (kind, key, value))
            self._bump(kind)
            return True

    def delete_record(self, kind: str, key: str) -> bool:
        with self.transaction():
            if not self._one(self._sql("SELECT 1 FROM records WHERE kind = ? AND key = ?"), (kind, key)):
                return False
            self._write(self._sql("DELETE FROM records WHERE kind = ? AND key = ?"), (kind, key))
            self._bump(kind)
            return True

    def list_records(self, kind: str, *, after: str = "", limit: int = 1_000_000) -> list[tuple[str, str]]:
        rows = self._query(self._sql("SELECT key, value FROM records WHERE kind = ? AND key > ? ORDER BY key "
                                     "LIMIT ?"), (kind, after, limit))
        return [(str(k), str(v)) for k, v in rows]

    def records_version(self, kind: str) -> int:
        row = self._one(self._sql("SELECT value FROM meta WHERE key = ?"), (f"records:{kind}",))
        return int(row[0]) if row else 0

    # -- the audit log ----------------------------------------------------

    def append_audit(self, rows: list[AuditRow]) -> None:
        self._write_many(self._sql("INSERT INTO audit (ts, principal, method, path, twin, status, entry) "
                                   "VALUES (?, ?, ?, ?, ?, ?, ?)"),
                         [(r.ts, r.principal, r.method, r.path, r.twin, r.status, r.entry) for r in rows])

    def read_audit(self, *, start: int | None = None, end: int | None = None, principal: str | None = None,
                   twin: str | None = None, after: tuple[int, int] | None = None, limit: int = 1000) -> list[AuditRow]:
        where = ["ts >= ?", "ts < ?"]
        args: list[Any] = [start if start is not None else -(2**62), end if end is not None else 2**62]
        if after is not None:
            where.append("(ts > ? OR (ts = ? AND seq > ?))")
            args += [after[0], after[0], after[1]]
        for column, value in (("principal", principal), ("twin", twin)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        rows = self._query(self._sql(f"SELECT seq, ts, principal, method, path, twin, status, entry FROM audit WHERE "
                                     f"{' AND '.join(where)} ORDER BY ts, seq LIMIT ?"), [*args, limit])
        return [AuditRow(ts=int(r[1]), principal=str(r[2]), method=str(r[3]), path=str(r[4]), twin=str(r[5]),
                         status=int(r[6]), entry=str(r[7]), seq=int(r[0])) for r in rows]

    def delete_audit_before(self, ts: int) -> int:
        with self.transaction():
            row = self._one(self._sql("SELECT count(*) FROM audit WHERE ts < ?"), (ts,))
            self._write(self._sql("DELETE FROM audit WHERE ts < ?"), (ts,))
            return int(row[0]) if row else 0

    # -- alerts -----------------------------------------------------------

    def put_alert(self, alert_id: str, rule: str, twin: str, state: str, severity: str, raised: int,
                  document: str) -> None:
        self._write(self._sql(
            "INSERT INTO alerts (id, rule, twin, state, severity, raised, document) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET state = excluded.state, document = excluded.document"),
            (alert_id, rule, twin, state, severity, raised, document))

    def get_alert(self, alert_id: str) -> str | None:
        row = self._one(self._sql("SELECT document FROM alerts WHERE id = ?"), (alert_id,))
        return str(row[0]) if row else None

    def open_alert(self, rule: str, twin: str) -> str | None:
        """The alert of ``rule`` on ``twin`` that is not resolved (the partial index answers)."""
        row = self._one(self._sql("SELECT document FROM alerts WHERE rule = ? AND twin = ? AND state <> 'resolved'"),
                        (rule, twin))
        return str(row[0]) if row else None

    def list_alerts(self, *, state: str | None = None, twin: str | None = None, severity: str | None = None,
                    after: tuple[int, str] | None = None, limit: int = 1000) -> list[str]:
        where: list[str] = ["1 = 1"]
        args: list[Any] = []
        for column, value in (("state", state), ("twin", twin), ("severity", severity)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if after is not None:
            where.append("(raised > ? OR (raised = ? AND id > ?))")
            args += [after[0], after[0], after[1]]
        rows = self._query(self._sql(f"SELECT document FROM alerts WHERE {' AND '.join(where)} "
                                     "ORDER BY raised, id LIMIT ?"), [*args, limit])
        return [str(r[0]) for r in rows]



# Settings keys of earlier versions, moved into records on open: prefix -> kind.
LEGACY_KINDS = {"alertrule:": "alert-rule", "detector:": "detector", "rulmodel:": "rul", "workorder:": "work-order",
                "endpoint:": "endpoint", "route:": "route", "token:": "token", "tokenhash:": "token-hash",
                "job:imports:": "job.imports", "job:deletions:": "job.deletions"}


def adopt_legacy_settings(store: Any) -> int:
    """Move the records, alerts and audit entries an earlier version kept as settings into their
    own places (once: the settings rows are deleted as they move); returns how many moved."""
    import orjson

    from twinforge.history.timeutil import parse_time

    moved = 0
    with store.transaction():
        for prefix, kind in LEGACY_KINDS.items():
            for key, value in store.list_settings(prefix):
                store.put_record(kind, key.removeprefix(prefix), value)
                store.delete_setting(key)
                moved += 1
        for key, value in store.list_settings("alert:"):
            alert = orjson.loads(value)
            store.put_alert(alert["id"], alert["rule"], alert["twinId"], alert["state"], alert["severity"],
                            parse_time(alert["raisedAt"]), value)
            store.delete_setting(key)
            moved += 1
        for key, value in store.list_settings("audit:"):
            entry = orjson.loads(value)
            store.append_audit([AuditRow(parse_time(entry["time"]), str(entry.get("actor") or ""),
                                         str(entry.get("method", "")), str(entry.get("path", "")),
                                         str(entry.get("twin") or ""), int(entry.get("status", 0)), value)])
            store.delete_setting(key)
            moved += 1
    return moved


__all__ = ["LEGACY_KINDS", "RecordRows", "adopt_legacy_settings"]
