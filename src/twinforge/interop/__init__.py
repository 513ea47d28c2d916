"""Other standards in and out of the twin graph: OPC UA information models (NodeSet2) to DTDL
(docs/interop.md)."""

__all__: list[str] = []
