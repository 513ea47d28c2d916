"""Twin stores, chosen by URL: ``sqlite:///path.db`` (default) or ``postgresql://...``.

The small protocols in `twinforge.store.base` say what each part of the library needs of
a store; `TwinStore` is their sum, and `SQLiteStore` implements it.
"""

from __future__ import annotations

from twinforge.errors import InvalidArgument
from twinforge.store.base import (
    BlobStore,
    DeadLetter,
    DeadLetterStore,
    EventRecord,
    EventStore,
    HistoryPoint,
    HistoryStore,
    Lease,
    LeaseStore,
    ModelRecord,
    ModelStore,
    QueryStore,
    RelationshipRecord,
    RelationshipStore,
    SettingStore,
    Transactional,
    TwinDocumentStore,
    TwinRecord,
    TwinStore,
    TwinValues,
)
from twinforge.store.repository import FolderResolver, StoreResolver, dtmi_to_path
from twinforge.store.sqlite import FileLease, SQLiteStore

DEFAULT_URL = "sqlite:///twinforge.db"


def open_store(url: str = DEFAULT_URL, *, create: bool = True, read_url: str | None = None) -> TwinStore:
    """Open the store a URL names. With ``create=False`` a store that does not exist yet
    is `NotFound` (for commands that only read); otherwise it is made, and its
    ``created`` attribute says so. ``read_url`` names a PostgreSQL streaming replica that
    answers reads (the client that wrote reads its writes: `Twinforge-Session`)."""
    if read_url and not url.startswith(("postgresql://", "postgres://")):
        raise InvalidArgument("a read replica (--db-read) needs a PostgreSQL store (--db postgresql://...)")
    if read_url and not read_url.startswith(("postgresql://", "postgres://")):
        raise InvalidArgument(f"'{read_url}' is not a PostgreSQL URL (--db-read postgresql://replica:5432/db)")
    if url.startswith("sqlite:"):
        return SQLiteStore.from_url(url, create=create)
    if url.startswith(("postgresql://", "postgres://")):
        from twinforge.store.postgres import PostgresStore

        return PostgresStore.from_url(url, create=create, read_url=read_url)
    raise InvalidArgument(f"'{url}' is not a store URL; use sqlite:///path.db (relative), "
                          "sqlite:////abs/path.db, sqlite:///:memory: or postgresql://user:pass@host:5432/db")


__all__ = ["DEFAULT_URL", "BlobStore", "DeadLetter", "DeadLetterStore", "EventRecord", "EventStore", "FileLease", "FolderResolver",
           "HistoryPoint", "HistoryStore", "Lease", "LeaseStore", "ModelRecord", "ModelStore", "QueryStore",
           "RelationshipRecord", "RelationshipStore", "SQLiteStore", "SettingStore", "StoreResolver", "Transactional",
           "TwinDocumentStore", "TwinRecord", "TwinStore", "TwinValues", "dtmi_to_path", "open_store"]
