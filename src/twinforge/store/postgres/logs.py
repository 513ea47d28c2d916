"""Events, history (binary COPY, monthly partitions), settings, blobs and dead letters in PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from twinforge.store.base import DeadLetter, EventRecord, HistoryPoint
from twinforge.store.postgres.connections import PostgresConnections, _psycopg

_US = 1_000_000
_COPY_AT = 200  # batches from this size go through binary COPY


def _month(ts_us: int) -> tuple[int, int]:
    t = dt.datetime.fromtimestamp(ts_us / _US, dt.UTC)
    return t.year, t.month


def _month_start(year: int, month: int) -> int:
    return int(dt.datetime(year, month, 1, tzinfo=dt.UTC).timestamp()) * _US


class LogRows(PostgresConnections):
    """Rows of the append-mostly tables."""

    # -- events -----------------------------------------------------------

    def append_events(self, events: list[EventRecord]) -> None:
        self._write_many(
            "INSERT INTO events (time, type, twin, relationship, data, model) VALUES (%s, %s, %s, %s, %s, %s)",
            [(e.time, e.type, e.twin, e.relationship, e.data, e.model) for e in events])

    # -- history ----------------------------------------------------------

    def ensure_partitions(self, ts_values: list[int]) -> None:
        """Monthly partitions for these times (and the next month), made once."""
        months = {_month(ts) for ts in ts_values}
        if ts_values:
            y, m = _month(max(ts_values))
            months.add((y + m // 12, m % 12 + 1))
        for year, month in sorted(months):
            name = f"history_{year:04d}_{month:02d}"
            if name in self._partitions:
                continue
            lo = _month_start(year, month)
            hi = _month_start(year + month // 12, month % 12 + 1)
            exists = self._one("SELECT to_regclass(%s) IS NOT NULL", (name,))
            if not (exists and exists[0]):
                with self.transaction():
                    self._move_from_default(name, lo, hi)
            self._partitions.add(name)

    def _move_from_default(self, name: str, lo: int, hi: int) -> None:
        """Create a partition; rows already in the default partition for its range move into it."""
        conn = self._conn
        if conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]:
            return
        conn.execute(f"CREATE TABLE {name} (LIKE history INCLUDING DEFAULTS)")
        conn.execute(f"INSERT INTO {name} SELECT * FROM history_default WHERE ts >= %s AND ts < %s", (lo, hi))
        conn.execute("DELETE FROM history_default WHERE ts >= %s AND ts < %s", (lo, hi))
        conn.execute(f"ALTER TABLE history ATTACH PARTITION {name} FOR VALUES FROM ({lo}) TO ({hi})")

    def append_history(self, points: list[HistoryPoint]) -> None:
        if not points:
            return
        self.ensure_partitions([p[3] for p in points])
        with self.transaction():
            conn = self._conn
            if len(points) < _COPY_AT:
                self._write_many(
                    "INSERT INTO history (twin, component, name, ts, num, value) VALUES (%s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (twin, component, name, ts) DO UPDATE SET num = EXCLUDED.num, "
                    "value = EXCLUDED.value", points)
                return
            keys = {(p[0], p[1], p[2], p[3]) for p in points}
            if len(keys) == len(points):
                # The common case, new points only: COPY straight into the partitioned table. A
                # point stored before (a redelivered message) makes it fail; the savepoint
                # undoes that and the upsert below replaces such points instead.
                try:
                    with conn.transaction(), conn.cursor() as cursor, cursor.copy(
                            "COPY history (twin, component, name, ts, num, value) FROM STDIN WITH (FORMAT BINARY)"
                    ) as copy:
                        copy.set_types(["text", "text", "text", "int8", "float8", "text"])
                        for p in points:
                            copy.write_row(p)
                    return
                except _psycopg().errors.UniqueViolation:
                    pass
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS history_in (n BIGINT, twin TEXT, component TEXT, "
                         "name TEXT, ts BIGINT, num DOUBLE PRECISION, value TEXT) ON COMMIT DELETE ROWS")
            with conn.cursor() as cursor, cursor.copy(
                    "COPY history_in (n, twin, component, name, ts, num, value) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "text", "text", "text", "int8", "float8", "text"])
                for n, p in enumerate(points):
                    copy.write_row((n, p[0], p[1], p[2], p[3], p[4], p[5]))
            # the last of duplicate points wins, as INSERT OR REPLACE does in SQLite
            conn.execute("INSERT INTO history (twin, component, name, ts, num, value) "
                         "SELECT DISTINCT ON (twin, component, name, ts) twin, component, name, ts, num, value "
                         "FROM history_in ORDER BY twin, component, name, ts, n DESC "
                         "ON CONFLICT (twin, component, name, ts) DO UPDATE SET num = EXCLUDED.num, "
                         "value = EXCLUDED.value")

    def read_history(self, twin: str, name: str, *, component: str = "", start: int | None = None,
                     end: int | None = None, after: int | None = None, limit: int = 1000) -> list[HistoryPoint]:
        lo = max(start if start is not None else -(2**62), (after + 1) if after is not None else -(2**62))
        hi = end if end is not None else 2**62
        rows = self._query("SELECT twin, component, name, ts, num, value FROM history WHERE twin = %s AND "
                           "component = %s AND name = %s AND ts >= %s AND ts < %s ORDER BY ts LIMIT %s",
                           (twin, component, name, lo, hi, limit))
        return [HistoryPoint(*r) for r in rows]

    def aggregate_history(self, twin: str, name: str, *, component: str = "", start: int, end: int,
                          bucket: int, agg: str, after: int | None = None,
                          limit: int = 1000) -> list[tuple[int, Any]]:
        function = {"min": "min(num)", "max": "max(num)", "avg": "avg(num)", "count": "count(*)"}.get(agg)
        lo = start if after is None else max(start, after + bucket)
        if agg == "last":
            sql = ("SELECT DISTINCT ON (b) b, value FROM (SELECT (ts - %s) / %s AS b, ts, value FROM history "
                   "WHERE twin = %s AND component = %s AND name = %s AND ts >= %s AND ts < %s) AS h "
                   "ORDER BY b, ts DESC LIMIT %s")
            params: tuple[Any, ...] = (start, bucket, twin, component, name, lo, end, limit)
        else:
            sql = (f"SELECT (ts - %s) / %s AS b, {function} FROM history WHERE twin = %s AND component = %s "
                   "AND name = %s AND ts >= %s AND ts < %s GROUP BY b ORDER BY b LIMIT %s")
            params = (start, bucket, twin, component, name, lo, end, limit)
        out: list[tuple[int, Any]] = []
        for b, v in self._query(sql, params):
            out.append((start + int(b) * bucket, float(v) if agg in ("min", "max", "avg") and v is not None
                        else int(v) if agg == "count" else v))
        return out

    def delete_history_before(self, ts: int) -> int:
        with self.transaction():
            return int(self._conn.execute("DELETE FROM history WHERE ts < %s", (ts,)).rowcount)

    def downsample_history(self, before: int, bucket: int) -> tuple[int, int]:
        with self.transaction():
            conn = self._conn
            conn.execute("CREATE TEMP TABLE downsampled ON COMMIT DROP AS SELECT twin, component, name, "
                         "(ts / %s) * %s AS bts, avg(num) AS num FROM history WHERE ts < %s AND num IS NOT NULL "
                         "GROUP BY twin, component, name, bts", (bucket, bucket, before))
            removed = conn.execute("DELETE FROM history WHERE ts < %s AND num IS NOT NULL", (before,)).rowcount
            added = conn.execute(
                "INSERT INTO history (twin, component, name, ts, num, value) SELECT twin, component, name, bts, num, "
                "num::text FROM downsampled ON CONFLICT (twin, component, name, ts) DO UPDATE SET num = EXCLUDED.num, "
                "value = EXCLUDED.value").rowcount
            return int(removed), int(added)

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
