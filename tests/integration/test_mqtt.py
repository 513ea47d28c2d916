"""MQTT ingestion against a real Mosquitto (restarted mid-stream) and the embedded amqtt broker."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from tests.graph.sensors import LIVE, sensor
from tests.requirements import missing
from tests.servers import Mosquitto, free_port, running_mosquitto
from twinforge.graph import TwinGraph
from twinforge.ingest import Ingestor
from twinforge.ingest.mapping import parse_mapping
from twinforge.ingest.mqtt import EmbeddedBroker, MqttConnector

pytestmark = pytest.mark.integration


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def publisher(port: int, client_id: str = "test-publisher", mqtt5: bool = True) -> mqtt.Client:
    kwargs = {"protocol": mqtt.MQTTv5} if mqtt5 else {"clean_session": False}
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, **kwargs)  # type: ignore[arg-type]
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(0.2, 1)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


@pytest.fixture
def live(graph: TwinGraph) -> TwinGraph:
    graph.add_models(LIVE)
    graph.create_twins([(f"s{i}", sensor(temperature=0.0)) for i in range(20)])
    return graph


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with running_mosquitto(tmp_path / "mosquitto") as b:
        yield b


def test_convention_mapping_and_dead_letters(live: TwinGraph, broker: Mosquitto) -> None:
    mapping = parse_mapping({"mqtt": [{"topic": "site/{dev}/env", "twin": "s{dev}", "kind": "telemetry",
                                       "values": {"humidity": {"path": "$.h", "scale": 0.1}}}]})
    connector = MqttConnector(Ingestor(live), broker.url, mapping=mapping)
    connector.start()
    try:
        pub = publisher(broker.port)
        pub.publish("twinforge/twins/s1/properties", json.dumps({"temperature": 21.5}), qos=1)
        pub.publish("twinforge/twins/s1/components/battery/properties", json.dumps({"level": 0.7}), qos=1)
        pub.publish("twinforge/twins/s2/telemetry", json.dumps({"reading": 3.0}), qos=1)
        pub.publish("site/3/env", json.dumps({"h": 455}), qos=1)
        pub.publish("twinforge/updates", json.dumps([{"twin": "s4", "properties": {"temperature": 4.0}},
                                                     {"twin": "s5", "telemetry": {"reading": 5.0}},
                                                     {"nope": 1}]), qos=1)
        pub.publish("twinforge/twins/s6/properties", b"{not json", qos=1)
        pub.publish("twinforge/twins/s7/properties", json.dumps({"temperature": "warm"}), qos=1)
        pub.publish("twinforge/twins/ghost/properties", json.dumps({"temperature": 1.0}), qos=1)
        pub.publish("twinforge/twins/s8/properties", json.dumps({"temperature": 8.0}), qos=1).wait_for_publish()
        wait_for(lambda: live.get_twin("s8").get("temperature") == 8.0)
        assert live.get_twin("s1")["temperature"] == 21.5
        assert live.get_twin("s1")["battery"]["level"] == 0.7
        assert [p.num for p in live.store.read_history("s2", "reading")] == [3.0]
        assert [p.num for p in live.store.read_history("s3", "humidity")] == [45.5]
        assert live.get_twin("s4")["temperature"] == 4.0
        assert live.get_twin("s7")["temperature"] == 0.0  # the bad device changed nothing
        kinds = sorted(d.kind for d in live.store.read_dead_letters())
        assert kinds == ["bad_shape", "invalid_value", "not_json", "unknown_twin"]
        pub.loop_stop()
    finally:
        connector.stop()


def test_nothing_acknowledged_is_lost_across_a_broker_restart(live: TwinGraph, broker: Mosquitto) -> None:
    connector = MqttConnector(Ingestor(live), broker.url, client_id="restart-test")
    connector.start()
    pub = publisher(broker.port, "restart-publisher")
    acked_mids: set[int] = set()
    pub.on_publish = lambda client, userdata, mid, reason, properties: acked_mids.add(mid)
    try:
        total = 1500
        seq_of_mid: dict[int, int] = {}
        for i in range(total):
            if i == 600:
                broker.restart()  # while messages are in flight both ways
            info = pub.publish(f"twinforge/twins/s{i % 20}/properties", json.dumps({"seq": i}), qos=1)
            seq_of_mid[info.mid] = i
            if i % 100 == 99:
                time.sleep(0.05)
        # paho queues what it could not send and re-sends what the broker did not acknowledge;
        # the invariant is about what the broker acknowledged, whatever the publisher managed.
        deadline = time.monotonic() + 30
        while len(acked_mids) < total and time.monotonic() < deadline:
            time.sleep(0.05)
        acknowledged = {seq_of_mid[mid] for mid in list(acked_mids)}
        assert len(acknowledged) > total * 0.9

        def stored() -> set[int]:
            return {int(p.num or 0) for t in range(20)
                    for p in live.store.read_history(f"s{t}", "seq", limit=10_000)}

        deadline = time.monotonic() + 60
        while not stored() >= set(acknowledged) and time.monotonic() < deadline:
            time.sleep(0.1)
        missing = sorted(set(acknowledged) - stored())
        # When this fails, say which messages and what the connector and the broker saw.
        log = (broker.directory / "mosquitto.log").read_text(errors="replace").splitlines()
        assert not missing, (f"{len(missing)} acknowledged messages were not stored (seq {missing[:20]}); "
                             f"connector {connector.status()}; broker log tail: {log[-15:]}")
        assert connector.stats.connects >= 2
        assert live.store.read_dead_letters() == []
    finally:
        pub.loop_stop()
        connector.stop()


def test_embedded_broker(live: TwinGraph) -> None:
    import asyncio
    import threading

    port = free_port()
    embedded = EmbeddedBroker(port=port)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(embedded.start(), loop).result(10)
    connector = MqttConnector(Ingestor(live), embedded.url, mqtt5=False, client_id="embedded-test")
    try:
        connector.start(timeout=10)
        assert connector.connected.is_set()
        pub = publisher(port, "embedded-publisher", mqtt5=False)
        pub.publish("twinforge/twins/s9/properties", json.dumps({"temperature": 9.5}), qos=1).wait_for_publish()
        wait_for(lambda: live.get_twin("s9").get("temperature") == 9.5)
        pub.loop_stop()
    finally:
        connector.stop()
        asyncio.run_coroutine_threadsafe(embedded.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)


def test_mqtts_with_username_and_password(live: TwinGraph, tmp_path: Path) -> None:
    import shutil
    import subprocess

    from tests.servers import MOSQUITTO
    from twinforge.api.tls import ensure_self_signed

    passwd_tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    if MOSQUITTO is None or not Path(passwd_tool).exists():
        missing("mosquitto is not installed (apt-get install mosquitto)")
    cert, key = ensure_self_signed(tmp_path / "tls")
    key.chmod(0o644)  # Mosquitto reads it as the unprivileged user it may switch to
    passwords = tmp_path / "passwd"
    subprocess.run([passwd_tool, "-b", "-c", str(passwords), "device", "s3cret"], check=True)
    broker = Mosquitto(tmp_path / "tls-broker")
    broker.config.write_text(broker.config.read_text().replace("allow_anonymous true\n", "")
                             + f"allow_anonymous false\npassword_file {passwords}\n"
                               f"certfile {cert}\nkeyfile {key}\n")
    broker.start()
    try:
        refused = MqttConnector(Ingestor(live), f"mqtts://device:wrong@127.0.0.1:{broker.port}",
                                ca_file=str(cert), client_id="tls-wrong")
        refused.start(timeout=3)
        assert not refused.connected.is_set() and refused.stats.last_error
        refused.stop()
        connector = MqttConnector(Ingestor(live), f"mqtts://device:s3cret@127.0.0.1:{broker.port}",
                                  ca_file=str(cert), client_id="tls-right")
        connector.start(timeout=10)
        try:
            assert connector.connected.is_set()
            pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="tls-publisher")
            pub.tls_set(ca_certs=str(cert))
            pub.username_pw_set("device", "s3cret")
            pub.connect("127.0.0.1", broker.port)
            pub.loop_start()
            pub.publish("twinforge/twins/s1/properties", json.dumps({"temperature": 12.5}), qos=1).wait_for_publish(10)
            wait_for(lambda: live.get_twin("s1").get("temperature") == 12.5)
            pub.loop_stop()
        finally:
            connector.stop()
    finally:
        broker.stop()


def test_killed_server_loses_nothing_acknowledged(tmp_path: Path, broker: Mosquitto) -> None:
    """SIGKILL the server mid-stream: messages are acknowledged only after commit, so the
    broker redelivers whatever the dead process had not stored."""
    import os
    import signal
    import subprocess
    import sys

    import httpx

    db = tmp_path / "killed.db"
    graph = TwinGraph.open(f"sqlite:///{db}")
    graph.add_models(LIVE)
    graph.create_twins([(f"s{i}", sensor(temperature=0.0)) for i in range(20)])
    graph.close()

    port = free_port()  # a restart keeps the port, and so the MQTT client id and session

    def start_server() -> tuple[subprocess.Popen[bytes], httpx.Client]:
        proc = subprocess.Popen([sys.executable, "-m", "twinforge.cli", "serve", "--db", f"sqlite:///{db}",
                                 "--port", str(port), "--mqtt", broker.url],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)

        def ready() -> bool:
            try:
                return bool(client.get("/ingest/status").json()["mqtt"]["connected"])
            except httpx.HTTPError:
                return False

        wait_for(ready, timeout=30)
        return proc, client

    server, client = start_server()
    pub = publisher(broker.port, "killed-publisher")
    acked_mids: set[int] = set()
    pub.on_publish = lambda c, u, mid, reason, properties: acked_mids.add(mid)
    seq_of_mid: dict[int, int] = {}
    try:
        total = 3000
        for i in range(total):
            if i == 1500:
                wait_for(lambda: client.get("/ingest/status").json()["mqtt"]["updates"] > 200)
                os.kill(server.pid, signal.SIGKILL)  # no goodbye, no flush
                server.wait(10)
            info = pub.publish(f"twinforge/twins/s{i % 20}/properties", json.dumps({"seq": i}), qos=1)
            seq_of_mid[info.mid] = i
        wait_for(lambda: len(acked_mids) == total, timeout=60)
        server, client = start_server()
        reader = TwinGraph.open(f"sqlite:///{db}")

        def stored() -> set[int]:
            return {int(p.num or 0) for t in range(20)
                    for p in reader.store.read_history(f"s{t}", "seq", limit=10_000)}

        wait_for(lambda: stored() >= {seq_of_mid[m] for m in acked_mids}, timeout=60)
        reader.close()
    finally:
        pub.loop_stop()
        server.terminate()
        server.wait(15)


def test_workers_share_the_subscription(tmp_path: Path, broker: Mosquitto) -> None:
    """`serve --workers 2 --mqtt URL` on SQLite: each worker has a client id of its own (a slot
    lease), they split the shared subscription, and every message is stored once."""
    import datetime
    import subprocess
    import sys

    import httpx

    db = f"sqlite:///{tmp_path / 'workers.db'}"
    graph = TwinGraph.open(db)
    graph.add_models(LIVE)
    graph.create_twins([(f"s{i}", sensor()) for i in range(20)])
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "twinforge.cli", "serve", "--db", db, "--port", str(port),
                             "--workers", "2", "--mqtt", broker.url, "--mqtt-client-id", "wk"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def up() -> bool:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "the server stopped"
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, timeout=60)
        log = broker.directory / "mosquitto.log"
        wait_for(lambda: log.exists() and {"wk-w0", "wk-w1"} <= {
            w for line in log.read_text().splitlines() for w in line.split() if w.startswith("wk-")}, timeout=60)
        pub = publisher(broker.port, "workers-publisher")
        total, t0 = 2000, 1_780_000_000.0
        for i in range(total):
            at = datetime.datetime.fromtimestamp(t0 + i / 1000, datetime.UTC).isoformat()
            pub.publish("twinforge/updates", json.dumps([{"twin": f"s{i % 20}", "telemetry": {"reading": float(i)},
                                                          "time": at}]), qos=1)

        def stored() -> list[float]:
            return [p.num or 0.0 for t in range(20) for p in graph.store.read_history(f"s{t}", "reading", limit=5000)]

        wait_for(lambda: len(stored()) >= total, timeout=60)
        time.sleep(0.5)
        assert sorted(stored()) == [float(i) for i in range(total)]  # each once
        pub.loop_stop()
    finally:
        proc.terminate()
        proc.wait(20)
        graph.close()
