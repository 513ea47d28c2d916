"""/audit: who changed what, when, from where, with what outcome (admins only under --auth)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from twinforge.api.http import blocking, json_response
from twinforge.auth import read_audit

router = APIRouter()


@router.get("/audit", tags=["service"], summary="The audit log: ?twin=&actor=&from=&to= (admins)")
async def audit(request: Request) -> Response:
    q = request.query_params
    rows = await blocking(request, read_audit, request.app.state.graph, twin=q.get("twin"), actor=q.get("actor"),
                          start=q.get("from"), end=q.get("to"))
    return json_response({"value": rows, "nextLink": None})
