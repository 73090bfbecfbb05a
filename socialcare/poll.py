"""Incremental, idempotent, gap-free polling of sources into the store.

For each source and query: read the cursor, let the adapter yield pages, and
store each page (mentions, their triage, the usage counters, and the cursor or
gap move the page allows) in a single transaction. A failure or a crash
mid-way keeps every page already stored and never moves the cursor past
anything that is neither stored nor recorded as a gap.

Newest-first sources (search APIs, ``Source.newest_first``) need more than a
cursor: a run cut short (rate limit, 5xx, page cap, budget, crash) has the
newest items but not the older ones between the old cursor and the oldest item
fetched. On the first page of such a run the engine moves the cursor to the
run's newest item and records that range as a gap; each later page narrows
it; a page that reaches the old cursor deletes it again. So whenever a page
commits, everything up to the cursor is either stored or inside an open gap.
Every poll first works the open gaps (oldest first) through
``Source.poll_range``, narrowing a gap as its pages are stored and closing it
when the adapter has walked the whole range. Adapters re-read
``overlap_seconds`` below the cursor so late-indexed items are caught.

A first poll (no cursor yet) records no gap: it fetches what is recent, up to
the adapter's page cap, and moves the cursor only when complete or capped, as
before. Oldest-first sources (demo) keep the simple rule: a page's cursor.

Per source, ``[sources.NAME]`` may set (see :class:`IngestSettings`):
``fold_reposts``, ``duplicate_window_seconds``, ``overlap_seconds``,
``monthly_request_budget``, ``monthly_item_budget``, ``budget_warn_at`` and
``silent_after``. At a budget the source is not polled (``BudgetExhausted``,
exit code 5 like any rate limit) until the next calendar month (UTC).
"""

from __future__ import annotations

import copy
import gc
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator, Mapping, Sequence

from .config import Config
from .errors import ConfigError, RateLimited, SocialcareError, SourceError, UsageError
from .models import Page, ProgressHook, Step, to_iso, utcnow
from .safety import one_line
from .sources.base import Source, Waiter, bool_setting, sanitise_page
from .sources.registry import get_source_class
from .store import Row, Store, ingest
from .timeutil import format_age, parse_duration

__all__ = [
    "PollResult",
    "PollSummary",
    "IngestSettings",
    "BudgetExhausted",
    "WaitLimit",
    "QueryHealth",
    "SourceHealth",
    "IngestStatus",
    "poll",
    "poll_source",
    "build_source",
    "ingest_status",
]

log = logging.getLogger("socialcare.poll")

#: called inside the page's transaction with the ids just stored (triage hooks in here)
StoredHook = Callable[[Store, list[str]], None]
#: how many skipped items one ``PollResult`` carries (all are in the audit log)
_SKIPPED_KEPT = 50
#: pages fetched back to back are stored in one transaction up to this many mentions
#: (a 100k poll wrote 22x the store's size with a commit per 1000-mention page) ...
BATCH_MENTIONS = 10_000
#: ... or what arrived within this many seconds: a slow source still commits, and its
#: mentions reach the queue, about this often
BATCH_SECONDS = 2.0


class AdapterFailed(SourceError):
    """An adapter raised something other than a ``SocialcareError`` (a bug, a library crash).

    The engine records it as that source's error, like any ``SourceError``, so
    the other sources still run and ``status --alert`` shows it.
    """


def _adapter_failure(source: Source | str, exc: Exception, doing: str) -> AdapterFailed:
    """One line naming the source and the exception, with the adapter's secrets masked."""
    detail = one_line(str(exc), 200)
    if isinstance(source, Source):
        detail = source.redact(detail)
    name = source.name if isinstance(source, Source) else source
    text = f"{name}: unexpected {type(exc).__name__} while {doing}"
    return AdapterFailed(f"{text}: {detail}" if detail else text)


@contextmanager
def _collector_paused() -> Iterator[Callable[[], object]]:
    """Pause the cyclic garbage collector for a walk of pages; yields what to call after
    each committed batch: a young collection (nothing when the collector was off).

    Fetching and storing a page build tens of thousands of small containers (the
    mentions and their payloads, rows, values and signal lines), none in a reference
    cycle, and the fetched pages wait for their batch's commit: the collections they
    set off walked them and the long-lived triage tables again and again (a warm
    100k demo poll: ~1.1 of its ~32 CPU-s, 4 full collections 0.6 of it, even with
    the collector paused while each page was stored). Once a batch is committed its
    pages are gone, so the young collection after it walks only what the batch left
    (and frees any cycle it made); everything else is collected as usual after the
    walk, as ``triage.score.score_rows`` does for scoring.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield (lambda: gc.collect(0)) if enabled else (lambda: None)
    finally:
        if enabled:
            gc.enable()


def _guarded(source: Source, pages: Iterator[Page], doing: str) -> Iterator[Page]:
    """The adapter's pages, with any non-``SocialcareError`` it raises as ``AdapterFailed``."""
    while True:
        try:
            page = next(pages)
        except StopIteration:
            return
        except SocialcareError:
            raise
        except Exception as exc:  # the adapter's bug is that source's error, not the run's
            raise _adapter_failure(source, exc, doing) from exc
        yield page


class BudgetExhausted(RateLimited):
    """A source reached its monthly request or item budget: we stop before the bill grows.

    A rate limit we impose on ourselves, so it shares ``RateLimited``'s exit
    code (5); ``reset_at`` is the start of the next calendar month (UTC).
    """


# -- settings ----------------------------------------------------------------------


def _number(section: Mapping[str, Any], name: str, key: str, default: float | None) -> float | None:
    value = section.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"sources.{name}.{key} must be a number >= 0, got {value!r}")
    return float(value)


def _budget(section: Mapping[str, Any], name: str, key: str) -> int | None:
    value = section.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"sources.{name}.{key} must be a whole number >= 1 (or left out for no budget), "
            f"got {value!r}"
        )
    return value


@dataclass(frozen=True)
class IngestSettings:
    """The ingest keys of one ``[sources.NAME]`` table, validated.

    * ``fold_reposts`` (true): reposts and quote-only copies fold into the original;
    * ``duplicate_window_seconds`` (600): the same text by the same author within
      this many seconds folds into the first copy (0 turns it off);
    * ``monthly_request_budget`` / ``monthly_item_budget`` (none): stop polling at
      this many API requests / items read per calendar month (UTC);
    * ``budget_warn_at`` (0.8): warn once this share of a budget is used;
    * ``silent_after`` (none, e.g. ``"6h"``): ``status`` warns, and ``status
      --alert`` fails, when nothing new arrived or no poll succeeded for this long.
    """

    fold_reposts: bool = True
    duplicate_window: float = 600.0
    monthly_request_budget: int | None = None
    monthly_item_budget: int | None = None
    budget_warn_at: float = 0.8
    silent_after: timedelta | None = None

    @classmethod
    def from_config(cls, name: str, section: Mapping[str, Any]) -> IngestSettings:
        """Read and check the keys, naming the bad one in a ``ConfigError``."""
        fold = bool_setting(section, "fold_reposts", True, name)
        window = _number(section, name, "duplicate_window_seconds", 600.0) or 0.0
        warn = _number(section, name, "budget_warn_at", 0.8)
        if warn is None or not 0 < warn <= 1:
            raise ConfigError(
                f"sources.{name}.budget_warn_at must be a share between 0 and 1, e.g. 0.8"
            )
        silent = section.get("silent_after")
        silent_after = None
        if silent is not None:
            if not isinstance(silent, str):
                raise ConfigError(f'sources.{name}.silent_after must be a duration like "6h"')
            try:
                silent_after = parse_duration(silent, what=f"sources.{name}.silent_after")
            except UsageError as exc:
                raise ConfigError(str(exc)) from None
        return cls(
            fold_reposts=fold,
            duplicate_window=window,
            monthly_request_budget=_budget(section, name, "monthly_request_budget"),
            monthly_item_budget=_budget(section, name, "monthly_item_budget"),
            budget_warn_at=warn,
            silent_after=silent_after,
        )


# -- results -----------------------------------------------------------------------


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
    folded: int = 0
    answered: int = 0
    #: stored reviews edited on the platform, and those of them reopened (they got worse)
    edited: int = 0
    reopened: int = 0
    gaps_filled: int = 0
    gaps_open: int = 0
    requests: int = 0
    items_read: int = 0
    warning: str | None = None
    #: items the adapter could not normalise (each also kept in the audit log, with its raw)
    skipped: int = 0
    skipped_items: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class PollSummary:
    """All queries' results, and the worst exit code among them."""

    results: list[PollResult] = field(default_factory=list)
    #: a line saying the triage model was retrained after this poll (``retrain_every``), or ""
    retrained: str = ""

    @property
    def exit_code(self) -> int:
        return max((r.error_code for r in self.results), default=0)

    @property
    def new(self) -> int:
        return sum(r.new for r in self.results)


# -- waiting -----------------------------------------------------------------------


class WaitLimit:
    """Bounds the total time one poll may spend waiting on rate limits (``--max-wait``).

    Wraps the caller's waiter (a countdown, a log line, a test recorder). A
    wait that would go past the bound is declined: the adapter raises
    ``RateLimited``, the engine keeps what it stored, and the rest of the run
    is a gap the next poll fills.
    """

    def __init__(
        self,
        waiter: Waiter | None = None,
        max_wait: float | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.waiter = waiter
        self.left = max_wait
        self.sleep = sleep
        self.declined = False

    def __call__(self, seconds: float, reason: str) -> bool:
        if self.left is not None and seconds > self.left:
            self.declined = True
            log.warning(
                "%s: not waiting %.0f s (--max-wait has %.0f s left); stopping here",
                reason,
                seconds,
                self.left,
            )
            return False
        if self.left is not None:
            self.left -= seconds
        if self.waiter is None:
            log.warning("%s: waiting %.0f s", reason, seconds)
            self.sleep(seconds)
            return True
        return self.waiter(seconds, reason) is not False


# -- the engine --------------------------------------------------------------------


def build_source(config: Config, name: str) -> Source:
    """Instantiate the adapter ``name`` from its config table."""
    cls = get_source_class(name)
    return cls(config.source_section(name), brand_handles=config.brand_handles)


class Adapters:
    """Adapters built once by name for a session or a run, and closed together.

    Building an adapter builds its HTTP client (a TLS context and all), which
    costs more CPU than sending a reply; keeping one per source also reuses
    its connections.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self._built: dict[str, Source] = {}

    def get(self, name: str) -> Source:
        """The adapter for source ``name``, built on first use."""
        if name not in self._built:
            self._built[name] = build_source(self.config, name)
        return self._built[name]

    def close(self) -> None:
        """Close every adapter built so far (their HTTP connection pools)."""
        built, self._built = list(self._built.values()), {}
        for source in built:
            source.close()


def _iso_epoch(epoch: float) -> str:
    return to_iso(datetime.fromtimestamp(epoch, tz=timezone.utc))


def _next_month(now: datetime) -> datetime:
    start = ingest.month_start(now)
    return ingest.month_start(start + timedelta(days=32))


def _budget_check(
    store: Store, source: str, settings: IngestSettings, now: datetime
) -> tuple[str | None, str | None, int]:
    """``(exhausted message, warning, requests this month)`` for one source."""
    start = ingest.month_start(now)
    requests, items = ingest.usage_since(store, source, start)
    month = start.strftime("%Y-%m")
    resume = to_iso(_next_month(now))
    warning = None
    for used, budget, what, key in (
        (requests, settings.monthly_request_budget, "requests", "monthly_request_budget"),
        (items, settings.monthly_item_budget, "items read", "monthly_item_budget"),
    ):
        if budget is None:
            continue
        if used >= budget:
            return (
                f"{source}: monthly budget reached ({used}/{budget} {what} in {month}); "
                f"not polling until {resume}: raise sources.{source}.{key} to continue",
                None,
                requests,
            )
        if used >= budget * settings.budget_warn_at and warning is None:
            warning = (
                f"{source}: {used}/{budget} {what} used in {month} "
                f"({100 * used / budget:.0f}%; polling stops at the budget)"
            )
    return None, warning, requests


class _QueryPoll:
    """One query's poll: its open gaps first, then everything newer than the cursor."""

    def __init__(
        self,
        store: Store,
        source: Source,
        query: str,
        settings: IngestSettings,
        own_handles: Sequence[str],
        on_stored: StoredHook | None,
        progress: ProgressHook | None = None,
        scorer: ingest.Scorer | None = None,
    ) -> None:
        self.store = store
        self.scorer = scorer
        self.progress = progress
        self.source = source
        self.query = query
        self.settings = settings
        self.own_handles = tuple(own_handles)
        self.on_stored = on_stored
        self.result = PollResult(source.name, query, cursor=store.get_cursor(source.name, query))
        self.remaining: int | None = None
        self.reset: str | None = None
        self.next_poll_at: str | None = None
        self.requests_seen = source.requests_made
        self.run_gap: int | None = None
        self.batch_mentions = BATCH_MENTIONS
        self.batch_seconds = BATCH_SECONDS

    def key(self, value: str) -> tuple[float, str]:
        return self.source.position_key(value)

    def report(self, pages: int = 0, new: int = 0, read: int = 0) -> None:
        """Tell the progress callback how far this query got (after each committed page:
        its counts then, since a batch of pages commits at once)."""
        if self.progress is not None:
            note = f"page {pages}, {new} new" if pages else "waiting for the first page"
            self.progress(Step(f"{self.source.name} {self.query}", read, None, note))

    # -- per page ----------------------------------------------------------------
    def _store(self, page: Page, made: int | None = None) -> None:
        """Store a page's mentions, fold copies, mark answers, count usage (in the caller's tx)."""
        # Every adapter's mentions pass the boundary check, plugins' too (it is idempotent).
        mentions = sanitise_page(page.mentions)
        own_ids = frozenset(m.id for m in mentions if self.source.is_own(m))
        outcome = ingest.ingest_mentions(
            self.store,
            mentions,
            own_handles=self.own_handles,
            own_ids=own_ids,
            fold_reposts=self.settings.fold_reposts,
            duplicate_window=self.settings.duplicate_window,
            scorer=self.scorer,
        )
        if self.on_stored is not None and outcome.stored_ids:
            self.on_stored(self.store, outcome.stored_ids)
        # Adapters that do not count requests still cost one per page. ``made`` is the
        # source's request count when this page was fetched (a batch stores pages
        # fetched earlier: the requests after it belong to the pages after it).
        made = self.source.requests_made if made is None else made
        requests = max(made - self.requests_seen, 1)
        self.requests_seen = made
        read = page.items_read if page.items_read is not None else len(page.mentions)
        ingest.add_usage(
            self.store,
            self.source.name,
            self.query,
            requests=requests,
            items=read,
            new=outcome.new,
        )
        r = self.result
        for item in page.skipped:
            # Kept for inspection with the page it came in (the same transaction).
            self.store.log_event(
                "poll_skipped",
                source=self.source.name,
                query=self.query,
                reason=item.get("reason"),
                raw=item.get("raw"),
            )
            if len(r.skipped_items) < _SKIPPED_KEPT:
                r.skipped_items.append(item)
        if page.skipped:
            r.skipped += len(page.skipped)
            log.warning(
                "%s [%s]: %d item(s) skipped on this page (see the 'poll_skipped' audit events)",
                self.source.name,
                self.query,
                len(page.skipped),
            )
        r.fetched += len(page.mentions)
        r.new += outcome.new
        r.folded += outcome.folded
        r.answered += outcome.answered
        r.edited += outcome.edited
        r.reopened += outcome.reopened
        r.requests += requests
        r.items_read += read
        r.pages += 1
        self.remaining = page.rate_limit_remaining
        if page.rate_limit_reset is not None:
            self.reset = _iso_epoch(page.rate_limit_reset)

    def _after_page(self) -> None:
        """Stop before the next request once the monthly budget is used up."""
        exhausted, warning, _ = _budget_check(self.store, self.source.name, self.settings, utcnow())
        if exhausted is not None:
            raise BudgetExhausted(exhausted, reset_at=_next_month(utcnow()).timestamp())
        if warning is not None and self.result.warning is None:
            self.result.warning = warning
            log.info("%s", warning)  # reported in the poll's result and `status`

    def _advance(self, value: str) -> None:
        """Move the cursor to ``value``, never backwards."""
        current = self.store.get_cursor(self.source.name, self.query)
        if current is None or self.key(value) >= self.key(current):
            self.store.set_cursor(self.source.name, self.query, value)
            self.result.cursor = value

    def _pages(self, pages: Iterator[Page], handle: Callable[[Page], bool]) -> bool:
        """Store the adapter's pages, several to a transaction; ``handle`` moves cursor/gaps,
        True = done.

        Pages are fetched with no transaction open (a slow or rate-limited request
        never holds the write lock) and kept until ``batch_mentions`` mentions or
        ``batch_seconds`` have gathered, or a page completes the walk; then
        :meth:`_commit` stores them together. A failure while fetching first
        commits the pages already fetched (one while storing rolls the batch
        back). With a monthly budget each page is stored alone: the budget check
        between requests reads the usage counters.
        """
        with _collector_paused() as collect:
            return self._walk(pages, handle, collect)

    def _walk(
        self,
        pages: Iterator[Page],
        handle: Callable[[Page], bool],
        collect: Callable[[], object],
    ) -> bool:
        """:meth:`_pages` with the collector paused: ``collect`` after each committed batch."""
        alone = (
            self.settings.monthly_request_budget is not None
            or self.settings.monthly_item_budget is not None
        )
        fetched: list[tuple[Page, int]] = []
        size = 0
        since = 0.0
        try:
            try:
                for page in _guarded(self.source, pages, f"polling {self.query!r}"):
                    if not fetched:
                        since = time.monotonic()
                    fetched.append((page, self.source.requests_made))
                    size += len(page.mentions)
                    if not (
                        alone
                        or page.complete
                        or size >= self.batch_mentions
                        or time.monotonic() - since >= self.batch_seconds
                    ):
                        continue
                    batch, fetched, size = fetched, [], 0
                    if self._commit(batch, handle):
                        return True
                    del batch, page  # gone before the young collection would walk them
                    collect()
                    self._after_page()
            except BaseException:
                if fetched:  # what was fetched before the failure is kept, as page by page
                    batch, fetched = fetched, []
                    self._commit(batch, handle)
                raise
            if fetched:
                if self._commit(fetched, handle):
                    return True
                self._after_page()
            return False
        finally:
            close = getattr(pages, "close", None)  # stop the adapter's generator now
            if callable(close):
                close()

    def _commit(self, batch: Sequence[tuple[Page, int]], handle: Callable[[Page], bool]) -> bool:
        """Store fetched pages in one transaction, each with its own cursor/gap move.

        One commit per page wrote 22x the store's size over a 100k poll (each
        commit writes every b-tree page it touched to the WAL, a checkpoint
        writes them again, FTS5 flushes a segment per transaction). A page that
        fails to store rolls back the whole batch (a savepoint per page tripled
        the poll's CPU): the cursor and gaps stay where the last commit left
        them, so the next run fetches those pages again, and what this run
        reports is put back as it was before the batch. The progress callback
        hears of each page once the batch is committed. True = ``handle`` done.
        """
        done = False
        steps: list[tuple[int, int, int]] = []
        saved = (copy.deepcopy(self.result), self.run_gap, self.remaining, self.reset)
        requests_seen = self.requests_seen
        try:
            with self.store.transaction():
                for page, made in batch:
                    self._store(page, made)
                    done = handle(page)
                    r = self.result
                    steps.append((r.pages, r.new, r.items_read))
                    if done:
                        break
        except BaseException:
            # in place: ``run`` holds this result; the requests sent count as unpaged
            self.result.__dict__.update(saved[0].__dict__)
            self.run_gap, self.remaining, self.reset = saved[1:]
            self.requests_seen = requests_seen
            raise
        for pages, new, read in steps:
            self.report(pages, new, read)
        return done

    # -- gaps ----------------------------------------------------------------------
    def backfill(self, gap: Row) -> None:
        """Walk one open gap from its upper bound down, narrowing it; close it when walked."""
        gap_id = int(gap["id"])
        after: str | None = gap["after_cursor"]
        bound = {"before": str(gap["before_cursor"])}

        def handle(page: Page) -> bool:
            if page.complete:
                ingest.close_gap(self.store, gap_id)
                return True
            # Only the adapter knows when the range (and the overlap below it) is walked.
            if page.oldest is not None and self.key(page.oldest) < self.key(bound["before"]):
                bound["before"] = page.oldest
                ingest.narrow_gap(self.store, gap_id, page.oldest)
            return False

        pages = self.source.poll_range(self.query, after, bound["before"])
        if self._pages(pages, handle):
            self.result.gaps_filled += 1
            log.info("%s [%s]: gap %d filled", self.source.name, self.query, gap_id)
        else:
            log.warning(
                "%s [%s]: gap %d only partly filled; the next poll continues",
                self.source.name,
                self.query,
                gap_id,
            )
        self._after_page()

    def main(self) -> None:
        """Everything newer than the cursor (re-reading the adapter's overlap)."""
        old = self.result.cursor
        gap_mode = self.source.newest_first and old is not None

        def legacy(page: Page) -> bool:
            if page.cursor is not None:
                self.store.set_cursor(self.source.name, self.query, page.cursor)
                self.result.cursor = page.cursor
            return False

        def tracked(page: Page) -> bool:
            assert old is not None
            if page.complete:
                newest = page.cursor or page.newest
                if newest is not None:
                    self._advance(newest)
                if self.run_gap is not None:  # in flight only: the walk reached the old cursor
                    ingest.delete_gap(self.store, self.run_gap)
                    self.run_gap = None
                return True
            if page.newest is not None:
                self._advance(page.newest)
            if page.oldest is None:
                return False
            if self.key(page.oldest) > self.key(old):
                if self.run_gap is None:
                    self.run_gap = ingest.open_gap(
                        self.store, self.source.name, self.query, old, page.oldest, "interrupted"
                    )
                else:
                    ingest.narrow_gap(self.store, self.run_gap, page.oldest)
            elif self.run_gap is not None:
                # Walked below the old cursor: nothing is missing. The rest of the
                # overlap re-read is best effort, or a busy stream whose overlap
                # exceeds the page cap would leave a new gap on every poll.
                ingest.delete_gap(self.store, self.run_gap)
                self.run_gap = None
            return False

        completed = self._pages(self.source.poll(self.query, old), tracked if gap_mode else legacy)
        if not completed and self.run_gap is not None:
            reason = "stopped at the page cap (max_pages / limit)"
            ingest.set_gap_reason(self.store, self.run_gap, reason)
            log.warning(
                "%s [%s]: %s; the older part is a gap the next poll fills",
                self.source.name,
                self.query,
                reason,
            )

    # -- the whole query -----------------------------------------------------------
    def run(self, wait_limit: WaitLimit | None) -> PollResult:
        r = self.result
        name = self.source.name
        self.report()  # a line on the screen before the first (maybe slow) request
        try:
            exhausted, warning, _ = _budget_check(self.store, name, self.settings, utcnow())
            if exhausted is not None:
                raise BudgetExhausted(exhausted, reset_at=_next_month(utcnow()).timestamp())
            r.warning = warning
            if warning is not None:
                log.info("%s", warning)  # reported in the poll's result
            gap_error: SourceError | None = None
            if self.source.newest_first:
                for gap in ingest.open_gaps(self.store, name, self.query):
                    try:
                        self.backfill(gap)
                    except SourceError as exc:
                        # A gap the platform refuses must not block new mentions: report
                        # it, and still poll what is new (rate limits and budgets stop all).
                        gap_error = gap_error or exc
                        log.warning("%s [%s]: gap %s: %s", name, self.query, gap["id"], exc)
            self.main()
            if gap_error is not None:
                raise gap_error
        except Exception as exc:
            if not isinstance(exc, SocialcareError):
                # An adapter hook outside its pages (is_own, position_key, a plugin's
                # poll that is no generator) or a bug: still only this query's failure.
                log.debug("%s [%s]: unexpected error", name, self.query, exc_info=True)
                exc = _adapter_failure(self.source, exc, f"polling {self.query!r}")
            r.error = one_line(str(exc))
            if wait_limit is not None and wait_limit.declined:
                r.error += " (stopped at --max-wait; the rest is a gap the next poll fills)"
            r.error_code = exc.exit_code
            if isinstance(exc, RateLimited) and exc.reset_at is not None:
                if not isinstance(exc, BudgetExhausted):
                    self.reset = _iso_epoch(exc.reset_at)
                self.next_poll_at = _iso_epoch(exc.reset_at)
            if self.run_gap is not None:
                ingest.set_gap_reason(self.store, self.run_gap, r.error)
            log.info("%s [%s]: %s", name, self.query, exc)  # reported in the poll's result
        if self.next_poll_at is None and self.remaining == 0 and self.reset is not None:
            self.next_poll_at = self.reset
        self._finish()
        return r

    def _finish(self) -> None:
        """Count requests no page carried (failed ones), and record the query's health."""
        r = self.result
        name = self.source.name
        unpaged = self.source.requests_made - self.requests_seen
        with self.store.transaction():
            if unpaged > 0:
                ingest.add_usage(self.store, name, self.query, requests=unpaged)
                r.requests += unpaged
        self.store.record_poll(
            name,
            self.query,
            items=r.items_read,
            error=r.error,
            rate_limit_remaining=self.remaining,
            rate_limit_reset=self.reset,
        )
        now = utcnow()
        month = ingest.month_start(now)
        used = ingest.usage_by_query(self.store, month).get((name, self.query), (0, 0, 0))[0]
        with self.store.transaction():
            ingest.update_health(
                self.store,
                name,
                self.query,
                items_last_poll=r.items_read,
                next_poll_at=self.next_poll_at,
                requests_used=used,
                period_start=to_iso(month),
            )
        r.gaps_open = len(ingest.open_gaps(self.store, name, self.query))
        if r.error is None:
            self.store.log_event("poll", source=name, query=self.query, new=r.new, folded=r.folded)


#: the ``source_health`` query under which a source that failed before any query is recorded
SOURCE_QUERY = "*"


def _source_failed(store: Store, source: Source | str, exc: Exception, doing: str) -> PollResult:
    """Record a failure that happened before any query ran, so ``status --alert`` shows it."""
    name = source.name if isinstance(source, Source) else source
    error = exc if isinstance(exc, SocialcareError) else _adapter_failure(source, exc, doing)
    if not isinstance(exc, SocialcareError):
        log.debug("%s: unexpected error while %s", name, doing, exc_info=True)
    message = one_line(str(error))
    log.info("%s", message)  # reported in the poll's result
    store.record_poll(name, SOURCE_QUERY, items=None, error=message)
    return PollResult(name, SOURCE_QUERY, error=message, error_code=error.exit_code)


def _source_recovered(store: Store, name: str) -> None:
    """Clear an earlier whole-source failure once the source lists its queries again."""
    if any(h["source"] == name and h["query"] == SOURCE_QUERY for h in store.source_health()):
        store.record_poll(name, SOURCE_QUERY, items=None, error=None)


def poll_source(
    store: Store,
    source: Source,
    *,
    own_handles: Sequence[str] = (),
    on_stored: StoredHook | None = None,
    waiter: Waiter | None = None,
    max_wait: float | None = None,
    progress: ProgressHook | None = None,
    scorer: ingest.Scorer | None = None,
) -> list[PollResult]:
    """Poll every query of one adapter; errors are recorded per query, not raised.

    Args:
        own_handles: the brand's handles (config ``brand_handles``): never queued.
        on_stored: called in each page's transaction with the ids stored.
        scorer: triages each page as it is stored (``scoring.page_scorer``): new
            mentions are inserted scored, before ``on_stored`` hears of them.
        waiter: ``waiter(seconds, reason)`` shows or logs rate-limit waits.
        max_wait: the most seconds this poll may wait in total (``--max-wait``).
        progress: called per query as it starts and after each stored page, with the
            items read so far (the CLI draws a bar from it).
    """
    settings = IngestSettings.from_config(source.name, source.config)
    limit = waiter if isinstance(waiter, WaitLimit) else None
    if limit is None and (waiter is not None or max_wait is not None):
        limit = WaitLimit(waiter, max_wait)
    previous = source.waiter
    if limit is not None:
        source.waiter = limit
    results: list[PollResult] = []
    try:
        queries = source.queries()
    except Exception as exc:
        return [_source_failed(store, source, exc, "listing its queries")]
    _source_recovered(store, source.name)
    try:
        with store.dialect.bulk_writes(store.conn):  # checkpoints seldom (SQLite)
            for query in queries:
                if limit is not None:
                    limit.declined = False
                run = _QueryPoll(
                    store, source, query, settings, own_handles, on_stored, progress, scorer
                )
                results.append(run.run(limit))
    finally:
        source.waiter = previous
    return results


def poll(
    config: Config,
    store: Store,
    sources: Sequence[str] | None = None,
    *,
    on_stored: StoredHook | None = None,
    lock: bool = True,
    waiter: Waiter | None = None,
    max_wait: float | None = None,
    progress: ProgressHook | None = None,
    scorer: ingest.Scorer | None = None,
) -> PollSummary:
    """Poll the named (default: all enabled) sources under the store's poll lock.

    Raises LockHeld when another poll runs; platform errors (and budgets
    reached) are collected per query in the summary so one broken source does
    not stop the others. ``max_wait`` bounds the total rate-limit waiting of
    the whole run; ``progress`` hears of every query and page, and ``scorer``
    triages each page as it is stored (see ``poll_source``).
    """
    if max_wait is not None and max_wait < 0:
        raise UsageError("--max-wait must be a number of seconds >= 0")
    names = list(sources) if sources else config.enabled_sources()
    if not names:
        raise SourceError("no sources configured: add a [sources.NAME] table or use --source demo")
    built: list[Source] = []
    broken: list[tuple[str, Exception]] = []
    for n in names:
        try:
            src = build_source(config, n)  # unknown names fail before any work
            src.check_credentials()
        except SocialcareError:
            raise
        except Exception as exc:  # an adapter's bug: that source fails, the others run
            broken.append((n, exc))
            continue
        IngestSettings.from_config(src.name, src.config)  # config errors before any work
        built.append(src)
    limit = WaitLimit(waiter, max_wait) if (waiter is not None or max_wait is not None) else None
    summary = PollSummary()

    def run_all() -> None:
        with store.transaction():
            ingest.prune_usage(store)
        for name, exc in broken:
            summary.results.append(_source_failed(store, name, exc, "starting"))
        for src in built:
            summary.results += poll_source(
                store, src, own_handles=config.brand_handles, on_stored=on_stored, waiter=limit,
                progress=progress, scorer=scorer,
            )  # fmt: skip

    if lock:
        with store.job_lock("poll"):
            run_all()
    else:
        run_all()
    return summary


# -- status ------------------------------------------------------------------------


@dataclass
class QueryHealth:
    """One query's row in ``socialcare status``."""

    source: str
    query: str
    last_success_at: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None
    failing: bool = False
    items_last_poll: int | None = None
    items_24h: int = 0
    rate_limit_remaining: int | None = None
    rate_limit_reset: str | None = None
    next_poll_at: str | None = None
    open_gaps: int = 0


@dataclass
class SourceHealth:
    """One source's budget and alert state in ``socialcare status``."""

    source: str
    requests_month: int = 0
    items_month: int = 0
    request_budget: int | None = None
    item_budget: int | None = None
    newest_item_at: str | None = None
    last_success_at: str | None = None
    #: items skipped as unreadable in the last 24 hours (kept in the audit log)
    skipped_24h: int = 0
    warnings: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)


@dataclass
class IngestStatus:
    """Everything ``socialcare status`` shows."""

    queries: list[QueryHealth] = field(default_factory=list)
    sources: list[SourceHealth] = field(default_factory=list)
    #: outbox items that may be on the platform: ``unknown``, or ``sending`` for too long
    outbox_alerts: list[str] = field(default_factory=list)

    @property
    def alerts(self) -> list[str]:
        """Why ``status --alert`` should fail: failing, silent or over-budget sources,
        and outbox items whose outcome is unknown or that have been sending too long."""
        return [a for s in self.sources for a in s.alerts] + self.outbox_alerts


def _age(now: datetime, iso: str) -> timedelta:
    return now - datetime.fromisoformat(iso.replace("Z", "+00:00"))


def ingest_status(config: Config, store: Store, now: datetime | None = None) -> IngestStatus:
    """Per source and query: last success/error, items, rate limit, gaps, budget, alerts.

    Sources appear if config enables them or a poll ever recorded them; a
    source whose config is invalid shows that as an alert rather than failing.
    """
    now = now or utcnow()
    health = store.source_health()
    names = list(dict.fromkeys([*config.enabled_sources(), *(str(h["source"]) for h in health)]))
    gaps = ingest.gap_counts(store)
    day = ingest.usage_by_query(store, now - timedelta(hours=24))
    newest = ingest.newest_item_ts(store)
    skipped = ingest.skipped_counts(store, to_iso(now - timedelta(hours=24)))
    out = IngestStatus()
    for h in health:
        failing = h["last_error_at"] is not None and (
            h["last_success_at"] is None or str(h["last_error_at"]) >= str(h["last_success_at"])
        )
        key = (str(h["source"]), str(h["query"]))
        out.queries.append(
            QueryHealth(
                source=key[0],
                query=key[1],
                last_success_at=h["last_success_at"],
                last_error=one_line(h["last_error"]) if h["last_error"] else None,
                last_error_at=h["last_error_at"],
                failing=failing,
                items_last_poll=h["items_last_poll"],
                items_24h=day.get(key, (0, 0, 0))[1],
                rate_limit_remaining=h["rate_limit_remaining"],
                rate_limit_reset=h["rate_limit_reset"],
                next_poll_at=h["next_poll_at"],
                open_gaps=gaps.get(key, 0),
            )
        )
    for name in names:
        out.sources.append(
            _source_health(config, store, name, out.queries, newest, skipped.get(name, 0), now)
        )
    out.outbox_alerts = _outbox_alerts(store, now)
    return out


#: a ``sending`` item older than this is reported: its sender probably died mid-send
STUCK_SENDING_AFTER = timedelta(minutes=15)


def _outbox_alerts(store: Store, now: datetime) -> list[str]:
    """One line per kind of outbox trouble that needs a person to look on the platform."""
    rows = store.outbox_list(("unknown", "sending"), limit=10_000)
    unknown = [r["id"] for r in rows if r["status"] == "unknown"]
    stuck = [
        r["id"]
        for r in rows
        if r["status"] == "sending"
        and _age(now, str(r.get("owner_started_at") or r["updated_at"])) > STUCK_SENDING_AFTER
    ]
    out: list[str] = []
    if unknown:
        ids = ", ".join(f"#{i}" for i in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        out.append(
            f"outbox: {len(unknown)} item(s) may or may not have been posted ({ids}): "
            "`socialcare outbox retry ID` checks the platform first"
        )
    if stuck:
        ids = ", ".join(f"#{i}" for i in stuck[:10]) + (" ..." if len(stuck) > 10 else "")
        out.append(
            f"outbox: {len(stuck)} item(s) have been sending for over "
            f"{format_age(STUCK_SENDING_AFTER.total_seconds())} ({ids}): the sender probably "
            "died; `socialcare outbox retry ID` checks the platform first"
        )
    return out


def _source_health(
    config: Config,
    store: Store,
    name: str,
    queries: list[QueryHealth],
    newest: dict[str, float],
    skipped: int,
    now: datetime,
) -> SourceHealth:
    sh = SourceHealth(source=name, skipped_24h=skipped)
    if skipped:
        sh.warnings.append(
            f"{name}: {skipped} unreadable item(s) skipped in 24h; the raw items are in "
            "`socialcare log --action poll_skipped`"
        )
    try:
        settings = IngestSettings.from_config(name, config.source_section(name))
    except ConfigError as exc:
        sh.alerts.append(f"{name}: {exc}")
        settings = IngestSettings()
    sh.request_budget = settings.monthly_request_budget
    sh.item_budget = settings.monthly_item_budget
    sh.requests_month, sh.items_month = ingest.usage_since(store, name, ingest.month_start(now))
    mine = [q for q in queries if q.source == name]
    successes = [q.last_success_at for q in mine if q.last_success_at]
    sh.last_success_at = max(successes) if successes else None
    if name in newest:
        sh.newest_item_at = _iso_epoch(newest[name])
    if not mine:
        sh.warnings.append(f"{name}: never polled")
    failing = [q for q in mine if q.failing]
    if failing:
        q = failing[0]
        sh.alerts.append(
            f"{name}: failing ({len(failing)} of {len(mine)} queries; "
            f"{q.query}: {one_line(q.last_error, 160)})"
        )
    exhausted, warning, _ = _budget_check(store, name, settings, now)
    if exhausted is not None:
        sh.alerts.append(exhausted)
    elif warning is not None:
        sh.warnings.append(warning)
    window = _history_window(name)
    if window is not None and mine:
        late = _history_warning(store, name, window, sh.last_success_at, now)
        if late is not None:
            sh.warnings.append(late)
    if settings.silent_after is not None and mine:
        limit = settings.silent_after
        span = format_age(limit.total_seconds())
        if sh.last_success_at is None or _age(now, sh.last_success_at) > limit:
            sh.alerts.append(f"{name}: silent: no successful poll for longer than {span}")
        elif sh.newest_item_at is not None and _age(now, sh.newest_item_at) > limit:
            sh.alerts.append(
                f"{name}: silent: nothing new since {sh.newest_item_at} (longer than {span})"
            )
    return sh


def _history_window(name: str) -> timedelta | None:
    """How far back source ``name`` can list (None: no limit, or no such adapter)."""
    try:
        return get_source_class(name).history_window
    except SocialcareError:
        return None


def _history_warning(
    store: Store, name: str, window: timedelta, last_success: str | None, now: datetime
) -> str | None:
    """Warn when polls were, or now are, further apart than the platform lists back.

    Google Play lists reviews changed in the last 7 days only: a review
    written or edited during a longer pause is never seen. The pauses are read
    from the hourly usage counters (kept since the start of last month).
    """
    hours = [
        datetime.strptime(h, "%Y-%m-%dT%H").replace(tzinfo=timezone.utc)
        for h in ingest.poll_hours(store, name, ingest.month_start(now) - timedelta(days=31))
    ]
    days = window.days or window.total_seconds() / 86400
    advice = f"poll {name} at least every {days:g} days"
    if last_success is not None and _age(now, last_success) > window:
        return (
            f"{name}: last successful poll {format_age(_age(now, last_success).total_seconds())} "
            f"ago, but the platform lists only the last {days:g} days: reviews changed since "
            f"{last_success} are being lost ({advice})"
        )
    # An hour bucket is up to an hour wide: only pauses clearly over the window count.
    pauses = [
        (b - a, a, b)
        for a, b in zip(hours, hours[1:], strict=False)
        if b - a > window + timedelta(hours=1)
    ]
    if not pauses:
        return None
    gap, start, end = max(pauses)
    return (
        f"{name}: polls were {format_age(gap.total_seconds())} apart ({to_iso(start)} to "
        f"{to_iso(end)}), longer than the {days:g} days the platform lists: reviews changed "
        f"in between may be missing ({advice})"
    )
