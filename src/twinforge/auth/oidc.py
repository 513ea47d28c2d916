"""OpenID Connect bearer tokens (JWTs from an identity provider) as an alternative to
twinforge's own tokens, so clients can use their usual credentials (the Azure SDK's included).

A JWT is accepted when its signature checks against the provider's keys (a JWKS file or URL,
or the ``jwks_uri`` of ``<issuer>/.well-known/openid-configuration``), its ``iss`` is the
issuer, its ``aud`` holds the audience, and it has not expired. Its role comes from the
``roles`` claim (app roles): ``twinforge.admin``, ``twinforge.writer`` or ``twinforge.reader``
(or the bare role names); the highest one wins. An optional ``twinforge_scope`` claim (a list
of ``model:``/``twins:``/``query:`` scopes) narrows it like a token's ``--scope``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from twinforge.auth.tokens import ROLES, Token, parse_scope
from twinforge.errors import Forbidden, InvalidArgument, MissingDependency, Unauthenticated

log = logging.getLogger("twinforge.oidc")


def _jwt() -> Any:
    try:
        import jwt
    except ImportError:
        raise MissingDependency("OIDC tokens need PyJWT: pip install 'twinforge[oidc]'") from None
    return jwt


def looks_like_jwt(secret: str) -> bool:
    return secret.count(".") == 2 and not secret.startswith("tf_")


class OidcVerifier:
    """Checks JWT bearer tokens from one issuer for one audience."""

    def __init__(self, issuer: str, audience: str, jwks: str | None = None, *, refresh: float = 3600.0,
                 min_interval: float = 30.0, unknown_ttl: float = 300.0) -> None:
        if not issuer or not audience:
            raise InvalidArgument("--oidc-issuer and --oidc-audience go together")
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.source = jwks or f"{self.issuer}/.well-known/openid-configuration"
        self.refresh = refresh
        self.min_interval = min_interval  # at most one key-set fetch per this many seconds
        self.unknown_ttl = unknown_ttl  # an unknown key id is not looked for again for this long
        self._keys: dict[str, Any] = {}
        self._loaded = 0.0
        self._tried = 0.0
        self._unknown: dict[str, float] = {}  # key id -> when it was found missing after a fetch
        self._lock = threading.Lock()
        self._fetching: threading.Thread | None = None
        self.fetches = 0
        self.fetch_failures = 0
        self._load()  # at start, in the caller's thread: a server that cannot read its keys does not start

    def _fetch(self, where: str) -> dict[str, Any]:
        if where.startswith(("http://", "https://")):
            import httpx

            try:
                data: dict[str, Any] = httpx.get(where, timeout=10).raise_for_status().json()
            except (httpx.HTTPError, ValueError) as exc:
                raise InvalidArgument(f"cannot read {where}: {exc}") from None
            return data
        path = Path(where.removeprefix("file://")).expanduser()
        try:
            loaded: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InvalidArgument(f"cannot read the JWKS file {path}: {exc}") from None
        return loaded

    def _load(self) -> None:
        jwt = _jwt()
        doc = self._fetch(self.source)
        if "jwks_uri" in doc and "keys" not in doc:  # an OpenID configuration document
            doc = self._fetch(str(doc["jwks_uri"]))
        keys = {}
        for entry in doc.get("keys", []):
            try:
                key = jwt.PyJWK.from_dict(entry)
            except jwt.PyJWTError:
                continue  # a key of a kind we do not use
            keys[entry.get("kid") or ""] = key
        if not keys:
            raise InvalidArgument(f"no usable signing keys in {self.source}")
        self._keys = keys
        self._loaded = time.monotonic()

    def _refresh_in_background(self) -> bool:
        """Start fetching the key set in a thread unless one runs or one ran too recently (the
        rate limit); whether a fetch started. A request never waits for the provider."""
        now = time.monotonic()
        with self._lock:
            if (self._fetching is not None and self._fetching.is_alive()) or now - self._tried < self.min_interval:
                return False
            self._tried = now

            def fetch() -> None:
                self.fetches += 1
                try:
                    self._load()
                    with self._lock:
                        self._unknown = {k: t for k, t in self._unknown.items() if k not in self._keys}
                except Exception as exc:  # the provider is down: keep the keys we have
                    self.fetch_failures += 1
                    log.warning("cannot refresh the signing keys from %s: %s", self.source, exc)

            self._fetching = threading.Thread(target=fetch, name="twinforge-oidc-keys", daemon=True)
            self._fetching.start()
            return True

    def _key(self, kid: str | None) -> Any:
        now = time.monotonic()
        if now - self._loaded > self.refresh:
            self._refresh_in_background()  # keys rotate: look again, meanwhile use the ones we have
        key = self._keys.get(kid or "") or (next(iter(self._keys.values())) if len(self._keys) == 1 and not kid
                                             else None)
        if key is not None:
            return key
        with self._lock:
            seen = self._unknown.get(kid or "")
            if seen is None or now - seen > self.unknown_ttl:
                if len(self._unknown) > 10_000:  # forged ids must not grow this without end
                    self._unknown.clear()
                self._unknown[kid or ""] = now
                fresh = True
            else:
                fresh = False
        if fresh:
            self._refresh_in_background()  # a new key may have been published: look, without waiting
        raise Unauthenticated(f"the token is signed with key '{kid}', which {self.issuer} does not publish"
                              + (" (the key set is being fetched again: retry in a few seconds)" if fresh else ""))

    def verify(self, secret: str) -> Token:
        jwt = _jwt()
        try:
            header = jwt.get_unverified_header(secret)
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the bearer token is not a valid JWT: {exc}") from None
        key = self._key(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(secret, key=key, algorithms=[key.algorithm_name], audience=self.audience,
                                                issuer=self.issuer, options={"require": ["exp", "iss", "aud"]},
                                                leeway=30)
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the bearer token has expired") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated(f"the bearer token is not for this service (audience {self.audience!r})") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated(f"the bearer token was not issued by {self.issuer}") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the bearer token was refused: {exc}") from None
        name = str(claims.get("preferred_username") or claims.get("upn") or claims.get("sub") or "oidc")
        roles = claims.get("roles") or []
        if isinstance(roles, str):
            roles = roles.split()
        granted = [r for r in ROLES if f"twinforge.{r}" in roles or r in roles]
        if not granted:
            raise Forbidden(f"'{name}' has no twinforge role (the token's roles claim needs twinforge.reader, "
                            "twinforge.writer or twinforge.admin)")
        role = max(granted, key=ROLES.index)
        scope = claims.get("twinforge_scope") or []
        try:
            models, twins, queries = parse_scope(list(scope) if isinstance(scope, list) else [str(scope)])
        except InvalidArgument as exc:
            raise Forbidden(f"'{name}': {exc.message}") from None
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(claims["exp"])))
        return Token(f"oidc:{name}", role, "", "", expires, False, models, twins, queries)


__all__ = ["OidcVerifier", "looks_like_jwt"]
