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
