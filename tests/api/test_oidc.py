"""`serve --auth --oidc-issuer ...`: JWTs from an identity provider, checked against its keys
(a JWKS file here, as a provider publishes it), beside twinforge's own tokens."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.graph.models import PLANT, pump
from tests.servers import running_api
from twinforge.graph import TwinGraph

jwt = pytest.importorskip("jwt", reason="PyJWT is not installed (pip install -e '.[dev]')")
ISSUER = "https://login.example.test/tenant/v2.0"
AUDIENCE = "api://twinforge"


def keypair() -> tuple[Any, dict[str, Any]]:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return key, public


@pytest.fixture
def provider(tmp_path: Path) -> tuple[Any, Path]:
    key, public = keypair()
    public.update({"kid": "k1", "alg": "RS256", "use": "sig"})
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [public]}))
    return key, jwks


def sign(key: Any, *, kid: str = "k1", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "preferred_username": "ana@example.test",
            "iat": now, "exp": now + 600, **claims}
    token: str = jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})
    return token


@pytest.fixture
def url(graph: TwinGraph, provider: tuple[Any, Path]) -> Iterator[str]:
    from twinforge.auth.oidc import OidcVerifier

    graph.add_models(PLANT)
    graph.create_twin("p1", pump())
    graph.create_twin("line-2-p2", pump())
    with running_api(graph, auth=True, oidc=OidcVerifier(ISSUER, AUDIENCE, str(provider[1]))) as base:
        yield base


def unsigned(**claims: Any) -> str:
    """A JWT with `alg: none` and no signature: what an attacker sends hoping it is trusted."""
    import base64

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': 'k1'})}.{part({'sub': 'mallory', **claims})}."


def call(url: str, token: str, method: str = "GET", path: str = "/digitaltwins/p1", **kw: Any) -> httpx.Response:
    return httpx.request(method, url + path, headers={"Authorization": f"Bearer {token}"}, timeout=20, **kw)


def test_roles_from_the_provider(url: str, provider: tuple[Any, Path]) -> None:
    key = provider[0]
    patch = [{"op": "add", "path": "/name", "value": "x"}]
    reader = sign(key, roles=["twinforge.reader"])
    assert call(url, reader).status_code == 200
    r = call(url, reader, "PATCH", json=patch)
    assert r.status_code == 403 and "reader" in r.json()["error"]["message"]
    assert call(url, sign(key, roles=["twinforge.writer"]), "PATCH", json=patch).status_code == 204
    scoped = sign(key, roles=["writer"], twinforge_scope=["twins:line-2-"])
    assert call(url, scoped, path="/digitaltwins/line-2-p2").status_code == 200
    assert call(url, scoped).status_code == 403
    admin = sign(key, roles=["twinforge.admin", "twinforge.reader"])
    rows = call(url, admin, path="/audit").json()["value"]
    assert any(r["actor"] == "oidc:ana@example.test" and r["method"] == "PATCH" for r in rows)


def test_bad_tokens_are_refused_with_the_reason(url: str, provider: tuple[Any, Path]) -> None:
    key = provider[0]
    other, _ = keypair()
    now = int(time.time())
    for token, status, words in [
        (sign(key, roles=["twinforge.reader"], exp=now - 120), 401, "expired"),
        (sign(key, roles=["twinforge.reader"], aud="api://else"), 401, "not for this service"),
        (sign(key, roles=["twinforge.reader"], iss="https://evil.test"), 401, "not issued by"),
        (sign(other, roles=["twinforge.reader"]), 401, "refused"),  # signed with a key the provider did not publish
        (sign(key, roles=["twinforge.reader"], kid="k9"), 401, "does not publish"),
        (sign(key), 403, "no twinforge role"),
        ("a.b.c", 401, "not a valid JWT"),
        (unsigned(roles=["twinforge.admin"], iss=ISSUER, aud=AUDIENCE, exp=now + 600), 401, "refused"),
    ]:
        r = call(url, token)
        assert r.status_code == status and words in r.json()["error"]["message"], (words, r.text)


def test_oidc_needs_auth_and_readable_keys(tmp_path: Path) -> None:
    from twinforge.api.server import Server, ServerConfig
    from twinforge.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="needs --auth"):
        Server(ServerConfig(oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks=str(tmp_path / "x"))).oidc()
    with pytest.raises(InvalidArgument, match="cannot read the JWKS file"):
        Server(ServerConfig(auth=True, oidc_issuer=ISSUER, oidc_audience=AUDIENCE,
                            oidc_jwks=str(tmp_path / "missing.json"))).oidc()


class _SlowProvider:
    """An identity provider's key set over HTTP on loopback, which can be made slow."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        import http.server
        import threading

        self.keys = keys
        self.delay = 0.0
        self.hits = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits += 1
                time.sleep(owner.delay)
                body = json.dumps({"keys": owner.keys}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/keys"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_unknown_key_ids_never_make_a_request_wait_for_the_provider(graph: TwinGraph) -> None:
    """Forged key ids are refused at once, the key set is fetched in the background at most once
    per interval, and a key the provider rotates in is accepted once that fetch is done."""
    from twinforge.auth.oidc import OidcVerifier

    key1, public1 = keypair()
    public1.update({"kid": "k1", "alg": "RS256", "use": "sig"})
    key2, public2 = keypair()
    public2.update({"kid": "k2", "alg": "RS256", "use": "sig"})
    provider = _SlowProvider([public1])
    try:
        verifier = OidcVerifier(ISSUER, AUDIENCE, provider.url, min_interval=30.0)
        assert provider.hits == 1
        graph.add_models(PLANT)
        graph.create_twin("p1", pump())
        with running_api(graph, auth=True, oidc=verifier) as url:
            provider.keys = [public1, public2]  # the provider rotates a key in, and answers slowly
            provider.delay = 3.0
            rotated = sign(key2, roles=["twinforge.reader"], kid="k2")
            r = call(url, rotated)
            assert r.status_code == 401 and "being fetched again" in r.json()["error"]["message"]
            waits = []
            for n in range(40):  # forged key ids while the provider is slow
                started = time.perf_counter()
                forged = call(url, sign(key1, roles=["twinforge.reader"], kid=f"forged-{n}"))
                waits.append(time.perf_counter() - started)
                assert forged.status_code == 401 and "does not publish" in forged.json()["error"]["message"]
                assert httpx.get(url + "/health", timeout=20).status_code == 200
            # None of them waited for the 3 s fetch (generous bound: the point is not seconds).
            assert max(waits) < 1.5, waits
            assert provider.hits == 2  # one background fetch for all of them: the rate limit
            deadline = time.monotonic() + 15
            while call(url, rotated).status_code != 200:
                assert time.monotonic() < deadline, "the rotated key was never taken up"
                time.sleep(0.2)
            assert verifier.fetches == 1 and verifier.fetch_failures == 0
    finally:
        provider.close()
