"""Twins' geometry over REST: `PUT|GET|DELETE /digitaltwins/{id}/geometry` and its transform."""

from __future__ import annotations

import hashlib
import json

from fastapi import APIRouter, Request
from fastapi.responses import Response

from twinforge.api.http import blocking, json_response, read_json, writing
from twinforge.geometry import Geometry, Transform

router = APIRouter()


def _geometry(request: Request) -> Geometry:
    return Geometry(request.app.state.graph.store)


@router.get("/geometry", tags=["geometry"], summary="The twins that have geometry, with their transforms")
async def list_geometry(request: Request) -> Response:
    return json_response({"value": await blocking(request, _geometry(request).placed), "nextLink": None})


@router.put("/digitaltwins/{twin_id}/geometry", tags=["geometry"],
            summary="Upload a twin's glTF 2.0 geometry (GLB or glTF JSON); optional "
                    "?translation=x,y,z&rotation=x,y,z,w&scale=s places it")
async def put_geometry(twin_id: str, request: Request) -> Response:
    data = await request.body()
    transform = Transform.from_query(request.query_params)
    graph = request.app.state.graph

    def put() -> dict[str, object]:
        graph.get_twin_raw(twin_id)  # 404 for an unknown twin
        existed = graph.store.get_blob(f"geometry/{twin_id}") is not None
        info = _geometry(request).put(twin_id, data, request.headers.get("content-type"), transform)
        info["created"] = not existed
        return info

    info = await writing(request, put)
    return json_response(info, 201 if info.pop("created") else 200)


@router.get("/digitaltwins/{twin_id}/geometry", tags=["geometry"],
            summary="A twin's geometry as uploaded (its transform in the Twinforge-Transform header)")
async def get_geometry(twin_id: str, request: Request) -> Response:
    graph = request.app.state.graph

    def get() -> tuple[str, bytes, str]:
        graph.get_twin_raw(twin_id)
        geometry = _geometry(request)
        content_type, data = geometry.get(twin_id)
        return content_type, data, json.dumps(geometry.transform(twin_id).to_json(), separators=(",", ":"))

    content_type, data, transform = await blocking(request, get)
    etag = f'W/"{hashlib.sha1(data).hexdigest()[:16]}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(data, media_type=content_type,
                    headers={"ETag": etag, "Twinforge-Transform": transform, "Cache-Control": "no-cache"})


@router.delete("/digitaltwins/{twin_id}/geometry", status_code=204, tags=["geometry"],
               summary="Delete a twin's geometry")
async def delete_geometry(twin_id: str, request: Request) -> Response:
    graph = request.app.state.graph

    def delete() -> None:
        graph.get_twin_raw(twin_id)
        geometry = _geometry(request)
        geometry.get(twin_id)  # 404 GeometryNotFound
        geometry.delete(twin_id)

    await writing(request, delete)
    return Response(status_code=204)


@router.get("/digitaltwins/{twin_id}/geometry/transform", tags=["geometry"],
            summary="Where a twin's geometry sits: {translation, rotation, scale}")
async def get_transform(twin_id: str, request: Request) -> Response:
    graph = request.app.state.graph

    def get() -> dict[str, object]:
        graph.get_twin_raw(twin_id)
        return _geometry(request).info(twin_id)

    return json_response(await blocking(request, get))


@router.put("/digitaltwins/{twin_id}/geometry/transform", tags=["geometry"],
            summary="Move a twin's geometry without uploading it again")
async def put_transform(twin_id: str, request: Request) -> Response:
    transform = Transform.from_json(await read_json(request))
    graph = request.app.state.graph

    def put() -> dict[str, object]:
        graph.get_twin_raw(twin_id)
        geometry = _geometry(request)
        geometry.get(twin_id)
        geometry.set_transform(twin_id, transform)
        return geometry.info(twin_id)

    return json_response(await writing(request, put))
