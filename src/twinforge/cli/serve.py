"""`twinforge serve`: flags into a `ServerConfig`, then `Server.run`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from twinforge.cli.common import DEFAULT_DB, DbOption, err, open_graph

LogLevel = Annotated[str, typer.Option("--log-level", help="critical, error, warning, info (adds a request "
                                                           "log) or debug.")]


def _announce(line: str) -> None:
    err.print(line, markup=False)


def serve(
    db: DbOption = DEFAULT_DB,
    db_read: Annotated[str | None, typer.Option(
        "--db-read", help="A PostgreSQL streaming replica of --db for reads (twins, queries, history); writes "
                          "stay on --db; a client reads its own writes by sending back Twinforge-Session.")] = None,
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
    mqtt_client_id: Annotated[str | None, typer.Option(
        "--mqtt-client-id", help="MQTT client id (default twinforge-<host>-<port>: a restarted server "
                                 "resumes its broker session).")] = None,
    mqtt_shared: Annotated[bool, typer.Option(
        "--mqtt-shared/--no-mqtt-shared", help="Shared subscriptions ($share/twinforge/...) on an external "
                                               "broker, so several servers split the messages.")] = True,
    mqtt_connections: Annotated[int, typer.Option(
        "--mqtt-connections", min=1, max=32, help="Connections per server in the shared subscription (each "
                                                  "holds up to the broker's in-flight limit unacknowledged).")] = 4,
    mqtt_process: Annotated[bool, typer.Option(
        "--mqtt-process/--no-mqtt-process", help="Run the connections to an external broker in a process of "
                                                 "their own, beside the server's (ingest and /stream then use "
                                                 "two cores).")] = True,
    mapping: Annotated[Path | None, typer.Option(
        help="Mapping file (YAML or TOML) for other MQTT topics and OPC UA nodes.")] = None,
    events: Annotated[str | None, typer.Option(
        "--events", help="NATS JetStream for the ingest queue and the event log: nats://host:4222 (several "
                         "servers of one cluster comma-separated). PostgreSQL stays the twins' store.")] = None,
    events_replicas: Annotated[int | None, typer.Option(
        "--events-replicas", help="Replicas of the JetStream streams (default: up to 3).")] = None,
    auth: Annotated[bool, typer.Option("--auth", help="Require bearer tokens (see `twinforge tokens`): "
                                                      "roles, scopes and the audit log.")] = False,
    oidc_issuer: Annotated[str | None, typer.Option(
        "--oidc-issuer", help="Under --auth, also accept JWTs from this OpenID Connect issuer.")] = None,
    oidc_audience: Annotated[str | None, typer.Option(
        "--oidc-audience", help="The audience (aud) those JWTs must be for.")] = None,
    oidc_jwks: Annotated[str | None, typer.Option(
        "--oidc-jwks", help="The issuer's signing keys: a JWKS file or URL (default: its discovery document).")] = None,
    audit_reads: Annotated[list[str] | None, typer.Option(
        "--audit-reads", help="Under --auth, also audit every read of twins of this model DTMI (or a model "
                              "extending it); repeatable; kept in the store for every server.")] = None,
    rules: Annotated[Path | None, typer.Option(
        "--rules", help="Alert rules (a YAML list, each with an id) to put at start-up.")] = None,
    retention: Annotated[str | None, typer.Option(
        help="Drop history points older than this (e.g. 90d), checked hourly.")] = None,
    downsample_after: Annotated[str | None, typer.Option(
        "--downsample-after", help="Replace numeric history older than this (e.g. 7d) by averages.")] = None,
    downsample_bucket: Annotated[str, typer.Option(
        "--downsample-bucket", help="Bucket of those averages.")] = "1h",
    query_timeout: Annotated[float, typer.Option("--query-timeout", help="Seconds a query may run.")] = 10.0,
    audit_retention: Annotated[str | None, typer.Option(
        "--audit-retention", help="Under --auth, drop audit entries older than this (e.g. 90d), checked "
                                  "hourly; kept for ever by default.")] = None,
    blob_root: Annotated[list[str] | None, typer.Option(
        "--blob-root", help="A folder import jobs may read and write (repeatable; none by default).")] = None,
    blob_allow: Annotated[list[str] | None, typer.Option(
        "--blob-allow", help="A host import jobs may fetch from and write to (repeatable; *.example.com for "
                             "subdomains; none by default; private addresses only when listed exactly).")] = None,
    rate_limit: Annotated[str | None, typer.Option(
        "--rate-limit", help="Requests per client (its token, else its address), e.g. 100/s; past it 429 "
                             "with Retry-After.")] = None,
    max_streams: Annotated[int, typer.Option("--max-streams", help="Open /stream connections per client.")] = 20,
    max_body_bytes: Annotated[int, typer.Option(
        "--max-body-bytes", help="Largest JSON request body.")] = 32 * 1024 * 1024,
    max_ingest_bytes: Annotated[int, typer.Option(
        "--max-ingest-bytes", help="Largest NDJSON body on POST /ingest.")] = 64 * 1024 * 1024,
    max_model_bytes: Annotated[int, typer.Option(
        "--max-model-bytes", help="Largest RUL model file PUT /analytics/rul/models/{id} accepts.")] = 64 * 1024 * 1024,
    log_level: LogLevel = "warning",
) -> None:
    """Serve the ADT-compatible REST API over a store, with optional MQTT and OPC UA ingestion."""
    from twinforge.api.server import Server, ServerConfig

    config = ServerConfig(db=db, db_read=db_read, host=host, port=port, tls=tls, cert=cert, key=key, workers=workers, mqtt=mqtt,
                          mqtt_port=mqtt_port, mqtt_ca=mqtt_ca, mqtt_client_id=mqtt_client_id,
                          mqtt_shared=mqtt_shared, mqtt_connections=mqtt_connections, mqtt_process=mqtt_process, mapping=mapping, events=events, events_replicas=events_replicas, oidc_issuer=oidc_issuer,
                          oidc_audience=oidc_audience, oidc_jwks=oidc_jwks, rules=rules, auth=auth, retention=retention,
                          downsample_after=downsample_after, downsample_bucket=downsample_bucket,
                          query_timeout=query_timeout, audit_retention=audit_retention, log_level=log_level,
                          max_model_bytes=max_model_bytes, rate_limit=rate_limit, max_streams=max_streams,
                          max_body_bytes=max_body_bytes, max_ingest_bytes=max_ingest_bytes, blob_roots=blob_root or [], blob_allow=blob_allow or [])
    server = Server(config)
    server.preflight()
    if not auth and host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"warning: serving on {host} without --auth: anyone who reaches this port can read and "
                  "change every twin", markup=False)
    server.graph = open_graph(db, write=True, read=db_read)
    if audit_reads is not None:
        from twinforge.auth import set_sensitive_models

        if not auth:
            err.print("warning: --audit-reads records reads only under --auth", markup=False)
        set_sensitive_models(server.graph.store, audit_reads)
    server.run(_announce)


__all__ = ["LogLevel", "serve"]
