"""`twinforge bench scale`: more server processes over one store, on SQLite and on PostgreSQL.

- REST against `twinforge serve --workers N` for N = 1, 2, 4 (one port; the kernel spreads
  connections), on a SQLite file and on a PostgreSQL database (a private cluster started for the
  run): reads by id, JSON Patch updates, twin creates (PUT) and queries (reads/s and p99), each
  as a ratio to the single process of the same store in the same run. This machine has 2
  cores: the shape matters, not the peak.
- The same reads and queries with one PostgreSQL streaming replica (`--db-read`, made by
  `pg_basebackup` for the run), as ratios to one process without the replica.
- Ingest with 1 and 2 servers: MQTT through Mosquitto (shared subscriptions) on both stores,
  and the same MQTT messages through NATS's MQTT listener into JetStream (`--events nats://`, a
  3-node cluster on loopback) on PostgreSQL, as a ratio to Mosquitto with the same servers.
- PostgreSQL history writes (`append_history`: one chunk per series and day, by COPY into the
  partitioned table) against a plain binary COPY of the same rows into a bare table, and into a
  table keyed per point, in three rounds that take turns; and history reads (1,000 points, a
  window, averages, the latest point) for a series written in bulk and one written a point at
  a time, on both stores.
- Memory: the resident set (RSS) of the server processes, the most seen in each part, and a
  server over a SQLite store of 1,000,000 twins and 10,000,000 history rows while it serves
  reads and ingest (`--quick`: 20,000 and 200,000).
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


RSS: dict[str, int] = {}  # part -> the most resident memory seen in its server processes (bytes)


def rss(proc: subprocess.Popen[bytes]) -> int:
    """Resident memory of a server and its worker processes, in bytes."""
    import psutil

    try:
        root = psutil.Process(proc.pid)
        return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
    except psutil.Error:
        return 0


def note_rss(part: str, procs: list[subprocess.Popen[bytes]]) -> None:
    RSS[part] = max(RSS.get(part, 0), max((rss(p) for p in procs), default=0))


def run_load(port: int, kind: str, *, ids: int, seconds: float, connections: int = 64, prefix: str = "h",
             model: str = NODE) -> dict[str, Any]:
    out = subprocess.run([sys.executable, str(HERE / "loadgen.py"), "--port", str(port), "--kind", kind,
                          "--ids", str(ids), "--seconds", str(seconds), "--connections", str(connections),
                          "--prefix", prefix, "--model", model], check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


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


def rest(db: str, n: int, seconds: float, progress: Any, label: str, counts: tuple[int, ...],
         *args: str, writes: bool = True) -> dict[str, Any]:
    """Reads, queries (and, with ``writes``, patches and creates) with 1, 2, 4 processes."""
    out: dict[str, Any] = {}
    for workers in counts:
        progress(f"{label}: REST with {workers} process(es)")
        proc, port = serve(db, "--workers", str(workers), *args)
        if workers > 1:
            # The first worker up answers /health; a worker still starting when the load
            # generator opens its 64 connections gets none of them, and the run measures fewer
            # processes than it says.
            time.sleep(1.0 + 0.5 * workers)
        try:
            out[f"get_w{workers}"] = load(port, "get", ids=n, seconds=seconds, connections=64)["rate"]
            query = run_load(port, "query", ids=n, seconds=seconds, connections=16)
            out[f"query_w{workers}"] = query["rate"]
            out[f"query_p99_w{workers}"] = query["p99_ms"]
            if writes:
                out[f"patch_w{workers}"] = load(port, "patch", ids=n, seconds=seconds, connections=64)["rate"]
                out[f"put_w{workers}"] = run_load(port, "put", ids=10 * n, seconds=seconds, connections=64,
                                                  prefix=f"{label[:2]}w{workers}-")["rate"]
            note_rss(f"{label}: REST", [proc])
        finally:
            stop(proc)
    return out


def ingest(db: str, broker_port: int, n: int, updates: int, servers: int, progress: Any, label: str,
           nats: str | None = None) -> float:
    """Updates/s from the first message until every one is stored: MQTT through Mosquitto at
    ``broker_port``, or (``nats``: the cluster's URL) through NATS's MQTT listener at
    ``broker_port`` into JetStream."""
    progress(f"{label}: MQTT ingest {'through NATS JetStream ' if nats else ''}with {servers} server(s)")
    ids = [f"bench-scale-{k}" for k in range(servers)]
    procs: list[tuple[subprocess.Popen[bytes], int]] = []
    try:
        for i in ids:
            if nats:
                procs.append(serve(db, "--events", nats))
            else:
                procs.append(serve(db, "--mqtt", f"mqtt://127.0.0.1:{broker_port}", "--mqtt-client-id", i,
                                   ready="/ingest/status"))

        def stored() -> int:
            found = [httpx.get(f"http://127.0.0.1:{port}/ingest/status").json()["connectors"] for _, port in procs]
            return sum(c.get("updates", 0) for connectors in found for c in connectors)

        before = stored()
        start = time.perf_counter()
        subprocess.run([sys.executable, str(HERE / "fast_publisher.py"), "--port", str(broker_port), "--twins",
                        str(n), "--updates", str(updates)], check=True, capture_output=True, text=True)
        deadline = time.monotonic() + 300
        while stored() - before < updates and time.monotonic() < deadline:
            time.sleep(0.05)
        rate = updates / (time.perf_counter() - start)
        note_rss(f"{label}: ingest", [p for p, _ in procs])
        return rate
    finally:
        for proc, _ in procs:
            stop(proc)
        if not nats:
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


def history_rates(url: str, rows: int, rounds: int = 3) -> dict[str, Any]:
    """PostgreSQL history writes (`append_history`) against a plain binary COPY of the same rows
    into a bare table and into a table with a per-point primary key, in rounds that take turns
    (the machine is shared): rows/s of each per round, and the medians."""
    import statistics

    import psycopg

    from twinforge.store import HistoryPoint, open_store

    base = 1_790_000_040_000_000
    ours: list[float] = []
    bare: list[float] = []
    keyed: list[float] = []
    store = open_store(url)
    try:
        for k in range(rounds):
            points = [HistoryPoint(f"t{i % 1000}", "", "lastValue", base + k * 1_000_000_000 + i * 1000, float(i),
                                   str(float(i))) for i in range(rows)]
            store.append_history(points[:10])  # partitions made before the clock
            start = time.perf_counter()
            for j in range(0, rows, 10_000):
                store.append_history(points[j:j + 10_000])
            ours.append(rows / (time.perf_counter() - start))
            with psycopg.connect(url, autocommit=True) as conn:
                for rates, key in ((bare, ""), (keyed, ", PRIMARY KEY (twin, component, name, ts)")):
                    table = f"copy_{len(rates)}_{'keyed' if key else 'bare'}"
                    conn.execute(f"CREATE TABLE {table} (twin TEXT, component TEXT, name TEXT, ts BIGINT, "
                                 f"num DOUBLE PRECISION, value TEXT{key})")
                    start = time.perf_counter()
                    for j in range(0, rows, 10_000):
                        with conn.transaction(), conn.cursor().copy(
                                f"COPY {table} (twin, component, name, ts, num, value) FROM STDIN WITH (FORMAT BINARY)"
                        ) as copy:
                            copy.set_types(["text", "text", "text", "int8", "float8", "text"])
                            for point in points[j:j + 10_000]:
                                copy.write_row(tuple(point))
                    rates.append(rows / (time.perf_counter() - start))
                    conn.execute(f"DROP TABLE {table}")
    finally:
        store.close()
    return {"historyRowsPerS": statistics.median(ours), "plainCopyRowsPerS": statistics.median(bare),
            "keyedCopyRowsPerS": statistics.median(keyed),
            "historyRounds": [{"ours": o, "plainCopy": b, "keyedCopy": c} for o, b, c in zip(ours, bare, keyed, strict=True)]}


def history_reads(urls: dict[str, str], points: int = 3000, repeat: int = 20) -> dict[str, Any]:
    """Milliseconds per history read on each store, for a series written in bulk (10,000-point
    batches over 1,000 series) and one written a point at a time (live ingest): 1,000 points, a
    window of 1/30 of the series, averages in 20 buckets, the latest point."""
    from twinforge.store import HistoryPoint, open_store

    base = 1_790_100_000_000_000
    out: dict[str, Any] = {}
    for kind, url in urls.items():
        store = open_store(url)
        try:
            bulk = [HistoryPoint(f"b{i % 1000}", "", "v", base + i * 1000, float(i), str(float(i)))
                    for i in range(1000 * points // 10)]
            for j in range(0, len(bulk), 10_000):
                store.append_history(bulk[j:j + 10_000])
            for i in range(points):
                store.append_history([HistoryPoint("live", "", "v", base + i * 1_000_000, float(i), str(float(i)))])
            out[kind] = {"bulk": _read_times(store, "b7", base, points // 10 * 1_000_000, repeat),
                         "live": _read_times(store, "live", base, points * 1_000_000, repeat)}
        finally:
            store.close()
    return out


def _read_times(store: Any, series: str, base: int, span: int, repeat: int) -> dict[str, float]:
    def timed(read: Any) -> float:
        start = time.perf_counter()
        for _ in range(repeat):
            read()
        return (time.perf_counter() - start) / repeat * 1000

    mid = base + span // 2
    return {
        "read1000Ms": timed(lambda: store.read_history(series, "v", limit=1000)),
        "windowMs": timed(lambda: store.read_history(series, "v", start=mid, end=mid + span // 30)),
        "avg20Ms": timed(lambda: store.aggregate_history(series, "v", start=base, end=base + span,
                                                         bucket=span // 20, agg="avg")),
        "lastMs": timed(lambda: store.last_history(series, "v")),
    }


def memory(tmp: Path, twins: int, rows: int, seconds: float, progress: Any) -> dict[str, Any]:
    """RSS of one server over a SQLite store of ``twins`` twins and ``rows`` history rows while it
    serves reads by id and MQTT-free bulk ingest (NDJSON) at once."""
    import threading

    from twinforge.store import HistoryPoint, open_store

    db = f"sqlite:///{tmp / 'memory.db'}"
    progress(f"memory: {twins:,} twins")
    graph = TwinGraph.open(db)
    graph.add_models([MODEL])
    for k in range(0, twins, 50_000):
        graph.create_twins([(f"t{i}", {"$metadata": {"$model": NODE}, "name": f"s{i}", "lastValue": 0.0})
                            for i in range(k, min(twins, k + 50_000))])
        progress(f"memory: {min(twins, k + 50_000):,} of {twins:,} twins")
    graph.close()
    store = open_store(db)
    base = 1_780_000_000_000_000
    per_twin = max(1, rows // twins)
    try:
        for k in range(0, rows, 200_000):
            store.append_history([HistoryPoint(f"t{i // per_twin % twins}", "", "lastValue", base + i * 1000,
                                               float(i), str(float(i))) for i in range(k, min(rows, k + 200_000))])
            if k % 2_000_000 == 0:
                progress(f"memory: {min(rows, k + 200_000):,} of {rows:,} history rows")
    finally:
        store.close()
    proc, port = serve(db)
    try:
        idle = rss(proc)
        stop_ingest = threading.Event()
        sent = [0]

        def feed() -> None:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                i = 0
                while not stop_ingest.is_set():
                    body = "\n".join(json.dumps({"twin": f"t{(i + j) % twins}", "properties": {"lastValue": float(j)}})
                                     for j in range(2000))
                    client.post("/ingest", content=body, headers={"Content-Type": "application/x-ndjson"})
                    i += 2000
                    sent[0] += 2000

        thread = threading.Thread(target=feed, daemon=True)
        thread.start()
        peak = idle
        reads = load(port, "get", ids=twins, seconds=seconds, connections=32)
        peak = max(peak, rss(proc))
        history = httpx.get(f"http://127.0.0.1:{port}/digitaltwins/t1/history?name=lastValue&pageSize=1000", timeout=60)
        peak = max(peak, rss(proc))
        stop_ingest.set()
        thread.join(60)
        peak = max(peak, rss(proc))
        return {"twins": twins, "historyRows": rows, "rssIdle": idle, "rssPeak": peak, "readsPerS": reads["rate"],
                "ingestedUpdates": sent[0], "historyPageOk": history.status_code == 200}
    finally:
        stop(proc)


def replica_url(standby: Any, primary_db: str) -> str:
    return standby.url(primary_db.rsplit("/", 1)[1])


def main(quick: bool, progress: Any) -> dict[str, Any]:
    from twinforge.nats import NatsCluster
    from twinforge.store.postgres.cluster import PrivateCluster

    n = 2_000 if quick else 10_000
    seconds = 0.75 if quick else 5.0
    updates = 2_000 if quick else 30_000
    rows = 20_000 if quick else 300_000
    counts = (1,) if quick else (1, 2, 4)  # quick: each path once, not the curve
    RSS.clear()
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    results: dict[str, Any] = {"twins": n, "seconds": seconds, "mqttUpdates": updates, "historyRows": rows}
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory(prefix="twinforge-pg-") as pgdir:
        progress("starting a private PostgreSQL cluster")
        Path(pgdir).chmod(0o755)  # the server runs as postgres, in folders below this one
        cluster = PrivateCluster(Path(pgdir) / "primary")
        cluster.start()
        standby = None
        broker = None
        nats = None
        try:
            stores = {"sqlite": f"sqlite:///{Path(tmp) / 'scale.db'}", "postgresql": cluster.new_database()}
            for label, db in stores.items():
                progress(f"{label}: {n:,} twins")
                fill(db, n)
                # (quick: the REST paths once, on PostgreSQL; SQLite's are bench graph's)
                results[label] = {} if quick and label == "sqlite" else rest(db, n, seconds, progress, label, counts)
            progress("postgresql: a streaming replica (pg_basebackup)")
            standby = cluster.replica(Path(pgdir) / "standby")
            read_url = replica_url(standby, stores["postgresql"])
            results["postgresql+replica"] = rest(stores["postgresql"], n, seconds, progress, "postgresql+replica",
                                                 counts, "--db-read", read_url, writes=False)
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
                if quick and label == "sqlite":
                    continue  # (quick: MQTT ingest on PostgreSQL only; SQLite's is bench ingest's)
                for servers in (1,) if quick else (1, 2):
                    results[label][f"ingest_s{servers}"] = ingest(db, port, n, updates, servers, progress, label)
            progress("starting a 3-node NATS JetStream cluster")
            nats = NatsCluster(Path(tmp) / "nats", nodes=3)
            nats.start()
            for servers in (1,) if quick else (1, 2):
                results["postgresql"][f"nats_s{servers}"] = ingest(
                    stores["postgresql"], nats.nodes[0].mqtt_port, n, updates, servers, progress, "postgresql",
                    nats=nats.url)
            progress(f"PostgreSQL history: {rows:,} rows")
            results.update(history_rates(cluster.new_database(), rows, 1 if quick else 3))
            progress("history reads on both stores")
            results["historyReads"] = history_reads(
                {"sqlite": f"sqlite:///{Path(tmp) / 'reads.db'}", "postgresql": cluster.new_database()},
                300 if quick else 3000, 3 if quick else 20)
            results["memory"] = memory(Path(tmp), 5_000 if quick else 1_000_000, 50_000 if quick else 10_000_000,
                                       seconds, progress)
            results["rss"] = dict(RSS)
        finally:
            if broker is not None:
                broker.terminate()
                broker.wait(10)
            if nats is not None:
                nats.stop()
            if standby is not None:
                standby.stop()
            cluster.stop()
    return results


def _curve(s: dict[str, Any], key: str, one: float) -> tuple[str, str]:
    counts = [w for w in (1, 2, 4) if f"{key}_w{w}" in s]
    return ("/".join(map(str, counts)),
            " / ".join(f"{s[f'{key}_w{w}']:,.0f}" for w in counts) + " /s; x"
            + " / x".join(f"{s[f'{key}_w{w}'] / one:.2f}" for w in counts))


def report(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows = []
    names = {"get": "reads by id", "patch": "patches", "put": "twin creates", "query": "queries"}
    for label in ("sqlite", "postgresql", "postgresql+replica"):
        s = r[label]
        base = r["postgresql"] if label == "postgresql+replica" else s
        for kind in ("get", "query", "patch", "put"):
            if f"{kind}_w1" not in s:
                continue
            counts, figures = _curve(s, kind, base[f"{kind}_w1"])
            rows.append((f"{label}: REST {names[kind]}, {counts} processes", figures.split("; ")[0],
                         figures.split("; ")[1] + (" of 1 process without the replica" if base is not s
                                                   else " of 1 process")))
        p99 = [f"{s[f'query_p99_w{w}']:.1f}" for w in (1, 2, 4) if f"query_p99_w{w}" in s]
        if p99:
            rows.append((f"{label}: query p99 (16 clients), by processes", " / ".join(p99) + " ms", "lower is better"))
        if "ingest_s1" in s:
            one = s["ingest_s1"]
            two = f" / {s['ingest_s2']:,.0f}" if "ingest_s2" in s else ""
            rows.append((f"{label}: MQTT ingest through Mosquitto, 1/2 servers", f"{one:,.0f}{two} updates/s",
                         "x1.00" + (f" / x{s['ingest_s2'] / one:.2f}" if two else "") + " of 1 server"))
        if "nats_s2" in s:
            rows.append((f"{label}: MQTT ingest through NATS JetStream, 1/2 servers",
                         f"{s['nats_s1']:,.0f} / {s['nats_s2']:,.0f} updates/s",
                         f"x{s['nats_s1'] / s['ingest_s1']:.2f} / x{s['nats_s2'] / s['ingest_s2']:.2f} of Mosquitto "
                         f"with as many servers; x{s['nats_s2'] / s['nats_s1']:.2f} from 1 to 2"))
        elif "nats_s1" in s:
            rows.append((f"{label}: MQTT ingest through NATS JetStream, 1 server", f"{s['nats_s1']:,.0f} updates/s",
                         f"x{s['nats_s1'] / s['ingest_s1']:.2f} of Mosquitto"))
    ratios = [h["ours"] / h["plainCopy"] for h in r.get("historyRounds", [])] or [
        r["historyRowsPerS"] / r["plainCopyRowsPerS"]]
    rows.append(("PostgreSQL history writes (chunks by COPY into partitions), median of rounds",
                 f"{r['historyRowsPerS']:,.0f} rows/s",
                 f"plain binary COPY into a bare table {r['plainCopyRowsPerS']:,.0f} rows/s "
                 f"({min(ratios):.2f}-{max(ratios):.2f}x per round); into a table keyed per point "
                 f"{r['keyedCopyRowsPerS']:,.0f} rows/s ({r['historyRowsPerS'] / r['keyedCopyRowsPerS']:.2f}x)"))
    for shape, label in (("bulk", "written in 10,000-point batches"), ("live", "written a point at a time")):
        pg, lite = r["historyReads"]["postgresql"][shape], r["historyReads"]["sqlite"][shape]
        rows.append((f"PostgreSQL history reads, a series {label}",
                     ", ".join(f"{name} {pg[key]:.2f} ms" for name, key in (
                         ("1,000 points", "read1000Ms"), ("a window", "windowMs"), ("avg in 20 buckets", "avg20Ms"),
                         ("latest", "lastMs"))),
                     "SQLite: " + ", ".join(f"{lite[key]:.2f} ms" for key in ("read1000Ms", "windowMs", "avg20Ms",
                                                                               "lastMs"))))
    m = r["memory"]
    rows.append((f"memory: one server, {m['twins']:,} twins and {m['historyRows']:,} history rows (SQLite)",
                 f"RSS {m['rssIdle'] / 2**20:,.0f} MiB idle, {m['rssPeak'] / 2**20:,.0f} MiB at most",
                 f"while serving {m['readsPerS']:,.0f} reads/s and ingesting {m['ingestedUpdates']:,} updates; "
                 "goal under 1,024 MiB"))
    for part, value in sorted(r["rss"].items()):
        rows.append((f"RSS, {part}", f"{value / 2**20:,.0f} MiB at most", "all processes of one server"))
    return rows


if __name__ == "__main__":
    print(json.dumps(main(True, print), indent=2))
