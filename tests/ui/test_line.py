"""The factory pack's line page in Chromium: the line's OEE and its machines in flow order, as
the monitor wrote them, followed live; open work orders listed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.servers import running_api
from tests.ui.test_ui import Page, browser  # noqa: F401 — the module's browser fixture, shared
from twinforge.graph import TwinGraph
from twinforge.graph.updates import Update
from twinforge.maintenance import WorkOrders
from twinforge.packs.factory.monitor import LineMonitor, Machine, ensure_line

MACHINE = {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:test:Machine;1", "@type": "Interface", "contents": [
    {"@type": "Telemetry", "name": n, "schema": s} for n, s in
    (("State", "integer"), ("ProcessedCount", "long"), ("DefectiveCount", "long"), ("StopReason", "string"))]}


@pytest.fixture(scope="module")
def line_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    graph = TwinGraph.open(f"sqlite:///{tmp_path_factory.mktemp('line') / 'line.db'}")
    graph.add_models([MACHINE])
    names = ["L-Filler", "L-Capper", "L-Packer"]
    for twin in names:
        graph.create_twin(twin, {"$metadata": {"$model": "dtmi:test:Machine;1"}})
    ensure_line(graph, "L", names)
    now = time.time()
    t0 = int((now - 600) * 1e6)
    s = 1_000_000
    updates = []
    for k, twin in enumerate(names):
        updates += [Update(twin, {"State": 6, "ProcessedCount": 0, "DefectiveCount": 0, "StopReason": ""}, True, ts=t0),
                    Update(twin, {"ProcessedCount": 1000 - 100 * k, "DefectiveCount": 5}, True, ts=t0 + 590 * s)]
    updates += [Update("L-Capper", {"State": 11, "StopReason": "jam"}, True, ts=t0 + 100 * s),
                Update("L-Capper", {"State": 6, "StopReason": ""}, True, ts=t0 + 220 * s),
                Update("L-Packer", {"State": 5, "StopReason": "starved"}, True, ts=t0 + 595 * s)]
    graph.apply_updates(updates)
    out = LineMonitor(graph, "L", [Machine(n, 0.5) for n in names], window=600).run_once(t0 + 600 * s)
    WorkOrders(graph).create({"asset": "L-Capper", "dueDate": "2026-12-10", "description": "replace the capping head"})
    with running_api(graph) as url:
        yield url, {k: v.to_json() for k, v in out.items()}
    graph.close()


@pytest.fixture
def line_tab(browser: Any, line_site: tuple[str, dict[str, Any]]) -> Iterator[Page]:  # noqa: F811
    page = Page(browser, line_site[0])
    yield page
    page.page.close()


def test_the_line_page_shows_the_line_and_its_machines_in_flow_order(line_tab: Page,
                                                                    line_site: tuple[str, dict[str, Any]]) -> None:
    url, out = line_site
    page = line_tab.open("/ui/line/L")
    page.wait_for_function("window.twinforgeLineReady")
    shown = float(page.inner_text("#line-kpis [data-kpi='oee'] .big").removesuffix(" %"))
    assert shown == pytest.approx(100 * out["L"]["oee"], abs=0.051)
    rows = page.locator("#machines tbody tr")
    assert [rows.nth(k).get_attribute("data-machine") for k in range(3)] == ["L-Filler", "L-Capper", "L-Packer"]
    capper = page.inner_text("tr[data-machine='L-Capper']")
    assert "jam" in capper and out["L-Capper"]["availability"] == pytest.approx(0.8)
    assert "80.0 %" in capper
    assert "Suspended" in page.inner_text("tr[data-machine='L-Packer']")
    assert "replace the capping head" in page.inner_text("#orders")
    assert "bottleneck" in page.inner_text("#line-facts")
    line_tab.shot("line")
    # live: the monitor's next write reaches the page without a reload
    httpx.patch(f"{url}/digitaltwins/L-Filler-kpi", json=[{"op": "replace", "path": "/state", "value": "Held"}])
    page.wait_for_function("document.querySelector(\"tr[data-machine='L-Filler']\")?.innerText.includes('Held')",
                           timeout=10000)
    httpx.patch(f"{url}/digitaltwins/L", json=[{"op": "replace", "path": "/oee", "value": 0.5}])
    page.wait_for_function("document.querySelector(\"#line-kpis [data-kpi='oee'] .big\")?.innerText === '50.0 %'",
                           timeout=10000)
    assert line_tab.errors == []


def test_the_lines_overview_and_a_missing_line(line_tab: Page) -> None:
    page = line_tab.open("/ui/line")
    page.wait_for_selector("#lines")
    assert "L" in page.inner_text("#lines tbody")
    page = line_tab.open("/ui/line/nope")
    page.wait_for_selector("text=TwinNotFound")
    assert [e for e in line_tab.errors if "404" not in e] == []
