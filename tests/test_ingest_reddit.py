"""Trustworthy ingest through real praw/prawcore: gaps backfilled with ``after``, overlap, echoes.

``FakeReddit`` answers Listing requests at the transport like Reddit: newest
first, ``limit`` (at most 10 per page here, as Reddit may return fewer than
asked), ``after=<fullname>`` to continue below an item, and scripted 5xx.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from socialcare.poll import PollResult, poll_source
from socialcare.sources.reddit import RedditSource
from socialcare.store import Store
from socialcare.store.ingest import list_gaps

API = "https://oauth.reddit.com"
TOKEN_URL = "https://www.reddit.com/api/v1/access_token"
T0 = 1_717_000_000.0
PAGE = 10
RL_OK = {"x-ratelimit-remaining": "995.0", "x-ratelimit-used": "5", "x-ratelimit-reset": "300"}
SEARCH = {"searches": [{"subreddit": "all", "query": "acme"}]}
Q = "search:all:acme"


class FakeReddit:
    """One listing per path over in-memory items, newest first, paged with ``after``."""

    def __init__(self, rsps: responses.RequestsMock) -> None:
        self.items: dict[str, list[dict[str, Any]]] = {}
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.fail_calls: set[int] = set()
        rsps.add(
            responses.POST,
            TOKEN_URL,
            json={"access_token": "tok", "token_type": "bearer", "expires_in": 86400, "scope": "*"},
        )
        rsps.add_callback(responses.GET, re.compile(f"{API}/.*"), callback=self.handle)

    def post(self, path: str, second: int, author: str = "pat_smith", text: str = "") -> str:
        name = f"t3_{second:06d}"
        self.items.setdefault(path, []).append(
            {
                "kind": "t3",
                "data": {
                    "id": name[3:],
                    "name": name,
                    "created_utc": T0 + second,
                    "author": author,
                    "author_fullname": f"t2_{author}",
                    "title": text or f"acme post {second}",
                    "selftext": "",
                    "permalink": f"/r/gadgets/comments/{name[3:]}/x/",
                    "subreddit": "gadgets",
                },
            }
        )
        return name

    def comment(self, path: str, second: int, author: str, text: str, parent: str) -> str:
        name = f"t1_{second:06d}"
        self.items.setdefault(path, []).append(
            {
                "kind": "t1",
                "data": {
                    "id": name[3:],
                    "name": name,
                    "created_utc": T0 + second,
                    "author": author,
                    "author_fullname": f"t2_{author}",
                    "body": text,
                    "parent_id": parent,
                    "link_id": "t3_000001",
                    "permalink": f"/r/acme/comments/000001/x/{name[3:]}/",
                    "subreddit": "acme",
                },
            }
        )
        return name

    def handle(self, request: Any) -> tuple[int, dict[str, str], str]:
        url = urlsplit(request.url)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = url.path.lstrip("/")
        self.calls.append((path, params))
        if len(self.calls) in self.fail_calls:
            return 503, RL_OK, json.dumps({"message": "Service Unavailable", "error": 503})
        listing = sorted(
            self.items.get(path, []),
            key=lambda c: (c["data"]["created_utc"], c["data"]["name"]),
            reverse=True,
        )
        start = 0
        if "after" in params:
            names = [c["data"]["name"] for c in listing]
            if params["after"] not in names:
                return (
                    200,
                    RL_OK,
                    json.dumps({"kind": "Listing", "data": {"after": None, "children": []}}),
                )
            start = names.index(params["after"]) + 1
        size = min(int(params.get("limit", 100)), PAGE)
        page = listing[start : start + size]
        more = start + size < len(listing)
        data = {"after": page[-1]["data"]["name"] if page and more else None, "children": page}
        return 200, RL_OK, json.dumps({"kind": "Listing", "data": data})

    def names(self, path: str) -> set[str]:
        return {c["data"]["name"] for c in self.items.get(path, [])}


@pytest.fixture
def reddit(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeReddit]:
    for key, value in {
        "REDDIT_CLIENT_ID": "cid",
        "REDDIT_CLIENT_SECRET": "csecret",
        "REDDIT_USERNAME": "acme_support",
        "REDDIT_PASSWORD": "pw",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(time, "sleep", lambda s: None)  # prawcore's retry back-off
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeReddit(rsps)


def stored(store: Store) -> set[str]:
    return {r[0] for r in store.conn.execute("SELECT native_id FROM mentions")}


def run(store: Store, **config: Any) -> PollResult:
    [result] = poll_source(store, RedditSource({**SEARCH, **config}))
    return result


def test_server_error_mid_listing_leaves_a_gap_backfilled_with_after(
    store: Store, reddit: FakeReddit
) -> None:
    path = "r/all/search"
    for s in range(0, 5):
        reddit.post(path, s)
    assert run(store).error is None
    for s in range(100, 125):
        reddit.post(path, s)
    reddit.fail_calls = {len(reddit.calls) + 2 + i for i in range(4)}  # page 2, every retry

    cut = run(store)

    assert cut.error_code == 4 and cut.new == 10
    [gap] = list_gaps(store)
    assert json.loads(gap["before_cursor"])["name"] == "t3_000115"
    assert json.loads(gap["after_cursor"])["created_utc"] == T0 + 4
    calls = len(reddit.calls)
    ok = run(store)
    assert reddit.calls[calls][1]["after"] == "t3_000115"  # the gap first, below its anchor
    assert ok.error is None and ok.gaps_filled == 1 and list_gaps(store) == []
    assert stored(store) == reddit.names(path)
    assert store.mention_count() == 30


def test_limit_with_a_cursor_is_a_gap_not_a_skip(store: Store, reddit: FakeReddit) -> None:
    path = "r/all/search"
    reddit.post(path, 0)
    run(store, limit=10)
    for s in range(100, 135):
        reddit.post(path, s)
    capped = run(store, limit=10)
    assert capped.error is None and capped.gaps_open == 1
    for _ in range(5):
        run(store, limit=10)
    assert list_gaps(store) == []
    assert stored(store) == reddit.names(path)


def test_gap_whose_anchor_was_deleted_is_walked_from_the_top(
    store: Store, reddit: FakeReddit
) -> None:
    path = "r/all/search"
    reddit.post(path, 0)
    run(store, limit=10)
    for s in range(100, 125):
        reddit.post(path, s)
    run(store, limit=10)
    [gap] = list_gaps(store)
    anchor = json.loads(gap["before_cursor"])["name"]
    reddit.items[path] = [c for c in reddit.items[path] if c["data"]["name"] != anchor]
    for _ in range(4):
        run(store, limit=100)
    assert list_gaps(store) == []
    assert stored(store) == reddit.names(path) | {anchor}


def test_overlap_catches_late_indexed_posts(store: Store, reddit: FakeReddit) -> None:
    path = "r/all/search"
    reddit.post(path, 100)
    run(store)
    late = reddit.post(path, 30)  # 70 s older than the cursor, indexed late
    again = run(store)
    assert late in stored(store)
    assert (again.new, again.fetched) == (1, 2)
    assert store.mention_count() == 2


def test_own_comments_mark_the_answered_comment(store: Store, reddit: FakeReddit) -> None:
    watch = "r/acme/comments"
    own = "user/acme_support/comments"
    question = reddit.comment(watch, 10, "jo_doe", "acme refund broken?", "t3_000001")
    # sent from reddit.com, and with no keyword: kept because the account wrote it
    reddit.comment(own, 70, "acme_support", "DM us please", question)
    reddit.comment(watch, 70, "acme_support", "DM us please", question)
    source = RedditSource(
        {"watch": [{"subreddit": "acme", "keywords": ["refund"]}], "own_comments": True}
    )
    assert source.queries() == ["watch:acme:submissions", "watch:acme:comments", "own:comments"]

    results = poll_source(store, source)

    assert [r.error for r in results] == [None, None, None]
    row = store.get_mention(f"reddit:{question}")
    assert (row["status"], row["answered_by"]) == ("replied", "@acme_support")
    assert store.get_mention("reddit:t1_000070")["is_own"] == 1


def test_brand_comment_in_a_watched_subreddit_skips_the_keyword_filter(
    store: Store, reddit: FakeReddit
) -> None:
    watch = "r/acme/comments"
    question = reddit.comment(watch, 10, "jo_doe", "acme refund broken?", "t3_000001")
    reddit.comment(watch, 70, "acme_support", "DM us please", question)  # no keyword
    source = RedditSource({"watch": [{"subreddit": "acme", "keywords": ["refund"]}]})
    poll_source(store, source)
    assert store.get_mention(f"reddit:{question}")["answered_by"] == "@acme_support"


def test_limit_reached_below_the_old_cursor_warns_of_no_gap(
    store: Store, reddit: FakeReddit, caplog: pytest.LogCaptureFixture
) -> None:
    path = "r/all/search"
    for s in range(0, 6):
        reddit.post(path, s)
    run(store)
    for s in range(6, 9):
        reddit.post(path, s)
    # 8, 7, 6 are new; 5 and 4 are the overlap re-read below the old cursor (second 5),
    # so stopping at limit=5 leaves nothing missing
    with caplog.at_level("WARNING"):
        quiet = run(store, limit=5)
    assert quiet.error is None and quiet.new == 3 and quiet.gaps_open == 0
    assert "gap" not in caplog.text

    for s in range(20, 30):
        reddit.post(path, s)
    caplog.clear()
    with caplog.at_level("WARNING"):
        capped = run(store, limit=5)  # ten new, five read: a real gap, and it says so
    assert capped.gaps_open == 1
    assert "gap the next poll fills" in caplog.text
