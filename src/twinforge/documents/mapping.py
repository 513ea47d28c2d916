"""Mapping files (docs/ingest.md): which MQTT topics and OPC UA nodes feed which twins."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, StrictInt, StrictStr

from twinforge.documents.base import Document
from twinforge.errors import InvalidArgument

Kind = Literal["property", "telemetry"]


def _json_path(text: str) -> str:
    from twinforge.ingest.mapping import compile_path

    try:
        compile_path(text)
    except InvalidArgument as exc:
        raise ValueError(str(exc)) from None
    return text


JsonPath = Annotated[StrictStr, AfterValidator(_json_path)]


class ValueDocument(Document):
    """Where one value is in the payload, and how to scale it (value * scale + offset)."""

    path: JsonPath = Field(description="a JSON path into the payload: $.a.b[0]")
    scale: float = 1.0
    offset: float = 0.0


def _value(spec: Any) -> Any:
    if isinstance(spec, str):
        return {"path": spec}
    if not isinstance(spec, dict):
        raise ValueError(f"a value is a JSON path or {{path, scale, offset}}, got {spec!r}"[:200])
    return spec


class TopicDocument(Document):
    """MQTT messages on ``topic`` (``{name}`` captures one level) update ``twin``."""

    topic: StrictStr = Field(description="a topic filter; {name} captures a level, + and # as in MQTT")
    twin: StrictStr = Field(description="the twin id, may use the captures: machine-{line}-{machine}")
    kind: Kind = "property"
    component: StrictStr | None = Field(None, description="a component of the twin, may use the captures")
    values: dict[str, Annotated[ValueDocument, BeforeValidator(_value)]] | None = Field(
        None, min_length=1, description="names to JSON paths (default: every field of a JSON object payload)")
    time: JsonPath | None = Field(None, description="where the source time is (ISO 8601 or epoch seconds)")


class NodeDocument(Document):
    """One OPC UA node (its value, scaled) to one name of a twin."""

    node: StrictStr = Field(description="an OPC UA node id: ns=2;s=Pump1.Flow")
    twin: StrictStr
    name: StrictStr
    kind: Kind = "property"
    component: StrictStr | None = None
    scale: float = 1.0
    offset: float = 0.0


class OpcUaDocument(Document):
    """An OPC UA server and the nodes read from it (by subscription, sampled every interval_ms)."""

    endpoint: StrictStr = Field(description="opc.tcp://host:4840/path")
    interval_ms: StrictInt = Field(100, ge=1, le=86_400_000)
    nodes: list[NodeDocument] | None = None


class MappingDocument(Document):
    """A mapping file: MQTT topic rules and OPC UA sources."""

    mqtt: list[TopicDocument] | None = None
    opcua: list[OpcUaDocument] | None = None


__all__ = ["MappingDocument", "NodeDocument", "OpcUaDocument", "TopicDocument", "ValueDocument"]
