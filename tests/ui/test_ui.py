"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against a real server
holding the building demo (RealEstateCore, 65 twins, geometry) plus simulation twins.

Screenshots of every page go to ``build/ui-screenshots`` (or ``$TWINFORGE_SCREENSHOTS``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.requirements import missing
from tests.servers import running_api
from twinforge.graph import TwinGraph

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    missing("Debian's chromium is not installed (apt-get install chromium)", module_level=True)
try:
    import playwright.sync_api as playwright_api
except ImportError:
    missing("playwright is not installed (pip install -e '.[dev]')", module_level=True)

SHOTS = Path(os.environ.get("TWINFORGE_SCREENSHOTS", Path(__file__).resolve().parents[2] / "build" / "ui-screenshots"))
ZONE = "dtmi:twinforge:sim:ThermalZone;1"
SCENE = ("/ui/scene/building-1?rel=isPartOf&color=lastValue&via=hasCapability"
         "&model=dtmi:digitaltwins:rec_3_3:device:TemperatureSensor;1&min=17&max=27")
ARGS = ["--no-sandbox", "--use-gl=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]


@pytest.fixture(scope="module")
def site(rec_graph_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, httpx.Client]]:
    from twinforge.packs.building import load_demo
    from twinforge.sim.library import models as sim_models

    path = tmp_path_factory.mktemp("ui") / "demo.db"
    shutil.copy(rec_graph_template, path)
    graph = TwinGraph.open(f"sqlite:///{path}")
    load_demo(graph)
    graph.add_models(sim_models())
    graph.create_twins([("zone-1", {"$metadata": {"$model": ZONE}, "temperature": 18.0, "outdoorTemperature": 5.0,
                                    "heaterPower": 1000.0, "thermalResistance": 0.01,
                                    "thermalCapacitance": 2.0e6})])
    for i in range(12):  # some history for the charts
        graph.update_twin("temp-101", [{"op": "replace" if i else "add", "path": "/lastValue", "value": 20.0 + i % 4}])
    from twinforge.graph import Update

    now = time.time()  # two hours of a zone's temperature, a point a minute: enough to forecast from
    graph.apply_updates([Update("zone-1", {"temperature": 18.0 + 0.01 * k}, ts=int((now - (120 - k) * 60) * 1e6))
                         for k in range(120)])
    with running_api(graph) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield url, client
    graph.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Page:
    """A browser tab that records console errors and uncaught exceptions."""

    def __init__(self, browser: Any, base: str, *, width: int = 1280, height: int = 800) -> None:
        self.base = base
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

    def open(self, path: str) -> Any:
        self.page.goto(self.base + path)
        return self.page

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))


def open_tab(browser: Any, base: str) -> Iterator[Page]:
    """A tab on ``base`` for one test (the body of each page's tab fixture), closed after it."""
    page = Page(browser, base)
    yield page
    page.page.close()


@pytest.fixture
def tab(browser: Any, site: tuple[str, httpx.Client]) -> Iterator[Page]:
    yield from open_tab(browser, site[0])


PAGES = [
    ("overview", "/ui", "text=updates/s ingested"),
    ("graph", "/ui/graph", "canvas[data-drawn]"),
    ("twin", "/ui/twins/temp-101", ".chart .uplot"),
    ("query", "/ui/query?q=SELECT%20T%20FROM%20DIGITALTWINS%20T", "table.results"),
    ("models", "/ui/models", "text=/^[0-9]+ models$/"),
    ("model", "/ui/models/dtmi:digitaltwins:rec_3_3:core:Room;1", "text=inherited from"),
    ("scene", SCENE, "text=16 meshes"),
    ("scenes", "/ui/scene", "text=room-101"),
    ("scenarios", "/ui/scenarios", "text=New scenario"),
    ("alerts", "/ui/alerts", "text=Rules"),
]


@pytest.mark.parametrize(("name", "path", "ready"), PAGES, ids=[p[0] for p in PAGES])
def test_every_page_loads_without_console_errors(tab: Page, name: str, path: str, ready: str) -> None:
    page = tab.open(path)
    page.wait_for_selector(ready, timeout=15000)
    page.wait_for_timeout(500)
    tab.shot(name)
    assert tab.errors == [], f"console errors on {path}: {tab.errors}"
    assert "Something went wrong" not in page.inner_text("main")


def test_overview_counts(tab: Page) -> None:
    page = tab.open("/ui")
    page.wait_for_function("document.querySelectorAll('#view .card .n')[1]?.textContent === '66'")
    assert page.inner_text("#view .card .n >> nth=2") == "112"


def test_phone_width(browser: Any, site: tuple[str, httpx.Client]) -> None:
    tab = Page(browser, site[0], width=390, height=844)
    page = tab.open("/ui/twins/temp-101")
    page.wait_for_selector("text=Relationships")
    width = page.evaluate("document.documentElement.scrollWidth")
    tab.shot("twin-phone")
    assert width <= 400, f"the twin page scrolls sideways at phone width ({width} px)"
    # "Edit" wrapped one letter per line and times one character per line: each stays on a line
    wrapped = page.evaluate("""() => [...document.querySelectorAll('main button, main td.small')]
        .filter((e) => e.offsetParent && e.textContent.trim()).map((e) => {
          const r = document.createRange(); r.selectNodeContents(e);
          return [e.textContent.trim(), new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size]; })
        .filter(([, lines]) => lines > 1)""")
    assert wrapped == [], wrapped
    assert tab.errors == []
    tab.page.close()


def test_the_forecast_stays_drawn_while_live_values_arrive(tab: Page, site: tuple[str, httpx.Client]) -> None:
    """Live points were appended after the forecast's future points: uPlot's x values were then
    unsorted and the overlay vanished. They are now put in time order."""
    page = tab.open("/ui/twins/zone-1?range=PT6H")
    page.wait_for_selector(".chart .uplot", timeout=10000)
    page.click("text=Forecast")
    page.wait_for_function("typeof twinforgeCharts === 'function' && twinforgeCharts().some((c) => c.series.some((s) => s.name.startsWith('forecast (')))",
                           timeout=30000)
    page.wait_for_selector("text=live", timeout=10000)
    for value in (30.5, 31.5):
        r = site[1].patch("/digitaltwins/zone-1", json=[{"op": "replace", "path": "/temperature", "value": value}])
        assert r.status_code == 204, r.text
        page.wait_for_function(f"typeof twinforgeCharts === 'function' && twinforgeCharts().find((c) => c.name === 'temperature')?.plot.data[1].includes({value})",
                               timeout=5000)
    data = page.evaluate("""() => { const c = twinforgeCharts().find((c) => c.name === 'temperature');
        return { xs: Array.from(c.plot.data[0]), cols: c.plot.data.length, max: c.plot.scales.x.max }; }""")
    assert data["xs"] == sorted(data["xs"]) and data["cols"] >= 5  # history, forecast low/high/mean in order
    assert data["max"] > time.time() + 60  # the axis still reaches into the forecast
    assert tab.errors == []
    site[1].patch("/digitaltwins/zone-1", json=[{"op": "replace", "path": "/temperature", "value": 18.0}])  # as it was


def test_a_single_point_spans_the_range_asked_for(tab: Page, site: tuple[str, httpx.Client]) -> None:
    page = tab.open("/ui/twins/temp-101?range=P1D")
    page.wait_for_selector(".chart .uplot", timeout=10000)
    span = page.evaluate("(() => { const s = twinforgeCharts()[0].plot.scales.x; return s.max - s.min; })()")
    assert 86_000 <= span <= 87_000, span  # last 1D, not three years
    assert page.evaluate("document.querySelectorAll('header nav a[aria-current]').length") == 0  # not 'Graph'


def test_the_chart_hook_exists_as_soon_as_the_first_chart_shows(tab: Page) -> None:
    # A test that waits for `.chart .uplot` and then reads twinforgeCharts() must find it: the page once
    # set the hook only after all its charts, the RUL panel and the stream were ready (a CI flake).
    tab.page.add_init_script("""new MutationObserver((_, obs) => {
        if (!document.querySelector('.chart .uplot')) return;
        window.hookWhenDrawn = typeof window.twinforgeCharts === 'function' ? window.twinforgeCharts().length : -1;
        obs.disconnect();
    }).observe(document, { childList: true, subtree: true });""")
    page = tab.open("/ui/twins/temp-101?range=P1D")
    page.wait_for_function("window.hookWhenDrawn !== undefined", timeout=10000)
    assert page.evaluate("window.hookWhenDrawn") >= 1  # -1: no hook yet when the chart showed


def test_the_models_page_folds_767_models_and_the_filter_opens_them(tab: Page) -> None:
    page = tab.open("/ui/models")
    page.wait_for_selector("text=/^[0-9]+ models$/", timeout=15000)
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 3000, f"the models page is {height} px tall"  # was one 18,000 px tree
    page.fill("input[aria-label='Filter models']", "rec_3_3:core:Room;1")
    page.wait_for_selector("a[href='/ui/models/dtmi%3Adigitaltwins%3Arec_3_3%3Acore%3ARoom%3B1']", state="visible")
    assert tab.errors == []


def test_patch_through_the_api_shows_on_the_open_twin_page(tab: Page, site: tuple[str, httpx.Client]) -> None:
    page = tab.open("/ui/twins/temp-101")
    page.wait_for_selector("text=live", timeout=10000)
    r = site[1].patch("/digitaltwins/temp-101", json=[{"op": "replace", "path": "/lastValue", "value": 23.456}])
    assert r.status_code == 204, r.text
    t0 = time.monotonic()
    page.wait_for_function("document.querySelector('[data-prop=lastValue]')?.textContent === '23.456'", timeout=2000)
    assert time.monotonic() - t0 < 2.0
    assert tab.errors == []


def test_a_change_between_the_read_and_the_subscription_is_shown(browser: Any,
                                                                  site: tuple[str, httpx.Client]) -> None:
    """The page reads the twin, draws, then subscribes: a patch sent as soon as the value is on
    the page (before the stream is open) is shown all the same, five times in a row."""
    for n in range(5):
        tab = Page(browser, site[0])
        page = tab.open("/ui/twins/temp-101")
        page.wait_for_selector("[data-prop=lastValue]", timeout=15000)
        value = 30.0 + n + 0.125
        r = site[1].patch("/digitaltwins/temp-101", json=[{"op": "replace", "path": "/lastValue", "value": value}])
        assert r.status_code == 204, r.text
        page.wait_for_selector("text=live", timeout=15000)  # the page is done loading
        t0 = time.monotonic()
        page.wait_for_function(f"document.querySelector('[data-prop=lastValue]')?.textContent === '{value:g}'",
                               timeout=15000)
        waited = time.monotonic() - t0
        assert waited < 1.0, f"round {n}: the change showed {waited:.2f} s after the page was live"
        assert tab.errors == []
        tab.page.close()


def test_overview_shows_the_last_events_at_load(tab: Page, site: tuple[str, httpx.Client]) -> None:
    r = site[1].patch("/digitaltwins/temp-101", json=[{"op": "replace", "path": "/lastValue", "value": 21.75}])
    assert r.status_code == 204
    page = tab.open("/ui")
    page.wait_for_selector("text=/lastValue=21.75/", timeout=10000)  # sent before the page was opened
    assert tab.errors == []


def test_edit_sends_json_patch_with_etag_and_a_412_is_shown(tab: Page, site: tuple[str, httpx.Client]) -> None:
    client = site[1]
    page = tab.open("/ui/twins/temp-101")
    page.wait_for_selector("text=live")
    page.click("button[aria-label='Edit name']")
    page.fill("input[aria-label=name]", "Sensor one")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=Saved name")
    assert client.get("/digitaltwins/temp-101").json()["name"] == "Sensor one"
    # someone else changes the twin while we edit: our ETag is stale
    page.click("button[aria-label='Edit name']")
    page.fill("input[aria-label=name]", "Mine")
    before = client.get("/digitaltwins/temp-101").json()["name"]
    client.patch("/digitaltwins/temp-101", json=[{"op": "replace", "path": "/name", "value": "Theirs"}])
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=412 Precondition Failed")
    tab.shot("twin-412")
    assert before == "Sensor one"
    assert client.get("/digitaltwins/temp-101").json()["name"] == "Theirs"  # ours was not applied


def test_history_chart_draws_points(tab: Page) -> None:
    page = tab.open("/ui/twins/temp-101")
    page.wait_for_selector(".chart .uplot", timeout=10000)
    drawn = page.evaluate("document.querySelectorAll('.chart .uplot canvas').length")
    assert drawn >= 1
    raw = page.evaluate("twinforgeCharts()[0].plot.data[0].length")
    page.select_option("select[aria-label=Bucket]", "1m")
    page.wait_for_function(f"typeof twinforgeCharts === 'function' && twinforgeCharts().length && twinforgeCharts()[0].plot.data[0].length < {raw}")
    assert tab.errors == []


def test_quick_changes_of_the_bucket_leave_only_the_last_drawing(tab: Page) -> None:
    # Each change redraws every chart, one history read at a time: a draw that a newer one
    # overtook must stop, not add its charts to the newer one's.
    page = tab.open("/ui/twins/zone-1?range=P1D")
    page.wait_for_selector(".chart .uplot", timeout=10000)
    for bucket in ("1m", "5m", "10s", "1h"):
        page.select_option("select[aria-label=Bucket]", bucket)
    page.wait_for_function("twinforgeCharts().length > 0 && twinforgeCharts().every((c) => c.plot.data[0].length <= 3)",
                           timeout=10000)  # two hours of history in 1 h buckets
    page.wait_for_timeout(500)  # any overtaken draw would have added its charts by now
    shown = page.evaluate("document.querySelectorAll('.chart .uplot').length")
    charts = page.evaluate("twinforgeCharts().map((c) => [c.name, c.plot.data[0].length])")
    assert len(charts) == shown and len({name for name, _ in charts}) == len(charts), charts
    assert all(n <= 3 for _, n in charts), charts
    assert tab.errors == []


def test_query_console_shows_the_right_rows(tab: Page) -> None:
    page = tab.open("/ui/query")
    page.fill("textarea[aria-label=Query]", "SELECT T.$dtId, T.levelNumber FROM DIGITALTWINS T WHERE T.levelNumber >= 2")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("table.results tbody tr")
    rows = page.eval_on_selector_all("table.results tbody tr", "rs => rs.map(r => r.innerText.replace(/\\s+/g, ' ').trim())")
    assert sorted(rows) == ["level-2 2", "level-3 3"]
    assert "q=SELECT" in page.url  # a deep link


def test_query_error_is_shown_at_its_position(tab: Page) -> None:
    q = "SELECT T FROM DIGITALTWINS T WHERE T.x = = 3"
    page = tab.open("/ui/query?q=" + httpx.QueryParams({"q": q})["q"].replace(" ", "%20"))
    page.wait_for_selector("p.error")
    assert "SqlQueryError" in page.inner_text("p.error")
    assert page.inner_text("pre.query-error mark") == "="
    tab.shot("query-error")


def test_query_pages_with_continuation_tokens(tab: Page) -> None:
    page = tab.open("/ui/query?q=SELECT%20T.%24dtId%20FROM%20DIGITALTWINS%20T")
    page.wait_for_selector("table.results tbody tr")
    first = page.eval_on_selector_all("table.results tbody tr", "rs => rs.length")
    assert first == 66  # 65 building twins + zone-1, one page of 100
    page.fill("textarea[aria-label=Query]", "SELECT R FROM RELATIONSHIPS R")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Next page")
    page.click("text=Next page")
    page.wait_for_selector("text=page 2")
    assert page.eval_on_selector_all("table.results tbody tr", "rs => rs.length") == 12  # 112 relationships


def _dtdl(tmp: Path) -> Path:
    folder = tmp / "models"
    (folder / "sub").mkdir(parents=True)
    (folder / "pump.json").write_text(json.dumps({
        "@id": "dtmi:example:ui:Pump;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
        "extends": "dtmi:example:ui:Asset;1",
        "contents": [{"@type": "Property", "name": "speed", "schema": "double", "writable": True}]}))
    (folder / "sub" / "asset.json").write_text(json.dumps([{
        "@id": "dtmi:example:ui:Asset;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
        "contents": [{"@type": "Property", "name": "serial", "schema": "string"}]}]))
    return folder


def test_upload_a_dtdl_folder_and_a_broken_file(tab: Page, site: tuple[str, httpx.Client], tmp_path: Path) -> None:
    folder = _dtdl(tmp_path)
    page = tab.open("/ui/models")
    page.wait_for_selector("text=/^[0-9]+ models$/")
    page.set_input_files("input[aria-label='A folder of DTDL files']", folder)
    page.wait_for_selector("text=Uploaded 2 models")
    assert site[1].get("/models/dtmi:example:ui:Pump;1").status_code == 200
    page.goto(tab.base + "/ui/models/dtmi:example:ui:Pump;1")
    page.wait_for_selector("text=inherited from")
    assert "serial" in page.inner_text("table")
    # a broken model: its error names the file and the element
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "fan.json").write_text(json.dumps({
        "@id": "dtmi:example:ui:Fan;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
        "contents": [{"@type": "Property", "name": "mode", "schema": "nope"}]}))
    (broken / "bad.json").write_text("{not json")
    page.goto(tab.base + "/ui/models")
    page.wait_for_selector("text=/^[0-9]+ models$/")
    page.set_input_files("input[aria-label='DTDL files']", [broken / "bad.json"])
    page.wait_for_selector("text=not JSON")
    assert "bad.json" in page.inner_text("ul.error")
    page.set_input_files("input[aria-label='DTDL files']", [broken / "fan.json"])
    page.wait_for_selector("text=Nothing uploaded (DTDLParserError)")
    message = page.inner_text("ul.error")
    assert "fan.json" in message and "Property 'mode'" in message and "'nope'" in message
    tab.shot("models-error")
    assert site[1].get("/models/dtmi:example:ui:Fan;1").status_code == 404


def _canvas_pixels(page: Any) -> tuple[int, int]:
    """(distinct colours, pixels unlike the background) of the scene's canvas."""
    data = page.evaluate("""() => {
        const c = document.querySelector('.scene-wrap canvas');
        const g = document.createElement('canvas'); g.width = 200; g.height = 120;
        const x = g.getContext('2d'); x.drawImage(c, 0, 0, 200, 120);
        const d = x.getImageData(0, 0, 200, 120).data; const seen = new Set(); let other = 0;
        for (let i = 0; i < d.length; i += 4) { const k = (d[i] << 16) | (d[i+1] << 8) | d[i+2]; seen.add(k);
          if (Math.abs(d[i] - 0xdf) + Math.abs(d[i+1] - 0xe6) + Math.abs(d[i+2] - 0xee) > 30) other++; }
        return [seen.size, other]; }""")
    return int(data[0]), int(data[1])


def test_scene_renders_meshes_and_a_click_opens_the_twin(tab: Page, site: tuple[str, httpx.Client]) -> None:
    page = tab.open(SCENE)
    page.wait_for_selector("text=16 meshes", timeout=15000)
    # software WebGL on a busy machine may take a few frames to draw: poll, then judge the canvas
    colours, drawn = _canvas_pixels(page)
    for _ in range(60):
        if colours > 20 and drawn > 2000:
            break
        page.wait_for_timeout(250)
        colours, drawn = _canvas_pixels(page)
    assert colours > 20 and drawn > 2000, f"the scene looks blank ({colours} colours, {drawn} pixels drawn)"
    # the page sets its hook once the first colours are in (after the mesh count shows): wait for it
    page.wait_for_function("typeof window.twinforgeScene === 'object'", timeout=10000)
    # live colour: the room's temperature sensor gets hot, the room turns red. Other tests on
    # this worker's server may have left the sensor hot already: cool it first.
    site[1].patch("/digitaltwins/temp-101", json=[{"op": "replace", "path": "/lastValue", "value": 17.0}])
    page.wait_for_function("twinforgeScene.color('room-101') !== 'e0523a'", timeout=10000)
    before = page.evaluate("twinforgeScene.color('room-101')")
    site[1].patch("/digitaltwins/temp-101", json=[{"op": "replace", "path": "/lastValue", "value": 27.0}])
    page.wait_for_function(f"twinforgeScene.color('room-101') !== '{before}'", timeout=3000)
    assert page.evaluate("twinforgeScene.color('room-101')") == "e0523a"
    tab.shot("scene")
    point = page.evaluate("twinforgeScene.screenPosition('room-304')")
    page.mouse.click(point["x"], point["y"])
    page.wait_for_url("**/ui/twins/room-304")
    page.wait_for_selector("text=Relationships")
    assert tab.errors == []


def test_the_scene_shows_a_change_made_between_its_read_and_its_subscription(
        tab: Page, site: tuple[str, httpx.Client]) -> None:
    """The scene reads the sensors' values, then opens its stream. A change committed in
    between (here: just before the stream's request leaves the browser) must still recolour."""
    from websockets.sync.client import connect

    client = site[1]
    client.patch("/digitaltwins/temp-101", json=[{"op": "replace", "path": "/lastValue", "value": 17.0}])
    changed: list[int] = []
    # A subscriber of our own: once it has the change, the server's event bus has passed it,
    # and a stream opened without a position would start after it.
    watcher = connect(site[0].replace("http://", "ws://") + "/stream?twin=temp-101&type=Twin.Update")

    def change_then_open(route: Any) -> None:
        if not changed:
            r = client.patch("/digitaltwins/temp-101", json=[{"op": "replace", "path": "/lastValue", "value": 27.0}])
            changed.append(r.status_code)
            while "27.0" not in str(watcher.recv(timeout=10)):
                pass
        route.continue_()

    tab.page.route("**/stream?*", change_then_open)
    page = tab.open(SCENE)
    page.wait_for_function("typeof window.twinforgeScene === 'object'", timeout=15000)
    page.wait_for_function("twinforgeScene.color('room-101') === 'e0523a'", timeout=10000)
    assert changed == [204]
    assert tab.errors == []
    watcher.close()


def test_geometry_api(site: tuple[str, httpx.Client]) -> None:
    from twinforge.geometry import box_glb

    c = site[1]
    glb = box_glb((1, 2, 3))
    r = c.put("/digitaltwins/ahu-1/geometry?translation=1,2,3&scale=2", content=glb,
              headers={"Content-Type": "model/gltf-binary"})
    assert r.status_code == 201, r.text
    assert r.json()["transform"] == {"translation": [1, 2, 3], "rotation": [0, 0, 0, 1], "scale": [2, 2, 2]}
    got = c.get("/digitaltwins/ahu-1/geometry")
    assert got.content == glb and got.headers["content-type"] == "model/gltf-binary"
    assert c.get("/digitaltwins/ahu-1/geometry", headers={"If-None-Match": got.headers["etag"]}).status_code == 304
    assert c.put("/digitaltwins/ahu-1/geometry", content=glb).status_code == 200  # replaced; transform kept
    assert c.get("/digitaltwins/ahu-1/geometry/transform").json()["transform"]["scale"] == [2, 2, 2]
    bad = c.put("/digitaltwins/ahu-1/geometry", content=b"glTF\x01\0\0\0" + b"\0" * 12)
    assert bad.status_code == 400 and "only glTF 2.0" in bad.json()["error"]["message"]
    assert c.get("/digitaltwins/ahu-1/geometry").content == glb  # the bad upload changed nothing
    external = json.dumps({"asset": {"version": "2.0"}, "buffers": [{"uri": "https://example.com/x.bin"}]})
    assert "points outside" in c.put("/digitaltwins/ahu-1/geometry", content=external).json()["error"]["message"]
    r = c.put("/digitaltwins/ahu-1/geometry/transform", json={"rotation": [0, 0, 1, 1]})
    assert r.status_code == 400 and "unit quaternion" in r.json()["error"]["message"]
    assert c.put("/digitaltwins/nope/geometry", content=glb).status_code == 404
    assert "ahu-1" in {g["$dtId"] for g in c.get("/geometry").json()["value"]}
    assert c.delete("/digitaltwins/ahu-1/geometry").status_code == 204
    r = c.get("/digitaltwins/ahu-1/geometry")
    assert r.status_code == 404 and r.json()["error"]["code"] == "GeometryNotFound"


def test_scenario_page_runs_with_progress_and_compares(tab: Page) -> None:
    page = tab.open("/ui/scenarios")
    page.wait_for_selector("text=New scenario")
    doc = {"id": "ui-warmer", "scope": f"SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '{ZONE}')",
           "horizon": "PT6H", "step": "PT1M", "overrides": [{"twin": "zone-1", "property": "heaterPower", "value": 2000}],
           "kpis": [{"name": "final", "twin": "zone-1", "property": "temperature", "agg": "last"}]}
    page.fill("textarea[aria-label^='Scenario document']", json.dumps(doc))
    page.click("text=Create scenario")
    page.wait_for_url("**/ui/scenarios/ui-warmer")
    page.click("button:has-text('Run')")
    page.wait_for_selector("text=done · 100 %", timeout=30000)
    page.wait_for_selector(".chart .uplot")
    row = page.inner_text("table tbody tr")
    base, variant = (float(v) for v in row.split()[1:3])
    # from 18 °C towards outdoor + P·R: 5 + 1000·0.01 = 15 °C (baseline), 5 + 2000·0.01 = 25 °C (variant)
    assert 15 < base < 18 and 18 < variant < 25
    tab.shot("scenario")
    assert tab.errors == []


def test_alerts_page_lists_and_acknowledges(tab: Page, site: tuple[str, httpx.Client]) -> None:
    c = site[1]
    r = c.put("/alerts/rules/ui-hot", json={"model": "dtmi:digitaltwins:rec_3_3:device:TemperatureSensor;1",
                                            "condition": "lastValue > 30", "severity": "critical"})
    assert r.status_code in (200, 201), r.text
    page = tab.open("/ui/alerts?state=active")
    page.wait_for_selector("text=ui-hot")  # the rule
    c.patch("/digitaltwins/temp-102", json=[{"op": "add", "path": "/lastValue", "value": 35.0}])
    page.wait_for_selector("td >> text=temp-102", timeout=5000)  # live, no reload
    assert "{" not in page.inner_text("table tbody")  # values as "name = value", not raw JSON
    tab.shot("alerts")
    page.click("button:has-text('Acknowledge')")
    page.wait_for_selector("text=Acknowledged.")
    states = {a["twinId"]: a["state"] for a in c.get("/alerts").json()["value"]}
    assert states["temp-102"] == "acknowledged"
    assert tab.errors == []


def test_graph_explorer_expands_and_opens_a_twin(tab: Page) -> None:
    page = tab.open("/ui/graph?q=" + "SELECT%20T%20FROM%20DIGITALTWINS%20T%20WHERE%20T.%24dtId%20%3D%20'room-101'")
    page.wait_for_selector("canvas[data-drawn='1']")
    point = page.evaluate("twinforgeGraph.screenOf('room-101')")
    page.mouse.click(point["x"], point["y"])
    page.wait_for_selector("text=Expand neighbours")
    page.click("text=Expand neighbours")
    page.wait_for_function("twinforgeGraph.nodes.length > 1")
    page.wait_for_timeout(300)
    assert page.evaluate("twinforgeGraph.nodes.length") == 6  # itself, its level, 3 sensors, the VAV serving it
    page.click("text=Open twin")
    page.wait_for_url("**/ui/twins/room-101")
    assert tab.errors == []


def test_ui_needs_no_token_but_its_data_does(tmp_path: Path, browser: Any) -> None:
    from twinforge.auth import Tokens

    graph = TwinGraph.open(f"sqlite:///{tmp_path / 'a.db'}")
    _, secret = Tokens(graph.store).create("viewer", "reader")
    with running_api(graph, auth=True) as url:
        assert httpx.get(url + "/ui/twins/x").status_code == 200
        assert httpx.get(url + "/ui/static/js/app.js").status_code == 200
        assert httpx.get(url + "/digitaltwins/x").status_code == 401
        tab = Page(browser, url)
        page = tab.open("/ui")
        page.wait_for_selector("text=needs a token")  # no token: the API says 401
        page.evaluate(f"localStorage.setItem('twinforge.token', {json.dumps(secret)})")
        page.reload()
        try:  # every request of the page is let through, even the first ones, sent at once
            page.wait_for_function("document.querySelectorAll('#view .card .n')[1]?.textContent === '0'",
                                   timeout=60000)
        except Exception as exc:
            raise AssertionError(f"the page shows {page.inner_text('#view')!r}; console: {tab.errors}") from exc
        assert "updates/s ingested" in page.inner_text("#view")
        tab.page.close()
    graph.close()


def test_pinned_libraries_ship_in_the_package() -> None:
    from importlib import resources

    static = resources.files("twinforge.ui").joinpath("static")
    readme = static.joinpath("vendor/README.md").read_text()
    for path in ("vendor/three/three.module.min.js", "vendor/three/jsm/loaders/GLTFLoader.js",
                 "vendor/uplot/uPlot.iife.min.js", "vendor/d3/d3-force.min.js", "index.html", "js/app.js"):
        assert static.joinpath(path).is_file(), path
    index = static.joinpath("index.html").read_text()
    assert "http://" not in index and "https://" not in index  # nothing from a CDN
    assert "0.170.0" in readme and "1.6.31" in readme
