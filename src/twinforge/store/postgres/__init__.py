"""The PostgreSQL store (psycopg 3): the same `TwinStore` as SQLite, for several servers over one
database. Writers take one advisory lock (one at a time, as in SQLite); history is kept in
chunks per series and day, partitioned by month and bulk-loaded with COPY; queries compile to
PostgreSQL's JSON operators."""

from __future__ import annotations

from twinforge.store.base import TwinStore
from twinforge.store.postgres.connections import AdvisoryLease, PostgresConnections
from twinforge.store.postgres.documents import DocumentRows
from twinforge.store.postgres.history import HistoryRows
from twinforge.store.postgres.logs import LogRows
from twinforge.store.postgres.queries import PostgresDialect, QueryRows
from twinforge.store.records import RecordRows, adopt_legacy_settings


class PostgresStore(DocumentRows, QueryRows, HistoryRows, LogRows, PostgresConnections, RecordRows, TwinStore):
    """A `TwinStore` in one PostgreSQL database, safe to share between threads and processes."""

    def __init__(self, url: str, *, create: bool = True, read_url: str | None = None) -> None:
        super().__init__(url, create=create, read_url=read_url)
        adopt_legacy_settings(self)


__all__ = ["AdvisoryLease", "DocumentRows", "HistoryRows", "LogRows", "PostgresConnections", "PostgresDialect", "PostgresStore", "QueryRows", "RecordRows", "TwinStore", "adopt_legacy_settings"]
