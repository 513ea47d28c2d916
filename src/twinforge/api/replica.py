"""Read-your-writes over a PostgreSQL read replica (`serve --db-read`).

Read requests (GET, HEAD, and POST /query) read from the replica; writes, and every read a
write request or background work makes (ETag checks, the event bus, evaluators), use the
primary. Every answer to a write carries a session token, ``Twinforge-Session``: the
primary's WAL position once the write committed. A client that sends it back on later reads
(to this server or any other of the same store) is answered from the replica once the
replica has replayed that far, and from the primary if it has not within a second. Reads
without the header get whatever the replica has.
"""

from __future__ import annotations

from typing import Any

from twinforge.errors import InvalidArgument
from twinforge.store.postgres.connections import ANY, READ_FLOOR, lsn

HEADER = b"twinforge-session"
READS = {"GET", "HEAD", "OPTIONS"}


class ReadYourWritesMiddleware:
    """Sets the request's read floor from ``Twinforge-Session``; puts the store's token on the
    answers to writes (and echoes the floor on reads)."""

    def __init__(self, app: Any, position: Any) -> None:
        self.app = app
        self.position = position  # the store's session_token: an attribute read, no I/O

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        floor = next((v.decode("latin-1").strip() for k, v in scope.get("headers", []) if k == HEADER), None)
        if floor:
            try:
                lsn(floor)
            except InvalidArgument as exc:
                await _refuse(send, exc.message)
                return
        method = scope.get("method", "GET")
        write = method not in READS and not (method == "POST" and scope.get("path") == "/query")
        token = READ_FLOOR.set(None if write else (floor or ANY))

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                # after a write the store's position includes it; after a read, the client's own
                value = self.position() if write else (floor or self.position())
                message = {**message, "headers": [*message.get("headers", []), (HEADER, value.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            READ_FLOOR.reset(token)


async def _refuse(send: Any, message: str) -> None:
    import orjson

    body = orjson.dumps({"error": {"code": "InvalidArgument", "message": message}})
    await send({"type": "http.response.start", "status": 400,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


__all__ = ["HEADER", "ReadYourWritesMiddleware"]
