"""The shape every detector shares, and the two plainest ones (robust z, EWMA).

A detector measures how far a value lies from what it expected, in units of its own spread
(``deviation``: the deviation and the degrees of freedom of the spread), and `Tail` turns that
into the calibrated score. ``score_one(x)`` then ``learn_one(x)`` (river's shape).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Protocol

import numpy as np

from twinforge.analytics.detectors.calibrate import Tail, score_of_tail

REL = 1e-6  # a spread is at least this share of the level (a flat stream divides by no zero)
ABS = 1e-9


class Detector(Protocol):
    """What every detector does."""

    def score_one(self, x: float) -> float:
        """How anomalous ``x`` is, in [0, 1], given what was learnt so far."""
        ...

    def learn_one(self, x: float) -> None:
        """Take ``x`` into what is ordinary."""
        ...

    @property
    def warming(self) -> bool:
        """Whether it has seen fewer values than its warm-up (its scores rest on little)."""
        ...


def floor(level: float) -> float:
    """The smallest spread a stream at ``level`` is given."""
    return REL * abs(level) + ABS


class Streaming:
    """A detector scored through `Tail`: subclasses give ``deviation`` and ``update``."""

    warmup = 20

    def __init__(self, warmup: int, calibration: int) -> None:
        self.warmup = warmup
        self.calibration = calibration
        self.tail = Tail(calibration)
        self.n = 0
        self._last: tuple[float, float | None] | None = None  # (x, u): u is None when nothing is known

    @property
    def warming(self) -> bool:
        return self.n < self.warmup

    def deviation(self, x: float) -> tuple[float, float]:
        """(|x - expected| / spread, degrees of freedom of the spread); (0, 0) when nothing
        is known yet."""
        raise NotImplementedError

    def update(self, x: float) -> None:
        raise NotImplementedError

    def _u(self, x: float) -> float | None:
        """The calibrated statistic of ``x`` (computed once for its score and its learning)."""
        last = self._last
        if last is not None and last[0] == x:
            return last[1]
        z, dof = self.deviation(x)
        u = Tail.u_of(z, dof) if dof > 0 else None
        self._last = (x, u)
        return u

    def other_tail(self, x: float) -> float | None:
        """The tail probability of the detector's other statistics at ``x``, if it has any
        (each already calibrated; the smallest times their number)."""
        return None

    def tail_of(self, x: float) -> float:
        """The tail probability of ``x`` (what the score is made from): with other statistics,
        the smaller of the two tails doubled (a Bonferroni bound)."""
        u = self._u(x)
        tail = self.tail.tail_u(u) if u is not None else 1.0
        other = self.other_tail(x)
        return tail if other is None else min(1.0, 2.0 * min(tail, other))

    def score_one(self, x: float) -> float:
        return score_of_tail(self.tail_of(x))

    def learn_one(self, x: float) -> None:
        u = self._u(x)
        if u is not None:
            self.tail.learn_u(u)
        self.update(x)
        self.n += 1
        self._last = None


class RobustZ(Streaming):
    """|x - median| / (1.4826·MAD) over the last ``window`` values (the standard deviation when
    more than half the window is one value). The median and MAD are recomputed every
    ``refresh`` values (they move slowly), which keeps scoring cheap on the ingest path."""

    def __init__(self, window: int = 60, warmup: int = 20, refresh: int = 8, calibration: int = 2000) -> None:
        super().__init__(warmup, calibration)
        self.values: deque[float] = deque(maxlen=window)
        self.refresh = max(1, refresh)
        self._since = self.refresh
        self._median = 0.0
        self._spread = 0.0

    def deviation(self, x: float) -> tuple[float, float]:
        k = len(self.values)
        if k < 2:
            return 0.0, 0.0
        if self._since >= self.refresh:
            data = np.fromiter(self.values, float, k)
            self._median = float(np.median(data))
            spread = float(np.median(np.abs(data - self._median))) * 1.4826
            if spread <= floor(self._median):
                spread = float(np.std(data))
            self._spread = max(spread, floor(self._median))
            self._since = 0
        return abs(x - self._median) / self._spread, float(k - 1)

    def update(self, x: float) -> None:
        self.values.append(x)
        self._since += 1


class Ewma(Streaming):
    """|x - mean| / std of an exponentially weighted mean and variance (``alpha`` per value)."""

    def __init__(self, alpha: float = 0.05, warmup: int = 20, calibration: int = 2000) -> None:
        super().__init__(warmup, calibration)
        self.alpha = alpha
        self.mean = 0.0
        self.var = 0.0
        self.memory = 2.0 / alpha - 1.0  # values the weights amount to

    def deviation(self, x: float) -> tuple[float, float]:
        if self.n < 2:
            return 0.0, 0.0
        spread = max(math.sqrt(self.var), floor(self.mean))
        return abs(x - self.mean) / spread, min(float(self.n), self.memory) - 1.0

    def update(self, x: float) -> None:
        if self.n == 0:
            self.mean = x
            return
        # A running mean until the weights reach alpha (the first values count fully).
        a = max(self.alpha, 1.0 / (self.n + 1))
        diff = x - self.mean
        incr = a * diff
        self.mean += incr
        self.var = (1 - a) * (self.var + diff * incr)


__all__ = ["Detector", "Ewma", "RobustZ", "Streaming", "floor"]
