"""Package hygiene: docstring examples run, public names are exported and documented."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil

import pytest

import twinforge

PACKAGES = sorted(m.name for m in pkgutil.walk_packages(twinforge.__path__, "twinforge.") if m.ispkg)
DOCUMENTED = ["twinforge.dtdl", "twinforge.graph", "twinforge.query", "twinforge.history", "twinforge.store",
              "twinforge.sim", "twinforge.jobs"]


def test_every_package_is_listed() -> None:
    assert {"twinforge.api", "twinforge.cli", "twinforge.dtdl", "twinforge.events", "twinforge.graph",
            "twinforge.history", "twinforge.ingest", "twinforge.packs", "twinforge.query",
            "twinforge.store", "twinforge.sim", "twinforge.jobs"} <= set(PACKAGES)


@pytest.mark.parametrize("name", ["twinforge.dtdl", "twinforge.query", "twinforge.api.server"])
def test_docstring_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), raise_on_error=False)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_complete(name: str) -> None:
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    exported = set(module.__all__)
    public = {n for n, v in vars(module).items()
              if not n.startswith("_") and getattr(v, "__module__", "").startswith("twinforge")
              and getattr(v, "__module__", "") != "twinforge.errors" and not inspect.ismodule(v)}
    assert public <= exported, public - exported
    for n in exported:
        assert hasattr(module, n), n


def _public_objects(package: str) -> list[tuple[str, object]]:
    """Every public function and class a package exports, and the public methods of those classes."""
    module = importlib.import_module(package)
    out: list[tuple[str, object]] = []
    for name in module.__all__:
        value = getattr(module, name)
        if not (inspect.isfunction(value) or inspect.isclass(value)):
            continue
        out.append((f"{package}.{name}", value))
        if inspect.isclass(value):
            for attr, member in vars(value).items():
                if attr.startswith("_") or not inspect.isfunction(member):
                    continue
                out.append((f"{package}.{name}.{attr}", member))
    return out


@pytest.mark.parametrize("package", DOCUMENTED)
def test_public_api_has_docstrings(package: str) -> None:
    missing = [name for name, value in _public_objects(package) if not (inspect.getdoc(value) or "").strip()]
    assert not missing, f"no docstring: {missing}"
