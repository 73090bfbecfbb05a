"""The store: every SQL statement socialcare runs, on SQLite or PostgreSQL.

* :mod:`.core`: :class:`Store` (connection, transactions, mentions and the queue);
* :mod:`.dialect`: what PostgreSQL does differently from SQLite, one class per backend;
* :mod:`.pg`: sqlite3's connection surface over psycopg 3;
* :mod:`.migrations`: the schema, one module per backend;
* :mod:`.ingest`, :mod:`.followups`, :mod:`.kb`, :mod:`.reports`, :mod:`.copy`:
  queries grouped by what they serve (the outbox's queries are methods of Store);
* :mod:`.locks`: the cron/job locks.

The store knows no platform, no scoring and no screen.
"""

from __future__ import annotations

from .core import (
    TRIAGE_COLUMNS,
    QueueFilter,
    Row,
    Store,
    in_chunks,
    is_postgres_url,
    open_store,
)

__all__ = [
    "QueueFilter",
    "Row",
    "Store",
    "TRIAGE_COLUMNS",
    "in_chunks",
    "is_postgres_url",
    "open_store",
]
