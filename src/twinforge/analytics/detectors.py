"""Streaming anomaly detectors with river's shape: ``score_one(x)`` then ``learn_one(x)``.

- `RobustZ`: |x - median| / (1.4826·MAD) over a sliding window: robust to the outliers it finds.
- `Ewma`: |x - mean| / std of an exponentially weighted mean and variance.
- `HalfSpace`: river's HalfSpaceTrees on values standardised and squashed into (0, 1).
- `IsolationBatch`: scikit-learn's IsolationForest fitted on a batch (history back-fill),
  then scoring one value at a time.

Scores are "higher is more anomalous": about 0 for ordinary values; z-like detectors pass 3
for unusual ones, HalfSpace and IsolationBatch give values in [0, 1].
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from twinforge.errors import InvalidArgument, MissingDependency


class Detector(Protocol):
    """What every detector does."""

    def score_one(self, x: float) -> float:
        """How anomalous ``x`` is, given what was learnt so far."""
        ...

    def learn_one(self, x: float) -> None:
        """Take ``x`` into what is ordinary."""
        ...


class RobustZ:
    """Robust z-score over the last ``window`` values (0 until ``warmup`` values were seen).
    The median and MAD are recomputed every ``refresh`` values (they move slowly), which keeps
    scoring cheap on the ingest path."""

    def __init__(self, window: int = 60, warmup: int = 20, refresh: int = 8) -> None:
        self.values: deque[float] = deque(maxlen=window)
        self.warmup = warmup
        self.refresh = max(1, refresh)
        self._since = self.refresh
        self._median = 0.0
        self._mad = 1e-12

    def score_one(self, x: float) -> float:
        if len(self.values) < self.warmup:
            return 0.0
        if self._since >= self.refresh:
            data = np.fromiter(self.values, float, len(self.values))
            self._median = float(np.median(data))
            mad = float(np.median(np.abs(data - self._median))) * 1.4826
            if mad <= 1e-12:
                spread = float(np.std(data))
                mad = spread if spread > 1e-12 else 1e-12
            self._mad = mad
            self._since = 0
        return abs(x - self._median) / self._mad

    def learn_one(self, x: float) -> None:
        self.values.append(x)
        self._since += 1


class Ewma:
    """z-score against an exponentially weighted mean and variance (``alpha`` per value)."""

    def __init__(self, alpha: float = 0.05, warmup: int = 20) -> None:
        self.alpha, self.warmup = alpha, warmup
        self.mean = 0.0
        self.var = 0.0
        self.n = 0

    def score_one(self, x: float) -> float:
        if self.n < self.warmup:
            return 0.0
        return abs(x - self.mean) / math.sqrt(self.var) if self.var > 1e-24 else 0.0

    def learn_one(self, x: float) -> None:
        if self.n == 0:
            self.mean = x
        else:
            diff = x - self.mean
            incr = self.alpha * diff
            self.mean += incr
            self.var = (1 - self.alpha) * (self.var + diff * incr)
        self.n += 1


class HalfSpace:
    """river's HalfSpaceTrees on values squashed into (0, 1): standardised by a slow
    exponentially weighted mean and variance, then through a logistic curve, so that a
    spike neither stretches the scale for the values after it nor falls outside it."""

    def __init__(self, n_trees: int = 15, height: int = 10, window_size: int = 100, seed: int = 0,
                 alpha: float = 0.01) -> None:
        try:
            from river import anomaly
        except ImportError:  # pragma: no cover - river is in the [predict] extra
            raise MissingDependency("HalfSpaceTrees needs river: pip install 'twinforge[predict]'") from None
        self.model = anomaly.HalfSpaceTrees(n_trees=n_trees, height=height, window_size=window_size, seed=seed)
        self.scale = Ewma(alpha=alpha, warmup=1)

    def _scaled(self, x: float) -> dict[str, float]:
        if self.scale.n == 0 or self.scale.var <= 1e-24:
            return {"x": 0.5}
        z = (x - self.scale.mean) / math.sqrt(self.scale.var)
        return {"x": 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z / 3.0))))}

    def score_one(self, x: float) -> float:
        return float(self.model.score_one(self._scaled(x)))  # type: ignore[no-untyped-call]

    def learn_one(self, x: float) -> None:
        self.model.learn_one(self._scaled(x))  # type: ignore[no-untyped-call]
        self.scale.learn_one(x)


class IsolationBatch:
    """scikit-learn's IsolationForest: ``fit`` a batch (e.g. history), then score values."""

    def __init__(self, n_estimators: int = 100, seed: int = 0, refit_every: int = 0) -> None:
        try:
            from sklearn.ensemble import IsolationForest
        except ImportError:  # pragma: no cover - scikit-learn is in the [predict] extra
            raise MissingDependency("IsolationForest needs scikit-learn: pip install 'twinforge[predict]'") from None
        self.forest = IsolationForest(n_estimators=n_estimators, random_state=seed)
        self.fitted = False
        self.seen: list[float] = []
        self.refit_every = refit_every

    def fit(self, values: Sequence[float]) -> IsolationBatch:
        self.forest.fit(np.asarray(values, dtype=float).reshape(-1, 1))
        self.fitted = True
        return self

    def score_batch(self, values: Sequence[float]) -> np.ndarray:
        """Scores of many values at once (the back-fill of a series)."""
        scores: np.ndarray = -self.forest.score_samples(np.asarray(values, dtype=float).reshape(-1, 1))
        return scores

    def score_one(self, x: float) -> float:
        if not self.fitted:
            return 0.0
        return float(self.score_batch([x])[0])

    def learn_one(self, x: float) -> None:
        self.seen.append(x)
        if self.refit_every and len(self.seen) % self.refit_every == 0:
            self.fit(self.seen[-10_000:])


KINDS: dict[str, type[Any]] = {"robust_z": RobustZ, "ewma": Ewma, "half_space": HalfSpace,
                               "isolation_forest": IsolationBatch}


def make(kind: str, params: dict[str, Any] | None = None) -> Detector:
    """A detector of ``kind`` with ``params`` (a clear 400 for an unknown kind or parameter)."""
    from twinforge.documents import check
    from twinforge.documents.records import DETECTOR_PARAMS

    cls = KINDS.get(kind)
    if cls is None:
        raise InvalidArgument(f"unknown detector kind {kind!r} (known: {', '.join(KINDS)})", code="InvalidArgument")
    checked = check(DETECTOR_PARAMS[kind], params or {}, f"{kind} params")  # names and ranges
    detector: Detector = cls(**checked.model_dump(exclude_unset=True))
    return detector


__all__ = ["KINDS", "Detector", "Ewma", "HalfSpace", "IsolationBatch", "RobustZ", "make"]
