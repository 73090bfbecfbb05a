"""The App Store source: customer reviews of your apps, via the App Store Connect API.

It lists ``GET /v1/apps/{id}/customerReviews`` newest first (``sort=-createdDate``,
JSON:API with ``links.next`` paging) and answers with ``POST
/v1/customerReviewResponses``. Requests carry an ES256 JWT signed with an App
Store Connect API key (issuer id, key id and the ``.p8`` private key file),
made with PyJWT and renewed before its 20-minute lifetime runs out.

This module also holds :class:`ReviewSource`, the base the three review
adapters share (``appstore``, ``googleplay``, ``gbp``), because a review
listing works the same everywhere:

* **newest first by the time the platform last changed a review**, so an edited
  review comes back on top with the same ``native_id`` (its ``updated_at`` and
  new text and rating let the store update it);
* the cursor is JSON ``{"ts": newest update time, "ids": [reviews at that time]}``
  and each page gives ``Page.newest``/``oldest``/``complete`` (``newest_first``):
  a cut-short poll leaves a gap the engine backfills through ``poll_range``,
  which walks the listing again from the top, skipping what is above the gap
  (none of these APIs can start below a given review);
* one developer response per review: replying again replaces it
  (``reply_replaces``; :meth:`ReviewSource.existing_reply` says what would be
  replaced), and a response written on the platform itself comes in as an own
  ``reply`` mention whose parent is the review, so the ingest marks the review
  answered natively;
* reviewers are nicknames, not accounts: each review gets its own author id
  ``review:<native id>``, so two reviewers who share a nickname (or an empty one)
  are never merged into one customer, and nothing links reviews by accident;
* an item that cannot be read (no id, no time, a rating outside 1..5) is
  logged and skipped; it never ends the poll.
"""

from __future__ import annotations

import json
import logging
from abc import abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar, Iterator
from urllib.parse import quote

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from ..config import credential
from ..errors import AuthError, ConfigError, MissingCredential, SourceError, UsageError
from ..models import Mention, Page, SentPost, parse_iso, to_iso
from .http import HTTP_CONFIG_KEYS, HttpSource

__all__ = [
    "AppStoreSource",
    "RESPONSE_SUFFIX",
    "Review",
    "ReviewSource",
    "review_author_id",
    "review_text",
    "star_rating",
]

log = logging.getLogger("socialcare.sources.appstore")

#: native id suffix of the developer response to a review: ``<review id>:response``
RESPONSE_SUFFIX = ":response"
API_URL = "https://api.appstoreconnect.apple.com"
#: Apple refuses tokens that live longer than 20 minutes; keep a margin for clock drift
TOKEN_LIFETIME_SECONDS = 15 * 60
#: renew the token when less than this is left, so a request never carries a dying one
_TOKEN_RENEW_SECONDS = 60
_DEFAULT_ENVS = {
    "issuer_id": "APPSTORE_ISSUER_ID",
    "key_id": "APPSTORE_KEY_ID",
    "private_key_file": "APPSTORE_PRIVATE_KEY_FILE",
}
_KEY_HELP = (
    "create a key in App Store Connect (Users and Access > Integrations > App Store Connect "
    "API, role Customer Support, App Manager or Admin)"
)


def review_text(title: str, body: str) -> str:
    """The text a review is stored with: the title on its own line, then the body."""
    title, body = title.strip(), body.strip()
    return f"{title}\n{body}" if title and body else title or body


def review_author_id(native_id: str) -> str:
    """An author id that identifies one review only (reviewers are nicknames, not accounts)."""
    return f"review:{native_id}"


def star_rating(value: Any) -> int:
    """A 1..5 star rating, or ``ValueError`` (an item with another value is skipped)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise ValueError(f"rating {value!r} is not 1..5")
    return value


@dataclass(frozen=True)
class Review:
    """One listed review: the time the listing is ordered by, and the mentions it yields."""

    native_id: str
    ts: float
    mentions: list[Mention] = field(default_factory=list)


@dataclass(frozen=True)
class _Cursor:
    """Newest update time stored and the review ids carrying exactly that time."""

    ts: float | None = None
    ids: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str | None, source: str, query: str) -> _Cursor:
        """Read a stored cursor; None or unreadable text means "from the newest"."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            return cls(float(data["ts"]), frozenset(str(i) for i in data["ids"]))
        except (ValueError, TypeError, KeyError):
            # Starting over re-reads at most max_pages pages, and the store de-duplicates.
            log.warning("%s [%s]: ignoring unreadable cursor %r", source, query, text)
            return cls()

    def is_old(self, ts: float) -> bool:
        """Strictly older than the cursor: everything from here down was seen before."""
        return self.ts is not None and ts < self.ts

    def seen(self, ts: float, native_id: str) -> bool:
        """Stored last time although it shares the cursor's time."""
        return ts == self.ts and native_id in self.ids

    def rewound(self, seconds: float) -> _Cursor:
        """A cursor ``seconds`` earlier that remembers no ids: everything since is re-read."""
        if self.ts is None or seconds <= 0:
            return self
        return _Cursor(self.ts - seconds)

    def advanced(self, ts: float, native_id: str) -> _Cursor:
        """The cursor after also having stored this review."""
        if self.ts is None or ts > self.ts:
            return _Cursor(ts, frozenset({native_id}))
        if ts == self.ts:
            return _Cursor(ts, self.ids | {native_id})
        return self

    def dump(self) -> str:
        """The JSON text kept in the store's cursors table."""
        return json.dumps({"ts": self.ts, "ids": sorted(self.ids)})


def _position(ts: float, native_id: str) -> str:
    """Where a review sits in the listing: ``Page.oldest`` and a gap's ``until``."""
    return json.dumps({"ts": ts, "id": native_id})


def _position_ts(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return float(json.loads(text)["ts"])
    except (ValueError, TypeError, KeyError):
        return None


#: the keys every review adapter reads, besides the engine's
REVIEW_CONFIG_KEYS = HTTP_CONFIG_KEYS | {"limit", "max_pages"}


class ReviewSource(HttpSource):
    """Base of the review adapters: the newest-first walk, responses and their rules.

    Subclasses implement ``_list`` (one listing page), ``_review`` (one item),
    ``_auth_headers``, ``_error`` and ``reply``. Config keys every review source
    reads: ``limit`` (page size), ``max_pages`` (default 10 per poll),
    ``overlap_seconds``, ``max_wait_seconds`` and ``timeout_seconds``.
    """

    newest_first = True
    config_keys: ClassVar[frozenset[str] | None] = REVIEW_CONFIG_KEYS
    #: one response per review: a second reply replaces the first (the CLI warns)
    reply_replaces: ClassVar[bool] = True
    #: author handle and id of the developer's (or owner's) responses
    response_author: ClassVar[str] = "developer"
    #: the config key listing what to poll, for messages ("apps")
    queries_key: ClassVar[str]
    #: largest page size the platform accepts
    page_max: ClassVar[int]

    def _configure(self) -> None:
        """Read the settings every review source shares."""
        self.limit = self._int_setting("limit", self.page_max, 1, self.page_max)
        self.max_pages = self._int_setting("max_pages", 10, 1, None)

    # -- what subclasses provide --------------------------------------------------
    @abstractmethod
    def _list(self, query: str, token: str | None) -> tuple[list[Any], str | None]:
        """One listing page: its raw items and the token of the next page (None: last)."""

    @abstractmethod
    def _review(self, item: Any, query: str) -> Review:
        """One raw item as a :class:`Review`; ``KeyError``/``TypeError``/``ValueError`` skip it."""

    @abstractmethod
    def _auth_headers(self) -> dict[str, str]:
        """The Authorization header for the next request (renewing the token if due)."""

    @abstractmethod
    def _error(self, response: httpx.Response, what: str) -> SourceError:
        """The error a 4xx answer means on this platform."""

    @abstractmethod
    def existing_reply(self, mention: Mention) -> str | None:
        """The response ``mention`` already has on the platform (a reply replaces it), or None."""

    # -- shared ---------------------------------------------------------------------
    def _call(
        self, method: str, url: str, *, what: str, params: Any = None, json: Any = None
    ) -> httpx.Response:
        """One authenticated request; 4xx answers become the platform's error.

        Writes are retried like reads: a review has one response, so sending the
        same one twice replaces it with itself and can never publish two.
        """
        response = self.api.request(
            method, url, what=what, params=params, json=json, headers=self._auth_headers()
        )
        if response.status_code >= 400:
            raise self._error(response, what)
        return response

    def is_own(self, mention: Mention) -> bool:
        """Only developer responses are ours: a reviewer may pick the brand's name as nickname."""
        return mention.native_id.endswith(RESPONSE_SUFFIX) and mention.kind == "reply"

    def _response(self, review: Mention, text: str, when: datetime, raw: dict[str, Any]) -> Mention:
        """The developer's response to ``review`` as an own reply (marks it answered)."""
        return Mention(
            source=self.name,
            native_id=review.native_id + RESPONSE_SUFFIX,
            text=text.strip(),
            created_at=when,
            author_id=self.response_author,
            author_handle=self.response_author,
            author_name=self.response_author,
            url=review.url,
            conversation_id=review.native_id,
            parent_id=review.native_id,
            query=review.query,
            kind="reply",
            raw=raw,
            updated_at=when,
            meta={"developer_response": True},
        )

    def _check_reply(self, mention: Mention, text: str) -> None:
        """Refuse, before sending anything, a reply the platform would reject."""
        if mention.source != self.name:
            raise SourceError(
                f"cannot reply on {self.platform} to a {mention.source} mention ({mention.id})"
            )
        if mention.native_id.endswith(RESPONSE_SUFFIX) or mention.kind != "review":
            raise UsageError(
                f"{mention.id} is not a review: on {self.platform} only reviews can be answered"
            )
        if not text.strip():
            raise UsageError("the reply is empty: nothing sent")
        limit = self.max_length
        if limit is not None and self.text_length(text) > limit:
            raise UsageError(
                f"reply is {self.text_length(text)} characters as {self.name} counts them; "
                f"the limit is {limit}: nothing sent"
            )

    def post(self, text: str) -> SentPost:
        """Reviews have no posts of their own: answer a review instead."""
        raise SourceError(f"{self.platform} has no posts: reply to a review instead")

    def queries(self) -> list[str]:
        """One query per configured app, package or location."""
        found = self._strings_setting(self.queries_key)
        if not found:
            raise ConfigError(
                f"sources.{self.name} has nothing to poll: set {self.queries_key} = [...]"
            )
        return found

    def position_key(self, value: str) -> tuple[float, str]:
        """Cursors and positions by time; at the same time a position sorts above the cursor."""
        try:
            data = json.loads(value)
            ts = float(data["ts"])
        except (ValueError, TypeError, KeyError):
            return (float("-inf"), "")
        return (ts, "1" if "id" in data else "0")

    def poll_range(self, query: str, after: str | None, until: str) -> Iterator[Page]:
        """Backfill a gap: reviews older than position ``until``, down to cursor ``after``."""
        return self.poll(query, after, until=until)

    def poll(self, query: str, cursor: str | None, *, until: str | None = None) -> Iterator[Page]:
        """Walk the listing newest first down to the cursor, one Page per listing page.

        The walk re-reads ``overlap_seconds`` below the cursor; with ``until``
        it skips what is newer than that position. It stops ``complete`` at the
        cursor or the listing's end, or incomplete at ``max_pages``.
        """
        if query not in self.queries():
            raise ConfigError(
                f"source '{self.name}' has no query '{query}' "
                f"(sources.{self.name}.{self.queries_key})"
            )
        real = _Cursor.parse(cursor, self.name, query)
        self._warn_history(query, real)
        old = real.rewound(self.overlap_seconds)
        new = real
        top = _position_ts(until)
        token: str | None = None
        pages = 0
        while True:
            items, token = self._list(query, token)
            mentions: list[Mention] = []
            oldest: str | None = None
            reached_cursor = False
            read = 0
            for item in items:
                try:
                    review = self._review(item, query)
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    log.warning(
                        "%s [%s]: skipping an unreadable review (%s: %s)",
                        self.name,
                        query,
                        type(exc).__name__,
                        exc,
                    )
                    continue
                if old.is_old(review.ts):
                    reached_cursor = True
                    break
                if top is not None and review.ts > top:
                    continue  # above the gap: stored already
                read += 1
                oldest = _position(review.ts, review.native_id)
                if old.seen(review.ts, review.native_id):
                    continue
                new = new.advanced(review.ts, review.native_id)
                mentions.extend(review.mentions)
            # A backfill re-walks from the top; pages wholly above the gap are skipped
            # without counting against max_pages, or a gap deeper than that never fills.
            if read or reached_cursor or top is None:
                pages += 1
            complete = reached_cursor or token is None or not items
            last = complete or pages >= self.max_pages
            if last and not complete:
                log.warning(
                    "%s [%s]: stopped at max_pages=%d; %s",
                    self.name,
                    query,
                    self.max_pages,
                    "older reviews of this first poll are skipped"
                    if real.ts is None
                    else "the older rest is a gap the next poll fills",
                )
            remaining, reset = self.api.last_rate_limit
            yield Page(
                mentions,
                cursor=(new.dump() if new.ts is not None else cursor) if last else None,
                rate_limit_remaining=remaining,
                rate_limit_reset=reset,
                newest=new.dump() if new.ts is not None else None,
                oldest=oldest,
                complete=complete,
                items_read=read,
            )
            if last:
                return

    def _warn_history(self, query: str, cursor: _Cursor) -> None:
        """Say so when the cursor is older than the platform lists: the rest is lost."""
        window = self.history_window
        if window is None or cursor.ts is None:
            return
        horizon = self.clock() - window.total_seconds()
        if cursor.ts < horizon:
            log.warning(
                "%s [%s]: the last poll reached %s, but %s lists only the last %d days: "
                "reviews changed in between cannot be fetched (poll at least every %d days)",
                self.name,
                query,
                to_iso(datetime.fromtimestamp(cursor.ts, tz=timezone.utc)),
                self.platform,
                window.days,
                window.days,
            )


# -- App Store Connect ------------------------------------------------------------------


def _apple_reason(response: httpx.Response) -> str:
    """Apple's own explanation: the first of the JSON:API ``errors``, in one line."""
    try:
        body = response.json()
    except ValueError:
        body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        parts = [str(first[k]) for k in ("code", "title", "detail") if first.get(k)]
        if parts:
            return " ".join(f"HTTP {response.status_code}: {': '.join(parts)}".split())[:300]
    return f"HTTP {response.status_code}: {response.reason_phrase or 'no explanation'}"


class AppStoreSource(ReviewSource):
    """App Store Connect API customer reviews over httpx.

    Config keys of ``[sources.appstore]``:

    * ``apps``: the Apple ids of the apps (the number in the App Store URL) (required);
    * ``issuer_id`` / ``key_id``: the API key's issuer and key ids, or ``issuer_id_env`` /
      ``key_id_env`` naming variables (default ``APPSTORE_ISSUER_ID``, ``APPSTORE_KEY_ID``);
    * ``private_key_file_env``: the variable holding the path of the ``.p8`` key
      (default ``APPSTORE_PRIVATE_KEY_FILE``);
    * ``limit`` (1..200, default 200) reviews per page; ``max_pages`` (default 10) per poll;
    * ``max_wait_seconds`` (default 60) and ``timeout_seconds`` (default 20).
    """

    name = "appstore"
    config_keys = REVIEW_CONFIG_KEYS | {
        "apps",
        "issuer_id",
        "key_id",
        "issuer_id_env",
        "key_id_env",
        "private_key_file_env",
    }
    platform = "App Store Connect"
    description = "App Store: customer reviews of your apps (App Store Connect API)"
    env_vars = tuple(_DEFAULT_ENVS.values())
    #: App Store Connect accepts responses of up to 5,970 characters
    max_length = 5970
    queries_key = "apps"
    page_max = 200

    def _configure(self) -> None:
        """Validate ``[sources.appstore]`` and point ``self.api`` at App Store Connect."""
        super()._configure()
        apps = self.config.get("apps", [])
        if isinstance(apps, list):  # TOML users write ids as numbers as often as strings
            apps = [str(a) if isinstance(a, int) and not isinstance(a, bool) else a for a in apps]
        if not isinstance(apps, list) or not all(isinstance(a, str) and a.isdigit() for a in apps):
            raise ConfigError(
                'sources.appstore.apps must list Apple app ids, e.g. apps = ["1234567890"]'
            )
        self.apps = list(dict.fromkeys(apps))
        self.api.base_url = API_URL
        self._token: str | None = None
        self._token_expires = 0.0

    def queries(self) -> list[str]:
        """One query per app id."""
        if not self.apps:
            raise ConfigError('sources.appstore has nothing to poll: set apps = ["<app id>"]')
        return list(self.apps)

    # -- credentials ----------------------------------------------------------------
    def _id_setting(self, key: str) -> str:
        """``issuer_id`` / ``key_id`` from the config table, else from its variable."""
        value = self.config.get(key)
        if value is not None:
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"sources.appstore.{key} must be a non-empty string")
            return value.strip()
        return credential(self.config, key, _DEFAULT_ENVS[key], self.name).strip()

    def _private_key(self) -> ec.EllipticCurvePrivateKey:
        """The ``.p8`` key from the file its variable names (its content is never shown)."""
        env = str(self.config.get("private_key_file_env", _DEFAULT_ENVS["private_key_file"]))
        path = credential(
            self.config, "private_key_file", _DEFAULT_ENVS["private_key_file"], self.name
        )
        try:
            data = Path(path).expanduser().read_bytes()
        except OSError as exc:
            raise MissingCredential(
                f"cannot read the App Store Connect key file that {env} names "
                f"({exc.strerror or type(exc).__name__}): point {env} at the .p8 file"
            ) from None
        try:
            key = load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            key = None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ConfigError(
                f"the file {env} names is not an App Store Connect API key (an EC P-256 "
                f"private key in a .p8 file): {_KEY_HELP} and download its .p8 file"
            )
        return key

    def check_credentials(self) -> None:
        """Issuer id, key id and a readable EC P-256 ``.p8`` key (no network)."""
        self._id_setting("issuer_id")
        self._id_setting("key_id")
        self._private_key()

    def _auth_headers(self) -> dict[str, str]:
        """A bearer JWT, signed anew when the current one has under a minute left."""
        now = self.clock()
        if self._token is None or now > self._token_expires - _TOKEN_RENEW_SECONDS:
            issued = int(now)
            payload = {
                "iss": self._id_setting("issuer_id"),
                "iat": issued,
                "exp": issued + TOKEN_LIFETIME_SECONDS,
                "aud": "appstoreconnect-v1",
            }
            headers = {"kid": self._id_setting("key_id"), "typ": "JWT"}
            self._token = jwt.encode(
                payload, self._private_key(), algorithm="ES256", headers=headers
            )
            self._token_expires = float(issued + TOKEN_LIFETIME_SECONDS)
        return {"Authorization": f"Bearer {self._token}"}

    def _error(self, response: httpx.Response, what: str) -> SourceError:
        """401/403 name the key to fix; 404 the app id; anything else Apple's reason."""
        reason = _apple_reason(response)
        status = response.status_code
        if status == 401:
            self._token = None
            return AuthError(
                f"App Store Connect rejected the API key ({what}; {reason}): check the issuer id, "
                f"the key id and the .p8 file ({', '.join(_DEFAULT_ENVS.values())} or "
                "sources.appstore), that the key is not revoked and this machine's clock is right"
            )
        if status == 403:
            return AuthError(
                f"App Store Connect refused {what} ({reason}): give the API key the Customer "
                "Support, App Manager or Admin role, with access to this app"
            )
        if status == 404:
            return SourceError(
                f"App Store Connect found nothing for {what} ({reason}): check sources.appstore.apps "
                "(the app's Apple id) and that the review still exists"
            )
        return SourceError(f"App Store Connect API error ({what}): {reason}")

    # -- polling ----------------------------------------------------------------------
    def _list(self, query: str, token: str | None) -> tuple[list[Any], str | None]:
        """A page of reviews, each as a one-review JSON:API document with its response."""
        what = f"reviews of app {query}"
        if token is None:
            response = self._call(
                "GET",
                f"/v1/apps/{quote(query, safe='')}/customerReviews",
                what=what,
                params={"sort": "-createdDate", "limit": self.limit, "include": "response"},
            )
        else:
            response = self._call("GET", token, what=what)
        body = self.api.json(response, what)
        data = self.api.items(body, what, "data")
        included = {
            (str(i.get("type")), str(i.get("id"))): i
            for i in (body.get("included") or [])
            if isinstance(i, dict)
        }
        items: list[Any] = []
        for item in data:
            ref = _related(item, "response")
            found = included.get(ref) if ref is not None else None
            items.append({"data": item, "included": [found] if found else []})
        next_url = (body.get("links") or {}).get("next")
        return items, self._next_url(next_url, what)

    def _next_url(self, value: Any, what: str) -> str | None:
        """``links.next``, if it points at the API itself (the token must go nowhere else)."""
        if not value:
            return None
        url = httpx.URL(str(value))
        if (url.scheme, url.host) != ("https", httpx.URL(API_URL).host):
            raise SourceError(
                f"App Store Connect API error ({what}): refusing to follow a next link to "
                f"{url.host!r}"
            )
        return str(url)

    def _review(self, item: Any, query: str) -> Review:
        """One ``customerReviews`` resource (and its included response) as a Review."""
        data = item["data"]
        if data.get("type") != "customerReviews":
            raise ValueError(f"type {data.get('type')!r} is not customerReviews")
        native = str(data["id"]).strip()
        if not native:
            raise ValueError("the review has no id")
        attrs = data["attributes"]
        created = parse_iso(str(attrs["createdDate"]))
        title = str(attrs.get("title") or "")
        nickname = str(attrs.get("reviewerNickname") or "").strip()
        territory = attrs.get("territory")
        review = Mention(
            source=self.name,
            native_id=native,
            text=review_text(title, str(attrs.get("body") or "")),
            created_at=created,
            author_id=review_author_id(native),
            author_handle=nickname,
            author_name=nickname,
            url=f"https://apps.apple.com/app/id{query}",
            conversation_id=native,
            query=query,
            kind="review",
            raw=item,
            rating=star_rating(attrs.get("rating")),
            # Apple lists a review once, by createdDate, which an edit moves to the edit's time
            updated_at=created,
            meta={"app_id": query, "territory": territory, "title": title.strip()},
        )
        mentions = [review]
        response = _response_attrs(item)
        if response is not None and str(response.get("responseBody") or "").strip():
            when = response.get("lastModifiedDate")
            mentions.append(
                self._response(
                    review,
                    str(response["responseBody"]),
                    parse_iso(str(when)) if when else created,
                    item["included"][0],
                )
            )
        return Review(native, created.timestamp(), mentions)

    def existing_reply(self, mention: Mention) -> str | None:
        """The response body this review had when last polled, or None."""
        attrs = _response_attrs(mention.raw) if isinstance(mention.raw, dict) else None
        body = str((attrs or {}).get("responseBody") or "").strip()
        return body or None

    # -- publishing ---------------------------------------------------------------------
    def reply(self, mention: Mention, text: str) -> SentPost:
        """Create the review's response, replacing any earlier one (Apple keeps one)."""
        self._check_reply(mention, text)
        what = f"response to {mention.id}"
        payload = {
            "data": {
                "type": "customerReviewResponses",
                "attributes": {"responseBody": text},
                "relationships": {
                    "review": {"data": {"type": "customerReviews", "id": mention.native_id}}
                },
            }
        }
        response = self._call("POST", "/v1/customerReviewResponses", what=what, json=payload)
        body = self.api.json(response, what)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or not data.get("id"):
            raise SourceError(f"App Store Connect API error ({what}): the response has no id")
        return SentPost(native_id=mention.native_id + RESPONSE_SUFFIX, url=mention.url)


def _related(resource: Any, name: str) -> tuple[str, str] | None:
    """``(type, id)`` of a to-one relationship of a JSON:API resource, if it has one."""
    if not isinstance(resource, dict):
        return None
    rel = (resource.get("relationships") or {}).get(name) or {}
    data = rel.get("data") if isinstance(rel, dict) else None
    if isinstance(data, dict) and data.get("id"):
        return str(data.get("type")), str(data["id"])
    return None


def _response_attrs(document: dict[str, Any]) -> dict[str, Any] | None:
    """The attributes of the ``customerReviewResponses`` included with a review, if any."""
    for inc in document.get("included") or []:
        if isinstance(inc, dict) and inc.get("type") == "customerReviewResponses":
            attrs = inc.get("attributes")
            return attrs if isinstance(attrs, dict) else None
    return None
