"""Hourly series and the M4 competition's measures, to score forecasts as M4 scored them.

The corpus (`corpus`) holds hourly series of the kinds the M4 hourly set is made of (electric
load, traffic, sensor readings): a daily and a weekly cycle of varying strength, trends, level
shifts, multiplicative or additive noise, occasional outliers; 700-960 values of history and
48 to forecast, as in M4. Unpredictable noise (iid and a random walk) at two levels.

Measures (M4's definitions): sMAPE (percent), MASE (scaled by the in-sample seasonal naive
error at the daily season), OWA (the mean of sMAPE and MASE each relative to Naive2's, over
the corpus: Naive2 scores 1), MSIS for a (1 - a) interval (M4 used a = 0.05) and the coverage
of a band.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

H = 48
M = 24


@dataclass(slots=True)
class Series:
    name: str
    history: np.ndarray
    future: np.ndarray


def _one(rng: np.random.Generator, n: int, h: int, kind: int, noise: tuple[float, float]) -> np.ndarray:
    t = np.arange(n + h, dtype=float)
    level = rng.uniform(50, 5000)
    daily_shape = np.sin(2 * np.pi * t / 24 + rng.uniform(0, 6.3)) + rng.uniform(0.2, 0.6) * \
        np.sin(4 * np.pi * t / 24 + rng.uniform(0, 6.3))
    weekday = np.repeat(np.r_[rng.uniform(0.9, 1.1, 5), rng.uniform(0.4, 0.9, 2)], 24)  # quieter weekends
    week = np.resize(weekday / weekday.mean(), n + h)
    daily = rng.uniform(0.1, 0.5)
    if kind % 3:  # the day's shape itself differs at weekends
        daily_shape = daily_shape * np.resize(np.repeat(np.r_[np.ones(5), rng.uniform(0.3, 0.8, 2)], 24), n + h)
    weekly = rng.uniform(0.2, 1.0) if kind % 3 else 0.0
    trend = rng.normal(0, 0.0003) * t
    noise_scale = rng.uniform(*noise)
    wander = np.cumsum(rng.normal(0, noise_scale * 0.15, n + h))
    if kind % 4 == 0:  # multiplicative: the cycle scales with the level
        x = level * (1 + trend + wander) * (1 + daily * daily_shape) * (1 + weekly * (week - 1)) \
            * (1 + rng.normal(0, noise_scale, n + h))
    else:
        x = level * (1 + trend + wander + daily * daily_shape + weekly * (week - 1)
                     + rng.normal(0, noise_scale, n + h))
    if kind % 5 == 1:  # a level shift in the history
        at = int(rng.integers(n // 3, n - 100))
        x[at:] += level * rng.uniform(-0.2, 0.2)
    if kind % 7 == 2:  # a few outliers
        for at in rng.integers(0, n, 4):
            x[at] *= rng.uniform(1.3, 2.0)
    return np.maximum(x, 1.0)


NOISE = {"moderate": (0.005, 0.04), "noisy": (0.02, 0.1)}


def corpus(count: int = 100, seed: int = 0, noise: str = "moderate") -> list[Series]:
    """``count`` series; ``noise`` is the share of the level that is unpredictable: ``moderate``
    (0.5-4 %, where seasonal naive and Theta stand to Naive2 about as they did on M4's hourly
    series) or ``noisy`` (2-10 %)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        n = int(rng.integers(700, 961))
        x = _one(rng, n, H, i, NOISE[noise])
        out.append(Series(f"H{i + 1}", x[:n], x[n:]))
    return out


def smape(truth: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(200.0 * np.abs(truth - pred) / (np.abs(truth) + np.abs(pred))))


def mase(history: np.ndarray, truth: np.ndarray, pred: np.ndarray, m: int = M) -> float:
    scale = float(np.mean(np.abs(history[m:] - history[:-m])))
    return float(np.mean(np.abs(truth - pred)) / scale)


def msis(history: np.ndarray, truth: np.ndarray, low: np.ndarray, high: np.ndarray, a: float = 0.05,
         m: int = M) -> float:
    scale = float(np.mean(np.abs(history[m:] - history[:-m])))
    penalty = (high - low) + 2 / a * (low - truth) * (truth < low) + 2 / a * (truth - high) * (truth > high)
    return float(np.mean(penalty) / scale)


def owa(smape_value: float, mase_value: float, smape_naive2: float, mase_naive2: float) -> float:
    return 0.5 * (smape_value / smape_naive2 + mase_value / mase_naive2)


__all__ = ["H", "M", "Series", "corpus", "mase", "msis", "owa", "smape"]
