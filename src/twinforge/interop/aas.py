"""Asset Administration Shells (IDTA, metamodel v3) in and out of the twin graph.

Import (`import_environment`, `twinforge aas import FILE`): an AAS environment, as AAS JSON or
an AASX package (read and checked by the Eclipse BaSyx Python SDK), becomes twins:

- each shell a twin of ``dtmi:twinforge:aas:Shell;1`` (``aasId``, ``idShort``,
  ``globalAssetId``, ``assetKind``), related by ``hasSubmodel`` to its submodels;
- each submodel a twin of an interface made for it (``dtmi:twinforge:aas:sm:<idShort>_<hash>;1``,
  extending ``dtmi:twinforge:aas:Submodel;1``: ``submodelId``, ``idShort``, ``semanticId``) whose
  properties are the submodel's elements: a Property as a number, boolean or string by its
  ``valueType``, a MultiLanguageProperty as a map of language to text, a Range as an object
  ``{min, max}``, a SubmodelElementCollection as an object of its children; each property's
  description carries the element's semantic ID. These properties are the live face: ingest,
  patches and history work on them as on any twin.
- every element (files, references, operations, entities, ... as well) is also kept as its AAS
  JSON in ``aasSource``, and the concept descriptions on the shell, so export gives back what
  came in, with the live values written into it.

Export (`export_environment`, `twinforge aas export`) writes the shells asked for, their
submodels and concept descriptions as AAS JSON or AASX; the Part 2 read API (`aas_api`) serves
the same documents.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from twinforge.errors import InvalidArgument, MissingDependency, NotFound

NS = "dtmi:twinforge:aas:"
SHELL = NS + "Shell;1"
SUBMODEL = NS + "Submodel;1"
_CTX = "dtmi:dtdl:context;3"
_NUMBER = {"xs:double", "xs:float", "xs:decimal"}
_INTEGER = {"xs:int", "xs:integer", "xs:long", "xs:short", "xs:byte", "xs:unsignedInt", "xs:unsignedLong",
            "xs:unsignedShort", "xs:unsignedByte", "xs:positiveInteger", "xs:nonNegativeInteger",
            "xs:negativeInteger", "xs:nonPositiveInteger"}


def _basyx() -> Any:
    try:
        from basyx.aas import model
        from basyx.aas.adapter import aasx
        from basyx.aas.adapter import json as basyx_json
    except ImportError:  # pragma: no cover - the [aas] extra
        raise MissingDependency("AAS needs basyx-python-sdk: pip install 'twinforge[aas]'") from None
    return basyx_json, aasx, model


def prune(value: Any) -> Any:
    """AAS JSON without empty lists (the schema allows an optional list only with members;
    BaSyx writes some empty)."""
    if isinstance(value, dict):
        return {k: prune(v) for k, v in value.items() if not (isinstance(v, list) and not v)}
    if isinstance(value, list):
        return [prune(v) for v in value]
    return value


def base_models() -> list[dict[str, Any]]:
    """The interfaces every imported shell and submodel build on."""
    shell = {"@context": _CTX, "@id": SHELL, "@type": "Interface", "displayName": "Asset Administration Shell",
             "contents": [
                 {"@type": "Property", "name": n, "schema": "string"}
                 for n in ("aasId", "idShort", "globalAssetId", "assetKind", "aasSource", "aasConceptDescriptions",
                           "aasFiles")
             ] + [{"@type": "Relationship", "name": "hasSubmodel", "description": "The shell's submodels"}]}
    submodel = {"@context": _CTX, "@id": SUBMODEL, "@type": "Interface", "displayName": "AAS submodel",
                "contents": [{"@type": "Property", "name": n, "schema": "string"}
                             for n in ("submodelId", "idShort", "semanticId", "aasSource")]}
    return [shell, submodel]


def dtdl_name(id_short: str) -> str:
    """An idShort as a DTDL name (letters, digits and underscores; not ending with one)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", id_short)
    if not name or not name[0].isalpha():
        name = "e" + name
    return name.rstrip("_") + ("0" if name.endswith("_") else "")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text)[:40] or "sm"


def _semantic(element: dict[str, Any]) -> str:
    keys = (element.get("semanticId") or {}).get("keys") or []
    return str(keys[-1]["value"]) if keys else ""


def _schema(element: dict[str, Any]) -> Any:
    """The DTDL schema of an element's value, or None for kinds kept only in ``aasSource``."""
    kind = element.get("modelType")
    if kind == "Property":
        vt = element.get("valueType", "xs:string")
        return "double" if vt in _NUMBER else "long" if vt in _INTEGER else "boolean" if vt == "xs:boolean" else "string"
    if kind == "MultiLanguageProperty":
        return {"@type": "Map", "mapKey": {"name": "language", "schema": "string"},
                "mapValue": {"name": "text", "schema": "string"}}
    if kind == "Range":
        inner = _schema({"modelType": "Property", "valueType": element.get("valueType", "xs:string")})
        return {"@type": "Object", "fields": [{"name": "min", "schema": inner}, {"name": "max", "schema": inner}]}
    if kind == "SubmodelElementCollection":
        fields = []
        seen: set[str] = set()
        for child in element.get("value") or []:
            schema = _schema(child)
            name = dtdl_name(child.get("idShort", ""))
            if schema is not None and name not in seen:
                seen.add(name)
                fields.append({"name": name, "schema": schema})
        return {"@type": "Object", "fields": fields}
    return None


def _typed(value: Any, schema: Any) -> Any:
    """An AAS value (text) as the twin holds it."""
    if value is None:
        return None
    try:
        if schema == "double":
            return float(value)
        if schema == "long":
            return int(value)
        if schema == "boolean":
            return {"true": True, "false": False, "1": True, "0": False}[str(value).lower()]
    except (ValueError, KeyError):
        return None
    return str(value)


def _value(element: dict[str, Any]) -> Any:
    """An element's value as its twin property holds it (None when it has none)."""
    kind, schema = element.get("modelType"), _schema(element)
    if kind == "Property":
        return _typed(element.get("value"), schema)
    if kind == "MultiLanguageProperty":
        texts = element.get("value") or []
        return {t["language"]: t["text"] for t in texts} if texts else None
    if kind == "Range":
        inner = schema["fields"][0]["schema"]
        out = {k: _typed(element.get(k), inner) for k in ("min", "max")}
        return {k: v for k, v in out.items() if v is not None} or None
    if kind == "SubmodelElementCollection":
        out = {}
        for child in element.get("value") or []:
            v = _value(child) if _schema(child) is not None else None
            if v is not None:
                out.setdefault(dtdl_name(child.get("idShort", "")), v)
        return out or None
    return None


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else repr(value) if isinstance(value, float) \
        else str(value)


def _write_back(element: dict[str, Any], value: Any) -> None:
    """The twin's value written into an element's AAS JSON."""
    kind = element.get("modelType")
    if value is None:
        return
    if kind == "Property":
        element["value"] = _text(value)
    elif kind == "MultiLanguageProperty" and isinstance(value, dict):
        element["value"] = [{"language": k, "text": str(v)} for k, v in value.items()]
    elif kind == "Range" and isinstance(value, dict):
        for k in ("min", "max"):
            if k in value:
                element[k] = _text(value[k])
    elif kind == "SubmodelElementCollection" and isinstance(value, dict):
        for child in element.get("value") or []:
            name = dtdl_name(child.get("idShort", ""))
            if name in value:
                _write_back(child, value[name])


def submodel_interface(submodel: dict[str, Any]) -> dict[str, Any]:
    """The DTDL interface of one submodel: its elements as properties."""
    digest = hashlib.sha256(str(submodel["id"]).encode()).hexdigest()[:8]
    contents: list[dict[str, Any]] = []
    seen = {"submodelId", "idShort", "semanticId", "aasSource"}
    for element in submodel.get("submodelElements") or []:
        schema = _schema(element)
        name = dtdl_name(element.get("idShort", ""))
        if schema is None or name in seen:
            continue
        seen.add(name)
        prop: dict[str, Any] = {"@type": "Property", "name": name, "schema": schema, "writable": True}
        semantic = _semantic(element)
        if semantic:
            prop["description"] = f"semanticId {semantic}"[:512]
        contents.append(prop)
    iface = {"@context": _CTX, "@id": f"{NS}sm:{_slug(submodel.get('idShort') or 'sm')}_{digest};1",
             "@type": "Interface", "extends": SUBMODEL, "contents": contents}
    if submodel.get("idShort"):
        iface["displayName"] = str(submodel["idShort"])[:64]
    return iface


def twin_id(kind: str, identifier: str, id_short: str = "") -> str:
    digest = hashlib.sha256(identifier.encode()).hexdigest()[:10]
    return f"aas-{kind}-{_slug(id_short) + '-' if id_short else ''}{digest}"


Files = dict[str, tuple[str, bytes]]  # an AASX package's supplementary files: path -> (content type, bytes)
MAX_FILES = 8 * 1024 * 1024  # supplementary files kept with a shell (base64 in its twin), in total


def read_environment(path: Path) -> tuple[dict[str, Any], Files]:
    """An AAS JSON file or AASX package as an environment document (AAS JSON), read strictly by
    BaSyx, with the package's supplementary files (thumbnails, documents) when it is AASX."""
    basyx_json, aasx, model = _basyx()
    store: Any = getattr(model, "DictIdentifiableStore", None) or model.DictObjectStore
    store = store()
    files: Files = {}
    try:
        if path.suffix.lower() == ".aasx":
            container = aasx.DictSupplementaryFileContainer()
            with aasx.AASXReader(str(path), failsafe=False) as reader:
                reader.read_into(store, container)
            for name in container:
                buf = io.BytesIO()
                container.write_file(name, buf)
                files[name] = (container.get_content_type(name), buf.getvalue())
        else:
            with path.open(encoding="utf-8-sig") as f:
                store = basyx_json.read_aas_json_file(f, failsafe=False)
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise InvalidArgument(f"{path} is not a valid AAS environment: {exc}") from None
    text = io.StringIO()
    basyx_json.write_aas_json_file(text, store)
    env: dict[str, Any] = prune(json.loads(text.getvalue()))
    for shell in env.get("assetAdministrationShells") or []:
        # BaSyx keeps a shell's submodel references in a set: put them in one order, or every
        # read (and every round trip) lists them differently
        if shell.get("submodels"):
            shell["submodels"].sort(key=lambda ref: json.dumps(ref.get("keys"), sort_keys=True))
    return env, files


def import_environment(graph: Any, env: dict[str, Any], files: Files | None = None) -> dict[str, Any]:
    """Twins for an environment's shells and submodels (replacing those imported before); a
    package's supplementary files go with each shell (up to `MAX_FILES` bytes in all)."""
    files = files or {}
    if sum(len(data) for _, data in files.values()) > MAX_FILES:
        raise InvalidArgument(f"the package's supplementary files are over {MAX_FILES // 2**20} MiB: keep them "
                              "elsewhere and refer to them by URL")
    packed = json.dumps({name: {"contentType": kind, "base64": base64.b64encode(data).decode()}
                         for name, (kind, data) in files.items()})
    submodels = {sm["id"]: sm for sm in env.get("submodels") or []}
    concepts = env.get("conceptDescriptions") or []
    ifaces = [submodel_interface(sm) for sm in submodels.values()]
    new = [m for m in base_models() if m["@id"] not in graph.models] + [m for m in ifaces if m["@id"] not in graph.models]
    if new:
        graph.add_models(new)
    made = {"shells": 0, "submodels": 0, "elements": 0}
    twin_of: dict[str, str] = {}
    for (sm_id, sm), iface in zip(submodels.items(), ifaces, strict=True):
        doc: dict[str, Any] = {"$metadata": {"$model": iface["@id"]}, "submodelId": sm_id,
                               "idShort": sm.get("idShort", ""), "semanticId": _semantic(sm),
                               "aasSource": json.dumps(sm, ensure_ascii=False)}
        names = {c["name"] for c in iface["contents"]}
        for element in sm.get("submodelElements") or []:
            made["elements"] += 1
            name = dtdl_name(element.get("idShort", ""))
            if name in names and name not in doc:
                value = _value(element)
                if value is not None:
                    doc[name] = value
        twin_of[sm_id] = twin_id("sm", sm_id, sm.get("idShort", ""))
        graph.create_twin(twin_of[sm_id], doc)
        made["submodels"] += 1
    shells = []
    for shell in env.get("assetAdministrationShells") or []:
        info = shell.get("assetInformation") or {}
        doc = {"$metadata": {"$model": SHELL}, "aasId": shell["id"], "idShort": shell.get("idShort", ""),
               "globalAssetId": info.get("globalAssetId", ""), "assetKind": info.get("assetKind", ""),
               "aasSource": json.dumps(shell, ensure_ascii=False),
               "aasConceptDescriptions": json.dumps(concepts, ensure_ascii=False), "aasFiles": packed}
        sid = twin_id("shell", shell["id"], shell.get("idShort", ""))
        graph.create_twin(sid, doc)
        shells.append(sid)
        made["shells"] += 1
        for k, ref in enumerate(shell.get("submodels") or []):
            target = twin_of.get(ref["keys"][-1]["value"])
            if target is not None:
                graph.create_relationship(sid, f"{sid}-sm-{k}", {"$relationshipName": "hasSubmodel",
                                                                "$targetId": target})
    return {**made, "shellTwins": shells, "models": len(new)}


def submodel_document(twin: dict[str, Any]) -> dict[str, Any]:
    """A submodel twin as AAS JSON: the imported document with the twin's values written in."""
    sm: dict[str, Any] = json.loads(twin["aasSource"])
    for element in sm.get("submodelElements") or []:
        name = dtdl_name(element.get("idShort", ""))
        if name in twin:
            _write_back(element, twin[name])
    return sm


def shell_document(graph: Any, shell_twin: str) -> tuple[dict[str, Any], list[dict[str, Any]], list[Any]]:
    """(shell, its submodels, concept descriptions) as AAS JSON from the twins."""
    twin = graph.get_twin(shell_twin)
    if twin.get("$metadata", {}).get("$model") != SHELL:
        raise InvalidArgument(f"'{shell_twin}' is not an AAS shell twin (model {SHELL})")
    shell = json.loads(twin["aasSource"])
    submodels = []
    for rel in graph.list_relationships(shell_twin, "hasSubmodel"):
        submodels.append(submodel_document(graph.get_twin(rel["$targetId"])))
    return shell, submodels, json.loads(twin.get("aasConceptDescriptions") or "[]")


def export_environment(graph: Any, shell_twins: Iterable[str]) -> dict[str, Any]:
    """An environment (AAS JSON) of the given shell twins, checked by BaSyx."""
    shells, submodels, concepts, seen = [], [], [], set()
    for twin in shell_twins:
        shell, sms, cds = shell_document(graph, twin)
        shells.append(shell)
        for sm in sms:
            if sm["id"] not in seen:
                seen.add(sm["id"])
                submodels.append(sm)
        for cd in cds:
            if cd["id"] not in seen:
                seen.add(cd["id"])
                concepts.append(cd)
    env: dict[str, Any] = {}
    if shells:
        env["assetAdministrationShells"] = shells
    if submodels:
        env["submodels"] = submodels
    if concepts:
        env["conceptDescriptions"] = concepts
    _store(env)  # BaSyx reads it back strictly: what we write is a valid environment
    return env


def export_document(graph: Any, aas_ids: list[str] | None, submodel_ids: list[str] | None,
                    concepts: bool = True) -> dict[str, Any]:
    """An environment of the shells with ``aas_ids`` (all by default) and of the submodels with
    ``submodel_ids`` (by default those of the chosen shells; all when no shell is named)."""
    twins = {t: graph.get_twin(t) for t in shell_twins(graph)}
    chosen = [t for t, doc in twins.items() if aas_ids is None or doc.get("aasId") in aas_ids]
    if aas_ids is not None and len(chosen) < len(set(aas_ids)):
        raise NotFound("a shell asked for is not here", code="ShellNotFound")
    shells: list[Any] = []
    submodels: list[dict[str, Any]] = []
    cds: list[Any] = []
    for t in chosen:
        shell, sms, found = shell_document(graph, t)
        if aas_ids is not None or submodel_ids is None:
            shells.append(shell)
        submodels.extend(sm for sm in sms if submodel_ids is None or sm["id"] in submodel_ids)
        cds.extend(cd for cd in found if cd["id"] not in {c["id"] for c in cds})
    if submodel_ids is not None and aas_ids is None:
        shells = []
        seen = {sm["id"] for sm in submodels}
        for row in graph.query(f"SELECT T FROM DIGITALTWINS T WHERE IS_OF_MODEL('{SUBMODEL}')"):
            sm = submodel_document(row["T"])
            if sm["id"] in submodel_ids and sm["id"] not in seen:
                submodels.append(sm)
                seen.add(sm["id"])
        if len(seen & set(submodel_ids)) < len(set(submodel_ids)):
            raise NotFound("a submodel asked for is not here", code="SubmodelNotFound")
    env: dict[str, Any] = {}
    if shells:
        env["assetAdministrationShells"] = shells
    unique = list({sm["id"]: sm for sm in submodels}.values())
    if unique:
        env["submodels"] = unique
    if concepts and cds:
        env["conceptDescriptions"] = cds
    return env


def _store(env: dict[str, Any]) -> Any:
    basyx_json, _, _ = _basyx()
    try:
        return basyx_json.read_aas_json_file(io.StringIO(json.dumps(env)), failsafe=False)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidArgument(f"the exported environment is not valid AAS: {exc}") from None


def stored_files(graph: Any, shell_twins: Iterable[str]) -> Files:
    """The supplementary files kept with the given shells."""
    out: Files = {}
    for twin in shell_twins:
        packed = json.loads(graph.get_twin(twin).get("aasFiles") or "{}")
        for name, item in packed.items():
            out[name] = (item["contentType"], base64.b64decode(item["base64"]))
    return out


def write_environment(env: dict[str, Any], path: Path, files: Files | None = None) -> None:
    """AAS JSON (``.json``) or an AASX package (``.aasx``: the environment as JSON inside, with
    the supplementary files)."""
    if path.suffix.lower() != ".aasx":
        path.write_text(json.dumps(env, indent=2, ensure_ascii=False), encoding="utf-8")
        return
    _, aasx, _ = _basyx()
    store = _store(env)
    container = aasx.DictSupplementaryFileContainer()
    for name, (kind, data) in (files or {}).items():
        container.add_file(name, io.BytesIO(data), kind)
    files_arg = container
    with aasx.AASXWriter(str(path)) as writer:
        ids = [shell["id"] for shell in env.get("assetAdministrationShells") or []]
        writer.write_aas(ids, store, files_arg, write_json=True)
    _replace_json(path, env)


def _replace_json(path: Path, env: dict[str, Any]) -> None:
    """The package's JSON part rewritten as ``env`` (BaSyx's writer adds empty lists)."""
    import zipfile

    with zipfile.ZipFile(path) as old:
        parts = [(info, old.read(info.filename)) for info in old.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for info, data in parts:
            if info.filename.startswith("aasx/") and info.filename.endswith(".json"):
                data = json.dumps(env, ensure_ascii=False).encode()
            new.writestr(info, data)


def shell_twins(graph: Any) -> list[str]:
    """Every AAS shell twin in the graph."""
    return sorted(row["$dtId"] for row in graph.query(f"SELECT T.$dtId FROM DIGITALTWINS T WHERE IS_OF_MODEL('{SHELL}')"))


def find_shell(graph: Any, aas_id: str) -> str:
    """The twin of the shell with AAS id ``aas_id``."""
    for candidate in shell_twins(graph):
        if graph.get_twin(candidate).get("aasId") == aas_id:
            return candidate
    raise NotFound(f"there is no shell '{aas_id}'", code="ShellNotFound")


__all__ = [
    "NS",
    "SHELL",
    "SUBMODEL",
    "base_models",
    "dtdl_name",
    "export_environment",
    "find_shell",
    "import_environment",
    "prune",
    "read_environment",
    "shell_document",
    "shell_twins",
    "stored_files",
    "submodel_document",
    "submodel_interface",
    "twin_id",
    "write_environment",
]
