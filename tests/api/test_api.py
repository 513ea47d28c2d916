"""The REST API served by a real uvicorn, exercised over HTTP with httpx."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.graph.models import PLANT, pump, tank
from tests.servers import running_api
from twinforge.graph import TwinGraph


@pytest.fixture
def client(graph: TwinGraph) -> Iterator[httpx.Client]:
    with running_api(graph) as url, httpx.Client(base_url=url) as c:
        yield c


@pytest.fixture
def plant(client: httpx.Client) -> httpx.Client:
    r = client.post("/models", json=PLANT)
    assert r.status_code == 201, r.text
    return client


def error_of(r: httpx.Response) -> dict[str, str]:
    body = r.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    err: dict[str, str] = body["error"]
    return err


def test_models_routes(plant: httpx.Client) -> None:
    r = plant.get("/models/dtmi:test:Pump;1", params={"includeModelDefinition": "true"})
    assert r.status_code == 200 and r.json()["model"]["@id"] == "dtmi:test:Pump;1"
    r = plant.get("/models", headers={"max-items-per-page": "3"})
    page = r.json()
    assert len(page["value"]) == 3 and page["nextLink"]
    rest = plant.get(page["nextLink"]).json()
    assert [m["id"] for m in rest["value"]] == ["dtmi:test:Tank;1"] and rest["nextLink"] is None
    assert plant.post("/models", json=PLANT[:1]).status_code == 409
    r = plant.patch("/models/dtmi:test:Tank;1", json=[{"op": "replace", "path": "/decommissioned", "value": True}])
    assert r.status_code == 204
    assert plant.get("/models/dtmi:test:Tank;1").json()["decommissioned"] is True
    assert plant.delete("/models/dtmi:test:Nope;1").status_code == 404


def test_twin_lifecycle_with_etags(plant: httpx.Client) -> None:
    r = plant.put("/digitaltwins/p1", json=pump(flow=1.0))
    assert r.status_code == 200
    etag = r.headers["etag"]
    assert r.json()["$etag"] == etag
    r = plant.get("/digitaltwins/p1")
    assert r.headers["etag"] == etag and r.json()["flow"] == 1.0
    r = plant.put("/digitaltwins/p1", json=pump(), headers={"If-None-Match": "*"})
    assert r.status_code == 412 and error_of(r)["code"] == "PreconditionFailed"
    r = plant.patch("/digitaltwins/p1", json=[{"op": "replace", "path": "/flow", "value": 2.0}],
                    headers={"If-Match": etag})
    assert r.status_code == 204 and r.headers["etag"] != etag
    r = plant.patch("/digitaltwins/p1", json=[{"op": "replace", "path": "/flow", "value": 3.0}],
                    headers={"If-Match": etag})
    assert r.status_code == 412
    assert plant.get("/digitaltwins/p1").json()["flow"] == 2.0
    r = plant.patch("/digitaltwins/p1/components/motor", json=[{"op": "add", "path": "/rpm", "value": 10.0}])
    assert r.status_code == 204
    assert plant.get("/digitaltwins/p1/components/motor").json()["rpm"] == 10.0
    assert plant.delete("/digitaltwins/p1").status_code == 204
    r = plant.get("/digitaltwins/p1")
    assert r.status_code == 404 and error_of(r)["code"] == "DigitalTwinNotFound"


def test_relationship_routes_and_paging(plant: httpx.Client) -> None:
    plant.put("/digitaltwins/t1", json=tank())
    for i in range(5):
        plant.put(f"/digitaltwins/p{i}", json=pump())
        r = plant.put(f"/digitaltwins/p{i}/relationships/r{i}",
                      json={"$relationshipName": "feeds", "$targetId": "t1"})
        assert r.status_code == 200, r.text
    for i in range(3):
        plant.put(f"/digitaltwins/p0/relationships/x{i}", json={"$relationshipName": "feeds", "$targetId": "t1"})
    r = plant.get("/digitaltwins/p0/relationships", headers={"max-items-per-page": "2"})
    ids = [x["$relationshipId"] for x in r.json()["value"]]
    link = r.json()["nextLink"]
    while link:
        page = plant.get(link).json()
        ids += [x["$relationshipId"] for x in page["value"]]
        link = page["nextLink"]
    assert ids == ["r0", "x0", "x1", "x2"]
    incoming = plant.get("/digitaltwins/t1/incomingrelationships", headers={"max-items-per-page": "3"}).json()
    assert len(incoming["value"]) == 3 and incoming["nextLink"]
    r = plant.get("/digitaltwins/p0/relationships", params={"relationshipName": "controlledBy"})
    assert r.json()["value"] == []
    r = plant.delete("/digitaltwins/t1")
    assert r.status_code == 400 and error_of(r)["code"] == "RelationshipsNotDeleted"  # as ADT answers
    r = plant.get("/digitaltwins/p1/relationships/r1")
    etag = r.headers["etag"]
    assert plant.delete("/digitaltwins/p1/relationships/r1", headers={"If-Match": 'W/"x"'}).status_code == 412
    assert plant.delete("/digitaltwins/p1/relationships/r1", headers={"If-Match": etag}).status_code == 204


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("PUT", "/digitaltwins/p1", b"{not json", 400, "InvalidArgument"),
        ("PUT", "/digitaltwins/p1", b"", 400, "InvalidArgument"),
        ("PUT", "/digitaltwins/p1", b'{"$metadata": {"$model": "dtmi:test:Pump;1"}, "flow": "x"}', 400, "ValidationFailed"),
        ("PUT", "/digitaltwins/p1", b'{"$metadata": {"$model": "dtmi:test:Ghost;1"}}', 400, "ModelNotFound"),
        ("PATCH", "/digitaltwins/p1", b'{"op": "add"}', 400, "JsonPatchInvalid"),
        ("POST", "/models", b'[{"@id": "dtmi:x:Y;1", "@type": "Interface"}]', 400, "DTDLParserError"),
        ("PUT", "/digitaltwins/p1/relationships/r", b'{"$relationshipName": "nope", "$targetId": "p1"}', 400,
         "OperationNotAllowed"),
    ],
)
def test_bad_input_gets_adt_errors(plant: httpx.Client, method: str, path: str, body: bytes,
                                   status: int, code: str) -> None:
    plant.put("/digitaltwins/p1", json=pump(flow=1.0))
    before = plant.get("/digitaltwins/p1").json()
    r = plant.request(method, path, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert error_of(r)["code"] == code
    assert plant.get("/digitaltwins/p1").json() == before


def test_api_version_checked(client: httpx.Client) -> None:
    r = client.get("/models", params={"api-version": "1999-01-01"})
    assert r.status_code == 400 and error_of(r)["code"] == "InvalidApiVersion"
    assert httpx.get(str(client.base_url) + "/models").status_code == 200  # absent: latest


def test_openapi_documents_the_routes(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for p in ["/models", "/models/{model_id}", "/digitaltwins/{twin_id}",
              "/digitaltwins/{twin_id}/relationships/{rel_id}",
              "/digitaltwins/{twin_id}/incomingrelationships",
              "/digitaltwins/{twin_id}/components/{component}"]:
        assert p in paths


def test_query_route_pages_and_errors(plant: httpx.Client) -> None:
    for i in range(7):
        plant.put(f"/digitaltwins/p{i}", json=pump(flow=float(i)))
    r = plant.post("/query", json={"query": "SELECT T.$dtId FROM DIGITALTWINS T WHERE T.flow >= 1"},
                   headers={"max-items-per-page": "4"})
    body = r.json()
    assert r.status_code == 200 and len(body["value"]) == 4 and body["continuationToken"]
    rest = plant.post("/query", json={"continuationToken": body["continuationToken"]}).json()
    assert [x["$dtId"] for x in body["value"] + rest["value"]] == [f"p{i}" for i in range(1, 7)]
    assert rest["continuationToken"] is None
    r = plant.post("/query", json={"query": "SELECT * FROM DIGITALTWINS WHERE (flow = 1"})
    assert r.status_code == 400 and error_of(r)["code"] == "SqlQueryError"
    assert "position" in error_of(r)["message"]
    r = plant.post("/query", json={"query": "SELECT * FROM DIGITALTWINS WHERE NOPE(flow)"})
    assert r.status_code == 400 and error_of(r)["code"] == "SqlQueryError"
    r = plant.post("/query", json={"query": 5})
    assert r.status_code == 400
    r = plant.post("/query", json={"continuationToken": "garbage!!"})
    assert r.status_code == 400


def test_concurrent_patches_with_one_etag_apply_once(plant: httpx.Client) -> None:
    """Patches arriving together share a transaction, yet each keeps its own ETag check."""
    import concurrent.futures

    etag = plant.put("/digitaltwins/p1", json=pump()).headers["ETag"]
    url = str(plant.base_url)

    def patch(i: int) -> int:
        with httpx.Client(base_url=url) as own:
            return own.patch("/digitaltwins/p1", json=[{"op": "add", "path": "/flow", "value": float(i)}],
                             headers={"If-Match": etag}).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(patch, range(32)))
    assert sorted(statuses) == [204] + [412] * 31
    twin = plant.get("/digitaltwins/p1").json()
    assert twin["$etag"] != etag and isinstance(twin["flow"], float)
    bad = plant.patch("/digitaltwins/p1", json=[{"op": "add", "path": "/flow", "value": "x"}])
    assert bad.status_code == 400 and error_of(bad)["code"] == "ValidationFailed"
    missing = plant.patch("/digitaltwins/nobody", json=[])
    assert missing.status_code == 404 and error_of(missing)["code"] == "DigitalTwinNotFound"
    broken = plant.patch("/digitaltwins/p1", content=b"[{")
    assert broken.status_code == 400 and error_of(broken)["code"] == "InvalidArgument"


def test_integer_properties_refuse_0_0_and_minus_0_over_rest(client: httpx.Client) -> None:
    counter = {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:test:Counter;1", "@type": "Interface",
               "contents": [{"@type": "Property", "name": "count", "schema": "integer"},
                            {"@type": "Property", "name": "level", "schema": "double"}]}
    assert client.post("/models", json=[counter]).status_code == 201
    head = b'{"$metadata": {"$model": "dtmi:test:Counter;1"}, '
    ok = client.put("/digitaltwins/c1", content=head + b'"count": 3, "level": -0}',
                    headers={"Content-Type": "application/json"})
    assert ok.status_code == 200, ok.text
    for bad, why in ((b"-0", "-0 is not a valid integer literal"), (b"0.0", "expected integer")):
        r = client.put("/digitaltwins/c2", content=head + b'"count": ' + bad + b"}",
                       headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and why in r.text, r.text
        patch = client.patch("/digitaltwins/c1", content=b'[{"op": "replace", "path": "/count", "value": ' + bad + b"}]",
                             headers={"Content-Type": "application/json-patch+json"})
        assert patch.status_code == 400 and why in patch.text, patch.text
    assert client.get("/digitaltwins/c1").json()["count"] == 3
    assert client.get("/digitaltwins/c2").status_code == 404
