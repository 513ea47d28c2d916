"""The live ward of `twinforge demo health`: ten virtual patients on the UVA/Padova model
streaming CGM and pump data over MQTT on the simulation clock, a glucose trend watch that
predicts lows 30 minutes ahead, detectors and alert rules.

`WardSimulator` is the patients and their devices (it publishes, as real devices would,
to the batch topic ``twinforge/updates`` with each reading's own time); `HypoWatch` is the
platform side: it reads the history the server stored and writes ``predictedGlucose`` on
each patient, which the alert rule ``hypo-predicted`` (predictedGlucose < 70) watches.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from twinforge.graph import TwinGraph
from twinforge.graph.updates import Update
from twinforge.history import History
from twinforge.history.timeutil import from_us, now_us
from twinforge.packs.health.glucose import UvaPadova, uva_padova_values
from twinforge.packs.health.models import PATIENT, SENSITIVE
from twinforge.packs.health.patients import virtual_patient
from twinforge.packs.health.twins import PatientTwins, create_patient, ensure_models
from twinforge.packs.publisher import DevicePublisher

WARD = "ward-a"
VIRTUAL = ("adult#001", "adult#002", "adult#003", "adult#004", "adult#005", "adolescent#001", "adolescent#002",
           "adolescent#003", "child#001", "child#002")
PREDICT_AHEAD = 1800.0  # s: how far the trend watch looks ahead
TREND_WINDOW = 1800.0  # s of readings the trend is fitted on
LOW = 70.0


def patient_ids(size: int = 10, ward: str = WARD) -> list[str]:
    """The patient twin ids of a ward: ``ward-a-bed-01`` ... (a token scoped to ``twins:ward-a-``
    sees the ward, one scoped to ``twins:ward-a-bed-01`` one patient and its devices)."""
    return [f"{ward}-bed-{k + 1:02d}" for k in range(size)]


def mark_sensitive(graph: TwinGraph) -> list[str]:
    """Add the pack's patient-level models to the models whose reads are audited (under --auth)."""
    from twinforge.auth.middleware import sensitive_models, set_sensitive_models

    models = sorted(set(sensitive_models(graph.store)) | set(SENSITIVE))
    set_sensitive_models(graph.store, models)
    return models


def load_ward(graph: TwinGraph, size: int = 10, ward: str = WARD) -> list[PatientTwins]:
    """The ward's models, patients (with glucose systems, CGMs and pumps), the ensemble detector
    on every patient's glucose and the alert rules; reads of patient twins audited."""
    from twinforge.analytics.alerts import AlertService
    from twinforge.analytics.engine import AnalyticsEngine

    ensure_models(graph)
    mark_sensitive(graph)
    out = []
    for k, pid in enumerate(patient_ids(size, ward)):
        virtual = VIRTUAL[k % len(VIRTUAL)]
        out.append(create_patient(graph, pid, virtual=virtual, ward=ward,
                                  sex=("female", "male")[k % 2]))
    analytics = AnalyticsEngine(graph)
    analytics.put_detector("glucose-anomaly", {"model": PATIENT, "name": "glucose", "kind": "ensemble"})
    alerts = AlertService(graph, analytics)
    alerts.put_rule("hypo-predicted", {"model": PATIENT, "condition": f"predictedGlucose < {LOW:g}",
                                       "severity": "critical", "clear": f"predictedGlucose >= {LOW + 10:g}"})
    alerts.put_rule("hypo", {"model": PATIENT, "condition": "glucose < 70", "severity": "critical",
                             "clear": "glucose >= 80"})
    alerts.put_rule("hyper", {"model": PATIENT, "condition": "glucose > 250", "severity": "warning",
                              "for": "PT30M", "clear": "glucose <= 220"})
    return out


def predict_glucose(times: np.ndarray, values: np.ndarray, *, ahead: float = PREDICT_AHEAD,
                    window: float = TREND_WINDOW) -> float | None:
    """Glucose ``ahead`` seconds after the last reading, from the least-squares trend of the
    readings in the last ``window`` seconds (as predictive low-glucose suspend does); None with
    fewer than 3 readings there. The rate is capped at ±4 mg/dL/min, the most a CGM trusts."""
    t = np.asarray(times, dtype=float)
    v = np.asarray(values, dtype=float)
    if len(t) == 0:
        return None
    recent = t >= t[-1] - window
    t, v = t[recent], v[recent]
    if len(t) < 3 or t[-1] - t[0] <= 0:
        return None
    slope, intercept = np.polyfit(t - t[-1], v, 1)
    slope = float(np.clip(slope, -4.0 / 60.0, 4.0 / 60.0))
    return float(intercept + slope * ahead)


class HypoWatch:
    """Writes each patient's ``predictedGlucose`` from its stored glucose history."""

    def __init__(self, graph: TwinGraph, patients: list[str]) -> None:
        self.graph = graph
        self.patients = patients
        self.history = History(graph.store)

    def run_once(self) -> dict[str, float]:
        updates, out = [], {}
        since = from_us(now_us() - int((TREND_WINDOW + 3600) * 1e6))
        for patient in self.patients:
            rows = self.history.read_range(patient, "glucose", start=since, limit=1000)
            rows = [r for r in rows if isinstance(r["value"], (int, float))]
            if not rows:
                continue
            times = np.array([r["_ts"] / 1e6 for r in rows])
            predicted = predict_glucose(times, np.array([float(r["value"]) for r in rows]))
            if predicted is None:
                continue
            out[patient] = round(predicted, 1)
            updates.append(Update(patient, {"predictedGlucose": out[patient]}, ts=int(rows[-1]["_ts"]),
                                  source="hypo-watch"))
        if updates:
            self.graph.apply_updates(updates)
        return out


@dataclass
class _Day:
    meals: dict[int, float]  # minute of the day -> grams
    boluses: dict[int, float]  # minute of the day -> units


class WardSimulator(DevicePublisher):
    """The ward's patients and devices. It backfills ``backfill`` seconds of history as fast as
    it can, then runs at ``speed`` x real time (1: readings carry the wall-clock time)."""

    client_id = "twinforge-demo-ward"
    join_seconds = 10.0

    def __init__(self, url: str, patients: list[PatientTwins], virtuals: list[str], *, backfill: float = 6 * 3600.0,
                 speed: float = 1.0, seed: int = 7, cgm_every: int = 5) -> None:
        super().__init__(url)
        self.patients = patients
        self.virtuals = virtuals
        self.backfill = backfill
        self.speed = speed
        self.rng = random.Random(seed)
        self.cgm_every = cgm_every
        self.clock = 0.0  # the simulated time, seconds since the epoch
        self._days: dict[tuple[int, int], _Day] = {}

    def _day(self, k: int, day: int) -> _Day:
        """Breakfast, lunch and dinner with a bolus each: most about right, some off by 30 %,
        some late, now and then one missed or doubled (so the ward has highs and lows)."""
        key = (k, day)
        if key not in self._days:
            rng = random.Random(hash((k, day, 7)))
            ratio = virtual_patient(self.virtuals[k]).carb_ratio
            meals, boluses = {}, {}
            for start, spread, low, high in ((7 * 60, 60, 40, 70), (12 * 60, 90, 50, 90), (18 * 60 + 30, 90, 50, 100)):
                minute = start + rng.randrange(spread)
                grams = float(rng.randrange(low, high))
                meals[minute] = grams
                roll = rng.random()
                factor = 0.0 if roll < 0.08 else 2.0 if roll < 0.14 else rng.uniform(0.7, 1.3)
                late = rng.choice((0, 0, 0, 20, 40))
                if factor:
                    boluses[minute + late] = round(grams / ratio * factor * 20) / 20  # 0.05 U steps
            self._days[key] = _Day(meals, boluses)
        return self._days[key]

    def publish(self, client: Any) -> None:
        behaviour = UvaPadova()
        v = {var.name: np.array([uva_padova_values(n).get(var.name, var.default) for n in self.virtuals], float)
             for var in behaviour.variables}
        rng = np.random.default_rng(self.rng.randrange(1 << 30))
        behaviour.initial(v, rng)
        step = 60.0
        self.clock = (time.time() - self.backfill) // step * step
        eating = [0.0] * len(self.patients)  # grams left to eat
        while not self._stop.is_set():
            records: list[dict[str, Any]] = []
            stamp = from_us(int(self.clock * 1e6))
            minute_of_day = int(self.clock // 60) % 1440
            day = int(self.clock // 86400)
            carbs = np.zeros(len(self.patients))
            bolus = np.zeros(len(self.patients))
            for k, ids in enumerate(self.patients):
                plan = self._day(k, day)
                if minute_of_day in plan.meals:
                    eating[k] += plan.meals[minute_of_day]
                    records.append({"twin": ids.patient, "telemetry": {"carbohydrateIntake": plan.meals[minute_of_day]},
                                    "time": stamp})
                if eating[k] > 0:
                    carbs[k] = min(5.0, eating[k])
                    eating[k] -= carbs[k]
                if minute_of_day in plan.boluses:
                    bolus[k] = plan.boluses[minute_of_day]
                    for twin in (ids.patient, ids.pump):
                        records.append({"twin": twin, "telemetry": {"insulinBolus" if twin == ids.patient else "bolus":
                                                                    bolus[k]}, "time": stamp})
            v["carbIntake"], v["bolusRate"] = carbs, bolus
            behaviour.step(self.clock, step, v, rng)
            self.clock += step
            stamp = from_us(int(self.clock * 1e6))
            minute = int(self.clock // 60)
            for k, ids in enumerate(self.patients):
                if minute % self.cgm_every == 0:
                    reading = round(float(v["interstitialGlucose"][k]) + rng.normal(0, 2.0), 1)
                    reading = min(max(reading, 40.0), 400.0)
                    records.append({"twin": ids.cgm, "telemetry": {"glucose": reading}, "time": stamp})
                    records.append({"twin": ids.patient, "telemetry": {"glucose": reading}, "time": stamp})
                if minute % 60 == 0:
                    records.append({"twin": ids.pump, "telemetry": {"basalRate": float(v["basalRate"][k])},
                                    "time": stamp})
                    records.append({"twin": ids.pump, "properties": {
                        "insulinOnBoard": round(float(v["insulinOnBoard"][k]), 3)}, "time": stamp})
                if minute % 15 == 0:  # the physiology's state, so a what-if can fork it as of then
                    states = {name: float(v[name][k]) for name in behaviour.integrated()}
                    states.update({name: float(v[name][k]) for name in ("mealStartContent", "mealEaten", "eating")})
                    records.append({"twin": ids.glucose, "properties": states, "time": stamp})
            if records:
                sent = client.publish("twinforge/updates", json.dumps(records), qos=1)
                if self.clock <= time.time():  # backfilling: at the broker's pace, not in one burst
                    with contextlib.suppress(RuntimeError, ValueError):
                        sent.wait_for_publish(5)
                self.sent += len(records)
            if self.clock > time.time():  # caught up with the wall clock: one step per step / speed
                self._stop.wait(step / self.speed)


__all__ = ["LOW", "PREDICT_AHEAD", "TREND_WINDOW", "VIRTUAL", "WARD", "HypoWatch", "WardSimulator", "load_ward",
           "mark_sensitive", "patient_ids", "predict_glucose"]
