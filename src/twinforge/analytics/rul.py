"""Remaining useful life from run-to-failure data (NASA C-MAPSS layout).

Features per cycle, from each engine's history up to that cycle (nothing from the future):
the 14 informative sensors standardised, their exponentially weighted means (two spans),
the mean, standard deviation and least-squares slope over the last 40 cycles, the mean
over the last 10, the running mean since the first cycle, and the cycle count. Targets are
the cycles left, capped at 125 (the usual piecewise-linear label). The model is a small
ensemble, one member per seed: multilayer perceptrons (``mlp``, the default: 64 and 32 ReLU
units, scikit-learn's Adam with early stopping) or gradient-boosted trees (``gbm``, LightGBM).
On five-fold cross-validation by engine over FD001 (test points cut as in the official test
set, truth uncapped) one MLP scored RMSE 12.3 where one LightGBM scored 14.1. The spread of
the members plus the validation error gives the low/high interval.

A model file is JSON: a manifest (format, version, the channels, the scaler, the validation
figures, a SHA-256 of the training data and of each member, each member's kind) and the
members: LightGBM's own text format, or the network's numbers as JSON. Nothing in it can run
code: the members are read by strict parsers (`twinforge.analytics.gbm`, `.mlp`) and
evaluated with numpy, so estimating needs neither LightGBM nor scikit-learn; training does.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from twinforge.analytics.gbm import Forest, ModelFormatError, read_forest
from twinforge.analytics.mlp import Mlp, fit_mlp, read_mlp
from twinforge.analytics.threads import free_cores, quiet_openmp
from twinforge.errors import InvalidArgument, MissingDependency

SENSORS = (2, 3, 4, 7, 8, 9, 11, 12, 13, 14, 15, 17, 20, 21)  # the informative FD001 channels
CAP = 125
WINDOW = 40
SHORT = 10
FORMAT = "twinforge-rul"
VERSION = 3  # 3: members of two kinds; 2 (all LightGBM) is still read
KINDS = ("mlp", "gbm")
FEATURES = 7 * len(SENSORS) + 1
MAX_MODEL_BYTES = 256 * 1024 * 1024


def read_cmapss(path: str | Path) -> np.ndarray:
    """A C-MAPSS text file as an array: unit, cycle, 3 settings, 21 sensors per row."""
    try:
        data = np.loadtxt(path, ndmin=2)
    except OSError as exc:
        raise InvalidArgument(f"cannot read {path}: {exc.strerror or exc}", code="InvalidArgument") from None
    except ValueError as exc:
        raise InvalidArgument(f"{path} is not a C-MAPSS file (26 numbers per line): {exc}",
                              code="InvalidArgument") from None
    if data.shape[1] != 26:
        raise InvalidArgument(f"{path}: expected 26 columns per line, found {data.shape[1]}", code="InvalidArgument")
    return data


def _ewm(x: np.ndarray, keep: float) -> np.ndarray:
    out = np.empty_like(x)
    acc = x[0].copy()
    for i in range(len(x)):
        acc = keep * acc + (1.0 - keep) * x[i]
        out[i] = acc
    return out


def unit_features(x: np.ndarray) -> np.ndarray:
    """Features at every cycle of one engine's (standardised) sensor history, shape (cycles, k)."""
    n, s = x.shape
    fast, slow = _ewm(x, 0.8), _ewm(x, 0.95)
    cum = np.vstack([np.zeros((1, s)), np.cumsum(x, 0)])
    cum2 = np.vstack([np.zeros((1, s)), np.cumsum(x * x, 0)])
    t = np.arange(n, dtype=float)
    ct = np.concatenate([[0.0], np.cumsum(t)])
    ct2 = np.concatenate([[0.0], np.cumsum(t * t)])
    ctx = np.vstack([np.zeros((1, s)), np.cumsum(t[:, None] * x, 0)])
    rows = np.empty((n, 7 * s + 1))
    for e in range(1, n + 1):
        lo, k = max(0, e - WINDOW), min(e, WINDOW)
        sx, sx2 = cum[e] - cum[lo], cum2[e] - cum2[lo]
        mean = sx / k
        std = np.sqrt(np.maximum(sx2 / k - mean * mean, 0.0))
        st, st2, stx = ct[e] - ct[lo], ct2[e] - ct2[lo], ctx[e] - ctx[lo]
        denom = st2 - st * st / k
        slope = (stx - st * sx / k) / denom if k > 1 and denom > 0 else np.zeros(s)
        lo10, k10 = max(0, e - SHORT), min(e, SHORT)
        rows[e - 1] = np.concatenate([fast[e - 1], slow[e - 1], mean, (cum[e] - cum[lo10]) / k10, std, slope,
                                      cum[e] / e, [e]])
    return rows


@dataclass(slots=True)
class RulModel:
    """A trained RUL model: normalisation, the ensemble, and what validation said."""

    mean: np.ndarray
    std: np.ndarray
    members: list[Forest | Mlp]
    residual_std: float  # the spread that makes the band cover 90 % of held-out points (cycles)
    info: dict[str, Any] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)  # the members as stored
    version: int = VERSION
    kinds: list[str] = field(default_factory=list)  # each member's kind (mlp, gbm)

    def standardise(self, sensors: np.ndarray) -> np.ndarray:
        """The 14 informative channels scaled as in training."""
        out: np.ndarray = (sensors - self.mean) / self.std
        return out

    def predict_features(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """RUL, low and high (about 90 %) for rows of features."""
        each = np.array([m.predict(features) for m in self.members])
        rul = np.clip(each.mean(0), 0.0, CAP)
        spread = np.sqrt(each.std(0) ** 2 + self.residual_std ** 2)
        return rul, np.clip(rul - 1.645 * spread, 0.0, None), rul + 1.645 * spread

    def predict_history(self, sensors: np.ndarray) -> tuple[float, float, float]:
        """RUL (low, high) at the last row of one engine's raw sensor history (rows x 21)."""
        x = self.standardise(np.asarray(sensors, dtype=float)[:, [s - 1 for s in SENSORS]])
        rul, low, high = self.predict_features(unit_features(x)[-1:])
        return float(rul[0]), float(low[0]), float(high[0])

    # -- the file format ----------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        """What the file says of itself (the members aside)."""
        return {"format": FORMAT, "version": VERSION, "channels": list(SENSORS), "features": FEATURES, "cap": CAP,
                "scaler": {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]},
                "residualStd": self.residual_std, "trainingData": self.info.get("trainingData"),
                "info": {k: v for k, v in self.info.items() if k != "trainingData"},
                "members": [{"kind": k, "sha256": _sha(t), "bytes": len(t.encode())}
                            for k, t in zip(self.kinds or ["gbm"] * len(self.texts), self.texts, strict=True)]}

    def to_bytes(self) -> bytes:
        return json.dumps({"manifest": self.manifest(), "members": self.texts}).encode()

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "the model") -> RulModel:
        """A model file, checked throughout; a pickle from an older twinforge is refused unread."""
        if data[:1] == b"\x80":
            raise ModelFormatError(f"{where} is a RUL model from an older twinforge (a Python pickle, which is "
                                   "never loaded: it could run code); train it again with twinforge rul train")
        if len(data) > MAX_MODEL_BYTES:
            raise ModelFormatError(f"{where} is {len(data):,} bytes; a RUL model is at most {MAX_MODEL_BYTES:,}")
        try:
            doc = json.loads(data)
        except (UnicodeDecodeError, ValueError):
            raise ModelFormatError(f"{where} is not a twinforge RUL model (a JSON document)") from None
        manifest = doc.get("manifest") if isinstance(doc, dict) else None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ModelFormatError(f"{where} is not a twinforge RUL model (no '{FORMAT}' manifest)")
        if manifest.get("version") not in (2, VERSION):
            raise ModelFormatError(f"{where} is a RUL model of format version {manifest.get('version')!r}; "
                                   f"this twinforge reads versions 2 and {VERSION}: train it again")
        if manifest.get("channels") != list(SENSORS) or manifest.get("features") != FEATURES \
                or manifest.get("cap") != CAP:
            raise ModelFormatError(f"{where}: its channels, features or cap are not this twinforge's")
        scaler: Any = manifest.get("scaler")
        try:
            mean: np.ndarray = np.array(scaler["mean"], dtype=float)
            std: np.ndarray = np.array(scaler["std"], dtype=float)
            residual = float(manifest["residualStd"])
        except (TypeError, KeyError, ValueError):
            raise ModelFormatError(f"{where}: the scaler or residualStd is missing or not numbers") from None
        if mean.shape != (len(SENSORS),) or std.shape != (len(SENSORS),) or not np.isfinite(mean).all() \
                or not (np.isfinite(std).all() and (std > 0).all()) or not (math.isfinite(residual) and residual >= 0):
            raise ModelFormatError(f"{where}: the scaler needs {len(SENSORS)} finite means and positive deviations")
        texts, listed = doc.get("members"), manifest.get("members")
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts) \
                or not isinstance(listed, list) or len(listed) != len(texts):
            raise ModelFormatError(f"{where}: the members do not match the manifest")
        kinds = []
        for k, (text, entry) in enumerate(zip(texts, listed, strict=True)):
            if not isinstance(entry, dict) or entry.get("sha256") != _sha(text):
                raise ModelFormatError(f"{where}: member {k} does not match its SHA-256 in the manifest")
            kind = entry.get("kind", "gbm")
            if kind not in KINDS:
                raise ModelFormatError(f"{where}: member {k} is of kind {kind!r}; known: {', '.join(KINDS)}")
            kinds.append(kind)
        members: list[Forest | Mlp] = []
        for k, (kind, text) in enumerate(zip(kinds, texts, strict=True)):
            try:
                members.append(read_forest(text, features=FEATURES) if kind == "gbm" else
                               read_mlp(text, features=FEATURES))
            except ModelFormatError as exc:
                raise ModelFormatError(f"{where}: member {k}: {exc}") from None
        info: dict[str, Any] = manifest["info"] if isinstance(manifest.get("info"), dict) else {}
        return cls(mean, std, members, residual, {**info, "trainingData": manifest.get("trainingData")}, texts,
                   kinds=kinds)

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(self.to_bytes())

    @staticmethod
    def load(path: str | Path) -> RulModel:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise InvalidArgument(f"cannot read {path}: {exc.strerror or exc}", code="InvalidArgument") from None
        return RulModel.from_bytes(data, str(path))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _units(data: np.ndarray) -> dict[int, np.ndarray]:
    units = data[:, 0].astype(int)
    return {int(u): data[units == u] for u in np.unique(units)}


def _regressor(seed: int) -> Any:
    quiet_openmp()  # before LightGBM loads its OpenMP runtime
    try:
        import lightgbm as lgb
    except ImportError:  # pragma: no cover - lightgbm is in the [predict] extra
        raise MissingDependency("RUL models need lightgbm: pip install 'twinforge[predict]'") from None
    return lgb.LGBMRegressor(n_estimators=800, learning_rate=0.02, num_leaves=15, min_child_samples=80,
                             subsample=0.7, subsample_freq=1, colsample_bytree=0.6, reg_lambda=5.0,
                             random_state=seed, n_jobs=free_cores(), deterministic=True, force_row_wise=True,
                             verbose=-1)


def _fit(features: list[np.ndarray], targets: list[np.ndarray], seed: int, members: int,
         kind: str) -> list[str]:
    """The members as stored: LightGBM's text format, or the network as JSON."""
    x, y = np.vstack(features), np.concatenate(targets)
    out = []
    for k in range(members):
        if kind == "mlp":
            out.append(fit_mlp(x, y, seed * 1000 + k).to_text())
            continue
        reg = _regressor(seed * 1000 + k)
        reg.fit(x, y)
        out.append(reg.booster_.model_to_string())
    return out


def _read(kind: str, text: str) -> Forest | Mlp:
    return read_forest(text, features=FEATURES) if kind == "gbm" else read_mlp(text, features=FEATURES)


def _test_points(lengths: dict[int, int], rng: np.random.Generator, per_unit: int) -> list[tuple[int, int]]:
    """Cut points like the official test set's: true RUL between 5 and 145 cycles, at least
    31 cycles seen."""
    points = []
    for u, n in lengths.items():
        top = min(146, n - 30)
        if top <= 5:
            continue
        for _ in range(per_unit):
            points.append((u, n - int(rng.integers(5, top))))
    return points


def rmse(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(pred) - np.asarray(truth)) ** 2)))


def nasa_score(pred: np.ndarray, truth: np.ndarray) -> float:
    """The PHM08 scoring function: late predictions cost more than early ones."""
    d = np.asarray(pred, dtype=float) - np.asarray(truth, dtype=float)
    return float(np.sum(np.where(d < 0, np.exp(-d / 13.0) - 1.0, np.exp(d / 10.0) - 1.0)))


def _calibrate(probe: RulModel, rows: np.ndarray, truth: np.ndarray, level: float = 0.9) -> tuple[float, float]:
    """The residual spread that makes the band cover ``level`` of the held-out points (split
    conformal, on the capped truth the model predicts), and the coverage reached."""
    each = np.array([m.predict(rows) for m in probe.members])
    pred, spread = np.clip(each.mean(0), 0.0, CAP), each.std(0)

    def cover(r: float) -> float:
        half = 1.645 * np.sqrt(spread ** 2 + r * r)
        return float(np.mean((truth >= np.clip(pred - half, 0.0, None)) & (truth <= pred + half)))

    lo, hi = 0.0, 200.0
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if cover(mid) >= level else (mid, hi)
    return hi, cover(hi)


def train(data: np.ndarray, *, seed: int = 0, members: int = 3, holdout: float = 0.2, kind: str = "mlp",
          refit: bool = True, progress: Any = None) -> RulModel:
    """Train on run-to-failure data. A share of whole engines (``holdout``) is held out first
    to measure RMSE (capped truth and uncapped truth) and to calibrate the interval, then the
    model is refitted on all (unless ``refit`` is off: the benchmark's validation only).
    ``kind``: ``mlp`` (the default) or ``gbm``."""
    if kind not in KINDS:
        raise InvalidArgument(f"unknown RUL model kind {kind!r} (known: {', '.join(KINDS)})", code="InvalidArgument")
    began = time.perf_counter()
    engines = _units(data)
    if len(engines) < 5:
        raise InvalidArgument(f"training needs run-to-failure data of at least 5 engines, got {len(engines)}",
                              code="InvalidArgument")
    raw = data[:, [4 + s for s in SENSORS]]
    mean, std = raw.mean(0), raw.std(0)
    std[std == 0] = 1.0
    feats, targets = {}, {}
    for u, rows in engines.items():
        x = (rows[:, [4 + s for s in SENSORS]] - mean) / std
        feats[u] = unit_features(x)
        n = len(rows)
        targets[u] = np.minimum(CAP, n - np.arange(1, n + 1)).astype(float)
    rng = np.random.default_rng(seed)
    ids = np.array(sorted(engines))
    held = set(rng.choice(ids, size=max(1, round(len(ids) * holdout)), replace=False).tolist())
    kept = [u for u in ids if u not in held]
    if progress:
        progress(f"training on {len(kept)} engines, validating on {len(held)}")
    members_fit = _fit([feats[u] for u in kept], [targets[u] for u in kept], seed, members, kind)
    probe = RulModel(mean, std, [_read(kind, t) for t in members_fit], 0.0)
    points = _test_points({u: len(engines[u]) for u in held}, np.random.default_rng(seed + 1), per_unit=10)
    rows = np.array([feats[u][e - 1] for u, e in points])
    truth = np.array([len(engines[u]) - e for u, e in points], dtype=float)
    pred, _, _ = probe.predict_features(rows)
    info: dict[str, Any] = {"engines": len(ids), "heldOut": sorted(int(u) for u in held), "validationPoints": len(points),
            "rmse": rmse(pred, np.minimum(truth, CAP)), "rmseUncapped": rmse(pred, truth),
            "score": nasa_score(pred, truth) / len(points) * 100, "seed": seed, "members": members, "kind": kind,
            "trainingData": "sha256:" + hashlib.sha256(np.ascontiguousarray(data, dtype=float).tobytes()).hexdigest()}
    residual, coverage = _calibrate(probe, rows, np.minimum(truth, CAP))
    info["intervalCoverage"] = coverage
    if not refit:
        info["trainSeconds"] = time.perf_counter() - began
        return RulModel(mean, std, probe.members, residual, info, members_fit, kinds=[kind] * members)
    if progress:
        progress(f"validation RMSE {info['rmse']:.2f}; refitting on all {len(ids)} engines")
    final = _fit([feats[u] for u in ids], [targets[u] for u in ids], seed, members, kind)
    info["trainSeconds"] = time.perf_counter() - began
    return RulModel(mean, std, [_read(kind, t) for t in final], residual, info, final, kinds=[kind] * members)


def evaluate(model: RulModel, test: np.ndarray, truth: Sequence[float]) -> dict[str, Any]:
    """RMSE and the NASA score over each test engine's last cycle (the official protocol)."""
    engines = _units(test)
    if len(truth) != len(engines):
        raise InvalidArgument(f"the truth file has {len(truth)} values for {len(engines)} test engines",
                              code="InvalidArgument")
    preds = []
    for u in sorted(engines):
        rul, _, _ = model.predict_history(engines[u][:, 5:26])
        preds.append(rul)
    p, t = np.array(preds), np.asarray(truth, dtype=float)
    return {"engines": len(engines), "rmse": rmse(p, t), "score": nasa_score(p, t),
            "predictions": [round(float(v), 2) for v in p]}


def read_truth(path: str | Path) -> list[float]:
    try:
        values = np.loadtxt(path, ndmin=2)
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"cannot read the truth file {path}: {exc}", code="InvalidArgument") from None
    if values.shape[1] != 1:
        raise InvalidArgument(f"the truth file {path} must hold one number per line (the true RUL of each "
                              f"test engine), found {values.shape[1]} per line", code="InvalidArgument")
    return [float(v) for v in values[:, 0] if math.isfinite(v)]


__all__ = ["CAP", "SENSORS", "RulModel", "evaluate", "nasa_score", "read_cmapss", "read_truth", "rmse", "train",
           "unit_features"]
