"""Incident mode through the library API, on both backends: open, attach, reply once per
customer, length limits, answered customers, posts, resolve and its follow-ups, the queue."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest

from socialcare import followups
from socialcare.app import QueueFilter, Socialcare
from socialcare.errors import Conflict, NotFound, UsageError
from socialcare.incident import ack_key, parse_match
from socialcare.models import Mention, to_iso, utcnow
from socialcare.sources import registry
from socialcare.store import Store
from tests.incident_helpers import ACK, config, outage, replies_logged
from tests.test_followups import PlainSource, register_fakes, write_templates


class TinySource(PlainSource):
    """A recording platform with a 60-character limit."""

    name = "tiny"
    max_length = 60


@pytest.fixture(autouse=True)
def fakes() -> Iterator[None]:
    register_fakes()
    registry.register(TinySource)
    yield
    for name in ("fake", "plain", "tiny"):
        registry.unregister(name)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    write_templates(tmp_path)
    return tmp_path


@pytest.fixture
def sc(file_store: Store, workdir: Path) -> Iterator[Socialcare]:
    cfg = config(file_store.path, workdir)
    cfg = cfg._replace(sources={**cfg.sources, "tiny": {"log": str(workdir / "sent.jsonl")}})
    app = Socialcare(cfg, file_store)
    yield app
    app.adapters.close()


def _mention(
    store: Store, native: str, author: str, text: str, *, source: str = "plain",
    minutes_ago: float = 10,
) -> str:  # fmt: skip
    m = Mention(
        source=source, native_id=native, text=text,
        created_at=utcnow() - timedelta(minutes=minutes_ago), author_id=author,
        author_handle=f"h{author}", author_name=f"Name {author}", conversation_id=native,
    )  # fmt: skip
    store.upsert_mentions([m])
    return m.id


def test_parse_match_splits_alternatives() -> None:
    assert parse_match("login OR sign in, 502 | can't pay") == [
        "login", "sign in", "502", "can't pay",
    ]  # fmt: skip
    with pytest.raises(UsageError):
        parse_match(" or , ")


def test_outage_one_acknowledgement_per_customer_to_the_latest(
    sc: Socialcare, file_store: Store, workdir: Path
) -> None:
    latest = outage(file_store)
    _mention(file_store, "x1", "other", "my parcel is late")  # not about the outage
    # 10 customers were answered by an agent already, 5 are claimed by bob
    answered = sorted(latest)[:10]
    claimed = sorted(latest)[10:15]
    for key in answered:
        file_store.mark_answered(latest[key], to_iso(utcnow()), "bob")
    for key in claimed:
        file_store.claim(latest[key], "bob")
    incident, caught = sc.incident_open("login", match="login broken or cannot sign in")
    assert caught == 2000 - len(answered)  # answered mentions are no longer open
    view = sc.incident("login")
    assert (view.mentions, view.customers) == (2000, 1500)
    assert {r["source"]: r["mentions"] for r in view.by_source} == {"plain": 1000, "fake": 1000}

    dry = sc.incident_reply("login", text=ACK, dry_run=True)
    assert dry.count("would-send") == 1485 and replies_logged(workdir) == []

    report = sc.incident_reply("login", text=ACK)
    assert report.count("sent") == 1485, report.totals
    assert report.count("skipped") == 15
    logged = replies_logged(workdir)
    assert len(logged) == 1485
    to = Counter(f"{e['source']}:{e['to']}" for e in logged)
    assert max(to.values()) == 1
    wanted = {mid for key, mid in latest.items() if key not in answered + claimed}
    assert set(to) == wanted  # each to the customer's latest mention
    assert all(e["text"].startswith("Hi @cust") for e in logged)

    # one acknowledgement answers all of a customer's incident mentions: none left open
    acked = {key for key in latest if key not in answered + claimed}
    still_open = {r["author_key"] for r in file_store.rows(
        "SELECT author_key FROM mentions WHERE status = 'open' AND id LIKE '%:o%'")}  # fmt: skip
    assert set(claimed) <= still_open <= set(claimed + answered) and not still_open & acked
    again = sc.incident_reply("login", text=ACK)
    assert again.count("sent") == 0 and again.count("already") == 1485
    assert len(replies_logged(workdir)) == 1485
    # each outbox item carries its deterministic key
    item = file_store.rows("SELECT * FROM outbox WHERE kind = 'reply' ORDER BY id LIMIT 1")[0]
    customer = file_store.get_mention(item["mention_id"])["author_key"]
    assert item["idempotency_key"] == ack_key(incident, "ack", customer)
    assert sc.incident("login").acknowledged == 1485


def test_length_limits_refuse_before_anything_is_queued(
    sc: Socialcare, file_store: Store, workdir: Path
) -> None:
    _mention(file_store, "t1", "a", "login broken", source="tiny")
    _mention(file_store, "p1", "b", "login broken", source="plain")
    sc.incident_open("login", match="login")
    text = "Hi {author}, we know about the login problem and are fixing it now."  # > 60
    dry = sc.incident_reply("login", text=text, dry_run=True)
    assert dry.count("too-long") == 1 and dry.count("would-send") == 1
    with pytest.raises(UsageError, match="over their platform's limit"):
        sc.incident_reply("login", text=text)
    assert file_store.outbox_list(("pending", "sending", "sent")) == []
    assert replies_logged(workdir) == []
    assert sc.incident_reply("login", text="Hi {author}, on it!").count("sent") == 2


def test_an_answer_meanwhile_cancels_the_acknowledgement(
    sc: Socialcare, file_store: Store, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = _mention(file_store, "a1", "a", "login broken")
    _mention(file_store, "b1", "b", "login broken")
    sc.incident_open("login", match="login")
    # a run queued both acknowledgements and was stopped before sending; then bob answered a
    from socialcare.incident import service

    def stopped(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt

    with monkeypatch.context() as patched, pytest.raises(KeyboardInterrupt):
        patched.setattr(service, "send_item", stopped)
        sc.incident_reply("login", text=ACK)
    assert len(file_store.outbox_list(("pending",))) == 2
    bob = Socialcare(sc.config._replace(agent="bob"), file_store)
    bob.reply(a, text="Sorry Ana, looking into it", force=True)  # force: the ack is pending
    bob.adapters.close()
    seen: list[int] = []

    def stop_after_queueing(done: int, total: int) -> None:
        seen.append(done)

    report = sc.incident_reply("login", text=ACK, progress=stop_after_queueing)
    actions = {line.mention_id: line.action for line in report.lines}
    assert actions["plain:a1"] == "skipped" and actions["plain:b1"] == "sent"
    to = [e["to"] for e in replies_logged(workdir)]
    assert sorted(to) == ["a1", "b1"]  # bob's reply and one acknowledgement: nothing twice
    assert seen == [1, 2]


def test_polls_attach_new_matching_mentions_until_resolved(
    file_store: Store, workdir: Path, tmp_path: Path
) -> None:
    demo = tmp_path / "demo.jsonl"

    def write(lines: list[dict[str, object]]) -> None:
        with demo.open("a", encoding="utf-8") as f:
            for line in lines:
                f.write(json.dumps(line) + "\n")

    write([{"id": "1", "author": "ann", "text": "app login broken", "minutes_ago": 5}])
    cfg = config(file_store.path, workdir)._replace(sources={"demo": {"path": str(demo)}})
    sc = Socialcare(cfg, file_store)
    sc.poll()
    _, caught = sc.incident_open("login", match="login broken")
    assert caught == 1
    write([
        {"id": "2", "author": "bo", "text": "login still broken", "minutes_ago": 1},
        {"id": "3", "author": "cy", "text": "love the new colours", "minutes_ago": 1},
    ])  # fmt: skip
    sc.poll()
    view = sc.incident("login")
    assert view.mentions == 2 and {s["id"] for s in view.samples} == {"demo:1", "demo:2"}
    sc.incident_remove("login", ["demo:2"])
    sc.incident_add("login", ["demo:3"])
    from socialcare.store import incidents as sql

    with file_store.transaction():
        sql.attach_matching(file_store, sql.get(file_store, "login"))  # a removal sticks
    assert {s["id"] for s in sc.incident("login").samples} == {"demo:1", "demo:3"}
    with pytest.raises(NotFound):
        sc.incident_add("login", ["demo:404"])
    sc.incident_resolve("login")
    write([{"id": "4", "author": "di", "text": "login broken here too", "minutes_ago": 0}])
    sc.poll()
    assert sc.incident("login").mentions == 2  # resolved: nothing attached any more
    with pytest.raises(Conflict):
        sc.incident_open("login", match="x")


def test_open_from_the_latest_spike(sc: Socialcare, file_store: Store) -> None:
    now = datetime.now(timezone.utc)
    ids = []
    for hour in range(1, 25):  # a quiet day: one complaint an hour
        created = now - timedelta(hours=hour, minutes=30)
        ids.append(_mention(file_store, f"q{hour}", f"q{hour}", "slow app today",
                            minutes_ago=(now - created).total_seconds() / 60))  # fmt: skip
    for n in range(20):  # then an outage
        ids.append(
            _mention(file_store, f"s{n}", f"s{n}", "checkout outage error", minutes_ago=20 - n / 2)
        )
    negative = {"intent": "complaint", "sentiment_compound": -0.7, "sentiment_scored": 1,
                "static_score": 1.0, "signals": "{}"}  # fmt: skip
    file_store.save_triage([(i, negative) for i in ids])
    incident, caught = sc.incident_open("checkout", from_spike=True)
    assert "outage" in json.loads(incident["terms"])
    assert caught == 20
    assert json.loads(incident["spike"])["count"] == 20


def test_no_spike_is_not_found(sc: Socialcare) -> None:
    with pytest.raises(NotFound, match="no spike"):
        sc.incident_open("x", from_spike=True)
    with pytest.raises(UsageError):
        sc.incident_open("x")
    with pytest.raises(UsageError, match="incident name"):
        sc.incident_open("bad name!", match="x")


def test_resolve_schedules_followups_for_answered_customers_only(
    sc: Socialcare, file_store: Store, workdir: Path
) -> None:
    ids = {c: _mention(file_store, f"{c}1", c, "login broken") for c in "abcd"}
    file_store.claim(ids["c"], "bob")  # c is bob's: no acknowledgement, no follow-up
    sc.incident_open("login", match="login")
    assert sc.incident_reply("login", text=ACK).count("sent") == 3
    _mention(file_store, "a2", "a", "still broken!!", minutes_ago=-1)  # a wrote again since
    report = sc.incident_resolve(
        "login", text="Fixed now, {author}!", when=utcnow() + timedelta(hours=1)
    )
    scheduled = {customer for customer, _ in report.scheduled}
    assert scheduled == {"plain:b", "plain:d"}
    reasons = dict(report.skipped)
    assert reasons["plain:a"].startswith("wrote again") and reasons["plain:c"] == "not answered"
    assert report.incident["status"] == "resolved"
    with pytest.raises(Conflict):
        sc.incident_resolve("login")
    with pytest.raises(Conflict):
        sc.incident_reply("login", text=ACK)
    # d writes again before the follow-up is due: the existing follow-up rules skip it
    _mention(file_store, "d2", "d", "thanks, but what about refunds?", minutes_ago=-2)
    due = followups.run_due(sc.config, file_store, now=utcnow() + timedelta(hours=2))
    items = {file_store.get_mention(i["mention_id"])["author_key"]: i
             for i in file_store.outbox_list(("sent", "skipped"), kind="followup")}  # fmt: skip
    assert items["plain:b"]["status"] == "sent" and items["plain:d"]["status"] == "skipped"
    assert due is not None
    followup_texts = [e["text"] for e in replies_logged(workdir) if e["text"].startswith("Fixed")]
    assert followup_texts == ["Fixed now, @hb!"]


def test_status_post_once_per_source_and_text(sc: Socialcare, file_store: Store) -> None:
    _mention(file_store, "a1", "a", "login broken")
    _mention(file_store, "f1", "f", "login broken", source="fake")
    sc.incident_open("login", match="login")
    posted = sc.incident_post("login", text="Login is failing; we're on it.")
    assert sorted(p.source for p in posted) == ["fake", "plain"]
    assert all(p.item["status"] == "sent" and p.item["kind"] == "post" for p in posted)
    with pytest.raises(Conflict, match="already posted"):
        sc.incident_post("login", text="Login is failing;  we're on it.", sources=["plain"])
    later = sc.incident_post(
        "login", text="Update at noon", sources=["plain"], when=utcnow() + timedelta(hours=1)
    )
    assert later[0].item["status"] == "pending" and later[0].item["due_at"]
    assert len(sc.posts()) == 1  # the scheduled one, which `due` sends


def test_queue_folds_open_incidents_into_one_line(sc: Socialcare, file_store: Store) -> None:
    for n in range(30):
        _mention(file_store, f"o{n}", f"o{n % 20}", "login broken")
    for n in range(5):
        _mention(file_store, f"x{n}", f"x{n}", "my parcel is late")
    sc.incident_open("login", match="login")
    rows, folded = sc.queue_folded(QueueFilter(limit=3))
    assert len(rows) == 3 and all("parcel" in r["text"] for r in rows)
    assert [(f.name, f.open_mentions, f.customers) for f in folded] == [("login", 30, 20)]
    expanded, none = sc.queue_folded(QueueFilter(limit=50), incident="login")
    assert len(expanded) == 30 and none == [] and all("login" in r["text"] for r in expanded)
    sc.incident_resolve("login")
    rows, folded = sc.queue_folded(QueueFilter(limit=50))
    assert len(rows) == 35 and folded == []


def test_report_compares_incidents_with_the_rest(sc: Socialcare, file_store: Store) -> None:
    from zoneinfo import ZoneInfo

    from socialcare.app import ReportParams

    now = utcnow()
    params = ReportParams(
        since=now - timedelta(days=1), until=now + timedelta(minutes=5), now=now,
        tz=ZoneInfo("UTC"), tz_name="UTC",
    )  # fmt: skip
    _mention(file_store, "x1", "x", "my parcel is late", minutes_ago=30)
    assert "incidents" not in {t.name for t in sc.report(params).tables}  # none: unchanged
    for c in "abc":
        _mention(file_store, f"{c}1", c, "login broken", minutes_ago=30)
    _mention(file_store, "a2", "a", "login still broken", minutes_ago=20)
    sc.incident_open("login", match="login")
    sc.incident_reply("login", text=ACK)
    file_store.mark_answered("plain:x1", to_iso(now), "bob")
    tables = {t.name: t for t in sc.report(params).tables}
    rows = {r["incident"]: r for r in tables["incidents"].records()}
    assert (rows["login"]["mentions"], rows["login"]["customers"], rows["login"]["answered"]) == (
        4, 3, 3,
    )  # fmt: skip
    # a's first mention waited 30 min for the acknowledgement on their latest one
    assert 29 * 60 <= float(rows["login"]["median_first_response_seconds"] or 0) <= 31 * 60
    assert rows["(no incident)"]["mentions"] == 1
    timeline = tables["incident_timeline"]
    assert timeline.columns[:3] == ["hour", "total", "login"]
    assert sum(int(r[1] or 0) for r in timeline.rows) == 5


def test_sends_are_paced_per_platform_and_interleaved(file_store: Store, workdir: Path) -> None:
    from socialcare.incident.service import reply_all
    from socialcare.poll import Adapters

    for n in range(3):
        _mention(file_store, f"p{n}", f"p{n}", "login broken", source="plain")
        _mention(file_store, f"f{n}", f"f{n}", "login broken", source="fake")
    cfg = config(file_store.path, workdir, min_interval={"plain": 10, "fake": 4})
    sc = Socialcare(cfg, file_store)
    sc.incident_open("login", match="login")
    now = [1000.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(round(seconds, 3))
        now[0] += seconds

    adapters = Adapters(cfg)
    report = reply_all(cfg, file_store, adapters, "login", agent="alice", text=ACK,
                       sleep=sleep, clock=lambda: now[0])  # fmt: skip
    adapters.close()
    assert report.count("sent") == 6
    order = [e["source"] for e in replies_logged(workdir)]
    # fake (every 4 s) goes three times while plain (every 10 s) waits, never back to back
    assert order == ["fake", "plain", "fake", "fake", "plain", "plain"]
    assert sleeps == [4.0, 4.0, 2.0, 10.0]
    assert now[0] - 1000.0 == 20.0  # plain's two waits bound the run, not the sum of all
