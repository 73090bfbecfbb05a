"""Private conversations (issue 20) end to end on the demo source, both store backends.

A conversation is one queue item; replying in it sends a DM and answers all of it;
"take it to DM" sends a linked private message and public reply, each exactly once
(also across a crash between the two sends); DMs stay out of reports and exports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from socialcare import outbox
from socialcare.cli import app
from socialcare.config import data_dir
from socialcare.store import Store

runner = CliRunner()

#: words only the demo's private messages contain
PRIVATE_WORDS = ("AC-553-221", "short this month", "ends 0912", "card 4417")


@pytest.fixture
def cfg(tmp_path: Path, isolated_home: Path) -> Path:
    path = tmp_path / "config.toml"
    assert runner.invoke(app, ["--config", str(path), "init"]).exit_code == 0
    result = runner.invoke(app, ["--config", str(path), "poll", "--quiet"])
    assert result.exit_code == 0, result.output
    return path


def run(cfg: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(cfg), *args])
    return result.exit_code, result.output


def queue(cfg: Path, *args: str) -> list[dict[str, Any]]:
    code, out = run(cfg, "queue", "--json", "--limit", "100", *args)
    assert code == 0, out
    return list(json.loads(out))


def sent() -> list[dict[str, Any]]:
    path = data_dir() / "demo-sent.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_conversation_is_one_queue_item_with_its_count(cfg: Path) -> None:
    dms = queue(cfg, "--kind", "dm")
    assert [(r["id"], r["messages"]) for r in dms] == [("demo:2005", 2), ("demo:2004", 1)]
    # the brand's own message in the conversation is stored but never queued
    assert all(r["author_handle"] != "AcmeHelp" for r in dms)
    public = queue(cfg, "--kind", "public")
    assert public and all(r["kind"] != "dm" for r in public)
    both = {r["id"] for r in queue(cfg)}
    assert {"demo:2005", "demo:2004"} <= both and not {"demo:2001", "demo:2003"} & both


def test_the_brands_own_answer_on_the_platform_answers_what_came_before(cfg: Path) -> None:
    """demo:2002 is the brand's DM: demo:2001 before it is answered, 2003 and 2005 wait."""
    first = json.loads(run(cfg, "show", "demo:2001", "--json", "--offline")[1])
    assert (first["status"], first["answered_by"]) == ("replied", "@AcmeHelp")


def test_kind_is_checked(cfg: Path) -> None:
    code, out = run(cfg, "queue", "--kind", "private")
    assert code == 2 and "dm" in out and "public" in out


def test_dm_sla_runs_from_the_oldest_open_message(cfg: Path) -> None:
    """[triage.sla] dm defaults to 1h: demo:2003, the oldest unanswered, came 12 minutes ago."""
    item = next(r for r in queue(cfg, "--kind", "dm") if r["id"] == "demo:2005")
    assert 46 * 60 < item["sla_left"] < 49 * 60
    kev = next(r for r in queue(cfg, "--kind", "dm") if r["id"] == "demo:2004")
    assert 41 * 60 < kev["sla_left"] < 43 * 60  # a question's intent SLA would be 4 h


def test_dm_sla_is_configurable(cfg: Path) -> None:
    cfg.write_text(cfg.read_text() + '\n[triage.sla]\ndm = "3h"\n')
    assert run(cfg, "triage", "--all")[0] == 0
    kev = next(r for r in queue(cfg, "--kind", "dm") if r["id"] == "demo:2004")
    assert 2 * 3600 + 41 * 60 < kev["sla_left"] < 2 * 3600 + 43 * 60
    cfg.write_text(cfg.read_text().replace('dm = "3h"', 'dm = "soon"'))
    code, out = run(cfg, "triage", "--all")
    assert code == 2 and "triage.sla.dm" in out


def test_replying_in_a_conversation_sends_a_dm_and_answers_all_of_it(cfg: Path) -> None:
    code, out = run(cfg, "reply", "demo:2005", "Refund issued, {first_name}.")
    assert code == 0, out
    [record] = sent()
    assert record["private"] is True and record["conversation"] == "dm-maria"
    assert record["text"] == "Refund issued, María."
    assert [r["id"] for r in queue(cfg, "--kind", "dm")] == ["demo:2004"]
    code, out = run(cfg, "show", "demo:2003", "--json", "--offline")
    shown = json.loads(out)
    assert (shown["status"], shown["answered_by"], shown["private"]) == ("replied", "alice", True)


def test_dm_length_limit_is_the_private_one(cfg: Path) -> None:
    """The demo's public limit is 280; its private messages take 1,000."""
    assert run(cfg, "reply", "demo:2004", "x" * 900)[0] == 0
    code, out = run(cfg, "reply", "demo:2005", "x" * 1001)
    assert code == 2 and "private message is 1001" in out and "1000" in out


def test_closing_a_conversation_closes_its_open_messages(cfg: Path) -> None:
    assert run(cfg, "close", "demo:2005")[0] == 0
    assert [r["id"] for r in queue(cfg, "--kind", "dm")] == ["demo:2004"]
    assert json.loads(run(cfg, "show", "demo:2003", "--json", "--offline")[1])["status"] == (
        "closed"
    )


def test_show_marks_private_and_prints_the_conversation_in_order(cfg: Path) -> None:
    code, out = run(cfg, "show", "demo:2003", "--offline")
    assert code == 0 and "PRIVATE (DM)" in out and "private conversation" in out
    thread = out[out.index("── private conversation") : out.index("── customer")]
    first, brand, last = (thread.index(w) for w in ("AC-553-221", "last four digits", "4417"))
    assert first < brand < last
    assert "demo:1001" in out  # the same customer's public mentions, side by side


def test_take_it_to_dm_sends_the_pair_once_and_links_it(cfg: Path) -> None:
    code, out = run(
        cfg, "dm", "demo:1001", "Hi {first_name}, your account number please?",
        "--public", "We've sent you a DM",
    )  # fmt: skip
    assert code == 0, out
    dm, public = sent()
    assert dm["private"] is True and dm["to"] == "u1" and dm["conversation"] is None
    assert "private" not in public and public["text"] == "We've sent you a DM"
    code, out = run(cfg, "show", "demo:1001", "--offline")
    assert "private message #1 sent" in out and "public reply (after DM #1) #2 sent" in out
    # the pair is finished: asking again does not send anything
    code, out = run(cfg, "dm", "demo:1001", "again?")
    assert code == 7 and len(sent()) == 2
    log = run(cfg, "log", "--mention", "demo:1001", "--json")[1]
    assert {"dm_queued", "reply_queued", "sent"} <= {e["action"] for e in json.loads(log)}


def test_the_public_reply_waits_for_the_dm_and_a_crash_between_sends_no_double(
    cfg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = outbox.send_item
    calls: list[int] = []

    def crash_on_second(store: Any, adapters: Any, item_id: int, **kw: Any) -> Any:
        calls.append(item_id)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process dies after the DM, before the public reply
        return real(store, adapters, item_id, **kw)

    monkeypatch.setattr(outbox, "send_item", crash_on_second)
    result = runner.invoke(
        app, ["--config", str(cfg), "dm", "demo:1001", "Your account number?", "--public", "DM'd"]
    )
    assert result.exit_code != 0
    assert [r.get("private", False) for r in sent()] == [True]
    monkeypatch.setattr(outbox, "send_item", real)
    code, out = run(cfg, "outbox", "--json")
    assert [(i["kind"], i["status"]) for i in json.loads(out)] == [("reply", "pending")]
    # run again (with or without the text): the DM is not sent again, the reply goes once
    code, out = run(cfg, "dm", "demo:1001")
    assert code == 0, out
    assert [r.get("private", False) for r in sent()] == [True, False]
    assert run(cfg, "dm", "demo:1001", "again?")[0] == 7 and len(sent()) == 2


def test_a_crash_while_the_dm_is_sent_is_resolved_on_the_platform(
    cfg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from socialcare.sources.demo import DemoSource

    real = DemoSource.send_dm

    def accepted_then_died(self: DemoSource, mention: Any, text: str) -> Any:
        real(self, mention, text)
        raise SystemExit(1)  # the platform has it; "sent" was never committed

    monkeypatch.setattr(DemoSource, "send_dm", accepted_then_died)
    run(cfg, "dm", "demo:1001", "Your account number?", "--public", "DM'd")
    monkeypatch.setattr(DemoSource, "send_dm", real)
    assert len(sent()) == 1
    code, out = run(cfg, "dm", "demo:1001")
    assert code == 7 and "sending" in out and len(sent()) == 1  # never resent by hand
    items = json.loads(run(cfg, "outbox", "--json")[1])
    dm_item = next(i for i in items if i["kind"] == "dm")
    from socialcare.store import open_store
    from tests.outbox_helpers import abandon

    store = open_store(json.loads(run(cfg, "db", "status", "--json")[1])["location"])
    try:
        abandon(store, dm_item["id"])  # its sender is gone
    finally:
        store.close()
    code, out = run(cfg, "outbox", "retry", str(dm_item["id"]))
    assert code == 0, out
    assert len(sent()) == 1  # found on the platform, not sent again
    assert run(cfg, "dm", "demo:1001")[0] == 0
    assert [r.get("private", False) for r in sent()] == [True, False]


def test_a_customer_who_refuses_dms_is_refused_before_anything_is_sent(cfg: Path) -> None:
    code, out = run(cfg, "dm", "demo:1033", "Your router serial?", "--public", "DM'd you")
    assert code == 4 and "does not accept private messages" in out
    assert "--public-only-if-dm-fails" in out and sent() == []
    assert json.loads(run(cfg, "outbox", "--all", "--json")[1]) == []
    code, out = run(
        cfg, "dm", "demo:1033", "Your router serial?", "--public", "Please DM us",
        "--public-only-if-dm-fails",
    )  # fmt: skip
    assert code == 0, out
    assert [r["text"] for r in sent()] == ["Please DM us"] and "private" not in sent()[0]


def test_a_dm_that_fails_on_the_platform_cancels_the_public_reply(
    cfg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from socialcare.errors import SourceError
    from socialcare.sources.demo import DemoSource

    def refused(self: DemoSource, mention: Any, text: str) -> Any:
        raise SourceError("403: you cannot send messages to this user")

    monkeypatch.setattr(DemoSource, "send_dm", refused)
    code, out = run(cfg, "dm", "demo:1001", "Account number?", "--public", "DM'd")
    assert code == 8 and "cancelled" in out and sent() == []
    code, out = run(cfg, "dm", "demo:1002", "Where are you?", "--public", "Please DM us",
                    "--public-only-if-dm-fails")  # fmt: skip
    assert [r["text"] for r in sent()] == ["Please DM us"]


def test_dm_of_a_dm_points_to_reply(cfg: Path) -> None:
    code, out = run(cfg, "dm", "demo:2004", "hi")
    assert code == 2 and "socialcare reply demo:2004" in out


def test_sources_lists_dm_capability(cfg: Path) -> None:
    code, out = run(cfg, "sources", "--json")
    info = {s["name"]: s["dms"] for s in json.loads(out)}
    assert info["demo"].startswith("reads + sends")
    assert info["rss"] == "no DMs" and info["hackernews"] == "no DMs"


def test_dms_stay_out_of_reports_and_default_exports(tmp_path: Path, isolated_home: Path) -> None:
    """A furious DM with a secret in it: its words reach no report table, spike terms or
    export, while the public complaint's words do (the filter hides DMs, not everything)."""
    lines = [
        {"id": "p1", "author": "pat", "text": "@AcmeHelp terrible awful outage, furious",
         "minutes_ago": 30},
        {"id": "d1", "author": "pat", "kind": "dm", "conversation_id": "c1", "minutes_ago": 20,
         "text": "Terrible awful furious: my passcode swordfish leaked and card 4417 charged"},
    ]  # fmt: skip
    demo = tmp_path / "demo.jsonl"
    demo.write_text("".join(json.dumps(line) + "\n" for line in lines))
    cfg = tmp_path / "config.toml"
    assert run(cfg, "init")[0] == 0
    cfg.write_text(cfg.read_text().replace("[sources.demo]", f"[sources.demo]\npath = '{demo}'"))
    assert run(cfg, "poll", "--quiet")[0] == 0
    assert run(cfg, "reply", "demo:p1", "Sorry Pat, looking now")[0] == 0
    assert run(cfg, "reply", "demo:d1", "Your card 4417 is blocked, swordfish reset")[0] == 0
    page = tmp_path / "r.html"
    assert run(cfg, "report", "--since", "7d", "--top", "100", "--html", str(page))[0] == 0
    report_json = run(cfg, "report", "--since", "7d", "--top", "100", "--json")[1]
    spikes = run(cfg, "report", "spikes", "--json")[1]
    for text in (page.read_text(), report_json):
        assert "outage" in text and "swordfish" not in text and "passcode" not in text
    assert "swordfish" not in spikes and "passcode" not in spikes
    for what in ("mentions", "replies"):
        code, out = run(cfg, "export", what, "--format", "jsonl")
        assert code == 0 and ("outage" in out or "looking now" in out), what
        assert "swordfish" not in out and "4417" not in out, what
        code, out = run(cfg, "export", what, "--format", "jsonl", "--include-dm")
        assert "swordfish" in out, what


def test_m010_indexes_open_conversations(store: Store) -> None:
    from socialcare.store.migrations import migration_names

    names = migration_names(store.dialect)
    assert names.index("m010_conversations") == names.index("m009_outbox_unknown_owner") + 1
    assert "m010_conversations" in store.applied_migrations()


def test_work_d_takes_the_mention_to_dm(tmp_path: Path, database: str) -> None:
    from rich.console import Console

    from socialcare.app import Socialcare
    from socialcare.commands.work import work_loop
    from socialcare.config import Config

    demo = tmp_path / "one.jsonl"
    demo.write_text(json.dumps({"id": "p1", "author": "pat", "minutes_ago": 5,
                                "text": "@AcmeHelp my order never came"}) + "\n")  # fmt: skip
    sc = Socialcare(Config(database=database, agent="alice", brand_handles=("AcmeHelp",),
                           sources={"demo": {"path": str(demo)}}))  # fmt: skip
    answers = iter(["d", "Your order number, please?", "We've sent you a DM", "q"])
    asked: list[str] = []

    def prompt(text: str, **kw: Any) -> str:
        asked.append(text)
        return next(answers)

    try:
        sc.poll()
        console = Console(record=True, width=100)
        assert work_loop(sc, console, prompt=prompt) == 1
        out = console.export_text()
        assert "private message #1 sent" in out and "public reply #2 sent" in out
        assert "[d]m" in asked[0]
        assert [r.get("private", False) for r in sent()] == [True, False]
    finally:
        sc.shutdown()


def test_dm_policy_rules() -> None:
    from datetime import datetime, timedelta, timezone

    from socialcare.sources.base import NO_DMS, DmPolicy

    now = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
    assert NO_DMS.summary() == "no DMs"
    assert "cannot send" in (NO_DMS.refusal(opening=False, last_customer_message=None, now=now)
                             or "")  # fmt: skip
    answers_only = DmPolicy(reads=True, sends=True, starts="replies")
    assert "only answer" in (answers_only.refusal(opening=True, last_customer_message=None,
                                                  now=now) or "")  # fmt: skip
    window = DmPolicy(reads=True, sends=True, starts="anyone", reply_window=timedelta(hours=24))
    assert window.refusal(opening=False, last_customer_message=now - timedelta(hours=23),
                          now=now) is None  # fmt: skip
    assert "reply window (24 h" in (window.refusal(
        opening=False, last_customer_message=now - timedelta(hours=25), now=now) or "")  # fmt: skip
    assert window.summary() == "reads + sends (starts with anyone)"
