"""Attach live-data connectors (MQTT, OPC UA) to a server's lifetime."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI

from twinforge.ingest.mapping import Mapping


def attach_mqtt(app: FastAPI, broker: str, *, mapping: Mapping | None = None, port: int = 1883,
                client_id: str = "twinforge-ingest", ca_file: str | None = None, shared: bool = True,
                connections: int = 4, process: bool = False, mapping_file: str | None = None) -> None:
    """``broker`` is ``embedded`` (an in-process amqtt broker on ``port``) or an mqtt:// URL.
    With an external broker and ``shared``, subscriptions are MQTT 5 shared ones
    (``$share/twinforge/...``): servers on the same broker split the messages, none is stored twice;
    each server then opens ``connections`` members of the group (``client_id``, ``client_id-c1``, ...):
    a broker lets each connection hold only so many unacknowledged messages (Mosquitto: 20), and
    a message is acknowledged once stored, so more connections keep up with a faster publisher.
    With ``process`` (an external broker), the connections run in a child process
    (ingest/process.py; ``mapping_file`` is the mapping it loads)."""
    from twinforge.ingest.mqtt import EmbeddedBroker
    from twinforge.ingest.rescue import mqtt_connections

    embedded = EmbeddedBroker(port=port) if broker == "embedded" else None
    url = embedded.url if embedded else broker
    # amqtt speaks MQTT 3.1.1 only; brokers such as Mosquitto get MQTT 5.
    group = "twinforge" if shared and embedded is None else None
    if process and embedded is None:
        _attach_mqtt_process(app, url, mapping_file=mapping_file, client_id=client_id, ca_file=ca_file,
                             group=group, connections=connections)
        return
    own, keeper = mqtt_connections(app.state.ingestor, app.state.graph.store, url, mapping=mapping,
                                   client_id=client_id, ca_file=ca_file, group=group, mqtt5=embedded is None,
                                   connections=connections)
    app.state.mqtt = own[0]
    app.state.mqtt_connections = own
    app.state.connectors.extend(own)
    app.state.mqtt_keeper = keeper

    async def start(app: FastAPI) -> None:
        if embedded is not None:
            await embedded.start()
        if keeper is not None:
            await asyncio.to_thread(keeper.claim)
        await asyncio.gather(*(asyncio.to_thread(member.start, 5.0) for member in own))  # together: 5 s at most
        if keeper is not None:
            keeper.start()

    async def stop(app: FastAPI) -> None:
        if keeper is not None:
            await asyncio.to_thread(keeper.stop)
        await asyncio.gather(*(asyncio.to_thread(member.stop, announce=keeper is not None) for member in own))
        if keeper is not None:
            keeper.release()
        if embedded is not None:
            await embedded.stop()

    app.state.on_start.append(start)
    app.state.on_stop.append(stop)


def _attach_mqtt_process(app: FastAPI, url: str, *, mapping_file: str | None, client_id: str,
                         ca_file: str | None, group: str | None, connections: int) -> None:
    from twinforge.ingest.process import IngestProcess, KeeperStatus

    count = max(1, connections) if group is not None else 1

    def committed() -> None:  # the child stored a batch: what a commit of our own would wake
        app.state.bus.wake()
        evaluator = getattr(app.state, "evaluator", None)
        if evaluator is not None:
            evaluator.wake()

    child = IngestProcess({"store": app.state.graph.store.url, "broker": url, "mapping": mapping_file,
                           "clientId": client_id, "caFile": ca_file, "group": group, "connections": count},
                          on_commit=committed)
    members = child.members(count)
    app.state.mqtt = members[0]
    app.state.mqtt_connections = members
    app.state.connectors.extend(members)
    app.state.mqtt_keeper = KeeperStatus(child) if group is not None else None
    app.state.mqtt_process = child

    async def start(app: FastAPI) -> None:
        await asyncio.to_thread(child.start)

    async def stop(app: FastAPI) -> None:
        await asyncio.to_thread(child.stop)

    app.state.on_start.append(start)
    app.state.on_stop.append(stop)


def attach_opcua(app: FastAPI, mapping: Mapping) -> list[Any]:
    from twinforge.ingest.opcua import OpcUaConnector

    connectors = [OpcUaConnector(app.state.ingestor, source) for source in mapping.opcua]
    app.state.opcua = connectors
    app.state.connectors.extend(connectors)

    async def start(app: FastAPI) -> None:
        for connector in connectors:
            await connector.start()

    async def stop(app: FastAPI) -> None:
        for connector in connectors:
            await connector.stop()

    app.state.on_start.append(start)
    app.state.on_stop.append(stop)
    return connectors


def history_maintenance(store: Any, *, retention: str | None, downsample_after: str | None,
                        downsample_bucket: str) -> dict[str, int]:
    """One round of history upkeep: downsample old points, then drop expired ones."""
    from twinforge.history import History

    history = History(store)
    done = {"downsampled": 0, "dropped": 0}
    if downsample_after:
        removed, _ = history.downsample(downsample_after, downsample_bucket)
        done["downsampled"] = removed
    if retention:
        done["dropped"] = history.retain(retention)
    return done


def attach_history_maintenance(app: FastAPI, *, retention: str | None, downsample_after: str | None,
                               downsample_bucket: str = "1h", interval: float = 3600.0) -> None:
    """Run `history_maintenance` when the server starts and then every ``interval`` seconds."""
    import contextlib
    import logging

    from twinforge.history import parse_duration

    for value in (retention, downsample_after, downsample_bucket):
        if value:
            parse_duration(value)  # a clear error at start-up rather than in the background
    log = logging.getLogger("twinforge.history")
    task: asyncio.Task[None] | None = None

    async def loop() -> None:
        while True:
            try:
                done = await asyncio.to_thread(history_maintenance, app.state.graph.store, retention=retention,
                                               downsample_after=downsample_after,
                                               downsample_bucket=downsample_bucket)
                log.info("history upkeep: %s", done)
            except Exception:
                log.exception("history upkeep failed; retrying at the next round")
            await asyncio.sleep(interval)

    async def start(app: FastAPI) -> None:
        nonlocal task
        task = asyncio.create_task(loop(), name="history upkeep")

    async def stop(app: FastAPI) -> None:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.state.on_start.append(start)
    app.state.on_stop.append(stop)
