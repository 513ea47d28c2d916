from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
REC_DIR = SHARED / "dtdl" / "realestatecore"


def load_rec() -> list[Any]:
    if not REC_DIR.is_dir():
        pytest.skip(f"RealEstateCore ontology not found at {REC_DIR}")
    return [json.loads(p.read_text(encoding="utf-8-sig")) for p in sorted(REC_DIR.rglob("*.json"))]


@pytest.fixture(scope="session")
def rec_documents() -> list[Any]:
    return load_rec()
