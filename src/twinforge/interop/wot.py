"""W3C Web of Things Thing Descriptions (TD 1.1, the format Eclipse Ditto uses) to DTDL v3
(`twinforge models import-wot`).

A TD is first checked: its JSON has no duplicate keys, it passes the TD JSON Schema (W3C,
shipped as `interop/data/td-schema.json`), every security name it uses is defined, it has
at most one ``rel: type`` link, and enum and const values have the type their schema
declares. Then:

| TD | DTDL |
|---|---|
| Thing (`id`, `title`, `description`) | Interface (`dtmi:` from the id, else from the title) |
| property | Property (`writable` unless `readOnly`) |
| event | Telemetry, schema from its `data` |
| action | Command, `input` as request, `output` as response |
| boolean, integer, number, string (`format: date-time` → dateTime), object, array, enum | boolean, long, double, string / dateTime, Object, Array, Enum |
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from twinforge.errors import InvalidArgument, MissingDependency
from twinforge.interop.opcua_dtdl import dtdl_name

CONTEXT = ["dtmi:dtdl:context;3"]
MAX_DEPTH = 5


class TdError(InvalidArgument):
    """A Thing Description that is not valid; ``problems`` lists every reason."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: not a valid Thing Description: " + "; ".join(problems[:5])
                         + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""))
        self.problems = problems


@functools.cache
def _validator() -> Any:
    try:
        import jsonschema
    except ImportError:
        raise MissingDependency("Thing Descriptions are checked with jsonschema: pip install 'twinforge[wot]'") from None

    schema = json.loads(resources.files("twinforge.interop").joinpath("data/td-schema.json").read_text())
    return jsonschema.Draft7Validator(schema)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"the key '{key}' appears twice in one object")
        seen[key] = value
    return seen


def read_td(text: str | bytes, source: str = "<td>") -> dict[str, Any]:
    """Parse and check a Thing Description; raise `TdError` listing what is wrong."""
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicates)
    except ValueError as exc:
        raise TdError(source, [str(exc)]) from None
    problems = [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
                for e in sorted(_validator().iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])]
    if isinstance(doc, dict):
        problems += _semantic_problems(doc)
    if problems or not isinstance(doc, dict):
        raise TdError(source, problems or ["a Thing Description is a JSON object"])
    return doc


def _semantic_problems(td: dict[str, Any]) -> list[str]:
    problems = []
    defined = set((td.get("securityDefinitions") or {}).keys())

    def used(value: Any, where: str) -> None:
        for name in [value] if isinstance(value, str) else value if isinstance(value, list) else []:
            if isinstance(name, str) and name not in defined:
                problems.append(f"{where}: security '{name}' is not in securityDefinitions")

    used(td.get("security"), "security")
    for kind in ("properties", "actions", "events"):
        for name, affordance in (td.get(kind) or {}).items():
            for k, form in enumerate(affordance.get("forms") or [] if isinstance(affordance, dict) else []):
                if isinstance(form, dict) and "security" in form:
                    used(form["security"], f"{kind}/{name}/forms/{k}")
            if isinstance(affordance, dict):
                for where, schema in (("", affordance), ("input", affordance.get("input")),
                                      ("output", affordance.get("output")), ("data", affordance.get("data"))):
                    problems += _typed_values(schema, f"{kind}/{name}{'/' + where if where else ''}")
    for k, form in enumerate(td.get("forms") or []):
        if isinstance(form, dict) and "security" in form:
            used(form["security"], f"forms/{k}")
    if sum(1 for link in td.get("links") or [] if isinstance(link, dict) and link.get("rel") == "type") > 1:
        problems.append("links: more than one link with rel 'type'")
    return problems


_JSON_TYPES = {"boolean": (bool,), "integer": (int,), "number": (int, float), "string": (str,), "null": (type(None),),
               "object": (dict,), "array": (list,)}


def _typed_values(schema: Any, where: str) -> list[str]:
    if not isinstance(schema, dict) or not isinstance(schema.get("type"), str):
        return []
    kinds = _JSON_TYPES.get(schema["type"], ())
    values = list(schema.get("enum") or []) + ([schema["const"]] if "const" in schema else [])
    out = []
    for value in values:
        wrong = not isinstance(value, kinds) or (isinstance(value, bool) and schema["type"] in ("integer", "number"))
        if wrong:
            out.append(f"{where}: {value!r} is not of its type {schema['type']}")
    for name, sub in (schema.get("properties") or {}).items():
        out += _typed_values(sub, f"{where}/{name}")
    if isinstance(schema.get("items"), dict):
        out += _typed_values(schema["items"], f"{where}/items")
    return out


def dtmi_for(td: dict[str, Any]) -> str:
    """The interface id: from the TD's id (``urn:dev:wot:lamp`` → ``dtmi:dev:wot:lamp;1``), else its title."""
    raw = str(td.get("id") or f"wot:{td.get('title', 'thing')}")
    raw = re.sub(r"^(urn|uuid|https?)(://|:)", "", raw)
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", raw) if p]
    segments = [p if p[0].isalpha() else f"n{p}" for p in parts] or ["thing"]
    return "dtmi:" + ":".join(segments[:20]) + ";1"


def schema_of(data: Any, depth: int = 0) -> Any:
    """The DTDL schema of a TD DataSchema (deeper than DTDL's five levels: a string)."""
    if not isinstance(data, dict):
        return "string"
    kind = data.get("type")
    values = data.get("enum")
    if isinstance(values, list) and values and kind in ("integer", "string") and depth < MAX_DEPTH:
        used: set[str] = set()
        return {"@type": "Enum", "valueSchema": kind, "enumValues": [
            {"name": dtdl_name(str(v), used), "enumValue": v, "displayName": str(v)[:512]} for v in values]}
    if kind == "boolean":
        return "boolean"
    if kind == "integer":
        return "long"
    if kind == "number":
        return "double"
    if kind == "string":
        return {"date-time": "dateTime", "date": "date", "time": "time"}.get(str(data.get("format")), "string")
    if kind == "object" and depth < MAX_DEPTH and data.get("properties"):
        used = set()
        return {"@type": "Object", "fields": [{"name": dtdl_name(n, used), "schema": schema_of(s, depth + 1)}
                                              for n, s in list(data["properties"].items())[:30]]}
    if kind == "array" and depth < MAX_DEPTH:
        return {"@type": "Array", "elementSchema": schema_of(data.get("items"), depth + 1)}
    return "string"


def _described(item: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    title = source.get("title")
    if isinstance(title, str) and title:
        item["displayName"] = title[:512]
    text = source.get("description")
    if isinstance(text, str) and text:
        item["description"] = text[:512]
    return item


@dataclass
class WotConversion:
    interface: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def td_to_dtdl(td: dict[str, Any]) -> WotConversion:
    """The DTDL interface of a checked Thing Description."""
    doc = _described({"@context": CONTEXT, "@id": dtmi_for(td), "@type": "Interface"}, td)
    doc.setdefault("displayName", str(td.get("title", "Thing"))[:512])
    notes: list[str] = []
    used: set[str] = set()
    contents: list[dict[str, Any]] = []
    for name, prop in (td.get("properties") or {}).items():
        contents.append(_described({"@type": "Property", "name": dtdl_name(name, used), "schema": schema_of(prop),
                                    "writable": not prop.get("readOnly", False)}, prop))
    for name, event in (td.get("events") or {}).items():
        contents.append(_described({"@type": "Telemetry", "name": dtdl_name(name, used),
                                    "schema": schema_of(event.get("data"))}, event))
    for name, action in (td.get("actions") or {}).items():
        command = _described({"@type": "Command", "name": dtdl_name(name, used)}, action)
        for key, slot in (("input", "request"), ("output", "response")):
            if isinstance(action.get(key), dict):
                command[slot] = {"name": key, "schema": schema_of(action[key], 1)}
        contents.append(command)
    doc["contents"] = contents
    if td.get("links"):
        notes.append(f"{doc['@id']}: links are not mapped")
    return WotConversion(doc, notes)


__all__ = ["TdError", "WotConversion", "dtmi_for", "read_td", "schema_of", "td_to_dtdl"]
