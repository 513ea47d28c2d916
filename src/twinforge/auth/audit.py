"""The audit log: one row per audited request in a table of its own, indexed by time and
twin, read a page at a time, pruned past its retention (``serve --audit-retention 90d``)."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import orjson

from twinforge.history.timeutil import from_us, now_us, parse_time
from twinforge.store.recordbase import AuditRow

if TYPE_CHECKING:
    from twinforge.graph import TwinGraph

log = logging.getLogger("twinforge.audit")


def record_audit(graph: TwinGraph, entry: dict[str, Any]) -> None:
    """Append one audit entry (time added): write it from the writer thread."""
    now = now_us()
    entry = {"time": from_us(now), **entry}
    path = str(entry.get("path") or "")
    if path.startswith("/digitaltwins/"):
        entry["twin"] = unquote(path[len("/digitaltwins/"):].split("/", 1)[0])
    graph.store.append_audit([AuditRow(now, str(entry.get("actor") or ""), str(entry.get("method", "")), path,
                                       str(entry.get("twin") or ""), int(entry.get("status") or 0),
                                       orjson.dumps(entry).decode())])


def read_audit(graph: TwinGraph, *, twin: str | None = None, actor: str | None = None, start: str | None = None,
               end: str | None = None, after: tuple[int, int] | None = None,
               limit: int = 1000) -> tuple[list[dict[str, Any]], tuple[int, int] | None]:
    """One page of audit entries, oldest first, filtered by twin, actor and time range (ISO 8601),
    and where the next page starts (None after the last)."""
    rows = graph.store.read_audit(start=parse_time(start) if start else None, end=parse_time(end) if end else None,
                                  principal=actor, twin=twin, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return [orjson.loads(r.entry) for r in rows], ((rows[-1].ts, rows[-1].seq) if more and rows else None)


class AuditRetention:
    """Deletes audit rows older than ``keep`` microseconds, once at start and then every ``every`` seconds
    (every server may run it: a delete twice is a delete)."""

    def __init__(self, graph: TwinGraph, keep: int, *, every: float = 3600.0) -> None:
        self.graph = graph
        self.keep = keep
        self.every = every
        self.deleted = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def prune(self) -> int:
        removed = self.graph.store.delete_audit_before(now_us() - self.keep)
        self.deleted += removed
        return removed

    def start(self) -> None:
        def loop() -> None:
            while True:
                try:
                    self.prune()
                except Exception:
                    self.failures += 1
                    log.exception("pruning the audit log failed; retrying in %.0f s", self.every)
                if self._stop.wait(self.every):
                    return

        thread = threading.Thread(target=loop, name="twinforge-audit-retention", daemon=True)
        thread.start()  # shown once started: a close() from elsewhere never joins an unstarted thread
        self._thread = thread

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


__all__ = ["AuditRetention", "read_audit", "record_audit"]
