"""SQL for ``export`` and ``report``: every query those commands run lives here.

Exports are read in keyset pages (``WHERE (key) > (last key) ... LIMIT n``)
so memory stays flat however big the store is, and no read transaction stays
open while a slow consumer (a pipe, a spreadsheet on a network share) drains
the rows. Report queries aggregate in SQL (``GROUP BY``) and hand small
results to the pure functions of :mod:`socialcare.reports`; only the texts
for term counting are streamed, straight into a counter.

All values are bound parameters; the few identifiers spliced into SQL come
from the constant tables below (and ``db status``'s table names from
``store.copy.COPY_TABLES``), never from user input.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from operator import itemgetter
from typing import Any, Callable, Iterator, Sequence

from ..errors import UsageError
from ..models import MENTION_STATUSES, NEGATIVE_MAX, POSITIVE_MIN, to_iso
from .core import Store
from .ingest import per_source_created_ts

__all__ = [
    "EXPORT_KINDS",
    "EXPORT_COLUMNS",
    "MENTION_STATUSES",
    "OUTBOX_STATUSES",
    "ExportQuery",
    "ExportRows",
    "ReportWindow",
    "INTENT_LABEL",
    "SENTIMENT_LABEL",
    "agent_counts",
    "any_incident",
    "author_rows",
    "author_tables",
    "backlog_rows",
    "first_seen",
    "iter_export",
    "label_counts",
    "negative_texts",
    "rating_counts",
    "rating_slots",
    "response_aggregates",
    "response_rows",
    "spike_counts",
    "spike_texts",
    "table_sizes",
    "volume_slots",
]

OUTBOX_STATUSES = (
    "pending", "sending", "unknown", "sent", "failed", "cancelled", "skipped",
)  # fmt: skip

_SENTIMENT = (
    "CASE WHEN m.sentiment_scored = 0 OR m.sentiment_compound IS NULL THEN 'unscored' "
    "WHEN m.sentiment_compound <= :neg THEN 'negative' "
    "WHEN m.sentiment_compound >= :pos THEN 'positive' ELSE 'neutral' END"
)
_NEGATIVE = "(m.sentiment_scored = 1 AND m.sentiment_compound <= :neg)"
_POSITIVE = "(m.sentiment_scored = 1 AND m.sentiment_compound >= :pos)"

# (column, SQL expression) in export order: the order is part of the CSV contract.
_MENTION_EXPORT: tuple[tuple[str, str], ...] = (
    ("id", "m.id"),
    ("source", "m.source"),
    ("native_id", "m.native_id"),
    ("kind", "m.kind"),
    ("created_at", "m.created_at"),
    ("author_key", "coalesce(m.author_key, '')"),  # unlinked: NULL since m016, "" as before
    ("author_handle", "m.author_handle"),
    ("author_name", "m.author_name"),
    ("author_followers", "m.author_followers"),
    ("text", "m.text"),
    ("url", "m.url"),
    ("language", "m.language"),
    ("conversation_id", "m.conversation_id"),
    ("parent_id", "m.parent_id"),
    ("query", "m.query"),
    ("status", "m.status"),
    ("assignee", "m.assignee"),
    ("snoozed_until", "m.snoozed_until"),
    ("tags", "m.tags"),
    ("intent", "m.intent"),
    ("sentiment", _SENTIMENT),
    ("sentiment_compound", "CASE WHEN m.sentiment_scored = 1 THEN m.sentiment_compound END"),
    ("static_score", "m.static_score"),
    ("sla_due_at", "{sla_due_at}"),  # the dialect's unix-to-ISO of m.sla_due_ts
    ("answered_at", "m.answered_at"),
    ("answered_by", "m.answered_by"),
    ("repost_count", "m.repost_count"),
    ("is_own", "m.is_own"),
    ("fetched_at", "m.fetched_at"),
)
_OUTBOX_EXPORT: tuple[tuple[str, str], ...] = (
    ("id", "o.id"),
    ("kind", "o.kind"),
    ("source", "o.source"),
    ("mention_id", "o.mention_id"),
    ("status", "o.status"),
    ("agent", "o.agent"),
    ("created_at", "o.created_at"),
    ("due_at", "o.due_at"),
    ("sent_at", "o.sent_at"),
    ("updated_at", "o.updated_at"),
    ("text", "o.text"),
    ("platform_id", "o.platform_id"),
    ("url", "o.url"),
    ("error", "o.error"),
    ("kb_article_id", "o.kb_article_id"),
)
_EVENT_EXPORT: tuple[tuple[str, str], ...] = (
    ("id", "e.id"),
    ("at", "e.at"),
    ("agent", "e.agent"),
    ("action", "e.action"),
    ("mention_id", "e.mention_id"),
    ("detail", "e.detail"),
)
EXPORT_KINDS = ("mentions", "replies", "followups", "log")
#: each kind's keyset order: selected first in every row, ahead of the exported columns
_EXPORT_KEYS: dict[str, tuple[str, ...]] = {
    "mentions": ("m.created_ts", "m.rowid"),
    "replies": ("o.id",),
    "followups": ("o.id",),
    "log": ("e.id",),
}
EXPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "mentions": tuple(c for c, _ in _MENTION_EXPORT),
    "replies": tuple(c for c, _ in _OUTBOX_EXPORT),
    "followups": tuple(c for c, _ in _OUTBOX_EXPORT),
    "log": tuple(c for c, _ in _EVENT_EXPORT),
}


@dataclass(frozen=True)
class ExportQuery:
    """Which rows ``export`` writes; every set field narrows them.

    Time filters apply to ``mentions.created_at``, ``outbox.created_at`` (when
    the reply or follow-up was queued) and ``events.at``; ``since`` is
    inclusive, ``until`` exclusive.
    """

    kind: str
    since: datetime | None = None
    until: datetime | None = None
    source: str | None = None
    status: str | None = None
    #: private conversations (DM mentions, and private messages sent) are private
    #: data: left out unless asked for (``export --include-dm``)
    include_dm: bool = False


#: a DM mention: its text is private (reports and default exports leave it out)
_PRIVATE_MENTION = "m.kind = 'dm'"
#: an outbox item that is not a private message (options written by json.dumps, so
#: the key is spelled exactly so when set)
_PUBLIC_ITEM = (
    "o.kind != 'dm' AND coalesce(o.options, '') NOT LIKE '%\"dm\": true%' "
    "AND NOT EXISTS (SELECT 1 FROM mentions pm WHERE pm.id = o.mention_id AND pm.kind = 'dm')"
)


def _check_export(q: ExportQuery) -> None:
    if q.kind not in EXPORT_KINDS:
        raise UsageError(f"cannot export {q.kind!r}: choose one of {', '.join(EXPORT_KINDS)}")
    if q.status is None:
        return
    if q.kind == "log":
        raise UsageError("--status does not apply to log (events have no status)")
    allowed = MENTION_STATUSES if q.kind == "mentions" else OUTBOX_STATUSES
    if q.status not in allowed:
        raise UsageError(f"--status {q.status!r}: use one of {', '.join(allowed)}")


class ExportRows(Iterator[tuple[Any, ...]]):
    """One export's rows: an iterator of row tuples, or of whole pages through :meth:`pages`.

    A writer that handles a page at once (CSV: cleaned column by column and
    written by ``writerows``, all in C) takes :meth:`keyed_pages` before reading
    any row: the rows as the keyset read fetched them, each starting with
    :attr:`lead` key cells that are not exported. A Python step per row was a
    third of a million-row CSV export, and a copy of each row without its keys
    (kept alive for the page, so the cyclic collector scanned them) a tenth.
    """

    def __init__(self, pages: Iterator[list[tuple[Any, ...]]], lead: int = 0) -> None:
        self._keyed = pages
        #: how many cells at the start of each row of :meth:`keyed_pages` are keys
        self.lead = lead
        self._rows = chain.from_iterable(self.pages())

    def __next__(self) -> tuple[Any, ...]:
        return next(self._rows)

    def keyed_pages(self) -> Iterator[list[tuple[Any, ...]]]:
        """The pages not read yet, each row with its :attr:`lead` key cells first."""
        return self._keyed

    def pages(self) -> Iterator[list[tuple[Any, ...]]]:
        """The rows not read yet, a page (list) at a time, without their keys."""
        if not self.lead:
            return self._keyed
        tail = itemgetter(slice(self.lead, None))
        return (list(map(tail, page)) for page in self._keyed)

    def counted(self, hook: Callable[[int, bool], None]) -> ExportRows:
        """These rows, calling ``hook(rows read so far, whether that is all)`` when the first
        page is asked for, after each page and after the last one."""

        def pages() -> Iterator[list[tuple[Any, ...]]]:
            done = 0
            hook(0, False)
            for page in self._keyed:
                yield page
                done += len(page)
                hook(done, False)
            hook(done, True)

        return ExportRows(pages(), self.lead)


def iter_export(store: Store, q: ExportQuery, *, page_size: int = 1000) -> ExportRows:
    """Rows of ``q.kind`` as tuples in :data:`EXPORT_COLUMNS` order, a keyset page at a time.

    Mentions come in ``created_at`` order (ties by rowid), outbox items and
    events in id order.
    """
    _check_export(q)  # now, not at the first row: bad options must fail before any output
    return ExportRows(_export_pages(store, q, page_size), len(_EXPORT_KEYS[q.kind]))


def _export_pages(store: Store, q: ExportQuery, page_size: int) -> Iterator[list[tuple[Any, ...]]]:
    params: dict[str, Any] = {"neg": NEGATIVE_MAX, "pos": POSITIVE_MIN, "n": page_size}
    where: list[str] = []
    cols: tuple[tuple[str, str], ...]
    keys = _EXPORT_KEYS[q.kind]
    if q.kind == "mentions":
        cols, table = _MENTION_EXPORT, "mentions m"
        if q.since is not None:
            where.append("m.created_ts >= :since")
            params["since"] = q.since.timestamp()
        if q.until is not None:
            where.append("m.created_ts < :until")
            params["until"] = q.until.timestamp()
        if q.source is not None:
            where.append("m.source = :source")
        if q.status is not None:
            where.append("m.status = :status")
        if not q.include_dm:
            where.append(f"NOT {_PRIVATE_MENTION}")
    elif q.kind in ("replies", "followups"):
        cols, table = _OUTBOX_EXPORT, "outbox o"
        replies = "o.kind IN ('reply', 'dm')" if q.include_dm else "o.kind = 'reply'"
        where.append(replies if q.kind == "replies" else "o.kind IN ('followup', 'post')")
        if not q.include_dm:
            where.append(_PUBLIC_ITEM)
        where += _iso_range("o.created_at", q, params)
        if q.source is not None:
            where.append("o.source = :source")
        if q.status is not None:
            where.append("o.status = :status")
    else:
        cols, table = _EVENT_EXPORT, "events e"
        where += _iso_range("e.at", q, params)
        if q.source is not None:
            # events carry the mention id, whose prefix up to ':' is the source
            where.append("substr(e.mention_id, 1, length(:source) + 1) = :source || ':'")
    if q.source is not None:
        params["source"] = q.source
    if q.status is not None:
        params["status"] = q.status
    key_names = [f"_k{i}" for i in range(len(keys))]
    key_sql = ", ".join(f"{k} AS {n}" for k, n in zip(keys, key_names, strict=True))
    page_where = (
        f"({', '.join(keys)}) > ({', '.join(':' + n for n in key_names)})"
        if len(keys) > 1
        else f"{keys[0]} > :_k0"
    )
    exprs = {"{sla_due_at}": store.dialect.unix_to_iso("m.sla_due_ts")}
    select = ", ".join(f"{exprs.get(expr, expr)} AS {name}" for name, expr in cols)
    sql = (
        f"SELECT {key_sql}, {select} FROM {table} "
        f"WHERE {' AND '.join([page_where, *where])} ORDER BY {', '.join(keys)} LIMIT :n"
    )
    for name in key_names:
        params[name] = -1e300 if len(keys) > 1 and name == "_k0" else -1
    while True:
        page = store.conn.execute(sql, params).fetchall()
        if page:
            yield page  # keys first (ExportRows.lead): a copy of each row without them cost
        if len(page) < page_size:
            return
        for i, name in enumerate(key_names):
            params[name] = page[-1][i]


def _iso_range(column: str, q: ExportQuery, params: dict[str, Any]) -> list[str]:
    """Bounds on an ISO-text time column (stored as ``...Z`` text, so it sorts as time)."""
    out = []
    if q.since is not None:
        out.append(f"{column} >= :since")
        params["since"] = to_iso(q.since)
    if q.until is not None:
        out.append(f"{column} < :until")
        params["until"] = to_iso(q.until)
    return out


# -- report queries -----------------------------------------------------------
#: SQL for a mention's sentiment band (``:neg``/``:pos`` are bound by the window)
SENTIMENT_LABEL = _SENTIMENT
#: SQL for a mention's intent, "untriaged" when none
INTENT_LABEL = "coalesce(m.intent, 'untriaged')"


@dataclass(frozen=True)
class ReportWindow:
    """The mentions one report reads: created in [since, until), not the brand's own."""

    since: datetime
    until: datetime
    now: datetime
    source: str | None = None


def _window(w: ReportWindow) -> tuple[str, dict[str, Any]]:
    """Mentions created in the period, not the brand's own posts, of the chosen source."""
    where = "m.is_own = 0 AND m.created_ts >= :since AND m.created_ts < :until"
    params: dict[str, Any] = {
        "since": w.since.timestamp(),
        "until": w.until.timestamp(),
        "since_iso": to_iso(w.since),
        "until_iso": to_iso(w.until),
        "now": w.now.timestamp(),
        "now_iso": to_iso(w.now),
        "neg": NEGATIVE_MAX,
        "pos": POSITIVE_MIN,
    }
    if w.source is not None:
        where += " AND m.source = :source"
        params["source"] = w.source
    return where, params


def volume_slots(
    store: Store, w: ReportWindow, slot_seconds: int
) -> Iterator[tuple[str, int, int]]:
    """``(source, slot, mentions)`` per ``slot_seconds``-long slot of unix time."""
    where, params = _window(w)
    params["q"] = slot_seconds
    for source, slot, n in store.conn.execute(
        f"SELECT m.source, {store.dialect.trunc_int('m.created_ts / :q')} AS slot, count(*) "
        "FROM mentions m "
        f"WHERE {where} GROUP BY m.source, slot",
        params,
    ):
        yield str(source), int(slot), int(n)


def label_counts(store: Store, w: ReportWindow, label_sql: str) -> dict[str, int]:
    """Mentions of the window per label (``label_sql`` is one of this module's constants)."""
    where, params = _window(w)
    rows = store.conn.execute(
        f"SELECT {label_sql} AS label, count(*) FROM mentions m WHERE {where} GROUP BY label",
        params,
    )
    return {str(label): int(n) for label, n in rows}


#: reviews with a star rating, not marked spam
_RATED = "m.rating IS NOT NULL AND m.status != 'spam'"


def rating_slots(
    store: Store, w: ReportWindow, slot_seconds: int
) -> Iterator[tuple[str, int, int, int]]:
    """``(source, slot, stars, reviews)`` of the window's rated reviews per time slot."""
    where, params = _window(w)
    params["q"] = slot_seconds
    for source, slot, stars, n in store.conn.execute(
        f"SELECT m.source, {store.dialect.trunc_int('m.created_ts / :q')} AS slot, m.rating, "
        f"count(*) FROM mentions m WHERE {where} AND {_RATED} "
        "GROUP BY m.source, slot, m.rating",
        params,
    ):
        yield str(source), int(slot), int(stars), int(n)


def rating_counts(store: Store, w: ReportWindow) -> Iterator[tuple[str, int, int]]:
    """``(source, stars, reviews)`` of the window's rated reviews."""
    where, params = _window(w)
    for source, stars, n in store.conn.execute(
        f"SELECT m.source, m.rating, count(*) FROM mentions m WHERE {where} AND {_RATED} "
        "GROUP BY m.source, m.rating",
        params,
    ):
        yield str(source), int(stars), int(n)


def response_rows(store: Store, w: ReportWindow) -> Iterator[tuple[Any, ...]]:
    """Per mention of the window (spam left out): ``(intent, created_ts, sla_due_ts, status,
    answered_ts, first_sent_ts, first_close_ts, last_close_ts)``."""
    where, params = _window(w)
    unix = store.dialect.iso_to_unix
    sql = (
        "SELECT coalesce(m.intent, 'untriaged'), m.created_ts, m.sla_due_ts, m.status, "
        f"{unix('m.answered_at')}, "
        f"(SELECT {unix('min(o.sent_at)')} FROM outbox o WHERE o.mention_id = m.id "
        "AND o.kind = 'reply' AND o.status = 'sent'), "
        f"(SELECT {unix('min(e.at)')} FROM events e WHERE e.mention_id = m.id "
        "AND e.action = 'close'), "
        f"(SELECT {unix('max(e.at)')} FROM events e WHERE e.mention_id = m.id "
        "AND e.action = 'close') "
        f"FROM mentions m WHERE {where} AND m.status != 'spam' "
        "AND coalesce(m.intent, '') != 'spam'"
    )
    yield from store.conn.execute(sql, params)


#: the durations :func:`response_aggregates` ranks: first responses and resolutions
RESPONSE_DURATIONS = ("first_response", "resolution")


def response_aggregates(
    store: Store, w: ReportWindow, percentiles: Sequence[int]
) -> tuple[
    dict[str, tuple[int, int, int, int]], dict[tuple[str, str | None], tuple[int, dict[int, float]]]
]:
    """The window's response figures from SQL aggregates, in one statement (spam left out).

    Returns ``(sla, ranked)``: ``sla`` is ``{intent: (with_sla, met, breached,
    pending)}``; ``ranked`` is ``{(duration, intent or None for all): (count,
    {rank: seconds})}`` holding, of each group's durations sorted, only the
    0-based ranks the whole ``percentiles`` fall between (``(n - 1) * q // 100``
    and the next), so a median needs no list of every wait in Python. The
    per-mention facts are :func:`response_rows`' and the arithmetic that of
    ``summarise_responses`` (first response: the earlier of the native answer
    and the first sent reply; resolution: to the last close of a closed
    mention; durations below 0 count as 0), done once in a materialised CTE
    that the counts and the window ranks all read: one pass over the window,
    and the sorts stay in the database.
    """
    where, params = _window(w)
    unix = store.dialect.iso_to_unix
    least = store.dialect.least
    base = (
        "SELECT coalesce(m.intent, 'untriaged') AS intent, m.created_ts AS created, "
        f"m.sla_due_ts AS due, m.status AS status, {unix('m.answered_at')} AS answered, "
        f"(SELECT {unix('min(o.sent_at)')} FROM outbox o WHERE o.mention_id = m.id "
        "AND o.kind = 'reply' AND o.status = 'sent') AS sent, "
        f"(SELECT {unix('min(e.at)')} FROM events e WHERE e.mention_id = m.id "
        "AND e.action = 'close') AS first_close, "
        f"(SELECT {unix('max(e.at)')} FROM events e WHERE e.mention_id = m.id "
        "AND e.action = 'close') AS last_close "
        f"FROM mentions m WHERE {where} AND m.status != 'spam' "
        "AND coalesce(m.intent, '') != 'spam'"
    )
    facts = (
        "SELECT intent, created, due, first_close, CASE WHEN answered IS NULL THEN sent "
        f"WHEN sent IS NULL THEN answered ELSE {least('answered', 'sent')} END AS responded, "
        "CASE WHEN status = 'closed' AND last_close <> 0 THEN last_close END AS resolved "
        f"FROM ({base}) b"
    )
    durations = {
        "first_response": "responded",
        "resolution": "resolved",
    }
    wanted = " OR ".join(
        f"rn - 1 IN ((n - 1) * {int(q)} / 100, (n - 1) * {int(q)} / 100 + 1)" for q in percentiles
    )
    parts = [
        # SLA outcome: handled (first response, else first close) after the due time is a
        # breach; unhandled is a breach once due has passed, else pending
        "SELECT 'sla' AS part, intent, count(*) AS a, "
        "sum(CASE WHEN coalesce(responded, first_close) <= due THEN 1 ELSE 0 END) AS b, "
        "sum(CASE WHEN coalesce(responded, first_close) > due OR "
        "(coalesce(responded, first_close) IS NULL AND :now > due) THEN 1 ELSE 0 END) AS c, "
        "sum(CASE WHEN coalesce(responded, first_close) IS NULL AND :now <= due "
        "THEN 1 ELSE 0 END) AS d FROM f WHERE due IS NOT NULL GROUP BY intent"
    ]
    for name, col in durations.items():
        seconds = f"CASE WHEN {col} - created > 0 THEN {col} - created ELSE 0.0 END"
        for group, partition in (("intent", "PARTITION BY intent "), ("NULL", "")):
            parts.append(
                f"SELECT '{name}' AS part, intent, rn - 1 AS a, n AS b, v AS c, NULL AS d "
                f"FROM (SELECT {group} AS intent, {seconds} AS v, "
                f"row_number() OVER ({partition}ORDER BY {seconds}) AS rn, "
                f"count(*) OVER ({partition.strip()}) AS n "
                f"FROM f WHERE {col} IS NOT NULL) r WHERE {wanted}"
            )
    sql = f"WITH f AS MATERIALIZED ({facts}) " + " UNION ALL ".join(parts)
    sla: dict[str, tuple[int, int, int, int]] = {}
    ranked: dict[tuple[str, str | None], tuple[int, dict[int, float]]] = {}
    for part, intent, a, b, c, d in store.conn.execute(sql, params):
        if part == "sla":
            sla[str(intent)] = (int(a), int(b or 0), int(c or 0), int(d or 0))
        else:
            key = (str(part), None if intent is None else str(intent))
            ranked.setdefault(key, (int(b), {}))[1][int(a)] = float(c)
    return sla, ranked


def any_incident(store: Store, w: ReportWindow) -> bool:
    """Whether a customer mention of the window (spam left out) is in a named incident.

    The incident tables read one row per mention of the period; with no incident
    in it they are left out, and this probe of ``incident_mentions`` (small: only
    incident members) saves reading the million rows just to find that out.
    """
    where, params = _window(w)
    row = store.conn.execute(
        "SELECT 1 FROM incident_mentions im JOIN incidents i ON i.id = im.incident_id "
        "JOIN mentions m ON m.id = im.mention_id "
        f"WHERE im.removed = 0 AND i.name IS NOT NULL AND i.name <> '' AND {where} "
        "AND m.status != 'spam' LIMIT 1",
        params,
    ).fetchone()
    return row is not None


def backlog_rows(
    store: Store, now: datetime, source: str | None
) -> tuple[list[tuple[str, int, int, int]], dict[str, tuple[str, float]]]:
    """Open mentions now: ``([(source, open, snoozed, past_sla)], {source: (oldest id, ts)})``.

    The oldest waiting mention per source ignores snoozed ones (ties: the smallest id).
    """
    params: dict[str, Any] = {"now": now.timestamp(), "now_iso": to_iso(now)}
    where = "m.status = 'open' AND m.is_own = 0 AND coalesce(m.intent, '') != 'spam'"
    if source is not None:
        where += " AND m.source = :source"
        params["source"] = source
    # One pass over the backlog index (it holds every column read here, in source
    # order, so no table page is touched and no sort is needed; SQLite otherwise
    # picked the status index): the counts and each source's oldest waiting time
    # together (two passes over the open-queue index took 63 ms with 20k open of
    # 1M). Then the few rows at that time, per source, by index probe.
    hint = store.dialect.open_backlog_hint()
    waits = "(m.snoozed_until IS NULL OR m.snoozed_until <= :now_iso)"
    counts = []
    oldest_ts: dict[str, float] = {}
    for src, n, snoozed, past, first in store.conn.execute(
        "SELECT m.source, count(*), "
        "sum(CASE WHEN m.snoozed_until > :now_iso THEN 1 ELSE 0 END), "
        "sum(CASE WHEN m.sla_due_ts < :now THEN 1 ELSE 0 END), "
        f"min(CASE WHEN {waits} THEN m.created_ts END) "
        f"FROM mentions m {hint} WHERE {where} GROUP BY m.source ORDER BY m.source",
        params,
    ):
        counts.append((str(src), int(n), int(snoozed or 0), int(past or 0)))
        if first is not None:
            oldest_ts[str(src)] = float(first)
    oldest = {}
    for src, ts in oldest_ts.items():
        row = store.conn.execute(
            f"SELECT min(m.id) FROM mentions m WHERE m.source = :src AND m.created_ts = :ts "
            f"AND {where} AND {waits}",
            {**params, "src": src, "ts": ts},
        ).fetchone()
        oldest[src] = (str(row[0]), ts)
    return counts, oldest


def agent_counts(store: Store, w: ReportWindow) -> Iterator[tuple[str, int, int]]:
    """``(agent, column, n)``: column 0 sent replies, 1 sent follow-ups and posts,
    2 native answers (answered outside socialcare), 3 closes, all in the window."""
    _, params = _window(w)
    src_outbox = " AND o.source = :source" if w.source else ""
    src_mention = " AND m.source = :source" if w.source else ""
    src_event = (
        " AND substr(e.mention_id, 1, length(:source) + 1) = :source || ':'" if w.source else ""
    )
    for agent, replies, followups in store.conn.execute(
        "SELECT o.agent, sum(CASE WHEN o.kind = 'reply' THEN 1 ELSE 0 END), "
        "sum(CASE WHEN o.kind IN ('followup', 'post') THEN 1 ELSE 0 END) FROM outbox o "
        f"WHERE o.status = 'sent' AND o.sent_at >= :since_iso AND o.sent_at < :until_iso{src_outbox} "
        "GROUP BY o.agent",
        params,
    ):
        yield str(agent or ""), 0, int(replies or 0)
        yield str(agent or ""), 1, int(followups or 0)
    for agent, n in store.conn.execute(
        "SELECT m.answered_by, count(*) FROM mentions m WHERE m.answered_at >= :since_iso "
        f"AND m.answered_at < :until_iso{src_mention} AND NOT EXISTS (SELECT 1 FROM outbox o "
        "WHERE o.mention_id = m.id AND o.kind = 'reply' AND o.status = 'sent') "
        "GROUP BY m.answered_by",
        params,
    ):
        yield str(agent or ""), 2, int(n or 0)
    for agent, n in store.conn.execute(
        "SELECT e.agent, count(*) FROM events e WHERE e.action = 'close' "
        f"AND e.at >= :since_iso AND e.at < :until_iso{src_event} GROUP BY e.agent",
        params,
    ):
        yield str(agent or ""), 3, int(n or 0)


def author_rows(
    store: Store, w: ReportWindow, *, advocates: bool, minimum: int, limit: int
) -> list[tuple[str, str, int, int, int]]:
    """Repeat contacts (or advocates): ``(who, handles, mentions, negative, positive)``;
    linked identities count as one customer."""
    where, params = _window(w)
    where += " AND m.author_key <> ''"  # unknown authors are strangers to each other
    params["limit"] = limit
    params["min"] = minimum
    negative_sql = f"sum(CASE WHEN {_NEGATIVE} THEN 1 ELSE 0 END)"
    positive_sql = f"sum(CASE WHEN {_POSITIVE} THEN 1 ELSE 0 END)"
    handles_sql = store.dialect.concat_distinct("m.source || ':@' || m.author_handle")
    if advocates:  # HAVING repeats the aggregates: PostgreSQL does not see output names there
        having, order = f"{positive_sql} >= :min", "positive DESC, mentions DESC, who"
    else:
        having, order = "count(*) >= :min", "mentions DESC, negative DESC, who"
    rows = []
    for who, handles, n, negative, positive in store.conn.execute(
        "SELECT CASE WHEN a.customer_id IS NOT NULL THEN 'customer:' || a.customer_id "
        "ELSE m.author_key END AS who, "
        f"{handles_sql}, count(*) AS mentions, {negative_sql} AS negative, "
        f"{positive_sql} AS positive "
        f"FROM mentions m LEFT JOIN authors a ON a.id = m.author_key WHERE {where} "
        f"GROUP BY who HAVING {having} ORDER BY {order} LIMIT :limit",
        params,
    ):
        handle_list = ", ".join(sorted(str(handles or "").split(",")))
        rows.append((str(who), handle_list, int(n), int(negative), int(positive)))
    return rows


def author_tables(
    store: Store, w: ReportWindow, *, repeat_min: int, advocate_min: int, limit: int
) -> tuple[list[tuple[str, str, int, int, int]], list[tuple[str, str, int, int, int]]]:
    """:func:`author_rows` of repeat contacts and of advocates from one grouping.

    The window's mentions are grouped per customer once (a materialised CTE),
    then both top lists are read from the groups: two full groupings were the
    report's costliest queries on a big window.
    """
    where, params = _window(w)
    where += " AND m.author_key <> ''"  # unknown authors are strangers to each other
    params.update({"limit": limit, "rmin": repeat_min, "amin": advocate_min})
    handles_sql = store.dialect.concat_distinct("m.source || ':@' || m.author_handle")
    grouped = (
        "SELECT CASE WHEN a.customer_id IS NOT NULL THEN 'customer:' || a.customer_id "
        "ELSE m.author_key END AS who, "
        f"{handles_sql} AS handles, count(*) AS mentions, "
        f"sum(CASE WHEN {_NEGATIVE} THEN 1 ELSE 0 END) AS negative, "
        f"sum(CASE WHEN {_POSITIVE} THEN 1 ELSE 0 END) AS positive "
        f"FROM mentions m LEFT JOIN authors a ON a.id = m.author_key WHERE {where} "
        "GROUP BY who"
    )
    cols = "who, handles, mentions, negative, positive"
    sql = (
        f"WITH g AS MATERIALIZED ({grouped}) "
        f"SELECT 0 AS part, {cols} FROM (SELECT {cols} FROM g WHERE mentions >= :rmin "
        "ORDER BY mentions DESC, negative DESC, who LIMIT :limit) r "
        f"UNION ALL SELECT 1 AS part, {cols} FROM (SELECT {cols} FROM g "
        "WHERE positive >= :amin ORDER BY positive DESC, mentions DESC, who LIMIT :limit) v"
    )
    parts: tuple[list[tuple[str, str, int, int, int]], ...] = ([], [])
    for part, who, handles, n, negative, positive in store.conn.execute(sql, params):
        handle_list = ", ".join(sorted(str(handles or "").split(",")))
        parts[int(part)].append((str(who), handle_list, int(n), int(negative), int(positive)))
    return parts[0], parts[1]


def negative_texts(store: Store, w: ReportWindow) -> Iterator[str]:
    """Texts of the window's negative mentions."""
    where, params = _window(w)
    for (text,) in store.conn.execute(
        f"SELECT m.text FROM mentions m WHERE {where} AND {_NEGATIVE} AND NOT {_PRIVATE_MENTION}",
        params,
    ):
        yield str(text or "")


# -- spike queries --------------------------------------------------------------
_SPIKE_WHERE = (
    "m.is_own = 0 AND m.status != 'spam' AND m.created_ts > :start AND m.created_ts <= :now "
    f"AND ({_NEGATIVE} OR m.intent = 'complaint')"
)


def _spike_params(now_ts: float, window_s: float, windows: int) -> dict[str, Any]:
    return {
        "now": now_ts,
        "w": window_s,
        "start": now_ts - (windows + 1) * window_s,
        "neg": NEGATIVE_MAX,
    }


def spike_counts(
    store: Store, now_ts: float, window_s: float, windows: int, source: str | None
) -> dict[str, list[int]]:
    """Negative/complaint counts per source for windows 0 (latest) .. ``windows``."""
    params = _spike_params(now_ts, window_s, windows)
    where = _SPIKE_WHERE
    if source is not None:
        where += " AND m.source = :source"
        params["source"] = source
    out: dict[str, list[int]] = {}
    # window i is (now - (i+1)w, now - iw]; floor((now - ts) / w) is its index
    for src, idx, n in store.conn.execute(
        f"SELECT m.source, {store.dialect.trunc_int('(:now - m.created_ts) / :w')} AS idx, "
        "count(*) "
        f"FROM mentions m {store.dialect.spikes_hint()} WHERE {where} GROUP BY m.source, idx",
        params,
    ):
        i = min(int(idx), windows)
        out.setdefault(str(src), [0] * (windows + 1))[i] += int(n)
    return out


def first_seen(store: Store) -> dict[str, float]:
    """When each source's first (non-own) mention was created: no baseline before that."""
    return per_source_created_ts(store, "min")


def spike_texts(
    store: Store, now_ts: float, window_s: float, windows: int, source: str | None
) -> Iterator[tuple[int, str]]:
    """``(window index, text)`` of every negative or complaint mention in the windows."""
    params = _spike_params(now_ts, window_s, windows)
    where = _SPIKE_WHERE
    if source is not None:
        where += " AND m.source = :source"
        params["source"] = source
    for idx, text in store.conn.execute(
        f"SELECT {store.dialect.trunc_int('(:now - m.created_ts) / :w')}, m.text "
        f"FROM mentions m WHERE {where} AND NOT {_PRIVATE_MENTION}",
        params,
    ):
        yield int(idx), str(text or "")


# -- db status ------------------------------------------------------------------
def table_sizes(store: Store, tables: Sequence[str]) -> tuple[dict[str, int], list[str]]:
    """Rows per table for ``db status``, and which counts are estimates (labelled as such).

    Kept counts (SQLite's m019 counters, PostgreSQL's planner estimates of big
    tables) come first; any other table is counted, which is quick for small
    ones. ``count(*)`` of a million mentions took 126 ms, and ``db copy``'s
    own check still counts every table.
    """
    kept, estimated = store.dialect.kept_row_counts(store.conn, tables)
    counts = {
        table: kept[table]
        if table in kept
        else int(store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        for table in tables
    }
    return counts, sorted(estimated & set(counts))
