"""An element's ``@context``: which DTDL version, limits and extensions are in force."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from twinforge.dtdl import metamodel as mm
from twinforge.dtdl.dtmi import is_dtmi
from twinforge.dtdl.extensions import EXTENSIONS, LIMIT_EXTENSIONS, Adjunct, Limits

_SCHEMA_DTMI = re.compile(r"^dtmi:dtdl:instance:Schema:([A-Za-z]+);([234])$")
_GEO_DTMI = re.compile(r"^dtmi:standard:schema:geospatial:([A-Za-z]+);([234])$")


@dataclass(frozen=True, slots=True)
class Scope:
    """What an element inherits from the elements around it."""

    version: int
    quantitative: bool
    tolerant: bool  # an undefined extension is in force: unknown terms are allowed
    iotcentral: bool = False  # the IoT Central extension is in force
    adjuncts: Mapping[str, Adjunct] = field(default_factory=dict)  # the adjunct types in force, by name
    limits: Limits | None = None  # limits a limit extension raised


def primitive_term(value: str, version: int, iotcentral: bool = False,
                   quantitative: bool = False) -> str | None:
    """The primitive schema a term or its DTMI form names, if any (with the IoT Central
    extension in force, its geopoint and vector too; with QuantitativeTypes in DTDL v3 or
    later, a unit type such as TemperatureUnit, whose values are its unit names)."""
    if value in mm.primitives(version) or value in mm.GEOSPATIAL:
        return value
    if iotcentral and value in mm.IOTCENTRAL_SCHEMAS:
        return value
    if quantitative and version >= 3 and value in mm.UNITS:
        return value
    if version >= 3 and value == "scaledDecimal":
        return value
    for pattern in (_SCHEMA_DTMI, _GEO_DTMI):
        m = pattern.match(value)
        if m and int(m.group(2)) == version:
            term = m.group(1)
            if term in mm.primitives(version) or term in mm.GEOSPATIAL:
                return term
    if version >= 3 and value == f"dtmi:standard:schema:scaledDecimal;{version}":
        return "scaledDecimal"
    return None


def read_context(ctx: Any, parent: Scope | None, owner: str, path: str, *, allow_undefined: bool,
                 error: Callable[[str, str, str], None]) -> Scope | None:
    """The scope an element's ``@context`` sets up (its DTDL version and the extensions in
    force), or None after reporting why the context is not valid."""
    where = f"{path}.@context"
    if isinstance(ctx, str):
        values = [ctx]
    elif isinstance(ctx, list):
        values = ctx
    else:
        error(owner, where, "@context must be a string or an array of strings")
        return None
    if not all(isinstance(v, str) for v in values):
        error(owner, where, "every @context value must be a string")
        return None
    version = parent.version if parent else None
    quantitative = parent.quantitative if parent else False
    tolerant = parent.tolerant if parent else False
    iotcentral = parent.iotcentral if parent else False
    adjuncts: dict[str, Adjunct] = dict(parent.adjuncts) if parent else {}
    limits = parent.limits if parent else None
    seen_dtdl = False
    skip = -1
    for k, value in enumerate(values):
        if k == skip:
            continue
        if value in mm.LIMITS_CONTEXTS or mm.LIMIT_EXTENSION.match(value):
            error(owner, where, f"'{value}' may only follow '{mm.LIMITLESS_CONTEXT}'")
            return None
        if value == mm.LIMITLESS_CONTEXT:
            # DTDL v4 without its limits, which the next context must set: the core
            # limits (#limits, or the core context itself) or a limit extension.
            following = values[k + 1] if k + 1 < len(values) else None
            if following is None or not (following in mm.LIMITS_CONTEXTS or following == "dtmi:dtdl:context;4"
                                         or mm.LIMIT_EXTENSION.match(following)):
                error(owner, where, f"'{value}' must be followed by a limits context "
                           f"('{mm.CORE_LIMITS_CONTEXT}' or a limit extension)")
                return None
            if following != "dtmi:dtdl:context;4":
                limits = LIMIT_EXTENSIONS.get(following)
                skip = k + 1  # the limits context is taken; the core context is read as usual
        if value in mm.DTDL_CONTEXTS:
            v = mm.DTDL_CONTEXTS[value]
            if parent is not None and v > parent.version:
                error(owner, where, f"'{value}' is a later DTDL version than the enclosing element's")
                return None
            if parent is None and k > 0 and not seen_dtdl:
                prior = values[:k]
                if not all(p == "dtmi:iotcentral:context;2" for p in prior) or v != 2:
                    error(owner, where, "the DTDL context must come first in @context")
                    return None
            version = v
            seen_dtdl = True
            continue
        if not is_dtmi(value, 3) or ";" not in value:
            error(owner, where, f"@context value '{value}' is not a DTMI with a version")
            return None
        if value.startswith("dtmi:dtdl:context;"):
            error(owner, where, f"'{value}' is not a DTDL version this parser knows")
            return None
        if parent is None and not seen_dtdl and value != "dtmi:iotcentral:context;2":
            error(owner, where, "the DTDL context must come first in @context")
            return None
        extension = EXTENSIONS.get(value)
        if extension is not None and (version is None or version in extension.versions):
            quantitative = quantitative or extension.quantitative
            # IoT Central templates also carry display hints (displayUnit, decimalPlaces, ...):
            # left unchecked, while its schemas and adjunct types are checked.
            tolerant = tolerant or extension.tolerant
            iotcentral = iotcentral or value == mm.IOTCENTRAL
            adjuncts.update(extension.adjuncts)
            continue
        if not allow_undefined:
            if extension is not None:
                usable = " or ".join(f"v{v}" for v in sorted(extension.versions))
                error(owner, where, f"undefined extension context '{value}' in DTDL v{version} "
                      f"(it is defined for DTDL {usable})")
            else:
                error(owner, where, f"undefined extension context '{value}'")
            return None
        tolerant = True
    if version is None:
        error(owner, where, "@context must name a DTDL context (dtmi:dtdl:context;2, ;3 or ;4)")
        return None
    return Scope(version, quantitative, tolerant, iotcentral, adjuncts, limits)

# -- elements ---------------------------------------------------------


__all__ = ["Scope", "primitive_term", "read_context"]
