"""Check JSON values against DTDL schemas (primitive, Enum, Object, Map, Array, geospatial)."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

from twinforge.dtdl import metamodel as mm
from twinforge.dtdl.elements import Element, Ref

Deref = Callable[[Ref | None], Ref | None]

_DURATION = re.compile(
    r"^-?P(?!$)(?:\d+(?:\.\d+)?Y)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?W)?(?:\d+(?:\.\d+)?D)?"
    r"(?:T(?=\d)(?:\d+(?:\.\d+)?H)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?S)?)?$"
)
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
        if isinstance(value, bool) or value not in allowed:
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
    if schema == "double" and type(value) in (float, int):
        return None
    if schema == "boolean":
        return None if isinstance(value, bool) else f"expected a boolean, got {_kind(value)}"
    if schema in _INT_RANGES:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                return f"expected {schema} (a whole number), got {_kind(value)} {value!r}"
        lo, hi = _INT_RANGES[schema]
        return None if lo <= value <= hi else f"{value} is out of range for {schema}"
    if schema in ("double", "float", "decimal"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else f"expected a number, got {_kind(value)} {value!r}"
    if schema == "scaledDecimal":
        ok = isinstance(value, dict) and {"scale", "value"} <= set(value)
        return None if ok else "expected a scaledDecimal object with 'scale' and 'value'"
    if not isinstance(value, str) and schema not in _GEO_TYPES:
        wanted = "a string" if schema == "string" else f"{schema} (a string)"
        return f"expected {wanted}, got {_kind(value)}"
    try:
        if schema == "string":
            return None
        if schema == "date":
            date.fromisoformat(value)
        elif schema == "dateTime":
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        elif schema == "time":
            time.fromisoformat(value.replace("Z", "+00:00"))
        elif schema == "duration":
            if not _DURATION.match(value):
                raise ValueError(value)
        elif schema == "uuid":
            uuid.UUID(value)
        elif schema == "bytes":
            base64.b64decode(value, validate=True)
        elif schema in _GEO_TYPES:
            return _check_geo(schema, value)
    except (ValueError, binascii.Error):
        return f"'{value}' is not a valid {schema}"
    return None


def _check_geo(schema: str, value: Any) -> str | None:
    if not isinstance(value, dict) or value.get("type") != _GEO_TYPES[schema]:
        return f"expected a GeoJSON {_GEO_TYPES[schema]} object"
    coords = value.get("coordinates")
    depth = 0
    while isinstance(coords, list) and coords:
        depth += 1
        coords = coords[0]
    if depth != _GEO_DEPTH[schema] or not isinstance(coords, (int, float)):
        return f"coordinates do not have the shape of a {_GEO_TYPES[schema]}"
    return None
