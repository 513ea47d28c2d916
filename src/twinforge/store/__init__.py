"""Twin stores, chosen by URL: ``sqlite:///path.db`` (default) or ``postgresql://...``."""

from __future__ import annotations

from twinforge.errors import BadRequest
from twinforge.store.base import (
    DeadLetter,
    EventRecord,
    HistoryPoint,
    HistoryStore,
    ModelRecord,
    RelationshipRecord,
    TwinRecord,
    TwinStore,
)
from twinforge.store.sqlite import SQLiteStore

DEFAULT_URL = "sqlite:///twinforge.db"


def open_store(url: str = DEFAULT_URL) -> TwinStore:
    """Open the store a URL names."""
    if url.startswith("sqlite:") or "://" not in url:
        return SQLiteStore.from_url(url)
    if url.startswith(("postgresql://", "postgres://")):
        raise BadRequest("the PostgreSQL store is not available yet; use sqlite:///path.db")
    raise BadRequest(f"unsupported store URL '{url}' (expected sqlite:///path.db)")


__all__ = ["DEFAULT_URL", "DeadLetter", "EventRecord", "HistoryPoint", "HistoryStore", "ModelRecord", "RelationshipRecord", "SQLiteStore",
           "TwinRecord", "TwinStore", "open_store"]
