"""Several `twinforge serve` processes over one PostgreSQL database: one graph.

Writes through either server are seen by both, concurrent writers are kept right by ETags,
every server's /stream carries every change whichever server made it (LISTEN/NOTIFY), event
routes are delivered once per event, and when the delivering server is killed the other takes
over. A wrong database URL is a clear error.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.graph.sensors import LIVE, sensor
from tests.servers import EventHook, ServeProcess, free_port

Server = ServeProcess


@pytest.fixture
def servers(pg_url: str) -> Iterator[tuple[Server, Server]]:
    a = Server(pg_url)
    b = Server(pg_url)
    yield a, b
    a.stop()
    b.stop()


def test_two_servers_one_graph(servers: tuple[Server, Server]) -> None:
    a, b = servers
    assert httpx.post(a.url + "/models", json=LIVE).status_code == 201
    assert httpx.put(b.url + "/digitaltwins/s1", json=sensor(temperature=1.0)).status_code == 200
    got = httpx.get(a.url + "/digitaltwins/s1")
    assert got.status_code == 200 and got.json()["temperature"] == 1.0
    etag = got.headers["etag"]

    # two writers with the same ETag, one through each server: exactly one wins
    results = []
    for server, value in ((a, 2.0), (b, 3.0)):
        results.append(httpx.patch(server.url + "/digitaltwins/s1", headers={"If-Match": etag},
                                   json=[{"op": "replace", "path": "/temperature", "value": value}]).status_code)
    assert sorted(results) == [204, 412]
    assert httpx.get(b.url + "/digitaltwins/s1").json()["temperature"] == 2.0

    # server B's stream carries a change made through server A, at once
    lines: list[str] = []

    def follow() -> None:
        with httpx.stream("GET", b.url + "/stream?twin=s1", timeout=10) as r:
            for line in r.iter_lines():
                lines.append(line)
                if line.startswith("data:"):
                    return

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    time.sleep(0.5)
    start = time.monotonic()
    httpx.patch(a.url + "/digitaltwins/s1", json=[{"op": "replace", "path": "/temperature", "value": 9.0}])
    reader.join(5)
    took = time.monotonic() - start
    data = [json.loads(line[5:]) for line in lines if line.startswith("data:")]
    assert data and data[0]["data"]["patch"][0]["value"] == 9.0
    assert took < 1.0, f"the change reached the other server's stream after {took:.2f} s"


def test_routes_once_per_event_and_take_over(servers: tuple[Server, Server]) -> None:
    a, b = servers
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), EventHook)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    EventHook.received.clear()
    received = EventHook.received
    try:
        assert httpx.post(a.url + "/models", json=LIVE).status_code == 201
        assert httpx.put(a.url + "/digitaltwins/s1", json=sensor()).status_code == 200
        hook = f"http://127.0.0.1:{httpd.server_address[1]}/"
        assert httpx.put(b.url + "/endpoints/hook", json={"type": "webhook", "url": hook}).status_code == 200
        r = httpx.put(b.url + "/eventroutes/all", json={"endpointName": "hook",
                                                        "filter": "type = 'Microsoft.DigitalTwins.Twin.Update'"})
        assert r.status_code == 204
        time.sleep(3)  # the leading server's watcher picks the route up
        for i in range(20):
            server = a if i % 2 else b
            assert httpx.patch(server.url + "/digitaltwins/s1",
                               json=[{"op": "add", "path": "/temperature", "value": float(i)}]).status_code == 204
        deadline = time.monotonic() + 15
        while len(received) < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        assert len(received) == 20 and len(set(received)) == 20  # each event once, from one server
        # kill whichever server leads: the other takes the lease over and goes on delivering
        a.kill()
        for i in range(5):
            assert httpx.patch(b.url + "/digitaltwins/s1",
                               json=[{"op": "add", "path": "/temperature", "value": 100.0 + i}]).status_code == 204
        deadline = time.monotonic() + 20
        while len(set(received)) < 25 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(set(received)) == 25
    finally:
        httpd.shutdown()


def test_a_wrong_database_url_is_a_clear_error(postgres: Any) -> None:
    port = postgres.port
    for url, words in ((f"postgresql://postgres@127.0.0.1:{port}/nosuchdb", "does not exist"),
                       (f"postgresql://postgres:secret@127.0.0.1:{free_port()}/x", "cannot connect")):
        out = subprocess.run([sys.executable, "-m", "twinforge.cli", "query", "SELECT T FROM DIGITALTWINS T",
                              "--db", url], capture_output=True, text=True, timeout=60, check=False)
        assert out.returncode == 1, out
        assert out.stderr.startswith("error:") and words in out.stderr, out.stderr
        assert "secret" not in out.stderr  # the password is never printed


def publish_through_a_kill(port: int, client_id: str, t0: float, halfway: Any, total: int = 10_000) -> set[float]:
    """Publish ``total`` QoS 1 messages as fast as a client can (one reading each, with its source
    time), calling ``halfway()`` half way; returns the readings the broker acknowledged."""
    import paho.mqtt.client as mqtt

    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    pub.max_queued_messages_set(0)
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    acked: set[int] = set()
    seq_of_mid: dict[int, int] = {}
    pub.on_publish = lambda c, u, mid, reason, props: acked.add(mid)
    try:
        for i in range(total):
            if i == total // 2:
                halfway()
            at = datetime.datetime.fromtimestamp(t0 + i / 1000, datetime.UTC).isoformat()
            record = {"twin": f"s{i % 20}", "telemetry": {"reading": float(i)}, "time": at}
            seq_of_mid[pub.publish("twinforge/updates", json.dumps([record]), qos=1).mid] = i
        deadline = time.monotonic() + 60
        while len(acked) < total and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(acked) == total
        return {float(seq_of_mid[m]) for m in acked}
    finally:
        pub.disconnect()
        pub.loop_stop()


def stored_readings(graph: Any) -> list[float]:
    return [p.num for t in range(20) for p in graph.store.read_history(f"s{t}", "reading", limit=20_000)
            if p.num is not None]


def assert_stored_once(graph: Any, want: set[float], total: int) -> None:
    """Every acknowledged reading is stored (waiting up to a minute), and no reading twice."""
    deadline = time.monotonic() + 60
    while not want <= set(stored_readings(graph)) and time.monotonic() < deadline:
        time.sleep(0.2)
    points = stored_readings(graph)
    assert set(points) >= want, f"{len(want - set(points))} acknowledged messages were not stored"
    assert len(points) == len(set(points)) == total  # exactly once


def test_two_ingesting_servers_one_killed_store_every_message_once(pg_url: str, tmp_path: Any) -> None:
    """Two servers on one Mosquitto (MQTT 5 shared subscription) and one PostgreSQL; 10,000 QoS 1
    messages; one server is killed half way and restarted on its port (same client id, so it
    resumes its session). Every message the broker acknowledged is stored exactly once."""
    from tests.servers import running_mosquitto
    from twinforge.graph import TwinGraph

    graph = TwinGraph.open(pg_url)
    graph.add_models(LIVE)
    graph.create_twins([(f"s{i}", sensor()) for i in range(20)])

    with running_mosquitto(tmp_path / "mqtt") as broker:
        def start(port: int | None = None) -> Server:
            return ServeProcess(pg_url, "--mqtt", broker.url, port=port, mqtt_ready=True)

        servers = [start(), start()]

        def kill_and_restart() -> None:  # no goodbye, no flush: what it had not acknowledged stays with the broker
            servers[0].kill()
            servers[0] = start(servers[0].port)

        try:
            want = publish_through_a_kill(broker.port, "pg-publisher", 1_780_000_000.0, kill_and_restart)
            assert_stored_once(graph, want, 10_000)
            shares = [httpx.get(s.url + "/ingest/status").json()["mqtt"]["updates"] for s in servers]
            assert all(n > 0 for n in shares), shares  # both servers took messages
        finally:
            for server in servers:
                server.stop()
            graph.close()


def test_a_dead_servers_session_is_kept_on_a_broker_with_default_limits(pg_url: str, tmp_path: Any) -> None:
    """Mosquitto as installed (``max_queued_messages 1000``, no persistence): two servers share the
    subscription, 10,000 QoS 1 messages at full speed, one server SIGKILLed half way and restarted
    only after the publisher is done. The live server takes the dead one's session over (its will
    tells it at once), drains it, and gives it back when it returns: every acknowledged message is
    stored exactly once."""
    import paho.mqtt.client as mqtt

    from tests.servers import running_mosquitto
    from twinforge.graph import TwinGraph

    graph = TwinGraph.open(pg_url)
    graph.add_models(LIVE)
    graph.create_twins([(f"s{i}", sensor()) for i in range(20)])

    with running_mosquitto(tmp_path / "mqtt", defaults=True) as broker:
        def start(port: int | None = None) -> Server:
            return ServeProcess(pg_url, "--mqtt", broker.url, port=port, mqtt_ready=True)

        a, b = start(), start()
        try:
            # no goodbye: its sessions are left to the broker, and it comes back only later
            want = publish_through_a_kill(broker.port, "pg-publisher-2", 1_790_000_000.0, a.kill)
            kept = httpx.get(b.url + "/ingest/status").json()["background"]["mqttSessions"]
            # a server has four connections (four sessions) in the group by default: all four are kept
            assert kept["takeovers"] == 4 and len(kept["kept"]) == 4, kept
            assert_stored_once(graph, want, 10_000)
            # The owner comes back on its port (its client ids): the keeper gives the sessions back.
            a = start(a.port)
            kept = httpx.get(b.url + "/ingest/status").json()["background"]["mqttSessions"]
            assert kept["kept"] == [] and kept["returned"] == 4, kept
            pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="pg-publisher-3", protocol=mqtt.MQTTv5)
            pub.connect("127.0.0.1", broker.port)
            pub.loop_start()
            for i in range(10_000, 10_200):  # and both share the messages again
                record = {"twin": f"s{i % 20}", "telemetry": {"reading": float(i)}}
                pub.publish("twinforge/updates", json.dumps([record]), qos=1)
            deadline = time.monotonic() + 30
            while len(stored_readings(graph)) < 10_200 and time.monotonic() < deadline:
                time.sleep(0.2)
            pub.loop_stop()
            assert len(stored_readings(graph)) == 10_200
            shares = [httpx.get(s.url + "/ingest/status").json()["mqtt"]["updates"] for s in (a, b)]
            assert all(n > 0 for n in shares), shares
        finally:
            a.stop()
            b.stop()
            graph.close()


def test_the_database_going_away_and_coming_back(tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    """While PostgreSQL is down the server answers 503 (and /health says why); when it is back the
    same server goes on without a restart, and nothing stored before is lost. The background loops
    say it once each when it goes and once when it is back (they wrote tracebacks every 0.25 s)."""
    import logging
    import shutil
    import tempfile
    from pathlib import Path

    from tests.servers import Postgres, running_api
    from twinforge.graph import TwinGraph

    directory = Path(tempfile.mkdtemp(prefix="twinforge-pg-away-"))
    cluster = Postgres(directory)
    cluster.start()
    try:
        graph = TwinGraph.open(cluster.new_database())
        graph.add_models(LIVE)
        graph.create_twins([("s1", sensor(temperature=1.5))])
        with running_api(graph) as url, httpx.Client(base_url=url, timeout=15) as c:
            assert c.get("/digitaltwins/s1").json()["temperature"] == 1.5
            cluster.stop()
            r = c.get("/digitaltwins/s1")
            assert r.status_code == 503 and r.json()["error"]["code"] == "ServiceUnavailable"
            assert "not reachable" in r.json()["error"]["message"]
            r = c.patch("/digitaltwins/s1", json=[{"op": "replace", "path": "/temperature", "value": 9.0}])
            assert r.status_code == 503
            health = c.get("/health")
            assert health.status_code == 503 and "store:" in health.json()["problems"][0]
            caplog.set_level(logging.WARNING, logger="twinforge")
            time.sleep(4)  # long enough for every loop to fail many rounds
            cluster.resume()
            deadline = time.monotonic() + 20
            while c.get("/digitaltwins/s1").status_code != 200:
                assert time.monotonic() < deadline, "the server did not recover"
                time.sleep(0.2)
            assert c.get("/digitaltwins/s1").json()["temperature"] == 1.5  # the refused patch left no trace
            r = c.patch("/digitaltwins/s1", json=[{"op": "replace", "path": "/temperature", "value": 2.5}])
            assert r.status_code == 204
            assert c.get("/digitaltwins/s1").json()["temperature"] == 2.5
            deadline = time.monotonic() + 10
            while c.get("/health").status_code != 200:
                assert time.monotonic() < deadline, "/health did not recover"
                time.sleep(0.2)
            time.sleep(1.5)  # the loops' next good rounds
        graph.close()
        ours = [r for r in caplog.records if r.name.startswith("twinforge")]
        failed = [r.getMessage() for r in ours if "failed:" in r.getMessage()]
        recovered = [r.getMessage() for r in ours if "recovered after" in r.getMessage()]
        loops = [m.split(" failed:")[0] for m in failed]
        assert loops and len(loops) == len(set(loops)), failed  # once per loop, not once per round
        assert len([r for r in ours if r.exc_info]) <= 12, [r.getMessage() for r in ours]
        assert recovered and all("failed attempt" in m for m in recovered), recovered
        assert any("event bus" in m for m in recovered), recovered
    finally:
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)


def test_the_cli_on_postgresql(pg_url: str) -> None:
    """Every --db takes a PostgreSQL URL."""
    from tests.test_cli import tf

    out = tf("models", "load", "--pack", "sim", "--db", pg_url)
    assert out.returncode == 0 and "created a new store" in out.stderr, out.stderr
    doc = json.dumps({"$metadata": {"$model": "dtmi:twinforge:sim:ThermalZone;1"}, "temperature": 20.0,
                      "outdoorTemperature": 5.0, "heaterPower": 1000.0, "thermalResistance": 0.01,
                      "thermalCapacitance": 2.0e6})
    assert tf("twins", "put", "zone-1", doc, "--db", pg_url).returncode == 0
    patch = json.dumps([{"op": "replace", "path": "/temperature", "value": 21.5}])
    assert tf("twins", "patch", "zone-1", patch, "--db", pg_url).returncode == 0
    out = tf("query", "SELECT T.temperature FROM DIGITALTWINS T WHERE T.temperature > 21", "--db", pg_url, "--json")
    assert out.returncode == 0 and json.loads(out.stdout) == [{"temperature": 21.5}], out.stdout + out.stderr
    out = tf("history", "zone-1", "temperature", "--db", pg_url, "--json")
    assert [p["value"] for p in json.loads(out.stdout)] == [20.0, 21.5], out.stdout + out.stderr
    assert "zone-1" in tf("twins", "list", "--db", pg_url).stdout
