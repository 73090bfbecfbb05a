"""Incremental, idempotent polling of sources into the store.

For each source and query: read the cursor, let the adapter yield pages, and
store each page (mentions, their triage, and the cursor if the page carries
one) in a single transaction. A failure mid-way keeps every page already
stored and never moves the cursor past anything unstored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Sequence

from .config import Config
from .errors import RateLimited, SocialcareError, SourceError
from .locks import job_lock
from .models import to_iso
from .sources.base import Source
from .sources.registry import get_source_class
from .store import Store

__all__ = ["PollResult", "poll", "poll_source", "build_source"]

log = logging.getLogger("socialcare.poll")

#: called inside the page's transaction with the ids just stored (triage hooks in here)
StoredHook = Callable[[Store, list[str]], None]


@dataclass
class PollResult:
    """What one query's poll did."""

    source: str
    query: str
    fetched: int = 0
    new: int = 0
    pages: int = 0
    cursor: str | None = None
    error: str | None = None
    error_code: int = 0


@dataclass
class PollSummary:
    """All queries' results, and the worst exit code among them."""

    results: list[PollResult] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return max((r.error_code for r in self.results), default=0)

    @property
    def new(self) -> int:
        return sum(r.new for r in self.results)


def build_source(config: Config, name: str) -> Source:
    """Instantiate the adapter ``name`` from its config table."""
    cls = get_source_class(name)
    return cls(config.source_section(name), brand_handles=config.brand_handles)


def poll_source(
    store: Store,
    source: Source,
    *,
    own_handles: Sequence[str] = (),
    on_stored: StoredHook | None = None,
) -> list[PollResult]:
    """Poll every query of one adapter; errors are recorded per query, not raised."""
    results = []
    for query in source.queries():
        result = PollResult(source.name, query, cursor=store.get_cursor(source.name, query))
        remaining: int | None = None
        reset: str | None = None
        try:
            for page in source.poll(query, result.cursor):
                remaining = page.rate_limit_remaining
                if page.rate_limit_reset is not None:
                    from datetime import datetime, timezone

                    reset = to_iso(datetime.fromtimestamp(page.rate_limit_reset, tz=timezone.utc))
                with store.transaction():
                    result.new += store.upsert_mentions(page.mentions, own_handles)
                    if on_stored is not None and page.mentions:
                        on_stored(store, [m.id for m in page.mentions])
                    if page.cursor is not None:
                        store.set_cursor(source.name, query, page.cursor)
                        result.cursor = page.cursor
                result.fetched += len(page.mentions)
                result.pages += 1
        except SocialcareError as exc:
            result.error = str(exc)
            result.error_code = exc.exit_code
            if isinstance(exc, RateLimited) and exc.reset_at is not None:
                from datetime import datetime, timezone

                reset = to_iso(datetime.fromtimestamp(exc.reset_at, tz=timezone.utc))
            log.warning("%s [%s]: %s", source.name, query, exc)
        store.record_poll(
            source.name,
            query,
            items=result.fetched,
            error=result.error,
            rate_limit_remaining=remaining,
            rate_limit_reset=reset,
        )
        if result.error is None:
            store.log_event("poll", source=source.name, query=query, new=result.new)
        results.append(result)
    return results


def poll(
    config: Config,
    store: Store,
    sources: Sequence[str] | None = None,
    *,
    on_stored: StoredHook | None = None,
    lock: bool = True,
) -> PollSummary:
    """Poll the named (default: all enabled) sources under the store's poll lock.

    Raises LockHeld when another poll runs; platform errors are collected per
    query in the summary so one broken source does not stop the others.
    """
    names = list(sources) if sources else config.enabled_sources()
    if not names:
        raise SourceError("no sources configured: add a [sources.NAME] table or use --source demo")
    built = [build_source(config, n) for n in names]  # unknown names fail before any work
    for src in built:
        src.check_credentials()
    summary = PollSummary()
    if lock:
        with job_lock(store.path, "poll"):
            for src in built:
                summary.results += poll_source(
                    store, src, own_handles=config.brand_handles, on_stored=on_stored
                )
    else:
        for src in built:
            summary.results += poll_source(
                store, src, own_handles=config.brand_handles, on_stored=on_stored
            )
    return summary
