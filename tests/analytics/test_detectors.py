"""One contract for every detector: a replayed stream with injected anomalies scores them
above the ordinary values; scores are finite numbers from the first value on."""

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
    detector = make(kind)
    if isinstance(detector, IsolationBatch):
        detector.fit(values[:500])
    scores = []
    for x in values:
        s = detector.score_one(float(x))
        detector.learn_one(float(x))
        assert isinstance(s, float) and math.isfinite(s)
        scores.append(s)
    scores_arr = np.array(scores)
    ordinary = np.delete(scores_arr[500:], [k - 500 for k in spikes])
    for k in spikes:
        assert scores_arr[k] > np.percentile(ordinary, 99), (kind, k, scores_arr[k])


def test_unknown_kinds_and_parameters_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="unknown detector kind"):
        make("magic")
    with pytest.raises(InvalidArgument, match=r"ewma params: unknown field 'colour' \(known: alpha, warmup\)"):
        make("ewma", {"colour": 1})
    # Ranges are named: a negative window was a plain-text 500 from deep inside collections.deque.
    for kind, params, message in [("robust_z", {"window": -5}, "'window': must be >= 3, got -5"),
                                  ("ewma", {"alpha": 5}, "'alpha': must be <= 1, got 5"),
                                  ("half_space", {"height": 99}, "'height': must be <= 20, got 99"),
                                  ("isolation_forest", {"n_estimators": "many"}, "must be a whole number")]:
        with pytest.raises(InvalidArgument, match=message):
            make(kind, params)
