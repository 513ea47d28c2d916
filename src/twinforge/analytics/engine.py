"""Analytics over the event log: detectors score every value of the properties and telemetry
they watch, trained RUL models estimate the remaining life of live twins (the `Evaluator`
feeds them, on one server at a time). Results
go to history as series of their own (``<name>:anomaly:<detector>``, ``rul``, ``rul:low``,
``rul:high``), to `/stream` (announced live), and into the state alert rules read."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from twinforge.analytics.detectors import Detector, make
from twinforge.analytics.rulmodels import RulModels
from twinforge.documents import DetectorDocument, RulDocument, check
from twinforge.errors import InvalidArgument, TwinforgeError
from twinforge.history import point
from twinforge.records import Collection, Kind

if TYPE_CHECKING:
    from twinforge.graph import TwinGraph

log = logging.getLogger("twinforge.analytics")
STATUS = "analytics:detector-status:"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
SLICE = 256  # score points per write: each holds the store's write lock for a few milliseconds


def write_slices(store: Any, points: list[Any], pause: float = 0.001) -> None:
    """Store points a slice at a time, pausing between slices, so a writer waiting for the
    lock (MQTT ingest, in another process) gets it within milliseconds rather than after a
    round's thousands of scores. A round cut short is evaluated again from the same cursor,
    and a point written again replaces itself."""
    for k in range(0, len(points), SLICE):
        if k:
            time.sleep(pause)
        store.append_history(points[k:k + SLICE])


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
    trained: str  # the id of an uploaded RUL model
    sensors: tuple[str, ...]  # the twin names of the 21 channels, in order
    every: int  # predict every this many samples

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "model": self.model, "trainedModel": self.trained, "sensors": list(self.sensors),
                "every": self.every}


@dataclass(frozen=True, slots=True)
class Sample:
    """Values of one twin at one time, as the evaluator reads them from the event log."""

    twin: str
    model: str
    values: dict[str, Any]
    telemetry: bool
    ts: int


class AnalyticsEngine:
    """Detectors and RUL models: their records in the store (every server sees the same ones)
    and the scoring of samples, which the `Evaluator` feeds from the event log on one server."""

    def __init__(self, graph: TwinGraph, *, announce: Callable[[str, str, dict[str, Any]], None] | None = None) -> None:
        self.graph = graph
        self.announce = announce  # (event type, twin, data)
        # Stored records were checked when they were put: read back, they are only rebuilt.
        self._detector_records = Collection(graph.store, Kind(
            "detector", "detector", "DetectorNotFound",
            lambda key, v: DetectorSpec(key, v["model"], v["name"], v["kind"], v.get("params") or {}),
            DetectorSpec.to_json))
        self._rul_records = Collection(graph.store, Kind(
            "rul", "RUL attachment", "RulModelNotFound",
            lambda key, v: RulSpec(key, v["model"], v.get("trainedModel", ""), tuple(v["sensors"]), int(v["every"])),
            RulSpec.to_json))  # an attachment from before uploads (a server path) names no model: it is skipped
        self.rul_models = RulModels(graph)
        self._model_problems: dict[str, str] = {}  # attachment -> why its model cannot be read (logged once)
        self._detector_cache = self._detector_records.cache()
        self._rul_cache = self._rul_records.cache()
        self._seen: tuple[dict[str, DetectorSpec], dict[str, RulSpec]] = ({}, {})
        self._state: dict[tuple[str, str], Detector] = {}
        self._buffers: dict[tuple[str, str], list[list[float]]] = {}
        self._matches: dict[tuple[str, str], bool] = {}  # (twin model, spec model) -> is of it
        self.latest: dict[str, dict[str, Any]] = {}  # twin -> telemetry, anomaly scores, rul
        self._lock = threading.Lock()
        self.scored = 0
        self.broken: dict[str, str] = {}  # detector id -> why it stopped (until it is put again)
        self.failures: Counter[str] = Counter()  # detector id -> failures

    @property
    def detectors(self) -> dict[str, DetectorSpec]:
        """The detectors in force (reloaded when any server changes one)."""
        return self._detector_cache.all()

    @property
    def ruls(self) -> dict[str, RulSpec]:
        return self._rul_cache.all()

    def refresh(self) -> None:
        """Check the detectors and RUL attachments against the store at the next read."""
        self._detector_cache.invalidate()
        self._rul_cache.invalidate()

    # -- configuration ------------------------------------------------------

    def _check_name(self, model: Any, name: Any, what: str) -> None:
        if not isinstance(model, str) or model not in self.graph.models:
            self.graph.refresh_models()  # uploaded through another server, perhaps
        models = self.graph.models
        if not isinstance(model, str) or model not in models:
            raise InvalidArgument(f"{what}: unknown model {model!r}")
        view = models.interface(model)
        if not isinstance(name, str) or (name not in view.properties and name not in view.telemetry):
            raise InvalidArgument(f"{what}: '{name}' is not a property or telemetry of {model}")

    def _detector_spec(self, spec_id: str, body: Any) -> DetectorSpec:
        if not _ID.match(spec_id):
            raise InvalidArgument("a detector id is 1-100 letters, digits, '.', '-' or '_'")
        doc = check(DetectorDocument, body, f"detector '{spec_id}'")
        self._check_name(doc.model, doc.name, f"detector '{spec_id}'")
        make(doc.kind, doc.params)  # refuses an unknown kind or parameter
        return DetectorSpec(spec_id, doc.model, doc.name, doc.kind, doc.params)

    def put_detector(self, spec_id: str, body: Any) -> DetectorSpec:
        spec = self._detector_records.put(spec_id, self._detector_spec(spec_id, body))
        self.graph.store.delete_setting(f"{STATUS}{spec_id}")
        self._detector_cache.invalidate()
        return spec

    def get_detector(self, spec_id: str) -> DetectorSpec:
        return self._detector_records.get(spec_id)

    def delete_detector(self, spec_id: str) -> None:
        self._detector_records.delete(spec_id)
        self.graph.store.delete_setting(f"{STATUS}{spec_id}")
        self._detector_cache.invalidate()

    def _rul_spec(self, spec_id: str, body: Any) -> RulSpec:
        if not _ID.match(spec_id):
            raise InvalidArgument("a RUL attachment id is 1-100 letters, digits, '.', '-' or '_'")
        doc = check(RulDocument, body, f"RUL attachment '{spec_id}'")
        sensors = doc.sensors or [f"sensor{i}" for i in range(1, 22)]
        if len(sensors) != 21:
            raise InvalidArgument("sensors must name the 21 channels in order")
        for name in sensors:
            self._check_name(doc.model, name, f"RUL attachment '{spec_id}'")
        if not self.rul_models.records.exists(doc.trainedModel):
            raise InvalidArgument(f"RUL attachment '{spec_id}': no RUL model '{doc.trainedModel}'; upload the file "
                                  f"written by twinforge rul train with PUT /analytics/rul/models/{doc.trainedModel}")
        return RulSpec(spec_id, doc.model, doc.trainedModel, tuple(sensors), doc.every)

    def put_rul(self, spec_id: str, body: Any) -> RulSpec:
        spec = self._rul_records.put(spec_id, self._rul_spec(spec_id, body))
        self._rul_cache.invalidate()
        return spec

    # -- scoring (the evaluator's thread) -------------------------------------

    def _follow(self) -> tuple[dict[str, DetectorSpec], dict[str, RulSpec]]:
        """The specs in force; a changed or removed spec starts its windows afresh."""
        detectors, ruls = self.detectors, self.ruls
        if (detectors, ruls) != self._seen:
            stale = {k for k, v in self._seen[0].items() if detectors.get(k) != v}
            for k in stale:
                self.broken.pop(k, None)
            stale_rul = {k for k, v in self._seen[1].items() if ruls.get(k) != v}
            self._state = {k: v for k, v in self._state.items() if k[0] not in stale}
            self._buffers = {k: v for k, v in self._buffers.items() if k[0] not in stale_rul}
            self._matches.clear()
            self._seen = (detectors, ruls)
        return detectors, ruls

    def _broke(self, spec: DetectorSpec, exc: Exception) -> None:
        """A detector that raised is set aside (logged once, counted, stored for its status);
        the others go on. Putting it again (fixed) starts it afresh."""
        why = f"{type(exc).__name__}: {exc}"
        self.failures[spec.id] += 1
        self.broken[spec.id] = why
        self._state = {k: v for k, v in self._state.items() if k[0] != spec.id}
        log.error("detector '%s' stopped: %s (the other detectors go on; put it again to restart it)",
                  spec.id, why)
        try:
            self.graph.store.put_setting(f"{STATUS}{spec.id}", json.dumps({"state": "failed", "error": why}))
        except Exception as store_exc:  # the status is a courtesy: the failure is logged and counted
            log.warning("cannot record detector '%s' as failed: %s", spec.id, store_exc)

    def detector_status(self, spec_id: str) -> dict[str, Any]:
        """``running`` or ``failed`` (with the error) as the evaluating server last said."""
        saved = self.graph.store.get_setting(f"{STATUS}{spec_id}")
        return json.loads(saved) if saved else {"state": "running"}

    def reset(self) -> None:
        """Forget every window (the evaluator took over from another server)."""
        with self._lock:
            self._state.clear()
            self._buffers.clear()
            self.latest.clear()

    def forget(self, twin: str) -> None:
        """A deleted twin: drop its windows."""
        with self._lock:
            self._state = {k: v for k, v in self._state.items() if k[1] != twin}
            self._buffers = {k: v for k, v in self._buffers.items() if k[1] != twin}
            self.latest.pop(twin, None)

    def _is_of(self, models: Any, model: str, base: str) -> bool:
        key = (model, base)
        known = self._matches.get(key)
        if known is None:
            known = self._matches[key] = model == base or (model in models and models.is_of_model(model, base))
        return known

    def score(self, samples: Sequence[Sample], each: Callable[[Sample], None] | None = None) -> set[str]:
        """Score samples in order: anomaly scores and RUL estimates go to history (and are
        announced); ``each`` is called after each sample is scored (alert rules read its scores);
        returns the twins whose state changed."""
        detectors, ruls = self._follow()
        changed: set[str] = set()
        if not detectors and not ruls:
            if each is not None:
                for sample in samples:
                    each(sample)
            return changed
        models = self.graph.models
        points = []
        events: list[tuple[str, str, dict[str, Any]]] = []
        with self._lock:
            for sample in samples:
                model, ts = sample.model, sample.ts
                state = self.latest.setdefault(sample.twin, {})
                if sample.telemetry:
                    state.update({n: v for n, v in sample.values.items()
                                  if isinstance(v, (int, float)) and not isinstance(v, bool)})
                for spec in detectors.values():
                    value = sample.values.get(spec.name)
                    if isinstance(value, bool) or not isinstance(value, (int, float)):
                        continue
                    if not self._is_of(models, model, spec.model):
                        continue
                    if spec.id in self.broken:
                        continue
                    key = (spec.id, sample.twin)
                    try:
                        detector = self._state.get(key)
                        if detector is None:
                            detector = self._state[key] = make(spec.kind, spec.params)
                        warming = bool(detector.warming)  # the score rests on fewer values than the warm-up
                        score = float(detector.score_one(float(value)))
                        detector.learn_one(float(value))
                    except Exception as exc:  # one detector's failure stops no other
                        self._broke(spec, exc)
                        continue
                    self.scored += 1
                    state.setdefault("anomaly", {})[spec.id] = score
                    points.append(point(sample.twin, "", spec.series, ts, score))
                    changed.add(sample.twin)
                    events.append(("Anomaly.Score", sample.twin, {"detector": spec.id, "name": spec.name,
                                                                   "value": value, "score": score,
                                                                   "warmingUp": warming}))
                for rspec in ruls.values():
                    if not self._is_of(models, model, rspec.model):
                        continue
                    if not any(n in sample.values for n in rspec.sensors):
                        continue
                    estimate = self._estimate(rspec, sample)
                    if estimate is None:
                        continue
                    rul, low, high = estimate
                    state["rul"] = rul
                    state["rulLow"], state["rulHigh"] = low, high
                    points += [point(sample.twin, "", "rul", ts, rul), point(sample.twin, "", "rul:low", ts, low),
                               point(sample.twin, "", "rul:high", ts, high)]
                    changed.add(sample.twin)
                    events.append(("Rul.Estimate", sample.twin, {"model": rspec.id, "rul": rul, "low": low,
                                                                  "high": high}))
                if each is not None:
                    each(sample)
        if points:
            write_slices(self.graph.store, points)
        if self.announce is not None:
            for kind, twin, data in events:
                self.announce(kind, twin, data)
        return changed

    def _estimate(self, rspec: RulSpec, sample: Sample) -> tuple[float, float, float] | None:
        rows = self._buffers.setdefault((rspec.id, sample.twin), [])
        last = rows[-1] if rows else [float("nan")] * 21
        rows.append([float(sample.values.get(n, last[i])) for i, n in enumerate(rspec.sensors)])
        if len(rows) > 400:
            del rows[: len(rows) - 400]
        if len(rows) % rspec.every:
            return None
        matrix = np.array(rows)
        if np.isnan(matrix).any():
            matrix = np.where(np.isnan(matrix), np.nanmean(matrix, 0), matrix)
            if np.isnan(matrix).any():
                return None
        try:
            model = self.rul_models.load(rspec.trained)
        except TwinforgeError as exc:
            if self._model_problems.get(rspec.id) != str(exc):
                self._model_problems[rspec.id] = str(exc)
                log.warning("RUL attachment '%s' makes no estimate: %s", rspec.id, exc)
            return None
        self._model_problems.pop(rspec.id, None)
        rul, low, high = model.predict_history(matrix)
        return float(rul), float(low), float(high)

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
            scores = detector.score_batch(values)
        else:
            scores = []
            for v in values:
                scores.append(detector.score_one(v))
                detector.learn_one(v)
        self.graph.store.append_history([point(twin, "", spec.series, ts, float(s))
                                         for ts, s in zip(stamps, scores, strict=True)])
        return len(scores)


__all__ = ["AnalyticsEngine", "DetectorSpec", "RulSpec", "Sample"]
