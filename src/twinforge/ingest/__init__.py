"""Real-time data into twins: the ingest core, MQTT and OPC UA connectors, mapping files."""

from twinforge.ingest.core import (
    Ingestor,
    IngestResult,
    RefusalKind,
    Update,
    apply_resilient,
    connector_state,
    update_from_json,
)

__all__ = ["IngestResult", "Ingestor", "RefusalKind", "Update", "apply_resilient", "connector_state", "update_from_json"]
