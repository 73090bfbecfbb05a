"""The report's response figures from SQL aggregates equal the old per-mention fold.

``report`` used to read one row per mention of the period and fold them in
Python (``summarise_responses``); it now counts and ranks in SQL and reads only
the ranks its percentiles need. On random stores (answers before and after the
SLA, sent and unsent replies, several closes, reopened mentions, spam, other
sources, mentions outside the window) both must give the same tables, exactly.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from socialcare.reports.collect import _response_facts, _response_figures
from socialcare.reports.metrics import percentile, percentile_at, summarise_responses
from socialcare.store import Store
from tests.test_reports import NOW, add_event, add_mention, add_outbox, at, params

INTENTS = (None, "complaint", "question", "praise", "spam")


def _random_store(store: Store, seed: int, n: int) -> None:
    rnd = random.Random(seed)
    start = at("2026-11-15T00:00:00Z")
    for i in range(n):
        # fractional seconds: created_ts is a float, answers are whole seconds
        created = start + timedelta(seconds=rnd.uniform(0, 5 * 86400))
        status = rnd.choice(("open", "replied", "closed", "closed", "spam"))
        mid = add_mention(
            store,
            f"{seed}-{i}",
            created,
            source=rnd.choice(("twitter", "reddit")),
            intent=rnd.choice(INTENTS),
            sla_minutes=rnd.choice((None, 30.0, 90.0, 2000.0)),
            status=status,
        )
        for _ in range(rnd.choice((0, 0, 1, 2))):
            add_outbox(
                store,
                mid,
                created + timedelta(minutes=rnd.uniform(-5, 300)),
                "ana",
                status=rnd.choice(("sent", "sent", "failed")),
            )
        if rnd.random() < 0.2:  # answered natively (no outbox item)
            store.mark_answered(
                mid, (created + timedelta(minutes=rnd.uniform(0, 200))).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ), "native"
            )  # fmt: skip
        for _ in range(rnd.choice((0, 1, 1, 2))):
            add_event(store, mid, created + timedelta(minutes=rnd.uniform(0, 600)), "bo", "close")
        if rnd.random() < 0.1:  # a close at the very second of creation: zero resolution time
            add_event(store, mid, created, "bo", "close")
    for i in range(3):  # answered at the very second the SLA is due: met, not breached
        created = at("2026-11-19T00:00:00Z") + timedelta(hours=i + 1)
        mid = add_mention(store, f"{seed}-due-{i}", created, intent="question", sla_minutes=30.0)
        add_outbox(store, mid, created + timedelta(minutes=30), "ana")


def _tables(figures: object) -> list[list[list[object]]]:
    return [
        getattr(figures, name)().rows
        for name in ("first_response_table", "sla_table", "resolution_table")
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_aggregates_equal_the_per_mention_fold(store: Store, seed: int) -> None:
    _random_store(store, seed, 160)
    for kw in ({}, {"source": "reddit"}, {"since": at("2026-11-16T00:00:00Z")}):
        p = params(**kw)
        old = summarise_responses(_response_facts(store, p), NOW.timestamp())
        new = _response_figures(store, p)
        assert _tables(new) == _tables(old)
        assert _tables(new)[0][0][1] > 0  # the data did exercise the percentiles


def test_aggregates_of_an_empty_window(store: Store) -> None:
    p = params(since=at("2020-01-01T00:00:00Z"), until=at("2020-01-02T00:00:00Z"))
    old = summarise_responses(_response_facts(store, p), NOW.timestamp())
    assert _tables(_response_figures(store, p)) == _tables(old)
    assert _tables(old)[0] == [["all", 0, None, None]]


@pytest.mark.parametrize("n", [1, 2, 3, 10, 11, 101])
def test_percentile_at_reads_only_the_ranks_it_needs(n: int) -> None:
    values = sorted(random.Random(n).uniform(0, 1e6) for _ in range(n))
    for q in (50, 90):
        read: list[int] = []
        assert percentile_at(n, q, lambda rank, read=read: read.append(rank) or values[rank]) == (
            percentile(values, q)
        )
        low = (n - 1) * q // 100
        assert set(read) <= {low, low + 1}  # the ranks the store query selects
