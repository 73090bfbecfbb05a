"""The Reddit adapter, driven through real praw/prawcore with HTTP answered by ``responses``.

Nothing here fakes praw: ``responses`` answers at the ``requests`` transport, so
praw builds the requests (token grant, listing params, form bodies) and parses
Reddit-shaped JSON from ``tests/fixtures/reddit``. ``time.sleep`` is recorded
instead of slept so prawcore's retry back-off cannot slow the suite down.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from socialcare.errors import (
    AuthError,
    ConfigError,
    MissingCredential,
    RateLimited,
    SourceError,
)
from socialcare.models import Mention
from socialcare.poll import poll_source
from socialcare.sources.reddit import RedditSource
from socialcare.store import Store

FIXTURES = Path(__file__).parent.parent / "fixtures" / "reddit"
TOKEN_URL = "https://www.reddit.com/api/v1/access_token"
API = "https://oauth.reddit.com"
# Plenty of budget left: prawcore's limiter then never delays a request.
RL_OK = {"x-ratelimit-remaining": "995.0", "x-ratelimit-used": "5", "x-ratelimit-reset": "300"}
RL_SPENT = {"x-ratelimit-remaining": "0", "x-ratelimit-used": "1000", "x-ratelimit-reset": "120"}
SECRETS = {
    "REDDIT_CLIENT_ID": "cid-Zq81x",
    "REDDIT_CLIENT_SECRET": "csecret-Pw93kLm",
    "REDDIT_USERNAME": "acme_support",
    "REDDIT_PASSWORD": "hunter2-Vb77q",
}
SEARCH = {"searches": [{"subreddit": "all", "query": "acme"}]}
# the cursor-precision tests below switch the overlap re-read off (it has its own tests)
EXACT = {**SEARCH, "overlap_seconds": 0}
Q_SEARCH = "search:all:acme"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def params_of(request: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query)


def body_of(request: Any) -> dict[str, list[str]]:
    body = request.body
    return parse_qs(body if isinstance(body, str) else body.decode())


def query_is(**expected: str | None) -> Callable[[Any], tuple[bool, str]]:
    """A ``responses`` matcher on some query params; ``None`` means "absent"."""

    def match(request: Any) -> tuple[bool, str]:
        got = params_of(request)
        for key, value in expected.items():
            if value is None and key in got:
                return False, f"{key} should be absent"
            if value is not None and got.get(key) != [value]:
                return False, f"{key}={got.get(key)} != {value}"
        return True, ""

    return match


@contextmanager
def reddit_api() -> Iterator[responses.RequestsMock]:
    """Answer Reddit's token endpoint; tests add the API responses they need."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.POST, TOKEN_URL, json=load("token.json"))
        yield rsps


def add_listing(
    rsps: responses.RequestsMock,
    path: str,
    fixture: str | dict[str, Any],
    *,
    after: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> None:
    body = load(fixture) if isinstance(fixture, str) else fixture
    rsps.add(
        responses.GET,
        f"{API}/{path}",
        json=body,
        status=status,
        headers=RL_OK if headers is None else headers,
        match=[query_is(after=after)],
    )


def api_calls(rsps: responses.RequestsMock, path: str = "") -> list[Any]:
    return [c for c in rsps.calls if (c.request.url or "").startswith(f"{API}/{path}")]


def stored_ids(store: Store) -> list[str]:
    return sorted(r[0] for r in store.conn.execute("SELECT native_id FROM mentions"))


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record prawcore's sleeps (retry back-off, rate limiter) instead of sleeping."""
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


# -- polling ---------------------------------------------------------------------


def test_search_pages_through_listing_and_sets_cursor(store: Store) -> None:
    source = RedditSource(SEARCH)
    assert source.queries() == [Q_SEARCH]
    with reddit_api() as rsps:
        add_listing(rsps, "r/all/search", "search_page1.json")
        add_listing(rsps, "r/all/search", "search_page2.json", after="t3_1b0003")
        [result] = poll_source(store, source)

        token = body_of(rsps.calls[0].request)
        assert token["grant_type"] == ["password"]  # a script app, so replies can work
        assert token["username"] == ["acme_support"]
        first, second = api_calls(rsps, "r/all/search")
        assert first.request.headers["Authorization"] == "bearer fake-access-token-123"
        for call in (first, second):
            p = params_of(call.request)
            assert p["q"] == ["acme"] and p["sort"] == ["new"] and p["restrict_sr"] == ["false"]
        assert "after" not in params_of(first.request)
        assert params_of(second.request)["after"] == ["t3_1b0003"]

    assert (result.error, result.new, result.pages) == (None, 4, 2)
    assert stored_ids(store) == ["t3_1b0001", "t3_1b0002", "t3_1b0003", "t3_1b0004"]
    assert json.loads(store.get_cursor("reddit", Q_SEARCH) or "") == {
        "created_utc": 1717000400.0,
        "ids": ["t3_1b0004"],
    }
    row = store.get_mention("reddit:t3_1b0004")
    assert row["text"] == "Acme charger died after a week\n\nAnyone else? Mine is completely dead."
    assert (
        row["url"]
        == "https://www.reddit.com/r/gadgets/comments/1b0004/acme_charger_died_after_a_week/"
    )
    assert (row["author_id"], row["author_handle"], row["kind"]) == (
        "t2_8k2j1",
        "pat_smith",
        "post",
    )
    assert row["conversation_id"] == "t3_1b0004" and row["parent_id"] is None
    assert row["created_at"] == "2024-05-29T16:33:20Z" and row["query"] == Q_SEARCH
    assert json.loads(row["raw"])["subreddit"] == "gadgets"
    assert store.get_mention("reddit:t3_1b0003")["text"] == "Is the Acme X2 worth it?"
    [health] = store.source_health()
    assert health["rate_limit_remaining"] == 995 and health["rate_limit_reset"]


def test_only_the_last_page_carries_the_cursor() -> None:
    source = RedditSource(SEARCH)
    with reddit_api() as rsps:
        add_listing(rsps, "r/all/search", "search_page1.json")
        add_listing(rsps, "r/all/search", "search_page2.json", after="t3_1b0003")
        pages = list(source.poll(Q_SEARCH, None))
    assert [len(p.mentions) for p in pages] == [2, 2]
    assert pages[0].cursor is None and pages[1].cursor is not None
    assert pages[0].rate_limit_remaining == 995


def test_second_poll_stops_at_cursor_and_stores_nothing_twice(store: Store) -> None:
    with reddit_api() as rsps:
        add_listing(rsps, "r/all/search", "search_page1.json")
        add_listing(rsps, "r/all/search", "search_page2.json", after="t3_1b0003")
        poll_source(store, RedditSource(SEARCH))

    # Newest first: 1b0005 is new, 1b0006 shares 1b0004's second but is new,
    # 1b0004 is in the cursor, 1b0003 is older than the cursor -> stop there.
    with reddit_api() as rsps:
        add_listing(rsps, "r/all/search", "search_newer.json")
        add_listing(rsps, "r/all/search", "search_page2.json", after="t3_1b0003")
        [result] = poll_source(store, RedditSource(EXACT))
        assert len(api_calls(rsps, "r/all/search")) == 1  # never asked for page 2

    assert (result.error, result.new, result.fetched) == (None, 2, 2)
    assert len(stored_ids(store)) == 6
    assert json.loads(result.cursor or "") == {"created_utc": 1717000500.0, "ids": ["t3_1b0005"]}

    with reddit_api() as rsps:  # nothing new: one empty page, cursor unchanged
        add_listing(rsps, "r/all/search", "search_newer.json")
        before = store.get_cursor("reddit", Q_SEARCH)
        [again] = poll_source(store, RedditSource(EXACT))
    assert (again.new, again.fetched, again.pages) == (0, 0, 1)
    assert store.get_cursor("reddit", Q_SEARCH) == before


def test_items_sharing_the_cursor_second_are_remembered(store: Store) -> None:
    newer = load("search_newer.json")
    same_second = {
        "kind": "Listing",
        "data": {**newer["data"], "children": newer["data"]["children"][1:]},
    }
    with reddit_api() as rsps:
        add_listing(rsps, "r/all/search", "search_page1.json")
        add_listing(rsps, "r/all/search", "search_page2.json", after="t3_1b0003")
        poll_source(store, RedditSource(SEARCH))
    for expected_new in (1, 0):  # 1b0006 (same second as 1b0004) once, then never again
        with reddit_api() as rsps:
            add_listing(rsps, "r/all/search", same_second)
            [result] = poll_source(store, RedditSource(EXACT))
        assert (result.new, result.fetched) == (expected_new, expected_new)
        assert json.loads(result.cursor or "") == {
            "created_utc": 1717000400.0,
            "ids": ["t3_1b0004", "t3_1b0006"],
        }


def test_watch_keeps_submissions_and_comments_with_keywords(store: Store) -> None:
    source = RedditSource({"watch": [{"subreddit": "r/acme", "keywords": ["refund", "broken"]}]})
    assert source.queries() == ["watch:acme:submissions", "watch:acme:comments"]
    with reddit_api() as rsps:
        add_listing(rsps, "r/acme/new", "watch_new.json")
        add_listing(rsps, "r/acme/comments", "watch_comments.json")
        results = poll_source(store, source)
    assert [r.error for r in results] == [None, None]
    # "REFUND" (title) and "Broken" (selftext) match case-insensitively; "Love ..." does not.
    assert stored_ids(store) == ["t1_kc0002", "t3_1c0001", "t3_1c0003"]
    comment = store.get_mention("reddit:t1_kc0002")
    assert comment["kind"] == "comment"
    assert comment["text"] == "Mine arrived broken too, contacting support."
    assert (comment["conversation_id"], comment["parent_id"]) == ("t3_1c0001", "t1_kc0000")
    assert comment["url"] == "https://www.reddit.com/r/acme/comments/1c0001/order_status/kc0002/"
    # Skipped items still move the cursor, so they are not re-read every poll.
    assert json.loads(results[0].cursor or "")["ids"] == ["t3_1c0003"]


def test_watch_without_keywords_keeps_everything(store: Store) -> None:
    source = RedditSource({"watch": [{"subreddit": "acme"}]})
    with reddit_api() as rsps:
        add_listing(rsps, "r/acme/new", "watch_new.json")
        add_listing(rsps, "r/acme/comments", "watch_comments.json")
        poll_source(store, source)
    assert len(stored_ids(store)) == 5


def test_inbox_mentions(store: Store) -> None:
    source = RedditSource({"inbox_mentions": True})
    assert source.queries() == ["inbox:mentions"]
    with reddit_api() as rsps:
        add_listing(rsps, "message/mentions", "inbox_mentions.json")
        [result] = poll_source(store, source)
    assert (result.error, result.new) == (None, 2)
    m = store.get_mention("reddit:t1_kd0002")
    assert m["text"] == "u/acme_support my order #4411 never arrived"
    assert m["url"] == "https://www.reddit.com/r/gadgets/comments/1d0001/best_kettle_brands/kd0002/"
    assert (m["conversation_id"], m["parent_id"]) == ("t3_1d0001", "t1_kd0001")
    assert (m["author_id"], m["author_handle"]) == ("t2_2w3e4", "sam_q")


def test_inbox_needs_the_account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDDIT_PASSWORD")
    with pytest.raises(MissingCredential, match="REDDIT_PASSWORD"):
        RedditSource({"inbox_mentions": True}).check_credentials()
    RedditSource(SEARCH).check_credentials()  # searching works with the app alone


def test_rate_limited_keeps_page_one_and_does_not_move_cursor(
    store: Store, sleeps: list[float]
) -> None:
    config = {**SEARCH, "watch": [{"subreddit": "acme"}]}
    with reddit_api() as rsps:
        add_listing(rsps, "r/all/search", "search_page1.json")
        add_listing(
            rsps,
            "r/all/search",
            "too_many_requests.json",
            after="t3_1b0003",
            status=429,
            headers=RL_SPENT,
        )
        results = poll_source(store, RedditSource(config))
        # The other queries are refused at once instead of prawcore sleeping 120 s.
        assert api_calls(rsps, "r/acme") == []
    assert all(s < 10 for s in sleeps)
    assert [r.error_code for r in results] == [5, 5, 5]
    assert "resets at" in (results[0].error or "")
    assert results[0].new == 2 and store.get_cursor("reddit", Q_SEARCH) is None
    assert stored_ids(store) == ["t3_1b0003", "t3_1b0004"]
    health = {h["query"]: h for h in store.source_health()}
    assert health[Q_SEARCH]["rate_limit_reset"]

    with reddit_api() as rsps:  # the next run picks up what the 429 interrupted
        add_listing(rsps, "r/all/search", "search_page1.json")
        add_listing(rsps, "r/all/search", "search_page2.json", after="t3_1b0003")
        [result] = poll_source(store, RedditSource(SEARCH))
    assert (result.error, result.new) == (None, 2)
    assert len(stored_ids(store)) == 4
    assert store.get_cursor("reddit", Q_SEARCH) is not None


def test_server_error_mid_pagination_then_recovery(store: Store, sleeps: list[float]) -> None:
    with reddit_api() as rsps:
        add_listing(rsps, "r/all/search", "search_page1.json")
        add_listing(rsps, "r/all/search", "server_error.json", after="t3_1b0003", status=503)
        [result] = poll_source(store, RedditSource(SEARCH))
        assert len(api_calls(rsps, "r/all/search")) == 4  # page 1 + prawcore's 3 tries at page 2
    assert result.error_code == 4
    assert (
        result.error == "Reddit server error 503 while searching r/all for 'acme'; try again later"
    )
    assert stored_ids(store) == ["t3_1b0003", "t3_1b0004"]
    assert store.get_cursor("reddit", Q_SEARCH) is None
    assert sum(sleeps) < 10  # only prawcore's short retry back-off (not actually slept)

    with reddit_api() as rsps:
        add_listing(rsps, "r/all/search", "search_page1.json")
        add_listing(rsps, "r/all/search", "search_page2.json", after="t3_1b0003")
        [result] = poll_source(store, RedditSource(SEARCH))
    assert (result.error, result.new, result.fetched) == (None, 2, 4)
    ids = [r[0] for r in store.conn.execute("SELECT native_id FROM mentions")]
    assert sorted(ids) == ["t3_1b0001", "t3_1b0002", "t3_1b0003", "t3_1b0004"]
    assert store.get_cursor("reddit", Q_SEARCH) is not None


def test_same_item_from_two_queries_is_stored_once(store: Store) -> None:
    watch = load("watch_new.json")
    search = {
        "kind": "Listing",
        "data": {**watch["data"], "children": watch["data"]["children"][:1]},
    }
    source = RedditSource({**SEARCH, "watch": [{"subreddit": "acme"}]})
    with reddit_api() as rsps:
        add_listing(rsps, "r/all/search", search)
        add_listing(rsps, "r/acme/new", "watch_new.json")
        add_listing(
            rsps, "r/acme/comments", {"kind": "Listing", "data": {"after": None, "children": []}}
        )
        results = poll_source(store, source)
    assert [r.new for r in results] == [1, 2, 0]
    assert stored_ids(store) == ["t3_1c0001", "t3_1c0002", "t3_1c0003"]


def test_invalid_token_is_an_auth_error(store: Store) -> None:
    with reddit_api() as rsps:
        rsps.add(
            responses.GET,
            f"{API}/r/all/search",
            status=401,
            json={"message": "Unauthorized", "error": 401},
            headers={"www-authenticate": 'Bearer realm="reddit", error="invalid_token"'},
        )
        [result] = poll_source(store, RedditSource(SEARCH))
    assert result.error_code == 4
    assert "REDDIT_CLIENT_ID" in (result.error or "")


# -- fetch, reply, post ------------------------------------------------------------


def test_fetch_by_fullname() -> None:
    with reddit_api() as rsps:
        add_listing(rsps, "api/info", "info.json")
        mentions = RedditSource(SEARCH).fetch(["t3_1b0002", "t1_kc0001"])
        assert params_of(api_calls(rsps, "api/info")[0].request)["id"] == ["t3_1b0002,t1_kc0001"]
    assert [(m.native_id, m.kind) for m in mentions] == [
        ("t3_1b0002", "post"),
        ("t1_kc0001", "comment"),
    ]


def _mention(native_id: str) -> Mention:
    return Mention(
        source="reddit",
        native_id=native_id,
        text="charger died",
        created_at=datetime(2024, 5, 29, tzinfo=timezone.utc),
        author_id="t2_8k2j1",
        author_handle="pat_smith",
    )


@pytest.mark.parametrize("native_id", ["t3_1b0004", "t1_kc0002"])
def test_reply_posts_thing_id_and_text(native_id: str) -> None:
    with reddit_api() as rsps:
        rsps.add(
            responses.POST, f"{API}/api/comment/", json=load("comment_reply.json"), headers=RL_OK
        )
        sent = RedditSource(SEARCH).reply(_mention(native_id), "Sorry! Please DM us.")
        body = body_of(api_calls(rsps, "api/comment")[0].request)
    assert body["thing_id"] == [native_id] and body["text"] == ["Sorry! Please DM us."]
    assert sent.native_id == "t1_ke0001"
    assert sent.url == (
        "https://www.reddit.com/r/gadgets/comments/1b0004/acme_charger_died_after_a_week/ke0001/"
    )


def test_reply_forbidden_is_a_readable_source_error() -> None:
    with reddit_api() as rsps:
        rsps.add(responses.POST, f"{API}/api/comment/", status=403, json=load("forbidden.json"))
        with pytest.raises(SourceError) as info:
            RedditSource(SEARCH).reply(_mention("t3_1b0004"), "hello")
    assert not isinstance(info.value, AuthError)
    assert "replying to t3_1b0004" in str(info.value) and "locked" in str(info.value)


def test_reply_api_error_names_reddits_reason() -> None:
    with reddit_api() as rsps:
        rsps.add(responses.POST, f"{API}/api/comment/", json=load("comment_error_too_old.json"))
        with pytest.raises(SourceError, match="TOO_OLD: that's a piece of history"):
            RedditSource(SEARCH).reply(_mention("t3_1b0004"), "hello")


def test_reply_write_rate_limit_is_reported_not_slept(sleeps: list[float]) -> None:
    with reddit_api() as rsps:
        rsps.add(responses.POST, f"{API}/api/comment/", json=load("comment_error_ratelimit.json"))
        with pytest.raises(RateLimited, match="9 minutes") as info:
            RedditSource(SEARCH).reply(_mention("t3_1b0004"), "hello")
    assert info.value.reset_at is not None and info.value.reset_at > time.time() + 500
    assert sleeps == []


def test_reply_needs_the_account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDDIT_USERNAME")
    with pytest.raises(MissingCredential, match="REDDIT_USERNAME"):
        RedditSource(SEARCH).reply(_mention("t3_1b0004"), "hello")


def test_post_needs_a_subreddit_and_submits_a_self_post() -> None:
    with pytest.raises(SourceError, match="post_subreddit"):
        RedditSource(SEARCH).post("Service update\n\nAll fixed.")
    with reddit_api() as rsps:
        rsps.add(responses.POST, f"{API}/api/submit/", json=load("submit.json"), headers=RL_OK)
        sent = RedditSource({"post_subreddit": "acme"}).post("Service update\n\nAll fixed.")
        body = body_of(api_calls(rsps, "api/submit")[0].request)
    assert (body["sr"], body["title"], body["text"], body["kind"]) == (
        ["acme"],
        ["Service update"],
        ["All fixed."],
        ["self"],
    )
    assert sent.native_id == "t3_1f0001"
    assert sent.url == "https://www.reddit.com/comments/1f0001/"


# -- credentials and config ------------------------------------------------------


def test_missing_client_id_names_the_variable(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDDIT_CLIENT_ID")
    with pytest.raises(MissingCredential, match="REDDIT_CLIENT_ID"):
        RedditSource(SEARCH).check_credentials()
    [result] = poll_source(store, RedditSource(SEARCH))
    assert result.error_code == 2 and "REDDIT_CLIENT_ID" in (result.error or "")
    with pytest.raises(MissingCredential, match="ACME_REDDIT_ID"):
        RedditSource({"client_id_env": "ACME_REDDIT_ID"}).check_credentials()


@pytest.mark.parametrize(
    ("token", "names"),
    [
        (
            {"status": 401, "json": {"message": "Unauthorized", "error": 401}},
            ["REDDIT_CLIENT_SECRET"],
        ),
        ({"json": load("token_invalid_grant.json")}, ["REDDIT_USERNAME", "REDDIT_PASSWORD"]),
    ],
)
def test_rejected_credentials_name_variables_never_values(
    store: Store, caplog: pytest.LogCaptureFixture, token: dict[str, Any], names: list[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.POST, TOKEN_URL, **token)
        [result] = poll_source(store, RedditSource(SEARCH))
        with pytest.raises(AuthError) as info:
            RedditSource(SEARCH).reply(_mention("t3_1b0004"), "hello")
    assert result.error_code == 4
    for text in (result.error or "", str(info.value)):
        assert all(name in text for name in names)
        assert not any(secret in text for secret in SECRETS.values() if secret != "acme_support")
    assert not any(
        s in caplog.text for s in (SECRETS["REDDIT_PASSWORD"], SECRETS["REDDIT_CLIENT_SECRET"])
    )


def test_network_failure_is_a_source_error(store: Store) -> None:
    with reddit_api() as rsps:
        rsps.add(responses.GET, f"{API}/r/all/search", body=requests.ConnectionError("refused"))
        [result] = poll_source(store, RedditSource(SEARCH))
    assert result.error_code == 4 and "could not reach Reddit" in (result.error or "")


@pytest.mark.parametrize(
    "config",
    [
        {"searches": [{"subreddit": "all"}]},
        {"searches": "acme"},
        {"watch": [{"subreddit": "acme", "keywords": "refund"}]},
        {"limit": 0},
        {"inbox_mentions": "yes"},
    ],
)
def test_bad_config_is_a_config_error(config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        RedditSource(config)


def test_send_message_composes_a_private_message() -> None:
    with reddit_api() as rsps:
        rsps.add(
            responses.POST, f"{API}/api/compose/", json={"json": {"errors": []}}, headers=RL_OK
        )
        RedditSource(SEARCH).send_message("u/pat_smith", "Your order", "We sent a replacement.")
        body = body_of(api_calls(rsps, "api/compose")[0].request)
    assert (body["to"], body["subject"], body["text"]) == (
        ["pat_smith"],
        ["Your order"],
        ["We sent a replacement."],
    )


# -- links and honest rate-limit messages ----------------------------------------------


@pytest.mark.parametrize(
    ("subreddit", "expected"),
    [
        ("acme", "https://www.reddit.com/r/acme/comments/1a0001/_/kz9x01/"),
        (None, "https://www.reddit.com/comments/1a0001/_/kz9x01/"),
    ],
)
def test_comment_without_permalink_gets_a_built_url(subreddit: str | None, expected: str) -> None:
    body = load("info.json")
    comment = {
        "kind": "t1",
        "data": {
            "id": "kz9x01",
            "name": "t1_kz9x01",
            "link_id": "t3_1a0001",
            "parent_id": "t3_1a0001",
            "author": "pat_smith",
            "author_fullname": "t2_8k2j1",
            "body": "still broken",
            "created_utc": 1717000000.0,
        },
    }
    if subreddit:
        comment["data"]["subreddit"] = subreddit
    body["data"]["children"] = [comment]
    with reddit_api() as rsps:
        rsps.add(responses.GET, f"{API}/api/info", json=body, headers=RL_OK)
        [mention] = RedditSource(SEARCH).fetch(["t1_kz9x01"])
    assert mention.url == expected


def test_429_without_reset_header_says_the_wait_is_a_default_guess(store: Store) -> None:
    config = {**SEARCH, "watch": [{"subreddit": "acme"}]}
    with reddit_api() as rsps:
        add_listing(rsps, "r/all/search", "too_many_requests.json", status=429, headers={})
        results = poll_source(store, RedditSource(config))
        assert api_calls(rsps, "r/acme") == []  # still backs off the other queries
    for r in results:
        assert r.error_code == 5
        assert "no reset time given" in (r.error or "")
        assert "resets at" not in (r.error or "")  # Reddit never said when
        assert "default" in (r.error or "")
