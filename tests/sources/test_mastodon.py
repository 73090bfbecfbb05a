"""The Mastodon adapter against the documented REST API, answered by respx at the transport.

The adapter's real httpx client builds every request and parses every response;
``tests/fixtures/mastodon`` holds Notification, Status and Search entities shaped
as docs.joinmastodon.org documents them. ``Sleeps`` records waits instead of sleeping.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import respx

from socialcare.errors import AuthError, ConfigError, MissingCredential, SourceError
from socialcare.models import Mention
from socialcare.poll import poll_source
from socialcare.sources import registry
from socialcare.sources.mastodon import MastodonSource, mastodon_length
from socialcare.store import Store

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mastodon"
INSTANCE = "https://mastodon.example"
NOTIFICATIONS = f"{INSTANCE}/api/v1/notifications"
SEARCH = f"{INSTANCE}/api/v2/search"
STATUSES = f"{INSTANCE}/api/v1/statuses"
TOKEN = "mastodon-SECRET-token-8c1f"
NOW = 1_715_600_000.0  # 2024-05-13T11:33:20Z
NOW_DT = datetime.fromtimestamp(NOW, tz=timezone.utc)
# the status ids of the notification fixtures, newest first
S3, S2, S1 = "112450000000000003", "112450000000000002", "112450000000000001"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def link(path: str, max_id: str, min_id: str) -> dict[str, str]:
    """The Link header Mastodon sends with a page of a timeline."""
    base = f"{INSTANCE}{path}?limit=2&types%5B%5D=mention"
    return {"Link": f'<{base}&max_id={max_id}>; rel="next", <{base}&min_id={min_id}>; rel="prev"'}


def page1() -> httpx.Response:
    return httpx.Response(
        200,
        json=load("notifications_page1.json"),
        headers={
            **link("/api/v1/notifications", "34975860", "34975861"),
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "297",
            "X-RateLimit-Reset": "2024-05-13T11:35:00.000Z",
        },
    )


def page2() -> httpx.Response:
    return httpx.Response(
        200,
        json=load("notifications_page2.json"),
        headers=link("/api/v1/notifications", "34975535", "34975535"),
    )


def params(call: Any) -> dict[str, str]:
    return dict(call.request.url.params.multi_items())


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", TOKEN)
    return TOKEN


def make(sleeps: Sleeps | None = None, **config: Any) -> MastodonSource:
    cfg: dict[str, Any] = {"instance": INSTANCE, "limit": 2, **config}
    return MastodonSource(cfg, sleep=Sleeps() if sleeps is None else sleeps, clock=lambda: NOW)


def test_mentions_are_paged_by_link_header_and_cursor_is_newest_notification(
    store: Store, token: str, api: respx.MockRouter
) -> None:
    route = api.get(NOTIFICATIONS).mock(side_effect=[page1(), page2()])
    pages = list(make().poll("mentions", None))
    assert [len(p.mentions) for p in pages] == [2, 1]
    # only the last page may move the cursor: a failure on page 2 must not skip it
    assert [p.cursor for p in pages] == [None, "34975861"]
    assert pages[0].rate_limit_remaining == 297
    first, second = params(route.calls[0]), params(route.calls[1])
    assert first == {"limit": "2", "types[]": "mention"}
    assert second == {"limit": "2", "types[]": "mention", "max_id": "34975860"}
    assert route.calls[0].request.headers["authorization"] == f"Bearer {TOKEN}"
    assert [m.native_id for p in pages for m in p.mentions] == [S3, S2, S1]


def test_second_poll_sends_since_id_and_stores_nothing_twice(
    store: Store, token: str, api: respx.MockRouter
) -> None:
    route = api.get(NOTIFICATIONS).mock(
        side_effect=[page1(), page2(), httpx.Response(200, json=load("notifications_newer.json"))]
    )
    src = make()
    [first] = poll_source(store, src)
    assert (first.new, first.cursor) == (3, "34975861")
    [again] = poll_source(store, src)
    assert params(route.calls[2])["since_id"] == "34975861"
    assert (again.fetched, again.new, again.cursor) == (1, 1, "34975900")
    assert store.mention_count() == 4


def test_statuses_are_normalised_with_html_stripped(token: str, api: respx.MockRouter) -> None:
    api.get(NOTIFICATIONS).mock(side_effect=[page1(), page2()])
    carol, dave, erin = [m for p in make().poll("mentions", None) for m in p.mentions]
    assert carol.text == (
        "@acme my order #4411 still hasn't shipped\n"
        "it's been 10 days & no reply to email\n\n"
        "Tracking: https://track.example/abc/verylongpath"
    )
    assert (carol.author_handle, carol.author_name, carol.author_followers) == (
        "carol@social.example",
        "Carol ☕",
        321,
    )
    assert carol.url == "https://social.example/@carol/112450000000000003"
    assert (carol.kind, carol.parent_id, carol.conversation_id) == ("post", None, S3)
    assert carol.query == "mentions" and carol.language == "en"
    assert (dave.kind, dave.parent_id, dave.conversation_id) == (
        "reply",
        "112449999999999990",
        None,
    )
    assert erin.text == "[CW: outage talk]\n@acme is the app down for anyone else?"
    assert erin.created_at.isoformat() == "2024-05-13T10:00:00+00:00"


def test_server_error_mid_pagination_keeps_page_one_and_does_not_move_cursor(
    store: Store, token: str, api: respx.MockRouter
) -> None:
    store.set_cursor("mastodon", "mentions", "34975000")
    failing = [httpx.Response(503, text="<html>503 Service Unavailable</html>")] * 4
    route = api.get(NOTIFICATIONS).mock(side_effect=[page1(), *failing])
    sleeps = Sleeps()
    [result] = poll_source(store, make(sleeps))
    assert result.error is not None and "HTTP 503" in result.error
    assert result.error_code == SourceError.exit_code
    assert result.new == 2
    assert store.get_cursor("mastodon", "mentions") == "34975000"
    assert len(route.calls) == 5 and sleeps == [1.0, 2.0, 4.0]


def test_server_error_then_success_is_retried(
    store: Store, token: str, api: respx.MockRouter
) -> None:
    api.get(NOTIFICATIONS).mock(side_effect=[httpx.Response(502), page1(), page2()])
    sleeps = Sleeps()
    [result] = poll_source(store, make(sleeps))
    assert (result.error, result.new, sleeps) == (None, 3, [1.0])
    assert result.requests == 3  # the failed attempt counts against a request budget too


def test_rate_limit_short_reset_waits_then_continues(token: str, api: respx.MockRouter) -> None:
    limited = httpx.Response(
        429,
        json=load("error_429.json"),
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2024-05-13T11:33:50.000Z"},
    )
    api.get(NOTIFICATIONS).mock(side_effect=[limited, page1(), page2()])
    sleeps = Sleeps()
    pages = list(make(sleeps).poll("mentions", None))
    assert sleeps == [30.0]
    assert pages[-1].cursor == "34975861"


def test_rate_limit_waits_go_through_the_engines_waiter(
    store: Store, token: str, api: respx.MockRouter
) -> None:
    limited = httpx.Response(
        429, json=load("error_429.json"), headers={"X-RateLimit-Reset": "2024-05-13T11:33:50Z"}
    )
    api.get(NOTIFICATIONS).mock(side_effect=[limited, page1(), page2()])
    waits: list[tuple[float, str]] = []

    def waiter(seconds: float, reason: str) -> bool:
        waits.append((seconds, reason))
        return True

    sleeps = Sleeps()
    [result] = poll_source(store, make(sleeps), waiter=waiter)
    assert waits == [
        (
            30.0,
            "Mastodon rate limit reached (mentions) until 2024-05-13T11:33:50Z "
            "(from x-ratelimit-reset)",
        )
    ]
    assert sleeps == []  # the engine's waiter waited, not the adapter
    assert (result.error, result.new) == (None, 3)


def test_max_wait_declines_the_wait_and_the_query_is_rate_limited(
    store: Store, token: str, api: respx.MockRouter
) -> None:
    limited = httpx.Response(
        429, json=load("error_429.json"), headers={"X-RateLimit-Reset": "2024-05-13T11:33:50Z"}
    )
    api.get(NOTIFICATIONS).mock(side_effect=[limited])
    sleeps = Sleeps()
    [result] = poll_source(store, make(sleeps), max_wait=10)
    assert result.error_code == 5 and sleeps == []
    assert "not waiting that long" in (result.error or "")
    [health] = store.source_health()
    assert health["rate_limit_reset"] == "2024-05-13T11:33:50Z"


def test_rate_limit_long_reset_is_recorded_not_slept(
    store: Store, token: str, api: respx.MockRouter
) -> None:
    limited = httpx.Response(
        429,
        json=load("error_429.json"),
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2024-05-13T11:38:20.000Z"},
    )
    api.get(NOTIFICATIONS).mock(side_effect=[page1(), limited])
    sleeps = Sleeps()
    [result] = poll_source(store, make(sleeps))
    assert result.error_code == 5 and "resets at 2024-05-13T11:38:20Z" in (result.error or "")
    assert sleeps == []
    assert result.new == 2 and store.get_cursor("mastodon", "mentions") is None
    [health] = store.source_health()
    assert health["rate_limit_reset"] == "2024-05-13T11:38:20Z"


def test_rejected_token_is_an_auth_error_naming_the_variable(
    token: str, api: respx.MockRouter
) -> None:
    api.get(NOTIFICATIONS).mock(return_value=httpx.Response(401, json=load("error_401.json")))
    src = make(access_token_env="MASTODON_ACCESS_TOKEN")
    with pytest.raises(AuthError, match="MASTODON_ACCESS_TOKEN"):
        list(src.poll("mentions", None))


def test_missing_token_names_the_configured_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MASTODON_ACCESS_TOKEN", raising=False)
    src = make(access_token_env="ACME_MASTO_TOKEN")
    with pytest.raises(MissingCredential, match="ACME_MASTO_TOKEN"):
        src.check_credentials()
    # hashtag timelines are public: no token needed
    make(mentions=False, hashtags=["acme"]).check_credentials()


def test_hashtag_timeline_is_public_and_sends_since_id(
    monkeypatch: pytest.MonkeyPatch, api: respx.MockRouter
) -> None:
    monkeypatch.delenv("MASTODON_ACCESS_TOKEN", raising=False)
    route = api.get(f"{INSTANCE}/api/v1/timelines/tag/acme").mock(
        return_value=httpx.Response(200, json=load("tag_acme.json"))
    )
    src = make(mentions=False, hashtags=["#acme"], limit=40)
    assert src.queries() == ["#acme"]
    [page] = list(src.poll("#acme", "112450000000000005"))
    assert "authorization" not in route.calls[0].request.headers
    assert params(route.calls[0]) == {"limit": "40", "since_id": "112450000000000005"}
    assert page.cursor == "112450000000000011"
    assert page.mentions[0].text == "Loving the new #acme release"


def test_search_pages_with_max_id_and_stops_at_the_cursor(
    store: Store, token: str, api: respx.MockRouter
) -> None:
    route = api.get(SEARCH).mock(
        side_effect=[
            httpx.Response(200, json=load("search_page1.json")),
            httpx.Response(200, json=load("search_page2.json")),
            httpx.Response(200, json=load("search_newer.json")),
        ]
    )
    src = make(mentions=False, searches=["acme support"])
    assert src.queries() == ["search:acme support"]
    [first] = poll_source(store, src)
    assert (first.new, first.pages, first.cursor) == (3, 2, "112450000000000023")
    assert params(route.calls[0]) == {"q": "acme support", "type": "statuses", "limit": "2"}
    assert params(route.calls[1])["max_id"] == "112450000000000022"
    # the newer page holds one new status and one already stored: it stops there
    [again] = poll_source(store, src)
    assert "max_id" not in params(route.calls[2])
    assert (again.fetched, again.new, again.cursor) == (1, 1, "112450000000000024")
    assert len(route.calls) == 3


def test_reply_mentions_the_author_and_keeps_the_thread(token: str, api: respx.MockRouter) -> None:
    api.get(NOTIFICATIONS).mock(side_effect=[page1(), page2()])
    route = api.post(STATUSES).mock(
        return_value=httpx.Response(200, json=load("status_created.json"))
    )
    src = make()
    carol, dave, erin = [m for p in src.poll("mentions", None) for m in p.mentions]

    sent = src.reply(carol, "Sorry about that! We have escalated order 4411.")
    assert sent.native_id == "112450000000000099"
    assert sent.url == "https://mastodon.example/@acme/112450000000000099"
    body = json.loads(route.calls[0].request.content)
    assert body == {
        "status": "@carol@social.example Sorry about that! We have escalated order 4411.",
        "in_reply_to_id": S3,
        "visibility": "unlisted",  # public original, capped at reply_visibility
    }
    request = route.calls[0].request
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert len(request.headers["idempotency-key"]) == 32

    src.reply(dave, "@Dave glad it works!")  # already addressed: not doubled
    body = json.loads(route.calls[1].request.content)
    assert body["status"] == "@Dave glad it works!"
    assert body["visibility"] == "private"  # never more public than the original

    src.reply(erin, "We are on it.")
    body = json.loads(route.calls[2].request.content)
    assert body["spoiler_text"] == "outage talk" and body["visibility"] == "unlisted"
    assert len({c.request.headers["idempotency-key"] for c in route.calls}) == 3


def test_reply_visibility_public_keeps_the_originals(token: str, api: respx.MockRouter) -> None:
    route = api.post(STATUSES).mock(
        return_value=httpx.Response(200, json=load("status_created.json"))
    )
    mention = Mention.from_row(
        {
            "source": "mastodon",
            "native_id": S3,
            "text": "hi",
            "created_at": "2024-05-13T10:05:00Z",
            "author_id": "1",
            "author_handle": "carol@social.example",
            "raw": json.dumps({"visibility": "public"}),
        }
    )
    make(reply_visibility="public").reply(mention, "hello")
    body = json.loads(route.calls[0].request.content)
    assert body == {
        "status": "@carol@social.example hello",
        "in_reply_to_id": S3,
        "visibility": "public",
    }


def test_rejected_reply_reports_the_servers_reason(token: str, api: respx.MockRouter) -> None:
    api.get(NOTIFICATIONS).mock(side_effect=[page1(), page2()])
    api.post(STATUSES).mock(return_value=httpx.Response(422, json=load("error_422.json")))
    src = make()
    mention = next(iter(src.poll("mentions", None))).mentions[0]
    with pytest.raises(SourceError, match="HTTP 422: Validation failed: Text character limit"):
        src.reply(mention, "x" * 600)


def test_reply_refuses_a_mention_of_another_source(token: str) -> None:
    other = Mention("twitter", "1", "hi", NOW_DT, "2", "bob")
    with pytest.raises(SourceError, match="twitter mention"):
        make().reply(other, "hello")


def test_text_length_counts_links_as_23_and_remote_mentions_by_username() -> None:
    src = make()
    assert src.max_length == 500
    link_text = "see https://help.acme.example/articles/123456789/how-to-reset-your-router"
    assert src.text_length(link_text) == len("see ") + 23
    assert mastodon_length("@carol@social.example hi") == len("@carol hi")
    assert src.text_length("plain") == 5


def test_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="instance"):
        MastodonSource({})
    with pytest.raises(ConfigError, match="limit"):
        make(limit=80)
    with pytest.raises(ConfigError, match="reply_visibility"):
        make(reply_visibility="everyone")
    with pytest.raises(ConfigError, match="nothing to poll"):
        make(mentions=False).queries()


def test_registered_source_is_built_from_its_config_table() -> None:
    registry.register(MastodonSource)
    try:
        cls = registry.get_source_class("mastodon")
        src = cls({"instance": INSTANCE + "/", "hashtags": ["acme"]})
        assert src.queries() == ["mentions", "#acme"]
    finally:
        registry.unregister("mastodon")


def test_the_outbox_key_is_sent_and_find_sent_finds_only_the_brands_own_reply(
    token: str, api: respx.MockRouter
) -> None:
    route = api.post(STATUSES).mock(
        return_value=httpx.Response(200, json=load("status_created.json"))
    )
    api.get(NOTIFICATIONS).mock(side_effect=[page1(), page2()])
    src = make()
    carol = next(m for p in src.poll("mentions", None) for m in p.mentions)
    src.idempotency_key = "k" * 32
    src.reply(carol, "Sorry about that!")
    assert route.calls[0].request.headers["idempotency-key"] == "k" * 32

    me = {"id": "9", "acct": "acme"}
    api.get(f"{INSTANCE}/api/v1/accounts/verify_credentials").mock(
        return_value=httpx.Response(200, json=me)
    )

    def status(sid: str, account: dict[str, str], html: str) -> dict[str, Any]:
        return {"id": sid, "in_reply_to_id": carol.native_id, "account": account,
                "content": html, "url": f"{INSTANCE}/@x/{sid}"}  # fmt: skip

    remote = '<p><span class="h-card"><a href="https://social.example/@carol">@<span>carol</span></a></span> Sorry   about that!</p>'  # noqa: E501
    context = api.get(f"{INSTANCE}/api/v1/statuses/{carol.native_id}/context").mock(
        return_value=httpx.Response(
            200,
            json={
                "ancestors": [],
                "descendants": [
                    status(
                        "1", {"id": "5", "acct": "impostor"}, remote
                    ),  # same text, not the brand
                    status("2", me, "<p>@carol a different answer</p>"),
                ],
            },
        )  # fmt: skip
    )
    assert src.find_sent(carol, "Sorry about that!") is None
    context.mock(
        return_value=httpx.Response(
            200, json={"ancestors": [], "descendants": [status("3", me, remote)]}
        )  # fmt: skip
    )
    found = src.find_sent(carol, "Sorry about that!")
    assert found is not None and found.native_id == "3"


def test_an_error_object_where_the_notifications_belong_is_one_error_line(
    store: Store, token: str, api: respx.MockRouter
) -> None:
    # some proxies and older instances answer 200 with an error object
    api.get(NOTIFICATIONS).mock(return_value=httpx.Response(200, json={"error": "Throttled"}))
    [result] = poll_source(store, make())
    assert result.error is not None
    assert result.error.endswith("expected a list, got {'error': 'Throttled'}")
    assert result.error.startswith("Mastodon API error (")
    assert (result.new, result.cursor) == (0, None)
