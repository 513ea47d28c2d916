"""The health pack's physiology against closed forms, published figures and simglucose's own
output: UVA/Padova, Bergman, Hovorka, the Windkessel circulation and pharmacokinetics."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from tests.requirements import need_module

need_module("scipy")
import numpy as np  # noqa: E402

from twinforge.packs.health.circulation import Circulation  # noqa: E402
from twinforge.packs.health.glucose import (  # noqa: E402
    Bergman,
    Hovorka,
    UvaPadova,
    bergman_steady_state,
    hovorka_basal_rate,
    hovorka_steady_state,
    uva_padova_values,
)
from twinforge.packs.health.patients import names, virtual_patient  # noqa: E402
from twinforge.packs.health.pharmacokinetics import DrugCompartment, bateman, peak_time  # noqa: E402

DATA = Path(__file__).parent / "data"
RNG = np.random.default_rng(0)


def fleet(behaviour: object, rows: list[dict[str, float]]) -> dict[str, np.ndarray]:
    """The behaviour's values for twins given by ``rows`` (defaults elsewhere), initialised."""
    v = {var.name: np.array([row.get(var.name, var.default) for row in rows], dtype=float)
         for var in behaviour.variables}  # type: ignore[attr-defined]
    behaviour.initial(v, RNG)  # type: ignore[attr-defined]
    return v


# -- UVA/Padova ---------------------------------------------------------------------


def test_uva_padova_matches_simglucose_minute_by_minute() -> None:
    """Four virtual patients, a 50 g meal with its bolus: every 5-minute value within 0.001
    mg/dL of simglucose 0.2.11's own run (tests/health/data/make_uva_reference.py)."""
    reference: dict[str, list[tuple[int, float, float]]] = {}
    with (DATA / "uva_reference.csv").open() as f:
        for row in csv.DictReader(f):
            reference.setdefault(row["patient"], []).append((int(row["minute"]), float(row["glucose"]),
                                                             float(row["cgm"])))
    who = list(reference)
    b = UvaPadova()
    v = fleet(b, [uva_padova_values(n) for n in who])
    ratio = np.array([virtual_patient(n).carb_ratio for n in who])
    ours: list[tuple[np.ndarray, np.ndarray]] = []
    for minute in range(8 * 60 + 1):
        if minute % 5 == 0:
            ours.append((v["glucose"].copy(), v["interstitialGlucose"].copy()))
        v["carbIntake"][:] = 5.0 if 60 <= minute < 70 else 0.0
        v["bolusRate"] = np.where(minute == 60, 50.0 / ratio, 0.0)
        b.step(minute * 60.0, 60.0, v, RNG)
    for i, name in enumerate(who):
        expected = np.array([r[1] for r in reference[name]])
        cgm = np.array([r[2] for r in reference[name]])
        assert np.abs(np.array([o[0][i] for o in ours]) - expected).max() < 1e-3, name
        assert np.abs(np.array([o[1][i] for o in ours]) - cgm).max() < 1e-3, name
        assert np.abs(expected - expected[0]).max() > 10  # the meal and bolus show


def test_every_virtual_patient_stays_at_its_basal_glucose_for_a_day() -> None:
    """Basal insulin only: all 30 patients within 0.1 mg/dL of their basal glucose for 24 h
    (adult#001 at 138.56 mg/dL)."""
    who = names()
    assert len(who) == 30
    b = UvaPadova()
    v = fleet(b, [uva_padova_values(n) for n in who])
    basal = np.array([virtual_patient(n).basal_glucose for n in who])
    worst = 0.0
    for k in range(24 * 12):
        b.step(k * 300.0, 300.0, v, RNG)
        worst = max(worst, float(np.abs(v["glucose"] - basal).max()))
    assert worst < 0.1
    assert virtual_patient("adult#001").basal_glucose == 138.56
    assert v["glucose"][who.index("adult#001")] == pytest.approx(138.56, abs=0.1)


def _meal_days(*boluses: tuple[float, int], grams: float = 60.0) -> list[np.ndarray]:
    """Glucose minute by minute for 6 h after a meal at minute 60, one twin per (units, minute) bolus."""
    b = UvaPadova()
    v = fleet(b, [uva_padova_values("adult#001")] * len(boluses))
    units = np.array([u for u, _ in boluses])
    at = np.array([m for _, m in boluses])
    out = []
    for minute in range(6 * 60):
        out.append(v["glucose"].copy())
        v["carbIntake"][:] = 5.0 if 60 <= minute < 60 + int(grams / 5) else 0.0
        v["bolusRate"] = np.where(at == minute, units, 0.0)
        b.step(minute * 60.0, 60.0, v, RNG)
    series = np.array(out)
    return [series[:, i] for i in range(len(boluses))]


def test_meals_and_boluses_act_in_the_published_direction_and_timing() -> None:
    """A 60 g meal with its bolus peaks 30-120 min after it starts; with no bolus glucose keeps
    rising for hours and ends far higher; a bolus lowers the peak, a larger one more, a
    pre-bolus 20 min earlier more again."""
    dose = 60.0 / virtual_patient("adult#001").carb_ratio
    none, small, full, early = _meal_days((0.0, -1), (2.0, 60), (dose, 60), (dose, 40))
    start = none[0]
    assert 60 + 30 <= int(np.argmax(full)) <= 60 + 120
    assert int(np.argmax(none)) > int(np.argmax(full))  # without insulin it keeps rising
    assert none.max() - start > 40
    assert none.max() > small.max() > full.max() > early.max()
    assert none[-1] > start + 10
    assert full[-1] < none[-1] - 30


# -- Bergman and Hovorka ----------------------------------------------------------


def test_bergman_rests_at_basal_and_decays_with_glucose_effectiveness() -> None:
    """At rest G stays at Gb; from G0 with insulin at its basal level, G(t) = Gb + (G0 - Gb)·e^(-p1·t)."""
    b = Bergman()
    rest = bergman_steady_state(1.2, 110.0)
    v = fleet(b, [rest, {**rest, "glucoseLevel": 250.0}])
    for k in range(120):
        b.step(k * 60.0, 60.0, v, RNG)
    assert v["glucose"][0] == pytest.approx(110.0, abs=1e-6)
    p1 = Bergman().var("p1").default  # type: ignore[union-attr]
    assert v["glucose"][1] == pytest.approx(110.0 + 140.0 * math.exp(-p1 * 120), rel=1e-5)


def test_bergman_meal_and_bolus() -> None:
    b = Bergman()
    rest = bergman_steady_state(1.0, 120.0)
    v = fleet(b, [rest, rest])
    peaks = np.zeros(2)
    for minute in range(300):
        v["carbIntake"][:] = 5.0 if minute < 10 else 0.0
        v["bolusRate"] = np.array([0.0, 5.0 if minute == 0 else 0.0])
        b.step(minute * 60.0, 60.0, v, RNG)
        peaks = np.maximum(peaks, v["glucose"])
    assert peaks[0] > 160 and peaks[1] < peaks[0] - 20


def test_hovorka_steady_state_holds_and_responds() -> None:
    """The basal rate found for 120 mg/dL holds the model there for a day within 0.1 mg/dL; a
    50 g meal lifts it more than 30 mg/dL, and a bolus with it lowers the peak."""
    rate = hovorka_basal_rate(120.0, weight=70.0)
    assert 0.1 < rate < 2.0
    rest = hovorka_steady_state(rate, weight=70.0)
    assert rest["glucose"] == pytest.approx(120.0, abs=0.01)
    b = Hovorka()
    v = fleet(b, [rest, rest, rest])
    start = v["glucose"].copy()
    peaks = v["glucose"].copy()
    for minute in range(24 * 60 // 5):
        v["carbIntake"] = np.array([0.0, 5.0, 5.0]) if minute < 2 else np.zeros(3)
        v["bolusRate"] = np.array([0.0, 0.0, 5.0]) if minute == 0 else np.zeros(3)
        b.step(minute * 300.0, 300.0, v, RNG)
        assert abs(v["glucose"][0] - start[0]) < 0.1
        peaks = np.maximum(peaks, v["glucose"])
    assert peaks[1] - start[1] > 30 and peaks[2] < peaks[1]


# -- circulation --------------------------------------------------------------------


def test_windkessel_mean_pressure_is_flow_times_resistance() -> None:
    """At the periodic steady state: MAP = R·mean flow for the 2- and 4-element models and
    (R + Zc)·mean flow for the 3-element one; the default heart gives a physiological
    waveform (systolic 100-140, diastolic 60-90 mmHg, cardiac output 4-8 L/min)."""
    c = Circulation()
    v = fleet(c, [{"characteristicImpedance": 0.0}, {"inertance": 0.0}, {}])
    for k in range(4):
        c.step(k * 60.0, 60.0, v, RNG)
    flow = v["strokeVolume"] * v["heartRate"] / 60.0  # mL/s
    r, zc = v["peripheralResistance"], v["characteristicImpedance"]
    assert v["meanArterialPressure"][0] == pytest.approx(r[0] * flow[0], rel=2e-3)
    assert v["meanArterialPressure"][1] == pytest.approx((r[1] + zc[1]) * flow[1], rel=2e-3)
    assert v["meanArterialPressure"][2] == pytest.approx(r[2] * flow[2], rel=2e-3)
    assert np.all((v["systolicPressure"] >= 100) & (v["systolicPressure"] <= 140))
    assert np.all((v["diastolicPressure"] >= 60) & (v["diastolicPressure"] <= 90))
    assert np.all((v["cardiacOutput"] >= 4) & (v["cardiacOutput"] <= 8))


def test_windkessel_diastolic_decay_is_exponential() -> None:
    """With the valve shut (no contraction, no filling) the 2-element arteries empty as
    P0·e^(-t/RC)."""
    c = Circulation()
    v = fleet(c, [{"characteristicImpedance": 0.0, "maxElastance": 0.06, "fillingPressure": 0.0,
                   "ventricularVolume": 10.0, "capacitorPressure": 100.0}])
    c.step(0.0, 1.0, v, RNG)
    rc = 1.0 * 1.5
    assert v["capacitorPressure"][0] == pytest.approx(100.0 * math.exp(-1.0 / rc), rel=1e-8)
    c.step(1.0, 1.0, v, RNG)
    assert v["aorticPressure"][0] == pytest.approx(100.0 * math.exp(-2.0 / rc), rel=1e-8)


def test_a_settled_circulation_skips_repeated_beats_and_resumes_on_a_change() -> None:
    c = Circulation().fresh()
    v = fleet(c, [{}])
    c.step(0.0, 60.0, v, RNG)
    c.step(60.0, 60.0, v, RNG)
    before = v["meanArterialPressure"].copy()
    v["heartRate"] = np.array([100.0])
    c.step(120.0, 60.0, v, RNG)
    assert v["meanArterialPressure"][0] != pytest.approx(before[0], abs=0.5)  # the change is felt
    assert v["cardiacOutput"][0] == pytest.approx(v["strokeVolume"][0] * 100.0 / 1000.0)


# -- pharmacokinetics ---------------------------------------------------------------


def test_iv_bolus_decays_exponentially_and_auc_is_dose_over_clearance() -> None:
    d = DrugCompartment()
    v = fleet(d, [{"centralAmount": 500.0, "clearance": 5.0, "centralVolume": 50.0}])
    ke = 5.0 / 50.0
    for hour in range(1, 121):
        d.step((hour - 1) * 3600.0, 3600.0, v, RNG)
        if hour in (1, 5, 24):
            assert v["concentration"][0] == pytest.approx(10.0 * math.exp(-ke * hour), rel=1e-9)
    assert v["areaUnderCurve"][0] == pytest.approx(500.0 / 5.0, rel=1e-5)


def test_oral_dose_follows_bateman_and_peaks_at_tmax() -> None:
    d = DrugCompartment()
    ka, cl, vol, f = 1.5, 4.0, 40.0, 0.7
    v = fleet(d, [{"depotAmount": 400.0, "absorptionRate": ka, "clearance": cl, "centralVolume": vol,
                   "bioavailability": f}])
    minutes = np.arange(1, 48 * 60 + 1)
    conc = []
    for m in minutes:
        d.step((m - 1) * 60.0, 60.0, v, RNG)
        conc.append(v["concentration"][0])
    expected = bateman(minutes / 60.0, 400.0, ka=ka, ke=cl / vol, volume=vol, f=f)
    assert np.abs(np.array(conc) - expected).max() < 1e-9
    tmax = peak_time(ka, cl / vol)
    assert tmax == pytest.approx(math.log(ka / 0.1) / (ka - 0.1))
    assert abs(minutes[int(np.argmax(conc))] / 60.0 - tmax) <= 1 / 60
    for hour in range(48, 120):
        d.step(hour * 3600.0, 3600.0, v, RNG)
    assert v["areaUnderCurve"][0] == pytest.approx(f * 400.0 / cl, rel=1e-5)


def test_two_compartments_and_an_infusion_reach_rate_over_clearance() -> None:
    """A constant infusion into a two-compartment model levels at rate/CL; whatever the
    compartments, the drug eliminated (CL·AUC) plus what remains equals what went in."""
    d = DrugCompartment()
    v = fleet(d, [{"infusionRate": 20.0, "clearance": 4.0, "centralVolume": 30.0,
                   "intercompartmentalClearance": 10.0, "peripheralVolume": 80.0}])
    for hour in range(400):
        d.step(hour * 3600.0, 3600.0, v, RNG)
    assert v["concentration"][0] == pytest.approx(20.0 / 4.0, rel=1e-4)
    given = 20.0 * 400
    remaining = v["centralAmount"][0] + v["peripheralAmount"][0]
    assert 4.0 * v["areaUnderCurve"][0] + remaining == pytest.approx(given, rel=1e-9)
    assert v["aboveMic"][0] == 1.0
