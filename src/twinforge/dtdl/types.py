"""An element's @type: its DTDL class, semantic type, and the adjunct types of extensions."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twinforge.dtdl import metamodel as mm
from twinforge.dtdl.context import Scope
from twinforge.dtdl.dtmi import TERM, is_dtmi

_CLASS_DTMI = re.compile(r"^dtmi:dtdl:class:([A-Za-z]+);([234])$")
_SEMANTIC_DTMI = re.compile(r"^dtmi:standard:class:([A-Za-z]+);([234])$")
# Classes whose @type may be left out where the property fixes it.
# What a semantic type may co-type (QuantitativeTypes widened it from DTDL v3 on).
_SEMANTIC_COTYPES_V2 = frozenset({"Property", "Telemetry"})
_SEMANTIC_COTYPES = frozenset({"CommandRequest", "CommandResponse", "Field", "MapValue", "Property", "Telemetry"})
_INFERABLE = {"EnumValue", "Field", "MapKey", "MapValue", "CommandPayload", "CommandRequest",
              "CommandResponse"}


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """What an element's @type says."""

    cls: str
    semantic: str | None
    open_type: bool  # co-types the parser does not define, which may bring properties of their own
    adjuncts: frozenset[str]


def read_type(obj: dict[str, Any], path: str, owner: str, expected: frozenset[str], scope: Scope,
              error: Callable[[str, str, str], None]) -> TypeInfo | None:
    """What an element's @type says: its class, semantic type and adjunct types, and whether
    it holds co-types the parser does not define; None after reporting an invalid @type."""
    version = scope.version
    raw = obj.get("@type")
    if raw is None:
        if "@type" not in obj and len(expected) == 1 and next(iter(expected)) in _INFERABLE:
            return TypeInfo(next(iter(expected)), None, False, frozenset())
        error(owner, path, "element needs an @type")
        return None
    types = raw if isinstance(raw, list) else [raw]
    if not isinstance(raw, (str, list)) or not types or not all(isinstance(t, str) for t in types):
        error(owner, f"{path}.@type", "@type must be a string or a non-empty array of strings")
        return None
    materials: set[str] = set()
    semantics: set[str] = set()
    adjuncts: set[str] = set()
    undefined = False
    sem_table = mm.semantic_types(version, scope.quantitative)
    ok = True
    for t in types:
        m = _CLASS_DTMI.match(t)
        name = m.group(1) if m and int(m.group(2)) == version else t
        if name in mm.CLASSES[version]:
            materials.add(name)
            continue
        if t in scope.adjuncts:
            adjuncts.add(t)
            continue
        s = _SEMANTIC_DTMI.match(t)
        sname = s.group(1) if s and int(s.group(2)) == version else t
        if sname in sem_table:
            semantics.add(sname)
            continue
        if undefined_type_ok(t, version, scope):
            undefined = True
            continue
        if t.startswith("dtmi:") and not is_dtmi(t, version):
            error(owner, f"{path}.@type", f"'{t}' in @type is not a valid DTMI")
        else:
            error(owner, f"{path}.@type", f"'{t}' in @type is not a DTDL type")
        ok = False
    if not ok:
        return None
    if len(materials) != 1:
        what = "no DTDL class" if not materials else "more than one DTDL class"
        error(owner, f"{path}.@type", f"@type names {what}: {types}")
        return None
    cls = next(iter(materials))
    if expected and cls not in expected:
        allowed = ", ".join(sorted(expected))
        error(owner, f"{path}.@type", f"a {cls} is not allowed here (expected {allowed})")
        return None
    for adjunct in sorted(adjuncts):
        rule = scope.adjuncts[adjunct]
        if cls not in rule.cotypes:
            error(owner, f"{path}.@type", f"{adjunct} may co-type only a "
                  f"{' or a '.join(sorted(rule.cotypes))}, not a {cls}")
            return None
        missing = sorted(rule.requires - adjuncts)
        if missing:
            error(owner, f"{path}.@type", f"{adjunct} may co-type a {cls} only if it is also {' and '.join(missing)}")
            return None
        clash = sorted(rule.excludes & adjuncts)
        if clash:
            error(owner, f"{path}.@type", f"{adjunct} and {' and '.join(clash)} may not co-type the same {cls}")
            return None
    if semantics:
        if cls not in (_SEMANTIC_COTYPES_V2 if version == 2 else _SEMANTIC_COTYPES):
            error(owner, f"{path}.@type", f"a semantic type cannot be applied to {cls}")
            return None
        if len(semantics) > 1:
            error(owner, f"{path}.@type", f"more than one semantic type: {sorted(semantics)}")
            return None
    return TypeInfo(cls, next(iter(semantics)) if semantics else None, undefined, frozenset(adjuncts))

def undefined_type_ok(t: str, version: int, scope: Scope) -> bool:
    """May ``t`` stand in @type as a co-type the parser does not define?"""
    if scope.tolerant:
        return bool(TERM.match(t)) or is_dtmi(t, version) or (
            version == 2 and not t.startswith("dtmi:")
        )
    if version == 2:
        return not t.startswith("dtmi:") and t not in mm.LANGUAGE_TERMS[2]
    return False


__all__ = ["TypeInfo", "read_type", "undefined_type_ok"]
