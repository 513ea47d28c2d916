"""Temporal aggregation over many twins chosen by a query (`POST /history/aggregate`), as
FIWARE's temporal API users expect: e.g. the mean occupancy of the parking spots of each
district, per hour.

A request names a twin query, the series (``name``, optional ``component``), a ``bucket``, an
``aggregate`` (avg, min, max, sum, count) and optionally ``groupBy``: a path into a row of the
query (``D.$dtId``, ``district``, ``location.city``). Each twin's series is aggregated per bucket
in the store (an average with its count, so a group's mean weighs every sample alike, not every
twin), then the twins' buckets are combined per group.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from twinforge.errors import InvalidArgument
from twinforge.history.timeutil import from_us, now_us, parse_time

AGGREGATES = ("avg", "min", "max", "sum", "count")
MAX_TWINS = 10_000
_FIELDS = {"query", "twin", "name", "component", "bucket", "aggregate", "groupBy", "from", "to", "continuationToken"}


@dataclass(frozen=True, slots=True)
class AggregateRequest:
    query: str
    name: str
    bucket: int  # microseconds
    aggregate: str
    twin: str | None = None  # the alias whose twins' series are read (default: the row's first twin)
    component: str = ""
    group_by: str | None = None
    start: int | None = None
    end: int | None = None

    @classmethod
    def parse(cls, doc: Any) -> AggregateRequest:
        if not isinstance(doc, Mapping):
            raise InvalidArgument("the body is an object: {query, name, bucket, aggregate, groupBy?, twin?, from?, to?}")
        unknown = sorted(set(doc) - _FIELDS)
        if unknown:
            raise InvalidArgument(f"unknown field(s) {', '.join(unknown)} (known: {', '.join(sorted(_FIELDS))})")
        for field in ("query", "name", "bucket", "aggregate"):
            if not isinstance(doc.get(field), str) or not doc[field]:
                raise InvalidArgument(f"'{field}' is required, a non-empty string")
        for field in ("twin", "component", "groupBy", "from", "to"):
            if field in doc and not isinstance(doc[field], str):
                raise InvalidArgument(f"'{field}' must be a string")
        if doc["aggregate"] not in AGGREGATES:
            raise InvalidArgument(f"aggregate must be one of {', '.join(AGGREGATES)}, not '{doc['aggregate']}'")
        from twinforge.durations import seconds

        bucket = int(seconds(doc["bucket"], "bucket") * 1_000_000)
        if bucket <= 0:
            raise InvalidArgument(f"bucket must be longer than zero, not '{doc['bucket']}'")
        start, end = (_time(doc.get(k), k) for k in ("from", "to"))
        if start is not None and end is not None and end <= start:
            raise InvalidArgument("'to' must be after 'from'")
        return cls(doc["query"], doc["name"], bucket, doc["aggregate"], doc.get("twin"), doc.get("component", ""),
                   doc.get("groupBy"), start, end)


def _time(text: str | None, field: str) -> int | None:
    if not text:
        return None
    try:
        return parse_time(text)
    except (InvalidArgument, ValueError):
        raise InvalidArgument(f"'{field}' is not a time: {text!r} (RFC 3339, e.g. 2027-01-15T08:00:00Z)") from None


def _is_twin(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("$dtId"), str)


def _twin_of(row: dict[str, Any], alias: str | None) -> str | None:
    if alias is not None:
        value = row.get(alias)
        return str(value["$dtId"]) if isinstance(value, dict) and _is_twin(value) else None
    if isinstance(row.get("$dtId"), str):
        return str(row["$dtId"])
    for value in row.values():
        if _is_twin(value):
            return str(value["$dtId"])
    return None


def _lookup(row: dict[str, Any], path: str) -> Any:
    """``path`` in a query row: ``alias.a.b`` into that alias's document, else into the row's
    first twin (or the row itself, for projections)."""
    head, _, rest = path.partition(".")
    if head in row and (rest or not _is_twin(row.get(head))):
        node: Any = row[head]
        parts = rest.split(".") if rest else []
    else:
        node = next((v for v in row.values() if _is_twin(v)), row)
        parts = path.split(".")
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, (str, int, float, bool)) or node is None else str(node)


def aggregate(graph: Any, request: AggregateRequest) -> list[dict[str, Any]]:
    """Rows ``{group, time, value, twins, samples}`` sorted by group then time."""
    from twinforge.history import History

    members: dict[str, Any] = {}  # twin -> its group
    for row in graph.query(request.query, page_size=1000):
        if not isinstance(row, dict):
            continue
        twin = _twin_of(row, request.twin)
        if twin is None:
            continue
        members.setdefault(twin, _lookup(row, request.group_by) if request.group_by else None)
        if len(members) > MAX_TWINS:
            raise InvalidArgument(f"the query matches more than {MAX_TWINS:,} twins: narrow it")
    if not members:
        return []
    end = request.end if request.end is not None else now_us() + 1
    start = request.start if request.start is not None else end - 1000 * request.bucket
    start -= start % request.bucket
    history = History(graph.store)
    store = history.store
    cells: dict[tuple[Any, int], dict[str, float]] = {}
    for twin, group in members.items():
        kinds = ("avg", "count") if request.aggregate in ("avg", "sum", "count") else (request.aggregate,)
        series = {kind: dict(store.aggregate_history(twin, request.name, component=request.component, start=start,
                                                     end=end, bucket=request.bucket, agg=kind, limit=100_000))
                  for kind in kinds}
        for ts, found in series[kinds[0]].items():
            if found is None:
                continue
            cell = cells.setdefault((group, ts), {"twins": 0, "samples": 0.0})
            cell["twins"] += 1
            if request.aggregate in ("avg", "sum", "count"):
                n = float(series["count"].get(ts) or 0)
                cell["samples"] += n
                cell["sum"] = cell.get("sum", 0.0) + float(found) * n
            else:
                cell["samples"] += 1
                pick = min if request.aggregate == "min" else max
                cell["value"] = pick(cell.get("value", float(found)), float(found))
    out = []
    for (group, ts), cell in sorted(cells.items(), key=lambda item: (str(item[0][0]), item[0][1])):
        if request.aggregate == "avg":
            value: float | int = cell["sum"] / cell["samples"] if cell["samples"] else 0.0
        elif request.aggregate == "sum":
            value = cell["sum"]
        elif request.aggregate == "count":
            value = int(cell["samples"])
        else:
            value = cell["value"]
        item: dict[str, Any] = {"time": from_us(ts), "value": value, "twins": int(cell["twins"])}
        if request.group_by:
            item = {"group": group, **item}
        out.append(item)
    return out


__all__ = ["AGGREGATES", "MAX_TWINS", "AggregateRequest", "aggregate"]
