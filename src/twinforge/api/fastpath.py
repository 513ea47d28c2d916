"""The plain ASGI layer in front of the routes: api-version checks and the hottest calls."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote

import orjson

from twinforge.api.batching import WriteBatcher
from twinforge.api.errors import error_body, status_of
from twinforge.api.health import health
from twinforge.api.http import (
    INLINE_PARSE_BYTES,
    MAX_BODY_BYTES,
    Workers,
    error_response,
    parse_json_body,
)
from twinforge.errors import InvalidArgument, TwinforgeError
from twinforge.graph import TwinGraph

API_VERSIONS = {"2020-10-31", "2021-06-30-preview", "2022-05-31", "2023-06-30", "2023-10-31"}
DEFAULT_API_VERSION = "2023-10-31"


class FastPathMiddleware:
    """Plain ASGI in front of the routes.

    It refuses an unknown ``api-version`` (a missing one means the latest), and answers
    the hottest calls of a twin platform, ``GET`` and ``PATCH /digitaltwins/{id}``, without
    routing or dependency resolution (the routes document them; the store work still runs
    in the app's thread pools, and concurrent patches share a transaction through
    ``app.state.patches``); the liveness probe ``GET /health`` takes the same path.
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
            body = await _body(receive)
            if len(body) > INLINE_PARSE_BYTES:
                patch = await scope["app"].state.workers.run(parse_json_body, body)
            else:
                patch = parse_json_body(body)  # small body: cheaper here than a thread hop
            patches: WriteBatcher[tuple[str, Any, str | None], Any] = scope["app"].state.patches
            result = await patches.submit((unquote(twin_id), patch, if_match))
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


__all__ = ["API_VERSIONS", "DEFAULT_API_VERSION", "FastPathMiddleware"]
