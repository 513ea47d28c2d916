"""Analytics on the ingest path: detectors score every incoming value of the properties and
telemetry they watch, trained RUL models estimate the remaining life of live twins. Results
go to history as series of their own (``<name>:anomaly:<detector>``, ``rul``, ``rul:low``,
``rul:high``), to `/stream` (announced live), and into the state alert rules read."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from twinforge.analytics.detectors import Detector, make
from twinforge.errors import InvalidArgument, NotFound
from twinforge.history import point
from twinforge.history.timeutil import now_us

if TYPE_CHECKING:
    from twinforge.graph import TwinGraph
    from twinforge.ingest import IngestResult, Update

log = logging.getLogger("twinforge.analytics")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True, slots=True)
class DetectorSpec:
    id: str
    model: str
    name: str
    kind: str
    params: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "model": self.model, "name": self.name, "kind": self.kind, "params": self.params}

    @property
    def series(self) -> str:
        return f"{self.name}:anomaly:{self.id}"


@dataclass(frozen=True, slots=True)
class RulSpec:
    id: str
    model: str
    path: str
    sensors: tuple[str, ...]  # the twin names of the 21 channels, in order
    every: int  # predict every this many samples

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "model": self.model, "path": self.path, "sensors": list(self.sensors),
                "every": self.every}


class AnalyticsEngine:
    """Detectors and RUL models of one server, fed by its `Ingestor`."""

    def __init__(self, graph: TwinGraph, *, announce: Callable[[str, str, dict[str, Any]], None] | None = None) -> None:
        self.graph = graph
        self.announce = announce  # (event type, twin, data)
        self.detectors: dict[str, DetectorSpec] = {}
        self.ruls: dict[str, RulSpec] = {}
        self._models: dict[str, Any] = {}
        self._state: dict[tuple[str, str], Detector] = {}
        self._buffers: dict[tuple[str, str], list[list[float]]] = {}
        self._twin_model: dict[str, str] = {}
        self._matches: dict[tuple[str, str], bool] = {}  # (twin model, spec model) -> is of it
        self.latest: dict[str, dict[str, Any]] = {}  # twin -> telemetry, anomaly scores, rul
        self.listeners: list[Callable[[set[str]], None]] = []  # told which twins changed
        self._lock = threading.Lock()
        self.scored = 0
        for key, raw in graph.store.list_settings("detector:"):
            spec = self._detector_spec(key.removeprefix("detector:"), orjson.loads(raw))
            self.detectors[spec.id] = spec
        for key, raw in graph.store.list_settings("rulmodel:"):
            rspec = self._rul_spec(key.removeprefix("rulmodel:"), orjson.loads(raw))
            self.ruls[rspec.id] = rspec

    # -- configuration ------------------------------------------------------

    def _check_name(self, model: Any, name: Any, what: str) -> None:
        models = self.graph.models
        if not isinstance(model, str) or model not in models:
            raise InvalidArgument(f"{what}: unknown model {model!r}")
        view = models.interface(model)
        if not isinstance(name, str) or (name not in view.properties and name not in view.telemetry):
            raise InvalidArgument(f"{what}: '{name}' is not a property or telemetry of {model}")

    def _detector_spec(self, spec_id: str, body: Any) -> DetectorSpec:
        if not _ID.match(spec_id):
            raise InvalidArgument("a detector id is 1-100 letters, digits, '.', '-' or '_'")
        if not isinstance(body, dict):
            raise InvalidArgument('a detector is {"model": DTMI, "name": ..., "kind": ..., "params": {}}')
        self._check_name(body.get("model"), body.get("name"), f"detector '{spec_id}'")
        kind, params = body.get("kind", "robust_z"), body.get("params") or {}
        if not isinstance(params, dict):
            raise InvalidArgument("params must be an object")
        make(kind, params)  # refuses an unknown kind or parameter
        return DetectorSpec(spec_id, body["model"], body["name"], kind, params)

    def put_detector(self, spec_id: str, body: Any) -> DetectorSpec:
        spec = self._detector_spec(spec_id, body)
        self.graph.store.put_setting(f"detector:{spec_id}", orjson.dumps(spec.to_json()).decode())
        with self._lock:
            self.detectors[spec_id] = spec
            self._state = {k: v for k, v in self._state.items() if k[0] != spec_id}
            self._matches.clear()
        return spec

    def get_detector(self, spec_id: str) -> DetectorSpec:
        spec = self.detectors.get(spec_id)
        if spec is None:
            raise NotFound(f"there is no detector '{spec_id}'", code="DetectorNotFound")
        return spec

    def delete_detector(self, spec_id: str) -> None:
        self.get_detector(spec_id)
        self.graph.store.delete_setting(f"detector:{spec_id}")
        with self._lock:
            self.detectors.pop(spec_id, None)
            self._state = {k: v for k, v in self._state.items() if k[0] != spec_id}

    def _rul_spec(self, spec_id: str, body: Any) -> RulSpec:
        from twinforge.analytics.rul import RulModel

        if not _ID.match(spec_id):
            raise InvalidArgument("a RUL attachment id is 1-100 letters, digits, '.', '-' or '_'")
        if not isinstance(body, dict) or not isinstance(body.get("path"), str):
            raise InvalidArgument('a RUL attachment is {"model": DTMI, "path": MODEL_FILE, "sensors": [21 names]?}')
        sensors = body.get("sensors") or [f"sensor{i}" for i in range(1, 22)]
        if not isinstance(sensors, list) or len(sensors) != 21:
            raise InvalidArgument("sensors must name the 21 channels in order")
        for name in sensors:
            self._check_name(body.get("model"), name, f"RUL attachment '{spec_id}'")
        if body["path"] not in self._models:
            self._models[body["path"]] = RulModel.load(body["path"])
        every = body.get("every", 1)
        if not isinstance(every, int) or every < 1:
            raise InvalidArgument("every must be a whole number >= 1")
        return RulSpec(spec_id, body["model"], body["path"], tuple(sensors), every)

    def put_rul(self, spec_id: str, body: Any) -> RulSpec:
        spec = self._rul_spec(spec_id, body)
        self.graph.store.put_setting(f"rulmodel:{spec_id}", orjson.dumps(spec.to_json()).decode())
        with self._lock:
            self.ruls[spec_id] = spec
            self._matches.clear()
        return spec

    # -- the ingest path ----------------------------------------------------

    def _model_of(self, twin: str) -> str | None:
        model = self._twin_model.get(twin)
        if model is None:
            record = self.graph.store.get_twin(twin)
            if record is None:
                return None
            model = self._twin_model[twin] = record.model
        return model

    def _is_of(self, models: Any, model: str, base: str) -> bool:
        key = (model, base)
        known = self._matches.get(key)
        if known is None:
            known = self._matches[key] = model == base or (model in models and models.is_of_model(model, base))
        return known

    def on_batch(self, updates: Sequence[Update], result: IngestResult) -> None:
        """Score the accepted values of a batch (an `Ingestor` listener)."""
        if not self.detectors and not self.ruls:
            return
        refused = {r.index for r in result.refused}
        models = self.graph.models
        points = []
        changed: set[str] = set()
        events: list[tuple[str, str, dict[str, Any]]] = []
        with self._lock:
            for k, update in enumerate(updates):
                if k in refused or update.component:
                    continue
                model = self._model_of(update.twin)
                if model is None:
                    continue
                ts = update.ts or now_us()
                state = self.latest.setdefault(update.twin, {})
                if update.telemetry:
                    state.update({n: v for n, v in update.values.items() if isinstance(v, (int, float))})
                for spec in self.detectors.values():
                    value = update.values.get(spec.name)
                    if isinstance(value, bool) or not isinstance(value, (int, float)):
                        continue
                    if not self._is_of(models, model, spec.model):
                        continue
                    key = (spec.id, update.twin)
                    detector = self._state.get(key)
                    if detector is None:
                        detector = self._state[key] = make(spec.kind, spec.params)
                    score = float(detector.score_one(float(value)))
                    detector.learn_one(float(value))
                    self.scored += 1
                    state.setdefault("anomaly", {})[spec.id] = score
                    points.append(point(update.twin, "", spec.series, ts, score))
                    changed.add(update.twin)
                    events.append(("Anomaly.Score", update.twin, {"detector": spec.id, "name": spec.name,
                                                                   "value": value, "score": score}))
                for rspec in self.ruls.values():
                    if not self._is_of(models, model, rspec.model):
                        continue
                    if not any(n in update.values for n in rspec.sensors):
                        continue
                    rows = self._buffers.setdefault((rspec.id, update.twin), [])
                    last = rows[-1] if rows else [float("nan")] * 21
                    rows.append([float(update.values.get(n, last[i])) for i, n in enumerate(rspec.sensors)])
                    if len(rows) > 400:
                        del rows[: len(rows) - 400]
                    if len(rows) % rspec.every:
                        continue
                    matrix = np.array(rows)
                    if np.isnan(matrix).any():
                        matrix = np.where(np.isnan(matrix), np.nanmean(matrix, 0), matrix)
                        if np.isnan(matrix).any():
                            continue
                    rul, low, high = self._models[rspec.path].predict_history(matrix)
                    state["rul"] = rul
                    state["rulLow"], state["rulHigh"] = low, high
                    points += [point(update.twin, "", "rul", ts, rul), point(update.twin, "", "rul:low", ts, low),
                               point(update.twin, "", "rul:high", ts, high)]
                    changed.add(update.twin)
                    events.append(("Rul.Estimate", update.twin, {"model": rspec.id, "rul": rul, "low": low,
                                                                  "high": high}))
        if points:
            self.graph.store.append_history(points)
        if self.announce is not None:
            for kind, twin, data in events:
                self.announce(kind, twin, data)
        for listener in self.listeners:
            listener(changed)

    def backfill(self, spec_id: str, twin: str, *, limit: int = 100_000) -> int:
        """Score a twin's stored history with a detector (an IsolationForest is fitted on it
        first); the scores become the detector's series. Returns how many were scored."""
        from twinforge.analytics.detectors import IsolationBatch
        from twinforge.history import History

        spec = self.get_detector(spec_id)
        rows = History(self.graph.store).read_range(twin, spec.name, limit=limit)
        values = [float(r["value"]) for r in rows if isinstance(r["value"], (int, float))]
        stamps = [r["_ts"] for r in rows if isinstance(r["value"], (int, float))]
        if not values:
            return 0
        detector = make(spec.kind, spec.params)
        if isinstance(detector, IsolationBatch):
            detector.fit(values)
            scores = list(detector.score_batch(values))
        else:
            scores = []
            for v in values:
                scores.append(detector.score_one(v))
                detector.learn_one(v)
        self.graph.store.append_history([point(twin, "", spec.series, ts, float(s))
                                         for ts, s in zip(stamps, scores, strict=True)])
        return len(scores)


__all__ = ["AnalyticsEngine", "DetectorSpec", "RulSpec"]
