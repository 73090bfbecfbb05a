"""SQL for ``export`` and ``report``: every query those commands run lives here.

Exports are read in keyset pages (``WHERE (key) > (last key) ... LIMIT n``)
so memory stays flat however big the store is, and no read transaction stays
open while a slow consumer (a pipe, a spreadsheet on a network share) drains
the rows. Report queries aggregate in SQL (``GROUP BY``) and hand small
results to the pure functions of :mod:`socialcare.reports`; only the texts
for term counting are streamed, straight into a counter.

All values are bound parameters; the few identifiers spliced into SQL come
from the constant tables below, never from user input.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import Any, Iterator

from ..errors import UsageError
from ..models import to_iso
from ..reports.metrics import (
    ADVOCATE_MIN_POSITIVE,
    NEGATIVE_MAX,
    POSITIVE_MIN,
    QUARTER_SECONDS,
    REPEAT_MIN_MENTIONS,
    Cell,
    Report,
    ReportTable,
    ResponseFacts,
    SpikeFinding,
    SpikeRule,
    TermLift,
    detect_spike,
    driving_terms,
    share_rows,
    summarise_responses,
    tokenize,
    top_terms,
    volume_by_bucket,
)
from .core import Store

__all__ = [
    "EXPORT_KINDS",
    "EXPORT_COLUMNS",
    "MENTION_STATUSES",
    "OUTBOX_STATUSES",
    "ExportQuery",
    "ReportParams",
    "iter_export",
    "collect_report",
    "collect_spikes",
]

MENTION_STATUSES = ("open", "replied", "closed", "spam")
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "cancelled", "skipped")

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
    ("author_key", "m.author_key"),
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


def iter_export(
    store: Store, q: ExportQuery, *, page_size: int = 1000
) -> Iterator[tuple[Any, ...]]:
    """Rows of ``q.kind`` as tuples in :data:`EXPORT_COLUMNS` order, a keyset page at a time.

    Mentions come in ``created_at`` order (ties by rowid), outbox items and
    events in id order.
    """
    _check_export(q)  # now, not at the first row: bad options must fail before any output
    return _export_pages(store, q, page_size)


def _export_pages(store: Store, q: ExportQuery, page_size: int) -> Iterator[tuple[Any, ...]]:
    params: dict[str, Any] = {"neg": NEGATIVE_MAX, "pos": POSITIVE_MIN, "n": page_size}
    where: list[str] = []
    cols: tuple[tuple[str, str], ...]
    keys: tuple[str, ...]
    if q.kind == "mentions":
        cols, table, keys = _MENTION_EXPORT, "mentions m", ("m.created_ts", "m.rowid")
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
    elif q.kind in ("replies", "followups"):
        cols, table, keys = _OUTBOX_EXPORT, "outbox o", ("o.id",)
        where.append(
            "o.kind = 'reply'" if q.kind == "replies" else "o.kind IN ('followup', 'post')"
        )
        where += _iso_range("o.created_at", q, params)
        if q.source is not None:
            where.append("o.source = :source")
        if q.status is not None:
            where.append("o.status = :status")
    else:
        cols, table, keys = _EVENT_EXPORT, "events e", ("e.id",)
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
    skip = len(keys)
    while True:
        page = store.conn.execute(sql, params).fetchall()
        for row in page:
            yield tuple(row[skip:])
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


# -- report ---------------------------------------------------------------------
@dataclass(frozen=True)
class ReportParams:
    """The period and grouping of one ``socialcare report``."""

    since: datetime
    until: datetime
    now: datetime
    tz: tzinfo
    tz_name: str
    by: str = "day"
    source: str | None = None
    top: int = 10


def _window(p: ReportParams) -> tuple[str, dict[str, Any]]:
    """Mentions created in the period, not the brand's own posts, of the chosen source."""
    where = "m.is_own = 0 AND m.created_ts >= :since AND m.created_ts < :until"
    params: dict[str, Any] = {
        "since": p.since.timestamp(),
        "until": p.until.timestamp(),
        "since_iso": to_iso(p.since),
        "until_iso": to_iso(p.until),
        "now": p.now.timestamp(),
        "now_iso": to_iso(p.now),
        "neg": NEGATIVE_MAX,
        "pos": POSITIVE_MIN,
    }
    if p.source is not None:
        where += " AND m.source = :source"
        params["source"] = p.source
    return where, params


def _volume_slots(store: Store, p: ReportParams) -> Iterator[tuple[str, int, int]]:
    where, params = _window(p)
    params["q"] = QUARTER_SECONDS
    for source, slot, n in store.conn.execute(
        f"SELECT m.source, {store.dialect.trunc_int('m.created_ts / :q')} AS slot, count(*) "
        "FROM mentions m "
        f"WHERE {where} GROUP BY m.source, slot",
        params,
    ):
        yield str(source), int(slot), int(n)


def _label_counts(store: Store, p: ReportParams, label_sql: str) -> dict[str, int]:
    where, params = _window(p)
    rows = store.conn.execute(
        f"SELECT {label_sql} AS label, count(*) FROM mentions m WHERE {where} GROUP BY label",
        params,
    )
    return {str(label): int(n) for label, n in rows}


def _response_facts(store: Store, p: ReportParams) -> Iterator[ResponseFacts]:
    """Per mention of the period (spam left out): answer, close and SLA times."""
    where, params = _window(p)
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
    for intent, created, due, status, answered, sent, first_close, last_close in store.conn.execute(
        sql, params
    ):
        answers = [t for t in (answered, sent) if t is not None]
        yield ResponseFacts(
            intent=str(intent),
            created_ts=float(created),
            first_response_ts=float(min(answers)) if answers else None,
            sla_due_ts=None if due is None else float(due),
            first_close_ts=None if first_close is None else float(first_close),
            resolved_ts=float(last_close) if status == "closed" and last_close else None,
        )


def _backlog(store: Store, p: ReportParams) -> ReportTable:
    """Open mentions now (not windowed): count, snoozed, past SLA, oldest waiting."""
    params: dict[str, Any] = {"now": p.now.timestamp(), "now_iso": to_iso(p.now)}
    where = "m.status = 'open' AND m.is_own = 0 AND coalesce(m.intent, '') != 'spam'"
    if p.source is not None:
        where += " AND m.source = :source"
        params["source"] = p.source
    counts = store.conn.execute(
        "SELECT m.source, count(*), "
        "sum(CASE WHEN m.snoozed_until > :now_iso THEN 1 ELSE 0 END), "
        "sum(CASE WHEN m.sla_due_ts < :now THEN 1 ELSE 0 END) "
        f"FROM mentions m WHERE {where} GROUP BY m.source ORDER BY m.source",
        params,
    ).fetchall()
    # The oldest waiting mention per source (ties: the smallest id), portable SQL.
    oldest = {
        str(source): (str(mid), float(ts))
        for source, mid, ts in store.conn.execute(
            f"WITH waiting AS (SELECT m.source, m.id, m.created_ts FROM mentions m WHERE {where} "
            "AND (m.snoozed_until IS NULL OR m.snoozed_until <= :now_iso)) "
            "SELECT w.source, min(w.id), w.created_ts FROM waiting w "
            "JOIN (SELECT source, min(created_ts) AS ts FROM waiting GROUP BY source) o "
            "ON o.source = w.source AND o.ts = w.created_ts GROUP BY w.source, w.created_ts",
            params,
        )
    }
    now_ts = p.now.timestamp()
    rows: list[list[Cell]] = []
    total = [0, 0, 0]
    best: tuple[str, float] | None = None
    for source, n, snoozed, past in counts:
        old = oldest.get(str(source))
        rows.append(
            [
                str(source),
                int(n),
                int(snoozed or 0),
                int(past or 0),
                old[0] if old else None,
                max(now_ts - old[1], 0.0) if old else None,
            ]
        )
        total = [total[0] + int(n), total[1] + int(snoozed or 0), total[2] + int(past or 0)]
        if old and (best is None or old[1] < best[1]):
            best = old
    rows.insert(
        0,
        ["all", *total, best[0] if best else None, max(now_ts - best[1], 0.0) if best else None],
    )
    return ReportTable(
        name="backlog",
        title="Backlog now (open mentions)",
        columns=["source", "open", "snoozed", "past_sla", "oldest_id", "oldest_waiting_seconds"],
        rows=rows,
        chart="bars",
        chart_value="open",
        note="Current state, not limited to the period; oldest waiting ignores snoozed mentions.",
    )


def _agents(store: Store, p: ReportParams) -> ReportTable:
    """Sent replies and follow-ups, native answers and closes per agent in the period."""
    _, params = _window(p)
    src_outbox = " AND o.source = :source" if p.source else ""
    src_mention = " AND m.source = :source" if p.source else ""
    src_event = (
        " AND substr(e.mention_id, 1, length(:source) + 1) = :source || ':'" if p.source else ""
    )
    per: dict[str, list[int]] = {}

    def add(agent: Any, col: int, n: Any) -> None:
        per.setdefault(str(agent or ""), [0, 0, 0, 0])[col] += int(n or 0)

    for agent, replies, followups in store.conn.execute(
        "SELECT o.agent, sum(CASE WHEN o.kind = 'reply' THEN 1 ELSE 0 END), "
        "sum(CASE WHEN o.kind IN ('followup', 'post') THEN 1 ELSE 0 END) FROM outbox o "
        f"WHERE o.status = 'sent' AND o.sent_at >= :since_iso AND o.sent_at < :until_iso{src_outbox} "
        "GROUP BY o.agent",
        params,
    ):
        add(agent, 0, replies)
        add(agent, 1, followups)
    for agent, n in store.conn.execute(
        "SELECT m.answered_by, count(*) FROM mentions m WHERE m.answered_at >= :since_iso "
        f"AND m.answered_at < :until_iso{src_mention} AND NOT EXISTS (SELECT 1 FROM outbox o "
        "WHERE o.mention_id = m.id AND o.kind = 'reply' AND o.status = 'sent') "
        "GROUP BY m.answered_by",
        params,
    ):
        add(agent, 2, n)
    for agent, n in store.conn.execute(
        "SELECT e.agent, count(*) FROM events e WHERE e.action = 'close' "
        f"AND e.at >= :since_iso AND e.at < :until_iso{src_event} GROUP BY e.agent",
        params,
    ):
        add(agent, 3, n)
    rows: list[list[Cell]] = [
        [agent or "(none)", *v]
        for agent, v in sorted(per.items(), key=lambda kv: (-kv[1][0], kv[0]))
    ]
    return ReportTable(
        name="agents",
        title="Replies per agent",
        columns=["agent", "replies", "followups", "native_answers", "closes"],
        rows=rows,
        chart="bars",
        chart_value="replies",
        note="Replies and follow-ups count sent items by sent time; native answers are "
        "mentions answered outside socialcare.",
    )


def _authors(store: Store, p: ReportParams, *, advocates: bool) -> ReportTable:
    """Repeat contacts (or advocates): linked identities count as one customer."""
    where, params = _window(p)
    params["limit"] = p.top
    negative_sql = f"sum(CASE WHEN {_NEGATIVE} THEN 1 ELSE 0 END)"
    positive_sql = f"sum(CASE WHEN {_POSITIVE} THEN 1 ELSE 0 END)"
    handles_sql = store.dialect.concat_distinct("m.source || ':@' || m.author_handle")
    if advocates:  # HAVING repeats the aggregates: PostgreSQL does not see output names there
        having, order = f"{positive_sql} >= :min", "positive DESC, mentions DESC, who"
        params["min"] = ADVOCATE_MIN_POSITIVE
    else:
        having, order = "count(*) >= :min", "mentions DESC, negative DESC, who"
        params["min"] = REPEAT_MIN_MENTIONS
    rows: list[list[Cell]] = []
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
        rows.append([str(who), handle_list, int(n), int(negative), int(positive)])
    if advocates:
        return ReportTable(
            name="advocates",
            title=f"Advocates (at least {ADVOCATE_MIN_POSITIVE} positive mentions)",
            columns=["author", "handles", "mentions", "negative", "positive"],
            rows=rows,
            chart="bars",
            chart_value="positive",
        )
    return ReportTable(
        name="repeat_contacts",
        title=f"Top authors (repeat contacts, at least {REPEAT_MIN_MENTIONS} mentions)",
        columns=["author", "handles", "mentions", "negative", "positive"],
        rows=rows,
        chart="bars",
        chart_value="mentions",
    )


def _negative_texts(store: Store, p: ReportParams) -> Iterator[str]:
    where, params = _window(p)
    for (text,) in store.conn.execute(
        f"SELECT m.text FROM mentions m WHERE {where} AND {_NEGATIVE}", params
    ):
        yield str(text or "")


def collect_report(store: Store, p: ReportParams) -> Report:
    """Run every report query for the period and build the tables, in display order."""
    if p.by not in ("day", "week"):
        raise UsageError(f"--by {p.by!r}: use day or week")
    if p.since >= p.until:
        raise UsageError("--since must be before --until")
    report = Report(
        title="socialcare report",
        since=to_iso(p.since),
        until=to_iso(p.until),
        timezone=p.tz_name,
        by=p.by,
        source=p.source,
        generated_at=to_iso(p.now),
    )
    report.tables.append(volume_by_bucket(_volume_slots(store, p), p.since, p.until, p.tz, p.by))
    sentiment = _label_counts(store, p, _SENTIMENT)
    report.tables.append(
        ReportTable(
            "sentiment",
            "Sentiment mix",
            ["sentiment", "mentions", "share"],
            share_rows(sentiment, ("negative", "neutral", "positive", "unscored")),
            chart="bars",
            chart_value="mentions",
        )
    )
    intents = _label_counts(store, p, "coalesce(m.intent, 'untriaged')")
    report.tables.append(
        ReportTable(
            "intent",
            "Intent mix",
            ["intent", "mentions", "share"],
            share_rows(intents),
            chart="bars",
            chart_value="mentions",
        )
    )
    summary = summarise_responses(_response_facts(store, p), p.now.timestamp())
    report.tables += [
        summary.first_response_table(),
        summary.sla_table(),
        summary.resolution_table(),
        _backlog(store, p),
        _agents(store, p),
        _authors(store, p, advocates=False),
        _authors(store, p, advocates=True),
    ]
    terms = top_terms(_negative_texts(store, p), limit=p.top * 2)
    report.tables.append(
        ReportTable(
            "negative_terms",
            "Top terms and hashtags in negative mentions",
            ["term", "mentions"],
            [[t, n] for t, n in terms],
            chart="bars",
            chart_value="mentions",
            note="Counted once per mention; links, @handles, numbers and stopwords left out.",
        )
    )
    return report


# -- spikes ---------------------------------------------------------------------
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


def _spike_counts(
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
        f"FROM mentions m WHERE {where} GROUP BY m.source, idx",
        params,
    ):
        i = min(int(idx), windows)
        out.setdefault(str(src), [0] * (windows + 1))[i] += int(n)
    return out


def _first_seen(store: Store) -> dict[str, float]:
    """When each source's first (non-own) mention was created: no baseline before that."""
    return {
        str(src): float(ts)
        for src, ts in store.conn.execute(
            "SELECT source, min(created_ts) FROM mentions WHERE is_own = 0 GROUP BY source"
        )
    }


def _spike_texts(
    store: Store, now_ts: float, window_s: float, windows: int, source: str | None
) -> Iterator[tuple[int, str]]:
    params = _spike_params(now_ts, window_s, windows)
    where = _SPIKE_WHERE
    if source is not None:
        where += " AND m.source = :source"
        params["source"] = source
    for idx, text in store.conn.execute(
        f"SELECT {store.dialect.trunc_int('(:now - m.created_ts) / :w')}, m.text "
        f"FROM mentions m WHERE {where}",
        params,
    ):
        yield int(idx), str(text or "")


def collect_spikes(
    store: Store,
    *,
    now: datetime,
    window_s: float,
    windows: int,
    rule: SpikeRule | None = None,
    source: str | None = None,
) -> list[SpikeFinding]:
    """Spike verdicts for all sources together and for each source, with driving terms.

    Baseline windows that start before a scope's first stored mention are
    dropped, so a fresh store does not call its first busy hour a spike.
    """
    if window_s <= 0:
        raise UsageError("--window must be longer than 0")
    if windows < 1:
        raise UsageError("--baseline must be at least 1 window")
    rule = rule or SpikeRule()
    now_ts = now.timestamp()
    per_source = _spike_counts(store, now_ts, window_s, windows, source)
    first = _first_seen(store)
    scopes: list[tuple[str, str | None, list[int], float]] = []
    if source is None:
        combined = [sum(col) for col in zip(*per_source.values(), strict=True)] or [0] * (
            windows + 1
        )
        scopes.append(("all", None, combined, min(first.values(), default=now_ts)))
        for name in sorted(per_source):
            scopes.append((name, name, per_source[name], first.get(name, now_ts)))
    else:
        only = per_source.get(source, [0] * (windows + 1))
        scopes.append((source, source, only, first.get(source, now_ts)))
    findings: list[SpikeFinding] = []
    for scope, src, counts, first_ts in scopes:
        baseline = [
            counts[i] for i in range(1, windows + 1) if now_ts - (i + 1) * window_s >= first_ts
        ]
        result = detect_spike(counts[0], baseline, rule)
        drivers = []
        if result.spike:
            drivers = _drivers(store, now_ts, window_s, windows, src, len(baseline))
        findings.append(
            SpikeFinding(
                scope=scope,
                window_start=to_iso(datetime.fromtimestamp(now_ts - window_s, tz=timezone.utc)),
                window_end=to_iso(now),
                result=result,
                drivers=drivers,
            )
        )
    return findings


def _drivers(
    store: Store, now_ts: float, window_s: float, windows: int, source: str | None, usable: int
) -> list[TermLift]:
    """Terms over-represented in the latest window compared with the usable baseline windows."""
    window: Counter[str] = Counter()
    base: Counter[str] = Counter()
    window_docs = base_docs = 0
    for idx, text in _spike_texts(store, now_ts, window_s, windows, source):
        if idx <= 0:
            window.update(set(tokenize(text)))
            window_docs += 1
        elif idx <= usable:
            base.update(set(tokenize(text)))
            base_docs += 1
    return driving_terms(window, window_docs, base, base_docs)
