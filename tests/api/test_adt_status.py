"""Every Azure Digital Twins data-plane operation, status code by status code, as the REST
reference (api-version 2023-10-31) lists them: each row is one documented outcome, sent to a
real server, with the HTTP status and the `error.code` ADT gives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.graph.models import PLANT, pump, tank
from tests.servers import running_api
from twinforge.graph import TwinGraph

REPLACE_FLOW = [{"op": "replace", "path": "/flow", "value": 2.0}]
DECOMMISSION = [{"op": "replace", "path": "/decommissioned", "value": True}]
FEEDS = {"$targetId": "t1", "$relationshipName": "feeds", "pipeLength": 3.0}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    graph = TwinGraph.open(f"sqlite:///{tmp_path_factory.mktemp('adt') / 'twins.db'}")
    try:
        with running_api(graph) as url, httpx.Client(base_url=url) as client:
            yield client
    finally:
        graph.close()


@pytest.fixture
def adt(server: httpx.Client) -> httpx.Client:
    """A fresh plant for each row: models, p1 (a pump) feeding t1 (a tank), and p9 (a pump)."""
    c = server
    for route in c.get("/eventroutes").json()["value"]:
        c.delete(f"/eventroutes/{route['id']}")
    for twin in c.post("/query", json={"query": "SELECT T.$dtId FROM DIGITALTWINS T"}).json()["value"]:
        tid = twin["$dtId"]
        for rel in c.get(f"/digitaltwins/{tid}/relationships").json()["value"]:
            c.delete(f"/digitaltwins/{tid}/relationships/{rel['$relationshipId']}")
    for twin in c.post("/query", json={"query": "SELECT T.$dtId FROM DIGITALTWINS T"}).json()["value"]:
        c.delete(f"/digitaltwins/{twin['$dtId']}")
    for model_id in ("dtmi:test:Pump;1", "dtmi:test:Tank;1", "dtmi:test:Asset;1", "dtmi:test:Motor;1"):
        c.delete(f"/models/{model_id}")
    assert c.post("/models", json=PLANT).status_code == 201
    assert c.put("/digitaltwins/t1", json=tank()).status_code == 200
    assert c.put("/digitaltwins/p1", json=pump(flow=1.0, motor={"$metadata": {}, "rpm": 10.0})).status_code == 200
    assert c.put("/digitaltwins/p9", json=pump()).status_code == 200
    assert c.put("/digitaltwins/p1/relationships/r1", json=FEEDS).status_code == 200
    return c


# (operation, method, path, json body, headers, expected status, expected error code)
Row = tuple[str, str, str, Any, dict[str, str], int, str | None]
STALE = {"If-Match": 'W/"stale"'}
ROWS: list[Row] = [
    # -- DigitalTwins -------------------------------------------------------------------
    ("GetById", "GET", "/digitaltwins/p1", None, {}, 200, None),
    ("GetById", "GET", "/digitaltwins/nope", None, {}, 404, "DigitalTwinNotFound"),
    ("Add", "PUT", "/digitaltwins/p2", pump(), {}, 200, None),
    ("Add", "PUT", "/digitaltwins/p1", pump(), {}, 200, None),  # replaces
    ("Add", "PUT", "/digitaltwins/p2", {"name": "no model"}, {}, 400, "ValidationFailed"),
    ("Add", "PUT", "/digitaltwins/p2", pump(flow="fast"), {}, 400, "ValidationFailed"),
    ("Add", "PUT", "/digitaltwins/p2", [1, 2], {}, 400, "InvalidArgument"),
    ("Add", "PUT", "/digitaltwins/p1", pump(), {"If-None-Match": "*"}, 412, "PreconditionFailed"),
    ("Update", "PATCH", "/digitaltwins/p1", REPLACE_FLOW, {}, 204, None),
    ("Update", "PATCH", "/digitaltwins/p1", [{"op": "jump", "path": "/flow"}], {}, 400, "JsonPatchInvalid"),
    ("Update", "PATCH", "/digitaltwins/p1", [{"op": "replace", "path": "/flow", "value": "x"}], {}, 400,
     "ValidationFailed"),
    ("Update", "PATCH", "/digitaltwins/nope", REPLACE_FLOW, {}, 404, "DigitalTwinNotFound"),
    ("Update", "PATCH", "/digitaltwins/p1", REPLACE_FLOW, STALE, 412, "PreconditionFailed"),
    ("Delete", "DELETE", "/digitaltwins/p1", None, {}, 400, "RelationshipsNotDeleted"),
    ("Delete", "DELETE", "/digitaltwins/t1", None, {}, 400, "RelationshipsNotDeleted"),  # incoming too
    ("Delete", "DELETE", "/digitaltwins/nope", None, {}, 404, "DigitalTwinNotFound"),
    ("Delete", "DELETE", "/digitaltwins/p1", None, STALE, 412, "PreconditionFailed"),
    # -- relationships ------------------------------------------------------------------
    ("GetRelationshipById", "GET", "/digitaltwins/p1/relationships/r1", None, {}, 200, None),
    ("GetRelationshipById", "GET", "/digitaltwins/p1/relationships/nope", None, {}, 404, "RelationshipNotFound"),
    ("GetRelationshipById", "GET", "/digitaltwins/nope/relationships/r1", None, {}, 404, "DigitalTwinNotFound"),
    ("AddRelationship", "PUT", "/digitaltwins/p1/relationships/r2", FEEDS, {}, 200, None),
    ("AddRelationship", "PUT", "/digitaltwins/p1/relationships/r2", {**FEEDS, "$relationshipName": "nope"}, {},
     400, "InvalidRelationship"),
    ("AddRelationship", "PUT", "/digitaltwins/p1/relationships/r2", {**FEEDS, "$targetId": "p9"}, {},
     400, "InvalidRelationship"),  # feeds must target a Tank
    ("AddRelationship", "PUT", "/digitaltwins/p1/relationships/r2", {**FEEDS, "$targetId": "p1"}, {},
     400, "OperationNotAllowed"),
    ("AddRelationship", "PUT", "/digitaltwins/p1/relationships/r2", {**FEEDS, "pipeLength": "long"}, {},
     400, "ValidationFailed"),
    ("AddRelationship", "PUT", "/digitaltwins/p1/relationships/r2", {"$relationshipName": "feeds"}, {},
     400, "InvalidArgument"),
    ("AddRelationship", "PUT", "/digitaltwins/nope/relationships/r2", FEEDS, {}, 404, "DigitalTwinNotFound"),
    ("AddRelationship", "PUT", "/digitaltwins/p1/relationships/r2", {**FEEDS, "$targetId": "nope"}, {},
     404, "TargetTwinNotFound"),
    ("AddRelationship", "PUT", "/digitaltwins/p1/relationships/r1", FEEDS, {"If-None-Match": "*"},
     412, "PreconditionFailed"),
    ("UpdateRelationship", "PATCH", "/digitaltwins/p1/relationships/r1",
     [{"op": "replace", "path": "/pipeLength", "value": 4.0}], {}, 204, None),
    ("UpdateRelationship", "PATCH", "/digitaltwins/p1/relationships/r1",
     [{"op": "replace", "path": "/pipeLength", "value": "x"}], {}, 400, "ValidationFailed"),
    ("UpdateRelationship", "PATCH", "/digitaltwins/p1/relationships/r1", [{"op": "jump"}], {}, 400,
     "JsonPatchInvalid"),
    ("UpdateRelationship", "PATCH", "/digitaltwins/p1/relationships/nope",
     [{"op": "replace", "path": "/pipeLength", "value": 4.0}], {}, 404, "RelationshipNotFound"),
    ("UpdateRelationship", "PATCH", "/digitaltwins/p1/relationships/r1",
     [{"op": "replace", "path": "/pipeLength", "value": 4.0}], STALE, 412, "PreconditionFailed"),
    ("DeleteRelationship", "DELETE", "/digitaltwins/p1/relationships/r1", None, {}, 204, None),
    ("DeleteRelationship", "DELETE", "/digitaltwins/p1/relationships/nope", None, {}, 404, "RelationshipNotFound"),
    ("DeleteRelationship", "DELETE", "/digitaltwins/nope/relationships/r1", None, {}, 404, "DigitalTwinNotFound"),
    ("DeleteRelationship", "DELETE", "/digitaltwins/p1/relationships/r1", None, STALE, 412, "PreconditionFailed"),
    ("ListRelationships", "GET", "/digitaltwins/p1/relationships", None, {}, 200, None),
    ("ListRelationships", "GET", "/digitaltwins/nope/relationships", None, {}, 404, "DigitalTwinNotFound"),
    ("ListIncomingRelationships", "GET", "/digitaltwins/t1/incomingrelationships", None, {}, 200, None),
    ("ListIncomingRelationships", "GET", "/digitaltwins/nope/incomingrelationships", None, {}, 404,
     "DigitalTwinNotFound"),
    # -- components and telemetry -------------------------------------------------------
    ("GetComponent", "GET", "/digitaltwins/p1/components/motor", None, {}, 200, None),
    ("GetComponent", "GET", "/digitaltwins/p1/components/nope", None, {}, 404, "ComponentNotFound"),
    ("GetComponent", "GET", "/digitaltwins/nope/components/motor", None, {}, 404, "DigitalTwinNotFound"),
    ("UpdateComponent", "PATCH", "/digitaltwins/p1/components/motor",
     [{"op": "replace", "path": "/rpm", "value": 20.0}], {}, 204, None),
    ("UpdateComponent", "PATCH", "/digitaltwins/p1/components/motor",
     [{"op": "replace", "path": "/rpm", "value": "x"}], {}, 400, "ValidationFailed"),
    ("UpdateComponent", "PATCH", "/digitaltwins/nope/components/motor",
     [{"op": "replace", "path": "/rpm", "value": 1.0}], {}, 404, "DigitalTwinNotFound"),
    ("UpdateComponent", "PATCH", "/digitaltwins/p1/components/motor",
     [{"op": "replace", "path": "/rpm", "value": 1.0}], STALE, 412, "PreconditionFailed"),
    ("SendTelemetry", "POST", "/digitaltwins/p1/telemetry", {"pressure": 1.5}, {"Message-Id": "m1"}, 204, None),
    ("SendTelemetry", "POST", "/digitaltwins/p1/telemetry", {"pressure": "high"}, {"Message-Id": "m2"}, 400,
     "ValidationFailed"),
    ("SendTelemetry", "POST", "/digitaltwins/p1/telemetry", {"pressure": 1.5}, {}, 400, "InvalidArgument"),
    ("SendTelemetry", "POST", "/digitaltwins/nope/telemetry", {"pressure": 1.5}, {"Message-Id": "m3"}, 404,
     "DigitalTwinNotFound"),
    ("SendComponentTelemetry", "POST", "/digitaltwins/p1/components/nope/telemetry", {"x": 1},
     {"Message-Id": "m4"}, 404, "ComponentNotFound"),
    # -- models -------------------------------------------------------------------------
    ("Models List", "GET", "/models", None, {}, 200, None),
    ("Models List", "GET", "/models?dependenciesFor=dtmi:test:Nope;1", None, {}, 404, "ModelNotFound"),
    ("Models Add", "POST", "/models", PLANT[:1], {}, 409, "ModelAlreadyExists"),
    ("Models Add", "POST", "/models", [{"@id": "dtmi:test:Bad;1", "@type": "Interface"}], {}, 400,
     "DTDLParserError"),
    ("Models GetById", "GET", "/models/dtmi:test:Pump;1", None, {}, 200, None),
    ("Models GetById", "GET", "/models/dtmi:test:Nope;1", None, {}, 404, "ModelNotFound"),
    ("Models GetById", "GET", "/models/not-a-dtmi", None, {}, 400, "InvalidArgument"),
    ("Models Update", "PATCH", "/models/dtmi:test:Pump;1", DECOMMISSION, {}, 204, None),
    ("Models Update", "PATCH", "/models/dtmi:test:Pump;1", [{"op": "replace", "path": "/x", "value": 1}], {},
     400, "JsonPatchInvalid"),
    ("Models Update", "PATCH", "/models/dtmi:test:Nope;1", DECOMMISSION, {}, 404, "ModelNotFound"),
    ("Models Delete", "DELETE", "/models/dtmi:test:Asset;1", None, {}, 409, "ModelReferencesNotDeleted"),
    ("Models Delete", "DELETE", "/models/dtmi:test:Nope;1", None, {}, 404, "ModelNotFound"),
    ("Models Delete", "DELETE", "/models/not-a-dtmi", None, {}, 400, "InvalidArgument"),
    # -- query --------------------------------------------------------------------------
    ("QueryTwins", "POST", "/query", {"query": "SELECT * FROM DIGITALTWINS"}, {}, 200, None),
    ("QueryTwins", "POST", "/query", {"query": "SELEKT * FROM"}, {}, 400, "SqlQueryError"),
    ("QueryTwins", "POST", "/query", {"query": "SELECT * FROM DIGITALTWINS", "continuationToken": "junk"}, {},
     400, "BadRequest"),
    # -- event routes -------------------------------------------------------------------
    ("EventRoutes Add", "PUT", "/eventroutes/r1", {"endpointName": "nope", "filter": "true"}, {}, 400,
     "EventRouteEndpointInvalid"),
    ("EventRoutes List", "GET", "/eventroutes", None, {}, 200, None),
    ("EventRoutes GetById", "GET", "/eventroutes/nope", None, {}, 404, "EventRouteNotFound"),
    ("EventRoutes Delete", "DELETE", "/eventroutes/nope", None, {}, 404, "EventRouteNotFound"),
    # -- jobs ---------------------------------------------------------------------------
    ("ImportJobs Add", "PUT", "/jobs/imports/j1", {"inputBlobUri": "in.ndjson"}, {}, 400, "ValidationFailed"),
    ("ImportJobs List", "GET", "/jobs/imports", None, {}, 200, None),
    ("ImportJobs GetById", "GET", "/jobs/imports/nope", None, {}, 404, "ImportJobNotFound"),
    ("ImportJobs Cancel", "POST", "/jobs/imports/nope/cancel", None, {}, 404, "ImportJobNotFound"),
    ("DeleteJobs List", "GET", "/jobs/deletions", None, {}, 200, None),
    ("DeleteJobs GetById", "GET", "/jobs/deletions/nope", None, {}, 404, "DeleteJobNotFound"),
]


@pytest.mark.parametrize(("operation", "method", "path", "body", "headers", "status", "code"), ROWS,
                         ids=[f"{r[0]}-{r[5]}-{r[6] or 'ok'}-{i}" for i, r in enumerate(ROWS)])
def test_status_and_error_code(adt: httpx.Client, operation: str, method: str, path: str, body: Any,
                               headers: dict[str, str], status: int, code: str | None) -> None:
    r = adt.request(method, path, json=body, headers=headers)
    got = r.json()["error"]["code"] if r.status_code >= 400 else None
    assert (r.status_code, got) == (status, code), f"{operation}: {r.status_code} {r.text[:300]}"
