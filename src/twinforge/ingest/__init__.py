"""Real-time data into twins: the ingest core, MQTT and OPC UA connectors, mapping files."""

from twinforge.ingest.core import Ingestor, IngestResult, Update, update_from_json

__all__ = ["IngestResult", "Ingestor", "Update", "update_from_json"]
