"""The exception hierarchy shared by every layer; `api` maps it to HTTP once."""

from __future__ import annotations


class TwinforgeError(Exception):
    """Base of every error twinforge raises on purpose."""

    code = "InternalError"
    status = 500

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ValidationError(TwinforgeError):
    """A document or value does not conform to its model or to the API's rules."""

    code = "ValidationFailed"
    status = 400


class BadRequest(TwinforgeError):
    code = "BadRequest"
    status = 400


class NotFound(TwinforgeError):
    code = "NotFound"
    status = 404


class Conflict(TwinforgeError):
    code = "Conflict"
    status = 409


class PreconditionFailed(TwinforgeError):
    code = "PreconditionFailed"
    status = 412
