"""Several processes on one store: exactly one delivers event routes, and another takes over."""

from __future__ import annotations

import asyncio
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

from tests.graph.sensors import LIVE, sensor
from tests.servers import EventHook
from twinforge.events import EventBus
from twinforge.events.routes import RouteManager
from twinforge.graph import TwinGraph
from twinforge.ingest import Ingestor

received = EventHook.received


async def _received(count: int) -> None:
    async with asyncio.timeout(10):
        while len(received) < count:  # noqa: ASYNC110 - the hook runs in another thread
            await asyncio.sleep(0.05)


def test_one_leader_delivers_and_another_takes_over(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    first, second = TwinGraph.open(f"sqlite:///{db}"), TwinGraph.open(f"sqlite:///{db}")
    first.add_models(LIVE)
    first.create_twins([("s1", sensor())])
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), EventHook)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    received.clear()

    async def scenario() -> None:
        managers = []
        for graph in (first, second):
            bus = EventBus(graph, poll_interval=0.05)
            await bus.start()
            manager = RouteManager(bus, Ingestor(graph))
            await manager.start()
            managers.append((bus, manager))
        (bus1, leader), (bus2, follower) = managers
        assert leader.leading and not follower.leading
        # the route is created through the follower, as another worker's API would
        follower.put_endpoint("hook", {"type": "webhook", "url": f"http://127.0.0.1:{httpd.server_address[1]}/"})
        follower.put_route("all", {"endpointName": "hook", "filter": "type = 'Microsoft.DigitalTwins.Twin.Update'"})
        await asyncio.sleep(2.5)  # the leader's watcher picks the route up
        second.update_twin("s1", [{"op": "add", "path": "/temperature", "value": 1.0}])
        await _received(1)
        await leader.stop()
        await bus1.stop()
        await asyncio.sleep(2.5)  # the follower takes over
        assert follower.leading
        second.update_twin("s1", [{"op": "add", "path": "/temperature", "value": 2.0}])
        await _received(2)
        await asyncio.sleep(0.5)
        await follower.stop()
        await bus2.stop()

    try:
        asyncio.run(scenario())
    finally:
        httpd.shutdown()
        first.close()
        second.close()
    assert len(received) == len(set(received)) == 2  # each event once, by one process at a time
