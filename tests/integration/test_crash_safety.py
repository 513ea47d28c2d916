"""`kill -9` of a server in the middle of writing, on SQLite and on PostgreSQL: after a restart
every acknowledged write is there and nothing half-written is visible. (Ingest over MQTT is in
test_mqtt.py and test_postgres_servers.py: the broker keeps what was not acknowledged.)"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import load_rec
from tests.servers import ServeProcess
from twinforge.graph import TwinGraph

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url: str = request.getfixturevalue("pg_url") if request.param == "postgresql" else f"sqlite:///{tmp_path / 'c.db'}"
    return url


Server = ServeProcess


@pytest.fixture
def started(db: str) -> Iterator[list[Server]]:
    servers: list[Server] = []
    yield servers
    for s in servers:
        if s.proc.poll() is None:
            s.kill()


def test_killed_during_a_bulk_model_upload(db: str, started: list[Server]) -> None:
    rec = load_rec()
    for delay in (0.05, 0.2, 0.5):
        server = Server(db)
        started.append(server)
        answered: list[int] = []

        def upload(url: str = server.url, answered: list[int] = answered) -> None:
            with contextlib.suppress(httpx.HTTPError):
                answered.append(httpx.post(url + "/models", json=rec, timeout=60).status_code)

        thread = threading.Thread(target=upload)
        thread.start()
        time.sleep(delay)
        server.kill()
        thread.join(30)
        graph = TwinGraph.open(db)
        stored = len(graph.store.list_models())
        graph.close()
        # one batch, one transaction: all of it or none of it
        if answered == [201]:
            assert stored == len(rec)
            break
        assert stored in (0, len(rec)), f"{stored} of {len(rec)} models after a kill {delay} s into the upload"
        if stored:
            break
    # the store is usable afterwards: a new server takes the same upload (or says it is there)
    server = Server(db)
    started.append(server)
    r = httpx.post(server.url + "/models", json=rec, timeout=120)
    assert r.status_code in (201, 409), r.text
    assert len(httpx.get(server.url + "/models", timeout=30).json()["value"]) == len(rec)


def test_killed_during_a_relationship_bulk_load(db: str, started: list[Server]) -> None:
    model = {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:live:Linked;1", "@type": "Interface",
             "contents": [{"@type": "Relationship", "name": "next"}]}
    server = Server(db)
    started.append(server)
    assert httpx.post(server.url + "/models", json=[model]).status_code == 201
    twins = [(f"l{i}", {"$metadata": {"$model": "dtmi:live:Linked;1"}}) for i in range(400)]
    with httpx.Client(base_url=server.url, timeout=10) as client:  # one connection, not 400
        for tid, doc in twins:
            assert client.put(f"/digitaltwins/{tid}", json=doc).status_code == 200
    acked: list[str] = []
    stop = threading.Event()

    def load(worker: int) -> None:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            for i in range(worker, 399, 4):
                if stop.is_set():
                    return
                rid = f"r{i}"
                try:
                    r = client.put(f"/digitaltwins/l{i}/relationships/{rid}",
                                   json={"$relationshipName": "next", "$targetId": f"l{i + 1}"})
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    acked.append(f"l{i}/{rid}")

    workers = [threading.Thread(target=load, args=(k,)) for k in range(4)]
    for w in workers:
        w.start()
    deadline = time.monotonic() + 30
    while len(acked) < 60 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()
    stop.set()
    for w in workers:
        w.join(10)
    assert acked, "nothing was acknowledged before the kill"

    graph = TwinGraph.open(db)
    try:
        stored = {f"{r.source}/{r.id}" for i in range(400) for r in graph.store.list_relationships(f"l{i}")}
        assert set(acked) <= stored, f"{len(set(acked) - stored)} acknowledged relationships are missing"
        # nothing half-written: each stored relationship has its event, and no event lacks its relationship
        events: dict[str, int] = {}
        for e in graph.store.iter_events():
            if e.type in ("Relationship.Create", "Relationship.Delete"):
                key = f"{e.twin}/{e.relationship}"
                events[key] = events.get(key, 0) + (1 if e.type == "Relationship.Create" else -1)
        assert {k for k, v in events.items() if v > 0} == stored
        for key in stored:
            source, rid = key.split("/")
            rel = graph.store.get_relationship(source, rid)
            assert rel is not None and json.loads(rel.document)["$targetId"] == rel.target
    finally:
        graph.close()
    # and the store takes writes again from a new server
    server = Server(db)
    started.append(server)
    r = httpx.put(f"{server.url}/digitaltwins/l398/relationships/r398",
                  json={"$relationshipName": "next", "$targetId": "l399"})
    assert r.status_code == 200, r.text
