"""An app factory for multi-process serving: each worker opens the store named in TWINFORGE_DB."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from twinforge.api.app import create_app
from twinforge.graph import TwinGraph
from twinforge.store import DEFAULT_URL
from twinforge.store.sqlite import path_from_url


def app_from_env() -> FastAPI:
    url = os.environ.get("TWINFORGE_DB", DEFAULT_URL)
    app = create_app(TwinGraph.open(url))
    if url.startswith("sqlite:"):
        # One of the workers delivers event routes; the others take over if it goes.
        app.state.routes.leader_lock = Path(path_from_url(url) + ".routes.lock")
    return app
