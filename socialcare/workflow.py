"""What agents do to mentions: claim, assign, close, snooze, tag, note, and reply.

Every action writes the audit log. Collision rules: a mention claimed by
another agent, already answered, or whose customer is being handled by another
agent raises ``Conflict`` unless the caller forces it, and the check and the
change happen in one write transaction, so two processes cannot both pass it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from .config import Config
from .errors import Conflict, NotFound, UsageError
from .models import to_iso, utcnow
from .store import Row, Store
from .templates import load_template, placeholder_values, render

__all__ = [
    "claim",
    "assign",
    "release",
    "close",
    "reopen",
    "snooze",
    "add_tags",
    "add_note",
    "prepare_reply",
    "queue_reply",
    "resolve_author",
]


def _others_on_customer(store: Store, row: Row, agent: str) -> list[Row]:
    keys = store.linked_author_keys(row["author_key"])
    return [
        r
        for r in store.open_mentions_of(keys)
        if r["id"] != row["id"] and r["assignee"] and r["assignee"] != agent
    ]


def claim(store: Store, mention_id: str, agent: str, *, force: bool = False) -> str | None:
    """Take a mention; Conflict if another agent holds it or its customer (unless ``force``).

    The store checks, claims and logs the event as one decision (one round trip
    to a team server); this turns a lost race into the message an agent reads.
    """
    outcome = store.claim_checked(mention_id, agent, force=force)
    if outcome.other_id is not None:
        raise Conflict(
            f"{mention_id} is not claimed, but its customer is: {outcome.other_assignee} is "
            f"handling their other mention {outcome.other_id} (linked identities count as one "
            "customer). Talk to them, or use --force"
        )
    if not outcome.won:
        raise Conflict(
            f"{mention_id} is claimed by {outcome.holder} (since {outcome.claimed_at}): "
            "use --force to take it over"
        )
    return outcome.holder


def assign(store: Store, mention_id: str, to: str, agent: str) -> None:
    """Hand a mention to ``to`` (a lead assigning work)."""
    with store.transaction():
        store.set_assignee(mention_id, to)
        store.log_event("assign", agent=agent, mention_id=mention_id, to=to)


def release(store: Store, mention_id: str, agent: str, *, force: bool = False) -> None:
    """Give a claimed mention back to the queue."""
    with store.transaction():
        row = store.get_mention(mention_id)
        if row["assignee"] and row["assignee"] != agent and not force:
            raise Conflict(f"{mention_id} is claimed by {row['assignee']}, not you: use --force")
        store.set_assignee(mention_id, None)
        store.log_event("release", agent=agent, mention_id=mention_id)


def close(store: Store, mention_id: str, agent: str) -> Row:
    """Mark handled; it leaves the queue. Returns the row as it was before closing."""
    with store.transaction():
        row = store.get_mention(mention_id)
        store.set_status(mention_id, "closed")
        store.log_event("close", agent=agent, mention_id=mention_id, previous=row["status"])
    return row


def reopen(store: Store, mention_id: str, agent: str) -> None:
    """Put a closed or replied mention back in the queue."""
    with store.transaction():
        store.get_mention(mention_id)
        store.set_status(mention_id, "open")
        store.log_event("reopen", agent=agent, mention_id=mention_id)


def snooze(store: Store, mention_id: str, until: datetime, agent: str) -> None:
    """Hide a mention from the queue until ``until`` (it comes back by itself)."""
    if until <= utcnow():
        raise UsageError(f"--until {to_iso(until)} is in the past")
    with store.transaction():
        store.get_mention(mention_id)
        store.set_status(mention_id, "open", snoozed_until=to_iso(until))
        store.log_event("snooze", agent=agent, mention_id=mention_id, until=to_iso(until))


def add_tags(store: Store, mention_id: str, tags: list[str], agent: str) -> list[str]:
    """Add tags (kept sorted and unique); returns the full list."""
    with store.transaction():
        row = store.get_mention(mention_id)
        merged = sorted(
            set(json.loads(row["tags"] or "[]")) | {t.strip() for t in tags if t.strip()}
        )
        store.set_tags(mention_id, merged)
        store.log_event("tag", agent=agent, mention_id=mention_id, tags=tags)
    return merged


def add_note(store: Store, mention_id: str, text: str, agent: str) -> None:
    """An internal note: visible in history, never posted."""
    if not text.strip():
        raise UsageError("note: the text is empty")
    store.get_mention(mention_id)
    store.log_event("note", agent=agent, mention_id=mention_id, text=text)


def resolve_author(store: Store, ref: str) -> str:
    """An author key from an author key or a mention id."""
    if store.get_author(ref) is not None:
        return ref
    try:
        key = store.get_mention(ref)["author_key"]
    except NotFound:
        raise NotFound(f"'{ref}' is neither an author key nor a mention id") from None
    if not key:  # NULL: an unlinked author
        raise NotFound(f"mention {ref} has no known author (the platform sent no author id)")
    return str(key)


def prepare_reply(
    config: Config,
    row: Row,
    *,
    text: str | None,
    template: str | None,
    agent: str,
    kb: tuple[str, str] | None = None,
) -> str:
    """Render the reply from a template and/or text (placeholders allowed in both)."""
    values = placeholder_values(row, agent, config.brand_handles, kb)
    parts = []
    if template:
        parts.append(render(load_template(config, template), values))
    if text:
        parts.append(render(text, values))
    return "\n".join(parts).strip()


def queue_reply(
    store: Store, row: Row, text: str, agent: str, *, force: bool = False, replace: bool = False,
    options: dict[str, Any] | None = None, kind: str = "reply",
) -> int:  # fmt: skip
    """Check for collisions and queue the reply as a pending outbox item, atomically.

    ``replace`` (one-response platforms, confirmed by the agent) lets a reply
    follow a sent or native answer, which it replaces; claims still count.
    ``kind`` ``dm`` queues a private message to the author ("take it to DM")
    under the same checks.
    """
    if not text.strip():
        raise UsageError("the reply is empty: nothing sent")
    with store.transaction():
        store.serialize_customer(row["author_key"])
        current = store.get_mention(row["id"], lock=True)
        unresolved = [
            o for o in store.outbox_for_mention(row["id"]) if o["status"] in ("sending", "unknown")
        ]
        if unresolved:  # even with --force: it may be on the platform already
            p = unresolved[-1]
            raise Conflict(
                f"{row['id']} already has a {p['status']} {p['kind']} by {p['agent'] or 'someone'} "
                f"(outbox #{p['id']}) that may already be on the platform: "
                f"`socialcare outbox retry {p['id']}` checks the platform and sends it only if it "
                f"is not there (or `socialcare outbox resolve {p['id']} --sent` if you saw it)"
            )
        if not force:
            if current["assignee"] and current["assignee"] != agent:
                raise Conflict(
                    f"{row['id']} is claimed by {current['assignee']}: use --force to reply anyway"
                )
            previous = [
                o
                for o in store.outbox_for_mention(row["id"])
                if o["kind"] == "reply"
                and o["status"] in (("pending",) if replace else ("pending", "sent"))
            ]
            if previous:
                p = previous[-1]
                raise Conflict(
                    f"{row['id']} already has a {p['status']} reply by {p['agent'] or 'someone'} "
                    f"(outbox #{p['id']}): use --force to send another"
                )
            if current["answered_by"] and not replace:
                raise Conflict(
                    f"{row['id']} was already answered by {current['answered_by']} at "
                    f"{current['answered_at']}: use --force to send another"
                )
            others = _others_on_customer(store, current, agent)
            if others:
                raise Conflict(
                    f"{others[0]['assignee']} is handling this customer on {others[0]['id']}: "
                    "use --force to reply anyway"
                )
        if not current["assignee"]:
            store.claim(row["id"], agent)
        item_id = store.outbox_add(
            kind=kind, source=row["source"], mention_id=row["id"], text=text, agent=agent,
            options=options,
        )  # fmt: skip
        store.log_event(f"{kind}_queued", agent=agent, mention_id=row["id"], outbox_id=item_id)
    return item_id
