"""`twinforge rels|rules|detectors|scenarios`: thin commands over a running server's REST API
(``--url``, default ``$TWINFORGE_URL`` or http://127.0.0.1:8080; ``--token`` or
``$TWINFORGE_TOKEN`` under `--auth`). What they print is what the API answers: a table, or
the JSON with ``--json``; an error is the API's code and message on one line."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from twinforge.cli.common import cell, console, fail, print_json

UrlOption = Annotated[str, typer.Option("--url", envvar="TWINFORGE_URL", help="The server.")]
TokenOption = Annotated[str | None, typer.Option("--token", envvar="TWINFORGE_TOKEN",
                                                 help="A bearer token (under serve --auth).")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print the API's JSON.")]
DEFAULT_URL = "http://127.0.0.1:8080"


def call(url: str, token: str | None, method: str, path: str, body: Any = None, *,
         content: bytes | None = None, content_type: str | None = None) -> Any:
    """One request; the JSON answer, or one line naming the API's error."""
    import httpx

    headers = {"authorization": f"Bearer {token}"} if token else {}
    if content_type:
        headers["content-type"] = content_type
    try:
        r = httpx.request(method, url.rstrip("/") + path, json=body if content is None else None, content=content,
                          headers=headers, timeout=60)
    except httpx.HTTPError as exc:
        fail(f"cannot reach {url}: {exc} (is `twinforge serve` running? --url or TWINFORGE_URL name it)")
    if r.status_code >= 400:
        try:
            error = r.json()["error"]
            fail(f"{error['code']}: {error['message']}")
        except (ValueError, KeyError, TypeError):
            fail(f"{method} {path} answered {r.status_code}")
    return r.json() if r.content else None


def document(source: str) -> tuple[bytes, str]:
    """A document from a file (JSON or YAML), '-' or inline JSON, with its content type."""
    import sys

    if source == "-":
        return sys.stdin.read().encode(), "application/json"
    if source.lstrip().startswith("{"):
        return source.encode(), "application/json"
    path = Path(source)
    if not path.is_file():
        fail(f"no such file: {source}")
    kind = "application/yaml" if path.suffix in (".yaml", ".yml") else "application/json"
    return path.read_bytes(), kind


def as_json_body(source: str) -> Any:
    """A document as JSON (YAML files read too), for routes that take JSON only."""
    data, kind = document(source)
    try:
        if kind == "application/yaml":
            import yaml

            return yaml.safe_load(data)
        return json.loads(data)
    except ValueError as exc:
        fail(f"{source}: not valid JSON: {exc}")
    except Exception as exc:  # yaml.YAMLError: one line
        fail(f"{source}: not valid YAML: {exc}")


def show(value: Any, as_json: bool, columns: tuple[str, ...]) -> None:
    if as_json:
        print_json(value)
        return
    rows = value.get("value", [value]) if isinstance(value, dict) else value
    table = Table(*columns)
    for row in rows:
        table.add_row(*(cell(row.get(c)) for c in columns))
    console.print(table)


def _p(text: str) -> str:
    return quote(text, safe="")


# -- relationships --------------------------------------------------------------------------

rels_app = typer.Typer(help="Relationships of twins, over the REST API.", no_args_is_help=True)
REL_COLUMNS = ("$relationshipId", "$relationshipName", "$sourceId", "$targetId")


@rels_app.command("list")
def rels_list(twin: str, url: UrlOption = DEFAULT_URL, token: TokenOption = None, as_json: JsonFlag = False,
              incoming: Annotated[bool, typer.Option("--incoming", help="Those that point at the twin.")] = False
              ) -> None:
    """A twin's relationships (or those pointing at it)."""
    path = f"/digitaltwins/{_p(twin)}/{'incomingrelationships' if incoming else 'relationships'}"
    show(call(url, token, "GET", path), as_json, REL_COLUMNS)


@rels_app.command("get")
def rels_get(twin: str, rel: str, url: UrlOption = DEFAULT_URL, token: TokenOption = None) -> None:
    """One relationship, as JSON."""
    print_json(call(url, token, "GET", f"/digitaltwins/{_p(twin)}/relationships/{_p(rel)}"))


@rels_app.command("put")
def rels_put(twin: str, rel: str,
             target: Annotated[str, typer.Option("--target", help="The twin it points at.")],
             name: Annotated[str, typer.Option("--name", help="The relationship's name in the model.")],
             props: Annotated[str | None, typer.Option("--props", help="Its properties, as JSON.")] = None,
             url: UrlOption = DEFAULT_URL, token: TokenOption = None) -> None:
    """Create or replace a relationship."""
    body = {"$targetId": target, "$relationshipName": name, **(json.loads(props) if props else {})}
    print_json(call(url, token, "PUT", f"/digitaltwins/{_p(twin)}/relationships/{_p(rel)}", body))


@rels_app.command("delete")
def rels_delete(twin: str, rel: str, url: UrlOption = DEFAULT_URL, token: TokenOption = None) -> None:
    """Delete a relationship."""
    call(url, token, "DELETE", f"/digitaltwins/{_p(twin)}/relationships/{_p(rel)}")
    console.print(f"relationship '{rel}' of '{twin}' deleted", markup=False)


# -- alert rules and detectors: the same four commands over two collections ---------------

def _records(path: str, columns: tuple[str, ...], what: str) -> typer.Typer:
    app = typer.Typer(help=f"{what.capitalize()}s, over the REST API.", no_args_is_help=True)

    @app.command("list")
    def list_(url: UrlOption = DEFAULT_URL, token: TokenOption = None, as_json: JsonFlag = False) -> None:
        show(call(url, token, "GET", path), as_json, columns)

    @app.command("get")
    def get(id: str, url: UrlOption = DEFAULT_URL, token: TokenOption = None) -> None:
        print_json(call(url, token, "GET", f"{path}/{_p(id)}"))

    @app.command("put")
    def put(id: str, source: Annotated[str, typer.Argument(help="The document: a JSON or YAML file, '-' or JSON.")],
            url: UrlOption = DEFAULT_URL, token: TokenOption = None) -> None:
        print_json(call(url, token, "PUT", f"{path}/{_p(id)}", as_json_body(source)))

    @app.command("delete")
    def delete(id: str, url: UrlOption = DEFAULT_URL, token: TokenOption = None) -> None:
        call(url, token, "DELETE", f"{path}/{_p(id)}")
        console.print(f"{what} '{id}' deleted", markup=False)

    list_.__doc__, get.__doc__ = f"The {what}s.", f"One {what}, as JSON."
    put.__doc__, delete.__doc__ = f"Create or replace a {what} (checked by the server).", f"Delete a {what}."
    return app


rules_app = _records("/alerts/rules", ("id", "model", "twin", "condition", "for", "severity"), "alert rule")
detectors_app = _records("/analytics/detectors", ("id", "model", "name", "kind"), "detector")


# -- scenarios -----------------------------------------------------------------------------

scenarios_app = typer.Typer(help="Scenarios kept and run by a server, over the REST API.", no_args_is_help=True)
SCENARIO_COLUMNS = ("id", "status", "progress", "error")


@scenarios_app.command("list")
def scenarios_list(url: UrlOption = DEFAULT_URL, token: TokenOption = None, as_json: JsonFlag = False) -> None:
    """The scenarios and their status."""
    show(call(url, token, "GET", "/scenarios"), as_json, SCENARIO_COLUMNS)


@scenarios_app.command("create")
def scenarios_create(file: Annotated[str, typer.Argument(help="The scenario document (JSON or YAML).")],
                     url: UrlOption = DEFAULT_URL, token: TokenOption = None) -> None:
    """Create a scenario from its document (checked by the server against the graph)."""
    data, kind = document(file)
    print_json(call(url, token, "POST", "/scenarios", content=data, content_type=kind))


@scenarios_app.command("run")
def scenarios_run(id: str, url: UrlOption = DEFAULT_URL, token: TokenOption = None,
                  wait: Annotated[bool, typer.Option("--wait", help="Wait for it and print its results.")] = False
                  ) -> None:
    """Run a scenario in the background on the server (with --wait: until it ends)."""
    entry = call(url, token, "POST", f"/scenarios/{_p(id)}/run")
    if not wait:
        print_json(entry)
        return
    with console.status(f"running {id} ...") as status:
        while entry["status"] in ("created", "running"):
            time.sleep(0.5)
            entry = call(url, token, "GET", f"/scenarios/{_p(id)}")
            status.update(f"running {id}: {100 * float(entry.get('progress') or 0):.0f} %")
    if entry["status"] != "done":
        fail(f"scenario '{id}' {entry['status']}: {entry.get('error')}")
    print_json(call(url, token, "GET", f"/scenarios/{_p(id)}/results"))


@scenarios_app.command("get")
def scenarios_get(id: str, url: UrlOption = DEFAULT_URL, token: TokenOption = None) -> None:
    """A scenario's status and progress."""
    print_json(call(url, token, "GET", f"/scenarios/{_p(id)}"))


@scenarios_app.command("results")
def scenarios_results(id: str, url: UrlOption = DEFAULT_URL, token: TokenOption = None) -> None:
    """KPIs of the variant, of the baseline, and their deltas."""
    print_json(call(url, token, "GET", f"/scenarios/{_p(id)}/results"))


@scenarios_app.command("delete")
def scenarios_delete(id: str, url: UrlOption = DEFAULT_URL, token: TokenOption = None) -> None:
    """Delete a scenario and its runs."""
    call(url, token, "DELETE", f"/scenarios/{_p(id)}")
    console.print(f"scenario '{id}' deleted", markup=False)


__all__ = ["detectors_app", "rels_app", "rules_app", "scenarios_app"]
