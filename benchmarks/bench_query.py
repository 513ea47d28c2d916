"""`twinforge bench query`: latency of ADT query shapes on 100,000 twins and 300,000 relationships.

The graph is a RealEstateCore building: 100 levels, 10,000 rooms and 89,900 temperature
sensors. Each query shape runs many times with varying parameters through
`TwinGraph.query_page` (first page of up to 100 rows); the baseline for each is a
hand-written SQL statement answering the same question on the same connection.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from twinforge.graph import TwinGraph
from twinforge.packs.building import REC, realestatecore

LEVELS = 100


def build(graph: TwinGraph, n_twins: int) -> tuple[int, int]:
    rooms = n_twins // 10
    sensors = n_twins - LEVELS - rooms - 1
    rng = random.Random(7)
    twins: list[tuple[str, Any]] = [("building", {"$metadata": {"$model": REC + "core:Building;1"}, "name": "HQ"})]
    rels: list[tuple[str, str, Any]] = []

    def rel(src: str, name: str, dst: str) -> None:
        rels.append((src, f"{name}-{dst}", {"$relationshipName": name, "$targetId": dst}))

    for lv in range(LEVELS):
        twins.append((f"level-{lv}", {"$metadata": {"$model": REC + "core:Level;1"}, "name": f"Level {lv}",
                                      "levelNumber": lv}))
        rel(f"level-{lv}", "isPartOf", "building")
        rel("building", "hasPart", f"level-{lv}")
    for r in range(rooms):
        room, level = f"room-{r}", f"level-{r % LEVELS}"
        twins.append((room, {"$metadata": {"$model": REC + "core:Room;1"}, "name": f"Room {r}"}))
        rel(room, "isPartOf", level)
        rel(level, "hasPart", room)
    for s in range(sensors):
        sensor, room = f"sensor-{s}", f"room-{s % rooms}"
        twins.append((sensor, {"$metadata": {"$model": REC + "device:TemperatureSensor;1"},
                               "name": f"Sensor {s}", "lastValue": round(rng.uniform(15, 30), 3)}))
        rel(sensor, "isCapabilityOf", room)
        rel(sensor, "observes", room)
        rel(room, "hasCapability", sensor)
    extra = 3 * n_twins - len(rels)
    for s in range(max(0, extra)):
        rel(f"sensor-{s}", "serves", f"room-{s % rooms}")
    graph.create_twins(twins)
    graph.create_relationships(rels)
    return len(twins), len(rels)


def shapes(rooms: int, sensors: int) -> list[tuple[str, str, Any, Any]]:
    """(label, ADT query maker, baseline SQL, baseline params maker)."""
    return [
        ("point lookup by $dtId",
         lambda r: f"SELECT * FROM DIGITALTWINS WHERE $dtId = 'sensor-{r.randrange(sensors)}'",
         "SELECT document FROM twins WHERE id = ?", lambda r: [f"sensor-{r.randrange(sensors)}"]),
        ("property equality (indexed)",
         lambda r: f"SELECT * FROM DIGITALTWINS T WHERE T.name = 'Room {r.randrange(rooms)}'",
         "SELECT document FROM twins WHERE document ->> '$.name' = ?", lambda r: [f"Room {r.randrange(rooms)}"]),
        ("range (indexed)",
         lambda r: (lambda lo: f"SELECT T.$dtId, T.lastValue FROM DIGITALTWINS T "
                               f"WHERE T.lastValue >= {lo} AND T.lastValue < {lo + 0.01:.3f}")(round(r.uniform(15, 30), 2)),
         "SELECT id, document -> '$.lastValue' FROM twins WHERE document ->> '$.lastValue' >= ? "
         "AND document ->> '$.lastValue' < ?", lambda r: (lambda lo: [lo, lo + 0.01])(round(r.uniform(15, 30), 2))),
        ("IS_OF_MODEL, deep hierarchy (COUNT)",
         lambda r: "SELECT COUNT() FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:digitaltwins:rec_3_3:core:Space;1')",
         "SELECT COUNT(*) FROM twins WHERE model IN ('dtmi:digitaltwins:rec_3_3:core:Room;1', "
         "'dtmi:digitaltwins:rec_3_3:core:Level;1', 'dtmi:digitaltwins:rec_3_3:core:Building;1')", lambda r: []),
        ("IS_OF_MODEL, deep hierarchy (first page)",
         lambda r: "SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:digitaltwins:rec_3_3:core:Capability;1')",
         "SELECT document FROM twins WHERE model = 'dtmi:digitaltwins:rec_3_3:device:TemperatureSensor;1' "
         "ORDER BY id LIMIT 101", lambda r: []),
        ("two-hop JOIN (level -> rooms -> sensors above 25)",
         lambda r: ("SELECT S.$dtId, S.lastValue FROM DIGITALTWINS L JOIN R RELATED L.hasPart "
                    f"JOIN S RELATED R.hasCapability WHERE L.$dtId = 'level-{r.randrange(LEVELS)}' AND S.lastValue > 25"),
         "SELECT s.id, s.document -> '$.lastValue' FROM relationships a JOIN relationships b "
         "ON b.source = a.target AND b.name = 'hasCapability' JOIN twins s ON s.id = b.target "
         "WHERE a.source = ? AND a.name = 'hasPart' AND s.document ->> '$.lastValue' > 25",
         lambda r: [f"level-{r.randrange(LEVELS)}"]),
    ]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


def main(quick: bool, progress: Any) -> dict[str, Any]:
    n = 10_000 if quick else 100_000
    runs = 30 if quick else 200
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        graph = TwinGraph.open(f"sqlite:///{Path(tmp) / 'query.db'}")
        progress("loading RealEstateCore")
        graph.add_models(realestatecore())
        progress(f"building a graph of {n:,} twins and {3 * n:,} relationships")
        twins, rels = build(graph, n)
        results["twins"], results["relationships"] = twins, rels
        graph.add_property_index("name")
        graph.add_property_index("lastValue")
        store = graph.store
        rooms = n // 10
        rng = random.Random(11)
        for label, make_query, sql, make_params in shapes(rooms, n - LEVELS - rooms - 1):
            progress(label)
            graph.query_page(make_query(rng), size=100)  # compile and warm the cache
            times, base, rows = [], [], 0
            for _ in range(runs):
                text = make_query(rng)
                start = time.perf_counter()
                page, _ = graph.query_page(text, size=100)
                times.append(time.perf_counter() - start)
                rows += len(page)
                params = make_params(rng)
                start = time.perf_counter()
                store.select(sql, params)
                base.append(time.perf_counter() - start)
            results[label] = {"p50_ms": percentile(times, 0.5), "p99_ms": percentile(times, 0.99),
                              "baseline_p50_ms": percentile(base, 0.5), "mean_rows": rows / runs,
                              "ratio_to_baseline": statistics.median(times) / max(statistics.median(base), 1e-9)}
        graph.close()
    return results


def report(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows = []
    for label, r in results.items():
        if not isinstance(r, dict):
            continue
        goal = "goal p50 < 100 ms" if "JOIN" in label else "goal p50 < 20 ms"
        rows.append((label, f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms ({r['mean_rows']:.0f} rows)",
                     f"{goal}; hand-written SQL p50 {r['baseline_p50_ms']:.2f} ms "
                     f"({r['ratio_to_baseline']:.1f}x)"))
    rows.append(("graph", f"{results['twins']:,} twins, {results['relationships']:,} relationships", ""))
    return rows
