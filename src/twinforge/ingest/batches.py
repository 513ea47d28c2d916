"""The MQTT ingest worker: what one or more connections receive, applied in shared batches.

A server opens several connections to its broker (members of a shared subscription, each
with its own in-flight window), and they all hand their messages to one `IngestWorker`.
It applies whatever waits as one batch, one transaction, and acknowledges each message to
the connection it came on once that batch is committed. One worker per connection made
four small transactions where one would do, each holding the write lock and committing on
its own: the publish-to-WebSocket p99 at half the broker's pace was 51-82 ms with four
workers and 26-45 ms with one (docs/benchmarks.md).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import TYPE_CHECKING

from twinforge.ingest.core import Ingestor, apply_resilient
from twinforge.ingest.wire import Message
from twinforge.outages import Outage

if TYPE_CHECKING:
    from twinforge.ingest.mqtt import MqttConnector

log = logging.getLogger("twinforge.mqtt")
Item = tuple["MqttConnector", Message]


class IngestWorker:
    """Applies the messages of its member connections in batches and acknowledges them.

    A batch ends at ``batch_size`` messages or ``max_updates`` updates, whichever comes
    first. It starts once ``wake_at`` messages wait (a broker sends at most its in-flight
    limit before we acknowledge, so waiting for more would leave the line idle), or after
    ``flush_interval`` seconds; while one batch is applied the next gathers, so batches
    grow with the load. A connection that leaves (stops, or drops for good) takes no part
    in later batches: its messages still waiting stay unacknowledged, and the broker gives
    them to its session's next holder.
    """

    def __init__(self, ingestor: Ingestor, *, batch_size: int = 5000, flush_interval: float = 0.005,
                 max_updates: int = 50_000, wake_at: int = 20) -> None:
        self.ingestor = ingestor
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_updates = max_updates
        self.wake_at = min(batch_size, wake_at)
        self.batches = 0  # transactions: one per batch, whichever connections it serves
        self._inbox: deque[Item] = deque()
        self._members: list[MqttConnector] = []
        self._lock = threading.Lock()  # held while a batch is applied and acknowledged
        self._wakeup = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._per_message = 1.0  # updates per message in the last batch, to size the next
        self._outage = Outage("MQTT ingest: storing a batch", log)

    # -- members ------------------------------------------------------------

    def join(self, connector: MqttConnector) -> None:
        """Take ``connector``'s messages from now on (the thread starts with the first member)."""
        with self._lock:
            if connector not in self._members:
                self._members.append(connector)
            if self._thread is not None and self._stop.is_set():  # every member had left: start over
                self._thread.join(10)
                self._thread = None
                self._stop.clear()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="twinforge-mqtt-ingest", daemon=True)
                self._thread.start()

    def leave(self, connector: MqttConnector) -> None:
        """Stop taking ``connector``'s messages, after the batch being applied (if any) is
        acknowledged; the last member to leave stops the worker."""
        with self._lock:
            if connector in self._members:
                self._members.remove(connector)
            last = not self._members
            if last:
                self._stop.set()
                self._wakeup.set()
        if last and self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(10)

    def add(self, connector: MqttConnector, message: Message) -> None:
        """Queue one message (from the connection's thread)."""
        self._inbox.append((connector, message))
        if len(self._inbox) >= self.wake_at:
            self._wakeup.set()

    @property
    def dead(self) -> bool:
        """Whether the worker's loop ended although nobody stopped it (a bug)."""
        return self._thread is not None and not self._thread.is_alive() and not self._stop.is_set()

    # -- the loop -----------------------------------------------------------

    def _run(self) -> None:
        try:
            self._work()
        except Exception as exc:  # a bug: say so loudly; /health reports the connections as failed
            for connector in list(self._members):
                connector.stats.last_error = f"ingest worker stopped: {type(exc).__name__}: {exc}"
            log.exception("MQTT ingest worker stopped")

    def _work(self) -> None:
        # Nothing a message holds may end this loop: decoding and applying are isolated per
        # message by apply_resilient; only a failing store makes a batch wait and retry.
        while not self._stop.is_set():
            self._wakeup.wait(self.flush_interval)
            self._wakeup.clear()
            while self._inbox and not self._stop.is_set():
                with self._lock:
                    batch = self._take()
                    if not batch:
                        continue
                    try:
                        self._apply(batch)
                        self._outage.ok()
                        continue
                    except Exception as exc:  # the store is unavailable: retry without acknowledging
                        for connector in {c for c, _ in batch}:
                            connector.stats.last_error = f"{type(exc).__name__}: {exc}"
                        self._outage.failed(exc)
                        self._inbox.extendleft(reversed(batch))
                self._stop.wait(1.0)
                break

    def _take(self) -> list[Item]:
        """The next batch, without the messages of connections that left."""
        batch: list[Item] = []
        limit = min(self.batch_size, max(1, int(self.max_updates / self._per_message)))
        members = self._members
        while self._inbox and len(batch) < limit:
            item = self._inbox.popleft()
            if item[0] in members:
                batch.append(item)
        return batch

    def _apply(self, batch: list[Item]) -> None:
        outcomes: list[tuple[int, int]] = []
        result = apply_resilient(self.ingestor, batch, lambda item, letters: item[0].decode(*item[1][:2], letters),
                                 lambda item: (f"mqtt:{item[1][0]}", item[1][1].decode("utf-8", "replace")),
                                 outcomes=outcomes)
        self._per_message = max(1.0, (result.accepted + result.rejected) / len(batch))
        self.batches += 1
        received: dict[MqttConnector, list[Message]] = {}
        for (connector, message), (accepted, rejected) in zip(batch, outcomes, strict=True):
            received.setdefault(connector, []).append(message)
            connector.stats.updates += accepted
            connector.stats.rejected += rejected
        for connector, messages in received.items():
            connector.stats.messages += len(messages)
            connector.stats.batches += 1
            connector.client.ack(messages)


__all__ = ["IngestWorker"]
