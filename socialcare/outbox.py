"""The outbox: everything socialcare publishes goes pending -> sending -> sent | failed | unknown.

The ``sending`` state is written and committed *before* the platform is
called, together with its owner (host, pid, start time). If the process dies
after the platform accepted the post but before ``sent`` is committed, the item
stays ``sending`` and is never retried automatically: only ``socialcare outbox
retry ID`` (a human's word) sends it again. That is the whole guarantee against
double posts. Three rules keep it when the outcome is unknown:

* an answer that does not prove the post was refused (a lost answer, a 5xx, a
  2xx without an id: ``SendOutcomeUnknown``) makes the item ``unknown``, not
  ``failed``; only a refusal (a 4xx, a refused connection) is ``failed``;
* retrying an ``unknown`` (or abandoned ``sending``) item first asks the
  platform (:meth:`Source.find_sent`) and records ``sent`` if the post is
  there; an adapter that cannot check needs ``force``. Every attempt carries the
  item's one idempotency key, stored with it;
* a ``sending`` item is not retried while its owner may still be waiting on
  the platform (:func:`owner_may_be_alive`), and every transition checks that
  its conditional UPDATE matched (``Conflict`` otherwise).

:func:`send_item` is the one send path: replies, retries, follow-ups (public and
``--dm``) and scheduled posts all go through it, and it picks the adapter from
the item itself (:func:`adapter_for_item`). Callers hand it the session's
adapters, never an adapter of their choosing, so a retried private follow-up
can never be posted publicly as a reply.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import datetime
from typing import Any, ClassVar, Iterator, Mapping, Protocol

from .errors import Conflict, NotFound, SendOutcomeUnknown, SocialcareError, SourceError
from .models import Mention, Page, SentPost, item_options, parse_iso, to_iso, utcnow
from .sources.base import Source
from .store import Row, Store

__all__ = [
    "CANCELLABLE",
    "cancel_item",
    "AdapterLookup",
    "DEFAULT_DM_SUBJECT",
    "OWNER_MARGIN_SECONDS",
    "RETRYABLE",
    "SENDABLE",
    "UNRESOLVED",
    "adapter_for_item",
    "is_private",
    "owner_may_be_alive",
    "reset_for_retry",
    "resolve_item",
    "retry_item",
    "send_item",
]

log = logging.getLogger("socialcare.outbox")
SENDABLE = ("pending",)
#: may already be on the platform: checked there before anything is sent again
UNRESOLVED = ("sending", "unknown")
#: what ``outbox retry`` takes
RETRYABLE = ("failed", *UNRESOLVED)
#: added to a source's longest send time before a ``sending`` owner counts as gone
OWNER_MARGIN_SECONDS = 60.0

#: subject of a private follow-up when none was recorded with it
DEFAULT_DM_SUBJECT = "Following up"


class AdapterLookup(Protocol):
    """What :func:`send_item` needs of the caller: the adapter for a source name
    (:class:`socialcare.poll.Adapters`, built once per session or run)."""

    def get(self, name: str) -> Source:
        """The adapter for source ``name``."""
        ...


def is_private(item: Mapping[str, Any]) -> bool:
    """Whether ``item`` goes out as a private message (a DM, a reply in a private
    conversation, a ``--dm`` follow-up), never as a public post."""
    return item.get("kind") == "dm" or bool(item_options(item).get("dm"))


def adapter_for_item(adapters: AdapterLookup, item: Mapping[str, Any]) -> Source:
    """The adapter that sends ``item``: its source's, wrapped for private messages
    when the item is private (:func:`is_private`). The item decides, never the caller."""
    inner = adapters.get(str(item["source"]))
    if not is_private(item):
        return inner
    subject = None
    if item.get("kind") == "followup":
        subject = str(item_options(item).get("subject") or DEFAULT_DM_SUBJECT)
    wrapper = _CheckableDirectMessages if inner.finds_sent_dm else _DirectMessages
    return wrapper(inner, subject)


class _DirectMessages(Source):
    """Turns an item's ``reply`` into a private message to the mention's author.

    Wrapping the adapter, instead of a separate send path, keeps DMs inside
    ``send_item``'s pending -> sending -> sent state machine unchanged. A
    follow-up carries a ``subject`` (Reddit's private messages have one and were
    the first DMs sent here); DMs and replies in private conversations do not.
    """

    name: ClassVar[str] = "direct-message"

    def __init__(self, inner: Source, subject: str | None) -> None:
        super().__init__(inner.config, brand_handles=inner.brand_handles)
        self.inner = inner
        self.subject = subject

    @property
    def send_timeout(self) -> float:
        return self.inner.send_timeout

    def queries(self) -> list[str]:
        return []

    def poll(self, query: str, cursor: str | None) -> Iterator[Page]:
        return iter(())

    def reply(self, mention: Mention, text: str) -> SentPost:
        self.inner.idempotency_key = self.idempotency_key
        self.inner.sent_by_person = self.sent_by_person  # Messenger's HUMAN_AGENT rule reads it
        try:
            send = getattr(self.inner, "send_message", None)
            if self.subject is not None and callable(send):
                result = send(mention.author_handle, self.subject, text)
                # Reddit does not return a message id; the outbox still records "sent".
                return result if isinstance(result, SentPost) else SentPost(native_id="", url="")
            if not self.inner.dm_policy.sends:
                raise SourceError(
                    f"source '{self.inner.name}' cannot send private messages: cancel this "
                    "item and answer publicly (or schedule the follow-up without --dm)"
                )
            return self.inner.send_dm(mention, text)
        finally:
            self.inner.idempotency_key = None
            self.inner.sent_by_person = False

    def post(self, text: str) -> SentPost:
        raise SourceError("a private message needs a mention to answer")


class _CheckableDirectMessages(_DirectMessages):
    """A private-message wrapper whose adapter can look for a DM sent with an unknown outcome."""

    finds_sent: ClassVar[bool] = True

    def find_sent(self, mention: Mention | None, text: str) -> SentPost | None:
        if mention is None:
            return None
        return self.inner.find_sent_dm(mention, text)


def _owner_fields() -> dict[str, Any]:
    """Who is sending: this host and process, and since when."""
    return {
        "owner_host": socket.gethostname(),
        "owner_pid": os.getpid(),
        "owner_started_at": to_iso(utcnow()),
    }


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, alive
    except OSError:
        return False
    return True


def owner_may_be_alive(item: Mapping[str, Any], limit_seconds: float, now: datetime) -> str | None:
    """Why the process sending ``item`` may still be waiting on the platform, else None.

    It may be when it started less than ``limit_seconds`` (the source's longest
    send) plus :data:`OWNER_MARGIN_SECONDS` ago, or when it runs on this host and
    its pid is alive. An item from before owners were recorded has none: gone.
    """
    started = item.get("owner_started_at")
    if item.get("status") != "sending" or not started:
        return None
    host, pid = item.get("owner_host") or "?", item.get("owner_pid")
    age = (now - parse_iso(str(started))).total_seconds()
    window = limit_seconds + OWNER_MARGIN_SECONDS
    if age < window:
        return (
            f"it has been sending for {max(age, 0):.0f} s (by pid {pid} on {host}); "
            f"a send may take up to {window:.0f} s"
        )
    if host == socket.gethostname() and isinstance(pid, int) and _pid_alive(pid):
        return f"its sender, pid {pid} on this host, is still running"
    return None


#: outbox kinds that answer a mention (the rest are posts)
_ANSWERS = ("reply", "followup", "dm")


def _publish(store: Store, source: Source, item: Row) -> SentPost:
    if item["kind"] in _ANSWERS and not item["mention_id"]:
        # its mention was deleted (ON DELETE SET NULL): an answer never goes out as a post
        raise NotFound(f"the mention outbox item {item['id']} answered was deleted: not sent")
    if item["kind"] in _ANSWERS and item["mention_id"]:
        mention = Mention.from_row(store.get_mention(item["mention_id"]))
        return source.reply(mention, item["text"])
    return source.post(item["text"])


def _mention_of(store: Store, item: Row) -> Mention | None:
    if item["kind"] in _ANSWERS and item["mention_id"]:
        return Mention.from_row(store.get_mention(item["mention_id"]))
    return None


def send_item(store: Store, adapters: AdapterLookup, item_id: int, *, agent: str = "") -> Row:
    """Send one pending outbox item through the adapter it names; returns the updated item.

    Raises Conflict if another process already took the item. Platform errors
    are recorded on the item, not raised: ``failed`` + reason when the platform
    refused it, ``unknown`` + reason when it may have published it.
    """
    item = store.outbox_get(item_id)
    source = adapter_for_item(adapters, item)
    # one key per item, kept across retries (items from before m009 get theirs here)
    key = str(item.get("idempotency_key") or uuid.uuid4().hex)
    with store.transaction():
        if not store.outbox_transition(
            item_id, SENDABLE, "sending", idempotency_key=key, **_owner_fields()
        ):
            current = store.outbox_get(item_id)["status"]
            raise Conflict(f"outbox item {item_id} is {current}, not pending: not sent again")
    source.idempotency_key = key
    # an agent's reply or DM; follow-ups, posts and notifications are sent by `due` and cron
    source.sent_by_person = item["kind"] in ("reply", "dm")
    try:
        sent = _publish(store, source, item)
    except SocialcareError as exc:
        unknown = isinstance(exc, SendOutcomeUnknown)
        status, action = ("unknown", "send_unknown") if unknown else ("failed", "send_failed")
        with store.transaction():
            _transition(store, item_id, ("sending",), status, error=str(exc))
            store.log_event(
                action,
                agent=agent,
                mention_id=item["mention_id"],
                outbox_id=item_id,
                error=str(exc),
            )
        log.info("outbox %s %s: %s", item_id, status, exc)  # on the item; callers report it
        return store.outbox_get(item_id)
    finally:
        source.idempotency_key = None
        source.sent_by_person = False
    now = to_iso(utcnow())
    _commit_sent(store, item, sent.native_id, sent.url, now, agent)
    return store.outbox_get(item_id)


def _transition(
    store: Store, item_id: int, from_states: tuple[str, ...], to_state: str, **fields: Any
) -> None:
    """``store.outbox_transition`` that must match: Conflict when the item moved meanwhile."""
    if not store.outbox_transition(item_id, from_states, to_state, **fields):
        current = store.outbox_get(item_id)["status"]
        raise Conflict(
            f"outbox item {item_id} is {current}, not {' or '.join(from_states)}: another "
            f"process changed it meanwhile, so it was not marked {to_state}; "
            "see `socialcare outbox --all`"
        )


def _commit_sent(
    store: Store,
    item: Row,
    native_id: str,
    url: str,
    now: str,
    agent: str,
    *,
    from_states: tuple[str, ...] = ("sending",),
    found: bool = False,
) -> None:
    """Record the platform's id and mark the mention answered, in one transaction.

    Raises Conflict (and records nothing but a ``sent_conflict`` event naming
    the platform's id) when the item is no longer in ``from_states``.
    """
    try:
        with store.transaction():
            _transition(
                store,
                item["id"],
                from_states,
                "sent",
                platform_id=native_id,
                url=url,
                sent_at=now,
                error=None,
            )
            if item["mention_id"] and item["kind"] in ("reply", "dm"):
                # a reply in a private conversation answers every open message of it
                # (the queue shows the conversation as one item); a DM taking a public
                # mention private answers that mention
                store.mark_answered(
                    item["mention_id"], now, item["agent"] or agent,
                    conversation=item["kind"] == "reply" and is_private(item),
                )  # fmt: skip
            extra = {"found_on_platform": True} if found else {}
            store.log_event(
                "sent",
                agent=agent,
                mention_id=item["mention_id"],
                outbox_id=item["id"],
                kind=item["kind"],
                platform_id=native_id,
                **extra,
            )
    except Conflict:
        with store.transaction():
            store.log_event(
                "sent_conflict",
                agent=agent,
                mention_id=item["mention_id"],
                outbox_id=item["id"],
                platform_id=native_id,
                url=url,
            )
        log.warning("outbox %s: posted as %s but the item changed meanwhile", item["id"], native_id)
        raise


def reset_for_retry(
    store: Store,
    item_id: int,
    agent: str,
    *,
    limit_seconds: float | None = None,
    now: datetime | None = None,
) -> Row:
    """Put a failed, unknown or abandoned sending item back to pending, on an agent's word.

    A ``sending`` item whose owner may still be waiting on the platform is refused
    (:func:`owner_may_be_alive`, with ``limit_seconds`` the source's longest send).
    """
    item = store.outbox_get(item_id)
    if item["status"] not in RETRYABLE:
        raise Conflict(
            f"outbox item {item_id} is {item['status']}: only failed, unknown or sending "
            "items can be retried"
        )
    if item["status"] == "sending":
        busy = owner_may_be_alive(item, limit_seconds or 0.0, now or utcnow())
        if busy:
            raise Conflict(
                f"outbox item {item_id} is still being sent: {busy}. Wait for it to finish "
                f"(see `socialcare outbox`), then retry if it is unknown or failed"
            )
    with store.transaction():
        _transition(store, item_id, (item["status"],), "pending", error=None)
        store.log_event(
            "retry",
            agent=agent,
            mention_id=item["mention_id"],
            outbox_id=item_id,
            previous=item["status"],
        )
    return store.outbox_get(item_id)


def retry_item(
    store: Store, adapters: AdapterLookup, item_id: int, agent: str, *, force: bool = False
) -> Row:
    """``outbox retry``: resolve an unknown item on the platform, else send it again.

    Returns the item; ``found_on_platform`` is set when the check found it.

    A failed item is sent again. An ``unknown`` or abandoned ``sending`` item is
    first looked for on the platform: found, it becomes ``sent`` with the
    platform's id (nothing is posted); not found, it is sent again with its
    own idempotency key. An adapter that cannot look needs ``force`` (the agent
    looked). ``force`` also skips the platform check where there is one.
    """
    item = store.outbox_get(item_id)
    source = adapter_for_item(adapters, item)
    now = utcnow()
    status = str(item["status"])
    if status == "sending":
        busy = owner_may_be_alive(item, source.send_timeout, now)
        if busy:
            raise Conflict(
                f"outbox item {item_id} is still being sent: {busy}. Wait for it to finish "
                "(see `socialcare outbox`), then retry if it is unknown or failed"
            )
    if status in UNRESOLVED and not force:
        if not source.finds_sent:
            raise Conflict(
                f"outbox item {item_id} may already be on {item['source']} (its outcome is "
                f"{status}), and {item['source']} cannot be checked from here. Look on the "
                f"platform: if it is there, `socialcare outbox resolve {item_id} --sent`; if "
                f"not, `socialcare outbox retry {item_id} --force`"
            )
        found = source.find_sent(_mention_of(store, item), str(item["text"]))
        if found is not None:
            _commit_sent(
                store, item, found.native_id, found.url, to_iso(now), agent,
                from_states=(status,), found=True,
            )  # fmt: skip
            return {**store.outbox_get(item_id), "found_on_platform": True}
    reset_for_retry(store, item_id, agent, limit_seconds=source.send_timeout, now=now)
    return send_item(store, adapters, item_id, agent=agent)


def resolve_item(
    store: Store, item_id: int, agent: str, *, sent: bool, url: str = "",
    limit_seconds: float = 0.0,
) -> Row:  # fmt: skip
    """An agent's finding for an unknown (or abandoned sending) item: it is on the platform
    (``sent``, with its URL if given) or it is not (``failed``, to retry or cancel)."""
    item = store.outbox_get(item_id)
    status = str(item["status"])
    if status not in UNRESOLVED:
        raise Conflict(
            f"outbox item {item_id} is {status}: only unknown or sending items can be resolved"
        )
    busy = owner_may_be_alive(item, limit_seconds, utcnow())
    if busy:
        raise Conflict(f"outbox item {item_id} is still being sent: {busy}")
    if sent:
        _commit_sent(store, item, "", url, to_iso(utcnow()), agent, from_states=(status,))
        return store.outbox_get(item_id)
    with store.transaction():
        _transition(
            store, item_id, (status,), "failed",
            error=f"not on the platform (checked by {agent or 'an agent'})",
        )  # fmt: skip
        store.log_event(
            "resolved_not_sent", agent=agent, mention_id=item["mention_id"], outbox_id=item_id,
            previous=status,
        )  # fmt: skip
    return store.outbox_get(item_id)


#: what an agent may cancel: not yet sent, or given up on (a "sending" or "unknown"
#: item may already be on the platform: resolve it instead)
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
            if now_status in UNRESOLVED:
                raise Conflict(
                    f"{what} {item_id} is {now_status}: it may already be on the platform, so "
                    f"it cannot be cancelled; `socialcare outbox retry {item_id}` checks there, "
                    f"or `socialcare outbox resolve {item_id} --sent|--not-sent` records what "
                    "you found"
                )
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
