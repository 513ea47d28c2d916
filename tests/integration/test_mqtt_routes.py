"""The server with --mqtt: convention topics over HTTP-visible state, MQTT event routes, demo sensors."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.graph.sensors import LIVE, sensor
from tests.servers import running_api, running_mosquitto
from twinforge.api.connectors import attach_mqtt
from twinforge.graph import TwinGraph
from twinforge.packs.building import SensorSimulator, demo_sensor_ids, load_demo

pytestmark = pytest.mark.integration


def test_mqtt_event_route_and_ingest_status(graph: TwinGraph, tmp_path: Path) -> None:
    graph.add_models(LIVE)
    graph.create_twins([("s1", sensor(temperature=1.0))])
    with running_mosquitto(tmp_path / "m") as broker:
        received: list[tuple[str, dict[str, object]]] = []
        subscribed = threading.Event()
        listener = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="route-listener")
        listener.on_connect = lambda c, *a: c.subscribe("twinforge/events/#", qos=1)
        listener.on_subscribe = lambda *a: subscribed.set()
        listener.on_message = lambda c, u, m: received.append((m.topic, json.loads(m.payload)))
        listener.connect("127.0.0.1", broker.port)
        listener.loop_start()
        assert subscribed.wait(10)
        with running_api(graph, configure=lambda app: attach_mqtt(app, broker.url)) as url, \
                httpx.Client(base_url=url, timeout=10) as c:
            deadline = time.monotonic() + 10
            while not c.get("/ingest/status").json()["mqtt"]["connected"]:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert c.put("/endpoints/bus", json={"type": "mqtt",
                                                 "topic": "twinforge/events/{subject}/{type}"}).status_code == 200
            assert c.put("/eventroutes/all", json={"endpointName": "bus", "filter": "subject = 's1'"}).status_code == 204
            publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="route-publisher")
            publisher.connect("127.0.0.1", broker.port)
            publisher.loop_start()
            publisher.publish("twinforge/twins/s1/properties", json.dumps({"temperature": 7.0}), qos=1)
            deadline = time.monotonic() + 15
            while not received:
                assert time.monotonic() < deadline, "no routed event"
                time.sleep(0.05)
            topic, event = received[0]
            assert topic == "twinforge/events/s1/Microsoft.DigitalTwins.Twin.Update"
            assert event["data"]["patch"] == [{"op": "add", "path": "/temperature", "value": 7.0}]  # type: ignore[index]
            status = c.get("/ingest/status").json()["mqtt"]
            assert status["updates"] == 1 and status["rejected"] == 0
            publisher.loop_stop()
        listener.loop_stop()


def test_demo_sensors_feed_the_building(graph: TwinGraph, tmp_path: Path) -> None:
    load_demo(graph)
    with running_mosquitto(tmp_path / "m") as broker, \
            running_api(graph, configure=lambda app: attach_mqtt(app, broker.url)) as url:
        simulator = SensorSimulator(broker.url, demo_sensor_ids(), interval=0.2)
        simulator.start()
        try:
            deadline = time.monotonic() + 20
            while True:
                history = httpx.get(f"{url}/digitaltwins/temp-101/history", params={"name": "lastValue"}).json()
                if len(history["value"]) >= 2:
                    break
                assert time.monotonic() < deadline, "no live readings"
                time.sleep(0.1)
            assert 17.0 <= history["value"][-1]["value"] <= 27.0
            co2 = httpx.get(f"{url}/digitaltwins/co2-304").json()
            assert 400.0 <= co2["lastValue"] <= 1500.0
        finally:
            simulator.stop()
