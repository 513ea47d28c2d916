"""The REST API (FastAPI): Azure Digital Twins' data plane, served over a TwinGraph.

`create_app(graph)` builds the ASGI app; `Server(ServerConfig(...))` adds what
``twinforge serve`` configures (TLS, MQTT, OPC UA, history upkeep, workers) and runs it.
"""

from twinforge.api.app import create_app
from twinforge.api.errors import error_body, status_of
from twinforge.api.server import Server, ServerConfig

__all__ = ["Server", "ServerConfig", "create_app", "error_body", "status_of"]
