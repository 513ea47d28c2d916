"""What one client may ask of a server: request rate, open streams, body sizes.

A client is its token (under `--auth`, by name) or else its address. The rate is a token
bucket per client (`serve --rate-limit 100/s`: a second's worth may come at once); past it a
request is answered 429 `TooManyRequests` with `Retry-After`. Streams (`/stream` as SSE or
WebSocket) are counted while open (`--max-streams`). `/health` is never limited. Counts are
per server: behind a load balancer each server applies them to what it sees.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson

from twinforge.errors import InvalidArgument

MB = 1024 * 1024
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$")
_PER = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0, "h": 3600.0, "hour": 3600.0}
EXEMPT = ("/health",)


def parse_rate(text: str) -> float:
    """``100/s``, ``6000/min`` or ``1000/h`` as requests per second."""
    m = _RATE.match(text)
    if not m or float(m.group(1)) <= 0:
        raise InvalidArgument(f"--rate-limit {text!r}: give a number per s, min or h, e.g. 100/s")
    return float(m.group(1)) / _PER[m.group(2)]


@dataclass(frozen=True, slots=True)
class Limits:
    """A server's limits (`serve` flags of the same names)."""

    rate: float | None = None  # requests per second per client; None: no limit
    streams: int = 20  # open /stream connections per client
    body_bytes: int = 32 * MB  # a JSON body
    ingest_bytes: int = 64 * MB  # an NDJSON body on POST /ingest
    model_bytes: int = 64 * MB  # a RUL model upload

    def check(self) -> None:
        for name, value in (("--max-streams", self.streams), ("--max-body-bytes", self.body_bytes),
                            ("--max-ingest-bytes", self.ingest_bytes), ("--max-model-bytes", self.model_bytes)):
            if value < (1 if name == "--max-streams" else 1024):
                raise InvalidArgument(f"{name} {value} is too small")


class _Bucket:
    __slots__ = ("level", "stamp")

    def __init__(self, level: float, stamp: float) -> None:
        self.level, self.stamp = level, stamp


class LimitsMiddleware:
    """Rate and stream limits, applied after authentication (so a token is known by name)."""

    def __init__(self, app: Any, limits: Limits) -> None:
        self.app = app
        self.limits = limits
        self._buckets: dict[str, _Bucket] = {}
        self._streams: dict[str, int] = {}
        self._lock = threading.Lock()
        self.refused = 0

    @staticmethod
    def client(scope: Any) -> str:
        token = (scope.get("state") or {}).get("auth")
        if token is not None:
            return f"token:{getattr(token, 'name', token)}"
        address = scope.get("client")
        return f"address:{address[0] if address else '?'}"

    def _wait(self, key: str) -> float:
        """0 when a request may go now, else the seconds until it may."""
        rate = self.limits.rate
        if rate is None:
            return 0.0
        burst = max(1.0, rate)
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) > 100_000:  # forget idle clients rather than grow for ever
                    self._buckets = {k: b for k, b in self._buckets.items() if now - b.stamp < 60}
                bucket = self._buckets[key] = _Bucket(burst, now)
            bucket.level = min(burst, bucket.level + (now - bucket.stamp) * rate)
            bucket.stamp = now
            if bucket.level >= 1.0:
                bucket.level -= 1.0
                return 0.0
            return (1.0 - bucket.level) / rate

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        key = self.client(scope)
        wait = self._wait(key)
        if wait > 0:
            await self._refuse(scope, send, f"more than {self.limits.rate:g} requests a second from this client; "
                                            f"retry in {wait:.2f} s", math.ceil(wait))
            return
        if scope["path"] != "/stream":
            await self.app(scope, receive, send)
            return
        with self._lock:
            open_now = self._streams.get(key, 0)
            if open_now < self.limits.streams:
                self._streams[key] = open_now + 1
        if open_now >= self.limits.streams:
            await self._refuse(scope, send, f"this client has {open_now} streams open; the limit is "
                                            f"{self.limits.streams}", 1)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            with self._lock:
                left = self._streams.get(key, 1) - 1
                if left:
                    self._streams[key] = left
                else:
                    self._streams.pop(key, None)

    async def _refuse(self, scope: Any, send: Any, message: str, retry: int) -> None:
        self.refused += 1
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1013, "reason": message[:120]})
            return
        body = orjson.dumps({"error": {"code": "TooManyRequests", "message": message}})
        await send({"type": "http.response.start", "status": 429,
                    "headers": [(b"content-type", b"application/json"), (b"retry-after", str(retry).encode()),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


__all__ = ["Limits", "LimitsMiddleware", "parse_rate"]
