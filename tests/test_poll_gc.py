"""A poll's walk of pages runs with the cyclic collector paused, collects the young
generation after each committed batch, and leaves the collector as it found it."""

from __future__ import annotations

import gc
from typing import Any, Iterator

import pytest

import socialcare.poll as poll_module
from socialcare.models import Page
from socialcare.poll import poll_source
from socialcare.store import Store

from .test_poll_batch import PagedSource, _mention, _source


class _Cycle:
    """A reference cycle the adapter leaves behind on each page (freed only by the collector)."""

    made = 0
    freed = 0

    def __init__(self) -> None:
        self.me = self
        _Cycle.made += 1

    def __del__(self) -> None:
        _Cycle.freed += 1


class CyclingSource(PagedSource):
    """PagedSource that records whether the collector runs, and makes a cycle per page."""

    enabled: list[bool] = []

    def poll(self, query: str, cursor: str | None) -> Iterator[Page]:
        for n in range(int(cursor or 0) + 1, self.pages + 1):
            self.enabled.append(gc.isenabled())
            _Cycle()
            yield Page([_mention(f"{n}-{i}") for i in range(3)], cursor=str(n))


def _stored_while(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether the collector ran during each page's storing."""
    seen: list[bool] = []
    store_page = poll_module._QueryPoll._store

    def spy(self: Any, *args: Any, **kwargs: Any) -> None:
        seen.append(gc.isenabled())
        store_page(self, *args, **kwargs)

    monkeypatch.setattr(poll_module._QueryPoll, "_store", spy)
    return seen


def test_pages_are_fetched_and_stored_with_the_collector_paused(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poll_module, "BATCH_MENTIONS", 6)  # two batches of two pages
    stored = _stored_while(monkeypatch)
    src = _source()
    src.__class__ = CyclingSource
    CyclingSource.enabled = []
    assert gc.isenabled()
    before = _Cycle.freed
    poll_source(store, src)
    assert CyclingSource.enabled == [False] * 4
    assert stored == [False] * 4
    assert gc.isenabled()  # as it was
    # the first batch's cycles were collected after its commit, within the walk
    assert _Cycle.freed - before >= 2


def test_a_collector_switched_off_stays_off(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    stored = _stored_while(monkeypatch)
    gc.disable()
    try:
        poll_source(store, _source())
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert stored == [False] * 4
