"""The city pack (docs/city.md): the public smart-cities and energy-grid ontologies (shipped),
power-grid twins and what-ifs (`grid`, `grid_whatif`), road networks and SUMO runs (`traffic`,
`traffic_run`), buildings on the grid (`district`, `energyplus`), public services
(`services`) and the demo district (`demo`)."""

SMART_CITY = "dtmi:digitaltwins:ngsi_ld:city:"  # the smart-cities ontology's namespace

__all__ = ["SMART_CITY"]
