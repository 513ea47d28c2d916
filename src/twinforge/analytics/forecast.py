"""Forecasts of a numeric series from its history, with prediction intervals.

The series is read as regular buckets of the forecast step (averaged; gaps carry the last
value), over a look-back window that ends at the series' last point. Its seasons come from the
step (a day and a week, when the history covers two of each). The candidates are the methods
of `twinforge.analytics.methods` (naive, seasonal naive, Naive2, SES, damped trend, Theta, and
Theta and damped trend after removing every season) and their combination (the mean of the
three best). Each is scored by a rolling-origin backtest: fitted on the history up to each of
several origins and scored on the horizon after it, in errors scaled by the seasonal naive
error (so origins weigh alike). The best is refitted on everything.

The band is conformal: at each lead, the quantile of the chosen method's absolute backtest
errors at that lead and its neighbours (never narrower than at an earlier lead), so a 90 %
band covers about 90 % of outcomes when the future behaves like the backtests.

A forecast reaches at most as far ahead as its history goes back (and at most 10,000 steps):
past that no backtest says anything about the error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from twinforge.durations import seconds
from twinforge.errors import InvalidArgument
from twinforge.history import History
from twinforge.history.timeutil import from_us

MAX_POINTS = 10_000
ORIGINS = 4
LEVEL = 0.9


@dataclass(slots=True)
class Forecast:
    times: list[str]
    values: list[float]
    low: list[float]
    high: list[float]
    model: str
    backtest: dict[str, float]
    season: float | None = None  # seconds, when the history has one
    history: int = 0  # points of history it was fitted on
    level: float = LEVEL
    origins: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"value": [{"time": t, "value": v, "low": lo, "high": hi}
                          for t, v, lo, hi in zip(self.times, self.values, self.low, self.high, strict=True)],
                "model": self.model, "backtestRmse": self.backtest, "seasonSeconds": self.season,
                "historyPoints": self.history, "level": self.level, "backtestOrigins": self.origins}


def periods_of(step_s: float, n: int) -> list[int]:
    """The seasons (values per cycle) a series at this step can show: a day and a week, each
    when the history holds two of it and it spans at least two values."""
    out = []
    for period in (86_400.0, 604_800.0):
        m = round(period / step_s)
        if m >= 2 and abs(m * step_s - period) < 0.01 * period and n >= 2 * m + 2:
            out.append(int(m))
    if not out:  # sub-daily data shorter than two days: an hourly cycle, if any
        m = round(3_600.0 / step_s)
        if m >= 2 and n >= 2 * m + 2:
            out.append(int(m))
    return out


def _scale(y: np.ndarray, m: int) -> float:
    """The in-sample seasonal naive mean absolute error (MASE's denominator)."""
    lag = m if m and len(y) > m else 1
    d = np.abs(y[lag:] - y[:-lag]) if len(y) > lag else np.abs(np.diff(y))
    value = float(d.mean()) if len(d) else 0.0
    return value if value > 0 else max(1e-9, 1e-6 * float(np.abs(y).mean()))


@dataclass(slots=True)
class Backtest:
    origins: int
    errors: dict[str, np.ndarray]  # method -> (origins, leads) errors
    scores: dict[str, float]  # method -> mean scaled absolute error
    rmse: dict[str, float]


def backtest(y: np.ndarray, h: int, periods: list[int], methods: dict[str, Any], origins: int = ORIGINS) -> Backtest:
    """Rolling-origin errors of each method (and of the mean of the three best) at ``h`` leads."""
    n = len(y)
    least = max(8, 2 * periods[0] + 2 if periods else 8)
    stride = max(1, h // 2)
    ends = [n - h - k * stride for k in range(origins) if n - h - k * stride >= least]
    if not ends:  # a short history: one origin, a shorter test
        test = max(1, min(h, n - least, n // 4))
        ends, h = [n - test], test
    preds: dict[str, list[np.ndarray]] = {name: [] for name in methods}
    scales = []
    for end in ends:
        train = y[:end]
        usable = [m for m in periods if len(train) >= 2 * m + 2]
        scales.append(_scale(train, usable[0] if usable else 0))
        for name, method in methods.items():
            if name in preds:
                try:
                    f = method(train, h, usable)
                except (ValueError, np.linalg.LinAlgError, FloatingPointError):
                    del preds[name]
                    continue
                if not np.all(np.isfinite(f)):
                    del preds[name]
                    continue
                preds[name].append(f)
    truth = np.array([y[e:e + h] for e in ends])
    scale = np.array(scales)[:, None]
    errors = {k: truth - np.array(v) for k, v in preds.items()}
    scores = {k: float(np.mean(np.abs(e) / scale)) for k, e in errors.items()}
    top = sorted(scores, key=scores.__getitem__)[:3]
    if len(top) == 3:
        combo = np.mean([np.array(preds[k]) for k in top], axis=0)
        errors["combination"] = truth - combo
        scores["combination"] = float(np.mean(np.abs(errors["combination"]) / scale))
    rmse = {k: float(np.sqrt(np.mean(e ** 2))) for k, e in errors.items()}
    return Backtest(len(ends), errors, scores, rmse)


def conformal_band(errors: np.ndarray, h: int, level: float) -> np.ndarray:
    """The half-width of the band at each of ``h`` leads from backtest errors (origins x leads):
    the finite-sample conformal quantile of the absolute errors at each lead and its
    neighbours, never narrower than at an earlier lead; past the backtest's leads it widens
    with the square root of the lead."""
    abs_err = np.abs(errors)
    tested = abs_err.shape[1]
    width = max(1, tested // 12)
    band = np.empty(tested)
    for lead in range(tested):
        pool = abs_err[:, max(0, lead - width): lead + width + 1].ravel()
        k = min(len(pool), math.ceil((len(pool) + 1) * level))
        band[lead] = np.sort(pool)[k - 1]
    band = np.maximum.accumulate(band)
    if h > tested:
        extra = band[-1] * np.sqrt(np.arange(tested + 1, h + 1) / tested)
        band = np.concatenate([band, extra])
    return band[:h]


def forecast_series(times_us: np.ndarray, values: np.ndarray, horizon_s: float, step_s: float, *,
                    level: float = LEVEL, origins: int = ORIGINS) -> Forecast:
    """Forecast a regular series (times in µs, one value per step) ``horizon_s`` ahead."""
    from twinforge.analytics.methods import METHODS

    h = max(1, round(horizon_s / step_s))
    n = len(values)
    if n < 8:
        raise InvalidArgument(f"a forecast needs at least 8 points of history at this step, found {n}",
                              code="InvalidArgument")
    if h > n or h > MAX_POINTS:
        reach = min(n, MAX_POINTS)
        raise InvalidArgument(
            f"a forecast reaches at most as far ahead as its history goes back ({n} points at a step of "
            f"{_span(step_s)}, so at most {_span(reach * step_s)}"
            + (f", and {MAX_POINTS:,} points" if n > MAX_POINTS else "")
            + f"); asked {_span(horizon_s)}. Shorten the horizon or lengthen the step", code="InvalidArgument")
    y = np.asarray(values, dtype=float)
    periods = periods_of(step_s, n)
    methods = {k: v for k, v in METHODS.items()
               if periods or not (k.startswith("mstl_") or k in ("seasonal_naive", "weekly_naive"))}
    if len(periods) < 2:
        methods.pop("weekly_naive", None)
    test = backtest(y, h, periods, methods, origins)
    best = min(test.scores, key=lambda k: (test.scores[k], k))
    if best == "combination":
        top = sorted((k for k in test.scores if k != "combination"), key=test.scores.__getitem__)[:3]
        pred = np.mean([methods[k](y, h, periods) for k in top], axis=0)
        name = "combination(" + ", ".join(top) + ")"
    else:
        pred = methods[best](y, h, periods)
        name = best
    band = conformal_band(test.errors[best], h, level)
    start = int(times_us[-1])
    step_us = int(step_s * 1e6)
    times = [from_us(start + (k + 1) * step_us) for k in range(h)]
    return Forecast(times, [float(v) for v in pred], [float(v) for v in pred - band], [float(v) for v in pred + band],
                    name, {k: round(v, 6) for k, v in test.rmse.items()}, periods[0] * step_s if periods else None, n,
                    level, test.origins)


def _span(s: float) -> str:
    """Seconds as a short duration: 40 min, 6 h, 400 d."""
    for unit, size in (("d", 86_400.0), ("h", 3_600.0), ("min", 60.0)):
        if s >= size:
            return f"{s / size:,.4g} {unit}"
    return f"{s:g} s"


WINDOW = 20_000  # steps read at most, whatever the look-back


def forecast(history: History, twin: str, name: str, *, horizon: str = "PT6H", step: str = "PT5M",
             lookback: str | None = None, level: float = LEVEL) -> Forecast:
    """A forecast of one twin's property or telemetry from its history: ``lookback`` (any ISO
    8601 duration, P1Y included) back from the series' last point, at most 20,000 steps;
    ``level`` the interval's coverage."""
    if not (isinstance(level, (int, float)) and 0.5 <= level <= 0.99):
        raise InvalidArgument(f"level must be a coverage between 0.5 and 0.99, got {level!r}", code="InvalidArgument")
    horizon_s, step_s = seconds(horizon, "horizon"), seconds(step, "step")
    if horizon_s <= 0 or step_s <= 0 or step_s > horizon_s:
        raise InvalidArgument("horizon and step must be positive, step at most the horizon", code="InvalidArgument")
    last = history.store.last_history(twin, name)
    if last is None:
        raise InvalidArgument(f"'{name}' of twin '{twin}' has no numeric history to forecast from", code="InvalidArgument")
    end = last.ts + 1  # the window ends at the series' last point, not at the server's clock
    back = seconds(lookback, "lookback", calendar=True) if lookback else max(14 * 86_400.0, 1000 * step_s)
    if back <= 0:
        raise InvalidArgument("lookback must be positive", code="InvalidArgument")
    back = min(back, WINDOW * step_s)
    bucket = f"{int(step_s * 1_000_000)}us"
    rows = []
    after = None
    while True:
        page = history.read_range(twin, name, start=from_us(int(end - back * 1e6)), end=from_us(end),
                                  bucket=bucket, agg="avg", after=after, limit=1000)
        rows.extend(page)
        if len(page) < 1000:
            break
        after = page[-1]["_ts"]
    rows = [r for r in rows if isinstance(r["value"], (int, float)) and math.isfinite(r["value"])]
    if not rows:
        raise InvalidArgument(f"'{name}' of twin '{twin}' has no numeric history to forecast from",
                              code="InvalidArgument")
    ts = np.array([r["_ts"] for r in rows], dtype=np.int64)
    vals = np.array([r["value"] for r in rows], dtype=float)
    # Fill missing buckets by carrying the last value, so the series is regular.
    step_us = int(step_s * 1e6)
    full = np.arange(ts[0], ts[-1] + 1, step_us)
    idx = np.searchsorted(ts, full, side="right") - 1
    return forecast_series(full, vals[idx], horizon_s, step_s, level=float(level))


__all__ = ["Forecast", "forecast", "forecast_series"]
