"""`twinforge bench ui`: how fast the dashboard is in Debian's Chromium (driven by Playwright).

- The twin page of the building demo (`/ui/twins/temp-101`): from navigation to interactive
  (properties, relationships and history charts drawn, the live stream open), against loading
  a blank page from the same server in the same run (the browser's own floor).
- The graph explorer with 10,000 twins and 9,999 relationships: from navigation to every twin
  drawn on the canvas (data fetched through `/query` in pages, layout started), against fetching
  the same pages with httpx from Python in the same run (the API's share of it); and the time of
  one frame (what panning and zooming cost).
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from twinforge.graph import TwinGraph
from twinforge.ports import free_port

NODE = "dtmi:bench:ui:Node;1"
NODE_MODEL = {"@id": NODE, "@type": "Interface", "@context": "dtmi:dtdl:context;3",
              "contents": [{"@type": "Property", "name": "name", "schema": "string"},
                           {"@type": "Relationship", "name": "isPartOf"}]}
ARGS = ["--no-sandbox", "--use-gl=swiftshader", "--enable-unsafe-swiftshader"]


@contextmanager
def serving(graph: TwinGraph) -> Iterator[str]:

    import uvicorn

    from twinforge.api import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(graph), host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def big_graph(path: Path, n: int) -> TwinGraph:
    graph = TwinGraph.open(f"sqlite:///{path}")
    graph.add_models([NODE_MODEL])
    graph.create_twins([(f"n{i}", {"$metadata": {"$model": NODE}, "name": f"Node {i}"}) for i in range(n)])
    graph.create_relationships([(f"n{i}", f"n{i}-p", {"$relationshipName": "isPartOf", "$targetId": f"n{(i - 1) // 3}"})
                                for i in range(1, n)])
    return graph


def fetch_all(url: str, query: str) -> int:
    rows = 0
    token = None
    with httpx.Client(base_url=url, timeout=60) as client:
        while True:
            body = {"query": query, **({"continuationToken": token} if token else {})}
            page = client.post("/query", json=body, headers={"max-items-per-page": "5000"}).json()
            rows += len(page["value"])
            token = page.get("continuationToken")
            if not token:
                return rows


def main(quick: bool, progress: Any) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from twinforge.packs.building import load_demo, realestatecore

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise RuntimeError("bench ui needs Debian's chromium (apt-get install chromium)")
    repeat = 2 if quick else 5
    n = 1_000 if quick else 10_000
    results: dict[str, Any] = {"repeat": repeat, "graphTwins": n}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        progress("loading the building demo")
        demo = TwinGraph.open(f"sqlite:///{Path(tmp) / 'demo.db'}")
        demo.add_models(realestatecore())
        load_demo(demo)
        for i in range(200):
            demo.update_twin("temp-101", [{"op": "add", "path": "/lastValue", "value": 20 + (i % 7) * 0.3}])
        with serving(demo) as url:
            blank, twin = [], []
            for k in range(repeat + 1):
                progress(f"twin page {k + 1}/{repeat + 1}")
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(url + "/ui/static/app.css")
                blank.append(page.evaluate("performance.getEntriesByType('navigation')[0].duration"))
                page.goto(url + "/ui/twins/temp-101")
                page.wait_for_function("window.twinforgeTwinReady !== undefined", timeout=30000)
                twin.append(page.evaluate("window.twinforgeTwinReady"))
                page.close()
            # the first visit warms the server's caches and the browser's module cache: not counted
            results["twinPageMs"] = twin[1:]
            results["blankPageMs"] = blank[1:]
        demo.close()

        progress(f"building a graph of {n:,} twins")
        graph = big_graph(Path(tmp) / "big.db", n)
        with serving(graph) as url:
            fetch, draw, frame = [], [], []
            for k in range(repeat + 1):
                progress(f"graph explorer {k + 1}/{repeat + 1}")
                start = time.perf_counter()
                rows = fetch_all(url, "SELECT T FROM DIGITALTWINS T") + fetch_all(url, "SELECT R FROM RELATIONSHIPS R")
                fetch.append((time.perf_counter() - start) * 1000)
                assert rows == 2 * n - 1
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(url + "/ui/graph")
                page.wait_for_selector(f"canvas[data-drawn='{n}']", timeout=60000)
                draw.append(page.evaluate("performance.getEntriesByName('twinforge-graph-drawn')[0].startTime"))
                frame.append(page.evaluate("""() => { const g = window.twinforgeGraph; g.sim.stop();
                    const t0 = performance.now(); for (let i = 0; i < 20; i++) g.paint();
                    return (performance.now() - t0) / 20; }"""))
                page.close()
            results["graphDrawMs"] = draw[1:]
            results["graphFetchMs"] = fetch[1:]
            results["graphFrameMs"] = frame[1:]
        graph.close()
        browser.close()
    for key in ("twinPageMs", "blankPageMs", "graphDrawMs", "graphFetchMs", "graphFrameMs"):
        results[key + "Median"] = statistics.median(results[key])
    return results


def _range(values: list[float]) -> str:
    return f"{min(values):,.0f}-{max(values):,.0f} ms (median {statistics.median(values):,.0f})"


def report(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        ("twin page interactive (demo, temp-101)", _range(r["twinPageMs"]),
         f"goal < 1,000 ms; a blank page {_range(r['blankPageMs'])}"),
        (f"graph explorer: {r['graphTwins']:,} twins drawn", _range(r["graphDrawMs"]),
         f"goal < 3,000 ms; the same /query pages from Python {_range(r['graphFetchMs'])} "
         f"({r['graphDrawMsMedian'] / r['graphFetchMsMedian']:.1f}x)"),
        (f"graph explorer: one frame of {r['graphTwins']:,} twins (pan, zoom)",
         f"{min(r['graphFrameMs']):.1f}-{max(r['graphFrameMs']):.1f} ms", "fluid: < 33 ms (30 frames/s)"),
    ]
