"""Our reader of LightGBM's text models: the same predictions as LightGBM, and no malformed
file gets past it (LightGBM's own parser aborts the process on some; ours only refuses)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tests.requirements import need_module
from twinforge.analytics.gbm import ModelFormatError, read_forest

lgb = need_module("lightgbm")


def _model(zero_as_missing: bool = False) -> tuple[object, str]:
    rng = np.random.default_rng(0)
    x = rng.random((2000, 6))
    x[rng.random(x.shape) < 0.1] = np.nan
    x[rng.random(x.shape) < 0.05] = 0.0
    y = np.nan_to_num(x) @ np.arange(1, 7) + rng.normal(0, 0.1, 2000)
    reg = lgb.LGBMRegressor(n_estimators=120, num_leaves=15, verbose=-1, n_jobs=1, zero_as_missing=zero_as_missing)
    reg.fit(x, y)
    return reg, reg.booster_.model_to_string()


@pytest.mark.parametrize("zero_as_missing", [False, True])
def test_predictions_match_lightgbm_with_missing_values(zero_as_missing: bool) -> None:
    reg, text = _model(zero_as_missing)
    forest = read_forest(text, features=6)
    rng = np.random.default_rng(1)
    x = rng.random((400, 6)) * 1.2 - 0.1
    x[rng.random(x.shape) < 0.2] = np.nan
    x[rng.random(x.shape) < 0.1] = 0.0
    assert forest.trees == 120
    np.testing.assert_allclose(forest.predict(x), reg.predict(x), rtol=0, atol=1e-9)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="rows of 6 features"):
        forest.predict(x[:, :5])


def test_mutated_models_are_refused_or_read_never_crash() -> None:
    _, text = _model()
    head, _, _ = text.partition("end of trees")
    body = head + "end of trees\n"
    rng = random.Random(7)
    refused = 0
    for _ in range(400):
        chars = list(body)
        for _ in range(rng.randint(1, 12)):
            chars[rng.randrange(len(chars))] = rng.choice("0123456789-=.,\n e[]abz:+")
        try:
            forest = read_forest("".join(chars), features=6)
        except ModelFormatError:
            refused += 1
            continue
        assert np.isfinite(forest.predict(np.zeros((2, 6)))).all()  # what is read evaluates
    assert refused > 100


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.replace("objective=regression", "objective=multiclass num_class:3"), "not a plain regression"),
    (lambda t: t.replace("left_child=", "left_child=0 ", 1), "left_child"),
    (lambda t: t.replace("num_cat=0", "num_cat=1", 1), "categorical"),
    (lambda t: t.replace("max_feature_idx=5", "max_feature_idx=9"), "reads 10 features, expected 6"),
    (lambda t: t.split("\nend of trees")[0], "no 'end of trees'"),
    (lambda t: "import os\n" + t, "not a LightGBM text model"),
])
def test_what_is_refused_is_named(change: object, message: str) -> None:
    _, text = _model()
    with pytest.raises(ModelFormatError, match=message):
        read_forest(change(text), features=6)  # type: ignore[operator]


def test_a_child_cycle_is_refused() -> None:
    _, text = _model()
    lines = text.splitlines()
    k = next(i for i, line in enumerate(lines) if line.startswith("left_child="))
    values = lines[k].split("=")[1].split()
    values[1] = "1"  # node 1 its own child: not a tree
    lines[k] = "left_child=" + " ".join(values)
    with pytest.raises(ModelFormatError, match="do not make a tree"):
        read_forest("\n".join(lines) + "\n", features=6)
