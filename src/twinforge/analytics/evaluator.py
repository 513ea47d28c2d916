"""One evaluator for detectors, RUL models and alert rules, over the event log.

Every accepted value is an event in the store, whichever server or connector wrote it. The
evaluator reads the log from a cursor it keeps in the store, on one server at a time (the
holder of the ``analytics`` lease; when that server dies another takes over at its next try
and goes on from the stored cursor), and hands each value to the detectors and RUL models in
order, then checks the alert rules of the twins that changed. It runs in a thread of its own,
never on the writer thread, so ingest does not wait for it; an alert is raised once, by the
one evaluator.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import orjson

from twinforge.analytics.engine import Sample
from twinforge.history.timeutil import now_us, parse_time
from twinforge.outages import Outage

if TYPE_CHECKING:
    from twinforge.analytics.alerts import AlertService
    from twinforge.analytics.engine import AnalyticsEngine
    from twinforge.graph import TwinGraph
    from twinforge.store.base import EventRecord

log = logging.getLogger("twinforge.evaluator")
CURSOR = "cursor:analytics"


def mark_start(store: Any) -> None:
    """Where the first evaluator of a store starts: the log's end when a server starts, not when
    the evaluator (a process of its own, slow to start on a busy machine) first takes the lead:
    what is written meanwhile is evaluated. Kept if a cursor is there already."""
    with store.transaction():
        if store.get_setting(CURSOR) is None:
            store.put_setting(CURSOR, str(store.last_event_seq()))


def samples_of(event: EventRecord) -> Sample | None:
    """The top-level values an event carries (a twin update's patch, a telemetry message)."""
    if event.type == "Twin.Update":
        patch = orjson.loads(event.data)
        values: dict[str, Any] = {}
        for op in patch if isinstance(patch, list) else []:
            path = op.get("path", "") if isinstance(op, dict) else ""
            if op.get("op") in ("add", "replace") and path.count("/") == 1 and len(path) > 1:
                values[path[1:].replace("~1", "/").replace("~0", "~")] = op.get("value")
        if values:
            return Sample(event.twin, event.model or "", values, False, parse_time(event.time))
    elif event.type == "Telemetry":
        message = orjson.loads(event.data)
        if isinstance(message, dict) and not message.get("component") and isinstance(message.get("values"), dict):
            when = message.get("sourceTime") or event.time
            return Sample(event.twin, event.model or "", message["values"], True, parse_time(when))
    return None


class Evaluator:
    """Feeds detectors, RUL models and alert rules from the event log, on the lease holder."""

    def __init__(self, graph: TwinGraph, engine: AnalyticsEngine, alerts: AlertService, *,
                 interval: float = 0.5, gap: float = 0.1, standby: float = 1.0, page: int = 20_000,
                 idle_store: float = 10.0) -> None:
        self.graph = graph
        self.engine = engine
        self.alerts = alerts
        self.interval = interval  # between rounds while leading and idle (a write wakes it sooner)
        self.gap = gap  # at least this between rounds that found work: rounds batch many writes
        self.standby = standby  # between tries to take the lease while another server leads
        self.page = page  # events per read: larger pages mean fewer, larger score writes (less lock sharing)
        # With nothing to evaluate, the cursor skips the log in memory and is stored at most this
        # often: the evaluator runs at the lowest CPU priority, and a write it began could hold the
        # store's write lock while the busy cores run everything else (ingest waited 14 ms per
        # NDJSON request behind these writes, twice a second).
        self.idle_store = idle_store
        self._stored_at = 0.0
        self.lease = graph.store.lease("analytics")
        self._outage = Outage("analytics evaluator: a round", log)
        self.leading = False
        self.cursor = 0
        self.counters: Counter[str] = Counter()  # events, samples, rounds, failures, takeovers
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def _take_lead(self) -> bool:
        if not self.lease.try_acquire():
            if self.leading:
                log.warning("lost the analytics lease: another server evaluates now")
            self.leading = False
            return False
        if not self.leading:
            saved = self.graph.store.get_setting(CURSOR)
            self.cursor = int(saved) if saved is not None else self.graph.store.last_event_seq()
            if saved is None:
                self.graph.store.put_setting(CURSOR, str(self.cursor))
            self._stored_at = time.monotonic()
            self.engine.reset()
            self.alerts.reset()
            self.leading = True
            self.counters["takeovers"] += 1
            log.info("evaluating detectors and alert rules from event %d", self.cursor)
        return True

    def step(self, at: int | None = None) -> int:
        """One round: read what the log holds after the cursor, evaluate it, store the cursor.
        Returns how many events were read (0 when another server leads)."""
        if not self._take_lead():
            return 0
        store = self.graph.store
        read = 0
        self.graph.refresh_models()  # models uploaded through another server
        last = store.last_event_seq()
        self._refresh()  # read after the log's end: a detector put before an event is known
        if not (self.engine.detectors or self.engine.ruls or self.alerts.rules):
            if last != self.cursor:  # nothing to evaluate: skip the log, not read it
                self.cursor = last
                if time.monotonic() - self._stored_at >= self.idle_store:
                    self._store_cursor()
            return 0
        while True:
            events = store.read_events(self.cursor, self.page)
            if not events:
                break
            self._refresh()  # the records as of after these events, not as cached before them
            self._evaluate(events, at)
            self.cursor = events[-1].seq
            self._store_cursor()
            read += len(events)
            self.counters["events"] += len(events)
            if len(events) < self.page:
                break
        if not read:
            self.alerts.check_pending(set(), at)
        return read

    def _store_cursor(self) -> None:
        self.graph.store.put_setting(CURSOR, str(self.cursor))
        self._stored_at = time.monotonic()

    def _refresh(self) -> None:
        """Check the detectors, RUL attachments and rules against the store now (the caches
        would otherwise answer from up to half a second ago, and a round could skip or miss
        values a rule or detector put just before them should see)."""
        self.engine.refresh()
        self.alerts.refresh()

    def _evaluate(self, events: list[EventRecord], at: int | None) -> None:
        now = at if at is not None else now_us()
        samples: list[Sample] = []
        alerts = self.alerts

        def observe(sample: Sample) -> None:
            alerts.observe(sample.twin, sample.model, sample.values, now)

        def flush() -> None:
            if samples:
                self.counters["samples"] += len(samples)
                self.engine.score(samples, observe)
                samples.clear()

        for event in events:
            if event.type in ("Twin.Delete", "Twin.Create"):
                flush()  # what came before, in order
                if event.type == "Twin.Delete":
                    self.engine.forget(event.twin)
                    alerts.forget(event.twin)
                else:
                    alerts.created(event.twin, event.model or "", event.data, now)
                continue
            sample = samples_of(event)
            if sample is not None:
                samples.append(sample)
        flush()
        alerts.check_pending(set(), now)

    def wake(self) -> None:
        """Something was written: run a round now rather than at the next tick."""
        self._wake.set()

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                read = 0
                try:
                    read = self.step()
                    self.counters["rounds"] += 1
                    self.last_error = None
                    self._outage.ok()
                except Exception as exc:  # the loop outlives a failed round: retried from the same cursor
                    self.counters["failures"] += 1
                    self._outage.failed(exc)
                    self.last_error = str(exc)
                if read:
                    self._stop.wait(self.gap)
                self._wake.wait(self.interval if self.leading else self.standby)
                self._wake.clear()

        thread = threading.Thread(target=loop, name="twinforge-evaluator", daemon=True)
        thread.start()  # started before it is shown: close() from another thread never joins an unstarted one
        self._thread = thread

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
        if self.leading and (self._thread is None or not self._thread.is_alive()):
            try:  # where an idle skip got to, for the next leader (if the lease is still ours)
                if self.lease.try_acquire() and self.graph.store.get_setting(CURSOR) != str(self.cursor):
                    self._store_cursor()
            except Exception as exc:  # closing with the store gone: the next leader starts a little earlier
                log.debug("could not store the analytics cursor on close: %s", exc)
        self.lease.release()

    def status(self) -> dict[str, Any]:
        return {"leading": self.leading, "cursor": self.cursor, **dict(self.counters),
                "ruleFailures": sum(self.alerts.failures.values()),
                "detectorFailures": sum(self.engine.failures.values()), "failedDetectors": dict(self.engine.broken),
                "lastError": self.last_error}


__all__ = ["CURSOR", "Evaluator", "samples_of"]
