"""LightGBM's text model format, read by a strict parser of our own and evaluated with numpy.

A model that comes from outside (an upload) never reaches LightGBM's C++ parser, which may
abort the process on a malformed file: this reader checks every number, every child index and
the shape of every tree, and refuses what it does not support (categorical splits, linear
trees, objectives other than plain regression). Predictions match LightGBM's to rounding
(the trees' outputs are summed in a different order); LightGBM is not needed to predict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from twinforge.errors import InvalidArgument

_ZERO = 1e-35  # LightGBM's kZeroThreshold
_OBJECTIVES = ("regression", "regression_l2", "regression_l1", "huber", "fair", "quantile", "mape")
_MAX_TREES = 100_000
_MAX_LEAVES = 131_072


class ModelFormatError(InvalidArgument):
    code = "InvalidModel"


@dataclass(frozen=True, slots=True)
class Forest:
    """Every tree of a model in flat arrays: internal nodes (feature, threshold, how a missing
    value goes, children) and leaves; a child code >= 0 is an internal node, ~code a leaf."""

    features: int  # how many input columns
    feature: np.ndarray  # int64, per internal node
    threshold: np.ndarray  # float64
    default_left: np.ndarray  # bool
    missing: np.ndarray  # int8: 0 none, 1 zero, 2 NaN
    left: np.ndarray  # int64 child codes
    right: np.ndarray
    leaf_value: np.ndarray  # float64
    roots: np.ndarray  # int64, one code per tree
    depth: int  # the longest root-to-leaf path (a bound for the walk)

    @property
    def trees(self) -> int:
        return len(self.roots)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The model's output for each row of ``x`` (rows x features)."""
        x = np.asarray(x, dtype=float)
        if x.ndim != 2 or x.shape[1] != self.features:
            raise ValueError(f"expected rows of {self.features} features, got shape {x.shape}")
        n = x.shape[0]
        code = np.repeat(self.roots[:, None], n, axis=1)  # trees x rows
        rows = np.broadcast_to(np.arange(n)[None, :], code.shape)
        for _ in range(self.depth):
            inner = code >= 0
            if not inner.any():
                break
            node, row = code[inner], rows[inner]
            value = x[row, self.feature[node]]
            miss = self.missing[node]
            nan = np.isnan(value)
            value = np.where(nan & (miss != 2), 0.0, value)  # NaN is zero unless NaN is the missing value
            to_default = ((miss == 1) & (np.abs(value) <= _ZERO)) | ((miss == 2) & nan)
            go_left = np.where(to_default, self.default_left[node], value <= self.threshold[node])
            code[inner] = np.where(go_left, self.left[node], self.right[node])
        out: np.ndarray = self.leaf_value[~code].sum(axis=0)
        return out


def _numbers(fields: dict[str, str], key: str, count: int, where: str, kind: type = float,
             infinite: bool = False) -> list[float]:
    text = fields.get(key)
    if text is None:
        raise ModelFormatError(f"{where}: no {key}")
    parts = text.split()
    if len(parts) != count:
        raise ModelFormatError(f"{where}: {key} has {len(parts)} values, expected {count}")
    try:
        values = [kind(p) for p in parts]
    except ValueError:
        raise ModelFormatError(f"{where}: {key} holds something that is not a number") from None
    if kind is float and not all(math.isfinite(v) or (infinite and not math.isnan(v)) for v in values):
        raise ModelFormatError(f"{where}: {key} holds a value that is not {'a number' if infinite else 'finite'}")
    return values


def _sections(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The header's key=value lines and each tree's."""
    head, _, rest = text.partition("\nTree=")
    if not head.startswith("tree\n") or not rest:
        raise ModelFormatError("not a LightGBM text model (it starts with 'tree' and holds 'Tree=' sections)")
    body, found, _ = ("Tree=" + rest).partition("\nend of trees")
    if not found:
        raise ModelFormatError("the model has no 'end of trees' line (cut short?)")

    def pairs(block: str) -> dict[str, str]:
        out = {}
        for line in block.splitlines():
            key, eq, value = line.partition("=")
            if eq:
                out[key.strip()] = value.strip()
        return out

    trees = [pairs(block) for block in body.split("\n\n") if block.strip()]
    return pairs(head), trees


def read_forest(text: str, *, features: int | None = None) -> Forest:
    """A LightGBM text model (``Booster.model_to_string()``) as a `Forest`, checked throughout."""
    header, trees = _sections(text)
    if header.get("num_class", "1") != "1" or header.get("num_tree_per_iteration", "1") != "1":
        raise ModelFormatError("only single-output models are read (num_class=1)")
    objective = header.get("objective", "").split(" ")[0]
    if objective not in _OBJECTIVES:
        raise ModelFormatError(f"objective '{objective[:40]}' is not a plain regression")
    try:
        width = int(header["max_feature_idx"]) + 1
    except (KeyError, ValueError):
        raise ModelFormatError("the header has no max_feature_idx") from None
    if features is not None and width != features:
        raise ModelFormatError(f"the model reads {width} features, expected {features}")
    if not 0 < len(trees) <= _MAX_TREES:
        raise ModelFormatError(f"the model has {len(trees)} trees (1 to {_MAX_TREES:,} are read)")
    feature: list[int] = []
    threshold: list[float] = []
    decision: list[int] = []
    left: list[int] = []
    right: list[int] = []
    leaves: list[float] = []
    roots: list[int] = []
    depth = 1
    for t, tree in enumerate(trees):
        where = f"tree {t}"
        if tree.get("Tree") != str(t):
            raise ModelFormatError(f"{where}: trees are numbered 0, 1, ... in order")
        if tree.get("is_linear", "0") != "0" or tree.get("num_cat", "0") != "0":
            raise ModelFormatError(f"{where}: linear trees and categorical splits are not read")
        try:
            n = int(tree["num_leaves"])
        except (KeyError, ValueError):
            raise ModelFormatError(f"{where}: no num_leaves") from None
        if not 1 <= n <= _MAX_LEAVES:
            raise ModelFormatError(f"{where}: num_leaves {n} is out of range")
        values = _numbers(tree, "leaf_value", n, where)
        base_node, base_leaf = len(feature), len(leaves)
        leaves += values
        if n == 1:
            roots.append(~base_leaf)
            continue
        k = n - 1
        split = [int(v) for v in _numbers(tree, "split_feature", k, where, int)]
        if any(not 0 <= f < width for f in split):
            raise ModelFormatError(f"{where}: a split_feature is not a feature of the model")
        kinds = [int(v) for v in _numbers(tree, "decision_type", k, where, int)]
        if any(d & 1 or not 0 <= d < 16 for d in kinds):
            raise ModelFormatError(f"{where}: decision_type holds a categorical or unknown split")
        lefts = [int(v) for v in _numbers(tree, "left_child", k, where, int)]
        rights = [int(v) for v in _numbers(tree, "right_child", k, where, int)]
        children = lefts + rights
        if any(not -n <= c < k for c in children) or 0 in children \
                or sorted(c for c in children if c >= 0) != list(range(1, k)) \
                or sorted(~c for c in children if c < 0) != list(range(n)):
            raise ModelFormatError(f"{where}: left_child/right_child do not make a tree")
        depth = max(depth, _depth(lefts, rights))
        feature += split
        threshold += _numbers(tree, "threshold", k, where, infinite=True)  # inf: a split on missing values
        decision += kinds

        def code(c: int, base_node: int = base_node, base_leaf: int = base_leaf) -> int:
            return c + base_node if c >= 0 else ~(~c + base_leaf)

        left += [code(c) for c in lefts]
        right += [code(c) for c in rights]
        roots.append(base_node)
    kinds_array = np.array(decision, dtype=np.int64)
    return Forest(width, np.array(feature, dtype=np.int64), np.array(threshold, dtype=float),
                  (kinds_array & 2).astype(bool), ((kinds_array >> 2) & 3).astype(np.int8),
                  np.array(left, dtype=np.int64), np.array(right, dtype=np.int64), np.array(leaves, dtype=float),
                  np.array(roots, dtype=np.int64), depth)


def _depth(lefts: list[int], rights: list[int]) -> int:
    """The longest path from the root to a leaf, in steps (each node has one parent: checked)."""
    best, stack = 0, [(0, 1)]
    while stack:
        node, d = stack.pop()
        best = max(best, d)
        stack += [(c, d + 1) for c in (lefts[node], rights[node]) if c >= 0]
    return best


__all__ = ["Forest", "ModelFormatError", "read_forest"]
