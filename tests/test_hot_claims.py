"""m017: a claim's UPDATE is a HOT update on PostgreSQL (issue 25 item 6), same answers on both.

PostgreSQL updates a row without new index entries only when the update changes
no indexed column; these pin that no index of ``mentions`` holds what a claim
writes, that claims and releases really are HOT, and that a store migrated with
data in it ranks, counts and claims as it did before.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from socialcare import workflow
from socialcare.models import Mention
from socialcare.store import QueueFilter, Store, open_store
from socialcare.store import team as store_team
from socialcare.store.migrations import postgres as pg_migrations
from socialcare.store.migrations import sqlite as sqlite_migrations
from socialcare.store.migrations.postgres import CLAIM_WRITES

_START = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _mentions(n: int, authors: int = 40) -> list[Mention]:
    return [
        Mention(
            source="demo",
            native_id=str(i),
            text=("my refund never came, please help" if i % 3 else "thanks, love it"),
            created_at=_START + timedelta(minutes=7 * i),
            author_id=f"u{i % authors}",
            author_handle=f"h{i % authors}",
        )
        for i in range(n)
    ]


def _index_definitions(store: Store) -> dict[str, str]:
    rows = store.conn.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
        "WHERE indrelid = 'mentions'::regclass"
    ).fetchall()
    return {str(name): str(definition) for name, definition in rows}


def test_no_index_of_mentions_holds_a_column_a_claim_writes(store: Store) -> None:
    """Key, INCLUDE, expression or partial-index predicate: any of them blocks HOT."""
    if store.backend != "postgresql":
        pytest.skip("HOT updates are PostgreSQL's; SQLite keeps its assignee indexes")
    definitions = _index_definitions(store)
    assert len(definitions) >= 15, definitions  # the catalog query sees the indexes
    written = re.compile(r"\b(" + "|".join(CLAIM_WRITES) + r")\b")
    holding = {name: d for name, d in definitions.items() if written.search(d)}
    assert holding == {}
    options = store.conn.execute(
        "SELECT reloptions FROM pg_class WHERE oid = 'mentions'::regclass"
    ).fetchone()[0]
    assert "fillfactor=90" in options


def _updates(store: Store) -> tuple[int, int]:
    """(updates, HOT updates) of ``mentions`` so far, this backend's pending counts included."""
    store.conn.execute("SELECT pg_stat_force_next_flush()")  # flushed as that statement ends
    row = store.conn.execute(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'mentions'"
    ).fetchone()
    return int(row[0]), int(row[1])


def test_claims_and_releases_are_hot_updates(store: Store) -> None:
    """Each in its own transaction, as agents work: pruning frees the room a page needs."""
    if store.backend != "postgresql":
        pytest.skip("HOT updates are PostgreSQL's")
    store.upsert_mentions(_mentions(30))
    ids = [r["id"] for r in store.queue(QueueFilter(limit=10), _START.timestamp(), 2.0, 24.0)]
    updated, hot = _updates(store)
    for mention_id in ids:
        workflow.claim(store, mention_id, "alice")
        workflow.release(store, mention_id, "alice")
        workflow.assign(store, mention_id, "bob", "lead")
    now_updated, now_hot = _updates(store)

    assert now_updated - updated == 3 * len(ids)
    assert now_hot - hot == now_updated - updated
    assert {store.get_mention(i)["assignee"] for i in ids} == {"bob"}


@contextmanager
def without_m017() -> Iterator[None]:
    """Both backends' migration lists as they were before m017 (every other step kept)."""
    lists = (sqlite_migrations.MIGRATIONS, pg_migrations.MIGRATIONS)
    saved = [list(steps) for steps in lists]
    for steps in lists:
        steps[:] = [fn for fn in steps if fn.__name__ != "m017_hot_claims"]
    try:
        yield
    finally:
        for steps, old in zip(lists, saved, strict=True):
            steps[:] = old


@pytest.fixture
def young_database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new, empty database for a store made before m017: a file, or a database of its own."""
    if backend == "sqlite":
        yield str(tmp_path / "m016.db")
        return
    from tests import pg_server

    server = request.getfixturevalue("pg_server")
    pg_server._recreate_database(server.admin_url, "socialcare_m017")
    try:
        yield pg_server._with_database(server.url, "socialcare_m017")
    finally:
        with pg_server._connect(server.admin_url) as conn:
            pg_server._drop(conn, "socialcare_m017")


def _state(store: Store, now: float) -> tuple[object, ...]:
    """What the queue, the loads and the claims show (what m017 must not change)."""
    queues = [
        [(r["id"], round(r["score"], 9)) for r in store.queue(flt, now, 2.0, 24.0)]
        for flt in (
            QueueFilter(limit=15),
            QueueFilter(limit=15, assignee="alice"),
            QueueFilter(limit=5, assignee="bob"),
            QueueFilter(limit=15, assignee="nobody"),
        )
    ]
    loads = (store_team.open_loads(store), store_team.open_loads(store, ["alice", "bob", "eve"]))
    return (queues, loads)


def test_migration_on_a_store_with_claims_keeps_rankings_loads_and_claims(
    young_database: str,
) -> None:
    now = (_START + timedelta(days=3)).timestamp()
    with without_m017():
        old = open_store(young_database)
        old.upsert_mentions(_mentions(300, authors=300))
        ids = [r["id"] for r in old.queue(QueueFilter(limit=40), now, 2.0, 24.0)]
        for i, mention_id in enumerate(ids):
            workflow.claim(old, mention_id, ("alice", "bob", "carol")[i % 3])
        workflow.release(old, ids[0], "alice")
        before = _state(old, now)
        old.close()
    store = open_store(young_database)
    try:
        assert "m017_hot_claims" in store.applied_migrations()
        assert _state(store, now) == before
        assert before[1][0]["alice"] == 13 and before[1][0]["bob"] == 13  # not a vacuous check
        # and the claim still decides as before: bob holds ids[1]
        outcome = store.claim_checked(ids[1], "alice")
        assert (outcome.won, outcome.holder) == (False, "bob")
        assert store.claim_checked(ids[0], "alice").won
        if store.backend == "postgresql":
            assert "idx_mentions_open_assigned" not in _index_definitions(store)
    finally:
        store.close()
