"""Bluesky chat through the PDS proxy, against XRPC answered by respx.

``chat.bsky.convo.listConvos`` / ``getMessages`` / ``sendMessage`` /
``getConvoForMembers`` answers shaped as the lexicons define ``convoView`` and
``messageView``; every chat call must carry ``atproto-proxy``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Iterator

import httpx
import pytest
import respx

from socialcare.errors import AuthError
from socialcare.models import Mention
from socialcare.poll import poll_source
from socialcare.sources.bluesky import CHAT_PROXY, CHAT_QUERY, BlueskySource
from socialcare.store import QueueFilter, Store
from tests.sources.test_bluesky import BRAND, XRPC, answer

LIST = f"{XRPC}/chat.bsky.convo.listConvos"
MESSAGES = f"{XRPC}/chat.bsky.convo.getMessages"
SEND = f"{XRPC}/chat.bsky.convo.sendMessage"
FOR_MEMBERS = f"{XRPC}/chat.bsky.convo.getConvoForMembers"
ALICE = "did:plc:alice2q3z5x7v9b1n3m5k7j9"
BOB = "did:plc:bob7h8j9k0l1m2n3b4v5c6x7"
MEMBERS_A = [{"did": BRAND, "handle": "acme.bsky.social", "displayName": "Acme"},
             {"did": ALICE, "handle": "alice.bsky.social", "displayName": "Alice"}]  # fmt: skip
MEMBERS_B = [{"did": BRAND, "handle": "acme.bsky.social"},
             {"did": BOB, "handle": "handle.invalid"}]  # fmt: skip


def message(mid: str, sender: str, text: str, at: str) -> dict[str, Any]:
    return {"$type": "chat.bsky.convo.defs#messageView", "id": mid, "rev": mid.lower(),
            "text": text, "sender": {"did": sender}, "sentAt": at}  # fmt: skip


def convo(cid: str, members: list[dict[str, Any]], last: dict[str, Any] | None) -> dict[str, Any]:
    out = {"id": cid, "rev": "222", "members": members, "muted": False, "unreadCount": 1}
    if last is not None:
        out["lastMessage"] = last
    return out


A3 = message("3lmsga3", ALICE, "Still no refund for order 5512", "2026-11-20T10:05:00.000Z")
A2 = message("3lmsga2", BRAND, "Hi Alice, which order?", "2026-11-20T10:02:00.000Z")
A1 = message("3lmsga1", ALICE, "Hello, I need help", "2026-11-20T10:00:00.000Z")
B1 = message("3lmsgb1", BOB, "My SIM is blocked", "2026-11-20T09:00:00.000Z")


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.post(f"{XRPC}/com.atproto.server.createSession").mock(
            return_value=answer("create_session.json")
        )
        yield router


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "abcd-efgh-SECRET-ijkl")


def make(**config: Any) -> BlueskySource:
    cfg: dict[str, Any] = {"handle": "acme.bsky.social", "limit": 2, "notifications": False,
                           "dms": True, **config}  # fmt: skip
    return BlueskySource(cfg, sleep=lambda s: None, clock=lambda: 1_800_000_000.0)


def test_chat_query_is_added() -> None:
    assert make().queries() == [CHAT_QUERY]


def test_poll_lists_conversations_then_their_messages_through_the_proxy(
    store: Store, api: respx.MockRouter
) -> None:
    lists = api.get(LIST).mock(side_effect=[
        httpx.Response(200, json={"convos": [convo("c-alice", MEMBERS_A, A3),
                                             {"members": []}], "cursor": "p2"}),
        httpx.Response(200, json={"convos": [convo("c-bob", MEMBERS_B, B1),
                                             convo("c-empty", MEMBERS_B, None)]}),
    ])  # fmt: skip
    msgs = api.get(MESSAGES).mock(side_effect=[
        httpx.Response(200, json={"messages": [A3, A2], "cursor": "m2"}),
        httpx.Response(200, json={"messages": [
            {"$type": "chat.bsky.convo.defs#deletedMessageView", "id": "3lgone",
             "sender": {"did": ALICE}, "sentAt": "2026-11-20T10:01:00.000Z"}, A1]}),
        httpx.Response(200, json={"messages": [B1]}),
    ])  # fmt: skip
    [result] = poll_source(store, make())
    assert result.error is None
    for call in [*lists.calls, *msgs.calls]:
        assert call.request.headers["atproto-proxy"] == CHAT_PROXY
    assert lists.calls[1].request.url.params["cursor"] == "p2"
    assert msgs.calls[1].request.url.params["cursor"] == "m2"
    alice = store.conversation("bluesky", "c-alice")
    assert [(m["native_id"], m["is_own"]) for m in alice] == [
        ("3lmsga1", 0), ("3lmsga2", 1), ("3lmsga3", 0),
    ]  # fmt: skip
    assert alice[0]["kind"] == "dm" and alice[0]["author_key"] == f"bluesky:{ALICE}"
    bob = store.find_mention("bluesky", "3lmsgb1")
    assert bob is not None and bob["author_handle"] == BOB  # handle.invalid is nobody's name
    rows = store.queue(QueueFilter(kind="dm"), 1_800_000_000.0, 0.0, 24.0)
    # A1 came before the brand's answer A2: answered; A3 waits
    assert sorted((r["native_id"], r["messages"]) for r in rows) == [
        ("3lmsga3", 1), ("3lmsgb1", 1),
    ]  # fmt: skip
    assert store.get_mention("bluesky:3lmsga1")["status"] == "replied"


def test_a_new_message_updates_the_conversation_and_older_ones_are_not_reread(
    store: Store, api: respx.MockRouter
) -> None:
    api.get(LIST).mock(side_effect=[
        httpx.Response(200, json={"convos": [convo("c-alice", MEMBERS_A, A1)]}),
        httpx.Response(200, json={"convos": [convo("c-alice", MEMBERS_A, A3),
                                             convo("c-bob", MEMBERS_B, B1)], "cursor": "p2"}),
    ])  # fmt: skip
    msgs = api.get(MESSAGES).mock(side_effect=[
        httpx.Response(200, json={"messages": [A1]}),
        httpx.Response(200, json={"messages": [A3, A1], "cursor": "never"}),
    ])  # fmt: skip
    poll_source(store, make())
    [again] = poll_source(store, make())
    # B1 is older than the cursor: its conversation is not read; A1 stops Alice's walk
    assert again.error is None and again.new == 1 and msgs.call_count == 2
    rows = store.queue(QueueFilter(kind="dm"), 1_800_000_000.0, 0.0, 24.0)
    assert [(r["native_id"], r["messages"]) for r in rows] == [("3lmsga3", 2)]


def test_an_app_password_without_dm_access_says_so(api: respx.MockRouter) -> None:
    api.get(LIST).mock(return_value=httpx.Response(
        400, json={"error": "InvalidToken", "message": "Bad token method"}))  # fmt: skip
    with pytest.raises(AuthError, match="Allow access to your direct messages"):
        list(make().poll(CHAT_QUERY, None))


def mention(**kw: Any) -> Mention:
    base = dict(source="bluesky", native_id="3lmsga3", text="refund?",
                created_at=datetime(2026, 11, 20, 10, 5, tzinfo=timezone.utc), author_id=ALICE,
                author_handle="alice.bsky.social", kind="dm", conversation_id="c-alice")  # fmt: skip
    base.update(kw)
    return Mention(**base)  # type: ignore[arg-type]


def test_send_in_a_conversation_and_open_one(api: respx.MockRouter) -> None:
    found = api.get(FOR_MEMBERS).mock(return_value=httpx.Response(
        200, json={"convo": convo("c-new", MEMBERS_A, None)}))  # fmt: skip
    send = api.post(SEND).mock(side_effect=[
        httpx.Response(200, json=message("3lsent1", BRAND, "ok", "2026-11-20T12:00:00.000Z")),
        httpx.Response(200, json=message("3lsent2", BRAND, "ok", "2026-11-20T12:01:00.000Z")),
    ])  # fmt: skip
    src = make()
    sent = src.send_dm(mention(), "Refund sent 💸")
    assert sent.native_id == "3lsent1" and sent.url.endswith("/c-alice")
    assert json.loads(send.calls[0].request.content) == {
        "convoId": "c-alice", "message": {"text": "Refund sent 💸"},
    }  # fmt: skip
    assert send.calls[0].request.headers["atproto-proxy"] == CHAT_PROXY
    public = mention(kind="post", native_id="at://x/app.bsky.feed.post/1", conversation_id=None)
    src.send_dm(public, "Could you DM us?")
    assert found.calls[0].request.url.params["members"] == ALICE
    assert json.loads(send.calls[1].request.content)["convoId"] == "c-new"


def test_chat_counts_graphemes_to_1000() -> None:
    src = make()
    assert src.dm_max_length() == 1000
    assert src.dm_length("👍🏽" * 3) == 3
