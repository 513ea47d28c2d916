"""`twinforge models load --pack sim`, `simulate` (table, JSON, plots, kept runs, sweeps,
live) and `optimise`, run as the real command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.test_cli import tf
from twinforge.graph import TwinGraph

ZONE = "dtmi:twinforge:sim:ThermalZone;1"
SCENARIO = """
id: cli-warmer
scope: "SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:twinforge:sim:ThermalZone;1')"
horizon: PT12H
step: PT5M
overrides:
  - {twin: zone-1, property: heaterPower, value: 2000}
kpis:
  - {name: finalTemp, twin: zone-1, property: temperature, agg: last}
  - {name: heatUsed, twin: zone-1, property: heaterPower, agg: integral}
"""


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    out = tf("models", "load", "--pack", "sim", "--db", url)
    assert out.returncode == 0 and "loaded 4 model(s)" in out.stdout, out.stderr
    for twin in ("zone-1", "zone-2"):
        body = {"$metadata": {"$model": ZONE}, "temperature": 18.0, "outdoorTemperature": 5.0,
                "heaterPower": 1000.0, "thermalResistance": 0.01, "thermalCapacitance": 1.0e6}
        assert tf("twins", "put", twin, "-", "--db", url, stdin=json.dumps(body)).returncode == 0
    return url


def test_simulate_prints_kpis_and_plots(db: str, tmp_path: Path) -> None:
    path = tmp_path / "warmer.yaml"
    path.write_text(SCENARIO)
    out = tf("simulate", str(path), "--db", db, "--json")
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    x = math.exp(-12 * 3600 / 1.0e4)
    assert body["kpis"]["finalTemp"] == pytest.approx(25.0 - 7.0 * x, abs=1e-6)
    assert body["deltas"]["heatUsed"] == pytest.approx(1000.0 * 12 * 3600)
    png, html = tmp_path / "out.png", tmp_path / "out.html"
    out = tf("simulate", str(path), "--db", db, "--plot", str(png), "--keep", str(tmp_path / "runs"))
    assert out.returncode == 0, out.stderr
    assert "finalTemp" in out.stdout and "delta" in out.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    kept = TwinGraph.open(f"sqlite:///{tmp_path / 'runs' / 'variant.db'}", create=False)
    assert kept.get_twin("zone-1")["temperature"] == pytest.approx(25.0 - 7.0 * x, abs=1e-6)
    kept.close()
    assert tf("simulate", str(path), "--db", db, "--plot", str(html)).returncode == 0
    page = html.read_text()
    assert "<svg" in page and "cli-warmer" in page and "finalTemp" in page
    # The live store is untouched: the twin keeps its value.
    got = json.loads(tf("twins", "get", "zone-1", "--db", db).stdout)
    assert got["temperature"] == 18.0


def test_simulate_refuses_bad_documents_in_one_line(db: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(SCENARIO.replace("zone-1, property: heaterPower", "zone-9, property: heaterPower"))
    out = tf("simulate", str(path), "--db", db)
    assert out.returncode == 1 and "twin 'zone-9' is not in the scope" in out.stderr
    assert "Traceback" not in out.stderr
    assert tf("simulate", str(tmp_path / "missing.yaml"), "--db", db).returncode == 1


def test_sweep_optimise_and_live_from_the_command_line(db: str, tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(SCENARIO + "sweep:\n  parameters:\n    - {twin: zone-2, property: heaterPower, "
                                "values: [500, 1500]}\n")
    out = tf("simulate", str(sweep), "--db", db, "--json", "--workers", "2")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["runs"] == 2
    best = tmp_path / "best.yaml"
    best.write_text(SCENARIO + "optimise:\n  variables:\n    - {twin: zone-1, property: heaterPower, "
                               "bounds: [0, 5000]}\n  minimise: heatUsed\n  constraints:\n"
                               "    - {kpi: finalTemp, min: 21}\n")
    out = tf("optimise", str(best), "--db", db, "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["success"] and result["kpis"]["finalTemp"] == pytest.approx(21.0, abs=1e-3)
    live = tmp_path / "live.yaml"
    live.write_text(SCENARIO.replace("horizon: PT12H", "horizon: PT15M"))
    out = tf("simulate", str(live), "--db", db, "--live", "--speed", "3000")
    assert out.returncode == 0 and "3 steps, 6 updates written, 0 refused" in out.stdout, out.stdout + out.stderr
    assert json.loads(tf("twins", "get", "zone-1", "--db", db).stdout)["temperature"] != 18.0
