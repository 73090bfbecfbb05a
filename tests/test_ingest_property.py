"""Property: whatever pages, failures, crashes and restarts happen, the store ends with
exactly the items the platform holds, each once.

``SimSource`` is a scripted newest-first platform (ids are positions, pages
``page_size`` long, ``max_pages`` per walk) driving the real engine and the real
store: a SQLite file on disk (a fresh one per example) or, in the ``[pg]`` run,
the PostgreSQL test database (emptied before each example). Failures are adapter
errors (a 5xx/429), crashes are exceptions the engine does not handle (the
process dies: raised between pages or inside a page's transaction, which then
rolls back), and every crash is followed by a restart: the store is closed and
opened again (from the file, or with a new connection to the server).
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcare.errors import RateLimited, SourceError
from socialcare.models import Mention, Page
from socialcare.poll import poll_source
from socialcare.sources.base import Source
from socialcare.store import Store, open_store
from socialcare.store.ingest import list_gaps
from tests.pg_server import truncate_tables

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


class Crash(Exception):
    """The process dies here (not a SocialcareError, so the engine does not catch it)."""


@dataclass
class Platform:
    """The items that exist, and what goes wrong on each upcoming page fetch."""

    items: list[int] = field(default_factory=list)
    script: list[str] = field(default_factory=list)  # "ok", "fail", "limit", "crash", "txcrash"

    def add(self, n: int) -> None:
        start = (self.items[-1] if self.items else 0) + 1
        self.items += range(start, start + n)

    def next_event(self) -> str:
        return self.script.pop(0) if self.script else "ok"


class SimSource(Source):
    name = "sim"
    newest_first = True

    def __init__(self, platform: Platform, page_size: int, max_pages: int, reposts: bool) -> None:
        super().__init__({"duplicate_window_seconds": 0})
        self.platform = platform
        self.page_size = page_size
        self.max_pages = max_pages
        self.reposts = reposts

    def queries(self) -> list[str]:
        return ["q"]

    def position_key(self, value: str) -> tuple[float, str]:
        return (float(int(value)), "")

    def _mention(self, i: int) -> Mention:
        # every fifth item reposts the one before it: folded, yet still "held" exactly once
        repost = self.reposts and i % 5 == 0 and i > 1
        return Mention(
            source="sim",
            native_id=str(i),
            text=f"item {i}",
            created_at=T0 + timedelta(seconds=i),
            author_id=f"a{i}",
            author_handle=f"a{i}",
            kind="repost" if repost else "post",
            repost_of=str(i - 1) if repost else None,
        )

    def poll_range(self, query: str, after: str | None, until: str) -> Iterator[Page]:
        return self.poll(query, after, until=until)

    def poll(self, query: str, cursor: str | None, *, until: str | None = None) -> Iterator[Page]:
        since = int(cursor) if cursor else 0
        below = int(until) if until else None
        newest = since or None
        pages = 0
        offset = 0
        while True:
            event = self.platform.next_event()
            if event == "fail":
                raise SourceError("HTTP 503 from the simulated platform")
            if event == "limit":
                raise RateLimited("simulated 429", reset_at=None)
            if event == "crash":
                raise Crash()
            visible = sorted(
                (i for i in self.platform.items if i > since and (below is None or i < below)),
                reverse=True,
            )
            chunk = visible[offset : offset + self.page_size]
            offset += self.page_size
            pages += 1
            if chunk:
                newest = max(newest or 0, chunk[0])
            complete = offset >= len(visible)
            last = complete or pages >= self.max_pages
            page = Page(
                [self._mention(i) for i in chunk],
                cursor=str(newest) if last and newest else None,
                newest=str(newest) if newest else None,
                oldest=str(chunk[-1]) if chunk else None,
                complete=complete,
            )
            TxCrash.armed = event == "txcrash"  # dies while this page's transaction is open
            yield page
            if last:
                return


class TxCrash:
    """The on_stored hook (where triage runs), armed by the platform script to crash."""

    armed = False

    @classmethod
    def hook(cls, store: Store, ids: list[str]) -> None:
        if cls.armed:
            cls.armed = False
            raise Crash()


@contextmanager
def fresh_database(pg_url: str | None) -> Iterator[str]:
    """An empty store for one hypothesis example: a new SQLite file, or the emptied PG database.

    The ``backend`` fixture empties the PostgreSQL database once per test, not
    once per example, so each example empties it again here.
    """
    if pg_url is not None:
        truncate_tables(pg_url)
        yield pg_url
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield str(Path(tmp) / "sim.db")


events = st.sampled_from(["ok", "ok", "ok", "fail", "limit", "crash", "txcrash"])
steps = st.lists(
    st.tuples(st.integers(0, 12), st.lists(events, max_size=6)),
    min_size=1,
    max_size=8,
)


# pg_url is function-scoped but the same for every example; fresh_database empties the store.
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    initial=st.integers(1, 6),
    rounds=steps,
    page_size=st.integers(1, 4),
    max_pages=st.integers(1, 3),
    reposts=st.booleans(),
)
def test_interleavings_end_with_exactly_the_platforms_items(
    pg_url: str | None,
    initial: int,
    rounds: list[tuple[int, list[str]]],
    page_size: int,
    max_pages: int,
    reposts: bool,
) -> None:
    platform = Platform()
    # A first poll (no cursor yet) fetches what is recent, up to its page cap, and by
    # design does not backfill older history; the promise is about everything after
    # it. So the history starts small enough for one walk, and the first poll is clean.
    platform.add(max(1, min(initial, page_size * max_pages)))
    with fresh_database(pg_url) as path:
        store = open_store(path)

        def one_poll(script: list[str]) -> Store:
            nonlocal store
            platform.script = list(script)
            src = SimSource(platform, page_size, max_pages, reposts)
            try:
                poll_source(store, src, on_stored=TxCrash.hook)
            except Crash:
                TxCrash.armed = False
                store.close()  # the process died; a new one opens the store again
                store = open_store(path)
            return store

        try:
            one_poll([])
            assert store.get_cursor("sim", "q") == str(platform.items[-1])
            for added, script in rounds:
                platform.add(added)
                one_poll(script)

            # then the platform calms down: clean polls until every gap is filled
            for _ in range(60):
                one_poll([])
                cursor = store.get_cursor("sim", "q")
                top = str(platform.items[-1]) if platform.items else None
                if not list_gaps(store) and cursor == top:
                    break

            mentions = {r[0] for r in store.conn.execute("SELECT native_id FROM mentions")}
            folded = {r[0].split(":", 1)[1] for r in store.conn.execute("SELECT id FROM reposts")}
            assert mentions.isdisjoint(folded)
            assert mentions | folded == {str(i) for i in platform.items}
            assert list_gaps(store) == []
        finally:
            store.close()
