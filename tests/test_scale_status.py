"""Status lines read indexes, not the whole store, and say exactly what the scans said.

``newest_item_ts`` (``status``) and ``first_seen`` (``report spikes``) used a
``GROUP BY source`` over every mention; the backlog cards read every open row's
table page. Each is compared here with that old SQL on the same store (both
backends), including a source with only the brand's own posts, a source whose
oldest instant is shared by two mentions, snoozed and spam mentions; on SQLite
the plans are checked to be index searches (the spike windows a covering one).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from socialcare.models import to_iso
from socialcare.store import Store, ingest
from socialcare.store import reports as q

NOW = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
T = NOW.timestamp()

_INSERT = (
    "INSERT INTO mentions (id, source, native_id, author_key, author_id, text, created_at, "
    "created_ts, fetched_at, status, is_own, intent, snoozed_until, sla_due_ts) "
    "VALUES (?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?)"
)

#: mentions.author_key is a foreign key (m016): each author gets its row first
_AUTHOR = (
    "INSERT INTO authors (id, source, native_id, first_seen, last_seen) VALUES (?, ?, 'a', ?, ?)"
)


def _iso(ts: float) -> str:
    return to_iso(datetime.fromtimestamp(ts, tz=timezone.utc))


def _fill(store: Store) -> None:
    rows = [
        # id, source, age (s), status, own, intent, snoozed
        ("twitter:1", "twitter", 9000, "open", 0, "complaint", False),
        ("twitter:0", "twitter", 9000, "open", 0, "question", False),  # same oldest instant
        ("twitter:2", "twitter", 100, "closed", 0, "other", False),
        ("twitter:3", "twitter", 50, "open", 1, None, False),  # the brand's own: not newest
        ("reddit:1", "reddit", 20000, "open", 0, "complaint", True),  # snoozed: not oldest
        ("reddit:2", "reddit", 7000, "open", 0, "spam", False),  # spam: not backlog
        ("reddit:3", "reddit", 6000, "open", 0, None, False),
        ("own:1", "own", 10, "open", 1, None, False),  # only the brand's posts
    ]
    params = [
        (mid, src, mid.split(":")[1], f"{src}:a", "a", _iso(T - age), T - age, _iso(T), status,
         own, intent, _iso(T + 600) if snoozed else None, T - age + 3600)
        for mid, src, age, status, own, intent, snoozed in rows
    ]  # fmt: skip
    with store.transaction():
        store.conn.executemany(_AUTHOR, sorted({(p[3], p[1], p[7], p[7]) for p in params}))
        store.conn.executemany(_INSERT, params)


def test_newest_and_first_per_source_match_the_group_by(store: Store) -> None:
    assert ingest.newest_item_ts(store) == {} and q.first_seen(store) == {}
    _fill(store)
    old = "SELECT source, {}(created_ts) FROM mentions WHERE is_own = 0 GROUP BY source"
    for extreme, ours in (("max", ingest.newest_item_ts), ("min", q.first_seen)):
        expected = {str(s): float(t) for s, t in store.conn.execute(old.format(extreme)).fetchall()}
        assert ours(store) == expected
    assert ingest.newest_item_ts(store) == {"twitter": T - 100, "reddit": T - 6000}
    assert "own" not in q.first_seen(store)


def test_backlog_cards_match_the_table_scan(store: Store) -> None:
    _fill(store)
    counts, oldest = q.backlog_rows(store, NOW, None)
    assert counts == [("reddit", 2, 1, 2), ("twitter", 2, 0, 2)]
    # the oldest waiting ignores the snoozed one and ties break by the smallest id
    assert oldest == {"reddit": ("reddit:3", T - 6000), "twitter": ("twitter:0", T - 9000)}
    assert q.backlog_rows(store, NOW, "twitter") == (
        [("twitter", 2, 0, 2)],
        {"twitter": ("twitter:0", T - 9000)},
    )


def test_status_lines_are_index_searches_on_sqlite(store: Store) -> None:
    if store.backend != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    _fill(store)
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    try:
        ingest.newest_item_ts(store)
        q.first_seen(store)
        q.backlog_rows(store, NOW, None)
        q.spike_counts(store, T, 3600, 24, None)
    finally:
        store.conn.set_trace_callback(None)
    spikes = [s for s in seen if "idx_mentions_spikes" in s]
    assert spikes, seen
    spike_plan = str(store.conn.execute("EXPLAIN QUERY PLAN " + spikes[-1]).fetchall())
    assert "COVERING INDEX idx_mentions_spikes (is_own=? AND created_ts>?" in spike_plan
    for sql in seen:
        plan = [str(r[-1]) for r in store.conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()]
        scans = [p for p in plan if p.startswith("SCAN m") or p == "SCAN mentions"]
        # the backlog reads m019's backlog index whole (open rows only), never the table
        assert all("COVERING INDEX idx_mentions_open_backlog" in p for p in scans), (sql, plan)
