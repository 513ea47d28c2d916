"""The one table from library errors to HTTP: status codes and ADT's error body.

The library raises `twinforge.errors` exceptions that know nothing of HTTP; this module
is the only place that decides which status each one gets on the wire.
"""

from __future__ import annotations

from typing import Any

from twinforge.dtdl import ModelError
from twinforge.errors import (
    Conflict,
    Forbidden,
    InvalidArgument,
    MissingDependency,
    NotFound,
    PreconditionFailed,
    QueryTimeout,
    TwinforgeError,
    Unauthenticated,
    Unavailable,
    ValidationError,
)

# Most specific first: the first class an error is an instance of gives its status.
STATUS: tuple[tuple[type[TwinforgeError], int], ...] = (
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (PreconditionFailed, 412),
    (ValidationError, 400),
    (InvalidArgument, 400),
    (QueryTimeout, 400),
    (MissingDependency, 501),
    (Unavailable, 503),
)


# Where Azure Digital Twins answers a code with another status than its class would get.
CODE_STATUS: dict[str, int] = {
    "RelationshipsNotDeleted": 400,  # DELETE of a twin that still has relationships
}


def status_of(exc: TwinforgeError) -> int:
    """The HTTP status for a library error (500 for one the table does not know)."""
    if exc.code in CODE_STATUS:
        return CODE_STATUS[exc.code]
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def error_body(exc: TwinforgeError) -> dict[str, Any]:
    """ADT's error shape; DTDL errors list every problem under ``details``."""
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if isinstance(exc, ModelError):
        error["details"] = [{"code": "DTDLParserError", "message": m} for m in exc.errors[:100]]
    return {"error": error}


__all__ = ["CODE_STATUS", "STATUS", "error_body", "status_of"]
