"""History in PostgreSQL, kept as chunks: one row per series and UTC day per write (see
`schema.HISTORY_POINTS`), partitioned by month, bulk-loaded with COPY."""

from __future__ import annotations

import datetime as dt
import math
import operator
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson

from twinforge.store.base import HistoryPoint
from twinforge.store.postgres.connections import PostgresConnections
from twinforge.store.postgres.schema import DAY_US, HISTORY_POINTS, chunks_from_rows_sql

_US = 1_000_000
_COPY_AT = 200  # writes of this many points and more go through COPY
_NO_END = 2**62
_TS = operator.itemgetter(3)
_NUM = operator.itemgetter(4)
_TRIPLE = operator.itemgetter(3, 4, 5)

# One series' points between two times, each at most once (the latest write), as rows.
_SERIES_POINTS = HISTORY_POINTS.format(
    where="WHERE h.twin = %s AND h.component = %s AND h.name = %s AND h.first_ts >= %s AND h.first_ts < %s "
          "AND h.last_ts >= %s")


def _month(ts_us: int) -> tuple[int, int]:
    t = dt.datetime.fromtimestamp(ts_us / _US, dt.UTC)
    return t.year, t.month


def _month_start(year: int, month: int) -> int:
    return int(dt.datetime(year, month, 1, tzinfo=dt.UTC).timestamp()) * _US


def _day_start(ts: int) -> int:
    return ts - ts % DAY_US


def _number(num: Any) -> Any:
    """A point's number as JSON can carry it: the infinities as PostgreSQL spells them, and NaN
    as no number (SQLite stores NaN as NULL too)."""
    if num is None or math.isfinite(num):
        return num
    return None if num != num else ("Infinity" if num > 0 else "-Infinity")


def chunk_rows(points: Sequence[HistoryPoint]) -> Iterator[tuple[str, str, str, int, int, str]]:
    """(twin, component, name, first_ts, last_ts, points JSON) per series and day, points in time
    order; of points at the same time in the batch, the last one wins. The points are grouped
    at once, and each chunk's JSON made as it is asked for (while a COPY sends the ones before)."""
    groups: dict[tuple[str, str, str, int], list[HistoryPoint]] = {}
    for p in points:
        key = (p[0], p[1], p[2], p[3] // DAY_US)
        group = groups.get(key)
        if group is None:
            groups[key] = [p]
        else:
            group.append(p)
    # one pass in C: the sum of the numbers is finite unless one of them is not (or they overflow)
    finite = math.isfinite(sum(filter(None, map(_NUM, points))))
    return _encode(groups, finite)


def _encode(groups: dict[tuple[str, str, str, int], list[HistoryPoint]],
            finite: bool) -> Iterator[tuple[str, str, str, int, int, str]]:
    for (twin, component, name, _), group in groups.items():
        if len(group) > 1:
            stamps = list(map(_TS, group))
            if not all(map(operator.lt, stamps, stamps[1:])):  # out of order, or a time twice
                group = sorted({p[3]: p for p in group}.values(), key=_TS)
        triples = list(map(_TRIPLE, group)) if finite else [(p[3], _number(p[4]), p[5]) for p in group]
        yield twin, component, name, group[0][3], group[-1][3], orjson.dumps(triples).decode()


def merge_chunks(chunks: Iterable[tuple[int, Any]], lo: int, hi: int) -> dict[int, tuple[float | None, str]]:
    """ts -> (num, value) from (seq, points) chunks: the points in [lo, hi), the latest write of each."""
    best: dict[int, tuple[float | None, str]] = {}
    for _, points in sorted(chunks, key=lambda c: c[0]):
        for ts, num, value in orjson.loads(points) if isinstance(points, str) else points:
            if lo <= ts < hi:
                best[ts] = (None if num is None else float(num), value)
    return best


class HistoryRows(PostgresConnections):
    """History points, stored as chunks of a series."""

    def ensure_partitions(self, ts_values: list[int]) -> None:
        """Monthly partitions for these times (and the next month), made once."""
        months = {_month(ts) for ts in ts_values}
        if ts_values:
            y, m = _month(max(ts_values))
            months.add((y + m // 12, m % 12 + 1))
        for year, month in sorted(months):
            name = f"history_chunks_{year:04d}_{month:02d}"
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
        """Create a partition; chunks already in the default partition for its range move into it."""
        conn = self._conn
        if conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]:
            return
        conn.execute(f"CREATE TABLE {name} (LIKE history_chunks INCLUDING DEFAULTS)")
        conn.execute(f"INSERT INTO {name} SELECT * FROM history_chunks_default WHERE first_ts >= %s AND first_ts < %s",
                     (lo, hi))
        conn.execute("DELETE FROM history_chunks_default WHERE first_ts >= %s AND first_ts < %s", (lo, hi))
        conn.execute(f"ALTER TABLE history_chunks ATTACH PARTITION {name} FOR VALUES FROM ({lo}) TO ({hi})")

    def append_history(self, points: list[HistoryPoint]) -> None:
        if not points:
            return
        first, last = min(map(_TS, points)), max(map(_TS, points))
        # the partitions of the months the points fall in (a batch rarely spans more than two)
        self.ensure_partitions([first, last] if last - first < 28 * DAY_US
                               else sorted({_day_start(p[3]) for p in points}))
        rows = chunk_rows(points)
        if len(points) < _COPY_AT:
            self._write_many("INSERT INTO history_chunks (twin, component, name, first_ts, last_ts, points) "
                             "VALUES (%s, %s, %s, %s, %s, %s)", list(rows))
            return
        with self.transaction(), self._conn.cursor() as cursor, cursor.copy(
                "COPY history_chunks (twin, component, name, first_ts, last_ts, points) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def _chunks(self, twin: str, component: str, name: str, lo: int, hi: int,
                limit: int | None = None) -> list[tuple[int, int, Any]]:
        """(first_ts, seq, points) of the chunks that may hold points of a series in [lo, hi),
        by first_ts: a chunk holds one day, so none before lo's day counts."""
        sql = ("SELECT first_ts, seq, points FROM history_chunks WHERE twin = %s AND component = %s AND name = %s "
               "AND first_ts >= %s AND first_ts < %s AND last_ts >= %s ORDER BY first_ts, seq")
        args: tuple[Any, ...] = (twin, component, name, _day_start(lo), hi, lo)
        if limit is not None:
            sql += " LIMIT %s"
            args += (limit,)
        rows: list[tuple[int, int, Any]] = self._query(sql, args)
        return rows

    def read_history(self, twin: str, name: str, *, component: str = "", start: int | None = None,
                     end: int | None = None, after: int | None = None, limit: int = 1000) -> list[HistoryPoint]:
        lo = max(start if start is not None else -_NO_END, (after + 1) if after is not None else -_NO_END)
        hi = end if end is not None else _NO_END
        want = max(limit, 64)
        while True:
            # The first `want` chunks by first_ts hold every point before the next chunk's first_ts.
            chunks = self._chunks(twin, component, name, lo, hi, want + 1)
            more = len(chunks) > want
            edge = chunks[want][0] if more else hi
            best = merge_chunks(((seq, points) for _, seq, points in chunks[:want]), lo, edge)
            if len(best) >= limit or not more:
                return [HistoryPoint(twin, component, name, ts, *best[ts]) for ts in sorted(best)[:limit]]
            want *= 4

    def last_history(self, twin: str, name: str, *, component: str = "") -> HistoryPoint | None:
        row = self._one("SELECT first_ts FROM history_chunks WHERE twin = %s AND component = %s AND name = %s "
                        "ORDER BY first_ts DESC LIMIT 1", (twin, component, name))
        if row is None:
            return None
        # the latest point is in the latest chunk's day
        chunks = self._chunks(twin, component, name, _day_start(int(row[0])), _NO_END)
        best = merge_chunks(((seq, points) for _, seq, points in chunks), -_NO_END, _NO_END)
        ts = max(best)
        return HistoryPoint(twin, component, name, ts, *best[ts])

    def aggregate_history(self, twin: str, name: str, *, component: str = "", start: int, end: int,
                          bucket: int, agg: str, after: int | None = None,
                          limit: int = 1000) -> list[tuple[int, Any]]:
        function = {"min": "min(num)", "max": "max(num)", "avg": "avg(num)", "count": "count(*)"}.get(agg)
        lo = start if after is None else max(start, after + bucket)
        points = (f"SELECT ts, num, value FROM ({_SERIES_POINTS}) AS s WHERE ts >= %s AND ts < %s")
        point_args = (twin, component, name, _day_start(lo), end, lo, lo, end)
        if agg == "last":
            sql = (f"SELECT DISTINCT ON (b) b, value FROM (SELECT (ts - %s) / %s AS b, ts, value FROM ({points}) AS p) "
                   "AS q ORDER BY b, ts DESC LIMIT %s")
        else:
            sql = f"SELECT (ts - %s) / %s AS b, {function} FROM ({points}) AS p GROUP BY b ORDER BY b LIMIT %s"
        out: list[tuple[int, Any]] = []
        for b, v in self._query(sql, (start, bucket, *point_args, limit)):
            out.append((start + int(b) * bucket, float(v) if agg in ("min", "max", "avg") and v is not None
                        else int(v) if agg == "count" else v))
        return out

    def _cut_before(self, ts: int) -> None:
        """Inside a transaction: drop every point before ``ts`` from the chunks."""
        conn = self._conn
        conn.execute("DELETE FROM history_chunks WHERE last_ts < %s", (ts,))
        conn.execute(
            "UPDATE history_chunks SET points = k.points, first_ts = k.first_ts FROM (SELECT c.ctid AS id, "
            "c.tableoid AS part, json_agg(e ORDER BY (e->>0)::bigint)::text AS points, min((e->>0)::bigint) AS first_ts "
            "FROM history_chunks c CROSS JOIN LATERAL json_array_elements(c.points::json) AS e WHERE c.first_ts < %s "
            "AND c.last_ts >= %s AND (e->>0)::bigint >= %s GROUP BY c.ctid, c.tableoid) AS k "
            "WHERE history_chunks.ctid = k.id AND history_chunks.tableoid = k.part", (ts, ts, ts))

    def delete_history_before(self, ts: int) -> int:
        with self.transaction():
            gone = self._conn.execute(
                "SELECT count(*) FROM (SELECT DISTINCT h.twin, h.component, h.name, (e->>0)::bigint FROM history_chunks h "
                "CROSS JOIN LATERAL json_array_elements(h.points::json) AS e WHERE h.first_ts < %s "
                "AND (e->>0)::bigint < %s) AS g", (ts, ts)).fetchone()[0]
            self._cut_before(ts)
            return int(gone)

    def downsample_history(self, before: int, bucket: int) -> tuple[int, int]:
        """Replace numeric points older than ``before`` by one average point per bucket."""
        with self.transaction():
            conn = self._conn
            conn.execute("CREATE TEMP TABLE old_points ON COMMIT DROP AS SELECT * FROM ("
                         + HISTORY_POINTS.format(where="WHERE h.first_ts < %s") + ") AS p WHERE ts < %s",
                         (before, before))
            conn.execute("CREATE TEMP TABLE downsampled ON COMMIT DROP AS SELECT twin, component, name, "
                         "(ts / %s) * %s AS ts, avg(num) AS num FROM old_points WHERE num IS NOT NULL "
                         "GROUP BY 1, 2, 3, 4", (bucket, bucket))
            removed = conn.execute("SELECT count(*) FROM old_points WHERE num IS NOT NULL").fetchone()[0]
            added = conn.execute("SELECT count(*) FROM downsampled").fetchone()[0]
            self._cut_before(before)
            conn.execute(chunks_from_rows_sql(
                "SELECT twin, component, name, ts, num, num::text AS value FROM downsampled UNION ALL "
                "SELECT o.twin, o.component, o.name, o.ts, o.num, o.value FROM old_points o WHERE o.num IS NULL "
                "AND NOT EXISTS (SELECT 1 FROM downsampled d WHERE d.twin = o.twin AND d.component = o.component "
                "AND d.name = o.name AND d.ts = o.ts)"))
            return int(removed), int(added)


__all__ = ["HistoryRows", "chunk_rows", "merge_chunks"]
