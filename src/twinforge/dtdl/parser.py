"""Parse DTDL v2/v3/v4 JSON-LD documents into Elements, checking each one locally.

Checks that need the whole batch (references, inheritance, names across
`extends`, schema depth) live in `resolver.py`.
"""

from __future__ import annotations

import re
from typing import Any

from twinforge.dtdl import metamodel as mm
from twinforge.dtdl.adjuncts import AdjunctIssue, read_adjunct_value
from twinforge.dtdl.context import Scope, primitive_term, read_context
from twinforge.dtdl.dtmi import LANGUAGE_TAG, NAME_PATTERN, TERM, is_dtmi, is_reserved, is_user_dtmi
from twinforge.dtdl.elements import Element, ModelIssue, Ref
from twinforge.dtdl.types import read_type

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


class Parser:
    """Turns a batch of documents into Elements and a list of issues."""

    def __init__(self, *, allow_undefined_extensions: bool) -> None:
        self.allow_undefined = allow_undefined_extensions
        self.issues: list[ModelIssue] = []
        self.elements: list[Element] = []
        self.by_id: dict[str, Element] = {}

    # -- reporting --------------------------------------------------------

    def error(self, owner: str, path: str, message: str) -> None:
        self.issues.append(ModelIssue(owner, path, message))

    # -- entry ------------------------------------------------------------

    def parse_documents(self, documents: list[Any], start: int = 0) -> list[Element]:
        """Parse documents (numbered from ``start`` in error paths), adding to this parser's
        elements; returns their top-level elements."""
        roots: list[Element] = []
        for i, doc in enumerate(documents, start):
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
        return read_context(ctx, parent, owner, path, allow_undefined=self.allow_undefined, error=self.error)

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
        info = read_type(obj, path, owner, expected, scope, self.error)
        if info is None:
            return None
        cls, semantic, open_type, adjuncts = info.cls, info.semantic, info.open_type, info.adjuncts
        extra = {name: prop for adjunct in sorted(adjuncts) for name, prop in scope.adjuncts[adjunct].props.items()}
        cdef = mm.CLASSES[version][cls]
        el = Element(cls=cls, version=version, path=path, owner=owner, top_level=top_level,
                     in_schemas=in_schemas, parent=parent, semantic_type=semantic,
                     adjuncts={a: scope.adjuncts[a] for a in sorted(adjuncts)},
                     limits=scope.limits)
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
                adjunct_value = read_adjunct_value(term, extra[term], value)
                if isinstance(adjunct_value, AdjunctIssue):
                    self.error(owner, f"{path}.{key}", adjunct_value.message)
                else:
                    el.props[term] = adjunct_value
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
        for term, adjunct_prop in extra.items():
            if adjunct_prop.required and term not in seen:
                self.error(owner, path, f"a {cls} co-typed {'/'.join(sorted(adjuncts))} requires '{term}'")
        if semantic is not None and "unit" not in seen:
            self.error(owner, path, f"semantic type {semantic} requires a 'unit'")
        return el

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
        if term == "description" and el.limits is not None:
            limit = max(limit, el.limits.description)

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
                prim = (primitive_term(item, el.version, scope.iotcentral, scope.quantitative)
                        if prop.primitive_ok else None)
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
