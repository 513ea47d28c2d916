"""Durations and times of scenario documents: ISO 8601 (``PT24H``, ``P1D``, ``PT1M30S``) or
twinforge's short form (``24h``, ``1m``)."""

from __future__ import annotations

import math
import re

from twinforge.errors import InvalidArgument
from twinforge.history.timeutil import parse_duration

_ISO = re.compile(
    r"^P(?!$)(?:(?P<y>\d+(?:\.\d+)?)Y)?(?:(?P<mo>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
YEAR = 365.2425 * 86_400.0  # the Gregorian calendar's mean year; a month is a twelfth of it
_SECONDS = {"y": YEAR, "mo": YEAR / 12, "w": 604_800.0, "d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0}


def seconds(value: object, what: str = "duration", *, calendar: bool = False) -> float:
    """A duration in seconds; a clear `InvalidArgument` naming ``what`` (if given) otherwise.
    Numbers are taken as seconds. Years and months (``P1Y``, ``P3M``) have no fixed length:
    refused, unless ``calendar`` (where an approximate length is good enough, e.g. how far
    back to read), which takes the mean Gregorian year and a twelfth of it."""
    named = f"{what} " if what else ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise InvalidArgument(f"{named}must be zero or more seconds, got {value}",
                                  code="InvalidArgument")
        return float(value)
    if isinstance(value, str):
        m = _ISO.match(value.strip().upper())
        if m:
            parts = {k: v for k, v in m.groupdict().items() if v is not None}
            if not calendar and ("y" in parts or "mo" in parts):
                raise InvalidArgument(f"{named}{value!r}: years and months have no fixed length here; "
                                      "give days or weeks (P365D, P4W)", code="InvalidArgument")
            return sum(float(v) * _SECONDS[k] for k, v in parts.items())
        try:
            return parse_duration(value) / 1e6
        except InvalidArgument:
            pass
    raise InvalidArgument(f"{named}{value!r} is not a duration (ISO 8601 such as PT1M, PT24H or P1D)",
                          code="InvalidArgument")


__all__ = ["seconds"]
