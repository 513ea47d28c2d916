"""What `/health` reports: the server is up, and how its connectors are doing."""

from __future__ import annotations

from typing import Any


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
    if failing:
        return 503, {"status": "failing", "problems": problems}
    if problems:
        return 200, {"status": "degraded", "problems": problems}
    return 200, {"status": "ok"}
