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

import sys


def _import_sqlite_utils() -> None:
    """Import sqlite-utils without numpy and pandas, unless something already loaded them.

    sqlite-utils imports both (when installed) only to map their scalar types to
    column types when it infers a table from values; the store declares every
    column itself, and loading numpy took most of a `socialcare queue` run.
    """
    if "sqlite_utils" in sys.modules:
        return
    hidden = [name for name in ("numpy", "pandas") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import numpy` fail
    try:
        import sqlite_utils  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


_import_sqlite_utils()

from .core import (  # noqa: E402
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
