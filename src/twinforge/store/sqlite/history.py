"""History in SQLite: new points land in a small table and move to the big one in key order.

The history table is keyed by series then time, so that a range read is one seek. Writing to
it one point per series at a time (10,000 sensors each sending a value) puts every point on
a page of its own, and each commit then copies thousands of 4 KB pages to the WAL and back:
measured, 40-50 MB per 10,000 points once a series held a few dozen points, and growing with
the history's length.

So points are written first to ``history_recent``: the same key, but a table that stays
small (about `recent_rows` points), whose pages every commit rewrites anyway. Each write that
finds it past that size also moves the next slice of it, in key order, into ``history``. A
slice holds several points of each series it covers, so they go to their pages together. The
slices sweep the key space from a cursor kept in ``history_merge``; when a sweep reaches the
end it starts again from the first key. Each point is in exactly one of the two tables at
any commit, except that a point written again while its older copy sits in ``history`` is in
both: reads take the newer one from ``history_recent``, and the move replaces the older.

A batch at least as large as the small table (a bulk load) goes straight to ``history``, in
key order, after the small table is emptied into it: staging it would only move it again.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from twinforge.store.base import HistoryPoint
from twinforge.store.sqlite.connections import SQLiteConnections

KEY = "(twin, component, name, ts)"
COLUMNS = "twin, component, name, ts, num, value"
START = ("", "", "", -(2**63))  # before every key: a twin id is never empty
LATEST = 2**63 - 1

# The points of one series in [lo, hi): those in history_recent, and those in history that
# were not written again since (a series' points older than its oldest recent one need no
# look-up). Parameters: twin, component, name, lo, hi, twice, then twin, component, name.
SERIES = (f"SELECT {COLUMNS} FROM history_recent WHERE twin = ? AND component = ? AND name = ? "
          "AND ts >= ? AND ts < ? "
          f"UNION ALL SELECT {COLUMNS} FROM history h WHERE twin = ? AND component = ? AND name = ? "
          "AND ts >= ? AND ts < ? AND (ts < coalesce((SELECT min(ts) FROM history_recent WHERE twin = ? "
          f"AND component = ? AND name = ?), {LATEST}) OR NOT EXISTS (SELECT 1 FROM history_recent r "
          "WHERE r.twin = h.twin AND r.component = h.component AND r.name = h.name AND r.ts = h.ts))")


def series_args(twin: str, component: str, name: str, lo: int, hi: int) -> tuple[Any, ...]:
    return (twin, component, name, lo, hi, twin, component, name, lo, hi, twin, component, name)


class HistoryRows(SQLiteConnections):
    """History points: written to ``history_recent``, moved to ``history`` in slices."""

    recent_rows = 65_536  # points history_recent holds before writes start moving slices out
    slice_rows = 4_096  # the fewest points a move takes (fewer, larger moves)

    def append_history(self, points: list[HistoryPoint]) -> None:
        with self.transaction():
            if len(points) >= self.recent_rows:
                # A bulk load: staging it would move all of it again. Empty the small table
                # first (a point written again must not be shadowed by an older recent copy).
                self._merge_all()
                self._conn.executemany(
                    f"INSERT OR REPLACE INTO history ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                    sorted(points, key=itemgetter(0, 1, 2, 3)))  # stable: the last copy of a key wins
                return
            added = self._conn.executemany(
                f"INSERT OR REPLACE INTO history_recent ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", points).rowcount
            row = self._conn.execute("UPDATE history_merge SET pending = pending + ? WHERE id = 0 "
                                     "RETURNING pending", (max(added, 0),)).fetchone()
            if row is not None and row[0] >= self.recent_rows + self.slice_rows:
                self._move_slice(int(row[0]) - self.recent_rows)

    def _move_slice(self, count: int) -> None:
        """Move about ``count`` points from the cursor on, in key order, into ``history``."""
        conn = self._conn
        cursor = conn.execute("SELECT twin, component, name, ts FROM history_merge WHERE id = 0").fetchone()
        bound = conn.execute(f"SELECT {KEY[1:-1]} FROM history_recent WHERE {KEY} >= (?, ?, ?, ?) "
                             "ORDER BY twin, component, name, ts LIMIT 1 OFFSET ?", (*cursor, count)).fetchone()
        where, args = (f"{KEY} >= (?, ?, ?, ?)", tuple(cursor))
        if bound is not None:
            where, args = f"{where} AND {KEY} < (?, ?, ?, ?)", args + tuple(bound)
        conn.execute(f"INSERT OR REPLACE INTO history ({COLUMNS}) SELECT {COLUMNS} FROM history_recent "
                     f"WHERE {where}", args)
        moved = conn.execute(f"DELETE FROM history_recent WHERE {where}", args).rowcount
        if bound is None:  # the sweep reached the end: start again, and count what is left
            left = conn.execute("SELECT count(*) FROM history_recent").fetchone()[0]
            conn.execute("UPDATE history_merge SET twin = ?, component = ?, name = ?, ts = ?, pending = ? "
                         "WHERE id = 0", (*START, left))
        else:
            conn.execute("UPDATE history_merge SET twin = ?, component = ?, name = ?, ts = ?, "
                         "pending = max(pending - ?, 0) WHERE id = 0", (*bound, moved))

    def merge_history(self) -> int:
        """Move every point of ``history_recent`` into ``history`` now; how many moved."""
        with self.transaction():
            return self._merge_all()

    def _merge_all(self) -> int:
        self._conn.execute(f"INSERT OR REPLACE INTO history ({COLUMNS}) SELECT {COLUMNS} FROM history_recent "
                           "ORDER BY twin, component, name, ts")
        moved = int(self._conn.execute("DELETE FROM history_recent").rowcount)
        self._conn.execute("UPDATE history_merge SET twin = ?, component = ?, name = ?, ts = ?, pending = 0 "
                           "WHERE id = 0", START)
        return moved

    def read_history(self, twin: str, name: str, *, component: str = "", start: int | None = None,
                     end: int | None = None, after: int | None = None, limit: int = 1000) -> list[HistoryPoint]:
        lo = max(start if start is not None else -(2**62), (after + 1) if after is not None else -(2**62))
        hi = end if end is not None else 2**62
        rows = self._query(f"{SERIES} ORDER BY 4 LIMIT ?", (*series_args(twin, component, name, lo, hi), limit))
        return [HistoryPoint(*r) for r in rows]

    def last_history(self, twin: str, name: str, *, component: str = "") -> HistoryPoint | None:
        row = self._one(f"{SERIES} ORDER BY 4 DESC LIMIT 1", series_args(twin, component, name, -(2**62), 2**62))
        return HistoryPoint(*row) if row else None

    def aggregate_history(self, twin: str, name: str, *, component: str = "", start: int, end: int,
                          bucket: int, agg: str, after: int | None = None,
                          limit: int = 1000) -> list[tuple[int, Any]]:
        """Buckets of one series. The points older than the series' oldest one in
        ``history_recent`` are all in ``history`` and are folded there alone; the newer ones
        through both tables. Buckets the two parts share are combined."""
        if agg not in ("min", "max", "avg", "count", "last"):
            raise KeyError(agg)
        lo = start if after is None else max(start, after + bucket)
        row = self._one("SELECT min(ts) FROM history_recent WHERE twin = ? AND component = ? AND name = ?",
                        (twin, component, name))
        split = min(max(row[0] if row and row[0] is not None else end, lo), end)
        folds = {"min": "min(num), 0", "max": "max(num), 0", "count": "count(*), 0", "avg": "sum(num), count(num)",
                 "last": "value, max(ts)"}[agg]  # SQLite takes a bare column from the row of the one max()
        merged: dict[int, list[Any]] = {}
        parts = [("SELECT ts, num, value FROM history WHERE twin = ? AND component = ? AND name = ? "
                  "AND ts >= ? AND ts < ?", (twin, component, name, lo, split)),
                 (SERIES, series_args(twin, component, name, split, end))]
        for part, args in parts:
            if part is SERIES and split >= end:
                continue
            sql = f"SELECT (ts - ?) / ? AS b, {folds} FROM ({part}) GROUP BY b ORDER BY b LIMIT ?"
            for b, first, second in self._query(sql, (start, bucket, *args, limit)):
                have = merged.get(b)
                if have is None:
                    merged[b] = [first, second]
                elif agg in ("count", "avg"):
                    have[0] = first if have[0] is None else have[0] if first is None else have[0] + first
                    have[1] += second
                elif agg == "last":
                    if second > have[1]:
                        merged[b] = [first, second]
                elif first is not None:
                    have[0] = first if have[0] is None else (min if agg == "min" else max)(have[0], first)
        out: list[tuple[int, Any]] = []
        for b in sorted(merged)[:limit]:
            first, second = merged[b]
            value = (first / second if second else None) if agg == "avg" else first
            out.append((start + int(b) * bucket, value))
        return out

    def delete_history_before(self, ts: int) -> int:
        with self.transaction():
            self._merge_all()
            return int(self._conn.execute("DELETE FROM history WHERE ts < ?", (ts,)).rowcount)

    def downsample_history(self, before: int, bucket: int) -> tuple[int, int]:
        """Replace numeric points older than ``before`` by one average point per bucket."""
        with self.transaction():
            self._merge_all()
            self._conn.execute("DROP TABLE IF EXISTS temp.downsampled")
            self._conn.execute(
                "CREATE TEMP TABLE downsampled AS SELECT twin, component, name, "
                "(ts / ?) * ? AS bts, avg(num) AS num FROM history WHERE ts < ? AND num IS NOT NULL "
                "GROUP BY twin, component, name, bts", (bucket, bucket, before))
            removed = self._conn.execute("DELETE FROM history WHERE ts < ? AND num IS NOT NULL",
                                         (before,)).rowcount
            added = self._conn.execute(
                f"INSERT OR REPLACE INTO history ({COLUMNS}) SELECT twin, "
                "component, name, bts, num, CAST(num AS TEXT) FROM downsampled").rowcount
            self._conn.execute("DROP TABLE temp.downsampled")
            return int(removed), int(added)


__all__ = ["HistoryRows"]
