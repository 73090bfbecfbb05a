"""Exclusive job locks so overlapping cron runs of ``poll`` or ``due`` cannot both work.

Uses ``filelock`` (well kept, cross-platform, and the OS drops the lock when a
process dies, so a crashed run never leaves a stale lock behind).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout

from .errors import LockHeld

__all__ = ["job_lock"]


def lock_path(database: str, job: str) -> Path:
    """The lock file for ``job`` next to the database (one lock per store and job)."""
    if database == ":memory:":
        from .config import data_dir

        return data_dir() / f"memory.{job}.lock"
    return Path(database).with_name(Path(database).name + f".{job}.lock")


@contextmanager
def job_lock(database: str, job: str, wait_seconds: float = 0) -> Iterator[None]:
    """Hold the ``job`` lock for this store, or raise LockHeld at once (or after waiting)."""
    path = lock_path(database, job)
    path.parent.mkdir(parents=True, exist_ok=True)
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
