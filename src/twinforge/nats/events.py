"""The event log in JetStream: one server relays the store's events, every server is fed from it.

The store stays the outbox: an event is committed with the change it describes, so nothing a
write did can be lost between the database and NATS. One server at a time (the holder of the
store lease ``nats-events``) publishes the events, in order, to ``TWINFORGE_EVENTS`` with the
event id as ``Nats-Msg-Id``: a relay that takes over resumes after the last event the stream
holds, and JetStream's duplicate window drops a repeat from a relay that had not yet noticed it
lost the lease. Every server subscribes to the stream (an ordered consumer) and feeds its event
bus, which serves ``/stream``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson

from twinforge.events import EventBus
from twinforge.graph import TwinGraph
from twinforge.nats.link import EVENTS_STREAM, EVENTS_SUBJECT, NatsLink
from twinforge.outages import Outage
from twinforge.store.base import EventRecord

log = logging.getLogger("twinforge.nats")
LEASE = "nats-events"


def event_payload(event: EventRecord) -> bytes:
    return orjson.dumps({"seq": event.seq, "time": event.time, "type": event.type, "twin": event.twin,
                         "relationship": event.relationship, "data": event.data, "model": event.model})


def event_from_payload(payload: bytes) -> EventRecord:
    d = orjson.loads(payload)
    return EventRecord(time=d["time"], type=d["type"], twin=d["twin"], data=d["data"], model=d.get("model"),
                       relationship=d.get("relationship"), seq=int(d["seq"]))


class EventRelay:
    """Publishes the store's events to JetStream while this server holds the lease."""

    def __init__(self, graph: TwinGraph, link: NatsLink, *, poll_interval: float = 0.1, batch: int = 1000) -> None:
        self.graph = graph
        self.link = link
        self.poll_interval = poll_interval
        self.batch = batch
        self.lease = graph.store.lease(LEASE)
        self.leading = False
        self.relayed = 0
        self.position: int | None = None  # the id of the last event the stream holds
        self.last_error = ""
        self._outage = Outage("NATS event relay", log)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.graph.subscribe(self.wake)
        self._task = asyncio.create_task(self._run(), name="twinforge-nats-relay")

    async def stop(self) -> None:
        self.graph.unsubscribe(self.wake)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.leading:
            await asyncio.to_thread(self.lease.release)
            self.leading = False

    async def _stream_position(self) -> int:
        """The id of the last event in the stream; for an empty stream, the store's last event
        (the relay starts from now: older events stay in the store, where replays read them)."""
        info = await self.link.js.stream_info(EVENTS_STREAM)
        if info.state.messages and info.state.last_seq:
            message = await self.link.js.get_msg(EVENTS_STREAM, seq=info.state.last_seq)
            return int(orjson.loads(message.data)["seq"])
        return await asyncio.to_thread(self.graph.store.last_event_seq)

    async def _run(self) -> None:
        while True:
            try:
                lead = await asyncio.to_thread(self.lease.try_acquire)
                if lead and not self.leading:
                    self.position = await self._stream_position()
                    log.info("relaying events to NATS from event %d", self.position)
                self.leading = lead
                if not lead:
                    self.position = None
                    await asyncio.sleep(1.0)
                    continue
                if await self.relay_once():
                    continue  # more may be waiting
                self._outage.ok()
                self.last_error = ""
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS or the store away: the next round retries from the stream
                self.last_error = f"{type(exc).__name__}: {exc}"
                self._outage.failed(exc)
                self.position = None
                self.leading = False
                await asyncio.sleep(1.0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            self._wake.clear()

    async def relay_once(self) -> int:
        """Publish the next batch of events after the stream's position; how many."""
        if self.position is None:
            self.position = await self._stream_position()
        events = await asyncio.to_thread(self.graph.store.read_events, self.position, self.batch)
        if not events:
            return 0
        js = self.link.js
        acks = [await js.publish_async(f"{EVENTS_SUBJECT}.{event.type}", event_payload(event),
                                       headers={"Nats-Msg-Id": str(event.seq)}) for event in events]
        await asyncio.wait_for(asyncio.gather(*acks), 30)  # every one stored before moving on
        self.position = events[-1].seq
        self.relayed += len(events)
        return len(events)


class EventFeed:
    """Feeds a server's event bus from ``TWINFORGE_EVENTS`` (an ordered push consumer)."""

    def __init__(self, bus: EventBus, link: NatsLink) -> None:
        self.bus = bus
        self.link = link
        self.received = 0
        self.bad = 0
        self._sub: Any = None
        self._pending: list[EventRecord] = []
        self._scheduled = False

    async def start(self) -> None:
        from nats.js.api import DeliverPolicy

        loop = asyncio.get_running_loop()

        async def on_message(message: Any) -> None:
            try:
                event = event_from_payload(message.data)
            except (ValueError, KeyError, TypeError):
                self.bad += 1  # not ours: someone else published on twinforge.events.>
                return
            self.received += 1
            self._pending.append(event)
            if not self._scheduled:  # hand the bus what arrived together, as one batch
                self._scheduled = True
                loop.call_soon(self._flush)

        self._sub = await self.link.js.subscribe(f"{EVENTS_SUBJECT}.>", stream=EVENTS_STREAM, cb=on_message,
                                                 ordered_consumer=True, deliver_policy=DeliverPolicy.LAST,
                                                 idle_heartbeat=2.0)

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._pending = self._pending, []
        self.bus.push(batch)

    async def stop(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
