"""The Twitter/X adapter, driven through the real tweepy client.

``responses`` answers at the HTTP transport, so tweepy builds every request and
parses every response exactly as it would against api.twitter.com; the payloads
in ``tests/fixtures/twitter`` follow the documented API v2 JSON. The ordered
registry makes each test fail if the adapter sends requests in another order
or with other parameters than the ones registered.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from responses import matchers
from responses.registries import OrderedRegistry

from socialcare.errors import AuthError, ConfigError, MissingCredential, RateLimited, SourceError
from socialcare.models import Mention
from socialcare.poll import poll_source
from socialcare.sources.twitter import TwitterSource
from socialcare.store import Store

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "twitter"
API = "https://api.twitter.com/2"
SEARCH = f"{API}/tweets/search/recent"
TWEETS = f"{API}/tweets"
NOW = 1_715_600_000.0  # the pinned clock of every source built here

SECRETS = {
    "TWITTER_BEARER_TOKEN": "AAAAbearer-SECRET-0f9e8d7c",
    "TWITTER_CONSUMER_KEY": "ck-SECRET-1a2b3c",
    "TWITTER_CONSUMER_SECRET": "cs-SECRET-4d5e6f",
    "TWITTER_ACCESS_TOKEN": "2244994945-at-SECRET-7a8b9c",
    "TWITTER_ACCESS_TOKEN_SECRET": "ats-SECRET-0d1e2f",
}

# the tweet ids of the search fixtures, newest first
T6, T5, T4, T3, T2, T1 = (f"179000000000000000{n}" for n in (6, 5, 4, 3, 2, 1))
TOKEN_2 = "b26v89c19zqg8o3fpzbkcxxbbl4a8ppmt0vt7ymfi4qh9"
TOKEN_3 = "b26v89c19zqg8o3fpzbkcxxbbl4a8ppmt0vt7ymfi4qm2"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def rate_headers(remaining: int = 449, reset: float = NOW + 900) -> dict[str, str]:
    return {
        "x-rate-limit-limit": "450",
        "x-rate-limit-remaining": str(remaining),
        "x-rate-limit-reset": str(int(reset)),
    }


def params_of(call: Any) -> dict[str, str]:
    """The query parameters of a recorded request, one value each."""
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def has(**params: str) -> Any:
    """Match requests whose query string includes ``params`` (others may be present)."""
    return matchers.query_param_matcher(params, strict_match=False)


class Sleeps(list[float]):
    """Stands in for ``time.sleep``: records how long the adapter chose to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    return SECRETS


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(registry=OrderedRegistry, assert_all_requests_are_fired=True) as r:
        yield r


def slept(src: TwitterSource) -> list[float]:
    """The waits ``make_source``'s recorder saw."""
    assert isinstance(src.sleep, Sleeps)
    return list(src.sleep)


def make_source(**config: Any) -> TwitterSource:
    config.setdefault("queries", ["acme"])
    src = TwitterSource(config)
    src.clock = lambda: NOW
    src.sleep = Sleeps()
    return src


def add_search(
    api: responses.RequestsMock,
    fixture: str,
    *,
    status: int = 200,
    match: list[Any] | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    api.add(
        responses.GET,
        SEARCH,
        json=load(fixture),
        status=status,
        headers=rate_headers() if headers is None else headers,
        match=match or [],
    )


def add_three_pages(api: responses.RequestsMock) -> None:
    add_search(api, "search_page1.json")
    add_search(api, "search_page2.json", match=[has(next_token=TOKEN_2)])
    add_search(api, "search_page3.json", match=[has(next_token=TOKEN_3)], headers=rate_headers(446))


# -- polling -----------------------------------------------------------------


def test_pagination_stores_every_page_and_moves_cursor_to_newest(
    store: Store, creds: dict[str, str], api: responses.RequestsMock
) -> None:
    add_three_pages(api)
    [result] = poll_source(store, make_source())

    # T3 is a retweet: it folds into its original instead of queueing (fold_reposts)
    assert (result.error, result.pages, result.fetched, result.new) == (None, 3, 5, 4)
    assert result.folded == 1 and store.mention_count() == 4
    assert store.get_cursor("twitter", "acme") == T5
    first = params_of(api.calls[0])
    assert first["query"] == "acme"
    assert "since_id" not in first and "next_token" not in first
    assert first["max_results"] == "100"
    assert first["expansions"] == "author_id,referenced_tweets.id,in_reply_to_user_id"
    assert set(first["tweet.fields"].split(",")) >= {
        "author_id", "created_at", "conversation_id", "in_reply_to_user_id",
        "referenced_tweets", "lang", "public_metrics",
    }  # fmt: skip
    assert set(first["user.fields"].split(",")) == {"username", "name", "public_metrics"}
    assert (
        api.calls[0].request.headers["Authorization"] == f"Bearer {creds['TWITTER_BEARER_TOKEN']}"
    )
    [health] = store.source_health()
    assert health["rate_limit_remaining"] == 446  # from the last page's headers


def test_only_the_last_page_carries_the_cursor_with_rate_limit_headers(
    creds: dict[str, str], api: responses.RequestsMock
) -> None:
    add_three_pages(api)
    pages = list(make_source().poll("acme", None))

    assert [p.cursor for p in pages] == [None, None, T5]
    assert [len(p.mentions) for p in pages] == [2, 2, 1]
    assert [p.rate_limit_remaining for p in pages] == [449, 449, 446]
    assert pages[0].rate_limit_reset == NOW + 900


def test_second_poll_sends_since_id_and_stores_nothing_twice(
    store: Store, creds: dict[str, str], api: responses.RequestsMock
) -> None:
    add_three_pages(api)
    add_search(api, "search_newer.json", match=[has(since_id=T5)])
    add_search(api, "search_empty.json", match=[has(since_id=T6)])
    src = make_source(overlap_seconds=0)  # the overlap re-read has its own test

    poll_source(store, src)
    [second] = poll_source(store, src)
    assert (second.new, second.fetched, second.cursor) == (1, 1, T6)
    assert store.mention_count() == 5  # 6 tweets, one a folded retweet

    [third] = poll_source(store, src)  # nothing new: one empty page, cursor kept
    assert (third.error, third.pages, third.new) == (None, 1, 0)
    assert store.mention_count() == 5
    assert store.get_cursor("twitter", "acme") == T6


def test_rate_limit_wait_mode_sleeps_until_reset_then_continues(
    store: Store, creds: dict[str, str], api: responses.RequestsMock
) -> None:
    add_search(api, "search_page1.json")
    add_search(api, "error_429.json", status=429, headers=rate_headers(0, NOW + 42))
    add_search(api, "search_page2.json", match=[has(next_token=TOKEN_2)])
    add_search(api, "search_page3.json", match=[has(next_token=TOKEN_3)])
    src = make_source(wait_on_rate_limit=True)

    [result] = poll_source(store, src)

    assert slept(src) == [42.0]
    assert params_of(api.calls[2]) == params_of(api.calls[1])  # the same request, retried
    assert (result.error, result.new, result.folded) == (None, 4, 1)
    assert store.get_cursor("twitter", "acme") == T5


def test_rate_limit_reset_in_the_past_waits_one_second_and_warns(
    store: Store, creds: dict[str, str], api: responses.RequestsMock, caplog: Any
) -> None:
    add_search(api, "error_429.json", status=429, headers=rate_headers(0, NOW - 120))
    add_search(api, "search_newer.json")
    src = make_source(wait_on_rate_limit=True)

    with caplog.at_level(logging.WARNING, logger="socialcare.sources.twitter"):
        [result] = poll_source(store, src)

    assert slept(src) == [1.0]
    assert result.error is None
    assert "clock" in caplog.text


def test_rate_limit_wait_longer_than_max_wait_raises_instead_of_sleeping(
    creds: dict[str, str], api: responses.RequestsMock
) -> None:
    add_search(api, "error_429.json", status=429, headers=rate_headers(0, NOW + 5000))
    src = make_source(wait_on_rate_limit=True, max_wait_seconds=900)

    with pytest.raises(RateLimited) as info:
        list(src.poll("acme", None))

    assert slept(src) == []
    assert info.value.reset_at == NOW + 5000
    assert "max_wait_seconds" in str(info.value)


def test_rate_limit_default_mode_records_error_keeps_pages_and_cursor(
    store: Store, creds: dict[str, str], api: responses.RequestsMock
) -> None:
    reset = NOW + 600
    add_search(api, "search_page1.json")
    add_search(api, "error_429.json", status=429, headers=rate_headers(0, reset))
    src = make_source()

    [result] = poll_source(store, src)

    reset_iso = datetime.fromtimestamp(reset, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert result.error_code == 5
    assert result.error is not None and reset_iso in result.error
    assert slept(src) == []
    assert store.mention_count() == 2  # page 1 was stored before the 429
    assert store.get_cursor("twitter", "acme") is None
    [health] = store.source_health()
    assert health["rate_limit_reset"] == reset_iso


def test_server_error_mid_pagination_keeps_page_one_and_does_not_advance_cursor(
    store: Store, creds: dict[str, str], api: responses.RequestsMock
) -> None:
    add_search(api, "search_page1.json")
    add_search(api, "error_503.json", status=503, match=[has(next_token=TOKEN_2)])
    src = make_source()

    [failed] = poll_source(store, src)
    assert failed.error_code == 4
    assert failed.error == "Twitter API error (search 'acme'): HTTP 503: Service Unavailable"
    assert store.mention_count() == 2
    assert store.get_cursor("twitter", "acme") is None

    add_three_pages(api)
    [ok] = poll_source(store, src)
    assert "since_id" not in params_of(api.calls[2])  # the whole window again
    assert (ok.error, ok.new, ok.folded) == (None, 2, 1)  # T3, a retweet, folds
    assert store.mention_count() == 4 == len({T1, T2, T4, T5})
    assert store.get_cursor("twitter", "acme") == T5


def test_network_failure_is_a_source_error(
    creds: dict[str, str], api: responses.RequestsMock
) -> None:
    api.add(responses.GET, SEARCH, body=requests.ConnectionError("connection refused"))
    with pytest.raises(SourceError, match="cannot reach the Twitter API"):
        list(make_source().poll("acme", None))


def test_same_tweet_from_two_queries_is_stored_once(
    store: Store, creds: dict[str, str], api: responses.RequestsMock
) -> None:
    add_search(api, "search_newer.json", match=[has(query="acme")])
    add_search(api, "search_newer.json", match=[has(query="@AcmeHelp")])

    results = poll_source(store, make_source(queries=["acme", "@AcmeHelp"]))

    assert [(r.query, r.fetched, r.new) for r in results] == [("acme", 1, 1), ("@AcmeHelp", 1, 0)]
    assert store.mention_count() == 1
    assert store.get_cursor("twitter", "@AcmeHelp") == T6


def test_mentions_query_polls_the_mentions_timeline(
    store: Store, creds: dict[str, str], api: responses.RequestsMock
) -> None:
    url = f"{API}/users/2244994945/mentions"
    api.add(responses.GET, url, json=load("mentions_page1.json"), headers=rate_headers())
    page2 = load("mentions_page2.json")
    token = load("mentions_page1.json")["meta"]["next_token"]
    api.add(responses.GET, url, json=page2, match=[has(pagination_token=token)])
    # own_timeline (on by default with user_id) is tested on its own
    src = make_source(queries=[], user_id="2244994945", own_timeline=False)

    assert src.queries() == ["mentions"]
    [result] = poll_source(store, src)

    assert (result.error, result.new) == (None, 3)
    assert store.get_cursor("twitter", "mentions") == T6
    assert "query" not in params_of(api.calls[0])


def test_page_cap_stops_and_still_moves_the_cursor(
    store: Store, creds: dict[str, str], api: responses.RequestsMock
) -> None:
    add_search(api, "search_page1.json", match=[has(max_results="10")])
    add_search(api, "search_page2.json", match=[has(next_token=TOKEN_2)])

    [result] = poll_source(store, make_source(max_pages=2, max_results=10))

    assert (result.pages, result.new, result.folded) == (2, 3, 1)
    assert store.get_cursor("twitter", "acme") == T5


def test_since_id_older_than_recent_search_is_dropped(
    store: Store, creds: dict[str, str], api: responses.RequestsMock
) -> None:
    store.set_cursor("twitter", "acme", "1700000000000000000")
    add_search(
        api, "error_400_since_id.json", status=400, match=[has(since_id="1700000000000000000")]
    )
    add_search(api, "search_newer.json")

    [result] = poll_source(store, make_source(overlap_seconds=0))

    assert "since_id" not in params_of(api.calls[1])
    assert (result.error, result.new) == (None, 1)
    assert store.get_cursor("twitter", "acme") == T6


def test_tweets_are_normalised(creds: dict[str, str], api: responses.RequestsMock) -> None:
    add_three_pages(api)
    pages = list(make_source().poll("acme", None))
    by_id = {m.native_id: m for p in pages for m in p.mentions}

    reply = by_id[T5]
    assert (reply.source, reply.id, reply.query) == ("twitter", f"twitter:{T5}", "acme")
    assert (reply.author_id, reply.author_handle, reply.author_name) == (
        "1600000000000000001", "dana_k", "Dana K",
    )  # fmt: skip
    assert reply.author_followers == 1520
    assert reply.url == f"https://x.com/dana_k/status/{T5}"
    assert reply.created_at == datetime(2024, 5, 13, 9, 15, 2, tzinfo=timezone.utc)
    assert (reply.kind, reply.parent_id) == ("reply", "1789999999999999000")
    assert reply.conversation_id == "1789999999999999000"
    assert reply.language == "en"
    assert reply.raw["author"]["username"] == "dana_k"
    assert reply.raw["in_reply_to_user_id"] == "2244994945"
    assert reply.raw["in_reply_to_user"]["username"] == "AcmeHelp"
    assert reply.raw["public_metrics"]["reply_count"] == 0

    quote = by_id[T4]
    assert (quote.kind, quote.parent_id, quote.language) == ("quote", None, None)  # lang "und"
    assert (quote.author_handle, quote.author_followers) == ("marco_r", 87)

    repost = by_id[T3]
    assert (repost.kind, repost.repost_of) == ("repost", "1789999999999999500")
    assert repost.author_handle == "li_wei"

    post = by_id[T2]
    assert (post.kind, post.parent_id, post.repost_of, post.language) == ("post", None, None, "es")
    assert post.conversation_id == T2


def test_fetch_looks_tweets_up_by_id(creds: dict[str, str], api: responses.RequestsMock) -> None:
    wanted = ["1789999999999999000", "1789999999999999001"]
    api.add(
        responses.GET,
        TWEETS,
        json=load("tweets_lookup.json"),
        match=[
            has(
                ids=",".join(wanted),
                expansions="author_id,referenced_tweets.id,in_reply_to_user_id",
            )
        ],
    )
    [found] = make_source().fetch(wanted)  # the missing one is left out
    assert (found.native_id, found.author_handle, found.author_followers) == (
        "1789999999999999000", "AcmeHelp", 50210,
    )  # fmt: skip
    assert make_source().fetch([]) == []


# -- publishing --------------------------------------------------------------


def mention_to_answer() -> Mention:
    return Mention(
        source="twitter",
        native_id=T5,
        text="@AcmeHelp my order still hasn't shipped, can you check?",
        created_at=datetime(2024, 5, 13, 9, 15, 2, tzinfo=timezone.utc),
        author_id="1600000000000000001",
        author_handle="dana_k",
    )


def test_reply_posts_text_in_reply_to_the_mention(
    creds: dict[str, str], api: responses.RequestsMock
) -> None:
    text = "@dana_k Sorry about the wait! Please DM us your order number."
    api.add(
        responses.POST,
        TWEETS,
        json=load("create_tweet.json"),
        status=201,
        match=[matchers.json_params_matcher({"text": text, "reply": {"in_reply_to_tweet_id": T5}})],
    )

    sent = make_source().reply(mention_to_answer(), text)

    assert sent.native_id == "1790000000000000100"
    assert sent.url == "https://x.com/i/web/status/1790000000000000100"
    auth = api.calls[0].request.headers["Authorization"]
    assert auth.startswith("OAuth ") and 'oauth_consumer_key="ck-SECRET-1a2b3c"' in auth


def test_post_has_no_reply_field(creds: dict[str, str], api: responses.RequestsMock) -> None:
    api.add(
        responses.POST,
        TWEETS,
        json=load("create_tweet.json"),
        status=201,
        match=[matchers.json_params_matcher({"text": "Service is restored."})],
    )
    assert make_source().post("Service is restored.").native_id == "1790000000000000100"


def test_reply_refused_with_403_carries_the_api_detail(
    creds: dict[str, str], api: responses.RequestsMock
) -> None:
    api.add(responses.POST, TWEETS, json=load("error_403_duplicate.json"), status=403)
    with pytest.raises(SourceError) as info:
        make_source().reply(mention_to_answer(), "Thanks!")
    assert not isinstance(info.value, AuthError)
    assert "You are not allowed to create a Tweet with duplicate content." in str(info.value)
    assert info.value.exit_code == 4


def test_reply_with_rejected_credentials_is_an_auth_error(
    creds: dict[str, str], api: responses.RequestsMock
) -> None:
    api.add(responses.POST, TWEETS, json=load("error_401.json"), status=401)
    with pytest.raises(AuthError, match="TWITTER_CONSUMER_KEY"):
        make_source().reply(mention_to_answer(), "Thanks!")


def test_reply_rate_limited(creds: dict[str, str], api: responses.RequestsMock) -> None:
    api.add(
        responses.POST, TWEETS, json=load("error_429.json"), status=429, headers=rate_headers(0)
    )
    with pytest.raises(RateLimited) as info:
        make_source().reply(mention_to_answer(), "Thanks!")
    assert info.value.reset_at == NOW + 900


def test_reply_refuses_a_mention_of_another_source(creds: dict[str, str]) -> None:
    other = mention_to_answer()
    other.source = "reddit"
    with pytest.raises(SourceError, match="reddit"):
        make_source().reply(other, "Thanks!")


# -- credentials and secrets -------------------------------------------------


def test_missing_bearer_token_names_the_variable() -> None:
    with pytest.raises(MissingCredential, match="TWITTER_BEARER_TOKEN"):
        make_source().check_credentials()
    with pytest.raises(MissingCredential, match="TWITTER_BEARER_TOKEN"):
        list(make_source().poll("acme", None))


def test_credential_variable_names_come_from_config(
    monkeypatch: pytest.MonkeyPatch, api: responses.RequestsMock
) -> None:
    with pytest.raises(MissingCredential, match="ACME_X_BEARER"):
        make_source(bearer_token_env="ACME_X_BEARER").check_credentials()
    monkeypatch.setenv("ACME_X_BEARER", "custom-SECRET-token")
    add_search(api, "error_401.json", status=401)
    with pytest.raises(AuthError) as info:
        list(make_source(bearer_token_env="ACME_X_BEARER").poll("acme", None))
    assert str(info.value) == "Twitter rejected the bearer token: check ACME_X_BEARER"


def test_reply_needs_the_user_context_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWITTER_BEARER_TOKEN", SECRETS["TWITTER_BEARER_TOKEN"])
    src = make_source()
    src.check_credentials()  # reading is fine with the bearer token alone
    with pytest.raises(MissingCredential, match="TWITTER_CONSUMER_KEY"):
        src.reply(mention_to_answer(), "Thanks!")


def test_rejected_bearer_token_is_an_auth_error(
    store: Store, creds: dict[str, str], api: responses.RequestsMock
) -> None:
    add_search(api, "error_401.json", status=401)
    [result] = poll_source(store, make_source())
    assert result.error == "Twitter rejected the bearer token: check TWITTER_BEARER_TOKEN"
    assert result.error_code == 4


FAILURES = {
    "401": dict(json=load("error_401.json"), status=401),
    "403": dict(json=load("error_403_duplicate.json"), status=403),
    "429": dict(json=load("error_429.json"), status=429, headers=rate_headers(0)),
    "503": dict(json=load("error_503.json"), status=503),
    "network": dict(body=requests.ConnectionError("connection reset")),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("action", ["poll", "reply"])
def test_no_secret_in_error_messages_or_debug_logs(
    failure: str, action: str, creds: dict[str, str], api: responses.RequestsMock, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)  # tweepy logs request headers at DEBUG
    src = make_source()
    with pytest.raises(SourceError if failure != "429" else RateLimited) as info:
        if action == "poll":
            api.add(responses.GET, SEARCH, **FAILURES[failure])
            list(src.poll("acme", None))
        else:
            api.add(responses.POST, TWEETS, **FAILURES[failure])
            src.reply(mention_to_answer(), "Thanks!")
    assert caplog.text  # the libraries did log the request
    for secret in creds.values():
        assert secret not in str(info.value)
        assert secret not in caplog.text


# -- config and text ---------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        {"max_results": 5},
        {"max_results": 101},
        {"max_pages": 0},
        {"wait_on_rate_limit": "yes"},
        {"max_wait_seconds": -1},
        {"queries": "acme"},
        {"queries": ["mentions"]},  # needs user_id
        {"user_id": "@AcmeHelp"},
    ],
)
def test_invalid_config_is_rejected(config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="sources.twitter"):
        make_source(**config)


def test_nothing_to_poll_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="queries"):
        make_source(queries=[]).queries()


def test_text_length_counts_urls_as_23() -> None:
    src = make_source()
    url = "https://example.com/orders/48213/status?ref=" + "x" * 80
    assert src.text_length(f"Track it: {url}") == len("Track it: ") + 23
    assert src.text_length("a" * 280) == src.max_length == 280
