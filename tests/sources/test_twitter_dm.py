"""X direct messages through the real tweepy client, HTTP answered by ``responses``.

Payloads follow the documented ``GET /2/dm_events`` and ``POST /2/dm_conversations/...``
JSON (DM event objects with ``id``, ``event_type``, ``dm_conversation_id``,
``sender_id``, ``created_at``; ``includes.users``; ``meta.next_token``).
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
import responses
from responses import matchers
from responses.registries import OrderedRegistry

from socialcare.app import Socialcare
from socialcare.config import Config
from socialcare.errors import AuthError, ConfigError, SendOutcomeUnknown, SourceError
from socialcare.models import Mention
from socialcare.poll import poll_source
from socialcare.sources.twitter import DM_QUERY, TwitterSource
from socialcare.store import QueueFilter, Store

API = "https://api.twitter.com/2"
EVENTS = f"{API}/dm_events"
BRAND = "2244994945"
DANA = "1585094756761149440"
LEE = "1585321399727357952"
CONV_DANA = f"{BRAND}-{DANA}"
CONV_LEE = f"{BRAND}-{LEE}"
TOKEN = "18LAA581J5II7LA00C36"
SECRETS = {
    "TWITTER_BEARER_TOKEN": "AAAAbearer-SECRET",
    "TWITTER_CONSUMER_KEY": "ck-SECRET",
    "TWITTER_CONSUMER_SECRET": "cs-SECRET",
    "TWITTER_ACCESS_TOKEN": f"{BRAND}-at-SECRET",
    "TWITTER_ACCESS_TOKEN_SECRET": "ats-SECRET",
}
USERS = [
    {"id": DANA, "name": "Dana Q", "username": "dana_q", "public_metrics": {"followers_count": 12}},
    {"id": LEE, "name": "Lee", "username": "lee_x"},
    {"id": BRAND, "name": "Acme Help", "username": "AcmeHelp"},
]


def event(eid: str, conv: str, sender: str, text: str, at: str, **extra: Any) -> dict[str, Any]:
    return {"id": eid, "event_type": "MessageCreate", "dm_conversation_id": conv,
            "sender_id": sender, "text": text, "created_at": at, **extra}  # fmt: skip


PAGE_1 = {  # newest first, as the API lists them
    "data": [
        event("1790000000000000305", CONV_DANA, DANA, "Order 5512 still missing, any news?",
              "2026-11-20T10:05:00.000Z"),
        event("1790000000000000304", CONV_DANA, BRAND, "Hi Dana, which order is it?",
              "2026-11-20T10:02:00.000Z"),
        {"id": "1790000000000000303", "event_type": "ParticipantsJoin",
         "dm_conversation_id": "1582838223935119360", "created_at": "2026-11-20T10:01:00.000Z",
         "participant_ids": [LEE]},
    ],
    "includes": {"users": USERS},
    "meta": {"result_count": 3, "next_token": TOKEN},
}  # fmt: skip
PAGE_2 = {
    "data": [
        event("1790000000000000302", CONV_LEE, LEE, "My SIM was blocked after travelling",
              "2026-11-20T09:40:00.000Z"),
        {"id": "1790000000000000301", "event_type": "MessageCreate", "text": "no conversation",
         "created_at": "2026-11-20T09:30:00.000Z", "sender_id": LEE},
        event("1790000000000000300", CONV_DANA, DANA, "Hello, I need help with an order",
              "2026-11-20T09:00:00.000Z"),
    ],
    "includes": {"users": USERS},
    "meta": {"result_count": 3},
}  # fmt: skip


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(registry=OrderedRegistry, assert_all_requests_are_fired=True) as r:
        yield r


def make_source(**config: Any) -> TwitterSource:
    config = {"queries": [], "user_id": BRAND, "dms": True, "own_timeline": False, **config}
    src = TwitterSource(config, brand_handles=("AcmeHelp",))
    src.sleep = lambda s: None
    src._queries = [q for q in src._queries if q == DM_QUERY]  # the DM walk alone
    return src


def has(**params: str) -> Any:
    return matchers.query_param_matcher(params, strict_match=False)


def test_dms_need_user_id_and_add_their_query() -> None:
    with pytest.raises(ConfigError, match="user_id"):
        TwitterSource({"dms": True})
    assert DM_QUERY in make_source().queries()
    assert DM_QUERY not in TwitterSource({"queries": ["acme"], "user_id": BRAND}).queries()


def test_poll_pages_through_dm_events_skipping_odd_items_and_storing_own(
    store: Store, creds: None, api: responses.RequestsMock
) -> None:
    first = api.add(responses.GET, EVENTS, json=PAGE_1,
                    match=[has(event_types="MessageCreate", max_results="100")])  # fmt: skip
    api.add(responses.GET, EVENTS, json=PAGE_2, match=[has(pagination_token=TOKEN)])
    src = make_source()
    [result] = poll_source(store, src)
    assert result.error is None
    # OAuth 1.0a user context, not the app's bearer token: DMs belong to the account
    assert first.calls[0].request.headers["Authorization"].startswith("OAuth ")
    fields = first.calls[0].request.url
    assert "dm_conversation_id" in fields and "sender_id" in fields
    assert store.get_cursor("twitter", DM_QUERY) == "1790000000000000305"
    dana = store.conversation("twitter", CONV_DANA)
    assert [(m["native_id"], m["is_own"]) for m in dana] == [
        ("1790000000000000300", 0), ("1790000000000000304", 1), ("1790000000000000305", 0),
    ]  # fmt: skip
    assert dana[0]["kind"] == "dm" and dana[0]["author_key"] == f"twitter:{DANA}"
    assert dana[0]["author_handle"] == "dana_q"
    # the event without a conversation is skipped, recorded, and costs nothing else
    assert store.find_mention("twitter", "1790000000000000301") is None
    assert store.find_mention("twitter", "1790000000000000303") is None  # a join: no message
    rows = store.queue(QueueFilter(kind="dm"), 1_800_000_000.0, 0.0, 24.0)
    # 300 came before the brand's 304 (stored a page earlier): it arrives answered
    assert sorted((r["native_id"], r["messages"]) for r in rows) == [
        ("1790000000000000302", 1), ("1790000000000000305", 1),
    ]  # fmt: skip
    assert store.get_mention("twitter:1790000000000000300")["status"] == "replied"


def test_a_new_message_updates_the_conversation_and_the_walk_stops_at_the_cursor(
    store: Store, creds: None, api: responses.RequestsMock
) -> None:
    api.add(responses.GET, EVENTS, json=PAGE_2)
    poll_source(store, make_source())
    newer = {
        "data": [
            event("1790000000000000310", CONV_DANA, DANA, "Hello? Anyone?",
                  "2026-11-20T11:00:00.000Z"),
            event("1790000000000000302", CONV_LEE, LEE, "My SIM was blocked after travelling",
                  "2026-11-20T09:40:00.000Z"),
        ],
        "includes": {"users": USERS},
        "meta": {"result_count": 2, "next_token": "never-followed"},
    }  # fmt: skip
    api.add(responses.GET, EVENTS, json=newer)
    [again] = poll_source(store, make_source())  # reached the cursor: no second page asked
    assert again.error is None and again.new == 1
    rows = store.queue(QueueFilter(kind="dm"), 1_800_000_000.0, 0.0, 24.0)
    assert sorted((r["native_id"], r["messages"]) for r in rows) == [
        ("1790000000000000302", 1), ("1790000000000000310", 2),
    ]  # fmt: skip
    assert store.get_cursor("twitter", DM_QUERY) == "1790000000000000310"


def test_empty_dm_listing(store: Store, creds: None, api: responses.RequestsMock) -> None:
    api.add(responses.GET, EVENTS, json={"meta": {"result_count": 0}})
    [result] = poll_source(store, make_source())
    assert result.error is None and store.mention_count() == 0


def test_missing_dm_permission_says_how_to_fix_it(creds: None, api: responses.RequestsMock) -> None:
    api.add(responses.GET, EVENTS, status=403, json={
        "title": "Forbidden", "type": "about:blank", "status": 403,
        "detail": "You are not permitted to perform this action.",
    })  # fmt: skip
    with pytest.raises(AuthError, match="Direct Messages' permission"):
        list(make_source().poll(DM_QUERY, None))


def dm_mention(**kw: Any) -> Mention:
    from datetime import datetime, timezone

    base = dict(source="twitter", native_id="1790000000000000305", text="Order 5512?",
                created_at=datetime(2026, 11, 20, 10, 5, tzinfo=timezone.utc), author_id=DANA,
                author_handle="dana_q", kind="dm", conversation_id=CONV_DANA)  # fmt: skip
    base.update(kw)
    return Mention(**base)  # type: ignore[arg-type]


def test_send_dm_in_a_conversation_and_to_open_one(
    creds: None, api: responses.RequestsMock
) -> None:
    in_conv = api.add(
        responses.POST, f"{API}/dm_conversations/{CONV_DANA}/messages",
        json={"data": {"dm_conversation_id": CONV_DANA, "dm_event_id": "1790000000000000400"}},
        status=201,
    )  # fmt: skip
    opened = api.add(
        responses.POST, f"{API}/dm_conversations/with/{DANA}/messages",
        json={"data": {"dm_conversation_id": CONV_DANA, "dm_event_id": "1790000000000000401"}},
        status=201,
    )  # fmt: skip
    src = make_source()
    sent = src.send_dm(dm_mention(), "Found it, refund on its way")
    assert sent.native_id == "1790000000000000400" and CONV_DANA in sent.url
    assert json.loads(in_conv.calls[0].request.body) == {"text": "Found it, refund on its way"}
    public = dm_mention(kind="post", native_id="1790000000000000001", conversation_id=None)
    assert src.send_dm(public, "Hi Dana, DMing you").native_id == "1790000000000000401"
    assert json.loads(opened.calls[0].request.body) == {"text": "Hi Dana, DMing you"}


def test_send_dm_refused_by_the_customer_is_a_failure_and_5xx_is_unknown(
    creds: None, api: responses.RequestsMock
) -> None:
    url = f"{API}/dm_conversations/with/{DANA}/messages"
    api.add(responses.POST, url, status=403, json={
        "detail": "You cannot send messages to this user.", "status": 403, "title": "Forbidden",
    })  # fmt: skip
    api.add(responses.POST, url, status=503, json={"title": "Service Unavailable"})
    public = dm_mention(kind="post", conversation_id=None)
    with pytest.raises(SourceError, match="cannot send messages to this user") as refused:
        make_source().send_dm(public, "hi")
    assert not isinstance(refused.value, SendOutcomeUnknown)
    with pytest.raises(SendOutcomeUnknown):
        make_source().send_dm(public, "hi")


def test_find_sent_dm_looks_for_the_brands_message(
    creds: None, api: responses.RequestsMock
) -> None:
    api.add(responses.GET, f"{API}/dm_conversations/{CONV_DANA}/dm_events", json={
        "data": [event("1790000000000000400", CONV_DANA, BRAND, "Refund sent",
                       "2026-11-20T12:00:00.000Z")],
        "meta": {"result_count": 1},
    })  # fmt: skip
    api.add(responses.GET, f"{API}/dm_conversations/{CONV_DANA}/dm_events",
            json={"meta": {"result_count": 0}})  # fmt: skip
    src = make_source()
    found = src.find_sent_dm(dm_mention(), "Refund sent")
    assert found is not None and found.native_id == "1790000000000000400"
    assert src.find_sent_dm(dm_mention(), "Refund sent") is None


def test_reply_to_an_x_dm_goes_through_the_outbox_as_a_dm(
    database: str, creds: None, api: responses.RequestsMock
) -> None:
    """The same ``reply``: the outbox sends it into the conversation, with X's DM limit."""
    api.add(responses.GET, f"{API}/users/{BRAND}/mentions", json={"meta": {"result_count": 0}})
    api.add(responses.GET, EVENTS, json=PAGE_2)
    post = api.add(
        responses.POST, f"{API}/dm_conversations/{CONV_DANA}/messages",
        json={"data": {"dm_conversation_id": CONV_DANA, "dm_event_id": "1790000000000000500"}},
    )  # fmt: skip
    cfg = Config(database=database, agent="alice", brand_handles=("AcmeHelp",),
                 sources={"twitter": {"queries": [], "user_id": BRAND, "dms": True,
                                      "own_timeline": False}})  # fmt: skip
    sc = Socialcare(cfg)
    try:
        sc.poll()
        mid = "twitter:1790000000000000300"
        long = "x" * 2000  # far over a tweet, well under a DM
        assert sc.reply(mid, text=long, dry_run=True).limit == 10_000
        out = sc.reply(mid, text="We found order 5512")
        assert out.item is not None and out.item["status"] == "sent"
        assert json.loads(post.calls[0].request.body) == {"text": "We found order 5512"}
        with pytest.raises(Exception, match="10000"):
            sc.reply("twitter:1790000000000000302", text="y" * 10_001)
    finally:
        sc.shutdown()


def test_dm_events_rate_limit_is_handled_like_search(
    creds: None, api: responses.RequestsMock
) -> None:
    """A 429 on /2/dm_events waits for the reset when allowed, else raises RateLimited."""
    from socialcare.errors import RateLimited

    reset = {"x-rate-limit-limit": "15", "x-rate-limit-remaining": "0",
             "x-rate-limit-reset": "1715600060"}  # fmt: skip
    api.add(responses.GET, EVENTS, status=429, headers=reset, json={"title": "Too Many Requests"})
    api.add(responses.GET, EVENTS, json=PAGE_2)
    waits: list[float] = []
    src = make_source(wait_on_rate_limit=True)
    src.clock = lambda: 1_715_600_000.0
    src.sleep = waits.append
    pages = list(src.poll(DM_QUERY, None))
    assert waits == [60.0] and len(pages[0].mentions) == 2
    api.add(responses.GET, EVENTS, status=429, headers=reset, json={"title": "Too Many Requests"})
    with pytest.raises(RateLimited, match="wait_on_rate_limit"):
        list(make_source().poll(DM_QUERY, None))


@pytest.mark.parametrize(
    "answer",
    [
        {"json": {"data": {"dm_conversation_id": CONV_DANA}}},
        {"json": {"data": ["1790000000000000400"]}},
        {"body": "<html>created</html>", "content_type": "text/html"},
    ],
    ids=["no-event-id", "data-not-an-object", "not-json"],
)
def test_a_sent_dm_without_a_readable_event_id_may_have_been_sent(
    creds: None, api: responses.RequestsMock, answer: dict[str, Any]
) -> None:
    api.add(responses.POST, f"{API}/dm_conversations/{CONV_DANA}/messages", status=201, **answer)
    with pytest.raises(SendOutcomeUnknown, match="the message may have been sent"):
        make_source().send_dm(dm_mention(), "Found it")
