"""Secrets never follow a redirect to another host, on any httpx adapter.

respx answers the configured host with a 307/308 pointing at ``evil.example``;
the evil route records what it received. Same-origin redirects still work, and
public GETs (a feed that moved to a CDN) may still follow across hosts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from socialcare.errors import SourceError
from socialcare.sources.bluesky import BlueskySource
from socialcare.sources.hackernews import HackerNewsSource
from socialcare.sources.mastodon import MastodonSource
from socialcare.sources.rss import RssSource

pytestmark = pytest.mark.store_free

FX = Path(__file__).resolve().parent.parent / "fixtures"
EVIL = "https://evil.example"
PASSWORD = "abcd-efgh-SECRET-ijkl"
TOKEN = "mastodon-SECRET-token"


def fixture(path: str) -> Any:
    return json.loads((FX / path).read_text("utf-8"))


def leaked(route: respx.Route, *secrets: str) -> list[str]:
    """Every secret that reached ``route`` in a header or the body."""
    found = []
    for call in route.calls:
        seen = str(dict(call.request.headers)) + call.request.content.decode("utf-8", "replace")
        found += [s for s in secrets if s in seen]
    return found


@pytest.mark.parametrize("status", [307, 308])
def test_bluesky_login_is_never_replayed_to_another_host(
    monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", PASSWORD)
    with respx.mock(assert_all_called=False) as router:
        router.post("https://bsky.social/xrpc/com.atproto.server.createSession").mock(
            return_value=httpx.Response(
                status, headers={"Location": f"{EVIL}/xrpc/com.atproto.server.createSession"}
            )
        )
        evil = router.route(host="evil.example").mock(return_value=httpx.Response(200, json={}))
        src = BlueskySource(
            {"handle": "acme.bsky.social", "notifications": False, "searches": ["acme"]},
            sleep=lambda _s: None,
        )
        with pytest.raises(SourceError, match="redirected to evil.example"):
            list(src.poll("search:acme", None))
    assert not evil.called
    assert leaked(evil, PASSWORD) == []


def test_bluesky_session_token_is_never_sent_to_another_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", PASSWORD)
    session = fixture("bluesky/create_session.json")
    with respx.mock(assert_all_called=False) as router:
        router.post("https://bsky.social/xrpc/com.atproto.server.createSession").mock(
            return_value=httpx.Response(200, json=session)
        )
        router.get("https://bsky.social/xrpc/app.bsky.feed.searchPosts").mock(
            return_value=httpx.Response(307, headers={"Location": f"{EVIL}/steal"})
        )
        evil = router.route(host="evil.example").mock(return_value=httpx.Response(200, json={}))
        src = BlueskySource(
            {"handle": "acme.bsky.social", "notifications": False, "searches": ["acme"]},
            sleep=lambda _s: None,
        )
        with pytest.raises(SourceError, match="not following with credentials"):
            list(src.poll("search:acme", None))
    assert leaked(evil, session["accessJwt"], PASSWORD) == [] and not evil.called


@pytest.mark.parametrize("status", [307, 308])
def test_mastodon_token_is_never_sent_to_another_host(
    monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", TOKEN)
    with respx.mock(assert_all_called=False) as router:
        router.get("https://mastodon.example/api/v2/search").mock(
            return_value=httpx.Response(status, headers={"Location": f"{EVIL}/api/v2/search"})
        )
        evil = router.route(host="evil.example").mock(return_value=httpx.Response(200, json={}))
        src = MastodonSource(
            {"instance": "https://mastodon.example", "mentions": False, "searches": ["acme"]},
            sleep=lambda _s: None,
        )
        with pytest.raises(SourceError, match="redirected to evil.example"):
            list(src.poll("search:acme", None))
    assert not evil.called and leaked(evil, TOKEN) == []


def test_mastodon_same_origin_redirect_is_followed_with_the_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", TOKEN)
    with respx.mock(assert_all_called=False) as router:
        router.get("https://mastodon.example/api/v2/search").mock(
            return_value=httpx.Response(308, headers={"Location": "/api/v2/search-moved?q=acme"})
        )
        moved = router.get("https://mastodon.example/api/v2/search-moved").mock(
            return_value=httpx.Response(200, json=fixture("mastodon/search_page2.json"))
        )
        src = MastodonSource(
            {"instance": "https://mastodon.example", "mentions": False, "searches": ["acme"]},
            sleep=lambda _s: None,
        )
        pages = list(src.poll("search:acme", None))
    assert pages and moved.called
    assert moved.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_hackernews_public_get_may_follow_but_carries_no_credential() -> None:
    with respx.mock(assert_all_called=False) as router:
        router.get("https://hn.algolia.com/api/v1/search_by_date").mock(
            return_value=httpx.Response(307, headers={"Location": f"{EVIL}/search_by_date"})
        )
        body = fixture("hackernews/search_page0.json")
        body["nbPages"] = 1
        evil = router.route(host="evil.example").mock(return_value=httpx.Response(200, json=body))
        pages = list(
            HackerNewsSource({"queries": ["acme"]}, sleep=lambda _s: None).poll("acme", None)
        )
    assert pages[0].mentions
    assert "authorization" not in evil.calls[0].request.headers


def test_rss_feed_that_moved_is_followed_without_credentials() -> None:
    feed = "https://forum.acme.example/latest.rss"
    with respx.mock(assert_all_called=False) as router:
        router.get(feed).mock(
            return_value=httpx.Response(301, headers={"Location": f"{EVIL}/feed.xml"})
        )
        evil = router.route(host="evil.example").mock(
            return_value=httpx.Response(
                200,
                content=(FX / "rss" / "feed.xml").read_bytes(),
                headers={"content-type": "application/rss+xml"},
            )
        )
        [page] = list(RssSource({"feeds": [feed]}, sleep=lambda _s: None).poll(feed, None))
    assert len(page.mentions) == 2
    assert "authorization" not in evil.calls[0].request.headers
