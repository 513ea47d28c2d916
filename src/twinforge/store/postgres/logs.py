"""Events, settings, blobs and dead letters in PostgreSQL (history is in `history`)."""

from __future__ import annotations

from twinforge.store.base import DeadLetter, EventRecord
from twinforge.store.postgres.connections import PostgresConnections


class LogRows(PostgresConnections):
    """Rows of the append-mostly tables."""

    # -- events -----------------------------------------------------------

    def append_events(self, events: list[EventRecord]) -> None:
        self._write_many(
            "INSERT INTO events (time, type, twin, relationship, data, model) VALUES (%s, %s, %s, %s, %s, %s)",
            [(e.time, e.type, e.twin, e.relationship, e.data, e.model) for e in events])

    # -- settings ---------------------------------------------------------

    def put_setting(self, key: str, value: str) -> None:
        self._write("INSERT INTO settings (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET "
                    "value = EXCLUDED.value", (key, value))

    def delete_setting(self, key: str) -> bool:
        return bool(self._write("DELETE FROM settings WHERE key = %s", (key,)).rowcount)

    # -- blobs ------------------------------------------------------------

    def put_blob(self, key: str, content_type: str, data: bytes) -> None:
        self._write("INSERT INTO blobs (key, content_type, data) VALUES (%s, %s, %s) ON CONFLICT (key) DO UPDATE "
                    "SET content_type = EXCLUDED.content_type, data = EXCLUDED.data", (key, content_type, data))

    def delete_blob(self, key: str) -> bool:
        return bool(self._write("DELETE FROM blobs WHERE key = %s", (key,)).rowcount)

    # -- dead letters -----------------------------------------------------

    def append_dead_letters(self, letters: list[DeadLetter]) -> None:
        self._write_many("INSERT INTO dead_letters (time, source, kind, reason, payload) VALUES (%s, %s, %s, %s, %s)",
                         [(d.time, d.source, d.kind, d.reason, d.payload) for d in letters])

    def read_dead_letters(self, after: int = 0, limit: int = 100) -> list[DeadLetter]:
        rows = self._query("SELECT seq, time, source, kind, reason, payload FROM dead_letters WHERE seq > %s "
                           "ORDER BY seq LIMIT %s", (after, limit))
        return [DeadLetter(time=r[1], source=r[2], kind=r[3], reason=r[4], payload=r[5], seq=r[0]) for r in rows]


__all__ = ["LogRows"]
