"""The Twitter/X source: API v2 recent search and the brand account's mentions, via tweepy.

Reading uses the app-only bearer token; replies and posts use OAuth 1.0a user
context, because app-only auth cannot publish. The tweepy ``Client`` is built
with ``return_type=requests.Response`` so the adapter can read the rate-limit
headers and parse the documented v2 JSON itself, and with
``wait_on_rate_limit=False`` so *this* module decides whether to sleep on a 429
(clamped by ``max_wait_seconds``, logged) or raise ``RateLimited``.

Polling is newest-first with ``next_token`` pagination, and the cursor is a
``since_id``. Each page says which ids it spans (``Page.newest``/``oldest``),
so when a run is cut short (429, 5xx, ``max_pages``) the poll engine records
the skipped range as a gap and backfills it later with ``since_id`` +
``until_id`` (:meth:`TwitterSource.poll_range`). Every poll re-reads
``overlap_seconds`` below the cursor: the ``since_id`` is derived from the
cursor's snowflake time minus the overlap, so tweets indexed late still arrive.

With ``user_id`` set, the brand account's own timeline is polled too (query
``"own-tweets"``): its replies, even those typed in the X app, mark the mentions
they answer as answered.

Config (``[sources.twitter]``): ``queries``, ``user_id``, ``own_timeline``,
``max_results``, ``max_pages``, ``wait_on_rate_limit``, ``max_wait_seconds`` and
the ``*_env`` names of the credential variables; see :class:`TwitterSource`.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, cast

from ..config import credential
from ..errors import (
    AuthError,
    ConfigError,
    RateLimited,
    SendOutcomeUnknown,
    SocialcareError,
    SourceError,
)
from ..models import Mention, Page, SentPost, parse_iso, to_iso
from .base import DmPolicy, Source, identity

if TYPE_CHECKING:  # tweepy (and requests) load only when this source talks to X
    import requests

__all__ = ["TwitterSource", "DM_QUERY", "MENTIONS_QUERY", "OWN_QUERY"]

log = logging.getLogger("socialcare.sources.twitter")

#: the query name that polls the ``user_id`` account's mentions timeline instead of search
MENTIONS_QUERY = "mentions"
#: the query name that polls the ``user_id`` account's own tweets (its replies answer mentions)
OWN_QUERY = "own-tweets"
#: the query name that polls the account's direct messages (``GET /2/dm_events``)
DM_QUERY = "dm-events"
_DM_FIELDS = [
    "id", "text", "event_type", "dm_conversation_id", "created_at", "sender_id",
    "participant_ids", "referenced_tweets", "attachments",
]  # fmt: skip
#: X's documented limit for one direct message
DM_MAX_LENGTH = 10_000

_EXPANSIONS = ["author_id", "referenced_tweets.id", "in_reply_to_user_id"]
_TWEET_FIELDS = [
    "author_id",
    "created_at",
    "conversation_id",
    "in_reply_to_user_id",
    "referenced_tweets",
    "lang",
    "public_metrics",
]
_USER_FIELDS = ["username", "name", "public_metrics"]

_DEFAULT_ENV = {
    "bearer_token": "TWITTER_BEARER_TOKEN",
    "consumer_key": "TWITTER_CONSUMER_KEY",
    "consumer_secret": "TWITTER_CONSUMER_SECRET",
    "access_token": "TWITTER_ACCESS_TOKEN",
    "access_token_secret": "TWITTER_ACCESS_TOKEN_SECRET",
}
_USER_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")

#: after this many sleeps on one request we stop waiting: the window we waited for was
#: evidently not the one that limits us (e.g. a 24-hour cap), so sleeping again is futile
_MAX_RATE_LIMIT_WAITS = 3
#: the largest number of ids GET /2/tweets accepts per request
_LOOKUP_BATCH = 100
#: Twitter's epoch for snowflake ids, to date a tweet that lacks ``created_at``
_SNOWFLAKE_EPOCH_MS = 1288834974657


class _RedactSecrets(logging.Filter):
    """Mask credentials in the DEBUG logs of tweepy and the OAuth libraries.

    tweepy logs every request's headers (with the bearer token) and
    requests-oauthlib logs the signed ``Authorization`` header; with debug
    logging on, those would put secrets in a terminal or a log file.
    """

    _BEARER = re.compile(r"Bearer [^\s'\"]+")

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def redact(self, text: str) -> str:
        """``text`` with every known secret and any bearer token replaced by ``***``."""
        text = self._BEARER.sub("Bearer ***", text)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's problem to report, not ours
            return True
        record.msg = self.redact(message)
        record.args = ()
        return True


_REDACTOR = _RedactSecrets()
for _name in ("tweepy.client", "requests_oauthlib.oauth1_auth", "oauthlib.oauth1.rfc5849"):
    logging.getLogger(_name).addFilter(_REDACTOR)


class _SinceIdRejected(SourceError):
    """The API refused our ``since_id`` (recent search only reaches back 7 days)."""


class _UntilIdRejected(SourceError):
    """The API refused our ``until_id``: the whole range is older than search reaches."""


def _requests_unsent(exc: BaseException) -> bool:
    """Whether a tweepy/requests failure certainly happened before the request left.

    A refused or timed-out connection, an unresolvable host or a malformed
    request never reached Twitter; a read timeout or a dropped connection may
    have (the tweet may exist).
    """
    import requests
    import urllib3.exceptions as u3

    if not isinstance(exc, requests.RequestException):
        return True  # tweepy's own checks, before any request is built
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return True
    if isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.Timeout):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)
        unsent = (u3.NewConnectionError, u3.ConnectTimeoutError, u3.NameResolutionError)
        return isinstance(reason, unsent)
    return False


def _one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace so an API message fits the CLI's one-line error."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _api_reason(exc: Any) -> str:
    """The API's own explanation of a failed request, e.g. ``HTTP 403: ... duplicate content.``

    v2 errors carry ``detail``/``title`` (RFC 7807 problems); parameter errors
    put the useful text in ``errors[].message``, so that is preferred.
    """
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    reason = ""
    try:
        body = response.json() if response is not None else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list):
            messages = [
                str(e.get("message") or e.get("detail") or "")
                for e in errors[:2]
                if isinstance(e, dict)
            ]
            reason = "; ".join(m for m in messages if m)
        if not reason:
            reason = str(body.get("detail") or body.get("title") or "")
    if not reason:
        reason = str(getattr(response, "reason", "") or type(exc).__name__)
    prefix = f"HTTP {status}: " if status is not None else ""
    return _REDACTOR.redact(_one_line(prefix + reason))


def _header_number(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _rate_headers(headers: Mapping[str, str]) -> tuple[int | None, float | None]:
    """``(remaining, reset epoch)`` from the documented x-rate-limit-* headers."""
    remaining = _header_number(headers, "x-rate-limit-remaining")
    reset = _header_number(headers, "x-rate-limit-reset")
    return (int(remaining) if remaining is not None else None), reset


def _limiting_reset(headers: Mapping[str, str]) -> float | None:
    """When the limit that refused us resets.

    Posting also has 24-hour caps (``x-user-limit-24hour-*``, ``x-app-limit-24hour-*``);
    when one of those is exhausted its reset, not the 15-minute window's, is the one
    worth waiting for.
    """
    resets = []
    for scope in ("x-user-limit-24hour", "x-app-limit-24hour"):
        if _header_number(headers, f"{scope}-remaining") == 0:
            reset = _header_number(headers, f"{scope}-reset")
            if reset is not None:
                resets.append(reset)
    if resets:
        return max(resets)
    return _header_number(headers, "x-rate-limit-reset")


def _iso(epoch: float) -> str:
    return to_iso(datetime.fromtimestamp(epoch, tz=timezone.utc))


def _snowflake_time(tweet_id: str) -> datetime:
    """When a tweet was created, from its id (ids embed milliseconds since 2010-11-04)."""
    ms = (int(tweet_id) >> 22) + _SNOWFLAKE_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _rewound(tweet_id: str, seconds: float) -> str | None:
    """The smallest possible id of a tweet created ``seconds`` before ``tweet_id``.

    Used as ``since_id`` so a poll re-reads that much below its cursor; None
    when that reaches back before Twitter's epoch (no lower bound at all).
    """
    if seconds <= 0:
        return tweet_id
    ms = (int(tweet_id) >> 22) - int(seconds * 1000)
    return str(ms << 22) if ms > 0 else None


def _as_id(value: Any) -> str | None:
    return str(value) if value is not None and str(value).isdigit() else None


class TwitterSource(Source):
    """Twitter/X API v2 through tweepy.

    Config keys of ``[sources.twitter]``:

    * ``queries``: recent-search query strings, each with its own cursor;
    * ``user_id``: the brand account's numeric id; adds the ``"mentions"`` query,
      which polls ``GET /2/users/:id/mentions``, and (``own_timeline``, default
      true) the ``"own-tweets"`` query, ``GET /2/users/:id/tweets``, whose replies
      mark mentions answered; its tweets count as the brand's own;
    * ``max_results`` (10..100, default 100) tweets per page; ``max_pages``
      (default 10) pages per query and poll;
    * ``wait_on_rate_limit`` (default false) and ``max_wait_seconds`` (default
      900): sleep until the reset when it is at most that far away;
    * ``bearer_token_env``, ``consumer_key_env``, ``consumer_secret_env``,
      ``access_token_env``, ``access_token_secret_env``: variable names;
    * ``dms`` (default false, needs ``user_id``): adds the ``"dm-events"`` query,
      ``GET /2/dm_events`` with the user-context keys (the app needs the "Read, write
      and Direct Messages" permission); the account's own messages are stored as
      the brand's (shown in the conversation, never queued).

    ``sleep`` and ``clock`` are attributes so tests can record waits and pin "now".
    """

    name = "twitter"
    config_keys = frozenset(
        {
            "queries",
            "user_id",
            "max_results",
            "max_pages",
            "wait_on_rate_limit",
            "max_wait_seconds",
            "own_timeline",
            "bearer_token_env",
            "consumer_key_env",
            "consumer_secret_env",
            "access_token_env",
            "access_token_secret_env",
            "dms",
        }
    )
    description = "Twitter/X API v2: recent search and the brand's mentions (tweepy)"
    env_vars = tuple(_DEFAULT_ENV.values())
    max_length = 280
    newest_first = True
    finds_sent_dm = True
    dm_policy = DmPolicy(
        reads=True, sends=True, starts="open", max_length=DM_MAX_LENGTH,
        note="user-context keys with the Direct Messages permission; a new conversation "
        "reaches only customers whose settings accept DMs from the brand",
    )  # fmt: skip

    def __init__(self, config: Mapping[str, Any], *, brand_handles: tuple[str, ...] = ()) -> None:
        super().__init__(config, brand_handles=brand_handles)
        raw_queries = config.get("queries", [])
        if not isinstance(raw_queries, list) or not all(
            isinstance(q, str) and q.strip() for q in raw_queries
        ):
            raise ConfigError("sources.twitter.queries must be a list of non-empty search strings")
        user_id = config.get("user_id")
        if user_id is not None and (isinstance(user_id, bool) or _as_id(user_id) is None):
            raise ConfigError(
                f"sources.twitter.user_id must be the account's numeric id, got {user_id!r}"
            )
        self.user_id: str | None = _as_id(user_id)
        self._queries = list(dict.fromkeys(q.strip() for q in raw_queries))
        if MENTIONS_QUERY in self._queries and self.user_id is None:
            raise ConfigError(
                "sources.twitter: the 'mentions' query needs sources.twitter.user_id "
                "(the brand account's numeric id)"
            )
        if self.user_id is not None and MENTIONS_QUERY not in self._queries:
            self._queries.append(MENTIONS_QUERY)
        own_timeline = self._bool_setting("own_timeline", True)
        if OWN_QUERY in self._queries and self.user_id is None:
            raise ConfigError(
                "sources.twitter: the 'own-tweets' query needs sources.twitter.user_id"
            )
        if self.user_id is not None and own_timeline and OWN_QUERY not in self._queries:
            self._queries.append(OWN_QUERY)
        dms = self._bool_setting("dms", False)
        if (dms or DM_QUERY in self._queries) and self.user_id is None:
            raise ConfigError(
                "sources.twitter.dms needs sources.twitter.user_id (the brand account's numeric "
                "id), so the brand's own messages are told apart from the customers'"
            )
        if dms and DM_QUERY not in self._queries:
            self._queries.append(DM_QUERY)
        self.max_results = self._int_setting("max_results", 100, 10, 100)
        self.max_pages = self._int_setting("max_pages", 10, 1, None)
        self.wait_on_rate_limit = self._bool_setting("wait_on_rate_limit", False)
        max_wait = config.get("max_wait_seconds", 900)
        if isinstance(max_wait, bool) or not isinstance(max_wait, int | float) or max_wait < 0:
            raise ConfigError("sources.twitter.max_wait_seconds must be a number of seconds >= 0")
        self.max_wait_seconds = float(max_wait)
        self.overlap = self.overlap_seconds  # validated now, not at the first poll
        self.sleep: Callable[[float], None] = time.sleep
        self.clock: Callable[[], float] = time.time
        self._reader: Any = None
        self._writer: Any = None

    def _env_name(self, key: str) -> str:
        return str(self.config.get(f"{key}_env", _DEFAULT_ENV[key]))

    def _secret(self, key: str) -> str:
        value = credential(self.config, key, _DEFAULT_ENV[key], self.name)
        _REDACTOR.secrets.add(value)
        return value

    # -- clients ------------------------------------------------------------
    def _read_client(self) -> Any:
        """The app-only (bearer token) client used for every read."""
        if self._reader is None:
            import requests
            import tweepy

            self._reader = tweepy.Client(
                bearer_token=self._secret("bearer_token"),
                return_type=requests.Response,
                wait_on_rate_limit=False,
            )
        return self._reader

    def _write_client(self) -> Any:
        """The OAuth 1.0a user-context client: publishing needs a user, not an app."""
        if self._writer is None:
            import requests
            import tweepy

            keys = {key: self._secret(key) for key in _USER_KEYS}
            self._writer = tweepy.Client(
                **keys, return_type=requests.Response, wait_on_rate_limit=False
            )
        return self._writer

    def redact(self, text: str) -> str:
        """Mask the tokens this adapter read (and any bearer token) in ``text``."""
        return _REDACTOR.redact(text)

    def check_credentials(self) -> None:
        """Reading needs only the bearer token (and, to read DMs, the user-context keys);
        reply/post check the user-context keys."""
        self._secret("bearer_token")
        if DM_QUERY in self._queries:
            for key in _USER_KEYS:
                self._secret(key)

    # -- requests -----------------------------------------------------------
    def _auth_error(self, user_auth: bool) -> AuthError:
        if user_auth:
            names = ", ".join(self._env_name(k) for k in _USER_KEYS)
            return AuthError(f"Twitter rejected the user-context credentials: check {names}")
        return AuthError(
            f"Twitter rejected the bearer token: check {self._env_name('bearer_token')}"
        )

    def _wait_seconds(self, reset: float) -> float:
        """Seconds until ``reset``, at least 1: a reset in the past means clock skew."""
        wait = reset - self.clock()
        if wait < 0:
            log.warning(
                "Twitter's rate-limit reset %s is %.0f s in the past: is this machine's "
                "clock wrong? Waiting 1 s instead.",
                _iso(reset),
                -wait,
            )
        return max(wait, 1.0)

    def _rate_limited(self, what: str, reset: float | None, wait: float | None) -> RateLimited:
        if reset is None:
            return RateLimited(f"Twitter rate limit reached ({what}); no reset time was given")
        when = f"it resets at {_iso(reset)} (in {wait or 0:.0f} s)"
        if not self.wait_on_rate_limit:
            fix = "set sources.twitter.wait_on_rate_limit = true to wait for it"
        elif wait is not None and wait > self.max_wait_seconds:
            fix = f"longer than sources.twitter.max_wait_seconds ({self.max_wait_seconds:.0f})"
        else:
            fix = "still limited after waiting; try again later"
        return RateLimited(f"Twitter rate limit reached ({what}): {when}; {fix}", reset_at=reset)

    def _call(
        self, what: str, request: Callable[[], Any], *, user_auth: bool, write: bool = False
    ) -> requests.Response:
        """Run one API request, turning tweepy/requests failures into socialcare errors.

        For a ``write`` (a tweet), a 5xx or a failure after the request went out
        (read timeout, connection dropped mid-answer) raises ``SendOutcomeUnknown``:
        the tweet may exist. Only a refused connection or a 4xx is a plain failure.

        A 429 either sleeps until the reset and retries (``wait_on_rate_limit``,
        reset within ``max_wait_seconds``) or raises ``RateLimited`` with the reset.
        """
        import requests
        import tweepy

        waits = 0
        while True:
            try:
                self.count_request()
                return cast(requests.Response, request())
            except tweepy.TooManyRequests as exc:
                reset = _limiting_reset(exc.response.headers)
                wait = self._wait_seconds(reset) if reset is not None else None
                if (
                    self.wait_on_rate_limit
                    and wait is not None
                    and wait <= self.max_wait_seconds
                    and waits < _MAX_RATE_LIMIT_WAITS
                ):
                    waits += 1
                    reason = (
                        f"Twitter rate limit reached ({what}); "
                        f"it resets at {_iso(cast(float, reset))}"
                    )
                    if self.wait(wait, reason):
                        continue
                raise self._rate_limited(what, reset, wait) from exc
            except tweepy.Unauthorized as exc:
                raise self._auth_error(user_auth) from exc
            except tweepy.BadRequest as exc:
                reason = _api_reason(exc)
                text = getattr(exc.response, "text", "")
                if "until_id" in text:
                    raise _UntilIdRejected(f"Twitter API error ({what}): {reason}") from exc
                if "since_id" in text:
                    raise _SinceIdRejected(f"Twitter API error ({what}): {reason}") from exc
                raise SourceError(f"Twitter API error ({what}): {reason}") from exc
            except tweepy.HTTPException as exc:  # 403, 404, 5xx (TwitterServerError), others
                if write and isinstance(exc, tweepy.TwitterServerError):
                    raise SendOutcomeUnknown(
                        f"Twitter API error ({what}): {_api_reason(exc)} after the request "
                        "went out: the tweet may have been published"
                    ) from exc
                raise SourceError(f"Twitter API error ({what}): {_api_reason(exc)}") from exc
            except (tweepy.TweepyException, requests.RequestException) as exc:
                detail = _REDACTOR.redact(_one_line(str(exc), 200))
                if write and not _requests_unsent(exc):
                    raise SendOutcomeUnknown(
                        f"Twitter ({what}): the request went out but no complete answer came "
                        f"back ({type(exc).__name__}: {detail}): the tweet may have been published"
                    ) from exc
                raise SourceError(
                    f"cannot reach the Twitter API ({what}): {type(exc).__name__}: {detail}"
                ) from exc

    @staticmethod
    def _json(response: requests.Response, what: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise SourceError(f"Twitter API error ({what}): the response is not JSON") from None
        if not isinstance(body, dict):
            raise SourceError(f"Twitter API error ({what}): unexpected response {body!r:.100}")
        return body

    # -- normalising --------------------------------------------------------
    def _mention(
        self, tweet: dict[str, Any], users: dict[str, dict[str, Any]], query: str
    ) -> Mention:
        """One v2 tweet object (plus its expanded author) as a :class:`Mention`."""
        native = _as_id(tweet.get("id"))
        if native is None:
            raise ValueError(f"no numeric tweet id (id {tweet.get('id')!r})")
        author_id = identity(tweet.get("author_id"))
        user = users.get(author_id, {}) if author_id else {}
        handle = str(user.get("username") or author_id)
        refs = {
            str(r.get("type")): str(r.get("id"))
            for r in tweet.get("referenced_tweets") or []
            if isinstance(r, dict)
        }
        # a reply that quotes is still a reply: the thread matters more for care
        if "retweeted" in refs:
            kind = "repost"
        elif "replied_to" in refs:
            kind = "reply"
        elif "quoted" in refs:
            kind = "quote"
        else:
            kind = "post"
        followers = (user.get("public_metrics") or {}).get("followers_count")
        lang = tweet.get("lang")
        created = tweet.get("created_at")
        raw = dict(tweet)
        raw["author"] = user
        reply_to_user = str(tweet.get("in_reply_to_user_id") or "")
        if reply_to_user in users:
            raw["in_reply_to_user"] = users[reply_to_user]
        return Mention(
            source=self.name,
            native_id=native,
            text=str(tweet.get("text", "")),
            created_at=parse_iso(str(created)) if created else _snowflake_time(native),
            author_id=author_id,
            author_handle=handle,
            author_name=str(user.get("name") or ""),
            author_followers=int(followers) if isinstance(followers, int) else None,
            url=f"https://x.com/{handle}/status/{native}"
            if user.get("username")
            else f"https://x.com/i/web/status/{native}",
            language=str(lang) if lang and lang != "und" else None,
            conversation_id=_as_id(tweet.get("conversation_id")),
            parent_id=refs.get("replied_to"),
            query=query,
            kind=kind,
            # what a repost copies, or a quote quotes (the engine folds quote-only copies)
            repost_of=refs.get("retweeted") or (refs.get("quoted") if kind == "quote" else None),
            raw=raw,
        )

    def _fill_authors(self, tweets: list[Any], users: dict[str, dict[str, Any]]) -> None:
        """Look up, in one batch, the authors of tweets that came without ``author_id``.

        X drops ``author_id`` when expansions are lost (the tweet then has only
        ``id``, ``text``, ``edit_history_tweet_ids``). A tweet still without one
        stays unlinked (empty ``author_id``): never the identity ``"twitter:"``.
        """
        missing = {
            native: tweet
            for tweet in tweets
            if isinstance(tweet, dict)
            and (native := _as_id(tweet.get("id")))
            and not identity(tweet.get("author_id"))
        }
        if not missing:
            return
        client = self._read_client()
        ids = list(missing)[:_LOOKUP_BATCH]
        what = f"author lookup of {len(ids)} tweet(s)"
        request = partial(
            client.get_tweets,
            ids,
            expansions=["author_id"],
            tweet_fields=["author_id"],
            user_fields=_USER_FIELDS,
        )
        try:
            body = self._json(self._call(what, request, user_auth=False), what)
        except SocialcareError as exc:  # the tweets are still worth storing, unlinked
            log.warning("twitter: %s failed (%s); their authors stay unlinked", what, exc)
            return
        includes = body.get("includes")
        for user in (includes.get("users") if isinstance(includes, dict) else None) or []:
            if isinstance(user, dict) and identity(user.get("id")):
                users.setdefault(str(user["id"]), user)
        for found in body.get("data") or []:
            if not isinstance(found, dict):
                continue
            tweet = missing.get(str(found.get("id")))
            author = identity(found.get("author_id"))
            if tweet is not None and author:
                tweet["author_id"] = author
        unknown = [n for n, t in missing.items() if not identity(t.get("author_id"))]
        if unknown:
            log.info("twitter: no author for %d tweet(s); stored unlinked", len(unknown))

    def _mentions(
        self,
        body: dict[str, Any],
        query: str,
        skipped: list[dict[str, Any]] | None = None,
        *,
        lookup: bool = True,
    ) -> list[Mention]:
        """The page's tweets as mentions; one that cannot be read is skipped and recorded."""
        skipped = [] if skipped is None else skipped
        includes = body.get("includes")
        users = {
            str(u["id"]): u
            for u in (includes.get("users") if isinstance(includes, dict) else None) or []
            if isinstance(u, dict) and u.get("id")
        }
        out: list[Mention] = []
        data = body.get("data") or []
        data = data if isinstance(data, list) else []
        if lookup:
            self._fill_authors(data, users)
        for tweet in data:
            if not isinstance(tweet, dict):
                self.skip(skipped, "not a tweet object", tweet, query=query)
                continue
            mention = self.normalise(
                partial(self._mention, tweet, users, query), tweet, skipped, query=query
            )
            if mention is not None:
                out.append(mention)
        return out

    # -- polling ------------------------------------------------------------
    def queries(self) -> list[str]:
        """The configured searches, plus ``"mentions"`` when ``user_id`` is set."""
        if not self._queries:
            raise ConfigError(
                "sources.twitter has nothing to poll: set queries = [...] and/or user_id"
            )
        return list(self._queries)

    def _what(self, query: str) -> str:
        """How errors name the request: ``search 'acme'`` or ``mentions of user 123``."""
        if query == MENTIONS_QUERY and self.user_id is not None:
            return f"mentions of user {self.user_id}"
        if query == OWN_QUERY and self.user_id is not None:
            return f"tweets of user {self.user_id}"
        if query == DM_QUERY:
            return "direct messages"
        return f"search {query!r}"

    def is_own(self, mention: Mention) -> bool:
        """The ``user_id`` account, or any of ``brand_handles``."""
        if self.user_id is not None and mention.author_id == self.user_id:
            return True
        return super().is_own(mention)

    def position_key(self, value: str) -> tuple[float, str]:
        """Tweet ids are snowflakes: numeric order is time order."""
        return (float(int(value)), "") if value.isdigit() else (float("-inf"), value)

    def pause(self, seconds: float) -> None:
        """Sleep through the ``sleep`` attribute, so tests record instead of waiting."""
        self.sleep(seconds)

    def _page(
        self, query: str, since_id: str | None, token: str | None, until_id: str | None = None
    ) -> requests.Response:
        client = self._read_client()
        params: dict[str, Any] = {
            "expansions": _EXPANSIONS,
            "tweet_fields": _TWEET_FIELDS,
            "user_fields": _USER_FIELDS,
            "max_results": self.max_results,
        }
        if since_id is not None:
            params["since_id"] = since_id
        if until_id is not None:
            params["until_id"] = until_id
        if query in (MENTIONS_QUERY, OWN_QUERY) and self.user_id is not None:
            if token:
                params["pagination_token"] = token
            user_id = self.user_id
            timeline = (
                client.get_users_mentions if query == MENTIONS_QUERY else client.get_users_tweets
            )
            return self._call(
                self._what(query),
                lambda: timeline(user_id, **params),
                user_auth=False,
            )
        if token:
            params["next_token"] = token
        return self._call(
            self._what(query),
            lambda: client.search_recent_tweets(query, **params),
            user_auth=False,
        )

    def poll_range(self, query: str, after: str | None, until: str) -> Iterator[Page]:
        """Backfill a gap: tweets newer than ``after`` and older than ``until`` (an id)."""
        return self.poll(query, after, until=until)

    def poll(self, query: str, cursor: str | None, *, until: str | None = None) -> Iterator[Page]:
        """Yield newest-first pages, each with the ids it spans; the last carries the cursor.

        ``"dm-events"`` is walked by :meth:`_poll_dms` (the endpoint has no ``since_id``).

        The walk goes down to ``overlap_seconds`` below the cursor and, with
        ``until``, starts below that id. A page is ``complete`` when nothing
        older is left to fetch; at ``max_pages`` the run stops incomplete, and
        the engine records the rest as a gap (on a first poll, with no cursor
        yet, the older backlog is skipped instead: a care queue wants what is
        new, and a week of search results would burn the monthly tweet cap).
        """
        if query == DM_QUERY:
            yield from self._poll_dms(cursor, until)
            return
        real_since = _as_id(cursor)
        if cursor is not None and real_since is None:
            log.warning("ignoring twitter cursor %r for %r: not a tweet id", cursor, query)
        since_id = _rewound(real_since, self.overlap) if real_since is not None else None
        until_id = _as_id(until)
        newest = int(real_since) if real_since is not None else None
        token: str | None = None
        pages = 0
        while True:
            try:
                response = self._page(query, since_id, token, until_id)
            except _UntilIdRejected:
                if until_id is None or pages:
                    raise
                log.warning(
                    "Twitter refused until_id %s for %r: that part of the gap is older than "
                    "recent search reaches and can no longer be fetched; closing it",
                    until_id,
                    query,
                )
                yield Page([], complete=True)
                return
            except _SinceIdRejected:
                if since_id is None or pages:
                    raise
                log.warning(
                    "Twitter refused since_id %s for %r (older than recent search reaches); "
                    "polling the whole recent window instead",
                    since_id,
                    query,
                )
                since_id = None
                continue
            pages += 1
            body = self._json(response, self._what(query))
            skipped: list[dict[str, Any]] = []
            mentions = self._mentions(body, query, skipped)
            for m in mentions:
                newest = max(newest or 0, int(m.native_id))
            token = (body.get("meta") or {}).get("next_token") or None
            complete = token is None
            last = complete or pages >= self.max_pages
            if not complete and last:
                log.warning(
                    "twitter %r: stopped at max_pages=%d; %s",
                    query,
                    self.max_pages,
                    "older tweets of this first poll are skipped"
                    if cursor is None
                    else "the older rest is a gap the next poll fills",
                )
            remaining, reset = _rate_headers(response.headers)
            yield Page(
                mentions,
                cursor=str(newest) if last and newest is not None else None,
                rate_limit_remaining=remaining,
                rate_limit_reset=reset,
                newest=str(newest) if newest is not None else None,
                oldest=min((m.native_id for m in mentions), key=int, default=None),
                complete=complete,
                items_read=len(mentions) + len(skipped),
                skipped=skipped,
            )
            if last:
                return

    # -- direct messages ----------------------------------------------------
    def _dm_mention(self, event: dict[str, Any], users: dict[str, dict[str, Any]]) -> Mention:
        """One ``MessageCreate`` DM event (plus its expanded sender) as a ``dm`` mention."""
        native = _as_id(event.get("id"))
        if native is None:
            raise ValueError(f"no numeric DM event id (id {event.get('id')!r})")
        conversation = identity(event.get("dm_conversation_id"))
        if not conversation:
            raise ValueError("no dm_conversation_id")
        sender = identity(event.get("sender_id"))
        user = users.get(sender, {}) if sender else {}
        followers = (user.get("public_metrics") or {}).get("followers_count")
        created = event.get("created_at")
        raw = dict(event)
        raw["sender"] = user
        return Mention(
            source=self.name,
            native_id=native,
            text=str(event.get("text", "")),
            created_at=parse_iso(str(created)) if created else _snowflake_time(native),
            author_id=sender,
            author_handle=str(user.get("username") or sender),
            author_name=str(user.get("name") or ""),
            author_followers=int(followers) if isinstance(followers, int) else None,
            url=f"https://x.com/messages/{conversation}",
            conversation_id=conversation,
            query=DM_QUERY,
            kind="dm",
            raw=raw,
        )

    def _dm_page(self, token: str | None, **where: Any) -> requests.Response:
        client = self._write_client()  # DMs are the user's: user context, never the app's
        params: dict[str, Any] = {
            "dm_event_fields": _DM_FIELDS,
            "event_types": "MessageCreate",
            "expansions": ["sender_id", "participant_ids"],
            "user_fields": _USER_FIELDS,
            "max_results": self.max_results,
            **where,
        }
        if token:
            params["pagination_token"] = token
        try:
            return self._call(
                self._what(DM_QUERY),
                lambda: client.get_direct_message_events(**params, user_auth=True),
                user_auth=True,
            )
        except SourceError as exc:
            if "HTTP 403" not in str(exc):
                raise
            raise AuthError(
                f"{exc}: X lists direct messages only for an app whose access token has the "
                "'Read, write, and Direct Messages' permission; set it in the developer portal "
                "and regenerate the access token and secret"
            ) from None

    def _dm_events(
        self, body: dict[str, Any], skipped: list[dict[str, Any]]
    ) -> tuple[list[Mention], list[str]]:
        """A page's message events as mentions, and the ids of every event on it."""
        includes = body.get("includes")
        users = {
            str(u["id"]): u
            for u in (includes.get("users") if isinstance(includes, dict) else None) or []
            if isinstance(u, dict) and u.get("id")
        }
        data = body.get("data") or []
        out: list[Mention] = []
        ids: list[str] = []
        for event in data if isinstance(data, list) else []:
            if not isinstance(event, dict):
                self.skip(skipped, "not a DM event object", event, query=DM_QUERY)
                continue
            native = _as_id(event.get("id"))
            if native is not None:
                ids.append(native)
            if event.get("event_type", "MessageCreate") != "MessageCreate":
                continue  # a participant joined or left: nothing to answer
            mention = self.normalise(
                partial(self._dm_mention, event, users), event, skipped, query=DM_QUERY
            )
            if mention is not None:
                out.append(mention)
        return out, ids

    def _poll_dms(self, cursor: str | None, until: str | None) -> Iterator[Page]:
        """Walk ``GET /2/dm_events`` newest first down to the cursor (the newest event id
        stored): the endpoint has no ``since_id``, so the walk stops at the first page
        that reaches it. Events at or above ``until`` (a gap's upper end) are dropped."""
        since = _as_id(cursor)
        if cursor is not None and since is None:
            log.warning("ignoring twitter DM cursor %r: not an event id", cursor)
        upper = int(until) if until and until.isdigit() else None
        newest = int(since) if since is not None else None
        token: str | None = None
        pages = 0
        while True:
            response = self._dm_page(token)
            pages += 1
            body = self._json(response, self._what(DM_QUERY))
            skipped: list[dict[str, Any]] = []
            mentions, ids = self._dm_events(body, skipped)
            reached = since is not None and any(int(i) <= int(since) for i in ids)
            mentions = [
                m
                for m in mentions
                if (since is None or int(m.native_id) > int(since))
                and (upper is None or int(m.native_id) < upper)
            ]
            for m in mentions:
                newest = max(newest or 0, int(m.native_id))
            token = (body.get("meta") or {}).get("next_token") or None
            complete = token is None or reached
            last = complete or pages >= self.max_pages
            remaining, reset = _rate_headers(response.headers)
            yield Page(
                mentions,
                cursor=str(newest) if last and newest is not None else None,
                rate_limit_remaining=remaining,
                rate_limit_reset=reset,
                newest=str(newest) if newest is not None else None,
                oldest=min(ids, key=int, default=None),
                complete=complete,
                items_read=max(len(ids), len(mentions) + len(skipped)),
                skipped=skipped,
            )
            if last:
                return

    def send_dm(self, mention: Mention, text: str) -> SentPost:
        """``POST /2/dm_conversations/:id/messages`` in a DM's conversation, else
        ``POST /2/dm_conversations/with/:participant_id/messages`` to open one."""
        if mention.source != self.name:
            raise SourceError(f"cannot send an X DM about a {mention.source} mention")
        client = self._write_client()
        where: dict[str, Any]
        if mention.kind == "dm" and mention.conversation_id:
            where = {"dm_conversation_id": mention.conversation_id}
        elif mention.author_id:
            where = {"participant_id": mention.author_id}
        else:
            raise SourceError(f"{mention.id} has no known author to send a DM to")
        what = f"direct message about {mention.id}"
        response = self._call(
            what,
            lambda: client.create_direct_message(**where, text=text, user_auth=True),
            user_auth=True,
            write=True,
        )
        event, data = self._sent(response, what, "dm_event_id", "the message may have been sent")
        conversation = data.get("dm_conversation_id") or ""
        return SentPost(native_id=event, url=f"https://x.com/messages/{conversation}")

    def find_sent_dm(self, mention: Mention, text: str) -> SentPost | None:
        """The brand's message ``text`` among the newest events of the conversation (or of
        the one-to-one conversation with the author), for ``outbox retry``."""
        if mention.kind == "dm" and mention.conversation_id:
            where: dict[str, Any] = {"dm_conversation_id": mention.conversation_id}
        else:
            where = {"participant_id": mention.author_id}
        body = self._json(self._dm_page(None, **where), self._what(DM_QUERY))
        for event in body.get("data") or []:
            if (
                isinstance(event, dict)
                and str(event.get("sender_id")) == str(self.user_id)
                and event.get("text") == text
                and _as_id(event.get("id")) is not None
            ):
                conversation = event.get("dm_conversation_id") or ""
                return SentPost(str(event["id"]), f"https://x.com/messages/{conversation}")
        return None

    def _sent(
        self, response: Any, what: str, id_key: str, maybe: str
    ) -> tuple[str, dict[str, Any]]:
        """The id the platform gave a send (``data.<id_key>``) and its ``data`` object.

        The request has gone out by now, so an answer that can't be read (an error
        body, no id) does not say nothing was posted: ``SendOutcomeUnknown`` (``maybe``
        ends its message), and ``outbox retry`` looks for the post before sending again.
        """
        try:
            data = self._json(response, what).get("data") or {}
        except SourceError as exc:
            raise SendOutcomeUnknown(f"{exc}: {maybe}") from None
        if not isinstance(data, dict):
            data = {}
        native = _as_id(data.get(id_key))
        if native is None:
            raise SendOutcomeUnknown(
                f"Twitter API error ({what}): the response has no data.{id_key}: {maybe}"
            )
        return native, data

    # -- publishing ---------------------------------------------------------
    def _publish(self, what: str, text: str, reply_to: str | None) -> SentPost:
        client = self._write_client()
        response = self._call(
            what,
            lambda: client.create_tweet(text=text, in_reply_to_tweet_id=reply_to, user_auth=True),
            user_auth=True,
            write=True,
        )
        native, _ = self._sent(response, what, "id", "the tweet may have been published")
        # the account's handle is not known without another request; x.com redirects this form
        return SentPost(native_id=native, url=f"https://x.com/i/web/status/{native}")

    def reply(self, mention: Mention, text: str) -> SentPost:
        """Reply to ``mention`` as the user of the access token (OAuth 1.0a)."""
        if mention.source != self.name:
            raise SourceError(
                f"cannot reply on Twitter to a {mention.source} mention ({mention.id})"
            )
        return self._publish(f"reply to {mention.id}", text, mention.native_id)

    def post(self, text: str) -> SentPost:
        """Publish a new tweet as the user of the access token (OAuth 1.0a)."""
        return self._publish("post", text, None)

    def fetch(self, native_ids: list[str]) -> list[Mention]:
        """Look tweets up by id (e.g. missing thread parents); gone ones are left out."""
        ids = list(dict.fromkeys(str(i) for i in native_ids))
        client = self._read_client()
        out: list[Mention] = []
        for start in range(0, len(ids), _LOOKUP_BATCH):
            chunk = ids[start : start + _LOOKUP_BATCH]
            what = f"lookup of {len(chunk)} tweet(s)"
            request = partial(
                client.get_tweets,
                chunk,
                expansions=_EXPANSIONS,
                tweet_fields=_TWEET_FIELDS,
                user_fields=_USER_FIELDS,
            )
            response = self._call(what, request, user_auth=False)
            body = self._json(response, what)
            for err in body.get("errors") or []:
                log.info("twitter lookup: %s", err.get("detail") if isinstance(err, dict) else err)
            out += self._mentions(body, "", lookup=False)
        return out

    def text_length(self, text: str) -> int:
        """Twitter's weighted length: every URL counts 23, CJK and emoji count 2."""
        from .tweet_length import weighted_length

        return weighted_length(text)
