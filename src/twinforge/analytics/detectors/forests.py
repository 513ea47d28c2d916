"""Tree ensembles as streaming detectors, scored through the same calibration.

- `HalfSpace`: river's HalfSpaceTrees on values standardised by a slow exponentially weighted
  mean and variance and squashed into (0, 1), so that a spike neither stretches the scale for
  the values after it nor falls outside it. Until its first reference window is full (it
  scores 0 before), the deviation of that EWMA stands in.
- `IsolationBatch`: scikit-learn's IsolationForest fitted on a batch (the back-fill of a
  history), or on its own first ``fit_after`` values when it runs on a stream (and again every
  ``refit_every``); before that the EWMA deviation stands in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from twinforge.analytics.detectors.base import Ewma, Streaming
from twinforge.analytics.detectors.calibrate import Tail
from twinforge.errors import MissingDependency


def _odds(score: float) -> float:
    """A 0-1 tree score as an unbounded deviation (monotone, so the calibration keeps its order)."""
    return score / max(1e-6, 1.0 - score)


class HalfSpace(Streaming):
    def __init__(self, n_trees: int = 15, height: int = 10, window_size: int = 100, seed: int = 0,
                 alpha: float = 0.01, calibration: int = 2000) -> None:
        try:
            from river import anomaly
        except ImportError:  # pragma: no cover - river is in the [predict] extra
            raise MissingDependency("HalfSpaceTrees needs river: pip install 'twinforge[predict]'") from None
        super().__init__(2 * window_size, calibration)  # its first reference window is its second
        self.model = anomaly.HalfSpaceTrees(n_trees=n_trees, height=height, window_size=window_size, seed=seed)
        self.scale = Ewma(alpha=alpha, warmup=1)

    def _scaled(self, x: float) -> dict[str, float]:
        if self.scale.n == 0 or self.scale.var <= 1e-24:
            return {"x": 0.5}
        z = (x - self.scale.mean) / math.sqrt(self.scale.var)
        return {"x": 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z / 3.0))))}

    def deviation(self, x: float) -> tuple[float, float]:
        if self.warming:
            return self.scale.deviation(x)
        return _odds(float(self.model.score_one(self._scaled(x)))), math.inf  # type: ignore[no-untyped-call]

    def update(self, x: float) -> None:
        if self.n + 1 == self.warmup:
            self.tail = Tail(self.calibration)  # the trees' scores replace the stand-in's from now
        self.model.learn_one(self._scaled(x))  # type: ignore[no-untyped-call]
        self.scale.learn_one(x)


class IsolationBatch(Streaming):
    def __init__(self, n_estimators: int = 100, seed: int = 0, fit_after: int = 256, refit_every: int = 0,
                 calibration: int = 2000) -> None:
        try:
            from sklearn.ensemble import IsolationForest
        except ImportError:  # pragma: no cover - scikit-learn is in the [predict] extra
            raise MissingDependency("IsolationForest needs scikit-learn: pip install 'twinforge[predict]'") from None
        super().__init__(fit_after, calibration)
        self.forest = IsolationForest(n_estimators=n_estimators, random_state=seed)
        self.fitted = False
        self.seen: list[float] = []
        self.fit_after, self.refit_every = fit_after, refit_every
        self.stand_in = Ewma(alpha=0.05, warmup=1)

    @property
    def warming(self) -> bool:
        return not self.fitted

    def fit(self, values: Sequence[float]) -> IsolationBatch:
        self.forest.fit(np.asarray(values, dtype=float).reshape(-1, 1))
        if not self.fitted:
            self.tail = Tail(self.calibration)  # a new statistic: its distribution is learnt afresh
        self.fitted = True
        return self

    def raw_batch(self, values: Sequence[float]) -> np.ndarray:
        """The forest's own scores of many values at once (about 0.3-0.8)."""
        scores: np.ndarray = -self.forest.score_samples(np.asarray(values, dtype=float).reshape(-1, 1))
        return scores

    def score_batch(self, values: Sequence[float]) -> list[float]:
        """Calibrated scores of many values in order (the back-fill of a series): the forest
        scores them at once, the calibration follows them one by one."""
        tail = Tail()
        out = []
        for raw in self.raw_batch(values):
            z = _odds(float(raw))
            out.append(tail.score(z))
            tail.learn(z)
        return out

    def deviation(self, x: float) -> tuple[float, float]:
        if not self.fitted:
            return self.stand_in.deviation(x)
        return _odds(float(self.raw_batch([x])[0])), math.inf

    def update(self, x: float) -> None:
        self.seen.append(x)
        self.stand_in.learn_one(x)
        if len(self.seen) > 10_000:
            del self.seen[:-10_000]
        if (not self.fitted and len(self.seen) >= self.fit_after) or (self.refit_every and self.n % self.refit_every == 0 and self.n):
            self.fit(self.seen)


__all__: list[str] = ["HalfSpace", "IsolationBatch"]
