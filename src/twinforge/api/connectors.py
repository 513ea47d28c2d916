"""Attach live-data connectors (MQTT, OPC UA) to a server's lifetime."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI

from twinforge.ingest.mapping import Mapping


def attach_mqtt(app: FastAPI, broker: str, *, mapping: Mapping | None = None, port: int = 1883,
                client_id: str = "twinforge-ingest") -> None:
    """``broker`` is ``embedded`` (an in-process amqtt broker on ``port``) or an mqtt:// URL."""
    from twinforge.ingest.mqtt import EmbeddedBroker, MqttConnector

    embedded = EmbeddedBroker(port=port) if broker == "embedded" else None
    url = embedded.url if embedded else broker
    # amqtt speaks MQTT 3.1.1 only; brokers such as Mosquitto get MQTT 5.
    connector = MqttConnector(app.state.ingestor, url, mapping=mapping, client_id=client_id,
                              mqtt5=embedded is None)
    app.state.mqtt = connector

    async def start(app: FastAPI) -> None:
        if embedded is not None:
            await embedded.start()
        await asyncio.to_thread(connector.start, 0.0 if embedded is None else 5.0)

    async def stop(app: FastAPI) -> None:
        await asyncio.to_thread(connector.stop)
        if embedded is not None:
            await embedded.stop()

    app.state.on_start.append(start)
    app.state.on_stop.append(stop)


def attach_opcua(app: FastAPI, mapping: Mapping) -> list[Any]:
    from twinforge.ingest.opcua import OpcUaConnector

    connectors = [OpcUaConnector(app.state.ingestor, source) for source in mapping.opcua]
    app.state.opcua = connectors

    async def start(app: FastAPI) -> None:
        for connector in connectors:
            await connector.start()

    async def stop(app: FastAPI) -> None:
        for connector in connectors:
            await connector.stop()

    app.state.on_start.append(start)
    app.state.on_stop.append(stop)
    return connectors
