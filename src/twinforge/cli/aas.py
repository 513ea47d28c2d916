"""`twinforge aas import|export`: Asset Administration Shells (AAS JSON or AASX) in and out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from twinforge.cli.common import DEFAULT_DB, DbOption, console, fail, open_graph, output

aas_app = typer.Typer(help="Asset Administration Shells (IDTA, AAS v3): import and export.", no_args_is_help=True)


@aas_app.command("import")
def aas_import(
    file: Annotated[Path, typer.Argument(help="An AAS environment: .json (AAS JSON) or .aasx.")],
    db: DbOption = DEFAULT_DB,
) -> None:
    """Shells and submodels become twins (submodel elements their typed properties, semantic IDs
    in the models); everything is kept, so an export gives it back with the live values."""
    from twinforge.interop.aas import import_environment, read_environment

    if not file.is_file():
        fail(f"{file}: no such file")
    env, files = read_environment(file)
    graph = open_graph(db, write=True)
    try:
        done = import_environment(graph, env, files)
    finally:
        graph.close()
    console.print(f"{file}: {done['shells']} shell(s), {done['submodels']} submodel(s) ({done['elements']} "
                  f"elements), {done['models']} new model(s), {len(files)} supplementary file(s) in {db}",
                  markup=False)
    for twin in done["shellTwins"]:
        console.print(f"  shell twin {twin}", markup=False)


@aas_app.command("export")
def aas_export(
    shells: Annotated[list[str] | None, typer.Argument(help="Shell twins (default: every one).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Where to write: .json (AAS JSON) or .aasx.")] = Path("aas.json"),
    db: DbOption = DEFAULT_DB,
) -> None:
    """The shells, their submodels (with the twins' current values) and concept descriptions as
    AAS JSON or an AASX package, checked by BaSyx before it is written."""
    from twinforge.interop.aas import (
        export_environment,
        shell_twins,
        stored_files,
        write_environment,
    )

    output(out, "--out", (".json", ".aasx"))
    graph = open_graph(db)
    try:
        chosen = shells or shell_twins(graph)
        if not chosen:
            fail(f"no AAS shell twins in {db}: import one first (twinforge aas import FILE)")
        env = export_environment(graph, chosen)
        write_environment(env, out, stored_files(graph, chosen))
    finally:
        graph.close()
    console.print(f"wrote {out}: {len(env.get('assetAdministrationShells', []))} shell(s), "
                  f"{len(env.get('submodels', []))} submodel(s)", markup=False)


__all__ = ["aas_app", "aas_export", "aas_import"]
