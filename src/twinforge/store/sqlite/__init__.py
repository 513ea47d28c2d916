"""The SQLite store: one file, WAL mode, every multi-step change in one transaction."""

from __future__ import annotations

from pathlib import Path

from twinforge.store.base import TwinStore
from twinforge.store.records import RecordRows, adopt_legacy_settings
from twinforge.store.sqlite.connections import FileLease, SQLiteConnections
from twinforge.store.sqlite.documents import DocumentRows
from twinforge.store.sqlite.history import HistoryRows
from twinforge.store.sqlite.logs import LogRows
from twinforge.store.sqlite.queries import QueryRows
from twinforge.store.sqlite.schema import SCHEMA, path_from_url


class SQLiteStore(HistoryRows, DocumentRows, QueryRows, LogRows, SQLiteConnections, RecordRows, TwinStore):
    """A `TwinStore` on one SQLite file, safe to share between threads."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        super().__init__(path, create=create)
        adopt_legacy_settings(self)


__all__ = ["SCHEMA", "DocumentRows", "FileLease", "HistoryRows", "LogRows", "QueryRows", "RecordRows", "SQLiteConnections", "SQLiteStore", "TwinStore", "adopt_legacy_settings", "path_from_url"]
