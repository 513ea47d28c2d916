"""Streaming anomaly detectors with river's shape: ``score_one(x)`` then ``learn_one(x)``.

Every detector's score is calibrated the same way (`calibrate`): a number in [0, 1] that is
the tail probability of the detector's statistic on a log scale (``tail = 10^(-10·score)``:
0.3 about once in a thousand ordinary values, 0.5 once in 100,000), stable from the second
value on (a spread estimated from few values counts as such), with no division by a flat
stream's zero spread. ``warming`` says while a detector rests on fewer values than its
warm-up.

- `RobustZ`: median and MAD of a sliding window.
- `Ewma`: exponentially weighted mean and variance.
- `Seasonal`: residual of an online level + season model, the period found by itself.
- `Discord`: nearest-neighbour distance of the newest subsequence (KNN-CAD / matrix profile).
- `ChangePoint`: Bayesian online change-point detection (Adams & MacKay).
- `HalfSpace`: river's HalfSpaceTrees.
- `IsolationBatch`: scikit-learn's IsolationForest, fitted on history or its first values.
- `Ensemble`: several of them, one score (the default: robust z, seasonal, discord).
"""

from __future__ import annotations

from typing import Any

from twinforge.analytics.detectors.base import Detector, Ewma, RobustZ, Streaming
from twinforge.analytics.detectors.changepoint import ChangePoint
from twinforge.analytics.detectors.ensemble import Ensemble
from twinforge.analytics.detectors.forests import HalfSpace, IsolationBatch
from twinforge.analytics.detectors.seasonal import Discord, Seasonal
from twinforge.errors import InvalidArgument

KINDS: dict[str, type[Any]] = {"robust_z": RobustZ, "ewma": Ewma, "seasonal": Seasonal, "discord": Discord,
                               "changepoint": ChangePoint, "half_space": HalfSpace,
                               "isolation_forest": IsolationBatch, "ensemble": Ensemble}


def make(kind: str, params: dict[str, Any] | None = None) -> Any:
    """A detector of ``kind`` with ``params`` (a clear 400 for an unknown kind or parameter,
    or a value out of its range)."""
    from twinforge.documents import check
    from twinforge.documents.records import DETECTOR_PARAMS

    cls = KINDS.get(kind)
    if cls is None:
        raise InvalidArgument(f"unknown detector kind {kind!r} (known: {', '.join(KINDS)})", code="InvalidArgument")
    doc = check(DETECTOR_PARAMS[kind], params or {}, f"{kind} params")
    if cls is Ensemble:
        each: dict[str, dict[str, Any]] = dict(doc.params)  # type: ignore[attr-defined]
        return Ensemble([make(k, each.get(k)) for k in doc.members])  # type: ignore[attr-defined]
    return cls(**doc.model_dump(exclude_unset=True))


__all__ = ["KINDS", "ChangePoint", "Detector", "Discord", "Ensemble", "Ewma", "HalfSpace", "IsolationBatch",
           "RobustZ", "Seasonal", "Streaming", "make"]
