"""The error raised when DTDL documents do not parse, resolve or validate."""

from __future__ import annotations

from twinforge.dtdl.elements import ModelIssue
from twinforge.errors import ValidationError


class ModelError(ValidationError):
    """Every problem found in a batch of DTDL documents; ``.errors`` lists them all."""

    code = "DTDLParserError"

    def __init__(self, issues: list[ModelIssue]) -> None:
        self.issues = issues
        self.errors = [str(i) for i in issues]
        head = self.errors[0] if self.errors else "invalid DTDL"
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(head + more)
