"""The shipped behaviours keep their conservation laws over whole runs: charge (battery), energy
(thermal zone, pump), life (turbofan). A model that creates or loses what it should not is wrong
without a word; these catch it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.requirements import need_module

need_module("numpy")
from twinforge.sim.library import RHO_G, Battery, CentrifugalPump, ThermalZone, Turbofan  # noqa: E402


def state(behaviour: object, **values: float) -> dict[str, np.ndarray]:
    out = {var.name: np.array([var.default], dtype=float) for var in behaviour.variables}  # type: ignore[attr-defined]
    out.update({k: np.array([v], dtype=float) for k, v in values.items()})
    return out


def test_battery_charge_is_conserved_through_empty_and_full() -> None:
    """Discharge at 4.8 kW past empty, then charge at 6 kW past full: the charge that flowed is
    the charge the SOC says, to the coulomb, and no current flows out of an empty pack."""
    battery, rng = Battery(), np.random.default_rng(0)
    v = state(battery, stateOfCharge=0.9)
    battery.initial(v, rng)
    flowed = 0.0  # coulombs out
    start = v["stateOfCharge"][0]
    profile = [4800.0] * 40 + [-6000.0] * 60 + [2400.0] * 10
    for k, power in enumerate(profile):
        v["power"] = np.array([power])
        before = v["stateOfCharge"][0]
        battery.step(k * 60.0, 60.0, v, rng)
        flowed += v["current"][0] * 60.0
        if before == 0.0 and power > 0:
            assert v["current"][0] == 0.0  # an empty pack delivers nothing
        assert 0.0 <= v["stateOfCharge"][0] <= 1.0
    assert flowed == pytest.approx((start - v["stateOfCharge"][0]) * 3600.0 * 50.0, abs=1e-6)


def test_battery_peak_temperature_matches_the_analytic_one() -> None:
    """4.8 kW empties a 50 Ah, 48 V pack in exactly 30 minutes: the temperature then peaks at
    the analytic 275 - 250·e^(-0.18) = 66.18 °C (the old model ran a 31st minute at 100 A)."""
    battery, rng = Battery(), np.random.default_rng(0)
    v = state(battery, power=4800.0)
    battery.initial(v, rng)
    peak = 0.0
    for k in range(60):
        battery.step(k * 60.0, 60.0, v, rng)
        peak = max(peak, v["temperature"][0])
    assert peak == pytest.approx(275.0 - 250.0 * math.exp(-0.18), abs=1e-9)
    # With 77 s steps the pack empties 1,800 s in, inside the step that ends at 1,848 s: that step
    # heats for 29 s and cools for 48, exactly.
    v = state(battery, power=4800.0)
    for k in range(24):
        battery.step(k * 77.0, 77.0, v, rng)
    assert v["stateOfCharge"][0] == 0.0 and v["current"][0] == pytest.approx(100.0 * 29.0 / 77.0)
    hottest = 275.0 - 250.0 * math.exp(-0.18)
    assert v["temperature"][0] == pytest.approx(25.0 + (hottest - 25.0) * math.exp(-48.0 / 1e4), abs=1e-9)


def test_thermal_zone_energy_balance() -> None:
    """C·ΔT = heat in - heat lost to outside, over a day of changing heater power."""
    zone, rng = ThermalZone(), np.random.default_rng(0)
    v = state(zone, temperature=15.0, outdoorTemperature=2.0)
    r, c = v["thermalResistance"][0], v["thermalCapacitance"][0]
    start, heat_in, lost, dt = v["temperature"][0], 0.0, 0.0, 10.0
    for k in range(8640):
        v["heaterPower"] = np.array([3000.0 if (k // 720) % 2 == 0 else 500.0])
        before = v["temperature"][0]
        zone.step(k * dt, dt, v, rng)
        steady = v["outdoorTemperature"][0] + v["heaterPower"][0] * r
        tau = r * c  # the exact loss over a step of exponential approach
        lost += ((steady - v["outdoorTemperature"][0]) * dt + (before - steady) * tau * (1 - math.exp(-dt / tau))) / r
        heat_in += v["heaterPower"][0] * dt
    assert c * (v["temperature"][0] - start) == pytest.approx(heat_in - lost, rel=1e-9)


@pytest.mark.parametrize("speed", [600.0, 1450.0, 2900.0])
@pytest.mark.parametrize("static_head", [0.0, 8.0])
def test_pump_flow_and_power_balance(speed: float, static_head: float) -> None:
    """The flow through the pump is the flow through the system (both curves meet), and the
    shaft power times the efficiency is the hydraulic power rho·g·Q·H."""
    pump, rng = CentrifugalPump(), np.random.default_rng(0)
    v = state(pump, speed=speed, staticHead=static_head, runningHours=2000.0)
    pump.initial(v, rng)
    pump.step(0.0, 3600.0, v, rng)
    q, h = v["flow"][0], v["head"][0]
    s = speed / v["ratedSpeed"][0]
    if v["shutoffHead"][0] * s * s <= static_head:  # too slow to lift the static head: nothing flows
        assert q == 0.0 and v["shaftPower"][0] == 0.0
        return
    assert h == pytest.approx(v["shutoffHead"][0] * s * s - v["pumpCurveCoefficient"][0] * q * q, rel=1e-9)
    assert h == pytest.approx(static_head + v["systemCurveCoefficient"][0] * q * q, rel=1e-9)
    assert v["shaftPower"][0] * v["efficiency"][0] == pytest.approx(RHO_G * q / 3600.0 * h, rel=1e-9)


def test_turbofan_life_is_conserved() -> None:
    """Cycles flown plus cycles left is the failure cycle at every step; it stops at failure."""
    engine, rng = Turbofan(), np.random.default_rng(0)
    v = state(engine)
    engine.initial(v, rng)
    end = engine.failure_cycle(v)[0]
    for k in range(400):
        engine.step(k * 3600.0, 3600.0, v, rng)
        assert v["cycle"][0] + v["remainingUsefulLife"][0] == pytest.approx(end, abs=1e-9)
    assert v["failed"][0] == 1.0 and v["health"][0] == 0.0 and v["cycle"][0] == pytest.approx(end)
