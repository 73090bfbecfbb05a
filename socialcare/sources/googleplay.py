"""The Google Play source: reviews of your Android apps, via the Play Developer API.

It lists ``GET /androidpublisher/v3/applications/{package}/reviews`` (newest
change first, ``tokenPagination.nextPageToken`` paging) and answers with ``POST
.../reviews/{reviewId}:reply``. The walk, cursor and response rules are
:class:`~socialcare.sources.appstore.ReviewSource`'s.

Two limits of the API shape the adapter: it lists only reviews created or
changed in the last 7 days (``history_window``: a source polled less often
than weekly loses reviews, and the poll log says so), and a reply is at most
350 characters (``max_length``), refused before sending. A review's
``developerComment`` (a reply typed in Play Console) comes in as an own reply,
so the review counts as answered natively.

This module also holds :class:`GoogleCredentials`, shared with the Business
Profile source: google-auth loads a service-account key (or an
``authorized_user`` file) and fetches the OAuth token through its own
``requests`` transport; API calls then go through httpx with that token.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar, Mapping
from urllib.parse import quote

import google.auth.exceptions
import google.oauth2.credentials
import google.oauth2.service_account
import httpx
import requests
from google.auth.credentials import Credentials
from google.auth.transport.requests import Request

from ..config import credential
from ..errors import AuthError, ConfigError, MissingCredential, SourceError
from ..models import Mention, SentPost
from .appstore import (
    RESPONSE_SUFFIX,
    REVIEW_CONFIG_KEYS,
    Review,
    ReviewSource,
    review_author_id,
    review_text,
    star_rating,
)
from .http import USER_AGENT

__all__ = ["GoogleCredentials", "GooglePlaySource", "google_reason"]

log = logging.getLogger("socialcare.sources.googleplay")

API_URL = "https://androidpublisher.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/androidpublisher"
_DEFAULT_ENV = "GOOGLEPLAY_SERVICE_ACCOUNT_FILE"


def google_reason(response: httpx.Response) -> tuple[str, str]:
    """``(status, one line)`` of a Google API error body ``{"error": {code, message, status}}``."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        status = str(error.get("status") or "")
        reasons = [
            str(d.get("reason"))
            for d in error.get("details") or []
            if isinstance(d, dict) and d.get("reason")
        ]
        message = " ".join(str(error.get("message") or "").split())[:240]
        label = ", ".join([status, *reasons]) if status else ", ".join(reasons)
        text = f"HTTP {response.status_code}" + (f" {label}" if label else "")
        return status, f"{text}: {message}" if message else text
    return "", f"HTTP {response.status_code}: {response.reason_phrase or 'no explanation'}"


class GoogleCredentials:
    """OAuth tokens for one Google API scope from a key file named by a variable.

    The file is a service-account key (``"type": "service_account"``) or an
    ``authorized_user`` file (from ``gcloud auth application-default login``);
    google-auth signs the grant and refreshes the token, a few minutes before
    it expires. Nothing of the file or the token is ever put in a message.

    Args:
        config: the source's config table (``service_account_file_env`` may rename the variable).
        default_env: the variable's default name.
        scope: the OAuth scope to request.
        grant_hint: what to do when the account lacks access, for ``AuthError`` messages.
        session: the ``requests`` session google-auth talks to the token endpoint with.
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        source: str,
        default_env: str,
        scope: str,
        grant_hint: str,
        session: requests.Session | None = None,
    ) -> None:
        self.config = config
        self.source = source
        self.default_env = default_env
        self.scope = scope
        self.grant_hint = grant_hint
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self._credentials: Credentials | None = None

    @property
    def env(self) -> str:
        """The variable that names the key file."""
        return str(self.config.get("service_account_file_env", self.default_env))

    def load(self) -> Credentials:
        """The credentials of the key file (read once), or a config error naming the variable."""
        if self._credentials is not None:
            return self._credentials
        path = credential(self.config, "service_account_file", self.default_env, self.source)
        env = self.env
        try:
            info = json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
        except OSError as exc:
            raise MissingCredential(
                f"cannot read the Google key file that {env} names "
                f"({exc.strerror or type(exc).__name__}): point {env} at the JSON key file"
            ) from None
        except ValueError:
            raise ConfigError(f"the file {env} names is not JSON: download the key again") from None
        kind = info.get("type") if isinstance(info, dict) else None
        creds: Credentials
        try:
            if kind == "service_account":
                creds = google.oauth2.service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                    info, scopes=[self.scope]
                )
            elif kind == "authorized_user":
                creds = google.oauth2.credentials.Credentials.from_authorized_user_info(  # type: ignore[no-untyped-call]
                    info, scopes=[self.scope]
                )
            else:
                raise ValueError(f"type {kind!r}")
        except (ValueError, KeyError, TypeError) as exc:
            # google-auth's messages name missing fields, never their values
            raise ConfigError(
                f"the file {env} names is not a usable Google service-account key "
                f"({type(exc).__name__}: {str(exc)[:120]}): create a JSON key for the service "
                "account in Google Cloud console (IAM > Service accounts > Keys)"
            ) from None
        self._credentials = creds
        return creds

    def headers(self) -> dict[str, str]:
        """The Authorization header, fetching a token first when there is none or it expires."""
        creds = self.load()
        if not creds.valid:
            try:
                creds.refresh(Request(self.session))  # type: ignore[no-untyped-call]
            except google.auth.exceptions.RefreshError as exc:
                detail = str(exc.args[0]) if exc.args else "refused"
                raise AuthError(
                    f"Google refused a token for the key in {self.env} ({detail[:160]}): the key "
                    "may be deleted or disabled, or this machine's clock is wrong; create a new "
                    f"key for the service account. {self.grant_hint}"
                ) from None
            except google.auth.exceptions.TransportError as exc:
                raise SourceError(
                    f"cannot reach Google's token endpoint ({type(exc).__name__}); try again later"
                ) from None
        return {"Authorization": f"Bearer {creds.token}"}

    def close(self) -> None:
        """Close the token endpoint's connection pool."""
        self.session.close()

    def forget_token(self) -> None:
        """Drop the token after a 401, so the next request fetches a fresh one."""
        if self._credentials is not None:
            self._credentials.token = None


def _timestamp(value: Any) -> datetime:
    """A protobuf Timestamp ``{"seconds": "1715590000", "nanos": 5}`` as a UTC datetime."""
    seconds = int(value["seconds"])  # int64 comes as a string in JSON
    nanos = int(value.get("nanos") or 0)
    return datetime.fromtimestamp(seconds + nanos / 1e9, tz=timezone.utc)


class GoogleReviewSource(ReviewSource):
    """A review source whose API authenticates with a Google service account (Play, GBP).

    Subclasses set ``self.google`` (a :class:`GoogleCredentials`) in ``_configure``.
    """

    google: GoogleCredentials
    #: what to check when the API answers 404
    not_found_hint: ClassVar[str]

    def _error(self, response: httpx.Response, what: str) -> SourceError:
        """One line for a Google API's error answer: 401 drops the token (the next call
        fetches a new one) and names the key; 403 (or ``PERMISSION_DENIED``) says how to
        get access; 404 what to check; anything else gives Google's own reason."""
        status_name, reason = google_reason(response)
        status = response.status_code
        if status == 401:
            self.google.forget_token()
            return AuthError(
                f"{self.platform} rejected the token ({what}; {reason}): check the key in "
                f"{self.google.env}. {self.google.grant_hint}"
            )
        if status == 403 or status_name == "PERMISSION_DENIED":
            return AuthError(f"{self.platform} refused {what} ({reason}). {self.google.grant_hint}")
        if status == 404:
            return SourceError(
                f"{self.platform} found nothing for {what} ({reason}): {self.not_found_hint}"
            )
        return SourceError(f"{self.platform} API error ({what}): {reason}")

    def check_credentials(self) -> None:
        """The key file's variable is set and the file is a usable key (no network)."""
        self.google.load()

    def close(self) -> None:
        """Close the API client and the token endpoint's session."""
        super().close()
        self.google.close()

    def _auth_headers(self) -> dict[str, str]:
        return self.google.headers()


class GooglePlaySource(GoogleReviewSource):
    """Google Play Developer API reviews over httpx, authenticated through google-auth.

    Config keys of ``[sources.googleplay]``:

    * ``packages``: the apps' package names, e.g. ``["com.acme.app"]`` (required);
    * ``service_account_file_env``: the variable holding the path of the service
      account's JSON key (default ``GOOGLEPLAY_SERVICE_ACCOUNT_FILE``);
    * ``translation_language`` (optional): ask Play to translate reviews, e.g. ``"en"``;
    * ``limit`` (1..100, default 100) reviews per page; ``max_pages`` (default 10) per poll;
    * ``max_wait_seconds`` (default 60) and ``timeout_seconds`` (default 20).
    """

    name = "googleplay"
    config_keys = REVIEW_CONFIG_KEYS | {
        "packages",
        "service_account_file_env",
        "translation_language",
    }
    platform = "Google Play"
    not_found_hint = "check sources.googleplay.packages, and that the review is under 7 days old"
    description = "Google Play: reviews of your Android apps (Play Developer API, last 7 days)"
    env_vars = (_DEFAULT_ENV,)
    #: the API refuses replies over 350 characters
    max_length = 350
    #: the API lists only reviews created or changed in the last week
    history_window = timedelta(days=7)
    queries_key = "packages"
    page_max = 100

    def _configure(self) -> None:
        """Validate ``[sources.googleplay]`` and point ``self.api`` at the Play API."""
        super()._configure()
        self.packages = self._strings_setting("packages")
        language = self.config.get("translation_language")
        if language is not None and not (isinstance(language, str) and language.strip()):
            raise ConfigError('sources.googleplay.translation_language must be e.g. "en"')
        self.translation_language = language.strip() if isinstance(language, str) else None
        self.api.base_url = API_URL
        self.google = GoogleCredentials(
            self.config,
            source=self.name,
            default_env=_DEFAULT_ENV,
            scope=SCOPE,
            grant_hint=(
                "In Play Console (Users and permissions) invite the service account's e-mail "
                "with the 'Reply to reviews' permission for these apps, and enable the Google "
                "Play Android Developer API in its Google Cloud project."
            ),
        )

    def _path(self, package: str) -> str:
        return f"/androidpublisher/v3/applications/{quote(package, safe='')}/reviews"

    # -- polling ----------------------------------------------------------------
    def _list(self, query: str, token: str | None) -> tuple[list[Any], str | None]:
        """One page of ``reviews`` (absent when there are none) and ``nextPageToken``."""
        what = f"reviews of {query}"
        params: dict[str, str | int] = {"maxResults": self.limit}
        if token:
            params["token"] = token
        if self.translation_language:
            params["translationLanguage"] = self.translation_language
        response = self._call("GET", self._path(query), what=what, params=params)
        body = self.api.json(response, what)
        reviews = self.api.items(body, what, "reviews", absent_is_empty=True)
        paging = body.get("tokenPagination") or {}
        return reviews, (paging.get("nextPageToken") or None) if isinstance(paging, dict) else None

    def _review(self, item: Any, query: str) -> Review:
        """One Review resource: its ``userComment`` and any ``developerComment``."""
        native = str(item["reviewId"]).strip()
        if not native:
            raise ValueError("the review has no reviewId")
        comments = [c for c in item.get("comments") or [] if isinstance(c, dict)]
        user = next(
            (c["userComment"] for c in comments if isinstance(c.get("userComment"), dict)), None
        )
        if user is None:
            raise ValueError("the review has no userComment")
        changed = _timestamp(user["lastModified"])
        # Play joins a review's title and body with a tab (text starts with one when untitled)
        title, _, body = str(user.get("text") or "").partition("\t")
        if not body:
            title, body = "", title
        author = str(item.get("authorName") or "").strip()
        meta = {
            "package": query,
            "app_version": user.get("appVersionName"),
            "app_version_code": user.get("appVersionCode"),
            "android_os_version": user.get("androidOsVersion"),
            "device": user.get("device"),
            "title": title.strip(),
        }
        review = Mention(
            source=self.name,
            native_id=native,
            text=review_text(title, body),
            # the API gives only the last change: a new review's is its creation
            created_at=changed,
            author_id=review_author_id(native),
            author_handle=author,
            author_name=author,
            url=f"https://play.google.com/store/apps/details?id={quote(query)}&reviewId={quote(native, safe=':')}",
            language=str(user.get("reviewerLanguage") or "") or None,
            conversation_id=native,
            query=query,
            kind="review",
            raw=item,
            rating=star_rating(user.get("starRating")),
            updated_at=changed,
            meta={k: v for k, v in meta.items() if v is not None},
        )
        mentions = [review]
        developer = next(
            (
                c["developerComment"]
                for c in comments
                if isinstance(c.get("developerComment"), dict)
            ),
            None,
        )
        if developer is not None and str(developer.get("text") or "").strip():
            when = developer.get("lastModified")
            mentions.append(
                self._response(
                    review,
                    str(developer["text"]),
                    _timestamp(when) if isinstance(when, dict) else changed,
                    developer,
                )
            )
        return Review(native, changed.timestamp(), mentions)

    def existing_reply(self, mention: Mention) -> str | None:
        """The developer reply this review had when last polled, or None."""
        for comment in mention.raw.get("comments") or []:
            developer = comment.get("developerComment") if isinstance(comment, dict) else None
            if isinstance(developer, dict) and str(developer.get("text") or "").strip():
                return str(developer["text"]).strip()
        return None

    # -- publishing ------------------------------------------------------------
    def reply(self, mention: Mention, text: str) -> SentPost:
        """Reply to the review (at most 350 characters), replacing any earlier reply."""
        self._check_reply(mention, text)
        package = mention.query or str(mention.meta.get("package") or "")
        if package not in self.packages:
            raise SourceError(
                f"cannot reply to {mention.id}: its app {package!r} is not in "
                "sources.googleplay.packages"
            )
        what = f"reply to {mention.id}"
        path = f"{self._path(package)}/{quote(mention.native_id, safe=':')}:reply"
        response = self._call("POST", path, what=what, json={"replyText": text})
        body = self.api.json(response, what)
        if not isinstance(body, dict) or not isinstance(body.get("result"), dict):
            raise SourceError(f"Google Play API error ({what}): the response has no result")
        return SentPost(native_id=mention.native_id + RESPONSE_SUFFIX, url=mention.url)
