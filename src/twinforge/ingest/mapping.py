"""Mapping files: how arbitrary MQTT topics and OPC UA nodes turn into twin updates.

A mapping file is YAML (``.yaml``/``.yml``) or TOML (``.toml``); see docs/ingest.md.

```yaml
mqtt:
  - topic: "plant/{line}/{machine}/status"    # {name} captures one topic level
    twin: "machine-{line}-{machine}"
    kind: property                            # or telemetry
    values:
      speed: {path: "$.spd", scale: 0.1}      # JSON path into the payload, unit scaling
      running: "$.state.on"
  - topic: "meters/{id}"
    twin: "meter-{id}"
    kind: telemetry
    time: "$.ts"                              # source time (ISO 8601 or epoch seconds)
opcua:
  - endpoint: "opc.tcp://127.0.0.1:4840"
    interval_ms: 100
    nodes:
      - {node: "ns=2;s=Pump1.Flow", twin: pump-1, name: flow}
      - {node: "ns=2;i=7", twin: pump-1, name: pressure, kind: telemetry, scale: 0.001}
```
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twinforge.documents import MappingDocument, TopicDocument, check
from twinforge.errors import InvalidArgument
from twinforge.history import parse_time, to_us
from twinforge.ingest.core import Update

_CAPTURE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")
MISSING = object()


class MappingError(InvalidArgument):
    code = "InvalidMapping"


def compile_path(text: str) -> tuple[str | int, ...]:
    """``$.a.b[2]`` (or ``a.b[2]``) to keys and indexes."""
    body = text[1:] if text.startswith("$") else "." + text
    tokens: list[str | int] = []
    pos = 0
    for m in _PATH_TOKEN.finditer(body):
        if m.start() != pos:
            raise MappingError(f"'{text}' is not a JSON path like $.a.b[0]")
        tokens.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if pos != len(body):
        raise MappingError(f"'{text}' is not a JSON path like $.a.b[0]")
    return tuple(tokens)


def extract(value: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        if isinstance(key, int):
            if not isinstance(value, list) or key >= len(value):
                return MISSING
        elif not isinstance(value, dict) or key not in value:
            return MISSING
        value = value[key]
    return value


@dataclass(frozen=True)
class ValueRule:
    name: str
    path: tuple[str | int, ...]
    scale: float = 1.0
    offset: float = 0.0

    def read(self, payload: Any) -> Any:
        value = extract(payload, self.path)
        if value is MISSING or (self.scale == 1.0 and self.offset == 0.0):
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"'{self.name}' must be a number to be scaled, got {value!r}")
        return value * self.scale + self.offset


def parse_source_time(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("a time cannot be a boolean")
    if isinstance(value, (int, float)):
        return to_us(datetime.fromtimestamp(value, UTC))
    return parse_time(str(value))


@dataclass(frozen=True)
class TopicRule:
    pattern: str
    twin: str
    kind: str = "property"
    component: str = ""
    values: list[ValueRule] | None = None
    time: tuple[str | int, ...] | None = None
    regex: re.Pattern[str] = field(default=re.compile(""), compare=False)

    @property
    def subscription(self) -> str:
        return _CAPTURE.sub("+", self.pattern)

    def match(self, topic: str) -> dict[str, str] | None:
        m = self.regex.fullmatch(topic)
        return m.groupdict() if m else None

    def updates(self, captures: dict[str, str], payload: Any, source: str) -> list[Update]:
        """Updates from one message; a JSON array payload is a batch of records."""
        records = payload if isinstance(payload, list) else [payload]
        twin = self.twin.format(**captures)
        component = self.component.format(**captures) if self.component else ""
        out = []
        for record in records:
            if self.values is None:
                if not isinstance(record, dict):
                    raise ValueError("the payload must be a JSON object (or an array of them)")
                values = {k: v for k, v in record.items() if self.time is None or k != self.time[0]}
            else:
                values = {}
                for rule in self.values:
                    value = rule.read(record)
                    if value is not MISSING:
                        values[rule.name] = value
            ts = None
            if self.time is not None:
                raw = extract(record, self.time)
                ts = parse_source_time(raw) if raw is not MISSING else None
            out.append(Update(twin, values, telemetry=self.kind == "telemetry", component=component,
                              ts=ts, source=source))
        return out


def topic_rule(spec: TopicDocument | dict[str, Any], where: str) -> TopicRule:
    """A topic rule from its document; the names it uses must be captured by its topic."""
    if not isinstance(spec, TopicDocument):
        spec = check(TopicDocument, spec, where, error=MappingError)
    pattern, twin, component = spec.topic, spec.twin, spec.component or ""
    names = _CAPTURE.findall(pattern)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise MappingError(f"{where}: '{{{twice[0]}}}' appears more than once in the topic; give each level its own name")
    for used in _CAPTURE.findall(twin) + _CAPTURE.findall(component):
        if used not in names:
            raise MappingError(f"{where}: '{{{used}}}' is not captured by the topic")
    regex_parts = []
    for level in pattern.split("/"):
        if level == "#":
            regex_parts.append(".*")
        elif level == "+":
            regex_parts.append("[^/]+")
        else:
            pieces = _CAPTURE.split(level)
            part = ""
            for i, piece in enumerate(pieces):
                part += f"(?P<{piece}>[^/]+)" if i % 2 else re.escape(piece)
            regex_parts.append(part)
    values = None if spec.values is None else [
        ValueRule(name, compile_path(v.path), v.scale, v.offset) for name, v in spec.values.items()]
    time = compile_path(spec.time) if spec.time is not None else None
    return TopicRule(pattern, twin, spec.kind, component, values, time, re.compile("/".join(regex_parts)))


@dataclass(frozen=True)
class NodeRule:
    node: str
    twin: str
    name: str
    kind: str = "property"
    component: str = ""
    scale: float = 1.0
    offset: float = 0.0


@dataclass(frozen=True)
class OpcUaSource:
    endpoint: str
    nodes: list[NodeRule]
    interval_ms: int = 100


@dataclass(frozen=True)
class Mapping:
    topics: list[TopicRule] = field(default_factory=list)
    opcua: list[OpcUaSource] = field(default_factory=list)


def parse_mapping(data: Any) -> Mapping:
    """A mapping from its document (checked by `MappingDocument`)."""
    if not isinstance(data, dict):
        raise MappingError("a mapping file must hold a table/object with 'mqtt' and/or 'opcua'")
    doc = check(MappingDocument, data, "mapping", error=MappingError)
    topics = [topic_rule(spec, f"mqtt[{i}]") for i, spec in enumerate(doc.mqtt or [])]
    sources = [OpcUaSource(spec.endpoint, [NodeRule(n.node, n.twin, n.name, n.kind, n.component or "", n.scale,
                                                    n.offset) for n in spec.nodes or []], spec.interval_ms)
               for spec in doc.opcua or []]
    return Mapping(topics, sources)


def load_mapping(path: str | Path) -> Mapping:
    """Read a YAML or TOML mapping file."""
    file = Path(path)
    if not file.exists():
        raise MappingError(f"no such mapping file: {file}")
    if file.suffix not in (".toml", ".yaml", ".yml"):
        raise MappingError(f"{file}: a mapping file must end in .yaml, .yml or .toml")
    text = file.read_text(encoding="utf-8")
    try:
        if file.suffix == ".toml":
            data: Any = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # TOMLDecodeError or yaml.YAMLError
        raise MappingError(f"{file}: not valid {file.suffix[1:].upper()}: {exc}") from exc
    return parse_mapping(data)


# The built-in topic convention: no mapping file needed.
CONVENTION = [
    topic_rule({"topic": "twinforge/twins/{twin}/properties", "twin": "{twin}"}, "convention"),
    topic_rule({"topic": "twinforge/twins/{twin}/telemetry", "twin": "{twin}", "kind": "telemetry"},
               "convention"),
    topic_rule({"topic": "twinforge/twins/{twin}/components/{component}/properties", "twin": "{twin}",
                "component": "{component}"}, "convention"),
    topic_rule({"topic": "twinforge/twins/{twin}/components/{component}/telemetry", "twin": "{twin}",
                "component": "{component}", "kind": "telemetry"}, "convention"),
]
BATCH_TOPIC = "twinforge/updates"  # a JSON array of {"twin", "properties" | "telemetry", ...} records
