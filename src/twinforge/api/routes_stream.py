"""Live event streams: WebSocket and Server-Sent Events on /stream."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

from twinforge.errors import InvalidArgument
from twinforge.events import EventBus, EventFilter

router = APIRouter()
HEARTBEAT_SECONDS = 15.0


def _scoped(event_filter: EventFilter, asgi_scope: Any) -> EventFilter:
    """Under --auth with a scoped token, only events of twins in its scope."""
    in_scope = (asgi_scope.get("state") or {}).get("twin_in_scope")
    if in_scope is None:
        return event_filter
    before = event_filter.custom

    def custom(envelope: dict[str, Any]) -> bool:
        twin = str(envelope.get("subject") or "").split("/", 1)[0]
        return bool(in_scope(twin)) and (before is None or before(envelope))

    return dataclasses.replace(event_filter, custom=custom)


def _filter(app_state: object, params: object) -> tuple[EventFilter, int | None]:
    graph = app_state.graph  # type: ignore[attr-defined]
    get_list = params.getlist  # type: ignore[attr-defined]
    event_filter = EventFilter.build(graph, get_list("twin"), get_list("model"), get_list("type"))
    after = params.get("lastEventId")  # type: ignore[attr-defined]
    if after is not None and not str(after).isdigit():
        raise InvalidArgument("lastEventId must be an event id (a whole number)", code="InvalidArgument")
    return event_filter, int(after) if after is not None else None


@router.get("/stream/position", tags=["events"],
            summary="The id of the last event: read it before a twin, then resume /stream from it")
async def stream_position(request: Request) -> Any:
    from twinforge.api.http import blocking, json_response

    last = await blocking(request, request.app.state.graph.store.last_event_seq)
    return json_response({"lastEventId": last})


@router.get("/stream", tags=["events"], response_class=StreamingResponse,
            responses={200: {"description": "Server-Sent Events", "content": {"text/event-stream": {}}}},
            summary="Server-Sent Events of twin changes and telemetry (filters: twin, model, type; "
                    "resume with Last-Event-ID)")
async def stream_sse(request: Request) -> StreamingResponse:
    event_filter, after = _filter(request.app.state, request.query_params)
    event_filter = _scoped(event_filter, request.scope)
    header = request.headers.get("last-event-id")
    if header is not None and header.isdigit():
        after = int(header)
    bus: EventBus = request.app.state.bus

    async def body() -> AsyncIterator[bytes]:
        yield b": twinforge event stream\n\n"
        events = bus.stream(event_filter, after).__aiter__()
        while True:
            try:
                event = await asyncio.wait_for(events.__anext__(), HEARTBEAT_SECONDS)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            except StopAsyncIteration:
                return
            payload = bus.encode(event)
            if event.seq == 0:  # announced live only: no id to resume from
                yield b"event: %s\ndata: %s\n\n" % (event.type.encode(), payload)
                continue
            yield b"id: %d\nevent: %s\ndata: %s\n\n" % (event.seq, event.type.encode(), payload)

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.websocket("/stream")
async def stream_ws(websocket: WebSocket) -> None:
    try:
        event_filter, after = _filter(websocket.app.state, websocket.query_params)
        event_filter = _scoped(event_filter, websocket.scope)
    except InvalidArgument as exc:
        await websocket.close(code=1008, reason=exc.message[:120])
        return
    await websocket.accept()
    bus: EventBus = websocket.app.state.bus

    send = websocket.send  # the ASGI message itself: starlette's send_text only wraps it

    async def forward() -> None:
        async for event in bus.stream(event_filter, after):
            await send({"type": "websocket.send", "text": bus.encode(event).decode()})
        if bus.closing:
            await websocket.close(code=1001, reason="the server is stopping")
        else:
            await websocket.close(code=1013, reason="fell behind: reconnect with lastEventId")

    sender = asyncio.create_task(forward())
    try:
        # Reading is how a server notices that the client went away.
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await sender
