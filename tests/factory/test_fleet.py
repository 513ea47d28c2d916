"""The engine fleet: training data shaped as C-MAPSS, a model that learns it, the simulator's
backfill, and the maintenance desk turning RUL alerts into scheduled work orders and closing
them once the engine is replaced."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.requirements import need_module

need_module("sklearn")
from twinforge.analytics.rul import RulModel, train  # noqa: E402
from twinforge.graph import TwinGraph  # noqa: E402
from twinforge.history import point  # noqa: E402
from twinforge.maintenance import WorkOrders  # noqa: E402
from twinforge.packs.factory.fleet import (  # noqa: E402
    RULE,
    TURBOFAN,
    FleetSimulator,
    MaintenanceDesk,
    load_fleet,
    training_data,
)
from twinforge.sim.library import Turbofan  # noqa: E402


@pytest.fixture(scope="module")
def small_model() -> bytes:
    return train(training_data(12, 5), seed=0, members=1, kind="mlp", refit=False).to_bytes()


def test_training_data_runs_each_engine_to_failure_as_cmapss_does() -> None:
    data = training_data(10, 3)
    assert data.shape[1] == 26
    units = np.unique(data[:, 0])
    assert list(units) == list(range(1, 11))
    for u in units:
        cycles = data[data[:, 0] == u, 1]
        assert list(cycles) == list(range(1, len(cycles) + 1))  # every cycle, in order, from 1
        assert 80 < len(cycles) < 400
    # sensors drift with wear: at failure each reads its baseline plus its change (C-MAPSS-like)
    from twinforge.sim.library import _CHANNELS

    starts = np.array([data[data[:, 0] == u][:5, 5:].mean(0) for u in units])
    ends = np.array([data[data[:, 0] == u][-5:, 5:].mean(0) for u in units])
    drift = (ends - starts).mean(0)
    moving = np.abs(_CHANNELS[:, 1]) > 5 * _CHANNELS[:, 2] / np.sqrt(50)
    assert moving.sum() >= 8
    ratio = drift[moving] / _CHANNELS[moving, 1]  # near 1 (the last cycles' wear is just under 1)
    assert np.all((ratio > 0.6) & (ratio < 1.15)), ratio


def test_a_model_trained_on_it_predicts_held_out_engines(small_model: bytes) -> None:
    model = RulModel.from_bytes(small_model)
    info = model.manifest()["info"]
    assert info["engines"] == 12 and info["rmse"] < 30  # cycles, capped truth


def test_the_simulator_backfills_each_engine_from_cycle_one() -> None:
    sim = FleetSimulator("mqtt://127.0.0.1:1", ["e1", "e2", "e3"], period=2.0, seed=1)
    target = sim.resume_at.copy()
    assert target[0] < target[-1]
    sent: dict[str, list[str]] = {}
    now = time.time()
    behind = int(target.max())
    for j in range(behind):
        for record in sim.step(now - (behind - j) * 2.0, only=sim.cycles < sim.resume_at):
            sent.setdefault(record["twin"], []).append(record["time"])
    assert [len(sent[e]) for e in ("e1", "e2", "e3")] == [int(t) for t in target]
    assert all(times == sorted(times) for times in sent.values())
    live = sim.step()
    assert len(live) == 3 and set(live[0]["telemetry"]) == {f"sensor{i}" for i in range(1, 22)}


def test_an_engine_is_replaced_at_failure() -> None:
    sim = FleetSimulator("mqtt://127.0.0.1:1", ["e1"], seed=2)
    life = int(Turbofan.failure_cycle({k: v for k, v in sim.params.items()})[0]) + 2
    for _ in range(life):
        sim.step()
    assert sim.replaced == 1 and sim.cycles[0] < life


@pytest.fixture
def fleet(tmp_path: Path, small_model: bytes) -> Iterator[tuple[TwinGraph, list[str]]]:
    graph = TwinGraph.open(f"sqlite:///{tmp_path / 'fleet.db'}")
    ids = load_fleet(graph, 3, model_bytes=small_model)
    yield graph, ids
    graph.close()


def rul(graph: TwinGraph, twin: str, value: float, at: float) -> None:
    """An estimate in history, as the analytics engine keeps it (series rul, rul:low, rul:high)."""
    us = int(at * 1e6)
    graph.store.append_history([point(twin, "", "rul", us, value), point(twin, "", "rul:low", us, value - 10),
                                point(twin, "", "rul:high", us, value + 10)])


def test_load_fleet_makes_twins_attaches_the_model_and_the_rule(fleet: tuple[TwinGraph, list[str]]) -> None:
    from twinforge.analytics.alerts import AlertService
    from twinforge.analytics.engine import AnalyticsEngine

    graph, ids = fleet
    assert ids == ["engine-01", "engine-02", "engine-03"]
    assert all(graph.get_twin(e)["$metadata"]["$model"] == TURBOFAN for e in ids)
    analytics = AnalyticsEngine(graph)
    rule = AlertService(graph, analytics).get_rule(RULE)
    assert rule.to_json()["condition"] == "rul < 40"
    load_fleet(graph, 3, model_bytes=None)  # a second run: no training, nothing doubled
    assert len(analytics.rul_models.entries()) == 1


def test_the_desk_orders_plans_and_closes(fleet: tuple[TwinGraph, list[str]]) -> None:
    graph, _ids = fleet
    from twinforge.analytics.alerts import AlertService
    from twinforge.analytics.engine import AnalyticsEngine

    # the evaluator's path: a RUL of 20 cycles on engine-02 raises the rule's alert
    alerts = AlertService(graph, AnalyticsEngine(graph))
    alerts.observe("engine-02", TURBOFAN, {"rul": 20.0, "rulLow": 10.0, "rulHigh": 30.0})
    assert [a["twinId"] for a in alerts.list_alerts(state="active")] == ["engine-02"]
    now = time.time()
    rul(graph, "engine-02", 20.0, now - 5)
    desk = MaintenanceDesk(graph, cycles_per_day=4.0)
    out = desk.run_once()
    assert len(out["created"]) == 1 and set(out["scheduled"]) == {"engine-02"}
    order = WorkOrders(graph).list_orders()[0]
    assert order["asset"] == "engine-02" and order["state"] == "scheduled" and order["source"] == "alert"
    assert desk.run_once()["created"] == []  # one order per asset
    rul(graph, "engine-02", 125.0, now - 1)  # replaced
    assert desk.run_once()["closed"] == [order["id"]]
    assert WorkOrders(graph).list_orders()[0]["state"] == "done"
