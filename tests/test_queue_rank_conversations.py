"""The index-ranked queue's floor comes only from rows that are queue items (issue 25).

An older message of a private conversation is hidden behind the conversation's newest
one, so it must not raise the floor: PostgreSQL's probe reads only rows outside
conversations for it. Here the hidden messages have the best static scores of all.
"""

from __future__ import annotations

import pytest

from socialcare.store import QueueFilter, Store


@pytest.fixture(autouse=True)
def _always_ranged(monkeypatch: pytest.MonkeyPatch) -> None:
    """These stores are small: rank them from index ranges as a large store is ranked."""
    monkeypatch.setattr(Store, "plain_rank_rows", 0)


NOW = 1_796_000_000.0

_INSERT = (
    "INSERT INTO mentions (id, source, native_id, text, created_at, created_ts, fetched_at, "
    "status, is_own, static_score, kind, conversation_id, author_id) "
    "VALUES (?, 'demo', ?, '', 'x', ?, 'x', 'open', 0, ?, ?, ?, '')"
)


def _fill(store: Store) -> None:
    rows = []
    for c in range(6):  # each conversation: a hidden older DM (best score), its newest one
        rows.append((f"demo:old{c}", f"old{c}", NOW - 100 * 3600.0, 9.0 + c, "dm", f"c{c}"))
        rows.append((f"demo:new{c}", f"new{c}", NOW - 50 * 3600.0, 0.5, "dm", f"c{c}"))
    for p in range(4):  # public posts
        rows.append((f"demo:post{p}", f"post{p}", NOW - (100 - p) * 3600.0, 1.0 + p, "post", None))
    rows.append(("demo:young", "young", NOW - 600.0, 4.2, "post", None))  # under the cap
    with store.transaction():
        store.conn.executemany(_INSERT, rows)


@pytest.mark.parametrize("limit", [1, 3, 5, 12])
@pytest.mark.parametrize("weight", [2.0, 0.0, 25.0])  # config: 0 or more
def test_hidden_conversation_messages_never_raise_the_floor(
    store: Store, limit: int, weight: float
) -> None:
    _fill(store)
    flt = QueueFilter(limit=limit)
    fast = store.queue(flt, NOW, weight, 24.0)
    store.index_ranking = False
    try:
        reference = store.queue(flt, NOW, weight, 24.0)
    finally:
        store.index_ranking = True
    assert [(r["id"], r["score"]) for r in fast] == [(r["id"], r["score"]) for r in reference]
    assert len(fast) == min(limit, 11)
    assert not any(r["id"].startswith("demo:old") for r in fast)
