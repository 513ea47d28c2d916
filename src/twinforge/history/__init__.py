"""History: every property change and telemetry sample, read back as points or aggregates."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from twinforge.errors import InvalidArgument, MissingDependency
from twinforge.history.timeutil import from_us, now_us, parse_duration, parse_time, to_us
from twinforge.store.base import HistoryPoint, HistoryStore

if TYPE_CHECKING:
    import pandas

AGGREGATES = ("min", "max", "avg", "last", "count")


def point(twin: str, component: str, name: str, ts: int, value: Any) -> HistoryPoint:
    """One history sample; numbers and booleans also keep a float for aggregates."""
    kind = type(value)
    if kind is not float and kind is not int and kind is not bool and isinstance(value, (int, float)):
        value = bool(value) if isinstance(value, bool) else (int(value) if isinstance(value, int) else float(value))
        kind = type(value)  # a NumPy number and the like, as the plain one it stands for
    num = float(value) if kind is float or kind is int or kind is bool else None
    return HistoryPoint(twin, component, name, ts, num, orjson.dumps(value).decode())


class History:
    """Reads of the history kept in a store, as JSON-ready rows or pandas DataFrames."""

    def __init__(self, store: HistoryStore) -> None:
        self.store = store

    def read_range(self, twin: str, name: str, *, component: str = "", start: str | None = None,
                   end: str | None = None, bucket: str | None = None, agg: str | None = None,
                   after: int | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Raw points (``time``, ``value``) or, with ``bucket`` and ``agg``, one row per bucket."""
        lo = parse_time(start) if start else None
        hi = parse_time(end) if end else None
        if bucket is None and agg is None:
            points = self.store.read_history(twin, name, component=component, start=lo, end=hi,
                                             after=after, limit=limit)
            return [{"time": from_us(p.ts), "value": orjson.loads(p.value), "_ts": p.ts} for p in points]
        if agg not in AGGREGATES:
            raise InvalidArgument(f"agg must be one of {', '.join(AGGREGATES)}", code="InvalidArgument")
        if bucket is None:
            raise InvalidArgument("agg needs a bucket, e.g. bucket=1m", code="InvalidArgument")
        size = parse_duration(bucket)
        hi = hi if hi is not None else now_us() + 1
        lo = lo if lo is not None else hi - 1000 * size
        lo -= lo % size  # buckets start on multiples of their size since the epoch
        if hi <= lo:
            raise InvalidArgument("'to' must be after 'from'", code="InvalidArgument")
        rows = self.store.aggregate_history(twin, name, component=component, start=lo, end=hi,
                                            bucket=size, agg=agg, after=after, limit=limit)
        out = []
        for ts, value in rows:
            if agg == "last":
                value = orjson.loads(value)
            out.append({"time": from_us(ts), "value": value, "_ts": ts})
        return out

    def value_at(self, twin: str, name: str, at: int, *, component: str = "") -> tuple[bool, Any]:
        """The value a series had at ``at`` (microseconds since the epoch): (True, value) from
        its last point at or before then, (False, None) when it has none that early."""
        rows = self.store.aggregate_history(twin, name, component=component, start=0, end=at + 1,
                                            bucket=at + 1, agg="last", limit=1)
        if not rows or rows[0][1] is None:
            return False, None
        return True, orjson.loads(rows[0][1])

    def frame(self, twin: str, name: str, **kwargs: Any) -> pandas.DataFrame:
        """The same rows as a DataFrame indexed by UTC time (every page read)."""
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - pandas is in the [ml] extra
            raise MissingDependency("pandas is needed for DataFrames: pip install 'twinforge[ml]'") from None
        rows: list[dict[str, Any]] = []
        after = None
        while True:
            page = self.read_range(twin, name, after=after, **kwargs)
            rows.extend(page)
            if len(page) < kwargs.get("limit", 1000):
                break
            after = page[-1]["_ts"]
        frame = pd.DataFrame({"time": pd.to_datetime([r["time"] for r in rows], utc=True),
                              "value": [r["value"] for r in rows]})
        return frame.set_index("time")

    def retain(self, max_age: str) -> int:
        """Drop points older than ``max_age`` (e.g. ``30d``); returns how many."""
        return self.store.delete_history_before(now_us() - parse_duration(max_age))

    def downsample(self, older_than: str, bucket: str) -> tuple[int, int]:
        """Replace numeric points older than ``older_than`` by bucket averages."""
        return self.store.downsample_history(now_us() - parse_duration(older_than), parse_duration(bucket))


__all__ = ["AGGREGATES", "History", "HistoryPoint", "HistoryStore", "from_us", "now_us", "parse_duration", "parse_time",
           "point", "to_us"]
