"""Live data routes: telemetry, bulk ingest (NDJSON), history and dead letters."""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from twinforge.api.health import background
from twinforge.api.http import (
    INLINE_PARSE_BYTES,
    blocking,
    body_limit,
    decode_token,
    encode_token,
    error_response,
    json_response,
    next_link,
    page_position,
    page_size,
    read_bytes,
    read_json,
    writing,
)
from twinforge.errors import InvalidArgument
from twinforge.graph.rules import collector_paused
from twinforge.history import History, parse_time
from twinforge.ingest import Ingestor, RefusalKind, Update, update_from_json
from twinforge.ingest.mqtt import combined_status
from twinforge.store.base import DeadLetter

router = APIRouter()


def ingestor_of(request: Request) -> Ingestor:
    ingestor: Ingestor = request.app.state.ingestor
    return ingestor


async def _telemetry(request: Request, twin_id: str, component: str, body: Any) -> Response:
    if not isinstance(body, dict) or not body:
        raise InvalidArgument("telemetry must be a non-empty JSON object of name: value", code="InvalidArgument")
    if not request.headers.get("message-id"):
        raise InvalidArgument("the Message-Id header is required (a unique id for this message)",
                              code="InvalidArgument")
    source_time = request.headers.get("telemetry-source-time")
    ts = parse_time(source_time) if source_time else None
    result = await writing(request, ingestor_of(request).apply,
                            [Update(twin_id, body, telemetry=True, component=component, ts=ts, source="http")])
    if result.refused:
        refusal = result.refused[0]
        if refusal.kind is RefusalKind.UNKNOWN_TWIN:
            return error_response(404, "DigitalTwinNotFound", refusal.reason)
        if refusal.kind is RefusalKind.UNKNOWN_COMPONENT:
            return error_response(404, "ComponentNotFound", f"{twin_id}: {refusal.reason}")
        return error_response(400, "ValidationFailed", f"{twin_id}: {refusal.reason}")
    return Response(status_code=204)


@router.post("/digitaltwins/{twin_id}/telemetry", status_code=204, tags=["telemetry"],
             summary="Send telemetry for a twin (names checked against its model)")
async def send_telemetry(twin_id: str, request: Request) -> Response:
    return await _telemetry(request, twin_id, "", await read_json(request))


@router.post("/digitaltwins/{twin_id}/components/{component}/telemetry", status_code=204,
             tags=["telemetry"], summary="Send telemetry for a twin's component")
async def send_component_telemetry(twin_id: str, component: str, request: Request) -> Response:
    return await _telemetry(request, twin_id, component, await read_json(request))


def _parse_ndjson(body: bytes, ingestor: Any) -> tuple[list[Update], list[DeadLetter], int, list[str]]:
    """The updates of an NDJSON body, its refused lines as dead letters, how many and why."""
    with collector_paused():  # tens of thousands of new objects, none of them cyclic
        return _parse_lines(body, ingestor)


def _parse_lines(body: bytes, ingestor: Any) -> tuple[list[Update], list[DeadLetter], int, list[str]]:
    updates: list[Update] = []
    letters: list[DeadLetter] = []
    refused = 0
    errors: list[str] = []
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    parsed: list[Any] = []
    if all(line[:1] == b"{" and line[-1:] == b"}" for line in lines):
        # Fast path: when every line is an object, the body parses as one array in one call.
        with contextlib.suppress(orjson.JSONDecodeError):
            parsed = orjson.loads(b"[" + b",".join(lines) + b"]")
    if len(parsed) != len(lines):
        parsed = [None] * len(lines)
    for n, line in enumerate(lines, start=1):
        obj = parsed[n - 1]
        if obj is None:
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                reason = f"line {n} is not JSON: {exc}"
                refused += 1
                if len(errors) < 20:
                    errors.append(reason)
                ingestor.dead_letter(letters, "http:ingest", "not_json", reason, line.decode("utf-8", "replace"))
                continue
        update, kind, reason = update_from_json(obj, "http:ingest")
        if update is not None:
            updates.append(update)
            continue
        reason, payload = f"line {n}: {reason}", obj
        refused += 1
        if len(errors) < 20:
            errors.append(reason)
        ingestor.dead_letter(letters, "http:ingest", kind, reason, payload)
    return updates, letters, refused, errors


@router.post("/ingest", tags=["telemetry"],
             summary="Bulk property updates and telemetry, one JSON record per line (NDJSON)")
async def bulk_ingest(request: Request) -> Response:
    body = await read_bytes(request, body_limit(request, "ingest_bytes"), allow_empty=True)
    ingestor = ingestor_of(request)
    if len(body) > INLINE_PARSE_BYTES:  # a large body is parsed in the read pool, not on the loop
        updates, letters, refused, errors = await blocking(request, _parse_ndjson, body, ingestor)
    else:
        updates, letters, refused, errors = _parse_ndjson(body, ingestor)
    result = await request.app.state.committer.submit((updates, letters))
    result.rejected += refused
    result.errors = (errors + result.errors)[:20]
    return json_response(result.to_json())


@router.get("/digitaltwins/{twin_id}/history", tags=["history"],
            summary="A property's or telemetry's history: raw points or bucketed aggregates")
async def history(twin_id: str, request: Request) -> Response:
    params = request.query_params
    name = params.get("name")
    if not name:
        raise InvalidArgument("'name' is required: the property or telemetry name", code="InvalidArgument")
    graph = request.app.state.graph
    size, position = page_position(request)

    def read() -> list[dict[str, Any]]:
        graph.get_twin_raw(twin_id)  # 404 for an unknown twin
        return History(graph.store).read_range(
            twin_id, name, component=params.get("component", ""), start=params.get("from"),
            end=params.get("to"), bucket=params.get("bucket"), agg=params.get("agg"),
            after=int(position) if position is not None else None, limit=size)

    rows = await blocking(request, read)
    more = rows[-1]["_ts"] if len(rows) == size else None
    body = {"value": [{"time": r["time"], "value": r["value"]} for r in rows],
            "nextLink": next_link(request, [size, more]) if more is not None else None}
    return json_response(body)


@router.post("/history/aggregate", tags=["history"],
             summary="One series aggregated per bucket over the twins a query chooses, grouped: "
                     "{query, name, bucket, aggregate, groupBy?, twin?, component?, from?, to?, continuationToken?}")
async def history_aggregate(request: Request) -> Response:
    from twinforge.history.aggregate import AggregateRequest, aggregate

    body = await read_json(request)
    asked = AggregateRequest.parse(body)
    size, offset = page_size(request), 0
    token = body.get("continuationToken") if isinstance(body, dict) else None
    if token is not None:
        decoded = decode_token(str(token))
        if not (isinstance(decoded, list) and len(decoded) == 2 and all(isinstance(x, int) for x in decoded)):
            raise InvalidArgument("continuationToken is not valid", code="BadRequest")
        size, offset = decoded
    graph = request.app.state.graph
    rows = await blocking(request, aggregate, graph, asked)
    more = offset + size < len(rows)
    return json_response({"value": rows[offset:offset + size],
                          "continuationToken": encode_token([size, offset + size]) if more else None})


@router.get("/ingest/status", tags=["telemetry"],
            summary="Connectors (state, counters, last error) and refusals by kind")
async def ingest_status(request: Request) -> Response:
    state = request.app.state
    connectors = [c.status() for c in getattr(state, "connectors", [])]
    refused = Counter(ingestor_of(request).counters)
    child = getattr(state, "mqtt_process", None)
    if child is not None:  # MQTT ingest in a process of its own counts its refusals there
        refused.update(child.refused)
    body: dict[str, Any] = {"refused": dict(refused), "connectors": connectors,
                            "mqtt": combined_status([c for c in connectors if c["type"] == "mqtt"]),
                            "opcua": [c for c in connectors if c["type"] == "opcua"],
                            "listenerFailures": ingestor_of(request).listener_failures,
                            "background": background(request.app)}
    return json_response(body)


@router.get("/deadletters", tags=["telemetry"],
            summary="Inputs that could not be applied, oldest first, with stored counts by kind")
async def dead_letters(request: Request) -> Response:
    size, position = page_position(request)
    graph = request.app.state.graph

    def read() -> tuple[list[DeadLetter], dict[str, int]]:
        return graph.dead_letters(after=int(position or 0), limit=size), graph.dead_letter_counts()

    letters, counts = await blocking(request, read)
    value = [{"seq": d.seq, "time": d.time, "source": d.source, "kind": d.kind, "reason": d.reason,
              "payload": d.payload} for d in letters]
    body = {"value": value, "counts": counts,
            "nextLink": next_link(request, [size, letters[-1].seq]) if len(letters) == size else None}
    return json_response(body)
