"""A redelivered message is the same history point, wherever it comes in a batch; two different
samples at the same microsecond are both kept."""

from __future__ import annotations

from pathlib import Path

from twinforge.graph import TwinGraph, Update
from twinforge.history import History

MODEL = {"@id": "dtmi:test:redelivery:Meter;1", "@type": "Interface", "@context": "dtmi:dtdl:context;3",
         "contents": [{"@type": "Property", "name": "reading", "schema": "double", "writable": True}]}
T = 1_790_000_000_000_000


def test_a_sample_seen_again_in_a_later_position_adds_no_point(tmp_path: Path) -> None:
    graph = TwinGraph.open(f"sqlite:///{tmp_path / 'twins.db'}")
    try:
        graph.add_models([MODEL])
        graph.create_twin("m1", {"$metadata": {"$model": MODEL["@id"]}})
        # a first delivery stored 1.0 at T; the batch that brings it again also holds newer samples
        graph.apply_updates([Update("m1", {"reading": 1.0}, ts=T)])
        graph.apply_updates([Update("m1", {"reading": 2.0}, ts=T + 1000), Update("m1", {"reading": 1.0}, ts=T),
                             Update("m1", {"reading": 2.0}, ts=T + 1000)])
        points = History(graph.store).read_range("m1", "reading")
        assert [(p["_ts"], p["value"]) for p in points] == [(T, 1.0), (T + 1000, 2.0)]
        # two different samples at one microsecond: both kept, one microsecond apart
        graph.apply_updates([Update("m1", {"reading": 3.0}, ts=T + 5000), Update("m1", {"reading": 4.0}, ts=T + 5000)])
        points = History(graph.store).read_range("m1", "reading", start=None)
        assert [(p["_ts"], p["value"]) for p in points][-2:] == [(T + 5000, 3.0), (T + 5001, 4.0)]
    finally:
        graph.close()
