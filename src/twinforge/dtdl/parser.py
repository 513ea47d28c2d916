"""Parse DTDL v2/v3/v4 JSON-LD documents into Elements, checking each one locally.

Checks that need the whole batch (references, inheritance, names across
`extends`, schema depth) live in `resolver.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from twinforge.dtdl import metamodel as mm
from twinforge.dtdl.dtmi import LANGUAGE_TAG, NAME_PATTERN, TERM, is_dtmi, is_reserved, is_user_dtmi
from twinforge.dtdl.elements import Element, ModelIssue, Ref

_KEYWORDS = {"@id", "@type", "@context"}
_STRUCTURAL_KEYWORDS = {"@graph", "@list", "@set", "@reverse", "@index", "@nest", "@included"}
_CLASS_DTMI = re.compile(r"^dtmi:dtdl:class:([A-Za-z]+);([234])$")
_PROP_DTMI = re.compile(r"^dtmi:dtdl:property:([A-Za-z]+);([234])$")
_SCHEMA_DTMI = re.compile(r"^dtmi:dtdl:instance:Schema:([A-Za-z]+);([234])$")
_GEO_DTMI = re.compile(r"^dtmi:standard:schema:geospatial:([A-Za-z]+);([234])$")
_SEMANTIC_DTMI = re.compile(r"^dtmi:standard:class:([A-Za-z]+);([234])$")
_UNIT_DTMI = re.compile(r"^dtmi:standard:unit:([A-Za-z]+);([234])$")
_COMMAND_TYPE_DTMI = re.compile(r"^dtmi:dtdl:instance:CommandType:([A-Za-z]+);[234]$")
# Classes whose @type may be left out where the property fixes it.
_INFERABLE = {"EnumValue", "Field", "MapKey", "MapValue", "CommandPayload", "CommandRequest",
              "CommandResponse"}
# Properties whose values must be of the same DTDL version as their parent.
_SAME_VERSION_ONLY = {"schemas", "enumValues", "mapKey", "mapValue", "fields"}
# ... and, from v4 on, a Command's request and response.
_SAME_VERSION_FROM_V4 = {"request", "response"}
_XSD_IRI = "http://www.w3.org/2001/XMLSchema#"
_XSD = {"string": "xsd:string", "boolean": "xsd:boolean", "integer": "xsd:integer"}


@dataclass(frozen=True, slots=True)
class Scope:
    """What an element inherits from the elements around it."""

    version: int
    quantitative: bool
    tolerant: bool  # an undefined extension is in force: unknown terms are allowed
    iotcentral: bool = False  # the IoT Central extension is in force
    features: frozenset[str] = frozenset()  # feature extensions in force (historization, ...)


def primitive_term(value: str, version: int, iotcentral: bool = False) -> str | None:
    """The primitive schema a term or its DTMI form names, if any (with the IoT Central
    extension in force, its geopoint and vector too)."""
    if value in mm.primitives(version) or value in mm.GEOSPATIAL:
        return value
    if iotcentral and value in mm.IOTCENTRAL_SCHEMAS:
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


class Parser:
    """Turns a batch of documents into Elements and a list of issues."""

    def __init__(self, *, allow_undefined_extensions: bool) -> None:
        self.allow_undefined = allow_undefined_extensions
        self.issues: list[ModelIssue] = []
        self.elements: list[Element] = []
        self.by_id: dict[str, Element] = {}
        self.adjuncts: set[str] = set()  # the adjunct types read_type found on the element at hand

    # -- reporting --------------------------------------------------------

    def error(self, owner: str, path: str, message: str) -> None:
        self.issues.append(ModelIssue(owner, path, message))

    # -- entry ------------------------------------------------------------

    def parse_documents(self, documents: list[Any]) -> list[Element]:
        roots: list[Element] = []
        for i, doc in enumerate(documents):
            items = doc if isinstance(doc, list) else [doc]
            if not isinstance(doc, (list, dict)):
                self.error("(document)", f"$[{i}]", "a DTDL document must be a JSON object or array")
                continue
            for j, item in enumerate(items):
                path = f"$[{i}]" if isinstance(doc, dict) else f"$[{i}][{j}]"
                el = self.parse_top(item, path)
                if el is not None:
                    roots.append(el)
        return roots

    def parse_top(self, obj: Any, path: str) -> Element | None:
        raw_id = obj.get("@id") if isinstance(obj, dict) else None
        owner: str = raw_id if isinstance(raw_id, str) else path
        if not isinstance(obj, dict):
            self.error(owner, path, "a top-level element must be a JSON object")
            return None
        if "@context" not in obj:
            self.error(owner, path, "a top-level element must have @context naming a DTDL version")
            return None
        scope = self.read_context(obj["@context"], None, owner, path)
        if scope is None:
            return None
        return self.parse_element(obj, path, owner, frozenset({"Interface"}), scope,
                                  top_level=True, context_done=True)

    # -- @context ---------------------------------------------------------

    def read_context(self, ctx: Any, parent: Scope | None, owner: str, path: str) -> Scope | None:
        where = f"{path}.@context"
        if isinstance(ctx, str):
            values = [ctx]
        elif isinstance(ctx, list):
            values = ctx
        else:
            self.error(owner, where, "@context must be a string or an array of strings")
            return None
        if not all(isinstance(v, str) for v in values):
            self.error(owner, where, "every @context value must be a string")
            return None
        version = parent.version if parent else None
        quantitative = parent.quantitative if parent else False
        tolerant = parent.tolerant if parent else False
        iotcentral = parent.iotcentral if parent else False
        features = set(parent.features) if parent else set()
        seen_dtdl = False
        skip = -1
        for k, value in enumerate(values):
            if k == skip:
                continue
            if value in mm.LIMITS_CONTEXTS or mm.LIMIT_EXTENSION.match(value):
                self.error(owner, where, f"'{value}' may only follow '{mm.LIMITLESS_CONTEXT}'")
                return None
            if value == mm.LIMITLESS_CONTEXT:
                # DTDL v4 without its limits, which the next context must set: the core
                # limits (#limits, or the core context itself) or a limit extension.
                following = values[k + 1] if k + 1 < len(values) else None
                if following is None or not (following in mm.LIMITS_CONTEXTS or following == "dtmi:dtdl:context;4"
                                             or mm.LIMIT_EXTENSION.match(following)):
                    self.error(owner, where, f"'{value}' must be followed by a limits context "
                               f"('{mm.CORE_LIMITS_CONTEXT}' or a limit extension)")
                    return None
                if following != "dtmi:dtdl:context;4":
                    skip = k + 1  # the limits context is taken; the core context is read as usual
            if value in mm.DTDL_CONTEXTS:
                v = mm.DTDL_CONTEXTS[value]
                if parent is not None and v > parent.version:
                    self.error(owner, where, f"'{value}' is a later DTDL version than the enclosing element's")
                    return None
                if parent is None and k > 0 and not seen_dtdl:
                    prior = values[:k]
                    if not all(p == "dtmi:iotcentral:context;2" for p in prior) or v != 2:
                        self.error(owner, where, "the DTDL context must come first in @context")
                        return None
                version = v
                seen_dtdl = True
                continue
            if not is_dtmi(value, 3) or ";" not in value:
                self.error(owner, where, f"@context value '{value}' is not a DTMI with a version")
                return None
            if value.startswith("dtmi:dtdl:context;"):
                self.error(owner, where, f"'{value}' is not a DTDL version this parser knows")
                return None
            if parent is None and not seen_dtdl and value != "dtmi:iotcentral:context;2":
                self.error(owner, where, "the DTDL context must come first in @context")
                return None
            known = mm.KNOWN_EXTENSIONS.get(value)
            if known is not None and (version is None or version in known):
                if value == mm.QUANTITATIVE_TYPES:
                    quantitative = True
                elif value == mm.IOTCENTRAL:
                    # Its schemas and adjunct types are checked; IoT Central templates also
                    # carry display hints (displayUnit, decimalPlaces, ...): left unchecked.
                    iotcentral = tolerant = True
                elif value in mm.FEATURES:
                    features.add(mm.FEATURES[value])
                else:
                    tolerant = True
                continue
            if not self.allow_undefined:
                self.error(owner, where, f"undefined extension context '{value}'")
                return None
            tolerant = True
        if version is None:
            self.error(owner, where, "@context must name a DTDL context (dtmi:dtdl:context;2, ;3 or ;4)")
            return None
        return Scope(version, quantitative, tolerant, iotcentral, frozenset(features))

    # -- elements ---------------------------------------------------------

    def parse_element(
        self,
        obj: Any,
        path: str,
        owner: str,
        expected: frozenset[str],
        scope: Scope,
        *,
        top_level: bool = False,
        in_schemas: bool = False,
        parent: Element | None = None,
        context_done: bool = False,
    ) -> Element | None:
        if not isinstance(obj, dict):
            self.error(owner, path, "expected a JSON object")
            return None
        if not context_done and "@context" in obj:
            inner = self.read_context(obj["@context"], scope, owner, path)
            if inner is None:
                return None
            scope = inner
        version = scope.version
        for key in obj:
            if key.startswith("@") and key not in _KEYWORDS and (
                version >= 3 or key in _STRUCTURAL_KEYWORDS
            ):
                self.error(owner, path, f"keyword '{key}' is not allowed in DTDL")
        self.adjuncts = set()
        cls, semantic, open_type = self.read_type(obj, path, owner, expected, scope)
        if cls is None:
            return None
        adjuncts = self.adjuncts  # children parsed below set their own
        extra = {name: required for adjunct in adjuncts if adjunct in mm.ADJUNCTS
                 for name, required in mm.ADJUNCTS[adjunct].props.items()}
        cdef = mm.CLASSES[version][cls]
        el = Element(cls=cls, version=version, path=path, owner=owner, top_level=top_level,
                     in_schemas=in_schemas, parent=parent, semantic_type=semantic)
        self.read_id(obj, el, cdef.id_required or in_schemas)
        self.elements.append(el)

        seen: dict[str, str] = {}
        for key, value in obj.items():
            if key.startswith("@"):
                continue
            term = key
            m = _PROP_DTMI.match(key)
            if m and int(m.group(2)) == version:
                term = m.group(1)
            if term in seen:
                self.error(owner, f"{path}.{key}", f"'{term}' is given both as a term and as a DTMI")
                continue
            seen[term] = key
            prop = cdef.props.get(term)
            if prop is None and term in extra:
                if not isinstance(value, str) or not value:
                    self.error(owner, f"{path}.{key}", f"'{term}' must be a non-empty string")
                else:
                    el.props[term] = value
                continue
            if prop is None:
                if term == "unit" and semantic is not None:
                    self.read_unit(value, el, f"{path}.{key}", scope)
                    continue
                if (open_type or scope.iotcentral) and (version == 2 or TERM.match(key) or is_dtmi(key, version)):
                    continue  # an undefined co-type (or IoT Central's display hints) may bring properties
                if term in mm.ALL_TERMS[version] or key.startswith("dtmi:"):
                    self.error(owner, f"{path}.{key}", f"'{key}' is not a property of {cls}")
                else:
                    self.error(owner, f"{path}.{key}", f"undefined term '{key}' on {cls}")
                continue
            self.read_property(el, term, prop, value, f"{path}.{key}", scope)
        for term, prop in cdef.props.items():
            if prop.required and term not in seen:
                self.error(owner, path, f"{cls} requires property '{term}'")
        for term, required in extra.items():
            if required and term not in seen:
                self.error(owner, path, f"a {cls} co-typed {'/'.join(sorted(adjuncts))} requires '{term}'")
        if semantic is not None and "unit" not in seen:
            self.error(owner, path, f"semantic type {semantic} requires a 'unit'")
        return el

    def read_type(
        self, obj: dict[str, Any], path: str, owner: str, expected: frozenset[str], scope: Scope
    ) -> tuple[str | None, str | None, bool]:
        version = scope.version
        raw = obj.get("@type")
        if raw is None:
            if "@type" not in obj and len(expected) == 1 and next(iter(expected)) in _INFERABLE:
                return next(iter(expected)), None, False
            self.error(owner, path, "element needs an @type")
            return None, None, False
        types = raw if isinstance(raw, list) else [raw]
        if not isinstance(raw, (str, list)) or not types or not all(isinstance(t, str) for t in types):
            self.error(owner, f"{path}.@type", "@type must be a string or a non-empty array of strings")
            return None, None, False
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
            if scope.iotcentral and t in mm.IOTCENTRAL_TYPES:
                adjuncts.add(t)
                continue
            feature = mm.ADJUNCTS.get(t)
            if feature is not None and feature.feature in scope.features:
                adjuncts.add(t)
                continue
            s = _SEMANTIC_DTMI.match(t)
            sname = s.group(1) if s and int(s.group(2)) == version else t
            if sname in sem_table:
                semantics.add(sname)
                continue
            if self.undefined_type_ok(t, version, scope):
                undefined = True
                continue
            if t.startswith("dtmi:") and not is_dtmi(t, version):
                self.error(owner, f"{path}.@type", f"'{t}' in @type is not a valid DTMI")
            else:
                self.error(owner, f"{path}.@type", f"'{t}' in @type is not a DTDL type")
            ok = False
        if not ok:
            return None, None, False
        if len(materials) != 1:
            what = "no DTDL class" if not materials else "more than one DTDL class"
            self.error(owner, f"{path}.@type", f"@type names {what}: {types}")
            return None, None, False
        cls = next(iter(materials))
        if expected and cls not in expected:
            allowed = ", ".join(sorted(expected))
            self.error(owner, f"{path}.@type", f"a {cls} is not allowed here (expected {allowed})")
            return None, None, False
        for adjunct in sorted(adjuncts):
            rule = mm.ADJUNCTS.get(adjunct)
            cotypes = rule.cotypes if rule is not None else frozenset({"Property", "Telemetry"})
            if cls not in cotypes:
                where = "" if rule is not None else " (IoT Central)"
                self.error(owner, f"{path}.@type", f"{adjunct}{where} may co-type only a "
                           f"{' or a '.join(sorted(cotypes))}, not a {cls}")
                return None, None, False
            if rule is not None and rule.requires is not None and rule.requires not in adjuncts:
                self.error(owner, f"{path}.@type", f"{adjunct} may co-type a {cls} only if it is also {rule.requires}")
                return None, None, False
        self.adjuncts = adjuncts
        if "State" in adjuncts:
            schema = obj.get("schema")
            inline = schema[0] if isinstance(schema, list) and len(schema) == 1 else schema
            kind = inline.get("@type") if isinstance(inline, dict) else None
            if (isinstance(inline, str) and not inline.startswith("dtmi:")) or (
                    isinstance(inline, dict) and kind != "Enum"):
                self.error(owner, f"{path}.schema", "a State (IoT Central) must have an Enum schema")
                return None, None, False
        if semantics:
            if cls not in ("Property", "Telemetry", "Field") or (cls == "Field" and version == 2):
                self.error(owner, f"{path}.@type", f"a semantic type cannot be applied to {cls}")
                return None, None, False
            if len(semantics) > 1:
                self.error(owner, f"{path}.@type", f"more than one semantic type: {sorted(semantics)}")
                return None, None, False
        return cls, (next(iter(semantics)) if semantics else None), undefined

    @staticmethod
    def undefined_type_ok(t: str, version: int, scope: Scope) -> bool:
        """May ``t`` stand in @type as a co-type the parser does not define?"""
        if scope.tolerant:
            return bool(TERM.match(t)) or is_dtmi(t, version) or (
                version == 2 and not t.startswith("dtmi:")
            )
        if version == 2:
            return not t.startswith("dtmi:") and t not in mm.LANGUAGE_TERMS[2]
        return False

    def read_id(self, obj: dict[str, Any], el: Element, required: bool) -> None:
        if "@id" not in obj:
            if required:
                self.error(el.owner, el.path, f"{el.cls} needs an @id here")
            return
        value = obj["@id"]
        where = f"{el.path}.@id"
        if not isinstance(value, str):
            self.error(el.owner, where, "@id must be a single DTMI string")
            return
        if not is_user_dtmi(value, el.version):
            self.error(el.owner, where, f"@id '{value}' is not a valid DTMI")
            return
        if is_reserved(value):
            self.error(el.owner, where, f"@id '{value}' uses a reserved prefix")
            return
        limit = 128 if el.cls == "Interface" else 2048
        if len(value) > limit:
            self.error(el.owner, where, f"@id is longer than {limit} characters")
            return
        if value in self.by_id:
            self.error(el.owner, where, f"@id '{value}' is defined more than once")
            return
        el.id = value
        self.by_id[value] = el

    # -- property values --------------------------------------------------

    def read_property(
        self, el: Element, term: str, prop: mm.Prop, value: Any, path: str, scope: Scope
    ) -> None:
        owner = el.owner
        if prop.kind == "element":
            self.read_refs(el, term, prop, value, path, scope)
            return
        if prop.kind == "langstring":
            self.read_langstring(el, term, prop, value, path)
            return
        if isinstance(value, list):
            if not value and not prop.required:
                return
            if len(value) != 1:
                self.error(owner, path, f"'{term}' takes exactly one value")
                return
            value = value[0]
        if prop.kind == "dtmi" and not isinstance(value, str):
            self.error(owner, path, f"'{term}' must be a DTMI string")
            return
        if prop.kind in ("string", "name", "dtmi", "commandtype"):
            text = self.literal(value, "string", owner, path, el.version)
            if text is None:
                return
            if prop.kind == "dtmi":
                if not is_user_dtmi(text, el.version):
                    self.error(owner, path, f"'{text}' is not a valid DTMI")
                    return
            elif prop.kind == "commandtype":
                m = _COMMAND_TYPE_DTMI.match(text)
                text = m.group(1) if m else text
                if text not in mm.COMMAND_TYPES:
                    self.error(owner, path, f"commandType must be synchronous or asynchronous, not '{text}'")
                    return
            if prop.kind == "name" and not NAME_PATTERN.match(text):
                self.error(owner, path, f"name '{text}' must start with a letter and hold only letters, digits and underscores")
                return
            if prop.max_length is not None and len(text) > prop.max_length:
                self.error(owner, path, f"'{term}' is longer than {prop.max_length} characters")
                return
            el.props[term] = text
        elif prop.kind == "boolean":
            flag = self.literal(value, "boolean", owner, path, el.version)
            if flag is not None:
                el.props[term] = flag
        elif prop.kind == "integer":
            number = self.literal(value, "integer", owner, path, el.version)
            if number is not None:
                el.props[term] = number
        elif prop.kind == "enumvalue":
            if isinstance(value, dict):
                # A JSON-LD value object must say what its literal is: xsd:string for a
                # string, xsd:integer for an integer (anything else is not an enumValue).
                kind = "string" if isinstance(value.get("@value"), str) else "integer"
                value = self.literal(value, kind, owner, path, el.version)
                if value is None:
                    return
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                self.error(owner, path, f"enumValue must be an integer or a string, got {value!r}"[:200])
                return
            el.props[term] = value

    def literal(self, value: Any, kind: str, owner: str, path: str, version: int) -> Any:
        """A plain JSON literal, or a JSON-LD value object holding one."""
        if isinstance(value, dict):
            extra = set(value) - {"@value", "@type"}
            if version >= 3 and extra:
                self.error(owner, path, f"a value object may hold only @value and @type, not {sorted(extra)}")
                return None
            for key in value:
                if not key.startswith("@"):
                    self.error(owner, path, f"a value object may hold only keywords, not '{key}'")
                    return None
                if key in ("@id", "@context", "@graph"):
                    self.error(owner, path, f"a value object may not hold '{key}'")
                    return None
            if "@value" not in value:
                self.error(owner, path, "a value object needs '@value'")
                return None
            dtype = value.get("@type", _XSD[kind])
            if isinstance(dtype, list) and len(dtype) == 1:
                dtype = dtype[0]
            if dtype not in (_XSD[kind], _XSD[kind].replace("xsd:", _XSD_IRI)):
                self.error(owner, path, f"a value object's @type must be {_XSD[kind]}")
                return None
            value = value["@value"]
        ok = {
            "string": isinstance(value, str),
            "boolean": isinstance(value, bool),
            "integer": isinstance(value, int) and not isinstance(value, bool),
        }[kind]
        if not ok:
            article = "an" if kind[0] in "aeiou" else "a"
            self.error(owner, path, f"expected {article} {kind}, got {type(value).__name__}: {value!r}"[:200])
            return None
        return value

    def read_langstring(self, el: Element, term: str, prop: mm.Prop, value: Any, path: str) -> None:
        owner = el.owner
        out: dict[str, str] = {}
        limit = prop.max_length or 512

        def put(lang: str, text: Any, where: str) -> bool:
            if not isinstance(text, str):
                self.error(owner, where, f"'{term}' values must be strings")
                return False
            if lang and not LANGUAGE_TAG.match(lang):
                self.error(owner, where, f"'{lang}' is not a language code")
                return False
            if lang in out:
                self.error(owner, where, f"'{term}' has two values for language '{lang or 'default'}'")
                return False
            if len(text) > limit:
                self.error(owner, where, f"'{term}' is longer than {limit} characters")
                return False
            out[lang] = text
            return True

        if isinstance(value, str):
            put("en", value, path)
        elif isinstance(value, dict):
            for lang, text in value.items():
                if not put(lang, text, f"{path}.{lang}"):
                    return
        if isinstance(value, list):
            for k, item in enumerate(value):
                where = f"{path}[{k}]"
                if isinstance(item, str):
                    if not put("en", item, where):
                        return
                elif isinstance(item, dict):
                    extra = set(item) - {"@value", "@language"}
                    if el.version >= 3:
                        bad = extra
                    else:
                        bad = {x for x in extra if x in ("@id", "@context", "@graph") or not x.startswith("@")}
                    if bad:
                        self.error(owner, where, f"a language value may hold only @value and @language, not {sorted(bad)}")
                        return
                    if "@value" not in item:
                        self.error(owner, where, "a language value needs '@value'")
                        return
                    lang = item.get("@language", "en")
                    if not isinstance(lang, str):
                        self.error(owner, where, "@language must be a string")
                        return
                    if not put(lang, item["@value"], where):
                        return
                else:
                    self.error(owner, where, f"'{term}' values must be strings or language objects")
                    return
        elif not isinstance(value, (str, dict)):
            self.error(owner, path, f"'{term}' must be a string, a language map or an array")
            return
        el.props[term] = out

    def read_unit(self, value: Any, el: Element, path: str, scope: Scope) -> None:
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if not isinstance(value, str):
            self.error(el.owner, path, "unit must be a string naming a unit")
            return
        m = _UNIT_DTMI.match(value)
        unit = m.group(1) if m and int(m.group(2)) == el.version else value
        if unit not in mm.UNIT_TYPE_OF:
            self.error(el.owner, path, f"'{value}' is not a known unit")
            return
        el.unit = unit

    def read_refs(
        self, el: Element, term: str, prop: mm.Prop, value: Any, path: str, scope: Scope
    ) -> None:
        owner = el.owner
        items = value if isinstance(value, list) else [value]
        if not prop.plural and isinstance(value, list):
            if len(value) > 1 or (prop.required and not value):
                self.error(owner, path, f"'{term}' takes exactly one value, not {len(value)}")
                return
        elif prop.plural and len(items) < prop.min_count:
            self.error(owner, path, f"'{term}' needs at least {prop.min_count} value(s)")
            return
        elif prop.max_count is not None and len(items) > prop.max_count:
            self.error(owner, path, f"'{term}' holds {len(items)} values; at most {prop.max_count} are allowed")
            return
        out: list[Ref] = []
        for k, item in enumerate(items):
            where = f"{path}[{k}]" if isinstance(value, list) else path
            if isinstance(item, str):
                prim = primitive_term(item, el.version, scope.iotcentral) if prop.primitive_ok else None
                if prim is not None:
                    if term == "valueSchema" and prim not in ("integer", "string"):
                        self.error(owner, where, "an Enum's valueSchema must be integer or string")
                        continue
                    if el.cls == "MapKey" and term == "schema" and prim != "string":
                        self.error(owner, where, "a MapKey's schema must be string")
                        continue
                    out.append(prim)
                elif prop.primitive_ok and not prop.range:
                    self.error(owner, where, f"'{item}' is not an allowed value of '{term}'")
                elif is_dtmi(item, el.version):
                    out.append(item)
                else:
                    self.error(owner, where, f"'{item}' is neither a DTMI nor a term allowed for '{term}'")
            elif isinstance(item, dict):
                if not prop.range:
                    self.error(owner, where, f"'{term}' must be a primitive schema term")
                    continue
                child = self.parse_element(item, where, owner, prop.range, scope,
                                           in_schemas=(term == "schemas"), parent=el)
                if child is not None and child.version < el.version and (
                        term in _SAME_VERSION_ONLY or (el.version >= 4 and term in _SAME_VERSION_FROM_V4)):
                    self.error(owner, where, f"a DTDL v{child.version} element cannot be a value "
                               f"of '{term}' in a DTDL v{el.version} element")
                    continue
                if child is not None:
                    out.append(child)
            else:
                self.error(owner, where, f"'{term}' values must be objects or DTMI strings")
        el.refs[term] = out
