"""The `twinforge` command: a thin layer over the library, one module per command group.

Every command prints one clear line on error (never a traceback) and exits 1.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from twinforge import __version__
from twinforge.cli.aas import aas_app
from twinforge.cli.auth import audit, tokens_app
from twinforge.cli.common import CliError, err
from twinforge.cli.connect import connect_app
from twinforge.cli.demo import demo_app
from twinforge.cli.health import health_app
from twinforge.cli.history import history
from twinforge.cli.models import models_app
from twinforge.cli.predict import forecast, maintenance_app, rul_app
from twinforge.cli.rest import detectors_app, rels_app, rules_app, scenarios_app
from twinforge.cli.schema import schema
from twinforge.cli.serve import serve
from twinforge.cli.sim import optimise, simulate
from twinforge.cli.twins import index_app, query, twins_app
from twinforge.errors import TwinforgeError

app = typer.Typer(help="twinforge: digital twins with DTDL models, a twin graph and an ADT-compatible API.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)


def _version(value: bool) -> None:
    if value:
        print(f"twinforge {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """twinforge: digital twins with DTDL models, a twin graph and an ADT-compatible API."""


app.command()(serve)
app.command()(query)
app.command()(history)
app.command()(simulate)
app.command()(optimise)
app.command()(forecast)
app.command()(audit)
app.command()(schema)
app.add_typer(tokens_app, name="tokens")
app.add_typer(rul_app, name="rul")
app.add_typer(maintenance_app, name="maintenance")
app.add_typer(models_app, name="models")
app.add_typer(twins_app, name="twins")
app.add_typer(index_app, name="index")
app.add_typer(demo_app, name="demo")
app.add_typer(aas_app, name="aas")
app.add_typer(rels_app, name="rels")
app.add_typer(rules_app, name="rules")
app.add_typer(detectors_app, name="detectors")
app.add_typer(scenarios_app, name="scenarios")
app.add_typer(health_app, name="health")
app.add_typer(connect_app, name="connect")


@app.command()
def bench(
    name: Annotated[str, typer.Argument(help="Which benchmark: graph, query, ingest, dtdl, sim, predict, ui, scale, health or city.")],
    quick: Annotated[bool, typer.Option("--quick", help="Smaller sizes, for a smoke run.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Run a benchmark from benchmarks/ and print its figures and ratios."""
    from twinforge.benchmarking import run_benchmark

    run_benchmark(name, quick=quick, as_json=as_json)


def main() -> None:
    """Entry point: run the CLI, turning our errors into one line and exit code 1."""
    from twinforge.dtdl import ModelError

    try:
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except ModelError as exc:
        for line in exc.errors:
            err.print(f"error {line}", markup=False)
        err.print(f"error: {len(exc.errors)} DTDL error(s)", markup=False)
        sys.exit(1)
    except (TwinforgeError, CliError) as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the CLI promises one line, never a traceback
        format_message = getattr(exc, "format_message", None)
        if callable(format_message):  # a usage error from the command-line parser
            err.print(f"error: {format_message()} (see twinforge --help)", markup=False)
            sys.exit(2)
        if os.environ.get("TWINFORGE_DEBUG"):
            raise
        what = str(exc) or "something went wrong"  # the message, never Python's name for it
        err.print(f"error: {what} (unexpected: TWINFORGE_DEBUG=1 shows where)", markup=False)
        sys.exit(1)


__all__ = ["CliError", "app", "audit", "bench", "forecast", "history", "main", "optimise", "query", "schema", "serve", "simulate"]
