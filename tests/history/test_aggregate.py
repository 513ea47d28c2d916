"""`POST /history/aggregate`: one series over the twins a query chooses, per bucket, grouped by a
property or a related twin; checked against the same numbers computed here from the raw
points, on SQLite and PostgreSQL; paged; bad requests named."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.servers import running_api
from twinforge.graph import TwinGraph
from twinforge.graph.updates import Update

CTX = "dtmi:dtdl:context;3"
SPOT = {"@context": CTX, "@id": "dtmi:test:ParkingSpot;1", "@type": "Interface", "contents": [
    {"@type": "Property", "name": "district", "schema": "string"},
    {"@type": "Telemetry", "name": "occupancy", "schema": "double"}]}
DISTRICT = {"@context": CTX, "@id": "dtmi:test:District;1", "@type": "Interface", "contents": [
    {"@type": "Relationship", "name": "contains"}]}
HOUR = 3600 * 1_000_000
T0 = 1_800_000_000 * 1_000_000 // HOUR * HOUR  # on an hour boundary
# spot -> district, and its readings: (minutes after T0, occupancy)
READINGS = {
    "n1": ("north", [(0, 1.0), (10, 0.0), (70, 1.0)]),
    "n2": ("north", [(5, 0.0), (65, 1.0), (80, 1.0), (95, 0.0)]),
    "s1": ("south", [(20, 1.0), (40, 1.0)]),
}


@pytest.fixture
def city(graph: TwinGraph) -> Iterator[str]:
    graph.add_models([SPOT, DISTRICT])
    for district in ("north", "south"):
        graph.create_twin(district, {"$metadata": {"$model": "dtmi:test:District;1"}})
    for spot, (district, points) in READINGS.items():
        graph.create_twin(spot, {"$metadata": {"$model": "dtmi:test:ParkingSpot;1"}, "district": district})
        graph.create_relationship(district, f"{district}-{spot}", {"$relationshipName": "contains", "$targetId": spot})
        graph.apply_updates([Update(spot, {"occupancy": v}, telemetry=True, ts=T0 + m * 60_000_000, source="test")
                             for m, v in points])
    with running_api(graph) as url:
        yield url


def expected(aggregate: str) -> dict[tuple[str, int], float]:
    cells: dict[tuple[str, int], list[float]] = {}
    for _, (district, points) in READINGS.items():
        for m, v in points:
            cells.setdefault((district, m // 60), []).append(v)
    fn = {"avg": lambda xs: sum(xs) / len(xs), "sum": sum, "count": len, "min": min, "max": max}[aggregate]
    return {k: fn(v) for k, v in cells.items()}


def ask(url: str, **body: Any) -> httpx.Response:
    base = {"query": "SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL('dtmi:test:ParkingSpot;1')",
            "name": "occupancy", "bucket": "PT1H", "aggregate": "avg",
            "from": "2027-01-15T07:00:00Z", "to": "2027-01-15T10:00:00Z"}
    return httpx.post(f"{url}/history/aggregate", json={**base, **body})


def hour(iso: str) -> int:
    from twinforge.history.timeutil import parse_time

    return (parse_time(iso) - T0) // HOUR


@pytest.mark.parametrize("aggregate", ["avg", "sum", "count", "min", "max"])
def test_grouped_by_a_property_matches_the_raw_points(city: str, aggregate: str) -> None:
    from twinforge.history.timeutil import from_us

    r = ask(city, aggregate=aggregate, groupBy="district", **{"from": from_us(T0), "to": from_us(T0 + 3 * HOUR)})
    assert r.status_code == 200, r.text
    got = {(row["group"], hour(row["time"])): row["value"] for row in r.json()["value"]}
    assert got == pytest.approx(expected(aggregate))
    twins = {(row["group"], hour(row["time"])): row["twins"] for row in r.json()["value"]}
    assert twins[("north", 0)] == 2 and twins[("south", 0)] == 1 and twins[("north", 1)] == 2


def test_grouped_by_a_related_twin_and_ungrouped(city: str) -> None:
    from twinforge.history.timeutil import from_us

    window = {"from": from_us(T0), "to": from_us(T0 + 3 * HOUR)}
    joined = ask(city, query="SELECT D, S FROM DIGITALTWINS D JOIN S RELATED D.contains "
                             "WHERE IS_OF_MODEL(D, 'dtmi:test:District;1')", twin="S", groupBy="D.$dtId", **window)
    assert joined.status_code == 200, joined.text
    assert {(row["group"], hour(row["time"])): row["value"] for row in joined.json()["value"]} == \
        pytest.approx(expected("avg"))
    whole = ask(city, **window).json()["value"]
    assert "group" not in whole[0]
    assert [round(row["value"], 6) for row in whole] == [0.6, 0.75]  # every sample weighs alike: 3 of 5, 3 of 4


def test_pages_continue_with_the_token(city: str) -> None:
    from twinforge.history.timeutil import from_us

    body = {"groupBy": "district", "from": from_us(T0), "to": from_us(T0 + 3 * HOUR)}
    first = httpx.post(f"{city}/history/aggregate", headers={"max-items-per-page": "2"},
                       json={"query": "SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL('dtmi:test:ParkingSpot;1')",
                             "name": "occupancy", "bucket": "PT1H", "aggregate": "count", **body}).json()
    assert len(first["value"]) == 2 and first["continuationToken"]
    second = ask(city, aggregate="count", continuationToken=first["continuationToken"], **body).json()
    assert len(second["value"]) == 1 and second["continuationToken"] is None
    assert sum(r["value"] for r in first["value"] + second["value"]) == 9


@pytest.mark.parametrize(("change", "message"), [
    ({"aggregate": "median"}, "aggregate must be one of avg, min, max, sum, count"),
    ({"bucket": "soon"}, "bucket"),
    ({"name": ""}, "'name' is required"),
    ({"query": "SELECT FROM"}, ""),
    ({"extra": 1}, "unknown field(s) extra"),
    ({"from": "2027-01-02T00:00:00Z", "to": "2027-01-01T00:00:00Z"}, "'to' must be after 'from'"),
    ({"continuationToken": "garbage"}, "continuationToken"),
])
def test_bad_requests_are_400_naming_the_field(city: str, change: dict[str, Any], message: str) -> None:
    r = ask(city, **change)
    assert r.status_code == 400 and message in r.text, r.text


def test_a_query_matching_nothing_gives_no_rows(city: str) -> None:
    r = ask(city, query="SELECT T FROM DIGITALTWINS T WHERE T.district = 'east'")
    assert r.status_code == 200 and r.json() == {"value": [], "continuationToken": None}
