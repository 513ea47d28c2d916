"""Events, settings, blobs and dead letters in SQLite (history is in `history`)."""

from __future__ import annotations

from twinforge.store.base import DeadLetter, EventRecord
from twinforge.store.sqlite.connections import SQLiteConnections


class LogRows(SQLiteConnections):
    """Rows of the append-mostly tables: events, settings, blobs, dead letters."""

    # -- events -----------------------------------------------------------

    def append_events(self, events: list[EventRecord]) -> None:
        self._write_many(
            "INSERT INTO events (time, type, twin, relationship, data, model) VALUES (?, ?, ?, ?, ?, ?)",
            [(e.time, e.type, e.twin, e.relationship, e.data, e.model) for e in events],
        )

    # -- settings (event routes, endpoints, cursors) ----------------------

    def put_setting(self, key: str, value: str) -> None:
        self._write("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, value))

    def delete_setting(self, key: str) -> bool:
        with self.transaction():
            return bool(self._conn.execute("DELETE FROM settings WHERE key = ?", (key,)).rowcount)

    # -- blobs (geometry) -------------------------------------------------

    def put_blob(self, key: str, content_type: str, data: bytes) -> None:
        self._write("INSERT OR REPLACE INTO blobs (key, content_type, data) VALUES (?, ?, ?)",
                    (key, content_type, data))

    def delete_blob(self, key: str) -> bool:
        with self.transaction():
            return bool(self._conn.execute("DELETE FROM blobs WHERE key = ?", (key,)).rowcount)

    # -- dead letters -----------------------------------------------------

    def append_dead_letters(self, letters: list[DeadLetter]) -> None:
        self._write_many(
            "INSERT INTO dead_letters (time, source, kind, reason, payload) VALUES (?, ?, ?, ?, ?)",
            [(d.time, d.source, d.kind, d.reason, d.payload) for d in letters])

    def read_dead_letters(self, after: int = 0, limit: int = 100) -> list[DeadLetter]:
        rows = self._query("SELECT seq, time, source, kind, reason, payload FROM dead_letters WHERE seq > ? "
                           "ORDER BY seq LIMIT ?", (after, limit))
        return [DeadLetter(time=r[1], source=r[2], kind=r[3], reason=r[4], payload=r[5], seq=r[0])
                for r in rows]


__all__ = ["LogRows"]
