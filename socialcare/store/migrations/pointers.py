"""m016's repairs before foreign keys are declared, shared by both backends' twins.

Part of a merged migration: never edit it (a later fix is a new migration).
A store made before m016 can hold pointers that a foreign key would refuse:

* ``mentions.author_key = ''`` for an author the platform hid: it becomes NULL
  (an empty id is no identity, and there is no authors row for it);
* an author key with no authors row (written by hand or by a bulk load): the row
  is made from the author's mentions, so the identity and its history survive;
* ``outbox.mention_id`` or ``events.mention_id`` naming a mention that is gone:
  the pointer becomes NULL. Outbox rows are never deleted (they are the record
  that keeps a reply from being sent twice), nor are events (the audit log).

How many rows each repair changed is logged as a warning.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FOREIGN_KEYS", "repair_pointers"]

#: m016's foreign keys: (table, column, parent table); each parent's key is ``id``
FOREIGN_KEYS = (
    ("mentions", "author_key", "authors"),
    ("events", "mention_id", "mentions"),
    ("outbox", "mention_id", "mentions"),
)

_REPAIRS = (
    (
        "mentions with an empty author key now have none (NULL)",
        "UPDATE mentions SET author_key = NULL WHERE author_key = ''",
    ),
    (
        "author keys had no authors row: made from their mentions",
        "INSERT INTO authors (id, source, native_id, handle, name, followers, first_seen, "
        "last_seen) SELECT m.author_key, min(m.source), min(m.author_id), max(m.author_handle), "
        "max(m.author_name), max(m.author_followers), min(m.fetched_at), max(m.fetched_at) "
        "FROM mentions m WHERE m.author_key IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM authors a WHERE a.id = m.author_key) GROUP BY m.author_key",
    ),
    (
        "outbox items named a mention that no longer exists: their mention_id is now NULL",
        "UPDATE outbox SET mention_id = NULL WHERE mention_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM mentions m WHERE m.id = outbox.mention_id)",
    ),
    (
        "events named a mention that no longer exists: their mention_id is now NULL",
        "UPDATE events SET mention_id = NULL WHERE mention_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM mentions m WHERE m.id = events.mention_id)",
    ),
)


def repair_pointers(db: Any) -> dict[str, int]:
    """Make every pointer of :data:`FOREIGN_KEYS` valid; return the rows changed per repair.

    ``db`` is a sqlite-utils Database or a PgConnection, inside the migration's
    transaction; ``mentions.author_key`` must already accept NULL.
    """
    import logging  # here: opening a store at the current schema imports no logging

    log = logging.getLogger("socialcare.store.migrations")
    changed: dict[str, int] = {}
    for what, sql in _REPAIRS:
        count = max(int(db.execute(sql).rowcount), 0)
        changed[what] = count
        if count:
            log.warning("m016: %d %s", count, what)
    return changed
