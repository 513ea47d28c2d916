"""No MQTT message can stop ingestion: every kind of bad value through every mapping feature,
on the embedded broker and on Mosquitto, then good messages that must land; connector state
shows in /ingest/status and /health."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest

from tests.graph.sensors import LIVE, sensor
from tests.servers import free_port, running_api, running_mosquitto
from twinforge.api.connectors import attach_mqtt
from twinforge.graph import TwinGraph
from twinforge.ingest.mapping import parse_mapping

pytestmark = pytest.mark.integration

# Every feature of a mapping file: captures, JSON paths, scale and offset, source time,
# components, arrays as batches, whole-object payloads.
MAPPING = parse_mapping({"mqtt": [
    {"topic": "meters/{id}", "twin": "s{id}", "kind": "telemetry", "time": "$.ts",
     "values": {"reading": "$.kwh"}},
    {"topic": "site/{dev}/env", "twin": "s{dev}", "kind": "telemetry",
     "values": {"humidity": {"path": "$.h", "scale": 0.1, "offset": 1.0}}},
    {"topic": "site/{dev}/battery", "twin": "s{dev}", "component": "battery",
     "values": {"level": "$.data[0].lvl"}},
    {"topic": "raw/{dev}", "twin": "s{dev}", "time": "$.at"},
]})

BAD: list[tuple[str, bytes]] = [
    ("meters/1", b'{"kwh": 1, "ts": "not a time"}'),
    ("meters/1", b'{"kwh": 1, "ts": 1e20}'),
    ("meters/1", b'{"kwh": 1, "ts": -1e300}'),
    ("meters/1", b'{"kwh": 1, "ts": true}'),
    ("meters/1", b'{"kwh": 1, "ts": {"a": 1}}'),
    ("meters/1", b'{"kwh": 1, "ts": null}'),
    ("meters/1", b'{"kwh": 1, "ts": "2026-13-45T99:00:00Z"}'),
    ("meters/1", b'{"kwh": "lots"}'),
    ("meters/1", b'{"kwh": [1, 2]}'),
    ("meters/1", b'[{"kwh": 1, "ts": "bad"}, 7, "x", null]'),
    ("meters/ghost", b'{"kwh": 1}'),
    ("site/2/env", b'{"h": "x"}'),
    ("site/2/env", b'{"h": true}'),
    ("site/2/env", b'{"h": null}'),
    ("site/2/env", b'{"h": 1e308}'),
    ("site/2/battery", b'{"data": "nope"}'),
    ("site/2/battery", b'{"data": [{"lvl": "full"}]}'),
    ("raw/3", b'5'),
    ("raw/3", b'"text"'),
    ("raw/3", b'null'),
    ("raw/3", b'[]'),
    ("raw/3", b'{"at": "yesterday", "temperature": 1.0}'),
    ("raw/3", b'{"temperature": {"deep": [1, {"x": 2}]}}'),
    ("raw/3", b'{"seq": 9223372036854775807}'),
    ("twinforge/twins/s4/properties", b""),
    ("twinforge/twins/s4/properties", b"\xff\xfe\x00garbage"),
    ("twinforge/twins/s4/properties", b'{"temperature": "warm"}'),
    ("twinforge/twins/s4/properties", b'{"nosuch": 1}'),
    ("twinforge/twins/s4/properties", b'{"reading": 1.0}'),
    ("twinforge/twins/s4/properties", b'[1, 2, 3]'),
    ("twinforge/twins/s4/properties", b'{}'),
    ("twinforge/twins/s4/telemetry", b'{"temperature": 1.0}'),
    ("twinforge/twins/s4/components/engine/properties", b'{"level": 1.0}'),
    ("twinforge/twins/s4/components/battery/properties", b'{"level": "full"}'),
    ("twinforge/twins/☃/properties", b'{"temperature": 1.0}'),
    ("twinforge/updates", b'{"twin": 5}'),
    ("twinforge/updates", b'[{"twin": "s4"}, {"twin": "s4", "properties": 1}, {"twin": "s4", "time": "x", '
                          b'"properties": {"temperature": 1.0}}, "junk", null]'),
]

GOOD: list[tuple[str, bytes]] = [
    ("meters/5", b'{"kwh": 12.5, "ts": "2026-01-01T00:00:00Z"}'),
    ("site/6/env", b'{"h": 500}'),
    ("site/7/battery", b'{"data": [{"lvl": 0.5}]}'),
    ("raw/8", b'{"temperature": 8.0, "at": 1767225600}'),
    ("twinforge/twins/s9/properties", b'{"temperature": 9.0}'),
]


def wait_for(condition: Callable[[], bool], timeout: float = 30.0,
             message: Callable[[], str] = lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out {message()}"
        time.sleep(0.05)


@pytest.fixture(params=["embedded", "mosquitto"])
def broker_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, int]]:
    if request.param == "embedded":
        yield "embedded", free_port()
    else:
        with running_mosquitto(tmp_path / "mosquitto") as broker:
            yield broker.url, broker.port


def test_no_message_stops_ingestion(graph: TwinGraph, broker_url: tuple[str, int]) -> None:
    url, port = broker_url
    graph.add_models(LIVE)
    graph.create_twins([(f"s{i}", sensor(temperature=0.0)) for i in range(10)])
    before = {i: graph.get_twin(f"s{i}") for i in (1, 2, 3, 4)}

    def configure(app: Any) -> None:
        attach_mqtt(app, url, mapping=MAPPING, port=port)

    with running_api(graph, configure=configure) as api, httpx.Client(base_url=api) as client:
        wait_for(lambda: client.get("/ingest/status").json()["mqtt"]["connected"])
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bad-publisher", clean_session=True)
        pub.connect("127.0.0.1", port)
        pub.loop_start()
        try:
            for topic, payload in BAD:
                pub.publish(topic, payload, qos=1).wait_for_publish(10)
            for topic, payload in GOOD:
                pub.publish(topic, payload, qos=1).wait_for_publish(10)
            wait_for(lambda: graph.get_twin("s9").get("temperature") == 9.0)
            wait_for(lambda: client.get("/ingest/status").json()["mqtt"]["messages"] >= len(BAD) + len(GOOD),
                     message=lambda: str(client.get("/ingest/status").json()))
        finally:
            pub.loop_stop()
            pub.disconnect()
        # The good messages all landed, after every bad one.
        assert [p.num for p in graph.store.read_history("s5", "reading")] == [12.5]
        assert [p.num for p in graph.store.read_history("s6", "humidity")] == [51.0]
        assert graph.get_twin("s7")["battery"]["level"] == 0.5
        assert graph.get_twin("s8")["temperature"] == 8.0
        assert graph.get_twin("s8")["$metadata"]["temperature"]["lastUpdateTime"].startswith("2026-01-01T00:00:00")
        # The twins the bad messages aimed at are as they were (bad values changed nothing).
        for i in (1, 2, 3, 4):
            assert graph.get_twin(f"s{i}") == before[i]
        status = client.get("/ingest/status").json()
        assert status["mqtt"]["state"] == "running" and status["mqtt"]["connected"]
        letters = client.get("/deadletters", headers={"max-items-per-page": "1000"}).json()
        assert sum(letters["counts"].values()) >= len(BAD)
        assert {"not_json", "bad_shape", "unknown_twin", "unknown_name", "invalid_value"} <= set(letters["counts"])
        # The defect's own case is kept, with a reason that says what was wrong.
        reasons = [d["reason"] for d in letters["value"] if "not a time" in d["payload"]]
        assert reasons and "ISO 8601" in reasons[0]
        assert client.get("/health").json() == {"status": "ok"}


def test_unreachable_broker_shows_in_status_and_health(graph: TwinGraph) -> None:
    port = free_port()  # nothing listens there

    def configure(app: Any) -> None:
        attach_mqtt(app, f"mqtt://127.0.0.1:{port}")

    with running_api(graph, configure=configure) as api, httpx.Client(base_url=api) as client:
        wait_for(lambda: client.get("/ingest/status").json()["mqtt"]["lastError"] is not None)
        mqtt_status = client.get("/ingest/status").json()["mqtt"]
        assert mqtt_status["state"] == "connecting" and not mqtt_status["connected"]
        assert f"127.0.0.1:{port}" in mqtt_status["lastError"]
        health = client.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "degraded"
        assert "cannot reach" in health.json()["problems"][0]


def test_a_dead_connector_fails_health(graph: TwinGraph, tmp_path: Path) -> None:
    with running_mosquitto(tmp_path / "mosquitto") as broker:
        holder: dict[str, Any] = {}

        def configure(app: Any) -> None:
            attach_mqtt(app, broker.url)
            connector = app.state.mqtt
            holder["connector"] = connector

            def crash() -> None:  # a bug in the worker, injected: the thread ends
                raise RuntimeError("worker crashed")

            connector.worker._work = crash

        with running_api(graph, configure=configure) as api, httpx.Client(base_url=api) as client:
            wait_for(lambda: client.get("/ingest/status").json()["mqtt"]["state"] == "failed")
            health = client.get("/health")
            assert health.status_code == 503
            assert health.json()["status"] == "failing" and "mqtt" in health.json()["problems"][0]
