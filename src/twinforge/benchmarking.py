"""Find and run the benchmarks under the repository's ``benchmarks/`` folder."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console
from rich.table import Table

from twinforge.errors import NotFound


def timed(fn: Any, repeat: int) -> tuple[float, list[float]]:
    """The median time of ``repeat`` calls of ``fn``, and every time (seconds)."""
    import statistics
    import time

    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def spread(values: list[float], unit: float = 1.0, fmt: str = "{:.2f}") -> str:
    """The range of repeated measurements, ``low-high`` (each times ``unit``)."""
    return "-".join(fmt.format(v * unit) for v in (min(values), max(values)))


def benchmarks_dir() -> Path:
    for candidate in (Path.cwd() / "benchmarks", Path(__file__).resolve().parents[2] / "benchmarks"):
        if (candidate / "loadgen.py").exists():
            return candidate
    raise NotFound("benchmarks/ not found: run from a twinforge checkout")


def load_benchmark(name: str) -> ModuleType:
    directory = benchmarks_dir()
    path = directory / f"bench_{name}.py"
    if not path.exists():
        known = sorted(p.stem.removeprefix("bench_") for p in directory.glob("bench_*.py"))
        raise NotFound(f"no benchmark '{name}' (known: {', '.join(known)})")
    spec = importlib.util.spec_from_file_location(f"twinforge_bench_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run_benchmark(name: str, *, quick: bool = False, as_json: bool = False) -> dict[str, Any]:
    module = load_benchmark(name)
    console = Console(stderr=True)
    with console.status(f"bench {name}") as status:
        results: dict[str, Any] = module.main(quick, lambda msg: status.update(f"bench {name}: {msg}"))
    if as_json:
        print(json.dumps(results, indent=2))
    else:
        table = Table("measure", "figure", "goal / baseline", title=f"twinforge bench {name}")
        for row in module.report(results):
            table.add_row(*row)
        Console().print(table)
    return results
