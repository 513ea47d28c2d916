"""Asset Administration Shells: AAS JSON and AASX (written by BaSyx, as other tools would) into
twins and back, checked by the IDTA's aas-test-engines and aas-core3.1; live values in the export;
bad files refused by name; the Part 2 read API passing aas-test-engines' read-only repository
suites (SSP-002) against a real server."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.requirements import need_module
from tests.servers import running_api
from tests.test_cli import tf
from twinforge.graph import TwinGraph

need_module("basyx")
need_module("aas_core3_1")
need_module("aas_test_engines")
from basyx.aas import model  # noqa: E402
from basyx.aas.adapter import aasx  # noqa: E402
from basyx.aas.adapter import json as basyx_json  # noqa: E402

from twinforge.interop.aas import (  # noqa: E402
    SHELL,
    export_environment,
    import_environment,
    read_environment,
    shell_twins,
    stored_files,
    write_environment,
)
from twinforge.interop.aas_api import encode_id  # noqa: E402

PUMP = Path(__file__).parent / "data" / "aas" / "pump.json"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63600000"
                    "02000154a24f5d0000000049454e44ae426082")


def package(path: Path, source: Path = PUMP) -> Path:
    """An AASX of ``source`` with the logo its nameplate names, written by BaSyx."""
    with source.open() as f:
        store = basyx_json.read_aas_json_file(f, failsafe=False)
    files = aasx.DictSupplementaryFileContainer()
    files.add_file("/aasx/files/logo.png", io.BytesIO(PNG), "image/png")
    with aasx.AASXWriter(str(path)) as writer:
        writer.write_aas([o.id for o in store if isinstance(o, model.AssetAdministrationShell)], store, files,
                         write_json=True)
    return path


def normal(env: dict[str, Any]) -> str:
    return json.dumps({**env, "submodels": sorted(env["submodels"], key=lambda s: s["id"])}, sort_keys=True)


def compliant_json(env: dict[str, Any]) -> None:
    from aas_core3_1 import jsonization, verification
    from aas_test_engines import file

    result = file.check_json_file(io.StringIO(json.dumps(env)))
    assert result.ok(), "\n".join(result.to_lines())
    errors = list(verification.verify(jsonization.environment_from_jsonable(env)))
    assert errors == [], errors


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[TwinGraph]:
    g = TwinGraph.open(f"sqlite:///{tmp_path / 'aas.db'}")
    yield g
    g.close()


def test_the_fixture_is_valid_aas() -> None:
    compliant_json(json.loads(PUMP.read_text()))


def test_json_round_trip_keeps_every_element(graph: TwinGraph) -> None:
    env, files = read_environment(PUMP)
    done = import_environment(graph, env, files)
    assert done["shells"] == 1 and done["submodels"] == 2 and done["elements"] == 12
    out = export_environment(graph, shell_twins(graph))
    assert normal(out) == normal(env)
    compliant_json(out)


def test_submodel_elements_become_typed_properties_with_semantic_ids(graph: TwinGraph) -> None:
    import_environment(graph, *read_environment(PUMP))
    (shell,) = shell_twins(graph)
    assert graph.get_twin(shell)["$metadata"]["$model"] == SHELL
    assert graph.get_twin(shell)["aasId"] == "https://example.com/ids/aas/pump-7"
    rels = graph.list_relationships(shell, "hasSubmodel")
    twins = {graph.get_twin(r["$targetId"])["idShort"]: graph.get_twin(r["$targetId"]) for r in rels}
    data = twins["OperationalData"]
    assert data["FlowRate"] == 12.5 and data["Running"] is True and data["Speed"] == 1450
    assert data["PressureBand"] == {"min": 1.5, "max": 6.0}
    plate = twins["Nameplate"]
    assert plate["ManufacturerName"] == {"en": "Example Pumps Ltd", "de": "Beispielpumpen GmbH"}
    assert plate["AddressInformation"] == {"CityTown": "Lyon", "ZipCode": "69001"}
    assert plate["semanticId"] == "https://admin-shell.io/idta/nameplate/3/0/Nameplate"
    definition = graph.get_model(data["$metadata"]["$model"]).definition
    flow = next(c for c in definition["contents"] if c["name"] == "FlowRate")
    assert flow["schema"] == "double" and flow["description"] == "semanticId 0173-1#02-AAB713#005"


def test_live_values_reach_the_export(graph: TwinGraph) -> None:
    import_environment(graph, *read_environment(PUMP))
    sm = next(r["$targetId"] for r in graph.list_relationships(shell_twins(graph)[0], "hasSubmodel")
              if graph.get_twin(r["$targetId"])["idShort"] == "OperationalData")
    graph.update_twin(sm, [{"op": "replace", "path": "/FlowRate", "value": 14.25},
                           {"op": "replace", "path": "/Running", "value": False},
                           {"op": "replace", "path": "/PressureBand/max", "value": 7.0}])
    out = export_environment(graph, shell_twins(graph))
    elements = {e["idShort"]: e for s in out["submodels"] if s["idShort"] == "OperationalData"
                for e in s["submodelElements"]}
    assert elements["FlowRate"]["value"] == "14.25" and elements["Running"]["value"] == "false"
    assert elements["PressureBand"]["max"] == "7.0" and elements["PressureBand"]["min"] == "1.5"
    compliant_json(out)


def test_aasx_round_trip_keeps_elements_and_files(graph: TwinGraph, tmp_path: Path) -> None:
    from aas_test_engines import file

    source = package(tmp_path / "in.aasx")
    env, files = read_environment(source)
    assert files == {"/aasx/files/logo.png": ("image/png", PNG)}
    import_environment(graph, env, files)
    shells = shell_twins(graph)
    out = tmp_path / "out.aasx"
    write_environment(export_environment(graph, shells), out, stored_files(graph, shells))
    with out.open("rb") as f:
        result = file.check_aasx_file(f)
    assert result.ok(), "\n".join(result.to_lines())
    again, files_again = read_environment(out)
    assert normal(again) == normal(env) and files_again == files


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "is not a valid AAS environment"),
    ('{"submodels": [{"modelType": "Submodel", "idShort": "x"}]}', "is not a valid AAS environment"),
    ('{"assetAdministrationShells": [{"modelType": "AssetAdministrationShell", "id": "a"}]}',
     "is not a valid AAS environment"),
])
def test_bad_files_are_refused_and_nothing_is_stored(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    db = f"sqlite:///{tmp_path / 'x.db'}"
    out = tf("aas", "import", str(bad), "--db", db)
    assert out.returncode != 0 and message in out.stderr and "bad.json" in out.stderr, out.stderr
    junk = tmp_path / "junk.aasx"
    junk.write_bytes(b"PK\x03\x04 not a package")
    out = tf("aas", "import", str(junk), "--db", db)
    assert out.returncode != 0 and "junk.aasx is not a valid AAS environment" in out.stderr, out.stderr


def test_cli_import_and_export(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    out = tf("aas", "import", str(package(tmp_path / "p.aasx")), "--db", db)
    assert out.returncode == 0 and "1 shell(s), 2 submodel(s) (12 elements)" in out.stdout, out.stderr
    assert "1 supplementary file(s)" in out.stdout
    out = tf("aas", "export", "--out", str(tmp_path / "back.json"), "--db", db)
    assert out.returncode == 0, out.stderr
    compliant_json(json.loads((tmp_path / "back.json").read_text()))
    out = tf("aas", "export", "--out", str(tmp_path / "back.txt"), "--db", db)
    assert out.returncode != 0 and ".json" in out.stderr


@pytest.fixture(scope="module")
def aas_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("aas-api")
    graph = TwinGraph.open(f"sqlite:///{folder / 'api.db'}")
    import_environment(graph, *read_environment(package(folder / "p.aasx")))
    with running_api(graph) as url:
        yield url
    graph.close()


@pytest.mark.parametrize("suite", ["AssetAdministrationShellRepositoryServiceSpecification",
                                   "SubmodelRepositoryServiceSpecification"])
def test_the_part_2_read_api_passes_the_idta_repository_suites(aas_site: str, suite: str) -> None:
    from aas_test_engines.api import CheckApiConfig, execute_tests
    from aas_test_engines.http import HttpClient

    result, _ = execute_tests(HttpClient(aas_site), CheckApiConfig(f"https://admin-shell.io/aas/API/3/0/{suite}/SSP-002"))
    assert result.ok(), "\n".join(result.to_lines())[-4000:]


def test_the_api_serves_live_values_and_part_2_errors(aas_site: str) -> None:
    sm = encode_id("https://example.com/ids/sm/pump-7/operation")
    value = httpx.get(f"{aas_site}/submodels/{sm}/submodel-elements/FlowRate/$value").json()
    assert value == {"FlowRate": 12.5}
    assert httpx.get(f"{aas_site}/submodels/{sm}/$value").json()["PressureBand"] == {"min": 1.5, "max": 6.0}
    bad = httpx.get(f"{aas_site}/submodels/not*base64")
    assert bad.status_code == 400 and bad.json()["messages"][0]["messageType"] == "Error"
    missing = httpx.get(f"{aas_site}/shells/{encode_id('urn:nobody')}")
    assert missing.status_code == 404 and "urn:nobody" in missing.json()["messages"][0]["text"]
    logo = httpx.get(f"{aas_site}/submodels/{encode_id('https://example.com/ids/sm/pump-7/nameplate')}"
                     "/submodel-elements/AddressInformation.CompanyLogo/attachment")
    assert logo.status_code == 200 and logo.content == PNG and logo.headers["content-type"] == "image/png"
    assert httpx.get(f"{aas_site}/description").json()["profiles"][0].endswith("SSP-002")
