"""The per-mention fast paths of a poll (issue 25) against the slow spelling they replace."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from socialcare.models import to_iso


def _reference_iso(dt: datetime) -> str:
    """``to_iso`` as it was: strftime of the time in UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_ZONES = st.sampled_from(
    [None, timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)


@given(
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=_ZONES)
)
def test_to_iso_matches_strftime(dt: datetime) -> None:
    assert to_iso(dt) == _reference_iso(dt)


def test_to_iso_years_before_1000_and_utc_edges() -> None:
    for dt in (
        datetime(999, 12, 31, 23, 59, 59, tzinfo=timezone.utc),
        datetime(1000, 1, 1, tzinfo=timezone.utc),
        datetime(5, 6, 7, 8, 9, 10, tzinfo=timezone.utc),
        datetime(2026, 12, 3, 9, 8, 7, 654321, tzinfo=timezone.utc),
    ):
        assert to_iso(dt) == _reference_iso(dt)
