"""The outbox: everything socialcare publishes goes pending -> sending -> sent | failed.

The ``sending`` state is written and committed *before* the platform is
called. If the process dies after the platform accepted the post but before
``sent`` is committed, the item stays ``sending`` and is never retried
automatically: only ``socialcare outbox retry ID`` (a human's word) sends it
again. That is the whole guarantee against double posts.
"""

from __future__ import annotations

import logging
from typing import Any

from .errors import Conflict, SocialcareError
from .models import Mention, to_iso, utcnow
from .sources.base import Source
from .store import Row, Store

__all__ = ["send_item", "reset_for_retry", "SENDABLE"]

log = logging.getLogger("socialcare.outbox")
SENDABLE = ("pending",)


def send_item(store: Store, source: Source, item_id: int, *, agent: str = "") -> Row:
    """Send one pending outbox item through ``source``; returns the updated item.

    Raises Conflict if another process already took the item. Platform errors
    are recorded on the item (``failed`` + reason), not raised.
    """
    item = store.outbox_get(item_id)
    with store.transaction():
        if not store.outbox_transition(item_id, SENDABLE, "sending"):
            current = store.outbox_get(item_id)["status"]
            raise Conflict(f"outbox item {item_id} is {current}, not pending: not sent again")
    try:
        if item["kind"] in ("reply", "followup") and item["mention_id"]:
            mention = Mention.from_row(store.get_mention(item["mention_id"]))
            sent = source.reply(mention, item["text"])
        else:
            sent = source.post(item["text"])
    except SocialcareError as exc:
        with store.transaction():
            store.outbox_transition(item_id, ("sending",), "failed", error=str(exc))
            store.log_event(
                "send_failed",
                agent=agent,
                mention_id=item["mention_id"],
                outbox_id=item_id,
                error=str(exc),
            )
        log.warning("outbox %s failed: %s", item_id, exc)
        return store.outbox_get(item_id)
    now = to_iso(utcnow())
    _commit_sent(store, item, sent.native_id, sent.url, now, agent)
    return store.outbox_get(item_id)


def _commit_sent(store: Store, item: Row, native_id: str, url: str, now: str, agent: str) -> None:
    """Record the platform's id and mark the mention answered, in one transaction."""
    with store.transaction():
        store.outbox_transition(
            item["id"],
            ("sending",),
            "sent",
            platform_id=native_id,
            url=url,
            sent_at=now,
            error=None,
        )
        if item["mention_id"] and item["kind"] == "reply":
            store.mark_answered(item["mention_id"], now, item["agent"] or agent)
        store.log_event(
            "sent",
            agent=agent,
            mention_id=item["mention_id"],
            outbox_id=item["id"],
            kind=item["kind"],
            platform_id=native_id,
        )


def reset_for_retry(store: Store, item_id: int, agent: str) -> Row:
    """Put a failed or stuck-in-sending item back to pending, on an agent's explicit word."""
    item = store.outbox_get(item_id)
    if item["status"] not in ("failed", "sending"):
        raise Conflict(
            f"outbox item {item_id} is {item['status']}: only failed or sending items can be retried"
        )
    extra: dict[str, Any] = {"error": None}
    with store.transaction():
        if not store.outbox_transition(item_id, ("failed", "sending"), "pending", **extra):
            raise Conflict(f"outbox item {item_id} changed state meanwhile; look again")
        store.log_event(
            "retry",
            agent=agent,
            mention_id=item["mention_id"],
            outbox_id=item_id,
            previous=item["status"],
        )
    return store.outbox_get(item_id)
