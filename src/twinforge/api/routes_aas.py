"""The AAS Part 2 read API as HTTP routes: a second face over the same graph, answering in the
AAS API's own shapes and errors.

- `GET /description`
- `GET /shells[/$reference]`, `/shells/{aasId}[/$reference]`, `/shells/{aasId}/asset-information`,
  `/shells/{aasId}/submodel-refs`, and the submodels through their shell
  (`/shells/{aasId}/submodels/{smId}/...`, as below)
- `GET /submodels[/$metadata|$value|$reference|$path]`,
  `/submodels/{smId}[/$metadata|$value|$reference|$path]`,
  `/submodels/{smId}/submodel-elements[/$metadata|$value|$reference|$path]`,
  `/submodels/{smId}/submodel-elements/{idShortPath}[/$metadata|$value|$reference|$path]`

Identifiers are base64url; ``limit``/``cursor`` page lists; ``level`` (deep, core) and
``extent`` (withoutBlobValue, withBlobValue) shape submodels and elements.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from twinforge.api.http import blocking, json_response
from twinforge.errors import InvalidArgument, NotFound
from twinforge.history.timeutil import from_us, now_us
from twinforge.interop import aas_api as api
from twinforge.interop.aas import export_document, shell_twins, stored_files

# Errors here are Part 2 `Result` bodies, not ADT's error object.
RESULT_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["messages"],
    "properties": {"messages": {"type": "array", "items": {"type": "object", "properties": {
        "code": {"type": "string"}, "messageType": {"type": "string"}, "text": {"type": "string"},
        "timestamp": {"type": "string"}, "correlationId": {"type": "string"}}}}}}
router = APIRouter(responses={
    status: {"description": what, "content": {"application/json": {"schema": RESULT_SCHEMA}}}
    for status, what in ((400, "Not valid (an identifier that is not base64url, a bad limit, level or extent)"),
                         (404, "No such shell, submodel, element or resource"))})
MODIFIERS = ("$metadata", "$value", "$reference", "$path")


class _Query:
    def __init__(self, request: Request) -> None:
        q = request.query_params
        self.limit, self.cursor = q.get("limit"), q.get("cursor")
        self.level, self.extent = q.get("level"), q.get("extent")
        self.id_short, self.semantic = q.get("idShort"), q.get("semanticId")
        self.asset_ids = q.getlist("assetIds") or None

    def page(self, items: list[Any]) -> dict[str, Any]:
        return api.page(items, self.limit, self.cursor)


class _Attachment:
    """A File element's content, from the files kept with the shells (an AASX's)."""

    def __init__(self, sm: dict[str, Any], path: str) -> None:
        self.element = api.element(sm, path)
        if self.element.get("modelType") != "File":
            raise InvalidArgument(f"'{path}' is a {self.element.get('modelType')}, not a File")


async def _answer(request: Request, fn: Any) -> Response:
    """The result of ``fn`` (run in the read pool) as JSON, or a Part 2 error body."""
    try:
        result = await blocking(request, fn)
        if isinstance(result, _Attachment):
            graph = request.app.state.graph
            name = str(result.element.get("value") or "")
            found = await blocking(request, lambda: stored_files(graph, shell_twins(graph)).get(name))
            if found is None:
                raise NotFound(f"the file '{name}' is not kept here", code="FileNotFound")
            return Response(found[1], media_type=result.element.get("contentType") or found[0])
        return json_response(result)
    except InvalidArgument as exc:
        return json_response(api.error_body(400, str(exc), from_us(now_us())), 400)
    except NotFound as exc:
        return json_response(api.error_body(404, str(exc), from_us(now_us())), 404)


def _split(rest: str) -> tuple[list[str], str | None]:
    parts = [p for p in rest.split("/") if p]
    if parts and parts[-1] in MODIFIERS:
        return parts[:-1], parts[-1]
    return parts, None


def _one_submodel(sm: dict[str, Any], modifier: str | None, q: _Query) -> Any:
    if modifier == "$value":
        return api.submodel_value(api.shaped(sm, q.level, q.extent))
    if modifier == "$metadata":
        return api.metadata(sm)
    if modifier == "$reference":
        return api.reference("Submodel", sm["id"])
    if modifier == "$path":
        return api.paths(sm.get("submodelElements") or [])
    return api.shaped(sm, q.level, q.extent)


def _one_element(sm: dict[str, Any], path: str, modifier: str | None, q: _Query) -> Any:
    el = api.element(sm, path)
    if modifier == "$value":  # ValueOnly of one element: {idShort: value}
        return {el.get("idShort") or path: api.value_only(api.shaped(el, q.level, q.extent))}
    if modifier == "$metadata":
        return api.metadata(el)
    if modifier == "$reference":
        return api.element_reference(sm, path)
    if modifier == "$path":
        if el.get("modelType") not in ("SubmodelElementCollection", "SubmodelElementList", "Entity"):
            raise InvalidArgument(f"a {el.get('modelType')} has no paths below it ($path is for collections, "
                                  "lists and entities)")
        inner: Any = el.get("value") if el.get("modelType") != "Entity" else el.get("statements")
        return [path, *api.paths([c for c in inner or [] if isinstance(c, dict)], path)]
    return api.shaped(el, q.level, q.extent)


def _submodel_tree(sm: dict[str, Any], parts: list[str], modifier: str | None, q: _Query) -> Any:
    """What is asked below one submodel: itself, its elements, or one element."""
    api.check_modifiers(q.level, q.extent)
    if not parts:
        return _one_submodel(sm, modifier, q)
    if len(parts) == 3 and parts[0] == "submodel-elements" and parts[2] == "attachment" and modifier is None:
        return _Attachment(sm, parts[1])
    if parts[0] != "submodel-elements" or len(parts) > 2:
        raise NotFound("no such resource in the AAS API", code="NotFound")
    if len(parts) == 1:
        elements = sm.get("submodelElements") or []
        if modifier is None:
            return q.page([api.shaped(e, q.level, q.extent, 1) for e in elements])
        if modifier == "$path":
            return q.page(api.paths(elements))
        return q.page([_one_element(sm, e["idShort"], modifier, q) for e in elements if e.get("idShort")])
    return _one_element(sm, parts[1], modifier, q)


@router.get("/description", tags=["aas"], summary="AAS Part 2: the service profiles this server implements")
async def description(request: Request) -> Response:
    return json_response({"profiles": api.PROFILES})


@router.get("/serialization", tags=["aas"],
            summary="AAS Part 2: an environment of shells and submodels, ?aasIds=&submodelIds=&includeConceptDescriptions=")
async def serialization(request: Request) -> Response:
    graph = request.app.state.graph
    q = request.query_params

    def run() -> Any:
        aas_ids = [api.decode_id(v) for v in q.getlist("aasIds")]
        sm_ids = [api.decode_id(v) for v in q.getlist("submodelIds")]
        concepts = q.get("includeConceptDescriptions", "true").lower()
        if concepts not in ("true", "false"):
            raise InvalidArgument(f"includeConceptDescriptions must be true or false, not '{concepts}'")
        return export_document(graph, aas_ids or None, sm_ids or None, concepts == "true")

    return await _answer(request, run)


@router.get("/shells", tags=["aas"], summary="AAS Part 2: all shells, ?idShort=&assetIds=&limit=&cursor=")
async def get_shells(request: Request) -> Response:
    return await get_shell_path("", request)


@router.get("/shells/{rest:path}", tags=["aas"],
            summary="AAS Part 2: a shell ($reference), its asset information, submodel references and submodels")
async def get_shell_path(rest: str, request: Request) -> Response:
    graph, q = request.app.state.graph, _Query(request)
    parts, modifier = _split(rest)

    def run() -> Any:
        if not parts:
            if modifier not in (None, "$reference"):
                raise NotFound("no such resource in the AAS API", code="NotFound")
            found = api.shells(graph, id_short=q.id_short, asset_ids=q.asset_ids)
            items = [api.reference("AssetAdministrationShell", s["id"]) for s in found] if modifier else found
            return q.page(items)
        shell = api.shell(graph, api.decode_id(parts[0]))
        tail = parts[1:]
        if not tail:
            if modifier not in (None, "$reference"):
                raise NotFound("no such resource in the AAS API", code="NotFound")
            return api.reference("AssetAdministrationShell", shell["id"]) if modifier else shell
        if tail == ["asset-information"] and modifier is None:
            return shell.get("assetInformation", {})
        if tail == ["submodel-refs"] and modifier is None:
            return q.page(shell.get("submodels") or [])
        if tail[0] == "submodels" and len(tail) >= 2:
            wanted = api.decode_id(tail[1])
            refs = {ref["keys"][-1]["value"] for ref in shell.get("submodels") or []}
            if wanted not in refs:
                raise NotFound(f"the shell has no submodel '{wanted}'", code="SubmodelNotFound")
            return _submodel_tree(api.submodel(graph, wanted), tail[2:], modifier, q)
        raise NotFound("no such resource in the AAS API", code="NotFound")

    return await _answer(request, run)


@router.get("/submodels", tags=["aas"], summary="AAS Part 2: all submodels, ?semanticId=&idShort=&limit=&cursor=")
async def get_submodels(request: Request) -> Response:
    return await get_submodel_path("", request)


@router.get("/submodels/{rest:path}", tags=["aas"],
            summary="AAS Part 2: a submodel, its elements, one element by idShortPath, with $metadata, $value, "
                    "$reference or $path")
async def get_submodel_path(rest: str, request: Request) -> Response:
    graph, q = request.app.state.graph, _Query(request)
    parts, modifier = _split(rest)

    def run() -> Any:
        api.check_modifiers(q.level, q.extent)
        if not parts:
            semantic = api.decode_id(q.semantic) if q.semantic else None
            found = api.submodels(graph, semantic_id=semantic, id_short=q.id_short)
            if modifier == "$path":  # one list of idShortPaths across the submodels
                return q.page([path for sm in found for path in api.paths(sm.get("submodelElements") or [])])
            return q.page([_one_submodel(sm, modifier, q) for sm in found])
        return _submodel_tree(api.submodel(graph, api.decode_id(parts[0])), parts[1:], modifier, q)

    return await _answer(request, run)


__all__ = ["router"]
