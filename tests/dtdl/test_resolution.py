"""Models that refer to others kept elsewhere: a models-repository folder, or the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli import tf
from twinforge.dtdl import ModelError, parse_models
from twinforge.errors import InvalidArgument
from twinforge.graph import TwinGraph
from twinforge.store import FolderResolver, SQLiteStore, StoreResolver, dtmi_to_path

CTX = "dtmi:dtdl:context;3"
DEVICE = {"@context": CTX, "@id": "dtmi:com:example:Device;1", "@type": "Interface",
          "contents": [{"@type": "Property", "name": "serial", "schema": "string"}]}
INFO = {"@context": CTX, "@id": "dtmi:azure:DeviceManagement:DeviceInformation;1", "@type": "Interface",
        "contents": [{"@type": "Property", "name": "manufacturer", "schema": "string"}]}
THERMOSTAT = {"@context": CTX, "@id": "dtmi:com:example:Thermostat;1", "@type": "Interface",
              "extends": "dtmi:com:example:Device;1",
              "contents": [{"@type": "Component", "name": "info",
                            "schema": "dtmi:azure:DeviceManagement:DeviceInformation;1"},
                           {"@type": "Property", "name": "setpoint", "schema": "double"}]}


def repository(root: Path, *models: dict[str, Any]) -> Path:
    for model in models:
        file = root / dtmi_to_path(model["@id"])
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(model))
    return root


def test_dtmi_to_path_follows_the_repository_convention() -> None:
    assert dtmi_to_path("dtmi:com:example:Thermostat;1") == "dtmi/com/example/thermostat-1.json"
    assert dtmi_to_path("dtmi:azure:DeviceManagement:DeviceInformation;2") == \
        "dtmi/azure/devicemanagement/deviceinformation-2.json"
    with pytest.raises(InvalidArgument, match="with a version"):
        dtmi_to_path("dtmi:com:example:Thermostat")


def test_folder_resolver_fetches_dependencies_and_theirs(tmp_path: Path) -> None:
    nested = {**DEVICE, "extends": "dtmi:com:example:Base;1"}
    base = {"@context": CTX, "@id": "dtmi:com:example:Base;1", "@type": "Interface"}
    resolver = FolderResolver(repository(tmp_path, nested, INFO, base))
    models = parse_models([THERMOSTAT], resolver=resolver)
    view = models.interface("dtmi:com:example:Thermostat;1")
    assert "serial" in view.properties and "info" in view.components
    assert sorted(p.name for p in resolver.read) == ["base-1.json", "device-1.json", "deviceinformation-1.json"]


def test_a_dependency_missing_from_the_repository_is_named(tmp_path: Path) -> None:
    resolver = FolderResolver(repository(tmp_path, DEVICE))
    with pytest.raises(ModelError) as info:
        parse_models([THERMOSTAT], resolver=resolver)
    assert any("dtmi:azure:DeviceManagement:DeviceInformation;1" in e for e in info.value.errors)


def test_store_resolver_and_graph_upload_with_a_repository(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "models.db")
    graph = TwinGraph(store)
    infos = graph.add_models([THERMOSTAT], resolver=FolderResolver(repository(tmp_path / "repo", DEVICE, INFO)))
    assert sorted(i.id for i in infos) == sorted([THERMOSTAT["@id"], DEVICE["@id"], INFO["@id"]])
    assert StoreResolver(store)(["dtmi:com:example:Device;1", "dtmi:x:Nope;1"]) == [DEVICE]
    again = parse_models([{**THERMOSTAT, "@id": "dtmi:com:example:Thermostat;2"}], resolver=StoreResolver(store))
    assert "setpoint" in again.interface("dtmi:com:example:Thermostat;2").properties
    graph.close()


def test_cli_validate_and_load_with_repo(tmp_path: Path) -> None:
    repo = repository(tmp_path / "repo", DEVICE, INFO)
    model = tmp_path / "thermostat.json"
    model.write_text(json.dumps(THERMOSTAT))
    alone = tf("models", "validate", str(model))
    assert alone.returncode == 1 and "dtmi:com:example:Device;1" in alone.stderr
    out = tf("models", "validate", "--repo", str(repo), str(model))
    assert out.returncode == 0, out.stderr
    assert "3 interface(s) in 1 file(s) and 2 from" in out.stdout
    db = f"sqlite:///{tmp_path / 'x.db'}"
    load = tf("models", "load", "--repo", str(repo), str(model), "--db", db)
    assert load.returncode == 0 and "loaded 3 model(s) (2 from" in load.stdout, load.stderr
    missing = tf("models", "validate", "--repo", str(tmp_path / "nope"), str(model))
    assert missing.returncode == 1 and "no models repository folder" in missing.stderr
