"""The AAS Part 2 read API as HTTP routes (`/shells`, `/submodels`, `/description`): a second
face over the same graph, answering in the AAS API's own shapes and errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from twinforge.api.http import blocking, json_response
from twinforge.errors import InvalidArgument, NotFound
from twinforge.history.timeutil import from_us, now_us
from twinforge.interop import aas_api as api

router = APIRouter()


async def _answer(request: Request, fn: Callable[[], Any]) -> Response:
    """The result of ``fn`` (run in the read pool) as JSON, or a Part 2 error body."""
    try:
        return json_response(await blocking(request, fn))
    except InvalidArgument as exc:
        return json_response(api.error_body(400, str(exc), from_us(now_us())), 400)
    except NotFound as exc:
        return json_response(api.error_body(404, str(exc), from_us(now_us())), 404)


def _q(request: Request, name: str) -> str | None:
    return request.query_params.get(name)


@router.get("/description", tags=["aas"], summary="AAS Part 2: the service profiles this server implements")
async def description(request: Request) -> Response:
    return json_response({"profiles": api.PROFILES})


@router.get("/shells", tags=["aas"], summary="AAS Part 2: all shells, ?idShort=&assetIds=&limit=&cursor=")
async def get_shells(request: Request) -> Response:
    graph = request.app.state.graph
    ids = request.query_params.getlist("assetIds") or None
    return await _answer(request, lambda: api.page(api.shells(graph, id_short=_q(request, "idShort"), asset_ids=ids),
                                                   _q(request, "limit"), _q(request, "cursor")))


@router.get("/shells/{aas_id}", tags=["aas"], summary="AAS Part 2: one shell (its id base64url-encoded)")
async def get_shell(aas_id: str, request: Request) -> Response:
    graph = request.app.state.graph
    return await _answer(request, lambda: api.shell(graph, api.decode_id(aas_id)))


@router.get("/shells/{aas_id}/asset-information", tags=["aas"], summary="AAS Part 2: a shell's asset information")
async def get_asset_information(aas_id: str, request: Request) -> Response:
    graph = request.app.state.graph
    return await _answer(request, lambda: api.shell(graph, api.decode_id(aas_id)).get("assetInformation", {}))


@router.get("/shells/{aas_id}/submodel-refs", tags=["aas"], summary="AAS Part 2: a shell's submodel references")
async def get_submodel_refs(aas_id: str, request: Request) -> Response:
    graph = request.app.state.graph
    return await _answer(request, lambda: api.page(api.shell(graph, api.decode_id(aas_id)).get("submodels", []),
                                                   _q(request, "limit"), _q(request, "cursor")))


@router.get("/submodels", tags=["aas"], summary="AAS Part 2: all submodels, ?semanticId=&idShort=&limit=&cursor=")
async def get_submodels(request: Request) -> Response:
    graph = request.app.state.graph
    semantic = _q(request, "semanticId")

    def run() -> Any:
        wanted = api.decode_id(semantic) if semantic else None
        return api.page(api.submodels(graph, semantic_id=wanted, id_short=_q(request, "idShort")),
                        _q(request, "limit"), _q(request, "cursor"))
    return await _answer(request, run)


@router.get("/submodels/{sm_id}", tags=["aas"], summary="AAS Part 2: one submodel with its current values")
async def get_submodel(sm_id: str, request: Request) -> Response:
    graph = request.app.state.graph
    return await _answer(request, lambda: api.submodel(graph, api.decode_id(sm_id)))


@router.get("/submodels/{sm_id}/$value", tags=["aas"], summary="AAS Part 2: a submodel's values (ValueOnly)")
async def get_submodel_value(sm_id: str, request: Request) -> Response:
    graph = request.app.state.graph
    return await _answer(request, lambda: api.submodel_value(api.submodel(graph, api.decode_id(sm_id))))


@router.get("/submodels/{sm_id}/$metadata", tags=["aas"], summary="AAS Part 2: a submodel without its elements")
async def get_submodel_metadata(sm_id: str, request: Request) -> Response:
    graph = request.app.state.graph
    return await _answer(request, lambda: api.metadata(api.submodel(graph, api.decode_id(sm_id))))


@router.get("/submodels/{sm_id}/submodel-elements", tags=["aas"], summary="AAS Part 2: a submodel's elements")
async def get_elements(sm_id: str, request: Request) -> Response:
    graph = request.app.state.graph
    return await _answer(request, lambda: api.page(api.submodel(graph, api.decode_id(sm_id)).get("submodelElements", []),
                                                   _q(request, "limit"), _q(request, "cursor")))


@router.get("/submodels/{sm_id}/submodel-elements/{path}", tags=["aas"],
            summary="AAS Part 2: one submodel element by its idShortPath (a.b[2].c)")
async def get_element(sm_id: str, path: str, request: Request) -> Response:
    graph = request.app.state.graph
    return await _answer(request, lambda: api.element(api.submodel(graph, api.decode_id(sm_id)), path))


@router.get("/submodels/{sm_id}/submodel-elements/{path}/$value", tags=["aas"],
            summary="AAS Part 2: one submodel element's value (ValueOnly)")
async def get_element_value(sm_id: str, path: str, request: Request) -> Response:
    graph = request.app.state.graph
    return await _answer(request, lambda: api.value_only(api.element(api.submodel(graph, api.decode_id(sm_id)), path)))


__all__ = ["router"]
