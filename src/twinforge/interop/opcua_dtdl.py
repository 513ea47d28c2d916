"""OPC UA information models → DTDL v3 interfaces (`twinforge models import-opcua`).

Each ObjectType of the given NodeSet2 files (and each type they use, from their dependencies
and the base model) becomes an Interface:

| OPC UA | DTDL |
|---|---|
| ObjectType, its HasSubtype parent | Interface, `extends` (BaseObjectType is no parent) |
| Variable by HasProperty | Property (writable when AccessLevel has CurrentWrite) |
| Variable by HasComponent (a data variable) | Telemetry |
| its DataType / ValueRank | schema: built-ins to primitives, enumerations to Enum, structures to Object, arrays to Array |
| its EngineeringUnits (EUInformation) | semantic type and unit, where DTDL has the unit |
| Object (HasComponent, HasAddIn, Organizes) | Component; its own extra children give an interface of their own |
| Object placeholder (`<Name>`, OptionalPlaceholder) | Relationship to its type |
| Method | Command, InputArguments / OutputArguments as request and response |

Names become DTDL names (invalid characters to ``_``); a child the supertype already
declares is inherited, not repeated (DTDL refuses redefinitions).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from twinforge.interop.nodeset import TYPES, UA, Node, NodeSetFile, NodeSets, ua

CONTEXT = ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"]
BUILT_IN = {1: "boolean", 2: "byte", 3: "unsignedByte", 4: "short", 5: "unsignedShort", 6: "integer",
            7: "unsignedInteger", 8: "long", 9: "unsignedLong", 10: "float", 11: "double", 12: "string",
            13: "dateTime", 14: "uuid", 15: "bytes", 16: "string", 17: "string", 18: "string", 19: "unsignedInteger",
            20: "string", 21: "string", 24: "string", 26: "double", 27: "long", 28: "unsignedLong", 290: "duration",
            294: "dateTime", 295: "string", 12878: "string"}
# UNECE common codes (EUInformation.UnitId) with a DTDL unit: (semantic type, unit).
UNECE = {"CEL": ("Temperature", "degreeCelsius"), "KEL": ("Temperature", "kelvin"),
         "FAH": ("Temperature", "degreeFahrenheit"), "MTR": ("Length", "metre"), "MMT": ("Length", "millimetre"),
         "CMT": ("Length", "centimetre"), "KMT": ("Length", "kilometre"), "BAR": ("Pressure", "bar"),
         "MBR": ("Pressure", "millibar"), "PAL": ("Pressure", "pascal"), "KPA": ("Pressure", "kilopascal"),
         "WTT": ("Power", "watt"), "KWT": ("Power", "kilowatt"), "MAW": ("Power", "megawatt"),
         "VLT": ("Voltage", "volt"), "AMP": ("Current", "ampere"), "HTZ": ("Frequency", "hertz"),
         "SEC": ("TimeSpan", "second"), "MIN": ("TimeSpan", "minute"), "HUR": ("TimeSpan", "hour"),
         "C26": ("TimeSpan", "millisecond"), "KGM": ("Mass", "kilogram"), "GRM": ("Mass", "gram"),
         "RPM": ("AngularVelocity", "revolutionPerMinute"), "MTS": ("Velocity", "metrePerSecond"),
         "LTR": ("Volume", "litre"), "MTQ": ("Volume", "cubicMetre"), "MQH": ("VolumeFlowRate", "cubicMetrePerHour"),
         "NEW": ("Force", "newton"), "NU": ("Torque", "newtonMetre"), "KWH": ("Energy", "kilowattHour"),
         "JOU": ("Energy", "joule"), "DD": ("Angle", "degreeOfArc"), "C81": ("Angle", "radian"),
         "P1": ("RelativeHumidity", "percent")}
HIERARCHICAL_OBJECTS = (ua(47), ua(17604), ua(35))  # HasComponent, HasAddIn, Organizes
PLACEHOLDERS = (ua(11508), ua(11510))  # OptionalPlaceholder, MandatoryPlaceholder
MAX_SCHEMA_DEPTH = 5


def dtmi_segments(uri: str) -> str:
    """A namespace URI as DTMI path segments: ``http://opcfoundation.org/UA/DI/`` → ``opcfoundation:org:UA:DI``."""
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", re.sub(r"^[a-z]+://", "", uri)) if p]
    out = []
    for p in parts:
        p = p if p[0].isalpha() else f"n{p}"
        out.append(p)
    return ":".join(out) or "opcua"


def dtdl_name(text: str, used: set[str] | None = None) -> str:
    """A DTDL name from a browse name (letters, digits, ``_``; a letter first; unique in ``used``)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text).strip("_")
    name = re.sub(r"_+", "_", name) or "unnamed"
    if not name[0].isalpha():
        name = "n" + name
    name = name[:64].rstrip("_")
    if used is not None:
        base, k = name, 2
        while name in used:
            name = f"{base[:60]}_{k}"
            k += 1
        used.add(name)
    return name


def _short(text: str, limit: int = 512) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Conversion:
    """The interfaces made, and what could not be carried over."""

    interfaces: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)  # model URIs in dependency order


class Converter:
    """Turns the ObjectTypes of a `NodeSets` into DTDL interfaces."""

    def __init__(self, nodes: NodeSets) -> None:
        self.ns = nodes
        self.made: dict[str, dict[str, Any]] = {}  # dtmi -> interface
        self.by_key: dict[str, str] = {}  # ObjectType key -> dtmi
        self.notes: list[str] = []
        self._names: dict[str, set[str]] = {}  # dtmi -> every content name, inherited ones included

    # -- identities ------------------------------------------------------------------

    def dtmi_of(self, node: Node, suffix: str = "") -> str:
        uri = node.key.split("|", 1)[0]
        return f"dtmi:{dtmi_segments(uri)}:{dtdl_name(node.browse_name)}{suffix};1"

    # -- data types ------------------------------------------------------------------

    def schema(self, datatype: str | None, value_rank: int = -1, depth: int = 0) -> Any:
        """The DTDL schema of a data type; ``depth`` complex schemas already enclose it (DTDL
        allows 5): deeper structures become strings, deeper enumerations integers."""
        if value_rank >= 0:
            if depth + 1 > MAX_SCHEMA_DEPTH:
                return "string"
            return {"@type": "Array", "elementSchema": self._scalar(datatype, depth + 1)}
        return self._scalar(datatype, depth)

    def _scalar(self, datatype: str | None, depth: int) -> Any:
        key = datatype
        seen: set[str] = set()
        while key and key not in seen:
            seen.add(key)
            uri, ident = key.split("|", 1)
            if uri == UA and ident.startswith("i=") and int(ident[2:]) in BUILT_IN:
                return BUILT_IN[int(ident[2:])]
            node = self.ns.nodes.get(key)
            if node is not None and node.fields is not None:
                if self.ns.is_subtype(key, ua(29)):  # an enumeration
                    if node.option_set or not node.fields or depth + 1 > MAX_SCHEMA_DEPTH:
                        return "integer"
                    used: set[str] = set()
                    return {"@type": "Enum", "valueSchema": "integer", "enumValues": [
                        {"name": dtdl_name(f.name, used), "enumValue": f.value if f.value is not None else i,
                         "displayName": _short(f.name, 512)} for i, f in enumerate(node.fields)]}
                if depth + 1 > MAX_SCHEMA_DEPTH or not node.fields:
                    return "string"
                used = set()
                return {"@type": "Object", "fields": [
                    {"name": dtdl_name(f.name, used), "schema": self.schema(f.datatype, f.value_rank, depth + 1)}
                    for f in node.fields[:30]]}
            if key == ua(29):
                return "integer"
            parent = self.ns.parent(key)
            if parent is None:
                break
            key = parent
        return "string"

    # -- instance declarations ------------------------------------------------------------

    def children(self, node: Node) -> list[tuple[str, Node]]:
        """The instance declarations directly below a type or an object: (reference kind, node)."""
        out: list[tuple[str, Node]] = []
        seen: set[str] = set()
        for kind, base in (("property", ua(46)), ("component", ua(47)), ("component", ua(17604)),
                           ("component", ua(35))):
            for child in self.ns.targets(node, base):
                if child.key in seen or child.node_class not in ("UAVariable", "UAObject", "UAMethod"):
                    continue
                if self.ns.modelling_rule(child) is None:
                    continue  # not an instance declaration
                seen.add(child.key)
                out.append((kind, child))
        return out

    def _unit(self, variable: Node) -> tuple[str, str] | None:
        for _, child in self.children(variable):
            if child.browse_name != "EngineeringUnits" or child.value is None:
                continue
            unit = child.value.find(f".//{TYPES}UnitId")
            if unit is None or not (unit.text or "").strip().lstrip("-").isdigit():
                continue
            number = int((unit.text or "0").strip())
            text = "".join(chr((number >> s) & 0xFF) for s in (16, 8, 0) if (number >> s) & 0xFF)
            return UNECE.get(text)
        return None

    def _arguments(self, method: Node, which: str) -> list[tuple[str, str | None, int]]:
        for _, child in self.children(method):
            if child.browse_name != which or child.value is None:
                continue
            out = []
            for arg in child.value.iter(f"{TYPES}Argument"):
                name = (arg.findtext(f"{TYPES}Name") or "arg").strip()
                dt = arg.find(f"{TYPES}DataType/{TYPES}Identifier")
                rank = int((arg.findtext(f"{TYPES}ValueRank") or "-1").strip())
                out.append((name, self._argument_type(child, dt), rank))
            return out
        return []

    def _argument_type(self, owner: Node, identifier: ET.Element | None) -> str | None:
        if identifier is None or not (identifier.text or "").strip():
            return None
        raw = (identifier.text or "").strip()
        match = re.match(r"^(?:ns=(\d+);)?(i=\d+|s=.+|g=.+|b=.+)$", raw)
        if not match:
            return None
        if not match.group(1):
            return f"{UA}|{match.group(2)}"
        # An argument's ns index is the owning file's; the owner's own namespace is the usual one.
        return f"{owner.key.split('|', 1)[0]}|{match.group(2)}"

    # -- interfaces ------------------------------------------------------------------------

    def interface(self, node: Node) -> str | None:
        """The DTMI of an ObjectType's interface, made on first use; None for BaseObjectType."""
        if node.key == ua(58):
            return None
        if node.key in self.by_key:
            return self.by_key[node.key]
        dtmi = self.dtmi_of(node)
        self.by_key[node.key] = dtmi
        parent_key = self.ns.parent(node.key)
        parent = self.interface(self.ns.nodes[parent_key]) if parent_key in self.ns.nodes else None
        inherited = set(self._names.get(parent, set())) if parent else set()
        doc = self._interface_doc(dtmi, node, parent)
        self.made[dtmi] = doc
        self._names[dtmi] = inherited
        doc["contents"] = self._contents(node, dtmi, inherited)
        return dtmi

    def _interface_doc(self, dtmi: str, node: Node, parent: str | None) -> dict[str, Any]:
        doc: dict[str, Any] = {"@context": CONTEXT, "@id": dtmi, "@type": "Interface",
                               "displayName": _short(node.display_name or node.browse_name)}
        if node.description:
            doc["description"] = _short(node.description)
        if parent:
            doc["extends"] = parent
        return doc

    def _contents(self, node: Node, dtmi: str, names: set[str]) -> list[dict[str, Any]]:
        contents: list[dict[str, Any]] = []
        for kind, child in self.children(node):
            name = dtdl_name(child.browse_name.strip("<>"))
            if name in names:
                continue  # inherited from a supertype (or an interface) already
            item = self._content(kind, child, dtmi, name)
            if item is None:
                continue
            names.add(name)
            contents.append(item)
        return contents

    def _content(self, kind: str, child: Node, owner: str, name: str) -> dict[str, Any] | None:
        described = {"description": _short(child.description)} if child.description else {}
        if child.node_class == "UAVariable":
            if child.browse_name.startswith("<"):
                self.notes.append(f"{owner}: variable placeholder {child.browse_name} left out")
                return None
            schema = self.schema(child.datatype, child.value_rank)
            if kind == "property":
                item: dict[str, Any] = {"@type": "Property", "name": name, "schema": schema,
                                        "writable": bool(child.access_level & 2), **described}
            else:
                item = {"@type": "Telemetry", "name": name, "schema": schema, **described}
            unit = self._unit(child)
            if unit and schema in ("double", "float", "integer", "long", "short"):
                item["@type"] = [item["@type"], unit[0]]
                item["unit"] = unit[1]
            return item
        if child.node_class == "UAMethod":
            item = {"@type": "Command", "name": name, **described}
            for which, slot in (("InputArguments", "request"), ("OutputArguments", "response")):
                args = self._arguments(child, which)
                if args:
                    used: set[str] = set()
                    item[slot] = {"name": dtdl_name(which, None), "schema": {"@type": "Object", "fields": [
                        {"name": dtdl_name(a, used), "schema": self.schema(t, r, 1)} for a, t, r in args[:30]]}}
            return item
        # an object
        typedef = self.ns.type_definition(child)
        type_node = self.ns.nodes.get(typedef or "")
        target = self.interface(type_node) if type_node is not None and type_node.node_class == "UAObjectType" else None
        if self.ns.modelling_rule(child) in PLACEHOLDERS or child.browse_name.startswith("<"):
            rel: dict[str, Any] = {"@type": "Relationship", "name": name, **described}
            if target:
                rel["target"] = target
            return rel
        own = [c for c in self.children(child) if dtdl_name(c[1].browse_name.strip("<>"))
               not in self._names.get(target or "", set())]
        if own:  # the declaration adds children to its type: an interface of its own
            schema = self._declaration_interface(child, owner, target)
        elif target:
            schema = target
        else:
            schema = self._empty_interface()
        return {"@type": "Component", "name": name, "schema": schema, **described}

    def _declaration_interface(self, child: Node, owner: str, base: str | None) -> str:
        dtmi = owner.rsplit(";", 1)[0] + "_" + dtdl_name(child.browse_name.strip("<>")) + ";1"
        if dtmi in self.made:
            return dtmi
        doc = self._interface_doc(dtmi, child, base)
        self.made[dtmi] = doc
        names = set(self._names.get(base or "", set()))
        self._names[dtmi] = names
        doc["contents"] = self._contents(child, dtmi, names)
        return dtmi

    def _empty_interface(self) -> str:
        dtmi = "dtmi:opcfoundation:org:UA:BaseObjectType;1"
        if dtmi not in self.made:
            self.made[dtmi] = {"@context": CONTEXT, "@id": dtmi, "@type": "Interface",
                               "displayName": "BaseObjectType", "contents": []}
            self._names[dtmi] = set()
        return dtmi


def convert(files: list[NodeSetFile]) -> Conversion:
    """DTDL interfaces for every ObjectType the files define (and those they use)."""
    nodes = NodeSets(files)
    converter = Converter(nodes)
    for f in nodes.files:
        for node in f.nodes.values():
            if node.node_class == "UAObjectType":
                converter.interface(nodes.nodes[node.key])
    interfaces = list(converter.made.values())
    return Conversion(_fit_components(interfaces, converter.notes), converter.notes, [f.model for f in nodes.files])


def _fit_components(interfaces: list[dict[str, Any]], notes: list[str]) -> list[dict[str, Any]]:
    """DTDL keeps components one level deep: an interface used as a component's schema may hold
    no components. Components of such interfaces become relationships to the same interface."""
    by_id = {d["@id"]: d for d in interfaces}

    def ancestors(dtmi: str) -> list[dict[str, Any]]:
        out, seen = [], set()
        while dtmi in by_id and dtmi not in seen:
            seen.add(dtmi)
            out.append(by_id[dtmi])
            dtmi = by_id[dtmi].get("extends", "")
        return out

    used = {c["schema"] for d in interfaces for c in d["contents"] if c["@type"] == "Component"}
    nested = {a["@id"] for dtmi in used for a in ancestors(dtmi)}
    for doc in interfaces:
        if doc["@id"] not in nested:
            continue
        for k, item in enumerate(doc["contents"]):
            if item["@type"] == "Component":
                rel = {"@type": "Relationship", "name": item["name"], "target": item["schema"],
                       "maxMultiplicity": 1}
                if "description" in item:
                    rel["description"] = item["description"]
                doc["contents"][k] = rel
                notes.append(f"{doc['@id']}: component {item['name']} made a relationship (DTDL components do not nest)")
    return interfaces


__all__ = ["BUILT_IN", "CONTEXT", "UNECE", "Conversion", "Converter", "convert", "dtdl_name", "dtmi_segments"]
