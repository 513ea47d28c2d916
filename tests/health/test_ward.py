"""The live ward: low-glucose prediction, the trend watch feeding the alert rule, privacy
defaults (audited reads, ward tokens), and `twinforge demo health` end to end over MQTT."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.requirements import need_module
from tests.servers import free_port, interrupt, start_demo

need_module("scipy")
need_module("paho")
import numpy as np  # noqa: E402

from twinforge.auth.middleware import sensitive_models  # noqa: E402
from twinforge.graph import TwinGraph  # noqa: E402
from twinforge.graph.updates import Update  # noqa: E402
from twinforge.history.timeutil import now_us  # noqa: E402
from twinforge.packs.health.models import PATIENT  # noqa: E402
from twinforge.packs.health.ward import HypoWatch, load_ward, patient_ids, predict_glucose  # noqa: E402


def test_prediction_extends_the_recent_trend() -> None:
    t = np.arange(0, 1801, 300.0)
    assert predict_glucose(t, 150 - t / 60) == pytest.approx(150 - 30 - 30)  # falling 1 mg/dL/min
    assert predict_glucose(t, np.full(len(t), 110.0)) == pytest.approx(110.0)
    older = np.concatenate([np.arange(-7200, 0, 300.0), t])
    values = np.concatenate([np.full(24, 300.0), 150 - t / 60])  # old readings fall outside the window
    assert predict_glucose(older, values) == pytest.approx(90.0)
    assert predict_glucose(t[:2], np.array([100.0, 90.0])) is None  # too few readings
    assert predict_glucose(t, 300 - 10 * t / 60) == pytest.approx(300 - 300 - 4 * 30, abs=1e-6)  # rate capped


def test_the_ward_marks_patients_sensitive_and_predicts_lows(tmp_path: Path) -> None:
    graph = TwinGraph.open(f"sqlite:///{tmp_path / 'ward.db'}")
    try:
        ward = load_ward(graph, 3)
        assert [w.patient for w in ward] == patient_ids(3) == ["ward-a-bed-01", "ward-a-bed-02", "ward-a-bed-03"]
        assert PATIENT in sensitive_models(graph.store)
        start = now_us() - 40 * 60 * 1_000_000
        falling = [Update("ward-a-bed-01", {"glucose": 130.0 - 2.0 * k * 5}, telemetry=True,
                          ts=start + k * 300 * 1_000_000) for k in range(8)]
        steady = [Update("ward-a-bed-02", {"glucose": 120.0}, telemetry=True, ts=start + k * 300 * 1_000_000)
                  for k in range(8)]
        graph.apply_updates(falling + steady)
        predicted = HypoWatch(graph, patient_ids(3)).run_once()
        assert predicted["ward-a-bed-01"] == pytest.approx(60.0 - 60.0, abs=0.2)  # 60 now, -2/min for 30 min
        assert predicted["ward-a-bed-02"] == pytest.approx(120.0)
        assert "ward-a-bed-03" not in predicted  # no readings, no guess
        assert graph.get_twin("ward-a-bed-01")["predictedGlucose"] == pytest.approx(0.0, abs=0.2)
    finally:
        graph.close()


def test_demo_health_streams_the_ward_and_raises_alerts(tmp_path: Path) -> None:
    """The demo backfills two hours over MQTT: every patient gets CGM readings at their own
    times, the glucose twins get their state, predictions appear, and Ctrl-C ends it cleanly."""
    port, mqtt_port = free_port(), free_port()
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    proc = start_demo("health", db, port, mqtt_port, "--patients", "4", "--backfill", "PT2H")
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        counts: list[int] = []
        predicted = None
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                counts = [len(httpx.get(f"{base}/digitaltwins/{p}/history", params={"name": "glucose", "limit": 1000})
                              .json().get("value", [])) for p in patient_ids(4)]
                predicted = httpx.get(f"{base}/digitaltwins/ward-a-bed-01").json().get("predictedGlucose")
            except httpx.HTTPError:
                pass
            if counts and min(counts) >= 24 and predicted is not None:
                break
            time.sleep(1)
        assert counts and min(counts) >= 24, counts  # 2 h of 5-minute readings
        assert isinstance(predicted, (int, float))
        rows = httpx.get(f"{base}/digitaltwins/ward-a-bed-01/history", params={"name": "glucose"}).json()["value"]
        assert all(r["time"].endswith(":00.000000Z") for r in rows)  # the readings' own times (whole minutes)
        glucose_twin = httpx.get(f"{base}/digitaltwins/ward-a-bed-01-glucose").json()
        assert glucose_twin["plasmaGlucoseMass"] > 0
        rules = httpx.get(f"{base}/alerts/rules").json()["value"]
        assert {r["id"] for r in rules} >= {"hypo-predicted", "hypo", "hyper"}
    finally:
        _, err = interrupt(proc)
    assert "Traceback" not in err, err


def test_patient_reads_are_audited_and_tokens_scope_a_ward_or_a_patient(tmp_path: Path) -> None:
    from tests.servers import running_api
    from twinforge.auth import Tokens

    graph = TwinGraph.open(f"sqlite:///{tmp_path / 'private.db'}")
    load_ward(graph, 2, ward="ward-a")
    load_ward(graph, 1, ward="ward-b")
    tokens = Tokens(graph.store)
    nurse_a = tokens.create("nurse-a", "reader", scope=["twins:ward-a-"])[1]
    bed_1 = tokens.create("family-1", "reader", scope=["twins:ward-a-bed-01"])[1]
    admin = tokens.create("root", "admin")[1]

    def get(url: str, secret: str, path: str, **params: str) -> httpx.Response:
        return httpx.get(url + path, params=params, headers={"Authorization": f"Bearer {secret}"}, timeout=30)

    try:
        with running_api(graph, auth=True) as url:
            assert get(url, nurse_a, "/digitaltwins/ward-a-bed-02").status_code == 200
            assert get(url, nurse_a, "/digitaltwins/ward-a-bed-02-glucose").status_code == 200
            assert get(url, nurse_a, "/digitaltwins/ward-b-bed-01").status_code == 403  # another ward
            assert get(url, bed_1, "/digitaltwins/ward-a-bed-01-cgm").status_code == 200
            assert get(url, bed_1, "/digitaltwins/ward-a-bed-02").status_code == 403  # another patient
            rows = httpx.post(url + "/query", json={"query": f"SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL('{PATIENT}')"},
                              headers={"Authorization": f"Bearer {nurse_a}"}, timeout=30).json()["value"]
            assert sorted(r["T"]["$dtId"] for r in rows) == ["ward-a-bed-01", "ward-a-bed-02"]
            audit = get(url, admin, "/audit", actor="nurse-a").json()["value"]
    finally:
        graph.close()
    read = [(r["method"], r["path"]) for r in audit if r["outcome"] == "ok"]
    assert ("GET", "/digitaltwins/ward-a-bed-02") in read  # a patient twin: audited
    assert ("GET", "/digitaltwins/ward-a-bed-02-glucose") in read
