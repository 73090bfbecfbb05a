"""The one rule for time: naive = the agent's zone everywhere, clock-change times refused,
out-of-range values a usage error, and the machine's zone a real zone (not a frozen offset)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from socialcare import timeutil
from socialcare.errors import UsageError
from socialcare.models import to_iso

pytestmark = pytest.mark.store_free

LONDON = "Europe/London"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def test_naive_times_are_read_in_the_agents_zone_for_since_and_future() -> None:
    # July: London is on BST (UTC+1), even though today (December) it is on GMT
    assert to_iso(timeutil.parse_since("2026-07-01T09:00", NOW, tz=LONDON)) == (
        "2026-07-01T08:00:00Z"
    )
    assert to_iso(timeutil.parse_future("2027-07-01T09:00", tz=LONDON, now=NOW)) == (
        "2027-07-01T08:00:00Z"
    )
    # an explicit offset wins over the zone
    assert to_iso(timeutil.parse_since("2026-07-01T09:00+02:00", NOW, tz=LONDON)) == (
        "2026-07-01T07:00:00Z"
    )


@pytest.mark.parametrize(
    "text",
    ["2027-03-28T01:30", "2027-10-31T01:30"],  # skipped (spring) and repeated (autumn)
)
def test_clock_change_times_are_refused_with_one_message(text: str) -> None:
    for parse in (
        lambda: timeutil.parse_future(text, tz=LONDON, now=NOW),
        lambda: timeutil.parse_since(text, NOW, tz=LONDON),
    ):
        with pytest.raises(UsageError, match="skipped or repeated in Europe/London"):
            parse()


@pytest.mark.parametrize(
    "call",
    [
        lambda: timeutil.parse_since("99999999999999w", NOW),
        lambda: timeutil.parse_since("9999-12-31T23:59:59-01:00", NOW),
        lambda: timeutil.parse_since("99999999999d", NOW),
        lambda: timeutil.parse_future("99999999999w", now=NOW),
        lambda: timeutil.parse_future("9999999999999d", now=NOW),
        lambda: timeutil.parse_future("9999-12-31T23:59", tz="Asia/Tokyo", now=NOW),
        lambda: timeutil.parse_duration("1" * 400 + "s"),
    ],
)
def test_out_of_range_times_are_usage_errors(call: object) -> None:
    with pytest.raises(UsageError):
        call()  # type: ignore[operator]


def test_the_machine_zone_is_a_real_zone_with_dst(monkeypatch: pytest.MonkeyPatch) -> None:
    import tzlocal

    monkeypatch.setenv("TZ", LONDON)
    tzlocal.reload_localzone()
    timeutil._machine_zone.cache_clear()
    try:
        july = timeutil.parse_future("2027-07-01T09:00", now=NOW)
        assert to_iso(july) == "2027-07-01T08:00:00Z"  # BST, not December's GMT offset
        with pytest.raises(UsageError, match="skipped or repeated"):
            timeutil.parse_future("2027-03-28T01:30", now=NOW)
    finally:
        monkeypatch.undo()
        tzlocal.reload_localzone()
        timeutil._machine_zone.cache_clear()


def test_the_machine_zone_without_tzlocal_is_the_zone_tzlocal_finds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tzlocal

    monkeypatch.delenv("TZ", raising=False)
    name = timeutil._linked_zone_name()
    if name is not None:  # this machine's /etc/localtime is a link: the same zone
        assert name == tzlocal.unix._get_localzone_name()
    monkeypatch.setenv("TZ", LONDON)  # TZ is tzlocal's to read
    assert timeutil._linked_zone_name() is None


def test_a_linked_zone_is_read_only_when_nothing_else_names_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tzlocal

    monkeypatch.delenv("TZ", raising=False)
    zone = tmp_path / "usr/share/zoneinfo/Europe/London"
    zone.parent.mkdir(parents=True)
    zone.write_bytes(b"TZif")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/localtime").symlink_to(zone)
    root = str(tmp_path)
    assert timeutil._linked_zone_name(root) == "Europe/London"
    assert tzlocal.unix._get_localzone_name(root) == "Europe/London"
    (tmp_path / "etc/timezone").write_text("Europe/London\n")
    assert timeutil._linked_zone_name(root) == "Europe/London"
    (tmp_path / "etc/timezone").write_text("Europe/Paris\n")  # they disagree: tzlocal's call
    assert timeutil._linked_zone_name(root) is None
    (tmp_path / "etc/timezone").unlink()
    (tmp_path / "etc/conf.d").mkdir()
    (tmp_path / "etc/conf.d/clock").write_text('TIMEZONE="Europe/Paris"\n')
    assert timeutil._linked_zone_name(root) is None
    (tmp_path / "etc/conf.d/clock").unlink()
    (tmp_path / "etc/localtime").unlink()
    (tmp_path / "etc/localtime").write_bytes(b"TZif")  # a copy, not a link
    assert timeutil._linked_zone_name(root) is None


def _machine_zone_probe(line: str) -> str:
    """What ``line`` prints after a fresh interpreter (no ``TZ``) read the machine's zone."""
    code = f"import sys\nfrom socialcare import timeutil\nzone = timeutil._machine_zone()\n{line}\n"
    env = {k: v for k, v in os.environ.items() if k != "TZ"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_show_reads_the_machine_zone_without_importing_tzlocal() -> None:
    line = "print(timeutil._linked_zone_name() is None or 'tzlocal' not in sys.modules)"
    assert _machine_zone_probe(line) == "True"


@pytest.mark.parametrize("name", sorted(timeutil.UTC_NAMES))
def test_the_names_of_utc_read_and_show_as_zoneinfo_would(name: str) -> None:
    """A UTC name is ``timezone.utc`` (no zoneinfo import), which shows and parses times
    exactly as that name's ZoneInfo does."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(name)
    assert timeutil.resolve_tz(name) is timezone.utc
    for when in (NOW, datetime(2026, 7, 1, 3, 30, tzinfo=timezone.utc)):
        assert timeutil.format_local(when, name) == when.astimezone(zone).strftime(
            timeutil.LOCAL_FORMAT
        )
        naive = when.replace(tzinfo=None).isoformat()
        assert timeutil.parse_agent_time(naive, tz=name) == when.replace(tzinfo=zone)


def test_a_utc_machine_zone_needs_no_zoneinfo() -> None:
    line = "print(timeutil._linked_zone_name() in timeutil.UTC_NAMES, 'zoneinfo' in sys.modules)"
    linked_utc, loaded = _machine_zone_probe(line).split()
    assert not (linked_utc == "True" and loaded == "True")
