"""MQTT ingest in a process of its own (what `serve --mqtt mqtt://...` runs).

In one process, the MQTT connections, the batches they store and the live streams
(`/stream`) share one interpreter lock: at three quarters of the broker's pace the streams
fell seconds behind. Here a child process (``python -m twinforge.ingest.process``) holds
the connections (and the keeper of dead servers' sessions, ingest/rescue.py), decodes,
stores and acknowledges; the server reads the store's event log as it does for any other
writer, woken by the child after each commit. Both use a core of their own.

The child reads its configuration as the first line of its standard input, then takes
``{"publish": [topic, payload]}`` lines (event routes publish through its connection); it
writes JSON lines: ``{"commit": n}`` after each stored batch, and its status every half
second (each connection's, the session keeper's, refused inputs by kind). It stops when
its input closes, that is when the server stops or dies; the server starts another if it dies.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

if __name__ == "__main__":  # the terminal's Ctrl-C is for the server, also while this child still imports
    signal.signal(signal.SIGINT, signal.SIG_IGN)

import orjson

from twinforge.outages import RestartDelay

log = logging.getLogger("twinforge.mqtt.process")
STATUS_INTERVAL = 0.5


class IngestProcess:
    """The server's side: starts the child, relays what it reports, stops it."""

    def __init__(self, config: dict[str, Any], *, on_commit: Callable[[], None] = lambda: None) -> None:
        self.config = config  # store, broker, mapping (a file), clientId, caFile, shared, connections
        self.on_commit = on_commit
        self.proc: subprocess.Popen[bytes] | None = None
        self.statuses: list[dict[str, Any]] = []
        self.keeper: dict[str, Any] | None = None
        self.refused: Counter[str] = Counter()
        self.restarts = 0
        self.last_error = ""
        self._stopping = False
        self._delay = RestartDelay()  # 1 s, doubling while it keeps dying young
        self._started = 0.0
        self._write = threading.Lock()

    def start(self, timeout: float = 10.0) -> None:
        """Start the child; wait (``timeout`` at most) until its connections are up."""
        self._spawn()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.statuses and all(s.get("connected") for s in self.statuses):
                return
            if self.proc is not None and self.proc.poll() is not None and not self.restarts:
                break
            time.sleep(0.05)
        log.warning("MQTT ingest: the broker %s is not reachable yet; retrying in the background",
                    self.config["broker"])

    def _spawn(self) -> None:
        self._started = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "twinforge.ingest.process"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, process_group=0)
        assert self.proc.stdin is not None
        self.proc.stdin.write(orjson.dumps(self.config) + b"\n")
        self.proc.stdin.flush()
        threading.Thread(target=self._read, args=(self.proc,), name="twinforge-mqtt-process-pipe",
                         daemon=True).start()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(b'{"commit"'):
                self.on_commit()
                continue
            try:
                message = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if "status" in message:
                self.statuses = message["status"]
                self.keeper = message.get("keeper")
                self.refused = Counter(message.get("refused") or {})
        code = proc.wait()
        if not self._stopping:  # it died: say so, and start another (its sessions pass to the keepers)
            self.restarts += 1
            self.last_error = f"the MQTT ingest process exited ({code}); restarted"
            log.error("the MQTT ingest process exited with %s; restarting it", code)
            self.statuses = [{**s, "connected": False, "state": "connecting", "lastError": self.last_error}
                             for s in self.statuses]
            deadline = time.monotonic() + self._delay.after(time.monotonic() - self._started)
            while not self._stopping and time.monotonic() < deadline:
                time.sleep(0.1)
            if not self._stopping:
                self._spawn()

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Publish through the child's connection (event routes); ConnectionError while it is down."""
        proc = self.proc
        if proc is None or proc.stdin is None or not any(s.get("connected") for s in self.statuses):
            raise ConnectionError(f"not connected to the MQTT broker {self.config['broker']}")
        line = orjson.dumps({"publish": [topic, payload.decode("utf-8", "surrogateescape"), qos]}) + b"\n"
        with self._write:
            try:
                proc.stdin.write(line)
                proc.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                raise ConnectionError(f"the MQTT ingest process is gone: {exc}") from exc

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        proc = self.proc
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()  # the child stops its connections (handing its sessions on) and exits
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def members(self, count: int) -> list[Member]:
        """One status object per connection, for /ingest/status and /health."""
        return [Member(self, k) for k in range(count)]


class Member:
    """One of the child's connections as the server reports it."""

    def __init__(self, process: IngestProcess, index: int) -> None:
        self.process = process
        self.index = index

    def status(self) -> dict[str, Any]:
        process = self.process
        statuses = process.statuses
        pid = process.proc.pid if process.proc is not None else None
        if self.index < len(statuses):
            return {**statuses[self.index], "process": pid, "restarts": process.restarts}
        return {"type": "mqtt", "name": f"mqtt {process.config['broker']}", "state": "connecting",
                "connected": False, "broker": process.config["broker"], "process": pid,
                "restarts": process.restarts, "lastError": process.last_error or None, "messages": 0,
                "updates": 0, "batches": 0, "rejected": 0, "connects": 0}

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self.process.publish(topic, payload, qos)


class KeeperStatus:
    def __init__(self, process: IngestProcess) -> None:
        self.process = process

    def status(self) -> dict[str, Any]:
        return self.process.keeper or {"kept": [], "takeovers": 0, "returned": 0, "failures": 0}


def main() -> None:
    from twinforge.graph import TwinGraph
    from twinforge.ingest.core import Ingestor
    from twinforge.ingest.mapping import load_mapping
    from twinforge.ingest.rescue import mqtt_connections

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    config = orjson.loads(sys.stdin.buffer.readline())
    out = sys.stdout.buffer
    lock = threading.Lock()

    def send(line: bytes) -> None:
        with lock:
            try:
                out.write(line)
                out.flush()
            except (BrokenPipeError, OSError):
                os._exit(0)  # the server is gone

    graph = TwinGraph.open(config["store"], create=False)
    graph.subscribe(lambda: send(b'{"commit":1}\n'))  # after each of our commits: the server's bus reads
    ingestor = Ingestor(graph)
    mapping = load_mapping(config["mapping"]) if config.get("mapping") else None
    own, keeper = mqtt_connections(ingestor, graph.store, config["broker"], mapping=mapping,
                                   client_id=config["clientId"], ca_file=config.get("caFile"),
                                   group=config.get("group"), mqtt5=True, connections=config["connections"])
    gc.collect()  # the models and mapping live as long as we do: later collections need not scan them
    gc.freeze()
    if keeper is not None:
        keeper.claim()
    starters = [threading.Thread(target=member.start, args=(5.0,), daemon=True) for member in own]
    for starter in starters:
        starter.start()
    stopped = threading.Event()

    def report() -> None:
        while not stopped.is_set():
            send(orjson.dumps({"status": [m.status() for m in own],
                               "keeper": keeper.status() if keeper is not None else None,
                               "refused": dict(ingestor.counters)}) + b"\n")
            stopped.wait(STATUS_INTERVAL)

    threading.Thread(target=report, name="twinforge-mqtt-report", daemon=True).start()
    for starter in starters:
        starter.join()
    if keeper is not None:
        keeper.start()
    for line in sys.stdin.buffer:  # publishes for event routes, until the server closes our input
        try:
            topic, payload, qos = orjson.loads(line)["publish"]
        except (KeyError, ValueError, TypeError):
            continue
        try:
            own[0].publish(topic, payload.encode("utf-8", "surrogateescape"), qos)
        except ConnectionError as exc:  # kept, as the server keeps a route's failed deliveries
            letters: list[Any] = []
            ingestor.dead_letter(letters, f"mqtt:{topic}", "delivery_failed", f"MQTT publish failed: {exc}", payload)
            with contextlib.suppress(Exception):
                ingestor.keep_dead_letters(letters)
    stopped.set()
    if keeper is not None:
        keeper.stop()
    stoppers = [threading.Thread(target=member.stop, kwargs={"announce": keeper is not None}) for member in own]
    for stopper in stoppers:
        stopper.start()
    for stopper in stoppers:
        stopper.join()
    if keeper is not None:
        keeper.release()
    graph.close()
    os._exit(0)


if __name__ == "__main__":
    main()


__all__ = ["IngestProcess", "KeeperStatus", "Member", "main"]
