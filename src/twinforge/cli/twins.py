"""`twinforge twins ...`, `twinforge query` and `twinforge index ...`."""

from __future__ import annotations

import itertools
from typing import Annotated, Any

import typer
from rich.table import Table

from twinforge.cli.common import (
    DEFAULT_DB,
    DbOption,
    cell,
    console,
    err,
    open_graph,
    print_json,
    read_json,
)

twins_app = typer.Typer(help="Read and change twins in a store.", no_args_is_help=True)
index_app = typer.Typer(help="Property indexes that make queries on a property fast.", no_args_is_help=True)


@twins_app.command("get")
def twins_get(twin_id: str, db: DbOption = DEFAULT_DB) -> None:
    """Print a twin as JSON."""
    print_json(open_graph(db).get_twin(twin_id))


@twins_app.command("put")
def twins_put(
    twin_id: str,
    document: Annotated[str, typer.Argument(help="Twin JSON: a file, '-' for stdin, or inline JSON.")],
    db: DbOption = DEFAULT_DB,
    if_none_match: Annotated[bool, typer.Option("--if-none-match", help="Refuse to replace an existing twin.")] = False,
) -> None:
    """Create or replace a twin."""
    body = read_json(document)
    print_json(open_graph(db).create_twin(twin_id, body, if_none_match=if_none_match))


@twins_app.command("patch")
def twins_patch(
    twin_id: str,
    patch: Annotated[str, typer.Argument(help="JSON Patch: a file, '-' for stdin, or inline JSON.")],
    db: DbOption = DEFAULT_DB,
    if_match: Annotated[str | None, typer.Option("--if-match", help="Only if the twin still has this ETag.")] = None,
) -> None:
    """Update a twin with a JSON Patch."""
    body = read_json(patch)
    print_json(open_graph(db).update_twin(twin_id, body, if_match=if_match))


@twins_app.command("delete")
def twins_delete(twin_id: str, db: DbOption = DEFAULT_DB,
                 if_match: Annotated[str | None, typer.Option("--if-match")] = None) -> None:
    """Delete a twin (refused while it has relationships)."""
    open_graph(db).delete_twin(twin_id, if_match=if_match)
    console.print(f"deleted {twin_id}")


@twins_app.command("list")
def twins_list(
    db: DbOption = DEFAULT_DB,
    model: Annotated[str | None, typer.Option(help="Only twins of exactly this model.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many twins.", min=1)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List twins in id order."""
    twins = open_graph(db).list_twins(model=model, limit=limit + 1)
    more = len(twins) > limit
    twins = twins[:limit]
    if as_json:
        print_json(twins)
    else:
        table = Table("$dtId", "model", "name", title=f"{len(twins)} twin(s)")
        for t in twins:
            table.add_row(t["$dtId"], t["$metadata"]["$model"], cell(t.get("name")))
        console.print(table if twins else "no twins")
    if more:
        err.print(f"showing the first {limit} twins; more exist (raise --limit)")


def query(
    text: Annotated[str, typer.Argument(help="An ADT query, e.g. \"SELECT * FROM DIGITALTWINS T WHERE T.x > 1\"")],
    db: DbOption = DEFAULT_DB,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows instead of a table.")] = False,
    limit: Annotated[int, typer.Option(help="Print at most this many rows.", min=1)] = 1000,
) -> None:
    """Run an ADT query against a store and print the rows."""
    rows = list(itertools.islice(open_graph(db).query(text), limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    if as_json:
        print_json(rows)
    elif not rows:
        console.print("no rows")
    else:
        console.print(rows_table(rows))
    if more:
        err.print(f"showing the first {limit} rows; more exist (raise --limit)")


def rows_table(rows: list[Any]) -> Table:
    """Query rows as a table: twins as id, model and their plain properties."""
    table = Table(title=f"{len(rows)} row(s)")
    columns: list[str] = []
    flat = []
    for row in rows:
        if isinstance(row, dict) and isinstance(row.get("$metadata"), dict) and "$dtId" in row:
            row = {"$dtId": row["$dtId"], "$model": row["$metadata"].get("$model"),
                   **{k: v for k, v in row.items() if not k.startswith("$") and not isinstance(v, dict)}}
        elif not isinstance(row, dict):
            row = {"value": row}
        flat.append(row)
        for key in row:
            if key not in columns:
                columns.append(key)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in flat:
        table.add_row(*[cell(row.get(c)) for c in columns])
    return table


@index_app.command("add")
def index_add(path: Annotated[str, typer.Argument(help="Property path, e.g. temperature or address.city")],
              db: DbOption = DEFAULT_DB) -> None:
    """Index twins on a property (existing twins included)."""
    name = open_graph(db).add_property_index(path)
    console.print(f"index {name} on {path}")


@index_app.command("list")
def index_list(db: DbOption = DEFAULT_DB) -> None:
    """List the property indexes of a store."""
    paths = open_graph(db).queries.property_indexes()
    for path in paths:
        console.print(path, markup=False)
    if not paths:
        console.print("no property indexes")
