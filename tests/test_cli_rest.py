"""`twinforge rels|rules|detectors|scenarios` against a live server, as a user would run them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.graph.models import PLANT, pump, tank
from tests.requirements import need_module
from tests.servers import running_api
from tests.test_cli import tf
from twinforge.auth import Tokens
from twinforge.graph import TwinGraph


def test_relationships_rules_and_detectors(graph: TwinGraph, tmp_path: Path) -> None:
    need_module("numpy")
    graph.add_models(PLANT)
    graph.create_twin("p1", pump(flow=1.0))
    graph.create_twin("t1", tank())
    secret = Tokens(graph.store).create("cli", "writer")[1]
    with running_api(graph, auth=True) as url:
        env = {"TWINFORGE_URL": url, "TWINFORGE_TOKEN": secret}
        out = tf("rels", "put", "p1", "r1", "--target", "t1", "--name", "feeds", env=env)
        assert out.returncode == 0 and json.loads(out.stdout)["$targetId"] == "t1", out.stderr
        out = tf("rels", "list", "p1", env=env)
        assert out.returncode == 0 and "r1" in out.stdout and "feeds" in out.stdout
        out = tf("rels", "list", "t1", "--incoming", "--json", env=env)
        assert [r["$relationshipId"] for r in json.loads(out.stdout)["value"]] == ["r1"]
        out = tf("rels", "put", "p1", "r2", "--target", "nope", "--name", "feeds", env=env)
        assert out.returncode == 1 and out.stderr.startswith("error: ") and "nope" in out.stderr
        assert tf("rels", "delete", "p1", "r1", env=env).returncode == 0
        assert tf("rels", "list", "p1", "--json", env=env).stdout.count("$relationshipId") == 0

        detector = tmp_path / "flow.yaml"
        detector.write_text("model: dtmi:test:Pump;1\nname: flow\nkind: robust_z\nparams: {window: 30}\n")
        out = tf("detectors", "put", "flow-z", str(detector), env=env)
        assert out.returncode == 0 and json.loads(out.stdout)["params"] == {"window": 30}, out.stderr
        rule = json.dumps({"model": "dtmi:test:Pump;1", "condition": "anomaly.flow_z > 6"})
        out = tf("rules", "put", "odd-flow", rule, env=env)
        assert out.returncode == 1 and "names no detector" in out.stderr  # the detector is flow-z, not flow_z
        rule = json.dumps({"model": "dtmi:test:Pump;1", "condition": "flow > 90", "for": "PT1M"})
        assert tf("rules", "put", "high-flow", rule, env=env).returncode == 0
        out = tf("rules", "list", env=env)
        assert "high-flow" in out.stdout and "flow > 90" in out.stdout
        assert json.loads(tf("detectors", "get", "flow-z", env=env).stdout)["kind"] == "robust_z"
        assert tf("rules", "delete", "high-flow", env=env).returncode == 0
        out = tf("rules", "get", "high-flow", env=env)
        assert out.returncode == 1 and "error: " in out.stderr and "Traceback" not in out.stderr
        out = tf("rules", "list", env={"TWINFORGE_URL": url})  # no token under --auth
        assert out.returncode == 1 and "Unauthorized" in out.stderr
    out = tf("rules", "list", "--url", "http://127.0.0.1:9")
    assert out.returncode == 1 and "cannot reach http://127.0.0.1:9" in out.stderr


def test_scenarios_from_the_command_line(graph: TwinGraph, tmp_path: Path) -> None:
    need_module("scipy")
    from twinforge.sim import library

    graph.add_models(library.models())
    graph.create_twin("zone-1", {"$metadata": {"$model": library.NS + "ThermalZone;1"}, "temperature": 18.0})
    doc = tmp_path / "warmer.yaml"
    doc.write_text(f"id: warmer\nscope: \"SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{library.NS}"
                   "ThermalZone;1')\"\nhorizon: PT2H\nstep: PT1M\n"
                   "overrides: [{twin: zone-1, property: heaterPower, value: 3000}]\n"
                   "kpis: [{name: final, twin: zone-1, property: temperature}]\n")
    with running_api(graph) as url:
        env = {"TWINFORGE_URL": url}
        out = tf("scenarios", "create", str(doc), env=env)
        assert out.returncode == 0 and json.loads(out.stdout)["id"] == "warmer", out.stderr
        out = tf("scenarios", "run", "warmer", "--wait", env=env)
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout)
        assert result["kpis"]["final"] > result["baseline"]["kpis"]["final"]
        assert "done" in tf("scenarios", "list", env=env).stdout
        out = tf("scenarios", "create", str(doc), env=env)
        assert out.returncode == 1 and "ScenarioAlreadyExists" in out.stderr
        assert tf("scenarios", "delete", "warmer", env=env).returncode == 0
        assert json.loads(tf("scenarios", "list", "--json", env=env).stdout)["value"] == []


@pytest.mark.parametrize("group", ["rels", "rules", "detectors", "scenarios"])
def test_each_group_says_what_it_does(group: str) -> None:
    out = tf(group, "--help")
    assert out.returncode == 0 and "REST API" in out.stdout
