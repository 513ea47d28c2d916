"""Background loops that retry while something they need is away (the database, the broker):
one warning when it goes, one line when it is back with how long and how many failures, and
nothing in between (a 7 s PostgreSQL outage used to write hundreds of tracebacks)."""

from __future__ import annotations

import logging
import threading
import time


class Outage:
    """What one background loop says about its failures. ``failed`` on each failed round,
    ``ok`` on each good one; both are cheap when nothing changes."""

    def __init__(self, what: str, log: logging.Logger) -> None:
        self.what = what
        self.log = log
        self.failures = 0  # failed rounds in the current outage
        self.total = 0  # failed rounds ever
        self.since: float | None = None
        self.last_error: str | None = None
        self._lock = threading.Lock()

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self.failures += 1
            self.total += 1
            self.last_error = str(exc) or type(exc).__name__
            if self.since is not None:
                return
            self.since = time.monotonic()
        # The first failure of an outage: its traceback once, then only counted.
        self.log.warning("%s failed: %s; retrying (further failures are counted until it recovers)",
                         self.what, self.last_error, exc_info=exc)

    def ok(self) -> None:
        if self.since is None:
            return
        with self._lock:
            if self.since is None:
                return
            lasted, count = time.monotonic() - self.since, self.failures
            self.since, self.failures = None, 0
        self.log.warning("%s recovered after %.1f s (%d failed attempt%s)", self.what, lasted, count,
                         "" if count == 1 else "s")


class RestartDelay:
    """How long to wait before starting a child process again: 1 s, doubling up to 30 s while
    it keeps dying young (a deleted database, a broken install), back to 1 s once one ran a
    minute. A child that cannot start then costs a few imports a minute, not a core."""

    def __init__(self, first: float = 1.0, most: float = 30.0, healthy: float = 60.0) -> None:
        self.first, self.most, self.healthy = first, most, healthy
        self.delay = first

    def after(self, ran_for: float) -> float:
        """The wait before the next start, for a child that ran ``ran_for`` seconds."""
        if ran_for >= self.healthy:
            self.delay = self.first
        wait = self.delay
        self.delay = min(self.delay * 2, self.most)
        return wait


__all__ = ["Outage", "RestartDelay"]
