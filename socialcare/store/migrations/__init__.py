"""Schema migrations: one list of named steps per backend, run on every open.

``sqlite.MIGRATIONS`` and ``postgres.MIGRATIONS`` hold the same names in the
same order (where only one backend needs a change, the other's step is an empty
function saying why). Applied names and their UTC times are recorded in
``_socialcare_migrations``; merged migrations are never edited or renumbered.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ...models import to_iso, utcnow
from ..dialect import SQLITE, Dialect
from .sqlite import MIGRATIONS

if TYPE_CHECKING:
    import sqlite_utils

__all__ = ["MIGRATIONS", "applied_migrations", "migrate", "migration_names", "schema_version"]


def _applied(conn: Any) -> set[str]:
    return {
        str(row[0]) for row in conn.execute("SELECT name FROM _socialcare_migrations").fetchall()
    }


def _connection(db: sqlite_utils.Database | Any) -> Any:
    """The DB-API connection under a migration handle (sqlite-utils wraps SQLite's)."""
    # not imported here: a store opened at the current schema never loads sqlite-utils
    loaded = sys.modules.get("sqlite_utils")
    return db.conn if loaded is not None and isinstance(db, loaded.Database) else db


def migration_names(dialect: Dialect = SQLITE) -> list[str]:
    """Every migration this version knows for the backend, in order."""
    return [fn.__name__ for fn in dialect.migration_steps()]


def migrate(db: sqlite_utils.Database | Any, dialect: Dialect = SQLITE) -> list[str]:
    """Apply every migration not yet recorded; return the names applied now.

    ``db`` is a sqlite-utils Database for SQLite or a
    :class:`~socialcare.store.pg.PgConnection`. Each migration runs in its own
    transaction and re-checks that nobody applied it meanwhile; the dialect's
    :meth:`~socialcare.store.dialect.Dialect.migrating` guard also keeps two
    agents starting at once from racing on PostgreSQL.
    """
    conn = _connection(db)
    with dialect.migrating(conn):
        conn.execute(
            "CREATE TABLE IF NOT EXISTS _socialcare_migrations "
            "(name TEXT PRIMARY KEY, applied_at TEXT)"
        )
        done = _applied(conn)
        applied: list[str] = []
        for fn in dialect.migration_steps():
            if fn.__name__ in done:
                continue
            conn.execute(dialect.begin)
            try:
                # Another process may have migrated while we waited for the write lock.
                if conn.execute(
                    "SELECT 1 FROM _socialcare_migrations WHERE name = ?", [fn.__name__]
                ).fetchone():
                    conn.execute("COMMIT")
                    continue
                fn(db)
                conn.execute(
                    "INSERT INTO _socialcare_migrations (name, applied_at) VALUES (?, ?)",
                    [fn.__name__, to_iso(utcnow())],
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            applied.append(fn.__name__)
        return applied


def applied_migrations(db: sqlite_utils.Database | Any, dialect: Dialect = SQLITE) -> list[str]:
    """Names of the migrations this store has applied (empty for a new store)."""
    conn = _connection(db)
    if not dialect.migrations_recorded(conn):
        return []
    return sorted(_applied(conn))


def schema_version(db: sqlite_utils.Database | Any, dialect: Dialect = SQLITE) -> int:
    """How many migrations this store has applied."""
    return len(applied_migrations(db, dialect))
