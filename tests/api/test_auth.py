"""`serve --auth` over a real server: each role refused where it must be, scopes on twins,
`/query` and `/stream`, expired and revoked tokens, and the audit log."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.graph.models import PLANT, pump, tank
from tests.servers import running_api
from tests.test_cli import tf
from twinforge.auth import Tokens
from twinforge.graph import TwinGraph


@pytest.fixture
def setup(graph: TwinGraph) -> Iterator[tuple[str, dict[str, str]]]:
    graph.add_models(PLANT)
    graph.create_twin("p1", pump())
    graph.create_twin("t1", tank())
    graph.create_twin("site-a-t2", tank())
    tokens = Tokens(graph.store)
    secrets = {role: tokens.create(role, role)[1] for role in ("reader", "writer", "admin")}
    secrets["tanks"] = tokens.create("tanks", "writer", scope=["model:dtmi:test:Tank;1"])[1]
    secrets["site-a"] = tokens.create("site-a", "reader", scope=["twins:site-a-"])[1]
    secrets["named"] = tokens.create("named", "writer",
                                     scope=["query:SELECT T FROM DIGITALTWINS T WHERE T.name = 'shared'"])[1]
    secrets["old"] = tokens.create("old", "admin", expires="1ms")[1]
    secrets["gone"] = tokens.create("gone", "admin")[1]
    tokens.revoke("gone")
    time.sleep(0.01)
    with running_api(graph, auth=True) as url:
        yield url, secrets


def client(url: str, secret: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return httpx.Client(base_url=url, headers=headers, timeout=20)


PATCH = [{"op": "add", "path": "/name", "value": "x"}]


def test_no_valid_token_is_401(setup: tuple[str, dict[str, str]]) -> None:
    url, secrets = setup
    for secret, message in [(None, "bearer token is required"), ("tf_nope", "not known"),
                            (secrets["old"], "expired"), (secrets["gone"], "revoked")]:
        with client(url, secret) as c:
            r = c.get("/digitaltwins/p1")
            assert r.status_code == 401 and message in r.json()["error"]["message"], r.text
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert c.post("/query", json={"query": "SELECT * FROM DIGITALTWINS"}).status_code == 401
    with client(url, None) as c:
        assert c.get("/health").status_code == 200  # the liveness probe stays open


def test_each_role_is_refused_where_it_must_be(setup: tuple[str, dict[str, str]]) -> None:
    url, s = setup
    with client(url, s["reader"]) as c:
        assert c.get("/digitaltwins/p1").status_code == 200
        assert c.post("/query", json={"query": "SELECT * FROM DIGITALTWINS"}).status_code == 200
        r = c.patch("/digitaltwins/p1", json=PATCH)
        assert r.status_code == 403 and "reader" in r.json()["error"]["message"]
        assert c.put("/digitaltwins/p9", json=pump()).status_code == 403
        assert c.get("/audit").status_code == 403
    with client(url, s["writer"]) as c:
        assert c.patch("/digitaltwins/p1", json=PATCH).status_code == 204
        assert c.get("/audit").status_code == 403 and c.get("/jobs/imports").status_code == 403
    with client(url, s["admin"]) as c:
        assert c.get("/jobs/imports").status_code == 200
        rows = c.get("/audit", params={"twin": "p1"}).json()["value"]
        assert [(r["actor"], r["method"], r["status"]) for r in rows] == [("reader", "PATCH", 403),
                                                                           ("writer", "PATCH", 204)]
        assert rows[1]["outcome"] == "ok" and rows[0]["outcome"] == "Forbidden" and rows[0]["from"]
        refused = c.get("/audit", params={"actor": "reader"}).json()["value"]
        assert {r["path"] for r in refused} >= {"/digitaltwins/p1", "/digitaltwins/p9", "/audit"}


def test_scopes_on_twins_query_and_stream(setup: tuple[str, dict[str, str]]) -> None:
    url, s = setup
    with client(url, s["tanks"]) as c:
        assert c.patch("/digitaltwins/t1", json=PATCH).status_code == 204
        r = c.patch("/digitaltwins/p1", json=PATCH)
        assert r.status_code == 403 and "outside the scope" in r.json()["error"]["message"]
        rows = c.post("/query", json={"query": "SELECT * FROM DIGITALTWINS"}).json()["value"]
        assert sorted(r["$dtId"] for r in rows) == ["site-a-t2", "t1"]
        assert c.get("/models").status_code == 200
        assert c.put("/eventroutes/r", json={"endpointName": "x", "filter": "true"}).status_code == 403
    with client(url, s["site-a"]) as c:
        assert c.get("/digitaltwins/site-a-t2").status_code == 200
        assert c.get("/digitaltwins/t1").status_code == 403
        rows = c.post("/query", json={"query": "SELECT T.$dtId FROM DIGITALTWINS T"}).json()["value"]
        assert rows == [{"$dtId": "site-a-t2"}]
        rows = c.post("/query", json={"query": "SELECT T.name FROM DIGITALTWINS T"}).json()["value"]
        assert rows == []  # rows that name no twin cannot be scoped: dropped
    seen: list[str] = []
    opened = threading.Event()

    def listen() -> None:
        with client(url, s["site-a"]) as c, c.stream("GET", "/stream") as stream:
            opened.set()
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    seen.append(json.loads(line[6:])["subject"])
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert opened.wait(5)
    time.sleep(0.3)
    with client(url, s["admin"]) as c:
        c.patch("/digitaltwins/t1", json=[{"op": "replace", "path": "/name", "value": "y"}])
        c.patch("/digitaltwins/site-a-t2", json=PATCH)
    listener.join(10)
    assert seen == ["site-a-t2"]  # t1's change was not shown to a site-a token


def test_tokens_commands(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'auth.db'}"
    out = tf("tokens", "create", "ops", "--role", "writer", "--scope", "twins:line-1-", "--expires", "90d",
             "--db", db)
    assert out.returncode == 0, out.stderr
    secret = out.stdout.strip()
    assert secret.startswith("tf_") and len(out.stdout.splitlines()) == 1
    listed = json.loads(tf("tokens", "list", "--db", db, "--json").stdout)
    assert listed[0]["name"] == "ops" and listed[0]["twins"] == ["line-1-"] and secret not in json.dumps(listed)
    assert secret not in (tmp_path / "auth.db").read_bytes().decode("latin-1")  # only its hash is stored
    taken = tf("tokens", "create", "ops", "--role", "writer", "--db", db)
    assert taken.returncode == 1 and "revoke it to reuse the name" in taken.stderr
    bad = tf("tokens", "create", "x", "--role", "king", "--db", db)
    assert bad.returncode == 1 and "role must be one of" in bad.stderr
    assert tf("tokens", "revoke", "ops", "--db", db).returncode == 0
    assert json.loads(tf("tokens", "list", "--db", db, "--json").stdout)[0]["revoked"] is True
    again = tf("tokens", "create", "ops", "--role", "reader", "--db", db)  # a revoked name may be used again
    assert again.returncode == 0 and again.stdout.strip() != secret
    listed = json.loads(tf("tokens", "list", "--db", db, "--json").stdout)
    assert [(t["name"], t["role"], t["revoked"]) for t in listed] == [("ops", "reader", False)]
    out = tf("audit", "--db", db, "--json")
    assert out.returncode == 0 and json.loads(out.stdout) == []
    out = tf("audit", "--db", db, "--from", "yesterday")  # refused as history refuses it, not an empty answer
    assert out.returncode == 1 and "'yesterday' is not an ISO 8601 time" in out.stderr


def test_query_scope_follows_the_twins_it_selects(setup: tuple[str, dict[str, str]]) -> None:
    url, s = setup
    with client(url, s["named"]) as c:
        assert c.get("/digitaltwins/p1").status_code == 403
    with client(url, s["admin"]) as c:
        assert c.patch("/digitaltwins/p1", json=[{"op": "add", "path": "/name", "value": "shared"}]).status_code == 204
    time.sleep(2.1)  # the scope's query is re-run at most every 2 s
    with client(url, s["named"]) as c:
        assert c.get("/digitaltwins/p1").status_code == 200
        rows = c.post("/query", json={"query": "SELECT * FROM DIGITALTWINS"}).json()["value"]
        assert [r["$dtId"] for r in rows] == ["p1"]
        assert c.get("/digitaltwins/t1").status_code == 403


def test_bad_scopes_are_refused() -> None:
    from twinforge.auth.tokens import parse_scope
    from twinforge.errors import InvalidArgument

    for bad, words in (("query:SELECT FROM", "scope query"), ("query:SELECT COUNT() FROM DIGITALTWINS", "no COUNT"),
                       ("query:SELECT R FROM RELATIONSHIPS R", "selects twins"), ("site:x", "a scope is")):
        with pytest.raises(InvalidArgument, match=words):
            parse_scope([bad])


def test_reads_of_sensitive_models_are_audited(graph: TwinGraph) -> None:
    from twinforge.auth import set_sensitive_models

    graph.add_models(PLANT)
    graph.create_twin("p1", pump())
    graph.create_twin("t1", tank())
    tokens = Tokens(graph.store)
    reader = tokens.create("nurse", "reader")[1]
    admin = tokens.create("root", "admin")[1]
    set_sensitive_models(graph.store, ["dtmi:test:Tank;1"])
    with running_api(graph, auth=True) as url:
        with client(url, reader) as c:
            assert c.get("/digitaltwins/t1").status_code == 200
            assert c.get("/digitaltwins/p1").status_code == 200  # not sensitive: not audited
            assert c.get("/digitaltwins/t1/history", params={"name": "level"}).status_code == 200
            assert c.post("/query", json={"query": "SELECT * FROM DIGITALTWINS"}).status_code == 200
        with client(url, admin) as c:
            rows = c.get("/audit", params={"actor": "nurse"}).json()["value"]
    assert [(r["method"], r["path"]) for r in rows] == [
        ("GET", "/digitaltwins/t1"), ("GET", "/digitaltwins/t1/history"), ("POST", "/query")]
    assert rows[-1]["twins"] == ["t1"] and all(r["outcome"] == "ok" for r in rows)



def test_every_worker_checks_tokens(tmp_path: Path) -> None:
    """`serve --workers 2 --auth`: the worker processes enforce tokens like a single process."""
    import subprocess
    import sys

    from tests.servers import free_port

    db = f"sqlite:///{tmp_path / 'w.db'}"
    g = TwinGraph.open(db)
    secret = Tokens(g.store).create("w", "reader")[1]
    g.close()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "twinforge.cli", "serve", "--db", db, "--port", str(port),
                             "--workers", "2", "--auth"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.1)
        for _ in range(6):  # several connections: both workers answer
            assert httpx.get(f"http://127.0.0.1:{port}/digitaltwins/x").status_code == 401
            r = httpx.get(f"http://127.0.0.1:{port}/digitaltwins/x", headers={"Authorization": f"Bearer {secret}"})
            assert r.status_code == 404
    finally:
        proc.terminate()
        proc.wait(15)
