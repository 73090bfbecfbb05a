"""The shared HTTP helper: backoff on 5xx and network errors, 429 waits vs. RateLimited.

Requests go through a real ``httpx.Client`` whose transport is an
``httpx.MockTransport`` answering from a script, so the helper's own request
building and header parsing run; ``Sleeps`` records every wait instead of sleeping.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any, Callable

import httpx
import pytest

from socialcare.errors import ConfigError, RateLimited, SendOutcomeUnknown, SourceError
from socialcare.sources.http import (
    USER_AGENT,
    HttpApi,
    RetryPolicy,
    html_to_text,
    make_client,
    rate_limit_info,
)

pytestmark = pytest.mark.store_free

NOW = 1_715_600_000.0
URL = "https://api.example/thing"


class Sleeps(list[float]):
    """Stands in for ``time.sleep``: records how long the helper chose to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


Answer = httpx.Response | Exception


def scripted(answers: list[Answer], seen: list[httpx.Request]) -> httpx.MockTransport:
    """A transport that answers each request with the next scripted response or error."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.MockTransport(handler)


def api(
    answers: list[Answer],
    *,
    policy: RetryPolicy | None = None,
    clock: Callable[[], float] = lambda: NOW,
) -> tuple[HttpApi, Sleeps, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    sleeps = Sleeps()
    http = HttpApi(
        platform="Example",
        source="example",
        policy=policy or RetryPolicy(),
        transport=scripted(answers, seen),
        sleep=sleeps,
        clock=clock,
    )
    return http, sleeps, seen


def ok(**kwargs: Any) -> httpx.Response:
    return httpx.Response(200, json={"ok": True}, **kwargs)


def test_server_errors_back_off_exponentially_then_succeed(caplog: Any) -> None:
    http, sleeps, seen = api([httpx.Response(502), httpx.Response(503), ok()])
    with caplog.at_level(logging.WARNING, logger="socialcare.sources.http"):
        response = http.request("GET", URL, what="thing")
    assert response.json() == {"ok": True}
    assert len(seen) == 3
    assert sleeps == [1.0, 2.0]
    assert "HTTP 502; retrying in 1.0 s (attempt 2 of 4)" in caplog.text


def test_persistent_server_error_raises_source_error_after_all_attempts() -> None:
    answers: list[Answer] = [
        httpx.Response(500, json={"error": "InternalServerError", "message": "boom"})
        for _ in range(4)
    ]
    http, sleeps, seen = api(answers)
    with pytest.raises(SourceError, match=r"HTTP 500: InternalServerError: boom after 4 attempts"):
        http.request("GET", URL, what="thing")
    assert len(seen) == 4
    assert sleeps == [1.0, 2.0, 4.0]


def test_network_errors_are_retried_and_reported_when_they_persist() -> None:
    http, sleeps, seen = api([httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), ok()])
    assert http.request("GET", URL, what="thing").status_code == 200
    assert sleeps == [1.0, 2.0]

    failing: list[Answer] = [httpx.ConnectError("refused") for _ in range(4)]
    http, sleeps, _ = api(failing)
    with pytest.raises(
        SourceError, match="cannot reach Example .thing. after 4 attempt.*ConnectError"
    ):
        http.request("GET", URL, what="thing")


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(attempts=8, backoff_seconds=10, max_backoff_seconds=25)
    assert [policy.backoff(n) for n in (1, 2, 3, 4)] == [10.0, 20.0, 25.0, 25.0]


def test_writes_are_not_resent_once_they_may_have_arrived() -> None:
    http, sleeps, seen = api([httpx.Response(502)])
    with pytest.raises(SourceError, match="HTTP 502"):
        http.request("POST", URL, what="post", json={}, retry_unsent_only=True)
    assert (len(seen), sleeps) == (1, [])

    http, sleeps, seen = api([httpx.ReadTimeout("no answer")])
    with pytest.raises(SourceError, match="ReadTimeout"):
        http.request("POST", URL, what="post", json={}, retry_unsent_only=True)
    assert len(seen) == 1

    # a refused connection never reached the server: resending is safe
    http, sleeps, seen = api([httpx.ConnectError("refused"), ok()])
    assert http.request("POST", URL, what="post", json={}, retry_unsent_only=True).is_success
    assert (len(seen), sleeps) == (2, [1.0])


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500),
        httpx.Response(503, json={"error": "busy"}),
        httpx.ReadTimeout("no answer"),
        httpx.RemoteProtocolError("peer closed connection without sending complete message"),
        httpx.ReadError("connection reset"),
        httpx.WriteTimeout("stalled mid-body"),
    ],
    ids=["500", "503", "read-timeout", "closed-mid-response", "read-error", "write-timeout"],
)
def test_a_write_that_may_have_arrived_is_an_unknown_outcome(answer: Answer) -> None:
    http, sleeps, seen = api([answer])
    with pytest.raises(SendOutcomeUnknown, match="may have been published"):
        http.request("POST", URL, what="post", json={}, retry_unsent_only=True)
    assert (len(seen), sleeps) == (1, [])


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(422, json={"error": "too long"}), httpx.ConnectError("refused")],
    ids=["4xx", "refused"],
)
def test_a_write_that_surely_did_not_arrive_is_a_plain_source_error(answer: Answer) -> None:
    answers: list[Answer] = [answer] * 4
    http, _, _ = api(answers)
    try:
        response = http.request("POST", URL, what="post", json={}, retry_unsent_only=True)
    except SourceError as exc:
        assert not isinstance(exc, SendOutcomeUnknown)
    else:
        assert response.status_code == 422  # the adapter turns it into a SourceError


def test_a_created_answer_that_is_not_json_is_unknown_but_an_error_page_is_not() -> None:
    http, _, _ = api([])
    garbled = httpx.Response(200, text="<html>ok</html>", headers={"content-type": "text/html"})
    with pytest.raises(SendOutcomeUnknown):
        http.json(garbled, "post", created=True)
    with pytest.raises(SourceError) as info:
        http.json(httpx.Response(400, text="<html>bad</html>"), "post", created=True)
    assert not isinstance(info.value, SendOutcomeUnknown)


def test_429_with_retry_after_seconds_waits_then_succeeds(caplog: Any) -> None:
    http, sleeps, seen = api([httpx.Response(429, headers={"Retry-After": "7"}), ok()])
    with caplog.at_level(logging.WARNING, logger="socialcare.sources.http"):
        assert http.request("GET", URL, what="thing").status_code == 200
    assert sleeps == [7.0]
    assert len(seen) == 2
    assert "waiting 7 s" in caplog.text and "retry-after" in caplog.text


def test_429_with_retry_after_http_date() -> None:
    when = format_datetime(datetime.fromtimestamp(NOW + 30, tz=timezone.utc), usegmt=True)
    http, sleeps, _ = api([httpx.Response(429, headers={"Retry-After": when}), ok()])
    http.request("GET", URL, what="thing")
    assert sleeps == [30.0]


def test_429_mastodon_reset_header_short_wait_then_long_wait_raises() -> None:
    soon = "2024-05-13T11:33:40.000Z"  # NOW + 20 s
    assert datetime.fromisoformat(soon.replace("Z", "+00:00")).timestamp() == NOW + 20
    headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": soon}
    http, sleeps, _ = api([httpx.Response(429, headers=headers), ok()])
    http.request("GET", URL, what="thing")
    assert sleeps == [20.0]

    later = "2024-05-13T11:38:20.000Z"  # NOW + 300 s, beyond the default 60 s
    http, sleeps, seen = api([httpx.Response(429, headers={"X-RateLimit-Reset": later})])
    with pytest.raises(RateLimited, match=r"resets at 2024-05-13T11:38:20Z \(in 300 s\)") as info:
        http.request("GET", URL, what="thing")
    assert info.value.reset_at == NOW + 300
    assert "sources.example.max_wait_seconds" in str(info.value)
    assert (sleeps, len(seen)) == ([], 1)


def test_429_bluesky_epoch_reset_header() -> None:
    headers = {
        "ratelimit-limit": "3000",
        "ratelimit-remaining": "0",
        "ratelimit-reset": str(int(NOW + 45)),
    }
    http, sleeps, _ = api([httpx.Response(429, headers=headers), ok()])
    http.request("GET", URL, what="thing")
    assert sleeps == [45.0]

    headers["ratelimit-reset"] = str(int(NOW + 3600))
    http, sleeps, _ = api([httpx.Response(429, headers=headers)])
    with pytest.raises(RateLimited) as info:
        http.request("GET", URL, what="thing")
    assert info.value.reset_at == NOW + 3600
    assert sleeps == []


def test_max_wait_seconds_comes_from_config_and_zero_never_sleeps() -> None:
    policy = RetryPolicy.from_config({"max_wait_seconds": 0}, "example")
    http, sleeps, _ = api([httpx.Response(429, headers={"Retry-After": "1"})], policy=policy)
    with pytest.raises(RateLimited):
        http.request("GET", URL, what="thing")
    assert sleeps == []
    with pytest.raises(ConfigError, match="max_wait_seconds"):
        RetryPolicy.from_config({"max_wait_seconds": "soon"}, "example")


def test_a_second_429_after_waiting_twice_raises() -> None:
    limited = [httpx.Response(429, headers={"Retry-After": "5"}) for _ in range(3)]
    http, sleeps, seen = api(list(limited))
    with pytest.raises(RateLimited, match="still limited after waiting"):
        http.request("GET", URL, what="thing")
    assert sleeps == [5.0, 5.0]
    assert len(seen) == 3


def test_429_without_any_reset_hint_backs_off_then_raises() -> None:
    http, sleeps, _ = api([httpx.Response(429), httpx.Response(429), httpx.Response(429)])
    with pytest.raises(RateLimited, match="no reset time") as info:
        http.request("GET", URL, what="thing")
    assert info.value.reset_at is None
    assert sleeps == [1.0, 2.0]


def test_reset_in_the_past_waits_one_second_and_warns_about_the_clock(caplog: Any) -> None:
    http, sleeps, _ = api(
        [httpx.Response(429, headers={"ratelimit-reset": str(int(NOW - 120))}), ok()]
    )
    with caplog.at_level(logging.WARNING, logger="socialcare.sources.http"):
        http.request("GET", URL, what="thing")
    assert sleeps == [1.0]
    assert "clock" in caplog.text


def test_client_errors_are_returned_to_the_adapter_untouched() -> None:
    http, sleeps, seen = api([httpx.Response(404, json={"error": "Record not found"})])
    assert http.request("GET", URL, what="thing").status_code == 404
    assert (len(seen), sleeps) == (1, [])


def test_rate_limit_info_reads_both_header_styles() -> None:
    mastodon = httpx.Headers(
        {"X-RateLimit-Remaining": "299", "X-RateLimit-Reset": "2024-05-13T11:35:00.000Z"}
    )
    assert rate_limit_info(mastodon, NOW) == (299, NOW + 100)
    bluesky = httpx.Headers({"ratelimit-remaining": "2999", "ratelimit-reset": "1715600300"})
    assert rate_limit_info(bluesky, NOW) == (2999, 1715600300.0)
    assert rate_limit_info(httpx.Headers({}), NOW) == (None, None)


def test_client_factory_sets_user_agent_timeouts_and_transport() -> None:
    seen: list[httpx.Request] = []
    client = make_client(
        base_url="https://api.example", timeout=5, transport=scripted([ok()], seen)
    )
    client.get("/ping", headers={"X-Extra": "1"})
    assert seen[0].url == "https://api.example/ping"
    assert seen[0].headers["user-agent"] == USER_AGENT
    assert client.timeout.read == 5 and client.timeout.connect == 5
    assert make_client().timeout.connect == 10.0


def test_api_records_the_rate_limit_of_the_last_response() -> None:
    http, _, _ = api([ok(headers={"ratelimit-remaining": "12", "ratelimit-reset": "1715600060"})])
    http.request("GET", URL, what="thing")
    assert http.last_rate_limit == (12, 1715600060.0)


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>one<br>two</p><p>three</p>", "one\ntwo\n\nthree"),
        ("<p>a &amp; b &lt;c&gt; &#39;d&#39;</p>", "a & b <c> 'd'"),
        ("First<p>Second<p>Third", "First\n\nSecond\n\nThird"),  # HN's unclosed <p>
        (
            '<a href="https://x.example/long"><span class="invisible">https://</span>'
            '<span class="ellipsis">x.example/lo</span><span class="invisible">ng</span></a>',
            "https://x.example/long",
        ),
        ("<ul><li>one</li><li>two</li></ul>", "- one\n- two"),
        ("<style>p{}</style><p>  spaced   out  </p>", "spaced out"),
        ("plain text", "plain text"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text
