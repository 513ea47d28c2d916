"""The real `twinforge` command, run as a subprocess."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.graph.models import PLANT
from tests.servers import free_port


def tf(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "twinforge.cli", *args], capture_output=True, text=True,
                          input=stdin, timeout=120, env={**os.environ, **(env or {})}, check=False)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def write_models(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    for i, model in enumerate(PLANT):
        (folder / f"m{i}.json").write_text(json.dumps(model))
    return folder


def test_models_validate_and_load(tmp_path: Path, db: str) -> None:
    folder = write_models(tmp_path)
    out = tf("models", "validate", str(folder))
    assert out.returncode == 0, out.stderr
    assert "dtmi:test:Pump;1" in out.stdout and "4 interface(s)" in out.stdout
    assert tf("models", "load", str(folder), "--db", db).returncode == 0
    again = tf("models", "load", str(folder), "--db", db)
    assert again.returncode == 1 and again.stderr.startswith("error:") and "already exists" in again.stderr


def test_models_validate_reports_every_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"@context": "dtmi:dtdl:context;3", "@id": "dtmi:x:A;1", "@type": "Interface",
                               "contents": [{"@type": "Property", "name": "1x", "schema": "double"},
                                            {"@type": "Telemetry", "name": "t"}]}))
    out = tf("models", "validate", str(bad))
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 3 and f"Property '1x' (dtmi:x:A;1, {bad} $.contents[0].name)" in lines[0]
    assert "Traceback" not in out.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    out = tf("models", "validate", str(broken))
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "not valid JSON" in out.stderr


def test_twins_commands(tmp_path: Path, db: str) -> None:
    tf("models", "load", str(write_models(tmp_path)), "--db", db)
    put = tf("twins", "put", "p1", json.dumps({"$metadata": {"$model": "dtmi:test:Pump;1"}, "flow": 1.0}), "--db", db)
    assert put.returncode == 0, put.stderr
    etag = json.loads(put.stdout)["$etag"]
    patch = '[{"op": "replace", "path": "/flow", "value": 2.0}]'
    assert tf("twins", "patch", "p1", "-", "--db", db, "--if-match", etag, stdin=patch).returncode == 0
    stale = tf("twins", "patch", "p1", patch, "--db", db, "--if-match", etag)
    assert stale.returncode == 1 and "stale" in stale.stderr and stale.stderr.count("\n") == 1
    assert json.loads(tf("twins", "get", "p1", "--db", db).stdout)["flow"] == 2.0
    listed = tf("twins", "list", "--db", db, "--json")
    assert [t["$dtId"] for t in json.loads(listed.stdout)] == ["p1"]
    bad = tf("twins", "patch", "p1", '[{"op": "replace", "path": "/flow", "value": "x"}]', "--db", db)
    assert bad.returncode == 1 and "flow" in bad.stderr
    assert tf("twins", "delete", "p1", "--db", db).returncode == 0
    missing = tf("twins", "get", "p1", "--db", db)
    assert missing.returncode == 1 and missing.stderr == "error: there is no digital twin 'p1'\n"


def test_unknown_command_is_one_line() -> None:
    out = tf("frobnicate")
    assert out.returncode == 2 and out.stderr.count("\n") == 1


def test_demo_building_loads(db: str) -> None:
    out = tf("demo", "building", "--db", db, "--no-serve")
    assert out.returncode == 0, out.stderr
    assert "65 twins" in out.stdout
    room = json.loads(tf("twins", "get", "room-101", "--db", db).stdout)
    assert room["$metadata"]["$model"] == "dtmi:digitaltwins:rec_3_3:core:Room;1"
    assert tf("demo", "building", "--db", db, "--no-serve").returncode == 0  # idempotent


@pytest.mark.integration
def test_serve_tls_makes_a_certificate(tmp_path: Path, db: str) -> None:
    port = free_port()
    home = tmp_path / "home"
    proc = subprocess.Popen([sys.executable, "-m", "twinforge.cli", "serve", "--db", db, "--port", str(port), "--tls"],
                            env={**os.environ, "HOME": str(home)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        cert = home / ".twinforge" / "tls" / "twinforge-cert.pem"
        deadline = time.monotonic() + 30
        while True:
            try:
                if cert.exists() and httpx.get(f"https://127.0.0.1:{port}/health", verify=ssl.create_default_context(cafile=str(cert))).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"https://127.0.0.1:{port}/health")  # self-signed: refused without the cert
    finally:
        proc.terminate()
        proc.wait(10)


def test_schema_prints_a_documents_schema_and_checks_files(tmp_path: Path) -> None:
    out = tf("schema", "scenario")
    assert out.returncode == 0, out.stderr
    schema = json.loads(out.stdout)
    assert {"id", "scope", "horizon", "step", "overrides", "kpis", "sweep", "optimise"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False
    good = tmp_path / "plant.toml"
    good.write_text('[[mqtt]]\ntopic = "plant/{line}/status"\ntwin = "line-{line}"\n')
    out = tf("schema", "mapping", str(good))
    assert out.returncode == 0 and "a valid mapping document" in out.stdout, out.stderr
    bad = tmp_path / "plant.yaml"
    bad.write_text('mqtt:\n  - {topic: "a/{x}", twin: "t-{y}", values: {v: {path: "$.v", scale: ten}}}\n')
    out = tf("schema", "mapping", str(bad))
    assert out.returncode == 1 and out.stderr.strip() == (
        "error: mapping: 'mqtt[0].values.v.scale': must be a number, got 'ten'")
    rules = tmp_path / "rules.yaml"
    rules.write_text("- {id: hot, condition: temperature > 80}\n- {id: cold, condition: temperature < 5, for: true}\n")
    out = tf("schema", "rule", str(rules))
    assert out.returncode == 1 and "rules.yaml[1]: 'for'" in out.stderr, out.stderr
    out = tf("schema", "nope")
    assert out.returncode == 1 and "choose one of scenario, mapping" in out.stderr
