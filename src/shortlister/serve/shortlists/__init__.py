"""Saved shortlists: tables (models), opening and migrating the database (database), the
store's operations (store) and exports (export). See docs/shortlists.md."""

from shortlister.serve.shortlists.database import DB_ENV, ShortlistStoreError, database_url
from shortlister.serve.shortlists.store import (
    ShortlistNotFound,
    ShortlistRecord,
    ShortlistStore,
    StarRecord,
    TooManyStars,
)

__all__ = [
    "DB_ENV",
    "ShortlistNotFound",
    "ShortlistRecord",
    "ShortlistStore",
    "ShortlistStoreError",
    "StarRecord",
    "TooManyStars",
    "database_url",
]
