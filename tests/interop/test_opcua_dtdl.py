"""OPC UA companion specifications (NodeSet2, vendored from node-opcua-nodesets, MIT) turned into
DTDL v3 that our parser accepts with no error, mapped as docs/interop.md says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import tf
from twinforge.dtdl import parse_models
from twinforge.errors import InvalidArgument
from twinforge.interop.nodeset import parse_nodeset, read_file
from twinforge.interop.opcua_dtdl import convert, dtdl_name, dtmi_segments

DATA = Path(__file__).parent / "data"
FILES = {name: DATA / f"Opc.Ua.{name}.NodeSet2.xml.gz" for name in ("Di", "IA", "Machinery", "PackML", "Robotics")}
DI = "dtmi:opcfoundation:org:UA:DI:"


@pytest.fixture(scope="module")
def everything() -> dict[str, dict]:
    conversion = convert([read_file(p) for p in reversed(list(FILES.values()))])  # any order
    parse_models(conversion.interfaces)  # raises on any DTDL error
    assert conversion.models == ["http://opcfoundation.org/UA/DI/", "http://opcfoundation.org/UA/IA/",
                                 "http://opcfoundation.org/UA/Robotics/", "http://opcfoundation.org/UA/PackML/",
                                 "http://opcfoundation.org/UA/Machinery/"]
    return {d["@id"]: d for d in conversion.interfaces}


def contents(doc: dict) -> dict[str, dict]:
    return {c["name"]: c for c in doc["contents"]}


@pytest.mark.parametrize("name", ["Di", "PackML"])
def test_each_specification_alone_loads_with_no_error(name: str) -> None:
    conversion = convert([read_file(FILES[name])])
    models = parse_models(conversion.interfaces)
    assert len(models) == len(conversion.interfaces) > 5


def test_every_object_type_becomes_an_interface(everything: dict[str, dict]) -> None:
    import gzip
    import re

    for name, path in FILES.items():
        text = gzip.decompress(path.read_bytes()).decode()
        types = re.findall(r'<UAObjectType NodeId="[^"]+" BrowseName="\d+:([^"]+)"', text)
        uri = re.search(r'<Model ModelUri="([^"]+)"', text).group(1)  # type: ignore[union-attr]
        for browse in types:
            assert f"dtmi:{dtmi_segments(uri)}:{dtdl_name(browse)};1" in everything, (name, browse)


def test_properties_telemetry_types_and_inheritance(everything: dict[str, dict]) -> None:
    device = everything[DI + "DeviceType;1"]
    assert device["extends"] == DI + "ComponentType;1"
    component = contents(everything[DI + "ComponentType;1"])
    assert component["SerialNumber"]["@type"] == "Property" and component["SerialNumber"]["schema"] == "string"
    assert component["SerialNumber"]["writable"] is False
    health = contents(device)["DeviceHealth"]
    assert health["@type"] == "Telemetry" and health["schema"]["@type"] == "Enum"
    assert {v["name"]: v["enumValue"] for v in health["schema"]["enumValues"]}["FAILURE"] == 1
    # A supertype's declaration is inherited, not repeated (DTDL refuses a redefinition).
    assert "SerialNumber" not in contents(device)
    machinery = everything["dtmi:opcfoundation:org:UA:Machinery:MachineIdentificationType;1"]
    assert machinery["extends"] == "dtmi:opcfoundation:org:UA:Machinery:MachineryItemIdentificationType;1"


def test_components_relationships_and_commands(everything: dict[str, dict]) -> None:
    packml = contents(everything["dtmi:opcfoundation:org:UA:PackML:PackMLBaseObjectType;1"])
    assert packml["Admin"]["@type"] == "Component"
    assert packml["Admin"]["schema"] == "dtmi:opcfoundation:org:UA:PackML:PackMLAdminObjectType;1"
    speed = packml["SetMachSpeed"]
    assert speed["@type"] == "Command"
    fields = {f["name"]: f["schema"] for f in speed["request"]["schema"]["fields"]}
    assert fields == {"RequestedMachineSpeed": "float"}
    robotics = contents(everything["dtmi:opcfoundation:org:UA:Robotics:MotionDeviceSystemType;1"])
    assert robotics["MotionDevices"]["@type"] in ("Component", "Relationship")
    placeholders = [c for d in everything.values() for c in d["contents"] if c["@type"] == "Relationship"]
    assert placeholders  # <Name> placeholders and nested objects


def test_a_missing_dependency_is_named() -> None:
    with pytest.raises(InvalidArgument, match=r"requires http://opcfoundation.org/UA/DI/: give its NodeSet2 file"):
        convert([read_file(FILES["Machinery"])])


def test_bad_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="not XML"):
        parse_nodeset(b"<UANodeSet", "broken.xml")
    with pytest.raises(InvalidArgument, match="not an OPC UA NodeSet2 file"):
        parse_nodeset(b"<html/>", "page.html")
    with pytest.raises(InvalidArgument, match="no such file"):
        read_file(tmp_path / "none.xml")


def test_cli_loads_and_writes(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ua.db'}"
    out = tf("models", "import-opcua", str(FILES["Machinery"]), str(FILES["Di"]), str(FILES["IA"]), "--db", db)
    assert out.returncode == 0, out.stderr
    assert "from http://opcfoundation.org/UA/DI/, http://opcfoundation.org/UA/IA/, http://opcfoundation.org/UA/Machinery/" in out.stdout
    again = tf("models", "import-opcua", str(FILES["Di"]), "--db", db)
    assert again.returncode == 0 and "loaded 0 interface(s)" in again.stdout
    path = tmp_path / "packml.json"
    wrote = tf("models", "import-opcua", str(FILES["PackML"]), "--out", str(path))
    assert wrote.returncode == 0 and len(json.loads(path.read_text())) > 5
    missing = tf("models", "import-opcua", str(FILES["Robotics"]), "--db", db)
    assert missing.returncode == 1 and "give its NodeSet2 file too" in missing.stderr


SMALL = (Path(__file__).resolve().parents[2] / "docs" / "examples" / "opcua" / "Pumps.NodeSet2.xml").read_bytes()


def test_units_structures_arrays_placeholders_and_overrides() -> None:
    conversion = convert([parse_nodeset(SMALL, "pumps.xml")])
    parse_models(conversion.interfaces)
    docs = {d["@id"]: d for d in conversion.interfaces}
    pump = contents(docs["dtmi:example:com:UA:Pumps:PumpType;1"])
    assert pump["Flow"]["@type"] == ["Telemetry", "VolumeFlowRate"] and pump["Flow"]["unit"] == "cubicMetrePerHour"
    limits = pump["SpeedLimits"]
    assert limits["@type"] == "Property" and limits["writable"] is True
    assert limits["schema"]["@type"] == "Array"
    assert [f["name"] for f in limits["schema"]["elementSchema"]["fields"]] == ["Low", "High"]  # Range, from the base model
    assert pump["Sensor"] == {"@type": "Relationship", "name": "Sensor", "target": "dtmi:example:com:UA:Pumps:PumpType;1"}
    assert pump["Start"]["@type"] == "Command"
    booster = docs["dtmi:example:com:UA:Pumps:Booster_Pump;1"]
    assert booster["extends"] == "dtmi:example:com:UA:Pumps:PumpType;1"
    assert booster["contents"] == []  # Flow overridden: inherited, not declared twice
