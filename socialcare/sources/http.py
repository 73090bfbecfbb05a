"""HTTP plumbing shared by the httpx-based adapters (Mastodon, Bluesky, Hacker News, RSS).

Each adapter talks to its platform through one :class:`HttpApi`, which owns a
lazily built ``httpx.Client`` and the retry rules, so every adapter waits,
retries and gives up the same way:

* **network errors and 5xx**: exponential backoff (1 s, 2 s, 4 s, ... capped),
  ``RetryPolicy.attempts`` tries in all, then ``SourceError``. Requests that
  create something and carry no idempotency key pass ``retry_unsent_only=True``
  and are retried only when the request never left this machine (connect
  errors), so a lost answer cannot publish the same reply twice. For such a
  write, a failure after the request went out (a read timeout, a connection
  closed mid-answer, a 5xx) raises ``SendOutcomeUnknown``: the platform may have
  published it, and the outbox marks the item ``unknown`` instead of ``failed``.
* **429**: the wait comes from ``Retry-After`` (seconds or an HTTP date), else
  from the platform's reset header (Mastodon's ``X-RateLimit-Reset``, an ISO
  time; Bluesky's ``ratelimit-reset``, epoch seconds). A wait of at most
  ``max_wait_seconds`` goes through ``Source.wait`` (the poll engine's
  countdown or log line, bounded by ``--max-wait``); a longer one, or one the
  engine declines, raises ``RateLimited`` carrying ``reset_at`` so the poll
  records when to try again.
* every other status is returned to the adapter, which knows what a 401 or a
  422 means on its platform (see :func:`api_error`).

Retries are hand-written rather than built on tenacity: the decision depends on
the status *and* on platform headers (wait vs. raise ``RateLimited`` with the
reset time, unsent-only retries for writes), which would need custom ``wait``,
``retry`` and ``stop`` callbacks anyway, and the loop below is short enough to
read in one sitting. Sleeping and the clock are injected, so tests never sleep.

:func:`html_to_text` (from :mod:`socialcare.safety`, the one HTML extractor)
is re-exported here because adapters receive HTML (Mastodon statuses, HN
comments, RSS summaries) and must store plain text.
"""

from __future__ import annotations

import json as jsonlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable, ClassVar, Mapping

import httpx

from .. import __version__
from ..errors import ConfigError, RateLimited, SendOutcomeUnknown, SourceError
from ..models import parse_iso, to_iso
from ..safety import html_to_text
from .base import Source

__all__ = [
    "DEFAULT_TIMEOUT",
    "USER_AGENT",
    "Clock",
    "HttpApi",
    "HttpSource",
    "RateWait",
    "RetryPolicy",
    "Sleep",
    "api_error",
    "html_to_text",
    "make_client",
    "rate_limit_info",
    "rate_limit_reset",
    "request_with_retries",
    "timeout_from_config",
]

log = logging.getLogger("socialcare.sources.http")

#: how long to wait for a connection and for each read (seconds); configurable per source
DEFAULT_TIMEOUT = 20.0
USER_AGENT = f"socialcare/{__version__} (social customer care CLI)"
#: a bare number above this is an epoch time, below it a number of seconds from now
_EPOCH_THRESHOLD = 1_000_000_000

Sleep = Callable[[float], None]
Clock = Callable[[], float]
#: ``wait(seconds, reason)`` waits out a rate limit; False declines (then ``RateLimited``).
#: Adapters pass ``Source.wait``, so the poll engine's countdown and ``--max-wait`` apply.
RateWait = Callable[[float, str], bool]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one request tries before it gives up.

    Attributes:
        attempts: tries in all for network errors and 5xx answers.
        backoff_seconds: the first backoff; it doubles after each failure.
        max_backoff_seconds: the longest single backoff.
        max_wait_seconds: the longest rate-limit wait slept through; longer
            waits raise ``RateLimited`` instead (a cron poll should not hang).
        rate_limit_waits: how often one request may wait for a rate limit; a
            second 429 right after a wait means another limit is the binding one.
    """

    attempts: int = 4
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0
    max_wait_seconds: float = 60.0
    rate_limit_waits: int = 2

    @classmethod
    def from_config(cls, section: Mapping[str, Any], source: str) -> RetryPolicy:
        """The policy with ``max_wait_seconds`` taken from ``[sources.NAME]``."""
        value = section.get("max_wait_seconds", cls.max_wait_seconds)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(
                f"sources.{source}.max_wait_seconds must be a number of seconds >= 0, got {value!r}"
            )
        return cls(max_wait_seconds=float(value))

    def backoff(self, failures: int) -> float:
        """The pause after the ``failures``-th failure (1-based)."""
        return float(min(self.backoff_seconds * 2 ** (failures - 1), self.max_backoff_seconds))


def timeout_from_config(section: Mapping[str, Any], source: str) -> float:
    """``timeout_seconds`` of a ``[sources.NAME]`` table, validated."""
    value = section.get("timeout_seconds", DEFAULT_TIMEOUT)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(
            f"sources.{source}.timeout_seconds must be a number of seconds > 0, got {value!r}"
        )
    return float(value)


def make_client(
    *,
    base_url: str = "",
    headers: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """A sync client with timeouts and our User-Agent; redirects are followed by
    :func:`request_with_retries`, which never carries a credential to another host.

    Args:
        transport: tests pass ``httpx.MockTransport``; ``None`` is the real network
            (which ``respx`` can also intercept).
    """
    all_headers = {"User-Agent": USER_AGENT}
    all_headers.update(headers or {})
    return httpx.Client(
        base_url=base_url,
        headers=all_headers,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        transport=transport,
        follow_redirects=False,
    )


# -- rate-limit headers --------------------------------------------------------
def _parse_time(value: str, now: float) -> float | None:
    """An absolute epoch time from a header: ISO time, HTTP date, epoch or seconds-from-now."""
    value = value.strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        return number if number > _EPOCH_THRESHOLD else now + max(number, 0.0)
    try:
        return parse_iso(value).timestamp()
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def rate_limit_reset(headers: httpx.Headers, now: float) -> tuple[float | None, str]:
    """When a 429 says we may try again, as ``(epoch, which header said so)``.

    ``Retry-After`` is the server's explicit instruction and wins; otherwise the
    window's reset header (Mastodon ``X-RateLimit-Reset``, Bluesky ``ratelimit-reset``).
    """
    for name in ("retry-after", "x-ratelimit-reset", "ratelimit-reset"):
        value = headers.get(name)
        if value is not None:
            reset = _parse_time(value, now)
            if reset is not None:
                return reset, name
    return None, ""


def rate_limit_info(headers: httpx.Headers, now: float) -> tuple[int | None, float | None]:
    """``(remaining, reset epoch)`` of the current window, for ``Page`` and ``status``."""
    remaining: int | None = None
    for name in ("x-ratelimit-remaining", "ratelimit-remaining"):
        value = headers.get(name)
        if value is not None:
            try:
                remaining = int(float(value))
            except ValueError:
                continue
            break
    reset: float | None = None
    for name in ("x-ratelimit-reset", "ratelimit-reset"):
        value = headers.get(name)
        if value is not None:
            reset = _parse_time(value, now)
            if reset is not None:
                break
    return remaining, reset


# -- errors --------------------------------------------------------------------
def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def api_reason(response: httpx.Response) -> str:
    """The platform's own explanation of a failed response, e.g. ``HTTP 422: Text too long``.

    Mastodon answers ``{"error": "..."}``; XRPC answers ``{"error": "Name", "message": "..."}``.
    """
    reason = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("error", "message") if body.get(k)]
        reason = ": ".join(parts)
    if not reason:
        reason = response.reason_phrase or "no explanation"
    return _one_line(f"HTTP {response.status_code}: {reason}")


def api_error(platform: str, what: str, response: httpx.Response) -> SourceError:
    """A ``SourceError`` naming the platform, the request and the server's reason."""
    return SourceError(f"{platform} API error ({what}): {api_reason(response)}")


# -- requests ------------------------------------------------------------------
#: the most redirects one request follows
MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


def _send(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    platform: str,
    what: str,
    params: Any,
    json: Any,
    headers: Mapping[str, str] | None,
) -> httpx.Response:
    """Send one request, following redirects only where no secret can leak.

    A redirect within the same origin is followed. One to another host is
    followed only by a plain GET without an ``Authorization`` header (a public
    feed moving to a CDN); a credentialed request (a token, or an app password
    in the body of ``createSession``) is refused instead, so a 307/308 can
    never replay a secret to a host nobody configured.
    """
    request = client.build_request(method, url, params=params, json=json, headers=headers)
    credentialed = "authorization" in request.headers or method.upper() != "GET" or json is not None
    start = _origin(request.url)
    for _ in range(MAX_REDIRECTS + 1):
        response = client.send(request)
        location = response.headers.get("location")
        if response.status_code not in _REDIRECTS or not location:
            return response
        target = request.url.join(location)
        if _origin(target) != start and credentialed:
            response.close()
            raise SourceError(
                f"{platform} API error ({what}): the server redirected to {target.host}, "
                f"another host than {start[1]}; not following with credentials "
                "(check the URL in the source's config)"
            )
        keep_body = response.status_code in (307, 308)
        next_method = method if keep_body or method.upper() == "HEAD" else "GET"
        response.close()
        request = client.build_request(
            next_method,
            target,
            json=json if keep_body else None,
            headers=headers,
        )
        if _origin(target) != start:
            request.headers.pop("authorization", None)
    raise SourceError(f"{platform} API error ({what}): more than {MAX_REDIRECTS} redirects")


def _unsent(exc: httpx.TransportError) -> bool:
    """Whether the request certainly never reached the server (safe to resend a write)."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def request_with_retries(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    platform: str,
    source: str,
    what: str,
    policy: RetryPolicy,
    sleep: Sleep = time.sleep,
    clock: Clock = time.time,
    params: Any = None,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    retry_unsent_only: bool = False,
    wait: RateWait | None = None,
    on_request: Callable[[], None] | None = None,
) -> httpx.Response:
    """Send one request, retrying as the module docstring describes.

    Returns the response for any status but 429 and 5xx; raises ``SourceError``
    when retries run out and ``RateLimited`` when the wait is too long.

    Args:
        platform: the name in messages ("Mastodon"); ``source`` the config table ("mastodon").
        what: what the request is for, in messages ("search 'acme'").
        retry_unsent_only: for non-idempotent writes: retry only requests that never left.
        wait: waits out rate limits (default: log and ``sleep``); backoffs always ``sleep``.
        on_request: called before every attempt (``Source.count_request``, for budgets).
    """

    def rate_wait(seconds: float, reason: str) -> bool:
        if wait is not None:
            return wait(seconds, reason)
        log.warning("%s: waiting %.0f s", reason, seconds)
        sleep(seconds)
        return True

    failures = 0
    waits = 0
    while True:
        if on_request is not None:
            on_request()
        try:
            response = _send(
                client,
                method,
                url,
                platform=platform,
                what=what,
                params=params,
                json=json,
                headers=headers,
            )
        except httpx.TransportError as exc:
            failures += 1
            detail = f"{type(exc).__name__}: {_one_line(str(exc), 200) or 'no detail'}"
            if retry_unsent_only and not _unsent(exc):
                raise SendOutcomeUnknown(
                    f"{platform} ({what}): the request went out but no complete answer came "
                    f"back ({detail}): it may have been published"
                ) from exc
            if failures >= policy.attempts:
                raise SourceError(
                    f"cannot reach {platform} ({what}) after {failures} attempt(s): {detail}"
                ) from exc
            delay = policy.backoff(failures)
            log.warning(
                "%s (%s): %s; retrying in %.1f s (attempt %d of %d)",
                platform,
                what,
                detail,
                delay,
                failures + 1,
                policy.attempts,
            )
            sleep(delay)
            continue

        status = response.status_code
        if status == 429:
            now = clock()
            reset, header = rate_limit_reset(response.headers, now)
            if reset is None:
                if waits < policy.rate_limit_waits:
                    waits += 1
                    reason = f"{platform} rate limit reached ({what}) without a reset time"
                    if rate_wait(policy.backoff(waits), reason):
                        continue
                raise RateLimited(
                    f"{platform} rate limit reached ({what}); the server gave no reset time, "
                    "try again in a few minutes"
                )
            seconds = reset - now
            if seconds < 0:
                log.warning(
                    "%s's rate-limit reset %s is %.0f s in the past: is this machine's clock "
                    "wrong? Waiting 1 s instead.",
                    platform,
                    to_iso(datetime.fromtimestamp(reset, tz=timezone.utc)),
                    -seconds,
                )
                seconds = 1.0
            when = to_iso(datetime.fromtimestamp(reset, tz=timezone.utc))
            if seconds <= policy.max_wait_seconds and waits < policy.rate_limit_waits:
                waits += 1
                reason = f"{platform} rate limit reached ({what}) until {when} (from {header})"
                if rate_wait(seconds, reason):
                    continue
                fix = "not waiting that long in this run; poll again after that"
            elif seconds > policy.max_wait_seconds:
                fix = (
                    f"longer than sources.{source}.max_wait_seconds "
                    f"({policy.max_wait_seconds:.0f}); poll again after that"
                )
            else:
                fix = "still limited after waiting; poll again after that"
            raise RateLimited(
                f"{platform} rate limit reached ({what}): it resets at {when} "
                f"(in {seconds:.0f} s), {fix}",
                reset_at=reset,
            )

        if status >= 500:
            failures += 1
            if retry_unsent_only:
                raise SendOutcomeUnknown(
                    f"{platform} API error ({what}): {api_reason(response)} after the request "
                    "went out: it may have been published"
                )
            if failures >= policy.attempts:
                tries = f" after {failures} attempts" if failures > 1 else ""
                raise SourceError(
                    f"{platform} API error ({what}): {api_reason(response)}{tries}; "
                    "the platform is having trouble, try again later"
                )
            delay = policy.backoff(failures)
            log.warning(
                "%s (%s): HTTP %d; retrying in %.1f s (attempt %d of %d)",
                platform,
                what,
                status,
                delay,
                failures + 1,
                policy.attempts,
            )
            sleep(delay)
            continue
        return response


class HttpApi:
    """One platform's HTTP client plus its retry policy, sleep, clock and hooks.

    Adapters pass ``wait=self.wait`` and ``on_request=self.count_request`` (see
    :class:`~socialcare.sources.base.Source`), so rate-limit waits show in the
    poll engine's countdown and obey ``--max-wait``, and budgets count every attempt.

    The ``httpx.Client`` is built on first use, so constructing an adapter (as
    ``socialcare sources`` or a config check does) costs no TLS setup.
    """

    def __init__(
        self,
        *,
        platform: str,
        source: str,
        policy: RetryPolicy,
        base_url: str = "",
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = time.time,
        wait: RateWait | None = None,
        on_request: Callable[[], None] | None = None,
    ) -> None:
        self.platform = platform
        self.source = source
        self.policy = policy
        self.base_url = base_url
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.transport = transport
        self.sleep = sleep
        self.clock = clock
        self.wait = wait
        self.on_request = on_request
        self._client: httpx.Client | None = None
        #: ``(remaining, reset epoch)`` from the last response, for ``Page``
        self.last_rate_limit: tuple[int | None, float | None] = (None, None)

    @property
    def client(self) -> httpx.Client:
        """The underlying client (built on first use)."""
        if self._client is None:
            self._client = make_client(
                base_url=self.base_url,
                headers=self.headers,
                timeout=self.timeout,
                transport=self.transport,
            )
        return self._client

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        params: Any = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        retry_unsent_only: bool = False,
    ) -> httpx.Response:
        """:func:`request_with_retries` with this API's client, policy, sleep and clock."""
        response = request_with_retries(
            self.client,
            method,
            url,
            platform=self.platform,
            source=self.source,
            what=what,
            policy=self.policy,
            sleep=self.sleep,
            clock=self.clock,
            params=params,
            json=json,
            headers=headers,
            retry_unsent_only=retry_unsent_only,
            wait=self.wait,
            on_request=self.on_request,
        )
        self.last_rate_limit = rate_limit_info(response.headers, self.clock())
        return response

    def json(self, response: httpx.Response, what: str, *, created: bool = False) -> Any:
        """The JSON body of a successful response, or ``SourceError``.

        ``created`` marks the answer to a write: a 2xx whose body cannot be read
        then raises ``SendOutcomeUnknown`` (the platform accepted *something*).

        Bytes that are not UTF-8 are kept as lone surrogates (``surrogateescape``),
        which :func:`~socialcare.sources.base.sanitise_mention` then replaces in the
        one post that carries them: a poisoned post must not cost the whole page.
        """
        try:
            return response.json()
        except UnicodeDecodeError:
            log.warning("%s (%s): the response is not valid UTF-8", self.platform, what)
            try:
                return jsonlib.loads(response.content.decode("utf-8", "surrogateescape"))
            except ValueError:
                pass
        except ValueError:
            pass
        message = (
            f"{self.platform} API error ({what}): the response is not JSON "
            f"(HTTP {response.status_code}, {response.headers.get('content-type', '?')})"
        )
        if created and response.is_success:
            raise SendOutcomeUnknown(f"{message}: it may have been published") from None
        raise SourceError(message) from None

    def items(
        self, body: Any, what: str, key: str | None = None, *, absent_is_empty: bool = False
    ) -> list[Any]:
        """The list a page of results is: the JSON ``body`` itself (``key`` None) or its
        ``key`` member. Anything else, an error object where a list belongs or a page
        without its member, is one ``SourceError`` line saying what was expected and what
        came (its first 80 characters), not an exception deep in the adapter.
        ``absent_is_empty``: the API leaves the member out when there are no results
        (Google's ``reviews``, the Graph API's ``data``).
        """
        head = f"{self.platform} API error ({what})"
        if key is None:
            if not isinstance(body, list):
                raise SourceError(f"{head}: expected a list, got {body!r:.80}")
            return body
        if not isinstance(body, dict):
            raise SourceError(f"{head}: expected an object with '{key}', got {body!r:.80}")
        value = body.get(key)
        if value is None and absent_is_empty:
            return []
        if not isinstance(value, list):
            got = "nothing" if value is None else f"{value!r:.80}"
            raise SourceError(f"{head}: expected a list in '{key}', got {got}")
        return value

    def close(self) -> None:
        """Close the connection pool (adapters live for one command, so this is optional)."""
        if self._client is not None:
            self._client.close()
            self._client = None


#: the keys every httpx adapter reads, besides the engine's (``Source.config_keys``)
HTTP_CONFIG_KEYS = frozenset({"max_wait_seconds", "timeout_seconds"})


class HttpSource(Source):
    """Base of the httpx adapters: ``self.api`` wired to the engine's hooks.

    Rate-limit waits go through :meth:`Source.wait` and every attempt through
    :meth:`Source.count_request`; ``pause`` (the wait without an engine) and
    the backoffs use the injected ``sleep``. Subclasses validate their config,
    then set ``self.api.base_url`` / ``self.api.headers`` before the first request.

    Args:
        transport: tests pass ``httpx.MockTransport``; ``None`` is the network.
        sleep, clock: tests record waits and pin "now".
    """

    #: the platform's name in messages ("Mastodon")
    platform: ClassVar[str]
    #: HTTP settings every httpx adapter reads
    config_keys: ClassVar[frozenset[str] | None] = HTTP_CONFIG_KEYS

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        brand_handles: tuple[str, ...] = (),
        transport: httpx.BaseTransport | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(config, brand_handles=brand_handles)
        self._sleep = sleep
        self.clock = clock
        self.api = HttpApi(
            platform=self.platform,
            source=self.name,
            policy=RetryPolicy.from_config(config, self.name),
            timeout=timeout_from_config(config, self.name),
            transport=transport,
            sleep=sleep,
            clock=clock,
            wait=self.wait,
            on_request=self.count_request,
        )
        self._configure()

    def close(self) -> None:
        """Close the adapter's HTTP client and its pooled connections."""
        self.api.close()

    def _configure(self) -> None:
        """Subclasses validate their config table and set up ``self.api`` here."""

    def pause(self, seconds: float) -> None:
        """Sleep through the injected ``sleep`` (tests record instead of sleeping)."""
        self._sleep(seconds)

    def _strings_setting(self, key: str) -> list[str]:
        """A list-of-strings config key, stripped and de-duplicated in order."""
        value = self.config.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ConfigError(f"sources.{self.name}.{key} must be a list of non-empty strings")
        return list(dict.fromkeys(v.strip() for v in value))
