"""Reddit private messages through real praw/prawcore, HTTP answered by ``responses``.

Inbox ``t4`` listings shaped as Reddit's ``/message/messages`` JSON, and the answer
many accounts get since Reddit moved messaging to chat: a 302 to ``/login/``
(praw-dev/praw issues 2077, 2081), reported as a health problem, never a crash.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Iterator
from urllib.parse import parse_qs

import pytest
import responses

from socialcare.errors import SourceError
from socialcare.models import Mention
from socialcare.poll import poll_source
from socialcare.sources.reddit import MESSAGES_QUERY, RedditSource
from socialcare.store import QueueFilter, Store

TOKEN_URL = "https://www.reddit.com/api/v1/access_token"
API = "https://oauth.reddit.com"
INBOX = f"{API}/message/messages"
RL_OK = {"x-ratelimit-remaining": "995.0", "x-ratelimit-used": "5", "x-ratelimit-reset": "300"}
SECRETS = {
    "REDDIT_CLIENT_ID": "cid-Zq81x",
    "REDDIT_CLIENT_SECRET": "csecret-Pw93kLm",
    "REDDIT_USERNAME": "acme_support",
    "REDDIT_PASSWORD": "hunter2-Vb77q",
}
TOKEN = {"access_token": "tok-SECRET", "token_type": "bearer", "expires_in": 86400,
         "scope": "*"}  # fmt: skip


def message(base36: str, author: str, body: str, created: float, **kw: Any) -> dict[str, Any]:
    data = {"first_message": None, "first_message_name": None, "subreddit": None,
            "replies": "", "author_fullname": f"t2_{author}", "id": base36,
            "subject": "Billing problem", "author": author, "parent_id": None, "new": True,
            "type": "unknown", "body": body, "dest": "acme_support", "was_comment": False,
            "name": f"t4_{base36}", "created": created, "created_utc": created, "context": "",
            "distinguished": None, **kw}  # fmt: skip
    return {"kind": "t4", "data": data}


def listing(*children: Any, after: str | None = None) -> dict[str, Any]:
    return {"kind": "Listing", "data": {"after": after, "dist": len(children),
                                        "children": list(children), "before": None}}  # fmt: skip


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(time, "sleep", lambda s: None)


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.POST, TOKEN_URL, json=TOKEN)
        yield rsps


def make() -> RedditSource:
    return RedditSource({"inbox_messages": True, "overlap_seconds": 0})


def test_inbox_messages_need_the_account() -> None:
    assert make().queries() == [MESSAGES_QUERY]


def test_private_messages_become_dms_threaded_by_their_first_message(
    store: Store, api: responses.RequestsMock
) -> None:
    api.add(responses.GET, INBOX, headers=RL_OK, json=listing(
        message("m3", "dana_r", "Any news on the refund?", 1_763_630_300.0,
                first_message_name="t4_m1", parent_id="t4_m2", subject="re: Billing problem"),
        message("m1", "dana_r", "I was charged twice", 1_763_630_000.0),
        {"kind": "t1", "data": {"id": "c9", "name": "t1_c9"}},  # a comment reply: not a DM
        message("m0", "[deleted]", "gone", 1_763_629_000.0, author_fullname=None),
    ))  # fmt: skip
    [result] = poll_source(store, make())
    assert result.error is None
    thread = store.conversation("reddit", "t4_m1")
    assert [(m["native_id"], m["kind"]) for m in thread] == [("t4_m1", "dm"), ("t4_m3", "dm")]
    assert thread[0]["text"] == "Billing problem\n\nI was charged twice"
    assert thread[1]["text"] == "Any news on the refund?"
    assert thread[0]["author_key"] == "reddit:t2_dana_r"
    gone = store.find_mention("reddit", "t4_m0")
    assert gone is not None and gone["author_key"] is None  # [deleted] is nobody's identity
    rows = store.queue(QueueFilter(kind="dm"), 1_800_000_000.0, 0.0, 24.0)
    assert ("t4_m3", 2) in [(r["native_id"], r["messages"]) for r in rows]


def test_the_inbox_redirect_to_login_is_a_health_problem_reported_once(
    store: Store, api: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    api.add(responses.GET, INBOX, status=302,
            headers={"location": "https://www.reddit.com/login/", **RL_OK})  # fmt: skip
    src = make()
    with caplog.at_level(logging.WARNING, logger="socialcare.sources.reddit"):
        [first] = poll_source(store, src)
        [second] = poll_source(store, src)
    for result in (first, second):
        assert result.error is not None
        assert "redirected to /login" in result.error and "2077" in result.error
    assert sum("not available to this account" in r.message for r in caplog.records) == 1
    assert store.mention_count() == 0 and store.get_cursor("reddit", MESSAGES_QUERY) is None


def test_an_inbox_answer_that_is_no_listing_is_reported_too(api: responses.RequestsMock) -> None:
    api.add(responses.GET, INBOX, headers=RL_OK, json={"kind": "Listing"})
    with pytest.raises(SourceError, match="not a message listing"):
        list(make().poll(MESSAGES_QUERY, None))


def test_an_empty_inbox_is_just_empty(store: Store, api: responses.RequestsMock) -> None:
    api.add(responses.GET, INBOX, headers=RL_OK, json=listing())
    [result] = poll_source(store, make())
    assert result.error is None and store.mention_count() == 0


def test_answering_a_message_replies_in_its_thread(api: responses.RequestsMock) -> None:
    from datetime import datetime, timezone

    api.add(responses.POST, f"{API}/api/comment/", headers=RL_OK, json={"json": {"errors": [],
            "data": {"things": [message("m9", "acme_support", "Refunded", 1_763_640_000.0)]}}})  # fmt: skip
    dm = Mention(source="reddit", native_id="t4_m3", text="news?", kind="dm",
                 created_at=datetime(2026, 11, 20, tzinfo=timezone.utc), author_id="t2_dana_r",
                 author_handle="dana_r", conversation_id="t4_m1")  # fmt: skip
    sent = make().send_dm(dm, "Refunded today")
    [call] = [c for c in api.calls if "/api/comment" in str(c.request.url)]
    body = parse_qs(str(call.request.body))
    assert body["thing_id"] == ["t4_m3"] and body["text"] == ["Refunded today"]
    assert sent.native_id == "t4_m9"
