"""A missing suite prerequisite skips on a developer's machine and fails under CI."""

from __future__ import annotations

import pytest

from tests.requirements import missing, need_module


def test_missing_skips_without_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no broker"):
        missing("no broker")


def test_missing_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI needs this suite to run: no broker"):
        missing("no broker")
    with pytest.raises(pytest.fail.Exception, match="no_such_package_here"):
        need_module("no_such_package_here")
    assert need_module("json").dumps([]) == "[]"
