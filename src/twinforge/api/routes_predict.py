"""Predict and act over REST: detectors, RUL models, forecasts, alert rules and alerts,
work orders and maintenance plans (see docs/predict.md)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from twinforge.api.http import blocking, json_response, read_json, writing
from twinforge.errors import InvalidArgument, NotFound

router = APIRouter()
WORK_STATES = ("open", "scheduled", "done", "cancelled")


def _analytics(request: Request) -> Any:
    return request.app.state.analytics


def _alerts(request: Request) -> Any:
    return request.app.state.alerts


# -- detectors and RUL models -------------------------------------------------


@router.put("/analytics/detectors/{id}", tags=["predict"],
            summary="Create or replace a detector: {model, name, kind, params}")
async def put_detector(id: str, request: Request) -> Response:
    spec = await writing(request, _analytics(request).put_detector, id, await read_json(request))
    return json_response(spec.to_json())


@router.get("/analytics/detectors", tags=["predict"], summary="List detectors")
async def list_detectors(request: Request) -> Response:
    specs = sorted(_analytics(request).detectors.values(), key=lambda s: s.id)
    return json_response({"value": [s.to_json() for s in specs], "nextLink": None})


@router.get("/analytics/detectors/{id}", tags=["predict"], summary="Get a detector")
async def get_detector(id: str, request: Request) -> Response:
    return json_response(_analytics(request).get_detector(id).to_json())


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


@router.put("/analytics/rul/{id}", tags=["predict"],
            summary="Attach a trained RUL model to a twin model: {model, path, sensors?, every?}")
async def put_rul(id: str, request: Request) -> Response:
    spec = await writing(request, _analytics(request).put_rul, id, await read_json(request))
    return json_response(spec.to_json())


@router.get("/digitaltwins/{id}/rul", tags=["predict"], summary="A twin's latest RUL estimate with its interval")
async def twin_rul(id: str, request: Request) -> Response:
    await blocking(request, request.app.state.graph.get_twin_raw, id)
    state = _analytics(request).latest.get(id, {})
    if "rul" not in state:
        raise NotFound(f"twin '{id}' has no RUL estimate yet", code="RulNotFound")
    return json_response({"rul": state["rul"], "low": state["rulLow"], "high": state["rulHigh"]})


@router.get("/digitaltwins/{id}/forecast", tags=["predict"],
            summary="Forecast a numeric property or telemetry: ?name=&horizon=PT6H&step=PT5M")
async def twin_forecast(id: str, request: Request) -> Response:
    from twinforge.analytics.forecast import forecast
    from twinforge.history import History

    q = request.query_params
    name = q.get("name")
    if not name:
        raise InvalidArgument("give name=", code="InvalidArgument")
    graph = request.app.state.graph

    def run() -> Any:
        graph.get_twin_raw(id)
        return forecast(History(graph.store), id, name, horizon=q.get("horizon", "PT6H"), step=q.get("step", "PT5M"),
                        lookback=q.get("lookback"))

    result = await request.app.state.workers.query(run)
    return json_response(result.to_json())


# -- alert rules and alerts ---------------------------------------------------------


@router.put("/alerts/rules/{id}", tags=["predict"],
            summary="Create or replace an alert rule: {model?, twin?, condition, for, severity, clear?}")
async def put_rule(id: str, request: Request) -> Response:
    rule = await writing(request, _alerts(request).put_rule, id, await read_json(request))
    return json_response(rule.to_json())


@router.get("/alerts/rules", tags=["predict"], summary="List alert rules")
async def list_rules(request: Request) -> Response:
    rules = sorted(_alerts(request).rules.values(), key=lambda r: r.id)
    return json_response({"value": [r.to_json() for r in rules], "nextLink": None})


@router.get("/alerts/rules/{id}", tags=["predict"], summary="Get an alert rule")
async def get_rule(id: str, request: Request) -> Response:
    return json_response(_alerts(request).get_rule(id).to_json())


@router.delete("/alerts/rules/{id}", status_code=204, tags=["predict"], summary="Delete an alert rule")
async def delete_rule(id: str, request: Request) -> Response:
    await writing(request, _alerts(request).delete_rule, id)
    return Response(status_code=204)


@router.get("/alerts", tags=["predict"], summary="Alerts: ?state=active|acknowledged|resolved&twin=&severity=")
async def list_alerts(request: Request) -> Response:
    q = request.query_params
    alerts = await blocking(request, _alerts(request).list_alerts, state=q.get("state"), twin=q.get("twin"),
                            severity=q.get("severity"))
    return json_response({"value": alerts, "nextLink": None})


@router.get("/alerts/{id}", tags=["predict"], summary="Get an alert")
async def get_alert(id: str, request: Request) -> Response:
    return json_response(await blocking(request, _alerts(request).get_alert, id))


@router.post("/alerts/{id}/acknowledge", tags=["predict"], summary="Acknowledge an alert")
async def acknowledge(id: str, request: Request) -> Response:
    return json_response(await writing(request, _alerts(request).acknowledge, id))


# -- work orders and plans ----------------------------------------------------------


def _work_order(body: Any, order_id: str | None = None) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("asset"), str):
        raise InvalidArgument('a work order is {"asset": TWIN_ID, "dueDate": ..., "description"?, "alert"?}',
                              code="InvalidArgument")
    state = body.get("state", "open")
    if state not in WORK_STATES:
        raise InvalidArgument(f"state must be one of {', '.join(WORK_STATES)}", code="InvalidArgument")
    return {"id": order_id or str(uuid.uuid4()), "asset": body["asset"], "dueDate": body.get("dueDate"),
            "description": body.get("description", ""), "state": state, "alert": body.get("alert"),
            "source": body.get("source", "manual")}


@router.post("/workorders", status_code=201, tags=["predict"],
             summary="Create a work order: {asset, dueDate, description?, alert?}; from an alert: {alert: ID}")
async def create_work_order(request: Request) -> Response:
    body = await read_json(request)
    graph = request.app.state.graph

    def create() -> dict[str, Any]:
        data = dict(body) if isinstance(body, dict) else body
        if isinstance(data, dict) and "alert" in data and "asset" not in data:
            alert = _alerts(request).get_alert(data["alert"])
            data.update(asset=alert["twinId"], source="alert",
                        description=data.get("description") or f"{alert['severity']}: {alert['condition']}")
        order = _work_order(data)
        graph.get_twin_raw(order["asset"])
        graph.store.put_setting(f"workorder:{order['id']}", orjson.dumps(order).decode())
        return order

    return json_response(await writing(request, create), 201)


@router.get("/workorders", tags=["predict"], summary="List work orders: ?state=&asset=")
async def list_work_orders(request: Request) -> Response:
    q = request.query_params
    rows = [orjson.loads(raw) for _, raw in request.app.state.graph.store.list_settings("workorder:")]
    rows = [r for r in rows if (not q.get("state") or r["state"] == q["state"])
            and (not q.get("asset") or r["asset"] == q["asset"])]
    return json_response({"value": sorted(rows, key=lambda r: (r["dueDate"] or "", r["id"])), "nextLink": None})


@router.patch("/workorders/{id}", tags=["predict"], summary="Change a work order's state, due date or description")
async def update_work_order(id: str, request: Request) -> Response:
    store = request.app.state.graph.store
    body = await read_json(request)

    def update() -> dict[str, Any]:
        raw = store.get_setting(f"workorder:{id}")
        if raw is None:
            raise NotFound(f"there is no work order '{id}'", code="WorkOrderNotFound")
        order = orjson.loads(raw)
        if not isinstance(body, dict):
            raise InvalidArgument("expected an object of fields to change", code="InvalidArgument")
        order.update({k: v for k, v in body.items() if k in ("state", "dueDate", "description")})
        order = _work_order(order, id)
        store.put_setting(f"workorder:{id}", orjson.dumps(order).decode())
        return order

    return json_response(await writing(request, update))


@router.post("/maintenance/plan", tags=["predict"],
             summary="Plan maintenance days: {horizonDays, crewsPerDay, assets: [{id, rul: {mean, std}, ...}]}")
async def maintenance_plan(request: Request) -> Response:
    from twinforge.analytics.planning import PlanningProblem, plan

    problem = PlanningProblem.parse(await read_json(request))
    result = await request.app.state.workers.query(plan, problem)
    return json_response(result.to_json())
