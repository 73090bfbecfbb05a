"""``db status`` row counts: kept by the store (m019), right after every way rows come and go."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from socialcare.store import Store, open_store
from socialcare.store import kb as kb_sql
from socialcare.store import team as store_team
from socialcare.store.copy import COPY_TABLES, copy_store
from socialcare.store.dialect import SqliteDialect
from socialcare.store.migrations.sqlite import M024_STORE_COUNTED
from socialcare.store.reports import table_sizes
from tests.test_reports import add_mention, add_outbox, at
from tests.test_routing import ingest, mention, settings

TABLES = [t for t, _ in COPY_TABLES]
T0 = at("2026-03-02T09:00:00Z")


def _exact(store: Store) -> dict[str, int]:
    return {t: int(store.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}


def _assert_right(store: Store) -> dict[str, int]:
    counts, estimated = table_sizes(store, TABLES)
    assert estimated == []  # small tables are counted, never estimated
    assert counts == _exact(store)
    return counts


def _fill(store: Store, n: int, prefix: str = "") -> None:
    for i in range(n):
        mid = add_mention(store, f"{prefix}{i}", T0 + timedelta(minutes=i), author=f"a{i % 3}")
        # events are counted by the store's writers (m024): written through one of them
        store.log_event("claim", agent="ann", mention_id=mid)
        if i % 2:
            add_outbox(store, mid, T0 + timedelta(minutes=i, seconds=9), "ann")


def test_counts_follow_inserts_upserts_status_changes_and_deletes(store: Store) -> None:
    assert _assert_right(store)["mentions"] == 0
    _fill(store, 12)
    counts = _assert_right(store)
    assert (counts["mentions"], counts["authors"], counts["events"]) == (12, 3, 12)
    _fill(store, 12)  # the same mentions again: upserts, no new rows
    assert _assert_right(store)["mentions"] == 12
    store.set_status("twitter:3", "closed")
    store.set_status("twitter:4", "spam")
    assert _assert_right(store)["mentions"] == 12
    source = kb_sql.add_source(store, "https://help.example.com", "web")
    assert _assert_right(store)["kb_sources"] == 1
    kb_sql.delete_source(store, source)
    with store.transaction():
        store.conn.execute("DELETE FROM events WHERE action = 'claim' AND mention_id < ?",
                           ["twitter:5"])  # fmt: skip
        store.conn.execute("DELETE FROM outbox")
    counts = _assert_right(store)
    assert counts["kb_sources"] == counts["outbox"] == 0 and counts["events"] < 12


def test_a_rolled_back_insert_leaves_the_count_as_it_was(store: Store) -> None:
    _fill(store, 3)
    with pytest.raises(RuntimeError), store.transaction():
        add_mention(store, "99", T0)
        raise RuntimeError("rolled back")
    assert _assert_right(store)["mentions"] == 3


def test_db_copy_counts_the_rows_it_copies(store: Store, tmp_path: Path) -> None:
    _fill(store, 8)
    target = open_store(tmp_path / "copy.db")
    try:
        _fill(target, 2, prefix="t")  # already has rows of its own
        copy_store(store, target)
        copy_store(store, target)  # again: nothing new, nothing counted twice
        counts = _assert_right(target)
        assert counts["mentions"] == 10
    finally:
        target.close()


@pytest.mark.sqlite_only
def test_a_table_whose_triggers_are_gone_is_counted(store: Store) -> None:
    """A later migration that rebuilds a table drops its triggers: the count must not go stale."""
    _fill(store, 4)
    store.conn.execute("DROP TRIGGER table_rows_mentions_ins")
    add_mention(store, "new", T0)
    kept, _ = store.dialect.kept_row_counts(store.conn, TABLES)
    assert "mentions" not in kept and kept["events"] == 4
    assert _assert_right(store)["mentions"] == 5


@pytest.mark.sqlite_only
def test_db_status_reads_the_counters_not_the_tables(store: Store) -> None:
    """The kept count is what is shown: a stale counter would show (so the test sees it)."""
    _fill(store, 2)
    store.conn.execute("UPDATE table_rows SET n = 1000000 WHERE name = 'mentions'")
    counts, _ = table_sizes(store, TABLES)
    assert counts["mentions"] == 1_000_000 and counts["events"] == 2


def test_postgresql_labels_the_planner_estimates_of_big_tables(store: Store) -> None:
    """Past 10,000 rows PostgreSQL shows reltuples, named in ``estimated``; SQLite stays exact."""
    # events about no mention (events.mention_id is a foreign key since m016)
    rows = [(None, "note", "{}") for _ in range(12_000)]
    with store.transaction():
        store_team.log_route_rows(store, rows, actor="ann")
    store.refresh_statistics()
    counts, estimated = table_sizes(store, TABLES)
    if store.backend == "sqlite":
        assert estimated == [] and counts["events"] == 12_000
    else:
        assert estimated == ["events"] and abs(counts["events"] - 12_000) < 600
    assert {t: n for t, n in counts.items() if t != "events"} == {
        t: n for t, n in _exact(store).items() if t != "events"
    }


def test_routing_and_the_audit_log_keep_their_counts(store: Store) -> None:
    """m024: ``team_routes`` and ``events`` are counted by the statements that insert them,
    on every path that writes them (inline routing, routing after the insert, a second
    insert of a routed mention that ON CONFLICT leaves out, the audit log in and out of a
    transaction, and a rollback)."""
    rs = settings()
    ingest(store, rs, [mention(str(i)) for i in range(7)], inline=True)
    ingest(store, rs, [mention(str(i)) for i in range(7, 12)], inline=False)
    counts = _assert_right(store)
    assert (counts["team_routes"], counts["events"]) == (12, 12)
    with store.transaction():  # a mention routed already: its route is not inserted again
        store_team.add_routes(store, [("demo:3", "all", "care", "bob"), ("nobody", "x", None, "a")])
    assert _assert_right(store)["team_routes"] == 13
    store.log_event("note", agent="ann", mention_id="demo:1")  # its own transaction
    with store.transaction():
        store.log_event("note", agent="ann", mention_id="demo:2")
    with pytest.raises(RuntimeError), store.transaction():
        store.log_event("note", agent="ann", mention_id="demo:2")
        store_team.add_routes(store, [("later", "all", "care", "bob")])
        raise RuntimeError("rolled back")
    assert _assert_right(store)["events"] == 14
    with store.transaction():
        store.conn.execute("DELETE FROM team_routes WHERE mention_id = 'nobody'")
        store.conn.execute("DELETE FROM events WHERE action = 'note'")
    counts = _assert_right(store)
    assert (counts["team_routes"], counts["events"]) == (12, 12)


@pytest.mark.sqlite_only
def test_the_store_counted_tables_keep_only_their_delete_trigger(store: Store) -> None:
    """After m024 their inserts fire no trigger; without the delete trigger (a rebuild
    dropped it) the table is counted, as for m019's tables."""
    triggers = {
        str(r["name"]) for r in store.rows("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    }
    assert set(M024_STORE_COUNTED) == set(SqliteDialect.store_counted)
    for table in M024_STORE_COUNTED:
        assert f"table_rows_{table}_ins" not in triggers
        assert f"table_rows_{table}_del" in triggers
    _fill(store, 3)
    store.conn.execute("DROP TRIGGER table_rows_events_del")
    kept, _ = store.dialect.kept_row_counts(store.conn, TABLES)
    assert "events" not in kept and kept["mentions"] == 3
    store.conn.execute("DELETE FROM events WHERE mention_id = 'twitter:0'")
    assert _assert_right(store)["events"] == 2
