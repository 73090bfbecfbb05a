"""``PgConnection.call_row``: the claim's libpq call without a psycopg cursor (issue 25 item 6).

It must answer exactly what :meth:`PgConnection.execute` answers for the same
statement (values as text, NULL as None), raise psycopg's own exception classes,
survive a ``DEALLOCATE ALL``, and give the same claim outcomes and events.
"""

from __future__ import annotations

from datetime import datetime, timezone

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcare import workflow
from socialcare.errors import Conflict, StoreUnavailable
from socialcare.models import Mention
from socialcare.store import Store
from socialcare.store.pg import numbered

#: text PostgreSQL can store: no NUL, no lone surrogates
_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))


def _pg(store: Store) -> None:
    if store.backend != "postgresql":
        pytest.skip("call_row is PostgreSQL's")


@pytest.mark.store_free
def test_numbered_placeholders_leave_quoted_text_alone() -> None:
    assert numbered("SELECT * FROM f(?, ?, ?)") == b"SELECT * FROM f($1, $2, $3)"
    assert numbered("SELECT 'a ? b', \"c?\", x::text, ? WHERE y = 'it''s ?' AND z = ?") == (
        b"SELECT 'a ? b', \"c?\", x::text, $1 WHERE y = 'it''s ?' AND z = $2"
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(st.one_of(st.none(), _TEXT), min_size=1, max_size=5))
def test_call_row_answers_what_execute_answers(store: Store, values: list[str | None]) -> None:
    _pg(store)
    cols = ", ".join("?::text" for _ in values)
    sql = f"SELECT {cols}, length(concat({', '.join('?::text' for _ in values)}))::bigint"
    params = [*values, *values]  # None is sent as NULL
    fast = store.conn.call_row(sql, params)
    slow = store.conn.execute(sql, params).fetchone()
    assert fast == tuple(None if v is None else str(v) for v in slow)
    # and a statement with no row answers None, like fetchone()
    assert store.conn.call_row("SELECT ?::text WHERE false", ["x"]) is None


def test_call_row_survives_deallocate_and_raises_psycopg_errors(store: Store) -> None:
    _pg(store)
    conn = store.conn
    assert conn.call_row("SELECT ?::text || 'b'", ["a"]) == ("ab",)
    conn.raw.execute("DEALLOCATE ALL")  # our prepared statement is gone: prepared again
    assert conn.call_row("SELECT ?::text || 'b'", ["a"]) == ("ab",)
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        conn.call_row("SELECT ?::int", ["not a number"])
    with pytest.raises(psycopg.errors.UndefinedTable):
        conn.call_row("SELECT * FROM no_such_table WHERE x = ?", ["1"])
    assert not conn.in_transaction
    assert conn.call_row("SELECT ?::text", ["still fine"]) == ("still fine",)


def test_call_row_in_a_transaction_and_in_a_pipeline(store: Store) -> None:
    _pg(store)
    conn = store.conn
    with store.transaction():
        assert conn.call_row("SELECT ?::text", ["x"]) == ("x",)
        assert conn.in_transaction
    with conn.pipeline():  # goes through execute: the cursor path knows pipeline mode
        row = conn.call_row("SELECT ?::text, 2::bigint", ["y"])
    assert row == ("y", "2")


def test_call_row_on_a_dropped_connection_is_store_unavailable(store: Store) -> None:
    _pg(store)
    pid = store.conn.raw.info.backend_pid
    with psycopg.connect(store.conn.raw.info.dsn, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    with pytest.raises(StoreUnavailable, match="lost the connection"):
        store.conn.call_row("SELECT ?::text", ["x"])


def _mention(native: str, author: str) -> Mention:
    return Mention(
        source="demo",
        native_id=native,
        text="my parcel is late",
        created_at=datetime(2026, 11, 1, tzinfo=timezone.utc),
        author_id=author,
        author_handle=author,
    )


def test_claims_through_call_row_and_through_execute_agree(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same claims, once per path: the same outcomes, assignees and events."""
    _pg(store)

    def run() -> list[object]:
        store.upsert_mentions([_mention("1", "ann"), _mention("2", "ann"), _mention("3", "bo")])
        seen: list[object] = []
        for mention, agent in [("demo:1", "alice"), ("demo:1", "alice"), ("demo:1", "bob"),
                               ("demo:2", "bob"), ("demo:3", "bob"), ("demo:2", "alice")]:  # fmt: skip
            try:
                seen.append(workflow.claim(store, mention, agent))
            except Conflict as exc:
                seen.append(str(exc).split(" (since")[0])
        seen.append([(r["id"], r["assignee"]) for r in store.rows(
            "SELECT id, assignee FROM mentions ORDER BY id")])  # fmt: skip
        seen.append([(e["agent"], e["mention_id"], e["detail"]) for e in store.events(
            action="claim")])  # fmt: skip
        store.conn.execute("DELETE FROM events")
        store.conn.execute("DELETE FROM mentions")
        return seen

    fast = run()

    def through_execute(sql: str, params: list[str]) -> tuple[str | None, ...] | None:
        row = store.conn.execute(sql, params, prepare=True).fetchone()
        return None if row is None else tuple(None if v is None else str(v) for v in row)

    monkeypatch.setattr(store.conn, "call_row", through_execute)
    assert run() == fast
    assert fast[0] is None and fast[1] == "alice"  # free, then already hers
