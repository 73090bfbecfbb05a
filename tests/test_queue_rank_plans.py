"""PostgreSQL's index-ranked queue statement is planned once per session, not once per call.

Its parameters are read from a one-row CTE (``_params_as_initplans``), so the
server's custom plans estimate exactly like its generic plan and the generic one
wins from the sixth call on, whatever the statistics say; the answers stay those
of the full sort (test_queue_ranking_property.py compares them on random stores).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from socialcare.models import Mention
from socialcare.store import QueueFilter, Store
from socialcare.store.dialect import _PARAM, _params_as_initplans

_START = datetime(2026, 11, 1, tzinfo=timezone.utc)


@pytest.mark.store_free
def test_every_parameter_is_read_from_the_prm_cte_and_casts_are_kept() -> None:
    sql = (
        "WITH fl AS (SELECT :w::float8 AS v FROM t WHERE a = :now_iso AND b < :w) SELECT v FROM fl"
    )
    out = _params_as_initplans(sql)
    assert out.startswith(
        'WITH prm AS MATERIALIZED (SELECT :w AS "w", :now_iso AS "now_iso"), fl AS'
    )
    rest = out.split("), fl AS", 1)[1]
    assert [n for n in _PARAM.findall(rest) if n] == []  # no parameter outside the CTE
    assert '(SELECT "w" FROM prm)::float8' in rest and rest.count('(SELECT "w" FROM prm)') == 2
    assert _params_as_initplans("WITH x AS (SELECT 1) SELECT 2") == "WITH x AS (SELECT 1) SELECT 2"
    quoted = _params_as_initplans(
        """WITH x AS (SELECT ':no', "a:b" FROM t WHERE c = :yes) SELECT 1"""
    )
    assert """SELECT ':no', "a:b" FROM t WHERE c = (SELECT "yes" FROM prm)""" in quoted
    assert quoted.startswith('WITH prm AS MATERIALIZED (SELECT :yes AS "yes"), x AS')


@pytest.mark.parametrize(
    "flt",
    [
        QueueFilter(limit=20),
        QueueFilter(limit=5, source="demo", assignee="alice"),
        # the last 10 of 400 hours: a custom plan sees a 40th of the rows, the generic one
        # a third; with its values in the plan, the generic plan was never chosen
        QueueFilter(limit=5, since_ts=(_START + timedelta(minutes=13 * 390)).timestamp()),
    ],
    ids=["plain", "filtered", "recent"],
)
def test_the_ranking_statement_runs_on_its_generic_plan(store: Store, flt: QueueFilter) -> None:
    if store.backend != "postgresql":
        pytest.skip("SQLite plans in microseconds: it prepares nothing")
    store.upsert_mentions(
        [
            Mention(
                source="demo",
                native_id=str(i),
                text="my refund never came" if i % 2 else "where is my parcel",
                created_at=_START + timedelta(minutes=13 * i),
                author_id=f"u{i}",
                author_handle=f"h{i}",
            )
            for i in range(400)
        ]
    )
    store.conn.execute("UPDATE mentions SET assignee = 'alice' WHERE native_id::int % 3 = 0")
    store.conn.execute("ANALYZE mentions")
    now = (_START + timedelta(days=3)).timestamp()
    first = [r["id"] for r in store.queue(flt, now, 2.0, 24.0)]
    for _ in range(9):
        assert [r["id"] for r in store.queue(flt, now, 2.0, 24.0)] == first
    assert first  # the queue is not empty, so the ranking statement ran
    rows = store.conn.execute(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
        "WHERE statement LIKE 'WITH prm AS MATERIALIZED%'"
    ).fetchall()
    assert len(rows) == 1, rows
    generic, custom = rows[0]
    assert (generic, custom) == (5, 5)  # five custom plans, then the generic one for good
