"""The dashboard at `/ui`: a single page served from the package, talking only to the public API.

Every `/ui/...` path answers with the same page (deep links: `/ui/twins/{id}`,
`/ui/graph?q=...`, `/ui/query?q=...`, `/ui/models`, `/ui/scene/{id}`, `/ui/scenarios`,
`/ui/alerts`); the page reads the path and draws the view. Scripts and the pinned
third-party libraries (three.js, uPlot, d3-force; see static/vendor/README.md) are served
from `/ui/static/`. Nothing is fetched from a CDN.
"""

from __future__ import annotations

import mimetypes
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

from twinforge.errors import NotFound

router = APIRouter(include_in_schema=False)
_STATIC = resources.files("twinforge.ui").joinpath("static")
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml",
          ".png": "image/png", ".json": "application/json"}


def _read(path: str) -> bytes:
    parts = [p for p in path.split("/") if p]
    if not parts or any(p in (".", "..") or p.startswith(".") for p in parts):
        raise NotFound(f"no dashboard file '{path}'")
    node = _STATIC
    for part in parts:
        node = node.joinpath(part)
    if not node.is_file():
        raise NotFound(f"no dashboard file '{path}'")
    return node.read_bytes()


@router.get("/ui/static/{path:path}")
async def _static(path: str) -> Response:
    data = _read(path)
    suffix = "." + path.rsplit(".", 1)[-1] if "." in path else ""
    media = _TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"
    return Response(data, media_type=media, headers={"Cache-Control": "no-cache"})


@router.get("/ui")
@router.get("/ui/{path:path}")
async def _page(path: str = "") -> Response:
    return Response(_read("index.html"), media_type="text/html; charset=utf-8",
                    headers={"Cache-Control": "no-cache"})


__all__ = ["router"]
