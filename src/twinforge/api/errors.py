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


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"},
        "details": {"type": "array", "items": {"type": "object"}}}}}}
# The errors any operation may answer (documented on every one in the OpenAPI description).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": what, "content": {"application/json": {"schema": ERROR_SCHEMA}}}
    for status, what in ((400, "The request is not valid (the message names the field)"),
                         (401, "No valid bearer token (under --auth)"),
                         (403, "The token's role or scope does not allow it"),
                         (404, "Not found"), (409, "Conflicts with what exists"),
                         (412, "The If-Match ETag is stale"),
                         (429, "Past this client's rate or stream limit"),
                         (501, "Needs an optional extra (the message names it)"),
                         (503, "The store is not reachable"))}


def error_body(exc: TwinforgeError) -> dict[str, Any]:
    """ADT's error shape; DTDL errors list every problem under ``details``."""
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if isinstance(exc, ModelError):
        error["details"] = [{"code": "DTDLParserError", "message": m} for m in exc.errors[:100]]
    return {"error": error}


__all__ = ["CODE_STATUS", "ERROR_RESPONSES", "ERROR_SCHEMA", "STATUS", "error_body", "status_of"]
