"""Durations (``30m``, ``2d``, ``1w``), "since" times and human-friendly ages.

Hand-written on purpose: a 10-line regex covers the formats the CLI accepts,
and ISO-8601 parsing is in the standard library since Python 3.11.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError, UsageError
from .models import parse_iso, utcnow

__all__ = ["parse_duration", "parse_since", "format_age", "format_local", "resolve_tz"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_duration(text: str, *, what: str = "duration") -> timedelta:
    """``90s``, ``30m``, ``4h``, ``2d``, ``1w`` -> timedelta; anything else is a UsageError."""
    match = _DURATION.match(text)
    if not match:
        raise UsageError(f"{what}: cannot read {text!r} (use e.g. 30m, 4h, 2d, 1w)")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2).lower()])


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """A duration ago (``7d``) or an ISO time (``2026-11-01`` or with time and offset)."""
    now = now or utcnow()
    if _DURATION.match(text):
        return now - parse_duration(text, what="--since")
    try:
        return parse_iso(text)
    except ValueError:
        raise UsageError(f"--since: cannot read {text!r} (use 7d, 12h or an ISO time)") from None


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


def resolve_tz(name: str | None) -> timezone | ZoneInfo:
    """The display time zone: config's ``timezone`` or the machine's local zone."""
    if not name:
        local = datetime.now().astimezone().tzinfo
        return local if isinstance(local, (timezone, ZoneInfo)) else timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"timezone: unknown time zone {name!r} (e.g. Europe/London)") from None


def format_local(dt: datetime, tz_name: str | None = None) -> str:
    """A stored UTC time shown in the agent's zone, e.g. ``2026-11-23 10:15 GMT``."""
    return dt.astimezone(resolve_tz(tz_name)).strftime("%Y-%m-%d %H:%M %Z")


def parse_future(text: str, *, tz: str | None = None, now: datetime | None = None) -> datetime:
    """A duration from now (``2d``) or an ISO time (naive = the agent's zone); past is refused."""
    now = now or utcnow()
    if _DURATION.match(text):
        when = now + parse_duration(text, what="time")
    else:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(
                f"cannot read the time {text!r} (use 30m, 2d, 1w or 2026-12-01T09:00)"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=resolve_tz(tz))
        when = parsed.astimezone(timezone.utc)
    if when <= now:
        raise UsageError(f"the time {text!r} is in the past")
    return when
