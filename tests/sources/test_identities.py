"""An empty or placeholder author id is never an identity, on any platform.

Each adapter is driven through its real client with HTTP answered at the
transport (``responses`` for tweepy/praw, ``respx`` for httpx); payloads are
the platforms' documented shapes with the author left out or replaced by the
placeholder the platform uses.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import responses
import respx

from socialcare.models import Mention
from socialcare.sources.bluesky import BlueskySource
from socialcare.sources.hackernews import HackerNewsSource
from socialcare.sources.mastodon import MastodonSource
from socialcare.sources.reddit import RedditSource
from socialcare.sources.rss import RssSource
from socialcare.sources.twitter import TwitterSource

FX = Path(__file__).resolve().parent.parent / "fixtures"


def fixture(path: str) -> Any:
    return json.loads((FX / path).read_text("utf-8"))


@pytest.mark.parametrize("author_id", ["", "   ", "\t"])
def test_mention_with_empty_author_id_has_no_author_key(author_id: str) -> None:
    m = Mention(
        source="twitter",
        native_id="1",
        text="t",
        created_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        author_id=author_id,
        author_handle="",
    )
    assert m.author_key == ""


def test_mention_author_key_is_source_and_id() -> None:
    m = Mention("reddit", "t3_x", "t", datetime(2026, 1, 1, tzinfo=timezone.utc), "t2_ab", "ab")
    assert m.author_key == "reddit:t2_ab"


def test_twitter_looks_up_missing_authors_in_one_batch_and_leaves_the_rest_unlinked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWITTER_BEARER_TOKEN", "AAAA-SECRET")
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.GET,
            "https://api.twitter.com/2/tweets/search/recent",
            json=fixture("twitter/search_no_author.json"),
        )
        rsps.add(
            responses.GET,
            "https://api.twitter.com/2/tweets",
            json=fixture("twitter/lookup_authors_partial.json"),
        )
        [page] = list(TwitterSource({"queries": ["acme"]}).poll("acme", None))
        lookup = parse_qs(urlsplit(rsps.calls[1].request.url).query)
    assert lookup["ids"] == ["1790000000000000011,1790000000000000010"]
    assert "author_id" in lookup["expansions"][0]
    found, unknown = page.mentions
    assert (found.author_id, found.author_handle, found.author_key) == (
        "1600000000000000042",
        "danalee",
        "twitter:1600000000000000042",
    )
    assert found.url == "https://x.com/danalee/status/1790000000000000011"
    assert (unknown.author_id, unknown.author_key) == ("", "")
    assert unknown.url == "https://x.com/i/web/status/1790000000000000010"


def test_twitter_failed_author_lookup_keeps_the_tweets_unlinked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWITTER_BEARER_TOKEN", "AAAA-SECRET")
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.GET,
            "https://api.twitter.com/2/tweets/search/recent",
            json=fixture("twitter/search_no_author.json"),
        )
        rsps.add(
            responses.GET,
            "https://api.twitter.com/2/tweets",
            json=fixture("twitter/error_503.json"),
            status=503,
        )
        [page] = list(TwitterSource({"queries": ["acme"]}).poll("acme", None))
    assert len(page.mentions) == 2
    assert {m.author_key for m in page.mentions} == {""}


@pytest.mark.parametrize("author", ["[deleted]", "[removed]", None, ""])
def test_reddit_deleted_authors_are_unlinked(
    monkeypatch: pytest.MonkeyPatch, author: str | None
) -> None:
    for name in ("REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET", "REDDIT_USERNAME", "REDDIT_PASSWORD"):
        monkeypatch.setenv(name, f"{name.lower()}-SECRET")
    monkeypatch.setattr(time, "sleep", lambda _s: None)
    body = fixture("reddit/search_page2.json")
    for child in body["data"]["children"]:
        child["data"].pop("author_fullname", None)
        child["data"]["author"] = author
    body["data"]["after"] = None
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(
            responses.POST,
            "https://www.reddit.com/api/v1/access_token",
            json=fixture("reddit/token.json"),
        )
        rsps.add(responses.GET, "https://oauth.reddit.com/r/all/search", json=body)
        src = RedditSource({"searches": [{"subreddit": "all", "query": "acme"}]})
        [page] = list(src.poll("search:all:acme", None))
    assert page.mentions
    assert {(m.author_id, m.author_key) for m in page.mentions} == {("", "")}
    assert {m.author_handle for m in page.mentions} == {author or "[deleted]"}


def test_mastodon_status_without_account_is_unlinked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "tok-SECRET")
    body = fixture("mastodon/search_page1.json")
    body["statuses"][0]["account"] = {"id": "  ", "acct": ""}
    with respx.mock() as router:
        router.get("https://mastodon.example/api/v2/search").mock(
            return_value=httpx.Response(200, json=body)
        )
        src = MastodonSource(
            {"instance": "https://mastodon.example", "mentions": False, "searches": ["acme"]}
        )
        [page] = list(src.poll("search:acme", None))
    assert page.mentions[0].author_key == ""
    assert page.mentions[1].author_key.startswith("mastodon:") and page.mentions[1].author_id


def test_bluesky_invalid_handle_without_did_is_unlinked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "abcd-SECRET")
    body = fixture("bluesky/search_page1.json")
    body["posts"][0]["author"] = {"handle": "handle.invalid"}
    body.pop("cursor")
    with respx.mock() as router:
        router.post("https://bsky.social/xrpc/com.atproto.server.createSession").mock(
            return_value=httpx.Response(200, json=fixture("bluesky/create_session.json"))
        )
        router.get("https://bsky.social/xrpc/app.bsky.feed.searchPosts").mock(
            return_value=httpx.Response(200, json=body)
        )
        src = BlueskySource(
            {"handle": "acme.bsky.social", "notifications": False, "searches": ["acme"]}
        )
        [page] = list(src.poll("search:acme", None))
    assert page.mentions[0].author_key == ""
    assert page.mentions[1].author_key.startswith("bluesky:did:")


def test_hackernews_hit_without_author_is_unlinked() -> None:
    body = fixture("hackernews/search_page0.json")
    body["hits"][0]["author"] = None
    body["nbPages"] = 1
    with respx.mock() as router:
        router.get("https://hn.algolia.com/api/v1/search_by_date").mock(
            return_value=httpx.Response(200, json=body)
        )
        [page] = list(HackerNewsSource({"queries": ["acme"]}).poll("acme", None))
    assert page.mentions[0].author_key == ""
    assert all(m.author_key.startswith("hackernews:") for m in page.mentions[1:])


def test_rss_entry_without_author_is_unlinked_but_shows_the_feed() -> None:
    feed = "https://forum.acme.example/latest.rss"
    with respx.mock() as router:
        router.get(feed).mock(
            return_value=httpx.Response(
                200,
                content=(FX / "rss" / "feed.xml").read_bytes(),
                headers={"content-type": "application/rss+xml"},
            )
        )
        [page] = list(RssSource({"feeds": [feed]}).poll(feed, None))
    with_author, without = page.mentions
    assert with_author.author_key == "rss:jdoe"
    assert (without.author_key, without.author_handle) == ("", "Acme Community Forum")
