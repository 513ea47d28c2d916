"""One server with `--events nats://` on a one-node NATS (JetStream): what it does with good and
bad messages, what it says when NATS is away, and the pieces that name subjects and servers."""

from __future__ import annotations

import asyncio
import datetime
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.requirements import need_module
from tests.servers import ServeProcess, free_port, running_nats, wait_for
from twinforge.errors import InvalidArgument
from twinforge.nats import parse_servers, subject_to_topic, topic_to_subject
from twinforge.nats.link import stream_subjects

need_module("nats")

MODEL = {"@id": "dtmi:test:nats:Pump;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
         "contents": [{"@type": "Property", "name": "flow", "schema": "double", "writable": True}]}


def test_topics_become_subjects_and_back() -> None:
    assert topic_to_subject("plant/line1/pump.2/flow") == "plant.line1.pump//2.flow"
    assert subject_to_topic("plant.line1.pump//2.flow") == "plant/line1/pump.2/flow"
    assert topic_to_subject("twinforge/twins/+/properties") == "twinforge.twins.*.properties"
    assert topic_to_subject("meters/#") == "meters.>"
    # a filter another one covers is left out (a stream refuses overlapping subjects)
    assert stream_subjects(["meters/+", "meters/#", "twinforge/updates"]) == ["meters.>", "twinforge.updates"]
    with pytest.raises(InvalidArgument, match="event stream"):
        stream_subjects(["twinforge/#"])
    with pytest.raises(InvalidArgument, match="event stream"):
        stream_subjects(["#"])


def test_server_urls() -> None:
    assert parse_servers("nats://a:4222,b:4223") == ["nats://a:4222", "nats://b:4223"]
    assert parse_servers("nats://a") == ["nats://a:4222"]
    for bad in ("", "http://a:4222", "nats://a:notaport"):
        with pytest.raises(InvalidArgument):
            parse_servers(bad)


def test_the_flag_is_checked_before_the_server_starts(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'twins.db'}"
    done = subprocess.run([sys.executable, "-m", "twinforge.cli", "serve", "--db", db, "--events", "kafka://k:9092"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "only NATS JetStream" in done.stderr
    # nothing listens there: the server says so and stops, instead of serving without its event log
    done = subprocess.run([sys.executable, "-m", "twinforge.cli", "serve", "--db", db, "--port", str(free_port()),
                           "--events", "nats://127.0.0.1:1"], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "cannot reach NATS at nats://127.0.0.1:1" in done.stderr + done.stdout


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Any]:
    with running_nats(tmp_path / "nats", nodes=1) as cluster:
        yield cluster


def publish(url: str, messages: list[tuple[str, bytes]]) -> None:
    """Publish to JetStream, each acknowledged by the stream."""
    import nats

    async def run() -> None:
        client = await nats.connect(servers=[url])
        js = client.jetstream()
        for subject, payload in messages:
            await js.publish(subject, payload)
        await client.close()

    asyncio.run(run())


def status(server: ServeProcess) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in httpx.get(server.url + "/ingest/status").json()["connectors"]
                                 if c["type"] == "nats")
    return found


@pytest.fixture
def server(node: Any, tmp_path: Path) -> Iterator[ServeProcess]:
    """A server on SQLite with `--events` on the node, and one pump twin, p1."""
    found = ServeProcess(f"sqlite:///{tmp_path / 'twins.db'}", "--events", node.url)
    try:
        assert httpx.post(found.url + "/models", json=[MODEL]).status_code == 201
        assert httpx.put(found.url + "/digitaltwins/p1", json={"$metadata": {"$model": MODEL["@id"]}}).status_code == 200
        yield found
    finally:
        found.stop()


def test_messages_in_bad_ones_out_and_stream_from_jetstream(node: Any, server: ServeProcess) -> None:
    seen: list[dict[str, Any]] = []

    def follow() -> None:
        with httpx.stream("GET", server.url + "/stream?twin=p1&type=Twin.Update", timeout=30) as r:
            for line in r.iter_lines():
                if line.startswith("data: "):
                    seen.append(json.loads(line[6:]))
                    return

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    time.sleep(0.5)
    before = time.time()
    publish(node.url, [("twinforge.twins.p1.properties", b'{"flow": 2.5}'),
                       ("twinforge.twins.p1.properties", b"{not json"),
                       ("twinforge.twins.p1.properties", b'{"flow": "fast"}'),
                       ("twinforge.twins.nobody.properties", b'{"flow": 1.0}')])
    wait_for(lambda: status(server)["messages"] >= 4, timeout=30)
    twin = httpx.get(server.url + "/digitaltwins/p1").json()
    assert twin["flow"] == 2.5
    # no source time in the message: the time the stream stored it (a redelivery is the same point)
    points = httpx.get(server.url + "/digitaltwins/p1/history?name=flow").json()["value"]
    assert [p["value"] for p in points] == [2.5]
    stamp = datetime.datetime.fromisoformat(points[0]["time"].replace("Z", "+00:00")).timestamp()
    assert before - 5 < stamp < time.time() + 5
    letters = httpx.get(server.url + "/deadletters").json()["value"]
    kinds = sorted(letter["kind"] for letter in letters)
    assert kinds == ["invalid_value", "not_json", "unknown_twin"]
    assert all(letter["source"].startswith("nats:twinforge/twins/") for letter in letters)
    follower.join(30)
    assert seen and seen[0]["data"]["patch"][0]["value"] == 2.5
    s = status(server)
    assert s["state"] == "running" and s["updates"] == 1 and s["rejected"] == 3
    assert s["events"]["leader"] and s["events"]["relayed"] >= 1 and s["events"]["fed"] >= 1


def test_nats_away_and_back(node: Any, server: ServeProcess) -> None:
    node.kill("n1")
    wait_for(lambda: status(server)["state"] == "connecting", timeout=30)
    health = httpx.get(server.url + "/health")
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    assert any("nats" in problem for problem in health.json()["problems"])

    # NATS is away: writes still work, and /stream still carries them (from the store)
    ids: list[str] = []

    def follow() -> None:
        with httpx.stream("GET", server.url + "/stream?twin=p1", timeout=30) as r:
            for line in r.iter_lines():
                if line.startswith("id: "):
                    ids.append(line[4:])
                    return

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    time.sleep(0.5)
    patch = [{"op": "add", "path": "/flow", "value": 7.0}]
    assert httpx.patch(server.url + "/digitaltwins/p1", json=patch).status_code == 204
    follower.join(30)
    assert ids, "the stream went on without NATS"
    assert status(server)["events"]["filledFromStore"] >= 1

    node.restart("n1")
    wait_for(lambda: status(server)["state"] == "running", timeout=60)
    publish(node.url, [("twinforge.twins.p1.properties", b'{"flow": 9.0}')])
    wait_for(lambda: httpx.get(server.url + "/digitaltwins/p1").json().get("flow") == 9.0, timeout=60)
    assert httpx.get(server.url + "/health").json()["status"] == "ok"
