"""Work orders: records every server shares, made by hand or from an alert."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import orjson

from twinforge.documents import WorkOrderChange, WorkOrderDocument, check
from twinforge.errors import InvalidArgument, NotFound
from twinforge.records import Collection, Kind

if TYPE_CHECKING:
    from twinforge.graph import TwinGraph

WORK_STATES = ("open", "scheduled", "done", "cancelled")
WORK_ORDERS: Kind[dict[str, Any]] = Kind("work-order", "work order", "WorkOrderNotFound")


def work_order(body: Any, order_id: str | None = None) -> dict[str, Any]:
    """A checked work order document (a new id unless ``order_id`` is given)."""
    check(WorkOrderDocument, body, "a work order")
    if not isinstance(body.get("asset"), str):
        raise InvalidArgument('a work order is {"asset": TWIN_ID, "dueDate": ..., "description"?, "alert"?}',
                              code="InvalidArgument")
    state = body.get("state", "open")
    if state not in WORK_STATES:
        raise InvalidArgument(f"state must be one of {', '.join(WORK_STATES)}", code="InvalidArgument")
    due = body.get("dueDate")
    if due is not None and not isinstance(due, str):
        raise InvalidArgument("dueDate is an ISO 8601 date", code="InvalidArgument")
    return {"id": order_id or str(uuid.uuid4()), "asset": body["asset"], "dueDate": due,
            "description": str(body.get("description", "")), "state": state, "alert": body.get("alert"),
            "source": body.get("source", "manual")}


class WorkOrders:
    def __init__(self, graph: TwinGraph) -> None:
        self.graph = graph
        self.records = Collection(graph.store, WORK_ORDERS)

    def create(self, body: Any) -> dict[str, Any]:
        check(WorkOrderDocument, body, "a work order")
        data = dict(body)
        if isinstance(data, dict) and "alert" in data and "asset" not in data:
            raw = self.graph.store.get_alert(str(data["alert"]))
            if raw is None:
                raise NotFound(f"there is no alert '{data['alert']}'", code="AlertNotFound")
            alert = orjson.loads(raw)
            data.update(asset=alert["twinId"], source="alert",
                        description=data.get("description") or f"{alert['severity']}: {alert['condition']}")
        order = work_order(data)
        self.graph.get_twin_raw(order["asset"])
        return self.records.put(order["id"], order)

    def list_orders(self, *, state: str | None = None, asset: str | None = None) -> list[dict[str, Any]]:
        rows = [r for r in self.records.list() if (not state or r["state"] == state)
                and (not asset or r["asset"] == asset)]
        return sorted(rows, key=lambda r: (r["dueDate"] or "", r["id"]))

    def update(self, order_id: str, body: Any) -> dict[str, Any]:
        check(WorkOrderChange, body, "a work order change")
        with self.graph.store.transaction():
            order = self.records.get(order_id)
            order.update({k: v for k, v in body.items() if k in ("state", "dueDate", "description")})
            return self.records.put(order_id, work_order(order, order_id))


__all__ = ["WORK_STATES", "WorkOrders", "work_order"]
