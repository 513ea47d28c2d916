"""The FastAPI application: ADT-compatible data plane over a TwinGraph.

Errors of the library are mapped to HTTP once (``api/errors.py``) in ADT's shape
``{"error": {"code": ..., "message": ...}}``. Store work runs in thread pools
(``api/http.Workers``): the event loop only moves bytes.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, unquote

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from twinforge import __version__
from twinforge.api.batching import WriteBatcher
from twinforge.api.errors import error_body, status_of
from twinforge.api.health import health
from twinforge.api.http import (
    MAX_BODY_BYTES,
    Workers,
    error_response,
    json_response,
    parse_json_body,
)
from twinforge.errors import InvalidArgument, TwinforgeError
from twinforge.graph import TwinGraph

API_VERSIONS = {"2020-10-31", "2021-06-30-preview", "2022-05-31", "2023-06-30", "2023-10-31"}
DEFAULT_API_VERSION = "2023-10-31"


class FastPathMiddleware:
    """Plain ASGI in front of the routes.

    It refuses an unknown ``api-version`` (a missing one means the latest), and answers
    ``GET /digitaltwins/{id}`` — the hottest call of a twin platform — without routing or
    dependency resolution (the routes document it; the store read still runs in the
    store's thread pool); the liveness probe ``GET /health`` takes the same path.
    """

    def __init__(self, app: Any, graph: TwinGraph | None = None) -> None:
        self.app = app
        self.graph = graph
        self._patches: WriteBatcher[tuple[str, Any, str | None], Any] | None = None

    def patches(self, app: Any) -> WriteBatcher[tuple[str, Any, str | None], Any]:
        """Concurrent patches share a transaction (each still checked and refused on its own)."""
        if self._patches is None:
            assert self.graph is not None
            self._patches = WriteBatcher(app.state.workers, self.graph.update_twins)
        return self._patches

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            if b"api-version=" in scope.get("query_string", b""):
                params = parse_qs(scope["query_string"].decode("latin-1"))
                for version in params.get("api-version", []):
                    if version not in API_VERSIONS:
                        message = (f"api-version '{version}' is not supported; use one of "
                                   f"{', '.join(sorted(API_VERSIONS))}")
                        response = error_response(400, "InvalidApiVersion", message)
                        await response(scope, receive, send)
                        return
            path: str = scope["path"]
            if path == "/health" and scope["method"] == "GET":
                status, body = health(scope["app"])
                await _send(send, status, orjson.dumps(body))
                return
            if (self.graph is not None and path.startswith("/digitaltwins/") and len(path) > 14
                    and "/" not in path[14:]):
                if scope["method"] == "GET":
                    await self._get_twin(scope["app"], path[14:], send)
                    return
                if scope["method"] == "PATCH":
                    await self._patch_twin(scope, receive, path[14:], send)
                    return
        await self.app(scope, receive, send)

    async def _patch_twin(self, scope: Any, receive: Any, twin_id: str, send: Any) -> None:
        """``PATCH /digitaltwins/{id}``: the hottest write, answered as the route would."""
        assert self.graph is not None
        if_match = None
        for name, value in scope["headers"]:
            if name == b"if-match":
                if_match = value.decode("latin-1")
        try:
            patch = parse_json_body(await _body(receive))
            result = await self.patches(scope["app"]).submit((unquote(twin_id), patch, if_match))
            if isinstance(result, TwinforgeError):
                raise result
            doc = result
        except TwinforgeError as exc:
            await _send(send, status_of(exc), orjson.dumps(error_body(exc)))
        else:
            await _send(send, 204, b"", [(b"etag", doc["$etag"].encode())], content_type=False)

    async def _get_twin(self, app: Any, twin_id: str, send: Any) -> None:
        assert self.graph is not None
        workers: Workers = app.state.workers
        try:
            text, etag = await workers.run(self.graph.get_twin_raw, unquote(twin_id))
        except TwinforgeError as exc:
            await _send(send, status_of(exc), orjson.dumps(error_body(exc)))
        else:
            await _send(send, 200, text.encode(), [(b"etag", etag.encode())])


async def _body(receive: Any) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise InvalidArgument(f"request body is larger than {MAX_BODY_BYTES} bytes", code="PayloadTooLarge")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send(send: Any, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None, *,
                content_type: bool = True) -> None:
    headers = [(b"content-length", str(len(body)).encode()), *(extra or [])]
    if content_type:
        headers.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_app(graph: TwinGraph, *, threads: int = 4, query_threads: int = 4,
               query_timeout: float = 10.0) -> FastAPI:
    """An ADT-compatible API serving ``graph``.

    ``threads`` and ``query_threads`` size the pools that run store work and queries;
    ``query_timeout`` (seconds) bounds every query.
    """
    from twinforge.events import EventBus

    bus = EventBus(graph)
    workers = Workers(threads, query_threads)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await bus.start()
        for start in app.state.on_start:
            await start(app)
        app.state.routes.mqtt = getattr(app.state, "mqtt", None)
        await app.state.routes.start()
        try:
            yield
        finally:
            await app.state.routes.stop()
            for stop in reversed(app.state.on_stop):
                await stop(app)
            await bus.stop()
            workers.close()

    app = FastAPI(
        lifespan=lifespan,
        title="twinforge",
        version=__version__,
        description="Digital twins: an Azure Digital Twins compatible data plane, and more.",
        docs_url=None, redoc_url=None,
    )
    app.state.graph = graph
    app.state.bus = bus
    app.state.workers = workers
    app.state.query_timeout = query_timeout
    app.state.connectors = []  # objects with .status(): reported by /health and /ingest/status
    app.state.on_start = []  # async callables(app): connectors and routers add themselves
    app.state.on_stop = []

    @app.exception_handler(TwinforgeError)
    async def _twinforge_error(_: Request, exc: TwinforgeError) -> Response:
        return json_response(error_body(exc), status_of(exc))

    @app.exception_handler(RequestValidationError)
    async def _request_error(_: Request, exc: RequestValidationError) -> Response:
        return error_response(400, "InvalidArgument", str(exc.errors()[:3]))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "BadRequest")
        return error_response(exc.status_code, code, str(exc.detail))

    app.add_middleware(FastPathMiddleware, graph=graph)

    from twinforge.api.docs import router as docs_router
    from twinforge.api.routes import router
    from twinforge.api.routes_data import router as data_router
    from twinforge.api.routes_events import router as events_router
    from twinforge.api.routes_stream import router as stream_router
    from twinforge.events.routes import RouteManager
    from twinforge.ingest import Ingestor

    app.state.ingestor = Ingestor(graph)
    # Bulk ingest requests that arrive together share one transaction on the writer thread.
    app.state.committer = WriteBatcher(workers, app.state.ingestor.apply_many, max_weight=200_000,
                                       weight=lambda submission: len(submission[0]))
    app.state.routes = RouteManager(bus, app.state.ingestor)
    app.include_router(router)
    app.include_router(data_router)
    app.include_router(stream_router)
    app.include_router(events_router)
    app.include_router(docs_router)
    return app
