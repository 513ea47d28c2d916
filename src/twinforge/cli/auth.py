"""`twinforge tokens create|list|revoke` and `twinforge audit`."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from twinforge.cli.common import DEFAULT_DB, DbOption, console, open_graph

tokens_app = typer.Typer(help="Bearer tokens for `serve --auth`: roles reader, writer, admin.", no_args_is_help=True)


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="A name for the token (who or what holds it).")],
    role: Annotated[str, typer.Option("--role", help="reader, writer or admin.")],
    scope: Annotated[list[str] | None, typer.Option("--scope", help="model:DTMI, twins:PREFIX or 'query:SELECT T FROM DIGITALTWINS T WHERE ...' (repeatable).")] = None,
    expires: Annotated[str | None, typer.Option("--expires", help="Lifetime, e.g. 90d.")] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Create a token and print it alone on standard output, once (only its hash is kept)."""
    from twinforge.auth import Tokens

    graph = open_graph(db, write=True)
    try:
        _, secret = Tokens(graph.store).create(name, role, scope=scope, expires=expires)
    finally:
        graph.close()
    print(secret)


@tokens_app.command("list")
def tokens_list(db: DbOption = DEFAULT_DB, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The tokens: name, role, scope, expiry, revoked (never the secrets)."""
    from twinforge.auth import Tokens

    graph = open_graph(db)
    try:
        tokens = Tokens(graph.store).list_tokens()
    finally:
        graph.close()
    if as_json:
        print(json.dumps([t.to_json() for t in tokens], indent=2))
        return
    table = Table("name", "role", "scope", "created", "expires", "revoked")
    for t in tokens:
        scope = ", ".join([f"model:{m}" for m in t.models] + [f"twins:{p}" for p in t.twins]
                          + [f"query:{q}" for q in t.queries]) or "-"
        table.add_row(t.name, t.role, scope, t.created, t.expires or "-", "yes" if t.revoked else "")
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(name: Annotated[str, typer.Argument()], db: DbOption = DEFAULT_DB) -> None:
    """Revoke a token: it is refused from the next request on."""
    from twinforge.auth import Tokens

    graph = open_graph(db, write=True)
    try:
        Tokens(graph.store).revoke(name)
    finally:
        graph.close()
    console.print(f"token '{name}' revoked")


def audit(
    twin: Annotated[str | None, typer.Option("--twin")] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="A token name.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="ISO 8601 time.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="ISO 8601 time.")] = None,
    db: DbOption = DEFAULT_DB,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The audit log of a server run with --auth: who changed what, when, from where, outcome."""
    from twinforge.auth import read_audit

    graph = open_graph(db)
    try:
        rows, _ = read_audit(graph, twin=twin, actor=actor, start=start, end=end, limit=100_000)
    finally:
        graph.close()
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table()
    table.add_column("time", no_wrap=True, min_width=27)  # a whole ISO 8601 time, never cut
    for column in ("actor", "method", "path", "from", "status", "outcome"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(r["time"], r.get("actor") or "-", r["method"], r["path"], r.get("from", ""), str(r["status"]),
                      r["outcome"])
    console.print(table)


__all__ = ["audit", "tokens_app"]
