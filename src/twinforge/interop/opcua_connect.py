"""Connect a running OPC UA server by its information model (`twinforge connect opcua URL`).

1. Browse the server from its Root and export every node outside the base namespace as
   NodeSet2 (asyncua's exporter), then turn its ObjectTypes into DTDL (`opcua_dtdl`).
2. Find the instances: each Object below Objects whose type became an interface is a twin
   (its id the browse path, ``Line1-Filler``); objects of other types (folders) are looked
   through. A child object the interface holds as a Component fills that component; one it
   holds as a Relationship becomes a twin of its own with that relationship.
3. Map every variable the interfaces name to live ingest: a mapping document for the OPC UA
   connector (`serve --mapping FILE`), and the twins created with the values read now.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from twinforge.errors import MissingDependency
from twinforge.interop.nodeset import Node, NodeSets, parse_nodeset, ua
from twinforge.interop.opcua_dtdl import Converter, _fit_components, dtdl_name

HIERARCHICAL = ua(33)


@dataclass
class Connection:
    """What connecting found: interfaces, twins, relationships and the variable mapping."""

    endpoint: str
    interfaces: list[dict[str, Any]] = field(default_factory=list)
    twins: dict[str, dict[str, Any]] = field(default_factory=dict)
    relationships: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    nodes: list[dict[str, Any]] = field(default_factory=list)  # mapping rules: node, twin, name, kind, component
    notes: list[str] = field(default_factory=list)

    def mapping(self, interval_ms: int = 100) -> dict[str, Any]:
        """The mapping document for the OPC UA connector."""
        nodes = [{k: v for k, v in rule.items() if k != "schema"} for rule in self.nodes]
        return {"opcua": [{"endpoint": self.endpoint, "interval_ms": interval_ms, "nodes": nodes}]}


async def export_server(client: Any) -> bytes:
    """NodeSet2 XML of every node of the server outside the base namespace: the type trees
    are walked through base types by HasSubtype, Objects through its folders (not the Server
    object), and every node of another namespace through all its hierarchical references."""
    from asyncua import ua as asyncua_ua
    from asyncua.common.xmlexporter import XmlExporter
    from asyncua.ua.object_ids import ObjectIds as ids
    found: dict[str, Any] = {}
    todo: list[tuple[Any, bool]] = [(client.get_node(f"i={i}"), True)
                                    for i in (ids.BaseObjectType, ids.BaseVariableType, ids.BaseDataType,
                                              ids.References)]
    todo.append((client.nodes.objects, False))
    seen: set[str] = set()
    while todo:
        node, is_type = todo.pop()
        key = node.nodeid.to_string()
        if key in seen:
            continue
        seen.add(key)
        base = node.nodeid.NamespaceIndex == 0
        if not base:
            found[key] = node
        if base and is_type:
            ref_type = ids.HasSubtype
        elif base and node.nodeid.Identifier != ids.ObjectsFolder:
            continue
        else:
            ref_type = ids.HierarchicalReferences
        refs = await node.get_references(refs=ref_type, direction=asyncua_ua.BrowseDirection.Forward,
                                         includesubtypes=True)
        for ref in refs:
            if ref.NodeId.NamespaceIndex == 0 and (not is_type or ref_type != ids.HasSubtype):
                continue  # base-model instances (the Server object, ...) are not the plant
            todo.append((client.get_node(ref.NodeId), is_type and base and ref_type == ids.HasSubtype))
    exporter = XmlExporter(client)
    await exporter.build_etree(list(found.values()))  # type: ignore[no-untyped-call]
    root = exporter.etree.getroot()
    assert root is not None
    return bytes(ET.tostring(root, encoding="utf-8"))


async def connect(endpoint: str, *, prefix: str = "", request_timeout: float = 30.0) -> Connection:
    """Browse ``endpoint``: its types as DTDL, its instances as twins, its variables mapped."""
    try:
        from asyncua.client.client import Client
    except ImportError:  # pragma: no cover - asyncua is in the [opcua] extra
        raise MissingDependency("OPC UA needs asyncua: pip install 'twinforge[opcua]'") from None
    client = Client(endpoint, timeout=request_timeout)
    # A browse is one burst of requests: ten minutes of idle session is plenty. (asyncua asks for an
    # hour, which servers commonly cap, and then warns on stderr that it got less.)
    client.session_timeout = 600_000
    async with client:
        xml = await export_server(client)
        nodesets = NodeSets([parse_nodeset(xml, endpoint)])
        converter = Converter(nodesets)
        for node in nodesets.nodes.values():
            if node.node_class == "UAObjectType" and not node.key.startswith("http://opcfoundation.org/UA/|"):
                converter.interface(node)
        interfaces = _fit_components(list(converter.made.values()), converter.notes)
        result = Connection(endpoint, interfaces, notes=list(converter.notes))
        _instances(nodesets, converter, {d["@id"]: d for d in interfaces}, result, prefix)
        index = {uri: k for k, uri in enumerate(await client.get_namespace_array())}
        for rule in result.nodes:  # the server's own namespace indices, as the connector reads them
            uri, ident = rule["node"].removeprefix("nsu=").split(";", 1)
            rule["node"] = f"ns={index[uri]};{ident}" if uri in index else rule["node"]
        await _read_values(client, result)
    return result


def _all_contents(docs: dict[str, dict[str, Any]], dtmi: str) -> list[dict[str, Any]]:
    out, seen = [], set()
    while dtmi in docs and dtmi not in seen:
        seen.add(dtmi)
        out.extend(docs[dtmi]["contents"])
        dtmi = docs[dtmi].get("extends", "")
    return out


def _twin_id(path: list[str]) -> str:
    text = "-".join(re.sub(r"[^A-Za-z0-9._~]+", "_", p).strip("_") for p in path)
    return text[:120] or "object"


def _instances(ns: NodeSets, conv: Converter, docs: dict[str, dict[str, Any]], out: Connection, prefix: str) -> None:
    objects = ns.nodes.get(ua(85))

    def kids(node: Node) -> list[Node]:
        return [n for n in ns.targets(node, HIERARCHICAL) if n.node_class in ("UAObject", "UAVariable")]

    def interface_of(node: Node) -> str | None:
        typedef = ns.type_definition(node)
        return conv.by_key.get(typedef or "")

    def twin(node: Node, dtmi: str, path: list[str]) -> str:
        twin_id = prefix + _twin_id(path)
        doc: dict[str, Any] = {"$metadata": {"$model": dtmi}}
        out.twins[twin_id] = doc
        children = {dtdl_name(k.browse_name): k for k in kids(node)}
        for content in _all_contents(docs, dtmi):
            kind = content["@type"] if isinstance(content["@type"], str) else content["@type"][0]
            child = children.get(content["name"])
            if child is None:
                continue
            if kind in ("Property", "Telemetry") and child.node_class == "UAVariable":
                out.nodes.append(_rule(child, twin_id, content, ""))
            elif kind == "Component" and child.node_class == "UAObject":
                doc[content["name"]] = {"$metadata": {}}
                inner = {dtdl_name(k.browse_name): k for k in kids(child)}
                for c in _all_contents(docs, content["schema"]):
                    ckind = c["@type"] if isinstance(c["@type"], str) else c["@type"][0]
                    var = inner.get(c["name"])
                    if ckind in ("Property", "Telemetry") and var is not None and var.node_class == "UAVariable":
                        out.nodes.append(_rule(var, twin_id, c, content["name"]))
        for content in _all_contents(docs, dtmi):
            if content["@type"] != "Relationship":
                continue
            for child in kids(node):
                name = dtdl_name(child.browse_name)
                target = interface_of(child) if child.node_class == "UAObject" else None
                wanted = content.get("target")
                if target and (name == content["name"] or (wanted and _extends(docs, target, wanted)
                                                          and name not in children_names(dtmi))):
                    child_id = twin(child, target, [*path, child.browse_name])
                    out.relationships.append((twin_id, f"{twin_id}-{content['name']}-{child_id}"[:200],
                                              {"$relationshipName": content["name"], "$targetId": child_id}))
        return twin_id

    def children_names(dtmi: str) -> set[str]:
        return {c["name"] for c in _all_contents(docs, dtmi) if c["@type"] != "Relationship"}

    def walk(node: Node, path: list[str], depth: int) -> None:
        if depth > 12:
            return
        for child in kids(node):
            if child.node_class != "UAObject" or child.key.startswith("http://opcfoundation.org/UA/|"):
                continue
            dtmi = interface_of(child)
            if dtmi is not None:
                twin(child, dtmi, [*path, child.browse_name])
            else:
                walk(child, [*path, child.browse_name], depth + 1)

    if objects is not None:
        walk(objects, [], 0)
        return
    # The base model's Objects folder is not exported: start from what hangs below it.
    tops = [n for n in ns.nodes.values() if n.node_class == "UAObject"
            and any(t == ua(85) and not f for _, t, f in n.references)]
    for top in sorted(tops, key=lambda n: n.browse_name):
        dtmi = interface_of(top)
        if dtmi is not None:
            twin(top, dtmi, [top.browse_name])
        else:
            walk(top, [top.browse_name], 1)


def _extends(docs: dict[str, dict[str, Any]], dtmi: str, base: str) -> bool:
    seen = set()
    while dtmi and dtmi not in seen:
        if dtmi == base:
            return True
        seen.add(dtmi)
        dtmi = docs.get(dtmi, {}).get("extends", "")
    return False


def _rule(variable: Node, twin: str, content: dict[str, Any], component: str) -> dict[str, Any]:
    kind = content["@type"] if isinstance(content["@type"], str) else content["@type"][0]
    uri, ident = variable.key.split("|", 1)
    rule: dict[str, Any] = {"node": f"nsu={uri};{ident}", "twin": twin, "name": content["name"],
                            "kind": "telemetry" if kind == "Telemetry" else "property", "schema": content["schema"]}
    if component:
        rule["component"] = component
    return rule


def plain(value: Any, schema: Any) -> Any:
    """An OPC UA value as the JSON its DTDL schema takes, or None when it does not fit."""
    if value is None:
        return None
    if isinstance(schema, dict):
        if schema.get("@type") == "Enum":
            return int(value) if isinstance(value, int) or hasattr(value, "value") else None
        if schema.get("@type") == "Array" and isinstance(value, list):
            items = [plain(v, schema["elementSchema"]) for v in value]
            return None if any(i is None for i in items) else items
        return None
    text = getattr(value, "Text", None)
    if text is not None or type(value).__name__ == "LocalizedText":
        value = text or ""
    elif type(value).__name__ == "QualifiedName":
        value = value.Name
    elif type(value).__name__ in ("NodeId", "ExpandedNodeId"):
        value = value.to_string()
    if schema == "boolean":
        return value if isinstance(value, bool) else None
    if schema in ("double", "float"):
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if schema in ("integer", "long", "short", "byte", "unsignedByte", "unsignedShort", "unsignedInteger",
                  "unsignedLong"):
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else None
    if schema == "dateTime":
        if isinstance(value, dt.datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
            return moment.isoformat().replace("+00:00", "Z")
        return None
    if schema == "string":
        return value if isinstance(value, str) else None
    return None


async def _read_values(client: Any, out: Connection) -> None:
    """Twins start with the current values of their properties (values that do not fit their
    schema are left unset; telemetry arrives with the first change)."""
    wanted = [r for r in out.nodes if r["kind"] == "property"]
    if not wanted:
        return
    nodes = [client.get_node(r["node"]) for r in wanted]
    values = await client.read_values(nodes)
    for rule, value in zip(wanted, values, strict=True):
        converted = plain(value, rule["schema"])
        if converted is None:
            continue
        doc = out.twins[rule["twin"]]
        target = doc.setdefault(rule["component"], {"$metadata": {}}) if rule.get("component") else doc
        target[rule["name"]] = converted


def apply(graph: Any, connection: Connection) -> dict[str, Any]:
    """Load the interfaces the store lacks, create the twins (a twin the model refuses is
    listed, the rest go in) and the relationships between them."""
    new = [d for d in connection.interfaces if d["@id"] not in graph.models]
    if new:
        graph.add_models(new)
    refused: dict[str, str] = {}
    created = 0
    for twin_id, doc in connection.twins.items():
        try:
            graph.create_twin(twin_id, doc)
            created += 1
        except Exception as exc:  # a value the model refuses: say which twin, keep going
            refused[twin_id] = str(exc)
    related = 0
    for source, rel_id, body in connection.relationships:
        if source in refused or body["$targetId"] in refused:
            continue
        graph.create_relationship(source, rel_id, body)
        related += 1
    return {"models": len(new), "twins": created, "relationships": related, "refused": refused,
            "variables": len(connection.nodes)}


__all__ = ["Connection", "apply", "connect", "export_server", "plain"]
