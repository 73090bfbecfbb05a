"""Notifications: urgent things announced where the team already is (Slack, Teams, Mattermost,
any JSON webhook), each event at most once per target.

A run (``poll``, ``due``, ``status --alert``, ``notify test``) turns what it saw
into :class:`Event` s, keeps those each ``[[notify]]`` target's filters want,
and for each (event, target) computes one deterministic key. Claiming that key
in ``team_notifications`` and enqueuing the outbox item (kind ``notify``,
idempotency key = the claim key) happen in one transaction: of two cron runs or
two hosts, the one whose insert wins enqueues, the other sees the key and does
nothing. Sending is the outbox's own ``pending -> sending`` transition
(:func:`socialcare.outbox.send_item`), so even a leftover pending item is sent
by only one run.

Text from strangers is cleaned (:func:`socialcare.safety.one_line`) and then
escaped for each target's markup: Slack mrkdwn gets ``&``, ``<`` and ``>`` as
entities (so no ``<!here>`` or link can be injected); Markdown targets
(Teams, Mattermost) get a backslash before every markup character; on every
markup target an ``@`` is followed by a word joiner, so ``@channel``, ``@here``
and ``@all`` ping nobody.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import ssl
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, ClassVar, Iterable, Iterator, Mapping, Sequence

import httpx

from ..config import check_keys
from ..errors import ConfigError, MissingCredential, NotFound, SendOutcomeUnknown, SourceError
from ..models import Mention, Page, SentPost, to_iso
from ..safety import one_line
from ..sources.base import Source
from ..store import Row, Store
from ..store import team as store_team
from ..timeutil import parse_duration
from ._gc import gc_paused
from .hours import BusinessHours

__all__ = [
    "EVENTS",
    "NOTIFY_KEYS",
    "TARGET_TYPES",
    "Event",
    "Target",
    "NotifySettings",
    "NotifyRun",
    "Senders",
    "OutboxAdapters",
    "event_key",
    "render",
    "slack_escape",
    "markdown_escape",
    "mention_events",
    "quiet_mentions",
    "InsertedColumns",
    "sla_events",
    "enqueue",
    "send_pending",
]

log = logging.getLogger("socialcare.notify")

EVENTS = (
    "mention",
    "sla_soon",
    "sla_breached",
    "spike",
    "source_unhealthy",
    "outbox_failed",
    "test",
)
TARGET_TYPES = ("webhook", "slack", "teams", "mattermost")
NOTIFY_KEYS = (
    "name", "type", "url", "url_env", "events", "score_above", "intents", "sources",
    "sla_within", "timeout", "retries", "backoff", "enabled",
)  # fmt: skip
#: the outbox ``source`` of a notification: this prefix and the target's name
SOURCE_PREFIX = "notify:"
_WORD_JOINER = "\u2060"


@dataclass(frozen=True)
class Event:
    """Something worth announcing. ``subject`` plus ``kind`` identify it for the key."""

    kind: str
    subject: str
    title: str
    text: str = ""
    source: str | None = None
    intent: str | None = None
    score: float | None = None
    url: str = ""
    author: str = ""
    mention_id: str | None = None
    #: seconds to the SLA's end (sla_soon), for a target's ``sla_within``
    sla_left: float | None = None


@dataclass(frozen=True)
class Target:
    """One ``[[notify]]`` entry."""

    name: str
    type: str
    url_value: str | None = None
    url_env: str | None = None
    events: tuple[str, ...] = ("mention", "sla_breached", "source_unhealthy", "outbox_failed")
    score_above: float | None = None
    intents: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    sla_within: float = 1800.0
    timeout: float = 10.0
    retries: int = 3
    backoff: float = 1.0
    enabled: bool = True

    def url(self) -> str:
        """The webhook URL (a secret: from the file's ``url`` or the variable ``url_env``)."""
        if self.url_value:
            return self.url_value
        value = os.environ.get(self.url_env or "", "")
        if not value:
            raise MissingCredential(
                f"notify target '{self.name}' needs its webhook URL: set the environment "
                f"variable {self.url_env} (named by its url_env)"
            )
        return value

    def wants(self, event: Event) -> bool:
        """Whether this target's filters take the event."""
        if event.kind == "test":
            return True
        if not self.enabled or event.kind not in self.events:
            return False
        if event.kind in ("mention", "sla_soon", "sla_breached") and not self.takes(
            event.source, event.intent, event.score
        ):
            return False
        if event.kind == "sla_soon" and (event.sla_left or 0.0) > self.sla_within:
            return False
        if event.kind in ("source_unhealthy", "spike") and self.sources and event.source:
            return event.source in self.sources or event.source == "all sources"
        return True

    def takes(self, source: str | None, intent: str | None, score: float | None) -> bool:
        """Whether the filters on a mention's source, intent and score let it through
        (for ``mention`` and SLA events, once the kind is wanted)."""
        if self.sources and source not in self.sources:
            return False
        if self.intents and intent not in self.intents:
            return False
        return self.score_above is None or not (score or 0.0) <= self.score_above


def _number(table: Mapping[str, Any], key: str, where: str, default: float | None) -> float | None:
    value = table.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"{where}.{key} must be a number of at least 0, got {value!r}")
    return float(value)


def _strings(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...] | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}.{key} must be a list of strings, got {value!r}")
    return tuple(value)


def _target(entry: Any, where: str) -> Target:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a table ([[notify]]), got {entry!r}")
    check_keys(entry, NOTIFY_KEYS, where)
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}.name must be a non-empty string, got {name!r}")
    kind = entry.get("type", "webhook")
    if kind not in TARGET_TYPES:
        raise ConfigError(f"{where}.type: {kind!r} is not one of: {', '.join(TARGET_TYPES)}")
    url, url_env = entry.get("url"), entry.get("url_env")
    if url is None and url_env is None:
        raise ConfigError(
            f"{where}: give `url` or `url_env` (the variable holding the webhook URL)"
        )
    for key, value in (("url", url), ("url_env", url_env)):
        if value is not None and (not isinstance(value, str) or not value):
            raise ConfigError(f"{where}.{key} must be a non-empty string")
    if isinstance(url, str) and not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}.url must start with https:// (or http://)")
    events = _strings(entry, "events", where)
    for event in events or ():
        if event not in EVENTS[:-1]:
            raise ConfigError(f"{where}.events: {event!r} is not one of: {', '.join(EVENTS[:-1])}")
    sla_within = entry.get("sla_within", "30m")
    if not isinstance(sla_within, str):
        raise ConfigError(f'{where}.sla_within must be a duration like "30m", got {sla_within!r}')
    try:
        within = parse_duration(sla_within, what=f"{where}.sla_within").total_seconds()
    except Exception as exc:
        raise ConfigError(str(exc)) from None
    retries = entry.get("retries", 3)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
        raise ConfigError(f"{where}.retries must be a whole number 0..10, got {retries!r}")
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where}.enabled must be true or false, got {enabled!r}")
    defaults = Target(name="", type="webhook")
    return Target(
        name=name.strip(),
        type=str(kind),
        url_value=url,
        url_env=url_env,
        events=events if events is not None else defaults.events,
        score_above=_number(entry, "score_above", where, None),
        intents=_strings(entry, "intents", where) or (),
        sources=_strings(entry, "sources", where) or (),
        sla_within=within,
        timeout=_number(entry, "timeout", where, 10.0) or 10.0,
        retries=retries,
        backoff=_number(entry, "backoff", where, 1.0) or 0.0,
        enabled=enabled,
    )


@dataclass(frozen=True)
class NotifySettings:
    """Every ``[[notify]]`` target (none: notifications are off)."""

    targets: tuple[Target, ...] = ()

    @classmethod
    def from_config(cls, entries: Any) -> NotifySettings:
        """Check and read the ``[[notify]]`` array; one ConfigError naming the key."""
        if not entries:
            return cls()
        if not isinstance(entries, list):
            raise ConfigError(f"notify must be an array of tables ([[notify]]), got {entries!r}")
        targets = tuple(_target(e, f"notify[{n}]") for n, e in enumerate(entries))
        names = [t.name for t in targets]
        for name in names:
            if names.count(name) > 1:
                raise ConfigError(f"notify: two targets are named {name!r}; names must differ")
        return cls(targets)

    def wanted(self, kind: str) -> bool:
        """Whether any enabled target listens for events of this kind."""
        return any(t.enabled and kind in t.events for t in self.targets)

    def get(self, name: str) -> Target:
        """One target by name, or NotFound listing the names."""
        for t in self.targets:
            if t.name == name:
                return t
        names = ", ".join(t.name for t in self.targets) or "none (add a [[notify]] table)"
        raise NotFound(f"no notify target {name!r}; targets: {names}")


# -- events ----------------------------------------------------------------------------
@gc_paused
def mention_events(rows: Sequence[Row]) -> list[Event]:
    """One ``mention`` event per new mention of a poll."""
    return [
        Event(
            "mention",
            str(r["id"]),
            f"New {r.get('intent') or 'mention'} on {r['source']}",
            text=str(r.get("text") or ""),
            source=str(r["source"]),
            intent=r.get("intent"),
            score=float(r.get("static_score") or 0.0),
            url=str(r.get("url") or ""),
            author=str(r.get("author_handle") or ""),
            mention_id=str(r["id"]),
        )  # fmt: skip
        for r in rows
    ]


#: a poll's new mentions as inserted, column by column: ids, sources, is_own, created_ts,
#: intents and static scores (:meth:`socialcare.team.routing.PageRouter.inserted`)
InsertedColumns = tuple[list[str], list[Any], list[Any], list[Any], list[Any], list[Any]]


@gc_paused
def quiet_mentions(
    settings: NotifySettings, inserted: InsertedColumns, since_ts: float
) -> set[str]:
    """Of a poll's new mentions as inserted, the ones no target would announce: the
    ``mention`` event built from their stored row would pass no target's filters (or
    the row is the brand's own, or older than ``since_ts``).

    The poll's read of its mentions (``mentions_for_notify``) skips them: it reads only
    those a target may take (the few a poll announces), and still checks those against
    the store. The filters are each target's own (:meth:`Target.takes`), on the values
    the event would carry: ``str(source)`` and ``float(static_score or 0.0)``.
    """
    ids, sources, owns, created, intents, scores = inserted
    everyone = range(len(ids))
    loud: set[str] = set()
    for t in settings.targets:
        if not (t.enabled and "mention" in t.events):
            continue
        if t.intents:  # most rows fail on their intent: one set test each first
            wanted = set(t.intents)
            some: Iterable[int] = [k for k, intent in enumerate(intents) if intent in wanted]
        else:
            some = everyone
        # Target.takes written out (its intents are the test above): a call per row
        # cost this loop half its time
        wanted_sources, above = t.sources, t.score_above
        loud.update(
            ids[k]
            for k in some
            if not owns[k]
            and created[k] >= since_ts
            and (not wanted_sources or str(sources[k]) in wanted_sources)
            and (above is None or not float(scores[k] or 0.0) <= above)
        )
    return set(ids) - loud


def sla_events(
    rows: Sequence[Row],
    now: datetime,
    hours: Callable[[str], BusinessHours | None] = lambda mention_id: None,
) -> list[Event]:
    """``sla_breached`` / ``sla_soon`` for open mentions near or past their SLA.

    With business hours (``hours(mention_id)``: the schedule of the team it was
    routed to, else ``[hours]``) the SLA ends once its length of business time has
    passed since the mention arrived; the stored due time counts every hour.
    """
    out = []
    now_ts = now.timestamp()
    for r in rows:
        due = float(r["sla_due_ts"])
        schedule = hours(str(r["id"]))
        if schedule is not None:
            created = datetime.fromtimestamp(float(r["created_ts"]), tz=now.tzinfo)
            end = schedule.add(created, due - float(r["created_ts"]))
            due = end.timestamp() if end is not None else due
        left = due - now_ts
        kind = "sla_breached" if left <= 0 else "sla_soon"
        title = (
            f"SLA breached on {r['source']}"
            if left <= 0
            else f"SLA ends in {max(int(left // 60), 1)} min on {r['source']}"
        )
        out.append(
            Event(
                kind,
                str(r["id"]),
                title,
                text=str(r.get("text") or ""),
                source=str(r["source"]),
                intent=r.get("intent"),
                score=float(r.get("static_score") or 0.0),
                url=str(r.get("url") or ""),
                author=str(r.get("author_handle") or ""),
                mention_id=str(r["id"]),
                sla_left=left,
            )  # fmt: skip
        )
    return out


def event_key(event: Event, target: Target) -> str:
    """The (event, target) key: the same on every run and host, so a second run finds it."""
    raw = f"{event.kind}\x1f{event.subject}\x1f{target.name}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:40]


# -- rendering ---------------------------------------------------------------------------
def _no_pings(text: str) -> str:
    return text.replace("@", "@" + _WORD_JOINER)


def slack_escape(text: str) -> str:
    """Stranger text for Slack mrkdwn: the three entities Slack asks for, and no pings."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _no_pings(text)


_MARKDOWN = set("\\`*_{}[]()#+-.!|<>~&")


def markdown_escape(text: str) -> str:
    """Stranger text for Markdown targets (Teams, Mattermost): every markup character
    backslash-escaped (no links, HTML or formatting), and no pings."""
    return _no_pings("".join("\\" + c if c in _MARKDOWN else c for c in text))


def render(target: Target, event: Event) -> str:
    """The JSON body the target's kind of webhook takes for this event."""
    said = one_line(event.text, 500)
    facts = [
        (k, v)
        for k, v in (
            ("source", event.source),
            ("intent", event.intent),
            ("score", f"{event.score:.1f}" if event.score is not None else None),
            ("author", event.author),
            ("mention", event.mention_id),
        )  # fmt: skip
        if v
    ]
    if target.type == "webhook":
        return json.dumps(
            {
                "event": event.kind,
                "subject": event.subject,
                "title": one_line(event.title),
                "text": said,
                "source": event.source,
                "intent": event.intent,
                "score": event.score,
                "url": event.url,
                "author": one_line(event.author),
                "mention_id": event.mention_id,
            },  # fmt: skip
            ensure_ascii=False,
        )
    if target.type == "slack":
        esc = slack_escape
        line = " · ".join(f"*{k}*: {esc(one_line(v, 80))}" for k, v in facts)
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": one_line(event.title, 150)}},
        ]
        if said:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "> " + esc(said)}})
        if line:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]})
        if event.url.startswith(("https://", "http://")):
            blocks.append(
                {"type": "section", "text": {"type": "mrkdwn", "text": f"<{esc(event.url)}|Open>"}}
            )
        return json.dumps(
            {"text": esc(one_line(event.title, 150)), "blocks": blocks}, ensure_ascii=False
        )
    esc = markdown_escape
    body = f"**{esc(one_line(event.title, 150))}**"
    if said:
        body += f"\n\n> {esc(said)}"
    if facts:
        body += "\n\n" + " · ".join(f"**{k}**: {esc(one_line(v, 80))}" for k, v in facts)
    if target.type == "mattermost":
        return json.dumps({"text": body, "username": "socialcare"}, ensure_ascii=False)
    card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": [{"type": "TextBlock", "text": body, "wrap": True}],
    }
    if event.url.startswith(("https://", "http://")):
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open", "url": event.url}]
    return json.dumps(
        {
            "type": "message",
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
            ],
        },
        ensure_ascii=False,
    )


# -- sending -------------------------------------------------------------------------------
class _WebhookSender(Source):
    """A notify target as the outbox sees it: ``post(body)`` delivers the rendered JSON.

    Like the outbox's private-message wrapper, this keeps notifications inside
    ``send_item``'s one state machine. 5xx, 429 and refused connections are
    retried with backoff (the target never took the message); a 4xx fails at
    once; a timeout after the request went out leaves the item ``unknown``.
    """

    name: ClassVar[str] = "notify"
    read_only: ClassVar[bool] = False

    def __init__(self, target: Target, client: Callable[[str], httpx.Client]) -> None:
        super().__init__({})
        self.target = target
        #: the HTTP client for a URL (:meth:`Senders.client_for`)
        self.client = client

    def queries(self) -> list[str]:
        return []

    def poll(self, query: str, cursor: str | None) -> Iterator[Page]:
        return iter(())

    def reply(self, mention: Mention, text: str) -> SentPost:
        return self.post(text)

    def post(self, text: str) -> SentPost:
        t = self.target
        url = t.url()
        headers = {"Content-Type": "application/json"}
        if self.idempotency_key:
            headers["Idempotency-Key"] = self.idempotency_key
        problem = ""
        for attempt in range(t.retries + 1):
            if attempt:
                time.sleep(min(t.backoff * 2 ** (attempt - 1), 30.0))
            try:
                response = self.client(url).post(
                    url, content=text.encode("utf-8"), headers=headers, timeout=t.timeout
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                problem = f"cannot connect ({type(exc).__name__})"
                continue
            except httpx.TimeoutException as exc:
                raise SendOutcomeUnknown(
                    f"notify target '{t.name}': no answer in {t.timeout:g} s ({type(exc).__name__}); "
                    "it may have been delivered"
                ) from None
            except httpx.HTTPError as exc:
                raise SourceError(f"notify target '{t.name}': {type(exc).__name__}") from None
            if 200 <= response.status_code < 300:
                return SentPost(native_id="", url="")
            body = one_line(response.text, 120)
            problem = f"HTTP {response.status_code} {body}".strip()
            if response.status_code >= 500 or response.status_code == 429:
                continue
            raise SourceError(f"notify target '{t.name}' refused the message: {problem}")
        raise SourceError(
            f"notify target '{t.name}' failed after {t.retries + 1} attempt(s): {problem}"
        )


class Senders:
    """The outbox's adapter lookup for notify items: one sender per target, and per run at
    most two HTTP clients, each built when the first message that needs it is sent.

    An ``https://`` target (or any URL when the environment names a proxy) gets httpx's
    default client, which loads the CA bundle once (~20-40 ms of CPU). A plain
    ``http://`` target (a local relay, a test server) gets a client that never loads it:
    its TLS context trusts no certificate, so it could only ever fail closed, and with
    redirects off and no proxy it never speaks TLS at all.
    """

    def __init__(
        self, settings: NotifySettings, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.settings = settings
        self._transport = transport
        self._clients: dict[bool, httpx.Client] = {}
        self._proxied: bool | None = None

    def client_for(self, url: str) -> httpx.Client:
        """The HTTP client that sends to ``url`` (built on first use)."""
        plain = self._transport is None and url[:7].lower() == "http://"
        if plain and self._proxied is None:
            self._proxied = bool(urllib.request.getproxies())  # read once: ~0.3 ms a call
        plain = plain and not self._proxied
        client = self._clients.get(plain)
        if client is None:
            if plain:  # no CA bundle: this client only ever speaks plain HTTP
                never_trusted = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                client = httpx.Client(
                    transport=httpx.HTTPTransport(verify=never_trusted), follow_redirects=False
                )
            else:
                client = httpx.Client(transport=self._transport, follow_redirects=False)
            self._clients[plain] = client
        return client

    def get(self, name: str) -> Source:
        """The sender of outbox source ``notify:TARGET``."""
        return _WebhookSender(self.settings.get(name.removeprefix(SOURCE_PREFIX)), self.client_for)

    def close(self) -> None:
        """Close the HTTP clients that were built."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()


class OutboxAdapters:
    """The adapter lookup for any outbox item: ``notify:TARGET`` sources get the target's
    webhook sender, every other source the session's own adapter.

    ``outbox retry`` and ``outbox resolve`` hand this to the one outbox path, so a failed
    notification is retried by :func:`socialcare.outbox.retry_item` like a reply: the
    same item, its one idempotency key, no new claim (still once per event and target).
    The HTTP client is built only when a notify item asks for it.
    """

    def __init__(
        self,
        adapters: Any,
        settings: Callable[[], NotifySettings],
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.adapters = adapters
        self._settings = settings
        self._transport = transport
        self._senders: Senders | None = None

    def get(self, name: str) -> Source:
        """The sender of ``notify:TARGET``, else the adapter of source ``name``."""
        if not name.startswith(SOURCE_PREFIX):
            return self.adapters.get(name)  # type: ignore[no-any-return]
        if self._senders is None:
            self._senders = Senders(self._settings(), self._transport)
        return self._senders.get(name)

    def close(self) -> None:
        """Close the notify HTTP client, if one was built."""
        if self._senders is not None:
            self._senders.close()


@dataclass
class NotifyRun:
    """What one run announced: items enqueued, sent and failed (with the reasons)."""

    enqueued: int = 0
    skipped: int = 0
    sent: int = 0
    failed: list[str] = field(default_factory=list)


@gc_paused
def enqueue(store: Store, settings: NotifySettings, events: Sequence[Event], *, agent: str = "",
            only: str | None = None) -> NotifyRun:  # fmt: skip
    """Claim each wanted (event, target) key and enqueue its outbox item, in one transaction."""
    run = NotifyRun()
    pairs = [
        (e, t, event_key(e, t))
        for e in events
        for t in settings.targets
        if (only is None or t.name == only) and t.wants(e)
    ]
    if not pairs:
        return run
    known = store_team.notification_sent(store, [k for _, _, k in pairs])
    fresh = [(e, t, k) for e, t, k in pairs if k not in known]
    run.skipped = len(pairs) - len(fresh)
    if not fresh:
        return run
    with store.transaction():
        for event, target, key in fresh:
            if not store_team.claim_notification(
                store, key, target=target.name, event=event.kind, subject=event.subject
            ):
                run.skipped += 1  # another run claimed it between our read and our write
                continue
            item_id = store.outbox_add(
                kind="notify", source=SOURCE_PREFIX + target.name, mention_id=event.mention_id,
                text=render(target, event), agent=agent,
                options={"target": target.name, "event": event.kind, "key": key},
            )  # fmt: skip
            store_team.set_notification_key(store, item_id, key)
            store_team.set_notification_outbox(store, key, item_id)
            run.enqueued += 1
    return run


@gc_paused
def send_pending(store: Store, senders: Senders, run: NotifyRun, *, agent: str = "") -> NotifyRun:
    """Send every pending notify item (this run's and any a crashed run left), once each."""
    from ..errors import Conflict
    from ..outbox import send_item

    names = {t.name for t in senders.settings.targets}
    for item in store_team.pending_notifications(store):
        if str(item["source"]).removeprefix(SOURCE_PREFIX) not in names:
            continue  # a target removed from config: left for `outbox cancel`
        try:
            done = send_item(store, senders, int(item["id"]), agent=agent)
        except Conflict:
            continue  # another run took it
        if done["status"] == "sent":
            run.sent += 1
        else:
            run.failed.append(f"#{item['id']} {done['status']}: {one_line(done.get('error'))}")
    return run


def since(now: datetime, hours: float = 24.0) -> str:
    """UTC ISO text ``hours`` before ``now``."""
    return to_iso(now - timedelta(hours=hours))
