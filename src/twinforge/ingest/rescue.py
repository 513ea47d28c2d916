"""No MQTT message lost when a server dies: a live server keeps the dead one's broker session.

Servers share an MQTT 5 subscription (``$share/twinforge/...``), each with a persistent
session under its own client id. When a server dies, a broker such as Mosquitto goes on
giving that session its share of the messages and, past ``max_queued_messages`` (1,000 by
default), drops them. So every server here:

- holds a lease named after its client id while it lives (the store frees it when the process
  dies) and registers the id as a record (kind ``mqtt-session``);
- connects with a will on ``twinforge/sessions/<client id>/gone``: the broker publishes it the
  moment the connection dies, and every server hears it;
- keeps sessions for the dead: on a will (or its periodic check), a server that can take a dead
  id's lease connects with that client id (``clean_start`` off: the session and what the broker
  holds for it are resumed), drains it, and goes on taking that session's share;
- gives a session back: a server starting under its id asks for it (``returning`` in its record)
  and waits for the keeper to disconnect and release the lease.

A message is acknowledged only once stored, by whichever connection took it; one that was
taken but not acknowledged is delivered again to the session's next holder (a redelivery
replaces the same history point, so it is stored once).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from twinforge.ingest.batches import IngestWorker
from twinforge.ingest.mqtt import SESSION_PREFIX, MqttConnector
from twinforge.outages import Outage
from twinforge.records import Collection, Kind

log = logging.getLogger("twinforge.mqtt.rescue")
SESSIONS: Kind[dict[str, Any]] = Kind("mqtt-session", "MQTT session", "MqttSessionNotFound")


def session_lease(store: Any, client_id: str) -> Any:
    return store.lease(f"mqtt-session-{client_id}")


class SessionKeeper:
    """Claims this server's session at start, and keeps the sessions of dead servers."""

    def __init__(self, store: Any, connectors: list[MqttConnector], make: Callable[[str], MqttConnector], *,
                 broker: str, interval: float = 0.5, return_wait: float = 15.0) -> None:
        self.store = store
        self.connectors = connectors  # this server's own connections (one session each)
        self.connector = connectors[0]
        self.make = make  # a connector for another client id (same broker, mapping, group)
        self.broker = broker
        self.interval = interval
        self.return_wait = return_wait
        self.sessions = Collection(store, SESSIONS)
        self.own = [session_lease(store, c.client_id) for c in connectors]
        self.kept: dict[str, tuple[MqttConnector, Any]] = {}  # client id -> (connection, its lease)
        self._probes: dict[str, Any] = {}  # client id -> the lease tried for it (not held)
        self.takeovers = 0
        self.returned = 0
        self.failures = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connector.control = self._on_control  # one connection hears the wills

    # -- this server's own session -------------------------------------------

    def claim(self) -> None:
        """Take this server's session leases, asking keepers to give them back where one holds them."""
        for connector, lease in zip(self.connectors, self.own, strict=True):
            self._claim(connector.client_id, lease)

    def _claim(self, client_id: str, lease: Any) -> None:
        if not lease.try_acquire():
            log.info("MQTT session %s is kept by another server: asking for it back", client_id)
            self.sessions.put(client_id, {"clientId": client_id, "broker": self.broker, "returning": True})
            deadline = time.monotonic() + self.return_wait
            while not lease.try_acquire():
                if time.monotonic() > deadline:
                    log.warning("MQTT session %s was not given back within %.0f s; taking it (the broker "
                                "hands a client id to its newest connection)", client_id, self.return_wait)
                    break
                time.sleep(0.1)
        self.sessions.put(client_id, {"clientId": client_id, "broker": self.broker, "returning": False})

    # -- keeping the sessions of others -----------------------------------------

    def _on_control(self, topic: str, payload: bytes) -> None:
        if topic.startswith(SESSION_PREFIX) and payload.decode("utf-8", "replace") not in self._own_ids:
            self._wake.set()  # a server's will: look at once

    def check(self) -> None:
        """One round: give back what an owner asks for, keep what nobody holds."""
        records = {key: value for key, value in self.sessions.items()
                   if value.get("broker") == self.broker and key not in self._own_ids}
        for client_id, (connection, lease) in list(self.kept.items()):
            record = records.get(client_id, {})
            dropped = connection.status()["state"] == "stopped"
            if record.get("returning") or dropped:
                connection.stop()
                lease.release()
                del self.kept[client_id]
                self.returned += 1
                log.info("MQTT session %s %s", client_id, "given back to its server" if not dropped else
                         "was taken by another connection")
        for client_id, record in records.items():
            if client_id in self.kept or record.get("returning"):
                continue
            lease = self._probes.get(client_id)
            if lease is None:  # one lease object per id: on PostgreSQL it keeps one connection for its tries
                lease = self._probes[client_id] = session_lease(self.store, client_id)
            if not lease.try_acquire():
                continue  # its server lives (or another keeper has it)
            del self._probes[client_id]  # held now: it goes with the kept connection
            connection = self.make(client_id)
            try:
                connection.start(5.0)
            except Exception:
                lease.release()
                raise
            self.kept[client_id] = (connection, lease)
            self.takeovers += 1
            log.warning("MQTT session %s has no server: kept by this one until it returns", client_id)

    def start(self) -> None:
        outage = Outage("keeping the MQTT sessions of stopped servers", log)

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.check()
                    outage.ok()
                except Exception as exc:
                    self.failures += 1
                    outage.failed(exc)
                self._wake.wait(self.interval)
                if self._wake.is_set():
                    self._wake.clear()
                    # the will came with the death: the store may need a moment to free the lease
                    for _ in range(20):
                        if self._stop.is_set():
                            return
                        before = len(self.kept)
                        self.check()
                        if len(self.kept) > before:
                            break
                        time.sleep(0.05)

        thread = threading.Thread(target=loop, name="twinforge-mqtt-keeper", daemon=True)
        thread.start()  # shown once started: a close() from elsewhere never joins an unstarted thread
        self._thread = thread

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
        for connection, lease in self.kept.values():
            connection.stop(announce=True)  # another server keeps it from now
            lease.release()
        self.kept.clear()
        for probe in self._probes.values():
            probe.release()
        self._probes.clear()

    @property
    def _own_ids(self) -> set[str]:
        return {c.client_id for c in self.connectors}

    def release(self) -> None:
        for lease in self.own:
            lease.release()

    def status(self) -> dict[str, Any]:
        return {"kept": sorted(self.kept), "takeovers": self.takeovers, "returned": self.returned,
                "failures": self.failures}


def mqtt_connections(ingestor: Any, store: Any, url: str, *, mapping: Any, client_id: str, ca_file: str | None,
                     group: str | None, mqtt5: bool, connections: int) -> tuple[list[MqttConnector], SessionKeeper | None]:
    """A server's MQTT connections: with a shared-subscription ``group``, ``connections`` members
    of it (``client_id``, ``client_id-c1``, ...) and a keeper of dead servers' sessions; without
    one, a single connection."""

    shared = IngestWorker(ingestor)  # the server's own connections share their batches

    def make(cid: str, *, keeper: bool = False) -> MqttConnector:
        return MqttConnector(ingestor, url, mapping=mapping, client_id=cid, mqtt5=mqtt5, ca_file=ca_file,
                             share_group=group, will=group is not None, reconnect=not keeper,
                             worker=None if keeper else shared)

    count = max(1, connections) if group is not None else 1
    own = [make(client_id if k == 0 else f"{client_id}-c{k}") for k in range(count)]
    keeper = None
    if group is not None:  # servers sharing a subscription keep each other's sessions
        keeper = SessionKeeper(store, own, lambda cid: make(cid, keeper=True), broker=url)
    return own, keeper


__all__ = ["SESSIONS", "SessionKeeper", "mqtt_connections", "session_lease"]
