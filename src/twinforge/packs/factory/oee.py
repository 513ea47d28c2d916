"""Overall equipment effectiveness (OEE) and the production KPIs around it, as a library.

Definitions (Nakajima; ISO 22400-2 names in brackets):

- planned production time [PBT] = the shift calendar's working time in the window, minus its
  breaks and any planned downtime (changeovers, planned maintenance) given as stops of kind
  ``planned``;
- run time [PDT] = planned production time minus the unplanned stops that last at least
  ``micro_stop`` seconds (breakdowns, starved, blocked, ...); shorter stops are
  **micro-stops**, counted as a performance loss as is usual, not as downtime;
- availability = run time / planned production time;
- performance = ideal cycle time x units produced / run time (capped at 1 only when asked);
- quality = good units / units produced;
- OEE = availability x performance x quality = ideal cycle time x good units / planned time.

Only what happens inside planned production time counts: a stop during a break, or units
counted outside a shift, change nothing. Counters are cumulative (PackML's
``ProdProcessedCount`` / ``ProdDefectiveCount``); a counter that goes back counts from its new
value (a reset).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from twinforge.errors import InvalidArgument

Window = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class Shift:
    """A shift: daily from ``start`` to ``end`` (past midnight when end <= start) on the given
    weekdays (0 = Monday), with breaks (planned, unpaid) inside it."""

    name: str
    start: time
    end: time
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    breaks: tuple[tuple[time, time], ...] = ()


@dataclass
class ShiftCalendar:
    """When a line is planned to produce: shifts, minus breaks and holidays."""

    shifts: list[Shift]
    holidays: set[date] = field(default_factory=set)

    def windows(self, start: datetime, end: datetime) -> list[Window]:
        """The planned working windows (breaks removed) overlapping [start, end), clipped to it."""
        out: list[Window] = []
        day = (start - timedelta(days=1)).date()
        while datetime.combine(day, time(0), start.tzinfo) < end:
            for shift in self.shifts:
                if day.weekday() not in shift.weekdays or day in self.holidays:
                    continue
                s = datetime.combine(day, shift.start, start.tzinfo)
                e = datetime.combine(day, shift.end, start.tzinfo)
                if e <= s:
                    e += timedelta(days=1)
                pieces: list[Window] = [(s, e)]
                for b0, b1 in shift.breaks:
                    bs = datetime.combine(day, b0, start.tzinfo)
                    if bs < s:
                        bs += timedelta(days=1)
                    be = datetime.combine(bs.date(), b1, start.tzinfo)
                    if be <= bs:
                        be += timedelta(days=1)
                    pieces = subtract(pieces, [(bs, be)])
                out.extend(clip(pieces, start, end))
            day += timedelta(days=1)
        return merge(out)


def merge(windows: Iterable[Window]) -> list[Window]:
    """Windows sorted, overlapping ones joined."""
    out: list[Window] = []
    for s, e in sorted(w for w in windows if w[1] > w[0]):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def clip(windows: Iterable[Window], start: datetime, end: datetime) -> list[Window]:
    return [(max(s, start), min(e, end)) for s, e in windows if e > start and s < end]


def subtract(windows: Iterable[Window], holes: Iterable[Window]) -> list[Window]:
    """``windows`` with ``holes`` cut out."""
    out = merge(windows)
    for hs, he in merge(holes):
        nxt: list[Window] = []
        for s, e in out:
            if he <= s or hs >= e:
                nxt.append((s, e))
                continue
            if s < hs:
                nxt.append((s, hs))
            if he < e:
                nxt.append((he, e))
        out = nxt
    return out


def seconds_in(windows: Iterable[Window]) -> float:
    return sum((e - s).total_seconds() for s, e in windows)


@dataclass(frozen=True, slots=True)
class Stop:
    """A period the machine did not produce: ``kind`` is ``planned`` (changeover, planned
    maintenance: not planned production time) or anything else (unplanned: breakdown,
    starved, blocked, ...), with an optional reason."""

    start: datetime
    end: datetime
    kind: str = "unplanned"
    reason: str = ""


@dataclass
class OeeResult:
    """OEE of one machine (or a line) over a window, with its losses in seconds."""

    planned_time: float
    run_time: float
    ideal_cycle_time: float
    total: float
    good: float
    downtime: float  # unplanned stops of micro_stop seconds or more, inside planned time
    micro_stops: int
    micro_stop_time: float
    downtime_by_reason: dict[str, float] = field(default_factory=dict)

    @property
    def availability(self) -> float:
        return self.run_time / self.planned_time if self.planned_time > 0 else 0.0

    @property
    def performance(self) -> float:
        return self.ideal_cycle_time * self.total / self.run_time if self.run_time > 0 else 0.0

    @property
    def quality(self) -> float:
        return self.good / self.total if self.total > 0 else 0.0

    @property
    def oee(self) -> float:
        return self.availability * self.performance * self.quality

    @property
    def speed_loss_time(self) -> float:
        """Run time not explained by ideal production or micro-stops (slow cycles)."""
        return max(0.0, self.run_time - self.ideal_cycle_time * self.total - self.micro_stop_time)

    @property
    def quality_loss_time(self) -> float:
        return self.ideal_cycle_time * (self.total - self.good)

    def to_json(self) -> dict[str, float | int | dict[str, float]]:
        return {"oee": self.oee, "availability": self.availability, "performance": self.performance,
                "quality": self.quality, "plannedTime": self.planned_time, "runTime": self.run_time,
                "downtime": self.downtime, "microStops": self.micro_stops, "microStopTime": self.micro_stop_time,
                "speedLossTime": self.speed_loss_time, "qualityLossTime": self.quality_loss_time,
                "total": self.total, "good": self.good, "idealCycleTime": self.ideal_cycle_time,
                "downtimeByReason": self.downtime_by_reason}


def counted(samples: Sequence[tuple[datetime, float]], windows: Sequence[Window]) -> float:
    """Units a cumulative counter added inside ``windows`` (each increase belongs to the
    moment of the sample that shows it; a decrease is a reset)."""
    total = 0.0
    for (_, before), (t, after) in itertools.pairwise(samples):
        added = after - before if after >= before else after
        if added and any(s < t <= e for s, e in windows):
            total += added
    return total


def compute(*, start: datetime, end: datetime, calendar: ShiftCalendar | None, ideal_cycle_time: float,
            stops: Sequence[Stop] = (), processed: Sequence[tuple[datetime, float]] = (),
            defective: Sequence[tuple[datetime, float]] = (), micro_stop: float = 120.0) -> OeeResult:
    """OEE of one machine over [start, end). ``processed`` and ``defective`` are cumulative
    counters (time, value); with no calendar the whole window is planned."""
    if end <= start:
        raise InvalidArgument("the window's end must be after its start")
    if ideal_cycle_time <= 0:
        raise InvalidArgument(f"the ideal cycle time must be > 0 s, got {ideal_cycle_time}")
    planned = calendar.windows(start, end) if calendar is not None else [(start, end)]
    planned = subtract(planned, [(s.start, s.end) for s in stops if s.kind == "planned"])
    downtime, micro_time, micro_count = 0.0, 0.0, 0
    by_reason: dict[str, float] = {}
    for stop in stops:
        if stop.kind == "planned":
            continue
        inside = seconds_in(clip_all(planned, stop.start, stop.end))
        if inside <= 0:
            continue
        if (stop.end - stop.start).total_seconds() < micro_stop:
            micro_time += inside
            micro_count += 1
            continue
        downtime += inside
        key = stop.reason or stop.kind
        by_reason[key] = by_reason.get(key, 0.0) + inside
    planned_time = seconds_in(planned)
    total = counted(list(processed), planned)
    bad = counted(list(defective), planned)
    return OeeResult(planned_time, planned_time - downtime, ideal_cycle_time, total, max(0.0, total - bad),
                     downtime, micro_count, micro_time, by_reason)


def clip_all(windows: Sequence[Window], start: datetime, end: datetime) -> list[Window]:
    """The parts of ``windows`` inside [start, end)."""
    return clip(windows, start, end)


def line_oee(machines: Sequence[OeeResult], *, output: OeeResult | None = None) -> OeeResult:
    """A line's OEE: its good output (the last machine's, or ``output``) at the pace of its
    bottleneck (the largest ideal cycle time), over the planned time of the line."""
    if not machines:
        raise InvalidArgument("a line needs at least one machine")
    last = output or machines[-1]
    bottleneck = max(m.ideal_cycle_time for m in machines)
    downtime = max(m.downtime for m in machines)
    return OeeResult(last.planned_time, last.planned_time - downtime, bottleneck, last.total, last.good, downtime,
                     sum(m.micro_stops for m in machines), max(m.micro_stop_time for m in machines))


__all__ = ["OeeResult", "Shift", "ShiftCalendar", "Stop", "Window", "clip", "clip_all", "compute", "counted",
           "line_oee", "merge", "seconds_in", "subtract"]
