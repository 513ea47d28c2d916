"""Forecast horizons are bounded by the history they stand on, and models are named for what
they are (issue: P400D on 40 minutes of history printed 115,000 rows labelled seasonal_naive)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.requirements import need_module

need_module("statsmodels")
from twinforge.analytics.forecast import forecast_series  # noqa: E402
from twinforge.errors import InvalidArgument  # noqa: E402


def series(n: int, step_s: float, seasonal: bool = False) -> tuple[np.ndarray, np.ndarray]:
    times = (np.arange(n) * step_s * 1e6).astype(np.int64)
    rng = np.random.default_rng(3)
    k = np.arange(n)
    values = 20.0 + (3 * np.sin(2 * np.pi * k * step_s / 86_400) if seasonal else 0.01 * k) + rng.normal(0, 0.05, n)
    return times, values


def test_a_horizon_longer_than_the_history_is_refused_saying_how_far_it_may_go() -> None:
    times, values = series(40, 60.0)  # 40 minutes at one minute
    with pytest.raises(InvalidArgument) as info:
        forecast_series(times, values, 400 * 86_400.0, 60.0)
    message = str(info.value)
    assert "40 points at a step of 1 min, so at most 40 min" in message and "asked 400 d" in message
    result = forecast_series(times, values, 40 * 60.0, 60.0)  # as far as it goes back: allowed
    assert len(result.values) == 40 and result.history == 40


def test_the_model_is_named_for_what_it_is() -> None:
    times, values = series(40, 60.0)
    result = forecast_series(times, values, 600.0, 60.0)
    assert result.season is None and "seasonal_naive" not in result.backtest and "naive" in result.backtest
    assert result.model in ("naive", "holt_winters", "arima")
    times, values = series(24 * 6, 3600.0, seasonal=True)  # six days hourly: a daily season
    result = forecast_series(times, values, 12 * 3600.0, 3600.0)
    assert result.season == 86_400.0 and "seasonal_naive" in result.backtest
    assert result.to_json()["seasonSeconds"] == 86_400.0
    # The band stays near the data's scale when the horizon is within the history.
    assert min(result.low) > 0.0 and max(result.high) < 40.0
