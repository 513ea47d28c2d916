"""The city pack's what-ifs over REST (the dashboard's `/ui/whatif` page uses them).

- `GET /city/networks`: the road networks and power grids there are twins of.
- `POST /city/traffic/{network}/whatif`: SUMO on a fork of the road network, baseline and
  changed side by side ({closedLanes, signalPlans, demandScale, end, seed, asOf}).
- `POST /city/grid/{grid}/whatif`: a power flow on a fork of the grid ({loadGrowth, pv,
  addedLoad, outOfService, nMinus1, nMinus1Of, asOf}).

Both read the twins and change nothing: the forks are thrown away. Each runs in the read pool
(a traffic what-if takes seconds: two SUMO processes, one per run).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from twinforge.api.http import blocking, json_response, read_json
from twinforge.errors import InvalidArgument

router = APIRouter()
MAX_END = 86400.0  # a what-if over REST simulates at most a day of traffic


def _networks(graph: Any) -> dict[str, list[str]]:
    from twinforge.packs.city.grid import GRID
    from twinforge.packs.city.traffic import NETWORK

    out: dict[str, list[str]] = {"roads": [], "grids": []}
    for key, model in (("roads", NETWORK), ("grids", GRID)):
        if model in graph.models:
            out[key] = sorted(r["T"]["$dtId"] for r in graph.query(
                f"SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{model}', exact)"))
    return out


@router.get("/city/networks", tags=["city"], summary="The road networks and power grids there are twins of")
async def list_networks(request: Request) -> Response:
    return json_response(await blocking(request, _networks, request.app.state.graph))


@router.post("/city/traffic/{network}/whatif", tags=["city"],
             summary="SUMO on a fork of a road network: {closedLanes, signalPlans, demandScale, end, seed, asOf}")
async def traffic_what_if(network: str, request: Request) -> Response:
    from twinforge.packs.city.traffic import sumo_home

    sumo_home()  # 501 naming the extra, before anything else (the runner needs the sim extra too)
    from twinforge.packs.city.traffic_run import RunOptions, TrafficChange, what_if

    doc = await read_json(request)
    change = TrafficChange.from_json(doc)
    end, seed = doc.get("end", 3600), doc.get("seed", 1)
    if isinstance(end, bool) or not isinstance(end, (int, float)) or not 1 <= end <= MAX_END:
        raise InvalidArgument(f"end is the simulated seconds to run, 1 to {MAX_END:.0f}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidArgument("seed is an integer")
    result = await blocking(request, what_if, request.app.state.graph, network, change, as_of=doc.get("asOf"),
                            options=RunOptions(end=float(end), seed=seed))
    return json_response(result.to_json())


@router.post("/city/grid/{grid}/whatif", tags=["city"],
             summary="A power flow on a fork of a grid: {loadGrowth, pv, addedLoad, outOfService, nMinus1, nMinus1Of}")
async def grid_what_if(grid: str, request: Request) -> Response:
    from twinforge.packs.city.grid import _pandapower

    _pandapower()  # 501 naming the extra
    from twinforge.packs.city.grid_whatif import GridChange, what_if

    doc = await read_json(request)
    change = GridChange.from_json(doc)
    result = await blocking(request, what_if, request.app.state.graph, grid, change, as_of=doc.get("asOf"))
    return json_response(result.to_json())


__all__ = ["router"]
