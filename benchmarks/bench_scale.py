"""`twinforge bench scale`: more server processes over one store, on SQLite and on PostgreSQL.

- REST reads by id and JSON Patch updates against `twinforge serve --workers N` for N = 1, 2, 4
  (one port; the kernel spreads connections), on a SQLite file and on a PostgreSQL database (a
  private cluster started for the run), each as a ratio to the single process of the same store
  in the same run. This machine has 2 cores: the shape matters, not the peak.
- MQTT ingest through Mosquitto with 1 and 2 `twinforge serve` processes (shared subscriptions),
  on both stores: updates per second from the first message until all are stored.
- PostgreSQL history writes (`append_history`, binary COPY into a staging table and one upsert
  into the partitioned table) against a plain binary COPY of the same rows into a bare table.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_graph import load  # noqa: E402 - the benchmarks folder is on the path
from twinforge.graph import TwinGraph  # noqa: E402
from twinforge.ports import free_port  # noqa: E402

NODE = "dtmi:bench:scale:Sensor;1"
MODEL = {"@id": NODE, "@type": "Interface", "@context": "dtmi:dtdl:context;3",
         "contents": [{"@type": "Property", "name": "name", "schema": "string", "writable": True},
                      {"@type": "Property", "name": "lastValue", "schema": "double", "writable": True}]}


def fill(url: str, n: int) -> None:
    graph = TwinGraph.open(url)
    graph.add_models([MODEL])
    graph.create_twins([(f"t{i}", {"$metadata": {"$model": NODE}, "name": f"s{i}", "lastValue": 0.0})
                        for i in range(n)])
    graph.close()


def serve(db: str, *args: str, ready: str = "/health") -> tuple[subprocess.Popen[bytes], int]:
    """`twinforge serve` on a free port, once it answers; a server that stops while starting is
    started once more on another port (the port may have been taken meanwhile), then reported
    with the end of its standard error."""
    for attempt in (1, 2):
        port = free_port()
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen([sys.executable, "-m", "twinforge.cli", "serve", "--db", db, "--port", str(port),
                                     *args], stdout=subprocess.DEVNULL, stderr=err)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    r = httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=1)
                    if r.status_code == 200 and (ready == "/health" or r.json()["mqtt"]["connected"]):
                        return proc, port
                except (httpx.HTTPError, KeyError, TypeError, ValueError):
                    pass
                time.sleep(0.1)
            exited = proc.poll() is not None
            stop(proc)
            err.seek(0)
            tail = err.read().decode(errors="replace")[-2000:]
        if attempt == 2 or not exited:
            raise RuntimeError(f"the server did not start (exit code {proc.returncode}):\n{tail}")
    raise AssertionError("unreachable")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


def rest(db: str, n: int, seconds: float, progress: Any, label: str, quick: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for workers in (1, 2) if quick else (1, 2, 4):  # (quick: each path once, not the curve)
        progress(f"{label}: REST with {workers} process(es)")
        proc, port = serve(db, "--workers", str(workers))
        if workers > 1:
            # The first worker up answers /health; a worker still starting when the load
            # generator opens its 64 connections gets none of them, and the run measures fewer
            # processes than it says.
            time.sleep(1.0 + 0.5 * workers)
        try:
            out[f"get_w{workers}"] = load(port, "get", ids=n, seconds=seconds, connections=64)["rate"]
            out[f"patch_w{workers}"] = load(port, "patch", ids=n, seconds=seconds, connections=64)["rate"]
        finally:
            stop(proc)
    return out


def ingest(db: str, broker_port: int, n: int, updates: int, servers: int, progress: Any, label: str) -> float:
    progress(f"{label}: MQTT ingest with {servers} server(s)")
    ids = [f"bench-scale-{k}" for k in range(servers)]
    procs: list[tuple[subprocess.Popen[bytes], int]] = []
    try:
        for i in ids:
            procs.append(serve(db, "--mqtt", f"mqtt://127.0.0.1:{broker_port}", "--mqtt-client-id", i,
                               ready="/ingest/status"))

        def stored() -> int:
            return sum(httpx.get(f"http://127.0.0.1:{port}/ingest/status").json()["mqtt"]["updates"]
                       for _, port in procs)

        before = stored()
        start = time.perf_counter()
        subprocess.run([sys.executable, str(HERE / "fast_publisher.py"), "--port", str(broker_port), "--twins",
                        str(n), "--updates", str(updates)], check=True, capture_output=True, text=True)
        deadline = time.monotonic() + 300
        while stored() - before < updates and time.monotonic() < deadline:
            time.sleep(0.05)
        return updates / (time.perf_counter() - start)
    finally:
        for proc, _ in procs:
            stop(proc)
        # each server is four members of the group (serve --mqtt-connections): ID, ID-c1 ... ID-c3
        forget_sessions(broker_port, [f"{i}{suffix}" for i in ids for suffix in ("", "-c1", "-c2", "-c3")])


def forget_sessions(port: int, client_ids: list[str]) -> None:
    """End the servers' persistent sessions: a session left behind keeps its place in the shared
    subscription, and the broker would hold a share of the next round's messages for it."""
    import paho.mqtt.client as mqtt

    for client_id in client_ids:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        client.connect("127.0.0.1", port, clean_start=True)
        client.loop_start()
        time.sleep(0.2)
        client.disconnect()
        client.loop_stop()


def history_rates(url: str, rows: int) -> tuple[float, float]:
    """(append_history rows/s, plain binary COPY rows/s) for the same rows."""
    import psycopg

    from twinforge.store import HistoryPoint, open_store

    base = 1_790_000_040_000_000
    points = [HistoryPoint(f"t{i % 1000}", "", "lastValue", base + i * 1000, float(i), str(float(i)))
              for i in range(rows)]
    store = open_store(url)
    try:
        store.append_history(points[:10])  # partitions made before the clock
        start = time.perf_counter()
        for k in range(0, rows, 10_000):
            store.append_history(points[k:k + 10_000])
        ours = rows / (time.perf_counter() - start)
    finally:
        store.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE bare (twin TEXT, component TEXT, name TEXT, ts BIGINT, num DOUBLE PRECISION, "
                     "value TEXT)")
        start = time.perf_counter()
        for k in range(0, rows, 10_000):
            with conn.transaction(), conn.cursor().copy(
                    "COPY bare (twin, component, name, ts, num, value) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["text", "text", "text", "int8", "float8", "text"])
                for p in points[k:k + 10_000]:
                    copy.write_row(tuple(p))
        plain = rows / (time.perf_counter() - start)
    return ours, plain


def main(quick: bool, progress: Any) -> dict[str, Any]:
    from twinforge.store.postgres.cluster import PrivateCluster

    n = 2_000 if quick else 10_000
    seconds = 0.75 if quick else 5.0
    updates = 2_000 if quick else 30_000
    rows = 20_000 if quick else 300_000
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    results: dict[str, Any] = {"twins": n, "seconds": seconds, "mqttUpdates": updates, "historyRows": rows}
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory(prefix="twinforge-pg-") as pgdir:
        progress("starting a private PostgreSQL cluster")
        cluster = PrivateCluster(Path(pgdir))
        cluster.start()
        broker = None
        try:
            stores = {"sqlite": f"sqlite:///{Path(tmp) / 'scale.db'}", "postgresql": cluster.new_database()}
            for label, db in stores.items():
                progress(f"{label}: {n:,} twins")
                fill(db, n)
                results[label] = rest(db, n, seconds, progress, label, quick)
            port = free_port()
            conf = Path(tmp) / "mosquitto.conf"
            import os
            import pwd

            conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 1000\n"
                            f"max_queued_messages 1000000\nuser {pwd.getpwuid(os.getuid()).pw_name}\n")
            broker = subprocess.Popen([mosquitto, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            for label, db in stores.items():
                for servers in (1, 2):
                    results[label][f"ingest_s{servers}"] = ingest(db, port, n, updates, servers, progress, label)
            progress(f"PostgreSQL history: {rows:,} rows")
            ours, plain = history_rates(cluster.new_database(), rows)
            results["historyRowsPerS"] = ours
            results["plainCopyRowsPerS"] = plain
        finally:
            if broker is not None:
                broker.terminate()
                broker.wait(10)
            cluster.stop()
    return results


def report(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows = []
    for label in ("sqlite", "postgresql"):
        s = r[label]
        for kind in ("get", "patch"):
            one = s[f"{kind}_w1"]
            counts = [w for w in (1, 2, 4) if f"{kind}_w{w}" in s]
            rows.append((f"{label}: REST {'reads' if kind == 'get' else 'patches'}, {'/'.join(map(str, counts))} processes",
                         " / ".join(f"{s[f'{kind}_w{w}']:,.0f}" for w in counts) + " /s",
                         "x" + " / x".join(f"{s[f'{kind}_w{w}'] / one:.2f}" for w in counts) + " of 1 process"))
        one = s["ingest_s1"]
        rows.append((f"{label}: MQTT ingest, 1/2 servers", f"{one:,.0f} / {s['ingest_s2']:,.0f} updates/s",
                     f"x1.00 / x{s['ingest_s2'] / one:.2f} of 1 server"))
    rows.append(("PostgreSQL history writes (COPY + upsert into partitions)", f"{r['historyRowsPerS']:,.0f} rows/s",
                 f"plain binary COPY into a bare table {r['plainCopyRowsPerS']:,.0f} rows/s "
                 f"({r['historyRowsPerS'] / r['plainCopyRowsPerS']:.2f}x)"))
    return rows


if __name__ == "__main__":
    print(json.dumps(main(True, print), indent=2))
