"""A server from Python: `ServerConfig` holds what ``twinforge serve`` takes as flags, and
`Server` turns it into a running app (TLS, MQTT, OPC UA, history upkeep, workers).

    >>> from twinforge.api.server import Server, ServerConfig
    >>> config = ServerConfig(db="sqlite:///:memory:", port=8080)
    >>> config.url
    'http://127.0.0.1:8080'
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from twinforge.api.limits import Limits, parse_rate
from twinforge.errors import InvalidArgument, MissingDependency, NotFound
from twinforge.graph import TwinGraph

log = logging.getLogger("twinforge.server")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def default_client_id(port: int) -> str:
    """The MQTT client id of a server: the same after a restart on the same host and port, so the
    broker's persistent session (and what it holds back for us) is picked up again; different
    for each server, so several servers never take each other's session."""
    host = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname())[:40] or "host"
    return f"twinforge-{host}-{port}"


@dataclass
class ServerConfig:
    """Everything a server is started with; the CLI only parses flags into this."""

    db: str = "sqlite:///twinforge.db"
    db_read: str | None = None  # a PostgreSQL streaming replica for reads
    host: str = "127.0.0.1"
    port: int = 8080
    tls: bool = False
    cert: Path | None = None
    key: Path | None = None
    tls_dir: Path = field(default_factory=lambda: Path.home() / ".twinforge" / "tls")
    workers: int = 1
    mqtt: str | None = None  # "embedded" or mqtt(s)://...
    mqtt_port: int = 1883
    mqtt_ca: Path | None = None
    mqtt_client_id: str | None = None  # default: twinforge-<host name>-<HTTP port>, stable across restarts
    mqtt_shared: bool = True  # an external broker: MQTT 5 shared subscriptions ($share/twinforge/...)
    mqtt_connections: int = 4  # members of the shared group per server
    mqtt_process: bool = True  # an external broker's connections in a child process (ingest/process.py)
    mapping: Path | None = None
    events: str | None = None  # nats://host:4222[,host:4222...]: ingest queue and event log in JetStream
    events_replicas: int | None = None  # JetStream stream replicas (default: up to 3, the cluster's size)
    rules: Path | None = None  # alert rules (YAML list) put at start-up
    auth: bool = False  # bearer tokens, roles, scopes and the audit log
    oidc_issuer: str | None = None  # also accept JWTs from this OpenID Connect issuer (with --auth)
    oidc_audience: str | None = None
    oidc_jwks: str | None = None  # a JWKS file or URL; default: the issuer's discovery document
    retention: str | None = None
    audit_retention: str | None = None  # drop audit rows older than this (90d)
    downsample_after: str | None = None
    downsample_bucket: str = "1h"
    log_level: str = "warning"
    threads: int = 4
    query_threads: int = 4
    query_timeout: float = 10.0
    rate_limit: str | None = None  # requests per client: 100/s, 6000/min
    max_streams: int = 20  # open /stream connections per client
    max_body_bytes: int = 32 * 1024 * 1024  # a JSON body
    max_ingest_bytes: int = 64 * 1024 * 1024  # an NDJSON body on POST /ingest
    max_model_bytes: int = 64 * 1024 * 1024  # a RUL model upload
    blob_roots: list[str] = field(default_factory=list)  # folders import jobs may read and write
    blob_allow: list[str] = field(default_factory=list)  # hosts import jobs may call
    # Called with the app before it starts (the demo adds its simulated sensors here).
    before_start: list[Callable[[FastAPI], None]] = field(default_factory=list)

    def to_env(self) -> str:
        """This configuration as JSON, for worker processes (`from_env`)."""
        fields = {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items() if k != "before_start"}
        return json.dumps(fields)

    @classmethod
    def from_env(cls, text: str) -> ServerConfig:
        fields = json.loads(text)
        for name in ("cert", "key", "tls_dir", "mqtt_ca", "mapping", "rules"):
            if fields.get(name) is not None:
                fields[name] = Path(fields[name])
        return cls(**fields)

    def limits(self) -> Limits:
        return Limits(parse_rate(self.rate_limit) if self.rate_limit else None, self.max_streams, self.max_body_bytes,
                      self.max_ingest_bytes, self.max_model_bytes)

    @property
    def scheme(self) -> str:
        return "https" if (self.tls or self.cert) else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def check(self) -> None:
        """Refuse a configuration that cannot work, with the flag at fault named."""
        for name, port in (("--port", self.port), ("--mqtt-port", self.mqtt_port)):
            if not 1 <= port <= 65535:
                raise InvalidArgument(f"{name} {port} is not a port (1 to 65535)")
        if self.workers < 1:
            raise InvalidArgument("--workers must be 1 or more")
        if self.log_level not in LOG_LEVELS:
            raise InvalidArgument(f"--log-level must be one of {', '.join(LOG_LEVELS)}")
        if (self.cert is None) != (self.key is None):
            raise InvalidArgument("--cert and --key go together")
        for name, path in (("--cert", self.cert), ("--key", self.key), ("--mqtt-ca", self.mqtt_ca),
                           ("--mapping", self.mapping)):
            if path is not None and not Path(path).is_file():
                raise NotFound(f"{name}: no such file: {path}")
        if self.workers > 1 and self.mqtt == "embedded":
            raise InvalidArgument("--mqtt embedded runs in a single process; drop --workers, or use a broker URL")
        if self.workers > 1 and self.mqtt and not self.mqtt_shared:
            raise InvalidArgument("--workers with --mqtt needs shared subscriptions (drop --no-mqtt-shared): "
                                  "otherwise every worker would store every message")
        if self.workers > 1 and self.mapping is not None:
            from twinforge.ingest.mapping import load_mapping

            if load_mapping(self.mapping).opcua:
                raise InvalidArgument("OPC UA connectors run in a single process; drop --workers")
        if self.query_timeout <= 0:
            raise InvalidArgument("the query timeout must be positive")
        if self.events is not None:
            from twinforge.nats.link import parse_servers

            if not self.events.startswith(("nats://", "tls://")):
                raise InvalidArgument(f"--events {self.events}: only NATS JetStream is supported "
                                      "(nats://host:4222, several comma-separated)")
            parse_servers(self.events)
            if self.events_replicas is not None and not 1 <= self.events_replicas <= 5:
                raise InvalidArgument("--events-replicas must be 1 to 5")
        for root in self.blob_roots:
            if not Path(root).is_dir():
                raise NotFound(f"--blob-root: no such folder: {root}")
        self.limits().check()


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on ``host:port`` (or the port cannot be bound)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


class Server:
    """A configured twinforge server. `app()` builds the ASGI app; `run()` serves it."""

    def __init__(self, config: ServerConfig, graph: TwinGraph | None = None) -> None:
        config.check()
        self.config = config
        self._graph = graph
        self.ssl: dict[str, str] = {}
        self.certificate: Path | None = None

    @property
    def graph(self) -> TwinGraph:
        """The graph served (opened from ``config.db`` on first use unless given)."""
        if self._graph is None:
            self._graph = TwinGraph.open(self.config.db, read_url=self.config.db_read)
        return self._graph

    @graph.setter
    def graph(self, graph: TwinGraph) -> None:
        self._graph = graph

    def preflight(self) -> None:
        """Refuse to start when a port is taken, before anything is opened or printed."""
        config = self.config
        if port_in_use(config.host, config.port):
            raise InvalidArgument(f"port {config.port} on {config.host} is already in use (choose another with --port)")
        if config.mqtt == "embedded" and port_in_use("127.0.0.1", config.mqtt_port):
            raise InvalidArgument(f"port {config.mqtt_port} for the embedded MQTT broker is already in use "
                                  "(choose another with --mqtt-port)")

    def _tls(self) -> None:
        config = self.config
        if config.cert and config.key:
            self.ssl = {"ssl_certfile": str(config.cert), "ssl_keyfile": str(config.key)}
            self.certificate = Path(config.cert)
        elif config.tls:
            from twinforge.api.tls import ensure_self_signed

            cert_path, key_path = ensure_self_signed(config.tls_dir, config.host)
            self.ssl = {"ssl_certfile": str(cert_path), "ssl_keyfile": str(key_path)}
            self.certificate = cert_path

    def oidc(self) -> Any:
        """The OIDC verifier of the configuration, or None."""
        config = self.config
        if not (config.oidc_issuer or config.oidc_audience or config.oidc_jwks):
            return None
        if not config.auth:
            raise InvalidArgument("--oidc-issuer needs --auth")
        from twinforge.auth.oidc import OidcVerifier

        return OidcVerifier(config.oidc_issuer or "", config.oidc_audience or "", config.oidc_jwks)

    def app(self) -> FastAPI:
        """The ASGI app with every connector and background task of the configuration."""
        from twinforge.api.app import create_app
        from twinforge.api.connectors import attach_history_maintenance, attach_mqtt, attach_opcua
        from twinforge.jobs import BlobPolicy

        config = self.config
        keep = None
        if config.audit_retention:
            from twinforge.history.timeutil import parse_duration

            keep = parse_duration(config.audit_retention)
        application = create_app(self.graph, threads=config.threads, query_threads=config.query_threads,
                                 query_timeout=config.query_timeout, auth=config.auth, oidc=self.oidc(),
                                 audit_retention=keep, evaluator="process",
                                 blobs=BlobPolicy.of(config.blob_roots, config.blob_allow), limits=config.limits())
        if config.rules is not None:
            import yaml

            if application.state.alerts is None:
                raise MissingDependency("--rules needs the predict extra: pip install 'twinforge[predict]'")
            application.state.alerts.load_rules(yaml.safe_load(config.rules.read_text()))
        rules = None
        if config.mapping is not None:
            from twinforge.ingest.mapping import load_mapping

            rules = load_mapping(config.mapping)
        if config.mqtt:
            attach_mqtt(application, config.mqtt, mapping=rules, port=config.mqtt_port,
                        client_id=config.mqtt_client_id or default_client_id(config.port),
                        shared=config.mqtt_shared, ca_file=str(config.mqtt_ca) if config.mqtt_ca else None,
                        connections=config.mqtt_connections,
                        process=config.mqtt_process and ":memory:" not in config.db,
                        mapping_file=str(config.mapping) if config.mapping else None)
        if config.events:
            from twinforge.nats import attach_nats

            attach_nats(application, config.events, mapping=rules, replicas=config.events_replicas)
        if rules is not None and rules.opcua:
            attach_opcua(application, rules)
        if config.retention or config.downsample_after:
            attach_history_maintenance(application, retention=config.retention,
                                       downsample_after=config.downsample_after,
                                       downsample_bucket=config.downsample_bucket)
        for hook in config.before_start:
            hook(application)
        return application

    def announcements(self) -> list[str]:
        """What the server says once it listens."""
        config = self.config
        lines = [f"twinforge serving {config.db} at {config.url} (OpenAPI: {config.url}/docs)"]
        if self.certificate is not None:
            lines.append(f"TLS certificate: {self.certificate} (clients verify with it, e.g. the Azure SDK's "
                         f"connection_verify=\"{self.certificate}\")")
        if config.mqtt == "embedded":
            lines.append(f"MQTT ingestion from the embedded broker on mqtt://127.0.0.1:{config.mqtt_port} "
                         "(topics twinforge/twins/{id}/properties|telemetry)")
        elif config.mqtt:
            lines.append(f"MQTT ingestion from {config.mqtt}")
        if config.events:
            lines.append(f"Ingest queue and event log in NATS JetStream at {config.events}")
        return lines

    def run(self, announce: Callable[[str], None] = print) -> None:
        """Serve until interrupted; ``announce`` gets each start-up line once the port listens."""
        import gc

        import uvicorn

        config = self.config
        self.preflight()
        self._tls()
        access_log = config.log_level in ("info", "debug")
        logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if config.workers > 1:
            if self._graph is not None:
                self._graph.close()
            os.environ["TWINFORGE_DB"] = config.db
            # every worker serves the same configuration as a single process would (security,
            # limits, connectors), each with an MQTT client id of its own
            os.environ["TWINFORGE_SERVER"] = config.to_env()
            self.oidc()  # a bad OIDC setting is said here, once, not by every worker
            for line in self.announcements():
                announce(line)
            uvicorn.run("twinforge.api.asgi:app_from_env", factory=True, workers=config.workers,
                        host=config.host, port=config.port, log_level=config.log_level,
                        access_log=access_log, ws_per_message_deflate=False, **self.ssl)  # type: ignore[arg-type]
            return
        application = self.app()
        lines = self.announcements()

        class _Announcing(uvicorn.Server):
            async def startup(self, sockets: Any = None) -> None:
                await super().startup(sockets)
                if self.started:
                    for line in lines:
                        announce(line)

            def handle_exit(self, sig: int, frame: Any) -> None:
                # Streams first: a dashboard's open /stream would hold the shutdown for the whole
                # grace period, then end in a cancelled task's traceback.
                application.state.bus.end_streams()
                super().handle_exit(sig, frame)

        # WebSocket events are small JSON messages: compressing each one (per-message deflate,
        # on by default) cost a sixth of the server's CPU under a live stream.
        # Models and the app live as long as the server: keep the collector from re-scanning
        # them (a full collection over a large ontology is a latency spike).
        gc.collect()
        gc.freeze()
        server = _Announcing(uvicorn.Config(application, host=config.host, port=config.port,
                                            log_level=config.log_level, access_log=access_log,
                                            timeout_graceful_shutdown=3, ws_per_message_deflate=False,
                                            **self.ssl))  # type: ignore[arg-type]
        server.run()
        if not server.started:
            raise InvalidArgument(f"the server did not start on {config.host}:{config.port}; see the log above")


__all__ = ["LOG_LEVELS", "Server", "ServerConfig", "port_in_use"]
