"""One contract for every detector: scores in [0, 1] from the first value on, calibrated (a
threshold means the same rarity on every detector and stream), no blow-up on flat data, a
warm-up that says so; a replayed stream with injected anomalies scores them above the
ordinary values. And the NAB-style harness scores what it should."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twinforge.analytics.detectors import KINDS, IsolationBatch, make
from twinforge.errors import InvalidArgument


def stream(n: int = 2000, seed: int = 3) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = 20 + 2 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 0.3, n)  # a daily cycle at 5-minute samples
    spikes = [600, 1100, 1500, 1800]
    for k in spikes:
        values[k] += 8.0  # sensor spikes
    return values, spikes


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_detector_ranks_injected_anomalies_high(kind: str) -> None:
    values, spikes = stream()
    detector = make(kind, {"n_estimators": 25} if kind == "isolation_forest" else None)
    if isinstance(detector, IsolationBatch):
        detector.fit(values[:500])
    scores = []
    for x in values:
        s = detector.score_one(float(x))
        detector.learn_one(float(x))
        assert isinstance(s, float) and math.isfinite(s) and 0.0 <= s <= 1.0
        scores.append(s)
    scores_arr = np.array(scores)
    # (the values just after a spike share a subsequence with it: discord scores them too)
    ordinary = np.delete(scores_arr[500:], [k - 500 + d for k in spikes for d in range(10)])
    for k in spikes:
        assert scores_arr[k] > np.percentile(ordinary, 99), (kind, k, scores_arr[k])


def test_unknown_kinds_and_parameters_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="unknown detector kind"):
        make("magic")
    with pytest.raises(InvalidArgument, match=r"ewma params: unknown field 'colour' \(known: alpha, calibration, warmup\)"):
        make("ewma", {"colour": 1})
    # Ranges are named: a negative window was a plain-text 500 from deep inside collections.deque.
    for kind, params, message in [("robust_z", {"window": -5}, "'window': must be >= 3, got -5"),
                                  ("ewma", {"alpha": 5}, "'alpha': must be <= 1, got 5"),
                                  ("half_space", {"height": 99}, "'height': must be <= 20, got 99"),
                                  ("isolation_forest", {"n_estimators": "many"}, "must be a whole number")]:
        with pytest.raises(InvalidArgument, match=message):
            make(kind, params)


def run(detector: object, values: np.ndarray | list[float]) -> np.ndarray:
    out = []
    for x in values:
        out.append(detector.score_one(float(x)))  # type: ignore[attr-defined]
        detector.learn_one(float(x))  # type: ignore[attr-defined]
    return np.array(out)


STREAMING = ["robust_z", "ewma", "seasonal", "discord", "changepoint", "ensemble"]


@pytest.mark.parametrize("kind", STREAMING)
def test_one_threshold_means_the_same_rarity_everywhere(kind: str) -> None:
    """On ordinary noise, whatever its level and scale, a score of 0.3 is a tail of 1e-3 and
    0.5 of 1e-5: so few values pass them (the seed's robust z scored a 0.01 step at 1e10)."""
    rng = np.random.default_rng(11)
    for level, scale in [(0.0, 1.0), (1e6, 1e-3), (20.0, 50.0)]:
        scores = run(make(kind), level + scale * rng.normal(size=6000))[300:]
        assert np.all((scores >= 0) & (scores <= 1))
        assert np.mean(scores >= 0.3) < 0.006, (kind, level, scale, np.mean(scores >= 0.3))
        assert np.mean(scores >= 0.5) < 0.002, (kind, level, scale)
        assert np.median(scores) < 0.1


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_flat_streams_divide_by_no_zero(kind: str) -> None:
    detector = make(kind)
    scores = run(detector, [5.0] * 400)
    assert np.all(scores < 0.15), kind  # a constant is ordinary
    step = detector.score_one(5.01)
    assert math.isfinite(step) and 0.0 <= step <= 1.0
    if kind not in ("half_space", "isolation_forest"):
        assert step > 0.9, (kind, step)  # a change after a flat run is noticed (the seed's EWMA scored 0)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_warm_up_says_so_and_scores_from_the_first_values(kind: str) -> None:
    rng = np.random.default_rng(2)
    detector = make(kind)
    assert detector.warming
    values = rng.normal(10, 1, 600)
    scores = run(detector, values[:5])
    assert scores[0] == 0.0  # nothing to compare the first value with
    assert np.all(scores < 0.5)  # few values: a wide spread, not a false alarm at the second
    spike = detector.score_one(40.0)
    assert spike > 0.0, kind  # scoring while warming (HalfSpaceTrees used to give 0 for 100 values)
    run(detector, values[5:])
    assert not detector.warming, kind


def test_a_spread_from_few_values_counts_as_such() -> None:
    """The second value 3 units off the first is no anomaly; after 500 values of unit noise it is."""
    early = make("ewma")
    run(early, [0.0, 0.5])
    settled = make("ewma")
    run(settled, np.random.default_rng(0).normal(0, 1, 500))
    assert early.score_one(3.0) < 0.15 < settled.score_one(settled.mean + 4.5)


def test_seasonal_finds_the_period_and_a_frozen_sensor() -> None:
    rng = np.random.default_rng(5)
    t = np.arange(3000)
    values = 50 + 10 * np.sin(2 * np.pi * t / 144) + rng.normal(0, 0.5, 3000)
    detector = make("seasonal", {"detect": 600})
    scores = run(detector, values[:2000])
    assert abs(detector.period - 144) <= 1
    assert np.mean(scores[700:] >= 0.5) < 0.002  # the cycle is not an anomaly twice a day
    frozen = run(detector, [values[1999]] * 12)
    assert frozen.max() > 0.5  # a sensor repeating its last value
    plain = make("robust_z")
    run(plain, values[:2000])
    assert run(plain, [values[1999]] * 12).max() < 0.3  # what a window's spread alone misses


def test_ensemble_parameters_are_checked() -> None:
    with pytest.raises(InvalidArgument, match="members"):
        make("ensemble", {"members": ["magic"]})
    with pytest.raises(InvalidArgument, match="not a member"):
        make("ensemble", {"members": ["ewma"], "params": {"robust_z": {"window": 10}}})
    with pytest.raises(InvalidArgument, match="'window': must be >= 3"):
        make("ensemble", {"members": ["robust_z"], "params": {"robust_z": {"window": 1}}})
    with pytest.raises(InvalidArgument, match="listed twice"):
        make("ensemble", {"members": ["ewma", "ewma"]})
    assert len(make("ensemble").members) == 3


def test_a_streaming_isolation_forest_fits_itself() -> None:
    """It used to score 0 forever unless a back-fill fitted it."""
    detector = make("isolation_forest", {"fit_after": 64, "n_estimators": 20})
    run(detector, np.random.default_rng(1).normal(0, 1, 100))
    assert detector.fitted and not detector.warming
    assert detector.score_one(25.0) > detector.score_one(0.0)
