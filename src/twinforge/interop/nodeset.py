"""Read OPC UA information models (NodeSet2 XML) into an address-space table.

`NodeSets` holds the nodes of several NodeSet2 files (and of the OPC UA base model, shipped
with the package) keyed by namespace URI and identifier, so references across files resolve;
`order` sorts files by their ``RequiredModel`` dependencies. `twinforge.interop.opcua_dtdl`
turns the types into DTDL.
"""

from __future__ import annotations

import gzip
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from twinforge.errors import InvalidArgument

UA = "http://opcfoundation.org/UA/"
NS = "{http://opcfoundation.org/UA/2011/03/UANodeSet.xsd}"
TYPES = "{http://opcfoundation.org/UA/2008/02/Types.xsd}"
NODE_CLASSES = ("UAObjectType", "UAVariableType", "UADataType", "UAReferenceType", "UAObject", "UAVariable",
                "UAMethod", "UAView")
_NODE_ID = re.compile(r"^(?:ns=(\d+);)?([isgb]=.+)$")


def ua(identifier: int) -> str:
    """The key of a node of the base model, e.g. ``ua(58)`` for BaseObjectType."""
    return f"{UA}|i={identifier}"


@dataclass
class Field:
    """One field of a structure or enumeration data type."""

    name: str
    value: int | None = None
    datatype: str | None = None  # a node key
    value_rank: int = -1
    description: str = ""
    optional: bool = False


@dataclass
class Node:
    """One node of the address space, as far as types and instance declarations need."""

    key: str  # "<namespace uri>|i=123"
    node_class: str
    browse_name: str  # without its namespace index
    display_name: str = ""
    description: str = ""
    references: list[tuple[str, str, bool]] = field(default_factory=list)  # (type key, target key, forward)
    datatype: str | None = None
    value_rank: int = -1
    access_level: int = 1
    abstract: bool = False
    fields: list[Field] | None = None  # a data type's definition
    option_set: bool = False
    value: ET.Element | None = None  # a variable's <Value>
    model: str = ""  # the model (namespace) that defines it


@dataclass
class NodeSetFile:
    """One parsed file: its model URI, the models it requires and its nodes."""

    source: str
    model: str
    required: list[str]
    nodes: dict[str, Node]


def _text(el: ET.Element | None) -> str:
    return " ".join((el.text or "").split()) if el is not None else ""


def parse_nodeset(data: bytes, source: str = "<nodeset>") -> NodeSetFile:
    """Parse one NodeSet2 document."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise InvalidArgument(f"{source}: not XML ({exc})") from None
    if root.tag != f"{NS}UANodeSet":
        raise InvalidArgument(f"{source}: not an OPC UA NodeSet2 file (the root is {root.tag.split('}')[-1]!r})")
    uris = [UA] + [_text(u) for u in root.findall(f"{NS}NamespaceUris/{NS}Uri")]
    aliases = {a.get("Alias", ""): _text(a) for a in root.findall(f"{NS}Aliases/{NS}Alias")}

    def key(text: str | None) -> str:
        raw = aliases.get(text or "", text or "")
        match = _NODE_ID.match(raw.strip())
        if not match:
            raise InvalidArgument(f"{source}: {text!r} is not a NodeId")
        index = int(match.group(1) or 0)
        if index >= len(uris):
            raise InvalidArgument(f"{source}: NodeId {raw} uses namespace {index}, which NamespaceUris does not list")
        return f"{uris[index]}|{match.group(2)}"

    models = root.findall(f"{NS}Models/{NS}Model")
    model = models[0].get("ModelUri", "") if models else (uris[1] if len(uris) > 1 else UA)
    required = [r.get("ModelUri", "") for m in models for r in m.findall(f"{NS}RequiredModel")]
    nodes: dict[str, Node] = {}
    for el in root:
        tag = el.tag.removeprefix(NS)
        if tag not in NODE_CLASSES:
            continue
        browse = el.get("BrowseName", "")
        node = Node(key(el.get("NodeId")), tag, browse.split(":", 1)[1] if re.match(r"^\d+:", browse) else browse,
                    _text(el.find(f"{NS}DisplayName")), _text(el.find(f"{NS}Description")), model=model)
        node.abstract = el.get("IsAbstract") == "true"
        node.value_rank = int(el.get("ValueRank", "-1"))
        node.access_level = int(el.get("AccessLevel", "1"))
        if el.get("DataType"):
            node.datatype = key(el.get("DataType"))
        for ref in el.findall(f"{NS}References/{NS}Reference"):
            node.references.append((key(ref.get("ReferenceType")), key(_text(ref)), ref.get("IsForward") != "false"))
        definition = el.find(f"{NS}Definition")
        if definition is not None:
            node.option_set = definition.get("IsOptionSet") == "true"
            node.fields = [Field(f.get("Name", ""), int(f.get("Value", "0")) if f.get("Value") is not None else None,
                                 key(f.get("DataType")) if f.get("DataType") else None,
                                 int(f.get("ValueRank", "-1")), _text(f.find(f"{NS}Description")),
                                 f.get("IsOptional") == "true")
                           for f in definition.findall(f"{NS}Field")]
        node.value = el.find(f"{NS}Value")
        nodes[node.key] = node
    return NodeSetFile(source, model, required, nodes)


def base_model() -> NodeSetFile:
    """The OPC UA base model (Opc.Ua.NodeSet2.xml, OPC Foundation MIT License), shipped gzipped."""
    data = resources.files("twinforge.interop").joinpath("data/Opc.Ua.NodeSet2.xml.gz").read_bytes()
    return parse_nodeset(gzip.decompress(data), "Opc.Ua.NodeSet2.xml")


def read_file(path: str | Path) -> NodeSetFile:
    """Parse a NodeSet2 file (``.xml`` or ``.xml.gz``)."""
    p = Path(path)
    if not p.is_file():
        raise InvalidArgument(f"no such file: {p}")
    data = p.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return parse_nodeset(data, str(p))


def order(files: list[NodeSetFile]) -> list[NodeSetFile]:
    """The files in dependency order (each after the models it requires); a required model
    that is neither given nor the base model is an error naming both."""
    by_model = {f.model: f for f in files}
    done: list[NodeSetFile] = []
    seen: set[str] = {UA}
    visiting: set[str] = set()

    def visit(f: NodeSetFile) -> None:
        if f.model in seen:
            return
        if f.model in visiting:
            raise InvalidArgument(f"{f.source}: its required models form a cycle through {f.model}")
        visiting.add(f.model)
        for req in f.required:
            if req in seen:
                continue
            if req not in by_model:
                raise InvalidArgument(f"{f.source} ({f.model}) requires {req}: give its NodeSet2 file too")
            visit(by_model[req])
        visiting.discard(f.model)
        seen.add(f.model)
        done.append(f)

    for f in files:
        visit(f)
    return done


class NodeSets:
    """Nodes of several files (the base model first), with the lookups type mapping needs."""

    def __init__(self, files: list[NodeSetFile], *, with_base: bool = True) -> None:
        self.files = order([f for f in files if f.model != UA])
        self.nodes: dict[str, Node] = {}
        for f in ([base_model()] if with_base else []) + self.files:
            self.nodes.update(f.nodes)
        self._parents: dict[str, str] = {}  # a type's supertype (inverse HasSubtype)
        has_subtype = ua(45)
        for node in self.nodes.values():
            for ref, target, forward in node.references:
                if ref == has_subtype:
                    if forward:
                        self._parents.setdefault(target, node.key)
                    else:
                        self._parents.setdefault(node.key, target)

    def parent(self, key: str) -> str | None:
        """The supertype of a type node, or None."""
        return self._parents.get(key)

    def is_subtype(self, key: str, base: str) -> bool:
        """``key`` is ``base`` or a subtype of it (types, reference types, data types)."""
        seen = set()
        while key and key not in seen:
            if key == base:
                return True
            seen.add(key)
            key = self._parents.get(key, "")
        return False

    def targets(self, node: Node, ref_base: str) -> list[Node]:
        """Nodes ``node`` points at by references of ``ref_base`` or its subtypes (forward only)."""
        out = []
        for ref, target, forward in node.references:
            if forward and target in self.nodes and self.is_subtype(ref, ref_base):
                out.append(self.nodes[target])
        for other in self._inverse.get(node.key, []):
            ref, source = other
            if self.is_subtype(ref, ref_base) and source in self.nodes:
                out.append(self.nodes[source])
        return out

    @property
    def _inverse(self) -> dict[str, list[tuple[str, str]]]:
        """References written only on the target side (IsForward="false"), by their source."""
        cache = getattr(self, "_inverse_cache", None)
        if cache is None:
            cache = {}
            for node in self.nodes.values():
                for ref, target, forward in node.references:
                    if not forward:
                        listed = self.nodes.get(target)
                        if listed is None or not any(r == ref and t == node.key and f for r, t, f in listed.references):
                            cache.setdefault(target, []).append((ref, node.key))
            self._inverse_cache = cache
        return cache

    def type_definition(self, node: Node) -> str | None:
        return next((t for r, t, f in node.references if f and r == ua(40)), None)

    def modelling_rule(self, node: Node) -> str | None:
        return next((t for r, t, f in node.references if f and r == ua(37)), None)


__all__ = ["NODE_CLASSES", "UA", "Field", "Node", "NodeSetFile", "NodeSets", "base_model", "order", "parse_nodeset",
           "read_file", "ua"]
