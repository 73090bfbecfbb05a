"""Property: the index-ranked queue returns exactly what sorting every open mention returns.

``Store._rank`` reads the top of the open queue from index ranges (a probe for
a score floor, then only rows that can reach it, per hour of creation). The
reference is the same query with ``index_ranking`` off: one ORDER BY over
every matching row. Random stores mix mentions older than the cap, young ones
spread over the cap's hours, future ones (clock skew), ties (a few discrete
static scores), snoozes, assignees and the brand's own posts; random settings
vary the weight, the cap (down to a fraction of an hour, up to weeks) and the
filters. Rows, scores, ages and order must be identical, on both backends.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcare.models import to_iso
from socialcare.store import QueueFilter, Store


@pytest.fixture(autouse=True)
def _always_ranged(monkeypatch: pytest.MonkeyPatch) -> None:
    """These stores are small: rank them from index ranges as a large store is ranked."""
    monkeypatch.setattr(Store, "plain_rank_rows", 0)


NOW = 1_796_000_000.0  # 2026-11-30T...Z, an arbitrary fixed "now"

_INSERT = (
    "INSERT INTO mentions (id, source, native_id, author_key, author_id, text, created_at, "
    "created_ts, fetched_at, status, is_own, static_score, sla_due_ts, snoozed_until, assignee, "
    "intent) VALUES (?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
#: mentions.author_key is a foreign key (m016): each author gets its row first
_AUTHOR = (
    "INSERT INTO authors (id, source, native_id, first_seen, last_seen) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (id) DO NOTHING"
)

row_st = st.tuples(
    st.one_of(  # age in hours: old, young, exactly on the cap, in the future
        st.floats(-3, 400, allow_nan=False),
        st.sampled_from([0.0, 1.0, 24.0, 23.999, -0.5]),
    ),
    st.one_of(st.sampled_from([0.0, 2.5, 3.0, 5.5, -10.0]), st.floats(-12, 12)),
    st.sampled_from(["open", "open", "open", "closed", "replied"]),
    st.sampled_from(["demo", "rss"]),
    st.sampled_from([None, None, "alice"]),
    st.booleans(),  # snoozed (until after now)
    st.integers(0, 9),  # is_own 1 one time in ten
    st.sampled_from([None, 3600.0, -60.0]),  # SLA due, relative to now
)


def _fill(store: Store, rows: list[tuple[Any, ...]]) -> None:
    store.conn.execute("DELETE FROM mentions")
    params = []
    for i, (age_h, static, status, source, assignee, snoozed, own, sla) in enumerate(rows):
        created = NOW - age_h * 3600.0
        params.append(
            (
                f"{source}:{i}",
                source,
                str(i),
                f"{source}:u{i % 7}",
                f"u{i % 7}",
                to_iso_ts(created),
                created,
                to_iso_ts(NOW),
                status,
                1 if own == 0 else 0,
                static,
                None if sla is None else NOW + sla,
                to_iso_ts(NOW + 600) if snoozed else None,
                assignee,
                "complaint" if i % 3 else "question",
            )
        )
    with store.transaction():
        store.conn.executemany(_AUTHOR, sorted({(p[3], p[1], p[4], p[7], p[7]) for p in params}))
        store.conn.executemany(_INSERT, params)


def to_iso_ts(ts: float) -> str:
    from datetime import datetime, timezone

    return to_iso(datetime.fromtimestamp(ts, tz=timezone.utc))


def _both(
    store: Store,
    flt: QueueFilter,
    weight: float,
    cap: float,
    spans: list[tuple[float, float]] | None = None,
) -> tuple[list, list]:
    """The queue ranked from index ranges, and by the full sort it must equal."""
    fast = store.queue(flt, NOW, weight, cap, business=spans)
    store.index_ranking = False
    try:
        reference = store.queue(flt, NOW, weight, cap, business=spans)
    finally:
        store.index_ranking = True
    return fast, reference


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(row_st, min_size=0, max_size=120),
    weight=st.sampled_from([0.0, 2.0, 0.3, 25.0]),
    cap=st.sampled_from([24.0, 0.25, 1.0, 200.0, 5000.0]),
    limit=st.integers(1, 30),
    status=st.sampled_from(["open", "snoozed"]),
    source=st.sampled_from([None, "demo"]),
    assignee=st.sampled_from([None, "alice"]),
    min_score=st.sampled_from([None, 3.0]),
    since_h=st.sampled_from([None, 30.0]),
)
def test_index_ranking_matches_the_full_sort(
    store: Store,
    rows: list[tuple[Any, ...]],
    weight: float,
    cap: float,
    limit: int,
    status: str,
    source: str | None,
    assignee: str | None,
    min_score: float | None,
    since_h: float | None,
) -> None:
    _fill(store, rows)
    flt = QueueFilter(
        status=status,
        source=source,
        assignee=assignee,
        min_score=min_score,
        since_ts=None if since_h is None else NOW - since_h * 3600,
        limit=limit,
    )
    fast, reference = _both(store, flt, weight, cap)
    assert fast == reference


@pytest.mark.parametrize("weight", [2.0, 0.0])
def test_young_mentions_overtake_by_waiting_and_ties_break_by_rowid(
    store: Store, weight: float
) -> None:
    """A hand-made case: the expected order is written out, not just compared."""
    rows = [
        (30.0, 3.0, "open", "demo", None, False, 5, None),  # old: 3 + w
        (12.0, 4.0, "open", "demo", None, False, 5, None),  # half the cap: 4 + w/2
        (0.0, 4.5, "open", "demo", None, False, 5, None),  # fresh: 4.5
        (30.0, 3.0, "open", "demo", None, False, 5, None),  # ties the first one
        (-1.0, 6.0, "open", "demo", None, False, 5, None),  # future: 6
        (50.0, 9.0, "closed", "demo", None, False, 5, None),  # not open
    ]
    _fill(store, rows)
    fast, reference = _both(store, QueueFilter(limit=4), weight, 24.0)
    assert fast == reference
    expected = ["demo:4", "demo:0", "demo:1", "demo:3"] if weight else [
        "demo:4", "demo:2", "demo:1", "demo:0"
    ]  # fmt: skip
    assert [r["id"] for r in fast] == expected
    if weight:
        assert [r["score"] for r in fast] == [6.0, 5.0, 5.0, 5.0]


def test_the_ranking_reads_index_ranges_not_a_sort_of_every_open_row(store: Store) -> None:
    """On SQLite the plan of the young-hour branches is a range of the open-by-hour index."""
    if store.backend != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    _fill(store, [(h * 0.7, float(h % 9), "open", "demo", None, False, 5, None) for h in range(80)])
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    try:
        store.queue(QueueFilter(limit=10), NOW, 2.0, 24.0)
    finally:
        store.conn.set_trace_callback(None)
    final = [s for s in seen if "UNION ALL" in s]
    assert final, seen
    plan = " | ".join(
        str(r[-1]) for r in store.conn.execute("EXPLAIN QUERY PLAN " + final[-1]).fetchall()
    )
    assert "idx_mentions_open_hour (<expr>=? AND static_score>?)" in plan, plan
    assert "idx_mentions_open_queue (static_score>?)" in plan, plan


@pytest.mark.parametrize("cut, ranged", [(10, False), (9, True), (0, True)])
def test_a_small_queue_is_sorted_and_a_large_one_ranged_with_the_same_result(
    store: Store, monkeypatch: pytest.MonkeyPatch, cut: int, ranged: bool
) -> None:
    """SQLite sorts a queue of at most ``plain_rank_rows`` rows of its status (cheaper than
    preparing the ranged statement) and ranges a larger one; both rank alike."""
    if store.backend != "sqlite":
        pytest.skip("PostgreSQL always runs its own prepared ranking statement")
    rows = [(h * 3.0, float(h % 4), "open", "demo", None, False, 5, None) for h in range(10)]
    _fill(store, rows + [(1.0, 9.0, "closed", "demo", None, False, 5, None)])
    monkeypatch.setattr(Store, "plain_rank_rows", cut)
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    try:
        got = store.queue(QueueFilter(limit=5), NOW, 2.0, 24.0)
    finally:
        store.conn.set_trace_callback(None)
    assert any("UNION ALL" in s for s in seen) == ranged, seen
    store.index_ranking = False
    try:
        reference = store.queue(QueueFilter(limit=5), NOW, 2.0, 24.0)
    finally:
        store.index_ranking = True
    assert [(r["id"], r["score"]) for r in got] == [(r["id"], r["score"]) for r in reference]
    assert len(got) == 5


# -- business time ([hours]): the waiting term counts only open hours ---------------------
def _spans(schedule: str, cap: float, now: float = NOW) -> list[tuple[float, float]]:
    from datetime import datetime, timezone

    from socialcare.team.hours import BusinessHours

    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    table: dict[str, Any] = {"timezone": "Europe/London"}
    table.update({d: schedule for d in days[:5]})
    hours = BusinessHours.from_mapping(table)
    spans = hours.spans_back(datetime.fromtimestamp(now, tz=timezone.utc), cap * 3600.0)
    return [(a.timestamp(), b.timestamp()) for a, b in spans]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(row_st, min_size=0, max_size=120),
    weight=st.sampled_from([2.0, 0.3, 25.0]),
    cap=st.sampled_from([24.0, 0.25, 1.0, 200.0]),
    schedule=st.sampled_from(["08:00-18:00", "09:00-12:00, 13:00-17:30", "00:00-24:00"]),
    limit=st.integers(1, 30),
    status=st.sampled_from(["open", "snoozed"]),
    min_score=st.sampled_from([None, 3.0]),
)
def test_business_time_ranking_matches_the_full_sort(
    store: Store,
    rows: list[tuple[Any, ...]],
    weight: float,
    cap: float,
    schedule: str,
    limit: int,
    status: str,
    min_score: float | None,
) -> None:
    _fill(store, rows)
    spans = _spans(schedule, cap)
    flt = QueueFilter(status=status, min_score=min_score, limit=limit)
    fast, reference = _both(store, flt, weight, cap, spans)
    assert fast == reference


def test_business_time_waiting_counts_only_open_hours(store: Store) -> None:
    """Monday 09:00 in London (GMT): a mention from Friday 17:00 has waited two business
    hours, one from Monday 08:30 half an hour, one from Sunday one hour (Monday's)."""
    from datetime import datetime, timezone

    monday = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc).timestamp()
    ages = {"fri": monday - 64 * 3600.0, "mon": monday - 1800.0, "sun": monday - 86400.0}
    params = [
        (f"demo:{k}", "demo", k, "demo:u", "u", to_iso_ts(ts), ts, to_iso_ts(monday), "open", 0,
         3.0, None, None, None, "complaint")
        for k, ts in ages.items()
    ]  # fmt: skip
    with store.transaction():
        store.conn.execute(_AUTHOR, ("demo:u", "demo", "u", to_iso_ts(monday), to_iso_ts(monday)))
        store.conn.executemany(_INSERT, params)
    spans = _spans("08:00-18:00", 24.0, monday)
    assert sum(b - a for a, b in spans) == 24 * 3600.0
    for ranking in (True, False):
        store.index_ranking = ranking
        try:
            rows = store.queue(QueueFilter(), monday, 24.0, 24.0, business=spans)
        finally:
            store.index_ranking = True
        # weight 24 over a 24h cap: one point per business hour waited
        assert [(r["id"], r["score"]) for r in rows] == [
            ("demo:fri", 5.0), ("demo:sun", 4.0), ("demo:mon", 3.5)
        ]  # fmt: skip
    wall = store.queue(QueueFilter(), monday, 24.0, 24.0)
    assert [r["score"] for r in wall] == [27.0, 27.0, 3.5]  # wall clock: both at the cap
