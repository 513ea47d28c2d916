"""Public services as IoT twins on the smart-cities ontology: the dimming schedule's energy,
waste containers' fill forecast and the collection tours, and the devices over a real
Mosquitto into the twins."""

from __future__ import annotations

import itertools
import math
import time
from pathlib import Path

import numpy as np
import pytest

from tests.requirements import need_module
from twinforge.graph import TwinGraph
from twinforge.graph.updates import Update
from twinforge.history.timeutil import now_us
from twinforge.packs.city.services import (
    CONTAINER,
    STREETLIGHT,
    ServicesPublisher,
    daily_energy_kwh,
    dim_level,
    district_services,
    due_containers,
    ensure_models,
    fill_forecast,
    plan_collection,
)


@pytest.fixture
def city(tmp_path: Path) -> TwinGraph:
    graph = TwinGraph.open(f"sqlite:///{tmp_path / 'city.db'}")
    ensure_models(graph)
    graph.create_twins(district_services())
    yield graph
    graph.close()


def test_the_services_are_twins_of_the_ontology(city: TwinGraph) -> None:
    assert city.models.is_of_model(STREETLIGHT, "dtmi:digitaltwins:ngsi_ld:city:Streetlight;1")
    assert city.models.is_of_model(CONTAINER, "dtmi:digitaltwins:ngsi_ld:city:NGSILDBaseModel;1")
    counts: dict[str, int] = {}
    for row in city.query("SELECT T FROM DIGITALTWINS T"):
        model = row["T"]["$metadata"]["$model"].split(":")[-1]
        counts[model] = counts.get(model, 0) + 1
    assert counts == {"Streetlight;1": 32, "ParkingSpot;1": 18, "WasteContainer;1": 9, "AirQualityObserved;1": 1}
    from twinforge.errors import ValidationError

    with pytest.raises(ValidationError, match="powerState"):  # the ontology's enum holds
        city.update_twin("light-000", [{"op": "replace", "path": "/powerState", "value": "dim"}])


def test_dimming_schedule_and_its_energy() -> None:
    assert [dim_level(h) for h in (0, 4.9, 5, 6.5, 7, 12, 18, 22.9, 23, 23.5)] == \
        [50, 50, 100, 100, 0, 0, 100, 100, 50, 50]
    # 120 W: 5 h at 50 %, 2 h full, 11 h off, 5 h full, 1 h at 50 % = 1.2 kWh
    assert daily_energy_kwh(120.0) == pytest.approx(1.2)
    assert daily_energy_kwh(120.0, ((0, 100.0),)) == pytest.approx(2.88)


def test_fill_forecast() -> None:
    t = np.arange(0, 7 * 3600, 3600.0)
    assert fill_forecast(t, 0.2 + 0.05 * t / 3600) == pytest.approx((0.8 - 0.5) / 0.05 * 3600)
    emptied = np.concatenate([0.6 + 0.05 * t[:3] / 3600, [0.05, 0.1, 0.15, 0.2]])  # emptied at the fourth
    assert fill_forecast(t, emptied) == pytest.approx((0.8 - 0.2) / 0.05 * 3600)
    assert fill_forecast(t, np.full(7, 0.3)) is None
    assert fill_forecast(t[:2], np.array([0.1, 0.2])) is None
    assert fill_forecast(t, np.full(7, 0.9)) == 0.0


def test_due_containers_from_their_history(city: TwinGraph) -> None:
    from twinforge.history.timeutil import from_us

    time.sleep(0.8)  # readings a tenth of a second apart, after the twins' first values
    start = now_us() - 700_000
    updates = []
    for k in range(7):
        ts = start + k * 100_000
        updates.append(Update("waste-00", {"fillingLevel": 0.3 + 0.08 * k}, ts=ts))  # 0.8 a second
        updates.append(Update("waste-11", {"fillingLevel": 0.1 + 0.01 * k}, ts=ts))  # 0.1 a second
    city.apply_updates(updates)
    since = from_us(start)
    due = due_containers(city, horizon=1.0, since=since)
    assert set(due) == {"waste-00"} and due["waste-00"] == pytest.approx((0.8 - 0.78) / 0.8, rel=1e-6)
    assert due_containers(city, horizon=10.0, since=since)["waste-11"] == pytest.approx((0.8 - 0.16) / 0.1)


def _brute(points: dict[str, tuple[float, float, float]], depot: tuple[float, float]) -> float:
    best = math.inf
    for order in itertools.permutations(points):
        path = [depot, *[points[c][:2] for c in order], depot]
        best = min(best, sum(math.dist(a, b) for a, b in itertools.pairwise(path)))
    return best


def test_collection_tours() -> None:
    from twinforge.errors import InvalidArgument

    rng = np.random.default_rng(4)
    few = {f"w{k}": (float(rng.uniform(0, 1000)), float(rng.uniform(0, 1000)), 500.0) for k in range(7)}
    one = plan_collection(few, (500.0, 500.0), truck_litres=10_000)
    assert len(one.tours) == 1 and sorted(one.tours[0]) == sorted(few)
    assert one.distance_m == pytest.approx(_brute(few, (500.0, 500.0)))  # exact up to 8 stops
    many = {f"w{k:02d}": (float(rng.uniform(0, 2000)), float(rng.uniform(0, 2000)), 900.0) for k in range(30)}
    plan = plan_collection(many, (1000.0, 1000.0), truck_litres=4_000)
    assert sorted(itertools.chain.from_iterable(plan.tours)) == sorted(many)  # each container once
    assert all(len(t) * 900.0 <= 4_000 for t in plan.tours) and len(plan.tours) == 8
    with pytest.raises(InvalidArgument, match="holds more than a truck"):
        plan_collection({"big": (0.0, 0.0, 5000.0)}, (0.0, 0.0), truck_litres=1100)


def test_devices_feed_the_twins_over_mqtt(city: TwinGraph, tmp_path: Path) -> None:
    need_module("paho")
    from tests.servers import running_mosquitto
    from twinforge.ingest import Ingestor
    from twinforge.ingest.mqtt import MqttConnector

    with running_mosquitto(tmp_path / "mosquitto") as broker:
        connector = MqttConnector(Ingestor(city), broker.url, client_id="services-test")
        connector.start()
        publisher = ServicesPublisher(broker.url, district_services(), interval=0.2, speedup=3600.0)
        publisher.start()
        try:
            deadline = time.monotonic() + 60
            while not (city.get_twin("light-000").get("energyKwh", 0) > 0
                       and "NO2" in city.get_twin("air-centre")
                       and city.get_twin("waste-22")["fillingLevel"] != district_services()[-2][1]["fillingLevel"]):
                assert time.monotonic() < deadline, "the devices' readings did not reach the twins"
                time.sleep(0.1)
        finally:
            publisher.stop()
            connector.stop()
    light = city.get_twin("light-000")
    assert light["powerState"] in {"on", "low"} and light["powerW"] == pytest.approx(120.0 * light["dimLevel"] / 100)
    assert city.get_twin("parking-00-0")["status"] in {"free", "occupied"}
