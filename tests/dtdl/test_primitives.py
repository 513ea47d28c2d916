"""Values of DTDL's text-formed and geospatial schemas: what conforms and what does not."""

from __future__ import annotations

from typing import Any

import pytest

from twinforge.dtdl.values import NegativeZero, check_primitive, loads

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
    ("duration", "P1,5D"), ("duration", "PT1M2.5S"), ("duration", "P3W"),
    ("integer", 0), ("integer", -7), ("unsignedByte", 255),
    ("double", 1.7e308), ("float", 3.4e38), ("float", -1), ("double", -0.0),
    ("decimal", "-12.50"), ("decimal", "+3"), ("decimal", "12345678901234567890.123456789"),
    ("scaledDecimal", {"scale": 7, "value": "1234.56"}), ("scaledDecimal", {"scale": -3, "value": "-1"}),
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
    # ISO 8601 exactly: weeks stand alone, a fraction only on the smallest unit given
    ("duration", "P1W2D"), ("duration", "P1WT1H"), ("duration", "PT1.5H30M"), ("duration", "P0.5Y1M"),
    ("duration", "P1DT"),
    # integer schemas take whole-number literals only: not 0.0, 5.0 nor -0
    ("integer", 0.0), ("long", 5.0), ("byte", NegativeZero(0)), ("short", True), ("unsignedShort", -1),
    # beyond the range of the type
    ("double", float("inf")), ("double", float("nan")), ("float", 3.5e38), ("float", -1e39),
    # decimal is a string of digits; scaledDecimal an object of exactly scale (short) and value (decimal)
    ("decimal", 12.5), ("decimal", "1e5"), ("decimal", ".5"), ("decimal", "12."),
    ("scaledDecimal", {"scale": 7, "value": 1234.56}), ("scaledDecimal", {"scale": 7.0, "value": "1"}),
    ("scaledDecimal", {"scale": 40000, "value": "1"}), ("scaledDecimal", {"value": "1"}),
    ("scaledDecimal", {"scale": 1, "value": "1", "unit": "m"}),
]


@pytest.mark.parametrize(("schema", "value"), VALID)
def test_conforming_values(schema: str, value: Any) -> None:
    assert check_primitive(schema, value) is None


@pytest.mark.parametrize(("schema", "value"), INVALID)
def test_values_that_do_not_conform(schema: str, value: Any) -> None:
    problem = check_primitive(schema, value)
    assert problem, f"{value!r} was accepted as {schema}"
    assert len(problem) < 200


def test_json_text_keeps_a_negative_zero_integer_apart() -> None:
    value = loads(b'{"a": -0, "b": -0.0, "c": 0, "s": "x-0"}')
    assert isinstance(value["a"], NegativeZero) and value["a"] == 0
    assert type(value["c"]) is int and value["s"] == "x-0" and str(value["b"]) == "-0.0"
    assert check_primitive("integer", value["a"]) == "-0 is not a valid integer literal (write 0)"
    assert check_primitive("double", value["a"]) is None
