"""SQL for scheduled outbox items (follow-ups and proactive posts).

Kept apart from ``store.py`` so the follow-up feature adds queries without
touching the shared store class; every function takes a :class:`Store` and
runs parameterised SQL through ``store.rows`` / ``store.conn``. Times are the
store's UTC ISO text (``2026-03-29T08:00:00Z``), whose fixed width makes string
comparison the same as time comparison.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..models import to_iso, utcnow
from .core import Row, Store

__all__ = [
    "due_items",
    "stuck_items",
    "scheduled_items",
    "customer_wrote_since",
    "reopened_since",
    "update_pending",
    "pending_rule_followups",
]


def due_items(store: Store, now_iso: str, *, limit: int = 500) -> list[Row]:
    """Pending items whose ``due_at`` is at or before ``now_iso``, oldest due first."""
    return store.rows(
        "SELECT * FROM outbox WHERE status = 'pending' AND due_at IS NOT NULL AND due_at <= ? "
        "ORDER BY due_at, id LIMIT ?",
        [now_iso, limit],
    )


def stuck_items(store: Store, now_iso: str) -> list[Row]:
    """Scheduled items left ``sending`` by a run that died: they need a human, never a resend."""
    return store.rows(
        "SELECT * FROM outbox WHERE status = 'sending' AND due_at IS NOT NULL AND due_at <= ? "
        "ORDER BY due_at, id",
        [now_iso],
    )


def scheduled_items(
    store: Store,
    *,
    kind: str,
    statuses: Sequence[str] | None = None,
    agent: str | None = None,
    due_by: str | None = None,
    limit: int = 200,
) -> list[Row]:
    """Items of one kind that have a ``due_at``, soonest first, optionally narrowed."""
    where = ["kind = ?", "due_at IS NOT NULL"]
    params: list[Any] = [kind]
    if statuses:
        where.append(f"status IN ({', '.join('?' for _ in statuses)})")
        params.extend(statuses)
    if agent is not None:
        where.append("agent = ?")
        params.append(agent)
    if due_by is not None:
        where.append("due_at <= ?")
        params.append(due_by)
    return store.rows(
        f"SELECT * FROM outbox WHERE {' AND '.join(where)} ORDER BY due_at, id LIMIT ?",
        [*params, limit],
    )


def customer_wrote_since(
    store: Store, author_keys: Sequence[str], since_ts: float, *, exclude: str | None = None
) -> Row | None:
    """The first mention by any of ``author_keys`` written after ``since_ts`` (unix seconds)."""
    author_keys = [k for k in author_keys if k]
    if not author_keys:
        return None
    marks = ", ".join("?" for _ in author_keys)
    rows = store.rows(
        f"SELECT id, author_key, created_at FROM mentions WHERE author_key IN ({marks}) "
        "AND created_ts > ? AND is_own = 0 AND id != ? ORDER BY created_ts LIMIT 1",
        [*author_keys, since_ts, "" if exclude is None else exclude],
    )
    return rows[0] if rows else None


def reopened_since(store: Store, mention_id: str, since_iso: str) -> bool:
    """Whether the audit log has a ``reopen`` of this mention at or after ``since_iso``."""
    rows = store.rows(
        "SELECT 1 AS hit FROM events WHERE mention_id = ? AND action = 'reopen' AND at >= ? "
        "LIMIT 1",
        [mention_id, since_iso],
    )
    return bool(rows)


def update_pending(store: Store, item_id: int, **fields: Any) -> bool:
    """Change columns of an item only while it is ``pending``; False if it no longer is.

    Conditional like ``Store.outbox_transition`` so an edit can never rewrite an
    item that a ``due`` run has already taken for sending.
    """
    if not fields:
        return False
    sets = ", ".join(f"{name} = ?" for name in fields)
    cur = store.conn.execute(
        f"UPDATE outbox SET {sets}, updated_at = ? WHERE id = ? AND status = 'pending'",
        [*fields.values(), to_iso(utcnow()), item_id],
    )
    return bool(cur.rowcount == 1)


def pending_rule_followups(store: Store, mention_id: str, rule: str) -> list[Row]:
    """Pending follow-ups a config rule scheduled for this mention."""
    return store.rows(
        "SELECT * FROM outbox WHERE kind = 'followup' AND status = 'pending' AND mention_id = ? "
        f"AND {store.dialect.json_text('options', 'rule')} = ? ORDER BY id",
        [mention_id, rule],
    )
