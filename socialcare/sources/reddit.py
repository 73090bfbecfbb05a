"""Reddit adapter: keyword searches, watched subreddits and username mentions, via praw.

Reads go through :meth:`praw.Reddit.request` rather than praw's model objects so
that each mention keeps Reddit's own JSON as ``raw`` and so that we drive the
pagination ourselves: every Listing page becomes one :class:`Page`, stored
before the next page is fetched. Writes (reply, post, private message) use
praw's models, which build the form bodies Reddit expects.

Cursors are JSON text ``{"created_utc": newest, "ids": [fullnames at that time]}``.
Listings come newest first, so each page also says where it sits: ``newest``
(the cursor so far) and ``oldest``, the position ``{"created_utc", "name"}`` of
the last item scanned. When a run is cut short the poll engine records the
rest as a gap, and :meth:`RedditSource.poll_range` backfills it by listing
``after`` that item's fullname, down to the old cursor. Every poll re-reads
``overlap_seconds`` below the cursor, since Reddit's search indexes late.

Config (``[sources.reddit]``): ``client_id_env``, ``client_secret_env``,
``username_env``, ``password_env``, ``user_agent``, ``searches``, ``watch``,
``inbox_mentions``, ``inbox_messages``, ``own_comments``, ``limit``, ``post_subreddit``,
``wait_on_rate_limit``, ``max_wait_seconds``.

Private messages (``inbox_messages``, query ``inbox:messages``) are the inbox's ``t4``
items, stored as ``dm`` mentions threaded by ``first_message_name``. Reddit moved most
private messaging to its chat, which has no API, and for many accounts the inbox listing
now answers with a redirect to ``/login/`` (praw-dev/praw issues 2077 and 2081): that
answer, or a listing that is not one, is reported as the query's error (a health problem
``status`` shows), logged once per run, never a crash and never an empty success.
"""

from __future__ import annotations

import json
import logging
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterator, Mapping

from ..config import credential
from ..errors import (
    AuthError,
    ConfigError,
    MissingCredential,
    NotFound,
    RateLimited,
    SendOutcomeUnknown,
    SocialcareError,
    SourceError,
)
from ..models import Mention, Page, SentPost, to_iso, utcnow
from .base import DmPolicy, Source, bool_setting, identity

if TYPE_CHECKING:  # praw, prawcore and requests load only when this source talks to Reddit
    import praw
    import prawcore
    import requests

__all__ = ["RedditSource"]

log = logging.getLogger("socialcare.sources.reddit")

REDDIT_URL = "https://www.reddit.com"
#: Reddit's listing endpoints return at most 100 items per request
_PAGE_MAX = 100
#: prawcore sleeps until the reset when the budget is spent; beyond this we raise instead
_MAX_WAIT_SECONDS = 10.0
#: when a 429 carries no reset header, assume Reddit's usual window
_DEFAULT_RETRY_SECONDS = 60.0
#: after this many waits on one request, stop: the limit is not the one we waited for
_MAX_RATE_LIMIT_WAITS = 3
#: the query that reads the account's own comments (its replies answer mentions)
OWN_QUERY = "own:comments"
#: the query that reads the account's private messages (``inbox_messages = true``)
MESSAGES_QUERY = "inbox:messages"
#: how the broken inbox answers (praw-dev/praw#2077, #2081)
_INBOX_BROKEN = (
    "Reddit's private-message inbox is not available to this account ({why}): Reddit moved "
    "private messaging to chat, which has no API, and the old inbox now redirects to the "
    "login page for many accounts (praw-dev/praw issues 2077, 2081). Answer on Reddit "
    "itself, or set sources.reddit.inbox_messages = false"
)
_TITLE_MAX = 300
#: what Reddit shows instead of the author of deleted or removed content
_PLACEHOLDER_AUTHORS = ("[deleted]", "[removed]")
#: how Reddit words the wait in a RATELIMIT API error (praw uses the same pattern)
_WAIT_RE = re.compile(r"([0-9]{1,3}) (milliseconds?|seconds?|minutes?)")

_CREDENTIALS = {
    "client_id": "REDDIT_CLIENT_ID",
    "client_secret": "REDDIT_CLIENT_SECRET",
    "username": "REDDIT_USERNAME",
    "password": "REDDIT_PASSWORD",
}


# -- rate-limit bookkeeping ------------------------------------------------------


@dataclass
class _Budget:
    """Reddit's rate-limit headers as last seen, shared by the requestor and the adapter."""

    remaining: float | None = None
    reset_at: float | None = None  # unix time
    blocked_until: float | None = None  # unix time; set when the budget is spent or on 429
    guessed: bool = False  # blocked_until is our default backoff, not a time Reddit gave
    on_request: Callable[[], None] | None = None  # counts requests for the monthly budget

    def observe(self, headers: Mapping[str, str]) -> None:
        """Read ``x-ratelimit-*`` (``reset`` is seconds until the window resets)."""
        if "x-ratelimit-remaining" not in headers or "x-ratelimit-reset" not in headers:
            return
        try:
            self.remaining = float(headers["x-ratelimit-remaining"])
            self.reset_at = utcnow().timestamp() + float(headers["x-ratelimit-reset"])
        except ValueError:
            return
        self.blocked_until = self.reset_at if self.remaining <= 0 else None
        self.guessed = False


@lru_cache(maxsize=1)
def _single_attempt_class() -> type[Any]:
    """A prawcore retry strategy that neither sleeps nor retries: one attempt."""
    from prawcore.sessions import FiniteRetryStrategy

    class _SingleAttempt(FiniteRetryStrategy):
        def _sleep_seconds(self) -> float | None:
            return None

        def should_retry_on_failure(self) -> bool:
            return False

    return _SingleAttempt


@lru_cache(maxsize=1)
def _requestor_class() -> type[Any]:
    """The prawcore requestor subclass, built on first use so praw loads only for Reddit."""
    import prawcore

    class _BudgetRequestor(prawcore.Requestor):
        """A prawcore requestor that records the rate-limit headers of every response.

        praw 8's ``reddit.auth.limits`` no longer says when the window resets, and the
        reset time is what a user needs to know when to poll again.
        """

        def __init__(self, *args: Any, budget: _Budget, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.budget = budget

        def request(
            self, *args: Any, timeout: float | None = None, **kwargs: Any
        ) -> requests.Response:
            if self.budget.on_request is not None:
                self.budget.on_request()
            response = super().request(*args, timeout=timeout, **kwargs)
            self.budget.observe(response.headers)
            return response

    return _BudgetRequestor


# -- config ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Query:
    """One configured thing to poll, and how to ask Reddit for it."""

    key: str
    path: str
    what: str  # for messages: "searching r/all for 'acme'"
    params: dict[str, str] = field(default_factory=dict)
    keywords: tuple[str, ...] = ()
    needs_user: bool = False


def _subreddit(value: Any, where: str) -> str:
    """A subreddit name without its ``r/`` prefix, so query names stay stable."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f"sources.reddit.{where}.subreddit must be a subreddit name, got {value!r}"
        )
    name = value.strip().strip("/")
    return name[2:] if name.lower().startswith("r/") else name


def _table_list(config: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """``searches``/``watch`` as a list of TOML tables, or a ConfigError showing the form."""
    items = config.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ConfigError(
            f"sources.reddit.{key} must be a list of tables, e.g. "
            f'[[sources.reddit.{key}]] with subreddit = "..."'
        )
    return items


def _parse_queries(config: Mapping[str, Any]) -> dict[str, _Query]:
    """Validate the config tables and build the queries, keyed by their stable name."""
    out: dict[str, _Query] = {}
    for i, item in enumerate(_table_list(config, "searches")):
        sub = _subreddit(item.get("subreddit", "all"), f"searches[{i}]")
        text = item.get("query")
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"sources.reddit.searches[{i}].query must be non-empty text")
        text = text.strip()
        restrict = "false" if sub.lower() == "all" else "true"
        key = f"search:{sub}:{text}"
        out[key] = _Query(
            key=key,
            path=f"r/{sub}/search",
            what=f"searching r/{sub} for '{text}'",
            params={"q": text, "sort": "new", "t": "all", "restrict_sr": restrict, "type": "link"},
        )
    for i, item in enumerate(_table_list(config, "watch")):
        sub = _subreddit(item.get("subreddit"), f"watch[{i}]")
        words = item.get("keywords", [])
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise ConfigError(f"sources.reddit.watch[{i}].keywords must be a list of strings")
        keywords = tuple(w.casefold() for w in words if w.strip())
        for kind, path in (("submissions", f"r/{sub}/new"), ("comments", f"r/{sub}/comments")):
            key = f"watch:{sub}:{kind}"
            out[key] = _Query(
                key=key, path=path, what=f"reading new {kind} of r/{sub}", keywords=keywords
            )
    if bool_setting(config, "inbox_mentions", False, "reddit"):
        out["inbox:mentions"] = _Query(
            key="inbox:mentions",
            path="message/mentions",
            what="reading username mentions from the inbox",
            needs_user=True,
        )
    if bool_setting(config, "inbox_messages", False, "reddit"):
        out[MESSAGES_QUERY] = _Query(
            key=MESSAGES_QUERY,
            path="message/messages",
            what="reading private messages from the inbox",
            needs_user=True,
        )
    if bool_setting(config, "own_comments", False, "reddit"):
        out[OWN_QUERY] = _Query(
            key=OWN_QUERY,
            path="user/{username}/comments",  # the account's name is a credential: filled in late
            what="reading the account's own comments",
            params={"sort": "new"},
            needs_user=True,
        )
    return out


# -- cursor ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Cursor:
    """Newest ``created_utc`` stored and the fullnames carrying exactly that time."""

    created_utc: float | None = None
    ids: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str | None, query: str) -> _Cursor:
        """Read a stored cursor; None or unreadable text means "from the newest"."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            return cls(float(data["created_utc"]), frozenset(str(i) for i in data["ids"]))
        except (ValueError, TypeError, KeyError):
            # Starting over only re-reads up to `limit` items, and the store de-duplicates.
            log.warning("reddit [%s]: ignoring unreadable cursor %r", query, text)
            return cls()

    def is_old(self, created: float) -> bool:
        """Strictly older than the cursor: everything from here down was seen before."""
        return self.created_utc is not None and created < self.created_utc

    def seen(self, created: float, fullname: str) -> bool:
        """Stored last time though it shares the cursor's second (times are whole seconds)."""
        return created == self.created_utc and fullname in self.ids

    def rewound(self, seconds: float) -> _Cursor:
        """A cursor ``seconds`` earlier that remembers no ids: everything since is re-read."""
        if self.created_utc is None or seconds <= 0:
            return self
        return _Cursor(self.created_utc - seconds)

    def advanced(self, created: float, fullname: str) -> _Cursor:
        """The cursor after also having stored this item."""
        if self.created_utc is None or created > self.created_utc:
            return _Cursor(created, frozenset({fullname}))
        if created == self.created_utc:
            return _Cursor(created, self.ids | {fullname})
        return self

    def dump(self) -> str:
        """The JSON text kept in the store's cursors table."""
        return json.dumps({"created_utc": self.created_utc, "ids": sorted(self.ids)})


def _position(created: float, fullname: str) -> str:
    """Where an item sits in a listing: ``Page.oldest`` and a gap's ``until``."""
    return json.dumps({"created_utc": created, "name": fullname})


def _position_name(text: str | None) -> str | None:
    """The fullname of a position, to list ``after`` it; None if unreadable."""
    if not text:
        return None
    try:
        name = json.loads(text)["name"]
    except (ValueError, TypeError, KeyError):
        return None
    return name if isinstance(name, str) and name.startswith(("t1_", "t3_", "t4_")) else None


# -- normalisation ---------------------------------------------------------------


def _submission_of(data: Mapping[str, Any]) -> str | None:
    """The submission fullname: ``link_id``, or parsed from an inbox item's ``context``."""
    link = data.get("link_id")
    if isinstance(link, str) and link:
        return link
    context = str(data.get("context") or data.get("permalink") or "")
    parts = context.split("/")
    if "comments" in parts:
        index = parts.index("comments") + 1
        if index < len(parts) and parts[index]:
            return f"t3_{parts[index]}"
    return None


def _comment_link(data: Mapping[str, Any]) -> str:
    """A comment's permalink from ``link_id`` + ``id`` (and the subreddit when known).

    Some responses (``/api/info``, older listings) carry no ``permalink``; Reddit
    resolves ``/comments/{post}/_/{comment}/`` with or without ``r/{sub}``.
    """
    post = str(data.get("link_id") or "").removeprefix("t3_").strip()
    comment = str(data.get("id") or "").strip()
    if not post or not comment:
        return ""
    sub = str(data.get("subreddit") or "").strip()
    prefix = f"/r/{sub}" if sub else ""
    return f"{prefix}/comments/{post}/_/{comment}/"


def _message_mention(data: dict[str, Any], query: str) -> Mention:
    """One inbox ``t4`` private message as a ``dm`` mention of its thread."""
    fullname = str(data.get("name") or f"t4_{data['id']}")
    name = identity(data.get("author"), _PLACEHOLDER_AUTHORS)
    subject = str(data.get("subject") or "").strip()
    body = str(data.get("body") or "")
    return Mention(
        source="reddit",
        native_id=fullname,
        text=f"{subject}\n\n{body}" if subject and not subject.startswith("re:") else body,
        created_at=datetime.fromtimestamp(float(data["created_utc"]), tz=timezone.utc),
        author_id=identity(data.get("author_fullname")) or name,
        author_handle=name or str(data.get("author") or "[deleted]"),
        author_name=name,
        url=f"{REDDIT_URL}/message/messages/{data.get('id') or fullname[3:]}",
        conversation_id=str(data.get("first_message_name") or fullname),
        parent_id=data.get("parent_id") or None,
        query=query,
        kind="dm",
        raw=data,
    )


def _to_mention(kind: str, data: dict[str, Any], query: str) -> Mention | None:
    """Normalise one Listing child (``t3`` submission, ``t1`` comment, ``t4`` message)."""
    if kind == "t4":
        return _message_mention(data, query)
    if kind not in ("t1", "t3"):
        return None
    fullname = str(data.get("name") or f"{kind}_{data['id']}")
    name = identity(data.get("author"), _PLACEHOLDER_AUTHORS)
    author = name or str(data.get("author") or "[deleted]")
    created = datetime.fromtimestamp(float(data["created_utc"]), tz=timezone.utc)
    # Inbox mentions have no permalink, only a context link ending in "?context=3".
    link = str(data.get("permalink") or data.get("context") or "").split("?", 1)[0]
    if not link and kind == "t1":
        link = _comment_link(data)
    common: dict[str, Any] = {
        "source": "reddit",
        "native_id": fullname,
        "created_at": created,
        # deleted/removed authors are nobody in particular: unlinked, never "reddit:[deleted]"
        "author_id": identity(data.get("author_fullname")) or name,
        "author_handle": author,
        "author_name": author,
        "url": REDDIT_URL + link if link.startswith("/") else link,
        "query": query,
        "raw": data,
    }
    if kind == "t3":
        title = str(data.get("title") or "")
        body = str(data.get("selftext") or "")
        text = f"{title}\n\n{body}" if body else title
        return Mention(text=text, conversation_id=fullname, kind="post", **common)
    return Mention(
        text=str(data.get("body") or ""),
        conversation_id=_submission_of(data),
        parent_id=data.get("parent_id") or None,
        kind="comment",
        **common,
    )


def _wanted(mention: Mention, keywords: tuple[str, ...]) -> bool:
    """Watched subreddits are noisy: keep an item only if it names a keyword (any case)."""
    if not keywords:
        return True
    text = mention.text.casefold()
    return any(k in text for k in keywords)


def _reason(response: requests.Response | None) -> str:
    """Reddit's own words from an error body, if it sent any."""
    if response is None:
        return ""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts = [str(body[k]) for k in ("reason", "explanation", "message") if body.get(k)]
    return ": ".join(dict.fromkeys(parts))


# -- the adapter -----------------------------------------------------------------


class RedditSource(Source):
    """Reddit via praw, authenticated as a "script" app (username/password for writing)."""

    name = "reddit"
    config_keys = frozenset(
        {
            "client_id_env",
            "client_secret_env",
            "username_env",
            "password_env",
            "user_agent",
            "limit",
            "inbox_mentions",
            "inbox_messages",
            "post_subreddit",
            "searches",
            "watch",
            "own_comments",
            "wait_on_rate_limit",
            "max_wait_seconds",
        }
    )
    description = "Reddit keyword searches, watched subreddits and u/ mentions (praw)"
    env_vars: ClassVar[tuple[str, ...]] = tuple(_CREDENTIALS.values())
    max_length = 10000
    newest_first = True
    dm_policy = DmPolicy(
        reads=True, sends=True, starts="anyone", max_length=10000,
        note="the old private-message inbox, where Reddit still serves it (chat has no API)",
    )  # fmt: skip

    def __init__(self, config: Mapping[str, Any], *, brand_handles: tuple[str, ...] = ()) -> None:
        super().__init__(config, brand_handles=brand_handles)
        self._queries = _parse_queries(config)
        limit = config.get("limit", 100)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ConfigError(f"sources.reddit.limit must be a positive integer, got {limit!r}")
        self.limit = limit
        user_agent = config.get("user_agent", "socialcare/0.1")
        if not isinstance(user_agent, str) or len(user_agent.strip()) < 7:
            raise ConfigError(
                "sources.reddit.user_agent must describe the app, e.g. 'socialcare/0.1'"
            )
        self.user_agent = user_agent.strip()
        post_sr = config.get("post_subreddit")
        if post_sr is not None:
            post_sr = _subreddit(post_sr, "post_subreddit")
        self.post_subreddit: str | None = post_sr
        self.wait_on_rate_limit = self._bool_setting("wait_on_rate_limit", False)
        max_wait = config.get("max_wait_seconds", 900)
        if isinstance(max_wait, bool) or not isinstance(max_wait, int | float) or max_wait < 0:
            raise ConfigError("sources.reddit.max_wait_seconds must be a number of seconds >= 0")
        self.max_wait_seconds = float(max_wait)
        self.overlap = self.overlap_seconds  # validated now, not at the first poll
        self._budget = _Budget(on_request=self.count_request)
        self._reddit: praw.Reddit | None = None
        self._as_user = False
        self._secrets: set[str] = set()
        #: the broken inbox is logged once per run; every poll still records it as an error
        self._inbox_reported = False

    # -- credentials and client ---------------------------------------------------
    def _credential(self, key: str) -> str:
        """Read a credential, remembering the secret ones so no message can echo them."""
        value = credential(self.config, key, _CREDENTIALS[key], self.name)
        if key in ("client_secret", "password"):
            self._secrets.add(value)
        return value

    def _env_name(self, key: str) -> str:
        """The variable to name in messages: the one config picked, else the default."""
        name = self.config.get(f"{key}_env", _CREDENTIALS[key])
        return name if isinstance(name, str) else _CREDENTIALS[key]

    def check_credentials(self) -> None:
        """Client id and secret always; the account too when polling the inbox needs it."""
        self._credential("client_id")
        self._credential("client_secret")
        if any(q.needs_user for q in self._queries.values()):
            self._credential("username")
            self._credential("password")

    def _client(self, *, as_user: bool = False) -> praw.Reddit:
        """The praw client, logged in as the account when credentials allow (or ``as_user``).

        Searching works with the app's own token, so the account is optional for
        polling; replying and the inbox need it and raise MissingCredential.
        """
        if self._reddit is not None and (self._as_user or not as_user):
            return self._reddit
        client_id = self._credential("client_id")
        client_secret = self._credential("client_secret")
        if as_user:
            username: str | None = self._credential("username")
            password: str | None = self._credential("password")
        else:
            try:
                username, password = self._credential("username"), self._credential("password")
            except MissingCredential:
                username = password = None
        import praw

        self._reddit = praw.Reddit(
            client_id=client_id,
            client_secret=client_secret,
            user_agent=self.user_agent,
            username=username,
            password=password,
            # No network call to PyPI, no asyncio nagging, and never sleep on a
            # RATELIMIT error: we report it as RateLimited so the caller decides.
            check_for_updates=False,
            check_for_async=False,
            ratelimit_seconds=0,
            requestor_class=_requestor_class(),
            requestor_kwargs={"budget": self._budget},
        )
        self._as_user = username is not None
        return self._reddit

    # -- errors ------------------------------------------------------------------
    def _scrub(self, message: str) -> str:
        """Defence in depth: praw messages should never hold a secret, but never print one."""
        for secret in self._secrets:
            if secret and len(secret) >= 4:
                message = message.replace(secret, "***")
        return message

    def redact(self, text: str) -> str:
        """Mask the client secret and password this adapter read in ``text``."""
        return self._scrub(text)

    def _check_budget(self) -> None:
        """Refuse to call Reddit while the budget is spent, instead of prawcore sleeping.

        With ``wait_on_rate_limit`` the wait goes through :meth:`Source.wait` (a
        visible countdown, bounded by ``max_wait_seconds`` and ``--max-wait``).
        """
        until = self._budget.blocked_until
        if until is not None and until - utcnow().timestamp() > _MAX_WAIT_SECONDS:
            if self._budget.guessed:
                # Reddit named no reset: say the wait is our guess, not the platform's word
                at = to_iso(datetime.fromtimestamp(until, tz=timezone.utc))
                raise RateLimited(
                    "Reddit rate limit reached (429, no reset time given); backing off "
                    f"a default {_DEFAULT_RETRY_SECONDS:.0f} s (until about {at}) before "
                    "asking again"
                )
            error = RateLimited(self._limited_message(until), reset_at=until)
            if not self._waited(error):
                raise error

    def _waited(self, error: RateLimited) -> bool:
        """Wait out ``error`` if config allows and the waiter agrees; True if we did."""
        if not self.wait_on_rate_limit or error.reset_at is None:
            return False
        seconds = max(error.reset_at - utcnow().timestamp(), 1.0)
        if seconds > self.max_wait_seconds or not self.wait(seconds, str(error)):
            return False
        self._budget.blocked_until = None
        return True

    @staticmethod
    def _limited_message(until: float) -> str:
        at = to_iso(datetime.fromtimestamp(until, tz=timezone.utc))
        return f"Reddit rate limit reached; it resets at {at} (poll again after that)"

    def _rate_limited(self, exc: prawcore.TooManyRequests) -> RateLimited:
        headers = exc.response.headers
        now = utcnow().timestamp()
        seconds: float | None = None
        for header in ("x-ratelimit-reset", "retry-after"):
            try:
                seconds = float(headers[header])
                break
            except (KeyError, ValueError):
                continue
        until = now + (seconds if seconds is not None else _DEFAULT_RETRY_SECONDS)
        self._budget.blocked_until = until
        self._budget.guessed = seconds is None
        if seconds is None:
            return RateLimited(
                "Reddit rate limit reached (429, no reset time given); "
                f"backing off a default {_DEFAULT_RETRY_SECONDS:.0f} s before asking again",
                reset_at=None,
            )
        return RateLimited(self._limited_message(until), reset_at=until)

    def _write_limited(self, message: str, action: str) -> RateLimited:
        """Reddit's per-account write limit ("Take a break for 9 minutes ..."), not a 429."""
        match = _WAIT_RE.search(message)
        if match is None:
            return RateLimited(f"Reddit rate limit while {action}: {message}")
        amount, unit = int(match.group(1)), match.group(2)
        seconds = (
            amount * 60 if unit.startswith("minute") else amount if unit.startswith("second") else 1
        )
        until = utcnow().timestamp() + seconds
        at = to_iso(datetime.fromtimestamp(until, tz=timezone.utc))
        return RateLimited(
            f"Reddit rate limit while {action}: {message} (try again after {at})", reset_at=until
        )

    def _auth_hint(self, *keys: str) -> str:
        names = " and ".join(self._env_name(k) for k in keys)
        return f"check {names}"

    def _translate(self, exc: Exception, action: str) -> SocialcareError:
        """One readable line per failure, naming what to check; never a secret."""
        import prawcore
        from praw.exceptions import RedditAPIException

        if isinstance(exc, prawcore.TooManyRequests):
            return self._rate_limited(exc)
        if isinstance(exc, RedditAPIException):
            for item in exc.items:
                if item.error_type == "RATELIMIT":
                    return self._write_limited(item.message or "", action)
            why = "; ".join(
                f"{i.error_type}: {i.message}" + (f" ({i.field})" if i.field else "")
                for i in exc.items
            )
            return SourceError(f"Reddit refused {action}: {why}")
        if isinstance(exc, prawcore.OAuthException):
            return AuthError(
                f"Reddit login failed ({exc.error}) while {action}: "
                f"{self._auth_hint('username', 'password', 'client_id', 'client_secret')}; "
                "the account must be a developer of the script app"
            )
        if isinstance(exc, (prawcore.InvalidToken, prawcore.InsufficientScope)):
            return AuthError(
                f"Reddit rejected the access token while {action}: "
                f"{self._auth_hint('client_id', 'client_secret', 'username', 'password')}"
            )
        if isinstance(exc, prawcore.ServerError):
            code = exc.response.status_code
            return SourceError(f"Reddit server error {code} while {action}; try again later")
        if isinstance(exc, prawcore.Redirect):
            return SourceError(
                f"Reddit redirected to {exc.path} while {action}: "
                "the subreddit probably does not exist"
            )
        if isinstance(exc, prawcore.SpecialError):
            return SourceError(f"Reddit refused {action}: {exc.message or exc.reason}")
        if isinstance(exc, prawcore.ResponseException):
            response = exc.response
            code = response.status_code
            if "access_token" in (response.url or "") and code in (400, 401, 403):
                return AuthError(
                    f"Reddit rejected the app credentials ({code}): "
                    f"{self._auth_hint('client_id', 'client_secret')}"
                )
            reason = _reason(response)
            hint = {
                403: "forbidden (private or quarantined subreddit, locked or archived thread, "
                "or the account is banned there)",
                404: "not found (deleted, banned or misspelled)",
            }.get(code, f"HTTP {code}")
            return SourceError(
                f"Reddit refused {action}: {hint}" + (f" [{reason}]" if reason else "")
            )
        if isinstance(exc, prawcore.RequestException):
            original = exc.original_exception
            return SourceError(f"could not reach Reddit while {action}: {type(original).__name__}")
        return SourceError(f"Reddit error while {action}: {exc}")

    @staticmethod
    def _maybe_sent(exc: Exception) -> bool:
        """Whether a failed write may still have been published: a 5xx, an answer that
        is not JSON, or a network failure after the request went out."""
        import prawcore
        import requests

        if isinstance(exc, prawcore.ServerError | prawcore.BadJSON):
            return True
        if isinstance(exc, prawcore.RequestException):
            original = exc.original_exception
            if isinstance(original, requests.ConnectTimeout):
                return False
            if isinstance(original, requests.ConnectionError) and not isinstance(
                original, requests.Timeout
            ):
                import urllib3.exceptions as u3

                reason = original.args[0] if original.args else None
                reason = getattr(reason, "reason", reason)
                return not isinstance(reason, u3.NewConnectionError | u3.ConnectTimeoutError)
            return isinstance(original, requests.RequestException)
        return False

    @staticmethod
    @contextmanager
    def _one_attempt(reddit: praw.Reddit) -> Iterator[None]:
        """Let prawcore send a write once: it retries 5xx answers, read timeouts and
        dropped connections by itself, which for a comment can publish it twice.
        (A request that never left still fails cleanly, and the outbox resends it.)"""
        core = getattr(reddit, "_core", None)
        if core is None or not hasattr(core, "_retry_strategy_class"):
            yield
            return
        saved = core._retry_strategy_class
        core._retry_strategy_class = _single_attempt_class()
        try:
            yield
        finally:
            core._retry_strategy_class = saved

    @contextmanager
    def _api(self, action: str, *, write: bool = False) -> Iterator[None]:
        """Turn praw/prawcore failures into SocialcareError subclasses.

        For a ``write`` whose outcome the failure leaves open (:meth:`_maybe_sent`)
        the error is ``SendOutcomeUnknown``, which the outbox records as ``unknown``.
        """
        import prawcore
        from praw.exceptions import PRAWException

        try:
            yield
        except SocialcareError:
            raise
        except (prawcore.PrawcoreException, PRAWException) as exc:
            error = self._translate(exc, action)
            if write and self._maybe_sent(exc) and not isinstance(error, RateLimited):
                error = SendOutcomeUnknown(f"{error}: it may have been published")
            message = self._scrub(str(error))
            if message != str(error):
                error.args = (message,)
            raise error from exc

    # -- polling -----------------------------------------------------------------
    def queries(self) -> list[str]:
        """``search:SUB:QUERY``, ``watch:SUB:submissions|comments``, ``inbox:mentions``."""
        return list(self._queries)

    def _listing(self, reddit: praw.Reddit, q: _Query, params: dict[str, str | int]) -> Any:
        """One Listing page as Reddit's raw JSON (``data`` with ``children`` and ``after``)."""
        import prawcore

        waits = 0
        while True:
            self._check_budget()
            try:
                with self._api(q.what):
                    listing = reddit.request(method="GET", path=q.path, params=params)
                break
            except RateLimited as exc:
                if waits >= _MAX_RATE_LIMIT_WAITS or not self._waited(exc):
                    raise
                waits += 1
            except SourceError as exc:
                if q.key == MESSAGES_QUERY and isinstance(exc.__cause__, prawcore.Redirect):
                    raise self._inbox_broken(f"redirected to {exc.__cause__.path}") from None
                raise
        data = listing.get("data") if isinstance(listing, dict) else None
        if (
            not isinstance(listing, dict)
            or listing.get("kind") != "Listing"
            or not isinstance(data, dict)
        ):
            if q.key == MESSAGES_QUERY:
                raise self._inbox_broken("the answer is not a message listing")
            raise SourceError(f"Reddit sent something other than a Listing while {q.what}")
        return data

    def _inbox_broken(self, why: str) -> SourceError:
        """The broken-inbox problem, logged the first time this run meets it."""
        message = _INBOX_BROKEN.format(why=why)
        if not self._inbox_reported:
            log.warning("reddit [%s]: %s", MESSAGES_QUERY, message)
            self._inbox_reported = True
        return SourceError(message)

    def _page(self, reddit: praw.Reddit, mentions: list[Mention], cursor: str | None) -> Page:
        """A Page carrying the rate-limit state so ``source_health`` can show it."""
        remaining = reddit.auth.limits.get("remaining")
        return Page(
            mentions,
            cursor=cursor,
            rate_limit_remaining=int(remaining) if isinstance(remaining, (int, float)) else None,
            rate_limit_reset=self._budget.reset_at,
        )

    def is_own(self, mention: Mention) -> bool:
        """Written by the account we log in as (``REDDIT_USERNAME``) or a brand handle."""
        account = os.environ.get(self._env_name("username"), "")
        if account and mention.author_handle.lower() == account.removeprefix("u/").lower():
            return True
        return super().is_own(mention)

    def position_key(self, value: str) -> tuple[float, str]:
        """Cursors and positions by ``created_utc``; at the same second a position sorts
        above the cursor, so a cut there still counts as a (tiny) gap, never as done."""
        try:
            data = json.loads(value)
            created = float(data["created_utc"])
        except (ValueError, TypeError, KeyError):
            return (float("-inf"), "")
        return (created, "1" if "name" in data else "0")

    def poll_range(self, query: str, after: str | None, until: str) -> Iterator[Page]:
        """Backfill a gap: the listing after the item at ``until``, down to cursor ``after``."""
        return self.poll(query, after, until=until)

    def poll(self, query: str, cursor: str | None, *, until: str | None = None) -> Iterator[Page]:
        """Walk the listing newest first down to the cursor, one Page per listing page.

        The walk re-reads ``overlap_seconds`` below the cursor and, with
        ``until`` (a position from ``Page.oldest``), starts after that item. It
        stops ``complete`` at the cursor or the listing's end, or incomplete at
        ``limit`` items (the engine then records the rest as a gap).
        """
        q = self._queries.get(query)
        if q is None:
            raise NotFound(
                f"source 'reddit' has no query '{query}' (have: {', '.join(self._queries)})"
            )
        if "{username}" in q.path:
            q = replace(q, path=q.path.format(username=self._credential("username")))
        real = _Cursor.parse(cursor, query)
        old = real.rewound(self.overlap)
        new = real
        reddit = self._client(as_user=q.needs_user)
        anchor = _position_name(until)
        after: str | None = anchor
        scanned = 0
        below_real = False
        while True:
            params: dict[str, str | int] = {
                **q.params,
                "limit": min(_PAGE_MAX, self.limit - scanned),
            }
            if after:
                params["after"] = after
            data = self._listing(reddit, q, params)
            children = data.get("children") or []
            if anchor is not None and after == anchor and not children:
                # Nothing after the anchor: it was deleted or removed (Reddit then lists
                # nothing). Walk from the top instead; the store de-duplicates.
                log.info(
                    "reddit [%s]: backfill anchor %s is gone; walking from the top", query, anchor
                )
                anchor = after = None
                continue
            mentions: list[Mention] = []
            skipped: list[dict[str, Any]] = []
            reached_cursor = False
            oldest: str | None = None
            read = 0
            for child in children:
                place = self._place(child, skipped, query)
                if place is None:
                    read += 1
                    continue
                kind, item, created, fullname = place
                below_real = below_real or real.is_old(created)
                if old.is_old(created):
                    reached_cursor = True
                    break
                read += 1
                oldest = _position(created, fullname)
                if old.seen(created, fullname):
                    continue
                scanned += 1
                new = new.advanced(created, fullname)
                mention = self.normalise(
                    partial(_to_mention, kind, item, query), child, skipped, query=query
                )
                if mention is not None and (self.is_own(mention) or _wanted(mention, q.keywords)):
                    mentions.append(mention)
            after = data.get("after")
            complete = reached_cursor or not after or not children
            last = complete or scanned >= self.limit
            # Only a gap that exists is worth a warning: once the walk went below the
            # previous cursor (into the overlap re-read), nothing is missing.
            if last and not complete and real.created_utc is not None and not below_real:
                log.warning(
                    "reddit [%s]: stopped at limit=%d before the previous cursor; the older "
                    "rest is a gap the next poll fills (raise sources.reddit.limit to poll more)",
                    query,
                    self.limit,
                )
            # Only the last page carries the cursor (the engine decides what else moves).
            final = (new.dump() if new != real else cursor) if last else None
            page = self._page(reddit, mentions, final)
            page.newest = new.dump() if new.created_utc is not None else None
            page.oldest = oldest
            page.complete = complete
            page.items_read = read
            page.skipped = skipped
            yield page
            if last:
                return

    def _place(
        self, child: Any, skipped: list[dict[str, Any]], query: str
    ) -> tuple[str, dict[str, Any], float, str] | None:
        """``(kind, data, created_utc, fullname)`` of a Listing child, or None (skipped).

        Listings may hold other kinds (``more`` stubs, messages) and items
        without a time or an id: those are recorded as skipped, never fatal.
        """
        kind = str(child.get("kind") or "") if isinstance(child, dict) else ""
        data = child.get("data") if isinstance(child, dict) else None
        kinds = ("t4",) if query == MESSAGES_QUERY else ("t1", "t3")
        if kind not in kinds or not isinstance(data, dict):
            self.skip(skipped, f"not a post or comment (kind {kind or '?'!r})", child, query=query)
            return None
        try:
            created = float(data["created_utc"])
        except (KeyError, TypeError, ValueError, OverflowError):
            self.skip(skipped, "no usable created_utc", child, query=query)
            return None
        if created != created or created in (float("inf"), float("-inf")):
            self.skip(skipped, "no usable created_utc", child, query=query)
            return None
        base36 = str(data.get("id") or "").strip()
        fullname = str(data.get("name") or (f"{kind}_{base36}" if base36 else "")).strip()
        if not fullname.startswith(f"{kind}_") or fullname == f"{kind}_":
            self.skip(skipped, "no id", child, query=query)
            return None
        return kind, data, created, fullname

    def fetch(self, native_ids: list[str]) -> list[Mention]:
        """Fetch submissions/comments by fullname (``t3_...``/``t1_...``) via ``/api/info``."""
        reddit = self._client()
        out: list[Mention] = []
        wanted = [i for i in dict.fromkeys(native_ids) if i.startswith(("t1_", "t3_"))]
        for start in range(0, len(wanted), _PAGE_MAX):
            chunk = wanted[start : start + _PAGE_MAX]
            self._check_budget()
            with self._api(f"fetching {len(chunk)} item(s)"):
                listing = reddit.request(
                    method="GET", path="api/info", params={"id": ",".join(chunk)}
                )
            if not isinstance(listing, dict):
                raise SourceError("Reddit sent something other than a Listing for /api/info")
            skipped: list[dict[str, Any]] = []
            for child in (listing.get("data") or {}).get("children") or []:
                place = self._place(child, skipped, "fetch")
                if place is None:
                    continue
                kind, item = place[0], place[1]
                mention = self.normalise(
                    partial(_to_mention, kind, item, "fetch"), child, skipped, query="fetch"
                )
                if mention is not None:
                    out.append(mention)
        return out

    # -- publishing --------------------------------------------------------------
    def reply(self, mention: Mention, text: str) -> SentPost:
        """Comment under the submission or comment ``mention`` points at."""
        prefix, _, base36 = mention.native_id.partition("_")
        if prefix not in ("t1", "t3") or not base36:
            raise SourceError(
                f"cannot reply on Reddit to '{mention.native_id}': not a post or comment"
            )
        if len(text) > self.max_length:
            raise SourceError(f"Reddit comments are at most {self.max_length} characters")
        reddit = self._client(as_user=True)
        self._check_budget()
        with self._api(f"replying to {mention.native_id}", write=True):
            target = reddit.comment(id=base36) if prefix == "t1" else reddit.submission(id=base36)
            with self._one_attempt(reddit):
                comment = target.reply(text)
        if comment is None:
            # Created, but Reddit (quarantined subreddit) did not say as what.
            log.warning(
                "reddit: reply to %s sent but Reddit returned no comment", mention.native_id
            )
            return SentPost(native_id="", url="")
        permalink = str(getattr(comment, "permalink", "") or "")
        return SentPost(native_id=comment.fullname, url=REDDIT_URL + permalink if permalink else "")

    def post(self, text: str) -> SentPost:
        """Submit a self post to ``post_subreddit``: the first line is the title."""
        if not self.post_subreddit:
            raise SourceError(
                "Reddit posts need a subreddit: set sources.reddit.post_subreddit "
                "(the first line of the text becomes the title)"
            )
        title, _, body = text.strip().partition("\n")
        title = title.strip()
        if not title or len(title) > _TITLE_MAX:
            raise SourceError(f"a Reddit title (the first line) must be 1-{_TITLE_MAX} characters")
        reddit = self._client(as_user=True)
        self._check_budget()
        with (
            self._api(f"posting to r/{self.post_subreddit}", write=True),
            self._one_attempt(reddit),
        ):
            submission = reddit.subreddit(self.post_subreddit).submit(title, selftext=body.strip())
        if submission is None:
            return SentPost(native_id="", url="")
        return SentPost(
            native_id=f"t3_{submission.id}", url=f"{REDDIT_URL}/comments/{submission.id}/"
        )

    def send_dm(self, mention: Mention, text: str) -> SentPost:
        """Answer a private message in its thread (``Message.reply``), or open one with the
        author of a public mention (``Redditor.message``). Reddit returns no id for either."""
        reddit = self._client(as_user=True)
        self._check_budget()
        if mention.kind == "dm" and mention.native_id.startswith("t4_"):
            from praw.models import Message

            # built from the id, not fetched: reading the inbox is what Reddit broke
            target = Message(reddit, {"id": mention.native_id[3:], "replies": []})
            with self._api(f"answering {mention.native_id}", write=True):
                with self._one_attempt(reddit):
                    sent = target.reply(text)
            native = str(getattr(sent, "fullname", "") or "") if sent is not None else ""
            return SentPost(native_id=native, url="")
        if not identity(mention.author_handle, _PLACEHOLDER_AUTHORS):
            raise SourceError(f"{mention.id} has no known author to message")
        self.send_message(mention.author_handle, "Re: your post", text)
        return SentPost(native_id="", url="")

    def send_message(self, recipient: str, subject: str, text: str) -> None:
        """Send a private message to a redditor (Reddit does not return its id)."""
        name = recipient.strip().removeprefix("/").removeprefix("u/")
        reddit = self._client(as_user=True)
        self._check_budget()
        with self._api(f"messaging u/{name}", write=True), self._one_attempt(reddit):
            reddit.redditor(name).message(subject=subject, message=text)
