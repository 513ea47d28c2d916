"""Mapping files: topic captures, JSON paths, scaling, source time; YAML and TOML."""

from __future__ import annotations

from pathlib import Path

import pytest

from twinforge.ingest.mapping import (
    MappingError,
    compile_path,
    extract,
    load_mapping,
    parse_mapping,
)

YAML = """
mqtt:
  - topic: "plant/{line}/{machine}/status"
    twin: "machine-{line}-{machine}"
    values:
      speed: {path: "$.spd", scale: 0.1}
      running: "$.state.on"
      first: "$.list[0]"
  - topic: "meters/{id}"
    twin: "meter-{id}"
    kind: telemetry
    time: "$.ts"
opcua:
  - endpoint: "opc.tcp://127.0.0.1:4840"
    nodes:
      - {node: "ns=2;i=7", twin: pump-1, name: pressure, kind: telemetry, scale: 0.001}
"""

TOML = """
[[mqtt]]
topic = "plant/{line}/{machine}/status"
twin = "machine-{line}-{machine}"
[mqtt.values]
speed = { path = "$.spd", scale = 0.1 }
running = "$.state.on"
first = "$.list[0]"

[[mqtt]]
topic = "meters/{id}"
twin = "meter-{id}"
kind = "telemetry"
time = "$.ts"

[[opcua]]
endpoint = "opc.tcp://127.0.0.1:4840"
[[opcua.nodes]]
node = "ns=2;i=7"
twin = "pump-1"
name = "pressure"
kind = "telemetry"
scale = 0.001
"""


@pytest.mark.parametrize(("suffix", "text"), [(".yaml", YAML), (".toml", TOML)])
def test_mapping_files(tmp_path: Path, suffix: str, text: str) -> None:
    path = tmp_path / f"map{suffix}"
    path.write_text(text)
    mapping = load_mapping(path)
    status, meters = mapping.topics
    assert status.subscription == "plant/+/+/status"
    captures = status.match("plant/L1/m7/status")
    assert captures == {"line": "L1", "machine": "m7"}
    assert status.match("plant/L1/m7/other") is None
    (update,) = status.updates(captures, {"spd": 125, "state": {"on": True}, "list": [4, 5]}, "mqtt:x")
    assert update.twin == "machine-L1-m7" and update.values == {"speed": 12.5, "running": True, "first": 4}
    batch = meters.updates({"id": "9"}, [{"kwh": 1.0, "ts": "2026-01-01T00:00:00Z"}, {"kwh": 2.0, "ts": 0}], "m")
    assert [u.values for u in batch] == [{"kwh": 1.0}, {"kwh": 2.0}]
    assert batch[0].telemetry and batch[0].ts == 1_767_225_600_000_000 and batch[1].ts == 0
    node = mapping.opcua[0].nodes[0]
    assert (node.twin, node.name, node.kind, node.scale) == ("pump-1", "pressure", "telemetry", 0.001)


def test_json_paths() -> None:
    assert compile_path("$.a.b[2]") == ("a", "b", 2)
    assert compile_path("a.b") == ("a", "b")
    assert extract({"a": [1, {"b": 3}]}, compile_path("$.a[1].b")) == 3
    with pytest.raises(MappingError):
        compile_path("$..a")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"mqtt": [{"topic": "a/{x}"}]}, "'mqtt[0].twin' is required"),
        ({"mqtt": [{"topic": "a/{x}", "twin": "{y}"}]}, "'{y}' is not captured"),
        ({"mqtt": [{"topic": "a/{x}/{x}", "twin": "{x}"}]}, "'{x}' appears more than once"),  # found by atheris
        ({"mqtt": [{"topic": "a", "twin": "t", "kind": "event"}]}, "'mqtt[0].kind': must be 'property' or 'telemetry', got 'event'"),
        ({"mqtt": [{"topic": "a", "twin": "t", "values": {"v": 3}}]}, "'mqtt[0].values.v': a value is a JSON path or {path, scale, offset}, got 3"),
        # found by atheris with the JSON mutator: a scale that is not a number was a ValueError
        ({"mqtt": [{"topic": "a", "twin": "t", "values": {"v": {"path": "$.v", "scale": "mapKey"}}}]},
         "'mqtt[0].values.v.scale': must be a number, got 'mapKey'"),
        ({"mqtt": [{"topic": "a", "twin": "t", "values": {"v": {"path": "$.v", "offset": True}}}]},
         "'mqtt[0].values.v.offset': must be a number, got True"),
        ({"mqtt": [{"topic": "a", "twin": "t", "values": {"v": {"path": "$.v", "scale": 10**400}}}]},
         "'mqtt[0].values.v.scale': must be a number"),
        ({"opcua": [{"endpoint": "opc.tcp://h:4840", "nodes": [{"node": "ns=2;i=7", "twin": "p", "name": "x",
                                                                 "scale": None}]}]},
         "'opcua[0].nodes[0].scale': must be a number, got None"),
        ({"kafka": []}, "unknown field 'kafka' (known: mqtt, opcua)"),
        ({"opcua": [{"nodes": []}]}, "'opcua[0].endpoint' is required"),
        ([1, 2], "must hold a table"),
        ({"mqtt": [{"topic": "a", "twin": "t", "time": "$..a"}]}, "'mqtt[0].time': '$..a' is not a JSON path"),
        ({"mqtt": [{"topic": "a", "twin": "t", "values": {"v": {"path": "$.v", "scale": float("inf")}}}]},
         "'mqtt[0].values.v.scale': must be a finite number, got inf"),
        ({"mqtt": {"topic": "a"}}, "'mqtt': must be a list"),
        ({"opcua": [{"endpoint": "x", "interval_ms": True}]}, "'opcua[0].interval_ms': must be a whole number, got True"),
        ({"mqtt": [{"topic": "a", "twin": "t", "qos": 1}]}, "unknown field 'mqtt[0].qos'"),
    ],
)
def test_bad_mappings(data: object, fragment: str) -> None:
    with pytest.raises(MappingError) as info:
        parse_mapping(data)
    assert fragment in str(info.value)


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="no such mapping file"):
        load_mapping(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[[mqtt]\n")
    with pytest.raises(MappingError, match="not valid TOML"):
        load_mapping(broken)
    other = tmp_path / "map.json"
    other.write_text("{}")
    with pytest.raises(MappingError, match=r"\.yaml, \.yml or \.toml"):
        load_mapping(other)
