"""Small pieces every change of the graph uses: times, ETags, JSON text and history points."""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime
from typing import Any

import orjson

from twinforge.history import point as history_point

Json = dict[str, Any]
MAX_ID_LENGTH = 128


def utc_now() -> str:
    """The current UTC time in ISO 8601 with microseconds and a ``Z``."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# ETags only need to differ whenever a document changes: a random per-process prefix
# and a counter give that without paying for a random UUID per change.
_ETAG_PREFIX = os.urandom(8).hex()
_etag_counter = itertools.count(1)


def new_etag() -> str:
    """A fresh weak ETag, unique across processes."""
    return f'W/"{_ETAG_PREFIX}-{next(_etag_counter):x}"'


def dumps(value: Any) -> str:
    """Compact JSON text (NumPy numbers as plain ones)."""
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def stamp_json(time: str) -> str:
    """The JSON of a ``$metadata`` entry: ``{"lastUpdateTime": time}``."""
    return '{"lastUpdateTime":"' + time + '"}'


__all__ = ["MAX_ID_LENGTH", "Json", "dumps", "history_point", "new_etag", "stamp_json", "utc_now"]
