"""Authentication, roles, scopes and the audit log, as plain ASGI in front of everything
(so the fast path, the routes, `/query` and `/stream` are all covered).

- No valid bearer token: 401 (`GET /health` stays open for load balancers, and the dashboard's
  page and scripts under `/ui` are open: the data they show is asked for with a token).
- A reader may read and query; a writer may also change; `/audit` and `/jobs` are for admins.
- A scoped token reaches only twins in its scope (`/digitaltwins/{id}/...`), `/query` results
  are filtered to its twins (rows without a twin are dropped), `/stream` carries only its
  twins' events, models may be read; anything else is 403.
- Every change (and every refused request) is written to the audit log: who, what, when,
  from where, the outcome. Secrets are never written anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

import orjson

from twinforge.api.errors import error_body, status_of
from twinforge.auth.audit import record_audit
from twinforge.auth.oidc import looks_like_jwt
from twinforge.auth.tokens import Token, Tokens
from twinforge.errors import Forbidden, InvalidArgument, TwinforgeError

if TYPE_CHECKING:
    from twinforge.graph import TwinGraph

READS = {"GET", "HEAD", "OPTIONS"}
ADMIN = ("/audit", "/jobs")
SCOPED_OPEN = ("/digitaltwins/", "/query", "/stream", "/models")
RECHECK = 1.0  # seconds between checks that an open stream's token is still good


def _open(path: str) -> bool:
    return path == "/health" or path == "/ui" or path.startswith("/ui/")


class _Refused(Exception):
    """A request refused by the checks, with who asked (when the token was valid)."""

    def __init__(self, error: TwinforgeError, actor: str | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.actor = actor


class AuthMiddleware:
    """Bearer tokens, roles, scopes and the audit log for every HTTP and WebSocket request."""

    def __init__(self, app: Any, graph: TwinGraph, oidc: Any = None, workers: Any = None) -> None:
        self.app = app
        self.graph = graph
        self.workers = workers  # the app's pools: checks run in the read pool, audit rows on the writer
        self.tokens = Tokens(graph.store)
        self.oidc = oidc  # an OidcVerifier: JWTs from an identity provider are accepted too
        self._cached: dict[str, tuple[float, Any]] = {}

    def _cache(self, key: str, make: Any, ttl: float = 2.0) -> Any:
        """A value recomputed at most every ``ttl`` seconds (query scopes, the sensitive models)."""
        now = time.monotonic()
        hit = self._cached.get(key)
        if hit is None or now - hit[0] > ttl:
            hit = (now, make())
            self._cached[key] = hit
        return hit[1]

    def _query_ids(self, query: str) -> set[str]:
        def run() -> set[str]:
            ids: set[str] = set()
            for row in self.graph.query(query):
                ids.update(_ids_of(row))
            return ids

        result: set[str] = self._cache("query:" + query, run)
        return result

    def _of_models(self, twin_id: str, dtmis: list[str]) -> bool:
        record = self.graph.store.get_twin(twin_id)
        if record is None:
            return False
        models = self.graph.models
        return any(record.model == m or (record.model in models and m in models and models.is_of_model(record.model, m))
                   for m in dtmis)

    def sensitive(self, twin_id: str) -> bool:
        """Whether reads of this twin are audited (its model is marked sensitive)."""
        dtmis = self._cache("sensitive", lambda: sensitive_models(self.graph.store))
        return bool(dtmis) and self._of_models(twin_id, dtmis)

    # -- scope ------------------------------------------------------------

    def in_scope(self, token: Token, twin_id: str) -> bool:
        if not token.scoped:
            return True
        if any(twin_id.startswith(prefix) for prefix in token.twins):
            return True
        if token.models and self._of_models(twin_id, token.models):
            return True
        return any(twin_id in self._query_ids(q) for q in token.queries)

    def check(self, token: Token, method: str, path: str) -> None:
        if path.startswith(ADMIN) and token.role != "admin":
            raise Forbidden(f"{path} is for admins; token '{token.name}' is a {token.role}")
        read = method in READS or (method == "POST" and path == "/query")
        if not read and token.role == "reader":
            raise Forbidden(f"token '{token.name}' is a reader: it may not {method} {path}")
        if not token.scoped:
            return
        if not path.startswith(SCOPED_OPEN) or (path.startswith("/models") and not read):
            raise Forbidden(f"{method} {path} is outside the scope of token '{token.name}'")
        if path.startswith("/digitaltwins/"):
            twin_id = unquote(path[len("/digitaltwins/"):].split("/", 1)[0])
            if not self.in_scope(token, twin_id):
                raise Forbidden(f"twin '{twin_id}' is outside the scope of token '{token.name}'")

    # -- ASGI ---------------------------------------------------------------

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket") or (scope["type"] == "http" and _open(scope["path"])):
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        path = scope["path"]
        secret = None
        for key, value in scope.get("headers", []):
            if key == b"authorization" and value[:7].lower() == b"bearer ":
                secret = value[7:].decode("latin-1").strip()
        if secret is None and scope["type"] == "websocket":  # browsers cannot set headers on a WebSocket
            secret = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("access_token") or [None])[0]
        client = (scope.get("client") or ("", 0))[0]
        try:
            token, twin_read, audit_query = await self._off_loop(self._authorize, secret, method, path,
                                                                 scope["type"])
        except _Refused as refused:
            exc = refused.error
            await self._audit(refused.actor, method, path, client, status_of(exc), exc.code)
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": exc.message[:120]})
                return
            headers = [(b"content-type", b"application/json")]
            if status_of(exc) == 401:
                headers.append((b"www-authenticate", b'Bearer realm="twinforge"'))
            await send({"type": "http.response.start", "status": status_of(exc), "headers": headers})
            await send({"type": "http.response.body", "body": orjson.dumps(error_body(exc))})
            return
        scope.setdefault("state", {})["auth"] = token
        if token.scoped:
            scope["state"]["twin_in_scope"] = lambda twin: self.in_scope(token, twin)
        write = not (method in READS or (method == "POST" and path == "/query")) and scope["type"] == "http"
        status = [0]
        code: list[str | None] = [None]

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            elif message["type"] == "http.response.body" and status[0] >= 400 and code[0] is None:
                code[0] = _error_code(message.get("body", b""))  # the rule that refused, in the audit row
            await send(message)

        if path == "/stream":
            await self._watched(scope, receive, send, token)
        elif (token.scoped or audit_query) and path == "/query" and method == "POST":
            read_twins = await self._filtered_query(scope, receive, send, token)
            if read_twins:
                await self._audit(token.name, method, path, client, 200, None, twins=read_twins[:100])
        else:
            await self.app(scope, receive, sending if (write or twin_read) else send)
        if write or twin_read:
            await self._audit(token.name, method, path, client, status[0], code[0])

    async def _watched(self, scope: Any, receive: Any, send: Any, token: Token) -> None:
        """A stream that ends when its token is revoked or expires (checked every ``RECHECK`` s)."""
        started = [False]

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                started[0] = True
            await send(message)

        stream = asyncio.ensure_future(self.app(scope, receive, sending))
        why = None
        try:
            while not stream.done():
                await asyncio.wait({stream}, timeout=RECHECK)
                if stream.done():
                    break
                why = await self._off_loop(self.tokens.why_not, token)
                if why is not None:
                    stream.cancel()
                    break
        finally:
            if not stream.done():
                stream.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await stream
        if why is None:
            stream.result()  # the stream's own error, if it had one
            return
        if scope["type"] == "websocket":
            with contextlib.suppress(Exception):
                await send({"type": "websocket.close", "code": 1008, "reason": why[:120]})
        elif started[0]:
            with contextlib.suppress(Exception):
                await send({"type": "http.response.body", "more_body": False,
                            "body": b"event: closed\ndata: " + orjson.dumps({"reason": why}) + b"\n\n"})

    async def _off_loop(self, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` in the read pool: token checks and scopes read the store."""
        if self.workers is not None:
            return await self.workers.run(fn, *args)
        return await asyncio.to_thread(fn, *args)

    def _authorize(self, secret: str | None, method: str, path: str, kind: str) -> tuple[Token, bool, bool]:
        """The token, whether this is an audited twin read, whether a query's reads are audited."""
        verified: Token | None = None
        try:
            if self.oidc is not None and secret and looks_like_jwt(secret):
                token = verified = self.oidc.verify(secret)
            else:
                token = verified = self.tokens.verify(secret)
            self.check(token, method, path)
        except TwinforgeError as exc:
            raise _Refused(exc, verified.name if verified else None) from None
        # reads of twins whose model is marked sensitive are audited too
        twin_read = (kind == "http" and method == "GET" and path.startswith("/digitaltwins/")
                     and self.sensitive(unquote(path[len("/digitaltwins/"):].split("/", 1)[0])))
        audit_query = path == "/query" and method == "POST" and bool(
            self._cache("sensitive", lambda: sensitive_models(self.graph.store)))
        return token, twin_read, audit_query

    async def _filtered_query(self, scope: Any, receive: Any, send: Any, token: Token) -> list[str]:
        """Run /query, then keep only the rows whose twins are all in the token's scope (a
        scoped token); returns the sensitive twins in the rows sent."""
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def collect(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, collect)
        body, sensitive = await self._off_loop(self._filter_rows, b"".join(chunks), start.get("status"), token)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": start.get("status", 500), "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return sensitive  # type: ignore[no-any-return]

    def _filter_rows(self, body: bytes, status: int | None, token: Token) -> tuple[bytes, list[str]]:
        """The rows of a query answer in the token's scope, and the sensitive twins they show."""
        sent: set[str] = set()
        if status == 200:
            data = orjson.loads(body)
            if token.scoped:
                data["value"] = [row for row in data.get("value", []) if self._row_in_scope(token, row)]
                body = orjson.dumps(data)
            for row in data.get("value", []):
                sent.update(_ids_of(row))
        return body, sorted(t for t in sent if self.sensitive(t))

    def _row_in_scope(self, token: Token, row: Any) -> bool:
        ids = _ids_of(row)
        return bool(ids) and all(self.in_scope(token, t) for t in ids)

    async def _audit(self, actor: str | None, method: str, path: str, client: str, status: int, code: str | None,
                     **extra: Any) -> None:
        """Write an audit row on the writer thread (the loop only waits for it)."""
        entry = {"actor": actor, "method": method, "path": path, "from": client,
                                  "status": status, "outcome": "ok" if 200 <= status < 400 else (code or "error"),
                                  **extra}
        if self.workers is not None:
            await self.workers.write(record_audit, self.graph, entry)
        else:
            await asyncio.to_thread(record_audit, self.graph, entry)


def _error_code(body: bytes) -> str | None:
    """The ``error.code`` of a small JSON error body."""
    if len(body) > 4096:
        return None
    try:
        error = orjson.loads(body).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return str(error.get("code"))[:80] if isinstance(error, dict) and error.get("code") else None


def _ids_of(row: Any) -> list[str]:
    """The twins a query row shows: its own ``$dtId``, those of the twins in it, relationships' sources."""
    ids: list[str] = []
    if isinstance(row, dict):
        if isinstance(row.get("$dtId"), str):
            ids.append(row["$dtId"])
        for value in row.values():
            if isinstance(value, dict) and isinstance(value.get("$dtId"), str):
                ids.append(value["$dtId"])
            if isinstance(value, dict) and isinstance(value.get("$sourceId"), str):
                ids.append(value["$sourceId"])
    return ids


SENSITIVE = "auditconfig:sensitive-models"


def sensitive_models(store: Any) -> list[str]:
    """The model DTMIs whose twins' reads are audited (models extending them included)."""
    raw = store.get_setting(SENSITIVE)
    return list(orjson.loads(raw)) if raw else []


def set_sensitive_models(store: Any, dtmis: list[str]) -> None:
    for dtmi in dtmis:
        if not dtmi.startswith("dtmi:"):
            raise InvalidArgument(f"--audit-reads takes model DTMIs, not {dtmi!r}")
    if dtmis:
        store.put_setting(SENSITIVE, orjson.dumps(sorted(set(dtmis))).decode())
    else:
        store.delete_setting(SENSITIVE)


__all__ = ["AuthMiddleware", "sensitive_models", "set_sensitive_models"]
