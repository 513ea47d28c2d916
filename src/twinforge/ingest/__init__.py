"""Real-time data into twins: the ingest core, MQTT and OPC UA connectors, mapping files."""

from twinforge.ingest.core import Ingestor, IngestResult, RefusalKind, Update, update_from_json

__all__ = ["IngestResult", "Ingestor", "RefusalKind", "Update", "update_from_json"]
