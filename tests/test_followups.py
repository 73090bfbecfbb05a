"""Follow-ups and scheduled posts: scheduling, rules on close, skip conditions and ``run_due``.

Sending goes through small recording sources registered in the real registry
(``fake`` can send private messages, ``plain`` cannot). They append every send
to a JSONL file, so runs in other processes (the crash and lock tests) are
recorded too. The Reddit and Twitter tests drive the real adapters with HTTP
answered by ``responses``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs

import pytest
import responses
from responses import matchers

from socialcare import followups, outbox, workflow
from socialcare.app import Socialcare
from socialcare.config import Config
from socialcare.errors import ConfigError, Conflict, LockHeld, NotFound, SourceError, UsageError
from socialcare.models import Mention, Page, SentPost, parse_iso, to_iso, utcnow
from socialcare.poll import Adapters
from socialcare.sources import registry
from socialcare.sources.base import Source
from socialcare.store import Row, Store
from socialcare.timeutil import format_local

REPO = Path(__file__).resolve().parent.parent
LONDON = "Europe/London"
CHECKIN = "Hi {first_name}, just checking in: all good now? ^{agent}"
COMPLAINT_RULE = {
    "name": "checkin-after-complaint",
    "intents": ["complaint"],
    "max_sentiment": -0.3,
    "template": "checkin",
    "after": "3d",
}


# -- recording sources -----------------------------------------------------------
class PlainSource(Source):
    """Records replies and posts to ``[sources.NAME] log``; no private messages.

    Other config keys steer it: ``fail`` (the platform refuses), ``crash`` (the
    process dies right after the platform accepted), ``started``/``release``
    (announce the send, then wait for the release file before returning).
    """

    name = "plain"
    max_length = 280

    def queries(self) -> list[str]:
        return []

    def poll(self, query: str, cursor: str | None) -> Iterator[Page]:
        return iter(())

    def _record(self, **entry: Any) -> SentPost:
        if self.config.get("fail"):
            raise SourceError("fake platform: 403 you are not allowed to do that")
        log = Path(self.config["log"])
        with log.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"source": self.name, **entry}) + "\n")
        count = len(log.read_text(encoding="utf-8").splitlines())
        if self.config.get("started"):
            Path(self.config["started"]).write_text("sending", encoding="utf-8")
            deadline = time.monotonic() + 60  # a safety net, not a timing assertion
            while not Path(self.config["release"]).exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        if self.config.get("crash"):
            os._exit(9)  # dies after the platform accepted, before "sent" is committed
        return SentPost(f"{self.name}-{count}", f"https://fake.invalid/{count}")

    def reply(self, mention: Mention, text: str) -> SentPost:
        return self._record(kind="reply", to=mention.native_id, text=text)

    def post(self, text: str) -> SentPost:
        return self._record(kind="post", text=text)


class FakeSource(PlainSource):
    """Like ``plain`` but can also send private messages (as Reddit's adapter can)."""

    name = "fake"

    def send_message(self, recipient: str, subject: str, text: str) -> None:
        self._record(kind="dm", to=recipient, subject=subject, text=text)


def register_fakes() -> None:
    registry.LOAD_ENTRY_POINTS = False
    registry.register(FakeSource)
    registry.register(PlainSource)


def make_config(
    database: str | Path,
    workdir: Path,
    *,
    fake: dict[str, Any] | None = None,
    followups_table: dict[str, Any] | None = None,
    sources: dict[str, Any] | None = None,
) -> Config:
    """A config with the recording sources, London time and the test templates."""
    log = str(workdir / "sent.jsonl")
    all_sources: dict[str, Any] = {
        "fake": {"log": log, **(fake or {})},
        "plain": {"log": log},
        **(sources or {}),
    }
    return Config(
        database=str(database),
        agent="alice",
        timezone=LONDON,
        brand_handles=("acmehelp",),
        sources=all_sources,
        templates_dir=str(workdir / "templates"),
        followups=followups_table or {},
    )


def write_templates(workdir: Path) -> None:
    folder = workdir / "templates"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "checkin.txt").write_text(CHECKIN + "\n", encoding="utf-8")
    (folder / "bad.txt").write_text("Hi {nickname}!\n", encoding="utf-8")


def sent(workdir: Path) -> list[dict[str, Any]]:
    log = workdir / "sent.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def add_mention(
    store: Store,
    native_id: str,
    *,
    source: str = "fake",
    author: str = "u1",
    handle: str = "maria_g",
    created_at: datetime | None = None,
    intent: str | None = None,
    sentiment: float | None = None,
    is_own: bool = False,
) -> str:
    mention = Mention(
        source=source,
        native_id=native_id,
        text=f"message {native_id}",
        created_at=created_at or utcnow() - timedelta(hours=2),
        author_id=author,
        author_handle=handle,
        author_name="Maria Gonzalez",
        conversation_id="c1",
    )
    store.upsert_mentions([mention], own_handles=[handle] if is_own else [])
    if intent is not None or sentiment is not None:
        store.save_triage(
            [
                (
                    mention.id,
                    {
                        "intent": intent,
                        "sentiment_compound": sentiment,
                        "sentiment_scored": 1,
                        "static_score": 0.0,
                        "signals": "{}",
                    },
                )
            ]
        )
    return mention.id


@pytest.fixture(autouse=True)
def fakes() -> Iterator[None]:
    register_fakes()
    yield
    registry.unregister("fake")
    registry.unregister("plain")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    write_templates(tmp_path)
    return tmp_path


@pytest.fixture
def cfg(workdir: Path, store: Store) -> Config:
    """The test config, naming the test's store (in-memory SQLite, or PostgreSQL)."""
    return make_config(store.path, workdir)


def schedule(cfg: Config, store: Store, mention_id: str, **kw: Any) -> Row:
    kw.setdefault("when", utcnow() + timedelta(days=1))
    kw.setdefault("agent", "alice")
    if "text" not in kw:
        kw.setdefault("template", "checkin")
    item_id = followups.schedule_followup(cfg, store, mention_id, **kw)
    return store.outbox_get(item_id)


def due_time(item: Row) -> datetime:
    return parse_iso(item["due_at"])


def table(store: Store, name: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in store.conn.execute(f"SELECT * FROM {name} ORDER BY 1")]


# -- times -------------------------------------------------------------------------
def test_at_is_read_in_the_agents_zone_across_the_dst_change() -> None:
    before = datetime(2026, 3, 1, tzinfo=timezone.utc)
    summer = followups.parse_when("2026-03-29T09:00", tz=LONDON, now=before)
    winter = followups.parse_when("2026-03-28T09:00", tz=LONDON, now=before)
    assert to_iso(summer) == "2026-03-29T08:00:00Z"
    assert format_local(summer, LONDON) == "2026-03-29 09:00 BST"
    assert to_iso(winter) == "2026-03-28T09:00:00Z"
    assert format_local(winter, LONDON) == "2026-03-28 09:00 GMT"
    # a duration is absolute: 1d from 09:00 GMT is 10:00 BST the next day
    day = followups.parse_when("1d", tz=LONDON, now=winter)
    assert format_local(day, LONDON) == "2026-03-29 10:00 BST"


def test_times_that_are_past_unreadable_or_skipped_by_dst_are_refused() -> None:
    now = datetime(2026, 3, 1, tzinfo=timezone.utc)
    with pytest.raises(UsageError, match="in the past"):
        followups.parse_when("2026-02-01T09:00", tz=LONDON, now=now)
    with pytest.raises(UsageError, match="cannot read 'next tuesday'"):
        followups.parse_when("next tuesday", tz=LONDON, now=now)
    with pytest.raises(UsageError, match="is skipped or repeated in Europe/London"):
        followups.parse_when("2026-03-29T01:30", tz=LONDON, now=now)
    assert to_iso(followups.parse_when("2026-03-29T01:30Z", tz=LONDON, now=now)) == (
        "2026-03-29T01:30:00Z"
    )


def test_a_followup_at_a_london_summer_time_is_stored_in_utc(cfg: Config, store: Store) -> None:
    mid = add_mention(store, "1")
    now = datetime(2026, 3, 1, tzinfo=timezone.utc)
    when = followups.parse_when("2026-03-29T09:00", tz=LONDON, now=now)
    item = schedule(cfg, store, mid, when=when, now=now)
    assert item["due_at"] == "2026-03-29T08:00:00Z"
    assert format_local(due_time(item), cfg.timezone) == "2026-03-29 09:00 BST"


# -- scheduling ----------------------------------------------------------------------
def test_schedule_followup_stores_a_pending_item_with_a_preview(cfg: Config, store: Store) -> None:
    mid = add_mention(store, "1")
    item = schedule(cfg, store, mid)
    assert (item["kind"], item["status"], item["source"], item["mention_id"]) == (
        "followup",
        "pending",
        "fake",
        mid,
    )
    assert item["text"] == "Hi Maria, just checking in: all good now? ^alice"
    assert followups.item_options(item)["template"] == "checkin"
    assert [e["action"] for e in store.events(mention_id=mid)] == ["followup_scheduled"]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"text": "Hi {nickname}"}, "unknown placeholder {nickname}"),
        ({"template": "bad"}, "unknown placeholder {nickname}"),
        ({"template": "nope"}, "no template 'nope'"),
        ({"text": "x" * 281}, "limit is 280"),
        ({"text": "hi", "template": "checkin"}, "exactly one of --template or --text"),
        ({"text": "hi", "when": datetime(2020, 1, 1, tzinfo=timezone.utc)}, "in the past"),
    ],
)
def test_bad_followups_are_refused_when_scheduled(
    cfg: Config, store: Store, kw: dict[str, Any], message: str
) -> None:
    mid = add_mention(store, "1")
    with pytest.raises((UsageError, NotFound), match=message):
        schedule(cfg, store, mid, **kw)
    assert table(store, "outbox") == []


def test_dm_needs_a_source_that_can_send_private_messages(cfg: Config, store: Store) -> None:
    mid = add_mention(store, "1", source="plain")
    with pytest.raises(UsageError, match="cannot send private messages"):
        schedule(cfg, store, mid, dm=True)
    own = add_mention(store, "2", handle="acmehelp", is_own=True)
    with pytest.raises(UsageError, match="posted by the brand itself"):
        schedule(cfg, store, own)


# -- due-ness --------------------------------------------------------------------------
def test_an_item_is_due_exactly_at_due_at_and_not_a_second_before(
    cfg: Config, store: Store, workdir: Path
) -> None:
    item = schedule(cfg, store, add_mention(store, "1"))
    at = due_time(item)
    assert followups.due_items(store, at - timedelta(seconds=1)) == []
    report = followups.run_due(cfg, store, now=at - timedelta(seconds=1))
    assert report.lines == [] and sent(workdir) == []

    assert [r["id"] for r in followups.due_items(store, at)] == [item["id"]]
    report = followups.run_due(cfg, store, now=at)
    assert (report.sent, report.failed, report.skipped) == (1, 0, 0)
    assert sent(workdir) == [
        {
            "source": "fake",
            "kind": "reply",
            "to": "1",
            "text": CHECKIN.format(first_name="Maria", agent="alice"),
        }
    ]
    done = store.outbox_get(item["id"])
    assert (done["status"], done["platform_id"]) == ("sent", "fake-1")
    # sent once: a second run finds nothing
    assert followups.run_due(cfg, store, now=at + timedelta(hours=1)).lines == []
    assert len(sent(workdir)) == 1


def test_text_is_rendered_from_the_template_when_sent(
    cfg: Config, store: Store, workdir: Path
) -> None:
    item = schedule(cfg, store, add_mention(store, "1"))
    (workdir / "templates" / "checkin.txt").write_text("Hello again {first_name}!", "utf-8")
    followups.run_due(cfg, store, now=due_time(item))
    assert [s["text"] for s in sent(workdir)] == ["Hello again Maria!"]
    assert store.outbox_get(item["id"])["text"] == "Hello again Maria!"


def test_a_template_broken_after_scheduling_fails_the_item_without_sending(
    cfg: Config, store: Store, workdir: Path
) -> None:
    item = schedule(cfg, store, add_mention(store, "1"))
    (workdir / "templates" / "checkin.txt").write_text("Hi {nickname}", "utf-8")
    report = followups.run_due(cfg, store, now=due_time(item))
    assert report.failed == 1 and sent(workdir) == []
    done = store.outbox_get(item["id"])
    assert done["status"] == "failed" and "{nickname}" in done["error"]


def test_a_platform_error_fails_the_item_and_the_report(workdir: Path, store: Store) -> None:
    cfg = make_config(store.path, workdir, fake={"fail": True})
    item = schedule(cfg, store, add_mention(store, "1"))
    report = followups.run_due(cfg, store, now=due_time(item))
    assert (report.sent, report.failed) == (0, 1)
    assert "403" in report.lines[0].detail
    assert store.outbox_get(item["id"])["status"] == "failed"


# -- skip conditions -------------------------------------------------------------------------
def test_skipped_when_the_customer_wrote_again_on_a_linked_identity(
    cfg: Config, store: Store, workdir: Path
) -> None:
    mid = add_mention(store, "1", author="u1")
    add_mention(store, "2", source="plain", author="p9", handle="maria_alt")
    store.link_authors("fake:u1", "plain:p9")
    item = schedule(cfg, store, mid)
    later = utcnow() + timedelta(minutes=5)
    add_mention(store, "3", source="plain", author="p9", handle="maria_alt", created_at=later)

    report = followups.run_due(cfg, store, now=due_time(item))

    assert (report.sent, report.skipped) == (0, 1)
    assert sent(workdir) == []
    done = store.outbox_get(item["id"])
    assert done["status"] == "skipped"
    assert done["error"].startswith("the customer wrote again after it was scheduled (plain:3")
    event = store.events(action="followup_skipped")[0]
    assert event["mention_id"] == mid and json.loads(event["detail"])["reason"] == done["error"]


def test_not_skipped_for_older_messages_or_other_customers(
    cfg: Config, store: Store, workdir: Path
) -> None:
    mid = add_mention(store, "1", author="u1")
    add_mention(store, "0", author="u1", created_at=utcnow() - timedelta(days=1))
    item = schedule(cfg, store, mid)
    add_mention(store, "5", author="someone-else", created_at=utcnow() + timedelta(minutes=5))
    assert followups.run_due(cfg, store, now=due_time(item)).sent == 1


def test_skipped_when_the_mention_was_reopened(cfg: Config, store: Store, workdir: Path) -> None:
    mid = add_mention(store, "1")
    workflow.close(store, mid, "alice")
    item = schedule(cfg, store, mid)
    workflow.reopen(store, mid, "bob")
    report = followups.run_due(cfg, store, now=due_time(item))
    assert report.skipped == 1 and sent(workdir) == []
    assert (
        store.outbox_get(item["id"])["error"]
        == f"{mid} was reopened after the follow-up was scheduled"
    )


def test_an_open_mention_scheduled_while_open_is_still_followed_up(
    cfg: Config, store: Store
) -> None:
    item = schedule(cfg, store, add_mention(store, "1"))
    assert followups.run_due(cfg, store, now=due_time(item)).sent == 1


def test_cancelled_followups_are_never_sent(cfg: Config, store: Store, workdir: Path) -> None:
    item = schedule(cfg, store, add_mention(store, "1"))
    followups.cancel_followup(store, item["id"], "alice")
    report = followups.run_due(cfg, store, now=due_time(item) + timedelta(days=9))
    assert report.lines == [] and sent(workdir) == []
    assert store.outbox_get(item["id"])["status"] == "cancelled"
    assert store.events(action="followup_cancelled")[0]["agent"] == "alice"


# -- edit and cancel --------------------------------------------------------------------------
def test_edit_changes_text_and_time_while_pending(cfg: Config, store: Store) -> None:
    item = schedule(cfg, store, add_mention(store, "1"))
    later = utcnow() + timedelta(days=7)
    edited = followups.edit_followup(
        cfg, store, item["id"], agent="bob", text="Hey {author}, still ok?", when=later
    )
    assert edited["text"] == "Hey @maria_g, still ok?"
    assert edited["due_at"] == to_iso(later)
    opts = followups.item_options(edited)
    assert opts["text"] == "Hey {author}, still ok?" and "template" not in opts
    with pytest.raises(UsageError, match="unknown placeholder"):
        followups.edit_followup(cfg, store, item["id"], agent="bob", text="{oops}")
    assert store.outbox_get(item["id"])["text"] == "Hey @maria_g, still ok?"


def test_edit_and_cancel_refused_once_not_pending(cfg: Config, store: Store) -> None:
    item = schedule(cfg, store, add_mention(store, "1"))
    followups.run_due(cfg, store, now=due_time(item))
    with pytest.raises(Conflict, match="is sent: only pending ones can be edited"):
        followups.edit_followup(cfg, store, item["id"], agent="a", text="x")
    with pytest.raises(Conflict, match="is sent: only pending or failed items can be cancelled"):
        followups.cancel_followup(store, item["id"], "a")


def test_edit_loses_the_race_to_a_due_run_that_took_the_item(cfg: Config, store: Store) -> None:
    item = schedule(cfg, store, add_mention(store, "1"))
    # what send_item does first, in the due run's process
    assert store.outbox_transition(item["id"], ("pending",), "sending")
    with pytest.raises(Conflict, match="is sending"):
        followups.edit_followup(cfg, store, item["id"], agent="a", text="too late")
    assert store.outbox_get(item["id"])["text"] == item["text"]


def test_ids_of_other_kinds_are_not_found_as_followups(cfg: Config, store: Store) -> None:
    post_id = followups.schedule_post(
        cfg, store, "fake", when=utcnow() + timedelta(hours=1), text="Maintenance at 9", agent="a"
    )
    with pytest.raises(NotFound, match="is a post, not a followup"):
        followups.get_followup(store, post_id)
    with pytest.raises(NotFound, match="no outbox item 999"):
        followups.cancel_followup(store, 999, "a")


# -- rules on close ---------------------------------------------------------------------------
def close_with_rules(store: Store, cfg: Config, mention_id: str, agent: str = "alice") -> list[int]:
    before = workflow.close(store, mention_id, agent)
    return followups.on_close(store, cfg, before, agent)


def rules_config(store: Store, workdir: Path, **table: Any) -> Config:
    table.setdefault("rules", [COMPLAINT_RULE])
    return make_config(store.path, workdir, followups_table=table)


def test_a_rule_schedules_a_followup_when_a_complaint_is_closed(
    workdir: Path, store: Store
) -> None:
    cfg = rules_config(store, workdir)
    mid = add_mention(store, "1", intent="complaint", sentiment=0.1)
    start = utcnow()
    [item_id] = close_with_rules(store, cfg, mid, agent="bob")
    item = store.outbox_get(item_id)
    assert (item["kind"], item["status"], item["agent"]) == ("followup", "pending", "bob")
    assert followups.item_options(item)["rule"] == "checkin-after-complaint"
    assert start + timedelta(days=3) - timedelta(seconds=2) <= due_time(item)
    assert due_time(item) <= utcnow() + timedelta(days=3)
    assert item["text"].endswith("^bob")


def test_a_rule_fires_on_negative_sentiment_alone(workdir: Path, store: Store) -> None:
    cfg = rules_config(store, workdir)
    mid = add_mention(store, "1", intent="question", sentiment=-0.6)
    assert len(close_with_rules(store, cfg, mid)) == 1


def test_rules_do_not_fire_for_praise(workdir: Path, store: Store) -> None:
    praise = add_mention(store, "p", intent="praise", sentiment=0.8)
    assert close_with_rules(store, rules_config(store, workdir), praise) == []
    assert followups.list_followups(store, status="all") == []


@pytest.mark.parametrize(
    "table",
    [
        {"disabled_sources": ["fake"]},
        {"rules": [{**COMPLAINT_RULE, "sources": ["plain"]}]},
        {"rules": [{**COMPLAINT_RULE, "enabled": False}]},
    ],
)
def test_rules_switched_off_for_the_source_do_not_fire(
    workdir: Path, store: Store, table: dict[str, Any]
) -> None:
    complaint = add_mention(store, "c", intent="complaint", sentiment=-0.8)
    assert close_with_rules(store, rules_config(store, workdir, **table), complaint) == []
    assert followups.list_followups(store, status="all") == []
    # the same close with the rule switched on does fire: the switch made the difference
    assert len(close_with_rules(store, rules_config(store, workdir), complaint)) == 1


def test_closing_again_after_a_reopen_replaces_the_rules_followup(
    workdir: Path, store: Store
) -> None:
    cfg = rules_config(store, workdir)
    mid = add_mention(store, "1", intent="complaint")
    [first] = close_with_rules(store, cfg, mid)
    workflow.reopen(store, mid, "alice")
    [second] = close_with_rules(store, cfg, mid)
    assert store.outbox_get(first)["status"] == "cancelled"
    assert store.outbox_get(first)["error"] == f"replaced by follow-up {second}"
    assert store.outbox_get(second)["status"] == "pending"


def test_a_rule_with_a_broken_template_says_so_after_closing(workdir: Path, store: Store) -> None:
    cfg = rules_config(store, workdir, rules=[{**COMPLAINT_RULE, "template": "bad"}])
    mid = add_mention(store, "1", intent="complaint")
    with pytest.raises(ConfigError, match="is closed, but follow-up rules failed"):
        close_with_rules(store, cfg, mid)
    assert store.get_mention(mid)["status"] == "closed"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"rule": []}, "unknown key"),
        ({"rules": [{**COMPLAINT_RULE, "afterr": "1d"}]}, "unknown key"),
        ({"rules": [{k: v for k, v in COMPLAINT_RULE.items() if k != "template"}]}, "template"),
        ({"rules": [{**COMPLAINT_RULE, "after": "soon"}]}, "cannot read 'soon'"),
        ({"rules": [{"name": "all", "template": "checkin", "after": "1d"}]}, "every closed"),
        ({"rules": [COMPLAINT_RULE, COMPLAINT_RULE]}, "unique"),
        ({"rules": [{**COMPLAINT_RULE, "max_sentiment": -3}]}, "from -1 to 1"),
        ({"disabled_sources": "reddit"}, "list of names"),
    ],
)
def test_bad_rule_config_is_a_config_error(table: dict[str, Any], message: str) -> None:
    with pytest.raises((ConfigError, UsageError), match=message):
        followups.FollowupSettings.from_mapping(table)


# -- dry run ------------------------------------------------------------------------------------
def test_dry_run_reports_and_changes_nothing(cfg: Config, store: Store, workdir: Path) -> None:
    go = schedule(cfg, store, add_mention(store, "1", author="u1"))
    stop_mid = add_mention(store, "2", author="u2")
    stop = schedule(cfg, store, stop_mid)
    add_mention(store, "3", author="u2", created_at=utcnow() + timedelta(minutes=1))
    outbox, events = table(store, "outbox"), table(store, "events")

    report = followups.run_due(cfg, store, dry_run=True, now=due_time(stop))

    assert report.dry_run and (report.sent, report.skipped) == (1, 1)
    by_id = {line.item_id: line for line in report.lines}
    assert by_id[go["id"]].detail == "Hi Maria, just checking in: all good now? ^alice"
    assert by_id[stop["id"]].outcome == "skipped"
    assert table(store, "outbox") == outbox and table(store, "events") == events
    assert sent(workdir) == []


# -- private messages and posts ------------------------------------------------------------------
def test_a_dm_followup_is_sent_as_a_private_message(workdir: Path, store: Store) -> None:
    cfg = make_config(store.path, workdir, followups_table={"dm_subject": "About your order"})
    item = schedule(cfg, store, add_mention(store, "1"), dm=True)
    assert followups.run_due(cfg, store, now=due_time(item)).sent == 1
    [entry] = sent(workdir)
    assert (entry["kind"], entry["to"], entry["subject"]) == ("dm", "maria_g", "About your order")
    assert store.outbox_get(item["id"])["status"] == "sent"


def test_the_dm_wrapper_refuses_a_source_without_send_message(cfg: Config, store: Store) -> None:
    item = schedule(cfg, store, add_mention(store, "1"), dm=True, subject="Hi")
    plain = PlainSource({"log": "unused"})
    wrapped = outbox.adapter_for_item(_Only(plain), item)
    with pytest.raises(SourceError, match="cannot send private messages"):
        wrapped.reply(Mention.from_row(store.get_mention(item["mention_id"])), "x")
    assert outbox.adapter_for_item(Adapters(cfg), {**item, "options": "{}"}).name == "fake"


class _Only:
    """An adapter lookup that answers every source name with one adapter."""

    def __init__(self, source: Source) -> None:
        self.source = source

    def get(self, name: str) -> Source:
        return self.source


def test_a_retried_dm_followup_is_still_private(workdir: Path, store: Store) -> None:
    """`outbox retry` of a failed --dm follow-up sends a private message, never a public reply."""
    failing = make_config(store.path, workdir, fake={"fail": True})
    item = schedule(failing, store, add_mention(store, "1"), dm=True, subject="About your order")
    assert followups.run_due(failing, store, now=due_time(item)).failed == 1
    assert store.outbox_get(item["id"])["status"] == "failed"

    working = make_config(store.path, workdir)
    sc = Socialcare(working, store)
    assert sc.retry(item["id"])["status"] == "sent"
    [entry] = sent(workdir)
    assert (entry["kind"], entry["to"], entry["subject"]) == ("dm", "maria_g", "About your order")


def test_scheduled_posts_are_published_and_can_be_cancelled(
    cfg: Config, store: Store, workdir: Path
) -> None:
    when = utcnow() + timedelta(hours=2)
    keep = followups.schedule_post(cfg, store, "fake", when=when, text=" We're back! ", agent="a")
    drop = followups.schedule_post(cfg, store, "fake", when=when, text="Oops", agent="a")
    followups.cancel_post(store, drop, "a")
    assert [r["id"] for r in followups.list_posts(store)] == [keep]
    assert store.outbox_get(keep)["mention_id"] is None
    report = followups.run_due(cfg, store, now=when)
    assert report.sent == 1
    assert sent(workdir) == [{"source": "fake", "kind": "post", "text": "We're back!"}]
    with pytest.raises(Conflict):
        followups.cancel_post(store, keep, "a")


def test_posts_are_refused_when_empty_or_too_long(cfg: Config, store: Store) -> None:
    when = utcnow() + timedelta(hours=2)
    with pytest.raises(UsageError, match="empty"):
        followups.schedule_post(cfg, store, "fake", when=when, text="  ", agent="a")
    with pytest.raises(UsageError, match="limit is 280"):
        followups.schedule_post(cfg, store, "fake", when=when, text="y" * 300, agent="a")
    with pytest.raises(NotFound, match="unknown source 'nosuch'"):
        followups.schedule_post(cfg, store, "nosuch", when=when, text="hi", agent="a")


# -- other processes: a crash mid-send, and the lock ---------------------------------------------
def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


CHILD_RUN_DUE = """
    import json, sys
    from datetime import datetime
    from pathlib import Path
    from tests.test_followups import make_config, register_fakes
    from socialcare.followups import run_due
    from socialcare.store import open_store

    register_fakes()
    db, workdir, fake, now = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
    cfg = make_config(db, workdir, fake=fake)
    report = run_due(cfg, open_store(db), now=datetime.fromisoformat(now))
    print(json.dumps([line.outcome for line in report.lines]))
"""


def wait_for_crashed_sessions(store: Store, timeout: float = 10.0) -> None:
    """PostgreSQL ends a killed client's session, and frees its advisory locks, a moment
    after the process dies: wait for that, as cron's next run would (it says LockHeld)."""
    if store.backend != "postgresql":
        return
    deadline = time.monotonic() + timeout
    held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid()"
    while store.conn.execute(held).fetchone()[0] and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_crash_between_send_and_commit_leaves_sending_and_is_not_resent(
    file_store: Store, workdir: Path
) -> None:
    cfg = make_config(file_store.path, workdir)
    item = schedule(cfg, file_store, add_mention(file_store, "1"))
    at = due_time(item).isoformat()

    child = run_python(CHILD_RUN_DUE, file_store.path, str(workdir), '{"crash": true}', at)

    assert child.returncode == 9, child.stderr
    assert len(sent(workdir)) == 1  # the platform got it
    assert file_store.outbox_get(item["id"])["status"] == "sending"
    wait_for_crashed_sessions(file_store)
    report = followups.run_due(cfg, file_store, now=due_time(item) + timedelta(minutes=5))
    assert report.lines == [] and report.stuck == [item["id"]]
    assert len(sent(workdir)) == 1  # and never again


def test_a_due_run_while_another_holds_the_lock_raises_and_sends_nothing(
    file_store: Store, workdir: Path
) -> None:
    cfg = make_config(file_store.path, workdir)
    item = schedule(cfg, file_store, add_mention(file_store, "1"))
    ready, release = workdir / "locked", workdir / "release"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import sys, time
                from pathlib import Path
                from socialcare.store import open_store
                with open_store(sys.argv[1]).job_lock("due"):
                    Path(sys.argv[2]).write_text("held")
                    deadline = time.monotonic() + 60
                    while not Path(sys.argv[3]).exists() and time.monotonic() < deadline:
                        time.sleep(0.05)
                """
            ),
            file_store.path,
            str(ready),
            str(release),
        ],
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline and holder.poll() is None:
            time.sleep(0.05)
        assert ready.exists(), "the lock holder never started"
        with pytest.raises(LockHeld, match="another 'due' run holds the lock"):
            followups.run_due(cfg, file_store, now=due_time(item))
        assert file_store.outbox_get(item["id"])["status"] == "pending"
        assert sent(workdir) == []
    finally:
        release.write_text("go")
        holder.wait(timeout=60)
    assert followups.run_due(cfg, file_store, now=due_time(item)).sent == 1


# -- the real adapters ------------------------------------------------------------------------
REDDIT_SECRETS = {
    "REDDIT_CLIENT_ID": "cid-Zq81x",
    "REDDIT_CLIENT_SECRET": "csecret-Pw93kLm",
    "REDDIT_USERNAME": "acme_support",
    "REDDIT_PASSWORD": "hunter2-Vb77q",
}
REDDIT_API = "https://oauth.reddit.com"
REDDIT_RL = {"x-ratelimit-remaining": "995.0", "x-ratelimit-used": "5", "x-ratelimit-reset": "300"}
TWITTER_SECRETS = {
    "TWITTER_BEARER_TOKEN": "AAAAbearer-SECRET-0f9e8d7c",
    "TWITTER_CONSUMER_KEY": "ck-SECRET-1a2b3c",
    "TWITTER_CONSUMER_SECRET": "cs-SECRET-4d5e6f",
    "TWITTER_ACCESS_TOKEN": "2244994945-at-SECRET-7a8b9c",
    "TWITTER_ACCESS_TOKEN_SECRET": "ats-SECRET-0d1e2f",
}
FIXTURES = REPO / "tests" / "fixtures"


def test_a_reddit_dm_followup_composes_a_private_message(
    workdir: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in REDDIT_SECRETS.items():
        monkeypatch.setenv(key, value)
    cfg = make_config(
        store.path,
        workdir,
        sources={"reddit": {"searches": [{"subreddit": "all", "query": "acme"}]}},
        followups_table={"dm_subject": "Your Acme order"},
    )
    mid = add_mention(store, "t1_abc123", source="reddit", handle="pat_smith")
    item = schedule(cfg, store, mid, dm=True)
    token = json.loads((FIXTURES / "reddit" / "token.json").read_text(encoding="utf-8"))
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.add(responses.POST, "https://www.reddit.com/api/v1/access_token", json=token)
        compose = rsps.add(
            responses.POST,
            f"{REDDIT_API}/api/compose/",
            json={"json": {"errors": []}},
            headers=REDDIT_RL,
        )
        report = followups.run_due(cfg, store, now=due_time(item))
    assert report.sent == 1, report.lines
    body = compose.calls[0].request.body
    form = parse_qs(body if isinstance(body, str) else (body or b"").decode())
    assert (form["to"], form["subject"], form["text"]) == (
        ["pat_smith"],
        ["Your Acme order"],
        ["Hi Maria, just checking in: all good now? ^alice"],
    )
    assert store.outbox_get(item["id"])["status"] == "sent"


def test_a_twitter_followup_is_a_reply_in_the_conversation(
    workdir: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in TWITTER_SECRETS.items():
        monkeypatch.setenv(key, value)
    cfg = make_config(store.path, workdir, sources={"twitter": {"queries": ["acme"]}})
    mid = add_mention(store, "1790000000000000005", source="twitter", handle="dana_k")
    item = schedule(cfg, store, mid, text="{author} is everything sorted now?")
    created = json.loads((FIXTURES / "twitter" / "create_tweet.json").read_text(encoding="utf-8"))
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.add(
            responses.POST,
            "https://api.twitter.com/2/tweets",
            json=created,
            status=201,
            match=[
                matchers.json_params_matcher(
                    {
                        "text": "@dana_k is everything sorted now?",
                        "reply": {"in_reply_to_tweet_id": "1790000000000000005"},
                    }
                )
            ],
        )
        report = followups.run_due(cfg, store, now=due_time(item))
    assert report.sent == 1, report.lines
    done = store.outbox_get(item["id"])
    assert (done["status"], done["platform_id"]) == ("sent", "1790000000000000100")
    assert store.get_mention(mid)["answered_at"] is None  # a follow-up is not the first answer
