"""Checks of the adjunct types extensions add: their property values (while parsing) and
the rules that need the whole batch (after references resolve): what an element's schema
must be, where an element may sit, unique values among siblings, and what an Override may
override."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twinforge.dtdl import metamodel as mm
from twinforge.dtdl.elements import Element, Ref
from twinforge.dtdl.extensions import Adjunct, AdjunctProp

_DURATION = re.compile(
    r"^P(?!$)(?:\d+Y)?(?:\d+M)?(?:\d+W)?(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?$"
)
_PATH_TERM = re.compile(r"\.([A-Za-z]+)(?:\[\d+\])?$")
@dataclass(frozen=True, slots=True)
class AdjunctIssue:
    message: str


def read_adjunct_value(term: str, prop: AdjunctProp, value: Any) -> Any:
    """The value of an adjunct property, or an AdjunctIssue saying why it is not valid."""
    if prop.kind in ("string", "term", "duration"):
        if not isinstance(value, str) or not value:
            return AdjunctIssue(f"'{term}' must be a non-empty string")
        if prop.max_length is not None and len(value) > prop.max_length:
            return AdjunctIssue(f"'{term}' is longer than {prop.max_length} characters")
        if prop.pattern is not None and not prop.pattern.match(value):
            return AdjunctIssue(f"'{term}' value {value!r} is not {prop.describe or 'valid'}")
        if prop.kind == "duration" and not _DURATION.match(value):
            return AdjunctIssue(f"'{term}' value {value!r} is not an ISO 8601 duration (e.g. PT15S)")
        return value
    if prop.kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return AdjunctIssue(f"'{term}' must be an integer, not {value!r}"[:200])
        if prop.minimum is not None and value < prop.minimum:
            return AdjunctIssue(f"'{term}' must be at least {prop.minimum}, not {value}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):  # decimal
        return AdjunctIssue(f"'{term}' must be a number, not {value!r}"[:200])
    return value


class AdjunctChecks:
    """The batch-wide rules of adjunct types, run by the resolver over its elements."""

    def __init__(self, deref: Callable[[Ref | None], Ref | None],
                 error: Callable[[Element, str, str], None]) -> None:
        self.deref = deref
        self.error = error
        # (parent element, property, adjunct property) -> value -> first element holding it
        self.unique: dict[tuple[int, str, str], dict[object, Element]] = {}

    def check(self, el: Element) -> None:
        if not el.adjuncts:
            return
        for name, rule in el.adjuncts.items():
            if rule.schema or rule.schema_cotype:
                self.check_schema(el, name, rule)
            if rule.parents:
                self.check_parent(el, name, rule)
            if rule.children:
                self.check_children(el, name, rule)
            for term, prop in rule.props.items():
                if prop.unique and term in el.props:
                    self.note_unique(el, term)

    def schema_kind(self, el: Element) -> tuple[str, Element | None]:
        schema = self.deref(el.ref("schema"))
        if isinstance(schema, Element):
            return schema.cls, schema
        if isinstance(schema, str):
            if schema in mm.NUMERIC:
                return "numeric", None
            if schema in mm.GEOSPATIAL:
                return "geospatial", None
            return schema, None
        return "", None

    def check_schema(self, el: Element, name: str, rule: Adjunct) -> None:
        kind, schema = self.schema_kind(el)
        if not kind:
            return
        if rule.schema and kind not in rule.schema:
            wanted = " or ".join(sorted(k if k[0].isupper() else f"a {k}" for k in rule.schema))
            self.error(el, f"a {el.cls} co-typed {name} must have a schema that is {wanted}, not {kind}",
                       ".schema")
        elif rule.schema_cotype is not None and (schema is None or rule.schema_cotype not in schema.adjuncts):
            self.error(el, f"a {el.cls} co-typed {name} must have an Object schema co-typed "
                       f"{rule.schema_cotype}", ".schema")

    def check_parent(self, el: Element, name: str, rule: Adjunct) -> None:
        parent = el.parent
        if parent is None or not (parent.adjuncts.keys() & rule.parents):
            where = " or ".join(sorted(rule.parents))
            self.error(el, f"a {el.cls} co-typed {name} must be among the fields of an Object co-typed {where}", "")
            return
        fields = self.fields(parent)
        earlier = fields[:next((k for k, f in enumerate(fields) if f is el), len(fields))]
        if any(name in f.adjuncts for f in earlier):
            self.error(el, f"only one field of an Object may be co-typed {name}", "")

    def check_children(self, el: Element, name: str, rule: Adjunct) -> None:
        for field in self.fields(el):
            if not (field.adjuncts.keys() & rule.children):
                wanted = " or ".join(sorted(rule.children))
                self.error(field, f"each field of an Object co-typed {name} must be co-typed {wanted}", "")

    def fields(self, obj: Element) -> list[Element]:
        out = []
        for ref in obj.refs.get("fields", []):
            f = self.deref(ref)
            if isinstance(f, Element):
                out.append(f)
        return out

    def note_unique(self, el: Element, term: str) -> None:
        m = _PATH_TERM.search(el.path)
        holder = m.group(1) if m else ""
        key = (id(el.parent), holder, term)
        seen = self.unique.setdefault(key, {})
        value = el.props[term]
        if value in seen:
            self.error(el, f"'{term}' {value!r} is already used by another element of '{holder}'", f".{term}")
        else:
            seen[value] = el

    def check_override(self, content: Element, annotated: Element, claimed: set[tuple[str, str]]) -> None:
        """An Override must name an extension property the annotated element has, once."""
        overrides = content.props.get("overrides")
        if not isinstance(overrides, str):
            return
        core = mm.CLASSES[annotated.version][annotated.cls].props
        extension_props = {k for k in annotated.props if k not in core}
        if annotated.unit is not None or annotated.semantic_type is not None:
            extension_props.add("unit")
        target = annotated.name or ""
        if overrides not in extension_props:
            have = ", ".join(sorted(extension_props)) or "none"
            self.error(content, f"'overrides' names '{overrides}', which is not an extension property of "
                       f"'{target}' (it has: {have})", ".overrides")
            return
        if (target, overrides) in claimed:
            self.error(content, f"'{overrides}' of '{target}' is overridden twice", ".overrides")
            return
        claimed.add((target, overrides))
        if overrides == "unit" and annotated.semantic_type is not None:
            unit_type = mm.semantic_types(annotated.version, True).get(annotated.semantic_type)
            schema = self.deref(content.ref("schema"))
            if unit_type is not None and schema != unit_type:
                self.error(content, f"overriding the unit of a {annotated.semantic_type} needs schema "
                           f"{unit_type}, not {schema if isinstance(schema, str) else 'a complex schema'}",
                           ".schema")


__all__ = ["AdjunctChecks", "AdjunctIssue", "read_adjunct_value"]
