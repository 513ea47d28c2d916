"""Live data over a real uvicorn: telemetry, NDJSON bulk ingest, history, dead letters,
WebSocket and SSE streams with filters and replay, event routes to webhooks."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import websockets

from tests.graph.sensors import LIVE, sensor, valve
from tests.servers import running_api
from twinforge.graph import TwinGraph

MSG = {"Message-Id": "m-1"}  # ADT requires one on telemetry


@pytest.fixture
def server(graph: TwinGraph) -> Iterator[tuple[str, httpx.Client]]:
    graph.add_models(LIVE)
    graph.create_twins([("s1", sensor(temperature=20.0)), ("s2", sensor()), ("v1", valve(open=False))])
    with running_api(graph) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield url, client


def error_code(r: httpx.Response) -> str:
    code: str = r.json()["error"]["code"]
    return code


def test_telemetry_routes(server: tuple[str, httpx.Client]) -> None:
    _, c = server
    r = c.post("/digitaltwins/s1/telemetry", json={"humidity": 41.0},
               headers={"Message-Id": "m1", "Telemetry-Source-Time": "2026-01-01T00:00:00Z"})
    assert r.status_code == 204
    r = c.post("/digitaltwins/s1/telemetry", json={"humidity": 41.0})
    assert r.status_code == 400 and "Message-Id header is required" in r.json()["error"]["message"]
    assert c.post("/digitaltwins/s1/components/battery/telemetry", json={"voltage": 3.7}, headers=MSG).status_code == 204
    r = c.post("/digitaltwins/s1/telemetry", json={"temperature": 1.0}, headers=MSG)
    assert r.status_code == 400 and "not telemetry" in r.json()["error"]["message"]
    assert c.post("/digitaltwins/ghost/telemetry", json={"humidity": 1.0}, headers=MSG).status_code == 404
    assert c.post("/digitaltwins/s1/telemetry", content=b"{oops", headers=MSG).status_code == 400
    points = c.get("/digitaltwins/s1/history", params={"name": "humidity"}).json()["value"]
    assert points == [{"time": "2026-01-01T00:00:00.000000Z", "value": 41.0}]
    volts = c.get("/digitaltwins/s1/history", params={"name": "voltage", "component": "battery"}).json()
    assert [p["value"] for p in volts["value"]] == [3.7]


def test_bulk_ingest_and_dead_letters(server: tuple[str, httpx.Client]) -> None:
    _, c = server
    lines = [json.dumps({"twin": "s1", "properties": {"temperature": 21.0 + i}}) for i in range(50)]
    lines += ["not json", json.dumps({"twin": "s2"}), json.dumps({"twin": "s2", "properties": {"seq": "x"}}),
              json.dumps({"twin": "s2", "telemetry": {"reading": 2.0}, "time": "2026-02-01T00:00:00Z"})]
    r = c.post("/ingest", content="\n".join(lines).encode(), headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 200
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (51, 3)
    assert c.get("/digitaltwins/s1").json()["temperature"] == 70.0
    letters = c.get("/deadletters", headers={"max-items-per-page": "2"}).json()
    assert [d["kind"] for d in letters["value"]] == ["not_json", "bad_shape"] and letters["nextLink"]
    rest = c.get(letters["nextLink"]).json()
    assert [d["kind"] for d in rest["value"]] == ["invalid_value"]
    assert letters["counts"] == {"not_json": 1, "bad_shape": 1, "invalid_value": 1}


def test_history_paging_and_aggregates(server: tuple[str, httpx.Client]) -> None:
    _, c = server
    lines = [json.dumps({"twin": "s2", "telemetry": {"reading": float(i)},
                         "time": f"2026-03-01T00:{i // 60:02d}:{i % 60:02d}Z"}) for i in range(150)]
    c.post("/ingest", content="\n".join(lines).encode())
    params = {"name": "reading", "from": "2026-03-01T00:00:00Z", "to": "2026-03-01T01:00:00Z"}
    page = c.get("/digitaltwins/s2/history", params=params, headers={"max-items-per-page": "100"}).json()
    rest = c.get(page["nextLink"]).json()
    assert [p["value"] for p in page["value"] + rest["value"]] == [float(i) for i in range(150)]
    avg = c.get("/digitaltwins/s2/history", params={**params, "bucket": "1m", "agg": "avg"}).json()["value"]
    assert avg == [{"time": "2026-03-01T00:00:00.000000Z", "value": 29.5},
                   {"time": "2026-03-01T00:01:00.000000Z", "value": 89.5},
                   {"time": "2026-03-01T00:02:00.000000Z", "value": 134.5}]
    for agg, expected in (("min", [0.0, 60.0, 120.0]), ("max", [59.0, 119.0, 149.0]),
                          ("count", [60, 60, 30]), ("last", [59.0, 119.0, 149.0])):
        rows = c.get("/digitaltwins/s2/history", params={**params, "bucket": "1m", "agg": agg}).json()["value"]
        assert [r["value"] for r in rows] == expected, agg
    for bad in ({"name": "reading", "agg": "median", "bucket": "1m"}, {"name": "reading", "bucket": "soon"},
                {"name": "reading", "from": "yesterday"}, {}):
        r = c.get("/digitaltwins/s2/history", params=bad)
        assert r.status_code == 400, bad
    assert c.get("/digitaltwins/ghost/history", params={"name": "x"}).status_code == 404


def _ws(url: str) -> str:
    return url.replace("http://", "ws://") + "/stream"


def test_websocket_filters_and_replay(server: tuple[str, httpx.Client]) -> None:
    url, c = server

    async def scenario() -> list[Any]:
        seen: list[Any] = []
        async with websockets.connect(_ws(url) + "?model=dtmi:live:Device;1&type=Twin.Update") as by_model, \
                websockets.connect(_ws(url) + "?twin=s2") as by_twin:
            await asyncio.sleep(0.2)
            await asyncio.to_thread(c.patch, "/digitaltwins/v1", json=[{"op": "replace", "path": "/open", "value": True}])
            await asyncio.to_thread(c.post, "/digitaltwins/s2/telemetry", json={"reading": 1.0}, headers=MSG)
            await asyncio.to_thread(c.patch, "/digitaltwins/s2", json=[{"op": "add", "path": "/seq", "value": 2}])
            first = json.loads(await asyncio.wait_for(by_model.recv(), 5))
            second = json.loads(await asyncio.wait_for(by_model.recv(), 5))
            seen.append([first["subject"], second["subject"], first["type"]])
            own = [json.loads(await asyncio.wait_for(by_twin.recv(), 5)) for _ in range(2)]
            seen.append([e["type"] for e in own])
            last_id = own[0]["id"]
        async with websockets.connect(_ws(url) + f"?twin=s2&lastEventId={last_id}") as again:
            replayed = json.loads(await asyncio.wait_for(again.recv(), 5))
            seen.append(replayed["id"] == own[1]["id"])
        return seen

    by_model, by_twin, resumed = asyncio.run(scenario())
    assert by_model == ["v1", "s2", "Microsoft.DigitalTwins.Twin.Update"]  # Valve and Sensor extend Device
    assert by_twin == ["microsoft.iot.telemetry", "Microsoft.DigitalTwins.Twin.Update"]
    assert resumed


def test_sse_resumes_from_last_event_id(server: tuple[str, httpx.Client]) -> None:
    url, c = server
    c.patch("/digitaltwins/s1", json=[{"op": "replace", "path": "/temperature", "value": 1.0}])
    c.patch("/digitaltwins/s1", json=[{"op": "replace", "path": "/temperature", "value": 2.0}])
    ids = []
    with httpx.stream("GET", url + "/stream", params={"twin": "s1"}, headers={"Last-Event-ID": "0"},
                      timeout=10) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                ids.append(json.loads(line[6:])["data"])
            if len(ids) == 3:
                break
    assert ids[0]["$dtId"] == "s1"  # the create event
    assert [i["patch"][0]["value"] for i in ids[1:]] == [1.0, 2.0]
    bad = httpx.get(url + "/stream", params={"type": "Nope"})
    assert bad.status_code == 400
    assert httpx.get(url + "/stream", params={"model": "dtmi:x:Nope;1"}).status_code == 400


class Receiver(BaseHTTPRequestHandler):
    received: list[Any] = []
    fail_first = 0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if Receiver.fail_first > 0:
            Receiver.fail_first -= 1
            self.send_response(503)
        else:
            Receiver.received.append((self.headers["ce-type"], body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


def test_event_routes_to_webhooks(server: tuple[str, httpx.Client]) -> None:
    _, c = server
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    Receiver.received, Receiver.fail_first = [], 2
    hook = f"http://127.0.0.1:{httpd.server_address[1]}/events"
    try:
        assert c.put("/endpoints/hook", json={"type": "webhook", "url": hook, "maxRetries": 3}).status_code == 200
        assert c.put("/endpoints/dead", json={"type": "webhook", "url": "http://127.0.0.1:9/none",
                                              "maxRetries": 1}).status_code == 200
        r = c.put("/eventroutes/updates", json={"endpointName": "hook",
                                                "filter": "type = 'Microsoft.DigitalTwins.Twin.Update' AND "
                                                          "STARTS_WITH(subject, 's')"})
        assert r.status_code == 204
        assert c.put("/eventroutes/lost", json={"endpointName": "dead", "filter": "true"}).status_code == 204
        assert c.get("/eventroutes/updates").json()["endpointName"] == "hook"
        assert len(c.get("/eventroutes").json()["value"]) == 2
        c.patch("/digitaltwins/v1", json=[{"op": "replace", "path": "/open", "value": True}])
        c.patch("/digitaltwins/s1", json=[{"op": "replace", "path": "/temperature", "value": 5.0}])
        deadline = time.monotonic() + 20
        while not Receiver.received or not any(d["kind"] == "delivery_failed"
                                               for d in c.get("/deadletters").json()["value"]):
            assert time.monotonic() < deadline, "no delivery"
            time.sleep(0.1)
        kind, body = Receiver.received[0]
        assert kind == "Microsoft.DigitalTwins.Twin.Update" and body["subject"] == "s1"  # v1 filtered out
        assert len(Receiver.received) == 1
        r = c.put("/eventroutes/bad", json={"endpointName": "hook", "filter": "type = "})
        assert r.status_code == 400 and error_code(r) == "EventRouteFilterInvalid"
        r = c.put("/eventroutes/bad", json={"endpointName": "nope", "filter": "true"})
        assert r.status_code == 400 and error_code(r) == "EventRouteEndpointInvalid"
        assert c.delete("/endpoints/hook").status_code == 400  # still used by a route
        assert c.delete("/eventroutes/updates").status_code == 204
        assert c.delete("/endpoints/hook").status_code == 204
        r = c.put("/endpoints/m", json={"type": "mqtt"})
        assert r.status_code == 400 and "--mqtt" in r.json()["error"]["message"]
    finally:
        httpd.shutdown()


def test_periodic_routes_send_the_queried_twins_and_survive_a_restart(graph: TwinGraph) -> None:
    graph.add_models(LIVE)
    graph.create_twins([("s1", sensor(temperature=20.0)), ("s2", sensor()), ("v1", valve(open=False))])
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    Receiver.received, Receiver.fail_first = [], 0
    hook = f"http://127.0.0.1:{httpd.server_address[1]}/events"
    query = "SELECT T FROM DIGITALTWINS T WHERE STARTSWITH(T.$dtId, 's')"

    def periodic(count: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 30
        while len([b for k, b in Receiver.received if k == "twinforge.Route.Periodic"]) < count:
            assert time.monotonic() < deadline, f"fewer than {count} periodic notifications"
            time.sleep(0.05)
        return [b for k, b in Receiver.received if k == "twinforge.Route.Periodic"]

    try:
        with running_api(graph) as url, httpx.Client(base_url=url, timeout=10) as c:
            assert c.put("/endpoints/hook", json={"type": "webhook", "url": hook}).status_code == 200
            for body, code in (({"endpointName": "hook", "interval": "PT0.1S", "query": query}, "EventRouteIntervalInvalid"),
                               ({"endpointName": "hook", "interval": "soon", "query": query}, "EventRouteIntervalInvalid"),
                               ({"endpointName": "hook", "interval": "PT1S", "query": "SELECT FROM"}, "EventRouteQueryInvalid"),
                               ({"endpointName": "hook", "interval": "PT1S"}, "InvalidArgument")):
                r = c.put("/eventroutes/bad", json=body)
                assert r.status_code == 400 and error_code(r) == code, (body, r.text)
            assert c.get("/eventroutes").json()["value"] == []
            r = c.put("/eventroutes/every-second", json={"endpointName": "hook", "interval": "PT1S", "query": query})
            assert r.status_code == 204
            first = periodic(1)[0]
            assert first["subject"] == "every-second" and first["data"]["query"] == query
            assert sorted(row["T"]["$dtId"] for row in first["data"]["value"]) == ["s1", "s2"]
            c.patch("/digitaltwins/s1", json=[{"op": "replace", "path": "/temperature", "value": 31.0}])
            deadline = time.monotonic() + 30
            while not any(row["T"]["$dtId"] == "s1" and row["T"].get("temperature") == 31.0
                          for row in periodic(1)[-1]["data"]["value"]):
                assert time.monotonic() < deadline, "the change never reached a notification"
                time.sleep(0.05)
        sent = len(periodic(1))
        # a new server on the same store: the route is there and the schedule goes on
        with running_api(graph) as url, httpx.Client(base_url=url, timeout=10) as c:
            route = c.get("/eventroutes/every-second").json()
            assert route["interval"] == "PT1S" and route["query"] == query
            bodies = periodic(sent + 2)
            times = [b["time"] for b in bodies]
            assert times == sorted(times) and len(set(times)) == len(times)
            assert c.delete("/eventroutes/every-second").status_code == 204
    finally:
        httpd.shutdown()
