"""Bearer tokens with a role and an optional scope, kept in the store as hashes only.

Roles: ``reader`` (reads and queries), ``writer`` (and changes), ``admin`` (and the audit
log, jobs, tokens). A scope narrows a token to twins: ``model:DTMI`` (twins of that model or
of a model extending it), ``twins:PREFIX`` (twin ids starting with it) or ``query:SELECT T
FROM DIGITALTWINS T WHERE ...`` (the twins the query selects, as they are now); several may
be given, and a twin in any of them is in scope.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from twinforge.errors import Conflict, InvalidArgument, Unauthenticated
from twinforge.history.timeutil import from_us, now_us, parse_duration
from twinforge.records import Collection, Kind

if TYPE_CHECKING:
    from twinforge.store.base import TwinStore

ROLES = ("reader", "writer", "admin")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(slots=True)
class Token:
    """A token as stored: never the secret itself."""

    name: str
    role: str
    hash: str
    created: str
    expires: str | None = None
    revoked: bool = False
    models: list[str] = field(default_factory=list)
    twins: list[str] = field(default_factory=list)  # id prefixes
    queries: list[str] = field(default_factory=list)  # queries selecting the twins in scope

    @property
    def scoped(self) -> bool:
        return bool(self.models or self.twins or self.queries)

    def to_json(self, *, secret_hash: bool = False) -> dict[str, Any]:
        out = asdict(self)
        if not secret_hash:
            out.pop("hash")
        return out


def parse_scope(items: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(models, twin id prefixes, queries) of ``model:DTMI``, ``twins:PREFIX`` and
    ``query:SELECT T FROM DIGITALTWINS T WHERE ...`` items."""
    models, twins, queries = [], [], []
    for item in items:
        kind, _, value = item.partition(":")
        if kind == "model" and value.startswith("dtmi:"):
            models.append(value)
        elif kind == "twins" and value:
            twins.append(value)
        elif kind == "query" and value.strip():
            from twinforge.query import parse_query

            try:
                query = parse_query(value)
            except InvalidArgument as exc:
                raise InvalidArgument(f"scope query {value!r}: {exc.message}") from None
            if query.collection != "DIGITALTWINS" or query.joins or query.count:
                raise InvalidArgument(f"a scope query selects twins from DIGITALTWINS (no JOIN, no COUNT): {value!r}")
            queries.append(value.strip())
        else:
            raise InvalidArgument(f"a scope is model:DTMI, twins:PREFIX or query:SELECT ..., not {item!r}")
    return models, twins, queries


TOKENS: Kind[Token] = Kind("token", "token", "TokenNotFound", lambda _, v: Token(**v),
                           lambda t: t.to_json(secret_hash=True))


class Tokens:
    """Creating, listing, revoking and checking tokens."""

    def __init__(self, store: TwinStore) -> None:
        self.store = store
        self.tokens = Collection(store, TOKENS)
        self._known = self.tokens.cache()  # what verify reads: every server sees a revoke within 0.5 s
        self._by_hash: tuple[dict[str, Token], dict[str, Token]] = ({}, {})  # (cache contents, by hash)

    def create(self, name: str, role: str, *, scope: list[str] | None = None,
               expires: str | None = None) -> tuple[Token, str]:
        """A new token and its secret (shown once; only its hash is kept)."""
        if not _NAME.match(name):
            raise InvalidArgument("a token name is 1-100 letters, digits, '.', '_', '@' or '-'")
        if role not in ROLES:
            raise InvalidArgument(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        models, twins, queries = parse_scope(scope or [])
        until = from_us(now_us() + parse_duration(expires)) if expires else None
        secret = "tf_" + secrets.token_urlsafe(32)
        token = Token(name, role, digest(secret), from_us(now_us()), until, False, models, twins, queries)
        with self.store.transaction():
            old = self.tokens.find(name)
            if old is not None and not old.revoked:  # a revoked token's name may be used again
                raise Conflict(f"a token called '{name}' exists already (revoke it to reuse the name)",
                               code="TokenExists")
            self.tokens.put(name, token)
        self._known.invalidate()
        return token, secret

    def get(self, name: str) -> Token:
        return self.tokens.get(name)

    def list_tokens(self) -> list[Token]:
        return self.tokens.list()

    def revoke(self, name: str) -> Token:
        token = self.get(name)
        token.revoked = True
        self.tokens.put(name, token)
        self._known.invalidate()
        return token

    def why_not(self, token: Token) -> str | None:
        """Why a token checked earlier is no longer good (revoked, expired, deleted), or None.
        Reads the cache: every server sees a revoke within about a second."""
        if not token.name.startswith("oidc:"):
            current = self._known.all().get(token.name)
            if current is None or current.hash != token.hash:
                return f"token '{token.name}' no longer exists"
            if current.revoked:
                return f"token '{token.name}' was revoked"
        if token.expires is not None and token.expires < from_us(now_us()):
            return f"token '{token.name}' expired at {token.expires}"
        return None

    def verify(self, secret: str | None) -> Token:
        """The token a bearer secret stands for; `Unauthenticated` saying why otherwise.
        Reads the store (through a cache): call it off the event loop."""
        if not secret:
            raise Unauthenticated("a bearer token is required (Authorization: Bearer <token>)")
        hashed = digest(secret)
        known = self._known.all()
        if self._by_hash[0] is not known:
            self._by_hash = (known, {t.hash: t for t in known.values()})
        token = self._by_hash[1].get(hashed)
        if token is None:
            raise Unauthenticated("the bearer token is not known")
        if token.revoked:
            raise Unauthenticated(f"token '{token.name}' was revoked")
        if token.expires is not None and token.expires < from_us(now_us()):
            raise Unauthenticated(f"token '{token.name}' expired at {token.expires}")
        return token


__all__ = ["ROLES", "Token", "Tokens", "digest", "parse_scope"]
