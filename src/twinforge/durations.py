"""Durations and times of scenario documents: ISO 8601 (``PT24H``, ``P1D``, ``PT1M30S``) or
twinforge's short form (``24h``, ``1m``)."""

from __future__ import annotations

import math
import re

from twinforge.errors import InvalidArgument
from twinforge.history.timeutil import parse_duration

_ISO = re.compile(
    r"^P(?!$)(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_SECONDS = {"w": 604_800.0, "d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0}


def seconds(value: object, what: str = "duration") -> float:
    """A duration in seconds; a clear `InvalidArgument` naming ``what`` (if given) otherwise.
    Numbers are taken as seconds; months and years are refused (they have no fixed length)."""
    named = f"{what} " if what else ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise InvalidArgument(f"{named}must be zero or more seconds, got {value}",
                                  code="InvalidArgument")
        return float(value)
    if isinstance(value, str):
        m = _ISO.match(value.strip().upper())
        if m:
            return sum(float(v) * _SECONDS[k] for k, v in m.groupdict().items() if v is not None)
        try:
            return parse_duration(value) / 1e6
        except InvalidArgument:
            pass
    raise InvalidArgument(f"{named}{value!r} is not a duration (ISO 8601 such as PT1M, PT24H or P1D)",
                          code="InvalidArgument")


__all__ = ["seconds"]
