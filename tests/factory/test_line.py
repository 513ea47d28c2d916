"""The bottling line's machines: PackML states, counters and stops, seeded and repeatable, and
their long-run availability as renewal theory gives it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from twinforge.packs.factory.line import (
    EXECUTE,
    FAULTS,
    HELD,
    LINE,
    PACKML_STATES,
    SUSPENDED,
    MachineSim,
    MachineSpec,
    expected_availability,
    packml_nodeset,
)


def run(spec: MachineSpec, seconds: int, seed: int = 3, speedup: float = 1.0) -> tuple[MachineSim, list[dict]]:
    sim = MachineSim(spec, np.random.default_rng(seed), speedup=speedup)
    trace = []
    for t in range(1, seconds + 1):
        sim.step(float(t), 1.0)
        trace.append(sim.values())
    return sim, trace


def test_counters_only_grow_and_defects_stay_below_output() -> None:
    _, trace = run(LINE[0], 4 * 3600)
    processed = [v["ProcessedCount"] for v in trace]
    defective = [v["DefectiveCount"] for v in trace]
    assert all(b >= a for a, b in itertools.pairwise(processed))
    assert all(d <= p for d, p in zip(defective, processed, strict=True))
    share = defective[-1] / processed[-1]
    assert share == pytest.approx(LINE[0].defects, abs=0.004)


def test_states_are_packml_and_stops_have_reasons() -> None:
    _, trace = run(LINE[2], 4 * 3600)
    states = {v["State"] for v in trace}
    assert states <= {EXECUTE, SUSPENDED, HELD} and {EXECUTE, SUSPENDED, HELD} <= states
    for v in trace:
        assert v["StateName"] == PACKML_STATES[v["State"]]
        if v["State"] == EXECUTE:
            assert v["StopReason"] == "" and v["CurMachSpeed"] > 0
        else:
            assert v["CurMachSpeed"] == 0
            assert v["StopReason"] in (*FAULTS, "starved", "blocked")
            assert (v["State"] == HELD) == (v["StopReason"] in FAULTS)


def test_long_run_availability_and_speed_match_the_spec() -> None:
    spec = LINE[0]
    sim, trace = run(spec, 48 * 3600, seed=5)
    running = sum(v["State"] == EXECUTE for v in trace) / len(trace)
    assert running == pytest.approx(expected_availability(spec), abs=0.03)
    rate = sim.processed / (running * len(trace) / 60)  # units per running minute
    assert rate == pytest.approx(spec.rate * 0.925, rel=0.02)  # speed uniform in 85-100 %


def test_the_same_seed_gives_the_same_run_and_speedup_compresses_stops() -> None:
    assert run(LINE[1], 3600)[1] == run(LINE[1], 3600)[1]
    assert run(LINE[1], 3600, seed=4)[1] != run(LINE[1], 3600)[1]
    slow = sum(v["State"] != EXECUTE for v in run(LINE[4], 3 * 3600, seed=9)[1])
    fast = sum(v["State"] != EXECUTE for v in run(LINE[4], 3 * 3600, seed=9, speedup=10)[1])
    assert fast > 0 and slow > 0  # stops 10x as often and 10x shorter: similar time stopped
    assert 0.4 < fast / slow < 2.5


def test_the_packml_nodeset_is_shipped() -> None:
    xml = packml_nodeset()
    assert b"http://opcfoundation.org/UA/PackML/" in xml and b"PackMLBaseObjectType" in xml
