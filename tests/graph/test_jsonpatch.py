"""Our RFC 6902 implementation agrees with the reference `jsonpatch` library."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch as reference
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twinforge.graph.jsonpatch import PatchError, apply_patch

keys = st.sampled_from(["a", "b", "c", "a/b", "m~n"])
scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(keys, inner, max_size=3), max_leaves=8)
docs = st.dictionaries(keys, values, max_size=4)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


@st.composite
def patches(draw: st.DrawFn) -> list[dict[str, Any]]:
    ops = []
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["add", "remove", "replace", "move", "copy", "test"]))
        path = "/" + "/".join(_escape(draw(keys)) for _ in range(draw(st.integers(1, 2))))
        entry: dict[str, Any] = {"op": op, "path": path}
        if op in ("add", "replace", "test"):
            entry["value"] = draw(values)
        if op in ("move", "copy"):
            entry["from"] = "/" + _escape(draw(keys))
        ops.append(entry)
    return ops


@settings(max_examples=400, deadline=None)
@given(docs, patches())
def test_agrees_with_reference(doc: dict[str, Any], patch: list[dict[str, Any]]) -> None:
    try:
        # One operation at a time on a fresh copy: the reference library's `copy` shares the
        # copied object with its source, so a later change to one would show in the other.
        expected: Any = doc
        for op in patch:
            expected = reference.apply_patch(copy.deepcopy(expected), [op])
    except (reference.JsonPatchException, reference.JsonPointerException, KeyError, IndexError, TypeError):
        with pytest.raises(PatchError):
            apply_patch(doc, patch)
        return
    assert apply_patch(doc, patch) == expected


def test_input_untouched_on_failure() -> None:
    doc = {"a": 1}
    with pytest.raises(PatchError):
        apply_patch(doc, [{"op": "add", "path": "/b", "value": 2}, {"op": "remove", "path": "/zz"}])
    assert doc == {"a": 1}


def test_array_ops() -> None:
    doc = {"xs": [1, 2, 3]}
    assert apply_patch(doc, [{"op": "add", "path": "/xs/-", "value": 4}]) == {"xs": [1, 2, 3, 4]}
    assert apply_patch(doc, [{"op": "remove", "path": "/xs/0"}]) == {"xs": [2, 3]}
    with pytest.raises(PatchError, match="out of range"):
        apply_patch(doc, [{"op": "replace", "path": "/xs/9", "value": 0}])


@pytest.mark.parametrize("op", ["add", "remove", "replace", "move", "copy", "test"])
def test_a_path_that_is_not_a_string_is_refused(op: str) -> None:
    # atheris with the JSON mutator found {"op": "move", "path": {}, "from": "/a"} raising AttributeError
    with pytest.raises(PatchError, match=r"operation 0 \(" + op + r"\): 'path' must be a JSON Pointer string, got dict"):
        apply_patch({"a": 1}, [{"op": op, "path": {}, "from": "/a", "value": 1}])
