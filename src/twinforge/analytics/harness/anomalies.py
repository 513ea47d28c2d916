"""Labelled streams and a scorer with the Numenta Anomaly Benchmark's rules.

The corpus (`corpus`): series of the kinds such benchmarks hold (daily cycles with noise,
random walks, spiky counts, near-flat machine signals, noisy cloud metrics with harmless
bursts), each with one to three anomalies of the kinds they label: spikes and dips, level
shifts, trend changes, frequency changes, noise bursts, a signal that freezes. Labels are the
anomalies' first values; nothing happens in a series' first 15 % (the probation).

The scorer (`score_corpus`) follows NAB's standard profile: a window of 10 % of the series'
length (shared among its anomalies) is centred on each label; the first detection in a window
earns ``scaled_sigmoid`` of its position (about 1 at the window's start, 0 at its end); a
window with none costs 1; each detection outside windows costs 0.11, less when it comes just
after a window; detections in the probation are ignored. The total is normalised so that
never alerting scores 0 and detecting every window at its start 100. The threshold is the
one that scores best on the whole corpus (as NAB chooses it), and the score at a fixed
threshold is reported too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

A_TP, A_FP, A_FN = 1.0, 0.11, 1.0
PROBATION = 0.15
KINDS = ("spike", "dip", "level", "trend", "frequency", "noise", "freeze")
BASES = ("daily", "walk", "counts", "flat", "bursty")


@dataclass(slots=True)
class Series:
    name: str
    values: np.ndarray
    labels: list[int]


def _base(kind: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    """A series without anomalies, its period (values per cycle, 0 for none) and its noise."""
    t = np.arange(n)
    if kind == "daily":
        period = int(rng.choice([96, 144, 288]))
        amp, noise = rng.uniform(2, 10), rng.uniform(0.3, 1.5)
        level = rng.uniform(20, 80)
        x = level + amp * np.sin(2 * np.pi * t / period) + 0.3 * amp * np.sin(4 * np.pi * t / period + 1) \
            + rng.normal(0, noise, n)
        return x, period, noise
    if kind == "walk":
        noise = rng.uniform(0.2, 1.0)
        x = 50 + np.cumsum(rng.normal(0, 0.05 * noise, n)) + rng.normal(0, noise, n)
        return x, 0, noise
    if kind == "counts":
        period = int(rng.choice([144, 288]))
        rate = rng.uniform(5, 30) * (1 + 0.5 * np.sin(2 * np.pi * t / period))
        x = rng.poisson(rate).astype(float)
        return x, period, float(np.sqrt(rate.mean()))
    if kind == "flat":
        level, noise = rng.uniform(10, 100), rng.uniform(0.01, 0.1)
        x = level + np.round(rng.normal(0, noise, n), 2)
        return x, 0, noise
    noise = rng.uniform(0.5, 2.0)
    x = 40 + rng.normal(0, noise, n)
    for _ in range(int(rng.integers(3, 8))):  # harmless short bursts, part of the ordinary
        at = int(rng.integers(0, n - 5))
        x[at:at + 3] += rng.uniform(2, 4) * noise
    return x, 0, noise


def _inject(x: np.ndarray, at: int, kind: str, period: float, noise: float, rng: np.random.Generator) -> None:
    n = len(x)
    spread = max(noise, 0.02 * (np.percentile(x, 95) - np.percentile(x, 5)))
    if kind == "spike":
        x[at] += rng.uniform(6, 12) * spread
    elif kind == "dip":
        x[at] -= rng.uniform(6, 12) * spread
    elif kind == "level":
        x[at:] += rng.choice([-1, 1]) * rng.uniform(3, 6) * spread
    elif kind == "trend":
        x[at:] += rng.choice([-1, 1]) * rng.uniform(0.02, 0.05) * spread * np.arange(n - at)
    elif kind == "frequency":
        p = period or 100.0
        t = np.arange(n - at)
        amp = max(2.0 * spread, 0.5 * (np.percentile(x, 95) - np.percentile(x, 5)))
        x[at:] += amp * (np.sin(2 * np.pi * t / (p / 3)) - np.sin(2 * np.pi * t / p))
    elif kind == "noise":
        length = int(rng.integers(50, 200))
        x[at:at + length] += rng.normal(0, rng.uniform(3, 5) * spread, min(length, n - at))
    else:  # freeze: the sensor repeats its last value
        length = int(rng.integers(100, 300))
        x[at:at + length] = x[at - 1]


def corpus(count: int = 58, length: int = 4000, seed: int = 0) -> list[Series]:
    """``count`` labelled series of ``length`` values (see the module)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        base = BASES[i % len(BASES)]
        x, period, noise = _base(base, length, rng)
        k = int(rng.integers(1, 4))
        start = int(length * (PROBATION + 0.05))
        slots = np.sort(rng.choice(np.arange(start, length - 100, 50), size=k, replace=False))
        gap = (length - start) // k
        labels: list[int] = []
        for j, at in enumerate(slots):
            at = max(int(at), labels[-1] + gap // 2 if labels else int(at))
            if at >= length - 100:
                break
            kind = KINDS[(i + j) % len(KINDS)]
            _inject(x, at, kind, period, noise, rng)
            labels.append(at)
        out.append(Series(f"{base}-{i}-{'+'.join(KINDS[(i + j) % len(KINDS)] for j in range(len(labels)))}",
                          x, labels))
    return out


def windows(n: int, labels: Sequence[int]) -> list[tuple[int, int]]:
    """NAB's windows: 10 % of the length shared among the labels, centred on each."""
    if not labels:
        return []
    size = int(0.1 * n / len(labels))
    spans = sorted((max(0, a - size // 2), min(n - 1, a + size // 2)) for a in labels)
    merged: list[tuple[int, int]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def scaled_sigmoid(position: float) -> float:
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def score_series(detections: np.ndarray, spans: list[tuple[int, int]]) -> float:
    """NAB's raw score of one series: ``detections`` is a boolean per value."""
    n = len(detections)
    probation = int(PROBATION * n)
    total = 0.0
    hit = [False] * len(spans)
    for i in np.flatnonzero(detections):
        if i < probation:
            continue
        inside = next((k for k, (lo, hi) in enumerate(spans) if lo <= i <= hi), None)
        if inside is not None:
            if not hit[inside]:
                lo, hi = spans[inside]
                hit[inside] = True
                total += A_TP * scaled_sigmoid(-(hi - i + 1) / (hi - lo + 1))
            continue
        before = [k for k, (_, hi) in enumerate(spans) if hi < i]
        if before:
            lo, hi = spans[before[-1]]
            weight = -scaled_sigmoid((i - hi) / (hi - lo + 1))
        else:
            weight = 1.0
        total -= A_FP * weight
    return total - A_FN * hit.count(False)


@dataclass(slots=True)
class Result:
    score: float  # normalised, at the best threshold
    threshold: float
    at_fixed: float  # normalised, at the documented threshold
    detected: int  # windows with a detection, at the best threshold
    windows: int
    false_positives: int


def score_corpus(series: Sequence[Series], scores: Sequence[np.ndarray], *, fixed: float = 0.5,
                 thresholds: Sequence[float] | None = None) -> Result:
    """Normalised NAB score (0 never alerts, 100 perfect) of the detector scores of each series."""
    spans = [windows(len(s.values), s.labels) for s in series]
    null = -A_FN * sum(len(w) for w in spans)
    perfect = A_TP * scaled_sigmoid(-1.0) * sum(len(w) for w in spans)

    def normalised(threshold: float) -> tuple[float, int, int]:
        total, detected, fps = 0.0, 0, 0
        for sc, w in zip(scores, spans, strict=True):
            det = sc >= threshold
            total += score_series(det, w)
            probation = int(PROBATION * len(det))
            inside = np.zeros(len(det), bool)
            for lo, hi in w:
                inside[lo:hi + 1] = True
                detected += bool(det[lo:hi + 1].any())
            fps += int((det & ~inside)[probation:].sum())
        return 100 * (total - null) / (perfect - null), detected, fps

    grid = list(thresholds) if thresholds is not None else [round(v, 3) for v in np.arange(0.05, 1.0001, 0.01)]
    best = max(grid, key=lambda t: normalised(t)[0])
    value, detected, fps = normalised(best)
    return Result(value, best, normalised(fixed)[0], detected, sum(len(w) for w in spans), fps)


def run_detector(factory: Callable[[], object], values: np.ndarray) -> np.ndarray:
    """Scores of a fresh detector over a series, value by value (score, then learn)."""
    detector = factory()
    score, learn = detector.score_one, detector.learn_one  # type: ignore[attr-defined]
    out = np.empty(len(values))
    for i, x in enumerate(values.tolist()):
        out[i] = score(x)
        learn(x)
    return out


__all__ = ["KINDS", "Result", "Series", "corpus", "run_detector", "score_corpus", "score_series", "windows"]
