"""Predict and act over REST: detectors, RUL models, forecasts, alert rules and alerts,
work orders and maintenance plans (see docs/predict.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from twinforge.api.http import (
    blocking,
    body_limit,
    json_response,
    next_link,
    page_position,
    read_bytes,
    read_json,
    writing,
)
from twinforge.documents import (
    DetectorDocument,
    RulDocument,
    RuleDocument,
    WorkOrderChange,
    WorkOrderDocument,
    schema_for,
)
from twinforge.errors import InvalidArgument, MissingDependency, NotFound
from twinforge.maintenance import WorkOrders

router = APIRouter()


def _analytics(request: Request) -> Any:
    """The detectors and RUL models, or 501 naming the extra when it is not installed."""
    engine = request.app.state.analytics
    if engine is None:
        raise MissingDependency("detectors and RUL models need the predict extra: pip install 'twinforge[predict]'")
    return engine


def _alerts(request: Request) -> Any:
    alerts = request.app.state.alerts
    if alerts is None:
        raise MissingDependency("alert rules need the predict extra: pip install 'twinforge[predict]'")
    return alerts


def _optional(module: str, what: str) -> Any:
    """An analytics module, or 501 naming the extra that brings what it needs."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(f"{what} need the predict extra ({exc.name} is missing): "
                                "pip install 'twinforge[predict]'") from None


def _alert_page(request: Request) -> tuple[int, tuple[int, str] | None]:
    size, after = page_position(request)
    if after is None:
        return size, None
    if not (isinstance(after, list) and len(after) == 2 and isinstance(after[0], int) and isinstance(after[1], str)):
        raise InvalidArgument("continuationToken is not valid", code="BadRequest")
    return size, (after[0], after[1])


# -- detectors and RUL models -------------------------------------------------


@router.put("/analytics/detectors/{id}", tags=["predict"], openapi_extra=schema_for(DetectorDocument),
            summary="Create or replace a detector: {model, name, kind, params}")
async def put_detector(id: str, request: Request) -> Response:
    spec = await writing(request, _analytics(request).put_detector, id, await read_json(request))
    return json_response(spec.to_json())


@router.get("/analytics/detectors", tags=["predict"], summary="List detectors")
async def list_detectors(request: Request) -> Response:
    engine = _analytics(request)
    specs = await blocking(request, lambda: sorted(engine.detectors.values(), key=lambda s: s.id))
    return json_response({"value": [s.to_json() for s in specs], "nextLink": None})


@router.get("/analytics/detectors/{id}", tags=["predict"], summary="Get a detector")
async def get_detector(id: str, request: Request) -> Response:
    engine = _analytics(request)

    def read() -> dict[str, Any]:
        return {**engine.get_detector(id).to_json(), "status": engine.detector_status(id)}

    return json_response(await blocking(request, read))


@router.delete("/analytics/detectors/{id}", status_code=204, tags=["predict"], summary="Delete a detector")
async def delete_detector(id: str, request: Request) -> Response:
    await writing(request, _analytics(request).delete_detector, id)
    return Response(status_code=204)


@router.post("/analytics/detectors/{id}/backfill", tags=["predict"],
             summary="Score a twin's stored history with the detector: ?twin=")
async def backfill(id: str, request: Request) -> Response:
    twin = request.query_params.get("twin")
    if not twin:
        raise InvalidArgument("give twin=", code="InvalidArgument")
    count = await writing(request, _analytics(request).backfill, id, twin)
    return json_response({"scored": count})


@router.put("/analytics/rul/models/{id}", tags=["predict"],
            summary="Upload a RUL model file (written by twinforge rul train); checked, never run",
            openapi_extra={"requestBody": {"required": True, "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def put_rul_model(id: str, request: Request) -> Response:
    models = _analytics(request).rul_models
    data = await read_bytes(request, body_limit(request, "model_bytes"), "the RUL model")
    parsed = await blocking(request, models.parse, id, data)  # CPU: neither on the loop nor on the writer
    entry = await writing(request, models.put, id, data, parsed)
    return json_response(entry.to_json())


@router.get("/analytics/rul/models", tags=["predict"], summary="List uploaded RUL models (their manifests)")
async def list_rul_models(request: Request) -> Response:
    entries = await blocking(request, _analytics(request).rul_models.entries)
    return json_response({"value": [e.to_json() for e in entries], "nextLink": None})


@router.get("/analytics/rul/models/{id}", tags=["predict"], summary="An uploaded RUL model's manifest")
async def get_rul_model(id: str, request: Request) -> Response:
    return json_response((await blocking(request, _analytics(request).rul_models.get, id)).to_json())


@router.delete("/analytics/rul/models/{id}", status_code=204, tags=["predict"],
               summary="Delete an uploaded RUL model no attachment uses")
async def delete_rul_model(id: str, request: Request) -> Response:
    engine = _analytics(request)

    def delete() -> None:
        engine.rul_models.delete(id, [r.id for r in engine.ruls.values() if r.trained == id])

    await writing(request, delete)
    return Response(status_code=204)


@router.put("/analytics/rul/{id}", tags=["predict"], openapi_extra=schema_for(RulDocument),
            summary="Attach an uploaded RUL model to a twin model: {model, trainedModel, sensors?, every?}")
async def put_rul(id: str, request: Request) -> Response:
    spec = await writing(request, _analytics(request).put_rul, id, await read_json(request))
    return json_response(spec.to_json())


@router.get("/digitaltwins/{id}/rul", tags=["predict"], summary="A twin's latest RUL estimate with its interval")
async def twin_rul(id: str, request: Request) -> Response:
    _analytics(request)
    graph = request.app.state.graph

    def latest() -> dict[str, Any]:
        """The last estimate in history (whichever server's evaluator made it)."""
        graph.get_twin_raw(id)
        out: dict[str, Any] = {}
        for key, series in (("rul", "rul"), ("low", "rul:low"), ("high", "rul:high")):
            last = graph.store.last_history(id, series)
            if last is None:
                raise NotFound(f"twin '{id}' has no RUL estimate yet", code="RulNotFound")
            out[key] = last.num
        return out

    return json_response(await blocking(request, latest))


def _level(text: str | None) -> float:
    if text is None:
        return 0.9
    try:
        return float(text)
    except ValueError:
        raise InvalidArgument(f"level must be a number such as 0.9, got {text!r}", code="InvalidArgument") from None


@router.get("/digitaltwins/{id}/forecast", tags=["predict"],
            summary="Forecast a numeric property or telemetry: ?name=&horizon=PT6H&step=PT5M&lookback=P30D&level=0.9")
async def twin_forecast(id: str, request: Request) -> Response:
    forecast = _optional("twinforge.analytics.forecast", "forecasts").forecast
    from twinforge.history import History

    q = request.query_params
    name = q.get("name")
    if not name:
        raise InvalidArgument("give name=", code="InvalidArgument")
    graph = request.app.state.graph

    def run() -> Any:
        graph.get_twin_raw(id)
        return forecast(History(graph.store), id, name, horizon=q.get("horizon", "PT6H"), step=q.get("step", "PT5M"),
                        lookback=q.get("lookback"), level=_level(q.get("level")))

    result = await request.app.state.workers.query(run)
    return json_response(result.to_json())


# -- alert rules and alerts ---------------------------------------------------------


@router.put("/alerts/rules/{id}", tags=["predict"], openapi_extra=schema_for(RuleDocument),
            summary="Create or replace an alert rule: {model?, twin?, condition, for, severity, clear?}")
async def put_rule(id: str, request: Request) -> Response:
    rule = await writing(request, _alerts(request).put_rule, id, await read_json(request))
    return json_response(rule.to_json())


@router.get("/alerts/rules", tags=["predict"], summary="List alert rules")
async def list_rules(request: Request) -> Response:
    rules = await blocking(request, _alerts(request).list_rules)
    return json_response({"value": [r.to_json() for r in rules], "nextLink": None})


@router.get("/alerts/rules/{id}", tags=["predict"], summary="Get an alert rule")
async def get_rule(id: str, request: Request) -> Response:
    return json_response((await blocking(request, _alerts(request).get_rule, id)).to_json())


@router.delete("/alerts/rules/{id}", status_code=204, tags=["predict"], summary="Delete an alert rule")
async def delete_rule(id: str, request: Request) -> Response:
    await writing(request, _alerts(request).delete_rule, id)
    return Response(status_code=204)


@router.get("/alerts", tags=["predict"], summary="Alerts: ?state=active|acknowledged|resolved&twin=&severity=")
async def list_alerts(request: Request) -> Response:
    q = request.query_params
    size, after = _alert_page(request)
    alerts = await blocking(request, _alerts(request).list_alerts, state=q.get("state"), twin=q.get("twin"),
                            severity=q.get("severity"), after=after, limit=size)
    more = None
    if len(alerts) == size:
        from twinforge.history.timeutil import parse_time

        more = next_link(request, [size, [parse_time(alerts[-1]["raisedAt"]), alerts[-1]["id"]]])
    return json_response({"value": alerts, "nextLink": more})


@router.get("/alerts/{id}", tags=["predict"], summary="Get an alert")
async def get_alert(id: str, request: Request) -> Response:
    return json_response(await blocking(request, _alerts(request).get_alert, id))


@router.post("/alerts/{id}/acknowledge", tags=["predict"], summary="Acknowledge an alert")
async def acknowledge(id: str, request: Request) -> Response:
    return json_response(await writing(request, _alerts(request).acknowledge, id))


# -- work orders and plans ----------------------------------------------------------


def _orders(request: Request) -> WorkOrders:
    return WorkOrders(request.app.state.graph)


@router.post("/workorders", status_code=201, tags=["predict"], openapi_extra=schema_for(WorkOrderDocument),
             summary="Create a work order: {asset, dueDate, description?, alert?}; from an alert: {alert: ID}")
async def create_work_order(request: Request) -> Response:
    return json_response(await writing(request, _orders(request).create, await read_json(request)), 201)


@router.get("/workorders", tags=["predict"], summary="List work orders: ?state=&asset=")
async def list_work_orders(request: Request) -> Response:
    q = request.query_params
    rows = await blocking(request, _orders(request).list_orders, state=q.get("state"), asset=q.get("asset"))
    return json_response({"value": rows, "nextLink": None})


@router.patch("/workorders/{id}", tags=["predict"], openapi_extra=schema_for(WorkOrderChange), summary="Change a work order's state, due date or description")
async def update_work_order(id: str, request: Request) -> Response:
    return json_response(await writing(request, _orders(request).update, id, await read_json(request)))


@router.post("/maintenance/plan", tags=["predict"],
             summary="Plan maintenance days: {horizonDays, crewsPerDay, assets: [{id, rul: {mean, std}, ...}]}")
async def maintenance_plan(request: Request) -> Response:
    planning = _optional("twinforge.analytics.planning", "maintenance plans")
    PlanningProblem, plan = planning.PlanningProblem, planning.plan

    problem = PlanningProblem.parse(await read_json(request))
    result = await request.app.state.workers.query(plan, problem)
    return json_response(result.to_json())
