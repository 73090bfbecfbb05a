"""The outbox: everything socialcare publishes goes pending -> sending -> sent | failed.

The ``sending`` state is written and committed *before* the platform is
called. If the process dies after the platform accepted the post but before
``sent`` is committed, the item stays ``sending`` and is never retried
automatically: only ``socialcare outbox retry ID`` (a human's word) sends it
again. That is the whole guarantee against double posts.

:func:`send_item` is the one send path: replies, retries, follow-ups (public and
``--dm``) and scheduled posts all go through it, and it picks the adapter from
the item itself (:func:`adapter_for_item`). Callers hand it the session's
adapters, never an adapter of their choosing, so a retried private follow-up
can never be posted publicly as a reply.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Iterator, Mapping, Protocol

from .errors import Conflict, SocialcareError, SourceError
from .models import Mention, Page, SentPost, item_options, to_iso, utcnow
from .sources.base import Source
from .store import Row, Store

__all__ = [
    "CANCELLABLE",
    "cancel_item",
    "AdapterLookup",
    "DEFAULT_DM_SUBJECT",
    "SENDABLE",
    "adapter_for_item",
    "reset_for_retry",
    "send_item",
]

log = logging.getLogger("socialcare.outbox")
SENDABLE = ("pending",)

#: subject of a private follow-up when none was recorded with it
DEFAULT_DM_SUBJECT = "Following up"


class AdapterLookup(Protocol):
    """What :func:`send_item` needs of the caller: the adapter for a source name
    (:class:`socialcare.poll.Adapters`, built once per session or run)."""

    def get(self, name: str) -> Source:
        """The adapter for source ``name``."""
        ...


def adapter_for_item(adapters: AdapterLookup, item: Mapping[str, Any]) -> Source:
    """The adapter that sends ``item``: its source's, wrapped for private messages
    when the item is a ``--dm`` follow-up. The item decides, never the caller."""
    inner = adapters.get(str(item["source"]))
    opts = item_options(item)
    if item.get("kind") == "followup" and opts.get("dm"):
        return _DirectMessages(inner, str(opts.get("subject") or DEFAULT_DM_SUBJECT))
    return inner


class _DirectMessages(Source):
    """Turns a follow-up's ``reply`` into a private message to the mention's author.

    Wrapping the adapter, instead of a separate send path, keeps DMs inside
    ``send_item``'s pending -> sending -> sent state machine unchanged.
    """

    name: ClassVar[str] = "direct-message"

    def __init__(self, inner: Source, subject: str) -> None:
        super().__init__(inner.config, brand_handles=inner.brand_handles)
        self.inner = inner
        self.subject = subject

    def queries(self) -> list[str]:
        return []

    def poll(self, query: str, cursor: str | None) -> Iterator[Page]:
        return iter(())

    def reply(self, mention: Mention, text: str) -> SentPost:
        send = getattr(self.inner, "send_message", None)
        if not callable(send):
            raise SourceError(
                f"source '{self.inner.name}' cannot send private messages: "
                "cancel this follow-up and schedule it without --dm"
            )
        result = send(mention.author_handle, self.subject, text)
        # Reddit does not return a message id; the outbox still records "sent".
        return result if isinstance(result, SentPost) else SentPost(native_id="", url="")

    def post(self, text: str) -> SentPost:
        raise SourceError("a private message needs a mention to answer")


def send_item(store: Store, adapters: AdapterLookup, item_id: int, *, agent: str = "") -> Row:
    """Send one pending outbox item through the adapter it names; returns the updated item.

    Raises Conflict if another process already took the item. Platform errors
    are recorded on the item (``failed`` + reason), not raised.
    """
    item = store.outbox_get(item_id)
    source = adapter_for_item(adapters, item)
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
        log.info("outbox %s failed: %s", item_id, exc)  # on the item; callers report it
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


#: what an agent may cancel: not yet sent, or given up on (a "sending" item may
#: already be on the platform: check there, then retry or leave it)
CANCELLABLE = ("pending", "failed")


def cancel_item(store: Store, item_id: int, agent: str, *, what: str = "outbox item") -> Row:
    """Cancel a pending or failed outbox item of any kind, audited; it is never sent.

    The one cancel path: ``outbox cancel``, ``followup cancel`` and ``post cancel``
    all end here, so a failed item can always be taken out of the outbox.
    """
    item = store.outbox_get(item_id)
    with store.transaction():
        if not store.outbox_transition(item_id, CANCELLABLE, "cancelled"):
            now_status = store.outbox_get(item_id)["status"]
            raise Conflict(
                f"{what} {item_id} is {now_status}: only pending or failed items can be cancelled"
            )
        store.log_event(
            f"{item['kind']}_cancelled",
            agent=agent,
            mention_id=item["mention_id"],
            outbox_id=item_id,
            previous=item["status"],
        )
    return store.outbox_get(item_id)
