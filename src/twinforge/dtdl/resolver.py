"""Whole-batch checks: references, inheritance, names, schema depth and units."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from twinforge.dtdl import metamodel as mm
from twinforge.dtdl.adjuncts import AdjunctChecks
from twinforge.dtdl.elements import Element, ModelIssue, Ref

Lookup = Callable[[str], Element | None]


class Resolver:
    """Checks a parsed batch against itself and against already-known models."""

    def __init__(self, elements: list[Element], by_id: dict[str, Element], known: Lookup) -> None:
        self.elements = elements
        self.by_id = by_id
        self.known = known
        self.issues: list[ModelIssue] = []
        self.unresolved: set[str] = set()
        self.adjuncts = AdjunctChecks(self.deref, self.error)

    def error(self, el: Element, message: str, suffix: str = "") -> None:
        self.issues.append(ModelIssue(el.owner, el.path + suffix, message))

    def lookup(self, dtmi: str) -> Element | None:
        return self.by_id.get(dtmi) or self.known(dtmi)

    def deref(self, ref: Ref | None) -> Ref | None:
        """An inline element or primitive as is; a DTMI replaced by what it names."""
        if isinstance(ref, str) and ref.startswith("dtmi:"):
            return self.lookup(ref)
        return ref

    # -- the checks -------------------------------------------------------

    def run(self) -> list[ModelIssue]:
        self.check_references()
        if self.issues:
            # The checks below follow references; with some unresolved, report at least the
            # names an interface's own contents use twice, so every error shows at once.
            for el in self.elements:
                if el.cls == "Interface":
                    self.check_own_names(el)
            return self.issues
        for el in self.elements:
            if el.cls == "Interface":
                self.check_interface(el)
            elif el.cls == "Relationship":
                self.check_relationship(el)
            elif el.cls == "Enum":
                self.check_enum(el)
            elif el.cls == "Object":
                self.check_unique_names(el, "fields")
            elif el.cls == "Component":
                self.check_component(el)
            if el.semantic_type is not None:
                self.check_semantic(el)
            if el.cls == "Property" and el.version == 2:
                self.check_v2_property(el)
            if el.cls in ("Property", "Telemetry", "Field", "MapValue", "CommandPayload",
                          "CommandRequest", "CommandResponse", "Array") or (
                el.in_schemas or el.top_level
            ):
                self.check_schema_shape(el)
            self.adjuncts.check(el)
        return self.issues

    def check_references(self) -> None:
        for el in self.elements:
            for term, refs in el.refs.items():
                prop = mm.CLASSES[el.version][el.cls].props[term]
                for ref in refs:
                    if not isinstance(ref, str) or not ref.startswith("dtmi:"):
                        continue
                    target = self.lookup(ref)
                    if target is None:
                        self.unresolved.add(ref)
                        self.error(el, f"'{ref}' is not defined in this batch nor among stored models",
                                   f".{term}")
                        continue
                    if term == "contents" and not target.top_level:
                        self.error(el, f"'{ref}' names an element nested in another definition; "
                                   "only interfaces and named schemas can be referenced", f".{term}")
                        continue
                    if target.cls not in prop.range:
                        self.error(el, f"'{ref}' is a {target.cls}, which '{term}' does not allow",
                                   f".{term}")
                        continue
                    if not target.top_level and target.cls != "Interface":
                        # Elements nested in an interface (its schemas among them) are visible
                        # only inside that interface: not from another, nor from a nested one.
                        home, here = _interface_of(target), _interface_of(el)
                        if home is not None and (here is None or here.id != home.id):
                            where = "the schemas" if target.in_schemas else "the definition"
                            self.error(el, f"'{ref}' is declared in {where} of {home.label()} and can "
                                       "be used only inside that interface", f".{term}")

    # -- interfaces -------------------------------------------------------

    def parents(self, iface: Element) -> list[Element]:
        out: list[Element] = []
        for ref in iface.refs.get("extends", []):
            target = self.deref(ref)
            if isinstance(target, Element):
                out.append(target)
        return out

    def check_interface(self, iface: Element) -> None:
        # Cycles and depth through `extends`.
        depth = self.extends_depth(iface, [])
        if depth is None:
            self.error(iface, f"{iface.label()} extends itself through its ancestors", ".extends")
            return
        if depth > mm.max_extends_depth(iface.version):
            self.error(iface, f"extends chain is {depth} deep; the limit is "
                       f"{mm.max_extends_depth(iface.version)}", ".extends")
            return
        annotatable = {c.name: c for _, c in self.all_contents(iface)
                       if c.cls in ("Property", "Telemetry") and c.name and "ValueAnnotation" not in c.adjuncts}
        claimed: set[tuple[str, str]] = set()
        for owner, content in self.all_contents(iface):
            target = content.props.get("annotates")
            if not isinstance(target, str) or "ValueAnnotation" not in content.adjuncts:
                continue
            if target not in annotatable or target == content.name:
                self.error(content, f"'annotates' names '{target}', which is not another Property or "
                           "Telemetry of this interface (that is not itself a ValueAnnotation)", ".annotates")
            elif "Override" in content.adjuncts and owner == iface.label():
                self.adjuncts.check_override(content, annotatable[target], claimed)
        names: dict[str, str] = {}
        for owner, content in self.all_contents(iface):
            name = content.name
            if name is None:
                continue
            if name in names and names[name] != owner:
                self.error(iface, f"content name '{name}' is defined both in {names[name]} and {owner}")
            elif name in names:
                self.error(iface, f"content name '{name}' is used twice", ".contents")
            names[name] = owner

    def check_own_names(self, iface: Element) -> None:
        seen: set[str] = set()
        for ref in iface.refs.get("contents", []):
            if isinstance(ref, Element) and ref.name is not None:
                if ref.name in seen:
                    self.error(iface, f"content name '{ref.name}' is used twice", ".contents")
                seen.add(ref.name)

    def extends_depth(self, iface: Element, stack: list[Element]) -> int | None:
        if any(s is iface for s in stack):
            return None
        best = 0
        for parent in self.parents(iface):
            d = self.extends_depth(parent, [*stack, iface])
            if d is None:
                return None
            best = max(best, d + 1)
        return best

    def all_contents(self, iface: Element) -> Iterable[tuple[str, Element]]:
        seen: set[int] = set()
        order: list[Element] = []

        def visit(el: Element) -> None:
            if id(el) in seen:
                return
            seen.add(id(el))
            order.append(el)
            for parent in self.parents(el):
                visit(parent)

        visit(iface)
        for el in order:
            for ref in el.refs.get("contents", []):
                target = self.deref(ref)
                if isinstance(target, Element):
                    yield el.label(), target

    # -- contents ---------------------------------------------------------

    def check_component(self, comp: Element) -> None:
        schema = self.deref(comp.ref("schema"))
        if not isinstance(schema, Element):
            return
        for _, content in self.all_contents(schema):
            if content.cls == "Component":
                self.error(comp, "a component's interface may not itself contain components",
                           ".schema")
                return

    def check_relationship(self, rel: Element) -> None:
        lo = rel.props.get("minMultiplicity")
        hi = rel.props.get("maxMultiplicity")
        if isinstance(lo, int) and lo != 0:
            self.error(rel, "minMultiplicity must be 0", ".minMultiplicity")
        if isinstance(hi, int):
            if hi < 1:
                self.error(rel, "maxMultiplicity must be at least 1", ".maxMultiplicity")
            elif rel.version == 2 and hi > 500:
                self.error(rel, "maxMultiplicity may be at most 500 in DTDL v2", ".maxMultiplicity")
            elif isinstance(lo, int) and hi < lo:
                self.error(rel, "maxMultiplicity is below minMultiplicity", ".maxMultiplicity")
        self.check_unique_names(rel, "properties")

    def check_enum(self, enum: Element) -> None:
        self.check_unique_names(enum, "enumValues")
        value_schema = enum.ref("valueSchema")
        seen: set[object] = set()
        for ref in enum.refs.get("enumValues", []):
            ev = self.deref(ref)
            if not isinstance(ev, Element):
                continue
            value = ev.props.get("enumValue")
            if value is None:
                continue
            if value_schema == "integer" and not isinstance(value, int):
                self.error(ev, f"enumValue {value!r} is not an integer, as valueSchema requires",
                           ".enumValue")
            elif value_schema == "string" and not isinstance(value, str):
                self.error(ev, f"enumValue {value!r} is not a string, as valueSchema requires",
                           ".enumValue")
            elif value in seen:
                self.error(ev, f"enumValue {value!r} is used twice", ".enumValue")
            seen.add(value)

    def check_unique_names(self, el: Element, term: str) -> None:
        seen: set[str] = set()
        for ref in el.refs.get(term, []):
            child = self.deref(ref)
            if isinstance(child, Element) and child.name is not None:
                if child.name in seen:
                    self.error(el, f"name '{child.name}' is used twice in '{term}'", f".{term}")
                seen.add(child.name)

    def check_semantic(self, el: Element) -> None:
        assert el.semantic_type is not None
        unit_type = mm.semantic_types(el.version, True).get(el.semantic_type)
        if el.unit is not None and unit_type is not None and mm.UNIT_TYPE_OF.get(el.unit) != unit_type:
            self.error(el, f"unit '{el.unit}' is not a unit of {el.semantic_type}", ".unit")
        schema = el.ref("schema")
        if isinstance(schema, str) and not schema.startswith("dtmi:") and schema not in mm.NUMERIC:
            self.error(el, f"a {el.semantic_type} needs a numeric schema, not '{schema}'", ".schema")

    # -- schemas ----------------------------------------------------------

    def children(self, schema: Element) -> list[Ref]:
        if schema.cls == "Array":
            return schema.refs.get("elementSchema", [])
        if schema.cls == "Map":
            out: list[Ref] = []
            for ref in schema.refs.get("mapValue", []):
                mv = self.deref(ref)
                if isinstance(mv, Element):
                    out.extend(mv.refs.get("schema", []))
            return out
        if schema.cls == "Object":
            out = []
            for ref in schema.refs.get("fields", []):
                f = self.deref(ref)
                if isinstance(f, Element):
                    out.extend(f.refs.get("schema", []))
            return out
        return []

    def check_schema_shape(self, el: Element) -> None:
        root: Ref | None
        if el.cls in mm.COMPLEX_SCHEMAS:
            if el.parent is not None and el.parent.cls in mm.COMPLEX_SCHEMAS | {"Field", "MapValue"}:
                return  # checked from the outermost schema
            root = el
        else:
            root = el.ref("schema")
        target = self.deref(root)
        if not isinstance(target, Element) or target.cls not in mm.COMPLEX_SCHEMAS:
            return
        limit = mm.max_schema_depth(el.version, el.limits.schema_depth if el.limits else None)
        depth = self.schema_depth(target, [], cycles=mm.recursive_schemas(el.version))
        if depth is None:
            self.error(el, "a schema contains itself", "")
        elif depth > limit:
            self.error(el, f"complex schemas are nested {depth} deep; the limit is {limit}")
        elif el.cls == "Property" and el.version == 2 and self.contains_array(target, []):
            self.error(el, "in DTDL v2 a Property's schema may not contain an Array", ".schema")

    def check_v2_property(self, el: Element) -> None:
        schema = self.deref(el.ref("schema"))
        if isinstance(schema, str) and schema in mm.GEOSPATIAL:
            self.error(el, "in DTDL v2 a Property's schema may not be geospatial", ".schema")

    def schema_depth(self, schema: Element, stack: list[Element], *, cycles: bool = False) -> int | None:
        """How deep complex schemas nest below ``schema``; None for a schema that contains
        itself, unless ``cycles`` allows that (the reference back then adds no depth)."""
        if any(s is schema for s in stack):
            return 0 if cycles else None
        best = 0
        for ref in self.children(schema):
            child = self.deref(ref)
            if isinstance(child, Element) and child.cls in mm.COMPLEX_SCHEMAS:
                d = self.schema_depth(child, [*stack, schema], cycles=cycles)
                if d is None:
                    return None
                best = max(best, d)
        return best + 1

    def contains_array(self, schema: Element, stack: list[Element]) -> bool:
        if schema.cls == "Array":
            return True
        if any(s is schema for s in stack):
            return False
        for ref in self.children(schema):
            child = self.deref(ref)
            if isinstance(child, Element) and self.contains_array(child, [*stack, schema]):
                return True
        return False


def _interface_of(el: Element) -> Element | None:
    """The interface an element sits in (itself, for an interface); None for a free-standing schema."""
    node: Element | None = el
    while node is not None and node.cls != "Interface":
        node = node.parent
    return node

