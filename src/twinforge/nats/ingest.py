"""Ingest from the JetStream work queue: pull a batch, store it, then acknowledge it.

Every server pulls from the same durable consumer, so the stream spreads the messages over
the servers that are up. A message is acknowledged only once its batch is committed; one that
a server took and never acknowledged (the server was killed) comes back after ``ack_wait`` to
another server. Redelivery is idempotent: an update without a source time takes the time the
stream stored the message, so the same message writes the same history point again (an upsert),
not a second one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

from twinforge.ingest.core import Ingestor, Update, apply_resilient, connector_state
from twinforge.ingest.mapping import BATCH_TOPIC, CONVENTION, Mapping, TopicRule
from twinforge.ingest.mqtt import ConnectorStats, decode_message
from twinforge.nats.link import (
    INGEST_CONSUMER,
    INGEST_STREAM,
    NatsLink,
    stream_subjects,
    subject_to_topic,
)
from twinforge.outages import Outage
from twinforge.store.base import DeadLetter

log = logging.getLogger("twinforge.nats")

Item = tuple[str, bytes, int]  # (MQTT topic, payload, stream time in microseconds)


def ingest_filters(mapping: Mapping | None) -> list[str]:
    rules: list[TopicRule] = [*CONVENTION, *(mapping.topics if mapping else [])]
    return [rule.subscription for rule in rules] + [BATCH_TOPIC]


class NatsIngest:
    """Feeds twins from ``TWINFORGE_INGEST``; runs as a task on the server's event loop."""

    def __init__(self, ingestor: Ingestor, link: NatsLink, *, mapping: Mapping | None = None,
                 batch_size: int = 2000, ack_wait: float = 10.0) -> None:
        self.ingestor = ingestor
        self.link = link
        self.rules: list[TopicRule] = [*CONVENTION, *(mapping.topics if mapping else [])]
        self.subjects = stream_subjects(ingest_filters(mapping))
        self.batch_size = batch_size
        self.ack_wait = ack_wait
        self.stats = ConnectorStats()
        self.redelivered = 0
        self._outage = Outage("NATS ingest: storing a batch", log)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._sub: Any = None

    async def start(self) -> None:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        config = ConsumerConfig(durable_name=INGEST_CONSUMER, ack_policy=AckPolicy.EXPLICIT,
                                deliver_policy=DeliverPolicy.ALL, ack_wait=self.ack_wait, max_deliver=-1,
                                max_ack_pending=50_000, max_waiting=512)
        await self.link.js.add_consumer(INGEST_STREAM, config)
        self._sub = await self.link.js.pull_subscribe_bind(durable=INGEST_CONSUMER, stream=INGEST_STREAM)
        self.stats.connects += 1
        self._task = asyncio.create_task(self._run(), name="twinforge-nats-ingest")

    async def stop(self) -> None:
        """Stop pulling; what was pulled and not stored stays unacknowledged (it comes back)."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()

    async def _pull(self, ready: asyncio.Queue[list[Any]]) -> None:
        """Keep the next batch pulled while the last one is being stored."""
        import nats.errors

        while not self._stopping:
            try:
                messages = await self._sub.fetch(self.batch_size, timeout=0.5)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            except Exception as exc:  # NATS away: the client reconnects; pull again shortly
                self.stats.last_error = f"pulling: {type(exc).__name__}: {exc}"
                log.warning("NATS ingest: pulling failed: %r", exc)
                await asyncio.sleep(0.5)
                continue
            await ready.put(messages)

    async def _run(self) -> None:
        ready: asyncio.Queue[list[Any]] = asyncio.Queue(maxsize=1)
        puller = asyncio.create_task(self._pull(ready), name="twinforge-nats-pull")
        try:
            while not self._stopping:
                messages = await ready.get()
                await self._store(messages)
        finally:
            puller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await puller

    async def _store(self, messages: list[Any]) -> None:
        """Store one pulled batch, then acknowledge it (or hand it back when the store fails)."""
        items: list[Item] = []
        for m in messages:
            meta = m.metadata
            if meta.num_delivered > 1:
                self.redelivered += 1
            stamp = meta.timestamp
            items.append((subject_to_topic(m.subject), m.data,
                          int(stamp.timestamp() * 1_000_000) if stamp is not None else 0))
        try:
            await asyncio.to_thread(self._apply, items)
            self._outage.ok()
        except Exception as exc:  # the store failed: leave the batch to come back
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            self._outage.failed(exc)
            for m in messages:
                with contextlib.suppress(Exception):
                    await m.nak(delay=1.0)
            await asyncio.sleep(1.0)
            return
        for m in messages:
            with contextlib.suppress(Exception):  # unacknowledged: redelivered, stored again as the same point
                await m.ack()

    def _apply(self, items: Sequence[Item]) -> None:
        def decode(item: Item, letters: list[DeadLetter]) -> list[Update]:
            topic, payload, ts = item
            found = decode_message(self.ingestor, self.rules, topic, payload, letters, f"nats:{topic}")
            return [u if u.ts is not None or not ts else dataclasses.replace(u, ts=ts) for u in found]

        result = apply_resilient(self.ingestor, items, decode,
                                 lambda item: (f"nats:{item[0]}", item[1].decode("utf-8", "replace")))
        self.stats.messages += len(items)
        self.stats.updates += result.accepted
        self.stats.rejected += result.rejected
        self.stats.batches += 1

    def status(self) -> dict[str, Any]:
        connected = self.link.connected
        state = connector_state(stopped=self._stopping, connected=connected,
                                dead=self._task is not None and self._task.done() and not self._stopping)
        return {"type": "nats", "name": f"nats {INGEST_STREAM}", "state": state, "connected": connected,
                "servers": self.link.servers, "stream": INGEST_STREAM, "consumer": INGEST_CONSUMER,
                "subjects": self.subjects, "redelivered": self.redelivered,
                "lastError": self.stats.last_error or self.link.last_error or None,
                **{k: v for k, v in vars(self.stats).items() if k != "last_error"}}
