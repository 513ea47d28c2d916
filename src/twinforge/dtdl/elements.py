"""Parsed DTDL elements: what the parser produces and the resolver consumes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from twinforge.dtdl.extensions import Adjunct, Limits

# A schema or element reference: an inline Element, a primitive term
# ("double", "point", ...) or a DTMI naming an element defined elsewhere.
Ref = Union["Element", str]


@dataclass(slots=True, eq=False)
class Element:
    """One DTDL element (Interface, Property, Object, EnumValue, ...)."""

    cls: str
    version: int
    path: str
    owner: str
    id: str | None = None
    top_level: bool = False
    in_schemas: bool = False
    props: dict[str, object] = field(default_factory=dict, repr=False)
    refs: dict[str, list[Ref]] = field(default_factory=dict, repr=False)
    semantic_type: str | None = None
    unit: str | None = None
    parent: Element | None = field(default=None, repr=False)
    # The adjunct types of extensions on its @type, by name, with their rules.
    adjuncts: Mapping[str, Adjunct] = field(default_factory=dict, repr=False)
    limits: Limits | None = field(default=None, repr=False)  # limits a limit extension raised

    @property
    def name(self) -> str | None:
        value = self.props.get("name")
        return value if isinstance(value, str) else None

    def ref(self, prop: str) -> Ref | None:
        """The single reference held under ``prop`` (an element, a DTMI or a primitive), or None."""
        values = self.refs.get(prop)
        return values[0] if values else None

    def label(self) -> str:
        """How errors name this element: its class and name or DTMI."""
        return self.id or f"{self.owner} at {self.path}"


@dataclass(frozen=True, slots=True)
class ModelIssue:
    """One problem found in a batch of models."""

    dtmi: str
    path: str
    message: str
    element: str = ""  # the element at fault, as "Property 'fanMode'", when known

    def __str__(self) -> str:
        if self.element:
            return f"{self.element} ({self.dtmi}, {self.path}): {self.message}"
        return f"{self.dtmi} {self.path}: {self.message}"
