"""The claim decided in one round trip on PostgreSQL (issue 25 item 6), same behaviour on both.

The race tests (two and eight processes) are in test_workflow.py and
test_team_store.py; these pin what the one-statement claim must keep: linked
identities, the audit detail byte for byte, nesting, and the index it reads.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from socialcare import workflow
from socialcare.errors import Conflict, NotFound
from socialcare.models import Mention
from socialcare.store import Store


def _mention(native: str, author: str, minutes: int = 0) -> Mention:
    return Mention(
        source="demo",
        native_id=native,
        text="my parcel is late",
        created_at=datetime(2026, 11, 1, tzinfo=timezone.utc) + timedelta(minutes=minutes),
        author_id=author,
        author_handle=author,
    )


def test_linked_identity_held_by_another_agent_is_a_conflict(store: Store) -> None:
    store.upsert_mentions([_mention("1", "ann"), _mention("2", "ann_alt")])
    store.link_authors("demo:ann", "demo:ann_alt")
    workflow.claim(store, "demo:1", "alice")
    with pytest.raises(Conflict, match="alice is handling their other mention demo:1"):
        workflow.claim(store, "demo:2", "bob")
    assert store.get_mention("demo:2")["assignee"] is None
    assert [e["agent"] for e in store.events(action="claim")] == ["alice"]
    # the same agent may take the customer's other mention
    assert workflow.claim(store, "demo:2", "alice") is None


def test_claim_events_keep_their_exact_detail(store: Store) -> None:
    store.upsert_mentions([_mention("1", "ann")])
    assert workflow.claim(store, "demo:1", "alice") is None
    assert workflow.claim(store, "demo:1", "alice") == "alice"  # again: still hers
    with pytest.raises(Conflict, match=r"claimed by alice \(since 20"):
        workflow.claim(store, "demo:1", "bob")
    assert workflow.claim(store, "demo:1", "bob", force=True) == "alice"
    details = [e["detail"] for e in reversed(store.events(action="claim"))]
    assert details == [
        json.dumps({"previous": None, "forced": False}),
        json.dumps({"previous": "alice", "forced": False}),
        json.dumps({"previous": "alice", "forced": True}),
    ]
    assert store.get_mention("demo:1")["assignee"] == "bob"


def test_claim_inside_a_transaction_rolls_back_with_it(store: Store) -> None:
    store.upsert_mentions([_mention("1", "ann")])
    with pytest.raises(RuntimeError), store.transaction():
        workflow.claim(store, "demo:1", "alice")
        raise RuntimeError("the caller changed its mind")
    assert store.get_mention("demo:1")["assignee"] is None
    assert store.events(action="claim") == []
    workflow.claim(store, "demo:1", "alice")  # and the connection is fine afterwards
    assert store.get_mention("demo:1")["assignee"] == "alice"


def test_claim_on_postgresql_is_one_statement(store: Store) -> None:
    if store.backend != "postgresql":
        pytest.skip("SQLite runs in-process: no round trips to save")
    store.upsert_mentions([_mention("1", "ann")])
    statements: list[str] = []
    real_execute, real_call_row = store.conn.execute, store.conn.call_row

    def execute(sql: str, *args: object, **kwargs: object) -> object:
        statements.append(sql)
        return real_execute(sql, *args, **kwargs)

    def call_row(sql: str, *args: object, **kwargs: object) -> object:
        statements.append(sql)
        return real_call_row(sql, *args, **kwargs)

    store.conn.execute = execute  # type: ignore[method-assign]
    store.conn.call_row = call_row  # type: ignore[method-assign]
    try:
        workflow.claim(store, "demo:1", "alice")
    finally:
        del store.conn.execute, store.conn.call_row
    assert len(statements) == 1, statements
    assert "socialcare_claim" in statements[0]
    assert store.conn.raw._pipeline is None
    assert not store.conn.in_transaction  # committed by itself
    assert store.get_mention("demo:1")["assignee"] == "alice"


@pytest.mark.parametrize("version", ["m021", "m026"])
def test_claim_statement_reads_the_open_by_author_index(store: Store, version: str) -> None:
    """With many assigned open mentions the collision check must stay one author's range."""
    if store.backend != "postgresql":
        pytest.skip("the one-statement claim is PostgreSQL's")
    from socialcare.store.migrations import postgres

    query = getattr(postgres, f"CLAIM_QUERY_{version.upper()}")

    store.upsert_mentions([_mention(str(i), f"u{i % 300}", i) for i in range(1500)])
    store.conn.execute("UPDATE mentions SET assignee = 'someone' WHERE native_id::int % 2 = 0")
    store.conn.execute("ANALYZE mentions")
    raw = store.conn.raw
    # the function's statement as PL/pgSQL runs it: prepared, with text parameters
    # (psycopg deallocates every prepared statement after a ROLLBACK: prepare each time)
    for mode in ("force_custom_plan", "force_generic_plan"):
        raw.execute("BEGIN")
        try:
            raw.execute(f"SET LOCAL plan_cache_mode = {mode}")
            raw.execute("PREPARE claim_stmt(text, text, text, text, text) AS " + query)
            plan = raw.execute(
                "EXPLAIN EXECUTE claim_stmt('demo:1', 'bob', 'x', '{}', '{}')"
            ).fetchall()
            raw.execute("DEALLOCATE claim_stmt")
        finally:
            raw.execute("ROLLBACK")
        text = "\n".join(r[0] for r in plan)
        assert "idx_mentions_author_open" in text, (mode, text)
        assert "idx_mentions_open_assigned" not in text, (mode, text)


def test_unknown_mention_is_not_found_and_takes_no_lock(store: Store) -> None:
    store.upsert_mentions([_mention("1", "ann")])
    with pytest.raises(NotFound, match="no mention with id 'demo:nope'"):
        workflow.claim(store, "demo:nope", "alice")
    with pytest.raises(NotFound), store.transaction():
        workflow.claim(store, "demo:nope", "alice")
    assert store.events(action="claim") == []
    if store.backend == "postgresql":
        assert store.conn.raw.execute("SELECT count(*) FROM pg_locks WHERE locktype = "
                                      "'advisory'").fetchone() == (0,)  # fmt: skip


def test_mention_without_an_author_is_claimed_alone(store: Store) -> None:
    """A NULL author key (m016: an unlinked author) has no customer to lock or to check."""
    store.upsert_mentions([_mention("1", "ann"), _mention("2", "ann")])
    workflow.claim(store, "demo:2", "bob")
    store.conn.execute("UPDATE mentions SET author_key = NULL WHERE id = 'demo:1'")
    assert workflow.claim(store, "demo:1", "alice") is None
    assert store.get_mention("demo:1")["assignee"] == "alice"
    assert [e["agent"] for e in store.events(action="claim")] == ["alice", "bob"]


def test_previous_versions_claim_function_still_answers(store: Store) -> None:
    """A client of the previous version calls m021's function while its team upgrades."""
    if store.backend != "postgresql":
        pytest.skip("the claim functions are PostgreSQL's")
    store.upsert_mentions([_mention("1", "ann"), _mention("2", "ann")])
    workflow.claim(store, "demo:2", "bob")
    call = "SELECT * FROM socialcare_claim(%s, 'alice', 'now', 'free', 'mine')"
    raw = store.conn.raw
    assert raw.execute(call, ["demo:1"]).fetchall() == [(None, None, "demo:2", "bob", 0)]
    assert raw.execute(call, ["demo:nope"]).fetchall() == []
    assert store.get_mention("demo:1")["assignee"] is None


def test_agent_loads_read_the_assigned_index_on_sqlite(store: Store) -> None:
    """SQLite's per-agent loads (routing reads them on every poll page) are equalities
    on ``idx_mentions_open_assigned``: without it each count read the whole table (484 ms
    against 0.1 ms for 8 agents' loads on 1M mentions, 20k open). PostgreSQL dropped that
    index in m023 (a claim is a HOT update only if no index holds ``assignee``) and reads
    every load in one grouped pass over the open rows (test_hot_claims.py)."""
    from socialcare.store import team as store_team

    store.upsert_mentions([_mention(str(i), f"u{i}", i) for i in range(300)])
    with store.transaction():
        for i in range(0, 300, 7):
            store.set_assignee(f"demo:{i}", ("alice", "bob")[i % 2])
    if store.backend == "sqlite":
        sql = "SELECT count(*) FROM mentions WHERE assignee = ? AND status = 'open'"
        rows = store.conn.execute("EXPLAIN QUERY PLAN " + sql, ["alice"]).fetchall()
        plan = " ".join(str(r[-1]) for r in rows)
        assert "idx_mentions_open_assigned" in plan, plan
    assert store_team.open_loads(store, ["alice", "bob", "eve"]) == {"alice": 22, "bob": 21}
    assert store_team.open_loads(store) == {"alice": 22, "bob": 21}
