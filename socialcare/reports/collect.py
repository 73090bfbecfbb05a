"""Assemble a report or a spike verdict from the store's queries and the metrics arithmetic.

This is the service between :mod:`socialcare.store.reports` (SQL only: rows and
counts) and :mod:`socialcare.reports.metrics` (pure arithmetic and tables), so
the store knows no report and the arithmetic no database.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timezone, tzinfo
from statistics import median
from typing import Any, Iterator

from ..errors import UsageError
from ..models import to_iso
from ..store import Store
from ..store import incidents as incident_sql
from ..store import reports as q
from .metrics import (
    ADVOCATE_MIN_POSITIVE,
    DURATION_PERCENTILES,
    QUARTER_SECONDS,
    REPEAT_MIN_MENTIONS,
    Cell,
    Durations,
    Report,
    ReportTable,
    ResponseFacts,
    ResponseFigures,
    SpikeFinding,
    SpikeRule,
    TermLift,
    detect_spike,
    driving_terms,
    percentile_at,
    rating_summary,
    rating_trend,
    share_rows,
    tokenize,
    top_terms,
    volume_by_bucket,
)

__all__ = ["ReportParams", "collect_report", "collect_spikes"]


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
    #: words never shown as top terms: the brand's own names and handles
    exclude_terms: tuple[str, ...] = ()

    @property
    def window(self) -> q.ReportWindow:
        """What the store reads for this report."""
        return q.ReportWindow(self.since, self.until, self.now, self.source)

    def previous_period(self) -> ReportParams:
        """The same report for the period of the same length just before this one."""
        span = self.until - self.since
        return replace(self, since=self.since - span, until=self.since)


def _response_facts(store: Store, p: ReportParams) -> Iterator[ResponseFacts]:
    """Per mention of the period (spam left out): answer, close and SLA times.

    The reference the report's aggregates are tested against (one object per
    mention: the report itself reads :func:`_response_figures`).
    """
    for intent, created, due, status, answered, sent, first_close, last_close in q.response_rows(
        store, p.window
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


def _response_figures(store: Store, p: ReportParams) -> ResponseFigures:
    """First-response, SLA and resolution figures of the period from SQL aggregates.

    The same numbers as ``summarise_responses`` over :func:`_response_facts`,
    but the database counts and sorts: Python holds a few ranks per intent,
    not a wait time per mention (402 MB of heap for 1M mentions before).
    """
    sla, ranked = q.response_aggregates(store, p.window, DURATION_PERCENTILES)
    out = ResponseFigures()
    for name, figures in (("first_response", out.first_response), ("resolution", out.resolution)):
        figures["all"] = Durations(0, None, None)
        for (duration, intent), (n, values) in ranked.items():
            if duration == name:
                med, p90 = (percentile_at(n, pc, values.__getitem__) for pc in DURATION_PERCENTILES)
                figures["all" if intent is None else intent] = Durations(n, med, p90)
    if sla:
        total = [sum(col) for col in zip(*sla.values(), strict=True)]
        for intent, counts in {"all": tuple(total), **sla}.items():
            out.sla[intent] = dict(
                zip(("with_sla", "met", "breached", "pending"), counts, strict=True)
            )
    return out


def _backlog(store: Store, p: ReportParams) -> ReportTable:
    """Open mentions now (not windowed): count, snoozed, past SLA, oldest waiting."""
    counts, oldest = q.backlog_rows(store, p.now, p.source)
    now_ts = p.now.timestamp()
    rows: list[list[Cell]] = []
    total = [0, 0, 0]
    best: tuple[str, float] | None = None
    for source, n, snoozed, past in counts:
        old = oldest.get(source)
        rows.append(
            [
                source,
                n,
                snoozed,
                past,
                old[0] if old else None,
                max(now_ts - old[1], 0.0) if old else None,
            ]
        )
        total = [total[0] + n, total[1] + snoozed, total[2] + past]
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
    per: dict[str, list[int]] = {}
    for agent, col, n in q.agent_counts(store, p.window):
        per.setdefault(agent, [0, 0, 0, 0])[col] += n
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


def _authors(found: list[tuple[str, str, int, int, int]], *, advocates: bool) -> ReportTable:
    """Repeat contacts (or advocates): linked identities count as one customer."""
    rows: list[list[Cell]] = [list(r) for r in found]
    if advocates:
        name, value = "advocates", "positive"
        title = f"Advocates (at least {ADVOCATE_MIN_POSITIVE} positive mentions)"
    else:
        name, value = "repeat_contacts", "mentions"
        title = f"Top authors (repeat contacts, at least {REPEAT_MIN_MENTIONS} mentions)"
    return ReportTable(
        name=name,
        title=title,
        columns=["author", "handles", "mentions", "negative", "positive"],
        rows=rows,
        chart="bars",
        chart_value=value,
    )


def _ratings(store: Store, p: ReportParams) -> list[ReportTable]:
    """Star ratings of the period per source and per bucket, and the previous period's."""
    slots = list(q.rating_slots(store, p.window, QUARTER_SECONDS))
    span = p.until - p.since
    before = q.ReportWindow(p.since - span, p.since, p.now, p.source)
    return [
        rating_summary(slots, q.rating_counts(store, before)),
        rating_trend(slots, p.since, p.until, p.tz, p.by),
    ]


def _first_answer(rows: list[dict[str, Any]]) -> float | None:
    answers = [float(t) for r in rows for t in (r["answered_ts"], r["sent_ts"]) if t is not None]
    return min(answers) if answers else None


def _incidents(store: Store, p: ReportParams) -> list[ReportTable]:
    """Incidents of the period against the rest: volume, customers, first response, timeline.

    An incident's first response is per customer (one acknowledgement answers all
    their mentions): from their first incident mention to the first answer on any
    of them. The rest ("(no incident)") is per mention, as in the first-response
    table. No incident in the period: no tables (the report stays as it was).
    """
    if not q.any_incident(store, p.window):
        return []  # what the rows below would find, without reading every mention of the period
    rows = incident_sql.report_rows(store, p.since.timestamp(), p.until.timestamp(), p.source)
    if not any(r["incident"] for r in rows):
        return []
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(str(r["incident"] or ""), []).append(r)
    normal = groups.pop("", [])
    out: list[list[Cell]] = []
    hours: dict[str, Counter[str]] = {}
    for name, members in sorted(groups.items()):
        by_customer: dict[str, list[dict[str, Any]]] = {}
        for r in members:
            by_customer.setdefault(str(r["author_key"] or ""), []).append(r)
        waits = []
        for mentions in by_customer.values():
            first = _first_answer(mentions)
            if first is not None:
                waits.append(max(first - min(float(m["created_ts"]) for m in mentions), 0.0))
        hours[name] = Counter(_hour(float(r["created_ts"]), p.tz) for r in members)
        out.append(
            [name, len(members), len(by_customer), len(waits), median(waits) if waits else None]
        )
    normal_waits = [
        max(first - float(r["created_ts"]), 0.0)
        for r in normal
        if (first := _first_answer([r])) is not None
    ]
    hours["(no incident)"] = Counter(_hour(float(r["created_ts"]), p.tz) for r in normal)
    out.append(["(no incident)", len(normal), len({r["author_key"] for r in normal}),
                len(normal_waits), median(normal_waits) if normal_waits else None])  # fmt: skip
    names = [*sorted(groups), "(no incident)"]
    slots = sorted({h for c in hours.values() for h in c})
    timeline: list[list[Cell]] = [
        [h, sum(hours[n][h] for n in names), *(hours[n][h] for n in names)] for h in slots
    ]
    return [
        ReportTable(
            "incidents",
            "Incidents against the rest",
            [
                "incident",
                "mentions",
                "customers",
                "answered",
                "median_first_response_seconds",
            ],
            out,
            chart="bars",
            chart_value="mentions",
            note="First response per customer for incidents (one acknowledgement answers all "
            "their mentions), per mention for the rest.",
        ),  # fmt: skip
        ReportTable(
            "incident_timeline",
            "Incident timeline (mentions per hour)",
            ["hour", "total", *names],
            timeline,
            chart="stacked",
        ),
    ]


def _hour(ts: float, tz: tzinfo) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:00")


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
    report.tables.append(
        volume_by_bucket(
            q.volume_slots(store, p.window, QUARTER_SECONDS), p.since, p.until, p.tz, p.by
        )
    )
    sentiment = q.label_counts(store, p.window, q.SENTIMENT_LABEL)
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
    intents = q.label_counts(store, p.window, q.INTENT_LABEL)
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
    summary = _response_figures(store, p)
    repeats, advocates = q.author_tables(
        store,
        p.window,
        repeat_min=REPEAT_MIN_MENTIONS,
        advocate_min=ADVOCATE_MIN_POSITIVE,
        limit=p.top,
    )
    report.tables += [
        summary.first_response_table(),
        summary.sla_table(),
        summary.resolution_table(),
        _backlog(store, p),
        _agents(store, p),
        _authors(repeats, advocates=False),
        _authors(advocates, advocates=True),
    ]
    report.tables += _ratings(store, p)
    report.tables += _incidents(store, p)
    terms = top_terms(q.negative_texts(store, p.window), limit=p.top * 2, exclude=p.exclude_terms)
    report.tables.append(
        ReportTable(
            "negative_terms",
            "Top terms and hashtags in negative mentions",
            ["term", "mentions"],
            [[t, n] for t, n in terms],
            chart="bars",
            chart_value="mentions",
            note=(
                "Counted once per mention, word forms grouped (refund, refunds); links, "
                "@handles, numbers, stopwords and the brand's own names left out."
            ),
        )
    )
    return report


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
    per_source = q.spike_counts(store, now_ts, window_s, windows, source)
    first = q.first_seen(store)
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
    for idx, text in q.spike_texts(store, now_ts, window_s, windows, source):
        if idx <= 0:
            window.update(set(tokenize(text)))
            window_docs += 1
        elif idx <= usable:
            base.update(set(tokenize(text)))
            base_docs += 1
    return driving_terms(window, window_docs, base, base_docs)
