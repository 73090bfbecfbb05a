"""Pages fetched back to back commit together (fewer WAL writes), and still nothing is
lost or stored twice: a failure keeps the batches before it, the cursor never passes an
unstored page, no transaction is open while the adapter fetches, budgets commit per page."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterator

import pytest

import socialcare.poll as poll_module
from socialcare.errors import RateLimited
from socialcare.models import Mention, Page, Step
from socialcare.poll import poll_source
from socialcare.sources.base import Source
from socialcare.store import Store, open_store


class PagedSource(Source):
    """Yields ``pages`` pages of three mentions (cursor = the page number) after ``cursor``.

    ``fail_after`` raises a rate limit once that many pages were yielded;
    ``in_tx`` records, before each page is produced, whether the store had a
    transaction open (the adapter's network time must not hold the write lock).
    """

    name = "paged"
    pages = 4
    fail_after: int | None = None
    store: Store | None = None
    in_tx: list[bool] = []

    def queries(self) -> list[str]:
        return ["q"]

    def poll(self, query: str, cursor: str | None) -> Iterator[Page]:
        start = int(cursor or 0)
        for n in range(start + 1, self.pages + 1):
            if self.fail_after is not None and n > self.fail_after:
                raise RateLimited("paged: rate limited", reset_at=None)
            if self.store is not None:
                self.in_tx.append(bool(self.store.conn.in_transaction))
            ms = [_mention(f"{n}-{i}") for i in range(3)]
            yield Page(ms, cursor=str(n))


def _mention(native: str) -> Mention:
    return Mention(
        source="paged",
        native_id=native,
        text=f"text {native}",
        created_at=datetime(2026, 11, 1, tzinfo=timezone.utc),
        author_id="a",
        author_handle="a",
    )


def _source(config: dict[str, Any] | None = None, **attrs: Any) -> PagedSource:
    src = PagedSource(config or {})
    src.in_tx = []
    for key, value in attrs.items():
        setattr(src, key, value)
    return src


@pytest.fixture
def other(file_store: Store) -> Iterator[Store]:
    """A second connection to the same store: it sees only what was committed."""
    s = open_store(file_store.path)
    yield s
    s.close()


def test_pages_fetched_back_to_back_commit_together(file_store: Store, other: Store) -> None:
    seen: list[int] = []
    poll_source(
        file_store,
        _source(store=file_store),
        on_stored=lambda st, ids: seen.append(other.mention_count()),
    )
    assert seen == [0, 0, 0, 0]  # one transaction: nothing visible until the batch commits
    assert other.mention_count() == 12
    assert file_store.get_cursor("paged", "q") == "4"


def test_the_batch_commits_at_its_size(
    file_store: Store, other: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poll_module, "BATCH_MENTIONS", 6)  # two pages of three
    seen: list[int] = []
    poll_source(file_store, _source(), on_stored=lambda st, ids: seen.append(other.mention_count()))
    assert seen == [0, 0, 6, 6]


def test_the_batch_commits_after_its_seconds(
    file_store: Store, other: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poll_module, "BATCH_SECONDS", 0.0)  # every page is "slow"
    seen: list[int] = []
    poll_source(file_store, _source(), on_stored=lambda st, ids: seen.append(other.mention_count()))
    assert seen == [0, 3, 6, 9]


def test_a_budget_commits_each_page_alone(file_store: Store, other: Store) -> None:
    seen: list[int] = []
    src = _source({"monthly_request_budget": 100})
    poll_source(file_store, src, on_stored=lambda st, ids: seen.append(other.mention_count()))
    assert seen == [0, 3, 6, 9]


def test_no_transaction_is_open_while_the_adapter_fetches(file_store: Store) -> None:
    src = _source(store=file_store)
    poll_source(file_store, src)
    assert src.in_tx == [False, False, False, False]


def test_a_fetch_failure_keeps_the_pages_fetched_before_it(file_store: Store) -> None:
    [result] = poll_source(file_store, _source(fail_after=2))
    assert result.error_code == RateLimited.exit_code
    assert file_store.mention_count() == 6
    assert file_store.get_cursor("paged", "q") == "2"
    [again] = poll_source(file_store, _source())  # the next run fetches the rest, once
    assert (again.new, again.fetched) == (6, 6)
    assert file_store.mention_count() == 12


def test_a_page_that_fails_to_store_rolls_back_its_batch_and_the_next_run_fetches_it(
    file_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poll_module, "BATCH_MENTIONS", 6)  # batches: pages 1-2, pages 3-4

    def hook(st: Store, ids: list[str]) -> None:
        if any(i.startswith("paged:4-") for i in ids):
            raise RuntimeError("disk on fire")

    [result] = poll_source(file_store, _source(), on_stored=hook)
    assert "disk on fire" in (result.error or "")
    # the first batch committed with its cursor; the second rolled back, page 3 with it
    ids = {r["id"] for r in file_store.rows("SELECT id FROM mentions")}
    assert ids == {f"paged:{p}-{i}" for p in (1, 2) for i in range(3)}
    assert file_store.get_cursor("paged", "q") == "2"
    assert (result.new, result.pages, result.cursor) == (6, 2, "2")  # what was committed
    usage = file_store.rows("SELECT sum(items) AS items, sum(new) AS new FROM ingest_usage")[0]
    assert (usage["items"], usage["new"]) == (6, 6)
    [again] = poll_source(file_store, _source())
    assert (again.new, again.fetched) == (6, 6)
    assert file_store.mention_count() == 12


def test_progress_still_hears_of_every_page(file_store: Store) -> None:
    steps: list[Step] = []
    poll_source(file_store, _source(), progress=steps.append)
    notes = [s.note for s in steps]
    assert notes == [
        "waiting for the first page",
        "page 1, 3 new",
        "page 2, 6 new",
        "page 3, 9 new",
        "page 4, 12 new",
    ]
    assert [s.done for s in steps] == [0, 3, 6, 9, 12]


@pytest.mark.sqlite_only
def test_the_poll_checkpoints_the_wal_seldom_and_then_as_before(file_store: Store) -> None:
    """While the batches commit, the WAL gathers up to BULK_CHECKPOINT_PAGES before a
    checkpoint (fewer bytes written); afterwards the connection's setting is back."""
    seen: list[int] = []

    def hook(store: Store, ids: list[str]) -> None:
        seen.append(int(store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]))

    before = int(file_store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
    poll_source(file_store, _source(), on_stored=hook)
    assert seen and set(seen) == {file_store.dialect.BULK_CHECKPOINT_PAGES}  # type: ignore[attr-defined]
    assert seen[0] != before
    assert int(file_store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]) == before
