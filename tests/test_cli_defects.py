"""Regressions for what a new user hit on the command line (each found by trying it)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tests.servers import free_port
from tests.test_cli import tf, write_models


def _loaded(tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path / 'plant.db'}"
    assert tf("models", "load", str(write_models(tmp_path)), "--db", db).returncode == 0
    for i in range(3):
        body = {"$metadata": {"$model": "dtmi:test:Tank;1"}, "name": f"tank {i}", "level": 20.796 + i}
        assert tf("twins", "put", f"t{i}", json.dumps(body), "--db", db).returncode == 0
    return db


def test_query_projecting_dtid_prints_a_table(tmp_path: Path) -> None:
    db = _loaded(tmp_path)
    out = tf("query", "SELECT T.name, T.$dtId FROM DIGITALTWINS T WHERE T.level >= 21", "--db", db)
    assert out.returncode == 0, out.stderr
    assert "t1" in out.stdout and "tank 2" in out.stdout and "KeyError" not in out.stderr


def test_empty_and_cut_off_results_say_so(tmp_path: Path) -> None:
    db = _loaded(tmp_path)
    empty = tf("query", "SELECT * FROM DIGITALTWINS T WHERE T.level > 1000", "--db", db)
    assert empty.returncode == 0 and empty.stdout.strip() == "no rows"
    cut = tf("query", "SELECT * FROM DIGITALTWINS", "--db", db, "--limit", "2")
    assert cut.returncode == 0 and "2 row(s)" in cut.stdout and "more exist" in cut.stderr
    listed = tf("twins", "list", "--db", db, "--limit", "1")
    assert "more exist" in listed.stderr


def test_numbers_print_without_float_noise(tmp_path: Path) -> None:
    db = _loaded(tmp_path)
    out = tf("query", "SELECT T.level FROM DIGITALTWINS T WHERE T.$dtId = 't0'", "--db", db)
    assert "20.796" in out.stdout and "20.79600000" not in out.stdout


def test_bad_numbers_and_paths_are_refused(tmp_path: Path) -> None:
    db = _loaded(tmp_path)
    port = tf("serve", "--db", db, "--port", "99999")
    assert port.returncode == 1 and port.stderr == "error: --port 99999 is not a port (1 to 65535)\n"
    limit = tf("twins", "list", "--db", db, "--limit", "-5")
    assert limit.returncode == 2 and "--limit" in limit.stderr and limit.stderr.count("\n") == 1
    index = tf("index", "add", "bad path!!", "--db", db)
    assert index.returncode == 1 and "not a property path" in index.stderr
    assert tf("index", "list", "--db", db).stdout.strip() == "no property indexes"


def test_missing_stores_are_not_made_by_reading(tmp_path: Path, monkeypatch: object) -> None:
    missing = tmp_path / "nosuch.db"
    for args in (["twins", "list"], ["twins", "get", "x"], ["query", "SELECT * FROM DIGITALTWINS"],
                 ["index", "list"], ["history", "x", "y"]):
        out = tf(*args, "--db", f"sqlite:///{missing}")
        assert out.returncode == 1 and "there is no store at" in out.stderr, (args, out.stderr)
        assert not missing.exists()
    literal = tf("twins", "list", "--db", "URL")
    assert literal.returncode == 1 and "is not a store URL" in literal.stderr
    empty = tf("twins", "list", "--db", "sqlite:///")
    assert empty.returncode == 1 and "names no file" in empty.stderr
    nested = tmp_path / "no" / "such" / "folder" / "x.db"
    made = tf("models", "load", str(write_models(tmp_path)), "--db", f"sqlite:///{nested}")
    assert made.returncode == 1 and "does not exist" in made.stderr and not (tmp_path / "no").exists()
    fresh = tf("models", "load", str(tmp_path / "models"), "--db", f"sqlite:///{tmp_path / 'new.db'}")
    assert fresh.returncode == 0 and "created a new store" in fresh.stderr


def test_taken_ports_are_named_in_one_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        http = tf("serve", "--db", db, "--port", str(port))
        assert http.returncode == 1 and http.stderr.count("\n") == 1, http.stderr
        assert f"port {port}" in http.stderr and "serving" not in http.stderr
        broker = tf("serve", "--db", db, "--port", str(free_port()), "--mqtt", "embedded", "--mqtt-port", str(port))
        assert broker.returncode == 1 and broker.stderr.count("\n") == 1, broker.stderr
        assert f"port {port}" in broker.stderr and "MQTT" in broker.stderr and "Traceback" not in broker.stderr


def test_missing_certificate_is_named(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    key = tmp_path / "k.pem"
    key.write_text("x")
    out = tf("serve", "--db", db, "--tls", "--cert", "nosuch.pem", "--key", str(key))
    assert out.returncode == 1 and out.stderr == "error: --cert: no such file: nosuch.pem\n"


def test_every_dtdl_error_at_once(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([
        {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:x:A;1", "@type": "Interface",
         "contents": [{"@type": "Property", "name": "1x", "schema": "double"},
                      {"@type": "Property", "name": "same", "schema": "double"},
                      {"@type": "Telemetry", "name": "same", "schema": "double"},
                      {"@type": "Component", "name": "c", "schema": "dtmi:x:Missing;1"}]}]))
    for args in (["models", "validate", str(bad)],
                 ["models", "load", str(bad), "--db", f"sqlite:///{tmp_path / 'x.db'}"]):
        out = tf(*args)
        assert out.returncode == 1
        text = out.stderr
        assert "1x" in text and "same" in text and "dtmi:x:Missing;1" in text, text


def test_version() -> None:
    from twinforge import __version__

    out = tf("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"twinforge {__version__}"


def test_output_files_are_checked_before_the_work(tmp_path: Path) -> None:
    """`rul train --out /missing/x.rul` trained for two minutes, then failed with FileNotFoundError;
    a model file that is not one printed `ValueError: ...`."""
    missing = tmp_path / "missing"
    data = tmp_path / "train.txt"
    data.write_text("1 1 " + " ".join(["0.5"] * 24) + "\n")
    for args, message in [
        (("rul", "train", "--data", str(data), "--out", str(missing / "x.rul")), f"no such folder: {missing}"),
        (("rul", "train", "--data", str(data), "--out", str(tmp_path)), "is a folder"),
        (("simulate", str(data), "--plot", str(missing / "x.html")), f"no such folder: {missing}"),
        (("simulate", str(data), "--plot", str(tmp_path / "x.gif")), "must end in .png or .svg"),
        (("forecast", "t", "x", "--plot", str(missing / "f.png")), f"no such folder: {missing}"),
        (("history", "t", "x", "--csv", str(missing / "h.csv")), f"no such folder: {missing}"),
    ]:
        out = tf(*args)
        assert out.returncode == 1 and message in out.stderr, (args, out.stderr)
        assert out.stderr.count("\n") == 1 and "Error:" not in out.stderr, out.stderr  # one line, no exception name
    assert not missing.exists()
    bad = tmp_path / "bad.rul"
    bad.write_text("1 2 3\n")
    out = tf("rul", "evaluate", "--model", str(bad), "--test", str(data), "--truth", str(data))
    assert out.returncode == 1 and "is not a twinforge RUL model" in out.stderr and "ValueError" not in out.stderr


def test_ctrl_c_with_streams_open_stops_quietly(tmp_path: Path) -> None:
    """Ctrl-C on `serve` with a dashboard open waited the whole grace period, then printed a
    50-line CancelledError traceback: the streams are now ended first."""
    import os
    import signal
    import subprocess
    import sys
    import threading
    import time

    import httpx
    from websockets.sync.client import connect

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "twinforge.cli", "serve", "--db",
                             f"sqlite:///{tmp_path / 's.db'}", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "server did not come up"
            time.sleep(0.2)
        ended: list[str] = []

        def sse() -> None:
            with httpx.Client(timeout=30) as c, c.stream("GET", f"http://127.0.0.1:{port}/stream") as stream:
                for _ in stream.iter_lines():
                    pass
            ended.append("sse")

        reader = threading.Thread(target=sse)
        reader.start()
        ws = connect(f"ws://127.0.0.1:{port}/stream")
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole group, the evaluator too
        _, err = proc.communicate(timeout=20)  # well within: the streams end at once
        reader.join(5)
        assert ended == ["sse"]
        from websockets.exceptions import ConnectionClosed

        try:
            ws.recv(timeout=5)
        except ConnectionClosed as exc:
            assert exc.rcvd is not None and exc.rcvd.code in (1001, 1012)  # going away, or uvicorn's restart
        ws.close()
        assert "Traceback" not in err and "CancelledError" not in err and "restarting" not in err, err
        assert proc.returncode in (0, 130, -2), (proc.returncode, err)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_an_unexpected_error_is_one_line_without_pythons_name_for_it(tmp_path: Path) -> None:
    """The last-resort handler: a message, never `TypeError:` or a traceback."""
    import os

    from tests.test_cli import tf

    bad = tmp_path / "twinforge.db"
    bad.write_bytes(b"this is not a database" * 100)
    out = tf("twins", "list", "--db", f"sqlite:///{bad}")
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    assert "Traceback" not in out.stderr and not any(
        f"{name}:" in out.stderr for name in ("DatabaseError", "TypeError", "ValueError", "KeyError")), out.stderr
    assert os.environ.get("TWINFORGE_DEBUG") is None


def test_units_show_in_cli_tables_and_plots(tmp_path: Path) -> None:
    """DTDL units are in the models: the forecast says °C, not a bare number."""
    import time

    from tests.test_cli import tf
    from twinforge.graph import TwinGraph, Update
    from twinforge.sim import library

    db = f"sqlite:///{tmp_path / 'u.db'}"
    graph = TwinGraph.open(db)
    graph.add_models(library.models())
    graph.create_twin("zone", {"$metadata": {"$model": library.NS + "ThermalZone;1"}, "temperature": 20.0})
    now = time.time()
    graph.apply_updates([Update("zone", {"temperature": 20.0 + (k % 7) * 0.1}, ts=int((now - (300 - k) * 60) * 1e6))
                         for k in range(300)])
    graph.close()
    out = tf("forecast", "zone", "temperature", "--horizon", "PT1H", "--step", "PT5M", "--db", db,
             "--plot", str(tmp_path / "f.png"))
    assert out.returncode == 0, out.stderr
    assert "forecast of zone.temperature (°C)" in out.stdout
