"""/scenarios: what-if runs on forks of the graph (see docs/simulation.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from twinforge.api.http import blocking, json_response, next_link, page_position, read_json, writing
from twinforge.documents import ScenarioDocument, schema_for
from twinforge.errors import InvalidArgument, MissingDependency

router = APIRouter()


def scenarios_of(request: Request) -> Any:
    """The scenario service, or 501 naming the extra when the simulation extra is not installed."""
    manager = request.app.state.scenarios
    if manager is None:
        raise MissingDependency("scenarios need the simulation extra: pip install 'twinforge[sim]'")
    return manager


def _yaml(body: bytes) -> Any:
    import yaml

    try:
        return yaml.safe_load(body)
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"request body is not valid YAML: {exc}", code="InvalidArgument") from None


async def _document(request: Request) -> Any:
    kind = request.headers.get("content-type", "")
    if "yaml" in kind:
        return await blocking(request, _yaml, await request.body())
    return await read_json(request)


def _scenario_body() -> dict[str, Any]:
    """The scenario document's schema, for JSON and YAML bodies."""
    extra = schema_for(ScenarioDocument)
    content = extra["requestBody"]["content"]
    content["application/yaml"] = content["application/json"]
    return extra


@router.post("/scenarios", status_code=201, tags=["scenarios"], openapi_extra=_scenario_body(),
             summary="Create a scenario from its document (JSON, or YAML with a yaml content type)")
async def create_scenario(request: Request) -> Response:
    entry = await writing(request, scenarios_of(request).create, await _document(request))
    return json_response(entry.to_json(), 201)


@router.get("/scenarios", tags=["scenarios"], summary="List scenarios")
async def list_scenarios(request: Request) -> Response:
    entries = await blocking(request, scenarios_of(request).list_scenarios)
    return json_response({"value": [e.to_json() for e in entries], "nextLink": None})


@router.post("/scenarios/{id}/run", status_code=202, tags=["scenarios"],
             summary="Run a scenario (baseline and variant) in the background")
async def run_scenario(id: str, request: Request) -> Response:
    entry = await writing(request, scenarios_of(request).start, id)
    return json_response(entry.to_json(), 202)


@router.get("/scenarios/{id}", tags=["scenarios"], summary="A scenario's status and progress")
async def get_scenario(id: str, request: Request) -> Response:
    return json_response((await blocking(request, scenarios_of(request).get, id)).to_json())


@router.get("/scenarios/{id}/results", tags=["scenarios"],
            summary="KPIs of the variant, of the baseline, and their deltas")
async def scenario_results(id: str, request: Request) -> Response:
    return json_response(await blocking(request, scenarios_of(request).results, id))


@router.get("/scenarios/{id}/history", tags=["scenarios"],
            summary="A simulated series: ?twin=&name=&run=variant|baseline (as twin history)")
async def scenario_history(id: str, request: Request) -> Response:
    q = request.query_params
    twin, name = q.get("twin"), q.get("name")
    if not twin or not name:
        raise InvalidArgument("give twin= and name=", code="InvalidArgument")
    size, after = page_position(request)
    rows = await blocking(request, scenarios_of(request).history, id, q.get("run", "variant"), twin, name,
                          start=q.get("from"), end=q.get("to"), bucket=q.get("bucket"), agg=q.get("agg"),
                          after=int(after) if after is not None else None, limit=size)
    body: dict[str, Any] = {"value": [{"time": r["time"], "value": r["value"]} for r in rows]}
    body["nextLink"] = next_link(request, [size, rows[-1]["_ts"]]) if len(rows) == size else None
    return json_response(body)


@router.delete("/scenarios/{id}", status_code=204, tags=["scenarios"], summary="Delete a scenario and its runs")
async def delete_scenario(id: str, request: Request) -> Response:
    await writing(request, scenarios_of(request).delete, id)
    return Response(status_code=204)
