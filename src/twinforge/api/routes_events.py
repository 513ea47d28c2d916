"""ADT's /eventroutes, and /endpoints (the sinks routes deliver to)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from twinforge.api.http import blocking, json_response, read_json, writing
from twinforge.documents import EndpointDocument, RouteDocument, schema_for
from twinforge.events.routes import RouteManager

router = APIRouter()


def routes_of(request: Request) -> RouteManager:
    manager: RouteManager = request.app.state.routes
    return manager


@router.put("/endpoints/{name}", tags=["events"], openapi_extra=schema_for(EndpointDocument), summary="Create or replace an endpoint (mqtt or webhook)")
async def put_endpoint(name: str, request: Request) -> Response:
    endpoint = await writing(request, routes_of(request).put_endpoint, name, await read_json(request))
    return json_response(endpoint.to_json())


@router.get("/endpoints", tags=["events"], summary="List endpoints")
async def list_endpoints(request: Request) -> Response:
    return json_response({"value": [e.to_json() for e in await blocking(request, routes_of(request).endpoints)], "nextLink": None})


@router.get("/endpoints/{name}", tags=["events"], summary="Get an endpoint")
async def get_endpoint(name: str, request: Request) -> Response:
    return json_response((await blocking(request, routes_of(request).endpoint, name)).to_json())


@router.delete("/endpoints/{name}", status_code=204, tags=["events"], summary="Delete an endpoint")
async def delete_endpoint(name: str, request: Request) -> Response:
    await writing(request, routes_of(request).delete_endpoint, name)
    return Response(status_code=204)


@router.put("/eventroutes/{route_id}", status_code=204, tags=["events"], openapi_extra=schema_for(RouteDocument),
            summary="Create or replace an event route: {endpointName, filter}")
async def put_route(route_id: str, request: Request) -> Response:
    await writing(request, routes_of(request).put_route, route_id, await read_json(request))
    return Response(status_code=204)


@router.get("/eventroutes", tags=["events"], summary="List event routes")
async def list_routes(request: Request) -> Response:
    return json_response({"value": await blocking(request, routes_of(request).routes), "nextLink": None})


@router.get("/eventroutes/{route_id}", tags=["events"], summary="Get an event route")
async def get_route(route_id: str, request: Request) -> Response:
    return json_response(await blocking(request, routes_of(request).route, route_id))


@router.delete("/eventroutes/{route_id}", status_code=204, tags=["events"], summary="Delete an event route")
async def delete_route(route_id: str, request: Request) -> Response:
    await writing(request, routes_of(request).delete_route, route_id)
    return Response(status_code=204)
