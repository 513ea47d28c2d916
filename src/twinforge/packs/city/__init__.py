"""The city pack: the public smart-cities and energy-grid ontologies (shipped), power-grid twins
from pandapower networks on the energy-grid ontology (`grid`). More to come: traffic,
buildings, public services (docs/city.md)."""

__all__: list[str] = []
