"""OEE of a scripted day against the hand computation, and the calendar's edge cases."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from twinforge.errors import InvalidArgument
from twinforge.packs.factory.oee import Shift, ShiftCalendar, Stop, compute, line_oee, seconds_in


def at(hh: int, mm: int = 0, ss: int = 0, day: int = 2) -> datetime:
    return datetime(2026, 3, day, hh, mm, ss, tzinfo=UTC)  # 2026-03-02 is a Monday


EARLY = ShiftCalendar([Shift("early", time(6), time(14), breaks=((time(10), time(10, 30)),))])


def scripted_day() -> dict:
    stops = [
        Stop(at(7), at(7, 45), reason="jam"),  # 2,700 s breakdown
        Stop(at(13), at(13, 10), reason="starved"),  # 600 s
        Stop(at(8), at(8, 1)), Stop(at(9), at(9, 0, 30)), Stop(at(11), at(11, 1, 30)),  # micro-stops: 180 s
        Stop(at(10, 5), at(10, 20), reason="jam"),  # during the break: nothing
        Stop(at(13, 50), at(14, 30), reason="jam"),  # 600 s of it inside the shift
        Stop(at(12), at(12, 20), kind="planned", reason="changeover"),  # not planned production time
    ]
    processed = [(at(5, 30), 900.0), (at(6), 1000.0), (at(10), 7000.0), (at(10, 15), 7100.0), (at(12), 10000.0),
                 (at(12, 30), 200.0), (at(14), 4200.0), (at(15), 5000.0)]
    defective = [(at(6), 0.0), (at(14), 300.0)]
    return {"stops": stops, "processed": processed, "defective": defective}


def test_a_scripted_day_matches_the_hand_computation() -> None:
    r = compute(start=at(0), end=at(0, day=3), calendar=EARLY, ideal_cycle_time=1.5, **scripted_day())
    assert r.planned_time == 8 * 3600 - 1800 - 1200 == 25800
    assert r.downtime == 2700 + 600 + 600 and r.downtime_by_reason == {"jam": 3300.0, "starved": 600.0}
    assert r.run_time == 21900
    assert (r.micro_stops, r.micro_stop_time) == (3, 180.0)
    assert r.total == 6000 + 2900 + 200 + 4000 == 13100  # the break's 100 and the evening's 800 left out; a reset
    assert r.good == 12800
    assert r.availability == pytest.approx(21900 / 25800)
    assert r.performance == pytest.approx(1.5 * 13100 / 21900)
    assert r.quality == pytest.approx(12800 / 13100)
    assert r.oee == pytest.approx(1.5 * 12800 / 25800)  # = A x P x Q = 0.7442
    assert r.oee == pytest.approx(r.availability * r.performance * r.quality)
    assert r.speed_loss_time == pytest.approx(21900 - 19650 - 180)
    assert r.quality_loss_time == pytest.approx(450)


def test_the_micro_stop_threshold_moves_loss_between_availability_and_performance() -> None:
    strict = compute(start=at(0), end=at(0, day=3), calendar=EARLY, ideal_cycle_time=1.5, micro_stop=30.0,
                     **scripted_day())
    assert strict.micro_stops == 0 and strict.downtime == 3900 + 180  # 60, 30 and 90 s: all at least 30 s
    loose = compute(start=at(0), end=at(0, day=3), calendar=EARLY, ideal_cycle_time=1.5, **scripted_day())
    assert strict.oee == pytest.approx(loose.oee)  # OEE itself does not depend on the split
    assert strict.availability < loose.availability and strict.performance > loose.performance


def test_calendars_weekends_holidays_and_night_shifts() -> None:
    assert seconds_in(EARLY.windows(at(0, day=7), at(0, day=9))) == 0  # Saturday and Sunday
    holiday = ShiftCalendar(EARLY.shifts, holidays={at(0).date()})
    assert seconds_in(holiday.windows(at(0), at(0, day=3))) == 0
    night = ShiftCalendar([Shift("night", time(22), time(6))])
    monday = night.windows(at(0), at(0, day=3))
    assert seconds_in(monday) == 2 * 3600  # Sunday night's shift does not run; Monday's starts at 22:00
    tuesday = night.windows(at(0, day=3), at(0, day=4))
    assert seconds_in(tuesday) == 6 * 3600 + 2 * 3600  # Monday night's end and Tuesday night's start


def test_line_oee_uses_the_bottleneck_and_the_last_machines_output() -> None:
    day = scripted_day()
    filler = compute(start=at(0), end=at(0, day=3), calendar=EARLY, ideal_cycle_time=1.2, **day)
    capper = compute(start=at(0), end=at(0, day=3), calendar=EARLY, ideal_cycle_time=1.5, **day)
    line = line_oee([filler, capper])
    assert line.ideal_cycle_time == 1.5
    assert line.oee == pytest.approx(1.5 * capper.good / capper.planned_time)


def test_bad_input_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="end must be after"):
        compute(start=at(8), end=at(7), calendar=None, ideal_cycle_time=1.0)
    with pytest.raises(InvalidArgument, match="ideal cycle time must be > 0"):
        compute(start=at(7), end=at(8), calendar=None, ideal_cycle_time=0)
    empty = compute(start=at(7), end=at(8), calendar=None, ideal_cycle_time=1.0)
    assert (empty.oee, empty.availability, empty.quality) == (0.0, 1.0, 0.0)
