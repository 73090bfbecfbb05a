"""Exactly once when the outcome is unknown (issue 26 items 1-3), against a hostile fake platform.

The real Mastodon adapter talks HTTP to :class:`tests.fake_mastodon.FakeMastodon`
on 127.0.0.1, which publishes and then loses the answer in each way a real
platform can. Whatever the fault, and whatever retries and replies follow,
the fake ends with exactly one post. Both store backends.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest

from socialcare import followups
from socialcare.app import Socialcare
from socialcare.config import Config
from socialcare.errors import Conflict, SourceError
from socialcare.models import Mention, SentPost, to_iso, utcnow
from socialcare.outbox import OWNER_MARGIN_SECONDS, owner_may_be_alive, send_item
from socialcare.sources.base import Source
from socialcare.sources.http import RetryPolicy
from socialcare.store import Store
from tests.fake_mastodon import FakeMastodon
from tests.outbox_helpers import abandon, dead_pid

MENTION = "mastodon:112999000000000001"
TEXT = "Hi Dana, we are on it!"


@pytest.fixture
def fake(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMastodon]:
    server = FakeMastodon(honour_keys=getattr(request, "param", True)).start()
    monkeypatch.setenv("MASTODON_ACCESS_TOKEN", server.token)
    # a refused connection is retried (it never left); the test need not sleep through it
    monkeypatch.setattr(RetryPolicy, "backoff", lambda self, failures: 0.0)
    yield server
    server.stop()


def make_sc(database: str, fake: FakeMastodon, *, timeout: float = 0.5) -> Socialcare:
    cfg = Config(
        database=database, agent="alice", brand_handles=("acmehelp",),
        sources={"mastodon": {"instance": fake.url, "hashtags": ["acme"], "mentions": False,
                              "timeout_seconds": timeout}},
    )  # fmt: skip
    return Socialcare(cfg)


@pytest.fixture
def sc(database: str, fake: FakeMastodon) -> Iterator[Socialcare]:
    care = make_sc(database, fake)
    when = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
    care.store.upsert_mentions([
        Mention(source="mastodon", native_id="112999000000000001", text="@acmehelp order late",
                created_at=when, author_id="77", author_handle="dana", author_name="Dana",
                raw={"account": {"acct": "dana"}, "visibility": "public"}),
    ])  # fmt: skip
    yield care
    care.shutdown()


#: fault -> the state the first send leaves
FIRST_STATE = {
    "read-timeout": "unknown",
    "close-mid-response": "unknown",
    "500-after-commit": "unknown",
    "200-not-json": "unknown",
    "200-no-id": "unknown",
    "422": "failed",
    "refused": "failed",
}


def first_send(sc: Socialcare, fake: FakeMastodon, fault: str) -> dict[str, Any]:
    if fault == "refused":
        fake.stop()  # nothing listens on the port: the request never leaves
        try:
            outcome = sc.reply(MENTION, text=TEXT)
        finally:
            fake.start()
    else:
        fake.faults.append(fault)
        outcome = sc.reply(MENTION, text=TEXT)
    return outcome.item or {}


@pytest.mark.parametrize(
    "fake", [True, False], indirect=True, ids=["keys-honoured", "keys-ignored"]
)
@pytest.mark.parametrize("fault", list(FIRST_STATE))
def test_every_fault_mode_ends_with_exactly_one_post(
    sc: Socialcare, fake: FakeMastodon, fault: str
) -> None:
    item = first_send(sc, fake, fault)
    assert item["status"] == FIRST_STATE[fault], item["error"]
    expected_posts = 0 if FIRST_STATE[fault] == "failed" else 1
    assert len(fake.posts) == expected_posts
    if item["status"] == "unknown":
        assert "may have been published" in item["error"]
        assert [o["status"] for o in sc.outbox()] == ["unknown"]
        assert any("may or may not have been posted" in a for a in sc.status().alerts)
        for force in (False, True):  # nobody can post it again by hand meanwhile
            with pytest.raises(Conflict, match="may already be on the platform"):
                sc.reply(MENTION, text="Another try", force=force)
    retried = sc.retry(item["id"])
    assert retried["status"] == "sent"
    assert bool(retried.get("found_on_platform")) == (expected_posts == 1)
    assert retried["platform_id"] == fake.posts[0].id
    assert sc.store.get_mention(MENTION)["status"] == "replied"
    # everything an agent might do next posts nothing
    with pytest.raises(Conflict):
        sc.retry(item["id"])
    with pytest.raises(Conflict, match="already has a sent reply"):
        sc.reply(MENTION, text=TEXT)
    assert not sc.status().alerts
    assert len(fake.posts) == 1
    assert fake.posts[0].in_reply_to_id == "112999000000000001"
    assert fake.posts[0].text == f"@dana {TEXT}"


def test_the_idempotency_key_is_the_items_own_and_reused_on_every_retry(
    sc: Socialcare, fake: FakeMastodon
) -> None:
    fake.faults += ["500-before-commit", "500-before-commit"]
    item = sc.reply(MENTION, text=TEXT).item or {}
    assert item["status"] == "unknown"
    for expected in ("unknown", "sent"):
        assert sc.retry(item["id"])["status"] == expected  # looked, not there: sent again
    stored = sc.store.outbox_get(item["id"])["idempotency_key"]
    assert stored and fake.keys == [stored, stored, stored]
    assert len(fake.posts) == 1


def test_a_server_honouring_the_key_posts_once_even_when_forced(
    sc: Socialcare, fake: FakeMastodon
) -> None:
    fake.faults.append("500-after-commit")
    item = sc.reply(MENTION, text=TEXT).item or {}
    assert sc.retry(item["id"], force=True)["status"] == "sent"  # no look: a blind resend
    assert (len(fake.posts), fake.replayed) == (1, 1)


def test_a_check_that_fails_leaves_the_item_unknown(sc: Socialcare, fake: FakeMastodon) -> None:
    fake.faults.append("read-timeout")
    item = sc.reply(MENTION, text=TEXT).item or {}
    fake.stop()
    try:
        with pytest.raises(SourceError):
            sc.retry(item["id"])
    finally:
        fake.start()
    assert sc.store.outbox_get(item["id"])["status"] == "unknown"
    assert sc.retry(item["id"])["status"] == "sent"
    assert len(fake.posts) == 1


@pytest.mark.parametrize("fault", ["500-after-commit", "200-no-id", "close-mid-response"])
def test_scheduled_posts_and_follow_ups_resolve_the_same_way(
    sc: Socialcare, fake: FakeMastodon, fault: str
) -> None:
    soon = utcnow() + timedelta(minutes=5)
    post = sc.post_add("mastodon", when=soon, text="Service is back to normal.")
    follow = sc.followup_add(MENTION, when=soon, text="Is everything working again?")
    fake.faults += [fault, fault]
    report = followups.run_due(sc.config, sc.store, now=soon + timedelta(minutes=1))
    assert report.failed == 2
    for row in (post, follow):
        item = sc.store.outbox_get(row["id"])
        assert item["status"] == "unknown", item["error"]
    assert len(fake.posts) == 2
    for row in (post, follow):
        done = sc.retry(row["id"])
        assert (done["status"], done.get("found_on_platform")) == ("sent", True)
    assert len(fake.posts) == 2
    assert sorted(p.in_reply_to_id or "" for p in fake.posts) == ["", "112999000000000001"]


# -- the owner of a sending item -------------------------------------------------------------
def test_owner_may_be_alive_rules() -> None:
    import socket

    now = utcnow()
    here, alive = socket.gethostname(), __import__("os").getpid()

    def item(host: str, pid: int, minutes: float) -> dict[str, Any]:
        started = to_iso(now - timedelta(minutes=minutes))
        return {"status": "sending", "owner_host": host, "owner_pid": pid,
                "owner_started_at": started}  # fmt: skip

    young = OWNER_MARGIN_SECONDS / 120  # half the margin, in minutes
    assert owner_may_be_alive(item("elsewhere", 1, young), 0, now)  # young: maybe waiting
    assert owner_may_be_alive(item(here, dead_pid(), young), 0, now)
    assert owner_may_be_alive(item(here, alive, 60), 0, now)  # old, but its process runs
    assert owner_may_be_alive(item(here, dead_pid(), 60), 0, now) is None
    assert owner_may_be_alive(item("elsewhere", alive, 60), 0, now) is None  # can't ask: age
    assert owner_may_be_alive(item("elsewhere", 1, 3), 200, now)  # within the source's limit
    legacy = {"status": "sending", "owner_started_at": None}
    assert owner_may_be_alive(legacy, 0, now) is None


def test_retry_refuses_while_the_first_send_still_waits_on_the_platform(
    database: str, sc: Socialcare, fake: FakeMastodon
) -> None:
    fake.faults.append("read-timeout")
    fake.stall_seconds = 2.0
    result: dict[str, Any] = {}

    def send() -> None:  # another agent's process, patient enough to wait out the answer
        slow = make_sc(database, fake, timeout=5.0)
        try:
            result.update(slow.reply(MENTION, text=TEXT).item or {})
        finally:
            slow.shutdown()

    sender = threading.Thread(target=send)
    sender.start()
    try:
        for _ in range(100):
            items = sc.outbox()
            if items and items[0]["status"] == "sending":
                break
            time.sleep(0.02)
        item = sc.outbox()[0]
        assert item["status"] == "sending" and item["owner_pid"] and item["owner_host"]
        with pytest.raises(Conflict, match="still being sent"):
            sc.retry(item["id"])
        with pytest.raises(Conflict, match="still being sent"):
            sc.resolve(item["id"], sent=False)
        with pytest.raises(Conflict, match="may already be on the platform"):
            sc.reply(MENTION, text="Me too", force=True)
    finally:
        sender.join()
    assert result["status"] == "sent"
    assert len(fake.posts) == 1


def test_an_abandoned_sending_item_is_looked_for_before_it_is_sent_again(
    sc: Socialcare, fake: FakeMastodon, monkeypatch: pytest.MonkeyPatch
) -> None:
    def power_cut(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt("killed between the platform's answer and our commit")

    with monkeypatch.context() as mp, pytest.raises(KeyboardInterrupt):
        mp.setattr("socialcare.outbox._commit_sent", power_cut)
        sc.reply(MENTION, text=TEXT)
    item = sc.outbox()[0]
    with pytest.raises(Conflict, match="still being sent"):
        sc.retry(item["id"])
    abandon(sc.store, item["id"])
    done = sc.retry(item["id"])
    assert (done["status"], done.get("found_on_platform")) == ("sent", True)
    assert len(fake.posts) == 1


# -- every transition checks its result -------------------------------------------------------
class _Racing(Source):
    """Posts, but meanwhile another process (forced) takes the item from ``sending``."""

    name = "racing"

    def __init__(self, store: Store, item_id: int) -> None:
        super().__init__({})
        self.store, self.item_id = store, item_id

    def queries(self) -> list[str]:
        return []

    def poll(self, query: str, cursor: str | None) -> Iterator[Any]:
        return iter(())

    def post(self, text: str) -> SentPost:
        assert self.store.outbox_transition(self.item_id, ("sending",), "failed", error="x")
        return SentPost("p-1", "https://example.invalid/p-1")


class _Only:
    def __init__(self, source: Source) -> None:
        self.source = source

    def get(self, name: str) -> Source:
        return self.source


def test_commit_sent_raises_when_the_item_moved_meanwhile_and_keeps_the_platform_id(
    store: Store,
) -> None:
    item_id = store.outbox_add(kind="post", source="racing", mention_id=None, text="hi", agent="a")
    with pytest.raises(Conflict, match="changed it meanwhile"):
        send_item(store, _Only(_Racing(store, item_id)), item_id, agent="a")
    assert store.outbox_get(item_id)["status"] == "failed"
    events = [e for e in store.events(limit=10) if e["action"] == "sent_conflict"]
    assert len(events) == 1 and "p-1" in str(events[0])


def test_resolve_records_what_the_agent_found(sc: Socialcare, fake: FakeMastodon) -> None:
    fake.faults.append("200-no-id")
    item = sc.reply(MENTION, text=TEXT).item or {}
    with pytest.raises(Conflict, match="only unknown or sending"):
        sc.resolve(sc.post_add("mastodon", when=utcnow() + timedelta(hours=1), text="x")["id"],
                   sent=True)  # fmt: skip
    done = sc.resolve(item["id"], sent=True, url="https://m.example/@acmehelp/1")
    assert (done["status"], done["url"]) == ("sent", "https://m.example/@acmehelp/1")
    assert sc.store.get_mention(MENTION)["status"] == "replied"
    assert len(fake.posts) == 1


def test_m009_is_the_last_migration_and_every_item_gets_its_own_key(store: Store) -> None:
    from socialcare.store.migrations import migration_names

    assert "m009_outbox_unknown_owner" in migration_names(store.dialect)
    assert "m009_outbox_unknown_owner" in store.applied_migrations()
    ids = [
        store.outbox_add(kind="post", source="demo", mention_id=None, text=t, agent="a")
        for t in ("one", "two")
    ]
    keys = [store.outbox_get(i)["idempotency_key"] for i in ids]
    assert all(len(k) == 32 for k in keys) and keys[0] != keys[1]
    row = store.outbox_get(ids[0])
    assert (row["owner_host"], row["owner_pid"], row["owner_started_at"]) == (None, None, None)


def test_an_unknown_item_cannot_be_cancelled_but_says_how_to_resolve_it(
    sc: Socialcare, fake: FakeMastodon
) -> None:
    fake.faults.append("500-after-commit")
    item = sc.reply(MENTION, text=TEXT).item or {}
    with pytest.raises(Conflict, match="may already be on the platform.*outbox retry"):
        sc.cancel(item["id"])
    assert sc.resolve(item["id"], sent=False)["status"] == "failed"  # the agent says: not there
    assert sc.cancel(item["id"])["status"] == "cancelled"
    assert len(fake.posts) == 1


def test_status_alerts_on_an_item_left_sending(
    sc: Socialcare, fake: FakeMastodon, monkeypatch: pytest.MonkeyPatch
) -> None:
    def power_cut(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt("killed")

    with monkeypatch.context() as mp, pytest.raises(KeyboardInterrupt):
        mp.setattr("socialcare.outbox._commit_sent", power_cut)
        sc.reply(MENTION, text=TEXT)
    assert not sc.status().alerts  # young: its sender may be about to commit
    abandon(sc.store, sc.outbox()[0]["id"], minutes=20)
    [alert] = sc.status().alerts
    assert "sending for over" in alert and "#1" in alert
