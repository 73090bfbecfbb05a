"""The one interface every source adapter implements.

An adapter is built from its ``[sources.NAME]`` config table, reads its
credentials from the environment variables that table names, and then:

* ``queries()`` lists what it polls (each has its own cursor);
* ``poll(query, cursor)`` yields :class:`~socialcare.models.Page` objects,
  oldest-safe: a page's ``cursor`` is only set when storing that page (and all
  before it) makes it safe to skip everything up to that cursor next time;
* ``reply(mention, text)`` / ``post(text)`` publish and return the platform id.

Adapters know no screen and no SQL: they return data and raise
``SocialcareError`` subclasses (``RateLimited``, ``AuthError``, ``SourceError``).

Optional hooks, all with defaults so a minimal adapter needs none of them:

* ``newest_first = True`` opts into gap tracking: such an adapter fills
  ``Page.newest``/``oldest``/``complete`` and implements :meth:`Source.poll_range`
  so the engine can backfill what a cut-short poll skipped;
* :attr:`Source.overlap_seconds` (config ``overlap_seconds``, default 120): how far
  below the cursor to re-read, for late-indexed items (duplicates cost nothing);
* :meth:`Source.wait` routes every rate-limit sleep through the engine's
  ``waiter`` (a countdown on a terminal, one log line under ``--quiet``, bounded
  by ``--max-wait``); :meth:`Source.count_request` feeds the monthly budget;
* :meth:`Source.is_own` recognises the brand's own accounts (beyond
  ``brand_handles``, e.g. Twitter's ``user_id``) so their posts never queue;
* exactly once under unknown outcomes: a write whose answer was lost raises
  ``SendOutcomeUnknown``; :attr:`Source.idempotency_key` is the outbox item's own
  key during a send (platforms that honour one send it); ``finds_sent = True``
  plus :meth:`Source.find_sent` let ``outbox retry`` look for the post on the
  platform before sending again (without them, retry needs ``--force``).
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from functools import partial
from itertools import chain
from operator import attrgetter
from typing import Any, Callable, ClassVar, Iterable, Iterator, Mapping, Sequence

from ..config import SOURCE_BASE_KEYS, check_keys
from ..errors import ConfigError, SourceError
from ..models import Mention, Page, SentPost
from ..safety import clean_text, storable_data, storable_text

__all__ = [
    "DmPolicy",
    "NO_DMS",
    "Source",
    "Waiter",
    "DEFAULT_OVERLAP_SECONDS",
    "REPLACED_KEY",
    "identity",
    "sanitise_mention",
    "sanitise_page",
    "skipped_item",
]

log = logging.getLogger("socialcare.sources")

#: ``waiter(seconds, reason)`` waits out a rate limit (a countdown, a log line, a test
#: recorder); returning ``False`` declines, and the adapter then raises ``RateLimited``
Waiter = Callable[[float, str], "bool | None"]

#: seconds below the cursor every poll re-reads, unless ``overlap_seconds`` says otherwise
DEFAULT_OVERLAP_SECONDS = 120.0
#: the key of ``Mention.raw`` that records characters replaced by :func:`sanitise_mention`
REPLACED_KEY = "_socialcare_replaced"
#: the longest reason kept for a skipped item
_REASON_MAX = 300


def bool_setting(config: Mapping[str, Any], key: str, default: bool, source: str) -> bool:
    """The true/false key ``sources.<source>.<key>``, or ``ConfigError`` naming it.

    TOML has booleans, so ``"yes"`` or ``1`` is a mistake to point out, not a value
    to guess at: ``bool("false")`` is true.
    """
    value = config.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"sources.{source}.{key} must be true or false, got {value!r}")
    return value


def identity(value: Any, placeholders: Iterable[str] = ()) -> str:
    """An author id fit to be an identity, else "" (unlinked).

    An empty, whitespace or placeholder id (Reddit's ``[deleted]``, Bluesky's
    ``handle.invalid``) names nobody: used as an id it would merge every such
    author into one customer.
    """
    if value is None or isinstance(value, bool):
        return ""
    text = str(value).strip()
    if not text or text.lower() in {p.lower() for p in placeholders}:
        return ""
    return text


def skipped_item(reason: str, raw: Any) -> dict[str, Any]:
    """The record of an item an adapter could not normalise: why, and the item as received."""
    reason = " ".join(reason.split())
    if len(reason) > _REASON_MAX:
        reason = reason[: _REASON_MAX - 1] + "…"
    kept, _ = storable_data(raw if isinstance(raw, dict) else {"value": repr(raw)[:2000]})
    return {"reason": reason, "raw": kept}


#: fields that become ids, keys and links: strangers choose them, every screen shows them
IDENTITY_FIELDS = frozenset(
    {"native_id", "author_id", "author_handle", "parent_id", "conversation_id", "repost_of", "url"}
)


def _plain_id(value: str, *, keep_spaces: bool = False) -> str:
    """An id or link with no escape sequences, controls, bidi overrides or whitespace
    (a handle keeps single spaces: feeds name authors "Jo Smith")."""
    return (" " if keep_spaces else "").join(clean_text(value).split())


def sanitise_mention(mention: Mention) -> Mention:
    """``mention`` with text the store cannot encode (lone surrogates, NUL) replaced by U+FFFD,
    and ids, handles and links stripped of escapes, controls and whitespace.

    The count per field goes into ``raw[REPLACED_KEY]``, so whoever reads the
    mention can tell the platform sent something else. An RSS ``guid`` or a
    crafted status id is an identity and is printed on every screen: it must
    never carry a terminal escape.
    """
    return sanitise_page([mention])[0]


def sanitise_page(mentions: Sequence[Mention]) -> list[Mention]:
    """:func:`sanitise_mention` of each mention of a page, checked a page at a time.

    Almost every page is clean: each field is then checked once for the whole
    page, in C (one ``isprintable`` or one regex over the field's values joined,
    one over every string of the raw payloads), and the page's own objects are
    returned. A page that fails is halved until the mentions that need it go
    through :func:`_sanitise_one`, the rule's one definition (a property test
    compares the two).
    """
    page = list(mentions)
    if not page:
        return page
    if set(map(type, page)) != {Mention}:  # a subclass may add fields: the plain rule
        return [_sanitise_one(m) for m in page]
    out: list[Mention] = []
    _sanitise_into(page, out)
    return out


def _sanitise_into(page: list[Mention], out: list[Mention]) -> None:
    if _clean_page(page):
        out += page
    elif len(page) == 1:
        out.append(_sanitise_one(page[0]))
    else:
        half = len(page) // 2
        _sanitise_into(page[:half], out)
        _sanitise_into(page[half:], out)


def _sanitise_one(mention: Mention) -> Mention:
    """The rule itself, field by field (the reference :func:`sanitise_page` must match)."""
    changes: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for f in fields(mention):
        value = getattr(mention, f.name)
        if f.name == "raw" or not isinstance(value, str):
            continue
        clean, n = storable_text(value)
        if f.name in IDENTITY_FIELDS:
            plain = _plain_id(clean, keep_spaces=f.name == "author_handle")
            n += len(clean) - len(plain)
            clean = plain
        if n:
            changes[f.name] = clean
            counts[f.name] = n
    raw, n_raw = storable_data(mention.raw)
    if n_raw:
        counts["raw"] = n_raw
    if not counts:
        return mention
    raw = dict(raw) if isinstance(raw, dict) else {}
    raw[REPLACED_KEY] = counts
    return replace(mention, raw=raw, **changes)


_is_str = partial(type.__instancecheck__, str)
_MENTION_FIELDS = tuple(f.name for f in fields(Mention) if f.name != "raw")
#: per field: its values' getter and how they are checked (``text``, ``id`` or ``handle``)
_FIELD_CHECKS = tuple(
    (
        attrgetter(name),
        "handle" if name == "author_handle" else "id" if name in IDENTITY_FIELDS else "text",
    )
    for name in _MENTION_FIELDS
)
#: value types of a flat payload, whose strings are all its values of type str
_FLAT = frozenset({str, int, float, bool, type(None)})


def _clean_page(page: list[Mention]) -> bool:
    """True only if :func:`_sanitise_one` returns each mention of ``page`` unchanged.

    A field's values pass when joined they hold nothing the rule changes: no NUL
    or lone surrogate (text); printable, which leaves only the ASCII space as
    whitespace and excludes every escape, control and surrogate, and no space
    (ids and links); printable with single inner spaces only (handles). False
    may be a false alarm (the caller then applies the rule itself).
    """
    for getter, kind in _FIELD_CHECKS:
        values = list(map(getter, page))
        try:
            joined = "".join(values)
        except TypeError:  # None in an optional field (or a number where text belongs)
            values = list(filter(_is_str, values))
            joined = "".join(values)
        if kind == "text":
            if "\x00" in joined or not _encodable(joined):
                return False
        elif not joined.isprintable():
            return False
        elif kind == "id":
            if " " in joined:
                return False
        elif " " in joined:
            # NUL is not printable, so here it only separates the handles
            apart = "\x00".join(values)
            if (
                "  " in apart
                or " \x00" in apart
                or "\x00 " in apart
                or apart.startswith(" ")
                or apart.endswith(" ")
            ):
                return False
    return _clean_payloads([m.raw for m in page])


def _clean_payloads(raws: list[Any]) -> bool:
    """True only if ``storable_data`` changes none of ``raws``: no lone surrogate in any
    string it visits (dict keys that are text, and every value in dicts, lists, tuples)."""
    strings: list[str] = []
    level = raws
    if set(map(type, raws)) == {dict}:  # the usual page: its payloads' keys and values in C
        try:
            strings.append("".join(chain.from_iterable(raws)))
        except TypeError:  # a key that is no text (storable_data leaves those)
            strings += filter(_is_str, chain.from_iterable(raws))
        level = list(chain.from_iterable(map(dict.values, raws)))
    while level:
        kinds = set(map(type, level))
        if kinds <= _FLAT:
            strings += filter(_is_str, level)
            break
        nested: list[Any] = []
        for value in level:
            if isinstance(value, str):
                strings.append(value)
            elif isinstance(value, dict):
                strings += filter(_is_str, value)
                nested += value.values()
            elif isinstance(value, list | tuple):
                nested += value
        level = nested
    return _encodable("".join(strings))


def _encodable(text: str) -> bool:
    """Whether ``text`` holds no lone surrogate (UTF-8 encoding is the fastest test)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class DmPolicy:
    """What a platform allows with private messages, checked before anything is sent.

    Args:
        reads: the adapter polls private conversations (mentions of kind ``dm``).
        sends: the adapter can answer in a conversation and open one.
        starts: who the brand may open a conversation with: ``"anyone"``, ``"open"``
            (anyone whose DM settings accept the brand; the platform refuses the
            rest and the send fails before any public reply), or ``"replies"``
            (only answer conversations the customer started).
        max_length: the longest private message, in :meth:`Source.dm_length` units.
        unit: what ``max_length`` counts (``"characters"``, ``"graphemes"``).
        reply_window: how long after the customer's last message the brand may
            answer (None: no window).
        note: one line on the platform's rules, for ``socialcare sources``.
    """

    reads: bool = False
    sends: bool = False
    starts: str = "replies"
    max_length: int | None = None
    unit: str = "characters"
    reply_window: timedelta | None = None
    note: str = ""

    def summary(self) -> str:
        """One line for ``socialcare sources``: reads / sends / who may be messaged first."""
        if not (self.reads or self.sends):
            return "no DMs"
        parts = ["reads" if self.reads else "", "sends" if self.sends else ""]
        limit = f", {self.max_length} {self.unit}" if self.max_length else ""
        opens = {"anyone": "starts with anyone", "open": "starts where the customer allows"}
        start = opens.get(self.starts, "answers only") if self.sends else ""
        return " + ".join(p for p in parts if p) + (f" ({start}{limit})" if start else "")

    def refusal(self, *, opening: bool, last_customer_message: datetime | None,
                now: datetime) -> str | None:  # fmt: skip
        """Why a private message may not be sent now, or None when the rules allow it.

        ``opening`` is a brand-started conversation ("take it to DM"); otherwise the
        message answers the customer's ``last_customer_message``.
        """
        if not self.sends:
            return "it cannot send private messages"
        if opening and self.starts == "replies":
            return "it can only answer private conversations the customer started"
        if (
            not opening
            and self.reply_window is not None
            and last_customer_message is not None
            and now - last_customer_message > self.reply_window
        ):
            hours = self.reply_window.total_seconds() / 3600
            return f"its reply window ({hours:g} h after the customer's last message) is over"
        return None


#: a platform without private messages
NO_DMS = DmPolicy()


class Source(ABC):
    """Base class of source adapters (see the module docstring for the contract)."""

    #: registry name and ``[sources.NAME]`` config table
    name: ClassVar[str]
    #: one-line description for ``socialcare sources``
    description: ClassVar[str] = ""
    #: default environment variables holding credentials (config may rename them)
    env_vars: ClassVar[tuple[str, ...]] = ()
    #: read-only sources refuse reply/post with a clear message
    read_only: ClassVar[bool] = False
    #: the platform's reply length limit in characters (None: unlimited)
    max_length: ClassVar[int | None] = None
    #: pages come newest first (search APIs): the engine tracks and backfills gaps
    newest_first: ClassVar[bool] = False
    #: one reply per item (app-store reviews): a second reply replaces the first
    reply_replaces: ClassVar[bool] = False
    #: how far back the platform lists items (None: no limit); ``status`` warns when
    #: polls are further apart, because what changed in between cannot be fetched
    history_window: ClassVar[timedelta | None] = None
    #: the keys this adapter reads from its ``[sources.NAME]`` table, besides the engine's
    #: :data:`~socialcare.config.SOURCE_BASE_KEYS`; an unknown key is a ConfigError naming
    #: the closest known one. ``None`` (a plugin that declares nothing) skips the check.
    config_keys: ClassVar[frozenset[str] | None] = None
    #: set by the poll engine for the duration of a poll (class default: plain sleep)
    waiter: Waiter | None = None
    #: API requests sent so far (the engine reads the difference around each query)
    requests_made: int = 0
    #: the outbox item's idempotency key while it is being sent (set by ``send_item``);
    #: the same on every retry of that item, so a platform honouring it posts once
    idempotency_key: str | None = None
    #: whether a person is sending right now (set by ``send_item``: true for a ``reply``
    #: item, false for follow-ups and posts ``due`` sends); rules that allow only a human
    #: answer (Messenger's ``HUMAN_AGENT`` tag) read it
    sent_by_person: bool = False
    #: :meth:`find_sent` can look on the platform for a post whose outcome is unknown
    finds_sent: ClassVar[bool] = False
    #: private messages: what the platform allows (see :class:`DmPolicy`)
    dm_policy: ClassVar[DmPolicy] = NO_DMS
    #: :meth:`find_sent_dm` can look for a private message whose outcome is unknown
    finds_sent_dm: ClassVar[bool] = False

    def __init__(self, config: Mapping[str, Any], *, brand_handles: tuple[str, ...] = ()) -> None:
        self.check_config(config)
        self.config = config
        self.brand_handles = brand_handles

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> None:
        """Refuse keys of the ``[sources.NAME]`` table that neither the engine nor this adapter reads."""
        if cls.config_keys is not None:
            check_keys(config, SOURCE_BASE_KEYS | cls.config_keys, f"sources.{cls.name}")

    def existing_reply(self, mention: Mention) -> str | None:
        """The reply a ``reply_replaces`` platform already shows for ``mention``, if known."""
        return None

    @abstractmethod
    def queries(self) -> list[str]:
        """The queries this source polls, each with its own cursor."""

    @abstractmethod
    def poll(self, query: str, cursor: str | None) -> Iterator[Page]:
        """Yield pages of mentions newer than ``cursor`` for ``query``."""

    def poll_range(self, query: str, after: str | None, until: str) -> Iterator[Page]:
        """Yield pages newer than ``after`` and older than ``until`` (a gap's backfill).

        ``until`` is a ``Page.oldest`` value this adapter produced. The default
        cannot bound the walk, so it polls everything newer than ``after``
        again: slower, but the store de-duplicates, so the gap still fills.
        """
        return self.poll(query, after)

    def position_key(self, value: str) -> tuple[float, str]:
        """Sort key of a cursor or ``Page.oldest`` value, so the engine can compare them.

        The default orders numbers (ids, unix times) numerically and anything
        else (ISO times) as text; adapters with structured cursors override it.
        """
        try:
            return (float(value), "")
        except ValueError:
            return (float("-inf"), value)

    @property
    def overlap_seconds(self) -> float:
        """How far below the cursor to re-read (``overlap_seconds``, default 120)."""
        value = self.config.get("overlap_seconds", DEFAULT_OVERLAP_SECONDS)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(
                f"sources.{self.name}.overlap_seconds must be a number of seconds >= 0, "
                f"got {value!r}"
            )
        return float(value)

    def is_own(self, mention: Mention) -> bool:
        """Whether one of the brand's own accounts wrote ``mention``."""
        return mention.author_handle.lstrip("@").lower() in {
            h.lstrip("@").lower() for h in self.brand_handles
        }

    def wait(self, seconds: float, reason: str) -> bool:
        """Wait out a rate limit through the engine's ``waiter``; False if it declined.

        Without a waiter (a library caller, a test) this logs why and sleeps.
        """
        if self.waiter is not None:
            return self.waiter(seconds, reason) is not False
        log.warning("%s: %s: waiting %.0f s", self.name, reason, seconds)
        self.pause(seconds)
        return True

    def pause(self, seconds: float) -> None:
        """Sleep; adapters with an injectable sleep override this for tests."""
        time.sleep(seconds)

    def count_request(self, n: int = 1) -> None:
        """Record ``n`` API requests against the monthly request budget."""
        self.requests_made += n

    def reply(self, mention: Mention, text: str) -> SentPost:
        """Publish ``text`` as a reply to ``mention``."""
        raise SourceError(f"source '{self.name}' is read-only: reply on the platform itself")

    def post(self, text: str) -> SentPost:
        """Publish ``text`` as a new post (announcements)."""
        raise SourceError(f"source '{self.name}' is read-only: it cannot publish posts")

    def find_sent(self, mention: Mention | None, text: str) -> SentPost | None:
        """The brand's own post of ``text`` (a reply to ``mention``, or a post), if it exists.

        ``outbox retry`` asks before resending an item whose outcome is unknown.
        Only adapters with ``finds_sent = True`` implement it; the default says
        it cannot check.
        """
        raise SourceError(
            f"source '{self.name}' cannot check whether a post went out: look on the platform"
        )

    @property
    def send_timeout(self) -> float:
        """The longest one send may take (all attempts), in seconds.

        While a ``sending`` item is younger than this plus a margin, its
        sender may still be waiting on the platform and retry refuses.
        """
        value = self.config.get("timeout_seconds", 20.0)
        timeout = float(value) if isinstance(value, int | float) and value > 0 else 20.0
        return 4 * timeout + 30.0

    def fetch(self, native_ids: list[str]) -> list[Mention]:
        """Fetch specific posts by native id (e.g. missing parents of a thread)."""
        raise SourceError(f"source '{self.name}' cannot fetch posts by id")

    def check_credentials(self) -> None:
        """Raise ``MissingCredential`` naming the variable if a credential is unset."""
        return None  # sources without credentials (demo, RSS) have nothing to check

    def close(self) -> None:
        """Release network resources (HTTP connection pools); the adapter is not used after."""
        return None

    def _bool_setting(self, key: str, default: bool) -> bool:
        """A true/false config key (see :func:`bool_setting`)."""
        return bool_setting(self.config, key, default, self.name)

    def _int_setting(self, key: str, default: int, low: int, high: int | None) -> int:
        """An integer config key within bounds, or ``ConfigError`` naming it."""
        value = self.config.get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < low
            or (high is not None and value > high)
        ):
            bounds = f"{low}..{high}" if high is not None else f">= {low}"
            raise ConfigError(
                f"sources.{self.name}.{key} must be an integer {bounds}, got {value!r}"
            )
        return value

    def text_length(self, text: str) -> int:
        """Length of ``text`` as the platform counts it against ``max_length``."""
        return len(text)

    def dm_max_length(self) -> int | None:
        """The longest private message (``dm_policy.max_length``; an adapter whose platform
        says per server, e.g. a Mastodon instance, asks it)."""
        return self.dm_policy.max_length

    def dm_length(self, text: str) -> int:
        """Length of a private message as the platform counts it against the DM limit."""
        return len(text)

    def dm_refusal(self, mention: Mention) -> str | None:
        """Why the brand may not open a conversation with this mention's author, if known.

        The policy says what the platform allows in general; an adapter that can
        tell per customer (the author does not accept DMs) overrides this.
        """
        if not mention.author_id.strip():
            return "the author is unknown"
        return None

    def send_dm(self, mention: Mention, text: str) -> SentPost:
        """Send ``text`` privately: in ``mention``'s conversation when it is a DM, else
        opening one with its author. Only adapters whose ``dm_policy.sends`` implement it."""
        raise SourceError(f"source '{self.name}' cannot send private messages")

    def find_sent_dm(self, mention: Mention, text: str) -> SentPost | None:
        """The brand's private message ``text`` to ``mention``'s author, if the platform
        shows it (``outbox retry`` of a DM whose outcome is unknown); None: not there."""
        raise SourceError(
            f"source '{self.name}' cannot check whether a private message went out: "
            "look on the platform"
        )

    def redact(self, text: str) -> str:
        """``text`` with this adapter's secrets masked (for errors the engine did not expect)."""
        return text

    def normalise(
        self,
        build: Callable[[], Mention | None],
        raw: Any,
        skipped: list[dict[str, Any]],
        *,
        query: str = "",
    ) -> Mention | None:
        """Run one item's normalisation; an item that fails is skipped and recorded, not fatal.

        One odd item (a missing field, an unknown shape) must not cost the rest
        of its page or stop the poll; the failure and the raw item go into
        ``skipped`` (``Page.skipped``) so it can be inspected. The mention is
        returned sanitised (:func:`sanitise_mention`).
        """
        try:
            mention = build()
        except Exception as exc:  # any failure of one item's parsing is that item's alone
            reason = self.redact(f"{type(exc).__name__}: {exc}")
            self.skip(skipped, f"cannot normalise: {reason}", raw, query=query)
            return None
        return sanitise_mention(mention) if mention is not None else None

    def skip(
        self, skipped: list[dict[str, Any]], reason: str, raw: Any, *, query: str = ""
    ) -> None:
        """Record an item this adapter will not turn into a mention, and log why."""
        item = skipped_item(reason, raw)
        log.warning("%s [%s]: skipped an item: %s", self.name, query, item["reason"])
        skipped.append(item)
