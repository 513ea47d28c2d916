"""`serve --events nats://...`: three servers on one PostgreSQL, a 3-node NATS JetStream cluster.

Devices publish; the messages wait in the replicated work-queue stream until a server has
stored them. Killing a NATS node and one of the servers in the middle of the run loses nothing
and stores nothing twice, and every surviving server's /stream carries every event, in order,
without a gap:

- through NATS's MQTT listener (QoS 1), killing a node that is neither the stream's leader nor
  the devices' node;
- through JetStream publishes (acknowledged, retried with a message id), killing the stream's
  leader node.

Why not MQTT devices with the stream's leader killed: NATS's MQTT listener (2.14.6 and 2.15.1
measured here) acknowledges QoS 1 messages it could not store while the stream elects a new
leader, so those messages are lost before twinforge sees them (docs/scale.md has the figures).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.requirements import need_module
from tests.servers import ServeProcess, running_nats, wait_for

need_module("nats")
mqtt = need_module("paho.mqtt.client")

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MODEL = {"@id": "dtmi:test:nats:Meter;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
         "contents": [{"@type": "Property", "name": "reading", "schema": "double", "writable": True}]}
TWINS = 50
MESSAGES = 20_000
SOURCE_EPOCH = 1_790_000_000.0  # seconds: the devices' own clock for the MQTT run
MAPPING = """mqtt:
  - topic: "meters/{meter}"
    twin: "{meter}"
    values:
      reading: "$.reading"
    time: "$.ts"
"""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Any]:
    with running_nats(tmp_path / "nats", nodes=3) as found:
        yield found


class Follower(threading.Thread):
    """Reads a server's /stream (Server-Sent Events) and keeps the event ids, in order."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.ids: list[int] = []
        self.open = threading.Event()
        self.stop = False

    def run(self) -> None:
        try:
            with httpx.stream("GET", self.url + "/stream?type=Twin.Update", timeout=60) as r:
                for line in r.iter_lines():
                    self.open.set()
                    if line.startswith("id: "):
                        self.ids.append(int(line[4:]))
                    if self.stop:
                        return
        except httpx.HTTPError:
            return


def publish(port: int, count: int, progress: list[int]) -> None:
    """``count`` QoS 1 messages through NATS's MQTT listener; returns once the broker acknowledged
    each. The session is persistent: when the connection drops, paho keeps what was not
    acknowledged and sends it again once it has reconnected."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="meter-gateway", protocol=mqtt.MQTTv311,
                         clean_session=False)
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(min_delay=0.2, max_delay=1)
    client.connect("127.0.0.1", port)
    client.loop_start()

    def acknowledged(info: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not info.is_published():
            assert time.monotonic() < deadline, "a message was never acknowledged"
            time.sleep(0.01)

    try:
        infos = []
        for i in range(count):
            # stamped at the source: a message the connection resends after a drop (QoS 1 is at
            # least once) is then the same history point, not a second one
            body = {"reading": float(i), "ts": SOURCE_EPOCH + i / 1000}
            infos.append(client.publish(f"meters/m{i % TWINS}", json.dumps(body), qos=1))
            progress[0] = i + 1
            if i % 200 == 199 and len(infos) > 1000:
                acknowledged(infos[-1000], 120)  # at most about a thousand on their way
        for info in infos:
            acknowledged(info, 180)
        progress.append(1)  # done
    finally:
        client.disconnect()
        client.loop_stop()


def stored_readings(db: str) -> list[float]:
    from twinforge.graph import TwinGraph
    from twinforge.history import History

    graph = TwinGraph.open(db)
    try:
        history = History(graph.store)
        out: list[float] = []
        for k in range(TWINS):
            out.extend(point["value"] for point in history.read_range(f"m{k}", "reading", limit=1_000_000))
        return out
    finally:
        graph.close()


def publish_jetstream(servers: str, count: int, progress: list[int]) -> None:
    """``count`` messages published to JetStream, each acknowledged by the stream; a publish that
    fails (no stream leader for a moment) is sent again with the same message id, which the
    stream's duplicate window turns into one stored message."""
    import nats

    async def run() -> None:
        client = await nats.connect(servers=servers.split(","), max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        js = client.jetstream(timeout=5)
        try:
            for i in range(count):
                subject = f"twinforge.twins.m{i % TWINS}.properties"
                payload = json.dumps({"reading": float(i)}).encode()
                deadline = time.monotonic() + 120
                while True:
                    try:
                        await js.publish(subject, payload, headers={"Nats-Msg-Id": f"reading-{i}"})
                        break
                    except Exception:
                        assert time.monotonic() < deadline, f"message {i} was never stored"
                        await asyncio.sleep(0.2)
                progress[0] = i + 1
            progress.append(1)
        finally:
            await client.close()

    asyncio.run(run())


def stored_points(db: str, reading: float) -> list[str]:
    """The times of the history points holding ``reading`` (to say why one is there twice)."""
    from twinforge.graph import TwinGraph
    from twinforge.history import History

    graph = TwinGraph.open(db)
    try:
        points = History(graph.store).read_range(f"m{int(reading) % TWINS}", "reading", limit=1_000_000)
        return [p["time"] for p in points if p["value"] == reading]
    finally:
        graph.close()


def fill(db: str) -> None:
    from twinforge.graph import TwinGraph

    graph = TwinGraph.open(db)
    graph.add_models([MODEL])
    graph.create_twins([(f"m{k}", {"$metadata": {"$model": MODEL["@id"]}}) for k in range(TWINS)])
    graph.close()


def scenario(cluster: Any, db: str, victim: Any, publisher: Any, count: int, *args: str) -> list[dict[str, Any]]:
    """Three servers; ``publisher(progress)`` sends ``count`` readings; a quarter of the way in,
    ``victim()`` kills a NATS node and the third server is killed. Checks that every reading is
    stored once and that each survivor's /stream has every Twin.Update event in order; returns
    the survivors' NATS status."""
    from twinforge.store import open_store

    fill(db)
    servers = [ServeProcess(db, "--events", cluster.url, *args) for _ in range(3)]
    try:
        wait_for(lambda: all(httpx.get(s.url + "/ingest/status").json()["connectors"][0]["state"] == "running"
                             for s in servers))
        start = httpx.get(servers[0].url + "/stream/position").json()["lastEventId"]
        followers = [Follower(s.url) for s in servers[:2]]
        for f in followers:
            f.start()
            assert f.open.wait(10)
        progress = [0]
        thread = threading.Thread(target=publisher, args=(progress,))
        thread.start()
        wait_for(lambda: progress[0] >= count // 4, timeout=120)
        victim()
        servers[2].kill()  # with whatever it had pulled and not acknowledged
        thread.join(300)
        assert len(progress) == 2, "the publisher did not get every acknowledgement"

        deadline = time.monotonic() + 180
        while len(stored_readings(db)) < count:
            if time.monotonic() > deadline:
                statuses = [httpx.get(s.url + "/ingest/status").json()["connectors"] for s in servers[:2]]
                pytest.fail(f"stored {len(stored_readings(db))} of {count}; servers: {statuses}")
            time.sleep(1.0)
        time.sleep(2.0)  # anything stored twice would show up now
        readings = stored_readings(db)
        if sorted(readings) != [float(i) for i in range(count)]:
            twice = sorted({r for r in readings if readings.count(r) > 1})[:5]
            missing = sorted(set(map(float, range(count))) - set(readings))[:5]
            pytest.fail(f"{len(readings)} readings stored for {count} messages; stored more than once: {twice} "
                        f"at {[stored_points(db, r) for r in twice]}; missing: {missing}")

        store = open_store(db)
        try:
            expected = [e.seq for e in store.iter_events(start) if e.type == "Twin.Update"]
        finally:
            store.close()
        for f in followers:
            wait_for(lambda f=f: len(f.ids) >= len(expected), timeout=60)  # type: ignore[misc]
            assert f.ids == expected, "a survivor's /stream has every event, in order, once"
            f.stop = True
        statuses = [httpx.get(s.url + "/ingest/status").json()["connectors"][0] for s in servers[:2]]
        assert all(s["state"] == "running" for s in statuses)
        assert sum(s["events"]["fed"] for s in statuses) > 0, "the streams were fed from JetStream"
        return statuses
    finally:
        for s in servers:
            s.stop()


def test_mqtt_devices_a_dead_node_and_a_dead_server(cluster: Any, pg_url: str, tmp_path: Path) -> None:
    from twinforge.nats import INGEST_STREAM

    mapping = tmp_path / "meters.yaml"
    mapping.write_text(MAPPING)
    # the streams exist once a server has started; place the devices and the victim then
    probe = ServeProcess(pg_url, "--events", cluster.url, "--mapping", str(mapping))
    probe.stop()
    leader = wait_for(lambda: cluster.stream_leader(INGEST_STREAM))
    device, victim = [n for n in cluster.nodes if n.name != leader][:2]
    scenario(cluster, pg_url, lambda: cluster.kill(victim.name),
             lambda progress: publish(device.mqtt_port, MESSAGES, progress), MESSAGES, "--mapping", str(mapping))


def test_jetstream_devices_a_dead_stream_leader_and_a_dead_server(cluster: Any, pg_url: str) -> None:
    from twinforge.nats import INGEST_STREAM

    probe = ServeProcess(pg_url, "--events", cluster.url)
    probe.stop()
    leader = wait_for(lambda: cluster.stream_leader(INGEST_STREAM))
    statuses = scenario(cluster, pg_url, lambda: cluster.kill(leader),
                        lambda progress: publish_jetstream(cluster.url, MESSAGES // 4, progress), MESSAGES // 4)
    assert all(s["connected"] for s in statuses)
