"""`serve --mqtt mqtt://...` runs its connections in a child process (ingest/process.py):
what it stores reaches /stream at once, its refusals are in /ingest/status, a killed child is
restarted without losing an acknowledged message, and event routes publish through it."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest

from tests.graph.sensors import LIVE, sensor
from tests.servers import Mosquitto, ServeProcess, running_mosquitto, wait_for
from twinforge.graph import TwinGraph

pytestmark = pytest.mark.integration
TWINS = 100


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with running_mosquitto(tmp_path / "mosquitto") as running:
        yield running


def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'twins.db'}"
    graph = TwinGraph.open(url)
    graph.add_models(LIVE)
    graph.create_twins((f"s{i}", sensor()) for i in range(TWINS))
    graph.close()
    return url


def publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{time.time_ns()}", protocol=mqtt.MQTTv5)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(0.2, 1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def send(client: mqtt.Client, numbers: range) -> None:
    """Message n sets s{n % TWINS}.temperature to n, at a source time of its own."""
    infos = [client.publish(f"twinforge/twins/s{n % TWINS}/properties",
                            json.dumps({"temperature": float(n)}).encode(), qos=1) for n in numbers]
    for info in infos:
        info.wait_for_publish(30)


def child_of(server: ServeProcess) -> int:
    status = httpx.get(server.url + "/ingest/status").json()["mqtt"]
    assert status["connected"]
    return int(status["process"])


def stored_values(url: str) -> list[float]:
    values: list[float] = []
    for i in range(TWINS):
        link: str | None = f"{url}/digitaltwins/s{i}/history?name=temperature"
        while link:
            page = httpx.get(link).json()
            values.extend(point["value"] for point in page["value"])
            link = page["nextLink"]
    return values


def test_the_child_stores_and_the_server_streams(tmp_path: Path, broker: Mosquitto) -> None:
    from websockets.sync.client import connect

    server = ServeProcess(store(tmp_path), "--mqtt", broker.url, "--mqtt-connections", "2", mqtt_ready=True)
    try:
        pid = child_of(server)
        assert pid != server.proc.pid  # the connections live in another process
        status = httpx.get(server.url + "/ingest/status").json()
        assert len(status["mqtt"]["connections"]) == 2 and status["mqtt"]["state"] == "running"

        seen: list[dict[str, Any]] = []
        ready = threading.Event()

        def listen() -> None:
            with connect(server.url.replace("http", "ws") + "/stream?type=Twin.Update") as ws:
                ready.set()
                while len(seen) < 100:
                    seen.append(json.loads(ws.recv(timeout=20)))

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert ready.wait(10)
        client = publisher(broker.port)
        send(client, range(100))
        listener.join(30)
        assert len(seen) == 100  # one per twin, woken by the child's commits
        assert sorted(op["value"] for e in seen for op in e["data"]["patch"]) == [float(n) for n in range(100)]

        client.publish("twinforge/twins/s1/properties", b"{not json", qos=1).wait_for_publish(10)
        client.publish("twinforge/twins/s1/properties", b'{"temperature": "hot"}', qos=1).wait_for_publish(10)
        wait_for(lambda: sum(httpx.get(server.url + "/ingest/status").json()["refused"].values()) == 2, 20)
        refused = httpx.get(server.url + "/ingest/status").json()["refused"]
        assert refused == {"not_json": 1, "invalid_value": 1}
        letters = httpx.get(server.url + "/deadletters").json()["value"]
        assert {d["kind"] for d in letters} == {"not_json", "invalid_value"}
        assert httpx.get(server.url + f"/digitaltwins/s{99 % TWINS}").json()["temperature"] == 99.0
        client.disconnect()
        client.loop_stop()
    finally:
        server.stop()
    assert not _alive(pid)  # the child went with the server


def test_a_killed_child_is_restarted_and_nothing_acknowledged_is_lost(tmp_path: Path, broker: Mosquitto) -> None:
    server = ServeProcess(store(tmp_path), "--mqtt", broker.url, mqtt_ready=True)
    try:
        first = child_of(server)
        client = publisher(broker.port)
        sender = threading.Thread(target=send, args=(client, range(3000)))
        sender.start()
        wait_for(lambda: httpx.get(server.url + "/ingest/status").json()["mqtt"]["updates"] > 300, 30)
        os.kill(first, signal.SIGKILL)  # mid-stream
        sender.join(60)
        wait_for(lambda: httpx.get(server.url + "/ingest/status").json()["mqtt"].get("restarts") == 1, 30)
        wait_for(lambda: (lambda s: s["connected"] and s["process"] != first)(
            httpx.get(server.url + "/ingest/status").json()["mqtt"]), 30)
        health = httpx.get(server.url + "/health").json()
        assert health["status"] in ("ok", "degraded")
        # Every message the broker took is stored: the child acknowledged only what it committed,
        # and its session (with the rest) passed to the next child.
        wait_for(lambda: set(stored_values(server.url)) >= {float(n) for n in range(3000)}, 60)
        assert httpx.get(server.url + "/digitaltwins/s99").json()["temperature"] == 2999.0
        client.disconnect()
        client.loop_stop()
    finally:
        server.stop()


def test_event_routes_publish_through_the_child(tmp_path: Path, broker: Mosquitto) -> None:
    server = ServeProcess(store(tmp_path), "--mqtt", broker.url, mqtt_ready=True)
    got: list[bytes] = []
    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="route-listener", protocol=mqtt.MQTTv5)
    listener.on_message = lambda c, u, m: got.append(m.payload)
    listener.connect("127.0.0.1", broker.port)
    listener.subscribe("routes/#", qos=1)
    listener.loop_start()
    try:
        assert httpx.put(server.url + "/endpoints/out",
                         json={"type": "mqtt", "topic": "routes/{type}"}).status_code in (200, 201)
        assert httpx.put(server.url + "/eventroutes/r1",
                         json={"endpointName": "out", "filter": "type = 'Microsoft.DigitalTwins.Twin.Update'"}
                         ).status_code in (200, 201, 204)
        time.sleep(1.0)
        patch = [{"op": "add", "path": "/temperature", "value": 42.0}]
        assert httpx.patch(server.url + "/digitaltwins/s3", json=patch).status_code == 204
        wait_for(lambda: len(got) >= 1, 30)
        event = json.loads(got[0])
        assert event["subject"] == "s3" and event["data"]["patch"][0]["value"] == 42.0
    finally:
        listener.disconnect()
        listener.loop_stop()
        server.stop()


def test_in_process_connections_on_request(tmp_path: Path, broker: Mosquitto) -> None:
    server = ServeProcess(store(tmp_path), "--mqtt", broker.url, "--no-mqtt-process", mqtt_ready=True)
    try:
        status = httpx.get(server.url + "/ingest/status").json()["mqtt"]
        assert status["connected"] and "process" not in status
        client = publisher(broker.port)
        send(client, range(5))
        wait_for(lambda: httpx.get(server.url + "/digitaltwins/s4").json()["temperature"] == 4.0, 20)
        client.disconnect()
        client.loop_stop()
    finally:
        server.stop()


def _alive(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.1)
    return True
