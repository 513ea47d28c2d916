"""`twinforge simulate` and `twinforge optimise`: scenarios from the command line."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from twinforge.cli.common import (
    DEFAULT_DB,
    DbOption,
    console,
    err,
    fail,
    open_graph,
    output,
    unit_of,
)

if TYPE_CHECKING:
    from twinforge.sim.scenario import ScenarioResult

FileArg = Annotated[Path, typer.Argument(help="A scenario document (JSON or YAML).", exists=False)]


def _load(path: Path) -> Any:
    from twinforge.sim import Scenario

    if not path.is_file():
        fail(f"no such scenario file: {path}")
    return Scenario.from_file(path)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                    console=err, transient=True)


def _number(value: float) -> str:
    return f"{value:,.6g}"


def plot(result: ScenarioResult, out: Path) -> None:
    """Baseline against variant for each KPI's series, as PNG or as a self-contained HTML page."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = []
    for kpi in result.scenario.kpis:
        if (kpi.twin, kpi.property) not in series:
            series.append((kpi.twin, kpi.property))
    if not series:
        fail("the scenario has no KPIs to plot")
    fig, axes = plt.subplots(len(series), 1, figsize=(9, 2.8 * len(series)), squeeze=False, sharex=True)
    for ax, (twin, name) in zip(axes[:, 0], series, strict=True):
        frame = result.frame(twin, name)
        ax.plot(frame.index, frame["baseline"], label="baseline", color="#777777", linewidth=1.4)
        ax.plot(frame.index, frame["variant"], label="variant", color="#d9480f", linewidth=1.6)
        ax.set_title(f"{twin} · {name}", fontsize=10, loc="left")
        model = result.snapshot.twins[twin]["$metadata"]["$model"]
        unit = unit_of(result.snapshot.model_set(), model, name)
        if unit:
            ax.set_ylabel(unit)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    fig.suptitle(f"scenario {result.scenario.id}", fontsize=11)
    fig.tight_layout()
    if out.suffix.lower() in (".html", ".htm"):
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg")
        rows = "".join(f"<tr><td>{k}</td><td>{_number(result.baseline_kpis[k])}</td><td>{_number(v)}</td>"
                       f"<td>{_number(result.deltas[k])}</td></tr>" for k, v in result.kpis.items())
        out.write_text(f"<!doctype html><meta charset='utf-8'><title>{result.scenario.id}</title>"
                       "<style>body{font-family:sans-serif;margin:2em}td,th{padding:.2em .8em;text-align:right}"
                       "</style>"
                       f"<h1>Scenario {result.scenario.id}</h1><table><tr><th>KPI</th><th>baseline</th>"
                       f"<th>variant</th><th>delta</th></tr>{rows}</table>{buffer.getvalue()}")
    else:
        fig.savefig(out, dpi=110)
    plt.close(fig)


def simulate(
    file: FileArg,
    db: DbOption = DEFAULT_DB,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    plot_to: Annotated[Path | None, typer.Option("--plot", help="Plot baseline vs variant: OUT.png or OUT.html.")] = None,
    live: Annotated[bool, typer.Option("--live", help="Drive the live twins in real time through the ingest "
                                                      "path instead of running a what-if.")] = False,
    speed: Annotated[float, typer.Option("--speed", help="With --live: simulated seconds per second.")] = 1.0,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="Dask scheduler for sweeps, e.g. "
                                                                      "tcp://host:8786 (default: a local cluster).")] = None,
    workers: Annotated[int, typer.Option("--workers", help="Local Dask workers for sweeps.")] = 2,
    keep: Annotated[Path | None, typer.Option("--keep", help="Keep both runs as sandbox stores in this folder "
                                                             "(baseline.db, variant.db).")] = None,
) -> None:
    """Run a scenario: fork the graph, simulate the baseline and the variant, compare KPIs
    (with a sweep block: percentiles over many runs on Dask)."""
    from twinforge.sim import fork

    output(plot_to, "--plot", (".png", ".svg", ".pdf", ".html", ".htm"))
    scenario = _load(file)
    graph = open_graph(db, write=live)
    try:
        if live:
            _live(graph, scenario, speed)
            return
        if scenario.sweep is not None:
            _sweep(graph, scenario, scheduler, workers, as_json)
            return
        with _progress() as bar:
            task = bar.add_task(f"simulating {scenario.id}", total=1.0)
            snapshot = fork(graph, scenario.scope, scenario.as_of)

            def tick(fraction: float) -> None:
                bar.update(task, completed=fraction)

            result = scenario.run(snapshot=snapshot, progress=tick)
        if keep is not None:
            from twinforge.sim.fork import sandbox
            from twinforge.sim.service import record

            keep.mkdir(parents=True, exist_ok=True)
            for run, trajectory in (("baseline", result.baseline), ("variant", result.variant)):
                (keep / f"{run}.db").unlink(missing_ok=True)
                box = sandbox(snapshot, str(keep / f"{run}.db"))
                record(box, snapshot, trajectory)
                box.close()
        if plot_to is not None:
            plot(result, plot_to)
        if as_json:
            print(json.dumps(result.to_json(), indent=2))
        else:
            table = Table(title=f"scenario {scenario.id}: {len(snapshot.twins)} twins, "
                                f"{result.variant.steps:,} steps")
            for col in ("KPI", "baseline", "variant", "delta"):
                table.add_column(col, justify="right" if col != "KPI" else "left")
            for name, value in result.kpis.items():
                table.add_row(name, _number(result.baseline_kpis[name]), _number(value), _number(result.deltas[name]))
            console.print(table)
            if plot_to is not None:
                console.print(f"plot: {plot_to}")
            if keep is not None:
                console.print(f"runs kept: {keep / 'baseline.db'}, {keep / 'variant.db'}")
    finally:
        graph.close()


def _sweep(graph: Any, scenario: Any, scheduler: str | None, workers: int, as_json: bool) -> None:
    from twinforge.sim import fork
    from twinforge.sim.sweep import run_sweep

    snapshot = fork(graph, scenario.scope, scenario.as_of)
    with _progress() as bar:
        task = bar.add_task(f"sweeping {scenario.id}", total=1.0)
        result = run_sweep(scenario, snapshot, scheduler=scheduler, workers=workers,
                           progress=lambda f: bar.update(task, completed=f))
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
        return
    columns = list(next(iter(result.percentiles.values()), {}))
    table = Table(title=f"sweep {scenario.id}: {len(result.runs)} runs on {result.workers} worker(s), "
                        f"{result.wall:.1f} s")
    table.add_column("KPI")
    for col in columns:
        table.add_column(col, justify="right")
    for name, row in result.percentiles.items():
        table.add_row(name, *(_number(row[c]) for c in columns))
    console.print(table)


def _live(graph: Any, scenario: Any, speed: float) -> None:
    from twinforge.sim.live import run_live

    stop = threading.Event()
    console.print(f"driving the twins of {scenario.id} live at {speed:g}x real time (Ctrl-C stops)")
    with _progress() as bar:
        task = bar.add_task("live", total=max(1, round(scenario.horizon / scenario.step)))
        try:
            stats = run_live(graph, scenario, speed=speed, stop=stop,
                             on_step=lambda k, t: bar.update(task, completed=k))
        except KeyboardInterrupt:
            stop.set()
            return
    console.print(f"{stats.steps} steps, {stats.updates} updates written, {stats.refused} refused")


def optimise(
    file: FileArg,
    db: DbOption = DEFAULT_DB,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Solve a scenario's optimise block: the decision values that minimise a KPI under
    KPI constraints (scipy.optimize over scenario runs)."""
    from twinforge.sim import fork
    from twinforge.sim.optimise import optimise as solve

    scenario = _load(file)
    graph = open_graph(db)
    try:
        snapshot = fork(graph, scenario.scope, scenario.as_of)
        with err.status("optimising ...") as status:
            result = solve(scenario, snapshot, progress=lambda n: status.update(f"optimising: {n} runs"))
    finally:
        graph.close()
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
        return
    table = Table(title=f"optimise {scenario.id}: {'solved' if result.success else 'NOT solved'} "
                        f"in {result.evaluations} runs ({result.wall:.1f} s)")
    table.add_column("")
    table.add_column("value", justify="right")
    for name, value in result.values.items():
        table.add_row(name, _number(value))
    for name, value in result.kpis.items():
        table.add_row(f"KPI {name}", _number(value))
    console.print(table)
    if not result.success:
        err.print(f"the optimiser says: {result.message}")
        raise typer.Exit(1)


__all__ = ["optimise", "plot", "simulate"]
