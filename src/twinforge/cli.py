"""The `twinforge` command: a thin layer over the library.

Every command prints one clear line on error (never a traceback) and exits 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from twinforge.errors import TwinforgeError
from twinforge.store import DEFAULT_URL

app = typer.Typer(help="twinforge: digital twins with DTDL models, a twin graph and an ADT-compatible API.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
models_app = typer.Typer(help="Validate and load DTDL models.", no_args_is_help=True)
twins_app = typer.Typer(help="Read and change twins in a store.", no_args_is_help=True)
demo_app = typer.Typer(help="Run a ready-made demo.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(twins_app, name="twins")
app.add_typer(demo_app, name="demo")

console = Console(emoji=False)
err = Console(stderr=True, emoji=False, highlight=False, soft_wrap=True)

DbOption = Annotated[str, typer.Option("--db", help="Store URL, e.g. sqlite:///twins.db")]


class CliError(Exception):
    """A user-facing failure: printed as one line."""


def _fail(message: str) -> None:
    raise CliError(message)


def _read_json(source: str) -> Any:
    """JSON from a file path, '-' for standard input, or an inline JSON string."""
    if source == "-":
        text = sys.stdin.read()
    elif source.lstrip().startswith(("{", "[")):
        text = source
    else:
        path = Path(source)
        if not path.exists():
            _fail(f"no such file: {source}")
        text = path.read_text(encoding="utf-8-sig")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(f"{source}: not valid JSON ({exc})")


def _collect_documents(paths: list[Path]) -> list[tuple[Path, Any]]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.json") if p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            _fail(f"no such file or folder: {path}")
    out = []
    for file in files:
        try:
            out.append((file, json.loads(file.read_text(encoding="utf-8-sig"))))
        except json.JSONDecodeError as exc:
            _fail(f"{file}: not valid JSON ({exc})")
    return out


def _graph(db: str) -> Any:
    from twinforge.graph import TwinGraph

    return TwinGraph.open(db)


def _print_json(value: Any) -> None:
    console.print_json(json.dumps(value))


# -- serve ---------------------------------------------------------------


@app.command()
def serve(
    db: DbOption = DEFAULT_URL,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    tls: Annotated[bool, typer.Option("--tls", help="Serve HTTPS (self-signed unless --cert/--key).")] = False,
    cert: Annotated[Path | None, typer.Option(help="TLS certificate (PEM).")] = None,
    key: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes sharing the store.")] = 1,
    mqtt: Annotated[str | None, typer.Option(
        "--mqtt", help="'embedded' (in-process broker) or a broker URL: mqtt://host:1883, "
                       "mqtts://user:password@host:8883")] = None,
    mqtt_port: Annotated[int, typer.Option("--mqtt-port", help="Port of the embedded broker.")] = 1883,
    mqtt_ca: Annotated[Path | None, typer.Option(
        "--mqtt-ca", help="CA certificate (PEM) to trust for an mqtts:// broker.")] = None,
    mapping: Annotated[Path | None, typer.Option(
        help="Mapping file (YAML or TOML) for other MQTT topics and OPC UA nodes.")] = None,
    retention: Annotated[str | None, typer.Option(
        help="Drop history points older than this (e.g. 90d), checked hourly.")] = None,
    downsample_after: Annotated[str | None, typer.Option(
        "--downsample-after", help="Replace numeric history older than this (e.g. 7d) by averages.")] = None,
    downsample_bucket: Annotated[str, typer.Option(
        "--downsample-bucket", help="Bucket of those averages.")] = "1h",
) -> None:
    """Serve the ADT-compatible REST API over a store, with optional MQTT and OPC UA ingestion."""

    def upkeep(application: Any) -> None:
        if retention or downsample_after:
            from twinforge.api.connectors import attach_history_maintenance

            attach_history_maintenance(application, retention=retention, downsample_after=downsample_after,
                                       downsample_bucket=downsample_bucket)

    _serve(_graph(db), db, host, port, tls, cert, key, workers, mqtt=mqtt, mqtt_port=mqtt_port,
           mapping=mapping, before_start=upkeep, mqtt_ca=mqtt_ca)


def _serve(graph: Any, db: str, host: str, port: int, tls: bool, cert: Path | None,
           key: Path | None, workers: int = 1, *, mqtt: str | None = None, mqtt_port: int = 1883,
           mapping: Path | None = None, before_start: Any = None, mqtt_ca: Path | None = None) -> None:
    import os

    import uvicorn

    from twinforge.api import create_app

    ssl: dict[str, str] = {}
    if cert or key:
        if not (cert and key):
            _fail("--cert and --key go together")
        assert cert is not None and key is not None
        ssl = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    elif tls:
        from twinforge.api.tls import ensure_self_signed

        directory = Path.home() / ".twinforge" / "tls"
        cert_path, key_path = ensure_self_signed(directory, host)
        ssl = {"ssl_certfile": str(cert_path), "ssl_keyfile": str(key_path)}
    scheme = "https" if ssl else "http"
    err.print(f"twinforge serving {db} at {scheme}://{host}:{port} (OpenAPI: {scheme}://{host}:{port}/docs)")
    rules = None
    if mapping is not None:
        from twinforge.ingest.mapping import load_mapping

        rules = load_mapping(mapping)
    if workers > 1:
        if mqtt or rules:
            _fail("--mqtt and --mapping run in a single worker; drop --workers")
        graph.close()
        os.environ["TWINFORGE_DB"] = db
        uvicorn.run("twinforge.api.asgi:app_from_env", factory=True, workers=workers, host=host,
                    port=port, log_level="warning", **ssl)  # type: ignore[arg-type]
        return
    application = create_app(graph)
    if mqtt:
        from twinforge.api.connectors import attach_mqtt

        attach_mqtt(application, mqtt, mapping=rules, port=mqtt_port,
                    ca_file=str(mqtt_ca) if mqtt_ca else None)
        where = f"embedded broker on mqtt://127.0.0.1:{mqtt_port}" if mqtt == "embedded" else mqtt
        err.print(f"MQTT ingestion from {where} (topics twinforge/twins/{{id}}/properties|telemetry)")
    if rules is not None and rules.opcua:
        from twinforge.api.connectors import attach_opcua

        attach_opcua(application, rules)
    if before_start is not None:
        before_start(application)
    import gc

    # Models and the app live as long as the server: keep the collector from re-scanning them
    # (a full collection over a large ontology is a latency spike).
    gc.collect()
    gc.freeze()
    uvicorn.run(application, host=host, port=port, log_level="warning", timeout_graceful_shutdown=3,
                **ssl)  # type: ignore[arg-type]


# -- models --------------------------------------------------------------


@models_app.command("validate")
def models_validate(
    paths: Annotated[list[Path], typer.Argument(help="DTDL files or folders.")],
    allow_undefined_extensions: Annotated[bool, typer.Option(help="Tolerate unknown extension contexts.")] = False,
) -> None:
    """Parse and check DTDL models; print the interfaces found and every error."""
    from twinforge.dtdl import ModelError, parse_models

    docs = _collect_documents(paths)
    try:
        models = parse_models([d for _, d in docs], allow_undefined_extensions=allow_undefined_extensions)
    except ModelError as exc:
        for line in exc.errors:
            err.print(f"error {line}", markup=False)
        err.print(f"{len(exc.errors)} error(s) in {len(docs)} file(s)")
        raise typer.Exit(1) from None
    table = Table("interface", "extends", "contents", title=f"{len(models)} interface(s) in {len(docs)} file(s)")
    for dtmi in models.root_ids():
        view = models.interface(dtmi)
        n = len(view.properties) + len(view.telemetry) + len(view.relationships) + len(view.components) + len(view.commands)
        table.add_row(dtmi, ", ".join(view.extends), str(n))
    console.print(table)


@models_app.command("load")
def models_load(
    paths: Annotated[list[Path], typer.Argument(help="DTDL files or folders.")],
    db: DbOption = DEFAULT_URL,
) -> None:
    """Upload DTDL models into a store (one batch: all or nothing)."""
    docs = _collect_documents(paths)
    graph = _graph(db)
    infos = graph.add_models([d for _, d in docs])
    console.print(f"loaded {len(infos)} model(s) into {db}")


# -- twins ---------------------------------------------------------------


@twins_app.command("get")
def twins_get(twin_id: str, db: DbOption = DEFAULT_URL) -> None:
    """Print a twin as JSON."""
    _print_json(_graph(db).get_twin(twin_id))


@twins_app.command("put")
def twins_put(
    twin_id: str,
    document: Annotated[str, typer.Argument(help="Twin JSON: a file, '-' for stdin, or inline JSON.")],
    db: DbOption = DEFAULT_URL,
    if_none_match: Annotated[bool, typer.Option("--if-none-match", help="Refuse to replace an existing twin.")] = False,
) -> None:
    """Create or replace a twin."""
    _print_json(_graph(db).create_twin(twin_id, _read_json(document), if_none_match=if_none_match))


@twins_app.command("patch")
def twins_patch(
    twin_id: str,
    patch: Annotated[str, typer.Argument(help="JSON Patch: a file, '-' for stdin, or inline JSON.")],
    db: DbOption = DEFAULT_URL,
    if_match: Annotated[str | None, typer.Option("--if-match", help="Only if the twin still has this ETag.")] = None,
) -> None:
    """Update a twin with a JSON Patch."""
    _print_json(_graph(db).update_twin(twin_id, _read_json(patch), if_match=if_match))


@twins_app.command("delete")
def twins_delete(twin_id: str, db: DbOption = DEFAULT_URL,
                 if_match: Annotated[str | None, typer.Option("--if-match")] = None) -> None:
    """Delete a twin (refused while it has relationships)."""
    _graph(db).delete_twin(twin_id, if_match=if_match)
    console.print(f"deleted {twin_id}")


@twins_app.command("list")
def twins_list(
    db: DbOption = DEFAULT_URL,
    model: Annotated[str | None, typer.Option(help="Only twins of exactly this model.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many twins.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List twins in id order."""
    twins = _graph(db).list_twins(model=model, limit=limit)
    if as_json:
        _print_json(twins)
        return
    table = Table("$dtId", "model", "name")
    for t in twins:
        table.add_row(t["$dtId"], t["$metadata"]["$model"], str(t.get("name", "")))
    console.print(table)


# -- query ---------------------------------------------------------------


@app.command()
def query(
    text: Annotated[str, typer.Argument(help="An ADT query, e.g. \"SELECT * FROM DIGITALTWINS T WHERE T.x > 1\"")],
    db: DbOption = DEFAULT_URL,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows instead of a table.")] = False,
    limit: Annotated[int, typer.Option(help="Print at most this many rows.")] = 1000,
) -> None:
    """Run an ADT query against a store and print the rows."""
    import itertools

    rows = list(itertools.islice(_graph(db).query(text), limit))
    if as_json:
        _print_json(rows)
        return
    table = Table(title=f"{len(rows)} row(s)")
    columns: list[str] = []
    flat = []
    for row in rows:
        if isinstance(row, dict) and "$dtId" in row:
            row = {"$dtId": row["$dtId"], "$model": row["$metadata"]["$model"],
                   **{k: v for k, v in row.items() if not k.startswith("$") and not isinstance(v, dict)}}
        flat.append(row)
        for key in row:
            if key not in columns:
                columns.append(key)
    for column in columns:
        table.add_column(column)
    for row in flat:
        table.add_row(*[_cell(row.get(c)) for c in columns])
    console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict) and "$dtId" in value:
        return str(value["$dtId"])
    return value if isinstance(value, str) else json.dumps(value)


index_app = typer.Typer(help="Property indexes that make queries on a property fast.", no_args_is_help=True)
app.add_typer(index_app, name="index")


@index_app.command("add")
def index_add(path: Annotated[str, typer.Argument(help="Property path, e.g. temperature or address.city")],
              db: DbOption = DEFAULT_URL) -> None:
    """Index twins on a property (existing twins included)."""
    name = _graph(db).add_property_index(path)
    console.print(f"index {name} on {path}")


@index_app.command("list")
def index_list(db: DbOption = DEFAULT_URL) -> None:
    """List the property indexes of a store."""
    for path in _graph(db).store.list_property_indexes():
        console.print(path)


# -- history -------------------------------------------------------------


@app.command()
def history(
    twin: Annotated[str, typer.Argument(help="Twin id.")],
    name: Annotated[str, typer.Argument(help="Property or telemetry name.")],
    db: DbOption = DEFAULT_URL,
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

    graph = _graph(db)
    graph.get_twin(twin)
    kwargs: dict[str, Any] = {"component": component, "start": start, "end": end, "bucket": bucket, "agg": agg}
    if csv or parquet:
        frame = History(graph.store).frame(twin, name, **kwargs)
        if csv:
            frame.to_csv(csv)
        if parquet:
            try:
                frame.to_parquet(parquet)
            except ImportError:
                _fail("Parquet export needs pyarrow: pip install 'twinforge[ml]'")
        console.print(f"wrote {len(frame)} point(s)")
        return
    rows = History(graph.store).read_range(twin, name, limit=100_000, **kwargs)
    if as_json:
        _print_json([{"time": r["time"], "value": r["value"]} for r in rows])
        return
    table = Table("time", name if not agg else f"{agg}({name})", title=f"{twin}: {len(rows)} point(s)")
    for row in rows:
        table.add_row(row["time"], _cell(row["value"]))
    console.print(table)


# -- demo ----------------------------------------------------------------


@demo_app.command("building")
def demo_building(
    db: DbOption = "sqlite:///twinforge-demo.db",
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8080,
    serve_api: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the API afterwards.")] = True,
    tls: Annotated[bool, typer.Option("--tls")] = False,
    mqtt_port: Annotated[int, typer.Option("--mqtt-port", help="Port of the embedded MQTT broker.")] = 1883,
    sensors: Annotated[bool, typer.Option("--sensors/--no-sensors",
                                          help="Run simulated sensors publishing over MQTT.")] = True,
) -> None:
    """Load RealEstateCore, build a small smart building and serve it, with live sensors over MQTT."""
    from twinforge.packs.building import SensorSimulator, demo_sensor_ids, load_demo

    graph = _graph(db)
    with console.status("loading RealEstateCore and the demo building..."):
        twins, rels = load_demo(graph)
    console.print(f"demo building ready in {db}: {len(graph.models)} models, "
                  f"{graph.store.count_twins()} twins ({twins} new), {rels} new relationships")
    if not serve_api:
        return
    scheme = "https" if tls else "http"
    console.print(f"try: curl {'-k ' if tls else ''}{scheme}://{host}:{port}/digitaltwins/temp-101")
    console.print(f"     curl {'-k ' if tls else ''}'{scheme}://{host}:{port}/digitaltwins/temp-101/history?name=lastValue'")
    console.print(f"     curl -N {'-k ' if tls else ''}'{scheme}://{host}:{port}/stream?twin=temp-101'")

    def add_sensors(application: Any) -> None:
        simulator = SensorSimulator(f"mqtt://127.0.0.1:{mqtt_port}", demo_sensor_ids())

        async def start(app: Any) -> None:
            simulator.start()

        async def stop(app: Any) -> None:
            simulator.stop()

        application.state.on_start.append(start)
        application.state.on_stop.append(stop)

    _serve(graph, db, host, port, tls, None, None, mqtt="embedded", mqtt_port=mqtt_port,
           before_start=add_sensors if sensors else None)


# -- bench ---------------------------------------------------------------


@app.command()
def bench(
    name: Annotated[str, typer.Argument(help="Which benchmark: graph.")],
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
        err.print(f"error: {len(exc.errors)} DTDL error(s); first: {exc.errors[0]}", markup=False)
        sys.exit(1)
    except (TwinforgeError, CliError) as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(1)
    except Exception as exc:  # the CLI promises one line, never a traceback
        format_message = getattr(exc, "format_message", None)
        if callable(format_message):  # a usage error from the command-line parser
            err.print(f"error: {format_message()} (see twinforge --help)", markup=False)
            sys.exit(2)
        err.print(f"error: {type(exc).__name__}: {exc}", markup=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
