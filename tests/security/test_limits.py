"""Limits per client: request rate (429 with Retry-After), open streams, body sizes per route;
and what a refused request leaves behind: nothing."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from tests.graph.models import PLANT, tank
from tests.requirements import need_module
from tests.servers import running_api
from twinforge.api.limits import Limits, parse_rate
from twinforge.auth import Tokens
from twinforge.errors import InvalidArgument
from twinforge.graph import TwinGraph


def test_rates_are_read_as_users_write_them() -> None:
    assert parse_rate("100/s") == 100 and parse_rate("6000/min") == 100 and parse_rate("3600 / h") == 1
    for bad in ("fast", "0/s", "10/day", "-1/s"):
        with pytest.raises(InvalidArgument, match="--rate-limit"):
            parse_rate(bad)


def test_past_the_rate_a_client_gets_429_with_retry_after_and_others_go_on(graph: TwinGraph) -> None:
    graph.add_models(PLANT)
    graph.create_twin("t0", tank(level=1.0))
    tokens = Tokens(graph.store)
    busy, calm = tokens.create("busy", "writer")[1], tokens.create("calm", "reader")[1]
    with running_api(graph, auth=True, limits=Limits(rate=5.0)) as url, \
            httpx.Client(base_url=url, headers={"authorization": f"Bearer {busy}"}) as c, \
            httpx.Client(base_url=url, headers={"authorization": f"Bearer {calm}"}) as other:
        answers = [c.get("/digitaltwins/t0") for _ in range(12)]
        codes = [r.status_code for r in answers]
        assert codes[:5] == [200] * 5 and 429 in codes, codes  # a second's worth at once, then refused
        refused = next(r for r in answers if r.status_code == 429)
        assert refused.json()["error"]["code"] == "TooManyRequests" and int(refused.headers["retry-after"]) >= 1
        # A refused change changes nothing.
        r = c.patch("/digitaltwins/t0", json=[{"op": "replace", "path": "/level", "value": 99.0}])
        assert r.status_code == 429
        seen = other.get("/digitaltwins/t0")  # another token has its own budget
        assert seen.status_code == 200 and seen.json()["level"] == 1.0
        assert c.get("/health").status_code == 200  # never limited
        time.sleep(1.1)
        assert c.get("/digitaltwins/t0").status_code == 200  # the budget refills


def test_streams_per_client_are_bounded(graph: TwinGraph) -> None:
    with running_api(graph, limits=Limits(streams=2)) as url, httpx.Client(base_url=url, timeout=10) as c:
        opened = []
        for _ in range(2):
            stream = c.stream("GET", "/stream")
            response = stream.__enter__()
            assert response.status_code == 200
            opened.append(stream)
        third = c.get("/stream")
        assert third.status_code == 429 and "2 streams open" in third.json()["error"]["message"]
        opened.pop().__exit__(None, None, None)
        deadline = time.monotonic() + 5
        while True:  # the server notices the closed stream when it next writes (a keep-alive)
            with c.stream("GET", "/stream") as again:
                if again.status_code == 200:
                    break
            assert time.monotonic() < deadline
            time.sleep(0.2)
        for stream in opened:
            stream.__exit__(None, None, None)


def test_bodies_are_bounded_per_route_and_refused_as_they_arrive(graph: TwinGraph) -> None:
    graph.add_models(PLANT)
    limits = Limits(body_bytes=4096, ingest_bytes=16_384)
    with running_api(graph, limits=limits) as url, httpx.Client(base_url=url) as c:
        big = {"$metadata": {"$model": "dtmi:test:Tank;1"}, "name": "x" * 5000}
        r = c.put("/digitaltwins/t1", json=big)
        assert r.status_code == 400 and r.json()["error"]["code"] == "PayloadTooLarge", r.text
        assert c.get("/digitaltwins/t1").status_code == 404
        lines = "\n".join(json.dumps({"twin": "t1", "telemetry": {"x": i}}) for i in range(300))
        assert 4096 < len(lines) < 16_384
        r = c.post("/ingest", content=lines)
        assert r.status_code == 200, r.text  # NDJSON has a limit of its own
        r = c.post("/ingest", content=lines * 3)
        assert r.status_code == 400 and "16,384" in r.json()["error"]["message"]

        def chunks() -> object:  # no Content-Length: refused while it streams in
            for _ in range(100):
                yield b'{"twin": "t1", "telemetry": {"x": 1}}\n' * 10
        r = c.post("/ingest", content=chunks())  # type: ignore[arg-type]
        assert r.status_code == 400 and r.json()["error"]["code"] == "PayloadTooLarge"


def test_many_clients_at_once_each_keep_their_budget(graph: TwinGraph) -> None:
    """The bucket is shared by the threads of one client: 20 concurrent requests at 10/s let
    about 10 through at once, never all 20."""
    with running_api(graph, limits=Limits(rate=10.0)) as url:
        codes: list[int] = []

        def hit() -> None:
            with httpx.Client(base_url=url) as c:
                codes.append(c.get("/models").status_code)

        threads = [threading.Thread(target=hit) for _ in range(20)]
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # The bucket holds 10 and refills at 10/s while the burst lasts (longer on a busy machine).
        allowed = 10 + int(10 * (time.monotonic() - began)) + 1
        assert 8 <= codes.count(200) <= allowed and codes.count(429) == 20 - codes.count(200), (codes, allowed)


def test_scenario_and_sweep_sizes_are_bounded(graph: TwinGraph, monkeypatch: pytest.MonkeyPatch) -> None:
    need_module("numpy")
    import twinforge.sim.scenario as scenario_module
    from twinforge.sim import Scenario, default_registry, fork, library

    graph.add_models(library.models())
    for i in range(3):
        graph.create_twin(f"zone-{i}", {"$metadata": {"$model": library.NS + "ThermalZone;1"}})
    scope = f"SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{library.NS}ThermalZone;1')"
    base = {"id": "big", "scope": scope, "horizon": "PT10H", "step": "PT1S"}
    sweep = {"parameters": [{"twin": "zone-0", "property": "heaterPower", "values": list(range(500))},
                            {"twin": "zone-1", "property": "heaterPower", "values": list(range(300))}]}
    with pytest.raises(InvalidArgument, match="the sweep makes 150,000 runs; the limit is 100,000"):
        Scenario.from_dict({**base, "sweep": sweep})
    monkeypatch.setattr(scenario_module, "MAX_TWIN_STEPS", 100_000)  # 3 twins x 36,000 steps is past it
    with pytest.raises(InvalidArgument, match="3 twins x 36,000 steps = 108,000; the limit is 100,000"):
        Scenario.from_dict(base).check(fork(graph, scope), default_registry())
