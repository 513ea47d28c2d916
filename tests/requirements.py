"""What a suite needs from outside the repository (data in ../shared, a server, a package).

On a developer's machine a missing piece skips the suite with the reason. Under CI (the
``CI`` variable set, as `.ci/run` runs), it fails instead: a green CI must mean that every
suite ran.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest


def missing(reason: str, *, module_level: bool = False) -> NoReturn:
    """Skip (or, under CI, fail) because something a suite needs is not there."""
    if os.environ.get("CI"):
        pytest.fail(f"CI needs this suite to run: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=module_level)


def need_module(name: str) -> ModuleType:
    """Import a package the suite needs, or skip/fail saying which."""
    try:
        return importlib.import_module(name)
    except ImportError:
        missing(f"the package providing {name} is not installed", module_level=True)
