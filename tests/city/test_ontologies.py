"""The public smart-cities (ETSI SAREF4City / NGSI-LD) and energy-grid (IEC CIM) ontologies load
as they are, together, in one call: their `extends` chains resolve across both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHARED
from tests.requirements import missing
from twinforge.graph import TwinGraph


def ontology(name: str) -> list[Any]:
    folder = SHARED / "dtdl" / name / "Ontology"
    if not folder.is_dir():
        missing(f"the {name} ontology is not at {folder}")
    docs: list[Any] = []
    for path in sorted(folder.rglob("*.json")):
        loaded = json.loads(path.read_text(encoding="utf-8-sig"))
        docs.extend(loaded if isinstance(loaded, list) else [loaded])
    return docs


def test_both_ontologies_load_in_one_call(tmp_path: Path) -> None:
    city, grid = ontology("smartcities"), ontology("energygrid")
    graph = TwinGraph.open(f"sqlite:///{tmp_path / 'city.db'}")
    try:
        graph.add_models(city + grid)
        ids = {m.id for m in graph.list_models()}
        assert len(ids) == len(city) + len(grid)
        models = graph.models
        line = "dtmi:digitaltwins:ngsi_ld:cim:energy:ACLineSegment;1"
        assert models.is_of_model(line, "dtmi:digitaltwins:ngsi_ld:cim:energy:ConductingEquipment;1")
        view = models.interface(line)
        assert {"r", "x", "bch"} <= set(view.properties)  # its own, and inherited ones
        assert "dtmi:digitaltwins:ngsi_ld:cim:energy:IdentifiedObject;1" in view.ancestors
        twin = graph.create_twin("line-1-2", {"$metadata": {"$model": line}, "r": 0.01938, "x": 0.05917})
        assert twin["r"] == pytest.approx(0.01938)
    finally:
        graph.close()
