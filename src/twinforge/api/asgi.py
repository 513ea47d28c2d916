"""An app factory for multi-process serving (`serve --workers N`): each worker opens the store
and serves the configuration `Server` put in TWINFORGE_SERVER (or, run by hand under uvicorn,
just the store named in TWINFORGE_DB)."""

from __future__ import annotations

import os

from fastapi import FastAPI

from twinforge.api.app import create_app
from twinforge.graph import TwinGraph
from twinforge.store import DEFAULT_URL

MQTT_SLOTS = 64


def app_from_env() -> FastAPI:
    """The app one worker process serves (event routes are led by one of them at a time)."""
    text = os.environ.get("TWINFORGE_SERVER")
    if not text:
        return create_app(TwinGraph.open(os.environ.get("TWINFORGE_DB", DEFAULT_URL)))
    from twinforge.api.server import Server, ServerConfig, default_client_id

    config = ServerConfig.from_env(text)
    config.workers = 1
    server = Server(config)
    graph = server.graph = TwinGraph.open(config.db)
    held = None
    if config.mqtt:
        # Each worker takes a numbered slot (a lease in the store) and so a client id of its own
        # that is the same after a restart: workers split the shared subscription and resume
        # their sessions.
        base = config.mqtt_client_id or default_client_id(config.port)
        for slot in range(MQTT_SLOTS):
            lease = graph.store.lease(f"mqtt-slot-{base}-{slot}")
            if lease.try_acquire():
                held = lease
                config.mqtt_client_id = f"{base}-w{slot}"
                break
        else:
            raise RuntimeError(f"all {MQTT_SLOTS} MQTT worker slots are taken")
    app = server.app()
    app.state.mqtt_slot = held  # held as long as the worker lives
    return app
