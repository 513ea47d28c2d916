"""The official azure-digitaltwins-core SDK, unchanged, against `twinforge serve --tls`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.graph.models import PLANT, pump, tank
from tests.requirements import need_module
from tests.servers import running_api
from twinforge.api.tls import ensure_self_signed
from twinforge.graph import TwinGraph

sdk = need_module("azure.digitaltwins.core")
from azure.core.credentials import AccessToken  # noqa: E402
from azure.core.exceptions import (  # noqa: E402
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)

pytestmark = pytest.mark.integration


class AnyToken:
    """A token credential: twinforge does not check tokens, the SDK insists on sending one."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("twinforge-test-token", int(time.time()) + 3600)


@pytest.fixture
def served(graph: TwinGraph, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    cert, key = ensure_self_signed(tmp_path / "tls")
    with running_api(graph, cert=cert, key=key) as url:
        yield url, cert


@pytest.fixture
def client(served: tuple[str, Path]) -> Any:
    url, cert = served
    return sdk.DigitalTwinsClient(url, AnyToken(), connection_verify=str(cert))


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_sdk_without_verification(served: tuple[str, Path]) -> None:
    url, _ = served
    client = sdk.DigitalTwinsClient(url, AnyToken(), connection_verify=False)
    assert list(client.list_models()) == []


def test_sdk_end_to_end(client: Any) -> None:
    created = client.create_models(PLANT)
    assert {m.id for m in created} == {m["@id"] for m in PLANT}
    with pytest.raises(ResourceExistsError):
        client.create_models(PLANT[:1])
    model = client.get_model("dtmi:test:Pump;1", include_model_definition=True)
    assert model.model["@id"] == "dtmi:test:Pump;1"
    assert len(list(client.list_models(include_model_definition=False))) == 4

    twin = client.upsert_digital_twin("p1", pump(flow=1.0))
    client.upsert_digital_twin("t1", tank())
    assert client.get_digital_twin("p1")["flow"] == 1.0
    client.update_digital_twin("p1", [{"op": "replace", "path": "/flow", "value": 2.0}],
                               etag=twin["$etag"], match_condition=sdk_match_if_not_modified())
    with pytest.raises(ResourceModifiedError):
        client.update_digital_twin("p1", [{"op": "replace", "path": "/flow", "value": 3.0}],
                                   etag=twin["$etag"], match_condition=sdk_match_if_not_modified())
    assert client.get_digital_twin("p1")["flow"] == 2.0
    with pytest.raises(HttpResponseError) as info:
        client.upsert_digital_twin("p2", pump(flow="fast"))
    assert info.value.status_code == 400 and "flow" in str(info.value)

    client.update_component("p1", "motor", [{"op": "add", "path": "/rpm", "value": 5.0}])
    assert client.get_component("p1", "motor")["rpm"] == 5.0

    rel = client.upsert_relationship("p1", "r1", {"$relationshipId": "r1", "$sourceId": "p1",
                                                  "$relationshipName": "feeds", "$targetId": "t1"})
    assert rel["$targetId"] == "t1"
    for i in range(5):
        client.upsert_relationship("p1", f"x{i}", {"$relationshipName": "feeds", "$targetId": "t1"})
    rels = list(client.list_relationships("p1"))
    assert len(rels) == 6
    incoming = list(client.list_incoming_relationships("t1"))
    assert {r.relationship_id for r in incoming} == {"r1", "x0", "x1", "x2", "x3", "x4"}
    client.update_relationship("p1", "r1", [{"op": "add", "path": "/pipeLength", "value": 2.0}])
    assert client.get_relationship("p1", "r1")["pipeLength"] == 2.0
    client.delete_relationship("p1", "r1")
    with pytest.raises(ResourceNotFoundError):
        client.get_relationship("p1", "r1")

    for i in range(250):
        client.upsert_digital_twin(f"q{i:03d}", tank(f"tank {i}", level=float(i)))
    rows = list(client.query_twins("SELECT T.$dtId FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:test:Tank;1') "
                                   "AND T.level >= 10"))
    assert [r["$dtId"] for r in rows] == [f"q{i:03d}" for i in range(10, 250)]  # three pages of 100
    with pytest.raises(HttpResponseError) as bad:
        list(client.query_twins("SELECT * FROM DIGITALTWINS WHERE"))
    assert bad.value.status_code == 400

    client.decommission_model("dtmi:test:Motor;1")
    with pytest.raises(HttpResponseError):
        client.delete_model("dtmi:test:Pump;1")  # p1 still uses it
    for i in range(5):
        client.delete_relationship("p1", f"x{i}")
    client.delete_digital_twin("p1")
    with pytest.raises(ResourceNotFoundError):
        client.get_digital_twin("p1")


def sdk_match_if_not_modified() -> Any:
    from azure.core import MatchConditions

    return MatchConditions.IfNotModified
