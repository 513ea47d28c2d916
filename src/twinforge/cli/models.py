"""`twinforge models validate|load`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from twinforge.cli.common import DEFAULT_DB, DbOption, console, err, fail, open_graph

models_app = typer.Typer(help="Validate and load DTDL models.", no_args_is_help=True)


def collect_documents(paths: list[Path]) -> list[tuple[Path, Any]]:
    """Every ``*.json`` file named or below a named folder, parsed."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.json") if p.is_file())
            if not found:
                fail(f"no *.json files in folder {path}")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            fail(f"no such file or folder: {path}")
    out = []
    for file in files:
        try:
            out.append((file, json.loads(file.read_text(encoding="utf-8-sig"))))
        except json.JSONDecodeError as exc:
            fail(f"{file}: not valid JSON ({exc})")
    return out


def print_model_errors(errors: list[str], files: int) -> None:
    for line in errors:
        err.print(f"error {line}", markup=False)
    err.print(f"{len(errors)} error(s) in {files} file(s)")


RepoOption = Annotated[Path | None, typer.Option(
    "--repo", help="A models repository folder (dtmi/com/example/thermostat-1.json) to fetch "
                   "models the files refer to but do not define.")]


def _resolver(repo: Path | None) -> Any:
    if repo is None:
        return None
    from twinforge.store.repository import FolderResolver

    return FolderResolver(repo)


@models_app.command("validate")
def models_validate(
    paths: Annotated[list[Path], typer.Argument(help="DTDL files or folders.")],
    allow_undefined_extensions: Annotated[bool, typer.Option(help="Tolerate unknown extension contexts.")] = False,
    repo: RepoOption = None,
) -> None:
    """Parse and check DTDL models; print the interfaces found and every error."""
    from twinforge.dtdl import ModelError, parse_models

    docs = collect_documents(paths)
    resolver = _resolver(repo)
    try:
        models = parse_models([d for _, d in docs], allow_undefined_extensions=allow_undefined_extensions,
                              resolver=resolver, sources=[str(path) for path, _ in docs])
    except ModelError as exc:
        print_model_errors(exc.errors, len(docs))
        raise typer.Exit(1) from None
    title = f"{len(models)} interface(s) in {len(docs)} file(s)"
    if resolver is not None:
        title += f" and {len(resolver.read)} from {repo}"
    if not sys.stdout.isatty():
        # Not a terminal: one plain line per interface, DTMIs whole, for grep and scripts.
        print(title)
        for dtmi in models.root_ids():
            view = models.interface(dtmi)
            print(f"{dtmi}\textends={','.join(view.extends) or '-'}\tcontents={_contents(view)}")
        return
    table = Table("interface", "extends", "contents", title=title)
    table.columns[0].overflow = "fold"
    table.columns[1].overflow = "fold"
    for dtmi in models.root_ids():
        view = models.interface(dtmi)
        table.add_row(dtmi, ", ".join(view.extends), str(_contents(view)))
    console.print(table)


def _contents(view: Any) -> int:
    return (len(view.properties) + len(view.telemetry) + len(view.relationships) + len(view.components)
            + len(view.commands))


PACKS = ("sim", "building", "health")


def pack_documents(name: str) -> list[tuple[Path, Any]]:
    """The DTDL documents of a shipped pack, as (pseudo path, document)."""
    if name == "sim":
        from twinforge.sim.library import models

        return [(Path(f"pack:sim/{d['@id']}"), d) for d in models()]
    if name == "building":
        from twinforge.packs.building import realestatecore

        return [(Path("pack:building/realestatecore.json"), realestatecore())]
    if name == "health":
        try:
            from twinforge.packs.health.models import models as health_models
        except ImportError:
            fail("the health pack needs NumPy and SciPy: pip install 'twinforge[health]'")

        return [(Path(f"pack:health/{d['@id']}"), d) for d in health_models()]
    fail(f"unknown pack '{name}' (known: {', '.join(PACKS)})")
    return []


@models_app.command("load")
def models_load(
    paths: Annotated[list[Path] | None, typer.Argument(help="DTDL files or folders.")] = None,
    db: DbOption = DEFAULT_DB,
    repo: RepoOption = None,
    pack: Annotated[str | None, typer.Option("--pack", help=f"Load a shipped pack: {', '.join(PACKS)}.")] = None,
) -> None:
    """Upload DTDL models into a store (one batch: all or nothing), with the dependencies
    found in --repo, or a shipped pack (--pack sim: the simulation models)."""
    from twinforge.dtdl import ModelError

    if not paths and pack is None:
        fail("give DTDL files or folders, or --pack NAME")
    docs = collect_documents(paths) if paths else []
    graph = open_graph(db, write=True)
    skipped = 0
    if pack is not None:
        # A pack loads once: interfaces already stored are left as they are.
        for path, doc in pack_documents(pack):
            stored = [d for d in (doc if isinstance(doc, list) else [doc]) if d.get("@id") in graph.models]
            if stored and len(stored) == (len(doc) if isinstance(doc, list) else 1):
                skipped += len(stored)
                continue
            docs.append((path, doc))
    resolver = _resolver(repo)
    if pack == "health":
        from twinforge.packs.health.ward import mark_sensitive

        mark_sensitive(graph)  # patient twins: reads audited under --auth
    if not docs:
        console.print(f"nothing new to load: the {skipped} model(s) of the pack are in {db} already")
        return
    try:
        infos = graph.add_models([d for _, d in docs], resolver=resolver, sources=[str(p) for p, _ in docs])
    except ModelError as exc:
        print_model_errors(exc.errors, len(docs))
        raise typer.Exit(1) from None
    fetched = f" ({len(resolver.read)} from {repo})" if resolver is not None else ""
    already = f" ({skipped} of the pack stored already)" if skipped else ""
    console.print(f"loaded {len(infos)} model(s){fetched}{already} into {db}")


InterfacesOut = Annotated[Path | None, typer.Option("--out", help="Write the DTDL interfaces here (a JSON list) "
                                                                "instead of loading them.")]


def deliver(interfaces: list[Any], out: Path | None, db: str, *, sources: int, origin: str = "") -> None:
    """Check converted interfaces with our parser, then write them to ``out`` (a JSON list) or
    load those the store lacks into ``db``."""
    from twinforge.dtdl import ModelError, parse_models

    try:
        parse_models(interfaces)
    except ModelError as exc:  # a conversion DTDL refuses is our defect: say which
        print_model_errors(exc.errors, sources)
        raise typer.Exit(1) from None
    if out is not None:
        out.write_text(json.dumps(interfaces, indent=1) + "\n")
        console.print(f"wrote {len(interfaces)} interface(s){origin} to {out}", markup=False)
        return
    graph = open_graph(db, write=True)
    try:
        new = [d for d in interfaces if d["@id"] not in graph.models]
        if new:
            graph.add_models(new)
    finally:
        graph.close()
    console.print(f"loaded {len(new)} interface(s) ({len(interfaces) - len(new)} stored already){origin} into {db}",
                  markup=False)


@models_app.command("import-opcua")
def models_import_opcua(
    nodesets: Annotated[list[Path], typer.Argument(help="OPC UA NodeSet2 files (.xml or .xml.gz), any order.")],
    out: InterfacesOut = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Turn OPC UA information models (companion specifications) into DTDL v3 interfaces and load
    them into the store (or write them with --out). Files are read in dependency order; the
    OPC UA base model ships with twinforge."""
    from twinforge.cli.common import output
    from twinforge.interop.nodeset import read_file
    from twinforge.interop.opcua_dtdl import convert

    output(out, "--out", (".json",))
    with console.status("reading the information models..."):
        conversion = convert([read_file(p) for p in nodesets])
    for note in conversion.notes:
        err.print(f"note: {note}", markup=False)
    deliver(conversion.interfaces, out, db, sources=len(nodesets), origin=f" from {', '.join(conversion.models)}")


@models_app.command("import-wot")
def models_import_wot(
    tds: Annotated[list[Path], typer.Argument(help="W3C WoT Thing Description files (JSON).")],
    out: InterfacesOut = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Turn W3C Web of Things Thing Descriptions into DTDL v3 interfaces (properties, events as
    telemetry, actions as commands) and load them (or write them with --out). Each TD is
    checked against the TD JSON Schema first; an invalid one is refused with its reasons."""
    from twinforge.cli.common import output
    from twinforge.interop.wot import TdError, read_td, td_to_dtdl

    output(out, "--out", (".json",))
    interfaces: list[Any] = []
    failed = 0
    for path in tds:
        if not path.is_file():
            fail(f"no such file: {path}")
        try:
            conversion = td_to_dtdl(read_td(path.read_bytes(), str(path)))
        except TdError as exc:
            failed += 1
            err.print(f"refused {path}:", markup=False)
            for problem in exc.problems:
                err.print(f"  {problem}", markup=False)
            continue
        for note in conversion.notes:
            err.print(f"note: {note}", markup=False)
        interfaces.append(conversion.interface)
    if failed:
        fail(f"{failed} of {len(tds)} Thing Description(s) refused; nothing loaded")
    deliver(interfaces, out, db, sources=len(tds))
