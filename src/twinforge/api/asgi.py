"""An app factory for multi-process serving: each worker opens the store named in TWINFORGE_DB."""

from __future__ import annotations

import os

from fastapi import FastAPI

from twinforge.api.app import create_app
from twinforge.graph import TwinGraph
from twinforge.store import DEFAULT_URL


def app_from_env() -> FastAPI:
    """The app one worker process serves (event routes are led by one of them at a time)."""
    return create_app(TwinGraph.open(os.environ.get("TWINFORGE_DB", DEFAULT_URL)))
