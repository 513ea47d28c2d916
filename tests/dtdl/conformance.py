"""Load the official DTDL conformance cases and run one through `parse_models`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twinforge.dtdl import ModelError, parse_models

CASES_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "dtdl" / "conformance" / "specification"
CASES_DIR_V4 = CASES_DIR.parent / "specification-v4"


@dataclass(frozen=True)
class Case:
    rule: str
    index: int
    version: str
    valid: bool
    allow_undefined: bool
    documents: list[Any]

    @property
    def id(self) -> str:
        return f"{self.rule}#{self.index}"


def load_cases(directory: Path = CASES_DIR) -> list[Case]:
    cases: list[Case] = []
    for path in sorted(directory.glob("*.json")):
        rule = path.stem
        version = rule[-2:]
        for i, raw in enumerate(json.loads(path.read_text(encoding="utf-8-sig"))):
            cases.append(
                Case(rule, i, version, bool(raw["valid"]),
                     "AllowUndefinedExtensions" in raw.get("options", []), raw["input"])
            )
    return cases


def accepts(case: Case) -> tuple[bool, list[str]]:
    try:
        parse_models(case.documents, allow_undefined_extensions=case.allow_undefined)
    except ModelError as exc:
        return False, exc.errors
    return True, []
