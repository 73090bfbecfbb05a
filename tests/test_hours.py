"""Business hours: arithmetic on a fixed clock across DST changes and holidays, config errors,
the queue's "SLA paused" and business-time first-response times."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from socialcare.cli import app
from socialcare.errors import ConfigError
from socialcare.team.hours import BusinessHours, hours_from_config

runner = CliRunner()
UTC = timezone.utc
H = 3600.0

WEEKDAYS = {d: "08:00-18:00" for d in ("monday", "tuesday", "wednesday", "thursday", "friday")}


def london(**extra: Any) -> BusinessHours:
    return BusinessHours.from_mapping({"timezone": "Europe/London", **WEEKDAYS, **extra})


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


pure = pytest.mark.store_free  # arithmetic and config only: no store, SQLite run only


@pure
def test_open_and_next_open_on_a_plain_week() -> None:
    h = london()
    # Tuesday 2026-12-01 (GMT = UTC in winter)
    assert h.is_open(utc(2026, 12, 1, 9, 0))
    assert not h.is_open(utc(2026, 12, 1, 18, 0))  # closing time is not open
    assert h.next_open(utc(2026, 12, 1, 19, 0)) == utc(2026, 12, 2, 8, 0)
    # Friday evening -> Monday morning
    assert h.next_open(utc(2026, 12, 4, 18, 30)) == utc(2026, 12, 7, 8, 0)


@pure
def test_business_seconds_skip_nights_and_weekends() -> None:
    h = london()
    # Friday 17:00 -> Monday 09:00 is one hour on Friday and one on Monday
    assert h.business_seconds(utc(2026, 12, 4, 17, 0), utc(2026, 12, 7, 9, 0)) == 2 * H
    assert h.business_seconds(utc(2026, 12, 7, 9, 0), utc(2026, 12, 4, 17, 0)) == 0.0
    # a 4h SLA starting Friday 16:00 ends Monday 10:00
    assert h.add(utc(2026, 12, 4, 16, 0), 4 * H) == utc(2026, 12, 7, 10, 0)
    # starting at night counts from the next opening
    assert h.add(utc(2026, 12, 1, 23, 0), 1 * H) == utc(2026, 12, 2, 9, 0)


@pure
def test_spring_forward_keeps_opening_at_eight_local() -> None:
    """Europe/London moves to BST on Sunday 2026-03-29: Monday opens at 08:00 BST = 07:00 UTC."""
    h = london(sunday="00:00-24:00")
    # Friday 27 March (GMT): opens 08:00 UTC; Monday 30 March (BST): opens 07:00 UTC
    assert h.next_open(utc(2026, 3, 27, 19, 0)) == utc(2026, 3, 29, 0, 0)  # Sunday 00:00 GMT
    # Sunday is 23 hours long that day (01:00 -> 02:00 skipped)
    assert h.business_seconds(utc(2026, 3, 29, 0, 0), utc(2026, 3, 30, 0, 0)) == 23 * H
    assert h.next_open(utc(2026, 3, 29, 23, 30)) == utc(2026, 3, 30, 7, 0)
    assert h.add(utc(2026, 3, 27, 17, 0), 2 * H) == utc(2026, 3, 29, 1, 0)


@pure
def test_fall_back_day_is_twenty_five_hours_and_weekdays_shift_an_hour() -> None:
    """BST ends on Sunday 2026-10-25: Friday opens 07:00 UTC, Monday 08:00 UTC."""
    h = london(sunday="00:00-24:00")
    assert h.next_open(utc(2026, 10, 22, 19, 0)) == utc(2026, 10, 23, 7, 0)
    assert h.business_seconds(utc(2026, 10, 24, 23, 0), utc(2026, 10, 26, 0, 0)) == 25 * H
    assert h.next_open(utc(2026, 10, 26, 0, 0)) == utc(2026, 10, 26, 8, 0)
    # 10 business hours from Friday 16:00 BST (15:00 UTC): 2h Friday, then all of Sunday's 25h
    assert h.add(utc(2026, 10, 23, 15, 0), 10 * H) == utc(2026, 10, 25, 7, 0)


@pure
def test_holidays_are_closed_all_day() -> None:
    h = london(holidays=["2026-12-25", "2026-12-28"])
    # Thursday 24th 17:00 + 2h: Friday 25th and Monday 28th are holidays -> Tuesday 09:00
    assert h.add(utc(2026, 12, 24, 17, 0), 2 * H) == utc(2026, 12, 29, 9, 0)
    assert not h.is_open(utc(2026, 12, 25, 10, 0))
    assert h.business_seconds(utc(2026, 12, 24, 0, 0), utc(2026, 12, 30, 0, 0)) == 20 * H


@pure
def test_several_ranges_a_day_and_other_zones() -> None:
    h = BusinessHours.from_mapping(
        {"timezone": "America/New_York", "monday": "09:00-12:00, 13:00-17:00"}
    )
    # Monday 2026-12-07 in EST (UTC-5): 14:00-17:00 UTC and 18:00-22:00 UTC
    assert h.business_seconds(utc(2026, 12, 7, 0, 0), utc(2026, 12, 8, 0, 0)) == 7 * H
    assert h.next_open(utc(2026, 12, 7, 17, 30)) == utc(2026, 12, 7, 18, 0)


@pure
def test_teams_inherit_and_override_the_default() -> None:
    default, teams = hours_from_config(
        {"timezone": "Europe/London", **WEEKDAYS, "teams": {"weekend": {"saturday": "10:00-14:00"}}}
    )
    assert default is not None and not default.is_open(utc(2026, 12, 5, 11, 0))
    assert teams["weekend"].is_open(utc(2026, 12, 5, 11, 0))
    assert teams["weekend"].is_open(utc(2026, 12, 7, 9, 0))  # Monday from [hours]
    assert hours_from_config({}) == (None, {})


@pure
@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"monday": "8-18"}, "hours.monday: cannot read"),
        ({"monday": "18:00-08:00"}, "hours.monday"),
        ({"monday": "08:00-12:00, 11:00-13:00"}, "overlap"),
        ({"monday": "25:00-26:00"}, "hours.monday"),
        (
            {"timezone": "Mars/Olympus", "monday": "08:00-18:00"},
            "hours.timezone: unknown time zone",
        ),
        ({"monday": "08:00-18:00", "holidays": ["25/12/2026"]}, "hours.holidays[0]"),
        ({"sunday": "closed"}, "no day has opening hours"),
        ({"monday": "08:00-18:00", "teams": {"x": {"fryday": "closed"}}}, "hours.teams.x.fryday"),
        ({"monday": "08:00-18:00", "mondy": "x"}, "did you mean `monday`"),
    ],
)
def test_a_schedule_that_does_not_parse_is_one_error_naming_the_key(
    table: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigError) as err:
        hours_from_config(table)
    assert key in str(err.value) and "\n" not in str(err.value)


CONFIG = """
database = "{db}"
[sources.demo]
enabled = true
[hours]
timezone = "UTC"
{days}
"""


def test_queue_shows_sla_paused_outside_hours(tmp_path: Path, database: str) -> None:
    """A schedule that is closed right now: the queue's SLA column says when it opens."""
    now = datetime.now(UTC)
    opens = (now + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    day = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    today = day[opens.weekday()]
    end = (opens + timedelta(hours=1)).strftime("%H:%M")
    if end == "00:00":
        end = "24:00"
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(db=database, days=f'{today} = "{opens:%H:%M}-{end}"'))
    assert runner.invoke(app, ["--config", str(cfg), "poll"]).exit_code == 0
    result = runner.invoke(app, ["--config", str(cfg), "queue", "-n", "3"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    expected = f"opens {opens:%H:%M}" if opens.date() == now.date() else f"opens {opens:%a %H:%M}"
    assert f"SLA paused ({expected})" in result.output
    rows = json.loads(runner.invoke(app, ["--config", str(cfg), "queue", "--json"]).output)
    # the SLA runs only from the opening: time left is at least the two closed hours
    with_sla = [r for r in rows if r["sla_left"] is not None]
    assert with_sla and all(r["sla_left"] > 3600 for r in with_sla)


def test_report_response_gives_wall_and_business_time(tmp_path: Path, database: str) -> None:
    from socialcare.app import Socialcare
    from socialcare.config import load_config
    from socialcare.models import Mention

    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(db=database, days='monday = "08:00-18:00"'))
    sc = Socialcare(load_config(cfg))
    try:
        # Monday 2026-11-30 17:00 UTC, answered the next Monday at 09:00: two business hours
        created = utc(2026, 11, 30, 17, 0)
        sc.store.upsert_mentions(
            [
                Mention(
                    source="demo",
                    native_id="1",
                    text="help",
                    author_id="u1",
                    author_handle="u1",
                    created_at=created,
                )
            ]  # fmt: skip
        )
        sc.store.mark_answered("demo:1", "2026-12-07T09:00:00Z", "alice")
        rt = sc.response_times(since=utc(2026, 11, 29), until=utc(2026, 12, 8))
    finally:
        sc.shutdown()
    assert rt.answered == 1
    assert rt.wall_median == 7 * 24 * H - 8 * H
    assert rt.business_median == 2 * H
    result = runner.invoke(
        app, ["--config", str(cfg), "report", "response", "--since", "2026-11-29", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["business_median"] == 2 * H


@pure
def test_sla_notifications_count_business_time() -> None:
    """A 1h SLA from Friday 17:30: breached by Saturday on the wall clock, not in business time."""
    from socialcare.team.notify import sla_events

    created = utc(2026, 12, 4, 17, 30)
    row = {"id": "demo:1", "source": "demo", "intent": "complaint", "text": "help",
           "static_score": 5.0, "sla_due_ts": created.timestamp() + H,
           "created_ts": created.timestamp(), "url": "", "author_handle": "a"}  # fmt: skip
    saturday = utc(2026, 12, 5, 12, 0)
    assert sla_events([row], saturday)[0].kind == "sla_breached"
    (event,) = sla_events([row], saturday, lambda mid: london())
    assert event.kind == "sla_soon"  # 30 business minutes left, on Monday at 08:30
    assert event.sla_left == (utc(2026, 12, 7, 8, 30) - saturday).total_seconds()


def test_report_response_separates_next_responses(tmp_path: Path, database: str) -> None:
    """A customer's follow-up in a conversation already answered is a next response."""
    from socialcare.app import Socialcare
    from socialcare.config import load_config
    from socialcare.models import Mention

    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(db=database, days='monday = "08:00-18:00"'))
    sc = Socialcare(load_config(cfg))
    try:
        first = utc(2026, 11, 30, 9, 0)
        follow = utc(2026, 11, 30, 10, 0)
        sc.store.upsert_mentions(
            [Mention(source="demo", native_id=n, text="help", author_id="u1", author_handle="u1",
                     created_at=t, conversation_id="c1") for n, t in (("1", first), ("2", follow))]
        )  # fmt: skip
        sc.store.mark_answered("demo:1", "2026-11-30T09:20:00Z", "alice")  # 20 min
        sc.store.mark_answered("demo:2", "2026-11-30T10:05:00Z", "alice")  # 5 min
        rt = sc.response_times(since=utc(2026, 11, 29), until=utc(2026, 12, 1))
    finally:
        sc.shutdown()
    assert (rt.answered, rt.wall_median) == (1, 20 * 60)
    assert (rt.next_answered, rt.next_wall_median, rt.next_business_median) == (1, 300, 300)


def test_explain_shows_the_business_time_waiting_term_the_queue_ranks_with(
    tmp_path: Path, database: str
) -> None:
    """With ``[hours]`` (fixed clock: Monday 09:00 in London, GMT) ``explain`` and ``show``
    count the waiting term in business hours, as the queue ranks: the explained total is
    the queue's score for every mention, and Friday 17:00's two business hours are not the
    wall clock's 64."""
    from socialcare.app import Socialcare
    from socialcare.config import Config
    from socialcare.models import Mention
    from socialcare.store import QueueFilter

    monday = utc(2026, 12, 7, 9, 0)
    ages = {"fri": 64 * H, "mon": 0.5 * H, "sun": 24 * H, "old": 200 * H}
    sc = Socialcare(
        Config(
            database=database,
            agent="alice",
            triage={"age_weight": 24.0, "age_cap_hours": 24.0},
            hours={"timezone": "Europe/London", **WEEKDAYS},
        )
    )
    try:
        mentions = [
            Mention(source="demo", native_id=k, text=f"my order {k} never arrived, help",
                    author_id=f"u{k}", author_handle=f"h{k}",
                    created_at=monday - timedelta(seconds=age))
            for k, age in ages.items()
        ]  # fmt: skip
        with sc.store.transaction():
            sc.store.upsert_mentions(mentions)
        sc.retriage()
        now = monday.timestamp()
        rows = sc.queue(QueueFilter(limit=10), now)
        assert len(rows) == 4
        for row in rows:
            _, parts = sc.explain(row["id"], now)
            assert sum(p.contribution for p in parts) == pytest.approx(row["score"])
        waiting = {
            k: next(p for p in sc.explain(f"demo:{k}", now)[1] if p.name == "waiting") for k in ages
        }
        assert waiting["fri"].contribution == pytest.approx(2.0)  # 17-18 Fri, 08-09 Mon
        assert waiting["sun"].contribution == pytest.approx(1.0)
        assert waiting["mon"].contribution == pytest.approx(0.5)
        assert waiting["old"].contribution == pytest.approx(24.0)  # at the cap
        assert "waited 2.0 business hours" in waiting["fri"].detail
        shown = sc.show("demo:fri", online=False)
        line = next(p for p in shown.contributions if p.name == "waiting")
        assert "business hours" in line.detail
    finally:
        sc.shutdown()
