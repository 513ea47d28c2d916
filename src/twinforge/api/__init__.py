"""The REST API (FastAPI): Azure Digital Twins' data plane, served over a TwinGraph."""

from twinforge.api.app import create_app

__all__ = ["create_app"]
