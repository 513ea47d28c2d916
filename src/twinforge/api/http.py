"""HTTP helpers shared by every router: JSON bodies and answers, paging, and running
blocking store work off the event loop."""

from __future__ import annotations

import asyncio
import base64
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson
from fastapi import Request
from fastapi.responses import Response

from twinforge.dtdl.values import loads
from twinforge.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 1000
QUERY_PAGE_SIZE = 100
MAX_BODY_BYTES = 32 * 1024 * 1024
INLINE_PARSE_BYTES = 256 * 1024  # larger bodies are parsed in a thread, never on the event loop
T = TypeVar("T")


class Workers:
    """Thread pools for the store's blocking calls, so the event loop never waits on them.

    Reads share a small pool; changes go through one writer thread (a store takes one
    write at a time anyway, and one thread avoids a convoy of threads on its lock); queries
    have their own pool, so however many slow queries run, a twin read or write still
    finds a free thread.
    """

    def __init__(self, threads: int = 4, query_threads: int = 4) -> None:
        self.store = ThreadPoolExecutor(threads, thread_name_prefix="twinforge-read")
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="twinforge-write")
        self.queries = ThreadPoolExecutor(query_threads, thread_name_prefix="twinforge-query")

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` (a read) in the read pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.store, contextvars.copy_context().run,  # the request's read floor
                                          functools.partial(fn, *args, **kwargs))

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` (a change) on the writer thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.writer, contextvars.copy_context().run,  # the request's read floor
                                          functools.partial(fn, *args, **kwargs))

    async def query(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in the query pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.queries, contextvars.copy_context().run,  # the request's read floor
                                          functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        for pool in (self.store, self.writer, self.queries):
            pool.shutdown(wait=False, cancel_futures=True)


async def blocking(request: Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking library read for a request in the app's read pool."""
    workers: Workers = request.app.state.workers
    return await workers.run(fn, *args, **kwargs)


async def writing(request: Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking library change for a request on the app's writer thread."""
    workers: Workers = request.app.state.workers
    return await workers.write(fn, *args, **kwargs)


def json_response(body: Any, status: int = 200, *, etag: str | None = None) -> Response:
    headers = {"ETag": etag} if etag else None
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers=headers)


def raw_json_response(text: str, *, etag: str | None = None) -> Response:
    headers = {"ETag": etag} if etag else None
    return Response(text, media_type="application/json", headers=headers)


def error_response(status: int, code: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message}}, status)


def body_limit(request: Request, kind: str = "body_bytes") -> int:
    """This server's limit of that kind (`serve --max-body-bytes`, ...)."""
    limits = getattr(request.app.state, "limits", None)
    return int(getattr(limits, kind)) if limits is not None else MAX_BODY_BYTES


async def read_json(request: Request) -> Any:
    """The request body as JSON, or a clear 400 when it is not (or when it is too large)."""
    body = await read_bytes(request, body_limit(request), allow_empty=True)
    if len(body) > INLINE_PARSE_BYTES:
        return await blocking(request, parse_json_body, body)
    return parse_json_body(body)  # small body: cheaper here than a thread hop


async def read_bytes(request: Request, limit: int, what: str = "request body", *, allow_empty: bool = False) -> bytes:
    """The body as bytes, read as it comes and refused as soon as it passes ``limit``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise InvalidArgument(f"{what} is {int(declared):,} bytes; the limit is {limit:,}", code="PayloadTooLarge")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InvalidArgument(f"{what} is larger than the limit of {limit:,} bytes", code="PayloadTooLarge")
        chunks.append(chunk)
    if not size and not allow_empty:
        raise InvalidArgument(f"{what} is empty", code="InvalidArgument")
    return b"".join(chunks)


def parse_json_body(body: bytes) -> Any:
    """A request body as JSON, or a clear 400 when it is not."""
    if not body.strip():
        raise InvalidArgument("request body is empty; expected JSON", code="InvalidArgument")
    try:
        return loads(body)
    except (orjson.JSONDecodeError, ValueError) as exc:
        raise InvalidArgument(f"request body is not valid JSON: {exc}", code="InvalidArgument") from exc


def page_size(request: Request, default: int = DEFAULT_PAGE_SIZE) -> int:
    raw = request.headers.get("max-items-per-page")
    if raw is None:
        return default
    try:
        size = int(raw)
    except ValueError:
        raise InvalidArgument("max-items-per-page must be an integer", code="InvalidArgument") from None
    return max(1, min(size, DEFAULT_PAGE_SIZE))


def page_position(request: Request) -> tuple[int, Any]:
    """Page size and where the page starts: from the continuation token, else the request."""
    token = request.query_params.get("continuationToken")
    if token:
        decoded = decode_token(token)
        if not (isinstance(decoded, list) and len(decoded) == 2 and isinstance(decoded[0], int)):
            raise InvalidArgument("continuationToken is not valid", code="BadRequest")
        return decoded[0], decoded[1]
    return page_size(request), None


def encode_token(value: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode()


def decode_token(token: str) -> Any:
    try:
        return orjson.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, orjson.JSONDecodeError):
        raise InvalidArgument("continuationToken is not valid", code="BadRequest") from None


def next_link(request: Request, token: Any) -> str:
    url = request.url.remove_query_params("continuationToken")
    return str(url.include_query_params(continuationToken=encode_token(token)))
