"""A structure-aware mutator for the JSON targets: libFuzzer's byte flips mostly break the JSON
syntax, so the parsers behind ``json.loads`` see few inputs. This one parses the input, changes
one node of the tree (another type, an edge value, a word the parsers know, a dropped or
duplicated member, a subtree copied from elsewhere in the document) and writes it back;
one time in four, or when the input is not JSON, it leaves the bytes to libFuzzer.

    python fuzz/run.py dtdl -runs=1000000        # run.py gives it to atheris (--raw: bytes only)
"""

from __future__ import annotations

import json
import random
from typing import Any

# Words the parsers give meaning to: DTDL terms and schemas, JSON Patch ops and paths, mapping
# and scenario keys. A mutation that puts one where another was reaches deeper branches.
WORDS = [
    "Interface", "Property", "Telemetry", "Command", "Relationship", "Component", "Object", "Map",
    "Enum", "Array", "Field", "EnumValue", "MapKey", "MapValue", "CommandRequest", "CommandResponse",
    "CommandPayload", "Historized", "Annotation", "Overriding", "Requirement", "Temperature", "degreeCelsius",
    "boolean", "date", "dateTime", "double", "duration", "float", "integer", "long", "string", "time",
    "byte", "bytes", "decimal", "short", "uuid", "unsignedInteger", "scaledDecimal",
    "dtmi:dtdl:context;2", "dtmi:dtdl:context;3", "dtmi:dtdl:context;4", "dtmi:dtdl:extension:quantitativeTypes;1",
    "dtmi:dtdl:extension:historization;1", "dtmi:dtdl:extension:annotation;1", "dtmi:dtdl:extension:overriding;1",
    "dtmi:dtdl:extension:mqtt;1", "dtmi:dtdl:extension:requirement;1", "dtmi:com:example:A;1", "dtmi:com:example:B;1",
    "@id", "@type", "@context", "name", "schema", "contents", "extends", "fields", "enumValue", "valueSchema",
    "mapKey", "mapValue", "elementSchema", "target", "properties", "maxMultiplicity", "minMultiplicity",
    "writable", "unit", "request", "response", "schemas", "displayName", "description", "comment",
    "add", "remove", "replace", "move", "copy", "test", "op", "path", "from", "value", "/", "/a", "/b/0",
    "/b/-", "/c/d", "~0", "~1", "mqtt", "opcua", "topic", "twin", "property", "telemetry", "id", "scope",
    "horizon", "step", "overrides", "kpis", "sweep", "optimise", "PT1H", "P1D", "-PT1S", "{twin}", "+", "#",
]
EDGES: list[Any] = [None, True, False, 0, -1, 1, 2**31, 2**63, -(2**63) - 1, 1e308, -1e-308, 0.5, "", " ", "\u0000",
                    "\ud7ff", "a" * 300, [], {}, [[[[]]]], {"": {}}]


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_nodes(v, (*path, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_nodes(v, (*path, i)))
    return out


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        doc = doc[step]
    return doc


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _new_value(rng: random.Random, doc: Any, old: Any) -> Any:
    """A fresh value (never an object already in a tree: a shared one could end up inside itself)."""
    return _copy(_pick(rng, doc, old))


def _pick(rng: random.Random, doc: Any, old: Any) -> Any:
    choice = rng.randrange(6)
    if choice == 0:
        return rng.choice(EDGES)
    if choice == 1:
        return rng.choice(WORDS)
    if choice == 2 and isinstance(old, str) and old:
        i = rng.randrange(len(old))
        return old[:i] + rng.choice(["", "x", ";", ":", "0", "\\", "/", "{", "}", "*"]) + old[i + 1:]
    if choice == 3 and isinstance(old, (int, float)) and not isinstance(old, bool):
        return rng.choice([old + 1, old - 1, -old, old * 1000, 0])
    if choice == 4:
        return _get(doc, rng.choice(_nodes(doc)))  # (a copy of) another subtree
    return rng.choice([{rng.choice(WORDS): rng.choice(EDGES + WORDS)}, [rng.choice(WORDS)], old])


def mutate_json(doc: Any, rng: random.Random) -> Any:
    """``doc`` with one node changed, one member dropped, or one added."""
    paths = _nodes(doc)
    path = rng.choice(paths)
    if not path:
        return _new_value(rng, doc, doc)
    parent = _get(doc, path[:-1])
    key = path[-1]
    action = rng.randrange(4)
    if action == 0:  # drop the member
        del parent[key]
    elif action == 1 and isinstance(parent, list):  # duplicate an element
        parent.insert(key, _copy(parent[key]))
    elif action == 1 and isinstance(parent, dict):  # add a member the parsers know
        parent[rng.choice(WORDS)] = _new_value(rng, doc, None)
    else:
        parent[key] = _new_value(rng, doc, parent[key])
    return doc


def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
    import atheris

    rng = random.Random(seed)
    if rng.randrange(4):
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            doc = None
        if doc is not None:
            try:
                for _ in range(1 + rng.randrange(3)):
                    doc = mutate_json(doc, rng)
                out = json.dumps(doc, ensure_ascii=rng.randrange(2) == 0).encode("utf-8", "surrogatepass")
            except RecursionError:  # a tree grown too deep to write back: leave it to libFuzzer
                out = b""
            if 0 < len(out) <= max_size:
                return out
    mutated: bytes = atheris.Mutate(data, max_size)
    return mutated


__all__ = ["custom_mutator", "mutate_json"]
