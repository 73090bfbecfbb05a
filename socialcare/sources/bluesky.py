"""The Bluesky source: keyword search and the account's mention/reply/quote notifications.

It logs in with the account's handle and an *app password*
(``com.atproto.server.createSession``) and sends every XRPC call to the
``service`` (the PDS, which proxies ``app.bsky.*`` to the AppView). Access
tokens live for minutes: on ``ExpiredToken`` the adapter refreshes the session
(``refreshSession`` with the refresh token) and retries once; if the refresh
fails too it logs in again.

Queries are ``notifications`` and ``search:TEXT``. Both lists come newest first
with an opaque paging ``cursor`` and have no "since" parameter, so the stored
cursor is our own: JSON ``{"at": ISO time, "ids": [...]}``, the newest time seen
plus the post URIs seen at exactly that time. Paging stops at the first item
older than it; items at that time whose URI is listed are skipped. As with the
other adapters only the last page of a successful run carries the new cursor.

The time of a post is the earlier of ``indexedAt`` and the record's
``createdAt`` (the AppView's own ``sortAt``): ``createdAt`` alone is written by
the client and can lie in the future.

With ``dms = true`` the ``chat`` query reads the account's chat through its PDS,
which proxies ``chat.bsky.convo.*`` to the chat service when asked to with the
``atproto-proxy: did:web:api.bsky.chat#bsky_chat`` header: ``listConvos`` (most
recently active first) down to the cursor, then each newer conversation's
``getMessages``. A message is a ``dm`` mention whose native id is the message id
and whose conversation is the convo id; answers go through ``sendMessage`` (1,000
graphemes), opening a conversation with ``getConvoForMembers``. Only an app password
created with "Allow access to your direct messages" reaches chat; any other gets
``InvalidToken: Bad token scope`` (or ``Bad token method``), which is reported as such.

A mention's native id is its ``at://`` URI; ``raw`` keeps ``uri``, ``cid`` and
the record (with its ``reply`` refs), which is what a reply needs: a reply's
``root`` is the parent's own root when the parent is itself a reply.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from typing import Any, Callable, Iterator

import httpx

from ..config import credential
from ..errors import AuthError, ConfigError, SendOutcomeUnknown, SourceError
from ..models import Mention, Page, SentPost, parse_iso
from .base import DmPolicy, identity, sanitise_mention
from .http import HTTP_CONFIG_KEYS, HttpSource, api_error, api_reason

__all__ = ["BlueskySource", "CHAT_QUERY", "NOTIFICATIONS_QUERY", "grapheme_count", "post_url"]

log = logging.getLogger("socialcare.sources.bluesky")

NOTIFICATIONS_QUERY = "notifications"
#: the query that polls the account's chat conversations (``dms = true``)
CHAT_QUERY = "chat"
#: the PDS forwards a call carrying this header to Bluesky's chat service
CHAT_PROXY = "did:web:api.bsky.chat#bsky_chat"
#: chat.bsky.convo.defs#messageInput: at most 1,000 graphemes (and 10,000 bytes)
_CHAT_MAX_GRAPHEMES = 1000
_CHAT_MAX_BYTES = 10_000
#: what the AppView shows for an account whose handle does not verify: nobody's identity
_PLACEHOLDER_HANDLES = ("handle.invalid",)
_SEARCH_PREFIX = "search:"
_DEFAULT_SERVICE = "https://bsky.social"
_DEFAULT_PASSWORD_ENV = "BLUESKY_APP_PASSWORD"
#: notification reasons that are someone talking to or about the account
_KEEP_REASONS = ("mention", "reply", "quote")
_QUOTE_EMBEDS = ("app.bsky.embed.record", "app.bsky.embed.recordWithMedia")
#: app.bsky.feed.post limits: 300 graphemes and 3000 bytes of UTF-8
_MAX_GRAPHEMES = 300
_MAX_BYTES = 3000
#: app.bsky.feed.getPosts takes at most this many URIs
_GET_POSTS_BATCH = 25
#: a link ends before trailing punctuation, as the official app's detector does
_LINK = re.compile(r"https?://[^\s<>\"]*[^\s<>\".,;:!?)\]'\u2019]", re.IGNORECASE)


# -- graphemes -------------------------------------------------------------------
def _is_regional(cp: int) -> bool:
    return 0x1F1E6 <= cp <= 0x1F1FF


def _is_extend(ch: str, cp: int) -> bool:
    """Grapheme_Cluster_Break=Extend, approximately: marks, ZWNJ, emoji modifiers, tags."""
    return (
        unicodedata.category(ch) in ("Mn", "Me")
        or cp == 0x200C
        or 0x1F3FB <= cp <= 0x1F3FF
        or 0xE0020 <= cp <= 0xE007F
        or 0xFF9E <= cp <= 0xFF9F
    )


def _is_control(ch: str, cp: int) -> bool:
    if ch in "\r\n":
        return True
    cat = unicodedata.category(ch)
    return cat in ("Cc", "Zl", "Zp") or (
        cat == "Cf" and cp not in (0x200C, 0x200D) and not 0xE0020 <= cp <= 0xE007F
    )


def _is_pictographic(ch: str, cp: int) -> bool:
    """Extended_Pictographic, approximately: symbols and the emoji blocks."""
    return (
        unicodedata.category(ch) == "So"
        or 0x1F000 <= cp <= 0x1FAFF
        or 0x2600 <= cp <= 0x27BF
        or cp in (0x00A9, 0x00AE, 0x203C, 0x2049, 0x2122, 0x2139, 0x3030, 0x303D)
    )


def _hangul(cp: int) -> str:
    """Hangul_Syllable_Type: L, V, T, LV, LVT or ''."""
    if 0x1100 <= cp <= 0x115F or 0xA960 <= cp <= 0xA97C:
        return "L"
    if 0x1160 <= cp <= 0x11A7 or 0xD7B0 <= cp <= 0xD7C6:
        return "V"
    if 0x11A8 <= cp <= 0x11FF or 0xD7CB <= cp <= 0xD7FB:
        return "T"
    if 0xAC00 <= cp <= 0xD7A3:
        return "LV" if (cp - 0xAC00) % 28 == 0 else "LVT"
    return ""


def grapheme_count(text: str) -> int:
    """User-perceived characters, as Bluesky counts its 300-grapheme limit.

    A careful stdlib approximation of the Unicode extended grapheme cluster
    rules (UAX #29): CR LF, controls, Hangul syllables, combining marks and
    spacing marks, emoji modifier and ZWJ sequences, flag pairs and tag
    sequences. It leaves out Prepend characters and Indic conjuncts (GB9c), so
    for those it counts *more* clusters than Bluesky does: a reply may be
    refused here that the server would have taken, never the other way round.
    """
    count = 0
    prev: str | None = None
    prev_hangul = ""
    pictographic_run = False  # the cluster is an emoji followed only by Extend/ZWJ so far
    regional_run = 0
    for ch in text:
        cp = ord(ch)
        hangul = _hangul(cp)
        if prev is None:
            joins = False
        else:
            pcp = ord(prev)
            if prev == "\r" and ch == "\n":
                joins = True
            elif _is_control(prev, pcp) or _is_control(ch, cp):
                joins = False
            elif (
                (prev_hangul == "L" and hangul in ("L", "V", "LV", "LVT"))
                or (prev_hangul in ("LV", "V") and hangul in ("V", "T"))
                or (prev_hangul in ("LVT", "T") and hangul == "T")
            ):
                joins = True
            elif _is_extend(ch, cp) or cp == 0x200D or unicodedata.category(ch) == "Mc":
                joins = True
            elif pcp == 0x200D and pictographic_run and _is_pictographic(ch, cp):
                joins = True
            elif _is_regional(pcp) and _is_regional(cp) and regional_run % 2 == 1:
                joins = True
            else:
                joins = False
        if not joins:
            count += 1
            pictographic_run = _is_pictographic(ch, cp)
            regional_run = 0
        elif _is_pictographic(ch, cp) and not _is_extend(ch, cp):
            pictographic_run = True
        elif not (_is_extend(ch, cp) or cp == 0x200D):
            pictographic_run = False
        regional_run = regional_run + 1 if _is_regional(cp) else 0
        prev, prev_hangul = ch, hangul
    return count


# -- helpers ---------------------------------------------------------------------
def post_url(uri: str, handle: str) -> str:
    """The bsky.app web link of a post ``at://DID/app.bsky.feed.post/RKEY``."""
    parts = uri.removeprefix("at://").split("/")
    actor = handle if handle and handle != "handle.invalid" else parts[0]
    rkey = parts[-1] if len(parts) >= 3 else ""
    return f"https://bsky.app/profile/{actor}/post/{rkey}"


def _dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (lists of the API may hold junk)."""
    return value if isinstance(value, dict) else {}


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_iso(value)
    except ValueError:
        return None


def _iso(dt: datetime) -> str:
    """ISO text with microseconds: Bluesky times differ in the millisecond."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _link_facets(text: str) -> list[dict[str, Any]]:
    """Rich-text facets that make the links of ``text`` clickable (byte offsets, UTF-8)."""
    facets = []
    for match in _LINK.finditer(text):
        start = len(text[: match.start()].encode("utf-8"))
        end = start + len(match.group().encode("utf-8"))
        facets.append(
            {
                "index": {"byteStart": start, "byteEnd": end},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": match.group()}],
            }
        )
    return facets


@dataclass
class _Mark:
    """The stored cursor: the newest time seen and the URIs seen at exactly that time."""

    at: datetime | None = None
    ids: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str | None, query: str) -> _Mark:
        if not text:
            return cls()
        try:
            data = json.loads(text)
            at = parse_iso(str(data["at"]))
            ids = frozenset(str(i) for i in data.get("ids", []))
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning(
                "ignoring bluesky cursor %r for %r: not a cursor of this adapter", text, query
            )
            return cls()
        return cls(at, ids)

    def text(self) -> str | None:
        if self.at is None:
            return None
        return json.dumps({"at": _iso(self.at), "ids": sorted(self.ids)})

    def covers(self, at: datetime, uri: str) -> bool:
        """Whether an item at ``at`` was already seen (older, or listed at the same time)."""
        return self.at is not None and (at < self.at or (at == self.at and uri in self.ids))

    def advance(self, at: datetime, uri: str) -> _Mark:
        if self.at is None or at > self.at:
            return _Mark(at, frozenset({uri}))
        if at == self.at:
            return _Mark(at, self.ids | {uri})
        return self


@dataclass
class _Session:
    did: str
    handle: str
    access_jwt: str
    refresh_jwt: str


#: one fetched item: its URI, its sort time and the mention (None: not one we keep)
_Item = tuple[str, datetime, Mention | None]


class BlueskySource(HttpSource):
    """Bluesky (AT Protocol) over XRPC with httpx.

    Config keys of ``[sources.bluesky]``:

    * ``handle``: the account's handle, e.g. ``acme.bsky.social`` (required);
    * ``app_password_env``: variable holding an app password (default ``BLUESKY_APP_PASSWORD``);
    * ``service`` (default ``https://bsky.social``): the account's PDS;
    * ``notifications`` (default true): mentions, replies and quotes of the account;
    * ``searches``: keyword searches (``app.bsky.feed.searchPosts``, newest first);
    * ``dms`` (default false): poll chat conversations (an app password with DM access);
    * ``limit`` (1..100, default 50) items per page; ``max_pages`` (default 10) per poll;
    * ``max_wait_seconds`` (default 60) and ``timeout_seconds`` (default 20).
    """

    name = "bluesky"
    config_keys = HTTP_CONFIG_KEYS | {
        "handle",
        "app_password_env",
        "service",
        "notifications",
        "searches",
        "limit",
        "max_pages",
        "dms",
    }
    platform = "Bluesky"
    description = "Bluesky: keyword search and mention/reply/quote notifications (XRPC)"
    env_vars = (_DEFAULT_PASSWORD_ENV,)
    max_length = _MAX_GRAPHEMES
    dm_policy = DmPolicy(
        reads=True, sends=True, starts="open", max_length=_CHAT_MAX_GRAPHEMES, unit="graphemes",
        note="chat through the PDS; the app password needs DM access, and the customer's "
        "chat settings decide who may open a conversation",
    )  # fmt: skip

    def _configure(self) -> None:
        """Validate ``[sources.bluesky]`` and point ``self.api`` at the platform."""
        service = self.config.get("service", _DEFAULT_SERVICE)
        if not isinstance(service, str) or not re.match(r"https?://[^/\s]+", service.strip()):
            raise ConfigError(f"sources.bluesky.service must be a URL, got {service!r}")
        self.service = service.strip().rstrip("/")
        self.api.base_url = self.service
        handle = self.config.get("handle")
        if not isinstance(handle, str) or not handle.strip().lstrip("@"):
            raise ConfigError(
                'sources.bluesky.handle must be the account\'s handle, e.g. "acme.bsky.social"'
            )
        self.handle = handle.strip().lstrip("@")
        self.notifications = self._bool_setting("notifications", True)
        searches = self.config.get("searches", [])
        if not isinstance(searches, list) or not all(
            isinstance(s, str) and s.strip() for s in searches
        ):
            raise ConfigError("sources.bluesky.searches must be a list of non-empty strings")
        self.searches = list(dict.fromkeys(s.strip() for s in searches))
        self.dms = self._bool_setting("dms", False)
        self.limit = self._int_setting("limit", 50, 1, 100)
        self.max_pages = self._int_setting("max_pages", 10, 1, None)
        self._session: _Session | None = None
        #: entries of the page being fetched that could not be read (see ``_item``)
        self._skipped: list[dict[str, Any]] = []

    # -- session --------------------------------------------------------------
    @property
    def _password_env(self) -> str:
        return str(self.config.get("app_password_env", _DEFAULT_PASSWORD_ENV))

    def check_credentials(self) -> None:
        """Every call needs a session, so the app password is always required."""
        credential(self.config, "app_password", _DEFAULT_PASSWORD_ENV, self.name)

    def _login(self) -> _Session:
        """A new session from handle + app password (createSession is rate-limited: use sparingly)."""
        password = credential(self.config, "app_password", _DEFAULT_PASSWORD_ENV, self.name)
        response = self.api.request(
            "POST",
            "/xrpc/com.atproto.server.createSession",
            what=f"login as {self.handle}",
            json={"identifier": self.handle, "password": password},
        )
        if response.status_code == 401:
            raise AuthError(
                f"Bluesky rejected the login of {self.handle} ({api_reason(response)}): set an "
                f"app password of that account in {self._password_env} "
                "(sources.bluesky.app_password_env)"
            )
        if response.status_code >= 400:
            raise api_error("Bluesky", f"login as {self.handle}", response)
        self._session = self._session_from(self.api.json(response, "login"))
        return self._session

    def _refresh(self) -> _Session | None:
        """Swap the refresh token for new tokens; ``None`` if the server refuses."""
        if self._session is None:
            return None
        response = self.api.request(
            "POST",
            "/xrpc/com.atproto.server.refreshSession",
            what="session refresh",
            headers={"Authorization": f"Bearer {self._session.refresh_jwt}"},
        )
        if response.status_code >= 400:
            log.info("Bluesky session refresh failed (%s); logging in again", api_reason(response))
            return None
        self._session = self._session_from(self.api.json(response, "session refresh"))
        return self._session

    def _session_from(self, body: Any) -> _Session:
        try:
            return _Session(
                did=str(body["did"]),
                handle=str(body.get("handle") or self.handle),
                access_jwt=str(body["accessJwt"]),
                refresh_jwt=str(body["refreshJwt"]),
            )
        except (KeyError, TypeError):
            raise SourceError("Bluesky API error (login): the response has no session") from None

    @staticmethod
    def _error_name(response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return ""
        return str(body.get("error") or "") if isinstance(body, dict) else ""

    def _xrpc(
        self,
        method: str,
        nsid: str,
        *,
        what: str,
        params: Any = None,
        body: Any = None,
        write: bool = False,
        proxy: str | None = None,
    ) -> dict[str, Any]:
        """One authenticated XRPC call; on ExpiredToken refresh (or log in) and retry once.

        ``proxy`` asks the PDS to forward the call to that service (``atproto-proxy``).
        """
        session = self._session or self._login()

        def send(token: str) -> httpx.Response:
            headers = {"Authorization": f"Bearer {token}"}
            if proxy:
                headers["atproto-proxy"] = proxy
            return self.api.request(
                method,
                f"/xrpc/{nsid}",
                what=what,
                params=params,
                json=body,
                headers=headers,
                retry_unsent_only=write,
            )

        response = send(session.access_jwt)
        if response.status_code in (400, 401) and self._error_name(response) == "ExpiredToken":
            log.info("Bluesky access token expired (%s); refreshing the session", what)
            session = self._refresh() or self._login()
            response = send(session.access_jwt)
        if proxy == CHAT_PROXY and "bad token" in api_reason(response).lower():
            raise AuthError(
                f"Bluesky refused {what} ({api_reason(response)}): this app password has no "
                'access to direct messages. Create one with "Allow access to your direct '
                f'messages" ticked (Settings > Privacy and security > App passwords) and set '
                f"it in {self._password_env}"
            )
        if response.status_code == 401 or (
            response.status_code == 400
            and self._error_name(response) in ("ExpiredToken", "InvalidToken")
        ):
            raise AuthError(
                f"Bluesky rejected the session of {self.handle} ({what}: {api_reason(response)}): "
                f"check the app password in {self._password_env}"
            )
        if response.status_code >= 400:
            raise api_error("Bluesky", what, response)
        result = self.api.json(response, what, created=write)
        if not isinstance(result, dict):
            error = SendOutcomeUnknown if write else SourceError
            raise error(f"Bluesky API error ({what}): expected an object, got {result!r:.80}")
        return result

    def is_own(self, mention: Mention) -> bool:
        """The logged-in account (by handle or DID) counts as the brand's own, besides
        ``brand_handles``: its posts turn up in searches and must never queue."""
        if super().is_own(mention) or mention.author_handle.lower() == self.handle.lower():
            return True
        return self._session is not None and mention.author_id == self._session.did

    # -- normalising ------------------------------------------------------------
    def _mention(
        self,
        *,
        uri: str,
        cid: str,
        author: dict[str, Any],
        record: dict[str, Any],
        indexed_at: str,
        query: str,
        reason: str | None = None,
    ) -> Mention:
        reply = _dict(record.get("reply"))
        embed = _dict(record.get("embed"))
        if reply:
            kind = "reply"
        elif embed.get("$type") in _QUOTE_EMBEDS:
            kind = "quote"
        else:
            kind = "post"
        langs = record.get("langs")
        handle = str(author.get("handle") or author.get("did") or "")
        created = _time(record.get("createdAt")) or _time(indexed_at)
        parent = str((reply.get("parent") or {}).get("uri") or "") if reply else ""
        root = str((reply.get("root") or {}).get("uri") or "") if reply else ""
        raw: dict[str, Any] = {
            "uri": uri,
            "cid": cid,
            "record": record,
            "author": author,
            "indexedAt": indexed_at,
        }
        if reason:
            raw["reason"] = reason
        return Mention(
            source=self.name,
            native_id=uri,
            text=str(record.get("text") or ""),
            created_at=created or datetime.fromtimestamp(self.clock(), tz=timezone.utc),
            # a DID is the identity; a handle only if real (never "handle.invalid" or "")
            author_id=identity(author.get("did")) or identity(handle, _PLACEHOLDER_HANDLES),
            author_handle=handle,
            author_name=str(author.get("displayName") or ""),
            url=post_url(uri, handle),
            language=str(langs[0]) if isinstance(langs, list) and langs else None,
            conversation_id=root or uri,
            parent_id=parent or None,
            query=query,
            kind=kind,
            raw=raw,
        )

    def _sort_time(self, indexed_at: Any, record: dict[str, Any]) -> datetime:
        """The AppView's ``sortAt``; an item with no readable time cannot be placed.

        "Now" would be a lie that moves the cursor past every older post still
        to come, so such an item is skipped (and recorded) instead.
        """
        times = [t for t in (_time(indexed_at), _time(record.get("createdAt"))) if t is not None]
        if not times:
            raise ValueError("no usable time (neither indexedAt nor record.createdAt)")
        return min(times)

    def _item(
        self,
        build: Callable[[dict[str, Any], str], _Item],
        raw: Any,
        skipped: list[dict[str, Any]],
        query: str,
    ) -> _Item | None:
        """One list entry as an item, or None when it cannot be read (skipped and recorded)."""
        if not isinstance(raw, dict):
            self.skip(skipped, "not an object", raw, query=query)
            return None
        try:
            uri, at, mention = build(raw, query)
        except Exception as exc:  # one odd entry is that entry's problem, never the page's
            self.skip(skipped, f"cannot normalise: {type(exc).__name__}: {exc}", raw, query=query)
            return None
        return uri, at, sanitise_mention(mention) if mention is not None else None

    def _post_item(self, post: dict[str, Any], query: str) -> _Item:
        record = _dict(post.get("record"))
        uri = identity(post.get("uri"))
        if not uri:
            raise ValueError("no uri")
        at = self._sort_time(post.get("indexedAt"), record)
        mention = self._mention(
            uri=uri,
            cid=str(post.get("cid") or ""),
            author=post.get("author") or {},
            record=record,
            indexed_at=str(post.get("indexedAt") or ""),
            query=query,
        )
        return uri, at, mention

    def _notification_item(self, note: dict[str, Any], query: str) -> _Item:
        record = _dict(note.get("record"))
        uri = identity(note.get("uri"))
        if not uri:
            raise ValueError("no uri")
        at = self._sort_time(note.get("indexedAt"), record)
        reason = str(note.get("reason") or "")
        if reason not in _KEEP_REASONS:
            return uri, at, None
        mention = self._mention(
            uri=uri,
            cid=str(note.get("cid") or ""),
            author=note.get("author") or {},
            record=record,
            indexed_at=str(note.get("indexedAt") or ""),
            query=query,
            reason=reason,
        )
        return uri, at, mention

    # -- polling ----------------------------------------------------------------
    def queries(self) -> list[str]:
        """``notifications`` (if enabled) and ``search:TEXT`` per search."""
        out = [NOTIFICATIONS_QUERY] if self.notifications else []
        out += [CHAT_QUERY] if self.dms else []
        out += [_SEARCH_PREFIX + s for s in self.searches]
        if not out:
            raise ConfigError(
                "sources.bluesky has nothing to poll: set notifications = true and/or searches"
            )
        return out

    def poll(self, query: str, cursor: str | None) -> Iterator[Page]:
        """Yield newest-first pages down to the stored cursor; the last one carries the new one."""
        fetch: Callable[[str, str | None], tuple[list[_Item], str | None]]
        if query == CHAT_QUERY:
            yield from self._poll_chat(cursor)
            return
        if query == NOTIFICATIONS_QUERY:
            fetch = self._fetch_notifications
        elif query.startswith(_SEARCH_PREFIX):
            fetch = self._search_fetcher(query[len(_SEARCH_PREFIX) :])
        else:
            raise ConfigError(
                f"unknown bluesky query {query!r}: expected 'notifications' or 'search:TEXT'"
            )
        yield from self._poll(query, cursor, fetch)

    def _fetch_notifications(
        self, query: str, page_cursor: str | None
    ) -> tuple[list[_Item], str | None]:
        params: list[tuple[str, str | int]] = [("limit", self.limit)]
        params += [("reasons", r) for r in _KEEP_REASONS]  # the server filters; we check again
        if page_cursor:
            params.append(("cursor", page_cursor))
        body = self._xrpc(
            "GET", "app.bsky.notification.listNotifications", what="notifications", params=params
        )
        notes = body.get("notifications") or []
        skipped = self._skipped
        items = [i for n in notes if (i := self._item(self._notification_item, n, skipped, query))]
        return items, body.get("cursor") or None

    def _search_fetcher(
        self, text: str
    ) -> Callable[[str, str | None], tuple[list[_Item], str | None]]:
        def fetch(query: str, page_cursor: str | None) -> tuple[list[_Item], str | None]:
            params: dict[str, str | int] = {"q": text, "sort": "latest", "limit": self.limit}
            if page_cursor:
                params["cursor"] = page_cursor
            body = self._xrpc(
                "GET", "app.bsky.feed.searchPosts", what=f"search {text!r}", params=params
            )
            posts = body.get("posts") or []
            skipped = self._skipped
            items = [i for p in posts if (i := self._item(self._post_item, p, skipped, query))]
            return items, body.get("cursor") or None

        return fetch

    def _poll(
        self,
        query: str,
        cursor: str | None,
        fetch: Callable[[str, str | None], tuple[list[_Item], str | None]],
    ) -> Iterator[Page]:
        seen = _Mark.parse(cursor, query)
        newest = seen
        page_cursor: str | None = None
        pages = 0
        while True:
            self._skipped = []
            items, page_cursor = fetch(query, page_cursor)
            skipped, self._skipped = self._skipped, []
            pages += 1
            mentions: list[Mention] = []
            reached = False
            for uri, at, mention in items:
                if seen.covers(at, uri):
                    reached = True  # newest first: the rest of the list is stored already
                    continue
                newest = newest.advance(at, uri)
                if mention is not None:
                    mentions.append(mention)
            last = reached or not items or not page_cursor or pages >= self.max_pages
            if last and not reached and items and page_cursor:
                log.warning(
                    "bluesky %r: stopped at max_pages=%d; older posts of this poll are skipped",
                    query,
                    self.max_pages,
                )
            remaining, reset = self.api.last_rate_limit
            yield Page(
                mentions,
                cursor=newest.text() if last else None,
                rate_limit_remaining=remaining,
                rate_limit_reset=reset,
                skipped=skipped,
            )
            if last:
                return

    # -- chat -----------------------------------------------------------------------
    def _chat(self, method: str, nsid: str, *, what: str, **kw: Any) -> dict[str, Any]:
        """An XRPC call the PDS forwards to the chat service."""
        return self._xrpc(method, nsid, what=what, proxy=CHAT_PROXY, **kw)

    def _message_mention(
        self, message: dict[str, Any], convo_id: str, members: dict[str, dict[str, Any]]
    ) -> Mention:
        """One ``chat.bsky.convo.defs#messageView`` as a ``dm`` mention of its conversation."""
        native = identity(message.get("id"))
        if not native:
            raise ValueError("message without an id")
        sender = identity(_dict(message.get("sender")).get("did"))
        profile = members.get(sender, {})
        handle = identity(profile.get("handle"), _PLACEHOLDER_HANDLES)
        at = _time(message.get("sentAt"))
        if at is None:
            raise ValueError(f"no usable sentAt ({message.get('sentAt')!r})")
        return Mention(
            source=self.name,
            native_id=native,
            text=str(message.get("text") or ""),
            created_at=at,
            author_id=sender,
            author_handle=handle or sender,
            author_name=str(profile.get("displayName") or ""),
            url=f"https://bsky.app/messages/{convo_id}",
            conversation_id=convo_id,
            query=CHAT_QUERY,
            kind="dm",
            raw={"message": message, "convo_id": convo_id},
        )

    def _convo_messages(
        self, convo: dict[str, Any], seen: _Mark, skipped: list[dict[str, Any]]
    ) -> list[tuple[datetime, Mention]]:
        """The conversation's messages newer than ``seen``, newest first (``getMessages``)."""
        convo_id = str(convo["id"])
        members = {str(m.get("did")): m for m in convo.get("members") or [] if isinstance(m, dict)}
        out: list[tuple[datetime, Mention]] = []
        page_cursor: str | None = None
        for _ in range(self.max_pages):
            params: dict[str, str | int] = {"convoId": convo_id, "limit": self.limit}
            if page_cursor:
                params["cursor"] = page_cursor
            body = self._chat(
                "GET", "chat.bsky.convo.getMessages", what="chat messages", params=params
            )
            reached = False
            for message in body.get("messages") or []:
                if not isinstance(message, dict) or "#deletedMessageView" in str(
                    message.get("$type") or ""
                ):
                    continue  # deleted: nothing to read or answer
                at = _time(message.get("sentAt"))
                if at is not None and seen.covers(at, str(message.get("id"))):
                    reached = True
                    break
                mention = self.normalise(
                    partial(self._message_mention, message, convo_id, members),
                    message, skipped, query=CHAT_QUERY,
                )  # fmt: skip
                if mention is not None:
                    out.append((mention.created_at, mention))
            page_cursor = body.get("cursor") or None
            if reached or not page_cursor:
                break
        return out

    def _poll_chat(self, cursor: str | None) -> Iterator[Page]:
        """``listConvos`` newest activity first, down to the cursor; each newer convo's
        messages. One page of conversations is one page of mentions."""
        seen = _Mark.parse(cursor, CHAT_QUERY)
        newest = seen
        page_cursor: str | None = None
        pages = 0
        while True:
            params: dict[str, str | int] = {"limit": min(self.limit, 100)}
            if page_cursor:
                params["cursor"] = page_cursor
            body = self._chat(
                "GET", "chat.bsky.convo.listConvos", what="chat conversations", params=params
            )
            pages += 1
            skipped: list[dict[str, Any]] = []
            mentions: list[Mention] = []
            reached = False
            convos = body.get("convos") or []
            for convo in convos:
                if not isinstance(convo, dict) or not identity(convo.get("id")):
                    self.skip(skipped, "no conversation id", convo, query=CHAT_QUERY)
                    continue
                last = _dict(convo.get("lastMessage"))
                at = _time(last.get("sentAt"))
                if at is None:
                    continue  # no message, or only a deleted one: nothing to answer
                if seen.covers(at, str(last.get("id"))):
                    reached = True  # less recently active conversations are stored already
                    break
                for msg_at, mention in self._convo_messages(convo, seen, skipped):
                    newest = newest.advance(msg_at, mention.native_id)
                    mentions.append(mention)
            page_cursor = body.get("cursor") or None
            last_page = reached or not convos or not page_cursor or pages >= self.max_pages
            remaining, reset = self.api.last_rate_limit
            yield Page(
                mentions,
                cursor=newest.text() if last_page else None,
                rate_limit_remaining=remaining,
                rate_limit_reset=reset,
                skipped=skipped,
            )
            if last_page:
                return

    def dm_length(self, text: str) -> int:
        """Grapheme clusters, which is what the chat's 1,000 limit counts."""
        return grapheme_count(text)

    def send_dm(self, mention: Mention, text: str) -> SentPost:
        """``sendMessage`` into a DM's conversation, or into the one-to-one conversation
        with the author (``getConvoForMembers`` finds or makes it)."""
        if mention.source != self.name:
            raise SourceError(f"cannot send a Bluesky message about a {mention.source} mention")
        if len(text.encode("utf-8")) > _CHAT_MAX_BYTES:
            raise SourceError(f"the message is over {_CHAT_MAX_BYTES} bytes of UTF-8: shorten it")
        convo_id = mention.conversation_id if mention.kind == "dm" else None
        if not convo_id:
            if not mention.author_id:
                raise SourceError(f"{mention.id} has no known author to message")
            found = self._chat(
                "GET", "chat.bsky.convo.getConvoForMembers", what="open a chat",
                params={"members": mention.author_id},
            )  # fmt: skip
            convo_id = identity(_dict(found.get("convo")).get("id"))
            if not convo_id:
                raise SourceError("Bluesky API error (open a chat): the response has no convo id")
        what = f"chat message about {mention.id}"
        sent = self._chat(
            "POST", "chat.bsky.convo.sendMessage", what=what,
            body={"convoId": convo_id, "message": {"text": text}}, write=True,
        )  # fmt: skip
        message_id = identity(sent.get("id"))
        if not message_id:
            raise SendOutcomeUnknown(
                f"Bluesky API error ({what}): the response has no message id: it may have been sent"
            )
        return SentPost(native_id=message_id, url=f"https://bsky.app/messages/{convo_id}")

    # -- publishing -------------------------------------------------------------
    def _check_text(self, text: str) -> None:
        if len(text.encode("utf-8")) > _MAX_BYTES:
            raise SourceError(
                f"the text is {len(text.encode('utf-8'))} bytes of UTF-8; Bluesky allows "
                f"{_MAX_BYTES} (emoji sequences count many bytes): shorten it"
            )

    def _create_post(self, what: str, record: dict[str, Any]) -> SentPost:
        session = self._session or self._login()
        result = self._xrpc(
            "POST",
            "com.atproto.repo.createRecord",
            what=what,
            body={"repo": session.did, "collection": "app.bsky.feed.post", "record": record},
            write=True,  # no idempotency key: never resend a request that may have arrived
        )
        uri = result.get("uri")
        if not isinstance(uri, str) or not uri:
            raise SendOutcomeUnknown(
                f"Bluesky API error ({what}): the response has no uri: it may have been published"
            )
        handle = self._session.handle if self._session else self.handle
        return SentPost(native_id=uri, url=post_url(uri, handle))

    def _record(self, text: str) -> dict[str, Any]:
        now = datetime.fromtimestamp(self.clock(), tz=timezone.utc)
        record: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        }
        facets = _link_facets(text)
        if facets:
            record["facets"] = facets
        return record

    def _refs(self, mention: Mention) -> dict[str, Any]:
        """``{root, parent}`` strong refs for a reply to ``mention``."""
        uri, cid = mention.raw.get("uri") or mention.native_id, mention.raw.get("cid")
        record = mention.raw.get("record")
        if not cid or not isinstance(record, dict):  # e.g. stored before cids were kept
            fetched = self.fetch([mention.native_id])
            if not fetched:
                raise SourceError(f"cannot reply to {mention.id}: the post no longer exists")
            uri, cid = fetched[0].raw["uri"], fetched[0].raw["cid"]
            record = fetched[0].raw["record"]
        parent = {"uri": str(uri), "cid": str(cid)}
        reply = record.get("reply") if isinstance(record, dict) else None
        root = reply.get("root") if isinstance(reply, dict) else None
        if isinstance(root, dict) and root.get("uri") and root.get("cid"):
            return {"root": {"uri": str(root["uri"]), "cid": str(root["cid"])}, "parent": parent}
        return {"root": parent, "parent": parent}

    def reply(self, mention: Mention, text: str) -> SentPost:
        """Reply to ``mention`` in its thread (root = the thread's first post)."""
        if mention.source != self.name:
            raise SourceError(
                f"cannot reply on Bluesky to a {mention.source} mention ({mention.id})"
            )
        self._check_text(text)
        record = self._record(text)
        record["reply"] = self._refs(mention)
        return self._create_post(f"reply to {mention.id}", record)

    def post(self, text: str) -> SentPost:
        """Publish a new post (announcements)."""
        self._check_text(text)
        return self._create_post("post", self._record(text))

    def fetch(self, native_ids: list[str]) -> list[Mention]:
        """Look posts up by ``at://`` URI; deleted ones are left out."""
        uris = list(dict.fromkeys(native_ids))
        out: list[Mention] = []
        for start in range(0, len(uris), _GET_POSTS_BATCH):
            chunk = uris[start : start + _GET_POSTS_BATCH]
            body = self._xrpc(
                "GET",
                "app.bsky.feed.getPosts",
                what=f"lookup of {len(chunk)} post(s)",
                params=[("uris", u) for u in chunk],
            )
            for post in body.get("posts") or []:
                item = self._item(self._post_item, post, [], "fetch")
                if item is not None and item[2] is not None:
                    out.append(item[2])
        return out

    def text_length(self, text: str) -> int:
        """Grapheme clusters, which is what Bluesky's 300 limit counts."""
        return grapheme_count(text)
