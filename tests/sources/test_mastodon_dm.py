"""Mastodon direct conversations against the documented REST API, answered by respx.

Conversation entities (``id``, ``unread``, ``accounts``, ``last_status``) as
docs.joinmastodon.org documents ``GET /api/v1/conversations``; answers are
``POST /api/v1/statuses`` with ``visibility: direct``.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import httpx
import pytest
import respx

from socialcare.app import Socialcare
from socialcare.config import Config
from socialcare.errors import AuthError
from socialcare.models import Mention
from socialcare.poll import poll_source
from socialcare.sources.mastodon import CONVERSATIONS_QUERY, MastodonSource
from socialcare.store import QueueFilter, Store

INSTANCE = "https://mastodon.example"
CONVERSATIONS = f"{INSTANCE}/api/v1/conversations"
STATUSES = f"{INSTANCE}/api/v1/statuses"
TOKEN = "mastodon-SECRET-token-dm"
BRAND = {"id": "1", "username": "acmehelp", "acct": "acmehelp", "display_name": "Acme Help",
         "followers_count": 900}  # fmt: skip
DANA = {"id": "77", "username": "dana", "acct": "dana@social.example", "display_name": "Dana",
        "followers_count": 15}  # fmt: skip
LEE = {"id": "78", "username": "lee", "acct": "lee", "display_name": "Lee"}


def status(sid: str, account: dict[str, Any], content: str, at: str, **kw: Any) -> dict[str, Any]:
    return {"id": sid, "created_at": at, "in_reply_to_id": kw.get("reply_to"),
            "in_reply_to_account_id": None, "sensitive": False, "spoiler_text": "",
            "visibility": "direct", "language": "en",
            "uri": f"https://mastodon.example/users/x/statuses/{sid}",
            "url": f"https://mastodon.example/@x/{sid}", "content": content,
            "account": account, "mentions": [], "reblog": None}  # fmt: skip


def conversation(cid: str, last: dict[str, Any] | None, *who: dict[str, Any]) -> dict[str, Any]:
    return {"id": cid, "unread": True, "accounts": list(who), "last_status": last}


PAGE_1 = [
    conversation("418450", status("113000000000000030", DANA,
                 "<p><span class=\"h-card\"><a href=\"x\">@<span>acmehelp</span></a></span> "
                 "still no refund for order 5512</p>", "2026-11-20T10:05:00.000Z",
                 reply_to="113000000000000020"), DANA),
    conversation("418449", status("113000000000000025", BRAND, "<p>@lee sorted, thanks!</p>",
                 "2026-11-20T10:00:00.000Z"), LEE),
]  # fmt: skip
PAGE_2 = [
    {"unread": False, "accounts": [LEE], "last_status": None},  # no id: skipped, not fatal
    conversation("418440", status("113000000000000010", LEE, "<p>@acmehelp my SIM?</p>",
                 "2026-11-20T09:00:00.000Z"), LEE),
]  # fmt: skip


def link(max_id: str) -> dict[str, str]:
    base = f"{CONVERSATIONS}?limit=2"
    return {"Link": f'<{base}&max_id={max_id}>; rel="next", <{base}&min_id=418450>; rel="prev"'}


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", TOKEN)
    return TOKEN


def make(**config: Any) -> MastodonSource:
    cfg: dict[str, Any] = {"instance": INSTANCE, "limit": 2, "mentions": False, "dms": True,
                           **config}  # fmt: skip
    return MastodonSource(cfg, brand_handles=("acmehelp",), sleep=lambda s: None)


def test_dms_add_the_conversations_query() -> None:
    assert make().queries() == [CONVERSATIONS_QUERY]
    assert CONVERSATIONS_QUERY not in make(dms=False, mentions=True).queries()


def test_conversations_are_paged_and_stored_as_dms_threaded_by_conversation(
    store: Store, token: str, api: respx.MockRouter
) -> None:
    route = api.get(CONVERSATIONS).mock(side_effect=[
        httpx.Response(200, json=PAGE_1, headers=link("418449")),
        httpx.Response(200, json=PAGE_2),
    ])  # fmt: skip
    [result] = poll_source(store, make(), own_handles=("acmehelp",))
    assert result.error is None
    assert route.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert route.calls[1].request.url.params["max_id"] == "418449"
    dana = store.find_mention("mastodon", "113000000000000030")
    assert dana is not None and dana["kind"] == "dm" and dana["conversation_id"] == "418450"
    assert dana["text"].endswith("still no refund for order 5512")
    assert dana["author_key"] == "mastodon:77"
    own = store.find_mention("mastodon", "113000000000000025")
    assert own is not None and own["is_own"] == 1  # the brand's last word: stored, not queued
    assert store.get_cursor("mastodon", CONVERSATIONS_QUERY) == "113000000000000030"
    rows = store.queue(QueueFilter(kind="dm"), 1_800_000_000.0, 0.0, 24.0)
    assert sorted(r["native_id"] for r in rows) == ["113000000000000010", "113000000000000030"]


def test_a_new_message_updates_the_conversation_and_the_walk_stops_at_the_cursor(
    store: Store, token: str, api: respx.MockRouter
) -> None:
    route = api.get(CONVERSATIONS).mock(side_effect=[
        httpx.Response(200, json=PAGE_2),
        httpx.Response(200, json=[
            conversation("418440", status("113000000000000040", LEE, "<p>@acmehelp hello??</p>",
                         "2026-11-20T11:00:00.000Z"), LEE),
            PAGE_2[1],  # unchanged since the last poll: the walk stops here
        ], headers=link("418440")),
    ])  # fmt: skip
    poll_source(store, make(), own_handles=("acmehelp",))
    [again] = poll_source(store, make(), own_handles=("acmehelp",))
    assert again.error is None and again.new == 1 and route.call_count == 2
    rows = store.queue(QueueFilter(kind="dm"), 1_800_000_000.0, 0.0, 24.0)
    assert [(r["native_id"], r["messages"]) for r in rows] == [("113000000000000040", 2)]


def test_empty_and_a_token_without_the_scope(token: str, api: respx.MockRouter) -> None:
    api.get(CONVERSATIONS).mock(side_effect=[
        httpx.Response(200, json=[]),
        httpx.Response(403, json={"error": "This action is outside the authorized scopes"}),
    ])  # fmt: skip
    assert [p.mentions for p in make().poll(CONVERSATIONS_QUERY, None)] == [[]]
    with pytest.raises(AuthError, match="read:statuses"):
        list(make().poll(CONVERSATIONS_QUERY, None))


def posted(call: Any) -> dict[str, Any]:
    return dict(json.loads(call.request.content))


def dm(**kw: Any) -> Mention:
    from datetime import datetime, timezone

    base = dict(source="mastodon", native_id="113000000000000030", text="refund?",
                created_at=datetime(2026, 11, 20, 10, 5, tzinfo=timezone.utc), author_id="77",
                author_handle="dana@social.example", kind="dm", conversation_id="418450",
                raw={"account": DANA, "visibility": "direct"})  # fmt: skip
    base.update(kw)
    return Mention(**base)  # type: ignore[arg-type]


def test_send_dm_is_a_direct_status_in_the_thread_or_opening_one(
    token: str, api: respx.MockRouter
) -> None:
    route = api.post(STATUSES).mock(side_effect=[
        httpx.Response(200, json=status("113000000000000050", BRAND, "<p>ok</p>",
                                        "2026-11-20T12:00:00.000Z")),
        httpx.Response(200, json=status("113000000000000051", BRAND, "<p>ok</p>",
                                        "2026-11-20T12:00:00.000Z")),
    ])  # fmt: skip
    src = make()
    src.idempotency_key = "key-1"
    assert src.send_dm(dm(), "Refund sent").native_id == "113000000000000050"
    assert posted(route.calls[0]) == {
        "status": "@dana@social.example Refund sent", "visibility": "direct",
        "in_reply_to_id": "113000000000000030",
    }  # fmt: skip
    assert route.calls[0].request.headers["Idempotency-Key"] == "key-1"
    public = dm(kind="reply", conversation_id=None, raw={"account": DANA, "visibility": "public"})
    src.send_dm(public, "Could you DM us your order number?")
    assert posted(route.calls[1]) == {
        "status": "@dana@social.example Could you DM us your order number?",
        "visibility": "direct",
    }


def test_reply_to_a_dm_uses_the_instance_limit_and_take_it_to_dm(
    database: str, token: str, api: respx.MockRouter
) -> None:
    api.get(CONVERSATIONS).mock(return_value=httpx.Response(200, json=PAGE_2))
    api.get(f"{INSTANCE}/api/v2/instance").mock(return_value=httpx.Response(200, json={
        "domain": "mastodon.example", "configuration": {"statuses": {"max_characters": 5000}},
    }))  # fmt: skip
    route = api.post(STATUSES).mock(side_effect=[
        httpx.Response(200, json=status(f"11300000000000006{n}", BRAND, "<p>ok</p>",
                                        "2026-11-20T12:00:00.000Z"))
        for n in range(3)
    ])  # fmt: skip
    cfg = Config(database=database, agent="alice", brand_handles=("acmehelp",),
                 sources={"mastodon": {"instance": INSTANCE, "limit": 2, "mentions": False,
                                       "dms": True}})  # fmt: skip
    sc = Socialcare(cfg)
    try:
        sc.poll()
        mid = "mastodon:113000000000000010"
        preview = sc.reply(mid, text="x" * 1200, dry_run=True)  # over 500, under this instance's
        assert preview.limit == 5000
        out = sc.reply(mid, text="Your SIM is unblocked")
        assert out.item is not None and out.item["status"] == "sent"
        assert posted(route.calls[0])["visibility"] == "direct"
        assert posted(route.calls[0])["in_reply_to_id"] == "113000000000000010"
        sc.store.upsert_mentions([dm(kind="post", native_id="113000000000000001",
                                     conversation_id="113000000000000001",
                                     raw={"account": DANA, "visibility": "public"})])  # fmt: skip
        pair = sc.take_to_dm("mastodon:113000000000000001", text="Your order number?",
                             public="We've sent you a DM")  # fmt: skip
        assert pair.dm is not None and pair.dm["status"] == "sent"
        assert pair.public is not None and pair.public["status"] == "sent"
        assert posted(route.calls[1])["visibility"] == "direct"
        assert "in_reply_to_id" not in posted(route.calls[1])
        assert posted(route.calls[2])["in_reply_to_id"] == "113000000000000001"
        assert posted(route.calls[2])["visibility"] != "direct"
    finally:
        sc.shutdown()
