from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.requirements import missing

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
REC_DIR = SHARED / "dtdl" / "realestatecore"


def load_rec() -> list[Any]:
    if not REC_DIR.is_dir():
        missing(f"RealEstateCore ontology not found at {REC_DIR}")
    return [json.loads(p.read_text(encoding="utf-8-sig")) for p in sorted(REC_DIR.rglob("*.json"))]


@pytest.fixture(scope="session")
def rec_documents() -> list[Any]:
    return load_rec()


@pytest.fixture
def graph(tmp_path: Path):  # type: ignore[no-untyped-def]
    from twinforge.graph import TwinGraph

    g = TwinGraph.open(f"sqlite:///{tmp_path / 'twins.db'}")
    yield g
    g.close()


@pytest.fixture(scope="session")
def rec_graph_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store file with RealEstateCore loaded once, copied by tests that need it."""
    from twinforge.graph import TwinGraph

    path = tmp_path_factory.mktemp("rec") / "rec.db"
    g = TwinGraph.open(f"sqlite:///{path}")
    g.add_models(load_rec())
    g.close()
    return path
