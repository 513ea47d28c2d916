"""A small multilayer perceptron (ReLU hidden layers, one linear output) as data: trained with
scikit-learn, stored as JSON numbers, read back by a strict reader and evaluated with NumPy, so
estimating needs no scikit-learn and a model file can hold nothing that runs.

The JSON (one member of a RUL model file): ``{"format": "twinforge-mlp", "inputMean": [...],
"inputScale": [...], "layers": [{"weights": [[...], ...], "bias": [...]}, ...]}``; each layer's
weights are ``inputs x outputs``; the last layer has one output.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from twinforge.analytics.gbm import ModelFormatError
from twinforge.analytics.threads import quiet_openmp

FORMAT = "twinforge-mlp"
MAX_WIDTH = 4096
MAX_LAYERS = 8
HIDDEN = (64, 32)


@dataclass(slots=True)
class Mlp:
    mean: np.ndarray
    scale: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]

    def predict(self, x: np.ndarray) -> np.ndarray:
        h = (np.asarray(x, dtype=float) - self.mean) / self.scale
        for k, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if k < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        out: np.ndarray = h[:, 0]
        return out

    def to_text(self) -> str:
        return json.dumps({"format": FORMAT, "inputMean": self.mean.tolist(), "inputScale": self.scale.tolist(),
                           "layers": [{"weights": w.tolist(), "bias": b.tolist()} for w, b in self.layers]},
                          separators=(",", ":"))


def _matrix(value: Any, rows: int | None, where: str) -> np.ndarray:
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise ModelFormatError(f"{where} is not a table of numbers") from None
    if arr.ndim != 2 or (rows is not None and arr.shape[0] != rows) or arr.shape[1] < 1 \
            or arr.shape[1] > MAX_WIDTH or not np.isfinite(arr).all():
        raise ModelFormatError(f"{where} must be {rows if rows is not None else 'n'} rows of finite numbers "
                               f"(at most {MAX_WIDTH} columns), got shape {arr.shape}")
    return arr


def _vector(value: Any, size: int, where: str) -> np.ndarray:
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise ModelFormatError(f"{where} is not a list of numbers") from None
    if arr.shape != (size,) or not np.isfinite(arr).all():
        raise ModelFormatError(f"{where} must be {size} finite numbers")
    return arr


def read_mlp(text: str, *, features: int) -> Mlp:
    """A member written by `Mlp.to_text`, checked throughout (shapes, finite numbers, sizes)."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise ModelFormatError("the network is not JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelFormatError(f"the network has no '{FORMAT}' format")
    mean = _vector(doc.get("inputMean"), features, "inputMean")
    scale = _vector(doc.get("inputScale"), features, "inputScale")
    if (scale <= 0).any():
        raise ModelFormatError("inputScale must be positive")
    layers_doc = doc.get("layers")
    if not isinstance(layers_doc, list) or not 1 <= len(layers_doc) <= MAX_LAYERS:
        raise ModelFormatError(f"the network needs 1 to {MAX_LAYERS} layers")
    layers = []
    width = features
    for k, layer in enumerate(layers_doc):
        if not isinstance(layer, dict):
            raise ModelFormatError(f"layer {k} is not an object")
        w = _matrix(layer.get("weights"), width, f"layer {k} weights")
        b = _vector(layer.get("bias"), w.shape[1], f"layer {k} bias")
        layers.append((w, b))
        width = w.shape[1]
    if width != 1:
        raise ModelFormatError(f"the last layer must have one output, has {width}")
    return Mlp(mean, scale, layers)


def fit_mlp(x: np.ndarray, y: np.ndarray, seed: int, hidden: tuple[int, ...] = HIDDEN) -> Mlp:
    """Train with scikit-learn (Adam, early stopping on a tenth of the rows) and keep the numbers."""
    quiet_openmp()
    try:
        from sklearn.neural_network import MLPRegressor
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn is in the [predict] extra
        from twinforge.errors import MissingDependency

        raise MissingDependency("RUL training needs scikit-learn: pip install 'twinforge[predict]'") from None
    mean = x.mean(0)
    scale = x.std(0)
    scale[~(scale > 0)] = 1.0
    net = MLPRegressor(hidden_layer_sizes=hidden, alpha=1e-3, max_iter=200, early_stopping=True,
                       random_state=seed)
    # One BLAS thread: the same seed gives the same numbers whatever the load (a different thread
    # count sums in another order), and no idle BLAS thread spins beside other work.
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # (early stopping may end at max_iter)
        net.fit((x - mean) / scale, y)
    layers = [(np.asarray(w, dtype=float), np.asarray(b, dtype=float))
              for w, b in zip(net.coefs_, net.intercepts_, strict=True)]
    if not all(np.isfinite(w).all() and np.isfinite(b).all() for w, b in layers):
        raise ModelFormatError("training diverged (non-finite weights)")
    return Mlp(mean, scale, layers)


__all__ = ["FORMAT", "Mlp", "fit_mlp", "read_mlp"]
