"""`twinforge bench ingest`: MQTT and HTTP ingestion rates, and publish-to-WebSocket latency.

Everything goes through a real Mosquitto started for the run (it must be installed). A
publisher in its own process (benchmarks/mqtt_publisher.py) sends property updates for
10,000 twins; the server applies them (twin state, a history point and an event each).

The publisher is benchmarks/fast_publisher.py: pre-encoded MQTT packets written straight
to a socket, many times faster than any Python subscriber can take them, so what is
measured is the subscriber side. Its own rate (alone, into the broker) is reported beside
the others, and so is paho's (benchmarks/mqtt_publisher.py), the publisher earlier runs used.

Baseline, measured in the same run: the fast publisher into a plain paho subscriber that
does nothing (benchmarks/mqtt_sink.py) -- the ceiling of a Python MQTT client here; beside
it, twinforge's own client doing nothing (benchmarks/wire_sink.py). The server runs as
`serve --mqtt` does (connections in a child process), with two detectors; the latency runs
publish at 25 %, 50 % and 75 % of the paho ceiling with one WebSocket subscriber and report
the rate reached; the one-update-per-message rate is taken while a WebSocket subscriber
follows every event.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from twinforge.graph import TwinGraph
from twinforge.packs.building import REC, realestatecore
from twinforge.ports import free_port

HERE = Path(__file__).resolve().parent
TWINS = 10_000


def start_mosquitto(directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        raise SystemExit("bench ingest needs Mosquitto: apt-get install mosquitto")
    port = free_port()
    config = directory / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 1000\n"
                      f"max_queued_messages 0\nuser {pwd.getpwuid(os.getuid()).pw_name}\n")
    proc = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("mosquitto did not start")


def publish(port: int, updates: int, *, batch: int = 1, rate: float = 0.0, paho: bool = False,
            twins: int = TWINS) -> dict[str, Any]:
    script = "mqtt_publisher.py" if paho else "fast_publisher.py"
    out = subprocess.run([sys.executable, str(HERE / script), "--port", str(port),
                          "--twins", str(twins), "--updates", str(updates), "--batch", str(batch),
                          "--rate", str(rate)], check=True, capture_output=True, text=True, timeout=900)
    result: dict[str, Any] = json.loads(out.stdout)
    result.setdefault("rate", result["updates"] / result["seconds"])
    return result


def raw_rate(port: int, updates: int, tmp: Path, *, paho: bool = False, sink_script: str = "mqtt_sink.py"
             ) -> dict[str, Any]:
    ready = tmp / f"sink-ready-{time.monotonic_ns()}"
    sink = subprocess.Popen([sys.executable, str(HERE / sink_script), "--port", str(port),
                             "--expect", str(updates), "--ready", str(ready)], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while not ready.exists():
        if time.monotonic() > deadline:
            sink.kill()
            raise RuntimeError("the raw subscriber did not subscribe")
        time.sleep(0.05)
    publisher = publish(port, updates, paho=paho)
    out, _ = sink.communicate(timeout=600)
    result: dict[str, Any] = json.loads(out)
    result["publisher_rate"] = publisher["rate"]
    return result


class Subscriber:
    """A live WebSocket subscriber to every event (/stream), counting what it gets."""

    def __init__(self, base_url: str) -> None:
        self.url = base_url.replace("http://", "ws://") + "/stream"
        self.received = 0
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()
        self._connected.wait(10)

    def _listen(self) -> None:
        from websockets.sync.client import connect

        with connect(self.url) as ws:
            self._connected.set()
            while not self._stop.is_set():
                try:
                    ws.recv(timeout=0.5)
                except TimeoutError:
                    continue
                self.received += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


DETECTORS = (("bench-z", "robust_z"), ("bench-ewma", "ewma"))


def add_detectors(client: httpx.Client) -> None:
    """Two detectors on every sensor's value, evaluated from the event log as serve runs them."""
    model = REC + "device:TemperatureSensor;1"
    for name, kind in DETECTORS:
        client.put(f"/analytics/detectors/{name}", json={"model": model, "name": "lastValue",
                                                         "kind": kind}).raise_for_status()


def remove_detectors(client: httpx.Client) -> None:
    """The bulk rows are measured as before, without detectors (comparable with earlier runs)."""
    for name, _ in DETECTORS:
        client.delete(f"/analytics/detectors/{name}").raise_for_status()
    settle(client)


def settle(client: httpx.Client, timeout: float = 120.0) -> float:
    """Wait until the evaluator has read the whole event log (its process started, its
    detectors made for every twin): latency is measured in the steady state. Returns how long."""
    started = time.monotonic()
    last = client.get("/stream/position").json()["lastEventId"]
    while time.monotonic() - started < timeout:
        evaluator = client.get("/ingest/status").json()["background"].get("evaluator") or {}
        if int(evaluator.get("cursor") or 0) >= last:
            break
        time.sleep(0.2)
    return time.monotonic() - started


def applied_rate(client: httpx.Client, port: int, updates: int, batch: int, twins: int = TWINS) -> dict[str, Any]:
    """Updates per second as the server applies them (from its first to its last)."""
    base = client.get("/ingest/status").json()["mqtt"]["updates"]
    samples: list[tuple[float, int]] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            done = client.get("/ingest/status").json()["mqtt"]["updates"] - base
            samples.append((time.perf_counter(), done))
            if done >= updates:
                return
            time.sleep(0.05)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    publisher = publish(port, updates, batch=batch, twins=twins)
    poller.join(600)
    stop.set()
    started = next((t for t, d in samples if d > 0), samples[0][0])
    finished = next((t for t, d in samples if d >= updates), samples[-1][0])
    applied = samples[-1][1]
    return {"updates": applied, "seconds": finished - started,
            "rate": applied / max(finished - started, 1e-9), "publisher": publisher}


def ndjson_rate(client: httpx.Client, updates: int, lines_per_request: int = 10_000,
                concurrency: int = 1, twins: int = TWINS) -> dict[str, Any]:
    bodies = []
    for start in range(0, updates, lines_per_request):
        now = time.time()
        bodies.append("\n".join(json.dumps({"twin": f"t{i % twins}", "properties": {"lastValue": now}})
                                for i in range(start, min(updates, start + lines_per_request))).encode())
    accepted = [0] * concurrency

    def post(worker: int) -> None:
        for body in bodies[worker::concurrency]:
            accepted[worker] += client.post("/ingest", content=body, timeout=120).json()["accepted"]

    started = time.perf_counter()
    threads = [threading.Thread(target=post, args=(w,)) for w in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"updates": sum(accepted), "seconds": elapsed, "rate": sum(accepted) / elapsed,
            "lines_per_request": lines_per_request, "concurrency": concurrency}


def latency(base_url: str, port: int, rate: float, seconds: float, twins: int = TWINS) -> dict[str, Any]:
    from websockets.sync.client import connect

    latencies: list[float] = []
    received_at: list[float] = []
    stop = threading.Event()
    connected = threading.Event()

    def listen() -> None:
        with connect(base_url.replace("http://", "ws://") + "/stream?type=Twin.Update") as ws:
            connected.set()
            while not stop.is_set():
                try:
                    message = ws.recv(timeout=0.5)
                except TimeoutError:
                    continue
                now = time.time()
                received_at.append(time.perf_counter())
                for op in json.loads(message)["data"]["patch"]:
                    if op["path"] == "/lastValue":
                        latencies.append(now - op["value"])

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    connected.wait(10)
    published = publish(port, int(rate * seconds), rate=rate, twins=twins)
    time.sleep(1.0)
    stop.set()
    listener.join(5)
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")

    span = max(received_at[-1] - received_at[0], 1e-9) if received_at else 1e-9
    return {"target_rate": rate, "published_rate": published["updates"] / published["send_seconds"],
            "received_rate": len(received_at) / span if len(received_at) > 1 else 0.0,
            "published": published["updates"], "received": len(latencies),
            "p50_ms": pct(0.5), "p99_ms": pct(0.99), "mean_ms": statistics.fmean(latencies) * 1000 if latencies else 0}


def main(quick: bool, progress: Any) -> dict[str, Any]:
    single = 5_000 if quick else 100_000
    batched = 20_000 if quick else 500_000
    seconds = 0.5 if quick else 10.0
    twins = 2_000 if quick else TWINS  # quick: fewer twins to create and warm up
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        broker, mqtt_port = start_mosquitto(tmp_path)
        server = None
        try:
            progress(f"publishers alone: {single:,} messages into the broker")
            results["publisher_fast"] = publish(mqtt_port, single)
            results["publisher_paho"] = publish(mqtt_port, single // 2, paho=True)
            progress(f"raw ceiling: {single:,} messages into a plain paho subscriber")
            results["raw"] = raw_rate(mqtt_port, single, tmp_path)
            results["raw_paho_publisher"] = raw_rate(mqtt_port, single // 2, tmp_path, paho=True)
            results["raw_wire"] = raw_rate(mqtt_port, single, tmp_path, sink_script="wire_sink.py")
            progress(f"creating {twins:,} sensor twins")
            db = tmp_path / "ingest.db"
            graph = TwinGraph.open(f"sqlite:///{db}")
            graph.add_models(realestatecore())
            graph.create_twins((f"t{i}", {"$metadata": {"$model": REC + "device:TemperatureSensor;1"},
                                          "name": f"sensor {i}"}) for i in range(twins))
            graph.close()
            http_port = free_port()
            server = subprocess.Popen([sys.executable, "-m", "twinforge.cli", "serve", "--db", f"sqlite:///{db}",
                                       "--port", str(http_port), "--mqtt", f"mqtt://127.0.0.1:{mqtt_port}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            base_url = f"http://127.0.0.1:{http_port}"
            client = httpx.Client(base_url=base_url, timeout=30)
            deadline = time.monotonic() + 30
            while True:
                try:
                    status = client.get("/ingest/status").json()
                    if status["mqtt"] and status["mqtt"]["connected"]:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not connect to the broker")
                time.sleep(0.1)
            add_detectors(client)
            ceiling = results["raw"]["rate"]
            progress("warming up: one update per twin, until the evaluator has caught up")
            publish(mqtt_port, twins, rate=0.25 * ceiling, twins=twins)
            results["warm_up_seconds"] = settle(client)
            for share in (0.25, 0.5, 0.75):
                progress(f"latency publish -> WebSocket at {share:.0%} of the ceiling ({share * ceiling:,.0f}/s)")
                results[f"latency_{int(share * 100)}"] = latency(base_url, mqtt_port, share * ceiling, seconds, twins)
            progress(f"MQTT, one update per message: {single:,} updates (a WebSocket subscriber, two detectors)")
            subscriber = Subscriber(base_url)
            results["mqtt_single"] = applied_rate(client, mqtt_port, single, 1, twins)
            subscriber.close()
            results["mqtt_single"]["subscriber_received"] = subscriber.received
            remove_detectors(client)
            progress(f"MQTT, 100 updates per message: {batched:,} updates")
            results["mqtt_batched"] = applied_rate(client, mqtt_port, batched, 100, twins)
            progress(f"HTTP NDJSON bulk, 10,000 lines per request: {batched:,} updates")
            results["ndjson"] = ndjson_rate(client, batched, twins=twins)
            progress(f"HTTP NDJSON bulk, 10,000 lines per request, 4 clients: {batched:,} updates")
            results["ndjson_4_clients"] = ndjson_rate(client, batched, 10_000, concurrency=4, twins=twins)
            progress(f"HTTP NDJSON bulk, 50,000 lines per request: {batched:,} updates")
            results["ndjson_50k"] = ndjson_rate(client, batched, 50_000, twins=twins)
            status = client.get("/ingest/status").json()
            results["refused"] = status["refused"]
            results["event_bus"] = status["background"].get("eventBus", {})
            results["single_ratio_to_raw"] = results["mqtt_single"]["rate"] / results["raw"]["rate"]
        finally:
            if server is not None:
                server.terminate()
                server.wait(15)
            broker.terminate()
            broker.wait(10)
    return results


def report(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    def rate(r: dict[str, Any]) -> str:
        return f"{r['rate']:,.0f}/s ({r.get('updates', r.get('messages', 0)):,} in {r['seconds']:.1f} s)"

    raw = results["raw"]
    rows = [
        ("fast publisher alone (into the broker)", rate(results["publisher_fast"]), "what one raw-socket process sends"),
        ("paho publisher alone", rate(results["publisher_paho"]), "the publisher of earlier runs"),
        ("raw paho subscriber (baseline)", rate(raw),
         f"the ceiling; fed at {raw['publisher_rate']:,.0f}/s by the fast publisher"),
        ("raw paho subscriber fed by paho", rate(results["raw_paho_publisher"]),
         f"publisher-bound: fed at {results['raw_paho_publisher']['publisher_rate']:,.0f}/s"),
        ("twinforge's MQTT client alone (wire_sink.py)", rate(results["raw_wire"]),
         f"{results['raw_wire']['rate'] / raw['rate']:.1f}x the paho subscriber: what ingest reads with"),
        ("MQTT, 1 update per message (+ WebSocket subscriber, 2 detectors)", rate(results["mqtt_single"]),
         f"goal >= 80% of the paho ceiling; {results['single_ratio_to_raw']:.0%}; the subscriber got "
         f"{results['mqtt_single'].get('subscriber_received', 0):,} events meanwhile"),
        ("MQTT, 100 updates per message", rate(results["mqtt_batched"]), "goal >= 50,000/s"),
        ("HTTP NDJSON bulk (10,000 lines/request)", rate(results["ndjson"]), "goal >= 50,000/s"),
        ("HTTP NDJSON bulk (10,000 lines/request, 4 clients)", rate(results["ndjson_4_clients"]),
         "goal >= 50,000/s; requests arriving together share a commit"),
        ("HTTP NDJSON bulk (50,000 lines/request)", rate(results["ndjson_50k"]),
         "goal >= 50,000/s; 5 updates per twin per request"),
    ]
    for share in (25, 50, 75):
        lat = results[f"latency_{share}"]
        rows.append((f"publish -> WebSocket latency at {share}% of the ceiling",
                     f"p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms",
                     f"goal p99 < {50 if share <= 50 else 250} ms; asked {lat['target_rate']:,.0f}/s, published "
                     f"{lat['published_rate']:,.0f}/s, {lat['received']:,} of {lat['published']:,} events seen "
                     f"at {lat['received_rate']:,.0f}/s"))
    rows.append(("refused inputs", json.dumps(results["refused"]), "expected: none"))
    bus = results.get("event_bus") or {}
    rows.append(("/stream subscribers cut off, announcements dropped",
                 f"{bus.get('cutOff', 0)}, {bus.get('announcementsDropped', 0)}",
                 f"a subscriber more than {bus.get('backlogLimit', 0):,} events behind is cut off (it resumes)"))
    return rows
