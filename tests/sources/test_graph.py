"""The shared Graph API client, driven through the Facebook adapter's real httpx client.

Responses are answered by respx at the transport level and shaped as the Graph
API documents them: ``data`` plus ``paging.cursors.after`` / ``paging.next``,
error objects with ``code``, ``error_subcode`` and ``fbtrace_id``, and the
``X-App-Usage`` / ``X-Business-Use-Case-Usage`` headers.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import respx

from socialcare.errors import AuthError, RateLimited, SourceError
from socialcare.sources.facebook import FacebookSource
from socialcare.sources.graph import message_params, usage_percent
from tests.sources.graph_helpers import NOW, PAGE, TOKEN, G, load_fixture

pytestmark = [pytest.mark.store_free, pytest.mark.usefixtures("graph_env")]


def load(name: str) -> Any:
    return load_fixture("facebook", name)


class Waits(list[tuple[float, str]]):
    def __call__(self, seconds: float, reason: str) -> bool:
        self.append((seconds, reason))
        return True


def source(**config: Any) -> FacebookSource:
    src = FacebookSource(
        {"messenger": False, **config}, sleep=lambda s: None, clock=lambda: NOW.timestamp()
    )
    src.waiter = Waits()
    return src


def test_version_is_pinned_and_token_travels_only_in_the_header(api: respx.MockRouter) -> None:
    route = api.get(f"https://graph.facebook.com/v19.0/{PAGE}/feed").respond(json={"data": []})
    list(source(graph_version="v19.0").poll("feed", None))
    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(request.url)


def test_paging_follows_cursors_after_and_drops_the_token_of_next(api: respx.MockRouter) -> None:
    feed = api.get(f"{G}/{PAGE}/feed").mock(
        side_effect=[
            httpx.Response(200, json=load("feed_page1.json")),
            httpx.Response(200, json=load("feed_page2.json")),
        ]
    )
    api.get(f"{G}/{PAGE}_555000000000001/comments").respond(json=load("comments_page2.json"))
    list(source().poll("feed", None))
    assert feed.call_count == 2  # the second page has no paging.next: the walk ends there
    second = feed.calls[1].request.url
    assert second.params["after"] == "QVFIUkZFRURBRlRFUg"
    assert "access_token" not in second.params
    assert "PAGE-TOKEN-LEAK" not in str(second)


def test_time_paged_next_without_cursors_is_followed_on_the_graph_host_only(
    api: respx.MockRouter,
) -> None:
    src = source()
    assert src._next_params({"next": f"{G}/x/feed?until=1715600000&access_token=T"}, "w") == {
        "until": "1715600000"
    }
    assert src._next_params({"cursors": {"after": "A"}}, "w") is None  # no next: last page
    with pytest.raises(SourceError, match="not following"):
        src._next_params({"next": "https://evil.example/v23.0/x?after=1"}, "w")


def test_expired_token_190_is_an_auth_error_saying_how_to_get_a_new_one(
    api: respx.MockRouter,
) -> None:
    api.get(f"{G}/{PAGE}/feed").respond(400, json=load("error_expired_token.json"))
    with pytest.raises(AuthError) as caught:
        list(source().poll("feed", None))
    message = str(caught.value)
    assert caught.value.exit_code == 4
    assert (
        "code 190" in message and "subcode 463" in message and "fbtrace_id A1b2C3d4E5f" in message
    )
    assert "FACEBOOK_PAGE_ACCESS_TOKEN" in message and "long-lived" in message
    assert "\n" not in message and TOKEN not in message


@pytest.mark.parametrize("fixture", ["error_rate_limit.json", "error_page_rate_limit.json"])
def test_rate_limit_codes_wait_what_the_usage_header_says_then_retry(
    api: respx.MockRouter, fixture: str
) -> None:
    usage = {"104530000000001": [{"type": "pages", "call_count": 100, "total_cputime": 12,
                                  "total_time": 30, "estimated_time_to_regain_access": 1}]}  # fmt: skip
    route = api.get(f"{G}/{PAGE}/feed").mock(
        side_effect=[
            httpx.Response(
                400,
                json=load(fixture),
                headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
            ),
            httpx.Response(200, json={"data": []}),
        ]
    )
    src = source()
    list(src.poll("feed", None))
    assert route.call_count == 2
    assert src.waiter[0][0] == 60.0  # estimated_time_to_regain_access is in minutes


def test_a_rate_limit_longer_than_max_wait_raises_with_the_reset_time(
    api: respx.MockRouter,
) -> None:
    usage = {"1": [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 30}]}
    api.get(f"{G}/{PAGE}/feed").respond(
        400,
        json=load("error_rate_limit.json"),
        headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
    )
    src = source()
    with pytest.raises(RateLimited) as caught:
        list(src.poll("feed", None))
    assert caught.value.reset_at == NOW.timestamp() + 1800
    assert "code 4" in str(caught.value) and "fbtrace_id AbCdEf12345" in str(caught.value)
    assert src.waiter == []


def test_high_app_usage_slows_down_before_the_limit(api: respx.MockRouter) -> None:
    api.get(f"{G}/{PAGE}/feed").respond(
        json={"data": []},
        headers={
            "X-App-Usage": json.dumps({"call_count": 90, "total_time": 40, "total_cputime": 5})
        },
    )
    src = source()
    list(src.poll("feed", None))
    assert len(src.waiter) == 1
    seconds, reason = src.waiter[0]
    assert seconds == pytest.approx(30.0)  # halfway from 80 % to 100 %: half the longest pause
    assert "90%" in reason


def test_low_usage_does_not_wait(api: respx.MockRouter) -> None:
    api.get(f"{G}/{PAGE}/feed").respond(
        json={"data": []}, headers={"X-App-Usage": '{"call_count": 12}'}
    )
    src = source()
    list(src.poll("feed", None))
    assert src.waiter == []


def test_usage_percent_reads_every_header_and_ignores_garbage() -> None:
    headers = httpx.Headers(
        {
            "X-App-Usage": '{"call_count": 10, "total_time": 55}',
            "X-Business-Use-Case-Usage": '{"9": [{"call_count": 70, "estimated_time_to_regain_access": 0}]}',
        }
    )
    assert usage_percent(headers) == (70.0, None)
    assert usage_percent(httpx.Headers({"X-App-Usage": "not json"})) == (None, None)


def test_a_permission_error_names_the_permission(api: respx.MockRouter) -> None:
    api.post(f"{G}/555_1/comments").respond(403, json=load("error_permission.json"))
    from socialcare.models import Mention

    m = Mention(source="facebook", native_id="555_1", text="hi", created_at=NOW,
                author_id="7", author_handle="Jo", kind="comment")  # fmt: skip
    with pytest.raises(AuthError, match="pages_manage_engagement permission"):
        source().reply(m, "hello")


def test_token_report_names_scopes_missing_permission_and_coming_expiry(
    api: respx.MockRouter,
) -> None:
    route = api.get(f"{G}/debug_token").respond(json=load("debug_token.json"))
    report = source(messenger=True).token_report(NOW)
    assert route.calls.last.request.url.params["input_token"] == TOKEN
    assert "pages_read_engagement" in report.scopes
    assert report.missing == ["pages_messaging"]
    assert report.expires_at == datetime(2024, 5, 16, 12, 0, tzinfo=timezone.utc)
    assert any("lacks pages_messaging" in a for a in report.alerts)
    assert any("expires at 2024-05-16T12:00:00Z" in a for a in report.alerts)
    assert "missing: pages_messaging" in report.summary


def test_token_report_is_quiet_for_a_healthy_token(api: respx.MockRouter) -> None:
    api.get(f"{G}/debug_token").respond(json=load("debug_token.json"))
    report = source().token_report(NOW - timedelta(days=30))  # expiry a month away
    assert report.missing == [] and report.alerts == [] and report.warnings == []


def test_token_report_turns_an_unreachable_graph_into_a_warning(api: respx.MockRouter) -> None:
    api.get(f"{G}/debug_token").respond(500, json={"error": {"message": "down", "code": 1}})
    report = source().token_report(NOW)
    assert report.alerts == [] and "could not check the token" in report.warnings[0]


LAST = NOW - timedelta(hours=1)


@pytest.mark.parametrize(
    ("age", "person", "expected"),
    [
        (timedelta(hours=23), False, {"messaging_type": "RESPONSE"}),
        (timedelta(hours=30), True, {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}),
        (
            timedelta(days=6, hours=23),
            True,
            {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"},
        ),
    ],
)
def test_messaging_window_rules(age: timedelta, person: bool, expected: dict[str, str]) -> None:
    assert message_params("Facebook", NOW - age, NOW, human_agent_tag=True, by_person=person) == (
        expected
    )


def test_after_24_hours_an_automatic_message_is_refused() -> None:
    with pytest.raises(SourceError, match="only a person may answer"):
        message_params("Facebook", NOW - timedelta(hours=30), NOW, human_agent_tag=True,
                       by_person=False)  # fmt: skip


def test_after_7_days_even_a_person_is_refused() -> None:
    with pytest.raises(SourceError, match="no reply after 7 days"):
        message_params("Facebook", NOW - timedelta(days=8), NOW, human_agent_tag=True,
                       by_person=True)  # fmt: skip


def test_without_the_tag_only_24_hours() -> None:
    with pytest.raises(SourceError, match="only within 24 h"):
        message_params("Instagram", NOW - timedelta(hours=25), NOW, human_agent_tag=False,
                       by_person=True)  # fmt: skip
