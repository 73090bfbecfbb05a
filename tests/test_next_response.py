"""The next-response SLA in ``queue`` and ``show``: a customer's follow-up after our reply
(the same definition ``report response`` uses) shows when the next reply is due."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from typer.testing import CliRunner

from socialcare.app import QueueFilter, Socialcare
from socialcare.cli import app
from socialcare.config import load_config
from socialcare.models import Mention, to_iso
from socialcare.scoring import triage_ids

runner = CliRunner()
UTC = timezone.utc
CONFIG = """
database = "{db}"
brand_handles = ["AcmeHelp"]
[sources.demo]
enabled = true
{extra}
"""


def _mention(native_id: str, author: str, minutes_ago: float, conversation: str | None) -> Mention:
    return Mention(
        source="demo",
        native_id=native_id,
        text="@AcmeHelp still no signal since Friday, sort it out",  # a complaint: 1h SLA
        author_id=author,
        author_handle=author,
        created_at=datetime.now(UTC) - timedelta(minutes=minutes_ago),
        conversation_id=conversation,
    )


def _setup(tmp_path: Path, database: str, extra: str = "") -> Path:
    """u1 wrote 3h ago and was answered 2h ago, then wrote again 20 min ago (a follow-up);
    u2 wrote in the same thread (not a follow-up: another customer), u3 has no thread,
    u1's older message in another thread was never answered."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(db=database, extra=extra))
    sc = Socialcare(load_config(cfg))
    try:
        mentions = [
            _mention("1", "u1", 180, "c1"),
            _mention("2", "u1", 20, "c1"),
            _mention("3", "u2", 30, "c1"),
            _mention("4", "u3", 10, None),
            _mention("5", "u1", 15, "c2"),
        ]
        with sc.store.transaction():
            sc.store.upsert_mentions(mentions, ["AcmeHelp"])
            triage_ids(sc.store, [m.id for m in mentions], sc.triage_settings)
            answered = to_iso(datetime.now(UTC) - timedelta(hours=2))
            sc.store.mark_answered("demo:1", answered, "alice")
    finally:
        sc.shutdown()
    return cfg


def test_queue_marks_follow_ups_and_their_next_response_clock(
    tmp_path: Path, database: str
) -> None:
    cfg = _setup(tmp_path, database)
    sc = Socialcare(load_config(cfg))
    try:
        now = time.time()
        rows = {r["id"]: r for r in sc.queue(QueueFilter(), now=now)}
    finally:
        sc.shutdown()
    assert set(rows) == {"demo:2", "demo:3", "demo:4", "demo:5"}
    assert {i for i, r in rows.items() if r["follow_up"]} == {"demo:2"}
    follow = rows["demo:2"]
    # due one hour (the complaint SLA) after the follow-up: about 40 minutes left
    assert follow["next_response_left"] == follow["sla_left"]
    assert abs(follow["next_response_left"] - (float(follow["sla_due_ts"]) - now)) < 1e-6
    assert 39 * 60 < follow["next_response_left"] < 41 * 60
    assert all(r["next_response_left"] is None for i, r in rows.items() if i != "demo:2")


def test_queue_table_json_and_show_say_when_the_next_reply_is_due(
    tmp_path: Path, database: str
) -> None:
    cfg = _setup(tmp_path, database)
    table = runner.invoke(app, ["--config", str(cfg), "queue"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    lines = [line for line in table.output.splitlines() if "demo:" in line]
    (follow,) = [line for line in lines if "demo:2 " in line]
    assert "next reply due 3" in follow or "next reply due 4" in follow  # 39..41 minutes
    assert not any("next reply" in line for line in lines if "demo:2 " not in line)
    for flag in ("--json", "--jsonl"):
        out = runner.invoke(app, ["--config", str(cfg), "queue", flag]).output
        items = json.loads(out) if flag == "--json" else [json.loads(x) for x in out.splitlines()]
        by_id = {i["id"]: i for i in items}
        assert by_id["demo:2"]["follow_up"] is True
        assert 39 * 60 < by_id["demo:2"]["next_response_left"] < 41 * 60
        assert by_id["demo:4"]["follow_up"] is False
        assert by_id["demo:4"]["next_response_left"] is None
    shown = runner.invoke(app, ["--config", str(cfg), "show", "demo:2", "--offline"])
    assert shown.exit_code == 0, shown.output
    assert "next reply due" in shown.output
    other = runner.invoke(app, ["--config", str(cfg), "show", "demo:3", "--offline"])
    assert "next reply" not in other.output
    data = json.loads(
        runner.invoke(app, ["--config", str(cfg), "show", "demo:2", "--offline", "--json"]).output
    )
    assert data["follow_up"] is True and 39 * 60 < data["next_response_left"] < 41 * 60


def test_an_overdue_follow_up_says_overdue(tmp_path: Path, database: str) -> None:
    cfg = _setup(tmp_path, database)
    sc = Socialcare(load_config(cfg))
    try:  # the follow-up's reply was due 30 minutes ago
        sc.store.conn.execute(
            "UPDATE mentions SET sla_due_ts = ? WHERE id = 'demo:2'", [time.time() - 1800]
        )
        sc.store.conn.commit()
    finally:
        sc.shutdown()
    table = runner.invoke(app, ["--config", str(cfg), "queue"], env={"COLUMNS": "200"})
    (follow,) = [line for line in table.output.splitlines() if "demo:2 " in line]
    assert "next reply overdue 30m" in follow or "next reply overdue 29m" in follow


def test_the_report_counts_the_same_follow_up_as_a_next_response(
    tmp_path: Path, database: str
) -> None:
    """One definition: what the queue calls a follow-up, report response times as a next one."""
    cfg = _setup(tmp_path, database)
    sc = Socialcare(load_config(cfg))
    try:
        queued = {r["id"] for r in sc.queue(QueueFilter()) if r["follow_up"]}
        with sc.store.transaction():
            for mid in ("demo:2", "demo:3", "demo:4", "demo:5"):
                sc.store.mark_answered(mid, to_iso(datetime.now(UTC)), "alice")
        rt = sc.response_times(since=datetime.now(UTC) - timedelta(days=1))
    finally:
        sc.shutdown()
    assert queued == {"demo:2"}
    assert (rt.answered, rt.next_answered) == (4, 1)


def test_business_hours_give_the_next_response_in_business_time(
    tmp_path: Path, database: str
) -> None:
    """Closed all day today and tomorrow: the follow-up's clock is paused and its time left is
    the business-time one (the whole hour, from the next opening)."""
    now = datetime.now(UTC)
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    closed = {days[now.weekday()], days[(now.weekday() + 1) % 7]}
    open_days = "\n".join(f'{d} = "08:00-18:00"' for d in days if d not in closed)
    cfg = _setup(tmp_path, database, f'[hours]\ntimezone = "UTC"\n{open_days}')
    sc = Socialcare(load_config(cfg))
    try:
        rows = {r["id"]: r for r in sc.queue(QueueFilter())}
    finally:
        sc.shutdown()
    follow = rows["demo:2"]
    assert follow["follow_up"] and follow["sla_paused"]
    assert follow["next_response_left"] == follow["sla_left"] > 24 * 3600
    table = runner.invoke(app, ["--config", str(cfg), "queue"], env={"COLUMNS": "200"})
    (line,) = [x for x in table.output.splitlines() if "demo:2 " in x]
    assert "next reply paused (opens" in line
