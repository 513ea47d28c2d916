"""The AAS Part 2 read API (IDTA-01002, API 3.0, the read-only profiles SSP-002 of the shell and
submodel repository services) over the twin graph: the shells and submodels `interop.aas`
imported, with the twins' current values written in. Pure functions of the graph; the HTTP
routes are in `twinforge.api.routes_aas`.

Identifiers in paths are base64url-encoded (padding optional); lists are paged with ``limit``
and an opaque ``cursor``; ``$value`` is the ValueOnly serialisation; errors are the Part 2
``Result`` object (``{"messages": [{"code", "messageType", "text", "timestamp"}]}``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from twinforge.errors import InvalidArgument, NotFound
from twinforge.interop.aas import SHELL, SUBMODEL, submodel_document

PROFILES = [
    "https://admin-shell.io/aas/API/3/0/AssetAdministrationShellRepositoryServiceSpecification/SSP-002",
    "https://admin-shell.io/aas/API/3/0/SubmodelRepositoryServiceSpecification/SSP-002",
]
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_NUMERIC = {"xs:double", "xs:float", "xs:decimal", "xs:int", "xs:integer", "xs:long", "xs:short", "xs:byte",
            "xs:unsignedInt", "xs:unsignedLong", "xs:unsignedShort", "xs:unsignedByte", "xs:positiveInteger",
            "xs:nonNegativeInteger", "xs:negativeInteger", "xs:nonPositiveInteger"}


def decode_id(encoded: str) -> str:
    """A path's base64url identifier as text; 400 when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        raise InvalidArgument(f"'{encoded}' is not a base64url-encoded identifier") from None
    if not text or base64.urlsafe_b64encode(raw).decode().rstrip("=") != encoded.rstrip("="):
        raise InvalidArgument(f"'{encoded}' is not a base64url-encoded identifier")
    return text


def encode_id(identifier: str) -> str:
    return base64.urlsafe_b64encode(identifier.encode()).decode().rstrip("=")


def page(items: list[Any], limit: str | None, cursor: str | None) -> dict[str, Any]:
    """One page of ``items`` with Part 2's paging metadata."""
    size = len(items)
    if limit is not None:
        if not limit.isdigit() or int(limit) < 1:
            raise InvalidArgument(f"limit must be a positive whole number, not '{limit}'")
        size = int(limit)
    start = 0
    if cursor is not None:
        try:
            start = int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
        except (binascii.Error, ValueError):
            raise InvalidArgument(f"'{cursor}' is not a cursor this server gave") from None
        if start < 0:
            raise InvalidArgument(f"'{cursor}' is not a cursor this server gave")
    chunk = items[start:start + size]
    meta: dict[str, Any] = {}
    if start + size < len(items):
        meta["cursor"] = base64.urlsafe_b64encode(str(start + size).encode()).decode().rstrip("=")
    return {"paging_metadata": meta, "result": chunk}


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _twins(graph: Any, model: str, where: str = "") -> list[dict[str, Any]]:
    query = f"SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL('{model}'){where}"
    return sorted((row["T"] for row in graph.query(query)), key=lambda t: t["$dtId"])


def shells(graph: Any, *, id_short: str | None = None, asset_ids: list[str] | None = None) -> list[dict[str, Any]]:
    where = f" AND T.idShort = '{_quote(id_short)}'" if id_short else ""
    out = [json.loads(t["aasSource"]) for t in _twins(graph, SHELL, where)]
    if asset_ids:
        wanted = set()
        for encoded in asset_ids:
            try:
                item = json.loads(decode_id(encoded))
            except json.JSONDecodeError:
                raise InvalidArgument("assetIds are base64url-encoded SpecificAssetId objects") from None
            if not isinstance(item, dict) or "value" not in item:
                raise InvalidArgument("assetIds are base64url-encoded SpecificAssetId objects")
            wanted.add((item.get("name"), item["value"]))
        out = [s for s in out if _asset_ids(s) & wanted]
    return out


def _asset_ids(shell: dict[str, Any]) -> set[tuple[Any, Any]]:
    info = shell.get("assetInformation") or {}
    found = {("globalAssetId", info["globalAssetId"])} if info.get("globalAssetId") else set()
    return found | {(a.get("name"), a.get("value")) for a in info.get("specificAssetIds") or []}


def shell(graph: Any, aas_id: str) -> dict[str, Any]:
    found = _twins(graph, SHELL, f" AND T.aasId = '{_quote(aas_id)}'")
    if not found:
        raise NotFound(f"there is no shell '{aas_id}'", code="ShellNotFound")
    doc: dict[str, Any] = json.loads(found[0]["aasSource"])
    return doc


def submodels(graph: Any, *, semantic_id: str | None = None, id_short: str | None = None) -> list[dict[str, Any]]:
    where = ""
    if semantic_id:
        where += f" AND T.semanticId = '{_quote(semantic_id)}'"
    if id_short:
        where += f" AND T.idShort = '{_quote(id_short)}'"
    return [submodel_document(t) for t in _twins(graph, SUBMODEL, where)]


def submodel(graph: Any, sm_id: str) -> dict[str, Any]:
    found = _twins(graph, SUBMODEL, f" AND T.submodelId = '{_quote(sm_id)}'")
    if not found:
        raise NotFound(f"there is no submodel '{sm_id}'", code="SubmodelNotFound")
    return submodel_document(found[0])


def element(sm: dict[str, Any], path: str) -> dict[str, Any]:
    """The element at an idShortPath (``a.b[2].c``)."""
    parts = _PATH_PART.findall(path)
    if not parts or not parts[0][0] or "".join(("." + n) if n else f"[{i}]" for n, i in parts)[1:] != path:
        raise InvalidArgument(f"'{path}' is not an idShortPath")
    children: list[dict[str, Any]] = sm.get("submodelElements") or []
    found: dict[str, Any] | None = None
    for name, index in parts:
        if name:
            found = next((c for c in children if c.get("idShort") == name), None)
        else:
            k = int(index)
            found = children[k] if k < len(children) else None
        if found is None:
            raise NotFound(f"no submodel element at '{path}'", code="ElementNotFound")
        inner: Any = found.get("value") if isinstance(found.get("value"), list) else \
            found.get("statements") or found.get("annotations")
        children = [c for c in inner or [] if isinstance(c, dict)]
    assert found is not None
    return found


def _typed(text: Any, value_type: str) -> Any:
    if text is None:
        return None
    if value_type == "xs:boolean":
        return str(text).lower() in ("true", "1")
    if value_type in _NUMERIC:
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if number.is_integer() and value_type not in ("xs:double", "xs:float", "xs:decimal") \
            else number
    return text


def value_only(el: dict[str, Any]) -> Any:
    """An element's ValueOnly serialisation (Part 2)."""
    kind = el.get("modelType")
    if kind == "Property":
        return _typed(el.get("value"), el.get("valueType", "xs:string"))
    if kind == "MultiLanguageProperty":
        return [{t["language"]: t["text"]} for t in el.get("value") or []]
    if kind == "Range":
        return {k: _typed(el.get(k), el.get("valueType", "xs:string")) for k in ("min", "max") if k in el}
    if kind == "SubmodelElementCollection":
        return {c["idShort"]: value_only(c) for c in el.get("value") or [] if _has_value(c)}
    if kind == "SubmodelElementList":
        return [value_only(c) for c in el.get("value") or [] if _has_value(c)]
    if kind in ("File", "Blob"):
        return {"contentType": el.get("contentType"), "value": el.get("value")}
    if kind == "ReferenceElement":
        return el.get("value")
    if kind in ("RelationshipElement", "AnnotatedRelationshipElement"):
        out = {"first": el.get("first"), "second": el.get("second")}
        if kind == "AnnotatedRelationshipElement":
            out["annotations"] = [{a["idShort"]: value_only(a)} for a in el.get("annotations") or []]
        return out
    if kind == "Entity":
        out = {"statements": {s["idShort"]: value_only(s) for s in el.get("statements") or [] if _has_value(s)},
               "entityType": el.get("entityType")}
        if el.get("globalAssetId"):
            out["globalAssetId"] = el["globalAssetId"]
        return out
    return None


def _has_value(el: dict[str, Any]) -> bool:
    return el.get("modelType") not in ("Operation", "Capability", "BasicEventElement")


def submodel_value(sm: dict[str, Any]) -> dict[str, Any]:
    return {e["idShort"]: value_only(e) for e in sm.get("submodelElements") or [] if _has_value(e)}


def metadata(el: dict[str, Any]) -> dict[str, Any]:
    """An element or submodel without its values (the ``$metadata`` modifier)."""
    return {k: v for k, v in el.items() if k not in ("value", "submodelElements", "min", "max", "statements",
                                                      "first", "second", "annotations")}


def reference(kind: str, identifier: str, *more: tuple[str, str]) -> dict[str, Any]:
    """A ModelReference to an identifiable (and down to an element: (type, idShort) keys)."""
    return {"type": "ModelReference", "keys": [{"type": kind, "value": identifier},
                                               *({"type": t, "value": v} for t, v in more)]}


LEVELS = ("deep", "core")
EXTENTS = ("withoutBlobValue", "withBlobValue")


def check_modifiers(level: str | None, extent: str | None) -> None:
    if level is not None and level not in LEVELS:
        raise InvalidArgument(f"level must be one of {', '.join(LEVELS)}, not '{level}'")
    if extent is not None and extent not in EXTENTS:
        raise InvalidArgument(f"extent must be one of {', '.join(EXTENTS)}, not '{extent}'")


def _children_key(el: dict[str, Any]) -> list[str]:
    return [k for k in ("submodelElements", "value", "statements", "annotations")
            if isinstance(el.get(k), list) and el[k] and isinstance(el[k][0], dict) and "modelType" in el[k][0]]


def shaped(el: dict[str, Any], level: str | None, extent: str | None, depth: int = 0) -> dict[str, Any]:
    """An element (or submodel) at ``level`` (core: its children without their own children)
    and ``extent`` (withoutBlobValue, the default: a Blob's bytes left out)."""
    out = dict(el)
    if out.get("modelType") == "Blob" and extent != "withBlobValue":
        out.pop("value", None)
    for key in _children_key(el):
        if level == "core" and depth >= 1:
            out.pop(key)
        else:
            out[key] = [shaped(c, level, extent, depth + 1) for c in el[key]]
    return out


def paths(elements: list[dict[str, Any]], prefix: str = "") -> list[str]:
    """Every idShortPath below ``prefix`` (collections by '.', lists by '[i]')."""
    out: list[str] = []
    for k, el in enumerate(elements):
        here = f"{prefix}[{k}]" if el.get("idShort") is None else (f"{prefix}.{el['idShort']}" if prefix else el["idShort"])
        out.append(here)
        inner = el.get("value") if isinstance(el.get("value"), list) else el.get("statements") or el.get("annotations")
        if isinstance(inner, list) and inner and isinstance(inner[0], dict) and "modelType" in inner[0]:
            out.extend(paths(inner, here))
    return out


def element_reference(sm: dict[str, Any], path: str) -> dict[str, Any]:
    keys: list[tuple[str, str]] = []
    children: list[dict[str, Any]] = sm.get("submodelElements") or []
    for name, index in _PATH_PART.findall(path):
        found = next((c for c in children if c.get("idShort") == name), None) if name else \
            (children[int(index)] if int(index) < len(children) else None)
        if found is None:
            raise NotFound(f"no submodel element at '{path}'", code="ElementNotFound")
        keys.append((str(found.get("modelType")), name or index))
        inner: Any = found.get("value") if isinstance(found.get("value"), list) else found.get("statements")
        children = [c for c in inner or [] if isinstance(c, dict)]
    return reference("Submodel", sm["id"], *keys)


def error_body(code: int, text: str, timestamp: str) -> dict[str, Any]:
    return {"messages": [{"code": str(code), "messageType": "Error", "text": text, "timestamp": timestamp}]}


__all__ = ["EXTENTS", "LEVELS", "PROFILES", "check_modifiers", "decode_id", "element", "element_reference",
           "encode_id", "error_body", "metadata", "page", "paths", "reference", "shaped", "shell", "shells", "submodel",
           "submodel_value", "submodels", "value_only"]
