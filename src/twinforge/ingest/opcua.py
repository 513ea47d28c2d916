"""The OPC UA connector: subscribe to data changes of mapped nodes, feed them to twins.

It runs on the server's event loop, reconnects with back-off, and hands the changes to
the ingest core in small batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from twinforge.errors import BadRequest
from twinforge.ingest.core import Ingestor, Update
from twinforge.ingest.mapping import NodeRule, OpcUaSource
from twinforge.store.base import DeadLetter

log = logging.getLogger("twinforge.opcua")


class OpcUaConnector:
    def __init__(self, ingestor: Ingestor, source: OpcUaSource, *, flush_interval: float = 0.05) -> None:
        self.ingestor = ingestor
        self.source = source
        self.flush_interval = flush_interval
        self.rules: dict[str, NodeRule] = {}
        self.pending: list[Update] = []
        self.letters: list[DeadLetter] = []
        self.changes = 0
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        try:
            import asyncua  # noqa: F401
        except ImportError:  # pragma: no cover - asyncua is in the [opcua] extra
            raise BadRequest("OPC UA needs asyncua: pip install 'twinforge[opcua]'") from None
        self._task = asyncio.create_task(self._run(), name=f"opcua {self.source.endpoint}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.flush()

    # called by asyncua for every subscribed change
    def datachange_notification(self, node: Any, value: Any, data: Any) -> None:
        rule = self.rules.get(node.nodeid.to_string())
        if rule is None:
            return
        self.changes += 1
        source = f"opcua:{self.source.endpoint}/{rule.node}"
        if rule.scale != 1.0 or rule.offset != 0.0:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.ingestor.dead_letter(self.letters, source, "invalid_value",
                                          f"'{rule.name}' must be a number to be scaled, got {value!r}", repr(value))
                return
            value = value * rule.scale + rule.offset
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        self.pending.append(Update(rule.twin, {rule.name: value}, telemetry=rule.kind == "telemetry",
                                   component=rule.component, source=source))

    def status_change_notification(self, status: Any) -> None:  # pragma: no cover - asyncua hook
        log.warning("OPC UA subscription status changed: %s", status)

    def flush(self) -> None:
        if self.pending or self.letters:
            updates, letters = self.pending, self.letters
            self.pending, self.letters = [], []
            self.ingestor.apply(updates, letters)

    async def _run(self) -> None:
        from asyncua.client.client import Client

        delay = 1.0
        while True:
            try:
                async with Client(self.source.endpoint, timeout=5) as client:
                    nodes = []
                    for rule in self.source.nodes:
                        node = client.get_node(rule.node)
                        self.rules[node.nodeid.to_string()] = rule
                        nodes.append(node)
                    subscription = await client.create_subscription(self.source.interval_ms, self)
                    await subscription.subscribe_data_change(nodes)
                    self.connected.set()
                    log.info("OPC UA subscribed to %d node(s) at %s", len(nodes), self.source.endpoint)
                    delay = 1.0
                    while True:
                        await asyncio.sleep(self.flush_interval)
                        self.flush()
                        await client.check_connection()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.connected.clear()
                self.flush()
                log.warning("OPC UA %s: %s; retrying in %.0f s", self.source.endpoint, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
