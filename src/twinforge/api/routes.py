"""ADT data-plane routes: models, digitaltwins, relationships, incomingrelationships, components."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from twinforge.api.health import health
from twinforge.api.http import (
    QUERY_PAGE_SIZE,
    blocking,
    decode_token,
    encode_token,
    json_response,
    next_link,
    page_position,
    page_size,
    raw_json_response,
    read_json,
    writing,
)
from twinforge.errors import InvalidArgument, TwinforgeError
from twinforge.graph import TwinGraph

router = APIRouter()


def graph_of(request: Request) -> TwinGraph:
    graph: TwinGraph = request.app.state.graph
    return graph


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() == "true"


def _if_none_match(request: Request) -> bool:
    value = request.headers.get("if-none-match")
    if value is None:
        return False
    if value.strip() != "*":
        raise InvalidArgument("If-None-Match supports only '*'", code="InvalidArgument")
    return True


def _updated(doc: dict[str, Any]) -> Response:
    """ADT's answer to a successful PATCH: no body, the new ETag."""
    return Response(status_code=204, headers={"ETag": doc["$etag"]})


def _page(items: list[Any], request: Request, token: Any | None) -> Response:
    body: dict[str, Any] = {"value": items}
    size, _ = page_position(request)
    body["nextLink"] = next_link(request, [size, token]) if token is not None else None
    return json_response(body)


# -- models --------------------------------------------------------------


@router.post("/models", status_code=201, tags=["models"], summary="Upload a batch of DTDL models")
async def upload_models(request: Request) -> Response:
    documents = await read_json(request)
    infos = await writing(request, graph_of(request).add_models, documents)
    return json_response([i.to_json(include_definition=False) for i in infos], 201)


@router.get("/models", tags=["models"], summary="List models")
async def list_models(request: Request) -> Response:
    deps = request.query_params.getlist("dependenciesFor")
    include = _flag(request, "includeModelDefinition")
    infos = await blocking(request, graph_of(request).list_models, deps or None)
    size, position = page_position(request)
    start = int(position or 0)
    chunk = infos[start:start + size]
    more = start + size if start + size < len(infos) else None
    return _page([i.to_json(include_definition=include) for i in chunk], request, more)


@router.get("/models/{model_id}", tags=["models"], summary="Get a model")
async def get_model(model_id: str, request: Request) -> Response:
    info = await blocking(request, graph_of(request).get_model, model_id)
    return json_response(info.to_json(include_definition=_flag(request, "includeModelDefinition")))


@router.patch("/models/{model_id}", status_code=204, tags=["models"],
              summary="Decommission a model ([{op: replace, path: /decommissioned, value: true}])")
async def patch_model(model_id: str, request: Request) -> Response:
    patch = await read_json(request)
    ok = (isinstance(patch, list) and len(patch) == 1 and isinstance(patch[0], dict)
          and patch[0].get("op") == "replace" and patch[0].get("path") == "/decommissioned"
          and patch[0].get("value") is True)
    if not ok:
        raise InvalidArgument("the only model update is "
                              '[{"op": "replace", "path": "/decommissioned", "value": true}]',
                              code="JsonPatchInvalid")
    await writing(request, graph_of(request).decommission_model, model_id)
    return Response(status_code=204)


@router.delete("/models/{model_id}", status_code=204, tags=["models"], summary="Delete a model")
async def delete_model(model_id: str, request: Request) -> Response:
    await writing(request, graph_of(request).delete_model, model_id)
    return Response(status_code=204)


# -- twins ---------------------------------------------------------------


@router.get("/digitaltwins/{twin_id}", tags=["digitaltwins"], summary="Get a twin")
async def get_twin(twin_id: str, request: Request) -> Response:
    text, etag = await blocking(request, graph_of(request).get_twin_raw, twin_id)
    return raw_json_response(text, etag=etag)


@router.put("/digitaltwins/{twin_id}", tags=["digitaltwins"], summary="Create or replace a twin")
async def put_twin(twin_id: str, request: Request) -> Response:
    body = await read_json(request)
    # Creates that arrive together share one transaction, each checked on its own.
    result = await request.app.state.puts.submit((twin_id, body, _if_none_match(request)))
    if isinstance(result, TwinforgeError):
        raise result
    return json_response(result, etag=result["$etag"])


@router.patch("/digitaltwins/{twin_id}", status_code=204, tags=["digitaltwins"],
              summary="Update a twin with JSON Patch")
async def patch_twin(twin_id: str, request: Request) -> Response:
    patch = await read_json(request)
    doc = await writing(request, graph_of(request).update_twin, twin_id, patch, if_match=request.headers.get("if-match"))
    return _updated(doc)


@router.delete("/digitaltwins/{twin_id}", status_code=204, tags=["digitaltwins"],
               summary="Delete a twin")
async def delete_twin(twin_id: str, request: Request) -> Response:
    await writing(request, graph_of(request).delete_twin, twin_id, if_match=request.headers.get("if-match"))
    return Response(status_code=204)


# -- components ----------------------------------------------------------


@router.get("/digitaltwins/{twin_id}/components/{component}", tags=["components"],
            summary="Get a component")
async def get_component(twin_id: str, component: str, request: Request) -> Response:
    graph = graph_of(request)

    def read() -> tuple[Any, str]:
        return graph.get_component(twin_id, component), graph.get_twin_raw(twin_id)[1]

    value, etag = await blocking(request, read)
    return json_response(value, etag=etag)


@router.patch("/digitaltwins/{twin_id}/components/{component}", status_code=204,
              tags=["components"], summary="Update a component with JSON Patch")
async def patch_component(twin_id: str, component: str, request: Request) -> Response:
    patch = await read_json(request)
    doc = await writing(request, graph_of(request).update_component, twin_id, component, patch,
                                             if_match=request.headers.get("if-match"))
    return _updated(doc)


# -- relationships -------------------------------------------------------


@router.get("/digitaltwins/{twin_id}/relationships", tags=["relationships"],
            summary="List a twin's outgoing relationships")
async def list_relationships(twin_id: str, request: Request) -> Response:
    size, position = page_position(request)
    after = str(position or "")
    name = request.query_params.get("relationshipName")
    items = await blocking(request, graph_of(request).list_relationships, twin_id, name, after=after, limit=size + 1)
    more = items[size - 1]["$relationshipId"] if len(items) > size else None
    return _page(items[:size], request, more)


@router.get("/digitaltwins/{twin_id}/incomingrelationships", tags=["relationships"],
            summary="List relationships that point at a twin")
async def list_incoming(twin_id: str, request: Request) -> Response:
    size, position = page_position(request)
    after: tuple[str, str] = (str(position[0]), str(position[1])) if position else ("", "")
    items = await blocking(request, graph_of(request).list_incoming, twin_id, after=after, limit=size + 1)
    last = items[size - 1] if len(items) > size else None
    more = [last["$sourceId"], last["$relationshipId"]] if last else None
    return _page(items[:size], request, more)


@router.get("/digitaltwins/{twin_id}/relationships/{rel_id}", tags=["relationships"],
            summary="Get a relationship")
async def get_relationship(twin_id: str, rel_id: str, request: Request) -> Response:
    doc = await blocking(request, graph_of(request).get_relationship, twin_id, rel_id)
    return json_response(doc, etag=doc["$etag"])


@router.put("/digitaltwins/{twin_id}/relationships/{rel_id}", tags=["relationships"],
            summary="Create or replace a relationship")
async def put_relationship(twin_id: str, rel_id: str, request: Request) -> Response:
    body = await read_json(request)
    doc = await writing(request, graph_of(request).create_relationship, twin_id, rel_id, body,
                                                if_none_match=_if_none_match(request))
    return json_response(doc, etag=doc["$etag"])


@router.patch("/digitaltwins/{twin_id}/relationships/{rel_id}", status_code=204,
              tags=["relationships"], summary="Update a relationship with JSON Patch")
async def patch_relationship(twin_id: str, rel_id: str, request: Request) -> Response:
    patch = await read_json(request)
    doc = await writing(request, graph_of(request).update_relationship, twin_id, rel_id, patch,
                                                if_match=request.headers.get("if-match"))
    return _updated(doc)


@router.delete("/digitaltwins/{twin_id}/relationships/{rel_id}", status_code=204,
               tags=["relationships"], summary="Delete a relationship")
async def delete_relationship(twin_id: str, rel_id: str, request: Request) -> Response:
    await writing(request, graph_of(request).delete_relationship, twin_id, rel_id, if_match=request.headers.get("if-match"))
    return Response(status_code=204)


# -- query ---------------------------------------------------------------


@router.post("/query", tags=["query"], summary="Run an ADT query (paged with continuationToken)")
async def query(request: Request) -> Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InvalidArgument('expected {"query": "SELECT ...", "continuationToken": ...}', code="InvalidArgument")
    token = body.get("continuationToken")
    if token:
        decoded = decode_token(str(token))
        if not (isinstance(decoded, list) and len(decoded) == 3 and isinstance(decoded[1], int)
                and isinstance(decoded[2], int)):
            raise InvalidArgument("continuationToken is not valid", code="BadRequest")
        text, offset, size = decoded
    else:
        text, offset = body.get("query"), 0
        size = page_size(request, default=QUERY_PAGE_SIZE)
    if not isinstance(text, str):
        raise InvalidArgument("'query' must be a string", code="InvalidArgument")
    state = request.app.state
    rows, more = await state.workers.query(graph_of(request).query_page, text, offset=offset, size=size,
                                           timeout=state.query_timeout)
    next_token = encode_token([text, offset + len(rows), size]) if more else None
    return json_response({"value": rows, "continuationToken": next_token})


@router.get("/health", tags=["service"],
            summary="Liveness: ok, degraded (a connector reconnecting) or failing (503: a connector stopped)")
async def health_route(request: Request) -> Response:
    status, body = health(request.app)
    return json_response(body, status)
