"""`twinforge demo building|health|factory|city`: a ready-made twin, loaded, then served live."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from twinforge.cli.common import DEFAULT_DB, DbOption, console, err, open_graph
from twinforge.cli.serve import LogLevel, _announce

demo_app = typer.Typer(help="Run a ready-made demo.", no_args_is_help=True)

Host = Annotated[str, typer.Option()]
Port = Annotated[int, typer.Option()]
ServeApi = Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the API afterwards.")]
MqttPort = Annotated[int, typer.Option("--mqtt-port", help="Port of the embedded MQTT broker.")]


def prepare(db: str, host: str, port: int, mqtt_port: int, log_level: str, serve_api: bool, *,
            tls: bool = False) -> tuple[Any, Any, Any]:
    """A demo's server configuration (embedded MQTT broker), its server (ports checked only
    when it will serve: --no-serve only builds) and the store's graph, opened for writing."""
    from twinforge.api.server import Server, ServerConfig

    config = ServerConfig(db=db, host=host, port=port, tls=tls, mqtt="embedded", mqtt_port=mqtt_port,
                          log_level=log_level)
    server = Server(config)
    if serve_api:
        server.preflight()
    server.graph = open_graph(db, write=True)
    return config, server, server.graph


def live(config: Any, publishers: list[Any], jobs: Sequence[tuple[float, Any]] = ()) -> None:
    """Run ``publishers`` (simulated devices) and ``jobs`` ((period in seconds, function) run in a
    thread every period, from 3 s after the start) while the server runs."""
    import asyncio

    def attach(application: Any) -> None:
        tasks: list[Any] = []

        async def every(period: float, job: Any) -> None:
            await asyncio.sleep(3)
            while True:
                try:
                    await asyncio.to_thread(job)
                except Exception as exc:  # keep the demo going; say what failed
                    err.print(f"{getattr(job, '__qualname__', job)}: {exc}", markup=False)
                await asyncio.sleep(period)

        async def start(app: Any) -> None:
            for publisher in publishers:
                publisher.start()
            tasks.extend(asyncio.create_task(every(period, job)) for period, job in jobs)

        async def stop(app: Any) -> None:
            for task in tasks:
                task.cancel()
            for publisher in publishers:
                publisher.stop()

        application.state.on_start.append(start)
        application.state.on_stop.append(stop)

    config.before_start.append(attach)


@demo_app.command("building")
def demo_building(
    db: DbOption = DEFAULT_DB,
    host: Host = "127.0.0.1",
    port: Port = 8080,
    serve_api: ServeApi = True,
    tls: Annotated[bool, typer.Option("--tls")] = False,
    mqtt_port: MqttPort = 1883,
    sensors: Annotated[bool, typer.Option("--sensors/--no-sensors",
                                          help="Run simulated sensors publishing over MQTT.")] = True,
    log_level: LogLevel = "warning",
) -> None:
    """Load RealEstateCore, build a small smart building and serve it, with live sensors over MQTT."""
    from twinforge.packs.building import SCENE_URL, SensorSimulator, demo_sensor_ids, load_demo

    config, server, graph = prepare(db, host, port, mqtt_port, log_level, serve_api, tls=tls)
    with console.status("loading RealEstateCore and the demo building..."):
        twins, rels = load_demo(graph)
    if serve_api:
        console.print(f"dashboard: {config.url}/ui   (3D view: {config.url}{SCENE_URL})", markup=False, soft_wrap=True)
    console.print(f"demo building ready in {db}: {len(graph.models)} models, "
                  f"{graph.store.count_twins()} twins ({twins} new), {rels} new relationships")
    if not serve_api:
        return
    k = "-k " if tls else ""
    console.print(f"try: curl {k}{config.url}/digitaltwins/temp-101")
    console.print(f"     curl {k}'{config.url}/digitaltwins/temp-101/history?name=lastValue'")
    console.print(f"     curl -N {k}'{config.url}/stream?twin=temp-101'")
    where = "" if db == DEFAULT_DB else f" --db {db}"
    console.print(f"     twinforge query \"SELECT T.name FROM DIGITALTWINS T WHERE T.levelNumber >= 2\"{where}",
                  markup=False)

    if sensors:
        live(config, [SensorSimulator(f"mqtt://127.0.0.1:{mqtt_port}", demo_sensor_ids())])
    server.run(_announce)


@demo_app.command("health")
def demo_health(
    db: DbOption = DEFAULT_DB,
    host: Host = "127.0.0.1",
    port: Port = 8080,
    serve_api: ServeApi = True,
    mqtt_port: MqttPort = 1883,
    patients: Annotated[int, typer.Option("--patients", help="Patients on the ward (1-30).")] = 10,
    backfill: Annotated[str, typer.Option("--backfill", help="History simulated at start (ISO 8601).")] = "PT6H",
    speed: Annotated[float, typer.Option("--speed", help="Simulated seconds per second once caught up (1: "
                                                         "real time; faster runs ahead of the clock).")] = 1.0,
    log_level: LogLevel = "warning",
) -> None:
    """A ward of virtual patients (UVA/Padova) streaming CGM and pump data over MQTT, with a
    30-minute low-glucose prediction, detectors and alert rules. Not a medical device."""

    from twinforge.durations import seconds
    from twinforge.packs.health.ward import VIRTUAL, HypoWatch, WardSimulator, load_ward

    if not 1 <= patients <= 30:
        err.print(f"--patients {patients}: give 1 to 30", markup=False)
        raise typer.Exit(1)
    history = seconds(backfill, "--backfill")
    if speed <= 0:
        err.print(f"--speed {speed}: must be > 0", markup=False)
        raise typer.Exit(1)
    config, server, graph = prepare(db, host, port, mqtt_port, log_level, serve_api)
    with console.status("creating the ward..."):
        ward = load_ward(graph, patients)
    console.print(f"ward ready in {db}: {len(ward)} patients, {graph.store.count_twins()} twins; reads of patient "
                  "twins are audited under --auth; this is a demonstration, not a medical device", markup=False)
    if not serve_api:
        return
    first = ward[0].patient
    console.print(f"dashboard: {config.url}/ui/ward   (a patient: {config.url}/ui/ward/{first})", markup=False,
                  soft_wrap=True)
    console.print(f"try: curl '{config.url}/digitaltwins/{first}/history?name=glucose'", markup=False)
    console.print(f"     twinforge health whatif {first} --meal PT1H=60 --bolus PT1H=6 --horizon PT8H"
                  + ("" if db == DEFAULT_DB else f" --db {db}"), markup=False)
    console.print("     (a ward token: twinforge tokens create nurse --role reader --scope twins:ward-a-)", markup=False)
    virtuals = [VIRTUAL[k % len(VIRTUAL)] for k in range(patients)]

    simulator = WardSimulator(f"mqtt://127.0.0.1:{mqtt_port}", ward, virtuals, backfill=history, speed=speed)
    live(config, [simulator], [(15.0, HypoWatch(graph, [ids.patient for ids in ward]).run_once)])
    server.run(_announce)


@demo_app.command("factory")
def demo_factory(
    db: DbOption = DEFAULT_DB,
    host: Host = "127.0.0.1",
    port: Port = 8080,
    serve_api: ServeApi = True,
    mqtt_port: MqttPort = 1883,
    opcua_port: Annotated[int, typer.Option("--opcua-port", help="Port of the bottling line's OPC UA server.")] = 4840,
    engines: Annotated[int, typer.Option("--engines", help="Engines in the fleet (1-50).")] = 6,
    speedup: Annotated[float, typer.Option("--speedup", help="Faults and micro-stops come this many times as "
                                                             "often (and are as much shorter).")] = 1.0,
    window: Annotated[str, typer.Option("--window", help="The rolling OEE window (ISO 8601).")] = "PT15M",
    rul_model: Annotated[Path | None, typer.Option("--rul-model", help="A RUL model file (twinforge rul train) "
                                                       "to use instead of training one on simulated engines.")] = None,
    log_level: LogLevel = "warning",
) -> None:
    """A bottling line (filler, capper, labeller, conveyor, packer) on an OPC UA server with PackML
    states, counters and faults, connected by its own model; live OEE per machine and for the
    line; an engine fleet with live RUL, an alert rule, work orders and a maintenance plan."""
    import asyncio
    import tempfile

    import yaml

    from twinforge.durations import seconds
    from twinforge.interop.opcua_connect import apply, connect
    from twinforge.packs.factory.fleet import FleetSimulator, MaintenanceDesk, load_fleet
    from twinforge.packs.factory.line import LINE, LineServer
    from twinforge.packs.factory.monitor import LineMonitor, Machine, ensure_line

    if not 1 <= engines <= 50:
        err.print(f"--engines {engines}: give 1 to 50", markup=False)
        raise typer.Exit(1)
    if speedup <= 0:
        err.print(f"--speedup {speedup}: must be > 0", markup=False)
        raise typer.Exit(1)
    span = seconds(window, "--window")
    if rul_model is not None and not rul_model.is_file():
        err.print(f"--rul-model {rul_model}: no such file", markup=False)
        raise typer.Exit(1)
    config, server, graph = prepare(db, host, port, mqtt_port, log_level, serve_api)
    line = LineServer(opcua_port, speedup=speedup)
    with console.status(f"starting the bottling line's OPC UA server at {line.url}..."):
        line.start()
    try:
        with console.status(f"connecting {line.url} by its information model..."):
            connection = asyncio.run(connect(line.url))
            apply(graph, connection)
        machines = [Machine(f"Line1-{spec.name}", spec.ideal_cycle_time) for spec in LINE]
        ensure_line(graph, "Line1", [m.twin for m in machines])
        if rul_model is not None:
            fleet = load_fleet(graph, engines, model_bytes=rul_model.read_bytes())
        else:
            with console.status("training the fleet's RUL model on simulated run-to-failure engines (once)..."):
                fleet = load_fleet(graph, engines)
        console.print(f"factory ready in {db}: {len(connection.interfaces)} models from the line's OPC UA server, "
                      f"{len(machines)} machines, {len(fleet)} engines, {graph.store.count_twins()} twins",
                      markup=False)
        if not serve_api:
            return
        folder = Path(tempfile.mkdtemp(prefix="twinforge-factory-"))
        config.mapping = folder / "line-opcua.yaml"
        config.mapping.write_text(yaml.safe_dump(connection.mapping(250), sort_keys=False))
        console.print(f"dashboard: {config.url}/ui/line/Line1   (alerts: {config.url}/ui/alerts)", markup=False,
                      soft_wrap=True)
        console.print(f"try: curl {config.url}/digitaltwins/Line1", markup=False)
        console.print(f"     curl '{config.url}/digitaltwins/Line1-Filler-kpi/history?name=oee'", markup=False)
        console.print(f"     curl {config.url}/workorders   (the OPC UA server: {line.url})", markup=False)
        monitor = LineMonitor(graph, "Line1", machines, window=span, micro_stop=60.0 / speedup)
        desk = MaintenanceDesk(graph)

        live(config, [FleetSimulator(f"mqtt://127.0.0.1:{mqtt_port}", fleet)],
             [(5.0, monitor.run_once), (10.0, desk.run_once)])
        server.run(_announce)
    finally:
        line.stop()




@demo_app.command("city")
def demo_city(
    db: DbOption = DEFAULT_DB,
    host: Host = "127.0.0.1",
    port: Port = 8080,
    serve_api: ServeApi = True,
    mqtt_port: MqttPort = 1883,
    speedup: Annotated[float, typer.Option("--speedup", help="Simulated seconds per second for the weather, "
                                                             "the lights' schedule and the waste.")] = 600.0,
    traffic_pace: Annotated[float, typer.Option("--traffic-pace", help="Simulated seconds of traffic per second "
                                                                       "(SUMO on the streets).")] = 1.0,
    log_level: LogLevel = "warning",
) -> None:
    """A district: CIGRE's MV grid on the energy-grid ontology, 30 RC buildings whose heating and
    cooling load their grid buses, streetlights, parking, waste containers and air quality over
    MQTT on the smart-cities ontology; a power flow on the twins every 10 s; a 3x3 street grid
    with SUMO's traffic feeding its segments, junctions, lights and loops every simulated second."""
    from twinforge.packs.city.demo import (
        GRID,
        ROOT,
        SCENE_URL,
        STREETS,
        DistrictEnergy,
        load_district,
    )
    from twinforge.packs.city.services import ServicesPublisher, district_services
    from twinforge.packs.city.traffic_run import RunOptions, TrafficFeed

    for flag, value in (("--speedup", speedup), ("--traffic-pace", traffic_pace)):
        if value <= 0:
            err.print(f"{flag} {value}: must be > 0", markup=False)
            raise typer.Exit(1)
    config, server, graph = prepare(db, host, port, mqtt_port, log_level, serve_api)
    with console.status("building the district (grid, buildings, services)..."):
        counts = load_district(graph)
    energy = DistrictEnergy(graph, speedup=speedup)
    kpis = energy.run_once()
    console.print(f"district ready in {db}: {graph.store.count_twins()} twins; grid {GRID}: losses "
                  f"{kpis['lossesMw']:.3f} MW, largest loading {kpis['maxLoadingPercent']:.1f} %"
                  + ("" if counts.get("twins") else " (already built)"), markup=False)
    if not serve_api:
        return
    console.print(f"dashboard: {config.url}/ui   (3D view: {config.url}{SCENE_URL})", markup=False, soft_wrap=True)
    console.print(f"what-ifs: {config.url}/ui/whatif?example=close-street   "
                  f"{config.url}/ui/whatif?example=n-1-feeder-2", markup=False, soft_wrap=True)
    console.print(f"try: curl {config.url}/digitaltwins/{ROOT}", markup=False)
    console.print("     twinforge query \"SELECT L.$dtId, L.resLoadingPercent FROM DIGITALTWINS L "
                  "WHERE L.resLoadingPercent > 30\"" + ("" if db == DEFAULT_DB else f" --db {db}"), markup=False)
    publishers: list[Any] = [ServicesPublisher(f"mqtt://127.0.0.1:{mqtt_port}", district_services(), speedup=speedup)]
    if graph.store.get_blob(f"traffic/{STREETS}/net.xml") is not None:
        publishers.append(TrafficFeed(graph, STREETS, RunOptions(end=86400.0, pace=traffic_pace)))
        console.print(f"streets: SUMO at {traffic_pace:g}x, e.g. curl {config.url}/digitaltwins/{STREETS}-e-B1C1",
                      markup=False)
    live(config, publishers, [(10.0, energy.run_once)])
    server.run(_announce)


__all__ = ["demo_app", "demo_building", "demo_city", "demo_factory", "demo_health", "live", "prepare"]
