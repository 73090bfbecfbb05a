"""Every time a person types, and every time shown to one: the one rule for time.

* Durations (``30m``, ``2d``, ``1w``) and ISO-8601 times are the accepted forms.
* A naive time (no offset) is read in the agent's zone (config ``timezone``,
  else the machine's real zone, DST rules included, via tzlocal), everywhere:
  ``--since``, ``--until``, ``--at``, snooze ``--until``.
* A naive time that a clock change skips or repeats is refused, with one message.
  :func:`parse_agent_time` is the one reading of a typed clock time;
  :func:`parse_since` (a past bound) and :func:`parse_future` (a schedule) add
  durations around it, so every command reads ``2026-12-01T09:00`` alike.
* Every time shown to a person is :func:`format_local` (``2026-11-23 10:15 GMT``,
  the agent's zone), or :func:`format_relative` (``3h05m ago``, ``in 2d4h``)
  where a table is narrow. JSON and CSV keep UTC ISO-8601 (``models.to_iso``).
* Out-of-range values (``99999999999999w``, year 9999 with an offset) are a
  UsageError, never an OverflowError.

Hand-written on purpose: a 10-line regex covers the durations the CLI accepts,
and ISO-8601 parsing is in the standard library since Python 3.11.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache

from .errors import ConfigError, UsageError
from .models import utcnow

__all__ = [
    "format_age",
    "format_local",
    "format_relative",
    "parse_agent_time",
    "parse_duration",
    "parse_future",
    "parse_since",
    "resolve_tz",
]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@lru_cache(maxsize=1)
def _duration() -> re.Pattern[str]:
    """The duration pattern, compiled when a time is first read (``queue`` without
    ``--since`` reads none)."""
    return re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_duration(text: str, *, what: str = "duration") -> timedelta:
    """``90s``, ``30m``, ``4h``, ``2d``, ``1w`` -> timedelta; anything else is a UsageError."""
    match = _duration().match(text)
    if not match:
        raise UsageError(f"{what}: cannot read {text!r} (use e.g. 30m, 4h, 2d, 1w)")
    try:
        return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2).lower()])
    except OverflowError:
        raise UsageError(f"{what}: {text!r} is too long a time") from None


def _shift(now: datetime, delta: timedelta, text: str, what: str) -> datetime:
    try:
        return now + delta
    except OverflowError:
        raise UsageError(f"{what}: {text!r} is too far from now") from None


def parse_agent_time(text: str, *, tz: str | None = None, what: str = "time") -> datetime:
    """An ISO time typed by the agent, as aware UTC; naive means the agent's zone.

    A naive wall-clock time that does not exist (the clocks jump over it) or
    exists twice (the clocks go back over it) in that zone is refused: Python
    would silently pick one.
    """
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{what}: cannot read {text!r} (use 30m, 2d, 1w or an ISO time like 2026-12-01T09:00)"
        ) from None
    if parsed.tzinfo is None:
        zone = resolve_tz(tz)
        first = parsed.replace(tzinfo=zone, fold=0)
        second = parsed.replace(tzinfo=zone, fold=1)
        if first.utcoffset() != second.utcoffset():
            raise UsageError(
                f"{what}: {text} is skipped or repeated in {zone} (the clocks change then): "
                "pick another time or give an offset"
            )
        parsed = first
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        raise UsageError(f"{what}: {text!r} is out of range") from None


def parse_since(
    text: str, now: datetime | None = None, *, tz: str | None = None, what: str = "--since"
) -> datetime:
    """A duration ago (``7d``) or an ISO time (naive = the agent's zone), as aware UTC."""
    now = now or utcnow()
    if _duration().match(text):
        return _shift(now, -parse_duration(text, what=what), text, what)
    return parse_agent_time(text, tz=tz, what=what)


def format_age(seconds: float) -> str:
    """A compact age: ``45s``, ``12m``, ``3h05m``, ``2d4h``."""
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h"


def resolve_tz(name: str | None) -> tzinfo:
    """The agent's time zone: config's ``timezone``, else the machine's real zone.

    The machine's zone is the named zone (``Europe/London``, from ``TZ`` or
    ``/etc/localtime``) with its DST rules, never today's UTC offset frozen:
    a July time typed in December must still be read as summer time.
    """
    if not name:
        return _machine_zone()
    if name in UTC_NAMES:
        return timezone.utc
    # imported here: zoneinfo (and the sysconfig it reads its path from) cost `queue`,
    # which shows no clock time, a few milliseconds of start-up
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"timezone: unknown time zone {name!r} (e.g. Europe/London)") from None


#: the one short format of every time shown to a person (the zone's abbreviation last)
LOCAL_FORMAT = "%Y-%m-%d %H:%M %Z"


def format_local(dt: datetime, tz_name: str | tzinfo | None = None) -> str:
    """A stored UTC time shown in the agent's zone, e.g. ``2026-11-23 10:15 GMT``."""
    zone = tz_name if isinstance(tz_name, tzinfo) else resolve_tz(tz_name)
    return dt.astimezone(zone).strftime(LOCAL_FORMAT)


def format_relative(dt: datetime, now: datetime | None = None) -> str:
    """A time as an age from now, for narrow tables: ``45s ago``, ``3h05m ago``, ``in 2d4h``.

    No zone is involved, so the same age reads the same for every agent.
    """
    seconds = ((now or utcnow()) - dt).total_seconds()
    if abs(seconds) < 1:
        return "now"
    return f"{format_age(seconds)} ago" if seconds > 0 else f"in {format_age(-seconds)}"


def parse_future(
    text: str, *, tz: str | None = None, now: datetime | None = None, what: str = "time"
) -> datetime:
    """A duration from now (``2d``) or an ISO time (naive = the agent's zone); past is refused.

    The result is also shown back in the agent's zone, so it must be a time
    that zone can display (year 9999 east of UTC is refused here, not later).
    """
    now = now or utcnow()
    if _duration().match(text):
        when = _shift(now, parse_duration(text, what=what), text, what)
    else:
        when = parse_agent_time(text, tz=tz, what=what)
    if when <= now:
        raise UsageError(f"{what}: {text!r} is in the past")
    try:
        when.astimezone(resolve_tz(tz))
        when + timedelta(days=2)  # room for display in any zone and for SLA arithmetic
    except OverflowError:
        raise UsageError(f"{what}: {text!r} is too far in the future") from None
    return when


#: other places tzlocal reads a zone setting from: with any of them there, tzlocal decides
_OTHER_ZONE_SETTINGS = ("system/bin/getprop", "var/db/zoneinfo", "etc/sysconfig/clock",
                        "etc/conf.d/clock")  # fmt: skip


def _linked_zone_name(root: str = "/") -> str | None:
    """The zone ``/etc/localtime`` links to, when that link (and an ``/etc/timezone`` that
    agrees) is the machine's only zone setting; else None, and tzlocal decides.

    It is the name tzlocal finds in that case, without tzlocal's import (logging and
    pathlib) and its probing of shorter and shorter names, which cost ``show`` about
    25 ms of start-up (issue 18 item 7). ``root`` is for tests, as tzlocal's ``_root``.
    """
    if "TZ" in os.environ:
        return None
    if any(os.path.exists(os.path.join(root, other)) for other in _OTHER_ZONE_SETTINGS):
        return None
    link = os.path.join(root, "etc/localtime")
    if not os.path.islink(link):
        return None
    _, found, name = os.path.realpath(link).partition("/zoneinfo/")
    if not found or not name:
        return None
    try:
        with open(os.path.join(root, "etc/timezone"), encoding="ascii") as file:
            written = file.read().strip("/ \t\r\n")
    except FileNotFoundError:
        return name
    except (OSError, UnicodeDecodeError):
        return None
    return name if written in ("", name) else None


#: the tz database's names of UTC itself (no rules, shown as ``UTC``): a cron host's usual
#: zone, read as ``timezone.utc`` without importing zoneinfo and the sysconfig it reads
#: its search path from (~2.5 ms of start-up)
UTC_NAMES = frozenset({"UTC", "Etc/UTC", "UCT", "Etc/UCT", "Universal", "Etc/Universal",
                       "Zulu", "Etc/Zulu"})  # fmt: skip


@lru_cache(maxsize=1)
def _machine_zone() -> tzinfo:
    name = _linked_zone_name()
    if name in UTC_NAMES:
        return timezone.utc
    if name is not None:
        from zoneinfo import ZoneInfo

        try:
            return ZoneInfo(name)
        except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
            pass  # not a zone after all: tzlocal decides
    try:
        import tzlocal

        zone: tzinfo = tzlocal.get_localzone()
        return zone
    except Exception:  # no zone configured at all (a bare container): UTC, not a crash
        return timezone.utc
