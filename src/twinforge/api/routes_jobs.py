"""ADT's /jobs: import jobs (a bulk file of models, twins and relationships) and delete
jobs (everything), run in the background."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from twinforge.api.http import blocking, json_response, read_json, writing
from twinforge.documents import ImportJobDocument, schema_for
from twinforge.errors import InvalidArgument
from twinforge.jobs import JobManager

router = APIRouter()


def jobs_of(request: Request) -> JobManager:
    manager: JobManager = request.app.state.jobs
    return manager


def _listing(jobs: list[dict[str, Any]]) -> Response:
    return json_response({"value": jobs, "nextLink": None})


@router.put("/jobs/imports/{id}", status_code=201, tags=["jobs"], openapi_extra=schema_for(ImportJobDocument),
            summary="Create an import job ({inputBlobUri, outputBlobUri}: paths, file:// or http(s) URLs)")
async def add_import(id: str, request: Request) -> Response:
    job = await writing(request, jobs_of(request).add_import, id, await read_json(request))
    return json_response(job, 201)


@router.get("/jobs/imports", tags=["jobs"], summary="List import jobs")
async def list_imports(request: Request) -> Response:
    return _listing(await blocking(request, jobs_of(request).list_jobs, "imports"))


@router.get("/jobs/imports/{id}", tags=["jobs"], summary="Get an import job")
async def get_import(id: str, request: Request) -> Response:
    return json_response(await blocking(request, jobs_of(request).get, "imports", id))


@router.delete("/jobs/imports/{id}", status_code=204, tags=["jobs"], summary="Delete a finished import job")
async def delete_import(id: str, request: Request) -> Response:
    await writing(request, jobs_of(request).delete_import, id)
    return Response(status_code=204)


@router.post("/jobs/imports/{id}/cancel", tags=["jobs"], summary="Cancel an import job")
async def cancel_import(id: str, request: Request) -> Response:
    return json_response(await writing(request, jobs_of(request).cancel_import, id))


@router.post("/jobs/deletions", status_code=202, tags=["jobs"],
             summary="Start a job that deletes every model, twin and relationship")
async def add_delete(request: Request) -> Response:
    raw = request.query_params.get("timeoutInMinutes")
    try:
        timeout = int(raw) if raw is not None else None
    except ValueError:
        raise InvalidArgument("timeoutInMinutes must be a whole number", code="ValidationFailed") from None
    job = await writing(request, jobs_of(request).add_delete, request.headers.get("operation-id"), timeout)
    response = json_response(job, 202)
    response.headers["Operation-Location"] = str(request.url_for("get_delete", id=job["id"]))
    response.headers["Operation-Id"] = job["id"]
    return response


@router.get("/jobs/deletions", tags=["jobs"], summary="List delete jobs")
async def list_deletes(request: Request) -> Response:
    return _listing(await blocking(request, jobs_of(request).list_jobs, "deletions"))


@router.get("/jobs/deletions/{id}", tags=["jobs"], summary="Get a delete job", name="get_delete")
async def get_delete(id: str, request: Request) -> Response:
    return json_response(await blocking(request, jobs_of(request).get, "deletions", id))
