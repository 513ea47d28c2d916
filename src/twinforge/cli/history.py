"""`twinforge history`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from twinforge.cli.common import (
    DEFAULT_DB,
    DbOption,
    cell,
    console,
    fail,
    open_graph,
    output,
    print_json,
)


def history(
    twin: Annotated[str, typer.Argument(help="Twin id.")],
    name: Annotated[str, typer.Argument(help="Property or telemetry name.")],
    db: DbOption = DEFAULT_DB,
    component: Annotated[str, typer.Option(help="Component name, for a component's values.")] = "",
    start: Annotated[str | None, typer.Option("--from", help="ISO 8601 start (inclusive).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="ISO 8601 end (exclusive).")] = None,
    bucket: Annotated[str | None, typer.Option(help="Bucket size for aggregates: 30s, 5m, 1h, 1d.")] = None,
    agg: Annotated[str | None, typer.Option(help="min, max, avg, last or count (needs --bucket).")] = None,
    csv: Annotated[Path | None, typer.Option(help="Write the points to a CSV file.")] = None,
    parquet: Annotated[Path | None, typer.Option(help="Write the points to a Parquet file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Print (or export) the history of a twin's property or telemetry."""
    from twinforge.history import History

    output(csv, "--csv")
    output(parquet, "--parquet")
    graph = open_graph(db)
    graph.get_twin(twin)
    kwargs: dict[str, Any] = {"component": component, "start": start, "end": end, "bucket": bucket, "agg": agg}
    if csv or parquet:
        frame = History(graph.store).frame(twin, name, **kwargs)
        if csv:
            # Times as on the wire: ISO 8601 UTC with a Z.
            out = frame.copy()
            out.index = out.index.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            out.index.name = "time"
            out.to_csv(csv)
        if parquet:
            try:
                frame.to_parquet(parquet)
            except ImportError:
                fail("Parquet export needs pyarrow: pip install 'twinforge[ml]'")
        console.print(f"wrote {len(frame)} point(s)")
        return
    rows = History(graph.store).read_range(twin, name, limit=100_000, **kwargs)
    if as_json:
        print_json([{"time": r["time"], "value": r["value"]} for r in rows])
        return
    if not rows:
        console.print(f"{twin}: no points of {name}")
        return
    table = Table("time", name if not agg else f"{agg}({name})", title=f"{twin}: {len(rows)} point(s)")
    for row in rows:
        table.add_row(row["time"], cell(row["value"]))
    console.print(table)
