"""Check JSON values against DTDL schemas (primitive, Enum, Object, Map, Array, geospatial)."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import sys
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

import orjson

from twinforge.dtdl import metamodel as mm
from twinforge.dtdl.elements import Element, Ref

Deref = Callable[[Ref | None], Ref | None]

# ISO 8601 durations: weeks stand alone (PnW); a fraction (comma or point) only on the
# smallest unit given; a leading minus as XML Schema allows it.
_N = r"\d+(?:[.,]\d+)?"
_DURATION = re.compile(
    rf"^-?P(?:(?!$)(?:{_N}Y)?(?:{_N}M)?(?:{_N}D)?(?:T(?=\d)(?:{_N}H)?(?:{_N}M)?(?:{_N}S)?)?|{_N}W)$"
)
_DURATION_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_DECIMAL = re.compile(r"^[+-]?\d+(?:\.\d+)?$")
_FLOAT_MAX = 3.4028234663852886e38


class NegativeZero(int):
    """An integer literal written ``-0``: `loads` keeps it apart so that integer schemas can
    refuse it, as DTDL does (it is not the canonical form of any integer)."""

    def __repr__(self) -> str:
        return "-0"


_NEGATIVE_ZERO = re.compile(rb"-0(?![0-9.eE])")


def loads(text: bytes | str) -> Any:
    """JSON text as Python values, with integer literals written ``-0`` kept as `NegativeZero`
    (orjson reads them as 0; the rare text that has one is read again by the json module)."""
    raw = text.encode() if isinstance(text, str) else text
    value = orjson.loads(raw)
    if _NEGATIVE_ZERO.search(raw) is None:
        return value
    return json.loads(raw, parse_int=lambda t: NegativeZero(0) if t == "-0" else int(t))


def is_duration(value: str) -> bool:
    """True for an ISO 8601 duration (weeks alone; a fraction only on the last unit given)."""
    if not _DURATION.match(value):
        return False
    numbers = _DURATION_NUMBER.findall(value)
    return not any(("." in n or "," in n) for n in numbers[:-1])


_INT_RANGES = {
    "byte": (-(2**7), 2**7 - 1),
    "short": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
    "unsignedByte": (0, 2**8 - 1),
    "unsignedShort": (0, 2**16 - 1),
    "unsignedInteger": (0, 2**32 - 1),
    "unsignedLong": (0, 2**64 - 1),
}
_GEO_TYPES = {
    "point": "Point", "multiPoint": "MultiPoint", "lineString": "LineString",
    "multiLineString": "MultiLineString", "polygon": "Polygon", "multiPolygon": "MultiPolygon",
}
# RFC 3339 text forms (Python's fromisoformat alone accepts more, such as 20260101).
_TEXT_FORMS = {
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "dateTime": re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"),
    "time": re.compile(r"^\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$"),
    "uuid": re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"),
}
_TEXT_HINTS = {
    "date": "YYYY-MM-DD", "dateTime": "RFC 3339, with a time zone, e.g. 2026-01-31T12:00:00Z",
    "time": "hh:mm:ss, e.g. 12:30:00", "duration": "ISO 8601, e.g. PT1H30M or P2D",
    "uuid": "8-4-4-4-12 hexadecimal digits",
}
_GEO_DEPTH = {"point": 1, "multiPoint": 2, "lineString": 2, "multiLineString": 3, "polygon": 3,
              "multiPolygon": 4}


def check_value(el: Element, value: Any, path: str, deref: Deref) -> list[str]:
    """Problems of ``value`` against element ``el`` (a content, field or schema)."""
    if el.cls in mm.COMPLEX_SCHEMAS:
        return check_schema(el, value, path, deref)
    return check_schema(deref(el.ref("schema")), value, path, deref)


def check_schema(schema: Ref | None, value: Any, path: str, deref: Deref) -> list[str]:
    where = path or "$"
    if schema is None:
        return [f"{where}: schema could not be resolved"]
    if isinstance(schema, str):
        problem = check_primitive(schema, value)
        return [f"{where}: {problem}"] if problem else []
    if schema.cls == "Enum":
        allowed = []
        for ref in schema.refs.get("enumValues", []):
            ev = deref(ref)
            if isinstance(ev, Element):
                allowed.append(ev.props.get("enumValue"))
        # Enum values are integers or strings: a JSON 1.0 (or true, which Python equates
        # with 1) is neither, even where it compares equal to one.
        if type(value) not in (int, str) or value not in allowed:
            return [f"{where}: {value!r} is not one of the enum values {allowed}"]
        return []
    if schema.cls == "Object":
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {_kind(value)}"]
        fields: dict[str, Element] = {}
        for ref in schema.refs.get("fields", []):
            f = deref(ref)
            if isinstance(f, Element) and f.name:
                fields[f.name] = f
        problems: list[str] = []
        for key, item in value.items():
            sub = f"{path}.{key}" if path else key
            f = fields.get(key)
            if f is None:
                problems.append(f"{sub}: '{key}' is not a field of this object")
            elif item is not None:
                problems.extend(check_schema(deref(f.ref("schema")), item, sub, deref))
        # The Requirement extension: a field co-typed Required must have a value.
        for name, f in fields.items():
            if "Required" in f.adjuncts and value.get(name) is None:
                problems.append(f"{path + '.' if path else ''}{name}: the required field '{name}' is missing")
        return problems
    if schema.cls == "Map":
        if not isinstance(value, dict):
            return [f"{where}: expected a map (JSON object), got {_kind(value)}"]
        mv = deref(schema.ref("mapValue"))
        if not isinstance(mv, Element):
            return []
        value_schema = deref(mv.ref("schema"))
        problems = []
        for key, item in value.items():
            problems.extend(check_schema(value_schema, item, f"{path}.{key}" if path else key, deref))
        return problems
    if schema.cls == "Array":
        if not isinstance(value, list):
            return [f"{where}: expected an array, got {_kind(value)}"]
        element_schema = deref(schema.ref("elementSchema"))
        problems = []
        for i, item in enumerate(value):
            problems.extend(check_schema(element_schema, item, f"{path}[{i}]", deref))
        return problems
    return [f"{where}: {schema.cls} is not a schema"]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def check_primitive(schema: str, value: Any) -> str | None:
    """Why ``value`` is not a valid ``schema`` value, or None when it is."""
    if schema == "string" and type(value) is str:
        return None
    if schema == "double" and (type(value) is int or (type(value) is float and math.isfinite(value))):
        return None
    if schema == "boolean":
        return None if isinstance(value, bool) else f"expected a boolean, got {_kind(value)}"
    if schema in _INT_RANGES:
        # A whole number written as one: 0.0 or -0 is not an integer literal.
        if isinstance(value, bool) or not isinstance(value, int):
            return f"expected {schema} (a whole number), got {_kind(value)} {value!r}"
        if isinstance(value, NegativeZero):
            return f"-0 is not a valid {schema} literal (write 0)"
        lo, hi = _INT_RANGES[schema]
        return None if lo <= value <= hi else f"{value} is out of range for {schema}"
    if schema in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"expected a number, got {_kind(value)} {value!r}"
        limit = _FLOAT_MAX if schema == "float" else sys.float_info.max
        if not math.isfinite(value) or abs(value) > limit:
            return f"{value!r} is beyond the range of {schema}"
        return None
    if schema == "decimal":
        if type(value) is str and _DECIMAL.match(value):
            return None
        return f"expected a decimal (a string of digits such as \"-12.50\"), got {_kind(value)} {value!r}"
    if schema in ("geopoint", "vector"):
        return _check_fields(schema, value)
    if schema in mm.UNITS:  # a unit type (QuantitativeTypes): one of its unit names
        if value in mm.UNITS[schema]:
            return None
        return f"{value!r} is not a unit of {schema} ({', '.join(mm.UNITS[schema][:4])}, ...)"
    if schema == "scaledDecimal":
        if not isinstance(value, dict) or set(value) != {"scale", "value"}:
            return "expected a scaledDecimal object with exactly 'scale' (a short) and 'value' (a decimal string)"
        return check_primitive("short", value["scale"]) or check_primitive("decimal", value["value"])
    if not isinstance(value, str) and schema not in _GEO_TYPES:
        wanted = "a string" if schema == "string" else f"{schema} (a string)"
        return f"expected {wanted}, got {_kind(value)}"
    if schema == "string":
        return None
    if schema in _GEO_TYPES:
        return _check_geo(schema, value)
    if schema == "duration" and not is_duration(value):
        return f"'{value}' is not a valid duration ({_TEXT_HINTS[schema]})"
    pattern = _TEXT_FORMS.get(schema)
    if pattern is not None and not pattern.match(value):
        return f"'{value}' is not a valid {schema} ({_TEXT_HINTS[schema]})"
    try:
        if schema == "date":
            date.fromisoformat(value)
        elif schema == "dateTime":
            datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00").replace("t", "T"))
        elif schema == "time":
            time.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
        elif schema == "bytes":
            base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        return f"'{value}' is not a valid {schema}"
    return None


# IoT Central's schemas: an object of numbers with these fields (the optional ones after).
_IOTC_FIELDS = {"geopoint": (("lat", "lon"), ("alt",)), "vector": (("x", "y", "z"), ())}


def _check_fields(schema: str, value: Any) -> str | None:
    required, optional = _IOTC_FIELDS[schema]
    shape = ", ".join((*required, *(f"{o}?" for o in optional)))
    if not isinstance(value, dict):
        return f"expected a {schema} object {{{shape}}}, got {_kind(value)}"
    for name, field_value in value.items():
        if name not in required and name not in optional:
            return f"'{name}' is not a field of {schema} ({shape})"
        if isinstance(field_value, bool) or not isinstance(field_value, (int, float)):
            return f"{schema} field '{name}' must be a number"
    missing = [name for name in required if name not in value]
    return f"{schema} needs {', '.join(missing)}" if missing else None


def _check_geo(schema: str, value: Any) -> str | None:
    if not isinstance(value, dict) or value.get("type") != _GEO_TYPES[schema]:
        return f"expected a GeoJSON {_GEO_TYPES[schema]} object"
    problem = _check_coordinates(schema, value.get("coordinates"), _GEO_DEPTH[schema])
    return f"coordinates of a {_GEO_TYPES[schema]}: {problem}" if problem else None


def _check_coordinates(schema: str, coords: Any, depth: int) -> str | None:
    """GeoJSON (RFC 7946) coordinates: positions of two or three numbers, nested ``depth`` deep."""
    if depth == 1:
        ok = (isinstance(coords, list) and 2 <= len(coords) <= 3
              and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in coords))
        return None if ok else "a position is a list of two or three numbers"
    if not isinstance(coords, list) or not coords:
        return "expected a non-empty list"
    for item in coords:
        problem = _check_coordinates(schema, item, depth - 1)
        if problem:
            return problem
    if depth == 2 and schema in ("lineString", "multiLineString") and len(coords) < 2:
        return "a line needs at least two positions"
    if depth == 2 and schema in ("polygon", "multiPolygon") and (len(coords) < 4 or coords[0] != coords[-1]):
        return "a ring needs at least four positions, the last equal to the first"
    return None
