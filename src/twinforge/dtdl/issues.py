"""Error messages that say which element is at fault, and in which file.

The parser and resolver record each problem with the DTMI of its interface and a JSON
path into the batch (``$[0].contents[2].schema``). Before they are reported, each path is
followed into the documents to name the element by kind and name or ``@id``
(``Property 'fanMode'``), and, when the documents came from files, the batch position is
replaced by the file name and the position inside it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from twinforge.dtdl.elements import ModelIssue

_HEAD = re.compile(r"^\$\[(\d+)\](?:\[(\d+)\])?")
_TOKEN = re.compile(r"\[(\d+)\]|\.([^.\[\]]+)")
# Where an element's @type may be left out, the property holding it says its class.
_IMPLIED = {"enumValues": "EnumValue", "fields": "Field", "mapKey": "MapKey", "mapValue": "MapValue",
            "request": "CommandRequest", "response": "CommandResponse"}


def describe(issues: Sequence[ModelIssue], documents: Sequence[Any],
             sources: Sequence[str] | None = None) -> list[ModelIssue]:
    """``issues`` with the element at fault named and, given ``sources`` (one name per
    document), paths that start at the file rather than the batch."""
    return [_describe(issue, documents, sources) for issue in issues]


def _describe(issue: ModelIssue, documents: Sequence[Any], sources: Sequence[str] | None) -> ModelIssue:
    head = _HEAD.match(issue.path)
    if head is None or int(head.group(1)) >= len(documents):
        return issue
    index = int(head.group(1))
    value: Any = documents[index]
    inner = issue.path[head.end():]
    if head.group(2) is not None:
        position = int(head.group(2))
        if not isinstance(value, list) or position >= len(value):
            return issue
        value = value[position]
        local = f"$[{position}]{inner}"
    else:
        local = f"${inner}"
    element = _label(value, None)
    key: str | None = None
    for m in _TOKEN.finditer(inner):
        if m.group(2) is not None:
            key = m.group(2)
            value = value.get(key) if isinstance(value, dict) else None
        else:
            n = int(m.group(1))
            value = value[n] if isinstance(value, list) and n < len(value) else None
        if value is None:
            break
        found = _label(value, key)
        if found:
            element = found
    source = sources[index] if sources is not None and index < len(sources) and sources[index] else ""
    where = f"{source} {local}" if source else issue.path
    return ModelIssue(issue.dtmi, where, issue.message, element=element or "")


def _label(value: Any, key: str | None) -> str | None:
    """``Property 'fanMode'`` or ``Interface dtmi:ex:Room;1`` for an element that has a name
    or an @id; None for anything else."""
    if not isinstance(value, dict):
        return None
    kind = value.get("@type")
    if isinstance(kind, list):
        kind = next((k for k in kind if isinstance(k, str)), None)
    if not isinstance(kind, str):
        kind = _IMPLIED.get(key or "", "element")
    name, ident = value.get("name"), value.get("@id")
    if isinstance(name, str):
        return f"{kind} '{name}'"
    if isinstance(ident, str):
        return f"{kind} {ident}"
    return None


__all__ = ["describe"]
