"""The shipped behaviour models, each a DTDL v3 interface plus its physics:
ThermalZone, CentrifugalPump, Turbofan and Battery. Equations and units are in
docs/simulation.md; every one steps a whole fleet as NumPy arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

from twinforge.sim.behaviour import Behaviour, Values, Var

NS = "dtmi:twinforge:sim:"
RHO_G = 1000.0 * 9.81  # water: density (kg/m³) x gravity (m/s²)


class ThermalZone(Behaviour):
    """A first-order RC room: C·dT/dt = (outdoorTemperature - T)/R + heaterPower.

    Stepped exactly for inputs held over the step: T ← T∞ + (T - T∞)·e^(-dt/RC), with the
    steady state T∞ = outdoorTemperature + heaterPower·R.
    """

    model = NS + "ThermalZone;1"
    variables = (
        Var("temperature", "state", "°C", 20.0, "air temperature of the zone", "Temperature:degreeCelsius"),
        Var("outdoorTemperature", "input", "°C", 10.0, "temperature outside", "Temperature:degreeCelsius"),
        Var("heaterPower", "input", "W", 0.0, "heat put into the zone", "Power:watt"),
        Var("thermalResistance", "parameter", "K/W", 0.005, "R, between the zone and outside"),
        Var("thermalCapacitance", "parameter", "J/K", 2.0e6, "C, of the air and the fabric"),
    )

    def step(self, t: float, dt: float, v: Values, rng: np.random.Generator) -> None:
        r = v["thermalResistance"]
        steady = v["outdoorTemperature"] + v["heaterPower"] * r
        v["temperature"] = steady + (v["temperature"] - steady) * np.exp(-dt / (r * v["thermalCapacitance"]))


class CentrifugalPump(Behaviour):
    """A centrifugal pump on a pipe system.

    Pump curve at speed ratio s = speed/ratedSpeed: H = H0·s² - k·Q²; system curve:
    H = Hs + Ks·Q². The operating point is where they meet: Q = √((H0·s² - Hs)/(k + Ks)).
    Efficiency peaks at the best-efficiency flow (scaled by s): η = ηmax·(1 - ((Q/s - Qbep)/Qbep)²),
    lowered by wear (1 - wearRate·runningHours). Shaft power P = rho·g·Q·H/η. With no static
    head the affinity laws hold: Q ∝ s, H ∝ s², P ∝ s³. Vibration grows with s² and wear.
    """

    model = NS + "CentrifugalPump;1"
    variables = (
        Var("speed", "input", "rpm", 1450.0, "shaft speed", "AngularVelocity:revolutionPerMinute"),
        Var("ratedSpeed", "parameter", "rpm", 1450.0, "speed of the pump curve", "AngularVelocity:revolutionPerMinute"),
        Var("shutoffHead", "parameter", "m", 40.0, "H0: head at zero flow and rated speed", "Length:metre"),
        Var("pumpCurveCoefficient", "parameter", "m/(m³/h)²", 0.004, "k of the pump curve"),
        Var("staticHead", "parameter", "m", 0.0, "Hs: head the system needs at zero flow", "Length:metre"),
        Var("systemCurveCoefficient", "parameter", "m/(m³/h)²", 0.006, "Ks of the system curve"),
        Var("bestEfficiencyFlow", "parameter", "m³/h", 50.0, "Qbep at rated speed",
            "VolumeFlowRate:cubicMetrePerHour"),
        Var("peakEfficiency", "parameter", "", 0.8, "ηmax, 0-1"),
        Var("wearRate", "parameter", "1/h", 1e-5, "efficiency lost per running hour (fraction)"),
        Var("vibrationBase", "parameter", "mm/s", 1.0, "vibration at rated speed when new"),
        Var("vibrationWear", "parameter", "mm/s per 1000 h", 0.5, "vibration added by wear"),
        Var("runningHours", "state", "h", 0.0, "hours run", "TimeSpan:hour"),
        Var("flow", "output", "m³/h", 0.0, "delivered flow", "VolumeFlowRate:cubicMetrePerHour"),
        Var("head", "output", "m", 0.0, "delivered head", "Length:metre"),
        Var("shaftPower", "output", "W", 0.0, "power taken at the shaft", "Power:watt"),
        Var("efficiency", "output", "", 0.0, "hydraulic efficiency, 0-1"),
        Var("vibration", "output", "mm/s", 0.0, "vibration velocity"),
    )

    def initial(self, values: Values, rng: np.random.Generator) -> None:
        self._outputs(values)

    def _outputs(self, v: Values) -> None:
        s = np.maximum(v["speed"] / v["ratedSpeed"], 0.0)
        k, ks, hs = v["pumpCurveCoefficient"], v["systemCurveCoefficient"], v["staticHead"]
        lift = v["shutoffHead"] * s * s - hs
        q = np.sqrt(np.maximum(lift, 0.0) / (k + ks))
        head = np.where(q > 0, hs + ks * q * q, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            specific = np.where(s > 0, q / s, 0.0)
        bep = v["bestEfficiencyFlow"]
        shape = 1.0 - ((specific - bep) / bep) ** 2
        wear = np.clip(1.0 - v["wearRate"] * v["runningHours"], 0.1, 1.0)
        eta = np.clip(v["peakEfficiency"] * shape * wear, 0.05, 1.0)
        v["flow"], v["head"], v["efficiency"] = q, head, np.where(q > 0, eta, 0.0)
        v["shaftPower"] = np.where(q > 0, RHO_G * (q / 3600.0) * head / eta, 0.0)
        v["vibration"] = v["vibrationBase"] * s * s + v["vibrationWear"] * v["runningHours"] / 1000.0

    def step(self, t: float, dt: float, v: Values, rng: np.random.Generator) -> None:
        v["runningHours"] = v["runningHours"] + np.where(v["speed"] > 0, dt / 3600.0, 0.0)
        self._outputs(v)


# C-MAPSS-like channels: (baseline, change from new to failed, noise std). Flat channels
# (no trend, no noise) stand where the NASA data has them (sensors 1, 5, 6, 10, 16, 18, 19).
_CHANNELS = np.array([
    (518.67, 0.0, 0.0), (642.3, 1.9, 0.5), (1588.6, 14.0, 6.0), (1404.0, 28.0, 9.0), (14.62, 0.0, 0.0),
    (21.61, 0.0, 0.0), (553.9, -3.0, 0.9), (2388.05, 0.35, 0.07), (9050.0, 60.0, 22.0), (1.3, 0.0, 0.0),
    (47.3, 1.3, 0.27), (521.7, -2.6, 0.74), (2388.05, 0.35, 0.07), (8140.0, 45.0, 19.0), (8.42, 0.09, 0.04),
    (0.03, 0.0, 0.0), (392.0, 4.0, 1.5), (2388.0, 0.0, 0.0), (100.0, 0.0, 0.0), (38.85, -0.6, 0.18),
    (23.3, -0.36, 0.11),
])


class Turbofan(Behaviour):
    """A turbofan engine run to failure, shaped like NASA's C-MAPSS data.

    Health falls exponentially with cycles: h = 1 - w0 - a·(e^(b·cycle) - 1); the engine fails
    when h reaches 0, at cycle ln(1 + (1 - w0)/a)/b. Each of the 21 sensors reads
    baseline + change·(1 - h) + noise, as telemetry `sensor1` ... `sensor21`;
    `remainingUsefulLife` is the true number of cycles left (the label for prediction).
    """

    model = NS + "Turbofan;1"
    variables = (
        Var("cycle", "state", "cycles", 0.0, "flight cycles flown"),
        Var("initialWear", "parameter", "", 0.02, "w0: health lost before the first cycle"),
        Var("degradationScale", "parameter", "", 0.001, "a"),
        Var("degradationRate", "parameter", "1/cycle", 0.02, "b"),
        Var("cycleDuration", "parameter", "s", 3600.0, "simulated seconds per flight cycle", "TimeSpan:second"),
        Var("noiseLevel", "parameter", "", 1.0, "multiplies every sensor's noise"),
        Var("health", "output", "", 1.0, "1 when new, 0 at failure"),
        Var("failed", "output", "", 0.0, "1 once health has reached 0"),
        Var("remainingUsefulLife", "output", "cycles", 0.0, "cycles left until failure"),
        *(Var(f"sensor{i + 1}", "output", "", float(_CHANNELS[i, 0]), f"sensor channel {i + 1}", telemetry=True)
          for i in range(21)),
    )

    @staticmethod
    def failure_cycle(v: Values) -> np.ndarray:
        return np.log1p((1.0 - v["initialWear"]) / v["degradationScale"]) / v["degradationRate"]

    def _outputs(self, v: Values, rng: np.random.Generator) -> None:
        end = self.failure_cycle(v)
        cycle = np.minimum(v["cycle"], end)
        health = 1.0 - v["initialWear"] - v["degradationScale"] * np.expm1(v["degradationRate"] * cycle)
        health = np.clip(health, 0.0, 1.0)
        v["health"], v["failed"] = health, (cycle >= end - 1e-9).astype(float)
        v["remainingUsefulLife"] = end - cycle
        wear = 1.0 - health
        noise = v["noiseLevel"]
        for i in range(21):
            base, change, std = _CHANNELS[i]
            reading = base + change * wear
            if std:
                reading = reading + std * noise * rng.standard_normal(len(wear))
            v[f"sensor{i + 1}"] = reading

    def initial(self, values: Values, rng: np.random.Generator) -> None:
        self._outputs(values, rng)

    def step(self, t: float, dt: float, v: Values, rng: np.random.Generator) -> None:
        end = self.failure_cycle(v)
        v["cycle"] = np.minimum(v["cycle"] + dt / v["cycleDuration"], end)
        self._outputs(v, rng)


class Battery(Behaviour):
    """A battery pack under a power profile (power > 0 discharges, < 0 charges).

    Current I = power/nominalVoltage; state of charge: dSOC/dt = -I/(3600·capacity), held in
    [0, 1]: the step that empties (or fills) the pack carries the current only for the part of
    the step the charge lasts, then none. Temperature: Cth·dT/dt = I²·R - (T - ambient)/Rth,
    stepped exactly (towards T∞ = ambient + I²·R·Rth while the current flows, then towards the
    ambient). ``current`` is the step's mean current, so charge is conserved exactly.
    """

    model = NS + "Battery;1"
    variables = (
        Var("stateOfCharge", "state", "", 1.0, "0 empty, 1 full"),
        Var("temperature", "state", "°C", 25.0, "cell temperature", "Temperature:degreeCelsius"),
        Var("power", "input", "W", 0.0, "power drawn (> 0) or fed in (< 0)", "Power:watt"),
        Var("ambientTemperature", "input", "°C", 25.0, "temperature around the pack", "Temperature:degreeCelsius"),
        Var("capacity", "parameter", "Ah", 50.0, "charge when full"),
        Var("nominalVoltage", "parameter", "V", 48.0, "pack voltage", "Voltage:volt"),
        Var("internalResistance", "parameter", "Ω", 0.05, "R", "Resistance:ohm"),
        Var("thermalCapacitance", "parameter", "J/K", 2.0e4, "Cth"),
        Var("thermalResistance", "parameter", "K/W", 0.5, "Rth, to ambient"),
        Var("current", "output", "A", 0.0, "current drawn (> 0) or fed in (< 0)", "Current:ampere"),
    )

    def initial(self, values: Values, rng: np.random.Generator) -> None:
        values["current"] = values["power"] / values["nominalVoltage"]

    def step(self, t: float, dt: float, v: Values, rng: np.random.Generator) -> None:
        current = v["power"] / v["nominalVoltage"]
        soc = np.clip(v["stateOfCharge"], 0.0, 1.0)
        charge = 3600.0 * v["capacity"]  # coulombs when full
        # The charge that may flow this step: what is left to deliver, or room left to fill.
        room = np.where(current > 0, soc * charge, (1.0 - soc) * charge)
        moved = np.abs(current) * dt
        share = np.where(moved > room, np.divide(room, moved, out=np.zeros_like(moved), where=moved > 0), 1.0)
        flowing = share * dt  # seconds the current flows; none after the pack empties (or fills)
        v["stateOfCharge"] = np.clip(soc - current * flowing / charge, 0.0, 1.0)
        rth = v["thermalResistance"]
        ambient = v["ambientTemperature"]
        steady = ambient + current * current * v["internalResistance"] * rth
        tau = v["thermalCapacitance"] * rth
        heated = steady + (v["temperature"] - steady) * np.exp(-flowing / tau)
        v["temperature"] = ambient + (heated - ambient) * np.exp(-(dt - flowing) / tau)
        v["current"] = current * share


SHIPPED: tuple[type[Behaviour], ...] = (ThermalZone, CentrifugalPump, Turbofan, Battery)


def interface(behaviour: Behaviour, display: str, description: str) -> dict[str, Any]:
    """The DTDL v3 interface of a behaviour: one Property (or Telemetry) per variable."""
    contents: list[dict[str, Any]] = []
    for var in behaviour.variables:
        kind = "Telemetry" if var.telemetry else "Property"
        item: dict[str, Any] = {"@type": kind, "name": var.name, "schema": "double"}
        if var.semantic:
            semantic, unit = var.semantic.split(":")
            item["@type"] = [kind, semantic]
            item["unit"] = unit
        if kind == "Property":
            item["writable"] = var.role in ("parameter", "input")
        text = var.description + (f" ({var.unit})" if var.unit else "")
        item["description"] = f"{var.role}: {text}"[:512]
        contents.append(item)
    return {"@context": ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"],
            "@id": behaviour.model, "@type": "Interface", "displayName": display,
            "description": description, "contents": contents}


def models() -> list[dict[str, Any]]:
    """The DTDL interfaces of the shipped behaviours (the `sim` pack)."""
    return [
        interface(ThermalZone(), "Thermal zone", "A room as a first-order RC thermal model."),
        interface(CentrifugalPump(), "Centrifugal pump", "A pump on a pipe system, with wear."),
        interface(Turbofan(), "Turbofan engine", "An engine degrading to failure (C-MAPSS-like sensors)."),
        interface(Battery(), "Battery pack", "State of charge and temperature under a power profile."),
    ]


__all__ = ["NS", "SHIPPED", "Battery", "CentrifugalPump", "ThermalZone", "Turbofan", "interface", "models"]
