"""`serve --events nats://...`: attach the NATS link, ingest, relay and feed to a server."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from twinforge.ingest.mapping import Mapping


class NatsStatus:
    """What `/ingest/status` and `/health` report: the ingest consumer's state and counters, and
    the event relay and feed."""

    def __init__(self, ingest: Any, relay: Any, feed: Any, bus: Any) -> None:
        self.ingest, self.relay, self.feed, self.bus = ingest, relay, feed, bus

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = self.ingest.status()
        out["events"] = {"leader": self.relay.leading, "relayed": self.relay.relayed,
                         "position": self.relay.position, "received": self.feed.received,
                         "fed": self.bus.fed, "filledFromStore": self.bus.filled,
                         "lastError": self.relay.last_error or None}
        if self.relay.last_error and not out.get("lastError"):
            out["lastError"] = f"event relay: {self.relay.last_error}"
        return out


def attach_nats(app: FastAPI, url: str, *, mapping: Mapping | None = None, replicas: int | None = None,
                ack_wait: float = 10.0) -> None:
    """Ingest from, and keep the event log in, NATS JetStream at ``url`` (comma-separated
    servers of one cluster). The streams are made (or updated) when the server starts."""
    from twinforge.nats.events import EventFeed, EventRelay
    from twinforge.nats.ingest import NatsIngest
    from twinforge.nats.link import NatsLink, _nats

    _nats()  # a missing nats-py is said now, not when the server starts
    link = NatsLink(url, replicas=replicas)
    ingest = NatsIngest(app.state.ingestor, link, mapping=mapping, ack_wait=ack_wait)
    relay = EventRelay(app.state.graph, link)
    bus = app.state.bus
    bus.use_feed()
    feed = EventFeed(bus, link)
    app.state.nats = link
    app.state.nats_ingest = ingest
    app.state.nats_relay = relay
    app.state.connectors.append(NatsStatus(ingest, relay, feed, bus))

    async def start(app: FastAPI) -> None:
        await link.connect()
        await link.ensure_streams(ingest.subjects)
        await feed.start()
        await relay.start()
        await ingest.start()

    async def stop(app: FastAPI) -> None:
        await ingest.stop()
        await relay.stop()
        await feed.stop()
        await link.close()

    app.state.on_start.append(start)
    app.state.on_stop.append(stop)
