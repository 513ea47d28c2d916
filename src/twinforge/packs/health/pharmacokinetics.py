"""Compartment pharmacokinetics: a drug's depot (gut), central and peripheral amounts.

    d(depot)/dt      = oral - ka·depot
    d(central)/dt    = F·ka·depot + infusion - (CL + Q)/V1·central + Q/V2·peripheral
    d(peripheral)/dt = Q/V1·central - Q/V2·peripheral
    d(AUC)/dt        = central/V1

With Q = 0 it is the one-compartment model: an IV bolus D gives C = D/V1·e^(-ke·t)
(ke = CL/V1), an oral dose the Bateman curve F·D·ka/(V1·(ka - ke))·(e^(-ke·t) - e^(-ka·t)),
peaking at tmax = ln(ka/ke)/(ka - ke), and AUC = F·D/CL either way. The system is linear,
so each step is exact for inputs held over it (a matrix exponential per twin). A dose
given at once is a state change: set ``depotAmount`` (oral) or ``centralAmount`` (IV).
"""

from __future__ import annotations

import numpy as np

from twinforge.packs.health.glucose import NS
from twinforge.sim.behaviour import Behaviour, Values, Var

_STATES = ("depotAmount", "centralAmount", "peripheralAmount", "areaUnderCurve")


class DrugCompartment(Behaviour):
    """One drug in one patient: one- or two-compartment kinetics with first-order absorption."""

    model = NS + "DrugCompartment;1"
    variables = (
        Var("depotAmount", "state", "mg", 0.0, "drug in the gut (or an intramuscular depot) not yet absorbed"),
        Var("centralAmount", "state", "mg", 0.0, "drug in the central compartment (plasma)"),
        Var("peripheralAmount", "state", "mg", 0.0, "drug in the peripheral compartment (tissues)"),
        Var("areaUnderCurve", "state", "mg·h/L", 0.0, "AUC of the concentration since the start"),
        Var("oralDoseRate", "input", "mg/h", 0.0, "drug taken by mouth (into the depot)"),
        Var("infusionRate", "input", "mg/h", 0.0, "intravenous infusion (into the central compartment)"),
        Var("bioavailability", "parameter", "", 1.0, "F: fraction of the depot reaching plasma"),
        Var("absorptionRate", "parameter", "1/h", 1.0, "ka"),
        Var("clearance", "parameter", "L/h", 5.0, "CL"),
        Var("centralVolume", "parameter", "L", 50.0, "V1"),
        Var("intercompartmentalClearance", "parameter", "L/h", 0.0, "Q: 0 for one compartment"),
        Var("peripheralVolume", "parameter", "L", 100.0, "V2"),
        Var("minimumInhibitoryConcentration", "parameter", "mg/L", 1.0, "MIC, for time above it"),
        Var("concentration", "output", "mg/L", 0.0, "plasma concentration", telemetry=True),
        Var("aboveMic", "output", "", 0.0, "1 while the concentration is above the MIC"),
    )

    def initial(self, values: Values, rng: np.random.Generator) -> None:
        self._outputs(values)

    def _outputs(self, v: Values) -> None:
        v["concentration"] = v["centralAmount"] / v["centralVolume"]
        v["aboveMic"] = (v["concentration"] > v["minimumInhibitoryConcentration"]).astype(float)

    def step(self, t: float, dt: float, v: Values, rng: np.random.Generator) -> None:
        from scipy.linalg import expm

        hours = dt / 3600.0
        n = len(v["centralAmount"])
        x = np.stack([v[s] for s in _STATES] + [np.ones(n)])  # (5, n): the states and the input's 1
        out = np.empty((4, n))
        cache: dict[tuple[float, ...], np.ndarray] = {}
        for i in range(n):
            ka, f, cl = v["absorptionRate"][i], v["bioavailability"][i], v["clearance"][i]
            v1, q, v2 = v["centralVolume"][i], v["intercompartmentalClearance"][i], v["peripheralVolume"][i]
            oral, infusion = v["oralDoseRate"][i], v["infusionRate"][i]
            key = (ka, f, cl, v1, q, v2, oral, infusion)
            step = cache.get(key)
            if step is None:
                back = q / v2 if q > 0 else 0.0
                m = np.zeros((5, 5))
                m[0, 0], m[0, 4] = -ka, oral
                m[1, 0], m[1, 1], m[1, 2], m[1, 4] = f * ka, -(cl + q) / v1, back, infusion
                m[2, 1], m[2, 2] = q / v1, -back
                m[3, 1] = 1.0 / v1
                step = cache[key] = expm(m * hours)[:4]
            out[:, i] = step @ x[:, i]
        for k, s in enumerate(_STATES):
            v[s] = out[k]
        self._outputs(v)


def bateman(t: np.ndarray, dose: float, *, ka: float, ke: float, volume: float, f: float = 1.0) -> np.ndarray:
    """The one-compartment oral concentration after ``dose`` at t = 0 (t in hours)."""
    return f * dose * ka / (volume * (ka - ke)) * (np.exp(-ke * t) - np.exp(-ka * t))


def peak_time(ka: float, ke: float) -> float:
    """tmax of the Bateman curve (hours)."""
    return float(np.log(ka / ke) / (ka - ke))


__all__ = ["DrugCompartment", "bateman", "peak_time"]
