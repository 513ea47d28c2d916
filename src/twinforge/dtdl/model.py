"""ModelSet: a resolved set of DTDL interfaces, and the entry point `parse_models`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from twinforge.dtdl import metamodel as mm
from twinforge.dtdl.elements import Element, ModelIssue, Ref
from twinforge.dtdl.errors import ModelError
from twinforge.dtdl.issues import describe
from twinforge.dtdl.parser import Parser
from twinforge.dtdl.resolver import Resolver
from twinforge.dtdl.values import check_primitive, check_schema, check_value


@dataclass(slots=True)
class InterfaceView:
    """An interface with its inherited contents flattened, ready for twin validation."""

    dtmi: str
    version: int
    element: Element
    extends: list[str] = field(default_factory=list)
    ancestors: list[str] = field(default_factory=list)  # self first, then every ancestor
    properties: dict[str, Element] = field(default_factory=dict)
    telemetry: dict[str, Element] = field(default_factory=dict)
    relationships: dict[str, Element] = field(default_factory=dict)
    components: dict[str, str] = field(default_factory=dict)
    commands: dict[str, Element] = field(default_factory=dict)

    @property
    def display_name(self) -> dict[str, str]:
        value = self.element.props.get("displayName")
        return value if isinstance(value, dict) else {}

    @property
    def description(self) -> dict[str, str]:
        value = self.element.props.get("description")
        return value if isinstance(value, dict) else {}


class ModelSet:
    """Parsed, resolved DTDL elements, looked up by DTMI."""

    def __init__(self, by_id: dict[str, Element], roots: list[Element]) -> None:
        self._by_id = by_id
        self._roots = roots
        self._views: dict[str, InterfaceView] = {}
        self._member_cache: dict[str, dict[str, tuple[str, Ref | None]]] = {}
        self._required_cache: dict[str, tuple[str, ...]] = {}
        self._descendants: dict[str, list[str]] | None = None

    # -- lookup -----------------------------------------------------------

    def __contains__(self, dtmi: object) -> bool:
        return dtmi in self._by_id

    def __len__(self) -> int:
        return sum(1 for e in self._by_id.values() if e.cls == "Interface")

    def element(self, dtmi: str) -> Element | None:
        """The element with this DTMI (an interface or a named schema), or None."""
        return self._by_id.get(dtmi)

    def interface_ids(self) -> list[str]:
        """The DTMI of every interface, top-level or nested."""
        return [k for k, e in self._by_id.items() if e.cls == "Interface"]

    def root_ids(self) -> list[str]:
        """The DTMIs of the top-level interfaces of the parsed documents."""
        return [e.id for e in self._roots if e.id is not None]

    def deref(self, ref: Ref | None) -> Ref | None:
        """A reference resolved: a DTMI replaced by the element it names."""
        if isinstance(ref, str) and ref.startswith("dtmi:"):
            return self._by_id.get(ref)
        return ref

    def interface(self, dtmi: str) -> InterfaceView:
        """An interface with everything it inherits through ``extends``, by kind of content."""
        view = self._views.get(dtmi)
        if view is not None:
            return view
        el = self._by_id.get(dtmi)
        if el is None or el.cls != "Interface":
            raise KeyError(dtmi)
        view = InterfaceView(dtmi=dtmi, version=el.version, element=el)
        for ref in el.refs.get("extends", []):
            parent = self.deref(ref)
            if isinstance(parent, Element) and parent.id:
                view.extends.append(parent.id)
        order: list[str] = [dtmi]
        for parent_id in view.extends:
            for a in self.interface(parent_id).ancestors:
                if a not in order:
                    order.append(a)
        view.ancestors = order
        for a in reversed(order):
            iface = self._by_id[a]
            for ref in iface.refs.get("contents", []):
                content = self.deref(ref)
                if not isinstance(content, Element) or content.name is None:
                    continue
                name = content.name
                if content.cls == "Property":
                    view.properties[name] = content
                elif content.cls == "Telemetry":
                    view.telemetry[name] = content
                elif content.cls == "Relationship":
                    view.relationships[name] = content
                elif content.cls == "Command":
                    view.commands[name] = content
                elif content.cls == "Component":
                    schema = self.deref(content.ref("schema"))
                    if isinstance(schema, Element) and schema.id:
                        view.components[name] = schema.id
        self._views[dtmi] = view
        return view

    def is_of_model(self, dtmi: str, base: str) -> bool:
        """True when ``dtmi`` is ``base`` or extends it, directly or not."""
        return dtmi in self._by_id and base in self.interface(dtmi).ancestors

    def descendants(self, base: str) -> list[str]:
        """``base`` and every interface that extends it, directly or not."""
        if self._descendants is None:
            table: dict[str, list[str]] = {}
            for dtmi in self.interface_ids():
                for ancestor in self.interface(dtmi).ancestors:
                    table.setdefault(ancestor, []).append(dtmi)
            self._descendants = table
        return self._descendants.get(base, [])

    # -- validation -------------------------------------------------------

    def validate_value(self, dtmi: str, value: Any) -> list[str]:
        """Problems of ``value`` against the interface, named schema or primitive schema
        ``dtmi`` (``dtmi:dtdl:instance:Schema:double;3``, or a term such as ``double``);
        empty if it conforms."""
        el = self._by_id.get(dtmi)
        if el is None:
            primitive = primitive_schema(dtmi)
            if primitive is not None:
                problem = check_primitive(primitive, value)
                return [f"$: {problem}"] if problem else []
            return [f"unknown model or schema '{dtmi}'"]
        if el.cls == "Interface":
            return self.validate_twin(dtmi, value)
        return check_value(el, value, "", self.deref)

    def validate_twin(self, dtmi: str, doc: Any, *, path: str = "", partial: bool = False) -> list[str]:
        """Problems of a twin (or component) document against interface ``dtmi``.

        Keys starting with ``$`` are system properties and are skipped. With
        ``partial`` the document may lack components (as after a patch).
        """
        if not isinstance(doc, dict):
            return [f"{path or '$'}: a twin or component must be a JSON object"]
        members = self._members(dtmi)
        problems: list[str] = []
        for key, value in doc.items():
            if key[:1] == "$":
                continue
            kind, target = members.get(key, _UNKNOWN)
            if kind == "property":
                if isinstance(target, str):
                    problem = check_primitive(target, value)
                    if problem:
                        problems.append(f"{path}.{key}: {problem}" if path else f"{key}: {problem}")
                else:
                    problems.extend(check_schema(target, value, f"{path}.{key}" if path else key,
                                                 self.deref))
                continue
            where = f"{path}.{key}" if path else key
            if kind == "component":
                problems.extend(self.validate_twin(str(target), value, path=where, partial=partial))
            elif kind == "telemetry":
                problems.append(f"{where}: '{key}' is telemetry and cannot be stored on the twin")
            elif kind == "relationship":
                problems.append(f"{where}: '{key}' is a relationship; use the relationships API")
            else:
                problems.append(f"{where}: '{key}' is not a property of {dtmi}")
        # The Requirement extension (version 2): a Property co-typed Required must have a value.
        for name in self._required(dtmi):
            if doc.get(name) is None:
                where = f"{path}.{name}" if path else name
                problems.append(f"{where}: the required property '{name}' is missing")
        return problems

    def _required(self, dtmi: str) -> tuple[str, ...]:
        required = self._required_cache.get(dtmi)
        if required is None:
            props = self.interface(dtmi).properties
            required = tuple(name for name, p in props.items() if "Required" in p.adjuncts)
            self._required_cache[dtmi] = required
        return required

    def member_table(self, dtmi: str) -> dict[str, tuple[str, Ref | None]]:
        """Name -> (kind, resolved schema or component interface); kind is property, telemetry,
        relationship or component. Cached per interface."""
        return self._members(dtmi)

    def _members(self, dtmi: str) -> dict[str, tuple[str, Ref | None]]:
        """Name -> (kind, resolved schema or component interface), cached per interface."""
        members = self._member_cache.get(dtmi)
        if members is None:
            view = self.interface(dtmi)
            members = {}
            for name in view.telemetry:
                members[name] = ("telemetry", None)
            for name in view.relationships:
                members[name] = ("relationship", None)
            for name, comp in view.components.items():
                members[name] = ("component", comp)
            for name, prop in view.properties.items():
                members[name] = ("property", self.deref(prop.ref("schema")))
            self._member_cache[dtmi] = members
        return members

    # -- combining --------------------------------------------------------

    def merged_with(self, other: ModelSet) -> ModelSet:
        """A model set holding the elements of both."""
        return ModelSet({**self._by_id, **other._by_id}, [*self._roots, *other._roots])

    def without(self, dtmis: Iterable[str]) -> ModelSet:
        """A model set without these top-level interfaces."""
        drop = set(dtmis)
        by_id = {k: e for k, e in self._by_id.items() if e.owner not in drop and k not in drop}
        return ModelSet(by_id, [r for r in self._roots if r.id not in drop])

    def dependencies(self, dtmi: str) -> set[str]:
        """Interfaces outside ``dtmi``'s own document that it references."""
        root = self._by_id[dtmi]
        out: set[str] = set()
        for el in _walk(root, set()):
            for refs in el.refs.values():
                for ref in refs:
                    if isinstance(ref, str) and ref.startswith("dtmi:"):
                        target = self._by_id.get(ref)
                        owner = target.owner if target else ref
                        if owner != root.owner:
                            out.add(owner)
        return out


_UNKNOWN: tuple[str, Ref | None] = ("unknown", None)


_PRIMITIVE_DTMI = re.compile(
    r"^dtmi:(?:dtdl:instance:Schema|standard:schema:geospatial|standard:schema):([A-Za-z]+);([234])$")


def primitive_schema(name: str) -> str | None:
    """The primitive schema a term or a standard schema DTMI names, or None."""
    m = _PRIMITIVE_DTMI.match(name)
    term = m.group(1) if m else name
    version = int(m.group(2)) if m else 4
    if term in mm.primitives(version) or term in mm.GEOSPATIAL or (version >= 3 and term == "scaledDecimal"):
        return term
    return None


def _walk(el: Element, seen: set[int]) -> Iterator[Element]:
    if id(el) in seen:
        return
    seen.add(id(el))
    yield el
    for refs in el.refs.values():
        for ref in refs:
            if isinstance(ref, Element):
                yield from _walk(ref, seen)


Resolve = Callable[[list[str]], list[Any]]
MAX_RESOLVE_ROUNDS = 64


def parse_models(
    documents: list[Any],
    *,
    allow_undefined_extensions: bool = False,
    known: ModelSet | None = None,
    resolver: Resolve | None = None,
    sources: Sequence[str] | None = None,
) -> ModelSet:
    """Parse, resolve and check a batch of DTDL documents.

    ``documents`` is a list of DTDL JSON documents, each an interface or an
    array of interfaces. References may point into ``known`` (models already
    stored), or be fetched by ``resolver``: a callable that takes the DTMIs still
    undefined and returns documents defining them (or fewer; what stays undefined is an
    error naming it). Fetched documents join the batch, and their own references are
    resolved the same way. ``sources`` names where each document came from (a file name),
    for error messages. Raises `ModelError` listing every problem found, each naming the
    element at fault.
    """
    if not isinstance(documents, list):
        raise ModelError([ModelIssue("(batch)", "$", "expected a list of DTDL documents")])
    lookup = known.element if known is not None else (lambda _dtmi: None)
    batch = list(documents)
    asked: set[str] = set()
    # One parser for every round: fetched documents are parsed once, added to what is there.
    parser = Parser(allow_undefined_extensions=allow_undefined_extensions)
    roots = parser.parse_documents(batch)
    for _ in range(MAX_RESOLVE_ROUNDS):
        checker = Resolver(parser.elements, parser.by_id, lookup)
        try:
            issues = checker.run()
        except Exception:
            # Resolving what did not parse cleanly can trip over the broken parts: the parse
            # errors are then the ones to report.
            if not parser.issues:
                raise
            issues = []
        wanted = sorted(checker.unresolved - asked) if resolver is not None else []
        if not wanted:
            break
        asked.update(wanted)
        fetched = resolver(wanted) if resolver is not None else []
        if not fetched:
            break
        roots.extend(parser.parse_documents(fetched, start=len(batch)))
        batch.extend(fetched)
    # Every problem at once: reference and duplicate-name errors are found even where
    # other parts of the batch did not parse.
    seen = {str(i) for i in parser.issues}
    every = parser.issues + [i for i in issues if str(i) not in seen]
    if every:
        raise ModelError(describe(every, batch, sources))
    by_id = dict(parser.by_id)
    if known is not None:
        by_id = {**known._by_id, **by_id}
    return ModelSet(by_id, roots)


__all__ = ["InterfaceView", "ModelSet", "Resolve", "mm", "parse_models", "primitive_schema"]
