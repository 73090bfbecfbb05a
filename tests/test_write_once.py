"""Issue 25 item 1: a polled mention is inserted with its triage, the same as scoring it after.

The reference is today's path kept as it was: ``poll_source`` without a scorer
and ``triage_ids`` in the ``on_stored`` hook (insert, read back, UPDATE). The
property polls the same random pages both ways (repeat authors, the brand's
replies answering mentions of the same or an earlier page, private messages,
re-read and edited reviews) and compares every triage column of every row.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcare.models import Mention, Page
from socialcare.poll import poll_source
from socialcare.scoring import care_settings, page_scorer, retriage_all, triage_ids
from socialcare.sources.base import Source
from socialcare.store import TRIAGE_COLUMNS, Store, open_store
from socialcare.triage.codec import decode_signals
from tests.pg_server import truncate_tables

T0 = datetime(2027, 2, 1, 9, 0, tzinfo=timezone.utc)
SETTINGS = care_settings({}, ["acmehelp"])
TEXTS = [
    "@acmehelp my card was charged twice, refund now!",
    "how do I reset my router? @acmehelp",
    "love the new app, thanks acme",
    "buy followers cheap www.spam.example",
    "the app is down again and I have a flight in an hour",
    "¿dónde está mi pedido?",
    "",
]
#: compared between the two ways: the triage (but its time) and what the page changed
COMPARED = [
    "id",
    "status",
    "is_own",
    "answered_by",
    *(c for c in TRIAGE_COLUMNS if c != "triaged_at"),
]


class ScriptSource(Source):
    """Yields the scripted pages, oldest first, once per poll."""

    name = "script"

    def __init__(self, pages: list[list[Mention]]) -> None:
        super().__init__({"duplicate_window_seconds": 0}, brand_handles=("acmehelp",))
        self.pages = pages

    def queries(self) -> list[str]:
        return ["q"]

    def poll(self, query: str, cursor: str | None) -> Iterator[Page]:
        for n, mentions in enumerate(self.pages):
            yield Page(list(mentions), cursor=str(n))

    def reply(self, mention: Mention, text: str) -> str:  # pragma: no cover - never sent
        raise NotImplementedError


def _mention(item: dict[str, Any]) -> Mention:
    n = item["n"]
    brand = item["author"] == "brand"
    kind = item["kind"]
    return Mention(
        source="script",
        native_id=str(n if not item["reread"] else item["reread"]),
        text=("thanks, sent you a DM" if brand else TEXTS[item["text"]]),
        created_at=T0 + timedelta(minutes=item["minute"]),
        author_id="" if item["author"] == "hidden" else item["author"],
        author_handle="acmehelp" if brand else f"h_{item['author']}",
        author_followers=item["followers"],
        language=item["language"],
        parent_id=str(item["parent"]) if brand and item["parent"] else None,
        conversation_id="c1" if kind == "dm" else None,
        kind=kind,
        rating=item["rating"] if kind == "review" else None,
        updated_at=T0 + timedelta(minutes=item["edited"]) if kind == "review" else None,
    )


_items = st.fixed_dictionaries(
    {
        "author": st.sampled_from(["u1", "u2", "u3", "hidden", "brand"]),
        "text": st.integers(0, len(TEXTS) - 1),
        "minute": st.integers(0, 600),
        "followers": st.sampled_from([None, 0, 40, 12_000]),
        "language": st.sampled_from([None, "en", "es"]),
        "parent": st.integers(0, 12),
        "kind": st.sampled_from(["post", "post", "reply", "dm", "review"]),
        "rating": st.integers(1, 5),
        "edited": st.integers(0, 900),
        "reread": st.sampled_from([0, 0, 0, 1, 2, 3]),
    }
)
_pages = st.lists(st.lists(_items, min_size=1, max_size=7), min_size=1, max_size=4)


def _script(raw: list[list[dict[str, Any]]]) -> list[list[Mention]]:
    n = 0
    pages = []
    for page in raw:
        out = []
        for item in page:
            n += 1
            out.append(_mention({**item, "n": n}))
        pages.append(out)
    return pages


@contextmanager
def _fresh(pg_url: str | None) -> Iterator[Store]:
    """An empty store for one way of one example."""
    if pg_url is not None:
        truncate_tables(pg_url)
    store = open_store(pg_url if pg_url is not None else ":memory:")
    try:
        yield store
    finally:
        store.close()


def _triage_rows(store: Store) -> list[tuple[Any, ...]]:
    return [
        tuple(r[c] for c in COMPARED)
        for r in store.rows(f"SELECT {', '.join(COMPARED)} FROM mentions ORDER BY id")
    ]


def _poll_both_ways(pg_url: str | None, pages: list[list[Mention]]) -> tuple[list, list]:
    with _fresh(pg_url) as store:
        poll_source(
            store, ScriptSource(pages), own_handles=["acmehelp"],
            on_stored=lambda st_, ids: triage_ids(st_, ids, SETTINGS),
        )  # fmt: skip
        before = _triage_rows(store)
    with _fresh(pg_url) as store:
        poll_source(
            store, ScriptSource(pages), own_handles=["acmehelp"], scorer=page_scorer(SETTINGS)
        )
        after = _triage_rows(store)
    return before, after


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(raw=_pages)
def test_scored_on_the_way_in_equals_scored_after(
    pg_url: str | None, raw: list[list[dict[str, Any]]]
) -> None:
    before, after = _poll_both_ways(pg_url, _script(raw))
    assert before and after == before


def _m(n: int, minute: int, author: str, text: str, **kw: Any) -> Mention:
    return Mention(
        source="script", native_id=str(n), text=text, created_at=T0 + timedelta(minutes=minute),
        author_id=author, author_handle=f"h_{author}" if author != "brand" else "acmehelp",
        language="en", **kw,
    )  # fmt: skip


def _repeat(store: Store, mention_id: str) -> int:
    return int(decode_signals(store.get_mention(mention_id)["signals"])["repeat_count"])


def test_repeat_counts_see_the_page_and_its_answers(pg_url: str | None) -> None:
    """An earlier mention of the same page counts; one the brand answers in the page does not."""
    page = [
        _m(1, 0, "u1", "@acmehelp where is my refund?"),
        _m(2, 5, "u1", "@acmehelp my router is broken, help?"),
        _m(3, 6, "brand", "sorry, DM us", parent_id="1"),
        _m(4, 9, "u1", "@acmehelp still no refund?"),
        _m(5, 10, "u2", "@acmehelp my app is broken?"),
    ]
    later = [_m(6, 20, "u1", "@acmehelp hello?"), _m(7, 21, "brand", "on it", parent_id="2")]
    before, after = _poll_both_ways(pg_url, [page, later])
    assert after == before
    with _fresh(pg_url) as store:
        poll_source(
            store, ScriptSource([page, later]), own_handles=["acmehelp"],
            scorer=page_scorer(SETTINGS),
        )  # fmt: skip
        assert store.get_mention("script:1")["status"] == "replied"
        # 2 saw 1 open when it was scored; 1 is answered in the same page: the count is fixed
        assert [_repeat(store, f"script:{n}") for n in (1, 2, 4, 5)] == [0, 0, 1, 0]
        assert _repeat(store, "script:6") == 1  # 4 waits; 7 answered 2 in 6's page


@pytest.mark.sqlite_only
def test_a_page_without_answers_inserts_scored_rows_and_updates_none(tmp_path: Any) -> None:
    """Each new mention is written once: no triage UPDATE after the insert."""
    store = open_store(tmp_path / "once.db")
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    try:
        pages = [[_m(n, n, f"u{n % 3}", f"@acmehelp refund {n}?") for n in range(1, 9)]]
        poll_source(
            store, ScriptSource(pages), own_handles=["acmehelp"], scorer=page_scorer(SETTINGS)
        )
        store.conn.set_trace_callback(None)
        rows = store.rows("SELECT triaged_at, intent, signals FROM mentions")
        assert len(rows) == 8 and all(r["triaged_at"] and r["intent"] for r in rows)
        assert all(decode_signals(r["signals"])["signals"] for r in rows)
        updates = [s for s in statements if "UPDATE mentions SET sentiment_compound" in s]
        assert updates == []
    finally:
        store.close()


def test_retriage_all_writes_only_rows_that_changed(store: Store) -> None:
    pages = [
        [
            _m(1, 0, "u1", "@acmehelp which plan has roaming?"),
            _m(2, 1, "u2", "love the app"),
            _m(3, 2, "u3", "@acmehelp refund please, charged twice"),
        ]
    ]
    poll_source(store, ScriptSource(pages), own_handles=["acmehelp"], scorer=page_scorer(SETTINGS))
    stamped = {r["id"]: r["triaged_at"] for r in store.rows("SELECT id, triaged_at FROM mentions")}
    store.conn.execute("UPDATE mentions SET triaged_at = 'old'")
    assert retriage_all(store, SETTINGS) == 3
    assert {r["triaged_at"] for r in store.rows("SELECT triaged_at FROM mentions")} == {"old"}
    heavier = care_settings({"weights": {"question": 7.0}}, ["acmehelp"])
    assert retriage_all(store, heavier) == 3
    after = {r["id"]: r for r in store.rows("SELECT * FROM mentions")}
    assert after["script:1"]["triaged_at"] != "old"  # the question moved
    assert after["script:1"]["static_score"] > 7
    assert after["script:2"]["triaged_at"] == "old" and after["script:3"]["triaged_at"] == "old"
    assert set(stamped) == set(after)
