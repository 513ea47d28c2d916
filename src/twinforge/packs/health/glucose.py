"""Glucose-insulin behaviours of a person with type 1 diabetes: the UVA/Padova simulator
(Dalla Man 2007, Kovatchev 2009: the 2008 model with its 30 virtual patients), the Bergman
minimal model and the Hovorka model. Each steps a whole fleet of patients at once.

Inputs are what a pump and a meal deliver over a step: ``basalRate`` (U/h),
``bolusRate`` (U/min, while a bolus is delivered: a 6 U bolus is 6 U/min for one minute)
and ``carbIntake`` (g/min, while eating: a 50 g meal is 5 g/min for 10 minutes). Every
model outputs ``glucose`` (plasma, mg/dL); equations are in docs/health.md.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from twinforge.packs.health.patients import virtual_patient
from twinforge.sim.behaviour import OdeBehaviour, Values, Var

NS = "dtmi:twinforge:health:"
MG_PER_MMOL = 180.156 / 10.0  # glucose: mg/dL per mmol/L
PMOL_PER_U = 6000.0  # insulin: pmol per unit

_REF = virtual_patient("adult#001")

# The UVA/Padova parameters (the paper's names), their units and meaning.
_UVA_PARAMETERS = (
    ("BW", "kg", "body weight"), ("Gb", "mg/dL", "basal plasma glucose"), ("Ib", "pmol/L", "basal plasma insulin"),
    ("kabs", "1/min", "rate of intestinal absorption"), ("kmax", "1/min", "maximum gastric emptying"),
    ("kmin", "1/min", "minimum gastric emptying"), ("b", "", "gastric emptying: first flex point (fraction of the meal)"),
    ("d", "", "gastric emptying: second flex point"), ("f", "", "fraction of the intestinal absorption appearing in plasma"),
    ("Vg", "dL/kg", "glucose distribution volume"), ("Vi", "L/kg", "insulin distribution volume"),
    ("k1", "1/min", "plasma to tissue glucose"), ("k2", "1/min", "tissue to plasma glucose"),
    ("Vm0", "mg/kg/min", "insulin-independent utilisation, Michaelis-Menten Vmax"),
    ("Vmx", "mg/kg/min per pmol/L", "insulin sensitivity of utilisation"), ("Km0", "mg/kg", "Michaelis-Menten constant"),
    ("p2u", "1/min", "insulin action on utilisation, rate"), ("kp1", "mg/kg/min", "endogenous production at zero glucose and insulin"),
    ("kp2", "1/min", "liver glucose effectiveness"), ("kp3", "mg/kg/min per pmol/L", "insulin action on the liver"),
    ("ki", "1/min", "delay of insulin action on the liver"), ("Fsnc", "mg/kg/min", "insulin-independent utilisation (brain)"),
    ("ke1", "1/min", "renal excretion rate"), ("ke2", "mg/kg", "renal threshold"),
    ("m1", "1/min", "liver to plasma insulin"), ("m2", "1/min", "plasma to liver insulin"),
    ("m4", "1/min", "peripheral insulin degradation"), ("m30", "1/min", "hepatic insulin extraction"),
    ("kd", "1/min", "subcutaneous insulin: first compartment"), ("ka1", "1/min", "subcutaneous insulin absorption 1"),
    ("ka2", "1/min", "subcutaneous insulin absorption 2"), ("ksc", "1/min", "subcutaneous glucose rate (sensor lag)"),
)
# The 13 states, in the order of the parameter file's initial state.
_UVA_STATES = (
    ("stomachSolid", "mg", "glucose in the stomach, solid phase"), ("stomachLiquid", "mg", "glucose in the stomach, liquid phase"),
    ("gutGlucose", "mg", "glucose in the intestine"), ("plasmaGlucoseMass", "mg/kg", "Gp"),
    ("tissueGlucoseMass", "mg/kg", "Gt"), ("plasmaInsulinMass", "pmol/kg", "Ip"),
    ("insulinAction", "pmol/L", "X: insulin action on utilisation"), ("insulinDelay", "pmol/L", "I1: delayed insulin"),
    ("delayedInsulin", "pmol/L", "Id: insulin acting on the liver"), ("liverInsulin", "pmol/kg", "Il"),
    ("subcutaneousInsulin1", "pmol/kg", "Isc1"), ("subcutaneousInsulin2", "pmol/kg", "Isc2"),
    ("subcutaneousGlucoseMass", "mg/kg", "Gs: interstitial glucose"),
)

_INPUTS = (
    Var("basalRate", "input", "U/h", _REF.basal_rate, "basal insulin delivered by the pump"),
    Var("bolusRate", "input", "U/min", 0.0, "bolus insulin being delivered (6 U over a minute: 6)"),
    Var("carbIntake", "input", "g/min", 0.0, "carbohydrate being eaten (a 50 g meal: 5 for 10 min)"),
)


class UvaPadova(OdeBehaviour):
    """The UVA/Padova type 1 diabetes model (2008), the equations of simglucose 0.2.11.

    Meal: a two-phase stomach emptying at a rate that depends on how much of the meal is
    left (kmin..kmax), then the gut; endogenous production EGP = kp1 - kp2·Gp - kp3·Id; uptake
    Fsnc + Vm·Gt/(Km0 + Gt) with Vm = Vm0 + Vmx·X; renal excretion above ke2; insulin: two
    subcutaneous compartments, plasma and liver; the sensor sees Gs (first-order lag ksc).
    """

    model = NS + "UvaPadovaPatient;1"
    method: ClassVar[str] = "RK45"
    variables = (
        *(Var(name, "state", unit, _REF.state[k], text) for k, (name, unit, text) in enumerate(_UVA_STATES)),
        Var("mealStartContent", "state", "mg", 0.0, "stomach content when the current meal began"),
        Var("mealEaten", "state", "g", 0.0, "carbohydrate eaten since the current meal began"),
        Var("eating", "state", "", 0.0, "1 while a meal is being eaten"),
        *_INPUTS,
        *(Var(name, "parameter", unit, _REF.parameters[name], text, "Mass:kilogram" if name == "BW" else "")
          for name, unit, text in _UVA_PARAMETERS),
        Var("glucose", "output", "mg/dL", _REF.basal_glucose, "plasma glucose", telemetry=True),
        Var("interstitialGlucose", "output", "mg/dL", _REF.basal_glucose, "subcutaneous glucose (what a CGM reads)",
            telemetry=True),
        Var("plasmaInsulin", "output", "pmol/L", _REF.parameters["Ib"], "plasma insulin concentration", telemetry=True),
        Var("insulinOnBoard", "output", "U", 0.0, "insulin still under the skin"),
    )

    def integrated(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in _UVA_STATES)

    def step(self, t: float, dt: float, v: Values, rng: np.random.Generator) -> None:
        # Meal bookkeeping between steps, as simglucose does between minutes.
        cho = np.maximum(v["carbIntake"], 0.0)
        starts = (cho > 0) & (v["eating"] <= 0)
        v["mealStartContent"] = np.where(starts, v["stomachSolid"] + v["stomachLiquid"], v["mealStartContent"])
        eaten = np.where(starts, 0.0, v["mealEaten"])
        v["mealEaten"] = np.where(cho > 0, eaten + cho * dt / 60.0, eaten)
        v["eating"] = (cho > 0).astype(float)
        super().step(t, dt, v, rng)

    def derivatives(self, t: float, x: Values, v: Values) -> Values:
        p = v
        bw = p["BW"]
        meal = np.maximum(v["carbIntake"], 0.0) * 1000.0  # mg/min
        insulin = (v["basalRate"] / 60.0 + np.maximum(v["bolusRate"], 0.0)) * PMOL_PER_U / bw  # pmol/kg/min
        qs1, qs2, qgut = x["stomachSolid"], x["stomachLiquid"], x["gutGlucose"]
        gp, gt, ip = x["plasmaGlucoseMass"], x["tissueGlucoseMass"], x["plasmaInsulinMass"]
        xi, i1, idl, il = x["insulinAction"], x["insulinDelay"], x["delayedInsulin"], x["liverInsulin"]
        isc1, isc2, gs = x["subcutaneousInsulin1"], x["subcutaneousInsulin2"], x["subcutaneousGlucoseMass"]

        qsto = qs1 + qs2
        dbar = v["mealStartContent"] + v["mealEaten"] * 1000.0
        with np.errstate(divide="ignore", invalid="ignore"):
            aa = 5.0 / (2.0 * dbar * (1.0 - p["b"]))
            cc = 5.0 / (2.0 * dbar * p["d"])
            kgut = p["kmin"] + (p["kmax"] - p["kmin"]) / 2.0 * (
                np.tanh(aa * (qsto - p["b"] * dbar)) - np.tanh(cc * (qsto - p["d"] * dbar)) + 2.0)
        kgut = np.where(dbar > 0, kgut, p["kmax"])

        d: Values = {}
        d["stomachSolid"] = -p["kmax"] * qs1 + meal
        d["stomachLiquid"] = p["kmax"] * qs1 - qs2 * kgut
        d["gutGlucose"] = kgut * qs2 - p["kabs"] * qgut
        rat = p["f"] * p["kabs"] * qgut / bw
        egp = np.maximum(p["kp1"] - p["kp2"] * gp - p["kp3"] * idl, 0.0)
        et = np.where(gp > p["ke2"], p["ke1"] * (gp - p["ke2"]), 0.0)
        d["plasmaGlucoseMass"] = (gp >= 0) * (egp + rat - p["Fsnc"] - et - p["k1"] * gp + p["k2"] * gt)
        uid = (p["Vm0"] + p["Vmx"] * xi) * gt / (p["Km0"] + gt)
        d["tissueGlucoseMass"] = (gt >= 0) * (-uid + p["k1"] * gp - p["k2"] * gt)
        d["plasmaInsulinMass"] = (ip >= 0) * (-(p["m2"] + p["m4"]) * ip + p["m1"] * il + p["ka1"] * isc1
                                              + p["ka2"] * isc2)
        it = ip / p["Vi"]
        d["insulinAction"] = -p["p2u"] * xi + p["p2u"] * (it - p["Ib"])
        d["insulinDelay"] = -p["ki"] * (i1 - it)
        d["delayedInsulin"] = -p["ki"] * (idl - i1)
        d["liverInsulin"] = (il >= 0) * (-(p["m1"] + p["m30"]) * il + p["m2"] * ip)
        d["subcutaneousInsulin1"] = (isc1 >= 0) * (insulin - (p["ka1"] + p["kd"]) * isc1)
        d["subcutaneousInsulin2"] = (isc2 >= 0) * (p["kd"] * isc1 - p["ka2"] * isc2)
        d["subcutaneousGlucoseMass"] = (gs >= 0) * (-p["ksc"] * gs + p["ksc"] * gp)
        return {k: value / 60.0 for k, value in d.items()}  # per minute → per second

    def outputs(self, v: Values) -> None:
        v["glucose"] = v["plasmaGlucoseMass"] / v["Vg"]
        v["interstitialGlucose"] = v["subcutaneousGlucoseMass"] / v["Vg"]
        v["plasmaInsulin"] = v["plasmaInsulinMass"] / v["Vi"]
        v["insulinOnBoard"] = (v["subcutaneousInsulin1"] + v["subcutaneousInsulin2"]) * v["BW"] / PMOL_PER_U


def uva_padova_values(name: str) -> dict[str, float]:
    """A twin's starting properties for virtual patient ``name``: its parameters, its basal
    steady state and the basal rate that holds it (outputs such as ``glucose`` are telemetry,
    computed from the states)."""
    p = virtual_patient(name)
    values = {n: p.parameters[n] for n, _, _ in _UVA_PARAMETERS}
    values.update({n: p.state[k] for k, (n, _, _) in enumerate(_UVA_STATES)})
    values["basalRate"] = p.basal_rate
    return values


class Bergman(OdeBehaviour):
    """The Bergman minimal model with subcutaneous insulin and a meal (Fisher's 1991 parameters).

    dG/dt = -(p1 + X)·G + p1·Gb + Ra/Vg;  dX/dt = -p2·X + p3·(I - Ib);  dI/dt = -n·I + Ua/Vi,
    with Ra from a two-compartment gut (tmaxG) and Ua from two subcutaneous compartments
    (tmaxI). Ib = basal delivery/(n·Vi), so the basal rate holds G at Gb.
    """

    model = NS + "BergmanPatient;1"
    variables = (
        Var("glucoseLevel", "state", "mg/dL", 120.0, "G: plasma glucose"),
        Var("insulinAction", "state", "1/min", 0.0, "X: remote insulin action"),
        Var("insulinConcentration", "state", "mU/L", 10.0, "I: plasma insulin"),
        Var("subcutaneousInsulin1", "state", "mU", 0.0, "S1"),
        Var("subcutaneousInsulin2", "state", "mU", 0.0, "S2"),
        Var("gut1", "state", "mg", 0.0, "D1: carbohydrate in the stomach"),
        Var("gut2", "state", "mg", 0.0, "D2: carbohydrate in the gut"),
        *_INPUTS[1:],
        Var("basalRate", "input", "U/h", 1.0, "basal insulin delivered by the pump"),
        Var("bodyWeight", "parameter", "kg", 70.0, "body weight", "Mass:kilogram"),
        Var("basalGlucose", "parameter", "mg/dL", 120.0, "Gb"),
        Var("p1", "parameter", "1/min", 0.028735, "glucose effectiveness"),
        Var("p2", "parameter", "1/min", 0.028344, "decay of insulin action"),
        Var("p3", "parameter", "L/mU/min²", 5.035e-5, "insulin sensitivity gain"),
        Var("insulinClearance", "parameter", "1/min", 5.0 / 54.0, "n"),
        Var("insulinVolume", "parameter", "L", 12.0, "Vi"),
        Var("glucoseVolume", "parameter", "dL/kg", 1.6, "Vg"),
        Var("insulinAbsorptionTime", "parameter", "min", 55.0, "tmaxI"),
        Var("carbAbsorptionTime", "parameter", "min", 40.0, "tmaxG"),
        Var("carbBioavailability", "parameter", "", 0.8, "AG"),
        Var("glucose", "output", "mg/dL", 120.0, "plasma glucose", telemetry=True),
    )

    def derivatives(self, t: float, x: Values, v: Values) -> Values:
        u = (v["basalRate"] / 60.0 + np.maximum(v["bolusRate"], 0.0)) * 1000.0  # mU/min
        basal = v["basalRate"] / 60.0 * 1000.0
        n, vi = v["insulinClearance"], v["insulinVolume"]
        ib = basal / (n * vi)
        tmi, tmg = v["insulinAbsorptionTime"], v["carbAbsorptionTime"]
        g, xa, i = x["glucoseLevel"], x["insulinAction"], x["insulinConcentration"]
        ra = x["gut2"] / tmg / v["bodyWeight"]  # mg/kg/min
        d: Values = {
            "glucoseLevel": -(v["p1"] + xa) * g + v["p1"] * v["basalGlucose"] + ra / v["glucoseVolume"],
            "insulinAction": -v["p2"] * xa + v["p3"] * (i - ib),
            "insulinConcentration": -n * i + x["subcutaneousInsulin2"] / tmi / vi,
            "subcutaneousInsulin1": u - x["subcutaneousInsulin1"] / tmi,
            "subcutaneousInsulin2": (x["subcutaneousInsulin1"] - x["subcutaneousInsulin2"]) / tmi,
            "gut1": v["carbBioavailability"] * np.maximum(v["carbIntake"], 0.0) * 1000.0 - x["gut1"] / tmg,
            "gut2": (x["gut1"] - x["gut2"]) / tmg,
        }
        return {k: value / 60.0 for k, value in d.items()}

    def outputs(self, v: Values) -> None:
        v["glucose"] = v["glucoseLevel"].copy()


def bergman_steady_state(basal_rate: float, glucose: float, *, clearance: float = 5.0 / 54.0,
                         volume: float = 12.0, absorption: float = 55.0) -> dict[str, float]:
    """The Bergman model's states at rest with ``basal_rate`` (U/h) and G = Gb = ``glucose``."""
    u = basal_rate / 60.0 * 1000.0
    return {"glucoseLevel": glucose, "basalGlucose": glucose, "insulinAction": 0.0, "basalRate": basal_rate,
            "insulinConcentration": u / (clearance * volume), "subcutaneousInsulin1": u * absorption,
            "subcutaneousInsulin2": u * absorption, "gut1": 0.0, "gut2": 0.0, "glucose": glucose}


class Hovorka(OdeBehaviour):
    """The Hovorka model (Hovorka et al. 2004, the Cambridge model-predictive controller's
    model) with its published mean parameters.

    Glucose in an accessible (Q1) and a non-accessible (Q2) compartment; three insulin
    actions (transport x1, disposal x2, liver x3); renal excretion above 9 mmol/L;
    insulin-independent uptake F01, reduced below 4.5 mmol/L.
    """

    model = NS + "HovorkaPatient;1"
    variables = (
        Var("glucoseAccessible", "state", "mmol", 0.0, "Q1"),
        Var("glucoseNonAccessible", "state", "mmol", 0.0, "Q2"),
        Var("subcutaneousInsulin1", "state", "mU", 0.0, "S1"),
        Var("subcutaneousInsulin2", "state", "mU", 0.0, "S2"),
        Var("insulinConcentration", "state", "mU/L", 0.0, "I"),
        Var("insulinTransport", "state", "1/min", 0.0, "x1"),
        Var("insulinDisposal", "state", "1/min", 0.0, "x2"),
        Var("insulinLiver", "state", "", 0.0, "x3"),
        Var("gut1", "state", "mmol", 0.0, "D1"),
        Var("gut2", "state", "mmol", 0.0, "D2"),
        *_INPUTS[1:],
        Var("basalRate", "input", "U/h", 1.0, "basal insulin delivered by the pump"),
        Var("bodyWeight", "parameter", "kg", 70.0, "body weight", "Mass:kilogram"),
        Var("EGP0", "parameter", "mmol/kg/min", 0.0161, "endogenous production at zero insulin"),
        Var("F01", "parameter", "mmol/kg/min", 0.0097, "insulin-independent uptake"),
        Var("k12", "parameter", "1/min", 0.066, "Q2 to Q1"),
        Var("ka1", "parameter", "1/min", 0.006, "deactivation of x1"),
        Var("ka2", "parameter", "1/min", 0.06, "deactivation of x2"),
        Var("ka3", "parameter", "1/min", 0.03, "deactivation of x3"),
        Var("SIT", "parameter", "1/min per mU/L", 51.2e-4, "insulin sensitivity of transport"),
        Var("SID", "parameter", "1/min per mU/L", 8.2e-4, "insulin sensitivity of disposal"),
        Var("SIE", "parameter", "per mU/L", 520e-4, "insulin sensitivity of production"),
        Var("ke", "parameter", "1/min", 0.138, "insulin elimination"),
        Var("VI", "parameter", "L/kg", 0.12, "insulin distribution volume"),
        Var("VG", "parameter", "L/kg", 0.16, "glucose distribution volume"),
        Var("tmaxI", "parameter", "min", 55.0, "subcutaneous insulin absorption time"),
        Var("tmaxG", "parameter", "min", 40.0, "carbohydrate absorption time"),
        Var("AG", "parameter", "", 0.8, "carbohydrate bioavailability"),
        Var("glucose", "output", "mg/dL", 0.0, "plasma glucose", telemetry=True),
    )

    def derivatives(self, t: float, x: Values, v: Values) -> Values:
        bw = v["bodyWeight"]
        vg, vi = v["VG"] * bw, v["VI"] * bw
        u = (v["basalRate"] / 60.0 + np.maximum(v["bolusRate"], 0.0)) * 1000.0  # mU/min
        q1, q2 = x["glucoseAccessible"], x["glucoseNonAccessible"]
        g = q1 / vg
        f01c = np.where(g >= 4.5, v["F01"] * bw, v["F01"] * bw * g / 4.5)
        fr = np.where(g >= 9.0, 0.003 * (g - 9.0) * vg, 0.0)
        x1, x2, x3 = x["insulinTransport"], x["insulinDisposal"], x["insulinLiver"]
        tmi, tmg = v["tmaxI"], v["tmaxG"]
        ug = x["gut2"] / tmg
        i = x["insulinConcentration"]
        with np.errstate(divide="ignore", invalid="ignore"):
            uptake = np.where(g > 0, f01c / (vg * g), 0.0)
        d: Values = {
            "glucoseAccessible": -(uptake + x1) * q1 + v["k12"] * q2 - fr + ug
            + np.maximum(v["EGP0"] * bw * (1.0 - x3), 0.0),
            "glucoseNonAccessible": x1 * q1 - (v["k12"] + x2) * q2,
            "subcutaneousInsulin1": u - x["subcutaneousInsulin1"] / tmi,
            "subcutaneousInsulin2": (x["subcutaneousInsulin1"] - x["subcutaneousInsulin2"]) / tmi,
            "insulinConcentration": x["subcutaneousInsulin2"] / tmi / vi - v["ke"] * i,
            "insulinTransport": -v["ka1"] * x1 + v["ka1"] * v["SIT"] * i,
            "insulinDisposal": -v["ka2"] * x2 + v["ka2"] * v["SID"] * i,
            "insulinLiver": -v["ka3"] * x3 + v["ka3"] * v["SIE"] * i,
            "gut1": v["AG"] * np.maximum(v["carbIntake"], 0.0) * 1000.0 / 180.156 - x["gut1"] / tmg,
            "gut2": (x["gut1"] - x["gut2"]) / tmg,
        }
        return {k: value / 60.0 for k, value in d.items()}

    def outputs(self, v: Values) -> None:
        v["glucose"] = v["glucoseAccessible"] / (v["VG"] * v["bodyWeight"]) * MG_PER_MMOL


def hovorka_steady_state(basal_rate: float, *, weight: float = 70.0, parameters: dict[str, float] | None = None,
                         ) -> dict[str, float]:
    """The Hovorka model's states at rest under ``basal_rate`` (U/h), with the published mean
    parameters (or ``parameters`` by name): insulin and its actions from the rate, then the
    glucose at which production meets uptake (found by bisection)."""
    p = {v.name: v.default for v in Hovorka.variables if v.role == "parameter"}
    p.update(parameters or {}, bodyWeight=weight)
    bw = weight
    vg, vi = p["VG"] * bw, p["VI"] * bw
    u = basal_rate / 60.0 * 1000.0
    i = u / (vi * p["ke"])
    x1, x2, x3 = p["SIT"] * i, p["SID"] * i, p["SIE"] * i

    def balance(g: float) -> float:  # dQ1/dt at glucose g with Q2 at rest
        q1 = g * vg
        q2 = x1 * q1 / (p["k12"] + x2)
        f01c = p["F01"] * bw * min(g / 4.5, 1.0)
        fr = 0.003 * (g - 9.0) * vg if g >= 9.0 else 0.0
        return -(f01c / (vg * g) + x1) * q1 + p["k12"] * q2 - fr + max(p["EGP0"] * bw * (1.0 - x3), 0.0)

    low, high = 0.5, 60.0
    if balance(low) < 0:
        g = low
    elif balance(high) > 0:
        g = high
    else:
        for _ in range(100):
            mid = (low + high) / 2.0
            low, high = (mid, high) if balance(mid) > 0 else (low, mid)
        g = (low + high) / 2.0
    q1 = g * vg
    return {"glucoseAccessible": q1, "glucoseNonAccessible": x1 * q1 / (p["k12"] + x2),
            "subcutaneousInsulin1": u * p["tmaxI"], "subcutaneousInsulin2": u * p["tmaxI"],
            "insulinConcentration": i, "insulinTransport": x1, "insulinDisposal": x2, "insulinLiver": x3,
            "gut1": 0.0, "gut2": 0.0, "basalRate": basal_rate, "bodyWeight": weight, "glucose": g * MG_PER_MMOL}


def hovorka_basal_rate(glucose: float, *, weight: float = 70.0, parameters: dict[str, float] | None = None,
                       ) -> float:
    """The basal rate (U/h) that holds the Hovorka model at ``glucose`` (mg/dL)."""
    low, high = 0.0, 20.0
    for _ in range(80):  # rest glucose falls as the rate rises
        mid = (low + high) / 2.0
        if hovorka_steady_state(mid, weight=weight, parameters=parameters)["glucose"] > glucose:
            low = mid
        else:
            high = mid
    return (low + high) / 2.0


__all__ = ["MG_PER_MMOL", "NS", "PMOL_PER_U", "Bergman", "Hovorka", "UvaPadova",
           "bergman_steady_state", "hovorka_basal_rate", "hovorka_steady_state", "uva_padova_values"]
