"""Forecasts of a numeric series from its history, with prediction intervals.

The series is read as regular buckets (the forecast step, averaged). Candidates: a
seasonal-naive baseline (the value one season ago, the season found from the step: a day,
else an hour), Holt-Winters exponential smoothing and an ARIMA model (statsmodels). Each is
fitted on all but the last horizon and scored there (backtest RMSE); the best is refitted
on everything. Intervals come from the backtest errors (about 90 %).

A forecast reaches at most as far ahead as its history goes back (and at most 10,000 steps):
past that the backtest says nothing about the error. Without a season the baseline is the plain
naive forecast (the last value), and is named so.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from twinforge.durations import seconds
from twinforge.errors import InvalidArgument, MissingDependency
from twinforge.history import History, now_us
from twinforge.history.timeutil import from_us

Z90 = 1.645
MAX_POINTS = 10_000


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

    def to_json(self) -> dict[str, Any]:
        return {"value": [{"time": t, "value": v, "low": lo, "high": hi}
                          for t, v, lo, hi in zip(self.times, self.values, self.low, self.high, strict=True)],
                "model": self.model, "backtestRmse": self.backtest, "seasonSeconds": self.season,
                "historyPoints": self.history}


def _season(step_s: float, n: int) -> int:
    for period in (86_400.0, 3_600.0):
        m = round(period / step_s)
        if m >= 2 and n >= 2 * m + 2:
            return int(m)
    return 0


def _fit_predict(kind: str, y: np.ndarray, h: int, m: int) -> np.ndarray:
    if kind == "seasonal_naive":
        if m:
            reps = np.resize(y[-m:], h + m)[:h] if h > m else y[-m:][:h]
            return np.asarray(reps, dtype=float)
        return np.full(h, y[-1])
    try:
        from statsmodels.tsa.arima.model import ARIMA
        from statsmodels.tsa.holtwinters import ExponentialSmoothing
    except ImportError:  # pragma: no cover - statsmodels is in the [predict] extra
        raise MissingDependency("forecasts need statsmodels: pip install 'twinforge[predict]'") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "holt_winters":
            model = ExponentialSmoothing(y, trend="add", seasonal="add" if m else None,
                                         seasonal_periods=m or None, initialization_method="estimated")
            return np.asarray(model.fit().forecast(h), dtype=float)
        order = (2, 0, 1)
        fitted = ARIMA(y, order=order, trend="c").fit()
        return np.asarray(fitted.forecast(h), dtype=float)


def forecast_series(times_us: np.ndarray, values: np.ndarray, horizon_s: float, step_s: float) -> Forecast:
    """Forecast a regular series (times in µs, one value per step) ``horizon_s`` ahead."""
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
    m = _season(step_s, n)
    kinds = ["seasonal_naive", "holt_winters", "arima"]
    test = min(h, max(1, n // 4))
    train = values[:-test]
    scores: dict[str, float] = {}
    errors: dict[str, np.ndarray] = {}
    for kind in kinds:
        try:
            pred = _fit_predict(kind, train, test, _season(step_s, len(train)))
        except (ValueError, np.linalg.LinAlgError, IndexError):
            continue
        if not np.all(np.isfinite(pred)):
            continue
        err = values[-test:] - pred
        scores[kind] = float(np.sqrt(np.mean(err ** 2)))
        errors[kind] = err
    best = min(scores, key=lambda k: (scores[k], kinds.index(k)))
    pred = _fit_predict(best, values, h, m)
    sigma = float(np.std(errors[best])) if len(errors[best]) > 1 else scores[best]
    sigma = max(sigma, scores[best])
    widen = np.sqrt(np.arange(1, h + 1) / max(1, test))
    band = Z90 * sigma * np.maximum(widen, 1.0)
    start = int(times_us[-1])
    step_us = int(step_s * 1e6)
    times = [from_us(start + (k + 1) * step_us) for k in range(h)]
    def named(kind: str) -> str:  # without a season the baseline is the plain naive forecast
        return "naive" if kind == "seasonal_naive" and not m else kind

    return Forecast(times, [float(v) for v in pred], [float(v) for v in pred - band], [float(v) for v in pred + band],
                    named(best), {named(k): round(v, 6) for k, v in scores.items()}, m * step_s if m else None, n)


def _span(s: float) -> str:
    """Seconds as a short duration: 40 min, 6 h, 400 d."""
    for unit, size in (("d", 86_400.0), ("h", 3_600.0), ("min", 60.0)):
        if s >= size:
            return f"{s / size:,.4g} {unit}"
    return f"{s:g} s"


def forecast(history: History, twin: str, name: str, *, horizon: str = "PT6H", step: str = "PT5M",
             lookback: str | None = None) -> Forecast:
    """A forecast of one twin's property or telemetry from its history."""
    horizon_s, step_s = seconds(horizon, "horizon"), seconds(step, "step")
    if horizon_s <= 0 or step_s <= 0 or step_s > horizon_s:
        raise InvalidArgument("horizon and step must be positive, step at most the horizon", code="InvalidArgument")
    end = now_us()
    back = seconds(lookback, "lookback") if lookback else max(14 * 86_400.0, 200 * step_s)
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
    return forecast_series(full, vals[idx], horizon_s, step_s)


__all__ = ["Forecast", "forecast", "forecast_series"]
