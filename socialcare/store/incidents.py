"""SQL for incidents: the incident rows, their mentions, and the one-per-target sends.

Every function takes a :class:`Store` and runs parameterised SQL. A mention
matches an incident when it is a customer's (``is_own = 0``), was created at or
after the incident's ``since_ts``, and matches any of its full-text
alternatives (the dialect spells the full-text condition per backend).
``incident_sends``' primary key (incident, kind, target) is the guard against
sending an acknowledgement, follow-up or status post twice: the row and its
outbox item are written in one transaction, and a second writer's insert
matches nothing.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from ..errors import NotFound
from ..models import to_iso, utcnow
from .core import Row, Store, in_chunks

__all__ = [
    "create",
    "get",
    "get_by_id",
    "list_all",
    "open_incidents",
    "attach_matching",
    "add_members",
    "remove_members",
    "member_rows",
    "known_mentions",
    "counts_by_source",
    "counts_by_hour",
    "samples",
    "sends",
    "add_send",
    "set_outbox_key",
    "replies_to",
    "wrote_after",
    "resolve",
    "open_member_ids",
    "report_rows",
]

#: the columns of a member mention that reply planning needs (not the raw payload)
_MEMBER_COLUMNS = (
    "m.id, m.source, m.author_key, m.author_handle, m.created_at, m.created_ts, m.status, "
    "m.assignee, m.answered_at, m.answered_by, m.is_own, m.text"
)


def create(
    store: Store,
    *,
    name: str,
    match: str,
    terms: Sequence[str],
    since_at: str | None,
    since_ts: float | None,
    agent: str,
    spike: dict[str, Any] | None = None,
) -> int:
    """Insert an open incident; returns its id (the caller checked the name is free)."""
    return store.insert(
        "INSERT INTO incidents (name, match, terms, since_at, since_ts, status, opened_at, "
        "opened_by, spike) VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?)",
        [name, match, json.dumps(list(terms)), since_at, since_ts, to_iso(utcnow()), agent,
         json.dumps(spike) if spike else None],
    )  # fmt: skip


def exists(store: Store, name: str) -> bool:
    """Whether an incident (open or resolved) is called ``name``."""
    return bool(store.rows("SELECT 1 FROM incidents WHERE name = ?", [name]))


def get(store: Store, name: str) -> Row:
    """The incident called ``name``, or NotFound naming the command that lists them."""
    rows = store.rows("SELECT * FROM incidents WHERE name = ?", [name])
    if not rows:
        raise NotFound(f"no incident {name!r} (see `socialcare incident list`)")
    return rows[0]


def get_by_id(store: Store, incident_id: int) -> Row:
    """The incident with this id, or NotFound."""
    rows = store.rows("SELECT * FROM incidents WHERE id = ?", [incident_id])
    if not rows:
        raise NotFound(f"no incident #{incident_id} (see `socialcare incident list`)")
    return rows[0]


def list_all(store: Store, *, status: str | None = None) -> list[Row]:
    """Incidents newest first, each with its mention, open-mention and customer counts."""
    where, params = ("WHERE i.status = ?", [status]) if status else ("", [])
    return store.rows(
        "SELECT i.*, count(m.id) AS mentions, "
        "coalesce(sum(CASE WHEN m.status = 'open' THEN 1 ELSE 0 END), 0) AS open_mentions, "
        "count(DISTINCT CASE WHEN m.author_key != '' THEN m.author_key END) AS customers "
        "FROM incidents i LEFT JOIN incident_mentions im "
        "ON im.incident_id = i.id AND im.removed = 0 "
        f"LEFT JOIN mentions m ON m.id = im.mention_id {where} "
        "GROUP BY i.id ORDER BY i.id DESC",
        params,
    )


def open_incidents(store: Store) -> list[Row]:
    """Incidents still attaching mentions (one indexed read: the poll hook's whole cost
    when there are none)."""
    return store.rows("SELECT * FROM incidents WHERE status = 'open' ORDER BY id")


def _match_sql(store: Store, incident: Row, params: dict[str, Any]) -> str:
    """The WHERE condition of the incident's rule, filling ``params``."""
    terms = [t for t in json.loads(incident["terms"] or "[]") if str(t).strip()]
    where = ["m.is_own = 0", "m.status != 'spam'"]
    if incident.get("since_ts") is not None:
        where.append("m.created_ts >= :since")
        params["since"] = float(incident["since_ts"])
    alternatives = []
    for n, term in enumerate(terms):
        alternatives.append(store.dialect.mention_search("m", f"q{n}"))
        params[f"q{n}"] = store.dialect.search_terms(str(term))
    where.append(f"({' OR '.join(alternatives)})" if alternatives else "1 = 0")
    return " AND ".join(where)


def attach_matching(store: Store, incident: Row, ids: Sequence[str] | None = None) -> int:
    """Attach every mention matching the incident's rule (of ``ids`` only, if given).

    Returns how many were newly attached; a mention already attached, or removed
    by an agent, is left as it is (``ON CONFLICT DO NOTHING``).
    """
    chunks: list[list[str] | None] = [None] if ids is None else list(in_chunks(list(ids)))
    added = 0
    for chunk in chunks:
        params: dict[str, Any] = {"iid": int(incident["id"]), "now": to_iso(utcnow())}
        cond = _match_sql(store, incident, params)
        if chunk is not None:
            if not chunk:
                continue
            marks = ", ".join(f":id{n}" for n in range(len(chunk)))
            cond += f" AND m.id IN ({marks})"
            params.update({f"id{n}": v for n, v in enumerate(chunk)})
        cur = store.conn.execute(
            "INSERT INTO incident_mentions (incident_id, mention_id, added_at, added_by) "
            f"SELECT :iid, m.id, :now, '' FROM mentions m WHERE {cond} "
            "ON CONFLICT (incident_id, mention_id) DO NOTHING",
            params,
        )
        added += max(int(cur.rowcount or 0), 0)
    return added


def known_mentions(store: Store, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` are stored mentions."""
    return store.existing_ids(list(ids))


def add_members(store: Store, incident_id: int, ids: Sequence[str], agent: str) -> None:
    """Attach mentions by hand (undoing an earlier removal)."""
    now = to_iso(utcnow())
    for mid in ids:
        store.conn.execute(
            "INSERT INTO incident_mentions (incident_id, mention_id, added_at, added_by) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (incident_id, mention_id) "
            "DO UPDATE SET removed = 0, added_by = excluded.added_by, added_at = excluded.added_at",
            [incident_id, mid, now, agent],
        )


def remove_members(store: Store, incident_id: int, ids: Sequence[str], agent: str) -> int:
    """Detach mentions by hand; the row stays (``removed``) so a poll never re-attaches them."""
    now = to_iso(utcnow())
    removed = 0
    for mid in ids:
        cur = store.conn.execute(
            "INSERT INTO incident_mentions (incident_id, mention_id, added_at, added_by, removed) "
            "VALUES (?, ?, ?, ?, 1) ON CONFLICT (incident_id, mention_id) "
            "DO UPDATE SET removed = 1",
            [incident_id, mid, now, agent],
        )
        removed += max(int(cur.rowcount or 0), 0)
    return removed


def member_rows(store: Store, incident_id: int) -> list[Row]:
    """The incident's mentions (not removed), oldest first, without raw payloads."""
    return store.rows(
        f"SELECT {_MEMBER_COLUMNS} FROM incident_mentions im JOIN mentions m "
        "ON m.id = im.mention_id WHERE im.incident_id = ? AND im.removed = 0 "
        "ORDER BY m.created_ts, m.id",
        [incident_id],
    )


def counts_by_source(store: Store, incident_id: int) -> list[Row]:
    """Mentions per source, most first."""
    return store.rows(
        "SELECT m.source, count(*) AS mentions FROM incident_mentions im JOIN mentions m "
        "ON m.id = im.mention_id WHERE im.incident_id = ? AND im.removed = 0 "
        "GROUP BY m.source ORDER BY count(*) DESC, m.source",
        [incident_id],
    )


def counts_by_hour(store: Store, incident_id: int) -> list[Row]:
    """Mentions per UTC hour (``2026-03-29T08``), in time order: the incident's timeline."""
    return store.rows(
        "SELECT substr(m.created_at, 1, 13) AS hour, count(*) AS mentions "
        "FROM incident_mentions im JOIN mentions m ON m.id = im.mention_id "
        "WHERE im.incident_id = ? AND im.removed = 0 "
        "GROUP BY substr(m.created_at, 1, 13) ORDER BY substr(m.created_at, 1, 13)",
        [incident_id],
    )


def samples(store: Store, incident_id: int, limit: int = 5) -> list[Row]:
    """The newest few mentions of the incident, for a glance at what people say."""
    return store.rows(
        "SELECT m.id, m.source, m.author_handle, m.created_at, m.text "
        "FROM incident_mentions im JOIN mentions m ON m.id = im.mention_id "
        "WHERE im.incident_id = ? AND im.removed = 0 ORDER BY m.created_ts DESC, m.id LIMIT ?",
        [incident_id, limit],
    )


def sends(store: Store, incident_id: int, kind: str) -> dict[str, Row]:
    """target -> the send row of this kind, with its outbox item's status and sent time."""
    rows = store.rows(
        "SELECT s.*, o.status AS outbox_status, o.sent_at AS sent_at, o.error AS outbox_error "
        "FROM incident_sends s LEFT JOIN outbox o ON o.id = s.outbox_id "
        "WHERE s.incident_id = ? AND s.kind = ?",
        [incident_id, kind],
    )
    return {str(r["target"]): r for r in rows}


def add_send(
    store: Store,
    incident_id: int,
    kind: str,
    target: str,
    *,
    mention_id: str | None,
    outbox_id: int | None,
) -> bool:
    """Record the one send of ``kind`` to ``target``; False if one is already recorded."""
    cur = store.conn.execute(
        "INSERT INTO incident_sends (incident_id, kind, target, mention_id, outbox_id, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (incident_id, kind, target) "
        "DO NOTHING",
        [incident_id, kind, target, mention_id, outbox_id, to_iso(utcnow())],
    )
    return bool(cur.rowcount == 1)


def set_outbox_key(store: Store, outbox_id: int, key: str) -> None:
    """Give a just-queued item its deterministic idempotency key (while still pending)."""
    store.conn.execute(
        "UPDATE outbox SET idempotency_key = ? WHERE id = ? AND status = 'pending'",
        [key, outbox_id],
    )


def replies_to(store: Store, mention_ids: Sequence[str]) -> dict[str, list[Row]]:
    """mention id -> its reply items that are, or may be, on the platform (or about to be)."""
    out: dict[str, list[Row]] = {}
    for chunk in in_chunks(list(mention_ids)):
        marks = ", ".join("?" for _ in chunk)
        for row in store.rows(
            "SELECT id, mention_id, status, agent, sent_at FROM outbox WHERE kind = 'reply' "
            f"AND status IN ('pending', 'sending', 'unknown', 'sent') AND mention_id IN ({marks})",
            chunk,
        ):
            out.setdefault(str(row["mention_id"]), []).append(row)
    return out


def wrote_after(store: Store, author_key: str, since_ts: float) -> Row | None:
    """The customer's first mention created after ``since_ts``, if any."""
    rows = store.rows(
        "SELECT id, created_at FROM mentions WHERE author_key = ? AND created_ts > ? "
        "AND is_own = 0 ORDER BY created_ts LIMIT 1",
        [author_key, since_ts],
    )
    return rows[0] if rows else None


def resolve(store: Store, incident_id: int, agent: str) -> bool:
    """Close an open incident; False if it was no longer open."""
    cur = store.conn.execute(
        "UPDATE incidents SET status = 'resolved', resolved_at = ?, resolved_by = ? "
        "WHERE id = ? AND status = 'open'",
        [to_iso(utcnow()), agent, incident_id],
    )
    return bool(cur.rowcount == 1)


def open_member_ids(store: Store) -> dict[str, tuple[int, str]]:
    """Open mentions of open incidents: mention id -> (incident id, author key)."""
    rows = store.rows(
        "SELECT im.mention_id, min(im.incident_id) AS incident_id, min(m.author_key) AS author "
        "FROM incident_mentions im JOIN incidents i ON i.id = im.incident_id "
        "JOIN mentions m ON m.id = im.mention_id "
        "WHERE i.status = 'open' AND im.removed = 0 AND m.status = 'open' AND m.is_own = 0 "
        "GROUP BY im.mention_id"
    )
    return {
        str(r["mention_id"]): (int(r["incident_id"]), str(r["author"] or "")) for r in rows
    }  # an unlinked author (NULL) is "", no customer


def report_rows(
    store: Store, since_ts: float, until_ts: float, source: str | None = None
) -> list[Row]:
    """Customers' mentions created in the period (spam left out), each with its incident.

    One row per (mention, incident) and one with ``incident`` NULL for mentions of no
    incident: ``incident, created_ts, author_key, answered_ts, sent_ts``.
    """
    unix = store.dialect.iso_to_unix
    params: dict[str, Any] = {"since": since_ts, "until": until_ts}
    where = (
        "m.is_own = 0 AND m.status != 'spam' AND m.created_ts >= :since AND m.created_ts < :until"
    )
    if source is not None:
        where += " AND m.source = :source"
        params["source"] = source
    return store.rows(
        f"SELECT i.name AS incident, m.created_ts, m.author_key, {unix('m.answered_at')} "
        f"AS answered_ts, (SELECT {unix('min(o.sent_at)')} FROM outbox o "
        "WHERE o.mention_id = m.id AND o.kind = 'reply' AND o.status = 'sent') AS sent_ts "
        "FROM mentions m LEFT JOIN incident_mentions im ON im.mention_id = m.id "
        "AND im.removed = 0 LEFT JOIN incidents i ON i.id = im.incident_id "
        f"WHERE {where}",
        params,
    )
