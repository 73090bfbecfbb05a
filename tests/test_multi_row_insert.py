"""SQLite's multi-row upserts (``Store._insert_rows``) store what ``executemany`` stored.

The reference is the plain ``executemany`` of the same rows, a statement per row.
Pages of random sizes (every step of the row-count ladder, and its remainders)
re-read ids of earlier pages and of their own (the upsert's refresh and its
stale-edit guard), repeat authors within a page (an author upsert meeting the
row its own statement just inserted), and insert a part of them scored.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcare.models import Mention
from socialcare.store import TRIAGE_COLUMNS, Store, open_store

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=timezone.utc)
WORDS = ["refund", "charged", "twice", "router", "love", "app", "down", "¿dónde?", "flight"]
#: columns that hold the time of the write itself (the two stores are written apart)
NOW_COLUMNS = {"fetched_at", "first_seen", "last_seen"}


def _mention(rnd: random.Random, n: int) -> Mention:
    review = rnd.random() < 0.3
    author = rnd.choice(["u1", "u2", "u3", "u4", "", f"n{n}"])
    return Mention(
        source="script",
        native_id=str(rnd.randrange(n + 1)),  # re-reads of earlier (and this page's) ids
        text=" ".join(rnd.choices(WORDS, k=rnd.randint(0, 6))),
        created_at=T0 + timedelta(minutes=rnd.randint(0, 900)),
        author_id=author,
        author_handle=f"h_{author}" if author else "acmehelp",
        author_name=rnd.choice(["", "Ann", "Bo"]),
        author_followers=rnd.choice([None, 0, 40, 12_000]),
        language=rnd.choice([None, "en", "es"]),
        kind="review" if review else rnd.choice(["post", "reply", "dm"]),
        rating=rnd.randint(1, 5) if review else None,
        updated_at=T0 + timedelta(minutes=rnd.randint(0, 900)) if review else None,
        raw={"n": n, "w": rnd.choice(WORDS)},
    )


def _triage(rnd: random.Random, mentions: Sequence[Mention]) -> dict[str, dict[str, Any]]:
    """Made-up triage columns for about half of the page (the scored insert's rows)."""
    return {
        m.id: {
            **dict.fromkeys(TRIAGE_COLUMNS[:4], rnd.random()),
            "sentiment_scored": 1,
            "intent": rnd.choice(["question", "complaint"]),
            "static_score": rnd.random(),
            "signals": rnd.choice(WORDS),
            "sla_due_ts": rnd.randint(0, 10**9),
            "triaged_at": "2027-03-01T09:00:00Z",
            "triage_fp": rnd.choice([None, rnd.getrandbits(60)]),
        }
        for m in mentions
        if rnd.random() < 0.5
    }


def _store_all(store: Store, pages: list[list[Mention]], triage: list[dict[str, Any]]) -> None:
    for page, scored in zip(pages, triage, strict=True):
        store.upsert_mentions(page, ["acmehelp"], triage=scored)


def _contents(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table in ("mentions", "authors", "table_rows"):
        rows = store.rows(f"SELECT * FROM {table} ORDER BY rowid")
        out[table] = [tuple(v for k, v in r.items() if k not in NOW_COLUMNS) for r in rows]
    for word in ("refund", "router", "h_u1", "Ann"):
        found = store.conn.execute(
            "SELECT rowid FROM mentions_fts WHERE mentions_fts MATCH ? ORDER BY rowid", [word]
        )
        out[f"fts {word}"] = [tuple(r) for r in found]
    return out


def _both_ways(
    pages: list[list[Mention]], triage: list[dict[str, Any]], limit: int | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the multi-row upserts stored (under ``limit`` bound values a statement, if
    given) and what ``executemany`` stored, each into a fresh store."""
    multi, one_by_one = open_store(":memory:"), open_store(":memory:")
    try:
        if limit is not None:
            multi.conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
        _store_all(multi, pages, triage)
        plain = Store._insert_rows
        try:
            Store._insert_rows = lambda self, sql, rows: (  # type: ignore[method-assign]
                self.conn.executemany(sql, rows) if rows else None
            )
            _store_all(one_by_one, pages, triage)
        finally:
            Store._insert_rows = plain  # type: ignore[method-assign]
        return _contents(multi), _contents(one_by_one)
    finally:
        multi.close()
        one_by_one.close()


def _pages(sizes: list[int], seed: int) -> tuple[list[list[Mention]], list[dict[str, Any]]]:
    rnd = random.Random(seed)
    n = 0
    pages = []
    for size in sizes:
        pages.append([_mention(rnd, n + i) for i in range(size)])
        n += size
    return pages, [_triage(rnd, page) for page in pages]


@pytest.mark.sqlite_only
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(0, 300), min_size=1, max_size=3), seed=st.integers(0, 2**16))
def test_multi_row_upserts_store_what_executemany_stored(sizes: list[int], seed: int) -> None:
    multi, one_by_one = _both_ways(*_pages(sizes, seed))
    assert multi == one_by_one


@pytest.mark.sqlite_only
def test_a_lower_limit_of_bound_values_takes_smaller_steps() -> None:
    """SQLite before 3.32 binds at most 999 values a statement: 128 rows of 37 would fail."""
    multi, one_by_one = _both_ways(*_pages([300, 300], 7), limit=999)
    assert len(multi["mentions"]) > 100
    assert multi == one_by_one
