"""The Mastodon source: the account's mentions, hashtag timelines and status search.

It talks to one instance's REST API with an access token (read scopes for
polling, ``write:statuses`` for replies). Queries are named ``mentions``,
``#tag`` and ``search:TEXT``; each has its own cursor.

Polling is newest first. Timelines (notifications, hashtags) are paged with the
``max_id`` of the ``Link: <...>; rel="next"`` header while ``since_id`` holds the
cursor, the newest id seen. Search has no ``since_id`` and no Link header, so it
pages with ``max_id`` = the oldest id of the previous page and stops at the
cursor itself. Only the last page of a successful run carries the new cursor:
a failure mid-way keeps what was stored but polls the same window again.

With ``dms = true`` the ``conversations`` query polls ``GET /api/v1/conversations``:
each conversation's ``last_status`` newer than the cursor (the newest status id seen)
becomes a ``dm`` mention threaded by the conversation's id. Conversations come
most recently active first, so the walk stops at the first one at or below the
cursor. Answers are ``direct`` statuses (a reply to the last status, or a new
status mentioning the customer to open one), within the instance's limit.

Status content is HTML and is stored as plain text (:func:`html_to_text`).
Replies start with ``@acct`` of the author (Mastodon only notifies the accounts
a status mentions) and use the original's visibility, capped at
``reply_visibility``, so a reply to a private or direct post never leaks out.
"""

from __future__ import annotations

import logging
import re
import uuid
from functools import partial
from typing import Any, Iterator, Mapping
from urllib.parse import quote

import httpx

from ..config import credential
from ..errors import AuthError, ConfigError, SendOutcomeUnknown, SourceError
from ..models import Mention, Page, SentPost, parse_iso
from .base import DmPolicy, identity
from .http import HTTP_CONFIG_KEYS, HttpSource, api_error, html_to_text

__all__ = ["MastodonSource", "CONVERSATIONS_QUERY", "MENTIONS_QUERY", "mastodon_length"]

log = logging.getLogger("socialcare.sources.mastodon")

#: the query that polls the account's mention notifications
MENTIONS_QUERY = "mentions"
#: the query that polls the account's direct conversations (``dms = true``)
CONVERSATIONS_QUERY = "conversations"
#: Mastodon's default status limit; instances may raise it (``/api/v2/instance``)
_DEFAULT_MAX_CHARACTERS = 500
_SEARCH_PREFIX = "search:"
_TAG_PREFIX = "#"
_DEFAULT_TOKEN_ENV = "MASTODON_ACCESS_TOKEN"
#: from most to least public; a reply is never more public than what it answers
_VISIBILITY = ("public", "unlisted", "private", "direct")
#: Mastodon counts every link as 23 characters, whatever its length
_URL_LENGTH = 23
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_REMOTE_MENTION = re.compile(r"(?<![\w/])@(\w+(?:[.\w-]*\w)?)@[\w.-]+\w", re.UNICODE)
_ANY_MENTION = re.compile(r"(?<![\w/])@\w[\w.-]{0,60}(?:@[\w.-]{1,253})?", re.UNICODE)


def mastodon_length(text: str) -> int:
    """The length Mastodon checks against its 500-character limit.

    Links count 23 characters each and a remote mention ``@user@domain``
    counts only as ``@user``, as the server's ``StatusLengthValidator`` does.
    """
    counted = _URL.sub("x" * _URL_LENGTH, text)
    counted = _REMOTE_MENTION.sub(lambda m: "@" + m.group(1), counted)
    return len(counted)


def _comparable(text: str) -> str:
    """Text as compared when looking for a post we may have sent: Mastodon renders
    ``@user@domain`` as ``@user`` and reflows whitespace, so both are left out."""
    return " ".join(_ANY_MENTION.sub(" ", text).split()).casefold()


def _id_key(native_id: str) -> tuple[int, str]:
    """Order ids: Mastodon's are numeric strings, other servers' fixed-length flakes."""
    return (len(native_id), native_id)


def _newer(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if _id_key(a) >= _id_key(b) else b


class MastodonSource(HttpSource):
    """Mastodon REST API over httpx.

    Config keys of ``[sources.mastodon]``:

    * ``instance``: the instance URL, e.g. ``https://mastodon.social`` (required);
    * ``access_token_env``: variable holding the access token (default ``MASTODON_ACCESS_TOKEN``);
    * ``mentions`` (default true): poll the account's mention notifications;
    * ``hashtags``: hashtags to follow (``/api/v1/timelines/tag/:hashtag``);
    * ``searches``: full-text status searches (``/api/v2/search``; needs the token);
    * ``limit`` (1..40, default 40) items per page; ``max_pages`` (default 10) per poll;
    * ``reply_visibility`` (default ``unlisted``): the most public visibility a reply gets;
    * ``dms`` (default false): poll direct conversations (the token needs ``read:statuses``);
    * ``max_wait_seconds`` (default 60) and ``timeout_seconds`` (default 20).

    ``transport``, ``sleep`` and ``clock`` are for tests (``httpx.MockTransport``,
    recorded waits, a pinned "now").
    """

    name = "mastodon"
    config_keys = HTTP_CONFIG_KEYS | {
        "instance",
        "access_token_env",
        "mentions",
        "hashtags",
        "searches",
        "limit",
        "max_pages",
        "reply_visibility",
        "dms",
    }
    platform = "Mastodon"
    description = "Mastodon: mentions, hashtag timelines and status search (REST API)"
    env_vars = (_DEFAULT_TOKEN_ENV,)
    max_length = 500
    #: ``find_sent`` looks for the account's own reply in the status's context
    finds_sent = True
    finds_sent_dm = True
    dm_policy = DmPolicy(
        reads=True, sends=True, starts="anyone", max_length=_DEFAULT_MAX_CHARACTERS,
        note="direct-visibility statuses, within the instance's status limit",
    )  # fmt: skip

    def _configure(self) -> None:
        """Validate ``[sources.mastodon]`` and point ``self.api`` at the platform."""
        instance = self.config.get("instance")
        if not isinstance(instance, str) or not re.match(r"https?://[^/\s]+", instance.strip()):
            raise ConfigError(
                "sources.mastodon.instance must be the instance URL, e.g. "
                f'"https://mastodon.social" (got {instance!r})'
            )
        self.instance = instance.strip().rstrip("/")
        self.api.base_url = self.instance
        self.mentions = self._bool_setting("mentions", True)
        self.hashtags = [t.lstrip("#") for t in self._strings_setting("hashtags")]
        self.searches = self._strings_setting("searches")
        self.limit = self._int_setting("limit", 40, 1, 40)
        self.max_pages = self._int_setting("max_pages", 10, 1, None)
        visibility = self.config.get("reply_visibility", "unlisted")
        if visibility not in _VISIBILITY:
            raise ConfigError(
                f"sources.mastodon.reply_visibility must be one of {', '.join(_VISIBILITY)}"
            )
        self.reply_visibility: str = visibility
        self.dms = self._bool_setting("dms", False)
        self._max_characters: int | None = None

    # -- credentials --------------------------------------------------------
    @property
    def _token_env(self) -> str:
        return str(self.config.get("access_token_env", _DEFAULT_TOKEN_ENV))

    def _needs_token(self) -> bool:
        """Hashtag timelines are public; mentions, search and conversations need a token."""
        return self.mentions or bool(self.searches) or self.dms

    def _auth_headers(self, required: bool) -> dict[str, str]:
        try:
            token = credential(self.config, "access_token", _DEFAULT_TOKEN_ENV, self.name)
        except ConfigError:
            if required:
                raise
            return {}  # a public timeline: go without, most instances allow it
        return {"Authorization": f"Bearer {token}"}

    def check_credentials(self) -> None:
        """The token is needed for mentions and searches (hashtags alone can go without)."""
        if self._needs_token():
            credential(self.config, "access_token", _DEFAULT_TOKEN_ENV, self.name)

    # -- requests -----------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        auth: bool = True,
        params: Any = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        allow: tuple[int, ...] = (),
        retry_unsent_only: bool = False,
    ) -> httpx.Response:
        """One API request; 401 becomes ``AuthError``, other 4xx ``SourceError`` unless allowed."""
        all_headers = self._auth_headers(required=auth)
        all_headers.update(headers or {})
        response = self.api.request(
            method,
            path,
            what=what,
            params=params,
            json=json,
            headers=all_headers,
            retry_unsent_only=retry_unsent_only,
        )
        if response.status_code == 401:
            raise AuthError(
                f"Mastodon ({self.instance}) rejected the access token ({what}): set a valid "
                f"token in {self._token_env} (sources.mastodon.access_token_env)"
            )
        if response.status_code >= 400 and response.status_code not in allow:
            raise api_error("Mastodon", what, response)
        return response

    # -- normalising --------------------------------------------------------
    def _mention(self, status: dict[str, Any], query: str) -> Mention:
        """One Status entity as a :class:`Mention` (a boost becomes a ``repost``)."""
        shown = status.get("reblog") if isinstance(status.get("reblog"), dict) else None
        body = shown or status
        account = status.get("account") or {}
        text = html_to_text(str(body.get("content") or ""))
        spoiler = str(body.get("spoiler_text") or "").strip()
        if spoiler:
            text = f"[CW: {spoiler}]\n{text}"
        native = str(status["id"])
        parent = body.get("in_reply_to_id")
        visibility = status.get("visibility")
        if shown is not None:
            kind = "repost"
        elif visibility == "direct":
            kind = "dm"
        elif parent:
            kind = "reply"
        elif body.get("quote"):
            kind = "quote"
        else:
            kind = "post"
        followers = account.get("followers_count")
        return Mention(
            source=self.name,
            native_id=native,
            text=text,
            created_at=parse_iso(str(status["created_at"])),
            author_id=identity(account.get("id")) or identity(account.get("acct")),
            author_handle=str(account.get("acct") or account.get("username") or ""),
            author_name=str(account.get("display_name") or ""),
            author_followers=followers if isinstance(followers, int) else None,
            url=str(status.get("url") or status.get("uri") or ""),
            language=body.get("language") or None,
            # the REST API exposes no thread root; a top-level post roots its own thread
            conversation_id=None if parent else native,
            parent_id=str(parent) if parent else None,
            query=query,
            kind=kind,
            repost_of=str(shown["id"]) if shown is not None else None,
            raw=status,
        )

    # -- polling ------------------------------------------------------------
    def queries(self) -> list[str]:
        """``mentions`` (if enabled), ``#tag`` per hashtag and ``search:TEXT`` per search."""
        out = [MENTIONS_QUERY] if self.mentions else []
        out += [CONVERSATIONS_QUERY] if self.dms else []
        out += [_TAG_PREFIX + t for t in self.hashtags]
        out += [_SEARCH_PREFIX + s for s in self.searches]
        if not out:
            raise ConfigError(
                "sources.mastodon has nothing to poll: set mentions = true, hashtags or searches"
            )
        return out

    def _page(self, mentions: list[Mention], cursor: str | None) -> Page:
        remaining, reset = self.api.last_rate_limit
        return Page(mentions, cursor=cursor, rate_limit_remaining=remaining, rate_limit_reset=reset)

    def poll(self, query: str, cursor: str | None) -> Iterator[Page]:
        """Yield newest-first pages; only the last one carries the cursor (newest id seen)."""
        if query == MENTIONS_QUERY:
            yield from self._poll_timeline(
                query, "/api/v1/notifications", cursor, notifications=True
            )
        elif query.startswith(_TAG_PREFIX):
            tag = query[len(_TAG_PREFIX) :]
            path = f"/api/v1/timelines/tag/{quote(tag, safe='')}"
            yield from self._poll_timeline(query, path, cursor, notifications=False)
        elif query.startswith(_SEARCH_PREFIX):
            yield from self._poll_search(query, query[len(_SEARCH_PREFIX) :], cursor)
        elif query == CONVERSATIONS_QUERY:
            yield from self._poll_conversations(cursor)
        else:
            raise ConfigError(
                f"unknown mastodon query {query!r}: expected 'mentions', '#tag' or 'search:TEXT'"
            )

    def _poll_timeline(
        self, query: str, path: str, cursor: str | None, *, notifications: bool
    ) -> Iterator[Page]:
        """Notifications or a tag timeline: ``since_id`` = cursor, ``max_id`` from the Link header.

        For notifications the cursor is a *notification* id (what ``since_id``
        filters on there); the mentions stored are the statuses they carry.
        """
        what = "mentions" if notifications else f"hashtag {query}"
        newest = cursor
        max_id: str | None = None
        pages = 0
        while True:
            params: list[tuple[str, str | int]] = [("limit", self.limit)]
            if notifications:
                params.append(("types[]", "mention"))
            if cursor:
                params.append(("since_id", cursor))
            if max_id:
                params.append(("max_id", max_id))
            response = self._call("GET", path, what=what, auth=notifications, params=params)
            items = self.api.items(self.api.json(response, what), what)
            pages += 1
            mentions: list[Mention] = []
            skipped: list[dict[str, Any]] = []
            for item in items:
                item_id = str(item.get("id") or "").strip() if isinstance(item, dict) else ""
                if not item_id:
                    self.skip(skipped, "no id", item, query=query)
                    continue
                newest = _newer(newest, item_id)
                status = item.get("status") if notifications else item
                if notifications and item.get("type") not in (None, "mention"):
                    continue  # asked for mentions only; another type is not ours to queue
                if isinstance(status, dict):  # a notification whose status was deleted has none
                    mention = self.normalise(
                        partial(self._mention, status, query), item, skipped, query=query
                    )
                    if mention is not None:
                        mentions.append(mention)
            next_link = response.links.get("next", {}).get("url")
            max_id = httpx.URL(next_link).params.get("max_id") if next_link else None
            last = not items or len(items) < self.limit or not max_id or pages >= self.max_pages
            if last and items and max_id and pages >= self.max_pages:
                log.warning(
                    "mastodon %r: stopped at max_pages=%d; older posts of this poll are skipped",
                    query,
                    self.max_pages,
                )
            page = self._page(mentions, newest if last else None)
            page.skipped = skipped
            yield page
            if last:
                return

    def _poll_search(self, query: str, text: str, cursor: str | None) -> Iterator[Page]:
        """Status search: page down with ``max_id``, stop at the cursor (search has no since_id)."""
        what = f"search {text!r}"
        newest = cursor
        max_id: str | None = None
        pages = 0
        while True:
            params: dict[str, str | int] = {"q": text, "type": "statuses", "limit": self.limit}
            if max_id:
                params["max_id"] = max_id
            response = self._call("GET", "/api/v2/search", what=what, params=params)
            statuses = self.api.items(self.api.json(response, what), what, "statuses")
            pages += 1
            skipped: list[dict[str, Any]] = []
            readable: list[dict[str, Any]] = []
            for status in statuses:
                if isinstance(status, dict) and str(status.get("id") or "").strip():
                    readable.append(status)
                else:
                    self.skip(skipped, "no id", status, query=query)
            fresh = [
                s for s in readable if cursor is None or _id_key(str(s["id"])) > _id_key(cursor)
            ]
            reached_cursor = len(fresh) < len(readable)
            for status in fresh:
                newest = _newer(newest, str(status["id"]))
            if readable:
                max_id = min((str(s["id"]) for s in readable), key=_id_key)
            last = (
                reached_cursor
                or len(statuses) < self.limit
                or pages >= self.max_pages
                or not statuses
            )
            mentions = [
                m
                for s in fresh
                if (m := self.normalise(partial(self._mention, s, query), s, skipped, query=query))
            ]
            page = self._page(mentions, newest if last else None)
            page.skipped = skipped
            yield page
            if last:
                return

    def _conversation_mention(self, conversation: dict[str, Any]) -> Mention | None:
        """A Conversation entity's ``last_status`` as a ``dm`` mention of that conversation."""
        status = conversation.get("last_status")
        if not isinstance(status, dict):
            return None  # every status of it was deleted: nothing to answer
        conv_id = identity(conversation.get("id"))
        if not conv_id:
            raise ValueError("conversation without an id")
        mention = self._mention(status, CONVERSATIONS_QUERY)
        mention.kind = "dm"
        mention.conversation_id = conv_id
        return mention

    def _poll_conversations(self, cursor: str | None) -> Iterator[Page]:
        """Direct conversations, most recently active first, down to the cursor (a status id)."""
        what = "direct conversations"
        newest = cursor
        max_id: str | None = None
        pages = 0
        while True:
            params: list[tuple[str, str | int]] = [("limit", self.limit)]
            if max_id:
                params.append(("max_id", max_id))
            response = self._call(
                "GET", "/api/v1/conversations", what=what, params=params, allow=(403,)
            )
            if response.status_code == 403:
                raise AuthError(
                    f"Mastodon ({self.instance}) refused to list direct conversations (HTTP "
                    f"403): the token in {self._token_env} needs the read:statuses scope "
                    "(or read:conversations); create a token with it"
                )
            items = self.api.items(self.api.json(response, what), what)
            pages += 1
            mentions: list[Mention] = []
            skipped: list[dict[str, Any]] = []
            reached = False
            for item in items:
                status = item.get("last_status") if isinstance(item, dict) else None
                status_id = str(status.get("id") or "") if isinstance(status, dict) else ""
                if cursor is not None and status_id and _id_key(status_id) <= _id_key(cursor):
                    reached = True  # older activity from here on: already stored
                    continue
                if not isinstance(item, dict) or not str(item.get("id") or "").strip():
                    self.skip(skipped, "no conversation id", item, query=CONVERSATIONS_QUERY)
                    continue
                mention = self.normalise(
                    partial(self._conversation_mention, item), item, skipped,
                    query=CONVERSATIONS_QUERY,
                )  # fmt: skip
                if mention is not None:
                    mentions.append(mention)
                    newest = _newer(newest, mention.native_id)
            next_link = response.links.get("next", {}).get("url")
            max_id = httpx.URL(next_link).params.get("max_id") if next_link else None
            last = reached or not items or not max_id or pages >= self.max_pages
            page = self._page(mentions, newest if last else None)
            page.skipped = skipped
            page.items_read = len(items)
            yield page
            if last:
                return

    def dm_max_length(self) -> int | None:
        """The instance's status limit (``configuration.statuses.max_characters`` of
        ``/api/v2/instance``), read once; Mastodon's 500 if the instance does not say."""
        if self._max_characters is None:
            limit = _DEFAULT_MAX_CHARACTERS
            try:
                body = self._json_of(
                    self._call("GET", "/api/v2/instance", what="instance", auth=False), "instance"
                )
                found = ((body.get("configuration") or {}).get("statuses") or {}).get(
                    "max_characters"
                )
                if isinstance(found, int) and not isinstance(found, bool) and found > 0:
                    limit = found
            except (SourceError, AttributeError) as exc:
                log.info("mastodon: instance limit unknown (%s); using %d", exc, limit)
            self._max_characters = limit
        return self._max_characters

    def dm_length(self, text: str) -> int:
        """Mastodon's count, as for any status."""
        return mastodon_length(text)

    def send_dm(self, mention: Mention, text: str) -> SentPost:
        """A ``direct`` status: a reply to a DM's last status, or a new one mentioning the
        author (only the accounts a direct status mentions can see it)."""
        if mention.source != self.name:
            raise SourceError(f"cannot send a Mastodon DM about a {mention.source} mention")
        payload: dict[str, Any] = {
            "status": self._reply_text(mention, text),
            "visibility": "direct",
        }
        if mention.kind == "dm":
            payload["in_reply_to_id"] = mention.native_id
        return self._publish(f"direct message about {mention.id}", payload)

    def find_sent_dm(self, mention: Mention, text: str) -> SentPost | None:
        """The account's direct status: among the DM's replies, or its latest statuses."""
        return self.find_sent(mention if mention.kind == "dm" else None, text)

    # -- publishing ---------------------------------------------------------
    def _visibility(self, original: Any) -> str:
        """The original's visibility, but never more public than ``reply_visibility``."""
        cap = _VISIBILITY.index(self.reply_visibility)
        if original in _VISIBILITY:
            return _VISIBILITY[max(cap, _VISIBILITY.index(original))]
        return self.reply_visibility

    def _publish(self, what: str, payload: dict[str, Any]) -> SentPost:
        # The outbox item's own Idempotency-Key (the same on every retry) makes Mastodon
        # answer a repeated POST with the first status instead of publishing a second.
        # A write that may have arrived is still never resent here: not every server
        # honours the key, so a lost answer becomes SendOutcomeUnknown for the outbox.
        response = self._call(
            "POST",
            "/api/v1/statuses",
            what=what,
            json=payload,
            headers={"Idempotency-Key": self.idempotency_key or uuid.uuid4().hex},
            retry_unsent_only=True,
        )
        body = self.api.json(response, what, created=True)
        if not isinstance(body, dict) or not body.get("id"):
            raise SendOutcomeUnknown(
                f"Mastodon API error ({what}): the response has no status id: "
                "it may have been published"
            )
        return SentPost(
            native_id=str(body["id"]), url=str(body.get("url") or body.get("uri") or "")
        )

    def _reply_text(self, mention: Mention, text: str) -> str:
        """``text`` starting with ``@acct`` of the author (Mastodon notifies only those)."""
        account = mention.raw.get("account") or {}
        acct = str(account.get("acct") or mention.author_handle).lstrip("@")
        handle = f"@{acct}"
        stripped = text.lstrip()
        starts = stripped[: len(handle)].lower() == handle.lower()
        if not (starts and stripped[len(handle) : len(handle) + 1] in ("", " ", "\n")):
            return f"{handle} {stripped}"
        return text

    def reply(self, mention: Mention, text: str) -> SentPost:
        """Reply in the thread of ``mention``, starting with ``@acct`` of its author."""
        if mention.source != self.name:
            raise SourceError(
                f"cannot reply on Mastodon to a {mention.source} mention ({mention.id})"
            )
        payload: dict[str, Any] = {
            "status": self._reply_text(mention, text),
            "in_reply_to_id": mention.native_id,
            "visibility": self._visibility(mention.raw.get("visibility")),
        }
        spoiler = mention.raw.get("spoiler_text")
        if spoiler:  # keep the content warning the author chose, as Mastodon's own UI does
            payload["spoiler_text"] = spoiler
        return self._publish(f"reply to {mention.id}", payload)

    def post(self, text: str) -> SentPost:
        """Publish a public status (announcements)."""
        return self._publish("post", {"status": text, "visibility": "public"})

    def find_sent(self, mention: Mention | None, text: str) -> SentPost | None:
        """The account's own status with this text: among the replies to ``mention``
        (its context's descendants), or among the account's latest statuses for a post."""
        me = self._json_of(
            self._call("GET", "/api/v1/accounts/verify_credentials", what="who am I"),
            "who am I",
        )
        my_id = str(me.get("id") or "") if isinstance(me, dict) else ""
        if not my_id:
            raise SourceError("Mastodon API error (who am I): the response has no account id")
        if mention is not None:
            what = f"replies to {mention.id}"
            path = f"/api/v1/statuses/{quote(mention.native_id, safe='')}/context"
            context = self._json_of(self._call("GET", path, what=what), what)
            found = context.get("descendants") if isinstance(context, dict) else None
            candidates = [
                s
                for s in (found if isinstance(found, list) else [])
                if isinstance(s, dict) and str(s.get("in_reply_to_id") or "") == mention.native_id
            ]
            wanted = self._reply_text(mention, text)
        else:
            what = "the account's latest statuses"
            path = f"/api/v1/accounts/{quote(my_id, safe='')}/statuses"
            found = self._json_of(self._call("GET", path, what=what, params={"limit": 40}), what)
            candidates = [
                s for s in (found if isinstance(found, list) else []) if isinstance(s, dict)
            ]
            wanted = text
        for status in candidates:
            account = status.get("account") or {}
            if str(account.get("id") or "") != my_id:
                continue
            if _comparable(html_to_text(str(status.get("content") or ""))) == _comparable(wanted):
                return SentPost(
                    native_id=str(status["id"]),
                    url=str(status.get("url") or status.get("uri") or ""),
                )
        return None

    def _json_of(self, response: httpx.Response, what: str) -> Any:
        return self.api.json(response, what)

    def fetch(self, native_ids: list[str]) -> list[Mention]:
        """Look statuses up by id (e.g. thread parents); deleted or hidden ones are left out."""
        out: list[Mention] = []
        for native in dict.fromkeys(native_ids):
            what = f"status {native}"
            response = self._call(
                "GET",
                f"/api/v1/statuses/{quote(str(native), safe='')}",
                what=what,
                auth=False,
                allow=(404, 410),
            )
            if response.status_code in (404, 410):
                continue
            status = self.api.json(response, what)
            mention = self.normalise(partial(self._mention, status, ""), status, [], query="fetch")
            if mention is not None:
                out.append(mention)
        return out

    def text_length(self, text: str) -> int:
        """Mastodon's count: links are 23 characters, ``@user@domain`` counts as ``@user``."""
        return mastodon_length(text)
