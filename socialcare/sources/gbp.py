"""The Google Business Profile source: reviews of your business locations (My Business API v4).

It lists ``GET /v4/accounts/{a}/locations/{l}/reviews`` ordered ``updateTime desc``
(``nextPageToken`` paging) and answers with ``PUT .../reviews/{id}/reply``, which
creates the owner's reply or replaces it. Tokens come from a service-account
key (or an ``authorized_user`` file) through google-auth with the
``business.manage`` scope; the walk, cursor and response rules are
:class:`~socialcare.sources.appstore.ReviewSource`'s.

The Business Profile APIs are not open to every Google Cloud project: without
approved access (or with the APIs not enabled) Google answers 403
``PERMISSION_DENIED``, which this adapter reports as one ``AuthError`` that says
how to request access.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote

from ..errors import ConfigError, SourceError
from ..models import Mention, SentPost, parse_iso
from .appstore import (
    RESPONSE_SUFFIX,
    REVIEW_CONFIG_KEYS,
    Review,
    review_author_id,
    review_text,
)
from .googleplay import GoogleCredentials, GoogleReviewSource

__all__ = ["GbpSource", "STAR_RATINGS"]

log = logging.getLogger("socialcare.sources.gbp")

API_URL = "https://mybusiness.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/business.manage"
_DEFAULT_ENV = "GBP_SERVICE_ACCOUNT_FILE"
#: the API's ``StarRating`` enum (``STAR_RATING_UNSPECIFIED`` is no rating: skipped)
STAR_RATINGS = {"ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5}
_LOCATION = re.compile(r"accounts/[^/\s]+/locations/[^/\s]+")
_ACCESS_HELP = (
    "The Business Profile APIs need approved access: request it at "
    "https://developers.google.com/my-business/content/prereqs (the access request form), "
    "enable the Google My Business API and the My Business Account Management API in the "
    "key's Google Cloud project, and add the account as a manager of the location"
)


class GbpSource(GoogleReviewSource):
    """Google Business Profile reviews over httpx, authenticated through google-auth.

    Config keys of ``[sources.gbp]``:

    * ``locations``: resource names ``accounts/{account id}/locations/{location id}`` (required);
    * ``service_account_file_env``: the variable holding the path of the JSON key
      (default ``GBP_SERVICE_ACCOUNT_FILE``);
    * ``limit`` (1..50, default 50) reviews per page; ``max_pages`` (default 10) per poll;
    * ``max_wait_seconds`` (default 60) and ``timeout_seconds`` (default 20).
    """

    name = "gbp"
    config_keys = REVIEW_CONFIG_KEYS | {"locations", "service_account_file_env"}
    platform = "Google Business Profile"
    not_found_hint = "check sources.gbp.locations"
    description = "Google Business Profile: reviews of your locations (My Business API v4)"
    env_vars = (_DEFAULT_ENV,)
    #: a reply's comment is at most 4096 bytes (``text_length`` counts UTF-8 bytes)
    max_length = 4096
    response_author = "owner"
    queries_key = "locations"
    page_max = 50

    def _configure(self) -> None:
        """Validate ``[sources.gbp]`` and point ``self.api`` at the My Business API."""
        super()._configure()
        self.locations = [loc.strip("/") for loc in self._strings_setting("locations")]
        for loc in self.locations:
            if not _LOCATION.fullmatch(loc):
                raise ConfigError(
                    f"sources.gbp.locations must hold names like "
                    f'"accounts/123/locations/456", got {loc!r}'
                )
        self.api.base_url = API_URL
        self.google = GoogleCredentials(
            self.config,
            source=self.name,
            default_env=_DEFAULT_ENV,
            scope=SCOPE,
            grant_hint=_ACCESS_HELP + ".",
        )

    def queries(self) -> list[str]:
        """One query per location resource name."""
        if not self.locations:
            raise ConfigError(
                'sources.gbp has nothing to poll: set locations = ["accounts/1/locations/2"]'
            )
        return list(self.locations)

    def text_length(self, text: str) -> int:
        """UTF-8 bytes: the API limits a reply's comment to 4096 bytes, not characters."""
        return len(text.encode("utf-8"))

    # -- polling ------------------------------------------------------------------
    def _list(self, query: str, token: str | None) -> tuple[list[Any], str | None]:
        """One page of ``reviews`` (absent when there are none) and ``nextPageToken``."""
        what = f"reviews of {query}"
        params: dict[str, str | int] = {"pageSize": self.limit, "orderBy": "updateTime desc"}
        if token:
            params["pageToken"] = token
        response = self._call("GET", f"/v4/{query}/reviews", what=what, params=params)
        body = self.api.json(response, what)
        reviews = self.api.items(body, what, "reviews", absent_is_empty=True)
        return reviews, body.get("nextPageToken") or None

    def _review(self, item: Any, query: str) -> Review:
        """One Review resource (and its ``reviewReply``) as a Review."""
        native = str(item["reviewId"]).strip()
        if not native:
            raise ValueError("the review has no reviewId")
        rating = STAR_RATINGS.get(str(item.get("starRating")))
        if rating is None:
            raise ValueError(f"starRating {item.get('starRating')!r} is not ONE..FIVE")
        created = parse_iso(str(item["createTime"]))
        updated = parse_iso(str(item.get("updateTime") or item["createTime"]))
        reviewer = item.get("reviewer") if isinstance(item.get("reviewer"), dict) else {}
        anonymous = bool(reviewer.get("isAnonymous"))
        name = "" if anonymous else str(reviewer.get("displayName") or "").strip()
        review = Mention(
            source=self.name,
            native_id=native,
            text=review_text("", str(item.get("comment") or "")),
            created_at=created,
            author_id=review_author_id(native),
            author_handle=name,
            author_name=name,
            conversation_id=native,
            query=query,
            kind="review",
            raw=item,
            rating=rating,
            updated_at=updated,
            meta={"location": query, "reviewer_anonymous": anonymous},
        )
        mentions = [review]
        reply = item.get("reviewReply")
        if isinstance(reply, dict) and str(reply.get("comment") or "").strip():
            when = reply.get("updateTime")
            mentions.append(
                self._response(
                    review, str(reply["comment"]), parse_iso(str(when)) if when else updated, reply
                )
            )
        return Review(native, updated.timestamp(), mentions)

    def existing_reply(self, mention: Mention) -> str | None:
        """The owner's reply this review had when last polled, or None."""
        reply = mention.raw.get("reviewReply")
        text = str(reply.get("comment") or "").strip() if isinstance(reply, dict) else ""
        return text or None

    # -- publishing ---------------------------------------------------------------
    def reply(self, mention: Mention, text: str) -> SentPost:
        """Set the owner's reply (``PUT .../reply``): it creates or replaces the one reply."""
        self._check_reply(mention, text)
        name = str(mention.raw.get("name") or "")
        if not name.endswith(f"/reviews/{mention.native_id}"):
            name = f"{mention.query}/reviews/{mention.native_id}"
        location = name.rsplit("/reviews/", 1)[0]
        if location not in self.locations:
            raise SourceError(
                f"cannot reply to {mention.id}: its location {location!r} is not in "
                "sources.gbp.locations"
            )
        what = f"reply to {mention.id}"
        path = f"/v4/{location}/reviews/{quote(mention.native_id, safe='')}/reply"
        response = self._call("PUT", path, what=what, json={"comment": text})
        body = self.api.json(response, what)
        if not isinstance(body, dict) or "comment" not in body:
            raise SourceError(
                f"Google Business Profile API error ({what}): the answer is not a reply"
            )
        return SentPost(native_id=mention.native_id + RESPONSE_SUFFIX, url=mention.url)
