"""`twinforge forecast` and `twinforge maintenance plan` as the real command."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from tests.test_cli import tf
from twinforge.graph import TwinGraph, Update

MODEL = {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Room;1", "@type": "Interface",
         "contents": [{"@type": "Property", "name": "temperature", "schema": "double"}]}


def test_forecast_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'f.db'}"
    graph = TwinGraph.open(url)
    graph.add_models([MODEL])
    graph.create_twin("room", {"$metadata": {"$model": "dtmi:ex:Room;1"}, "temperature": 20.0})
    now = time.time()
    graph.apply_updates([Update("room", {"temperature": 20 + 3 * float(np.sin(2 * np.pi * k / 24))},
                                ts=int((now - (96 - k) * 3600) * 1e6)) for k in range(96)])
    graph.close()
    out = tf("forecast", "room", "temperature", "--horizon", "PT12H", "--step", "PT1H", "--db", url, "--json",
             "--plot", str(tmp_path / "f.png"), "--lookback", "P1Y", "--level", "0.8")
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert len(body["value"]) == 12 and (tmp_path / "f.png").stat().st_size > 5000
    assert body["level"] == 0.8 and body["historyPoints"] in (96, 97)  # (hour buckets: the first may split)
    out = tf("forecast", "room", "nothing", "--db", url)
    assert out.returncode == 1 and "no numeric history" in out.stderr


def test_maintenance_plan_command(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("horizonDays: 14\ncrewsPerDay: 1\nassets:\n"
                    "  - {id: pump-1, rul: {mean: 5.0, std: 1.5}, preventiveCost: 1000, correctiveCost: 8000}\n"
                    "  - {id: pump-2, rul: {mean: 40, std: 3}, preventiveCost: 1000, correctiveCost: 8000}\n")
    out = tf("maintenance", "plan", str(plan), "--json", "--plot", str(tmp_path / "gantt.png"))
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["schedule"] == [{"asset": "pump-1", "day": 1}, {"asset": "pump-2", "day": None}]
    assert (tmp_path / "gantt.png").read_bytes()[:4] == b"\x89PNG"
    bad = tmp_path / "bad.yaml"
    bad.write_text("horizonDays: 14\nassets:\n  - {id: a, rul: {mean: 5, std: -1}, preventiveCost: 1, correctiveCost: 2}\n")
    out = tf("maintenance", "plan", str(bad))
    assert out.returncode == 1 and "'assets[0].rul.std': must be >= 0, got -1" in out.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("horizonDays: 14\nassets:\n  - {id: a, rul: {mean: 5\n")
    out = tf("maintenance", "plan", str(broken))
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr  # one line, not seven
    assert "is not valid YAML or JSON at line" in out.stderr
    out = tf("maintenance", "plan", str(tmp_path))
    assert out.returncode == 1 and "is a folder" in out.stderr
