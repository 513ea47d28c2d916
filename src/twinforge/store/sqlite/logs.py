"""Events, history, settings and dead letters in SQLite."""

from __future__ import annotations

from typing import Any

from twinforge.store.base import (
    DeadLetter,
    EventRecord,
    HistoryPoint,
)
from twinforge.store.sqlite.connections import SQLiteConnections


class LogRows(SQLiteConnections):
    """Rows of the append-mostly tables: events, history, settings, dead letters."""

    # -- events -----------------------------------------------------------

    def append_events(self, events: list[EventRecord]) -> None:
        self._write_many(
            "INSERT INTO events (time, type, twin, relationship, data, model) VALUES (?, ?, ?, ?, ?, ?)",
            [(e.time, e.type, e.twin, e.relationship, e.data, e.model) for e in events],
        )

    # -- history ----------------------------------------------------------

    def append_history(self, points: list[HistoryPoint]) -> None:
        self._write_many(
            "INSERT OR REPLACE INTO history (twin, component, name, ts, num, value) VALUES (?, ?, ?, ?, ?, ?)",
            points,
        )

    def read_history(self, twin: str, name: str, *, component: str = "", start: int | None = None,
                     end: int | None = None, after: int | None = None, limit: int = 1000) -> list[HistoryPoint]:
        lo = max(start if start is not None else -(2**62), (after + 1) if after is not None else -(2**62))
        hi = end if end is not None else 2**62
        rows = self._query(
            "SELECT twin, component, name, ts, num, value FROM history WHERE twin = ? AND component = ? "
            "AND name = ? AND ts >= ? AND ts < ? ORDER BY ts LIMIT ?", (twin, component, name, lo, hi, limit))
        return [HistoryPoint(*r) for r in rows]

    def aggregate_history(self, twin: str, name: str, *, component: str = "", start: int, end: int,
                          bucket: int, agg: str, after: int | None = None,
                          limit: int = 1000) -> list[tuple[int, Any]]:
        function = {"min": "min(num)", "max": "max(num)", "avg": "avg(num)", "count": "count(*)",
                    "last": "value"}[agg]
        lo = start if after is None else max(start, after + bucket)
        if agg == "last":
            sql = ("SELECT b, value FROM (SELECT (ts - ?) / ? AS b, value, row_number() OVER "
                   "(PARTITION BY (ts - ?) / ? ORDER BY ts DESC) AS rn FROM history WHERE twin = ? AND "
                   "component = ? AND name = ? AND ts >= ? AND ts < ?) WHERE rn = 1 ORDER BY b LIMIT ?")
            params: tuple[Any, ...] = (start, bucket, start, bucket, twin, component, name, lo, end, limit)
        else:
            sql = (f"SELECT (ts - ?) / ? AS b, {function} FROM history WHERE twin = ? AND component = ? "
                   "AND name = ? AND ts >= ? AND ts < ? GROUP BY b ORDER BY b LIMIT ?")
            params = (start, bucket, twin, component, name, lo, end, limit)
        return [(start + int(b) * bucket, v) for b, v in self._query(sql, params)]

    def delete_history_before(self, ts: int) -> int:
        with self.transaction():
            cursor = self._conn.execute("DELETE FROM history WHERE ts < ?", (ts,))
            return int(cursor.rowcount)

    def downsample_history(self, before: int, bucket: int) -> tuple[int, int]:
        """Replace numeric points older than ``before`` by one average point per bucket."""
        with self.transaction():
            self._conn.execute("DROP TABLE IF EXISTS temp.downsampled")
            self._conn.execute(
                "CREATE TEMP TABLE downsampled AS SELECT twin, component, name, "
                "(ts / ?) * ? AS bts, avg(num) AS num FROM history WHERE ts < ? AND num IS NOT NULL "
                "GROUP BY twin, component, name, bts", (bucket, bucket, before))
            removed = self._conn.execute("DELETE FROM history WHERE ts < ? AND num IS NOT NULL",
                                         (before,)).rowcount
            added = self._conn.execute(
                "INSERT OR REPLACE INTO history (twin, component, name, ts, num, value) SELECT twin, "
                "component, name, bts, num, CAST(num AS TEXT) FROM downsampled").rowcount
            self._conn.execute("DROP TABLE temp.downsampled")
            return int(removed), int(added)

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
