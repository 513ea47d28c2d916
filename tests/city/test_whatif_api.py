"""The city what-ifs over REST and on the dashboard's /ui/whatif page (in Chromium), on the demo
district: "close this street at rush hour" (SUMO) and "N-1 on feeder 2" (pandapower)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.requirements import need_module
from tests.servers import running_api
from tests.ui.test_ui import Page, browser, open_tab  # noqa: F401 — the module's browser fixture, shared
from twinforge.graph import TwinGraph

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning", "ignore::DeprecationWarning")
need_module("pandapower")
need_module("libsumo")

CLOSE_STREET = {"closedLanes": ["B1C1_0", "B1C1_1", "C1B1_0", "C1B1_1"], "demandScale": 1.5, "end": 300}


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, TwinGraph]]:
    from twinforge.packs.city.demo import load_district

    graph = TwinGraph.open(f"sqlite:///{tmp_path_factory.mktemp('city') / 'city.db'}")
    load_district(graph)
    with running_api(graph) as url:
        yield url, graph
    graph.close()


def _etags(graph: TwinGraph) -> dict[str, str]:
    return {r["T"]["$dtId"]: r["T"]["$etag"] for r in graph.query("SELECT T FROM DIGITALTWINS T")}


def test_what_ifs_over_rest_run_on_forks(city: tuple[str, TwinGraph]) -> None:
    from twinforge.packs.city.grid import contingencies, network_of
    from twinforge.packs.city.traffic_run import RunOptions, TrafficChange, what_if

    url, graph = city
    assert httpx.get(f"{url}/city/networks").json() == {"roads": ["streets"], "grids": ["mv"]}
    before = _etags(graph)
    r = httpx.post(f"{url}/city/traffic/streets/whatif", json=CLOSE_STREET, timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    direct = what_if(graph, "streets", TrafficChange(closed_lanes=CLOSE_STREET["closedLanes"], demand_scale=1.5),
                     options=RunOptions(end=300))
    assert body == direct.to_json()  # the same runs as the library's
    assert body["scenario"]["meanQueue"] > body["baseline"]["meanQueue"]
    r = httpx.post(f"{url}/city/grid/mv/whatif", json={"nMinus1Of": ["line 10", "line 11", "trafo 1"]}, timeout=60)
    assert r.status_code == 200, r.text
    rows = r.json()["contingencies"]
    expected = {row["element"]: row for row in contingencies(network_of(graph, "mv"))}
    assert [row["element"] for row in rows] == ["line 10", "line 11", "trafo 1"]
    for row in rows:
        assert row == pytest.approx(expected[row["element"]])
    assert _etags(graph) == before  # nothing live was touched


@pytest.mark.parametrize(("path", "body", "status", "message"), [
    ("/city/traffic/streets/whatif", "{not json", 400, "JSON"),
    ("/city/traffic/streets/whatif", {"closeLanes": ["B1C1_0"]}, 400, "unknown field(s) of a traffic what-if: closeLanes"),
    ("/city/traffic/streets/whatif", {"closedLanes": ["nowhere_0"], "end": 60}, 400,
     "'nowhere_0' is not a lane of road network 'streets'"),
    ("/city/traffic/streets/whatif", {"end": 10 ** 6}, 400, "end is the simulated seconds to run"),
    ("/city/traffic/avenues/whatif", {"end": 60}, 404, "there is no road network 'avenues'"),
    ("/city/grid/mv/whatif", {"outOfService": ["feeder 2"]}, 400, "'feeder 2' is not an element"),
    ("/city/grid/mv/whatif", {"pv": [[3]]}, 400, "wrong shape"),
    ("/city/grid/lv/whatif", {}, 404, "there is no grid twin 'lv'"),
])
def test_a_bad_what_if_is_refused_with_its_reason(city: tuple[str, TwinGraph], path: str, body: Any, status: int,
                                                  message: str) -> None:
    url, graph = city
    before = _etags(graph)
    kwargs = {"content": body, "headers": {"content-type": "application/json"}} if isinstance(body, str) \
        else {"json": body}
    r = httpx.post(url + path, timeout=60, **kwargs)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]["message"]
    assert _etags(graph) == before


@pytest.fixture
def tab(browser: Any, city: tuple[str, TwinGraph]) -> Iterator[Page]:  # noqa: F811
    yield from open_tab(browser, city[0])


def test_the_what_if_page_runs_both_examples(tab: Page) -> None:
    page = tab.open("/ui/whatif?example=n-1-feeder-2")
    page.wait_for_selector("text=N-1 on feeder 2")
    grid = page.locator("section.panel", has_text="Power grid")
    grid.get_by_role("button", name="Run what-if").click()
    grid.locator("text=Contingencies").wait_for(timeout=60000)
    assert grid.locator("table").nth(1).locator("tbody tr").count() == 3
    assert "trafo 1" in grid.inner_text()
    page.get_by_role("link", name="Close this street at rush hour").click()
    page.wait_for_selector("text=Both directions of the street")
    traffic = page.locator("section.panel", has_text="Traffic (SUMO)")
    assert "B1C1_0" in traffic.locator("textarea").input_value()
    traffic.get_by_role("button", name="Run what-if").click()
    traffic.locator("text=done in").wait_for(timeout=120000)
    text = traffic.inner_text()
    assert "meanQueue" in text and "co2Kg" in text
    assert not tab.errors, tab.errors
    tab.shot("whatif")
