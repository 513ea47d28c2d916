"""RFC 6902 JSON Patch, applied to plain JSON values without touching the input."""

from __future__ import annotations

import copy
from typing import Any

from twinforge.errors import InvalidArgument

_OPS = {"add", "remove", "replace", "move", "copy", "test"}


class PatchError(InvalidArgument):
    code = "JsonPatchInvalid"


def parse_pointer(pointer: str) -> list[str]:
    """Split an RFC 6901 JSON Pointer into unescaped reference tokens."""
    if not isinstance(pointer, str):
        raise PatchError(f"path must be a string, not {pointer!r}")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"path '{pointer}' must start with '/'")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(container: list[Any], token: str, *, for_add: bool) -> int:
    if token == "-" and for_add:
        return len(container)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise PatchError(f"'{token}' is not an array index")
    i = int(token)
    if i > len(container) or (i == len(container) and not for_add):
        raise PatchError(f"array index {i} is out of range")
    return i


def _parent(doc: Any, tokens: list[str], path: str) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict):
            if token not in node:
                raise PatchError(f"path '{path}' does not exist")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, for_add=False)]
        else:
            raise PatchError(f"path '{path}' does not exist")
    return node


def _locate(doc: Any, path: str) -> tuple[Any, str] | None:
    """The container holding ``path`` and the last token, or None for the whole document."""
    tokens = parse_pointer(path)
    if not tokens:
        return None
    return _parent(doc, tokens, path), tokens[-1]


def get_at(doc: Any, path: str) -> Any:
    located = _locate(doc, path)
    if located is None:
        return doc
    parent, last = located
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, for_add=False)]
    raise PatchError(f"path '{path}' does not exist")


def _add(doc: Any, path: str, value: Any) -> Any:
    located = _locate(doc, path)
    if located is None:
        return value
    parent, last = located
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, for_add=True), value)
    else:
        raise PatchError(f"cannot add at '{path}': parent is not an object or array")
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    located = _locate(doc, path)
    if located is None:
        raise PatchError("cannot remove the whole document")
    parent, last = located
    if isinstance(parent, dict) and last in parent:
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, for_add=False))
    raise PatchError(f"path '{path}' does not exist")


def apply_patch(doc: Any, patch: Any) -> Any:
    """Apply ``patch`` (a list of operations) to a deep copy of ``doc``; all or nothing."""
    if not isinstance(patch, list):
        raise PatchError("a JSON Patch must be an array of operations")
    result = copy.deepcopy(doc)
    for n, op in enumerate(patch):
        kind_value = op.get("op") if isinstance(op, dict) else None
        if not isinstance(kind_value, str) or kind_value not in _OPS:
            raise PatchError(f"operation {n} must be an object whose 'op' is one of {sorted(_OPS)}")
        if "path" not in op:
            raise PatchError(f"operation {n} ({op['op']}) has no 'path'")
        kind, path = op["op"], op["path"]
        if not isinstance(path, str):
            raise PatchError(f"operation {n} ({kind}): 'path' must be a JSON Pointer string, got {type(path).__name__}")
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"operation {n} ({kind}) has no 'value'")
        if kind == "add":
            result = _add(result, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            result, _ = _remove(result, path)
        elif kind == "replace":
            get_at(result, path)
            if parse_pointer(path):
                result, _ = _remove(result, path)
            result = _add(result, path, copy.deepcopy(op["value"]))
        elif kind in ("move", "copy"):
            source = op.get("from")
            if not isinstance(source, str):
                raise PatchError(f"operation {n} ({kind}) needs 'from'")
            if kind == "move":
                if path.startswith(source + "/"):
                    raise PatchError(f"cannot move '{source}' into its own child")
                result, value = _remove(result, source)
            else:
                value = copy.deepcopy(get_at(result, source))
            result = _add(result, path, value)
        elif kind == "test" and get_at(result, path) != op["value"]:
            raise PatchError(f"test failed at '{path}'")
    return result
