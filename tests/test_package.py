"""Package hygiene: docstring examples run, and public names are exported."""

from __future__ import annotations

import doctest
import importlib

import pytest

import twinforge.dtdl

PACKAGES = ["twinforge.dtdl", "twinforge.graph", "twinforge.store", "twinforge.api"]


def test_docstring_examples_run() -> None:
    result = doctest.testmod(twinforge.dtdl, raise_on_error=False)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_complete(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    public = {n for n, v in vars(module).items()
              if not n.startswith("_") and getattr(v, "__module__", "").startswith("twinforge")
              and getattr(v, "__module__", "") != "twinforge.errors"}
    assert public <= exported, public - exported
    for n in exported:
        assert hasattr(module, n), n
