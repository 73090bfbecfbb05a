"""Ingest queries: gaps, folding reposts and duplicates, native answers, edited reviews,
usage counters.

Every statement is parameterised and every function takes the :class:`Store`,
so the team backend can reimplement this module beside ``store.py``. The poll
engine calls these inside each page's transaction: a page's mentions, its
folded copies, the answers it reveals, its usage and the gap/cursor move all
commit together or not at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence, runtime_checkable

from ..models import Mention, to_iso, utcnow
from .core import Row, Store, in_chunks

__all__ = [
    "IngestOutcome",
    "Scorer",
    "RoutePlan",
    "RoutingScorer",
    "REOPEN_STATUSES",
    "review_change",
    "ingest_mentions",
    "triage_stored",
    "open_gap",
    "narrow_gap",
    "close_gap",
    "delete_gap",
    "set_gap_reason",
    "open_gaps",
    "list_gaps",
    "gap_counts",
    "add_usage",
    "usage_since",
    "usage_by_query",
    "poll_hours",
    "prune_usage",
    "hour_key",
    "month_start",
    "update_health",
    "newest_item_ts",
]

_URL = re.compile(r"https?://\S+")

#: scores mention rows (shaped as stored) given each one's repeat count: one mapping of
#: ``TRIAGE_COLUMNS`` per row (``socialcare.scoring.page_scorer`` makes one)
Scorer = Callable[[Sequence[Row], Sequence[int]], list[Mapping[str, Any]]]


class RoutePlan(Protocol):
    """Who gets which new mention of a page, decided before its insert (team mode)."""

    @property
    def assigned(self) -> Mapping[str, tuple[str, str]]:
        """mention id -> (assignee, claimed_at), written by the insert itself."""
        ...

    def finish(self, store: Store) -> None:
        """Write the page's route and audit rows (once its answers and edits are in)."""
        ...

    def undo(self, store: Store) -> None:
        """Take the assignments back: the page moved under the plan, route it afresh."""
        ...


@runtime_checkable
class RoutingScorer(Protocol):
    """A :data:`Scorer` that also routes the page's new mentions in memory, so their
    assignment rides in the insert instead of an UPDATE per agent afterwards."""

    def __call__(self, rows: Sequence[Row], counts: Sequence[int]) -> list[Mapping[str, Any]]:
        """Score rows, as a :data:`Scorer`."""
        ...

    def plan_routes(
        self, store: Store, rows: Sequence[Row], columns: Mapping[str, Mapping[str, Any]]
    ) -> RoutePlan | None:
        """Route the scored new ``rows`` (``columns``: their triage by id), in the page's
        transaction and before their insert."""
        ...


# -- folding and native answers ------------------------------------------------------


@dataclass
class IngestOutcome:
    """What storing one page did."""

    stored_ids: list[str] = field(default_factory=list)
    new: int = 0
    folded: int = 0
    answered: int = 0
    #: stored reviews whose text or rating changed on the platform
    edited: int = 0
    #: edited reviews that got worse and were put back in the queue
    reopened: int = 0


#: how many folded copies a mention has (``mentions.repost_count`` when up to date)
_REPOSTS_OF = "(SELECT count(*) FROM reposts r WHERE r.original_id = mentions.id)"


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))  # a str joins as its characters: "?, ?, ?"


def _known_reposts(store: Store, ids: Sequence[str]) -> dict[str, str]:
    """Which of ``ids`` were folded before, and into what."""
    out: dict[str, str] = {}
    for chunk in in_chunks(ids):
        for row in store.rows(
            f"SELECT id, original_id FROM reposts WHERE id IN ({_marks(chunk)})", chunk
        ):
            out[str(row["id"])] = str(row["original_id"])
    return out


def _is_quote_only(mention: Mention) -> bool:
    """A quote whose text is nothing but links (the quoted post's URL): a repost in effect."""
    return mention.kind == "quote" and not _URL.sub("", mention.text).strip()


def _repost_target(mention: Mention) -> str | None:
    """The store id of the post this one merely copies, if it is a repost or quote-only."""
    if not mention.repost_of:
        return None
    if mention.kind == "repost" or _is_quote_only(mention):
        target = f"{mention.source}:{mention.repost_of}"
        return None if target == mention.id else target
    return None


_Stored = dict[tuple[str, str], list[tuple[float, str]]]


def _stored_texts(store: Store, batch: Sequence[Mention], window: float) -> _Stored:
    """Stored (not own) mentions with a batch mention's author and text around its time.

    One query per 500 (author, text) pairs instead of one per mention: on a
    database server each query is a network round trip. Each pair's range spans
    only its own mentions in the batch (plus the window). Matching the text in
    the query, not in Python: by author alone, a batch whose times spread over
    weeks (a backfill, the demo file) read back every stored mention of its
    authors in that span (their texts included) to keep the few equal ones.
    """
    out: _Stored = {}
    if not batch:
        return out
    # "" is no identity: two strangers the platform hid are not one author
    spans: dict[tuple[str, str], tuple[float, float]] = {}
    for m in batch:
        author = m.author_key
        if author:
            ts = m.created_at.timestamp()
            key = (author, m.text)
            low, high = spans.get(key, (ts, ts))
            spans[key] = (min(low, ts), max(high, ts))
    for chunk in in_chunks(sorted(spans)):
        terms = " OR ".join(
            "(author_key = ? AND created_ts BETWEEN ? AND ? AND text = ?)" for _ in chunk
        )
        params: list[object] = []
        for key in chunk:
            low, high = spans[key]
            params += [key[0], low - window, high + window, key[1]]
        for row in store.rows(
            # ``+is_own``: not through the (is_own, created_ts) index, which the planner
            # picked for the old single range and walked every mention in it
            f"SELECT id, author_key, text, created_ts FROM mentions WHERE ({terms}) "
            "AND +is_own = 0",
            params,
        ):
            key = (str(row["author_key"]), str(row["text"]))
            out.setdefault(key, []).append((float(row["created_ts"]), str(row["id"])))
    for found in out.values():
        found.sort()
    return out


def _stored_duplicate(stored: _Stored, mention: Mention, window: float) -> str | None:
    """A stored mention with the same author and text within ``window`` seconds, if any."""
    found = stored.get((mention.author_key, mention.text))
    if not found:  # the usual mention: no stored copy to compare times with
        return None
    ts = mention.created_at.timestamp()
    return next(
        (mid for t, mid in found if ts - window <= t <= ts + window and mid != mention.id),
        None,
    )


def ingest_mentions(
    store: Store,
    mentions: Iterable[Mention],
    *,
    own_handles: Sequence[str] = (),
    own_ids: frozenset[str] = frozenset(),
    fold_reposts: bool = True,
    duplicate_window: float = 0.0,
    scorer: Scorer | None = None,
) -> IngestOutcome:
    """Store one page: queue-worthy mentions are upserted, copies folded, answers marked.

    * Reposts and quote-only copies (``fold_reposts``) and the same text from
      the same author within ``duplicate_window`` seconds become ``reposts``
      rows plus ``repost_count`` on the kept mention, never queue items.
      Within a page the oldest copy is kept; across polls the one stored first
      stays, so a stored (perhaps claimed) mention is never folded away.
    * A new post by the brand (``own_handles`` or ``own_ids``) that replies to
      a stored mention marks it answered by that account at the reply's time,
      and a new mention that the brand already answered is marked on arrival.

    * A stored review that comes back with new text or stars is an edit: it is
      refreshed and logged (``review_edited``), and reopened when it got worse
      (:func:`review_change`; ``review_reopened``). A brand reply rewritten on
      the platform answers its parent again if that is open.

    Re-reads (overlap, gap backfill) cost nothing: known ids are refreshed,
    known folded copies skipped, and nothing is marked answered twice; a stale
    copy of an edited review (older ``updated_at``) never undoes the edit.

    * With a ``scorer`` the page is triaged here too (:func:`_triage_page`): new
      mentions are scored in memory and inserted with their triage columns. A
      :class:`RoutingScorer` also routes them in memory and the insert carries
      their assignment; when the page answered, reopened or re-scored mentions
      (the rows routing read moved), the plan is undone and the caller's
      routing decides on the stored page instead.
    """
    # ``Mention.id`` builds its text on each read: the page's ids are made once, here
    by_id = {m.id: m for m in mentions}
    out = IngestOutcome()
    if not by_id:
        return out
    ids = list(by_id)
    batch = list(by_id.values())
    folded_before = _known_reposts(store, ids)
    existing = store.existing_ids(ids)
    handles = {h.lstrip("@").lower() for h in own_handles}
    own = {mid for mid, m in by_id.items() if mid in own_ids or m.author_handle.lower() in handles}

    stored = _stored_texts(store, batch, duplicate_window) if duplicate_window > 0 else {}
    keep: list[Mention] = []
    kept: list[str] = []  # keep's ids
    folds: list[tuple[Mention, str]] = []
    texts: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for mid, m in sorted(by_id.items(), key=lambda e: (e[1].created_at, e[1].native_id)):
        if mid in folded_before:
            continue
        # the author key and the time once (a property and a method call each): every
        # mention of every page passes here
        author = m.author_key
        ts = None
        target = None if mid in existing or not fold_reposts else _repost_target(m)
        if target is None and mid not in existing and duplicate_window > 0 and author:
            if mid not in own and m.text.strip() and m.kind != "repost":
                ts = m.created_at.timestamp()
                earlier = texts.get((author, m.text))
                same = (
                    next((i for t, i in earlier if abs(ts - t) <= duplicate_window), None)
                    if earlier
                    else None
                )
                target = same or _stored_duplicate(stored, m, duplicate_window)
        if target is not None:
            folds.append((m, target))
            continue
        keep.append(m)
        kept.append(mid)
        if ts is None:
            ts = m.created_at.timestamp()
        texts.setdefault((author, m.text), []).append((ts, mid))
    fresh = [m for mid, m in zip(kept, keep, strict=True) if mid not in existing]

    with store.transaction():
        before = _stored_reviews(store, keep, existing, own)
        scored = None
        if scorer is not None:
            scored = _score_new(store, scorer, fresh, own_handles, own_ids)
        plan = None
        if scored is not None and scored.rows and isinstance(scorer, RoutingScorer):
            plan = scorer.plan_routes(store, scored.rows, scored.columns)
        out.new = store.upsert_mentions(
            keep,
            own_handles,
            triage=scored.columns if scored else None,
            rows=scored.by_id if scored else None,
            assigned=plan.assigned if plan else None,
        )
        out.stored_ids = kept
        extra_own = [mid for mid in kept if mid in own_ids]
        if extra_own:
            store.conn.execute(
                f"UPDATE mentions SET is_own = 1 WHERE id IN ({_marks(extra_own)})", extra_own
            )
        if folds:
            cur = store.conn.executemany(
                "INSERT INTO reposts (id, original_id, author_key, author_handle, created_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING",
                [(m.id, t, m.author_key, m.author_handle, to_iso(m.created_at)) for m, t in folds],
            )
            out.folded = max(int(cur.rowcount), 0)  # summed over the rows by both drivers
        recount = sorted({t for _, t in folds} | set(out.stored_ids))
        for chunk in in_chunks(recount):
            # Only rows whose count moved are written: setting it on every stored row
            # rewrote each new mention a second time (a new row version on PostgreSQL).
            store.conn.execute(
                f"UPDATE mentions SET repost_count = {_REPOSTS_OF} "
                f"WHERE id IN ({_marks(chunk)}) AND repost_count != {_REPOSTS_OF}",
                chunk,
            )
        out.answered = _mark_native_answers(store, fresh, own)
        out.edited, out.reopened = _apply_review_edits(store, before, keep)
        replies = [m for mid, m in zip(kept, keep, strict=True) if mid in own] if own else []
        out.answered += _rewritten_answers(store, before, replies)
        if scorer is not None and scored is not None:
            moved = bool(out.answered or out.reopened or set(extra_own) & existing)
            if plan is not None:  # routed on rows and scores this page may have moved
                plan.undo(store) if moved else plan.finish(store)
            known = [mid for mid in kept if mid in existing]
            _finish_triage(store, scorer, scored, known, moved)
    return out


# -- triage on the way in --------------------------------------------------------------


@dataclass
class _Scored:
    """The new mentions of a page, scored before their insert."""

    rows: list[Row]
    counts: list[int]
    columns: dict[str, Mapping[str, Any]]
    by_id: dict[str, Row]


def _score_new(
    store: Store,
    scorer: Scorer,
    fresh: Sequence[Mention],
    own_handles: Sequence[str],
    own_ids: frozenset[str],
) -> _Scored:
    """Score mentions not stored yet from their rows in memory (one write each, not three).

    Their repeat counts are what ``unanswered_before_many`` will read once the
    page is in (:meth:`Store.waiting_before`): one indexed query per page.
    """
    rows = store.mention_rows(fresh, own_handles, own_ids)
    counts = store.waiting_before(rows)
    columns = scorer(rows, counts) if rows else []
    return _Scored(
        rows,
        counts,
        {str(r["id"]): c for r, c in zip(rows, columns, strict=True)},
        {str(r["id"]): r for r in rows},
    )


def _finish_triage(
    store: Store, scorer: Scorer, scored: _Scored, known: Sequence[str], moved: bool
) -> None:
    """The rest of the page's triage, once its answers and edits are in.

    Known mentions (re-reads, edited reviews) are read back and scored as
    ``triage_ids`` does. When this page answered, reopened or claimed as the
    brand's own an earlier mention (``moved``), the new ones' repeat counts are
    read again and the few that changed are re-scored: the result is the same
    as scoring the stored page afterwards, without its cost on the usual page.
    """
    if moved and scored.rows:
        now = store.unanswered_before_many([str(r["id"]) for r in scored.rows])
        changed = [
            (row, 0 if row["is_own"] else now.get(str(row["id"]), 0))
            for row, n in zip(scored.rows, scored.counts, strict=True)
            if (0 if row["is_own"] else now.get(str(row["id"]), 0)) != n
        ]
        if changed:
            rows = [row for row, _ in changed]
            columns = scorer(rows, [n for _, n in changed])
            store.save_triage((str(r["id"]), dict(c)) for r, c in zip(rows, columns, strict=True))
    if known:
        triage_stored(store, scorer, known)


def triage_stored(store: Store, scorer: Scorer, ids: Sequence[str], batch_size: int = 2000) -> int:
    """Score stored mentions by id, read back with their repeat counts; returns how many."""
    done = 0
    for rows in store.iter_mentions(batch_size=batch_size, ids=list(dict.fromkeys(ids))):
        waiting = store.unanswered_before_many([str(r["id"]) for r in rows if not r.get("is_own")])
        counts = [0 if r.get("is_own") else waiting.get(str(r["id"]), 0) for r in rows]
        columns = scorer(rows, counts)
        store.save_triage((str(r["id"]), dict(c)) for r, c in zip(rows, columns, strict=True))
        done += len(rows)
    return done


# -- edited reviews --------------------------------------------------------------------

#: statuses an edited review that got worse leaves, back to ``open`` (spam stays spam)
REOPEN_STATUSES = ("replied", "closed")


def review_change(
    old_rating: int | None, old_text: str, new_rating: int | None, new_text: str
) -> str | None:
    """How an edit changed a review: ``"worse"``, ``"better"``, ``"edited"`` or None (same).

    Worse means the customer is less happy than when the team last saw it: the
    rating dropped, or the rating stayed and the text was rewritten while the
    review is a complaint (1 or 2 stars: "still crashes in 4.3"). A higher
    rating is ``"better"`` whatever the words; new words at 3 stars or more are
    ``"edited"``. Only worse reopens.
    """
    if old_rating == new_rating and old_text == new_text:
        return None
    if old_rating is not None and new_rating is not None and new_rating != old_rating:
        return "worse" if new_rating < old_rating else "better"
    if old_text != new_text and new_rating is not None and new_rating <= 2:
        return "worse"
    return "edited"


def _stored_reviews(
    store: Store, batch: Sequence[Mention], existing: set[str], own: set[str]
) -> dict[str, Row]:
    """Rating, text, status and update time of the batch's stored reviews (and the brand's
    stored replies), before the upsert."""
    out: dict[str, Row] = {}
    if not existing:  # a page of new mentions (the usual one) has no stored copy to read
        return out
    ids = [m.id for m in batch if m.id in existing and (m.rating is not None or m.id in own)]
    for chunk in in_chunks(ids):
        for row in store.rows(
            "SELECT id, rating, text, status, snoozed_until, updated_at FROM mentions "
            f"WHERE id IN ({_marks(chunk)})",
            chunk,
        ):
            out[str(row["id"])] = row
    return out


def _apply_review_edits(
    store: Store, before: dict[str, Row], batch: Sequence[Mention]
) -> tuple[int, int]:
    """Log each edited review; reopen the ones that got worse. Returns (edited, reopened)."""
    edited = reopened = 0
    if not before:  # no stored review among them (the usual page)
        return edited, reopened
    for m in batch:
        old = before.get(m.id)
        if old is None:
            continue
        if (
            m.updated_at is not None
            and old["updated_at"]
            and to_iso(m.updated_at) < str(old["updated_at"])
        ):
            continue  # a stale copy: the upsert kept the newer version
        old_rating = int(old["rating"]) if old["rating"] is not None else None
        change = review_change(old_rating, str(old["text"]), m.rating, m.text)
        if change is None:
            continue
        edited += 1
        detail: dict[str, Any] = {"change": change, "old_rating": old_rating, "rating": m.rating}
        store.log_event("review_edited", mention_id=m.id, **detail)
        status = str(old["status"])
        snoozed = old["snoozed_until"] is not None
        if change == "worse" and (status in REOPEN_STATUSES or (status == "open" and snoozed)):
            store.set_status(m.id, "open")
            store.log_event("review_reopened", mention_id=m.id, previous=status, **detail)
            reopened += 1
    return edited, reopened


def _rewritten_answers(store: Store, before: dict[str, Row], replies: Sequence[Mention]) -> int:
    """A reply the brand rewrote on the platform answers its parent again, if that is open.

    One-response platforms (app-store reviews) keep the reply's id when the
    developer replaces it, so this is how a review reopened by a worse edit and
    then answered in App Store Connect leaves the queue. A rewrite older than
    the parent's own last change answers nothing.
    """
    answered = 0
    for m in replies:
        old = before.get(m.id)
        if old is None or old["text"] == m.text or not m.parent_id:
            continue
        parent = f"{m.source}:{m.parent_id}"
        rows = store.rows("SELECT status, updated_at FROM mentions WHERE id = ?", [parent])
        if not rows or rows[0]["status"] != "open":
            continue
        at = to_iso(m.updated_at or m.created_at)
        if rows[0]["updated_at"] and at < str(rows[0]["updated_at"]):
            continue
        store.mark_answered(parent, at, f"@{m.author_handle.lstrip('@')}")
        store.log_event(
            "answered_natively", agent=f"@{m.author_handle.lstrip('@')}", mention_id=parent,
            at=at, rewritten=True,
        )  # fmt: skip
        answered += 1
    return answered


def _mark_native_answers(store: Store, fresh: list[Mention], own: set[str]) -> int:
    """Mark mentions the brand answered outside socialcare; returns how many were marked."""
    answered = 0
    mine = [m.id in own for m in fresh] if own else [False] * len(fresh)
    replies = _brand_replies(store, [m for m, o in zip(fresh, mine, strict=True) if not o])
    for m, is_own in zip(fresh, mine, strict=True):  # oldest first: the earliest reply wins
        if is_own and m.kind == "dm" and m.conversation_id:
            answered += _answer_conversation(store, m)
        elif is_own and m.parent_id:
            parent = f"{m.source}:{m.parent_id}"
            parent = _known_reposts(store, [parent]).get(parent, parent)
            rows = store.rows("SELECT is_own FROM mentions WHERE id = ?", [parent])
            if rows and not rows[0]["is_own"]:
                answered += _answer(store, parent, to_iso(m.created_at), m.author_handle)
        elif not is_own and m.kind == "dm" and m.conversation_id:
            answered += _answered_in_conversation(store, m)
        elif not is_own and (m.source, m.native_id) in replies:
            at, handle = replies[(m.source, m.native_id)]
            answered += _answer(store, m.id, at, handle)
    return answered


def _answer_conversation(store: Store, own: Mention) -> int:
    """The brand's own private message answers the customer's open messages before it in
    that conversation (written on the platform, or by another tool): they leave the queue."""
    answered = 0
    for row in store.rows(
        "SELECT id FROM mentions WHERE source = ? AND conversation_id = ? AND kind = 'dm' "
        "AND is_own = 0 AND status = 'open' AND created_ts <= ? ORDER BY created_ts, id",
        [own.source, own.conversation_id, own.created_at.timestamp()],
    ):
        answered += _answer(store, str(row["id"]), to_iso(own.created_at), own.author_handle)
    return answered


def _answered_in_conversation(store: Store, m: Mention) -> int:
    """A customer's message stored after the brand's later answer (an older page of the
    same poll, a backfill) arrives answered."""
    rows = store.rows(
        "SELECT created_at, author_handle FROM mentions WHERE source = ? AND conversation_id = ? "
        "AND kind = 'dm' AND is_own = 1 AND created_ts >= ? ORDER BY created_ts, id LIMIT 1",
        [m.source, m.conversation_id, m.created_at.timestamp()],
    )
    if not rows:
        return 0
    return _answer(store, m.id, str(rows[0]["created_at"]), str(rows[0]["author_handle"]))


def _brand_replies(
    store: Store, mentions: Sequence[Mention]
) -> dict[tuple[str, str], tuple[str, str]]:
    """(source, native id) -> (time, handle) of the brand's earliest stored reply to it.

    One query per source and 500 mentions rather than one per mention.
    """
    out: dict[tuple[str, str], tuple[str, str]] = {}
    by_source: dict[str, list[str]] = {}
    for m in mentions:
        by_source.setdefault(m.source, []).append(m.native_id)
    for source, natives in by_source.items():
        for chunk in in_chunks(natives):
            for row in store.rows(
                "SELECT parent_id, created_at, author_handle FROM mentions WHERE source = ? "
                f"AND parent_id IN ({_marks(chunk)}) AND is_own = 1 ORDER BY created_ts, id",
                [source, *chunk],
            ):
                key = (source, str(row["parent_id"]))
                if key not in out:  # the earliest wins
                    out[key] = (str(row["created_at"]), str(row["author_handle"]))
    return out


def _answer(store: Store, mention_id: str, at: str, handle: str) -> int:
    by = f"@{handle.lstrip('@')}"
    rows = store.rows("SELECT answered_by FROM mentions WHERE id = ?", [mention_id])
    if rows and rows[0]["answered_by"]:
        return 0  # first answer wins (an agent's reply through socialcare, or an earlier one)
    store.mark_answered(mention_id, at, by)
    store.log_event("answered_natively", agent=by, mention_id=mention_id, at=at)
    return 1


# -- gaps ------------------------------------------------------------------------------


def open_gap(
    store: Store, source: str, query: str, after: str | None, before: str, reason: str
) -> int:
    """Record that items between ``after`` and ``before`` (both exclusive) may be missing."""
    return store.insert(
        "INSERT INTO gaps (source, query, after_cursor, before_cursor, created_at, reason) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [source, query, after, before, to_iso(utcnow()), reason],
    )


def narrow_gap(store: Store, gap_id: int, before: str) -> None:
    """Everything from ``before`` up is stored now: the gap shrinks to below it."""
    store.conn.execute("UPDATE gaps SET before_cursor = ? WHERE id = ?", [before, gap_id])


def close_gap(store: Store, gap_id: int) -> None:
    """The adapter walked the whole range: nothing in it is missing any more."""
    store.conn.execute(
        "UPDATE gaps SET closed_at = ? WHERE id = ? AND closed_at IS NULL",
        [to_iso(utcnow()), gap_id],
    )


def delete_gap(store: Store, gap_id: int) -> None:
    """Forget a gap that only existed while one run was in flight and then completed."""
    store.conn.execute("DELETE FROM gaps WHERE id = ?", [gap_id])


def set_gap_reason(store: Store, gap_id: int, reason: str) -> None:
    """Say why the run that left this gap stopped (shown by ``socialcare gaps``)."""
    store.conn.execute("UPDATE gaps SET reason = ? WHERE id = ?", [reason, gap_id])


def open_gaps(store: Store, source: str, query: str) -> list[Row]:
    """Open gaps of one query, oldest first (the order they are backfilled in)."""
    return store.rows(
        "SELECT * FROM gaps WHERE source = ? AND query = ? AND closed_at IS NULL ORDER BY id",
        [source, query],
    )


def list_gaps(
    store: Store, *, source: str | None = None, include_closed: bool = False
) -> list[Row]:
    """Gaps for ``socialcare gaps``: open ones (or all), by source, query and age."""
    where = ["1 = 1"]
    params: list[object] = []
    if source is not None:
        where.append("source = ?")
        params.append(source)
    if not include_closed:
        where.append("closed_at IS NULL")
    return store.rows(
        f"SELECT * FROM gaps WHERE {' AND '.join(where)} ORDER BY source, query, id", params
    )


def gap_counts(store: Store) -> dict[tuple[str, str], int]:
    """Open gaps per (source, query)."""
    return {
        (str(r["source"]), str(r["query"])): int(r["n"])
        for r in store.rows(
            "SELECT source, query, count(*) AS n FROM gaps WHERE closed_at IS NULL "
            "GROUP BY source, query"
        )
    }


def skipped_counts(store: Store, since: str) -> dict[str, int]:
    """Items each source skipped as unreadable since the ISO time ``since`` (audit events)."""
    source = store.dialect.json_text("detail", "source")
    return {
        str(r["source"]): int(r["n"])
        for r in store.rows(
            f"SELECT {source} AS source, count(*) AS n FROM events "
            "WHERE action = 'poll_skipped' AND at >= ? GROUP BY 1",
            [since],
        )
    }


# -- usage -----------------------------------------------------------------------------


def hour_key(at: datetime) -> str:
    """The usage bucket of a time: UTC ``YYYY-MM-DDTHH`` (sorts as text)."""
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H")


def month_start(at: datetime) -> datetime:
    """Midnight UTC on the first of ``at``'s calendar month (the budget period)."""
    at = at.astimezone(timezone.utc)
    return datetime(at.year, at.month, 1, tzinfo=timezone.utc)


def add_usage(
    store: Store,
    source: str,
    query: str,
    *,
    requests: int = 0,
    items: int = 0,
    new: int = 0,
    at: datetime | None = None,
) -> None:
    """Count requests sent and items read; call inside the page's transaction."""
    if not (requests or items or new):
        return
    store.conn.execute(
        "INSERT INTO ingest_usage (source, query, hour, requests, items, new) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(source, query, hour) DO UPDATE SET "
        "requests = ingest_usage.requests + excluded.requests, "
        "items = ingest_usage.items + excluded.items, new = ingest_usage.new + excluded.new",
        [source, query, hour_key(at or utcnow()), requests, items, new],
    )


def usage_since(store: Store, source: str, since: datetime) -> tuple[int, int]:
    """``(requests, items)`` of one source from ``since`` (rounded down to the hour)."""
    row = store.rows(
        "SELECT coalesce(sum(requests), 0) AS r, coalesce(sum(items), 0) AS i "
        "FROM ingest_usage WHERE source = ? AND hour >= ?",
        [source, hour_key(since)],
    )[0]
    return int(row["r"]), int(row["i"])


def usage_by_query(store: Store, since: datetime) -> dict[tuple[str, str], tuple[int, int, int]]:
    """``(requests, items, new)`` per (source, query) from ``since``."""
    return {
        (str(r["source"]), str(r["query"])): (int(r["r"]), int(r["i"]), int(r["n"]))
        for r in store.rows(
            "SELECT source, query, sum(requests) AS r, sum(items) AS i, sum(new) AS n "
            "FROM ingest_usage WHERE hour >= ? GROUP BY source, query",
            [hour_key(since)],
        )
    }


def poll_hours(store: Store, source: str, since: datetime) -> list[str]:
    """The usage hours (``YYYY-MM-DDTHH``, oldest first) in which ``source`` sent requests."""
    return [
        str(r["hour"])
        for r in store.rows(
            "SELECT DISTINCT hour FROM ingest_usage WHERE source = ? AND hour >= ? "
            "AND requests > 0 ORDER BY hour",
            [source, hour_key(since)],
        )
    ]


def prune_usage(store: Store, now: datetime | None = None) -> None:
    """Drop counters older than the previous calendar month (budgets need only this one)."""
    start = month_start(month_start(now or utcnow()) - timedelta(days=1))
    store.conn.execute("DELETE FROM ingest_usage WHERE hour < ?", [hour_key(start)])


# -- health ------------------------------------------------------------------------------


def update_health(
    store: Store,
    source: str,
    query: str,
    *,
    items_last_poll: int,
    next_poll_at: str | None,
    requests_used: int,
    period_start: str,
) -> None:
    """The ingest columns of ``source_health`` (after ``Store.record_poll`` made the row)."""
    store.conn.execute(
        "UPDATE source_health SET items_last_poll = ?, next_poll_at = ?, requests_used = ?, "
        "budget_period_start = ? WHERE source = ? AND query = ?",
        [items_last_poll, next_poll_at, requests_used, period_start, source, query],
    )


def newest_item_ts(store: Store) -> dict[str, float]:
    """Per source, the creation time of the newest stored mention not by the brand."""
    return per_source_created_ts(store, "max")


def per_source_created_ts(store: Store, extreme: str) -> dict[str, float]:
    """Per source, the ``min`` or ``max`` creation time of its mentions not by the brand.

    A ``GROUP BY source`` read every mention (0.9 s on 1M). Instead a recursive
    query hops from one source to the next in ``idx_mentions_source_own_created``
    (a loose index scan, which neither backend does on its own) and takes each
    source's extreme from the same index: two index probes per source.
    """
    if extreme not in ("min", "max"):
        raise ValueError(f"bad extreme {extreme!r}")
    return {
        str(src): float(ts)
        for src, ts in store.conn.execute(
            "WITH RECURSIVE s(source) AS (SELECT min(source) FROM mentions "
            "UNION ALL SELECT (SELECT min(m.source) FROM mentions m WHERE m.source > s.source) "
            "FROM s WHERE s.source IS NOT NULL) "
            f"SELECT s.source, (SELECT {extreme}(m.created_ts) FROM mentions m "
            "WHERE m.source = s.source AND m.is_own = 0) FROM s WHERE s.source IS NOT NULL"
        )
        if ts is not None
    }
