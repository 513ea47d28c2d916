"""The event bus: committed changes, read back from the store in order, fanned out live.

Writers (the API, connectors) commit an event row with each change and wake the bus;
the bus reads every row after the last one it saw and hands each event to the
subscribers whose filter matches. Because the store is the source, a subscriber that
reconnects with the last event id it saw gets exactly what it missed, and events
written by other processes sharing the store arrive too (the bus also polls).

With a feed (`serve --events nats://`), live events come from the feed instead (JetStream's
``TWINFORGE_EVENTS``, relayed from the store's log); the store still fills any gap the feed
leaves and takes over when the feed is quiet while the store has moved on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from twinforge.errors import InvalidArgument
from twinforge.graph import TwinGraph
from twinforge.outages import Outage
from twinforge.store.base import EventRecord

log = logging.getLogger("twinforge.events")

TYPE_NAMES = {
    "Twin.Create": "Microsoft.DigitalTwins.Twin.Create",
    "Twin.Update": "Microsoft.DigitalTwins.Twin.Update",
    "Twin.Delete": "Microsoft.DigitalTwins.Twin.Delete",
    "Relationship.Create": "Microsoft.DigitalTwins.Relationship.Create",
    "Relationship.Update": "Microsoft.DigitalTwins.Relationship.Update",
    "Relationship.Delete": "Microsoft.DigitalTwins.Relationship.Delete",
    "Telemetry": "microsoft.iot.telemetry",
    # twinforge's own, never stored: announced live only (no id to resume from)
    "Scenario.Progress": "twinforge.scenario.progress",
    "Anomaly.Score": "twinforge.anomaly.score",
    "Rul.Estimate": "twinforge.rul.estimate",
    # stored like twin changes, so event routes deliver them too
    "Alert.Raised": "twinforge.alert.raised",
    "Alert.Acknowledged": "twinforge.alert.acknowledged",
    "Alert.Resolved": "twinforge.alert.resolved",
}
SHORT_NAMES = {full.lower(): short for short, full in TYPE_NAMES.items()}


def short_type(name: str) -> str:
    """``Twin.Update`` from either spelling; unknown names are refused."""
    if name in TYPE_NAMES:
        return name
    short = SHORT_NAMES.get(name.lower())
    if short is None:
        raise InvalidArgument(f"unknown event type '{name}'; known: {', '.join(TYPE_NAMES)}",
                         code="InvalidArgument")
    return short


def envelope(event: EventRecord) -> dict[str, Any]:
    """An event as subscribers see it: CloudEvents attributes, as Azure Digital Twins sends them."""
    data = orjson.loads(event.data)
    if event.type == "Twin.Update":
        data = {"modelId": event.model, "patch": data}
    out: dict[str, Any] = {"id": str(event.seq), "type": TYPE_NAMES.get(event.type, event.type),
                           "source": "twinforge", "subject": event.twin, "time": event.time,
                           "dataschema": event.model, "data": data}
    if event.relationship is not None:
        out["subject"] = f"{event.twin}/relationships/{event.relationship}"
    return out


@dataclass
class EventFilter:
    """Which events a subscriber wants: by twin id, model (following extends) and type."""

    twins: frozenset[str] = frozenset()
    models: frozenset[str] = frozenset()  # already expanded to every model extending the one asked for
    types: frozenset[str] = frozenset()
    custom: Callable[[dict[str, Any]], bool] | None = None

    def matches(self, event: EventRecord) -> bool:
        if self.twins and event.twin not in self.twins:
            return False
        if self.models and event.model not in self.models:
            return False
        if self.types and event.type not in self.types:
            return False
        return self.custom is None or self.custom(envelope(event))

    @classmethod
    def build(cls, graph: TwinGraph, twins: list[str], models: list[str], types: list[str]) -> EventFilter:
        expanded: set[str] = set()
        for model in models:
            found = graph.models.descendants(model) if model in graph.models else []
            if not found:
                raise InvalidArgument(f"unknown model '{model}'", code="ModelNotFound")
            expanded.update(found)
        return cls(frozenset(twins), frozenset(expanded), frozenset(short_type(t) for t in types))


PAGE = 1000  # events read from the store at a time
BACKLOG = 50_000  # events a subscriber may have waiting before it is cut off


@dataclass(eq=False)
class Subscription:
    filter: EventFilter
    queue: asyncio.Queue[EventRecord | None] = field(default_factory=lambda: asyncio.Queue(maxsize=BACKLOG))
    overflowed: bool = False


class EventBus:
    """Fans committed events out to subscribers; runs as a task on the server's event loop."""

    def __init__(self, graph: TwinGraph, *, poll_interval: float = 0.25, backlog: int = BACKLOG) -> None:
        self.graph = graph
        self.poll_interval = poll_interval
        # Slow subscribers: each has a queue of at most ``backlog`` events. One that falls that
        # far behind is cut off (its stream ends: WebSocket close 1013, "reconnect with
        # lastEventId", which replays what it missed from the store); announcements (not
        # stored, nothing to replay) that find a queue full are dropped. Both are counted.
        self.backlog = backlog
        self.cut_off = 0
        self.announcements_dropped = 0
        self._encoded: dict[int, bytes] = {}  # event id -> its JSON, made once for every subscriber
        self.outage = Outage("event bus: reading events", log)
        self.subscribers: set[Subscription] = set()
        self.last_seq = graph.store.last_event_seq()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._unwatch: Any = None
        self.closing = False  # the server is stopping: streams end, new ones end at once
        self.feed: asyncio.Queue[list[EventRecord]] | None = None  # set by `use_feed`
        self.fed = 0  # events that came from the feed
        self.filled = 0  # events read from the store because the feed had not brought them

    def use_feed(self) -> None:
        """Take live events from `push` (call before `start`) rather than by polling the store."""
        self.feed = asyncio.Queue()

    def push(self, events: list[EventRecord]) -> None:
        """Hand committed events from the feed to the bus (on the bus's event loop)."""
        if self.feed is not None and events:
            self.feed.put_nowait(events)

    # -- lifecycle --------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if self.feed is not None:
            self._task = asyncio.create_task(self._run_fed(), name="twinforge-event-bus")
            return
        self.graph.subscribe(self.wake)
        # A store shared by several servers (PostgreSQL) says when any of them commits, so
        # every server's /stream carries every change at once; the poll stays as a safety net.
        watch = getattr(self.graph.store, "watch_commits", None)
        self._unwatch = watch(self.wake) if watch is not None else None
        self._task = asyncio.create_task(self._run(), name="twinforge-event-bus")

    def end_streams(self) -> None:
        """End every open stream (callable from any thread, a signal handler too): a stopping
        server closes its streams first, so it need not wait for their clients."""
        self.closing = True
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        def end() -> None:
            for sub in list(self.subscribers):
                with contextlib.suppress(asyncio.QueueFull):
                    sub.queue.put_nowait(None)

        loop.call_soon_threadsafe(end)

    async def stop(self) -> None:
        if self.feed is None:
            self.graph.unsubscribe(self.wake)
        if self._unwatch is not None:
            await asyncio.to_thread(self._unwatch)
            self._unwatch = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for sub in list(self.subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                sub.queue.put_nowait(None)

    def wake(self) -> None:
        """Called by writers from any thread after a commit."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            self._wake.clear()
            try:
                await self.pump()
                self.outage.ok()
            except Exception as exc:  # the bus must outlive a failed read; the next round retries
                self.outage.failed(exc)

    async def _run_fed(self) -> None:
        assert self.feed is not None
        quiet = 4 * self.poll_interval
        while True:
            try:
                batch = await asyncio.wait_for(self.feed.get(), quiet)
            except TimeoutError:
                batch = None
            try:
                if batch is None:  # the feed is quiet: anything the store has that it did not bring
                    self.filled += await self.pump()
                else:
                    await self._accept(batch)
                self.outage.ok()
            except Exception as exc:  # the next round retries
                self.outage.failed(exc)

    async def _accept(self, batch: list[EventRecord]) -> None:
        """Fan out events from the feed in order; a gap before one is filled from the store."""
        store = self.graph.store
        out: list[EventRecord] = []
        last = self.last_seq
        for event in batch:
            if event.seq <= last:
                continue  # already delivered (from the store, or a repeat)
            while event.seq > last + 1:
                missing = await asyncio.to_thread(store.read_events, last, min(PAGE, event.seq - last - 1))
                missing = [e for e in missing if e.seq < event.seq]
                if not missing:
                    break
                out.extend(missing)
                self.filled += len(missing)
                last = missing[-1].seq
            out.append(event)
            self.fed += 1
            last = event.seq
        if out:
            self._fan_out(out)

    def _fan_out(self, batch: list[EventRecord]) -> None:
        for event in batch:
            for sub in self.subscribers:
                if sub.overflowed or not sub.filter.matches(event):
                    continue
                try:
                    sub.queue.put_nowait(event)
                except asyncio.QueueFull:
                    sub.overflowed = True  # the subscriber resumes from its last id
                    self.cut_off += 1
                    log.warning("a /stream subscriber fell %d events behind: cut off (it resumes with "
                                "lastEventId)", self.backlog)
                    sub.queue.get_nowait()
                    sub.queue.put_nowait(None)
        self.last_seq = batch[-1].seq

    async def pump(self) -> int:
        """Deliver every event committed since the last call; returns how many. The store
        is read in a worker thread, the subscribers' queues are fed on the loop."""
        store = self.graph.store
        if not self.subscribers:
            # Nobody listens: skip ahead. A subscriber that comes later replays from the store.
            last = await asyncio.to_thread(store.last_event_seq)
            if not self.subscribers:  # one that came meanwhile must not lose what was read past
                self.last_seq = last
            return 0
        delivered = 0
        while True:
            batch = await asyncio.to_thread(store.read_events, self.last_seq, PAGE)
            if batch:
                self._fan_out(batch)
                delivered += len(batch)
            if len(batch) < PAGE:
                # A short page is the log's end: no second read to find that out (each is a hop
                # to a thread and back, hundreds of times a second under ingest). A commit after
                # this read set the wake-up again, so the next round reads it.
                return delivered

    def announce(self, event: EventRecord) -> None:
        """Hand a transient event (not stored, ``seq`` 0) to the live subscribers whose
        filter matches; callable from any thread."""
        self.announce_many([event])

    def announce_many(self, events: list[EventRecord]) -> None:
        """`announce` for a batch: one hop onto the loop for all of them."""
        loop = self._loop
        if loop is None or loop.is_closed() or not events:
            return

        def deliver() -> None:
            for sub in self.subscribers:
                if sub.overflowed:
                    continue
                for event in events:
                    if sub.filter.matches(event):
                        try:
                            sub.queue.put_nowait(event)
                        except asyncio.QueueFull:
                            self.announcements_dropped += 1

        loop.call_soon_threadsafe(deliver)

    def encode(self, event: EventRecord) -> bytes:
        """An event's envelope as JSON, made once however many subscribers send it."""
        if not event.seq:
            return orjson.dumps(envelope(event))
        cached = self._encoded.get(event.seq)
        if cached is None:
            if len(self._encoded) >= 4096:  # the subscribers are at most this far apart, mostly
                self._encoded.clear()
            cached = self._encoded[event.seq] = orjson.dumps(envelope(event))
        return cached

    def status(self) -> dict[str, Any]:
        """Subscribers, the longest backlog, and who or what was cut off or dropped."""
        return {"subscribers": len(self.subscribers),
                "longestBacklog": max((sub.queue.qsize() for sub in self.subscribers), default=0),
                "backlogLimit": self.backlog, "cutOff": self.cut_off,
                "announcementsDropped": self.announcements_dropped}

    def wants(self, kinds: frozenset[str]) -> bool:
        """Whether a subscriber could take an event of one of these types (announcements
        nobody can receive are not worth decoding)."""
        return any(not sub.filter.types or sub.filter.types & kinds for sub in self.subscribers)

    # -- subscribing ------------------------------------------------------

    async def stream(self, event_filter: EventFilter, after: int | None = None) -> AsyncIterator[EventRecord]:
        """Matching events, first those after ``after`` (replayed from the store), then live ones."""
        sub = Subscription(event_filter, asyncio.Queue(maxsize=self.backlog))
        if self.closing:
            return
        self.subscribers.add(sub)
        try:
            sent = after if after is not None else self.last_seq
            if after is not None:
                while True:
                    batch = await asyncio.to_thread(self.graph.store.read_events, sent, PAGE)
                    if not batch:
                        break
                    for event in batch:
                        if event_filter.matches(event):
                            yield event
                    sent = batch[-1].seq
            while True:
                live = await sub.queue.get()
                if live is None:
                    return
                if live.seq == 0:  # announced, not stored
                    yield live
                    continue
                if live.seq <= sent:
                    continue
                sent = live.seq
                yield live
        finally:
            self.subscribers.discard(sub)
