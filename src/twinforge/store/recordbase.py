"""The storage contract for records, the audit log and alerts (the sum is `store.base.TwinStore`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One audited request. ``ts`` is microseconds since the epoch; ``entry`` the whole entry as JSON."""

    ts: int
    principal: str
    method: str
    path: str
    twin: str  # the twin the request is about, or ""
    status: int
    entry: str
    seq: int = 0


class RecordStore(Protocol):
    """Typed records (rules, detectors, tokens, jobs, routes, ...) as JSON by (kind, key), each
    kind with a version that every change bumps, so caches in every process can follow."""

    def get_record(self, kind: str, key: str) -> str | None:
        """The record's JSON, or None."""
        ...

    def put_record(self, kind: str, key: str, value: str) -> None:
        """Create or replace a record."""
        ...

    def insert_record(self, kind: str, key: str, value: str) -> bool:
        """Create a record; False (nothing written) when the key is taken."""
        ...

    def delete_record(self, kind: str, key: str) -> bool:
        """Delete a record; whether it existed."""
        ...

    def list_records(self, kind: str, *, after: str = "", limit: int = 1_000_000) -> list[tuple[str, str]]:
        """(key, JSON) of the records of a kind with keys after ``after``, in key order."""
        ...

    def records_version(self, kind: str) -> int:
        """A number that changes whenever a record of ``kind`` does (0 before any)."""
        ...


class AuditStore(Protocol):
    """The audit log: one row per audited request, by time."""

    def append_audit(self, rows: list[AuditRow]) -> None:
        """Append audit rows."""
        ...

    def read_audit(self, *, start: int | None = None, end: int | None = None, principal: str | None = None,
                   twin: str | None = None, after: tuple[int, int] | None = None, limit: int = 1000) -> list[AuditRow]:
        """Rows within [start, end), oldest first, after the (ts, seq) position ``after``."""
        ...

    def delete_audit_before(self, ts: int) -> int:
        """Drop the rows older than ``ts``; returns how many."""
        ...


class AlertStore(Protocol):
    """Alerts, by time, with the open alert of a rule and twin found by index."""

    def put_alert(self, alert_id: str, rule: str, twin: str, state: str, severity: str, raised: int,
                  document: str) -> None:
        """Create or update an alert (its state and document)."""
        ...

    def get_alert(self, alert_id: str) -> str | None:
        """The alert's JSON, or None."""
        ...

    def open_alert(self, rule: str, twin: str) -> str | None:
        """The JSON of the alert of ``rule`` on ``twin`` that is not resolved, or None."""
        ...

    def list_alerts(self, *, state: str | None = None, twin: str | None = None, severity: str | None = None,
                    after: tuple[int, str] | None = None, limit: int = 1000) -> list[str]:
        """Alerts' JSON by time raised, after the (raised, id) position ``after``."""
        ...


__all__ = ["AlertStore", "AuditRow", "AuditStore", "RecordStore"]
