"""The health pack's dashboard pages in Chromium: the ward overview and a patient's page, whose
last-day KPIs must be the ones the Python library computes from the same readings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.requirements import need_module
from tests.servers import running_api
from tests.ui.test_ui import Page, browser, open_tab  # noqa: F401 — the module's browser fixture, shared
from twinforge.graph import TwinGraph
from twinforge.graph.updates import Update

need_module("scipy")
import numpy as np  # noqa: E402

from twinforge.packs.health.ward import load_ward  # noqa: E402
from twinforge.packs.health.whatif import glucose_kpis  # noqa: E402


@pytest.fixture(scope="module")
def ward_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    graph = TwinGraph.open(f"sqlite:///{tmp_path_factory.mktemp('ward') / 'ward.db'}")
    load_ward(graph, 2)
    now = time.time()
    times = np.array([now - (12 * 3600) + 300 * k for k in range(144)])  # 12 h of 5-minute readings
    values = np.round(130 + 70 * np.sin(np.arange(144) / 9.0), 1)  # dips below 70, rises above 180
    graph.apply_updates([Update("ward-a-bed-01", {"glucose": float(v)}, telemetry=True, ts=int(t * 1e6))
                         for t, v in zip(times, values, strict=True)]
                        + [Update("ward-a-bed-01", {"insulinBolus": 4.0}, telemetry=True, ts=int((now - 3600) * 1e6)),
                           Update("ward-a-bed-01", {"predictedGlucose": 64.0}, ts=int(now * 1e6))])
    with running_api(graph) as url:
        yield url, times, values
    graph.close()


@pytest.fixture
def ward_tab(browser: Any, ward_site: tuple[str, np.ndarray, np.ndarray]) -> Iterator[Page]:  # noqa: F811
    yield from open_tab(browser, ward_site[0])


def test_the_ward_overview_lists_patients_with_their_glucose(ward_tab: Page) -> None:
    page = ward_tab.open("/ui/ward")
    page.wait_for_function("window.twinforgeWardReady")
    rows = page.locator("#ward-table tbody tr")
    assert rows.count() == 2
    first = page.inner_text("tr[data-patient='ward-a-bed-01']")
    assert "adult#001" in first and "64 mg/dL" in first  # the prediction shown
    assert "\u2013" in page.inner_text("tr[data-patient='ward-a-bed-02']")  # no readings yet: nothing invented
    ward_tab.shot("ward")
    assert ward_tab.errors == []


def test_the_patient_page_shows_the_band_doses_and_the_librarys_kpis(
        ward_tab: Page, ward_site: tuple[str, np.ndarray, np.ndarray]) -> None:
    _, times, values = ward_site
    page = ward_tab.open("/ui/ward/ward-a-bed-01")
    page.wait_for_function("window.twinforgeWardReady")
    page.wait_for_selector(".chart .uplot")
    expected = glucose_kpis(times, values)
    for key in ("timeInRange", "timeBelow70", "timeBelow54", "timeAbove180", "meanGlucose", "glucoseCv", "hypoEvents"):
        shown = page.inner_text(f"td[data-kpi='{key}']").split()[0]
        assert float(shown) == pytest.approx(round(expected[key], 1), abs=0.051), key
    legend = page.inner_text(".chart")
    for name in ("glucose", "70 mg/dL", "180 mg/dL", "bolus (U)"):
        assert name in legend
    assert "64 mg/dL" in page.inner_text("#predicted")
    ward_tab.shot("ward-patient")
    assert ward_tab.errors == []


def test_a_live_reading_reaches_the_open_patient_page(ward_tab: Page, ward_site: tuple[str, np.ndarray, np.ndarray]) -> None:
    url = ward_site[0]
    page = ward_tab.open("/ui/ward/ward-a-bed-01")
    page.wait_for_function("window.twinforgeWardReady")
    before = page.evaluate("document.querySelector('.chart .uplot') && 1")
    assert before == 1
    httpx.patch(f"{url}/digitaltwins/ward-a-bed-01", json=[{"op": "add", "path": "/predictedGlucose", "value": 150.0}],
                timeout=10).raise_for_status()
    page.wait_for_function("document.getElementById('predicted').textContent.includes('150 mg/dL')", timeout=10000)
    assert ward_tab.errors == []


def test_a_missing_patient_is_said_plainly(ward_tab: Page, tmp_path: Path) -> None:
    page = ward_tab.open("/ui/ward/nobody")
    page.wait_for_selector("p.error")
    assert "nobody" in page.inner_text("p.error")
