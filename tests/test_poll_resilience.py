"""One bad item never ends a poll, and one broken adapter never stops the other sources.

Reddit is driven through real praw/prawcore with HTTP answered by ``responses``;
the engine tests use small adapters that fail the way real ones do (a KeyError in
parsing, a library crash, a bug in ``queries()`` or the constructor).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import responses

from socialcare.config import Config
from socialcare.models import Page
from socialcare.poll import ingest_status, poll, poll_source
from socialcare.sources import registry
from socialcare.sources.base import Source
from socialcare.sources.reddit import RedditSource
from socialcare.store import Store, open_store

FIXTURES = Path(__file__).parent / "fixtures" / "reddit"
API = "https://oauth.reddit.com"
TOKEN_URL = "https://www.reddit.com/api/v1/access_token"
RL_OK = {"x-ratelimit-remaining": "995.0", "x-ratelimit-used": "5", "x-ratelimit-reset": "300"}
SEARCH = {"searches": [{"subreddit": "all", "query": "acme"}]}
Q = "search:all:acme"


@pytest.fixture(autouse=True)
def reddit_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "REDDIT_CLIENT_ID": "cid-Zq81x",
        "REDDIT_CLIENT_SECRET": "csecret-Pw93kLm",
        "REDDIT_USERNAME": "acme_support",
        "REDDIT_PASSWORD": "hunter2-Vb77q",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(time, "sleep", lambda _s: None)


def listing_with_odd_children() -> dict[str, Any]:
    """The recorded search page plus a ``more`` stub and a post without ``created_utc``."""
    body: dict[str, Any] = json.loads((FIXTURES / "search_page1.json").read_text("utf-8"))
    good = body["data"]["children"]
    no_time = json.loads(json.dumps(good[0]))
    no_time["data"].pop("created_utc")
    no_time["data"].pop("created")
    no_time["data"]["id"] = no_time["data"]["name"] = "1b00ff"
    no_time["data"]["name"] = "t3_1b00ff"
    more = {
        "kind": "more",
        "data": {
            "count": 3,
            "name": "t1_zzz",
            "id": "zzz",
            "parent_id": "t3_1b0004",
            "depth": 0,
            "children": ["zzz"],
        },
    }
    body["data"]["children"] = [good[0], more, no_time, good[1]]
    body["data"]["after"] = None
    return body


def test_reddit_more_child_and_item_without_time_are_skipped_not_fatal(store: Store) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(
            responses.POST,
            TOKEN_URL,
            json={"access_token": "t", "token_type": "bearer", "expires_in": 86400, "scope": "*"},
        )
        rsps.add(
            responses.GET, f"{API}/r/all/search", json=listing_with_odd_children(), headers=RL_OK
        )
        [result] = poll_source(store, RedditSource(SEARCH))
    assert result.error is None and result.error_code == 0
    assert result.new == 2
    assert sorted(r[0] for r in store.conn.execute("SELECT native_id FROM mentions")) == [
        "t3_1b0003",
        "t3_1b0004",
    ]
    assert result.skipped == 2
    reasons = [i["reason"] for i in result.skipped_items]
    assert any("more" in r for r in reasons) and any("created_utc" in r for r in reasons)
    # the raw items are kept for inspection, with the page
    events = store.events(action="poll_skipped")
    kept = [json.loads(e["detail"]) for e in events]
    assert {k["raw"]["kind"] for k in kept} == {"more", "t3"}
    assert {k["query"] for k in kept} == {Q}
    assert store.get_cursor("reddit", Q) is not None  # the page moved the cursor
    # ... and `status` counts them per source
    from socialcare.config import load_config
    from socialcare.poll import ingest_status

    [health] = [s for s in ingest_status(load_config(), store).sources if s.source == "reddit"]
    assert health.skipped_24h == 2
    assert any("2 unreadable item(s) skipped in 24h" in w for w in health.warnings)


def test_reddit_fetch_skips_unknown_kinds(store: Store) -> None:
    body = listing_with_odd_children()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(
            responses.POST,
            TOKEN_URL,
            json={"access_token": "t", "token_type": "bearer", "expires_in": 86400, "scope": "*"},
        )
        rsps.add(responses.GET, f"{API}/api/info", json=body, headers=RL_OK)
        found = RedditSource(SEARCH).fetch(["t3_1b0004", "t3_1b0003", "t1_zzz", "t3_1b00ff"])
    assert sorted(m.native_id for m in found) == ["t3_1b0003", "t3_1b0004"]


# -- the engine ------------------------------------------------------------------------


class Crashing(Source):
    """An adapter whose page parsing crashes with a plain KeyError after one good page."""

    name = "crashing"

    def queries(self) -> list[str]:
        return ["q"]

    def poll(self, query: str, cursor: str | None) -> Iterator[Page]:
        raise KeyError("created_utc")
        yield  # pragma: no cover - a generator


class BrokenQueries(Source):
    """An adapter whose ``queries()`` has a bug."""

    name = "brokenq"
    fail = True

    def queries(self) -> list[str]:
        if BrokenQueries.fail:
            raise AttributeError("'NoneType' object has no attribute 'split'")
        return ["q"]

    def poll(self, query: str, cursor: str | None) -> Iterator[Page]:
        yield Page([], cursor="1")


class BrokenInit(Source):
    """An adapter whose constructor crashes (say, a missing platform library)."""

    name = "brokeninit"

    def __init__(self, config: Any, *, brand_handles: tuple[str, ...] = ()) -> None:
        raise ModuleNotFoundError("No module named 'pkg_resources'")

    def queries(self) -> list[str]:  # pragma: no cover - never built
        return []

    def poll(self, query: str, cursor: str | None) -> Iterator[Page]:  # pragma: no cover
        yield Page([])


@pytest.fixture
def broken() -> Iterator[None]:
    for cls in (Crashing, BrokenQueries, BrokenInit):
        registry.register(cls)
    BrokenQueries.fail = True
    yield
    for cls in (Crashing, BrokenQueries, BrokenInit):
        registry.unregister(cls.name)


def demo_file(tmp_path: Path) -> Path:
    path = tmp_path / "demo.jsonl"
    path.write_text(
        json.dumps({"id": "1", "author": "u1", "text": "hi", "created_at": "2026-11-01T10:00:00Z"})
        + "\n"
    )
    return path


def test_any_adapter_exception_is_that_sources_error_and_others_still_run(
    tmp_path: Path, database: str, broken: None
) -> None:
    cfg = Config(
        database=database,
        agent="alice",
        sources={
            "brokeninit": {},
            "crashing": {},
            "brokenq": {},
            "demo": {"path": str(demo_file(tmp_path))},
        },
    )
    store = open_store(cfg.database)
    try:
        summary = poll(cfg, store)
        by_source = {r.source: r for r in summary.results}
        assert by_source["demo"].error is None and by_source["demo"].new == 1
        assert "KeyError" in (by_source["crashing"].error or "")
        assert by_source["crashing"].error_code == 4
        assert "AttributeError" in (by_source["brokenq"].error or "")
        assert by_source["brokenq"].query == "*"
        assert "ModuleNotFoundError" in (by_source["brokeninit"].error or "")
        assert summary.exit_code == 4  # a source error, not "unexpected error" exit 1
        # every failure is where `status --alert` looks
        alerts = " | ".join(ingest_status(cfg, store).alerts)
        for name in ("crashing", "brokenq", "brokeninit"):
            assert f"{name}: failing" in alerts
        assert "demo" not in alerts

        BrokenQueries.fail = False  # fixed: the whole-source failure clears
        again = poll(cfg, store, ["brokenq"])
        assert [(r.query, r.error) for r in again.results] == [("q", None)]
        whole = {(h["source"], h["query"]): h for h in store.source_health()}
        row = whole[("brokenq", "*")]
        assert row["last_success_at"] is not None
        assert row["last_success_at"] >= row["last_error_at"]
    finally:
        store.close()


# -- every adapter: one odd item is skipped and recorded, the rest of its page is kept ------

FX = Path(__file__).parent / "fixtures"


def fixture(path: str) -> Any:
    return json.loads((FX / path).read_text("utf-8"))


def test_mastodon_status_without_created_at_or_id_is_skipped(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx
    import respx

    from socialcare.sources.mastodon import MastodonSource

    body = fixture("mastodon/search_page1.json")
    good, other = body["statuses"]
    no_time = dict(other)
    no_time.pop("created_at")
    body["statuses"] = [good, {"content": "<p>no id</p>"}, no_time]
    with respx.mock(assert_all_called=False) as router:
        router.get("https://mastodon.example/api/v2/search").mock(
            return_value=httpx.Response(200, json=body)
        )
        src = MastodonSource(
            {"instance": "https://mastodon.example", "mentions": False, "searches": ["acme"]},
            sleep=lambda _s: None,
        )
        monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "tok-SECRET")
        [result] = poll_source(store, src)
    assert result.error is None
    assert result.new == 1 and result.skipped == 2
    assert store.get_mention(f"mastodon:{good['id']}")


def test_bluesky_post_without_uri_or_time_is_skipped_and_never_moves_the_cursor_to_now(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx
    import respx

    from socialcare.sources.bluesky import BlueskySource

    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "abcd-SECRET")
    body = fixture("bluesky/search_page1.json")
    good, other = body["posts"]
    no_time = json.loads(json.dumps(other))
    no_time.pop("indexedAt")
    no_time["record"].pop("createdAt")
    no_uri = dict(good)
    no_uri.pop("uri")
    body["posts"] = [good, no_uri, no_time]
    body.pop("cursor")
    with respx.mock(assert_all_called=False) as router:
        router.post("https://bsky.social/xrpc/com.atproto.server.createSession").mock(
            return_value=httpx.Response(200, json=fixture("bluesky/create_session.json"))
        )
        router.get("https://bsky.social/xrpc/app.bsky.feed.searchPosts").mock(
            return_value=httpx.Response(200, json=body)
        )
        src = BlueskySource(
            {"handle": "acme.bsky.social", "notifications": False, "searches": ["acme"]},
            sleep=lambda _s: None,
            clock=lambda: 4_000_000_000.0,  # "now" is far ahead of every post
        )
        [result] = poll_source(store, src)
    assert result.error is None and result.new == 1 and result.skipped == 2
    cursor = json.loads(store.get_cursor("bluesky", "search:acme") or "{}")
    assert cursor["at"] < "2100"  # the newest real post, never the clock


def test_hackernews_hit_without_time_is_skipped(store: Store) -> None:
    import httpx
    import respx

    from socialcare.sources.hackernews import HackerNewsSource

    body = fixture("hackernews/search_page0.json")
    body["hits"][1].pop("created_at_i")
    body["hits"].append({"title": "no id"})
    body["nbPages"] = 1
    with respx.mock(assert_all_called=False) as router:
        router.get("https://hn.algolia.com/api/v1/search_by_date").mock(
            return_value=httpx.Response(200, json=body)
        )
        [result] = poll_source(
            store, HackerNewsSource({"queries": ["acme"]}, sleep=lambda _s: None)
        )
    assert result.error is None and result.skipped == 2 and result.new == len(body["hits"]) - 2


def test_twitter_tweet_without_id_is_skipped(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from socialcare.sources.twitter import TwitterSource

    monkeypatch.setenv("TWITTER_BEARER_TOKEN", "AAAA-SECRET")
    body = fixture("twitter/search_page3.json")
    body["data"].append({"text": "no id at all", "edit_history_tweet_ids": []})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.GET, "https://api.twitter.com/2/tweets/search/recent", json=body)
        src = TwitterSource({"queries": ["acme"]})
        [result] = poll_source(store, src)
    assert result.error is None and result.new == 1 and result.skipped == 1


# -- poison text ----------------------------------------------------------------------


def test_lone_surrogate_and_invalid_utf8_do_not_block_ingest(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx
    import respx

    from socialcare.sources.base import REPLACED_KEY
    from socialcare.sources.mastodon import MastodonSource

    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", "tok-SECRET")
    body = fixture("mastodon/search_page1.json")
    good, poisoned = body["statuses"]
    poisoned["content"] = "<p>broken MARK-SURROGATE text</p>"
    poisoned["account"]["display_name"] = "Nul\x00Name"
    raw = json.dumps(body).replace("MARK-SURROGATE", "\\ud800").encode()
    # and one invalid UTF-8 byte in the good status's text
    raw = raw.replace(b"<p>", b"<p>\xff", 1)
    with respx.mock(assert_all_called=False) as router:
        router.get("https://mastodon.example/api/v2/search").mock(
            return_value=httpx.Response(
                200, content=raw, headers={"content-type": "application/json; charset=utf-8"}
            )
        )
        src = MastodonSource(
            {"instance": "https://mastodon.example", "mentions": False, "searches": ["acme"]},
            sleep=lambda _s: None,
        )
        [result] = poll_source(store, src)
    assert result.error is None and result.new == 2
    row = store.get_mention(f"mastodon:{poisoned['id']}")
    assert row["text"] == "broken \ufffd text"
    assert row["author_name"] == "Nul\ufffdName"
    assert json.loads(row["raw"])[REPLACED_KEY] == {"text": 1, "author_name": 1, "raw": 1}
    first = store.get_mention(f"mastodon:{good['id']}")
    assert "\ufffd" in first["text"] and REPLACED_KEY in json.loads(first["raw"])


def test_twitter_lone_surrogate_is_replaced_and_recorded(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from socialcare.sources.base import REPLACED_KEY
    from socialcare.sources.twitter import TwitterSource

    monkeypatch.setenv("TWITTER_BEARER_TOKEN", "AAAA-SECRET")
    body = json.dumps(fixture("twitter/search_page3.json")).replace("Loving", "\\udc80Loving")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(
            responses.GET,
            "https://api.twitter.com/2/tweets/search/recent",
            body=body,
            content_type="application/json",
        )
        [result] = poll_source(store, TwitterSource({"queries": ["acme"]}))
    assert result.error is None and result.new == 1
    [row] = store.rows("SELECT text, raw FROM mentions")
    assert row["text"].startswith("\ufffdLoving")
    assert json.loads(row["raw"])[REPLACED_KEY]["text"] == 1
