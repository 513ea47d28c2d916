"""`twinforge bench graph`: twin and relationship creation, REST reads and patches.

Measured in one run, each against a baseline from the same machine and run:
- library creates of N twins and N relationships into SQLite, against plain
  batched SQLite inserts of the same rows (the storage ceiling);
- 10,000 twin creates through the REST API;
- sustained REST reads by id and JSON Patch updates with a load generator in a
  second process, against an empty endpoint of the same server.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from twinforge.graph import TwinGraph
from twinforge.packs.building import REC, realestatecore
from twinforge.ports import free_port
from twinforge.store.sqlite import SCHEMA

HERE = Path(__file__).resolve().parent


def graph_items(n: int) -> tuple[list[tuple[str, Any]], list[tuple[str, str, Any]]]:
    """N twins (levels, rooms, sensors) and N relationships between them."""
    levels = max(1, n // 1000)
    rooms = max(1, n // 5)
    twins: list[tuple[str, Any]] = []
    rels: list[tuple[str, str, Any]] = []
    for i in range(n):
        if i < levels:
            twins.append((f"t{i}", {"$metadata": {"$model": REC + "core:Level;1"}, "name": f"L{i}", "levelNumber": i}))
        elif i < rooms:
            twins.append((f"t{i}", {"$metadata": {"$model": REC + "core:Room;1"}, "name": f"Room {i}"}))
        else:
            twins.append((f"t{i}", {"$metadata": {"$model": REC + "device:TemperatureSensor;1"},
                                    "name": f"Sensor {i}"}))
    for i in range(n):
        if i < levels:
            rels.append((f"t{i}", f"r{i}", {"$relationshipName": "isPartOf", "$targetId": f"t{(i + 1) % levels}"}))
        elif i < rooms:
            rels.append((f"t{i}", f"r{i}", {"$relationshipName": "isPartOf", "$targetId": f"t{i % levels}"}))
        else:
            room = levels + (i % (rooms - levels)) if rooms > levels else 0
            rels.append((f"t{i}", f"r{i}", {"$relationshipName": "isCapabilityOf", "$targetId": f"t{room}"}))
    return twins, rels


def raw_sqlite_rate(path: Path, graph_db: Path) -> tuple[float, float]:
    """Rows/s for plain batched inserts of the same twin and relationship rows (+ events, history)."""
    src = sqlite3.connect(graph_db)
    twins = src.execute("SELECT id, model, etag, document FROM twins").fetchall()
    history = src.execute("SELECT twin, component, name, ts, num, value FROM history").fetchall()
    rels = src.execute("SELECT source, id, name, target, etag, document FROM relationships").fetchall()
    events = src.execute("SELECT time, type, twin, relationship, data, model FROM events").fetchall()
    src.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # as the store does: checkpoints run elsewhere
    conn.executescript(SCHEMA)
    twin_events = [e for e in events if e[1] == "Twin.Create"]
    rel_events = [e for e in events if e[1] == "Relationship.Create"]

    def insert(sql_rows: list[tuple[str, list[Any]]]) -> float:
        start = time.perf_counter()
        conn.execute("BEGIN")
        for sql, rows in sql_rows:
            for k in range(0, len(rows), 10_000):
                conn.executemany(sql, rows[k:k + 10_000])
        conn.execute("COMMIT")
        return time.perf_counter() - start

    ev = "INSERT INTO events (time, type, twin, relationship, data, model) VALUES (?, ?, ?, ?, ?, ?)"
    t_twins = insert([("INSERT INTO twins VALUES (?, ?, ?, ?)", twins), (ev, twin_events),
                      ("INSERT INTO history VALUES (?, ?, ?, ?, ?, ?)", history)])
    t_rels = insert([("INSERT INTO relationships VALUES (?, ?, ?, ?, ?, ?)", rels), (ev, rel_events)])
    conn.close()
    return len(twins) / t_twins, len(rels) / t_rels


def start_server(db: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "twinforge.cli", "serve", "--db", f"sqlite:///{db}",
                             "--port", str(port), "--workers", str(workers)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


def load(port: int, kind: str, *, ids: int, seconds: float, connections: int,
         prefix: str = "h") -> dict[str, Any]:
    out = subprocess.run([sys.executable, str(HERE / "loadgen.py"), "--port", str(port), "--kind", kind,
                          "--ids", str(ids), "--seconds", str(seconds), "--connections", str(connections),
                          "--prefix", prefix],
                         check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


# 250 substring tests over every twin: seconds per query on 100,000 twins.
SLOW_QUERY = ("SELECT COUNT() FROM DIGITALTWINS T WHERE "
              + " OR ".join(f"CONTAINS(T.name, 'zz{i}')" for i in range(250)))


def reads_during_slow_queries(port: int, n: int, seconds: float) -> dict[str, Any]:
    """Reads by id (the load generator) while two clients keep a slow query running."""
    import threading

    stop = threading.Event()
    durations: list[float] = []

    def slow() -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            while not stop.is_set():
                started = time.perf_counter()
                client.post("/query", json={"query": SLOW_QUERY})
                durations.append(time.perf_counter() - started)

    threads = [threading.Thread(target=slow, daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    try:
        result = load(port, "get", ids=n, seconds=seconds, connections=64)
    finally:
        stop.set()
        for thread in threads:
            thread.join(120)
    result["slow_queries"] = len(durations)
    result["slow_query_seconds"] = sum(durations) / len(durations) if durations else 0.0
    return result


def main(quick: bool, progress: Any) -> dict[str, Any]:

    n = 5_000 if quick else 100_000
    http_n = 2_000 if quick else 10_000
    seconds = 1.0 if quick else 10.0
    results: dict[str, Any] = {"twins": n, "relationships": n}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        graph = TwinGraph.open(f"sqlite:///{db}")
        progress("loading RealEstateCore")
        graph.add_models(realestatecore())
        twins, rels = graph_items(n)
        progress(f"creating {n:,} twins through the library")
        start = time.perf_counter()
        graph.create_twins(twins)
        results["library_twin_creates_per_s"] = n / (time.perf_counter() - start)
        progress(f"creating {n:,} relationships through the library")
        start = time.perf_counter()
        graph.create_relationships(rels)
        results["library_relationship_creates_per_s"] = n / (time.perf_counter() - start)
        graph.close()
        progress("raw SQLite baseline: the same rows, plain batched inserts")
        raw_twins, raw_rels = raw_sqlite_rate(Path(tmp) / "raw.db", db)
        results["raw_sqlite_twin_rows_per_s"] = raw_twins
        results["raw_sqlite_relationship_rows_per_s"] = raw_rels
        results["twin_create_ratio_to_raw"] = results["library_twin_creates_per_s"] / raw_twins
        results["relationship_create_ratio_to_raw"] = results["library_relationship_creates_per_s"] / raw_rels

        for workers in (1, 2):
            port = free_port()
            server = start_server(db, port, workers)
            w = f"w{workers}"
            try:
                progress(f"[{workers} worker(s)] creating {http_n:,} twins through the REST API")
                results[f"rest_twin_creates_{w}"] = load(port, "put", ids=http_n, seconds=600,
                                                         connections=32, prefix=f"h{workers}-")
                progress(f"[{workers} worker(s)] empty endpoint baseline")
                results[f"rest_empty_{w}"] = load(port, "empty", ids=n, seconds=seconds, connections=64)
                progress(f"[{workers} worker(s)] REST reads by id")
                results[f"rest_get_{w}"] = load(port, "get", ids=n, seconds=seconds, connections=64)
                if workers == 1:
                    progress("[1 worker] REST reads by id while two slow queries run")
                    results["rest_get_during_queries_w1"] = reads_during_slow_queries(port, n, seconds)
                progress(f"[{workers} worker(s)] REST JSON Patch updates")
                results[f"rest_patch_{w}"] = load(port, "patch", ids=n, seconds=seconds, connections=64)
            finally:
                server.terminate()
                server.wait(10)
            empty = results[f"rest_empty_{w}"]["rate"]
            for kind in ("get", "patch"):
                results[f"rest_{kind}_ratio_to_empty_{w}"] = (
                    results[f"rest_{kind}_{w}"]["rate"] / empty if empty else 0.0)
    return results


def report(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Rows of (measure, figure, goal or baseline) for the table."""

    def rate(x: float) -> str:
        return f"{x:,.0f}/s"

    def lat(r: dict[str, Any]) -> str:
        bad = sum(v for k, v in r["statuses"].items() if not k.startswith("2"))
        errors = f", {bad} non-2xx" if bad else ""
        return f"{rate(r['rate'])} (p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms{errors})"

    rows = [
        ("library twin creates", rate(results["library_twin_creates_per_s"]),
         f"goal 50,000/s; {results['twin_create_ratio_to_raw']:.2f}x of raw SQLite "
         f"({rate(results['raw_sqlite_twin_rows_per_s'])})"),
        ("library relationship creates", rate(results["library_relationship_creates_per_s"]),
         f"{results['relationship_create_ratio_to_raw']:.2f}x of raw SQLite "
         f"({rate(results['raw_sqlite_relationship_rows_per_s'])})"),
    ]
    for workers in (1, 2):
        w = f"w{workers}"
        tag = f"[{workers} worker{'s' if workers > 1 else ''}]"
        if workers == 1:
            during = results["rest_get_during_queries_w1"]
            rows.append(("[1 worker] REST reads by id during slow queries", lat(during),
                         f"2 clients running a {during['slow_query_seconds']:.1f} s query "
                         f"({during['slow_queries']} finished); reads must not wait for them"))
        rows += [
            (f"{tag} REST twin creates (PUT)", lat(results[f"rest_twin_creates_{w}"]), "32 connections"),
            (f"{tag} REST empty endpoint", lat(results[f"rest_empty_{w}"]), "baseline, 64 connections"),
            (f"{tag} REST reads by id", lat(results[f"rest_get_{w}"]),
             f"goal 5,000/s; {results[f'rest_get_ratio_to_empty_{w}']:.2f}x of empty"),
            (f"{tag} REST JSON Patch", lat(results[f"rest_patch_{w}"]),
             f"goal 2,000/s; {results[f'rest_patch_ratio_to_empty_{w}']:.2f}x of empty"),
        ]
    return rows
