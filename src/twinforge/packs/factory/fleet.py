"""The factory's engine fleet: turbofans (the simulation library's C-MAPSS-like Turbofan)
streaming their 21 sensors, a RUL model trained on simulated run-to-failure data, an alert
rule on the estimate, and a maintenance desk that turns alerts into work orders and plans
them with the maintenance planner.

- `training_data` runs engines of the Turbofan behaviour to failure (wear, degradation scale
  and rate drawn per engine) into C-MAPSS rows, so `twinforge.analytics.rul.train` learns it
  as it learns NASA's set;
- `FleetSimulator` publishes one flight cycle per engine every ``period`` seconds over MQTT;
  an engine that reaches failure is replaced (a new engine, cycle 0);
- `MaintenanceDesk.run_once` makes a work order from each active ``rul-low`` alert (once per
  asset), plans the open ones with `analytics.planning` (RUL in days at ``cycles_per_day``),
  sets their due dates and state ``scheduled``, and closes an order once its engine has been
  replaced (its RUL is back above ``replaced_above``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from twinforge.errors import NotFound
from twinforge.graph import TwinGraph
from twinforge.history import History
from twinforge.history.timeutil import from_us
from twinforge.packs.publisher import DevicePublisher
from twinforge.sim.library import NS, Turbofan

TURBOFAN = NS + "Turbofan;1"
RULE = "rul-low"
RUL_ATTACHMENT = "fleet"
TRAINED = "fleet-turbofan"


def _draw(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {"initialWear": rng.uniform(0.0, 0.05, n), "degradationScale": rng.uniform(0.0006, 0.0016, n),
            "degradationRate": rng.uniform(0.018, 0.03, n)}


def _values(params: dict[str, np.ndarray], cycles: np.ndarray) -> dict[str, np.ndarray]:
    behaviour = Turbofan()
    n = len(cycles)
    v = {var.name: np.full(n, var.default, float) for var in behaviour.variables}
    v.update(params)
    v["cycle"] = cycles.astype(float)
    v["cycleDuration"] = np.ones(n)
    return v


def training_data(engines: int = 40, seed: int = 1) -> np.ndarray:
    """Run-to-failure rows (unit, cycle, three settings, 21 sensors), as C-MAPSS lays them out."""
    rng = np.random.default_rng(seed)
    behaviour = Turbofan()
    params = _draw(rng, engines)
    v = _values(params, np.zeros(engines))
    behaviour.initial(v, rng)
    end = np.floor(Turbofan.failure_cycle(v)).astype(int)
    rows = []
    for cycle in range(1, int(end.max()) + 1):
        behaviour.step(float(cycle), 1.0, v, rng)
        alive = np.flatnonzero(end >= cycle)
        sensors = np.stack([v[f"sensor{i + 1}"][alive] for i in range(21)], axis=1)
        block = np.column_stack([alive + 1, np.full(len(alive), cycle), np.zeros((len(alive), 3)), sensors])
        rows.append(block)
    data = np.concatenate(rows)
    return data[np.lexsort((data[:, 1], data[:, 0]))]


def train_model(seed: int = 0, engines: int = 40) -> bytes:
    """A RUL model file (`twinforge rul train`'s format) trained on `training_data`: one MLP
    member, about 20 s on one core for 40 engines."""
    from twinforge.analytics.rul import train

    return train(training_data(engines, seed + 1), seed=seed, members=1, kind="mlp").to_bytes()


def engine_ids(count: int) -> list[str]:
    return [f"engine-{k + 1:02d}" for k in range(count)]


def load_fleet(graph: TwinGraph, count: int = 6, *, model_bytes: bytes | None = None,
               threshold: float = 40.0) -> list[str]:
    """The Turbofan model, ``count`` engine twins, the RUL model attached to them and the
    ``rul-low`` alert rule (``rul < threshold`` cycles)."""
    from twinforge.analytics.alerts import AlertService
    from twinforge.analytics.engine import AnalyticsEngine
    from twinforge.sim.library import models as sim_models

    if TURBOFAN not in graph.models:
        graph.add_models([m for m in sim_models() if m["@id"] == TURBOFAN])
    ids = engine_ids(count)
    for twin in ids:
        try:
            graph.get_twin(twin)
        except NotFound:
            graph.create_twin(twin, {"$metadata": {"$model": TURBOFAN}})
    analytics = AnalyticsEngine(graph)
    if model_bytes is not None or all(entry.id != TRAINED for entry in analytics.rul_models.entries()):
        data = model_bytes if model_bytes is not None else train_model()  # trained once per store
        analytics.rul_models.put(TRAINED, data, analytics.rul_models.parse(TRAINED, data))
    analytics.put_rul(RUL_ATTACHMENT, {"model": TURBOFAN, "trainedModel": TRAINED})
    AlertService(graph, analytics).put_rule(RULE, {
        "model": TURBOFAN, "condition": f"rul < {threshold:g}", "severity": "warning",
        "clear": f"rul > {threshold * 1.5:g}"})
    return ids


class FleetSimulator(DevicePublisher):
    """Publishes one flight cycle of each engine every ``period`` seconds over MQTT (topic
    ``twinforge/updates``); engines start spread over their lives and are replaced at failure."""

    client_id = "twinforge-fleet"

    def __init__(self, url: str, engines: list[str], *, period: float = 2.0, seed: int = 11) -> None:
        super().__init__(url)
        self.engines = engines
        self.period = period
        self.rng = np.random.default_rng(seed)
        self.replaced = 0
        n = len(engines)
        self.params = _draw(self.rng, n)
        probe = _values(self.params, np.zeros(n))
        life = Turbofan.failure_cycle(probe)
        # Engines part-way through their lives (some near the end): their past cycles are sent
        # first, stamped in the past, so each twin's history holds its whole life so far.
        self.resume_at = np.floor(life * np.linspace(0.35, 0.9, n)).astype(float)
        self.cycles = np.zeros(n)

    def _replace(self, k: int) -> None:
        fresh = _draw(self.rng, 1)
        for name, values in fresh.items():
            self.params[name][k] = values[0]
        self.cycles[k] = 0.0
        self.replaced += 1

    def step(self, at: float | None = None, only: np.ndarray | None = None) -> list[dict[str, Any]]:
        """One cycle of every engine (or of those ``only`` selects), stamped ``at`` (now): the
        records to publish."""
        behaviour = Turbofan()
        moving = np.ones(len(self.engines), bool) if only is None else only
        self.cycles[moving] += 1.0
        v = _values(self.params, self.cycles)
        behaviour.initial(v, self.rng)
        stamp = from_us(int((time.time() if at is None else at) * 1e6))
        records = []
        for k, twin in enumerate(self.engines):
            if not moving[k]:
                continue
            telemetry = {f"sensor{i + 1}": round(float(v[f"sensor{i + 1}"][k]), 4) for i in range(21)}
            records.append({"twin": twin, "telemetry": telemetry, "time": stamp})
            if v["failed"][k] >= 1.0:
                self._replace(k)
        return records

    def publish(self, client: Any) -> None:
        import contextlib

        behind = int(self.resume_at.max() - self.cycles.min())
        now = time.time()
        for j in range(behind):  # the past, at the broker's pace
            if self._stop.is_set():
                return
            records = self.step(now - (behind - j) * self.period, only=self.cycles < self.resume_at)
            if records:
                sent = client.publish("twinforge/updates", json.dumps(records), qos=1)
                with contextlib.suppress(RuntimeError, ValueError):
                    sent.wait_for_publish(5)
                self.sent += len(records)
        while not self._stop.is_set():
            records = self.step()
            client.publish("twinforge/updates", json.dumps(records), qos=1)
            self.sent += len(records)
            self._stop.wait(self.period)


@dataclass
class MaintenanceDesk:
    """Alerts to work orders to a plan, and orders closed once their engine is replaced."""

    graph: TwinGraph
    cycles_per_day: float = 4.0
    crews_per_day: int = 1
    horizon_days: int = 30
    replaced_above: float = 100.0

    def _rul(self, twin: str) -> tuple[float, float, float] | None:
        history = History(self.graph.store)
        found = []
        for name in ("rul", "rul:low", "rul:high"):
            known, value = history.value_at(twin, name, int(time.time() * 1e6) + 1)
            if not known or not isinstance(value, (int, float)):
                return None
            found.append(float(value))
        return found[0], found[1], found[2]

    def run_once(self) -> dict[str, Any]:
        from twinforge.analytics.alerts import AlertService
        from twinforge.analytics.engine import AnalyticsEngine
        from twinforge.analytics.planning import Asset, PlanningProblem, plan
        from twinforge.maintenance import WorkOrders

        orders = WorkOrders(self.graph)
        alerts = AlertService(self.graph, AnalyticsEngine(self.graph))
        pending = {o["asset"]: o for o in orders.list_orders() if o["state"] in ("open", "scheduled")}
        created, closed = [], []
        for alert in alerts.list_alerts(state="active", limit=1000):
            if alert.get("ruleId", alert.get("rule")) != RULE or alert["twinId"] in pending:
                continue
            order = orders.create({"alert": alert["id"]})
            pending[order["asset"]] = order
            created.append(order["id"])
        assets = []
        for asset, order in list(pending.items()):
            rul = self._rul(asset)
            if rul is None:
                continue
            if rul[0] > self.replaced_above:
                orders.update(order["id"], {"state": "done"})
                closed.append(order["id"])
                del pending[asset]
                continue
            mean = rul[0] / self.cycles_per_day
            std = max((rul[2] - rul[1]) / 3.29 / self.cycles_per_day, 0.1)
            assets.append(Asset(asset, mean, std, 1.0, 10.0))
        scheduled = {}
        if assets:
            result = plan(PlanningProblem(self.horizon_days, self.crews_per_day, tuple(assets)))
            today = datetime.now(UTC).date()
            for item in result.schedule:
                if item["day"] is None:
                    continue
                due = (today + timedelta(days=int(item["day"]))).isoformat()
                order = pending[item["asset"]]
                if order.get("dueDate") != due or order["state"] != "scheduled":
                    orders.update(order["id"], {"state": "scheduled", "dueDate": due})
                scheduled[item["asset"]] = due
        return {"created": created, "scheduled": scheduled, "closed": closed}


__all__ = ["RULE", "RUL_ATTACHMENT", "TRAINED", "TURBOFAN", "FleetSimulator", "MaintenanceDesk", "engine_ids",
           "load_fleet", "train_model", "training_data"]
