"""Two detectors that know more than a window's spread.

- `Seasonal`: the residual of an online additive level + season model (Holt-Winters without a
  trend), standardised by the residuals' own exponentially weighted spread. The period is
  given (``period``, in values) or found from the autocorrelation of the first ``detect``
  values; a daily cycle then stops looking like an anomaly twice a day. A second statistic
  watches what a residual cannot show: a run of identical values against how often the
  stream repeats a value (a sensor that froze), reported once, when the run becomes rare.
- `Discord`: the distance of the newest ``length`` values to their nearest neighbour among the
  last ``memory`` such subsequences (a streaming nearest-neighbour / matrix-profile discord,
  as in KNN-CAD): a shape never seen before scores high even when each value is ordinary.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from twinforge.analytics.detectors.base import Ewma, Streaming, floor


def find_period(values: np.ndarray, low: int = 4, strength: float = 0.3) -> int:
    """The lag (>= ``low``, <= a third of the values) with the strongest autocorrelation peak
    above ``strength``; 0 when there is none."""
    n = len(values)
    high = n // 3
    if high <= low + 1:
        return 0
    x = values - np.linspace(values[0], values[-1], n)  # a trend is no season
    x = x - x.mean()
    var = float(x @ x)
    if var <= 0:
        return 0
    spectrum = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[: high + 2] / var
    best, lag = strength, 0
    for k in range(low, high + 1):
        if acf[k] > best and acf[k] >= acf[k - 1] and acf[k] >= acf[k + 1]:
            best, lag = float(acf[k]), k
    return lag


class Seasonal(Streaming):
    """Level + season, residual z-score (see the module)."""

    def __init__(self, period: int = 0, detect: int = 900, alpha: float = 0.05, gamma: float = 0.1,
                 spread_alpha: float = 0.02, warmup: int = 20, calibration: int = 2000) -> None:
        super().__init__(warmup, calibration)
        self.ties = 0.0  # how often a value repeats the one before (weighted)
        self.run = 0  # values in a row equal to the last
        self.prev = math.nan
        self.period, self.detect = period, detect
        self.alpha, self.gamma, self.spread_alpha = alpha, gamma, spread_alpha
        self.level = 0.0
        self.season: np.ndarray = np.zeros(max(1, period))
        self.var = 0.0
        self.phase = 0
        self._buffer: list[float] | None = [] if period == 0 else None
        self.memory = 2.0 / spread_alpha - 1.0

    def _expected(self) -> float:
        return self.level + float(self.season[self.phase % len(self.season)])

    def deviation(self, x: float) -> tuple[float, float]:
        if self.n < 2:
            return 0.0, 0.0
        spread = max(math.sqrt(self.var), floor(self.level))
        return abs(x - self._expected()) / spread, min(float(self.n), self.memory) - 1.0

    def other_tail(self, x: float) -> float | None:
        """A frozen sensor: a run of r + 1 repeats has probability p^(r+1) if the stream repeats a
        value at rate p. Reported once, when the run becomes that rare, not for every repeat; a
        stream that mostly repeats itself is not freezing."""
        if self.n < 20 or x != self.prev:
            return None
        m = min(float(self.n), self.memory)
        p = (self.ties * m + 1.0) / (m + 2.0)
        run = p ** (self.run + 1)
        return run if p < 0.5 and run * p >= 1e-9 else None

    def _start_season(self, values: np.ndarray) -> None:
        """The period found in the first values: the season starts from their phase means."""
        period = find_period(values)
        self._buffer = None
        if not period:
            return
        self.period = period
        k = len(values) // period * period
        recent = values[len(values) - k:]
        profile = recent.reshape(-1, period).mean(0)
        profile -= profile.mean()
        phase0 = (len(values) - k) % period  # the phase of recent[0]
        self.season = np.roll(profile, phase0)  # season[i] is the phase i of the stream
        self.phase = len(values) % period
        fitted = values - self.season[np.arange(len(values)) % period]
        self.level = float(fitted[-period:].mean())
        resid = fitted[-period:] - self.level
        self.var = max(self.var, float(np.mean(resid * resid)))

    def update(self, x: float) -> None:
        if self.n == 0:
            self.level = x
        else:
            a = max(self.alpha, 1.0 / (self.n + 1))
            slot = self.phase % len(self.season)
            diff = x - self._expected()
            s = max(self.spread_alpha, 1.0 / (self.n + 1))
            same = x == self.prev
            self.ties += s * ((1.0 if same else 0.0) - self.ties)
            self.run = self.run + 1 if same else 0
            self.var = (1 - s) * (self.var + s * diff * diff)
            self.level += a * (x - self.season[slot] - self.level)
            if self.period:
                self.season[slot] += self.gamma * (x - self.level - self.season[slot])
        self.prev = x
        self.phase += 1
        if self._buffer is not None:
            self._buffer.append(x)
            if len(self._buffer) >= self.detect:
                self._start_season(np.asarray(self._buffer, dtype=float))


class Discord(Streaming):
    """Nearest-neighbour distance of the newest subsequence (see the module)."""

    def __init__(self, length: int = 8, memory: int = 1000, spread_alpha: float = 0.01, warmup: int = 40,
                 calibration: int = 2000) -> None:
        super().__init__(warmup, calibration)
        self.length, self.capacity = length, memory
        self.recent: deque[float] = deque(maxlen=length)
        self.store = np.zeros((memory, length))
        self.count = 0  # subsequences stored (the ring's fill)
        self.pending: deque[np.ndarray] = deque()  # too recent to be a neighbour (they overlap)
        self.scale = 0.0
        self.spread_alpha = spread_alpha
        self.seen = 0
        self.stand_in = Ewma(alpha=0.05, warmup=1)  # until there are subsequences to compare

    def _window(self, x: float) -> np.ndarray:
        w = np.empty(self.length)
        w[:-1] = list(self.recent)[1 - self.length:]
        w[-1] = x
        return w

    def _distance(self, x: float) -> float:
        w = self._window(x)
        stored = self.store[: min(self.count, self.capacity)]
        diff = stored - w
        return math.sqrt(float(np.min(np.einsum("ij,ij->i", diff, diff))) / self.length)

    def deviation(self, x: float) -> tuple[float, float]:
        if self.count < 2 or len(self.recent) < self.length - 1:
            return self.stand_in.deviation(x)
        d = self._distance(x)
        scale = max(self.scale, floor(x))
        return d / scale, float(min(self.seen, 2.0 / self.spread_alpha))

    def update(self, x: float) -> None:
        if self.count < 2:
            self.stand_in.learn_one(x)
        full = len(self.recent) >= self.length - 1
        if full and self.count >= 2:
            d = self._distance(x)
            s = max(self.spread_alpha, 1.0 / (self.seen + 1))
            self.scale += s * (d - self.scale)  # the usual nearest distance
            self.seen += 1
        self.recent.append(x)
        if len(self.recent) == self.length:
            self.pending.append(np.fromiter(self.recent, float, self.length))
            if len(self.pending) > self.length:  # no overlap with the newest subsequence
                self.store[self.count % self.capacity] = self.pending.popleft()
                self.count += 1


__all__ = ["Discord", "Seasonal", "find_period"]
