"""`/docs` (Swagger UI) and `/redoc`, with their scripts served from the package."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from twinforge.errors import NotFound

router = APIRouter(include_in_schema=False)
_TYPES = {".js": "text/javascript", ".css": "text/css"}
_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js")


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url=request.app.openapi_url, title="twinforge API",
                               swagger_js_url="/static/docs/swagger-ui-bundle.js",
                               swagger_css_url="/static/docs/swagger-ui.css", swagger_favicon_url="",
                               swagger_ui_parameters={"validatorUrl": None})  # no calls to an outside validator


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(openapi_url=request.app.openapi_url, title="twinforge API",
                          redoc_js_url="/static/docs/redoc.standalone.js", redoc_favicon_url="",
                          with_google_fonts=False)


@router.get("/static/docs/{name}")
async def static_file(name: str) -> Response:
    if name not in _FILES:
        raise NotFound(f"there is no file '{name}'")
    data = files("twinforge.api").joinpath("static", name).read_bytes()
    suffix = name[name.rindex("."):]
    return Response(data, media_type=_TYPES[suffix], headers={"Cache-Control": "public, max-age=86400"})
