"""The chunks of PostgreSQL history as Python sees them: a batch of points grouped into chunks
(one per series and UTC day) with their JSON, and chunks read back merged into points."""

from __future__ import annotations

import bisect
import collections
import math
import operator
from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from twinforge.store.base import HistoryPoint
from twinforge.store.postgres.schema import DAY_US

_TS = operator.itemgetter(3)
_NUM = operator.itemgetter(4)
_TRIPLE = operator.itemgetter(3, 4, 5)
_FIRST = operator.itemgetter(0)
_SERIES = operator.itemgetter(0, 1, 2)


def day_start(ts: int) -> int:
    """The start of the UTC day of a time in microseconds."""
    return ts - ts % DAY_US


def _number(num: Any) -> Any:
    """A point's number as JSON can carry it: the infinities as PostgreSQL spells them, and NaN
    as no number (SQLite stores NaN as NULL too)."""
    if num is None or math.isfinite(num):
        return num
    return None if num != num else ("Infinity" if num > 0 else "-Infinity")


def chunk_rows(points: Sequence[HistoryPoint]) -> Iterator[tuple[str, str, str, int, int, int, str]]:
    """(twin, component, name, first_ts, last_ts, n, points JSON) per series and day, points in time
    order; of points at the same time in the batch, the last one wins. The points are grouped
    at once, and each chunk's JSON made as it is asked for (while a COPY sends the ones before)."""
    stamps = list(map(_TS, points))
    # the common batch: later points later, within one day; then grouping by series is enough,
    # and no group needs sorting (each step below is one pass in C)
    rising = all(map(operator.lt, stamps, stamps[1:]))
    groups: dict[Any, list[HistoryPoint]] = collections.defaultdict(list)
    if rising and stamps[0] // DAY_US == stamps[-1] // DAY_US:
        for key, p in zip(map(_SERIES, points), points, strict=True):
            groups[key].append(p)
    else:
        for key, p in zip(map(_series_day, points), points, strict=True):
            groups[key].append(p)
    # the sum of the numbers is finite unless one of them is not (or they overflow)
    finite = math.isfinite(sum(filter(None, map(_NUM, points))))
    return _encode(groups, finite, rising)


def _series_day(p: HistoryPoint) -> tuple[str, str, str, int]:
    return p[0], p[1], p[2], p[3] // DAY_US


def _encode(groups: dict[Any, list[HistoryPoint]], finite: bool,
            rising: bool) -> Iterator[tuple[str, str, str, int, int, int, str]]:
    for key, group in groups.items():
        if not rising and len(group) > 1:
            stamps = list(map(_TS, group))
            if not all(map(operator.lt, stamps, stamps[1:])):  # out of order, or a time twice
                group = sorted({p[3]: p for p in group}.values(), key=_TS)
        triples = list(map(_TRIPLE, group)) if finite else [(p[3], _number(p[4]), p[5]) for p in group]
        yield key[0], key[1], key[2], group[0][3], group[-1][3], len(group), orjson.dumps(triples).decode()


def decoded(points: Any) -> list[list[Any]]:
    return orjson.loads(points) if isinstance(points, str) else points  # type: ignore[no-any-return]


def merge_chunks(chunks: list[tuple[int, Any]], lo: int, hi: int) -> list[list[Any]]:
    """[ts, num, value] in time order from (seq, points) chunks that overlap in time: the points
    in [lo, hi), each once, from its latest write. One chunk alone is its points, in order."""
    if len(chunks) == 1:
        points = decoded(chunks[0][1])
        if points[0][0] >= lo and points[-1][0] < hi:
            return points
        return points[bisect.bisect_left(points, lo, key=_FIRST):bisect.bisect_left(points, hi, key=_FIRST)]
    best: dict[int, list[Any]] = {}
    for _, points in sorted(chunks, key=_FIRST):
        for point in decoded(points):
            if lo <= point[0] < hi:
                best[point[0]] = point
    return [best[ts] for ts in sorted(best)]


def as_float(num: Any) -> float | None:
    """A stored number as a float (the JSON holds the infinities as text, and may hold integers)."""
    return num if num is None or num.__class__ is float else float(num)


def bucket_value(agg: str, nums: list[float], count: int, last: str) -> Any:
    if agg == "count":
        return count
    if agg == "last":
        return last
    if not nums:
        return None
    if agg == "avg":
        return math.fsum(nums) / len(nums)
    return float(min(nums) if agg == "min" else max(nums))


__all__ = ["as_float", "bucket_value", "chunk_rows", "day_start", "decoded", "merge_chunks"]
