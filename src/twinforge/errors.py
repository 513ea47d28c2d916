"""The exception hierarchy every layer raises. It speaks the library's language only:
`twinforge.api` maps each class to an HTTP status, once, in ``api/errors.py``."""

from __future__ import annotations


class TwinforgeError(Exception):
    """Base of every error twinforge raises on purpose; ``code`` names the case (ADT's codes)."""

    code = "InternalError"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidArgument(TwinforgeError):
    """The caller passed something unusable: malformed input, an unknown option, a bad id."""

    code = "InvalidArgument"


class ValidationError(TwinforgeError):
    """A document or value does not conform to its model."""

    code = "ValidationFailed"


class NotFound(TwinforgeError):
    """The named model, twin, relationship, route or file does not exist."""

    code = "NotFound"


class Conflict(TwinforgeError):
    """The change clashes with what is stored (it exists already, or is still in use)."""

    code = "Conflict"


class PreconditionFailed(TwinforgeError):
    """An ETag condition (If-Match / If-None-Match) does not hold."""

    code = "PreconditionFailed"


class QueryTimeout(TwinforgeError):
    """A query ran longer than its time limit."""

    code = "TimeoutError"  # as Azure Digital Twins names it


class MissingDependency(TwinforgeError):
    """An optional extra is not installed; the message names the ``pip install`` to run."""

    code = "MissingDependency"


class Unauthenticated(TwinforgeError):
    """No valid credentials: a missing, unknown, expired or revoked token."""

    code = "Unauthorized"


class Forbidden(TwinforgeError):
    """Valid credentials without the right: a reader writing, access outside a token's scope."""

    code = "Forbidden"


class Unavailable(TwinforgeError):
    """Something the request needs is away for now (the database); retrying later can succeed."""

    code = "ServiceUnavailable"


__all__ = ["Conflict", "Forbidden", "InvalidArgument", "MissingDependency", "NotFound", "PreconditionFailed",
           "QueryTimeout", "TwinforgeError", "Unauthenticated", "Unavailable", "ValidationError"]
