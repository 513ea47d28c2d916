"""Values of DTDL's text-formed and geospatial schemas: what conforms and what does not."""

from __future__ import annotations

from typing import Any

import pytest

from twinforge.dtdl.values import check_primitive

POINT = {"type": "Point", "coordinates": [4.35, 50.85]}
LINE = {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}
RING = [[0, 0], [1, 0], [1, 1], [0, 0]]

VALID: list[tuple[str, Any]] = [
    ("date", "2026-11-26"), ("date", "2024-02-29"),
    ("dateTime", "2026-11-26T12:30:00Z"), ("dateTime", "2026-11-26T12:30:00.123456+02:00"),
    ("dateTime", "2026-11-26t12:30:00z"),
    ("time", "12:30:00"), ("time", "23:59:59.5"), ("time", "08:00:00Z"), ("time", "08:00:00-05:00"),
    ("duration", "P1D"), ("duration", "PT1H30M"), ("duration", "P1Y2M3DT4H5M6.5S"), ("duration", "P2W"),
    ("duration", "-PT5S"),
    ("uuid", "123e4567-e89b-12d3-a456-426614174000"), ("uuid", "123E4567-E89B-12D3-A456-426614174000"),
    ("bytes", "aGVsbG8="), ("bytes", ""),
    ("point", POINT), ("point", {"type": "Point", "coordinates": [1, 2, 3]}),
    ("multiPoint", {"type": "MultiPoint", "coordinates": [[1, 2], [3, 4]]}),
    ("lineString", LINE),
    ("multiLineString", {"type": "MultiLineString", "coordinates": [[[0, 0], [1, 1]], [[2, 2], [3, 3]]]}),
    ("polygon", {"type": "Polygon", "coordinates": [RING]}),
    ("multiPolygon", {"type": "MultiPolygon", "coordinates": [[RING], [RING]]}),
]

INVALID: list[tuple[str, Any]] = [
    ("date", "20261126"), ("date", "2026-02-30"), ("date", "2026-11-26T00:00:00Z"), ("date", 20261126),
    ("dateTime", "2026-11-26T12:30:00"), ("dateTime", "2026-11-26"), ("dateTime", "2026-11-26 12:30:00Z"),
    ("dateTime", "2026-13-01T00:00:00Z"), ("dateTime", "yesterday"), ("dateTime", 1764160200),
    ("time", "12:30"), ("time", "25:00:00"), ("time", "12:30:00 PM"), ("time", "T12:30:00"),
    ("duration", "P"), ("duration", "PT"), ("duration", "1D"), ("duration", "P1H"), ("duration", "PT1D"),
    ("duration", 3600),
    ("uuid", "123e4567e89b12d3a456426614174000"), ("uuid", "{123e4567-e89b-12d3-a456-426614174000}"),
    ("uuid", "urn:uuid:123e4567-e89b-12d3-a456-426614174000"), ("uuid", "not-a-uuid"),
    ("bytes", "not base64!"), ("bytes", "aGVsbG8"), ("bytes", b"raw"),
    ("point", {"type": "Point", "coordinates": [1]}), ("point", {"type": "Point", "coordinates": [True, False]}),
    ("point", {"type": "Point", "coordinates": ["1", "2"]}), ("point", {"type": "LineString", "coordinates": [1, 2]}),
    ("point", [4.35, 50.85]), ("point", "POINT(4.35 50.85)"),
    ("lineString", {"type": "LineString", "coordinates": [[0, 0]]}),
    ("lineString", {"type": "LineString", "coordinates": [0, 0]}),
    ("polygon", {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1]]]}),
    ("polygon", {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [2, 2]]]}),
    ("polygon", {"type": "Polygon", "coordinates": []}),
    ("multiPolygon", {"type": "MultiPolygon", "coordinates": [RING]}),
]


@pytest.mark.parametrize(("schema", "value"), VALID)
def test_conforming_values(schema: str, value: Any) -> None:
    assert check_primitive(schema, value) is None


@pytest.mark.parametrize(("schema", "value"), INVALID)
def test_values_that_do_not_conform(schema: str, value: Any) -> None:
    problem = check_primitive(schema, value)
    assert problem, f"{value!r} was accepted as {schema}"
    assert len(problem) < 200
