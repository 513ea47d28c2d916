"""What every command group shares: consoles, the one-line error, store opening, JSON input."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from twinforge.store import DEFAULT_URL

console = Console(emoji=False, soft_wrap=True)  # long lines (commands, DTMIs) are never cut
err = Console(stderr=True, emoji=False, highlight=False, soft_wrap=True)

DbOption = Annotated[str, typer.Option("--db", help="Store URL, e.g. sqlite:///twins.db")]
DEFAULT_DB = DEFAULT_URL


class CliError(Exception):
    """A user-facing failure: printed as one line."""


def fail(message: str) -> NoReturn:
    raise CliError(message)


def open_graph(db: str, *, write: bool = False, read: str | None = None) -> Any:
    """The graph in ``db`` (reads from the replica ``read``, if given). Commands that only
    read refuse a store that does not exist; commands that write make it, and say so."""
    from twinforge.graph import TwinGraph

    graph = TwinGraph.open(db, create=write, read_url=read)
    if getattr(graph.store, "created", False):
        err.print(f"created a new store: {db}", markup=False)
    return graph


def output(path: Path | None, flag: str, suffixes: tuple[str, ...] = ()) -> None:
    """Refuse an output file that cannot be written, before any work is done."""
    if path is None:
        return
    import os

    if suffixes and path.suffix.lower() not in suffixes:
        fail(f"{flag} {path}: the file must end in {' or '.join(suffixes)}")
    if path.is_dir():
        fail(f"{flag} {path} is a folder; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        fail(f"{flag} {path}: no such folder: {parent}")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        fail(f"{flag} {path}: not writable")


SYMBOLS = {"degreeCelsius": "°C", "degreeFahrenheit": "°F", "kelvin": "K", "percent": "%", "watt": "W",
           "kilowatt": "kW", "kilowattHour": "kWh", "volt": "V", "ampere": "A", "pascal": "Pa", "kilopascal": "kPa",
           "hertz": "Hz", "revolutionPerMinute": "rpm", "metre": "m", "cubicMetrePerHour": "m³/h", "second": "s",
           "hour": "h", "kilogram": "kg", "lux": "lx", "partsPerMillion": "ppm", "millimetrePerSecond": "mm/s"}


def unit_of(models: Any, model: str, name: str) -> str:
    """The unit of a model's property or telemetry (its symbol when it has a common one), or "".
    ``models`` is a graph's (``graph.models``) or a snapshot's model set."""
    try:
        view = models.interface(model)
    except Exception:  # a model the graph does not hold: no unit to show
        return ""
    element = view.properties.get(name) or view.telemetry.get(name)
    unit = getattr(element, "unit", None) or ""
    return SYMBOLS.get(unit, unit)


def read_json(source: str) -> Any:
    """JSON from a file path, '-' for standard input, or an inline JSON string."""
    if source == "-":
        text = sys.stdin.read()
    elif source.lstrip().startswith(("{", "[")):
        text = source
    else:
        path = Path(source)
        if not path.exists():
            fail(f"no such file: {source}")
        text = path.read_text(encoding="utf-8-sig")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{source}: not valid JSON ({exc})")


def print_json(value: Any) -> None:
    console.print_json(json.dumps(value))


def cell(value: Any) -> str:
    """A value as a table cell: text as is, numbers without float noise, JSON otherwise."""
    if value is None:
        return ""
    if isinstance(value, dict) and "$dtId" in value:
        return str(value["$dtId"])
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.10g}"
    return value if isinstance(value, str) else json.dumps(value)
