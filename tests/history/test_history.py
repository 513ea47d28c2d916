"""History reads, aggregates, retention, downsampling, DataFrames and the CLI export."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.graph.sensors import LIVE, sensor
from twinforge.errors import InvalidArgument
from twinforge.graph import TwinGraph
from twinforge.history import History, from_us, now_us, parse_duration, parse_time
from twinforge.ingest import Ingestor, Update


@pytest.fixture
def live(graph: TwinGraph) -> TwinGraph:
    graph.add_models(LIVE)
    graph.create_twins([("s1", sensor(temperature=1.0))])
    return graph


def test_time_helpers() -> None:
    assert parse_time("2026-01-01T00:00:00Z") == 1_767_225_600_000_000
    assert from_us(1_767_225_600_000_001) == "2026-01-01T00:00:00.000001Z"
    assert parse_duration("90s") == 90_000_000 and parse_duration("1.5h") == 5_400_000_000
    for bad in ("soon", "0s", "-1m", "5 parsecs"):
        with pytest.raises(InvalidArgument):
            parse_duration(bad)
    with pytest.raises(InvalidArgument):
        parse_time("tuesday")


def test_history_from_every_path(live: TwinGraph) -> None:
    live.update_twin("s1", [{"op": "replace", "path": "/temperature", "value": 2.0}])
    live.update_component("s1", "battery", [{"op": "add", "path": "/level", "value": 0.9}])
    Ingestor(live).apply([Update("s1", {"temperature": 3.0})])
    history = History(live.store)
    assert [r["value"] for r in history.read_range("s1", "temperature")] == [1.0, 2.0, 3.0]
    assert [r["value"] for r in history.read_range("s1", "level", component="battery")] == [0.9]
    live.update_twin("s1", [{"op": "remove", "path": "/temperature"}])
    assert history.read_range("s1", "temperature")[-1]["value"] is None  # a removal is kept too


def test_retention_downsampling_and_frames(live: TwinGraph) -> None:
    hour = 3_600_000_000
    old = (now_us() - 10 * 86_400_000_000) // hour * hour
    Ingestor(live).apply([Update("s1", {"reading": float(i)}, telemetry=True, ts=old + i * 60_000_000)
                          for i in range(120)] +
                         [Update("s1", {"reading": 500.0}, telemetry=True)])
    history = History(live.store)
    removed, added = history.downsample("7d", "1h")
    assert (removed, added) == (120, 2)
    rows = history.read_range("s1", "reading")
    assert [r["value"] for r in rows][:2] == [29.5, 89.5]
    frame = history.frame("s1", "reading")
    assert isinstance(frame.index, pd.DatetimeIndex) and str(frame.index.tz) == "UTC"
    assert list(frame["value"])[-1] == 500.0
    assert history.retain("7d") >= 2
    assert [r["value"] for r in history.read_range("s1", "reading")] == [500.0]


def test_cli_history_export(live: TwinGraph, tmp_path: Path) -> None:
    Ingestor(live).apply([Update("s1", {"reading": float(i)}, telemetry=True, ts=1_000_000 * i)
                          for i in range(1, 6)])
    db = live.store.url  # type: ignore[attr-defined]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "twinforge.cli", "history", "s1", "reading", "--db", db,
                               *args], capture_output=True, text=True, timeout=60, check=False)

    out = run("--json")
    assert [p["value"] for p in json.loads(out.stdout)] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert run("--csv", str(tmp_path / "h.csv")).returncode == 0
    assert pd.read_csv(tmp_path / "h.csv")["value"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert run("--parquet", str(tmp_path / "h.parquet")).returncode == 0
    assert pd.read_parquet(tmp_path / "h.parquet")["value"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    table = run("--bucket", "2s", "--agg", "max", "--from", "1970-01-01T00:00:00Z", "--to", "1970-01-01T00:00:10Z")
    assert "max(reading)" in table.stdout and "│ 5 " in table.stdout
    frame = pd.read_csv(tmp_path / "h.csv")
    assert frame["time"].tolist()[0] == "1970-01-01T00:00:01.000000Z"  # the wire's ISO form, with Z
    bad = run("--agg", "median", "--bucket", "1s")
    assert bad.returncode == 1 and bad.stderr.startswith("error: agg must be one of")


def test_upkeep_round(live: TwinGraph) -> None:
    from twinforge.api.connectors import history_maintenance

    old = now_us() - 40 * 86_400_000_000
    Ingestor(live).apply([Update("s1", {"reading": 1.0}, telemetry=True, ts=old),
                          Update("s1", {"reading": 2.0}, telemetry=True)])
    done = history_maintenance(live.store, retention="30d", downsample_after=None, downsample_bucket="1h")
    assert done == {"downsampled": 0, "dropped": 1}
    assert [r["value"] for r in History(live.store).read_range("s1", "reading")] == [2.0]
