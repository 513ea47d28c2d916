"""The circulation: a left ventricle with time-varying elastance ejecting into a 2-, 3- or
4-element Windkessel (the arterial tree), stepped for a whole fleet at once.

Ventricle: P_lv = E(t)·(V - V0) with the double-Hill elastance of Stergiopulos et al.
(1996), E = (Emax - Emin)·En(t/Tmax) + Emin, Tmax = 0.2 + 0.15·T (T = 60/heart rate, s).
Valves are ideal diodes with a resistance: mitral from a fixed filling (left atrial)
pressure, aortic into the arteries.

Windkessel (parallel inertance form): C·dPc/dt = Q - Pc/R; L·dQl/dt = Zc·(Q - Ql);
aortic pressure P = Pc + Zc·(Q - Ql). Zc = 0 gives the 2-element model, ``inertance`` 0
the 3-element one (no inertance branch), both > 0 the 4-element one. At the periodic steady
state the mean pressure is R·mean flow (2 and 4 elements) or (R + Zc)·mean flow (3).

Outputs are the last complete beat's systolic, diastolic and mean arterial pressure,
stroke volume and cardiac output, what a cuff or a monitor reads. A step longer than
``beatsPerStep`` beats simulates only its last beats (the arteries settle within a few
time constants R·C, about 1.5 s), and once the beats repeat (mean pressure and stroke volume
change by less than 0.001 from one beat to the next) with inputs and parameters unchanged, a
step only advances the phase: a day at one-minute steps costs what its changes cost.
"""

from __future__ import annotations

import numpy as np

from twinforge.packs.health.glucose import NS
from twinforge.sim.behaviour import Behaviour, Values, Var

H = 1e-3  # the integration step (s)
SETTLED = 1e-3  # beat-to-beat change (mmHg, mL) under which the beats are taken to repeat


def normalised_elastance(tn: np.ndarray) -> np.ndarray:
    """The double-Hill normalised elastance En at t/Tmax (peaks at 1 near 1)."""
    a = (tn / 0.7) ** 1.9
    b = (tn / 1.17) ** 21.9
    return 1.55 * (a / (1.0 + a)) * (1.0 / (1.0 + b))


class Circulation(Behaviour):
    """Heart (time-varying elastance) and arteries (Windkessel), per patient."""

    model = NS + "Circulation;1"
    variables = (
        Var("ventricularVolume", "state", "mL", 120.0, "left-ventricular volume", "Volume:millilitre"),
        Var("capacitorPressure", "state", "mmHg", 80.0, "Pc: pressure over the arterial compliance", "Pressure:millimetresOfMercury"),
        Var("inertanceFlow", "state", "mL/s", 0.0, "Ql: flow through the inertance branch"),
        Var("cyclePhase", "state", "s", 0.0, "time since the current beat began"),
        Var("heartRate", "input", "bpm", 75.0, "beats per minute (UCUM /min)"),
        Var("fillingPressure", "input", "mmHg", 8.0, "left atrial pressure (preload)", "Pressure:millimetresOfMercury"),
        Var("maxElastance", "parameter", "mmHg/mL", 2.0, "Emax: contractility"),
        Var("minElastance", "parameter", "mmHg/mL", 0.06, "Emin: diastolic stiffness"),
        Var("unstressedVolume", "parameter", "mL", 10.0, "V0", "Volume:millilitre"),
        Var("mitralResistance", "parameter", "mmHg·s/mL", 0.005, "mitral valve"),
        Var("aorticResistance", "parameter", "mmHg·s/mL", 0.003, "aortic valve"),
        Var("peripheralResistance", "parameter", "mmHg·s/mL", 1.0, "R: systemic resistance"),
        Var("compliance", "parameter", "mL/mmHg", 1.5, "C: arterial compliance"),
        Var("characteristicImpedance", "parameter", "mmHg·s/mL", 0.05, "Zc: 0 for the 2-element model"),
        Var("inertance", "parameter", "mmHg·s²/mL", 0.005, "L: 0 for the 3-element model"),
        Var("beatsPerStep", "parameter", "", 8.0, "most beats simulated in one step"),
        Var("aorticPressure", "output", "mmHg", 80.0, "instant aortic pressure at the end of the step", "Pressure:millimetresOfMercury"),
        Var("systolicPressure", "output", "mmHg", 0.0, "peak aortic pressure of the last beat", "Pressure:millimetresOfMercury", telemetry=True),
        Var("diastolicPressure", "output", "mmHg", 0.0, "lowest aortic pressure of the last beat", "Pressure:millimetresOfMercury", telemetry=True),
        Var("meanArterialPressure", "output", "mmHg", 0.0, "mean aortic pressure of the last beat", "Pressure:millimetresOfMercury", telemetry=True),
        Var("strokeVolume", "output", "mL", 0.0, "volume ejected in the last beat", "Volume:millilitre"),
        Var("cardiacOutput", "output", "L/min", 0.0, "stroke volume x heart rate", telemetry=True),
    )

    def __init__(self) -> None:
        self._key: np.ndarray | None = None  # the inputs and parameters of the last step
        self._settled: np.ndarray | None = None  # per twin: its beats repeat (periodic steady state)

    def fresh(self) -> Circulation:
        return Circulation()

    def initial(self, values: Values, rng: np.random.Generator) -> None:
        values["aorticPressure"] = values["capacitorPressure"].copy()

    def step(self, t: float, dt: float, v: Values, rng: np.random.Generator) -> None:
        period = 60.0 / np.maximum(v["heartRate"], 1e-6)
        key = np.stack([v[name] for name in self.names("input", "parameter")])
        if (self._key is not None and self._settled is not None and self._key.shape == key.shape
                and bool(self._settled.all()) and np.array_equal(self._key, key)):
            # Nothing changed and every twin beats as it did: the next beats are the same.
            v["cyclePhase"] = np.mod(v["cyclePhase"] + dt, period)
            return
        self._key = key
        span = np.minimum(dt, v["beatsPerStep"] * period)
        n = int(np.ceil(float(span.max()) / H - 1e-9))
        if n <= 0:
            return
        h = span / n  # each twin takes n steps of its own length
        tmax = 0.2 + 0.15 * period
        emax, emin, v0 = v["maxElastance"], v["minElastance"], v["unstressedVolume"]
        rmv, rav = v["mitralResistance"], v["aorticResistance"]
        r, c, zc, inert = v["peripheralResistance"], v["compliance"], v["characteristicImpedance"], v["inertance"]
        pla = v["fillingPressure"]
        has_l = inert > 0
        safe_l = np.where(has_l, inert, 1.0)
        vol, pc, ql, phase = v["ventricularVolume"], v["capacitorPressure"], v["inertanceFlow"], v["cyclePhase"]
        phase = np.mod(phase + (dt - span), period)  # skipped time, whole beats and the rest

        def rates(vol: np.ndarray, pc: np.ndarray, ql: np.ndarray, phase: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
            e = (emax - emin) * normalised_elastance(np.mod(phase, period) / tmax) + emin
            plv = e * (vol - v0)
            qmv = np.maximum(pla - plv, 0.0) / rmv
            qav = np.maximum(plv - pc + zc * ql, 0.0) / (rav + zc)
            pao = pc + zc * (qav - ql)
            dql = np.where(has_l, zc * (qav - ql) / safe_l, 0.0)
            return qmv - qav, (qav - pc / r) / c, dql, qav, pao

        # Beat statistics: accumulated from the start of each beat; a beat that completes
        # inside the step replaces the last complete beat's figures.
        beat_high = np.full_like(pc, -np.inf)
        beat_low = np.full_like(pc, np.inf)
        beat_area = np.zeros_like(pc)
        beat_out = np.zeros_like(pc)
        beat_time = np.zeros_like(pc)
        done_high, done_low = v["systolicPressure"].copy(), v["diastolicPressure"].copy()
        done_mean, done_sv = v["meanArterialPressure"].copy(), v["strokeVolume"].copy()
        before_mean, before_sv = np.full_like(pc, np.nan), np.full_like(pc, np.nan)
        beats = np.zeros_like(pc)
        for _ in range(n):  # classic RK4 on the fleet
            k1 = rates(vol, pc, ql, phase)
            k2 = rates(vol + h / 2 * k1[0], pc + h / 2 * k1[1], ql + h / 2 * k1[2], phase + h / 2)
            k3 = rates(vol + h / 2 * k2[0], pc + h / 2 * k2[1], ql + h / 2 * k2[2], phase + h / 2)
            k4 = rates(vol + h * k3[0], pc + h * k3[1], ql + h * k3[2], phase + h)
            flow = (k1[3] + 2 * k2[3] + 2 * k3[3] + k4[3]) / 6.0
            pressure = (k1[4] + 2 * k2[4] + 2 * k3[4] + k4[4]) / 6.0
            vol = vol + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
            pc = pc + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
            ql = ql + h / 6 * (k1[2] + 2 * k2[2] + 2 * k3[2] + k4[2])
            beat_high = np.maximum(beat_high, pressure)
            beat_low = np.minimum(beat_low, pressure)
            beat_area += pressure * h
            beat_out += flow * h
            beat_time += h
            phase = phase + h
            ended = phase >= period - 1e-12
            if ended.any():
                before_mean = np.where(ended, done_mean, before_mean)
                before_sv = np.where(ended, done_sv, before_sv)
                beats = beats + ended
                done_high = np.where(ended, beat_high, done_high)
                done_low = np.where(ended, beat_low, done_low)
                done_mean = np.where(ended, beat_area / np.maximum(beat_time, 1e-12), done_mean)
                done_sv = np.where(ended, beat_out, done_sv)
                phase = np.where(ended, phase - period, phase)
                beat_high = np.where(ended, -np.inf, beat_high)
                beat_low = np.where(ended, np.inf, beat_low)
                beat_area = np.where(ended, 0.0, beat_area)
                beat_out = np.where(ended, 0.0, beat_out)
                beat_time = np.where(ended, 0.0, beat_time)
        pao = rates(vol, pc, ql, phase)[4]
        v["ventricularVolume"], v["capacitorPressure"], v["inertanceFlow"], v["cyclePhase"] = vol, pc, ql, phase
        v["aorticPressure"] = pao
        v["systolicPressure"], v["diastolicPressure"] = done_high, done_low
        v["meanArterialPressure"], v["strokeVolume"] = done_mean, done_sv
        v["cardiacOutput"] = done_sv * v["heartRate"] / 1000.0
        self._settled = ((beats >= 2) & (np.abs(done_mean - before_mean) < SETTLED)
                         & (np.abs(done_sv - before_sv) < SETTLED))


__all__ = ["Circulation", "H", "normalised_elastance"]
