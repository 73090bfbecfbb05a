"""Meta's Graph API, shared by the Facebook and Instagram sources.

One :class:`GraphSource` base holds what both platforms do the same way:

* **version pinning**: every path goes to ``https://graph.facebook.com/{graph_version}``
  (config ``graph_version``, default :data:`DEFAULT_VERSION`), so a Graph API
  upgrade is a config change the team makes on purpose, not a surprise;
* **paging**: list endpoints answer ``{"data": [...], "paging": {"cursors":
  {"after": ...}, "next": URL}}``; :meth:`GraphSource.pages` follows
  ``paging.cursors.after`` while ``paging.next`` says there is more (and, for
  time-paged edges without cursors, the ``next`` URL's own query), never
  sending the token to a host other than the configured one;
* **errors**: Graph answers ``{"error": {"message", "type", "code",
  "error_subcode", "fbtrace_id"}}``. Code 190 (an expired or invalidated
  token) is an :class:`AuthError` that says how to get a new token; codes 4,
  17, 32 and 613 (and the business-use-case codes 80001..80014) are rate limits:
  waited out when the usage headers' ``estimated_time_to_regain_access`` is
  within ``max_wait_seconds``, else :class:`RateLimited` with the reset time;
  permission codes (10, 200..299) name the permission the request needs;
  everything else is a :class:`SourceError` carrying code, subcode and
  ``fbtrace_id`` (what Meta's support asks for);
* **usage headers**: ``X-App-Usage``, ``X-Page-Usage`` and
  ``X-Business-Use-Case-Usage`` give the percentage of the hourly budget used;
  above ``slowdown_at_percent`` (default 80) each request first pauses (through
  the engine's waiter), longer the closer the budget is to 100 %, so a poll
  slows down before Meta blocks the app for an hour;
* **token health**: :meth:`GraphSource.token_report` reads the token's scopes
  and ``expires_at`` from ``/debug_token``, so ``sources`` and ``status`` name
  a missing permission and ``status --alert`` fails *before* a long-lived
  token expires (``token_warn_days``, default 7).

The token travels in the ``Authorization`` header, never in a URL, so it
cannot end up in a log line or an error message.
"""

from __future__ import annotations

import json as jsonlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, Iterator, Mapping
from urllib.parse import quote

import httpx

from ..config import credential
from ..errors import AuthError, ConfigError, RateLimited, SendOutcomeUnknown, SourceError
from ..models import Mention, SentPost, parse_iso, to_iso
from .http import HTTP_CONFIG_KEYS, HttpSource

__all__ = [
    "DEFAULT_VERSION",
    "GRAPH_CONFIG_KEYS",
    "GRAPH_HOST",
    "RATE_LIMIT_CODES",
    "GraphError",
    "GraphSource",
    "TokenReport",
    "graph_error",
    "graph_time",
    "obj",
    "usage_percent",
]

log = logging.getLogger("socialcare.sources.graph")

#: the Graph API version used unless ``graph_version`` says otherwise
DEFAULT_VERSION = "v23.0"
GRAPH_HOST = "graph.facebook.com"
#: application, user, API-too-many-calls and per-endpoint throttling; business use case
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, *range(80001, 80015)})
#: Send API subcodes for a message outside the allowed window (or to someone unreachable)
_OUTSIDE_WINDOW = frozenset({2018278, 2018108, 2534022, 1545041})
#: "Object does not exist / cannot be loaded due to missing permissions"
_GONE = (100, 33)
#: how long to wait on a rate-limit error the headers give no time for (Meta's window is 1 h)
_UNKNOWN_RESET_SECONDS = 300.0
#: the longest pause before one request when usage is high (at 100 %)
_SLOWDOWN_MAX_SECONDS = 60.0
_DEFAULT_TOKEN_ENV = "FACEBOOK_PAGE_ACCESS_TOKEN"

#: keys every Graph source reads, besides the engine's and the HTTP ones
GRAPH_CONFIG_KEYS = HTTP_CONFIG_KEYS | {
    "graph_version",
    "access_token_env",
    "token_warn_days",
    "slowdown_at_percent",
    "limit",
    "max_pages",
    "recheck_limit",
}

_HOW_TO_GET_A_TOKEN = (
    "get a new Page access token: in Graph API Explorer (or your login flow) get a "
    "user token with the permissions listed in README 'Facebook and Instagram', exchange it "
    "for a long-lived one (GET /oauth/access_token?grant_type=fb_exchange_token), then read "
    "the Page's token from GET /me/accounts"
)


def obj(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else ``{}`` (a field Graph left out or sent odd)."""
    return value if isinstance(value, dict) else {}


def graph_time(value: Any) -> datetime:
    """A Graph time (``2024-05-13T10:00:00+0000``) or unix seconds, as UTC."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), tz=timezone.utc)
    return parse_iso(str(value))


@dataclass
class GraphError:
    """The ``error`` object of a failed Graph response (what of it came back)."""

    status: int
    message: str = ""
    type: str = ""
    code: int | None = None
    subcode: int | None = None
    fbtrace_id: str = ""

    @property
    def detail(self) -> str:
        """``message (code 190, subcode 463, fbtrace_id X)``, one line."""
        parts = [f"HTTP {self.status}"]
        if self.code is not None:
            parts.append(f"code {self.code}")
        if self.subcode is not None:
            parts.append(f"subcode {self.subcode}")
        if self.fbtrace_id:
            parts.append(f"fbtrace_id {self.fbtrace_id}")
        text = " ".join((self.message or "no explanation").split())[:240]
        return f"{text} ({', '.join(parts)})"


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def graph_error(response: httpx.Response) -> GraphError:
    """The error object of ``response`` (an odd or missing body still gives a GraphError)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return GraphError(response.status_code, response.reason_phrase or "")
    return GraphError(
        status=response.status_code,
        message=str(error.get("error_user_msg") or error.get("message") or ""),
        type=str(error.get("type") or ""),
        code=_int(error.get("code")),
        subcode=_int(error.get("error_subcode")),
        fbtrace_id=str(error.get("fbtrace_id") or ""),
    )


def _header_json(headers: httpx.Headers, name: str) -> Any:
    value = headers.get(name)
    if not value:
        return None
    try:
        return jsonlib.loads(value)
    except ValueError:
        return None


def usage_percent(headers: httpx.Headers) -> tuple[float | None, float | None]:
    """``(highest % used of any budget, seconds until access returns)`` from the usage headers.

    ``X-App-Usage`` / ``X-Page-Usage`` hold ``call_count``, ``total_cputime`` and
    ``total_time``; ``X-Business-Use-Case-Usage`` maps a business id to a list of
    such objects, each with ``estimated_time_to_regain_access`` in minutes.
    """
    highest: float | None = None
    regain: float | None = None

    def take(obj: Any) -> None:
        nonlocal highest, regain
        if not isinstance(obj, dict):
            return
        for key in ("call_count", "total_cputime", "total_time", "acc_id_util_pct"):
            value = obj.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                highest = float(value) if highest is None else max(highest, float(value))
        minutes = obj.get("estimated_time_to_regain_access")
        if isinstance(minutes, int | float) and not isinstance(minutes, bool) and minutes > 0:
            seconds = float(minutes) * 60.0
            regain = seconds if regain is None else max(regain, seconds)

    take(_header_json(headers, "x-app-usage"))
    take(_header_json(headers, "x-page-usage"))
    take(_header_json(headers, "x-ad-account-usage"))
    buc = _header_json(headers, "x-business-use-case-usage")
    if isinstance(buc, dict):
        for entries in buc.values():
            for entry in entries if isinstance(entries, list) else [entries]:
                take(entry)
    return highest, regain


@dataclass
class TokenReport:
    """What ``/debug_token`` says about the configured token, for ``sources`` and ``status``."""

    scopes: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    expires_at: datetime | None = None
    valid: bool = True
    warnings: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """One line: the permissions the token has, what is missing, when it expires."""
        parts = [f"permissions: {', '.join(self.scopes) or 'none'}"]
        if self.missing:
            parts.append(f"missing: {', '.join(self.missing)}")
        parts.append(
            f"token expires {to_iso(self.expires_at)}" if self.expires_at else "token never expires"
        )
        return "; ".join(parts)


class GraphSource(HttpSource):
    """Base of the Graph API adapters (see the module docstring).

    Subclasses set ``platform``, call :meth:`_configure_graph` from
    ``_configure``, and list the permissions their config needs in
    :meth:`required_permissions`.
    """

    #: the variable holding the access token unless ``access_token_env`` names another
    default_token_env: ClassVar[str] = _DEFAULT_TOKEN_ENV
    #: the platform's own account id (the Page's, the Instagram user's): its posts are the brand's
    own_ids: frozenset[str] = frozenset()

    def _configure_graph(self) -> None:
        """Validate the keys every Graph source shares and point ``self.api`` at Graph."""
        version = self.config.get("graph_version", DEFAULT_VERSION)
        if not isinstance(version, str) or not version.startswith("v") or "/" in version:
            raise ConfigError(
                f'sources.{self.name}.graph_version must be a Graph API version like "v23.0", '
                f"got {version!r}"
            )
        self.version = version.strip()
        self.api.base_url = f"https://{GRAPH_HOST}/{self.version}"
        self.limit = self._int_setting("limit", 25, 1, 100)
        self.max_pages = self._int_setting("max_pages", 10, 1, None)
        self.token_warn_days = self._int_setting("token_warn_days", 7, 0, 365)
        self.slowdown_at = self._int_setting("slowdown_at_percent", 80, 1, 100)
        self.recheck_limit = self._int_setting("recheck_limit", 25, 0, 500)

    # -- credentials ----------------------------------------------------------
    @property
    def token_env(self) -> str:
        """The environment variable holding the token."""
        return str(self.config.get("access_token_env", self.default_token_env))

    def _token(self) -> str:
        return credential(self.config, "access_token", self.default_token_env, self.name)

    def _env_id(self, key: str, default_env: str) -> str:
        """An account id read from the variable config names (``page_id_env``, ...)."""
        return credential(self.config, key, default_env, self.name).strip()

    def redact(self, text: str) -> str:
        """``text`` with the access token masked."""
        try:
            token = self._token()
        except ConfigError:
            return text
        return text.replace(token, "***") if token else text

    def required_permissions(self) -> list[str]:
        """The permissions the configured features need (subclasses list theirs)."""
        return []

    # -- requests -------------------------------------------------------------
    def _slow_down(self, response: httpx.Response, what: str) -> None:
        """Pause when a usage header says the hourly budget is nearly spent."""
        percent, regain = usage_percent(response.headers)
        if percent is None or percent < self.slowdown_at:
            return
        if percent >= 100 and regain:
            seconds = regain
        else:
            span = max(100.0 - self.slowdown_at, 1.0)
            seconds = _SLOWDOWN_MAX_SECONDS * min((percent - self.slowdown_at) / span, 1.0)
        seconds = max(seconds, 1.0)
        if seconds > self.api.policy.max_wait_seconds:
            reset = self.api.clock() + seconds
            raise RateLimited(
                f"{self.platform}: {percent:.0f}% of the Graph API budget is used ({what}); "
                f"access returns in about {seconds:.0f} s, longer than "
                f"sources.{self.name}.max_wait_seconds: poll again after that",
                reset_at=reset,
            )
        self.wait(
            seconds, f"{self.platform} Graph API usage at {percent:.0f}% ({what}): slowing down"
        )

    def _rate_limited(self, error: GraphError, response: httpx.Response, what: str) -> float:
        """Seconds to wait for a rate-limit error (from the headers, else a default)."""
        _, regain = usage_percent(response.headers)
        retry_after = response.headers.get("retry-after")
        if regain is None and retry_after and retry_after.strip().isdigit():
            regain = float(retry_after.strip())
        return regain if regain is not None else _UNKNOWN_RESET_SECONDS

    def _error(self, error: GraphError, what: str, permission: str | None) -> SourceError:
        """The exception for a Graph error that is not a rate limit."""
        if error.code == 190 or error.type == "OAuthException" and error.code in (102, 2500):
            return AuthError(
                f"{self.platform} rejected the access token in {self.token_env} ({what}: "
                f"{error.detail}): {_HOW_TO_GET_A_TOKEN}; set it in {self.token_env}"
            )
        if error.code in (10, 551) and error.subcode in _OUTSIDE_WINDOW:
            return SourceError(
                f"{self.platform} refused {what}: it is outside the messaging window Meta allows "
                f"({error.detail}); wait for the customer to write again"
            )
        if error.code == 10 or (error.code is not None and 200 <= error.code <= 299):
            needs = (
                f"the token needs the {permission} permission"
                if permission
                else ("the token lacks a permission")
            )
            return AuthError(
                f"{self.platform} refused {what}: {needs} ({error.detail}); add it to the app "
                "and get a new token (README 'Facebook and Instagram')"
            )
        return SourceError(f"{self.platform} API error ({what}): {error.detail}")

    def call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        write: bool = False,
        permission: str | None = None,
        gone_ok: bool = False,
    ) -> Any:
        """One Graph request; returns the decoded JSON body (``None`` for a gone object
        when ``gone_ok``).

        Args:
            write: a request that publishes: retried only if it never left, and a
                lost answer is ``SendOutcomeUnknown``; its rate-limit errors are not retried
                (Meta counted nothing, but a person should see the limit before a resend).
            permission: what the request needs, named when Meta refuses it.
        """
        headers = {"Authorization": f"Bearer {self._token()}"}
        waits = 0
        while True:
            response = self.api.request(
                method,
                path,
                what=what,
                params=dict(params) if params else None,
                json=json,
                headers=headers,
                retry_unsent_only=write,
            )
            if response.is_success:
                self._slow_down(response, what)
                return self.api.json(response, what, created=write)
            error = graph_error(response)
            if gone_ok and (error.code, error.subcode) == _GONE:
                return None
            if error.code in RATE_LIMIT_CODES:
                seconds = self._rate_limited(error, response, what)
                reset = self.api.clock() + seconds
                when = to_iso(datetime.fromtimestamp(reset, tz=timezone.utc))
                reason = f"{self.platform} rate limit (code {error.code}, {what}) until {when}"
                if (
                    not write
                    and waits < self.api.policy.rate_limit_waits
                    and seconds <= self.api.policy.max_wait_seconds
                    and self.wait(seconds, reason)
                ):
                    waits += 1
                    continue
                raise RateLimited(
                    f"{self.platform} rate limit reached ({what}; {error.detail}): access "
                    f"returns at {when} (in {seconds:.0f} s); poll again after that",
                    reset_at=reset,
                )
            raise self._error(error, what, permission)

    def pages(
        self,
        path: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        permission: str | None = None,
        first: Any = None,
        max_pages: int | None = None,
    ) -> Iterator[list[Any]]:
        """Yield the ``data`` of each page of a list edge, following its paging.

        ``first`` is an edge already fetched inline (``comments`` of a post):
        it is yielded first and its paging continues from ``path``.
        """
        query = dict(params or {})
        body = first
        limit = max_pages or self.max_pages
        for number in range(limit):
            if body is None:
                body = self.call("GET", path, what=what, params=query, permission=permission)
            data = self.api.items(body, what, "data", absent_is_empty=True)
            yield data
            following = self._next_params(obj(body.get("paging")), what)
            if following is None:
                return
            query = {**query, **following}
            body = None
            if number + 1 == limit:
                log.warning(
                    "%s (%s): stopped at max_pages=%d; older items of this poll are skipped",
                    self.name,
                    what,
                    limit,
                )

    def _next_params(self, paging: Mapping[str, Any], what: str) -> dict[str, str] | None:
        """The query for the next page, or None on the last one (no ``paging.next``)."""
        next_url = paging.get("next")
        if not next_url or not isinstance(next_url, str):
            return None
        after = obj(paging.get("cursors")).get("after")
        if after:
            return {"after": str(after)}
        url = httpx.URL(next_url)
        if url.host != GRAPH_HOST:
            raise SourceError(
                f"{self.platform} API error ({what}): paging.next points at {url.host}, "
                f"not {GRAPH_HOST}; not following it"
            )
        return {k: v for k, v in url.params.items() if k != "access_token"}

    # -- shared publishing ----------------------------------------------------------
    def _sent_id(self, body: Any, what: str, *keys: str) -> str:
        """The new object's id from a write's answer, or ``SendOutcomeUnknown``."""
        for key in keys or ("id",):
            value = body.get(key) if isinstance(body, dict) else None
            if value:
                return str(value)
        raise SendOutcomeUnknown(
            f"{self.platform} ({what}): the answer names no id: it may have been published"
        )

    def _hide(self, native_id: str, params: Mapping[str, Any], *, permission: str) -> None:
        what = f"hide comment {native_id}"
        body = self.call(
            "POST", f"/{quote(native_id, safe='')}", what=what, params=params, permission=permission
        )
        if not (isinstance(body, dict) and body.get("success") is True):
            raise SourceError(f"{self.platform} ({what}): the answer did not confirm success")

    def hide(self, mention: Mention, *, hidden: bool = True) -> None:
        """Hide (or unhide) a comment on the platform (subclasses say how)."""
        raise SourceError(f"source '{self.name}' cannot hide {mention.kind}s")

    def send_dm(self, mention: Mention, text: str) -> SentPost:
        """A DM mention is answered in its conversation; a comment gets a private reply."""
        return self.private_reply(mention, text)

    def private_reply(self, mention: Mention, text: str) -> SentPost:
        """Answer a commenter privately (subclasses say how)."""
        raise SourceError(f"source '{self.name}' cannot reply privately")

    # -- re-checking stored items ------------------------------------------------
    def recheck(self, mentions: list[Mention]) -> tuple[list[Mention], list[Mention]]:
        """Read stored comments again: ``(as they are now, deleted on the platform)``.

        Graph lists no tombstones, so an edit or a deletion of an older comment is
        only seen by asking for the comment itself: an edit comes back with its new
        text (``updated_at`` set to now, so the store refreshes it); a deleted one
        answers error 100/33 and is returned in the second list. DMs are not
        re-read (Messenger has no edits to fetch).
        """
        present: list[Mention] = []
        gone: list[Mention] = []
        for mention in mentions[: self.recheck_limit]:
            if mention.kind == "dm":
                continue
            fresh = self._fetch_one(mention)
            if fresh is None:
                gone.append(mention)
            elif fresh.text != mention.text:
                present.append(fresh)
        return present, gone

    def _fetch_one(self, mention: Mention) -> Mention | None:
        """The comment as it is now, or None if it is gone (subclasses say how)."""
        raise SourceError(f"source '{self.name}' cannot re-read {mention.kind}s")

    # -- token health -------------------------------------------------------------
    def token_report(self, now: datetime) -> TokenReport:
        """The token's scopes and expiry from ``/debug_token``, with what is missing.

        ``alerts`` (``status --alert`` fails) for an invalid token, a missing
        permission, or expiry within ``token_warn_days``; a failed check is a warning.
        """
        report = TokenReport()
        try:
            body = self.call(
                "GET",
                "/debug_token",
                what="token check",
                params={"input_token": self._token()},
            )
        except AuthError as exc:
            report.valid = False
            report.alerts.append(f"{self.name}: {exc}")
            return report
        except (SourceError, RateLimited) as exc:
            report.warnings.append(f"{self.name}: could not check the token: {exc}")
            return report
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            report.warnings.append(f"{self.name}: could not check the token: no data")
            return report
        report.scopes = sorted(str(s) for s in data.get("scopes") or [] if isinstance(s, str))
        report.valid = data.get("is_valid") is not False
        expires = data.get("expires_at")
        if isinstance(expires, int | float) and not isinstance(expires, bool) and expires > 0:
            report.expires_at = datetime.fromtimestamp(float(expires), tz=timezone.utc)
        report.missing = [p for p in self.required_permissions() if p not in report.scopes]
        if not report.valid:
            report.alerts.append(
                f"{self.name}: the token in {self.token_env} is not valid: {_HOW_TO_GET_A_TOKEN}"
            )
        if report.missing:
            report.alerts.append(
                f"{self.name}: the token lacks {', '.join(report.missing)} (it has "
                f"{', '.join(report.scopes) or 'none'}): add the permission and get a new token"
            )
        if report.expires_at is not None:
            left = report.expires_at - now
            if left <= timedelta(0):
                report.alerts.append(
                    f"{self.name}: the token expired at {to_iso(report.expires_at)}: "
                    f"{_HOW_TO_GET_A_TOKEN}"
                )
            elif left <= timedelta(days=self.token_warn_days):
                report.alerts.append(
                    f"{self.name}: the token expires at {to_iso(report.expires_at)} (in "
                    f"{left.days} d {left.seconds // 3600} h): {_HOW_TO_GET_A_TOKEN}"
                )
        return report


#: Messenger's standard messaging window, and the HUMAN_AGENT tag's
STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)


def message_params(
    platform: str,
    last_customer: datetime,
    now: datetime,
    *,
    human_agent_tag: bool,
    by_person: bool,
) -> dict[str, str]:
    """``messaging_type`` (and ``tag``) for a message, or ``SourceError`` when the rules forbid it.

    Inside 24 hours of the customer's last message: a normal ``RESPONSE``.
    After that, where the platform offers it (``human_agent_tag``), a
    ``HUMAN_AGENT``-tagged message within 7 days, and only when a person sends
    it now (``by_person``; never a scheduled follow-up sent by ``due``). Later
    than that, or on a platform without the tag, nothing may be sent.
    """
    age = now - last_customer
    hours = age.total_seconds() / 3600
    if age <= STANDARD_WINDOW:
        return {"messaging_type": "RESPONSE"}
    if human_agent_tag and age <= HUMAN_AGENT_WINDOW:
        if by_person:
            return {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
        raise SourceError(
            f"{platform}: the customer's last message was {hours:.0f} h ago; after 24 h only a "
            "person may answer (HUMAN_AGENT tag, up to 7 days), and this message is automatic "
            "(a follow-up sent by `due`): answer it with `socialcare reply`"
        )
    if human_agent_tag:
        raise SourceError(
            f"{platform}: the customer's last message was {age.days} days ago; Messenger allows "
            "no reply after 7 days (HUMAN_AGENT tag): wait for the customer to write again"
        )
    raise SourceError(
        f"{platform}: the customer's last message was {hours:.0f} h ago; messages are allowed "
        "only within 24 h of it: wait for the customer to write again"
    )
