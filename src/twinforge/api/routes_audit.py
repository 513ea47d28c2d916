"""/audit: who changed what, when, from where, with what outcome (admins only under --auth)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from twinforge.api.http import blocking, json_response, next_link, page_position
from twinforge.auth import read_audit
from twinforge.errors import InvalidArgument

router = APIRouter()


@router.get("/audit", tags=["service"],
            summary="The audit log, oldest first, a page at a time: ?twin=&actor=&from=&to= (admins)")
async def audit(request: Request) -> Response:
    q = request.query_params
    size, after = page_position(request)
    if after is not None and not (isinstance(after, list) and len(after) == 2):
        raise InvalidArgument("continuationToken is not valid", code="BadRequest")
    rows, more = await blocking(request, read_audit, request.app.state.graph, twin=q.get("twin"),
                                actor=q.get("actor"), start=q.get("from"), end=q.get("to"),
                                after=tuple(after) if after else None, limit=size)
    return json_response({"value": rows, "nextLink": next_link(request, [size, list(more)]) if more else None})
