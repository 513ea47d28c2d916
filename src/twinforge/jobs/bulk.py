"""The bulk file of Azure Digital Twins import jobs: NDJSON in sections.

    {"Section": "Header"}
    {"fileVersion": "1.0.0", "author": "...", "organization": "..."}
    {"Section": "Models"}
    {"@id": "dtmi:com:example:Pump;1", "@type": "Interface", ...}      one model per line
    {"Section": "Twins"}
    {"$dtId": "pump-1", "$metadata": {"$model": "dtmi:com:example:Pump;1"}, ...}
    {"Section": "Relationships"}
    {"$dtId": "pump-1", "$relationshipId": "r1", "$targetId": "tank-1", "$relationshipName": "feeds", ...}

Sections come in this order; any may be missing or empty. Blank lines are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from twinforge.errors import InvalidArgument

SECTIONS = ("Header", "Models", "Twins", "Relationships")


@dataclass(slots=True)
class BulkFile:
    """What a bulk file holds, section by section."""

    header: dict[str, Any] = field(default_factory=dict)
    models: list[Any] = field(default_factory=list)
    twins: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    relationships: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)


def read_bulk(lines: Iterable[str | bytes]) -> BulkFile:
    """Parse a bulk file; an `InvalidArgument` names the first bad line (1-based)."""
    out = BulkFile()
    section: str | None = None
    order = -1
    for number, raw in enumerate(lines, 1):
        text = raw.decode() if isinstance(raw, bytes) else raw
        if not text.strip():
            continue
        try:
            item = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise InvalidArgument(f"line {number}: not JSON ({exc})", code="ValidationFailed") from None
        if not isinstance(item, dict):
            raise InvalidArgument(f"line {number}: expected a JSON object", code="ValidationFailed")
        if set(item) == {"Section"}:
            name = item["Section"]
            if name not in SECTIONS:
                raise InvalidArgument(f"line {number}: unknown section {name!r} (expected one of "
                                      f"{', '.join(SECTIONS)})", code="ValidationFailed")
            if SECTIONS.index(name) <= order:
                raise InvalidArgument(f"line {number}: section {name} out of order (sections come as "
                                      f"{' > '.join(SECTIONS)})", code="ValidationFailed")
            section, order = name, SECTIONS.index(name)
            continue
        if section is None:
            raise InvalidArgument(f'line {number}: a bulk file starts with {{"Section": "Header"}}',
                                  code="ValidationFailed")
        if section == "Header":
            out.header.update(item)
        elif section == "Models":
            out.models.append(item)
        elif section == "Twins":
            twin_id = item.get("$dtId")
            if not isinstance(twin_id, str) or not twin_id:
                raise InvalidArgument(f"line {number}: a twin needs $dtId", code="ValidationFailed")
            out.twins.append((twin_id, item))
        else:
            source, rel_id = item.get("$dtId"), item.get("$relationshipId")
            if not isinstance(source, str) or not isinstance(rel_id, str) or not source or not rel_id:
                raise InvalidArgument(f"line {number}: a relationship needs $dtId and $relationshipId",
                                      code="ValidationFailed")
            body = {k: v for k, v in item.items() if k not in ("$dtId", "$relationshipId")}
            out.relationships.append((source, rel_id, body))
    version = out.header.get("fileVersion")
    if out.header and version is not None and not str(version).startswith("1."):
        raise InvalidArgument(f"fileVersion {version!r} is not supported (1.x is)", code="ValidationFailed")
    return out


def write_bulk(bulk: BulkFile) -> bytes:
    """The bulk file of ``bulk`` (what `read_bulk` reads back)."""
    lines: list[bytes] = [orjson.dumps({"Section": "Header"}),
                          orjson.dumps(bulk.header or {"fileVersion": "1.0.0"})]
    lines.append(orjson.dumps({"Section": "Models"}))
    lines += [orjson.dumps(m) for m in bulk.models]
    lines.append(orjson.dumps({"Section": "Twins"}))
    lines += [orjson.dumps({**doc, "$dtId": tid}) for tid, doc in bulk.twins]
    lines.append(orjson.dumps({"Section": "Relationships"}))
    lines += [orjson.dumps({"$dtId": s, "$relationshipId": r, **body}) for s, r, body in bulk.relationships]
    return b"\n".join(lines) + b"\n"


__all__ = ["SECTIONS", "BulkFile", "read_bulk", "write_bulk"]
