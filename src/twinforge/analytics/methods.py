"""Forecasting methods, in NumPy: each takes a regular series, a horizon and the series' seasonal
periods (values per cycle, shortest first) and returns the point forecast.

- ``naive``: the last value; ``seasonal_naive``: the value one (shortest) season ago, and
  ``weekly_naive`` one longest season ago.
- ``naive2``: the M4 competition's benchmark: naive on the series seasonally adjusted by a
  classical decomposition, when the autocorrelation at the season is significant (90 %).
- ``ses``, ``damped``, ``theta``: simple exponential smoothing, damped-trend Holt and the Theta
  method (SES with half the linear trend), on the seasonally adjusted series (as the M4
  benchmarks run them).
- ``mstl_theta``, ``mstl_damped``: the same after removing *every* season (a day and a week on
  hourly data) by an iterated additive decomposition (the idea of MSTL), the seasons carried
  forward.

Smoothing parameters are chosen by one-step-ahead squared error over a small grid; the
recursions run through `scipy.signal.lfilter` where they are linear, so one fit takes
milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy.signal import lfilter

Method = Callable[[np.ndarray, int, Sequence[int]], np.ndarray]
FIT_TAIL = 1500  # trend models look at most this far back (older values only slow them down)


# -- seasonal adjustment --------------------------------------------------------


def acf(y: np.ndarray, lags: int) -> np.ndarray:
    x = y - y.mean()
    var = float(x @ x)
    if var <= 0:
        return np.zeros(lags + 1)
    return np.array([1.0] + [float(x[k:] @ x[:-k]) / var for k in range(1, lags + 1)])


def is_seasonal(y: np.ndarray, m: int) -> bool:
    """The M4 benchmarks' test: the autocorrelation at lag ``m`` beyond its 90 % bound."""
    if m < 2 or len(y) < 3 * m:
        return False
    r = acf(y, m)
    limit = 1.645 * math.sqrt((1 + 2 * float(np.sum(r[1:m] ** 2))) / len(y))
    return abs(float(r[m])) > limit


def _centred_mean(y: np.ndarray, m: int) -> np.ndarray:
    """A centred moving average over ``m`` values (2 x m when m is even); NaN at the ends."""
    kernel = np.ones(m) / m
    if m % 2 == 0:
        kernel = np.convolve(kernel, [0.5, 0.5])
    out = np.full(len(y), np.nan)
    k = len(kernel)
    if len(y) >= k:
        out[k // 2: len(y) - k // 2] = np.convolve(y, kernel, mode="valid")
    return out


def classical_indices(y: np.ndarray, m: int) -> tuple[np.ndarray, bool]:
    """Seasonal indices (one per phase, phase 0 = the series' first value) and whether they are
    multiplicative (a positive series) or additive."""
    trend = _centred_mean(y, m)
    multiplicative = bool(np.all(y > 0))
    ratio = y / trend if multiplicative else y - trend
    phases = np.arange(len(y)) % m
    idx = np.array([np.nanmean(ratio[phases == p]) if np.any(~np.isnan(ratio[phases == p])) else np.nan
                    for p in range(m)])
    idx = np.where(np.isnan(idx), 1.0 if multiplicative else 0.0, idx)
    if multiplicative:
        idx = idx / idx.mean()
    else:
        idx = idx - idx.mean()
    return idx, multiplicative


def adjusted(y: np.ndarray, m: int) -> tuple[np.ndarray, Callable[[np.ndarray, int], np.ndarray]]:
    """The series seasonally adjusted at ``m`` (if its season is significant) and the function
    that puts the season back on a forecast."""
    if not is_seasonal(y, m):
        return y, lambda f, n: f
    idx, mult = classical_indices(y, m)
    season = idx[np.arange(len(y)) % m]

    def back(f: np.ndarray, n: int) -> np.ndarray:
        future = idx[np.arange(n, n + len(f)) % m]
        out: np.ndarray = f * future if mult else f + future
        return out

    out: np.ndarray = y / season if mult else y - season
    return out, back


def multi_seasonal(y: np.ndarray, periods: Sequence[int], rounds: int = 2) -> tuple[np.ndarray, list[np.ndarray]]:
    """An iterated additive decomposition over several periods: the series without its seasons,
    and each season's profile (one value per phase, phase 0 = the first value)."""
    usable = [m for m in periods if m >= 2 and len(y) >= 2 * m]
    profiles = [np.zeros(m) for m in usable]
    n = len(y)
    for _ in range(rounds):
        for i, m in enumerate(usable):
            others = sum((p[np.arange(n) % len(p)] for j, p in enumerate(profiles) if j != i), np.zeros(n))
            rest = y - others
            trend = _centred_mean(rest, m)
            detrended = rest - trend
            phases = np.arange(n) % m
            keep = ~np.isnan(detrended)
            sums = np.bincount(phases[keep], detrended[keep], minlength=m)
            counts = np.bincount(phases[keep], minlength=m)
            profile = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
            profiles[i] = profile - profile.mean()
    total = sum((p[np.arange(n) % len(p)] for p in profiles), np.zeros(n))
    return y - total, profiles


# -- exponential smoothing ------------------------------------------------------


def _ses_levels(y: np.ndarray, alpha: float) -> np.ndarray:
    """Levels after each value: l_t = alpha·y_t + (1 - alpha)·l_(t-1), l_0 = y_0."""
    out: np.ndarray = lfilter([alpha], [1.0, alpha - 1.0], y, zi=[(1.0 - alpha) * y[0]])[0]
    return out


def ses_alpha(y: np.ndarray) -> tuple[float, float]:
    """The smoothing weight with the smallest one-step squared error (and that level)."""
    best, level, sse_best = 0.5, float(y[-1]), math.inf
    for alpha in (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0):
        levels = _ses_levels(y, alpha)
        err = y[1:] - levels[:-1]
        sse = float(err @ err)
        if sse < sse_best:
            best, level, sse_best = alpha, float(levels[-1]), sse
    return best, level


def ses(y: np.ndarray, h: int) -> np.ndarray:
    return np.full(h, ses_alpha(y[-FIT_TAIL:])[1])


def theta(y: np.ndarray, h: int) -> np.ndarray:
    """The Theta method (Assimakopoulos & Nikolopoulos; as Hyndman & Billah state it): SES plus
    half the slope of the linear trend, adjusted for the level's lag."""
    y = y[-FIT_TAIL:]
    n = len(y)
    alpha, level = ses_alpha(y)
    t = np.arange(n, dtype=float)
    slope = float(np.polyfit(t, y, 1)[0]) if n > 2 else 0.0
    lead = np.arange(1, h + 1, dtype=float)
    drift = 0.5 * slope * (lead - 1 + 1 / alpha - (1 - alpha) ** n / alpha)
    out: np.ndarray = level + drift
    return out


def damped(y: np.ndarray, h: int) -> np.ndarray:
    """Holt's linear method with a damped trend, parameters from a grid (one-step error)."""
    y = y[-FIT_TAIL:]
    if len(y) < 4:
        return np.full(h, y[-1])
    best: tuple[float, float, float] = (math.inf, float(y[-1]), 0.0)
    phi_best = 0.9
    values = y.tolist()
    for alpha in (0.1, 0.3, 0.6, 0.9):
        for beta in (0.01, 0.05, 0.2):
            for phi in (0.9, 0.98):
                level, trend = values[0], values[1] - values[0]
                sse = 0.0
                for x in values[1:]:
                    pred = level + phi * trend
                    e = x - pred
                    sse += e * e
                    new = pred + alpha * e
                    trend = phi * trend + alpha * beta * e
                    level = new
                if sse < best[0]:
                    best, phi_best = (sse, level, trend), phi
    _, level, trend = best
    steps = np.cumsum(phi_best ** np.arange(1, h + 1))
    out: np.ndarray = level + trend * steps
    return out


# -- the methods ----------------------------------------------------------------


def naive(y: np.ndarray, h: int, periods: Sequence[int]) -> np.ndarray:
    return np.full(h, y[-1])


def _repeat(y: np.ndarray, h: int, m: int) -> np.ndarray:
    if m < 2 or len(y) < m:
        return np.full(h, y[-1])
    return np.asarray(np.resize(y[-m:], h), dtype=float)


def seasonal_naive(y: np.ndarray, h: int, periods: Sequence[int]) -> np.ndarray:
    return _repeat(y, h, periods[0] if periods else 0)


def weekly_naive(y: np.ndarray, h: int, periods: Sequence[int]) -> np.ndarray:
    return _repeat(y, h, periods[-1] if periods else 0)


def _on_adjusted(model: Callable[[np.ndarray, int], np.ndarray]) -> Method:
    def run(y: np.ndarray, h: int, periods: Sequence[int]) -> np.ndarray:
        if not periods:
            return model(y, h)
        adj, back = adjusted(y, periods[0])
        return back(model(adj, h), len(y))
    return run


def _on_multi(model: Callable[[np.ndarray, int], np.ndarray], log: bool = False) -> Method:
    def run(y: np.ndarray, h: int, periods: Sequence[int]) -> np.ndarray:
        logged = log and bool(np.all(y > 0))  # seasons that scale with the level add up in logs
        z = np.log(y) if logged else y
        rest, profiles = multi_seasonal(z, periods)
        n = len(z)
        out = model(rest, h)
        for p in profiles:
            out = out + p[np.arange(n, n + h) % len(p)]
        return np.exp(out) if logged else out
    return run


def naive2(y: np.ndarray, h: int, periods: Sequence[int]) -> np.ndarray:
    return _on_adjusted(lambda a, k: np.full(k, a[-1]))(y, h, periods)


METHODS: dict[str, Method] = {
    "naive": naive,
    "seasonal_naive": seasonal_naive,
    "weekly_naive": weekly_naive,
    "naive2": naive2,
    "ses": _on_adjusted(ses),
    "damped": _on_adjusted(damped),
    "theta": _on_adjusted(theta),
    "mstl_theta": _on_multi(theta),
    "mstl_damped": _on_multi(damped),
    "mstl_theta_log": _on_multi(theta, log=True),
    "mstl_ses_log": _on_multi(ses, log=True),
}


__all__ = ["METHODS", "Method", "adjusted", "classical_indices", "is_seasonal", "multi_seasonal", "theta"]
