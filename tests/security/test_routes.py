"""Every route of the API as a hostile client meets it, found from the app itself (a new route is
covered without editing this file): a reader on every write route, a scoped token on every read
route, hostile ids in every path parameter, bodies built to hurt the parser, and a stream whose
token is revoked while it is open."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.graph.models import PLANT, pump, tank
from tests.servers import running_api
from twinforge.api.app import create_app
from twinforge.auth import Tokens
from twinforge.graph import TwinGraph

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
PARAM = re.compile(r"\{([^}]+)\}")
HOSTILE_IDS = ["../../etc/passwd", "a/../../b", "%2e%2e", "a\x00b", "x" * 10_000, "<script>", "' OR 1=1 --",
               "$metadata", "\u202e\u0000", "C:\\windows\\win.ini"]


def routes(graph: TwinGraph) -> list[tuple[str, str]]:
    """(method, path template) of every HTTP route the app serves, but the docs pages."""
    out = []
    for path, item in create_app(graph).openapi()["paths"].items():
        for method in item:
            if method.upper() in ("HEAD", "OPTIONS") or path.startswith(("/docs", "/redoc", "/static", "/ui")):
                continue
            out.append((method.upper(), path))
    return out


def fill(path: str, value: str = "p1") -> str:
    return PARAM.sub(lambda _: quote(value, safe=""), path)


def state(graph: TwinGraph) -> Any:
    """What a refused request must not change."""
    twins = sorted(json.dumps(t, sort_keys=True) for t in graph.query("SELECT * FROM DIGITALTWINS"))
    models = sorted((m.id, m.decommissioned) for m in graph.list_models())
    return twins, models, graph.store.count_twins(), graph.store.last_event_seq()


@pytest.fixture
def plant(graph: TwinGraph) -> Iterator[tuple[TwinGraph, str, dict[str, str]]]:
    graph.add_models(PLANT)
    graph.create_twin("p1", pump(flow=1.0))
    graph.create_twin("t1", tank())
    graph.create_relationship("p1", "r1", {"$targetId": "t1", "$relationshipName": "feeds"})
    tokens = Tokens(graph.store)
    secrets = {"reader": tokens.create("reader", "reader")[1], "admin": tokens.create("admin", "admin")[1],
               "scoped": tokens.create("scoped", "writer", scope=["twins:t"])[1]}
    with running_api(graph, auth=True) as url:
        yield graph, url, secrets


def test_a_reader_is_refused_on_every_write_route_and_nothing_changes(plant: Any) -> None:
    graph, url, secrets = plant
    before = state(graph)
    writes = [(m, p) for m, p in routes(graph) if m in WRITES and p != "/query"]
    assert len(writes) > 30, writes  # the whole API, not a sample
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {secrets['reader']}"}) as c:
        for method, path in writes:
            r = c.request(method, fill(path), json={})
            assert r.status_code == 403, (method, path, r.status_code, r.text)
            assert r.json()["error"]["code"] == "Forbidden"
    assert state(graph) == before


def test_a_scoped_token_reads_only_its_twins_on_every_read_route(plant: Any) -> None:
    graph, url, secrets = plant
    reads = [(m, p) for m, p in routes(graph) if m == "GET" and p not in ("/health",)]
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {secrets['scoped']}"}, timeout=10) as c:
        for _, path in reads:
            if path == "/stream":
                continue  # a stream stays open: its filtering is checked below
            r = c.get(fill(path, "p1"))  # p1 is not in the scope (twins:t)
            if path.startswith("/digitaltwins/{") or not path.startswith(("/digitaltwins", "/query", "/models",
                                                                              "/stream")):
                assert r.status_code == 403, (path, r.status_code, r.text[:200])
            else:
                assert r.status_code < 500, (path, r.text[:200])
        # In scope: its own twin; the query answers only its twins.
        assert c.get("/digitaltwins/t1").status_code == 200
        rows = c.post("/query", json={"query": "SELECT * FROM DIGITALTWINS"}).json()["value"]
        assert [row["$dtId"] for row in rows] == ["t1"]
        # The stream carries only its twins' events.
        seen: list[str] = []

        def listen() -> None:
            with httpx.Client(base_url=url, headers={"authorization": f"Bearer {secrets['scoped']}"},
                              timeout=10) as s, s.stream("GET", "/stream") as stream:
                for line in stream.iter_lines():
                    if line.startswith("data:"):
                        seen.append(json.loads(line[5:])["subject"])
                        return

        listener = threading.Thread(target=listen)
        listener.start()
        time.sleep(0.5)
        with httpx.Client(base_url=url, headers={"authorization": f"Bearer {secrets['admin']}"}) as admin:
            admin.patch("/digitaltwins/p1", json=[{"op": "replace", "path": "/flow", "value": 2.0}])
            admin.patch("/digitaltwins/t1", json=[{"op": "add", "path": "/level", "value": 3.0}])
        listener.join(10)
        assert seen == ["t1"]


@pytest.mark.parametrize("hostile", HOSTILE_IDS, ids=lambda s: repr(s[:12]))
def test_hostile_ids_in_every_path_parameter_are_4xx_and_change_nothing(plant: Any, hostile: str) -> None:
    graph, url, secrets = plant
    before = state(graph)
    templated = [(m, p) for m, p in routes(graph) if "{" in p]
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {secrets['admin']}"}, timeout=10) as c:
        for method, path in templated:
            if path.endswith("/stream"):
                continue
            if path in ("/shells/{rest}", "/submodels/{rest}") and hostile == "$metadata":
                continue  # a Part 2 modifier, not an id: /submodels/$metadata lists the submodels' metadata
            body: Any = tank() if method == "PUT" and path == "/digitaltwins/{id}" else {}
            r = c.request(method, fill(path, hostile), json=body)
            assert 400 <= r.status_code < 500, (method, path, hostile[:20], r.status_code, r.text[:200])
            assert "Traceback" not in r.text and "root:" not in r.text
    assert state(graph) == before


def test_bodies_built_to_hurt_the_parser_are_400s(plant: Any) -> None:
    graph, url, secrets = plant
    before = state(graph)
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {secrets['admin']}",
                                             "content-type": "application/json"}, timeout=30) as c:
        for body in [b"[" * 200_000 + b"]" * 200_000,  # nested far past any parser's depth
                     b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
                     b'{"$metadata": {"$model": "dtmi:test:Tank;1"}, "name": "' + b"\xff\xfe" * 10 + b'"}',
                     b'{"$metadata": {"$model": "dtmi:test:Tank;1"}, "name": NaN}',
                     b'{"$metadata": {"$model": "dtmi:test:Tank;1"}, "name": "x", "name": "y", "level": 1e999}',
                     b"\x00" * 1000]:
            r = c.put("/digitaltwins/t9", content=body)
            assert r.status_code == 400, (body[:40], r.status_code, r.text[:200])
            r = c.post("/query", content=body)
            assert r.status_code == 400, (body[:40], r.status_code, r.text[:200])
        assert c.get("/health").status_code == 200
    assert state(graph) == before


@pytest.mark.parametrize("kind", ["sse", "websocket"])
def test_a_stream_ends_when_its_token_is_revoked(plant: Any, kind: str) -> None:
    graph, url, _ = plant
    tokens = Tokens(graph.store)
    secret = tokens.create(f"watcher-{kind}", "reader")[1]
    ended: list[str] = []

    def listen() -> None:
        if kind == "sse":
            with httpx.Client(base_url=url, headers={"authorization": f"Bearer {secret}"}, timeout=20) as c, \
                    c.stream("GET", "/stream") as stream:
                for line in stream.iter_lines():
                    if line.startswith("data:") and "revoked" in line:
                        ended.append(line)
            ended.append("closed")
            return
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        with connect(url.replace("http", "ws") + f"/stream?access_token={secret}") as ws:
            try:
                while True:
                    ws.recv(timeout=20)
            except ConnectionClosed as exc:
                ended.append(f"{exc.rcvd.code if exc.rcvd else None} {exc.rcvd.reason if exc.rcvd else ''}")

    listener = threading.Thread(target=listen)
    listener.start()
    time.sleep(0.7)
    assert listener.is_alive() and not ended
    began = time.monotonic()
    tokens.revoke(f"watcher-{kind}")
    listener.join(15)
    assert not listener.is_alive() and time.monotonic() - began < 10
    if kind == "sse":
        assert ended[-1] == "closed" and "was revoked" in ended[0]
    else:
        assert ended == [f"1008 token 'watcher-{kind}' was revoked"]
