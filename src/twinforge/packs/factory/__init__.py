"""The factory pack: OEE and production KPIs (more to come: OPC UA connection, AAS, the demo line)."""

__all__: list[str] = []
