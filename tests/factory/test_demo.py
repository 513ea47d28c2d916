"""`twinforge demo factory` end to end: the line's OPC UA server, connected by its own model;
live OEE on the line and machine KPI twins; the engine fleet's RUL live; Ctrl-C ends it cleanly.
A bad option is refused before anything starts."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.requirements import need_module
from tests.servers import interrupt
from tests.test_cli import tf
from twinforge.ports import free_port

need_module("asyncua")
need_module("sklearn")
pytestmark = pytest.mark.integration


def test_demo_factory_runs_the_line_and_the_fleet_live(tmp_path: Path) -> None:
    from twinforge.analytics.rul import train
    from twinforge.packs.factory.fleet import training_data

    model = tmp_path / "small.rul"
    model.write_bytes(train(training_data(12, 5), seed=0, members=1, kind="mlp", refit=False).to_bytes())
    port, mqtt_port, opcua_port = free_port(), free_port(), free_port()
    db = f"sqlite:///{tmp_path / 'factory.db'}"
    proc = subprocess.Popen([sys.executable, "-m", "twinforge.cli", "demo", "factory", "--db", db, "--port", str(port),
                             "--mqtt-port", str(mqtt_port), "--opcua-port", str(opcua_port), "--engines", "3",
                             "--speedup", "30", "--window", "PT1M", "--rul-model", str(model)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 150
        line: dict = {}
        kpi: dict = {}
        rul: dict = {}
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                line = httpx.get(f"{base}/digitaltwins/Line1").json()
                kpi = httpx.get(f"{base}/digitaltwins/Line1-Filler-kpi").json()
                rul = httpx.get(f"{base}/digitaltwins/engine-03/rul").json()
            except httpx.HTTPError:
                pass
            # The filler may be held through a whole window (a simulated fault at 30x speed),
            # so its own count is waited for too, not only the line's.
            if (line.get("totalCount", 0) >= 20 and line.get("oee", 0) > 0 and "state" in kpi
                    and kpi.get("totalCount", 0) > 0 and "rul" in rul):
                break
            time.sleep(1)
        assert 0 < line["oee"] <= 1 and line["window"] == "PT60S" and line["bottleneck"] == "Line1-Filler"
        assert kpi["state"] in ("Execute", "Suspended", "Held") and kpi["totalCount"] > 0
        assert 0 <= rul["low"] <= rul["rul"] <= rul["high"]
        machine = httpx.get(f"{base}/digitaltwins/Line1-Filler").json()
        assert machine["$metadata"]["$model"] == "dtmi:urn:twinforge:bottling:BottlingMachineType;1"
        assert machine["TagID"] == "FILLER-01"
        counts = httpx.get(f"{base}/digitaltwins/Line1-Filler/history", params={"name": "ProcessedCount"}).json()["value"]
        assert len(counts) >= 2 and counts[-1]["value"] >= counts[0]["value"]  # counted live through OPC UA
        oee = httpx.get(f"{base}/digitaltwins/Line1/history", params={"name": "oee"}).json()["value"]
        assert oee  # kept as history
        rules = {r["id"] for r in httpx.get(f"{base}/alerts/rules").json()["value"]}
        assert "rul-low" in rules
        page = httpx.get(f"{base}/ui/line/Line1")
        assert page.status_code == 200
    finally:
        out, err = interrupt(proc)
    assert "Traceback" not in err, err
    assert "factory ready" in out and "/ui/line/Line1" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--engines", "0"], "--engines 0: give 1 to 50"),
    (["--speedup", "0"], "--speedup 0.0: must be > 0"),
    (["--window", "soon"], "--window"),
    (["--rul-model", "missing.rul"], "--rul-model missing.rul: no such file"),
])
def test_demo_factory_refuses_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    out = tf("demo", "factory", "--no-serve", "--db", f"sqlite:///{tmp_path / 'x.db'}", *args)
    assert out.returncode != 0 and message in out.stderr, out.stderr
    assert not (tmp_path / "x.db").exists()
