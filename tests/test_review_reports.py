"""The rating section of ``report`` and reviews in first-response time, on hand-computed data.

Period 2026-11-18T00:00Z .. 2026-11-20T12:00Z (2.5 days); the previous period is
the 2.5 days before it. Expected numbers are worked out in the comments.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from socialcare.models import Mention
from socialcare.reports.collect import collect_report
from socialcare.reports.html import render_html
from socialcare.reports.metrics import format_cell
from socialcare.store import Store
from tests.test_reports import UTC, add_mention, add_outbox, at, by_first, params


def review(
    store: Store, source: str, native: str, created: datetime, stars: int, status: str = "open"
) -> str:
    m = Mention(
        source=source,
        native_id=native,
        text=f"{stars} stars",
        created_at=created,
        author_id=f"review:{native}",
        author_handle="",
        kind="review",
        rating=stars,
        updated_at=created,
    )
    store.upsert_mentions([m])
    store.conn.execute(
        "UPDATE mentions SET intent = ?, status = ? WHERE id = ?",
        ["complaint" if stars <= 2 else "praise", status, m.id],
    )
    return m.id


def seed(store: Store) -> dict[str, str]:
    ids = {
        # this period: App Store 5, 1, 3 (average 3.0); Google Play 2 (average 2.0)
        "r1": review(store, "appstore", "r1", at("2026-11-19T10:00:00Z"), 5),
        "r2": review(store, "appstore", "r2", at("2026-11-19T12:00:00Z"), 1),
        "r3": review(store, "appstore", "r3", at("2026-11-20T09:00:00Z"), 3),
        "g1": review(store, "googleplay", "g1", at("2026-11-18T08:00:00Z"), 2),
        # previous period: App Store 4 and 5 (average 4.5)
        "p1": review(store, "appstore", "p1", at("2026-11-17T10:00:00Z"), 4),
        "p2": review(store, "appstore", "p2", at("2026-11-16T10:00:00Z"), 5),
    }
    review(store, "appstore", "old", at("2026-11-10T10:00:00Z"), 1)  # before both periods
    review(store, "appstore", "spam", at("2026-11-19T10:00:00Z"), 1, status="spam")
    add_mention(store, "t1", at("2026-11-19T10:00:00Z"), intent="complaint")  # no rating
    return ids


def test_average_distribution_and_change_per_source(store: Store) -> None:
    seed(store)
    rows = by_first(collect_report(store, params()).table("ratings").records())
    assert list(rows) == ["all", "appstore", "googleplay"]
    everything = rows["all"]
    assert everything["reviews"] == 4 and everything["average"] == pytest.approx(11 / 4)
    assert [everything[f"stars_{s}"] for s in range(1, 6)] == [1, 1, 1, 0, 1]
    assert (everything["previous_reviews"], everything["previous_average"]) == (2, 4.5)
    assert everything["average_change"] == pytest.approx(2.75 - 4.5)
    assert rows["appstore"]["average"] == 3.0
    assert rows["appstore"]["average_change"] == pytest.approx(-1.5)
    play = rows["googleplay"]
    assert (play["average"], play["previous_reviews"], play["previous_average"]) == (2.0, 0, None)
    assert play["average_change"] is None


def test_per_day_trend_and_one_source(store: Store) -> None:
    seed(store)
    trend = by_first(collect_report(store, params()).table("rating_trend").records())
    assert trend["2026-11-18"] == {
        "day": "2026-11-18",
        "reviews": 1,
        "average": 2.0,
        "low_rate": 1.0,
    }
    assert trend["2026-11-19"]["reviews"] == 2 and trend["2026-11-19"]["low_rate"] == 0.5
    assert trend["2026-11-20"]["average"] == 3.0
    only = by_first(collect_report(store, params(source="googleplay")).table("ratings").records())
    assert list(only) == ["all", "googleplay"] and only["all"]["reviews"] == 1


def test_replies_to_reviews_count_in_first_response_time(store: Store) -> None:
    ids = seed(store)
    # r2: replied through socialcare after 30 minutes; r1: answered natively after 2 hours
    add_outbox(store, ids["r2"], at("2026-11-19T12:30:00Z"), "alice", source="appstore")
    store.mark_answered(ids["r1"], "2026-11-19T12:00:00Z", "@developer")
    rows = by_first(
        collect_report(store, params(source="appstore")).table("first_response").records()
    )
    assert rows["all"]["answered"] == 2
    assert rows["all"]["median_seconds"] == pytest.approx((1800 + 7200) / 2)
    assert rows["complaint"]["median_seconds"] == 1800


def test_no_reviews_means_empty_rating_tables(store: Store) -> None:
    add_mention(store, "t1", at("2026-11-19T10:00:00Z"), intent="complaint")
    report = collect_report(store, params())
    assert report.table("ratings").rows == [] and report.table("rating_trend").rows == []


def test_rating_tables_render_in_json_html_and_cells(store: Store) -> None:
    seed(store)
    report = collect_report(store, params())
    doc: dict[str, Any] = json.loads(json.dumps(report.to_json()))
    assert doc["tables"]["ratings"]["rows"][0]["average_change"] == pytest.approx(-1.75)
    page = render_html(report, UTC)
    assert 'id="ratings"' in page and 'id="rating_trend"' in page
    assert format_cell("average_change", -1.75) == "-1.75"
    assert format_cell("average_change", 0.5) == "+0.50"
    assert format_cell("low_rate", 0.5) == "50.0%"


def test_rating_tables_render_in_the_terminal(store: Store) -> None:
    from rich.console import Console

    from socialcare.commands.reports import _rich_table

    seed(store)
    report = collect_report(store, params())
    console = Console(width=160, record=True, color_system=None)
    console.print(_rich_table(report.table("ratings"), 160))
    out = console.export_text()
    assert "Star ratings per source" in out and "-1.75" in out and "2.75" in out
