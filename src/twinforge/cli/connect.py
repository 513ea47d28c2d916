"""`twinforge connect opcua URL`: a running OPC UA server's types, instances and variables into
the store and a mapping file for live ingest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from twinforge.cli.common import DEFAULT_DB, DbOption, console, err, fail, open_graph, output

connect_app = typer.Typer(help="Connect a running system by its own model.", no_args_is_help=True)


@connect_app.command("opcua")
def connect_opcua(
    endpoint: Annotated[str, typer.Argument(help="The server, e.g. opc.tcp://127.0.0.1:4840.")],
    mapping: Annotated[Path, typer.Option("--mapping", help="Where to write the mapping for live ingest "
                                                            "(YAML).")] = Path("opcua-mapping.yaml"),
    prefix: Annotated[str, typer.Option("--prefix", help="Put before every twin id.")] = "",
    interval_ms: Annotated[int, typer.Option("--interval-ms", help="Subscription publishing interval.")] = 100,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Browse the server: its ObjectTypes become DTDL models, its instances twins (with their
    current values and relationships), and every variable a rule of the mapping file that
    `twinforge serve --mapping FILE` follows live."""
    import asyncio

    import yaml

    from twinforge.interop.opcua_connect import apply, connect

    output(mapping, "--mapping", (".yaml", ".yml"))
    if not endpoint.startswith("opc.tcp://"):
        fail(f"{endpoint}: an OPC UA endpoint starts with opc.tcp://")
    with console.status(f"browsing {endpoint}..."):
        try:
            connection = asyncio.run(connect(endpoint, prefix=prefix))
        except (OSError, TimeoutError) as exc:
            fail(f"cannot reach {endpoint}: {exc or type(exc).__name__}")
    for note in connection.notes:
        err.print(f"note: {note}", markup=False)
    graph = open_graph(db, write=True)
    try:
        done = apply(graph, connection)
    finally:
        graph.close()
    for twin, reason in done["refused"].items():
        err.print(f"refused twin {twin}: {reason}", markup=False)
    mapping.write_text(yaml.safe_dump(connection.mapping(interval_ms), sort_keys=False))
    console.print(f"{endpoint}: {done['models']} new model(s), {done['twins']} twin(s), {done['relationships']} "
                  f"relationship(s) in {db}; {done['variables']} variable(s) mapped in {mapping}", markup=False)
    where = "" if db == DEFAULT_DB else f" --db {db}"
    console.print(f"follow it live: twinforge serve --mapping {mapping}{where}", markup=False)


__all__ = ["connect_app", "connect_opcua"]
