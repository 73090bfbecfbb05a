"""Exclusive job locks so overlapping cron runs of ``poll`` or ``due`` cannot both work.

SQLite stores use ``filelock`` (well kept, cross-platform, and the OS drops
the lock when a process dies, so a crashed run never leaves a stale lock
behind). PostgreSQL stores use a session advisory lock on the server, which
is shared by every host of the team and dropped with the connection.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from filelock import FileLock, Timeout

from ..errors import LockHeld
from ..safety import private_dir

__all__ = ["job_lock", "advisory_lock"]


def lock_path(database: str, job: str) -> Path:
    """The lock file for ``job`` next to the database (one lock per store and job)."""
    if database == ":memory:":
        from ..config import data_dir

        return data_dir() / f"memory.{job}.lock"
    return Path(database).with_name(Path(database).name + f".{job}.lock")


@contextmanager
def job_lock(database: str, job: str, wait_seconds: float = 0) -> Iterator[None]:
    """Hold the ``job`` lock for this store, or raise LockHeld at once (or after waiting)."""
    path = lock_path(database, job)
    private_dir(path.parent)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=wait_seconds)
    except Timeout:
        raise LockHeld(
            f"another '{job}' run holds the lock {path}; this run did nothing "
            "(it is safe to let cron try again)"
        ) from None
    try:
        yield
    finally:
        lock.release()


@contextmanager
def advisory_lock(
    conn: Any, job: str, wait_seconds: float = 0, *, where: str = ""
) -> Iterator[None]:
    """Hold PostgreSQL's session advisory lock for ``job`` on ``conn``'s database, or LockHeld.

    ``conn`` is a :class:`~socialcare.store.pg.PgConnection`. The key is derived from
    the job's name with ``hashtext``; advisory locks are per database, so two
    stores on one server do not block each other.
    """
    key = f"socialcare:{job}"
    deadline = time.monotonic() + max(wait_seconds, 0)
    while True:
        got = conn.execute("SELECT pg_try_advisory_lock(hashtext(?))", [key]).fetchone()[0]
        if got:
            break
        if time.monotonic() >= deadline:
            raise LockHeld(
                f"another '{job}' run holds the lock (a PostgreSQL advisory lock on "
                f"{where or 'the database'}); this run did nothing (it is safe to let cron "
                "try again)"
            )
        time.sleep(0.2)
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtext(?))", [key])
