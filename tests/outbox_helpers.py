"""Helpers for outbox tests: make a ``sending`` item look abandoned by a dead sender."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from socialcare.models import to_iso, utcnow
from socialcare.store import Store


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def abandon(store: Store, item_id: int, *, minutes: float = 30) -> None:
    """Make a ``sending`` item's owner a dead process that started ``minutes`` ago."""
    started = to_iso(utcnow() - timedelta(minutes=minutes))
    moved = store.outbox_transition(
        item_id, ("sending",), "sending", owner_pid=dead_pid(), owner_started_at=started
    )
    assert moved, "the item is not sending"
