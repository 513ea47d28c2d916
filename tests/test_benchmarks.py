"""Every benchmark runs in its quick form, so none can rot: `twinforge bench NAME --quick`."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.requirements import missing
from twinforge.benchmarking import benchmarks_dir, load_benchmark

NAMES = sorted(p.stem.removeprefix("bench_") for p in (Path(__file__).resolve().parents[1] / "benchmarks")
               .glob("bench_*.py"))
pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _numbers(value: Any, signed: frozenset[str] = frozenset(), key: str = "") -> list[float]:
    """Every number in the results; those under a key the benchmark declares signed (a score
    that may fall below zero, like NAB's) come out as their absolute values."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [abs(float(value)) if key in signed else float(value)]
    if isinstance(value, dict):
        return [n for k, v in value.items() for n in _numbers(v, signed, str(k))]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v, signed, key)]
    return []


def test_every_benchmark_is_found() -> None:
    assert benchmarks_dir().is_dir()
    assert {"graph", "query", "ingest", "dtdl"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_benchmark_quick_run(name: str) -> None:
    if name == "ingest" and not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
        missing("bench ingest needs mosquitto (apt-get install mosquitto)")
    if name == "ui" and not (shutil.which("chromium") or shutil.which("chromium-browser")):
        missing("bench ui needs Debian's chromium (apt-get install chromium)")
    module = load_benchmark(name)
    messages: list[str] = []
    results = module.main(True, messages.append)
    assert messages, "the benchmark reported no progress"
    numbers = _numbers(results, frozenset(getattr(module, "SIGNED", ())))
    assert numbers and all(math.isfinite(n) and n >= 0 for n in numbers)
    rows = module.report(results)
    assert rows and all(len(row) == 3 and all(isinstance(cell, str) for cell in row) and row[0] and row[1]
                        for row in rows)
