"""Trustworthy ingest through the real tweepy client: gaps, overlap, echoes, folding, budgets.

``FakeTwitter`` answers at the HTTP transport (``responses``) like API v2 does:
``since_id``/``until_id`` bounds, ``max_results`` pages with ``next_token``, the
mentions and user-tweets timelines, and scripted 429s. tweepy builds and parses
every request, and the poll engine and store are the real ones.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from socialcare.models import to_iso
from socialcare.poll import PollResult, WaitLimit, poll_source
from socialcare.sources.twitter import TwitterSource
from socialcare.store import QueueFilter, Store
from socialcare.store.ingest import add_usage, list_gaps

API = "https://api.twitter.com/2"
NOW = 1_715_600_000.0
EPOCH_MS = 1288834974657
BASE_MS = 1_715_590_000_000 - EPOCH_MS  # 2024-05-13, a little before NOW
BRAND_ID = "2244994945"
USERS = {
    BRAND_ID: "AcmeHelp",
    "1001": "dana_k",
    "1002": "marco_r",
    "1003": "li_wei",
}


def tid(second: int) -> str:
    """A real-looking snowflake id for a tweet made ``second`` s after BASE."""
    return str((BASE_MS + second * 1000) << 22)


def rewound(tweet_id: str, seconds: int) -> str:
    return str(((int(tweet_id) >> 22) - seconds * 1000) << 22)


class FakeTwitter:
    """API v2 search, mentions and user-tweets over an in-memory list of tweets."""

    def __init__(self, api: responses.RequestsMock) -> None:
        self.tweets: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.fail_calls: set[int] = set()  # 1-based call numbers answered with 429
        self.server_errors: set[int] = set()  # ... answered with 503
        self.horizon = 0  # since_id/until_id below this are refused (search reaches 7 days)
        self.reset = NOW + 42
        for path in (
            "tweets/search/recent",
            f"users/{BRAND_ID}/mentions",
            f"users/{BRAND_ID}/tweets",
        ):
            api.add_callback(responses.GET, re.compile(f"{API}/{path}.*"), callback=self.handle)

    def tweet(
        self,
        second: int,
        author: str = "1001",
        text: str | None = None,
        *,
        replied_to: str | None = None,
        retweeted: str | None = None,
        quoted: str | None = None,
    ) -> str:
        native = tid(second)
        refs = [
            {"type": kind, "id": ref}
            for kind, ref in (
                ("replied_to", replied_to),
                ("retweeted", retweeted),
                ("quoted", quoted),
            )
            if ref
        ]
        tweet: dict[str, Any] = {
            "id": native,
            "text": text if text is not None else f"@AcmeHelp tweet {second}",
            "author_id": author,
            "created_at": to_iso(
                datetime.fromtimestamp((BASE_MS + EPOCH_MS) / 1000 + second, tz=timezone.utc)
            ),
            "conversation_id": replied_to or native,
            "lang": "en",
        }
        if refs:
            tweet["referenced_tweets"] = refs
        self.tweets.append(tweet)
        return native

    def handle(self, request: Any) -> tuple[int, dict[str, str], str]:
        url = urlsplit(request.url)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.calls.append((url.path, params))
        headers = {
            "x-rate-limit-limit": "450",
            "x-rate-limit-remaining": "400",
            "x-rate-limit-reset": str(int(NOW + 900)),
            "content-type": "application/json",
        }
        if len(self.calls) in self.fail_calls:
            headers.update(
                {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(self.reset))}
            )
            return 429, headers, json.dumps({"title": "Too Many Requests", "status": 429})
        if len(self.calls) in self.server_errors:
            return 503, headers, json.dumps({"title": "Service Unavailable", "status": 503})
        refused = [
            p for p in ("since_id", "until_id") if int(params.get(p, 1 << 70)) < self.horizon
        ]
        if refused:
            message = f"Invalid '{refused[-1]}'. It must be a tweet id created after the horizon"
            body = {
                "errors": [{"parameters": {p: [params[p]] for p in refused}, "message": message}]
            }
            return 400, headers, json.dumps({**body, "title": "Invalid Request"})
        since = int(params.get("since_id", "0"))
        until = int(params.get("until_id", str(1 << 70)))
        pool = self.tweets
        if url.path.endswith("/mentions"):
            pool = [t for t in pool if t["author_id"] != BRAND_ID]
        elif url.path.endswith("/tweets"):
            pool = [t for t in pool if t["author_id"] == BRAND_ID]
        found = sorted(
            (t for t in pool if since < int(t["id"]) < until), key=lambda t: -int(t["id"])
        )
        start = int(params.get("next_token") or params.get("pagination_token") or 0)
        size = int(params["max_results"])
        page = found[start : start + size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta.update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
        if start + size < len(found):
            meta["next_token"] = str(start + size)
        authors = {t["author_id"] for t in page}
        users = [{"id": u, "username": USERS[u], "name": USERS[u]} for u in sorted(authors)]
        body: dict[str, Any] = {"meta": meta}
        if page:
            body.update(data=page, includes={"users": users})
        return 200, headers, json.dumps(body)

    def ids(self) -> set[str]:
        return {t["id"] for t in self.tweets}


class Waits(list[tuple[float, str]]):
    def __call__(self, seconds: float, reason: str) -> None:
        self.append((seconds, reason))


@pytest.fixture
def twitter(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTwitter]:
    monkeypatch.setenv("TWITTER_BEARER_TOKEN", "bearer-SECRET")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        yield FakeTwitter(api)


def source(**config: Any) -> TwitterSource:
    config.setdefault("queries", ["acme"])
    config.setdefault("max_results", 10)
    src = TwitterSource(config)
    src.clock = lambda: NOW
    src.sleep = lambda s: None
    return src


def stored(store: Store) -> set[str]:
    return {r[0] for r in store.conn.execute("SELECT native_id FROM mentions")}


def folded(store: Store) -> dict[str, str]:
    return {r[0]: r[1] for r in store.conn.execute("SELECT id, original_id FROM reposts")}


def total_new(results: list[list[PollResult]]) -> int:
    return sum(r.new for rs in results for r in rs)


# -- gaps --------------------------------------------------------------------------


def test_429_mid_pagination_leaves_a_gap_the_next_poll_fills(
    store: Store, twitter: FakeTwitter
) -> None:
    for s in range(0, 8):
        twitter.tweet(s)
    src = source()
    runs = [poll_source(store, src)]
    first_cursor = store.get_cursor("twitter", "acme")
    assert first_cursor == tid(7)

    for s in range(1000, 1025):  # 25 new tweets: three pages of 10
        twitter.tweet(s)
    twitter.fail_calls = {len(twitter.calls) + 2}  # page 2 of the next poll is refused
    runs.append(poll_source(store, src))
    [cut] = runs[-1]
    assert cut.error_code == 5 and cut.new == 10
    [gap] = list_gaps(store)
    # the run's newest is the cursor now; the unfetched middle is the gap
    assert (gap["after_cursor"], gap["before_cursor"]) == (first_cursor, tid(1015))
    assert gap["reason"].startswith("Twitter rate limit reached")
    assert store.get_cursor("twitter", "acme") == tid(1024)

    calls_before = len(twitter.calls)
    runs.append(poll_source(store, src))
    [ok] = runs[-1]
    backfill = twitter.calls[calls_before][1]
    assert backfill["until_id"] == tid(1015)  # the gap first, bounded on both sides
    assert backfill["since_id"] == rewound(first_cursor or "", 120)
    assert ok.error is None and ok.gaps_filled == 1 and ok.gaps_open == 0
    assert list_gaps(store) == [] and len(list_gaps(store, include_closed=True)) == 1

    # every id exactly once: nothing lost, and nothing counted new twice
    assert stored(store) == twitter.ids()
    assert store.mention_count() == total_new(runs) == 33


def test_page_cap_with_a_cursor_becomes_a_gap_not_a_skip(
    store: Store, twitter: FakeTwitter
) -> None:
    twitter.tweet(0)
    src = source(max_pages=1)
    poll_source(store, src)
    for s in range(100, 125):
        twitter.tweet(s)

    [capped] = poll_source(store, src)
    assert capped.error is None and capped.gaps_open == 1
    [gap] = list_gaps(store)
    assert "page cap" in gap["reason"]

    while list_gaps(store):  # one page per poll: the gap shrinks, then closes
        [r] = poll_source(store, src)
        assert r.error is None
    assert stored(store) == twitter.ids()


def test_overlap_rereads_below_the_cursor_and_stores_nothing_twice(
    store: Store, twitter: FakeTwitter
) -> None:
    for s in (0, 50, 100):
        twitter.tweet(s)
    src = source()
    poll_source(store, src)
    assert store.get_cursor("twitter", "acme") == tid(100)

    late = twitter.tweet(30)  # indexed late: older than the cursor, within 120 s of it
    twitter.tweet(200)
    calls = len(twitter.calls)
    [again] = poll_source(store, src)

    assert twitter.calls[calls][1]["since_id"] == rewound(tid(100), 120)
    assert late in stored(store) and stored(store) == twitter.ids()
    assert (again.new, again.fetched) == (2, 5)  # 0/50/100 re-read, refreshed, not new
    assert store.mention_count() == 5
    assert store.get_cursor("twitter", "acme") == tid(200)


def test_without_overlap_a_late_tweet_is_missed(store: Store, twitter: FakeTwitter) -> None:
    """The control for the overlap test: this is the bug overlap_seconds fixes."""
    twitter.tweet(100)
    src = source(overlap_seconds=0)
    poll_source(store, src)
    late = twitter.tweet(30)
    poll_source(store, src)
    assert late not in stored(store)


# -- echoes ------------------------------------------------------------------------


def brand_source() -> TwitterSource:
    # no brand_handles at all: the configured user_id alone identifies the brand
    return source(queries=[], user_id=BRAND_ID)


def queue_ids(store: Store) -> set[str]:
    rows = store.queue(QueueFilter(status="open"), NOW, 0.0, 24.0)
    return {r["id"] for r in rows}


def test_brand_reply_from_the_app_marks_the_mention_answered(
    store: Store, twitter: FakeTwitter
) -> None:
    question = twitter.tweet(10, "1001", "@AcmeHelp where is my order?")
    reply = twitter.tweet(70, BRAND_ID, "@dana_k on its way!", replied_to=question)
    src = brand_source()
    assert src.queries() == ["mentions", "own-tweets"]

    poll_source(store, src)

    row = store.get_mention(f"twitter:{question}")
    assert (row["status"], row["answered_by"]) == ("replied", "@AcmeHelp")
    assert row["answered_at"] == to_iso(
        datetime.fromtimestamp((BASE_MS + EPOCH_MS) / 1000 + 70, tz=timezone.utc)
    )
    own = store.get_mention(f"twitter:{reply}")
    assert own["is_own"] == 1
    assert f"twitter:{reply}" not in queue_ids(store)
    assert f"twitter:{question}" not in queue_ids(store)


def test_brand_reply_seen_before_the_mention_it_answers(store: Store, twitter: FakeTwitter) -> None:
    question = tid(10)
    twitter.tweet(70, BRAND_ID, "@dana_k on its way!", replied_to=question)
    src = brand_source()
    poll_source(store, src)  # only the reply is visible yet
    assert store.mention_count() == 1

    twitter.tweet(10, "1001", "@AcmeHelp where is my order?")  # indexed late (overlap)
    twitter.tweet(80, "1002", "@AcmeHelp hello?")
    poll_source(store, src)

    row = store.get_mention(f"twitter:{question}")
    assert (row["status"], row["answered_by"]) == ("replied", "@AcmeHelp")
    assert queue_ids(store) == {f"twitter:{tid(80)}"}


def test_an_agents_earlier_answer_is_kept(store: Store, twitter: FakeTwitter) -> None:
    question = twitter.tweet(10, "1001", "@AcmeHelp where is my order?")
    src = brand_source()
    poll_source(store, src)
    store.mark_answered(f"twitter:{question}", "2024-05-13T09:00:00Z", "alice")
    twitter.tweet(70, BRAND_ID, "@dana_k on its way!", replied_to=question)
    poll_source(store, src)
    row = store.get_mention(f"twitter:{question}")
    assert (row["answered_by"], row["answered_at"]) == ("alice", "2024-05-13T09:00:00Z")


# -- floods ------------------------------------------------------------------------


def test_retweets_and_quote_only_copies_fold_into_the_original(
    store: Store, twitter: FakeTwitter
) -> None:
    original = twitter.tweet(0, "1001", "@AcmeHelp my parcel is lost")
    twitter.tweet(5, "1002", "RT @dana_k: @AcmeHelp my parcel is lost", retweeted=original)
    twitter.tweet(6, "1003", "https://t.co/AbCd", quoted=original)  # quote-only
    commented = twitter.tweet(7, "1003", "same here!! https://t.co/AbCd", quoted=original)

    [result] = poll_source(store, source())

    assert stored(store) == {original, commented}
    assert set(folded(store)) == {f"twitter:{tid(5)}", f"twitter:{tid(6)}"}
    assert store.get_mention(f"twitter:{original}")["repost_count"] == 2
    assert (result.new, result.folded) == (2, 2)
    [again] = poll_source(store, source())  # the overlap re-reads them all: nothing changes
    assert (again.new, again.folded) == (0, 0)
    assert store.get_mention(f"twitter:{original}")["repost_count"] == 2


def test_a_retweet_seen_before_its_original_is_counted_when_it_arrives(
    store: Store, twitter: FakeTwitter
) -> None:
    original = tid(0)
    twitter.tweet(100, "1002", "RT @dana_k: lost parcel", retweeted=original)
    src = source()
    poll_source(store, src)
    assert store.mention_count() == 0 and len(folded(store)) == 1
    twitter.tweet(0, "1001", "@AcmeHelp my parcel is lost")
    twitter.tweet(300, "1003", "@AcmeHelp hi")
    [later] = poll_source(store, src)  # the original is within the overlap re-read
    assert later.error is None
    assert store.get_mention(f"twitter:{original}")["repost_count"] == 1


def test_fold_reposts_false_keeps_retweets_as_mentions(store: Store, twitter: FakeTwitter) -> None:
    original = twitter.tweet(0)
    twitter.tweet(5, "1002", "RT", retweeted=original)
    poll_source(store, source(fold_reposts=False))
    assert store.mention_count() == 2 and folded(store) == {}


def test_same_text_from_one_author_within_the_window_folds(
    store: Store, twitter: FakeTwitter
) -> None:
    first = twitter.tweet(0, "1001", "@AcmeHelp refund please")
    twitter.tweet(300, "1001", "@AcmeHelp refund please")  # 5 minutes later: a copy
    later = twitter.tweet(1000, "1001", "@AcmeHelp refund please")  # outside 600 s
    other = twitter.tweet(301, "1002", "@AcmeHelp refund please")  # another author

    poll_source(store, source())

    assert stored(store) == {first, later, other}
    assert folded(store) == {f"twitter:{tid(300)}": f"twitter:{first}"}
    assert store.get_mention(f"twitter:{first}")["repost_count"] == 1


# -- budgets and waiting -----------------------------------------------------------


def test_request_budget_stops_polling_and_the_rest_is_a_gap(
    store: Store, twitter: FakeTwitter
) -> None:
    twitter.tweet(0)
    src = source(monthly_request_budget=3, budget_warn_at=0.5)
    [first] = poll_source(store, src)
    assert first.error is None and first.requests == 1
    for s in range(100, 140):
        twitter.tweet(s)

    [stopped] = poll_source(store, src)

    assert stopped.error_code == 5
    assert "monthly budget reached (3/3 requests" in (stopped.error or "")
    assert "monthly_request_budget" in (stopped.error or "")
    assert stopped.warning is not None and "2/3 requests" in stopped.warning  # crossed 50%
    assert stopped.pages == 2 and len(list_gaps(store)) == 1
    calls = len(twitter.calls)
    [refused] = poll_source(store, src)
    assert refused.error_code == 5 and len(twitter.calls) == calls  # not one more request
    [health] = store.source_health()
    assert health["next_poll_at"].endswith("-01T00:00:00Z")  # the next calendar month
    assert health["requests_used"] == 3


def test_item_budget_counts_items_read(store: Store, twitter: FakeTwitter) -> None:
    for s in range(0, 15):
        twitter.tweet(s)
    add_usage(store, "twitter", "acme", items=100)
    [result] = poll_source(store, source(monthly_item_budget=105))
    assert result.error_code == 5 and result.items_read == 10  # stopped after one page
    assert "items read" in (result.error or "")


def test_rate_limit_wait_goes_through_the_waiter(store: Store, twitter: FakeTwitter) -> None:
    twitter.tweet(0)
    twitter.fail_calls = {1}
    waits = Waits()
    [result] = poll_source(store, source(wait_on_rate_limit=True), waiter=waits)
    assert result.error is None and result.new == 1
    assert [round(s) for s, _ in waits] == [42]
    assert "Twitter rate limit reached (search 'acme')" in waits[0][1]
    assert result.requests == 2  # the refused request counts too


def test_max_wait_stops_cleanly_and_the_rest_becomes_a_gap(
    store: Store, twitter: FakeTwitter
) -> None:
    twitter.tweet(0)
    src = source(wait_on_rate_limit=True)
    poll_source(store, src)
    for s in range(100, 125):
        twitter.tweet(s)
    twitter.fail_calls = {len(twitter.calls) + 2}
    waits = Waits()

    [stopped] = poll_source(store, src, waiter=waits, max_wait=10)

    assert waits == []  # 42 s is more than --max-wait allows: never waited
    assert stopped.error_code == 5 and "--max-wait" in (stopped.error or "")
    assert len(list_gaps(store)) == 1
    [filled] = poll_source(store, src, waiter=WaitLimit(waits, 100))
    assert filled.gaps_filled == 1 and stored(store) == twitter.ids()


def _cut_run(store: Store, twitter: FakeTwitter, src: TwitterSource) -> None:
    """Poll once completely, then once cut by a 429 on page 2: one open gap."""
    twitter.tweet(0)
    poll_source(store, src)
    for s in range(1000, 1025):
        twitter.tweet(s)
    twitter.fail_calls = {len(twitter.calls) + 2}
    poll_source(store, src)
    assert len(list_gaps(store)) == 1


def test_a_failing_backfill_does_not_block_new_mentions(store: Store, twitter: FakeTwitter) -> None:
    src = source()
    _cut_run(store, twitter, src)
    newer = twitter.tweet(2000)
    twitter.server_errors = {len(twitter.calls) + 1}  # the backfill request fails

    [r] = poll_source(store, src)

    assert r.error_code == 4 and "503" in (r.error or "")
    assert newer in stored(store)  # the main poll still ran
    assert len(list_gaps(store)) == 1  # and the gap waits for the next poll
    poll_source(store, src)
    assert list_gaps(store) == [] and stored(store) == twitter.ids()


def test_a_gap_older_than_search_reaches_is_closed(store: Store, twitter: FakeTwitter) -> None:
    src = source()
    _cut_run(store, twitter, src)
    twitter.horizon = int(tid(1020))  # a week later: the whole gap is out of reach
    newer = twitter.tweet(5000)

    [r] = poll_source(store, src)

    assert r.error is None and list_gaps(store) == []
    assert newer in stored(store)
