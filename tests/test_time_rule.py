"""The one rule for time (issue 18 item 4), through every command that takes a time.

A naive time the agent types is read in the configured ``timezone`` by every
command (``queue --since`` once read it as UTC, ``export --since`` as the
machine's zone), and a time that a clock change skips or repeats is refused by
every command with the same message (``snooze`` once accepted what follow-ups
refused). Times shown to people are in that zone in one format; JSON keeps UTC.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socialcare import timeutil
from socialcare.cli import app
from socialcare.models import to_iso

runner = CliRunner()
LONDON = "Europe/London"
#: skipped in London: the clocks jump from 01:00 to 02:00 on 28 March 2027
SKIPPED = "2027-03-28T01:30"
#: repeated in London: the clocks go back from 02:00 to 01:00 on 31 October 2027
REPEATED = "2027-10-31T01:30"
#: an ordinary summer time: 09:00 BST is 08:00 UTC (the machine's zone is not London)
SUMMER = "2027-07-01T09:00"
REFUSED = "is skipped or repeated in Europe/London (the clocks change then): pick another time"

#: every command that takes a time the agent types, with TIME where the time goes
TIME_COMMANDS = {
    "queue --since": ["queue", "--since", "TIME"],
    "export --since": ["export", "mentions", "--since", "TIME"],
    "export --until": ["export", "mentions", "--until", "TIME"],
    "report --since": ["report", "--since", "TIME", "--until", "2028-01-01T00:00Z"],
    "report --until": ["report", "--until", "TIME"],
    "kb report --since": ["kb", "report", "--since", "TIME"],
    "snooze --until": ["snooze", "demo:1001", "--until", "TIME"],
    "followup add --at": ["followup", "add", "demo:1002", "--at", "TIME", "--text", "All good?"],
    "followup edit --at": ["followup", "edit", "FOLLOWUP", "--at", "TIME"],
    "post add --at": ["post", "add", "-s", "demo", "--at", "TIME", "--text", "We're back"],
    "work (snooze)": ["work"],
}


@pytest.fixture
def london(tmp_path: Path, isolated_home: Path) -> Path:
    """A polled demo store whose agent works in London, with one follow-up to edit."""
    path = tmp_path / "config.toml"
    assert runner.invoke(app, ["--config", str(path), "init"]).exit_code == 0
    path.write_text(f'timezone = "{LONDON}"\n' + path.read_text(encoding="utf-8"), "utf-8")
    assert runner.invoke(app, ["--config", str(path), "poll", "--quiet"]).exit_code == 0
    made = runner.invoke(
        app, ["--config", str(path), "followup", "add", "demo:1003", "--in", "2d", "--text", "Hi"]
    )
    assert made.exit_code == 0, made.output
    return path


def _invoke(cfg: Path, name: str, when: str) -> tuple[int, str]:
    argv = ["1" if a == "FOLLOWUP" else when if a == "TIME" else a for a in TIME_COMMANDS[name]]
    if name == "followup edit --at":
        listed = runner.invoke(app, ["--config", str(cfg), "followup", "list", "--json"])
        argv[2] = str(json.loads(listed.output)[0]["id"])
    # the work loop: snooze the top mention until WHEN, then quit
    typed = f"z\n{when}\nq\n" if name == "work (snooze)" else None
    result = runner.invoke(app, ["--config", str(cfg), *argv], input=typed)
    return result.exit_code, result.output


@pytest.mark.parametrize("name", list(TIME_COMMANDS))
@pytest.mark.parametrize("when", [SKIPPED, REPEATED])
def test_a_clock_change_time_is_refused_by_every_command_alike(
    london: Path, name: str, when: str
) -> None:
    code, out = _invoke(london, name, when)
    flat = " ".join(out.split())
    assert f"{when} {REFUSED}" in flat, out
    if name != "work (snooze)":  # the work loop says so and stays on the prompt
        assert code == 2, out
        assert flat.count("Error:") == 1


@pytest.mark.parametrize("name", list(TIME_COMMANDS))
def test_a_naive_time_is_read_in_the_agents_zone_by_every_command(
    london: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[tuple[str, str | None, str]] = []
    real = timeutil.parse_agent_time

    def spy(text: str, *, tz: str | None = None, what: str = "time"):  # type: ignore[no-untyped-def]
        when = real(text, tz=tz, what=what)
        read.append((text, tz, to_iso(when)))
        return when

    monkeypatch.setattr(timeutil, "parse_agent_time", spy)
    code, out = _invoke(london, name, SUMMER)
    assert code == 0, out
    # the one reading of a clock time, in the configured zone: 09:00 BST is 08:00 UTC
    assert [r for r in read if r[0] == SUMMER] == [(SUMMER, LONDON, "2027-07-01T08:00:00Z")], out
    assert all(tz == LONDON for _, tz, _ in read)


def test_a_snoozed_time_is_shown_in_the_agents_zone_and_json_keeps_utc(london: Path) -> None:
    result = runner.invoke(app, ["--config", str(london), "snooze", "demo:1001", "--until", SUMMER])
    assert result.exit_code == 0, result.output
    assert "snoozed until 2027-07-01 09:00 BST" in result.output
    log = runner.invoke(app, ["--config", str(london), "log", "--mention", "demo:1001"])
    assert "until 2027-07-01 09:00 BST" in log.output  # the detail, in words, in London time
    events = json.loads(
        runner.invoke(
            app, ["--config", str(london), "log", "--json", "--mention", "demo:1001"]
        ).output
    )
    assert events[0]["detail"] == {"until": "2027-07-01T08:00:00Z"}
    assert events[0]["at"].endswith("Z")


def test_stored_times_are_shown_in_one_local_format_everywhere(london: Path) -> None:
    def out(*argv: str) -> str:
        result = runner.invoke(app, ["--config", str(london), *argv])
        assert result.exit_code == 0, result.output
        return result.output

    runner.invoke(app, ["--config", str(london), "note", "demo:1001", "checked with billing"])
    shown = {
        "log": out("log"),
        "outbox": out("outbox"),
        "customer show": out("customer", "show", "demo:1001"),
        "show": out("show", "demo:1001", "--offline"),
        "followup list": out("followup", "list"),
    }
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d (GMT|BST)"
    import re

    for name, text in shown.items():
        assert re.search(stamp, text), (name, text)
        assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", text), (name, text)


@pytest.mark.store_free
def test_relative_ages_read_both_ways() -> None:
    from datetime import datetime, timedelta, timezone

    now = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    assert timeutil.format_relative(now - timedelta(minutes=185), now) == "3h05m ago"
    assert timeutil.format_relative(now + timedelta(days=2, hours=4), now) == "in 2d4h"
    assert timeutil.format_relative(now, now) == "now"
    assert timeutil.format_local(now, LONDON) == "2026-12-01 12:00 GMT"
