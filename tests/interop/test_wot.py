"""W3C WoT Thing Descriptions: the TD Playground's valid examples convert to DTDL our parser
accepts, its invalid ones are refused with a reason, and the mapping holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.requirements import need_module
from tests.test_cli import tf
from twinforge.dtdl import parse_models

need_module("jsonschema")
from twinforge.interop.wot import TdError, read_td, td_to_dtdl  # noqa: E402

DATA = Path(__file__).parent / "data" / "wot"
VALID = sorted((DATA / "valid").glob("*.json"))
INVALID = sorted((DATA / "invalid").glob("*.json"))


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_valid_tds_become_interfaces_dtdl_accepts(path: Path) -> None:
    conversion = td_to_dtdl(read_td(path.read_bytes(), path.name))
    parse_models([conversion.interface])


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_tds_are_refused(path: Path) -> None:
    with pytest.raises(TdError) as caught:
        read_td(path.read_bytes(), path.name)
    assert caught.value.problems and path.name in str(caught.value)


def test_the_mapping() -> None:
    assert len(VALID) == 41 and len(INVALID) == 22
    td = read_td((DATA / "valid" / "specExampleFull.json").read_bytes())
    doc = td_to_dtdl(td).interface
    assert doc["@id"] == "dtmi:specExampleFull;1" and doc["displayName"] == "MyLampThing"
    kinds = {c["name"]: c for c in doc["contents"]}
    assert kinds["status"] == {"@type": "Property", "name": "status", "schema": "string", "writable": True}
    assert kinds["overheating"]["@type"] == "Telemetry" and kinds["overheating"]["schema"] == "string"
    assert kinds["toggle"]["@type"] == "Command"
    lamp = {"@context": "https://www.w3.org/2022/wot/td/v1.1", "id": "urn:dev:wot:lamp", "title": "Lamp",
            "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}}, "security": "nosec_sc",
            "properties": {"level": {"type": "integer", "readOnly": True, "forms": [{"href": "http://x/level"}]},
                           "mode": {"type": "string", "enum": ["on", "off"], "forms": [{"href": "http://x/mode"}]},
                           "seen": {"type": "string", "format": "date-time", "forms": [{"href": "http://x/s"}]}},
            "actions": {"fade": {"input": {"type": "object", "properties": {"to": {"type": "number"}}},
                                 "output": {"type": "boolean"}, "forms": [{"href": "http://x/fade"}]}}}
    out = td_to_dtdl(read_td(json.dumps(lamp))).interface
    parse_models([out])
    c = {x["name"]: x for x in out["contents"]}
    assert out["@id"] == "dtmi:dev:wot:lamp;1"
    assert c["level"]["schema"] == "long" and c["level"]["writable"] is False
    assert [v["enumValue"] for v in c["mode"]["schema"]["enumValues"]] == ["on", "off"]
    assert c["seen"]["schema"] == "dateTime"
    assert c["fade"]["request"]["schema"]["fields"] == [{"name": "to", "schema": "double"}]
    assert c["fade"]["response"]["schema"] == "boolean"


def test_refusals_name_the_problem() -> None:
    with pytest.raises(TdError, match="appears twice"):
        read_td((DATA / "invalid" / "duplicatePropertyAffordanceNames.json").read_bytes())
    with pytest.raises(TdError, match="'someScheme' is not in securityDefinitions"):
        read_td((DATA / "invalid" / "invalidSecuMatch.json").read_bytes())
    with pytest.raises(TdError, match="is not of its type number"):
        read_td((DATA / "invalid" / "usingTM.json").read_bytes())
    with pytest.raises(TdError, match="Expecting"):
        read_td(b"{not json")


def test_cli(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'wot.db'}"
    ok = tf("models", "import-wot", str(DATA / "valid" / "simple.json"), str(DATA / "valid" / "multiProperties.json"),
            "--db", db)
    assert ok.returncode == 0 and "loaded 2 interface(s)" in ok.stdout, ok.stderr
    bad = tf("models", "import-wot", str(DATA / "valid" / "noSec.json"), str(DATA / "invalid" / "noTitle.json"),
             "--db", db)
    assert bad.returncode == 1 and "refused" in bad.stderr and "nothing loaded" in bad.stderr
    out = tmp_path / "td.json"
    wrote = tf("models", "import-wot", str(DATA / "valid" / "simple.json"), "--out", str(out))
    assert wrote.returncode == 0 and json.loads(out.read_text())[0]["@type"] == "Interface"
