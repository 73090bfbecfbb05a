"""Claims and releases are HOT updates on PostgreSQL (m023, issue 25 item 6).

HOT (an update that writes no index entry) needs that no index of ``mentions``
names a column the update changes: a claim writes ``assignee`` and ``claimed_at``.
These tests fail if an index naming either comes back, check that the table of
open, assigned mentions m023's triggers keep (for the loads and ``queue --assignee``,
which ``idx_mentions_open_assigned`` served) follows ``mentions`` exactly, and that
the loads and the assignee's queue stay the same on both backends.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from socialcare import workflow
from socialcare.models import Mention
from socialcare.store import QueueFilter, Store
from socialcare.store import team as store_team

_START = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _mentions(n: int) -> list[Mention]:
    return [
        Mention(
            source="demo",
            native_id=str(i),
            text="my parcel is late",
            created_at=_START + timedelta(minutes=i),
            author_id=f"u{i}",
            author_handle=f"u{i}",
        )
        for i in range(n)
    ]


def _pg_only(store: Store) -> None:
    if store.backend != "postgresql":
        pytest.skip("HOT is PostgreSQL's; SQLite rewrites the row in its B-tree")


def test_no_index_of_mentions_names_a_claimed_column(store: Store) -> None:
    _pg_only(store)
    named = store.conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'mentions' "
        "AND (indexdef ~ '\\massignee\\M' OR indexdef ~ '\\mclaimed_at\\M')"
    ).fetchall()
    assert named == [], named
    options = store.conn.execute(
        "SELECT reloptions FROM pg_class WHERE oid = 'mentions'::regclass"
    ).fetchone()[0]
    assert "fillfactor=90" in options, options


def _updates(store: Store) -> tuple[int, int]:
    """All updates of ``mentions`` so far, and the HOT ones, as the statistics count them."""
    store.conn.execute("SELECT pg_stat_force_next_flush()")  # this backend's, when it idles
    row = store.conn.execute(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'mentions'"
    ).fetchone()
    return int(row[0]), int(row[1])


def test_claims_and_releases_are_hot_updates(store: Store) -> None:
    _pg_only(store)
    store.upsert_mentions(_mentions(20))
    updated, hot = _updates(store)
    for i in range(20):  # each its own transaction, as agents claim: pruning makes room
        workflow.claim(store, f"demo:{i}", ("alice", "bob")[i % 2])
    for i in range(0, 20, 2):
        workflow.release(store, f"demo:{i}", "alice")
    after = _updates(store)
    assert (after[0] - updated, after[1] - hot) == (30, 30)
    assert store_team.open_loads(store) == {"bob": 10}


def _kept(store: Store) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The triggers' table, and what it must hold: ``mentions``' open, assigned rows."""
    kept = store.conn.execute(
        "SELECT mention_id, assignee FROM mentions_open_assigned ORDER BY 1"
    ).fetchall()
    truth = store.conn.execute(
        "SELECT id, assignee FROM mentions WHERE status = 'open' AND assignee IS NOT NULL "
        "ORDER BY 1"
    ).fetchall()
    return [tuple(r) for r in kept], [tuple(r) for r in truth]


def test_the_open_assigned_table_follows_every_change(store: Store) -> None:
    _pg_only(store)
    store.upsert_mentions(_mentions(12))
    workflow.claim(store, "demo:0", "alice")
    workflow.claim(store, "demo:1", "alice")
    workflow.claim(store, "demo:1", "alice")  # again: claimed_at only
    workflow.claim(store, "demo:1", "bob", force=True)  # a steal
    workflow.claim(store, "demo:2", "bob")
    workflow.release(store, "demo:2", "bob")
    workflow.claim(store, "demo:3", "eve")
    workflow.close(store, "demo:3", "eve")  # closed: out, though still assigned
    workflow.claim(store, "demo:4", "eve")
    workflow.close(store, "demo:4", "eve")
    workflow.reopen(store, "demo:4", "eve")  # back in
    workflow.assign(store, "demo:5", "dan", "lead")
    with store.transaction():
        store.set_assignee("demo:6", "alice")
        store.set_assignee("demo:7", "alice")
        store.conn.execute("UPDATE mentions SET assignee = NULL WHERE id = 'demo:7'")
    with pytest.raises(RuntimeError), store.transaction():
        store.set_assignee("demo:8", "zed")
        raise RuntimeError("rolled back: the trigger's row goes with it")
    store.upsert_mentions(_mentions(12))  # a re-poll refreshes rows: assignees are kept
    store.conn.execute("DELETE FROM events WHERE mention_id = 'demo:0'")
    store.conn.execute("DELETE FROM mentions WHERE id = 'demo:0'")
    kept, truth = _kept(store)
    assert kept == truth
    assert truth == [("demo:1", "bob"), ("demo:4", "eve"), ("demo:5", "dan"), ("demo:6", "alice")]
    assert store_team.open_loads(store) == {"bob": 1, "eve": 1, "dan": 1, "alice": 1}
    store.conn.execute("TRUNCATE mentions CASCADE")
    assert _kept(store) == ([], [])


def test_loads_and_assignee_queue_are_the_same_on_both_backends(store: Store) -> None:
    """One grouped read (PostgreSQL) or one count per agent (SQLite): the same loads."""
    store.upsert_mentions(_mentions(300))
    with store.transaction():
        for i in range(0, 300, 7):
            store.set_assignee(f"demo:{i}", ("alice", "bob")[i % 2])
        store.set_status("demo:0", "closed")  # closed: in no load
        store.set_assignee("demo:1", "")  # an empty name is a name of its own
    assert store_team.open_loads(store, ["alice", "bob", "eve"]) == {"alice": 21, "bob": 21}
    assert store_team.open_loads(store, ["bob"]) == {"bob": 21}
    assert store_team.open_loads(store, []) == {}
    assert store_team.open_loads(store) == {"alice": 21, "bob": 21, "": 1}
    now = (_START + timedelta(days=1)).timestamp()
    mine = store.queue(QueueFilter(assignee="bob", limit=100), now, 2.0, 24.0)
    assert sorted(int(r["native_id"]) for r in mine) == list(range(7, 300, 14))
    store.index_ranking = False
    try:
        sorted_ = store.queue(QueueFilter(assignee="bob", limit=5), now, 2.0, 24.0)
    finally:
        store.index_ranking = True
    ranked = store.queue(QueueFilter(assignee="bob", limit=5), now, 2.0, 24.0)
    assert [r["id"] for r in ranked] == [r["id"] for r in sorted_]
