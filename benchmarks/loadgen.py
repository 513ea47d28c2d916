"""A small HTTP/1.1 load generator: keep-alive connections over raw asyncio streams.

Runs in its own process so the server under test keeps its core. Prints one
JSON line: requests, seconds, per-status counts and latency percentiles.

    python benchmarks/loadgen.py --port 8080 --kind get --ids 10000 --seconds 10 --connections 64
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import Counter

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
    uvloop = None  # type: ignore[assignment]


PREFIX = "h"
MODEL = "dtmi:digitaltwins:rec_3_3:device:TemperatureSensor;1"


def build_request(kind: str, i: int, host: str) -> bytes:
    if kind == "get":
        return f"GET /digitaltwins/t{i} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    if kind == "empty":
        return f"GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    if kind == "patch":
        body = json.dumps([{"op": "replace", "path": "/name", "value": f"n{random.random():.6f}"}]).encode()
        return (f"PATCH /digitaltwins/t{i} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    if kind == "put":
        body = json.dumps({"$metadata": {"$model": MODEL}, "name": f"http sensor {i}"}).encode()
        return (f"PUT /digitaltwins/{PREFIX}{i} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    if kind == "query":  # one twin by a property value: the planner's index path, a few rows back
        body = json.dumps({"query": f"SELECT T.$dtId FROM DIGITALTWINS T WHERE T.name = 's{i}'"}).encode()
        return (f"POST /query HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    raise ValueError(kind)


async def worker(args: argparse.Namespace, queue: list[int] | None, deadline: float,
                 latencies: list[float], statuses: Counter[int]) -> None:
    reader, writer = await asyncio.open_connection(args.host, args.port)
    try:
        while time.perf_counter() < deadline:
            if queue is not None:
                if not queue:
                    return
                i = queue.pop()
            else:
                i = random.randrange(args.ids)
            request = build_request(args.kind, i, args.host)
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            statuses[int(head[9:12])] += 1
    finally:
        writer.close()


async def run(args: argparse.Namespace) -> dict[str, object]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    queue = list(range(args.ids))[::-1] if args.kind == "put" else None
    start = time.perf_counter()
    deadline = start + args.seconds
    await asyncio.gather(*(worker(args, queue, deadline, latencies, statuses)
                           for _ in range(args.connections)))
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0

    return {"kind": args.kind, "requests": len(latencies), "seconds": elapsed,
            "rate": len(latencies) / elapsed if elapsed else 0.0,
            "statuses": {str(k): v for k, v in statuses.items()},
            "p50_ms": pct(0.50), "p99_ms": pct(0.99)}


def main() -> None:
    global PREFIX, MODEL
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--kind", choices=["get", "patch", "put", "empty", "query"], required=True)
    parser.add_argument("--ids", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--prefix", default="h", help="id prefix of twins made by --kind put")
    parser.add_argument("--model", default=MODEL, help="the model of twins made by --kind put")
    args = parser.parse_args()
    PREFIX = args.prefix
    MODEL = args.model
    if uvloop is not None:
        uvloop.install()
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
