"""Claim/assign/release, status changes, notes, collisions and the outbox state machine."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from socialcare import workflow
from socialcare.commands.editor import editor_message, parse_editor_message
from socialcare.config import Config
from socialcare.errors import Conflict, NotFound, SourceError, UsageError
from socialcare.models import Mention, SentPost, utcnow
from socialcare.outbox import reset_for_retry, send_item
from socialcare.sources.base import Source
from socialcare.store import QueueFilter, Store, open_store
from socialcare.templates import placeholder_values, render
from tests.outbox_helpers import abandon


def seed(store: Store, *natives: str, author: str = "u1") -> None:
    store.upsert_mentions(
        Mention(
            source="demo",
            native_id=n,
            text=f"help {n}",
            author_id=author,
            author_handle=f"h{author}",
            author_name="Maria Gonzalez",
            created_at=datetime(2026, 11, 1, tzinfo=timezone.utc),
        )
        for n in natives
    )


class RecordingSource(Source):
    """A source whose platform accepts or rejects; records what it was asked to send."""

    name = "demo"
    sent: list[tuple[str, str]]

    def __init__(self, fail: Exception | None = None) -> None:
        super().__init__({})
        self.fail = fail
        self.sent = []

    def queries(self) -> list[str]:
        return []

    def poll(self, query: str, cursor: str | None) -> Any:
        return iter(())

    def reply(self, mention: Mention, text: str) -> SentPost:
        if self.fail:
            raise self.fail
        self.sent.append((mention.native_id, text))
        return SentPost(f"r{len(self.sent)}", f"https://example.invalid/r{len(self.sent)}")


def test_claim_conflict_and_force(store: Store) -> None:
    seed(store, "1")
    assert workflow.claim(store, "demo:1", "alice") is None
    with pytest.raises(Conflict, match="claimed by alice"):
        workflow.claim(store, "demo:1", "bob")
    assert store.get_mention("demo:1")["assignee"] == "alice"
    assert workflow.claim(store, "demo:1", "bob", force=True) == "alice"
    assert store.get_mention("demo:1")["assignee"] == "bob"
    actions = [e["action"] for e in store.events(mention_id="demo:1")]
    assert actions == ["claim", "claim"]


def test_claim_warns_when_customer_is_handled_elsewhere(store: Store) -> None:
    seed(store, "1", "2")
    workflow.claim(store, "demo:1", "alice")
    with pytest.raises(
        Conflict,
        match="not claimed, but its customer is: alice is handling their other mention demo:1",
    ):
        workflow.claim(store, "demo:2", "bob")


def test_claim_unknown_id(store: Store) -> None:
    with pytest.raises(NotFound, match="demo:404"):
        workflow.claim(store, "demo:404", "alice")


def test_release_assign_close_reopen_tag_note(store: Store) -> None:
    seed(store, "1")
    workflow.assign(store, "demo:1", "bob", "lead")
    with pytest.raises(Conflict):
        workflow.release(store, "demo:1", "alice")
    workflow.release(store, "demo:1", "bob")
    assert store.get_mention("demo:1")["assignee"] is None
    workflow.close(store, "demo:1", "alice")
    assert store.queue(QueueFilter(), 1.8e9, 0, 24) == []
    workflow.reopen(store, "demo:1", "alice")
    assert [r["id"] for r in store.queue(QueueFilter(), 1.8e9, 0, 24)] == ["demo:1"]
    assert workflow.add_tags(store, "demo:1", ["billing", "refund", "billing"], "alice") == [
        "billing",
        "refund",
    ]
    workflow.add_note(store, "demo:1", "called them back", "alice")
    assert store.notes_for_mentions(["demo:1"])[0]["agent"] == "alice"
    with pytest.raises(UsageError):
        workflow.add_note(store, "demo:1", "  ", "alice")


def test_snooze_hides_until_then_returns(store: Store) -> None:
    seed(store, "1")
    until = utcnow() + timedelta(hours=2)
    workflow.snooze(store, "demo:1", until, "alice")
    now = utcnow().timestamp()
    assert store.queue(QueueFilter(), now, 0, 24) == []
    assert [r["id"] for r in store.queue(QueueFilter(status="snoozed"), now, 0, 24)] == ["demo:1"]
    later = (until + timedelta(minutes=1)).timestamp()
    assert [r["id"] for r in store.queue(QueueFilter(), later, 0, 24)] == ["demo:1"]
    with pytest.raises(UsageError, match="past"):
        workflow.snooze(store, "demo:1", utcnow() - timedelta(minutes=1), "alice")


def test_reply_goes_pending_sending_sent_and_marks_replied(store: Store) -> None:
    seed(store, "1")
    src = RecordingSource()
    item_id = workflow.queue_reply(store, store.get_mention("demo:1"), "Hi!", "alice")
    assert store.outbox_get(item_id)["status"] == "pending"
    item = send_item(store, Only(src), item_id, agent="alice")
    assert (item["status"], item["platform_id"]) == ("sent", "r1")
    assert src.sent == [("1", "Hi!")]
    m = store.get_mention("demo:1")
    assert (m["status"], m["answered_by"]) == ("replied", "alice")
    with pytest.raises(Conflict, match="not pending"):
        send_item(store, Only(src), item_id)
    assert len(src.sent) == 1  # never twice


def test_second_reply_to_same_mention_needs_force(store: Store) -> None:
    seed(store, "1")
    row = store.get_mention("demo:1")
    workflow.queue_reply(store, row, "Hi!", "alice")
    with pytest.raises(Conflict, match="already has a pending reply by alice"):
        workflow.queue_reply(store, row, "Hello", "alice")
    workflow.queue_reply(store, row, "Hello", "alice", force=True)


def test_reply_to_mention_claimed_by_other(store: Store) -> None:
    seed(store, "1")
    workflow.claim(store, "demo:1", "bob")
    with pytest.raises(Conflict, match="claimed by bob"):
        workflow.queue_reply(store, store.get_mention("demo:1"), "Hi", "alice")


def test_platform_error_marks_failed_with_reason(store: Store) -> None:
    seed(store, "1")
    item_id = workflow.queue_reply(store, store.get_mention("demo:1"), "Hi", "alice")
    item = send_item(store, Only(RecordingSource(SourceError("403 duplicate content"))), item_id)
    assert (item["status"], item["error"]) == ("failed", "403 duplicate content")
    assert store.get_mention("demo:1")["status"] == "open"
    reset_for_retry(store, item_id, "alice")
    ok = RecordingSource()
    assert send_item(store, Only(ok), item_id)["status"] == "sent"


def test_crash_after_platform_accepted_leaves_sending(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies between the platform's answer and the commit: no automatic resend."""
    seed(store, "1")
    src = RecordingSource()
    item_id = workflow.queue_reply(store, store.get_mention("demo:1"), "Hi", "alice")

    def crash(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr("socialcare.outbox._commit_sent", crash)
    with pytest.raises(KeyboardInterrupt):
        send_item(store, Only(src), item_id)
    monkeypatch.undo()
    assert store.outbox_get(item_id)["status"] == "sending"
    with pytest.raises(Conflict):
        send_item(store, Only(src), item_id)  # nothing resends it by itself
    assert len(src.sent) == 1
    with pytest.raises(Conflict, match="still being sent"):
        reset_for_retry(store, item_id, "alice")  # its sender may still be waiting
    abandon(store, item_id)  # the sender died
    reset_for_retry(store, item_id, "alice")  # only on the agent's word
    assert send_item(store, Only(src), item_id)["status"] == "sent"
    assert len(src.sent) == 2


def test_render_placeholders_and_unknown_is_error() -> None:
    row = {"author_handle": "maria_g", "author_name": "María \x1b[31mGonzález", "source": "demo"}
    values = placeholder_values(row, "alice", ("acmehelp",))
    assert render("Hi {first_name}, {agent} here for {brand} {kb_url}!", values) == (
        "Hi María, alice here for @acmehelp !"
    )
    with pytest.raises(UsageError, match=r"unknown placeholder \{customer\}"):
        render("Hi {customer}", values)
    with pytest.raises(UsageError, match="unknown placeholder"):
        render("Hi {author.__class__}", values)
    with pytest.raises(UsageError):
        render("Hi {", values)


def test_conversions_and_format_specs_are_named_as_such() -> None:
    values = placeholder_values({"author_handle": "maria_g", "source": "demo"}, "alice")
    with pytest.raises(UsageError, match=r"\{author!r\}: conversions \(!r\) and format specs"):
        render("Hi {author!r}", values)
    with pytest.raises(UsageError, match=r"\{author:>9\}: conversions .* write \{author\}"):
        render("Hi {author:>9}", values)


@pytest.mark.parametrize(
    "url",
    [
        "https://x.example/s/1\x1b]8;;http://evil.example\x07",
        "javascript:alert(1)",
        "https://x.example/a b",
        "file:///etc/passwd",
        "\x9bhttps://x.example/",
    ],
)
def test_a_hostile_mention_url_never_reaches_a_reply(url: str) -> None:
    row = {"author_handle": "m\x1b[2J", "source": "demo\n", "url": url}
    values = placeholder_values(row, "alice", kb=("Refunds\x1b[31m", url))
    text = render("See {mention_url} {kb_title} {kb_url} {author} {source}", values)
    assert text == "See Refunds @m demo"
    assert placeholder_values({"url": "https://x.example/s/1"}, "a")["mention_url"] == (
        "https://x.example/s/1"
    )


def test_editor_message_round_trip() -> None:
    row = {"text": "line one\nline two", "author_handle": "maria", "source": "demo", "id": "demo:1"}
    msg = editor_message(row, "Hello there")
    assert "# line one" in msg and "# line two" in msg
    assert parse_editor_message(msg) == "Hello there"
    assert parse_editor_message(editor_message(row, "")) == ""


def test_customer_link_history_and_unlink(store: Store) -> None:
    seed(store, "1", author="u1")
    store.upsert_mentions(
        [
            Mention(
                source="reddit",
                native_id="t1_x",
                text="same person",
                author_id="t2_m",
                author_handle="maria_r",
                created_at=datetime(2026, 11, 2, tzinfo=timezone.utc),
            )
        ]
    )
    customer = store.link_authors("demo:u1", "reddit:t2_m")
    assert store.linked_author_keys("demo:u1") == ["demo:u1", "reddit:t2_m"]
    assert {m["id"] for m in store.history(store.linked_author_keys("reddit:t2_m"))} == {
        "demo:1",
        "reddit:t1_x",
    }
    assert store.link_authors("reddit:t2_m", "demo:u1") == customer
    store.unlink_author("reddit:t2_m")
    assert store.linked_author_keys("demo:u1") == ["demo:u1"]


def test_two_processes_claiming_at_once_exactly_one_wins(database: str) -> None:
    db = database
    store = open_store(db)
    seed(store, "1")
    script = textwrap.dedent(
        """
        import sys
        from socialcare import workflow
        from socialcare.errors import Conflict
        from socialcare.store import open_store
        s = open_store(sys.argv[1])
        sys.stdin.readline()  # start together
        try:
            workflow.claim(s, "demo:1", sys.argv[2])
            print("won")
        except Conflict as exc:
            print("lost:", exc)
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(db), name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("alice", "bob")
    ]
    outs = [p.communicate("go\n", timeout=30)[0].strip() for p in procs]
    assert sorted(o.split(":")[0] for o in outs) == ["lost", "won"]
    loser = next(o for o in outs if o.startswith("lost"))
    winner = store.get_mention("demo:1")["assignee"]
    assert f"claimed by {winner}" in loser


def test_config_type() -> None:
    assert Config(database=":memory:", agent="x").enabled_sources() == []


class Only:
    """An adapter lookup that answers every source name with one adapter."""

    def __init__(self, source: Source) -> None:
        self.source = source

    def get(self, name: str) -> Source:
        return self.source
