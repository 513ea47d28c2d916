"""The NAB-style scorer scores what NAB's rules say, and the corpus is what it claims."""

from __future__ import annotations

import numpy as np
import pytest

from twinforge.analytics.harness.anomalies import (
    A_FP,
    KINDS,
    PROBATION,
    Series,
    corpus,
    scaled_sigmoid,
    score_corpus,
    score_series,
    windows,
)


def test_windows_are_a_tenth_of_the_series_shared_among_labels() -> None:
    assert windows(1000, [500]) == [(450, 550)]
    assert windows(1000, [300, 700]) == [(275, 325), (675, 725)]
    assert windows(1000, [500, 510]) == [(475, 535)]  # overlapping windows merge


def test_scoring_follows_the_standard_profile() -> None:
    spans = windows(1000, [500])
    det = np.zeros(1000, bool)
    assert score_series(det, spans) == -1.0  # a missed window costs 1
    det[450] = True
    assert score_series(det, spans) == pytest.approx(scaled_sigmoid(-101 / 101))  # the earliest: about 0.987
    det[520] = True  # a second detection in the same window counts for nothing
    assert score_series(det, spans) == pytest.approx(scaled_sigmoid(-1.0))
    late = np.zeros(1000, bool)
    late[549] = True
    assert 0 < score_series(late, spans) < 0.1  # at the window's end: little
    fp = np.zeros(1000, bool)
    fp[200] = True  # before any window: a full false positive
    assert score_series(fp, spans) == pytest.approx(-1.0 - A_FP)
    fp[100] = True  # in the probation: ignored
    assert score_series(fp, spans) == pytest.approx(-1.0 - A_FP)
    after = np.zeros(1000, bool)
    after[560] = True  # just after a window: a smaller penalty than far after it
    far = np.zeros(1000, bool)
    far[900] = True
    assert score_series(far, spans) == pytest.approx(-1.0 - A_FP)  # far after: the full penalty
    assert -1.0 - A_FP < score_series(after, spans) < -1.0


def test_normalised_scores_run_from_never_alerting_to_perfect() -> None:
    series = [Series("a", np.zeros(1000), [500]), Series("b", np.zeros(2000), [1000, 1500])]
    never = [np.zeros(1000), np.zeros(2000)]
    assert score_corpus(series, never, thresholds=[0.5]).score == pytest.approx(0.0)
    perfect = [np.zeros(1000), np.zeros(2000)]
    for s, sc in zip(series, perfect, strict=True):
        for lo, _ in windows(len(s.values), s.labels):
            sc[lo] = 1.0
    result = score_corpus(series, perfect, thresholds=[0.5, 0.9])
    assert result.score == pytest.approx(100.0) and result.detected == result.windows == 3
    assert result.false_positives == 0


def test_the_corpus_is_labelled_after_the_probation_and_reproducible() -> None:
    a, b = corpus(14, 2000, seed=3), corpus(14, 2000, seed=3)
    assert all(np.array_equal(x.values, y.values) and x.labels == y.labels for x, y in zip(a, b, strict=True))
    kinds = {k for s in a for k in s.name.split("-")[2].split("+")}
    assert kinds == set(KINDS)  # every kind of anomaly appears
    for s in a:
        assert 1 <= len(s.labels) <= 3 and all(PROBATION * len(s.values) < at < len(s.values) for at in s.labels)
        assert np.all(np.isfinite(s.values))
