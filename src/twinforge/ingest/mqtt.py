"""The MQTT connector: subscribe (QoS 1, persistent session), batch, apply, then acknowledge.

Messages are acknowledged only after the batch that holds them is committed, so a
message the broker considers delivered is in the store. The connection's thread
(ingest/wire.py, a lean MQTT client) only cuts packets out of what the socket holds and
queues them; a worker thread (ingest/batches.py), which a server's connections share,
parses, maps and applies them in batches, and acknowledges each connection's messages of a
batch with one write.
"""

from __future__ import annotations

import contextlib
import logging
import re
import ssl
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from twinforge.errors import InvalidArgument, MissingDependency, TwinforgeError
from twinforge.ingest.batches import IngestWorker
from twinforge.ingest.core import (
    Ingestor,
    Update,
    connector_state,
    update_from_json,
)
from twinforge.ingest.mapping import BATCH_TOPIC, CONVENTION, Mapping, TopicRule
from twinforge.ingest.wire import Message, WireClient
from twinforge.store.base import DeadLetter

log = logging.getLogger("twinforge.mqtt")
SESSION_PREFIX = "twinforge/sessions/"
SESSION_GONE = SESSION_PREFIX + "{client_id}/gone"  # a server's will: its session needs a keeper


@dataclass
class BrokerAddress:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise InvalidArgument(f"'{url}' is not an MQTT URL like mqtt://host:1883 or mqtts://user:pass@host:8883",
                             code="InvalidArgument")
        tls = parts.scheme == "mqtts"
        return cls(parts.hostname, parts.port or (8883 if tls else 1883), tls,
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None)


@dataclass
class ConnectorStats:
    messages: int = 0
    updates: int = 0
    batches: int = 0
    rejected: int = 0
    connects: int = 0
    last_error: str = ""


class MqttConnector:
    """Feeds twins from an MQTT broker; also publishes (for event routes)."""

    def __init__(self, ingestor: Ingestor, url: str, *, mapping: Mapping | None = None,
                 client_id: str = "twinforge-ingest", mqtt5: bool = True, batch_size: int = 5000,
                 flush_interval: float = 0.005, insecure_tls: bool = False,
                 ca_file: str | None = None, max_updates: int = 50_000, share_group: str | None = None,
                 will: bool = False, reconnect: bool = True, worker: IngestWorker | None = None) -> None:
        self.ingestor = ingestor
        self.address = BrokerAddress.parse(url)
        self.rules: list[TopicRule] = [*CONVENTION, *(mapping.topics if mapping else [])]
        self.client_id = client_id
        self.mqtt5 = mqtt5
        if share_group is not None and (not mqtt5 or not re.fullmatch(r"[A-Za-z0-9_.-]+", share_group)):
            raise InvalidArgument("shared subscriptions need MQTT 5 and a group name of letters, digits, '.', '_', '-'")
        self.share_group = share_group
        # Applies and acknowledges what this connection receives (shared by a server's connections).
        self.worker = worker or IngestWorker(ingestor, batch_size=batch_size, flush_interval=flush_interval,
                                             max_updates=max_updates)
        self.insecure_tls = insecure_tls
        self.stats = ConnectorStats()
        self._stop = threading.Event()
        self.connected = threading.Event()
        context = None
        if self.address.tls:
            context = ssl.create_default_context(cafile=ca_file)
            if insecure_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        # With ``will`` the broker announces this client's death on SESSION_GONE (servers sharing
        # the subscription then take its session over, see ingest/rescue.py); ``control`` gets those.
        self.will = will
        self.reconnect = reconnect  # False for a rescuing connection: once dropped, it stays down
        self.control: Any = None
        self.client = WireClient(self.address.host, self.address.port, client_id, mqtt5=mqtt5, tls=context,
                                 username=self.address.username, password=self.address.password,
                                 will=(SESSION_GONE.format(client_id=client_id), client_id.encode()) if will else None,
                                 reconnect=reconnect)
        # Connected means subscribed: until the broker acknowledges the subscriptions, what is
        # published to a new session is acknowledged to its publisher and dropped.
        self.connected = self.client.subscribed
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_messages = self._on_messages

    # -- lifecycle --------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Connect (retrying in the background until the broker answers) and start consuming."""
        self.worker.join(self)
        self.client.start()
        if not self.connected.wait(timeout):
            log.warning("MQTT broker %s:%d not reachable yet; retrying in the background",
                        self.address.host, self.address.port)

    def stop(self, *, announce: bool = False) -> None:
        """Stop consuming and disconnect, keeping the broker session (messages not yet applied
        stay unacknowledged: the broker gives them to the session's next holder); with ``announce``, tell the other servers first so that one
        takes the session over while this server is away."""
        self._stop.set()
        self.worker.leave(self)  # after the batch being applied; what still waits stays unacknowledged
        if announce and self.connected.is_set():
            with contextlib.suppress(ConnectionError):  # gone meanwhile: the broker publishes the will instead
                self.client.publish(SESSION_GONE.format(client_id=self.client_id), self.client_id.encode()).wait(2)
        self.client.stop()

    # -- callbacks (the connection's thread) -------------------------------

    def _on_connect(self) -> None:
        self.stats.connects += 1
        topics = sorted({rule.subscription for rule in self.rules} | {BATCH_TOPIC})
        if self.share_group:  # servers sharing the broker split the messages between them
            topics = [f"$share/{self.share_group}/{topic}" for topic in topics]
        if self.control is not None:  # every server hears of every death (not shared)
            topics.append(SESSION_GONE.format(client_id="+"))
        self.client.subscribe(topics)
        log.info("MQTT connected to %s:%d, subscribed to %s", self.address.host, self.address.port, topics)

    def _on_connect_fail(self, reason: str) -> None:
        self.stats.last_error = (reason if reason.startswith("connection refused by the broker") else
                                 f"cannot reach the broker at {self.address.host}:{self.address.port}: {reason}")
        log.warning("MQTT broker %s:%d: %s; retrying", self.address.host, self.address.port, reason)

    def _on_disconnect(self, reason: str) -> None:
        if not self.reconnect and not self._stop.is_set():
            self.stats.last_error = f"dropped ({reason}): not reconnecting"
            self._stop.set()
            self.worker.leave(self)
            return
        if not self._stop.is_set():
            self.stats.last_error = f"disconnected: {reason}"
            log.warning("MQTT disconnected (%s); reconnecting", reason)

    def _on_messages(self, messages: list[Message]) -> None:
        for message in messages:
            if message.topic.startswith(SESSION_PREFIX):
                if self.control is not None:
                    self.control(message.topic, message.payload)
                self.client.ack([message])
            else:
                self.worker.add(self, message)

    def status(self) -> dict[str, Any]:
        """State (running, connecting, failed, stopped), counters and the last error."""
        state = connector_state(stopped=self._stop.is_set(), connected=self.connected.is_set(),
                                dead=self.worker.dead)
        return {"type": "mqtt", "name": f"mqtt {self.address.host}:{self.address.port}", "clientId": self.client_id,
                "state": state,
                "connected": self.connected.is_set(), "broker": f"{self.address.host}:{self.address.port}",
                "lastError": self.stats.last_error or None, **{k: v for k, v in vars(self.stats).items()
                                                               if k != "last_error"}}

    def decode(self, topic: str, payload: bytes, letters: list[DeadLetter]) -> list[Update]:
        """Updates from one message; anything unusable becomes a dead letter."""
        return decode_message(self.ingestor, self.rules, topic, payload, letters, f"mqtt:{topic}")

    # -- publishing -------------------------------------------------------

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Queue a message for the broker (ConnectionError while disconnected)."""
        self.client.publish(topic, payload, qos=qos)


def decode_message(ingestor: Ingestor, rules: list[TopicRule], topic: str, payload: bytes,
                   letters: list[DeadLetter], source: str) -> list[Update]:
    """Updates from one message on an MQTT topic (``twinforge/updates`` carries bulk records;
    other topics go through the mapping rules); anything unusable becomes a dead letter."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        ingestor.dead_letter(letters, source, "not_json", f"payload is not JSON: {exc}",
                             payload.decode("utf-8", "replace"))
        return []
    if topic == BATCH_TOPIC:
        out = []
        for record in data if isinstance(data, list) else [data]:
            update, kind, reason = update_from_json(record, source)
            if update is None:
                ingestor.dead_letter(letters, source, kind, reason, record)
            else:
                out.append(update)
        return out
    for rule in rules:
        captures = rule.match(topic)
        if captures is None:
            continue
        try:
            return rule.updates(captures, data, source)
        except (TwinforgeError, ValueError, TypeError, KeyError, OverflowError, OSError) as exc:
            ingestor.dead_letter(letters, source, "bad_shape", str(exc), data)
            return []
    ingestor.dead_letter(letters, source, "no_mapping", "no mapping rule matches this topic", data)
    return []


def combined_status(statuses: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One status for a server's MQTT connections: counters summed, the worst state, each
    connection listed under ``connections``."""
    if not statuses:
        return None
    order = ("failed", "connecting", "stopped", "running")
    first = statuses[0]
    out = {**first, "state": min((s["state"] for s in statuses), key=lambda x: order.index(x) if x in order else 0),
           "connected": all(s["connected"] for s in statuses),
           "lastError": next((s["lastError"] for s in statuses if s["lastError"]), None)}
    for key in ("messages", "updates", "batches", "rejected", "connects"):
        out[key] = sum(int(s.get(key) or 0) for s in statuses)
    if len(statuses) > 1:
        out["connections"] = statuses
    return out


class EmbeddedBroker:
    """An in-process amqtt broker (MQTT 3.1.1) for the embedded default."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1883) -> None:
        self.host = host
        self.port = port
        self._broker: Any = None

    async def start(self) -> None:
        try:
            from amqtt.broker import Broker
        except ImportError:  # pragma: no cover - amqtt is in the [mqtt] extra
            raise MissingDependency("the embedded broker needs amqtt: pip install 'twinforge[mqtt]'") from None
        config = {"listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
                  "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}}
        self._broker = Broker(config)
        await self._broker.start()

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"
