"""The FastAPI application: ADT-compatible data plane over a TwinGraph.

Errors of our own hierarchy are mapped to HTTP here, once, in ADT's shape
``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from twinforge import __version__
from twinforge.dtdl import ModelError
from twinforge.errors import BadRequest, TwinforgeError
from twinforge.graph import TwinGraph

API_VERSIONS = {"2020-10-31", "2021-06-30-preview", "2022-05-31", "2023-06-30", "2023-10-31"}
DEFAULT_API_VERSION = "2023-10-31"
DEFAULT_PAGE_SIZE = 1000
QUERY_PAGE_SIZE = 100
MAX_BODY_BYTES = 32 * 1024 * 1024


def json_response(body: Any, status: int = 200, *, etag: str | None = None) -> Response:
    headers = {"ETag": etag} if etag else None
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers=headers)


def raw_json_response(text: str, *, etag: str | None = None) -> Response:
    headers = {"ETag": etag} if etag else None
    return Response(text, media_type="application/json", headers=headers)


def error_response(status: int, code: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message}}, status)


async def read_json(request: Request) -> Any:
    """The request body as JSON, or a clear 400 when it is not."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(f"request body is larger than {MAX_BODY_BYTES} bytes", code="PayloadTooLarge")
    if not body.strip():
        raise BadRequest("request body is empty; expected JSON", code="InvalidArgument")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}", code="InvalidArgument") from exc


class ApiVersionMiddleware:
    """Plain ASGI in front of the routes.

    It refuses an unknown ``api-version`` (a missing one means the latest), and answers
    ``GET /digitaltwins/{id}`` — the hottest call of a twin platform — straight from the
    store, without routing or dependency resolution (the routes document it); the
    liveness probe ``GET /health`` takes the same path.
    """

    def __init__(self, app: Any, graph: TwinGraph | None = None) -> None:
        self.app = app
        self.graph = graph

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
                body = b'{"status":"ok"}'
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
            if (self.graph is not None and scope["method"] == "GET" and path.startswith("/digitaltwins/")
                    and len(path) > 14 and "/" not in path[14:]):
                await self._get_twin(path[14:], send)
                return
        await self.app(scope, receive, send)

    async def _get_twin(self, twin_id: str, send: Any) -> None:
        assert self.graph is not None
        try:
            text, etag = self.graph.get_twin_raw(twin_id)
        except TwinforgeError as exc:
            body = orjson.dumps({"error": {"code": exc.code, "message": exc.message}})
            status, headers = exc.status, [(b"content-type", b"application/json")]
        else:
            body = text.encode()
            status = 200
            headers = [(b"content-type", b"application/json"), (b"etag", etag.encode())]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def page_size(request: Request, default: int = DEFAULT_PAGE_SIZE) -> int:
    raw = request.headers.get("max-items-per-page")
    if raw is None:
        return default
    try:
        size = int(raw)
    except ValueError:
        raise BadRequest("max-items-per-page must be an integer", code="InvalidArgument") from None
    return max(1, min(size, DEFAULT_PAGE_SIZE))


def page_position(request: Request) -> tuple[int, Any]:
    """Page size and where the page starts: from the continuation token, else the request."""
    token = request.query_params.get("continuationToken")
    if token:
        decoded = decode_token(token)
        if not (isinstance(decoded, list) and len(decoded) == 2 and isinstance(decoded[0], int)):
            raise BadRequest("continuationToken is not valid", code="InvalidArgument")
        return decoded[0], decoded[1]
    return page_size(request), None


def encode_token(value: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode()


def decode_token(token: str) -> Any:
    try:
        return orjson.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, orjson.JSONDecodeError):
        raise BadRequest("continuationToken is not valid", code="InvalidArgument") from None


def next_link(request: Request, token: Any) -> str:
    url = request.url.remove_query_params("continuationToken")
    return str(url.include_query_params(continuationToken=encode_token(token)))


def create_app(graph: TwinGraph) -> FastAPI:
    """An ADT-compatible API serving ``graph``."""
    from twinforge.events import EventBus

    bus = EventBus(graph)

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

    app = FastAPI(
        lifespan=lifespan,
        title="twinforge",
        version=__version__,
        description="Digital twins: an Azure Digital Twins compatible data plane, and more.",
    )
    app.state.graph = graph
    app.state.bus = bus
    app.state.on_start = []  # async callables(app): connectors and routers add themselves
    app.state.on_stop = []

    @app.exception_handler(ModelError)
    async def _model_error(_: Request, exc: ModelError) -> Response:
        return json_response({"error": {"code": exc.code, "message": exc.message,
                                        "details": [{"code": "DTDLParserError", "message": m}
                                                    for m in exc.errors[:100]]}}, 400)

    @app.exception_handler(TwinforgeError)
    async def _twinforge_error(_: Request, exc: TwinforgeError) -> Response:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _request_error(_: Request, exc: RequestValidationError) -> Response:
        return error_response(400, "InvalidArgument", str(exc.errors()[:3]))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "BadRequest")
        return error_response(exc.status_code, code, str(exc.detail))

    app.add_middleware(ApiVersionMiddleware, graph=graph)

    from twinforge.api.routes import router
    from twinforge.api.routes_data import router as data_router
    from twinforge.api.routes_events import router as events_router
    from twinforge.api.routes_stream import router as stream_router
    from twinforge.events.routes import RouteManager
    from twinforge.ingest import Ingestor
    from twinforge.ingest.group import GroupCommitter

    app.state.ingestor = Ingestor(graph)
    app.state.committer = GroupCommitter(app.state.ingestor)
    app.state.routes = RouteManager(bus, app.state.ingestor)
    app.include_router(router)
    app.include_router(data_router)
    app.include_router(stream_router)
    app.include_router(events_router)
    return app
