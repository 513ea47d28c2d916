"""History in PostgreSQL, kept as chunks: one row per series and UTC day per write (see
`schema.HISTORY_POINTS`), partitioned by month, bulk-loaded with COPY."""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import logging
import operator
import time
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from twinforge.store.base import HistoryPoint
from twinforge.store.postgres.chunks import (
    as_float,
    bucket_value,
    chunk_rows,
    day_start,
    decoded,
    merge_chunks,
)
from twinforge.store.postgres.connections import PostgresConnections
from twinforge.store.postgres.schema import (
    DAY_US,
    HISTORY_POINTS,
    chunks_from_rows_sql,
)

log = logging.getLogger(__name__)

_US = 1_000_000
_COPY_AT = 200  # writes of this many points and more go through COPY
MERGE_TIERS = ((0, 8), (8, 64))  # chunks with a point count in one range merge with each other
SMALL_CHUNK = MERGE_TIERS[-1][1]  # chunks of fewer points are noted for merging
MERGED_CHUNK = 1024  # at most this many points to a merged chunk (a read parses whole chunks)
_COLUMNS = "twin, component, name, first_ts, last_ts, n, points"
_NO_END = 2**62
_TS = operator.itemgetter(3)
_SEQ = operator.itemgetter(5)
# series-days given as four arrays, for a join
_DAYS = "unnest(%s::text[], %s::text[], %s::text[], %s::bigint[]) AS s(twin, component, name, day)"

def _month(ts_us: int) -> tuple[int, int]:
    t = dt.datetime.fromtimestamp(ts_us / _US, dt.UTC)
    return t.year, t.month


def _month_start(year: int, month: int) -> int:
    return int(dt.datetime(year, month, 1, tzinfo=dt.UTC).timestamp()) * _US


def _day_arrays(keys: list[tuple[str, str, str, int]]) -> tuple[list[Any], ...]:
    return [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], [k[3] for k in keys]


class HistoryRows(PostgresConnections):
    """History points, stored as chunks of a series."""

    compact_every = 1024  # small chunks this process writes before it merges their series-days
    compact_fanout = 16  # chunks of one tier a series-day needs before they merge
    compact_after = 30.0  # or seconds since it last did, on its next small write

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
                               else sorted({day_start(p[3]) for p in points}))
        rows = chunk_rows(points)
        if len(points) >= _COPY_AT:
            small: list[tuple[str, str, str, int, int, int, str]] = []
            with self.transaction(), self._conn.cursor() as cursor, cursor.copy(
                    f"COPY history_chunks ({_COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    if row[5] < MERGE_TIERS[0][1]:
                        small.append(row)
            # A bulk write's chunks of a point or a few (scores over many twins, say) are merged
            # with the next merge, not counted towards one; its chunks of 8 points or more are
            # left as they are: they read well enough, and merging would write them again.
            self._after_small_writes(small, count=False)
            return
        written = list(rows)
        self._write_many(f"INSERT INTO history_chunks ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)", written)
        self._after_small_writes([r for r in written if r[5] < SMALL_CHUNK])

    def _after_small_writes(self, rows: list[tuple[str, str, str, int, int, int, str]], count: bool = True) -> None:
        """Note the series-days that got small chunks; every `compact_every` of them (or on the
        first write `compact_after` seconds after the last merge), merge them."""
        if not rows:
            return
        with self._small_lock:
            self._small_days.update((r[0], r[1], r[2], day_start(r[3])) for r in rows)
            if count:
                self._small_count += len(rows)
            now = time.monotonic()
            if self._small_count < self.compact_every and now - self._compacted_at < self.compact_after:
                return
            days, self._small_days, self._small_count = self._small_days, set(), 0
            self._compacted_at = now
        # the merge runs in a transaction of its own once the caller's commits (an ingest batch
        # writes its twins, events and history in one): it never lengthens or endangers that one
        self._local.compact_days = days
        if not getattr(self._local, "depth", 0):
            self._committed()

    def _committed(self) -> None:
        days = getattr(self._local, "compact_days", None)
        if not days:
            return
        self._local.compact_days = None
        try:
            self.compact_history(days)
        except Exception:  # the points are stored; merging them waits for the next round
            log.warning("merging small history chunks failed; they stay as they are", exc_info=True)

    def compact_history(self, days: Iterable[tuple[str, str, str, int]] | None = None) -> tuple[int, int]:
        """Merge small chunks, those of every series-day or of ``days`` ((twin, component, name,
        day start) each): (chunks before, chunks after). Live ingest writes a chunk per point;
        merged, reads go through a few chunks instead of thousands.

        Merging goes by tiers (`MERGE_TIERS`): chunks of under 8 points merge once a series-day
        has `compact_fanout` of them, and so do chunks of 8 to 63 points. So a point is written
        again at most twice, however slowly its series grows (merging every small chunk each
        time would rewrite a series' growing chunk for every new point).

        The merged chunk takes the highest ``seq`` of those it replaces, so it still loses to a
        later write. A series-day where a chunk of the tier shares time with a later chunk outside
        it is left as it is: merged, its points could outrank that chunk's.
        """
        keys = list(days) if days is not None else None
        before = after = 0
        with self.transaction():
            for low, high in MERGE_TIERS:
                b, a = self._compact_tier(keys, low, high)
                before, after = before + b, after + a
        return before, after

    def _compact_tier(self, keys: list[tuple[str, str, str, int]] | None, low: int, high: int) -> tuple[int, int]:
        """One tier of `compact_history`, inside its transaction. The points are merged here in
        Python (orjson), several times faster than PostgreSQL's JSON functions."""
        conn = self._conn
        columns = "p.twin, p.component, p.name, p.first_ts, p.last_ts, p.seq, p.points"
        if keys is None:
            rows = conn.execute(f"SELECT {columns} FROM history_chunks p WHERE p.n >= %s AND p.n < %s",
                                (low, high)).fetchall()
        else:
            rows = conn.execute(
                f"SELECT {columns} FROM {_DAYS} JOIN history_chunks p ON p.twin = s.twin AND p.component = s.component "
                f"AND p.name = s.name AND p.first_ts >= s.day AND p.first_ts < s.day + {DAY_US} "
                "WHERE p.n >= %s AND p.n < %s", (*_day_arrays(keys), low, high)).fetchall()
        groups: dict[tuple[str, str, str, int], list[tuple[Any, ...]]] = collections.defaultdict(list)
        for row in rows:
            groups[(row[0], row[1], row[2], day_start(row[3]))].append(row)
        groups = {key: group for key, group in groups.items() if len(group) >= max(2, self.compact_fanout)}
        if not groups:
            return 0, 0
        # a chunk outside the tier, written later than one of the tier's and sharing time with it,
        # keeps that series-day as it is
        for twin, component, name, day, first, last, seq in conn.execute(
                f"SELECT s.twin, s.component, s.name, s.day, p.first_ts, p.last_ts, p.seq FROM {_DAYS} "
                "JOIN history_chunks p ON p.twin = s.twin AND p.component = s.component AND p.name = s.name "
                f"AND p.first_ts >= s.day AND p.first_ts < s.day + {DAY_US} WHERE p.n < %s OR p.n >= %s",
                (*_day_arrays(list(groups)), low, high)).fetchall():
            group = groups.get((twin, component, name, day))
            if group and any(seq > c[5] and first <= c[4] and last >= c[3] for c in group):
                del groups[(twin, component, name, day)]
        doomed = [c for group in groups.values() for c in group]
        if not doomed:
            return 0, 0
        conn.execute(
            "DELETE FROM history_chunks h USING unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], "
            "%s::bigint[]) AS d(twin, component, name, first_ts, seq) WHERE h.twin = d.twin "
            "AND h.component = d.component AND h.name = d.name AND h.first_ts = d.first_ts AND h.seq = d.seq",
            ([c[0] for c in doomed], [c[1] for c in doomed], [c[2] for c in doomed], [c[3] for c in doomed],
             [c[5] for c in doomed]))
        merged = 0
        with conn.cursor() as cursor, cursor.copy(f"COPY history_chunks ({_COLUMNS}, seq) FROM STDIN") as copy:
            for (twin, component, name, _), group in groups.items():
                best: dict[int, list[Any]] = {}
                for chunk in sorted(group, key=_SEQ):  # later writes win
                    for point in decoded(chunk[6]):
                        best[point[0]] = point
                points = [best[ts] for ts in sorted(best)]
                top = max(chunk[5] for chunk in group)
                for k in range(0, len(points), MERGED_CHUNK):
                    part = points[k:k + MERGED_CHUNK]
                    copy.write_row((twin, component, name, part[0][0], part[-1][0], len(part),
                                    orjson.dumps(part).decode(), top))
                    merged += 1
        return len(doomed), merged

    def series_points(self, twin: str, name: str, *, component: str = "", start: int = -_NO_END,
                      end: int = _NO_END, page: int = 16) -> Iterator[list[Any]]:
        """[ts, num, value] of a series in [start, end), in time order, each point once (its
        latest write; ``num`` as stored: see `_as_float`), read ``page`` chunks at a time, then
        four times as many, as the caller goes on."""
        for points in self._point_pages(twin, component, name, start, end, page):
            yield from points

    def _point_pages(self, twin: str, component: str, name: str, start: int, end: int,
                     page: int) -> Iterator[list[list[Any]]]:
        cursor: tuple[int, int] = (day_start(start) - 1, 0)  # a chunk holds one day: none before start's
        group: list[tuple[int, Any]] = []  # chunks whose times overlap, merged when the next one starts later
        group_last = -_NO_END
        while True:
            rows = self._query(
                "SELECT first_ts, last_ts, seq, points FROM history_chunks WHERE twin = %s AND component = %s "
                "AND name = %s AND first_ts >= %s AND (first_ts, seq) > (%s, %s) AND first_ts < %s AND last_ts >= %s "
                "ORDER BY first_ts, seq LIMIT %s", (twin, component, name, cursor[0], *cursor, end, start, page))
            ready: list[list[Any]] = []
            for first, last, seq, points in rows:
                if group and first > group_last:
                    ready += merge_chunks(group, start, end)
                    group = []
                group.append((seq, points))
                group_last = max(group_last, last) if len(group) > 1 else last
            if ready:
                yield ready
            if len(rows) < page:
                break
            cursor = (rows[-1][0], rows[-1][2])
            page = min(page * 4, 4096)
        if group:
            yield merge_chunks(group, start, end)

    def read_history(self, twin: str, name: str, *, component: str = "", start: int | None = None,
                     end: int | None = None, after: int | None = None, limit: int = 1000) -> list[HistoryPoint]:
        lo = max(start if start is not None else -_NO_END, (after + 1) if after is not None else -_NO_END)
        hi = end if end is not None else _NO_END
        points = self.series_points(twin, name, component=component, start=lo, end=hi, page=max(16, limit // 64))
        return [HistoryPoint(twin, component, name, ts, as_float(num), value)
                for ts, num, value in itertools.islice(points, limit)]

    def last_history(self, twin: str, name: str, *, component: str = "") -> HistoryPoint | None:
        # every chunk holding the latest point ends there; of those, the latest write counts
        row = self._one("SELECT points FROM history_chunks WHERE twin = %s AND component = %s AND name = %s "
                        "ORDER BY last_ts DESC, seq DESC LIMIT 1", (twin, component, name))
        if row is None:
            return None
        ts, num, value = orjson.loads(row[0])[-1]
        return HistoryPoint(twin, component, name, ts, as_float(num), value)

    def aggregate_history(self, twin: str, name: str, *, component: str = "", start: int, end: int,
                          bucket: int, agg: str, after: int | None = None,
                          limit: int = 1000) -> list[tuple[int, Any]]:
        lo = start if after is None else max(start, after + bucket)
        out: list[tuple[int, Any]] = []
        current: int | None = None
        nums: list[float] = []
        count = 0
        last = ""
        for ts, num, value in self.series_points(twin, name, component=component, start=lo, end=end, page=1024):
            b = (ts - start) // bucket
            if b != current:
                if current is not None:
                    out.append((start + current * bucket, bucket_value(agg, nums, count, last)))
                    if len(out) == limit:
                        return out
                current, nums, count = b, [], 0
            if num is not None:
                nums.append(num if num.__class__ is float else float(num))
            count += 1
            last = value
        if current is not None:
            out.append((start + current * bucket, bucket_value(agg, nums, count, last)))
        return out

    def _cut_before(self, ts: int) -> None:
        """Inside a transaction: drop every point before ``ts`` from the chunks."""
        conn = self._conn
        conn.execute("DELETE FROM history_chunks WHERE last_ts < %s", (ts,))
        conn.execute(
            "UPDATE history_chunks SET points = k.points, first_ts = k.first_ts, n = k.n FROM (SELECT c.ctid AS id, "
            "c.tableoid AS part, json_agg(e ORDER BY (e->>0)::bigint)::text AS points, min((e->>0)::bigint) AS first_ts, "
            "count(*) AS n "
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


__all__ = ["MERGED_CHUNK", "MERGE_TIERS", "SMALL_CHUNK", "HistoryRows"]
