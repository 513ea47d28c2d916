"""UTC time on the wire (ISO 8601) and in storage (integer microseconds since the epoch)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from twinforge.errors import InvalidArgument

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(us|ms|s|m|h|d|w)$")
_UNITS = {"us": 1, "ms": 1_000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000,
          "d": 86_400_000_000, "w": 604_800_000_000}


def now_us() -> int:
    """The current UTC time in microseconds since the epoch."""
    return to_us(datetime.now(UTC))


def to_us(moment: datetime) -> int:
    """A datetime (naive means UTC) in microseconds since the epoch."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> str:
    """Microseconds since the epoch as ISO 8601 UTC with a ``Z``."""
    moment = _EPOCH + timedelta(microseconds=us)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(text: str) -> int:
    """ISO 8601 (a missing zone means UTC) to microseconds; a clear 400 otherwise."""
    try:
        return to_us(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))
    except (ValueError, AttributeError):
        raise InvalidArgument(f"'{text}' is not an ISO 8601 time", code="InvalidArgument") from None


def parse_duration(text: str) -> int:
    """``90s``, ``5m``, ``1h``, ``30d`` ... to microseconds."""
    m = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not m or float(m.group(1)) <= 0:
        raise InvalidArgument(f"'{text}' is not a duration like 500ms, 30s, 5m, 1h or 7d", code="InvalidArgument")
    return int(float(m.group(1)) * _UNITS[m.group(2)])
