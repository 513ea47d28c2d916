"""An app factory for multi-process serving: each worker opens the store named in TWINFORGE_DB."""

from __future__ import annotations

import json
import os

from fastapi import FastAPI

from twinforge.api.app import create_app
from twinforge.graph import TwinGraph
from twinforge.store import DEFAULT_URL


def app_from_env() -> FastAPI:
    """The app one worker process serves (event routes are led by one of them at a time), with
    the options `Server` put in TWINFORGE_APP (auth, OIDC, query limits)."""
    options = json.loads(os.environ.get("TWINFORGE_APP") or "{}")
    oidc = None
    if options.get("oidc"):
        from twinforge.auth.oidc import OidcVerifier

        oidc = OidcVerifier(*options["oidc"])
    return create_app(TwinGraph.open(os.environ.get("TWINFORGE_DB", DEFAULT_URL)), auth=bool(options.get("auth")),
                      oidc=oidc, query_timeout=float(options.get("query_timeout", 10.0)),
                      threads=int(options.get("threads", 4)), query_threads=int(options.get("query_threads", 4)))
