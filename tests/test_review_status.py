"""``status`` warns when a review source with a listing window is polled too rarely.

Google Play lists reviews changed in the last 7 days only (``history_window``).
"""

from __future__ import annotations

from datetime import timedelta

from socialcare.config import Config
from socialcare.models import utcnow
from socialcare.poll import ingest_status
from socialcare.store import Store, ingest

CONFIG = Config(
    database=":memory:",
    agent="alice",
    sources={
        "googleplay": {"packages": ["com.acme.lists"]},
        "appstore": {"apps": ["1234567890"]},
    },
)


def polled(store: Store, source: str, query: str, *days_ago: float) -> None:
    now = utcnow()
    for days in days_ago:
        ingest.add_usage(store, source, query, requests=1, at=now - timedelta(days=days))
    store.record_poll(source, query, items=0, error=None)


def warnings(store: Store, source: str, days_later: float = 0) -> list[str]:
    status = ingest_status(CONFIG, store, now=utcnow() + timedelta(days=days_later))
    [health] = [s for s in status.sources if s.source == source]
    return health.warnings


def test_polls_further_apart_than_seven_days_are_warned_about(store: Store) -> None:
    polled(store, "googleplay", "com.acme.lists", 20, 10, 0)
    [warning] = warnings(store, "googleplay")
    assert "googleplay: polls were 10d0h apart" in warning
    assert "7 days" in warning and "poll googleplay at least every 7 days" in warning


def test_frequent_polls_and_sources_without_a_window_are_quiet(store: Store) -> None:
    polled(store, "googleplay", "com.acme.lists", 20, 15, 10, 5, 0)
    assert warnings(store, "googleplay") == []
    # the App Store lists every review: a pause loses nothing
    polled(store, "appstore", "1234567890", 30, 1)
    assert warnings(store, "appstore") == []


def test_a_last_poll_older_than_the_window_is_warned_about_now(store: Store) -> None:
    polled(store, "googleplay", "com.acme.lists", 3, 0)
    assert warnings(store, "googleplay", days_later=6) == []
    [warning] = warnings(store, "googleplay", days_later=8)
    assert "last successful poll 8d" in warning and "being lost" in warning
