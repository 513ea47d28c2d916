"""`twinforge demo city`: the district's grid, buildings and services, the live energy job
(buildings' heating on their grid buses, a power flow on the twins), served over MQTT."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import httpx
import pytest

from tests.requirements import need_module
from tests.servers import free_port, interrupt, start_demo
from twinforge.graph import TwinGraph

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning", "ignore::DeprecationWarning")
need_module("pandapower")
need_module("paho")
SUMO = importlib.util.find_spec("libsumo") is not None


def test_district_energy_puts_the_buildings_on_the_grid(tmp_path: Path) -> None:
    from twinforge.packs.city import district
    from twinforge.packs.city.demo import GRID, ROOT, DistrictEnergy, load_district

    graph = TwinGraph.open(f"sqlite:///{tmp_path / 'city.db'}")
    try:
        counts = load_district(graph)
        assert counts["buildings"] == 30 and counts["grid bus"] == 15 and counts["grid switch"] == 8
        assert load_district(graph) == {"twins": 0}  # built once
        before = {t: graph.get_twin(t)["pMw"] for t in (f"{GRID}-load-{k}" for k in range(18))}
        energy = DistrictEnergy(graph)
        kpis = energy.run_once()
        hour = int(graph.get_twin(ROOT)["simHour"])
        outdoor = energy.weather.temperature[hour: hour + 1]
        expected = 0.0
        for row in graph.query("SELECT B FROM DIGITALTWINS B WHERE IS_OF_MODEL(B, 'dtmi:twinforge:city:Building;1')"):
            b = row["B"]
            assert b["outdoorTemperature"] == pytest.approx(float(outdoor[0]))
            assert b["heaterPower"] == pytest.approx((b["heatingSetpoint"] - outdoor[0]) / b["thermalResistance"])
            expected += float(district.electric_demand(b, outdoor)[0])
        after = {t: graph.get_twin(t)["pMw"] for t in before}
        assert sum(after.values()) - sum(before.values()) == pytest.approx(expected)
        assert graph.get_twin(ROOT)["buildingsMw"] == pytest.approx(expected, abs=1e-4) and expected > 0
        assert graph.get_twin(f"{GRID}-line-0")["resLoadingPercent"] > 0 and kpis["lossesMw"] > 0
        energy.run_once()  # the buildings' load replaces the last one, it does not pile up
        again = {t: graph.get_twin(t)["pMw"] for t in before}
        assert sum(again.values()) == pytest.approx(sum(after.values()), rel=0.05)
    finally:
        graph.close()


def test_demo_city_serves_the_district_live(tmp_path: Path) -> None:
    port, mqtt_port = free_port(), free_port()
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    proc = start_demo("city", db, port, mqtt_port, "--speedup", "3600", "--traffic-pace", "20")
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        light: dict[str, float] = {}
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                light = httpx.get(f"{base}/digitaltwins/light-000").json()
                waste = httpx.get(f"{base}/digitaltwins/waste-00/history", params={"name": "fillingLevel"}).json()
            except httpx.HTTPError:
                time.sleep(1)
                continue
            if light.get("energyKwh", 0) > 0 and len(waste.get("value", [])) >= 3:
                break
            time.sleep(1)
        assert light.get("energyKwh", 0) > 0, light
        assert httpx.get(f"{base}/digitaltwins/mv-line-0").json()["resLoadingPercent"] > 0
        assert httpx.get(f"{base}/geometry").json()["value"]  # the 3D scene has the buildings
        if SUMO:  # SUMO's traffic moves on the streets' twins, a simulated second at a time
            while time.monotonic() < deadline and httpx.get(f"{base}/digitaltwins/streets").json()["arrived"] < 5:
                time.sleep(1)
            streets = httpx.get(f"{base}/digitaltwins/streets").json()
            assert streets["arrived"] >= 5 and streets["simTime"] > 0, streets
            history = httpx.get(f"{base}/digitaltwins/streets/history", params={"name": "simTime"}).json()["value"]
            assert len(history) >= 5
    finally:
        _, err = interrupt(proc)
    assert "Traceback" not in err, err
