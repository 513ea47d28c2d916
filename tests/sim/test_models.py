"""The shipped behaviours against known physics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twinforge.sim import Battery, CentrifugalPump, ThermalZone, Turbofan
from twinforge.sim.behaviour import Behaviour, Values


def fleet(behaviour: Behaviour, n: int = 1, **values: float | list[float]) -> Values:
    out: Values = {}
    for var in behaviour.variables:
        given = values.get(var.name, var.default)
        out[var.name] = np.array(given if isinstance(given, list) else [given] * n, dtype=float)
    behaviour.initial(out, np.random.default_rng(1))
    return out


def run(behaviour: Behaviour, values: Values, seconds: float, dt: float, seed: int = 0) -> Values:
    rng = np.random.default_rng(seed)
    t = 0.0
    while t < seconds - 1e-9:
        step = min(dt, seconds - t)
        behaviour.step(t, step, values, rng)
        t += step
    return values


def test_thermal_zone_steady_state_and_time_constant() -> None:
    zone = ThermalZone()
    r, c, out, power = 0.005, 2.0e6, 4.0, 1500.0
    v = fleet(zone, temperature=12.0, outdoorTemperature=out, heaterPower=power,
              thermalResistance=r, thermalCapacitance=c)
    tau = r * c
    run(zone, v, tau, 60.0)
    steady = out + power * r
    # After one time constant 1 - 1/e of the way to the steady state.
    assert v["temperature"][0] == pytest.approx(steady + (12.0 - steady) * math.exp(-1), rel=1e-9)
    run(zone, v, 20 * tau, 600.0)
    assert v["temperature"][0] == pytest.approx(steady, abs=1e-6)
    # The exact update does not depend on the step size.
    a = run(zone, fleet(zone, temperature=12.0, heaterPower=power), 7200, 1.0)
    b = run(zone, fleet(zone, temperature=12.0, heaterPower=power), 7200, 900.0)
    assert a["temperature"][0] == pytest.approx(b["temperature"][0], rel=1e-12)


def test_pump_affinity_laws_with_no_static_head() -> None:
    pump = CentrifugalPump()
    speeds = [725.0, 1450.0, 2175.0]
    v = fleet(pump, 3, speed=speeds, staticHead=0.0, wearRate=0.0)
    ratio = np.array(speeds) / 1450.0
    flow, head, power = v["flow"], v["head"], v["shaftPower"]
    assert flow / flow[1] == pytest.approx(ratio, rel=1e-9)
    assert head / head[1] == pytest.approx(ratio ** 2, rel=1e-9)
    assert power / power[1] == pytest.approx(ratio ** 3, rel=1e-9)
    # The operating point sits on both curves.
    k, ks, h0 = 0.004, 0.006, 40.0
    assert head[1] == pytest.approx(h0 - k * flow[1] ** 2) == pytest.approx(ks * flow[1] ** 2)
    assert power[1] == pytest.approx(1000 * 9.81 * flow[1] / 3600 * head[1] / v["efficiency"][1])


def test_pump_static_head_breaks_the_affinity_laws_and_wear_costs_efficiency() -> None:
    pump = CentrifugalPump()
    v = fleet(pump, 2, speed=[725.0, 1450.0], staticHead=15.0)
    assert v["flow"][0] / v["flow"][1] < 0.5  # half the speed gives less than half the flow
    slow = fleet(pump, speed=600.0, staticHead=15.0)  # 40·(600/1450)² < 15: no flow at all
    assert slow["flow"][0] == 0.0 and slow["shaftPower"][0] == 0.0
    worn = fleet(pump, wearRate=1e-4)
    eta0, vib0 = worn["efficiency"][0], worn["vibration"][0]
    run(pump, worn, 1000 * 3600, 3600)  # 1000 running hours
    assert worn["runningHours"][0] == pytest.approx(1000)
    assert worn["efficiency"][0] == pytest.approx(eta0 * (1 - 1e-4 * 1000))
    assert worn["vibration"][0] == pytest.approx(vib0 + 0.5)
    assert worn["shaftPower"][0] > fleet(pump)["shaftPower"][0]


def test_turbofan_degrades_to_failure_when_the_formula_says() -> None:
    engine = Turbofan()
    v = fleet(engine, 2, degradationRate=[0.02, 0.03])
    expected = np.log1p((1 - 0.02) / 0.001) / np.array([0.02, 0.03])
    assert v["remainingUsefulLife"] == pytest.approx(expected)
    readings = []
    for _ in range(400):
        engine.step(0.0, 3600.0, v, np.random.default_rng(len(readings)))
        readings.append(v["sensor4"].copy())
    assert v["failed"].tolist() == [1.0, 1.0] and v["health"].tolist() == [0.0, 0.0]
    assert v["cycle"] == pytest.approx(expected)  # stops at failure
    series = np.array(readings)[:, 0]
    assert series[-50:].mean() - series[:50].mean() > 20  # T50 rises with wear
    assert np.std(np.diff(series[:50])) > 5  # and is noisy


def test_turbofan_flat_channels_stay_flat_and_noise_scales() -> None:
    engine = Turbofan()
    v = fleet(engine, 500, noiseLevel=0.0)
    assert np.ptp(v["sensor4"]) == 0.0
    noisy = fleet(engine, 5000)
    assert np.std(noisy["sensor4"]) == pytest.approx(9.0, rel=0.05)
    assert np.ptp(noisy["sensor1"]) == 0.0


def test_battery_discharge_slope_heating_and_limits() -> None:
    battery = Battery()
    power, volts, ah = 2400.0, 48.0, 50.0
    v = fleet(battery, power=power, nominalVoltage=volts, capacity=ah, internalResistance=0.05,
              thermalCapacitance=2e4, thermalResistance=0.5, ambientTemperature=25.0)
    run(battery, v, 1800, 10)  # half an hour at 50 A on 50 Ah
    assert v["stateOfCharge"][0] == pytest.approx(1 - 0.5, rel=1e-9)
    assert v["current"][0] == pytest.approx(power / volts)
    run(battery, v, 50 * 2e4 * 0.5, 60)  # well past the thermal time constant (but empty now)
    assert v["stateOfCharge"][0] == 0.0 and v["current"][0] == 0.0  # an empty pack stops
    hot = fleet(battery, power=power, capacity=1e9)
    run(battery, hot, 50 * 1e4, 60)
    assert hot["temperature"][0] == pytest.approx(25 + 50 ** 2 * 0.05 * 0.5, abs=1e-6)
    charging = fleet(battery, power=-1000.0, stateOfCharge=0.99)
    run(battery, charging, 3600, 60)
    assert charging["stateOfCharge"][0] == 1.0 and charging["current"][0] == 0.0
