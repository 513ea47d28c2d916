"""Other standards in and out of the twin graph: OPC UA information models (NodeSet2) to DTDL."""
