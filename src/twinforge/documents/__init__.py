"""The documents clients send, as pydantic models in one layer: it checks their shape (types,
required and unknown fields, ranges) and names the field at fault by its path; the services
check what needs the graph (models, twins, names). Their JSON Schemas show in `/docs`."""

from twinforge.documents.base import Document, Duration, check, describe, schema_for
from twinforge.documents.mapping import (
    MappingDocument,
    NodeDocument,
    OpcUaDocument,
    TopicDocument,
    ValueDocument,
)
from twinforge.documents.records import (
    DetectorDocument,
    EndpointDocument,
    ImportJobDocument,
    RouteDocument,
    RulDocument,
    RuleDocument,
    WorkOrderChange,
    WorkOrderDocument,
)
from twinforge.documents.scenario import (
    KpiDocument,
    OptimiseDocument,
    OverrideDocument,
    ScenarioDocument,
    SweepDocument,
)

__all__ = [
    "DetectorDocument",
    "Document",
    "Duration",
    "EndpointDocument",
    "ImportJobDocument",
    "KpiDocument",
    "MappingDocument",
    "NodeDocument",
    "OpcUaDocument",
    "OptimiseDocument",
    "OverrideDocument",
    "RouteDocument",
    "RulDocument",
    "RuleDocument",
    "ScenarioDocument",
    "SweepDocument",
    "TopicDocument",
    "ValueDocument",
    "WorkOrderChange",
    "WorkOrderDocument",
    "check",
    "describe",
    "schema_for",
]
