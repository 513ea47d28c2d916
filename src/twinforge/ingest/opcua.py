"""The OPC UA connector: subscribe to data changes of mapped nodes, feed them to twins.

It runs on the server's event loop, reconnects with back-off, and hands the changes to
the ingest core in small batches.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from typing import Any

from twinforge.errors import MissingDependency
from twinforge.ingest.core import Ingestor, Update, apply_resilient, connector_state
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
        self.last_error = ""
        self.flush_failures = 0  # rounds whose values could not be kept (retried)
        self.stopped = False
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        try:
            import asyncua  # noqa: F401
        except ImportError:  # pragma: no cover - asyncua is in the [opcua] extra
            raise MissingDependency("OPC UA needs asyncua: pip install 'twinforge[opcua]'") from None
        self._task = asyncio.create_task(self._run(), name=f"opcua {self.source.endpoint}")

    async def stop(self) -> None:
        self.stopped = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    def status(self) -> dict[str, Any]:
        """State (running, connecting, failed, stopped), counters and the last error."""
        state = connector_state(stopped=self.stopped, connected=self.connected.is_set(),
                                dead=self._task is not None and self._task.done())
        return {"type": "opcua", "name": f"opcua {self.source.endpoint}", "state": state,
                "endpoint": self.source.endpoint, "connected": self.connected.is_set(),
                "changes": self.changes, "flushFailures": self.flush_failures, "lastError": self.last_error or None}

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
        value = _json_value(value)
        self.pending.append(Update(rule.twin, {rule.name: value}, telemetry=rule.kind == "telemetry",
                                   component=rule.component, source=source))

    def status_change_notification(self, status: Any) -> None:  # pragma: no cover - asyncua hook
        log.warning("OPC UA subscription status changed: %s", status)

    async def flush(self) -> None:
        """Apply what arrived since the last flush, in a worker thread."""
        if self.pending or self.letters:
            updates, letters = self.pending, self.letters
            self.pending, self.letters = [], []

            def apply() -> None:
                self.ingestor.keep_dead_letters(letters)
                apply_resilient(self.ingestor, updates, lambda update, _: [update],
                                lambda update: (update.source, dict(update.values)))

            await asyncio.to_thread(apply)

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
                    self.last_error = ""
                    log.info("OPC UA subscribed to %d node(s) at %s", len(nodes), self.source.endpoint)
                    delay = 1.0
                    while True:
                        await asyncio.sleep(self.flush_interval)
                        await self.flush()
                        await client.check_connection()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                was_connected = self.connected.is_set()
                self.connected.clear()
                what = "connection lost" if was_connected else "cannot connect"
                self.last_error = f"{what}: {type(exc).__name__}: {exc}".rstrip(": ")
                log.warning("OPC UA %s: %s; retrying in %.0f s", self.source.endpoint, self.last_error, delay)
                try:
                    await self.flush()
                except Exception as flush_error:  # the store may be what failed: retried next round
                    self.flush_failures += 1
                    log.warning("OPC UA %s: keeping what was read failed (%s); retried next round",
                                self.source.endpoint, flush_error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)


def _json_value(value: Any) -> Any:
    """An OPC UA value as JSON: times as ISO 8601, bytes as base64, other objects as text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return str(value)
