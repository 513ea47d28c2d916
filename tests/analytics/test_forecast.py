"""Forecast horizons are bounded by the history they stand on, models are named for what
they are (issue: P400D on 40 minutes of history printed 115,000 rows labelled seasonal_naive),
the chosen forecast beats the M4 benchmarks on the harness, the band covers what it says and
widens with the lead, and the look-back ends at the series' last point."""

from __future__ import annotations

import numpy as np
import pytest

from tests.requirements import need_module

need_module("scipy")
from twinforge.analytics.forecast import conformal_band, forecast, forecast_series  # noqa: E402
from twinforge.analytics.harness import forecasts as m4  # noqa: E402
from twinforge.analytics.methods import METHODS, is_seasonal, multi_seasonal  # noqa: E402
from twinforge.errors import InvalidArgument  # noqa: E402
from twinforge.graph import TwinGraph  # noqa: E402
from twinforge.history import History, point  # noqa: E402


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
    assert result.model.split("(")[0] in (*METHODS, "combination")
    times, values = series(24 * 6, 3600.0, seasonal=True)  # six days hourly: a daily season
    result = forecast_series(times, values, 12 * 3600.0, 3600.0)
    assert result.season == 86_400.0 and "seasonal_naive" in result.backtest
    assert result.to_json()["seasonSeconds"] == 86_400.0
    # The band stays near the data's scale when the horizon is within the history.
    assert min(result.low) > 0.0 and max(result.high) < 40.0


def test_m4_measures() -> None:
    truth, pred = np.array([100.0, 200.0]), np.array([110.0, 180.0])
    assert m4.smape(truth, pred) == pytest.approx(100 * (10 / 105 + 20 / 190) / 2)
    history = np.tile([1.0, 3.0], 30)  # seasonal naive at lag 2 is exact: scale from lag 24 (M4's hourly m)
    assert m4.mase(history, truth, pred, m=1) == pytest.approx(15.0 / 2.0)
    assert m4.owa(10.0, 1.0, 20.0, 2.0) == pytest.approx(0.5)
    low, high = np.array([90.0, 190.0]), np.array([120.0, 210.0])  # the first outcome inside, the second too
    assert m4.msis(history, truth, low, high, a=0.05, m=1) == pytest.approx(25.0 / 2.0)
    assert m4.msis(history, truth, low + 15, high, a=0.05, m=1) == pytest.approx((15 + 40 * 5 + 5 + 40 * 5) / 2 / 2.0)


def test_the_chosen_forecast_beats_the_benchmarks_and_its_band_covers_what_it_says() -> None:
    series_ = m4.corpus(24, seed=5)
    ours, naive2, snaive, covered = [], [], [], []
    for s in series_:
        times = (np.arange(len(s.history)) * 3_600_000_000).astype(np.int64)
        f = forecast_series(times, s.history, 48 * 3600.0, 3600.0)
        p, lo, hi = np.array(f.values), np.array(f.low), np.array(f.high)
        ours.append((m4.smape(s.future, p), m4.mase(s.history, s.future, p)))
        for out, name in ((naive2, "naive2"), (snaive, "seasonal_naive")):
            q = METHODS[name](s.history, 48, [24, 168])
            out.append((m4.smape(s.future, q), m4.mase(s.history, s.future, q)))
        covered.append(np.mean((s.future >= lo) & (s.future <= hi)))
    base = np.mean(naive2, 0)
    owa = m4.owa(*np.mean(ours, 0), *base)
    assert owa < 0.6 and owa < m4.owa(*np.mean(snaive, 0), *base) - 0.2, owa
    assert 0.84 <= float(np.mean(covered)) <= 0.96, np.mean(covered)  # 90 % asked


def test_the_band_widens_with_the_lead() -> None:
    rng = np.random.default_rng(4)
    walk = 100 + np.cumsum(rng.normal(0, 1, 600))  # a random walk: the error grows as sqrt(lead)
    f = forecast_series((np.arange(600) * 60_000_000).astype(np.int64), walk, 48 * 60.0, 60.0)
    width = np.array(f.high) - np.array(f.low)
    assert np.all(np.diff(width) >= 0) and width[-1] > 2.5 * width[0]
    # The conformal quantile: with 19 errors of 1..19 at one lead, the 90 % band is the 18th.
    errors = np.arange(1.0, 20.0)[:, None]
    assert conformal_band(errors, 1, 0.9)[0] == 18.0


def test_multi_seasonal_finds_a_day_and_a_week() -> None:
    k = np.arange(24 * 7 * 6)
    day = 5 * np.sin(2 * np.pi * k / 24)
    week = np.where((k // 24) % 7 >= 5, -8.0, 3.2)
    y = 50 + day + week + np.random.default_rng(1).normal(0, 0.2, len(k))
    rest, profiles = multi_seasonal(y, [24, 168])
    assert np.std(rest) < 0.6 and is_seasonal(y, 24)
    assert np.ptp(profiles[1]) > 9  # the weekend dip is in the weekly profile


def test_old_history_is_history_and_the_lookback_takes_any_iso_duration(tmp_path: object) -> None:
    """The window ends at the series' last point: history from 2020 was 'no numeric history'."""
    graph = TwinGraph.open(f"sqlite:///{tmp_path}/f.db")  # type: ignore[str-bytes-safe]
    try:
        base = 1_577_836_800_000_000  # 2020-01-01
        k = np.arange(24 * 60)
        values = 20 + 3 * np.sin(2 * np.pi * k / 24)
        graph.store.append_history([point("t1", "", "temp", base + int(i) * 3_600_000_000, float(v))
                                    for i, v in zip(k, values, strict=True)])
        history = History(graph.store)
        f = forecast(history, "t1", "temp", horizon="PT24H", step="PT1H")
        assert f.times[0].startswith("2020-03-01") and f.history in (1000, 1001)  # 1,000 steps back by default
        longer = forecast(history, "t1", "temp", horizon="PT24H", step="PT1H", lookback="P1Y")
        assert longer.history == 24 * 60
        shorter = forecast(history, "t1", "temp", horizon="PT24H", step="PT1H", lookback="P1W")
        assert shorter.history in (24 * 7, 24 * 7 + 1)  # (the bucket the window starts in)
        month = forecast(history, "t1", "temp", horizon="PT24H", step="PT1H", lookback="P1M").history
        assert 730 <= month <= 732  # a twelfth of the mean Gregorian year: 730.5 h
        with pytest.raises(InvalidArgument, match="level must be"):
            forecast(history, "t1", "temp", horizon="PT24H", step="PT1H", level=1.5)
        with pytest.raises(InvalidArgument, match="lookback"):
            forecast(history, "t1", "temp", horizon="PT24H", step="PT1H", lookback="soon")
    finally:
        graph.close()
