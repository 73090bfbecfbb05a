"""The Bluesky adapter against XRPC, answered by respx at the transport.

``tests/fixtures/bluesky`` holds createSession, refreshSession, searchPosts,
listNotifications, getPosts and createRecord outputs shaped as the AT Protocol
lexicons define them, and the XRPC error bodies (``{"error", "message"}``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import respx

from socialcare.errors import AuthError, ConfigError, MissingCredential, SourceError
from socialcare.models import Mention
from socialcare.poll import poll_source
from socialcare.sources.bluesky import BlueskySource, grapheme_count, post_url
from socialcare.store import Store

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "bluesky"
SERVICE = "https://bsky.social"
XRPC = f"{SERVICE}/xrpc"
PASSWORD = "abcd-efgh-SECRET-ijkl"
NOW = 1_715_600_000.0  # 2024-05-13T11:33:20Z
BRAND = "did:plc:acme4brandxq7rpnk3lv2tyo"
ALICE_POST = "at://did:plc:alice2q3z5x7v9b1n3m5k7j9/app.bsky.feed.post/3ksx5alice01a"
BOB_POST = "at://did:plc:bob7h8j9k0l1m2n3b4v5c6x7/app.bsky.feed.post/3ksx5bob0001a"
CARL_POST = "at://did:plc:carl5t6y7u8i9o0p1a2s3d4f/app.bsky.feed.post/3ksx5carl001a"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def answer(name: str, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=load(name), headers=headers)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def params(call: Any) -> list[tuple[str, str]]:
    return list(call.request.url.params.multi_items())


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.post(f"{XRPC}/com.atproto.server.createSession").mock(
            return_value=answer("create_session.json")
        )
        yield router


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", PASSWORD)
    return PASSWORD


def make(sleeps: Sleeps | None = None, **config: Any) -> BlueskySource:
    cfg: dict[str, Any] = {"handle": "@acme.bsky.social", "limit": 2, **config}
    return BlueskySource(cfg, sleep=Sleeps() if sleeps is None else sleeps, clock=lambda: NOW)


def searcher(sleeps: Sleeps | None = None, **config: Any) -> BlueskySource:
    return make(sleeps, notifications=False, searches=["acme support"], **config)


def test_login_then_search_pages_with_cursor(store: Store, api: respx.MockRouter) -> None:
    search = api.get(f"{XRPC}/app.bsky.feed.searchPosts").mock(
        side_effect=[answer("search_page1.json"), answer("search_page2.json")]
    )
    src = searcher()
    assert src.queries() == ["search:acme support"]
    [result] = poll_source(store, src)
    assert (result.new, result.pages, result.error) == (3, 2, None)

    login = api.routes[0].calls[0].request
    assert json.loads(login.content) == {"identifier": "acme.bsky.social", "password": PASSWORD}
    first, second = search.calls[0].request, search.calls[1].request
    assert first.headers["authorization"].endswith(".access-1.sig")
    assert params(search.calls[0]) == [("q", "acme support"), ("sort", "latest"), ("limit", "2")]
    assert ("cursor", "2") in params(search.calls[1])
    assert second.headers["authorization"] == first.headers["authorization"]

    cursor = json.loads(result.cursor or "")
    # alice's post: createdAt 10:05:00.123 is earlier than its indexedAt, so it is the sort time
    assert cursor == {"at": "2024-05-13T10:05:00.123000Z", "ids": [ALICE_POST]}


def test_second_poll_stops_at_the_cursor_and_stores_nothing_twice(
    store: Store, api: respx.MockRouter
) -> None:
    search = api.get(f"{XRPC}/app.bsky.feed.searchPosts").mock(
        side_effect=[
            answer("search_page1.json"),
            answer("search_page2.json"),
            answer("search_newer.json"),  # one new post, then alice's known one; cursor "2"
        ]
    )
    src = searcher()
    poll_source(store, src)
    [again] = poll_source(store, src)
    assert (again.fetched, again.new) == (1, 1)
    assert len(search.calls) == 3  # reached known posts: page 2 of the newer run is not fetched
    assert json.loads(again.cursor or "")["at"] == "2024-05-13T10:30:00Z".replace("Z", ".000000Z")
    assert store.mention_count() == 4
    assert len(api.routes[0].calls) == 1  # one session for both polls


def test_posts_are_normalised(api: respx.MockRouter) -> None:
    api.get(f"{XRPC}/app.bsky.feed.searchPosts").mock(
        side_effect=[answer("search_page1.json"), answer("search_page2.json")]
    )
    alice, bob, carl = [m for p in searcher().poll("search:acme support", None) for m in p.mentions]
    assert alice.native_id == ALICE_POST
    assert alice.url == "https://bsky.app/profile/alice.bsky.social/post/3ksx5alice01a"
    assert (alice.kind, alice.author_id, alice.author_handle) == (
        "reply",
        "did:plc:alice2q3z5x7v9b1n3m5k7j9",
        "alice.bsky.social",
    )
    assert (
        alice.parent_id == "at://did:plc:acme4brandxq7rpnk3lv2tyo/app.bsky.feed.post/3kbrand00001a"
    )
    assert (
        alice.conversation_id
        == "at://did:plc:carl5t6y7u8i9o0p1a2s3d4f/app.bsky.feed.post/3kroot000001a"
    )
    assert alice.raw["cid"] == "bafyreialice0000000000000000000000000000000000000000001"
    assert alice.raw["record"]["reply"]["root"]["cid"].startswith("bafyreiroot")
    assert (bob.kind, bob.conversation_id, bob.author_name) == ("post", BOB_POST, "Bob 🚲")
    assert carl.kind == "quote" and carl.language == "en"
    assert post_url(BOB_POST, "handle.invalid").endswith(
        "/profile/did:plc:bob7h8j9k0l1m2n3b4v5c6x7/post/3ksx5bob0001a"
    )


def test_notifications_keep_mentions_replies_and_quotes(
    store: Store, api: respx.MockRouter
) -> None:
    route = api.get(f"{XRPC}/app.bsky.notification.listNotifications").mock(
        return_value=answer("notifications.json")
    )
    src = make()
    assert src.queries() == ["notifications"]
    [page] = list(src.poll("notifications", None))
    assert params(route.calls[0]) == [
        ("limit", "2"),
        ("reasons", "mention"),
        ("reasons", "reply"),
        ("reasons", "quote"),
    ]
    assert [(m.raw["reason"], m.kind) for m in page.mentions] == [
        ("reply", "reply"),
        ("mention", "post"),
        ("quote", "quote"),
    ]
    assert all("like" not in m.native_id for m in page.mentions)
    assert page.cursor is not None  # no cursor in the answer: the last page


def test_expired_token_refreshes_the_session_and_retries_once(api: respx.MockRouter) -> None:
    search = api.get(f"{XRPC}/app.bsky.feed.searchPosts").mock(
        side_effect=[answer("expired_token.json", 400), answer("search_page2.json")]
    )
    refresh = api.post(f"{XRPC}/com.atproto.server.refreshSession").mock(
        return_value=answer("refresh_session.json")
    )
    [page] = list(searcher().poll("search:acme support", None))
    assert [m.native_id for m in page.mentions] == [CARL_POST]
    assert refresh.calls[0].request.headers["authorization"].endswith(".refresh-1.sig")
    assert search.calls[0].request.headers["authorization"].endswith(".access-1.sig")
    assert search.calls[1].request.headers["authorization"].endswith(".access-2.sig")
    assert len(api.routes[0].calls) == 1  # refreshed, not logged in again


def test_failed_refresh_falls_back_to_a_new_login(api: respx.MockRouter) -> None:
    search = api.get(f"{XRPC}/app.bsky.feed.searchPosts").mock(
        side_effect=[answer("expired_token.json", 400), answer("search_page2.json")]
    )
    api.post(f"{XRPC}/com.atproto.server.refreshSession").mock(
        return_value=answer("expired_token.json", 400)
    )
    [page] = list(searcher().poll("search:acme support", None))
    assert len(page.mentions) == 1
    assert len(api.routes[0].calls) == 2  # the first login and the fallback
    assert len(search.calls) == 2


def test_still_expired_after_refresh_is_an_auth_error(api: respx.MockRouter) -> None:
    api.get(f"{XRPC}/app.bsky.feed.searchPosts").mock(
        return_value=answer("expired_token.json", 400)
    )
    api.post(f"{XRPC}/com.atproto.server.refreshSession").mock(
        return_value=answer("refresh_session.json")
    )
    with pytest.raises(AuthError, match="BLUESKY_APP_PASSWORD"):
        list(searcher().poll("search:acme support", None))


def test_wrong_app_password_is_an_auth_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACME_BSKY", "wrong-password")
    with respx.mock() as router:
        router.post(f"{XRPC}/com.atproto.server.createSession").mock(
            return_value=answer("invalid_login.json", 401)
        )
        with pytest.raises(AuthError, match="acme.bsky.social.*ACME_BSKY"):
            list(searcher(app_password_env="ACME_BSKY").poll("search:acme support", None))


def test_missing_app_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BLUESKY_APP_PASSWORD")
    with pytest.raises(MissingCredential, match="BLUESKY_APP_PASSWORD"):
        make().check_credentials()


def test_rate_limit_headers_short_wait_and_long_raise(store: Store, api: respx.MockRouter) -> None:
    limited_soon = answer(
        "rate_limited.json",
        429,
        headers={"ratelimit-remaining": "0", "ratelimit-reset": str(int(NOW + 10))},
    )
    limited_long = answer(
        "rate_limited.json",
        429,
        headers={"ratelimit-remaining": "0", "ratelimit-reset": str(int(NOW + 900))},
    )
    api.get(f"{XRPC}/app.bsky.feed.searchPosts").mock(
        side_effect=[
            limited_soon,
            answer("search_page1.json", headers={"ratelimit-remaining": "2999"}),
            limited_long,
        ]
    )
    sleeps = Sleeps()
    [result] = poll_source(store, searcher(sleeps))
    assert sleeps == [10.0]
    assert result.error_code == 5 and result.new == 2
    assert store.get_cursor("bluesky", "search:acme support") is None  # page 2 never came
    [health] = store.source_health()
    assert health["rate_limit_reset"] == "2024-05-13T11:48:20Z"
    assert health["rate_limit_remaining"] == 2999


def test_server_error_on_page_two_keeps_page_one(store: Store, api: respx.MockRouter) -> None:
    failing = [answer("internal_error.json", 500)] * 4
    api.get(f"{XRPC}/app.bsky.feed.searchPosts").mock(
        side_effect=[answer("search_page1.json"), *failing]
    )
    [result] = poll_source(store, searcher())
    assert result.error_code == 4 and "InternalServerError" in (result.error or "")
    assert result.new == 2 and store.get_cursor("bluesky", "search:acme support") is None


def test_reply_to_a_reply_points_root_at_the_thread_root(api: respx.MockRouter) -> None:
    api.get(f"{XRPC}/app.bsky.feed.searchPosts").mock(
        side_effect=[answer("search_page1.json"), answer("search_page2.json")]
    )
    create = api.post(f"{XRPC}/com.atproto.repo.createRecord").mock(
        return_value=answer("create_record.json")
    )
    src = searcher()
    alice, bob, _ = [m for p in src.poll("search:acme support", None) for m in p.mentions]

    sent = src.reply(alice, "Sorry! Refund details: https://help.acme.example/refunds.")
    assert sent.native_id == f"at://{BRAND}/app.bsky.feed.post/3ksx5reply01a"
    assert sent.url == "https://bsky.app/profile/acme.bsky.social/post/3ksx5reply01a"
    body = json.loads(create.calls[0].request.content)
    assert body["repo"] == BRAND and body["collection"] == "app.bsky.feed.post"
    record = body["record"]
    assert record["$type"] == "app.bsky.feed.post"
    assert record["createdAt"] == "2024-05-13T11:33:20.000Z"
    assert record["reply"] == {
        "root": {
            "uri": "at://did:plc:carl5t6y7u8i9o0p1a2s3d4f/app.bsky.feed.post/3kroot000001a",
            "cid": "bafyreiroot0000000000000000000000000000000000000000000a",
        },
        "parent": {
            "uri": ALICE_POST,
            "cid": "bafyreialice0000000000000000000000000000000000000000001",
        },
    }
    link = "https://help.acme.example/refunds"
    start = record["text"].index(link)
    assert record["facets"] == [
        {
            "index": {"byteStart": start, "byteEnd": start + len(link)},
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": link}],
        }
    ]

    src.reply(bob, "Yes, 9-17 on Sundays.")
    record = json.loads(create.calls[1].request.content)["record"]
    parent = {"uri": BOB_POST, "cid": "bafyreibob00000000000000000000000000000000000000000000001"}
    assert record["reply"] == {"root": parent, "parent": parent}
    assert "facets" not in record


def test_reply_to_a_stored_mention_without_cid_fetches_the_post(api: respx.MockRouter) -> None:
    get_posts = api.get(f"{XRPC}/app.bsky.feed.getPosts").mock(
        return_value=answer("get_posts.json")
    )
    create = api.post(f"{XRPC}/com.atproto.repo.createRecord").mock(
        return_value=answer("create_record.json")
    )
    bare = Mention("bluesky", ALICE_POST, "hi", _now(), "did:x", "alice.bsky.social")
    searcher().reply(bare, "On it.")
    assert params(get_posts.calls[0]) == [("uris", ALICE_POST)]
    reply = json.loads(create.calls[0].request.content)["record"]["reply"]
    assert reply["parent"]["cid"] == "bafyreialice0000000000000000000000000000000000000000001"
    assert reply["root"]["uri"].endswith("/3kroot000001a")


def test_link_facets_count_utf8_bytes() -> None:
    src = searcher()
    record = src._record("Désolé 😤 voir https://acme.example/fr.")
    start = len("Désolé 😤 voir ".encode())
    assert record["facets"][0]["index"] == {
        "byteStart": start,
        "byteEnd": start + len("https://acme.example/fr"),
    }


def test_a_failed_post_is_not_resent(api: respx.MockRouter) -> None:
    create = api.post(f"{XRPC}/com.atproto.repo.createRecord").mock(
        return_value=answer("internal_error.json", 502)
    )
    sleeps = Sleeps()
    with pytest.raises(SourceError, match="HTTP 502"):
        searcher(sleeps).post("Our status page: https://status.acme.example")
    assert len(create.calls) == 1 and sleeps == []


def test_grapheme_limit() -> None:
    src = searcher()
    assert src.max_length == 300
    family = "👨‍👩‍👧‍👦"
    assert len(family) == 7 and src.text_length(family) == 1
    assert src.text_length("🇫🇷🇩🇪") == 2
    assert src.text_length("e\u0301") == 1  # e + combining acute
    assert src.text_length("👍🏽 ok") == 4
    assert src.text_length("\u1112\u1161\u11ab") == 1  # a Hangul syllable from jamo
    assert src.text_length("a" * 300) == 300
    assert grapheme_count("é" * 299 + "👩‍💻") == 300
    # a length check by code points would say 5 * 11 = 55 here
    assert grapheme_count("👩🏽‍🤝‍👩🏻" * 5) == 5


def test_too_many_bytes_is_refused_before_sending(api: respx.MockRouter) -> None:
    create = api.post(f"{XRPC}/com.atproto.repo.createRecord")
    with pytest.raises(SourceError, match="3000"):
        searcher().post("👨‍👩‍👧‍👦" * 200)  # 200 graphemes but 5000 bytes
    assert not create.called


def test_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="handle"):
        BlueskySource({})
    with pytest.raises(ConfigError, match="limit"):
        make(limit=500)
    with pytest.raises(ConfigError, match="nothing to poll"):
        make(notifications=False).queries()
    with pytest.raises(ConfigError, match="unknown bluesky query"):
        list(make().poll("trending", None))


def _now() -> Any:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(NOW, tz=timezone.utc)


def test_the_accounts_own_posts_are_recognised(api: respx.MockRouter) -> None:
    src = searcher()
    own = Mention(
        "bluesky", "at://x/app.bsky.feed.post/1", "hi", _now(), "did:plc:other", "ACME.bsky.social"
    )
    assert src.is_own(own)
    other = Mention(
        "bluesky", "at://y/app.bsky.feed.post/2", "hi", _now(), BRAND, "renamed.example"
    )
    assert not src.is_own(other)
    src._login()
    assert src.is_own(other)  # same DID after a handle change
