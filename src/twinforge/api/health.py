"""What `/health` reports: the server is up, and how its connectors are doing."""

from __future__ import annotations

from typing import Any


def background(app: Any) -> dict[str, dict[str, Any]]:
    """The background work of the server and how often it failed (every failure is logged once
    and counted here)."""
    state = app.state
    out: dict[str, dict[str, Any]] = {}
    evaluator = getattr(state, "evaluator", None)
    if evaluator is not None:
        out["evaluator"] = evaluator.status()
    scenarios = getattr(state, "scenarios", None)
    if scenarios is not None:
        out["scenarios"] = {"failures": scenarios.failures}
    bus = getattr(state, "bus", None)
    if bus is not None:
        out["eventBus"] = bus.status()
    keeper = getattr(state, "mqtt_keeper", None)
    if keeper is not None:
        out["mqttSessions"] = keeper.status()
    retention = getattr(state, "audit_retention", None)
    if retention is not None:
        out["auditRetention"] = {"deleted": retention.deleted, "failures": retention.failures}
    oidc = getattr(state, "oidc", None)
    if oidc is not None:
        out["oidc"] = {"fetches": oidc.fetches, "failures": oidc.fetch_failures}
    return out


def health(app: Any) -> tuple[int, dict[str, Any]]:
    """The server's state: ``ok``; ``degraded`` (a connector is reconnecting: 200); or
    ``failing`` (a connector stopped for good, or the database is away: 503), with one line per problem."""
    problems: list[str] = []
    failing = False
    for connector in getattr(app.state, "connectors", []):
        state = connector.status()
        if state.get("state") == "failed":
            failing = True
        if state.get("state") != "running":
            problems.append(f"{state.get('name')}: {state.get('state')}: {state.get('lastError') or 'not connected'}")
    graph = getattr(app.state, "graph", None)
    away = getattr(graph.store, "unavailable", None) if graph is not None else None
    if away:  # a shared database (PostgreSQL) that the last store call could not reach
        failing = True
        problems.append(f"store: {away}")
    else:  # (while the store is away, background work fails for that reason alone)
        for name, part in background(app).items():
            if part.get("lastError"):
                problems.append(f"{name}: {part['lastError']}")
            for detector, why in (part.get("failedDetectors") or {}).items():
                problems.append(f"detector '{detector}' stopped: {why}")
    if failing:
        return 503, {"status": "failing", "problems": problems}
    if problems:
        return 200, {"status": "degraded", "problems": problems}
    return 200, {"status": "ok"}
