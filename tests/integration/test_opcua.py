"""OPC UA ingestion against a real asyncua server started by the test."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.graph.sensors import LIVE, sensor
from tests.requirements import need_module
from tests.servers import free_port
from twinforge.graph import TwinGraph
from twinforge.ingest import Ingestor
from twinforge.ingest.mapping import parse_mapping
from twinforge.ingest.opcua import OpcUaConnector

asyncua = need_module("asyncua")
pytestmark = pytest.mark.integration


async def _wait(condition: object) -> None:
    async with asyncio.timeout(20):
        while not condition():  # type: ignore[operator]  # noqa: ASYNC110 - polling the store is the test
            await asyncio.sleep(0.05)


def test_opcua_changes_reach_twins(graph: TwinGraph, tmp_path: Path) -> None:
    graph.add_models(LIVE)
    graph.create_twins([("s1", sensor(temperature=0.0))])
    port = free_port()

    async def scenario() -> None:
        server = asyncua.Server()
        await server.init()
        server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/twinforge-test/")
        idx = await server.register_namespace("urn:twinforge:test")
        machine = await server.nodes.objects.add_object(idx, "Machine")
        temperature = await machine.add_variable(idx, "Temperature", 20.0)
        reading = await machine.add_variable(idx, "Reading", 0.0)
        state = await machine.add_variable(idx, "State", "ok")
        async with server:
            mapping = parse_mapping({"opcua": [{"endpoint": f"opc.tcp://127.0.0.1:{port}/twinforge-test/",
                                                "interval_ms": 50, "nodes": [
                {"node": temperature.nodeid.to_string(), "twin": "s1", "name": "temperature"},
                {"node": reading.nodeid.to_string(), "twin": "s1", "name": "reading", "kind": "telemetry",
                 "scale": 0.5},
                {"node": state.nodeid.to_string(), "twin": "s1", "name": "online"},
            ]}]})
            connector = OpcUaConnector(Ingestor(graph), mapping.opcua[0], flush_interval=0.02)
            await connector.start()
            try:
                await asyncio.wait_for(connector.connected.wait(), 20)
                await _wait(lambda: graph.get_twin("s1").get("temperature") == 20.0)
                await temperature.write_value(23.5)
                await reading.write_value(10.0)
                await _wait(lambda: graph.get_twin("s1").get("temperature") == 23.5)
                await _wait(lambda: [p.num for p in graph.store.read_history("s1", "reading")][-1:] == [5.0])
                # "ok" is not a boolean: the change is dead-lettered, the connector goes on
                await _wait(lambda: any(d.kind == "invalid_value" for d in graph.store.read_dead_letters()))
                await temperature.write_value(24.0)
                await _wait(lambda: graph.get_twin("s1").get("temperature") == 24.0)
            finally:
                await connector.stop()

    asyncio.run(scenario())


def test_unreachable_endpoint_shows_its_error(graph: TwinGraph, tmp_path: Path) -> None:
    """Nothing listens at the endpoint: the status says it cannot connect, with the reason."""
    import httpx

    from tests.servers import running_api
    from twinforge.api.connectors import attach_opcua

    port = free_port()
    endpoint = f"opc.tcp://127.0.0.1:{port}/nobody/"
    mapping = parse_mapping({"opcua": [{"endpoint": endpoint, "nodes": [
        {"node": "ns=2;i=2", "twin": "s1", "name": "temperature"}]}]})
    with running_api(graph, configure=lambda app: attach_opcua(app, mapping)) as url, \
            httpx.Client(base_url=url) as client:
        deadline = time.monotonic() + 20
        status = client.get("/ingest/status").json()["opcua"][0]
        while status["lastError"] is None:
            assert time.monotonic() < deadline, "no error reported"
            time.sleep(0.05)
            status = client.get("/ingest/status").json()["opcua"][0]
        assert status["state"] == "connecting" and not status["connected"]
        assert status["lastError"].startswith("cannot connect") and status["endpoint"] == endpoint
        health = client.get("/health").json()
        assert health["status"] == "degraded" and endpoint in health["problems"][0]
