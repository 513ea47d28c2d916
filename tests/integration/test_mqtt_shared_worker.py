"""A server's MQTT connections share one ingest worker: one transaction for what they all
received, each message acknowledged on its own connection (a real Mosquitto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.graph.sensors import LIVE, sensor
from tests.integration.test_mqtt import publisher, wait_for
from tests.servers import Mosquitto, running_mosquitto
from twinforge.graph import TwinGraph
from twinforge.ingest import Ingestor
from twinforge.ingest.batches import IngestWorker
from twinforge.ingest.mqtt import MqttConnector

pytestmark = pytest.mark.integration
TWINS = 20


@pytest.fixture
def live(graph: TwinGraph) -> TwinGraph:
    graph.add_models(LIVE)
    graph.create_twins([(f"s{i}", sensor()) for i in range(TWINS)])
    return graph


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with running_mosquitto(tmp_path / "mosquitto") as b:
        yield b


def connection(graph: TwinGraph, broker: Mosquitto, client_id: str, worker: IngestWorker) -> MqttConnector:
    connector = MqttConnector(Ingestor(graph), broker.url, client_id=client_id, share_group="shared-test",
                              worker=worker)
    connector.start()
    assert connector.connected.wait(10)
    return connector


def publish(broker: Mosquitto, count: int, start: int = 0) -> None:
    """``count`` readings without a source time: one applied twice would be two points."""
    pub = publisher(broker.port, f"shared-publisher-{start}")
    infos = [pub.publish("twinforge/updates", json.dumps({"twin": f"s{i % TWINS}", "telemetry": {"reading": float(i)}}),
                         qos=1) for i in range(start, start + count)]
    for info in infos:
        info.wait_for_publish(10)
    pub.disconnect()
    pub.loop_stop()


def readings(graph: TwinGraph) -> list[float]:
    return sorted(p.num or 0.0 for t in range(TWINS) for p in graph.store.read_history(f"s{t}", "reading", limit=5000))


def test_connections_share_batches(live: TwinGraph, broker: Mosquitto) -> None:
    # The worker waits up to half a second, so what both connections received meets in one batch.
    worker = IngestWorker(Ingestor(live), flush_interval=0.5, wake_at=1_000_000)
    a = connection(live, broker, "shared-a", worker)
    b = connection(live, broker, "shared-b", worker)
    try:
        publish(broker, 400)
        wait_for(lambda: len(readings(live)) >= 400)
        wait_for(lambda: a.stats.messages + b.stats.messages == 400)
        assert readings(live) == [float(i) for i in range(400)]  # every message once
        assert a.stats.messages > 0 and b.stats.messages > 0  # the broker split them
        assert a.stats.updates + b.stats.updates == 400 and a.stats.rejected + b.stats.rejected == 0
        # Fewer transactions than the connections' batches: some batches served both.
        assert worker.batches < a.stats.batches + b.stats.batches
        assert a.status()["state"] == b.status()["state"] == "running"
    finally:
        a.stop()
        b.stop()


def test_a_connection_that_leaves_keeps_its_waiting_messages_for_its_session(live: TwinGraph,
                                                                              broker: Mosquitto) -> None:
    """Messages a stopped connection had handed over but the worker had not applied stay
    unacknowledged: the broker gives them to the session's next holder, and nothing is
    stored twice or lost."""
    worker = IngestWorker(Ingestor(live), flush_interval=3600, wake_at=1_000_000)  # applies only when woken
    a = connection(live, broker, "leave-a", worker)
    b = connection(live, broker, "leave-b", worker)
    try:
        publish(broker, 100)
        wait_for(lambda: len(worker._inbox) == 100)
        b.stop()  # leaves with its share still waiting
        worker._wakeup.set()
        wait_for(lambda: a.stats.messages > 0)
        wait_for(lambda: len(readings(live)) == a.stats.messages)
        assert b.stats.messages == 0 and a.stats.messages < 100
        again = connection(live, broker, "leave-b", worker)  # the same session, back
        try:
            wait_for(lambda: len(worker._inbox) == 100 - a.stats.messages)  # redelivered by the broker
            worker._wakeup.set()
            wait_for(lambda: len(readings(live)) >= 100)
            wait_for(lambda: again.stats.messages == 100 - a.stats.messages)
            assert readings(live) == [float(i) for i in range(100)]
        finally:
            again.stop()
    finally:
        a.stop()


def test_a_servers_own_connections_share_one_worker(live: TwinGraph) -> None:
    """`serve --mqtt-connections 3` makes three members of the group with one worker; a
    dead server's session, when kept, gets a worker of its own (it may leave at any time)."""
    from twinforge.ingest.rescue import mqtt_connections

    own, keeper = mqtt_connections(Ingestor(live), live.store, "mqtt://127.0.0.1:1883", mapping=None,
                                   client_id="srv", ca_file=None, group="g", mqtt5=True, connections=3)
    assert [c.client_id for c in own] == ["srv", "srv-c1", "srv-c2"]
    assert own[0].worker is own[1].worker is own[2].worker
    assert keeper is not None
    assert keeper.make("other-server").worker is not own[0].worker
