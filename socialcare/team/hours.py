"""Business hours: when the team works, and time counted only while it does.

``[hours]`` names a time zone, a weekly schedule (``monday = "08:00-18:00"``,
several ranges as ``"08:00-12:00, 13:00-17:00"``, ``"closed"``; an unlisted day
is closed) and holidays (``"2026-12-25"``). ``[hours.teams.NAME]`` gives a team
its own table (keys it leaves out come from ``[hours]``).

Each open interval is built as local wall-clock times in the zone and then
turned into UTC, so a DST change moves the instants, never the opening time:
08:00 stays 08:00 on both sides of the change. All arithmetic is on aware UTC
datetimes; nothing here reads the clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any, Iterator, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..config import check_keys
from ..errors import ConfigError

__all__ = ["BusinessHours", "HOURS_KEYS", "DAYS", "hours_from_config"]

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: the keys of ``[hours]`` and of each ``[hours.teams.NAME]``
HOURS_KEYS = ("timezone", *DAYS, "holidays", "teams")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
#: the furthest ahead a search for the next open minute looks (a year of holidays is odd, not wrong)
_HORIZON_DAYS = 800


def _clock(hour: str, minute: str, key: str, text: str) -> time | None:
    """A wall-clock time; ``24:00`` is None (the end of the day)."""
    h, m = int(hour), int(minute)
    if (h, m) == (24, 0):
        return None
    if h > 23 or m > 59:
        raise ConfigError(f"{key}: {text!r} is not a time of day (use e.g. 08:00-18:00)")
    return time(h, m)


def _ranges(value: Any, key: str) -> tuple[tuple[time, time | None], ...]:
    if not isinstance(value, str):
        raise ConfigError(f'{key} must be a string like "08:00-18:00" or "closed", got {value!r}')
    if value.strip().lower() in ("closed", ""):
        return ()
    out: list[tuple[time, time | None]] = []
    for part in value.split(","):
        match = _RANGE.match(part)
        if not match:
            raise ConfigError(
                f'{key}: cannot read {part.strip()!r} (use e.g. "08:00-18:00", '
                '"08:00-12:00, 13:00-17:00" or "closed")'
            )
        start = _clock(match.group(1), match.group(2), key, part.strip())
        end = _clock(match.group(3), match.group(4), key, part.strip())
        if start is None or (end is not None and end <= start):
            raise ConfigError(f"{key}: {part.strip()!r} ends before it starts")
        out.append((start, end))
    out.sort()
    for (_, end1), (start2, _) in zip(out, out[1:], strict=False):
        if end1 is None or end1 > start2:
            raise ConfigError(f"{key}: the ranges of {value!r} overlap")
    return tuple(out)


def _holidays(value: Any, key: str) -> frozenset[date]:
    if not isinstance(value, list):
        raise ConfigError(f'{key} must be a list of dates like ["2026-12-25"], got {value!r}')
    out = set()
    for n, item in enumerate(value):
        if isinstance(item, date) and not isinstance(item, datetime):
            out.add(item)  # TOML's own date literal
            continue
        try:
            out.add(date.fromisoformat(str(item)))
        except ValueError:
            raise ConfigError(f"{key}[{n}]: {item!r} is not a date (use YYYY-MM-DD)") from None
    return frozenset(out)


@dataclass(frozen=True)
class BusinessHours:
    """One schedule: the zone, each weekday's open ranges, and the holidays."""

    zone: tzinfo
    week: tuple[tuple[tuple[time, time | None], ...], ...]
    holidays: frozenset[date] = frozenset()
    zone_name: str = "UTC"
    _cache: dict[date, list[tuple[datetime, datetime]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def from_mapping(
        cls, table: Mapping[str, Any], where: str = "hours", base: Mapping[str, Any] | None = None
    ) -> BusinessHours:
        """Read one hours table (``base``: the ``[hours]`` table a team's own falls back to)."""
        check_keys(table, HOURS_KEYS if base is None else HOURS_KEYS[:-1], where)
        merged = {**(base or {}), **table}
        name = merged.get("timezone", "UTC")
        key = f"{where}.timezone" if "timezone" in table or base is None else "hours.timezone"
        if not isinstance(name, str):
            raise ConfigError(f'{key} must be a zone name like "Europe/London", got {name!r}')
        try:
            zone: tzinfo = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{key}: unknown time zone {name!r} (e.g. Europe/London)") from None
        week = tuple(
            _ranges(merged.get(day, "closed"), f"{where if day in table else 'hours'}.{day}")
            for day in DAYS
        )
        if not any(week):
            raise ConfigError(
                f'{where}: no day has opening hours (set e.g. monday = "08:00-18:00")'
            )
        holidays = _holidays(merged.get("holidays", []), f"{where}.holidays")
        return cls(zone, week, holidays, name)

    # -- intervals --------------------------------------------------------------------
    def _day(self, day: date) -> list[tuple[datetime, datetime]]:
        """The UTC open intervals of one local day (none on a holiday)."""
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        out: list[tuple[datetime, datetime]] = []
        if day not in self.holidays:
            for start, end in self.week[day.weekday()]:
                a = datetime.combine(day, start, tzinfo=self.zone)
                b = (
                    datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone)
                    if end is None
                    else datetime.combine(day, end, tzinfo=self.zone)
                )
                out.append((a.astimezone(timezone.utc), b.astimezone(timezone.utc)))
        if len(self._cache) < 4096:
            self._cache[day] = out
        return out

    def _local_date(self, t: datetime) -> date:
        return t.astimezone(self.zone).date()

    def _intervals(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals that end after ``start``, in order (from the day before, for safety)."""
        day = self._local_date(start) - timedelta(days=1)
        for _ in range(_HORIZON_DAYS):
            for a, b in self._day(day):
                if b > start:
                    yield a, b
            day += timedelta(days=1)

    def _intervals_before(self, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals that start before ``end``, newest first (from the day after)."""
        day = self._local_date(end) + timedelta(days=1)
        for _ in range(_HORIZON_DAYS):
            for a, b in reversed(self._day(day)):
                if a < end:
                    yield a, b
            day -= timedelta(days=1)

    # -- questions --------------------------------------------------------------------
    def is_open(self, t: datetime) -> bool:
        """Whether ``t`` is inside business hours."""
        for a, b in self._day(self._local_date(t)):
            if a <= t < b:
                return True
        return False

    def next_open(self, t: datetime) -> datetime | None:
        """``t`` itself when open, else the next opening (None if none within two years)."""
        for a, _ in self._intervals(t):
            return max(a, t)
        return None

    def business_seconds(self, start: datetime, end: datetime) -> float:
        """Seconds of business time between two instants (0 when ``end`` is not after)."""
        if end <= start:
            return 0.0
        total = 0.0
        for a, b in self._intervals(start):
            if a >= end:
                break
            total += (min(b, end) - max(a, start)).total_seconds()
        return total

    def add(self, start: datetime, seconds: float) -> datetime | None:
        """The instant when ``seconds`` of business time have passed since ``start``."""
        left = max(seconds, 0.0)
        for a, b in self._intervals(start):
            begin = max(a, start)
            span = (b - begin).total_seconds()
            if left <= span:
                return begin + timedelta(seconds=left)
            left -= span
        return None

    def spans_back(self, end: datetime, seconds: float) -> list[tuple[datetime, datetime]]:
        """The open time in the last ``seconds`` of business time before ``end``: intervals,
        oldest first, cut at ``end`` (and the oldest at where the total reaches ``seconds``).

        The queue's waiting term counts business seconds from these: a mention created
        before the first one has waited the whole ``seconds`` (the cap). Fewer seconds
        in all when the schedule has less within two years.
        """
        left = max(seconds, 0.0)
        out: list[tuple[datetime, datetime]] = []
        for a, b in self._intervals_before(end):
            if left <= 0:
                break
            b = min(b, end)
            span = (b - a).total_seconds()
            if span >= left:
                a = b - timedelta(seconds=left)
                span = left
            out.append((a, b))
            left -= span
        out.reverse()
        return out

    def local(self, t: datetime) -> datetime:
        """``t`` on the team's wall clock."""
        return t.astimezone(self.zone)


def hours_from_config(
    table: Mapping[str, Any],
) -> tuple[BusinessHours | None, dict[str, BusinessHours]]:
    """``[hours]`` (None when the table is absent: the team works around the clock) and
    its per-team schedules."""
    if not table:
        return None, {}
    default = BusinessHours.from_mapping(table)
    teams_table = table.get("teams", {})
    if not isinstance(teams_table, dict):
        raise ConfigError(f"hours.teams must be a table of [hours.teams.NAME], got {teams_table!r}")
    base = {k: v for k, v in table.items() if k != "teams"}
    teams = {}
    for name, sub in teams_table.items():
        if not isinstance(sub, dict):
            raise ConfigError(f"hours.teams.{name} must be a table, got {sub!r}")
        teams[name] = BusinessHours.from_mapping(sub, f"hours.teams.{name}", base=base)
    return default, teams
