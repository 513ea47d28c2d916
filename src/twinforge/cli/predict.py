"""`twinforge forecast`, `twinforge rul train|evaluate`, `twinforge maintenance plan`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
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

rul_app = typer.Typer(help="Remaining useful life: train on run-to-failure data, evaluate on a test set.",
                      no_args_is_help=True)
maintenance_app = typer.Typer(help="Maintenance planning.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
PlotOption = Annotated[Path | None, typer.Option("--plot", help="Draw it into a PNG file.")]


def _plot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def forecast(
    twin: Annotated[str, typer.Argument(help="Twin id.")],
    name: Annotated[str, typer.Argument(help="A numeric property or telemetry of the twin.")],
    horizon: Annotated[str, typer.Option("--horizon", help="How far ahead (ISO 8601, e.g. PT6H).")] = "PT6H",
    step: Annotated[str, typer.Option("--step", help="Spacing of the forecast points.")] = "PT5M",
    lookback: Annotated[str | None, typer.Option(
        "--lookback", help="How much history to read, back from the series' last point (ISO 8601, e.g. P30D, "
        "P1Y); default 14 days or 1,000 steps, whichever is longer.")] = None,
    level: Annotated[float, typer.Option("--level", help="Coverage of the interval, e.g. 0.9.", min=0.5,
                                         max=0.99)] = 0.9,
    db: DbOption = DEFAULT_DB,
    as_json: JsonOption = False,
    plot: PlotOption = None,
) -> None:
    """Forecast a series from its history, with an interval (90 % by default); the method is
    chosen per series by a rolling-origin backtest (naive, seasonal naive, Naive2, SES, damped
    trend, Theta, multi-seasonal Theta and damped trend, and the mean of the three best)."""
    from twinforge.analytics.forecast import forecast as run
    from twinforge.durations import seconds
    from twinforge.history import History
    from twinforge.history.timeutil import from_us, parse_time

    output(plot, "--plot", (".png", ".svg", ".pdf"))
    graph = open_graph(db)
    try:
        doc = graph.get_twin(twin)
        unit = unit_of(graph.models, doc["$metadata"]["$model"], name)
        result = run(History(graph.store), twin, name, horizon=horizon, step=step, lookback=lookback, level=level)
        past: list[dict[str, Any]] = []
        if plot:  # the recent history, three horizons of it
            first = parse_time(result.times[0])
            span = int(3 * len(result.times) * seconds(step) * 1e6)
            past = History(graph.store).read_range(twin, name, start=from_us(first - span), limit=10_000)
    finally:
        graph.close()
    if plot is not None:
        import pandas as pd

        plt = _plot()
        fig, ax = plt.subplots(figsize=(9, 3.5))
        ax.plot(pd.to_datetime([r["time"] for r in past]), [r["value"] for r in past], color="#555", label="history")
        times = pd.to_datetime(result.times)
        ax.plot(times, result.values, color="#d9480f", label=f"forecast ({result.model})")
        ax.fill_between(times, result.low, result.high, color="#d9480f", alpha=0.2,
                        label=f"{result.level:.0%} interval")
        ax.set_title(f"{twin} · {name}", loc="left", fontsize=10)
        ax.set_ylabel(f"{name} ({unit})" if unit else name)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(plot, dpi=110)
        plt.close(fig)
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
        return
    table = Table("time", "value", "low", "high",
                  title=f"forecast of {twin}.{name}{f' ({unit})' if unit else ''} by {result.model}")
    for t, v, lo, hi in zip(result.times, result.values, result.low, result.high, strict=True):
        table.add_row(t, f"{v:.4g}", f"{lo:.4g}", f"{hi:.4g}")
    console.print(table)


@rul_app.command("train")
def rul_train(
    data: Annotated[Path, typer.Option("--data", help="Run-to-failure data (C-MAPSS train_FD001.txt layout).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the model.")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same model).")] = 0,
    kind: Annotated[str, typer.Option("--kind", help="mlp (multilayer perceptrons, the default) or gbm (LightGBM).")]
    = "mlp",
    members: Annotated[int, typer.Option("--members", help="Ensemble members (one per seed).", min=1, max=20)] = 3,
    as_json: JsonOption = False,
) -> None:
    """Train a RUL model; whole engines are held out first to report its RMSE and calibrate its
    90 % interval."""
    from twinforge.analytics.rul import read_cmapss, train

    output(out, "--out")
    with err.status("training ...") as status:
        model = train(read_cmapss(data), seed=seed, kind=kind, members=members,
                      progress=lambda m: status.update(m))
    model.save(out)
    info = {k: v for k, v in model.info.items() if k != "heldOut"}
    if as_json:
        print(json.dumps(info, indent=2))
        return
    console.print(f"model written to {out}: validation on {len(model.info['heldOut'])} held-out engines "
                  f"RMSE {info['rmse']:.2f} (truth capped at 125), {info['rmseUncapped']:.2f} uncapped; "
                  f"90 % interval covers {info['intervalCoverage']:.0%} of them; "
                  f"trained in {info['trainSeconds']:.1f} s")


@rul_app.command("evaluate")
def rul_evaluate(
    model: Annotated[Path, typer.Option("--model", help="A model from `rul train`.")],
    test: Annotated[Path, typer.Option("--test", help="Test data (test_FD001.txt layout).")],
    truth: Annotated[Path, typer.Option("--truth", help="True RUL of each test engine (RUL_FD001.txt).")],
    as_json: JsonOption = False,
) -> None:
    """RMSE and the NASA score over each test engine's last cycle."""
    from twinforge.analytics.rul import RulModel, evaluate, read_cmapss, read_truth

    result = evaluate(RulModel.load(model), read_cmapss(test), read_truth(truth))
    if as_json:
        print(json.dumps({"rmse": result["rmse"], "score": result["score"], "engines": result["engines"]}))
        return
    console.print(f"{result['engines']} test engines: RMSE {result['rmse']:.2f}, NASA score {result['score']:.1f}")


@maintenance_app.command("plan")
def maintenance_plan(
    file: Annotated[Path, typer.Argument(help="Planning file (YAML or JSON): horizonDays, crewsPerDay, assets.")],
    as_json: JsonOption = False,
    plot: PlotOption = None,
) -> None:
    """Choose each asset's maintenance day for the least expected cost (exact, MILP)."""
    import yaml

    from twinforge.analytics.planning import PlanningProblem, plan

    output(plot, "--plot", (".png", ".svg", ".pdf"))
    if file.is_dir():
        fail(f"{file} is a folder; give a planning file (YAML or JSON)")
    if not file.is_file():
        fail(f"no such planning file: {file}")
    try:
        doc = yaml.safe_load(file.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        fail(f"{file} is not valid YAML or JSON{where}: {getattr(exc, 'problem', None) or exc}")
    problem = PlanningProblem.parse(doc)
    result = plan(problem)
    if plot is not None:
        plt = _plot()
        fig, ax = plt.subplots(figsize=(9, 0.35 * len(problem.assets) + 1.5))
        for row, (asset, item) in enumerate(zip(problem.assets, result.schedule, strict=True)):
            ax.barh(row, problem.horizon, left=0.5, color="#eee")
            lo, hi = asset.mean - asset.std, asset.mean + asset.std
            ax.plot([max(lo, 0.5), hi], [row, row], color="#999", linewidth=6, alpha=0.6)
            if item["day"] is not None:
                ax.barh(row, 1, left=item["day"] - 0.5, color="#2b8a3e")
        ax.set_yticks(range(len(problem.assets)), [a.id for a in problem.assets])
        ax.set_xlabel("day (green: maintenance; grey: failure mean ± std)")
        ax.invert_yaxis()
        fig.tight_layout()
        fig.savefig(plot, dpi=110)
        plt.close(fig)
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
        return
    table = Table("asset", "day", title=f"expected cost {result.expected_cost:,.2f} "
                                        f"(doing nothing: {result.unscheduled_cost:,.2f})")
    for item in result.schedule:
        table.add_row(item["asset"], str(item["day"] or "-"))
    console.print(table)


__all__ = ["forecast", "maintenance_app", "rul_app"]
