"""Report arithmetic: percentiles, time buckets, term counts and spike detection (no I/O).

Everything here is a pure function of its arguments so each metric can be
tested on a hand-computed dataset; :mod:`socialcare.store.reports` runs the
SQL and feeds the results in, and the CLI, CSV, JSON and HTML renderers all
draw the same :class:`Report`.

Definitions the numbers follow (also in the README):

* **Sentiment**: negative when VADER's compound <= :data:`NEGATIVE_MAX`,
  positive when >= :data:`POSITIVE_MIN`, neutral in between, *unscored* when
  the mention was not scored (non-English or not triaged yet).
* **First response**: from ``created_at`` to the earlier of the first *sent*
  reply (``outbox.sent_at``) and ``mentions.answered_at`` (native answers).
* **SLA breach**: a mention with ``sla_due_ts`` that was answered after it, or
  was neither answered nor closed by then. Mentions still inside their SLA and
  unanswered are *pending* and left out of the rate.
* **Resolution**: from ``created_at`` to the last ``close`` event of a
  mention that is closed now.
* **Percentiles**: linear interpolation between closest ranks (numpy's
  default), so the median of an even count is the mean of the middle two.
* **Spike**: see :func:`detect_spike`.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Callable, Iterable, Mapping, Sequence

from ..models import NEGATIVE_MAX, POSITIVE_MIN
from ..timeutil import format_age
from ..triage.words import OTHER_LANGUAGE_FUNCTION_WORDS, STOPWORDS

__all__ = [
    "NEGATIVE_MAX",
    "POSITIVE_MIN",
    "ADVOCATE_MIN_POSITIVE",
    "REPEAT_MIN_MENTIONS",
    "QUARTER_SECONDS",
    "STOPWORDS",
    "Cell",
    "ReportTable",
    "Report",
    "ResponseFacts",
    "ResponseSummary",
    "ResponseFigures",
    "Durations",
    "DURATION_PERCENTILES",
    "SpikeRule",
    "SpikeResult",
    "SpikeFinding",
    "spike_table",
    "TermLift",
    "percentile",
    "percentile_at",
    "percentile_ranks",
    "local_bucket",
    "bucket_dates",
    "volume_by_bucket",
    "rating_summary",
    "rating_trend",
    "sparkline",
    "bar",
    "tokenize",
    "term_document_counts",
    "top_terms",
    "column_label",
    "headline_changes",
    "summarise_responses",
    "poisson_sf",
    "detect_spike",
    "driving_terms",
    "format_cell",
    "share_rows",
    "headline",
    "HeadlineCard",
]

#: an advocate has at least this many positive mentions in the period
ADVOCATE_MIN_POSITIVE = 2
#: a repeat contact has at least this many mentions in the period
REPEAT_MIN_MENTIONS = 2
#: SQL pre-aggregates volume into 15-minute UTC slots: every modern UTC offset
#: (and every DST jump) is a multiple of 15 minutes, so a slot never straddles
#: a local midnight and regrouping slots into local days is exact.
QUARTER_SECONDS = 900

Cell = str | int | float | None


# -- report structure ---------------------------------------------------------
@dataclass
class ReportTable:
    """One table of a report; ``chart`` says how renderers draw it.

    ``chart`` is ``"bars"`` (one bar per row from the ``chart_value`` column,
    labelled by the first column), ``"stacked"`` (a time series: first column
    the bucket, ``total`` the bar height, the columns after it the stack) or
    None. Column names carry units for formatting: ``*_seconds`` are
    durations, ``share`` and ``*_rate`` fractions.
    """

    name: str
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    chart: str | None = None
    chart_value: str | None = None
    note: str = ""

    def records(self) -> list[dict[str, Cell]]:
        """Rows as dicts keyed by column (the JSON shape)."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def select(self, names: Sequence[str]) -> ReportTable:
        """The same table with only ``names`` columns (a narrower terminal view)."""
        idx = [self.columns.index(n) for n in names]
        return ReportTable(
            self.name,
            self.title,
            list(names),
            [[row[i] for i in idx] for row in self.rows],
            self.chart,
            self.chart_value if self.chart_value in names else None,
            self.note,
        )

    def column(self, name: str) -> list[Cell]:
        """One column's values, in row order."""
        index = self.columns.index(name)
        return [row[index] for row in self.rows]


@dataclass
class Report:
    """Every table of ``socialcare report`` plus the period they cover."""

    title: str
    since: str
    until: str
    timezone: str
    by: str
    source: str | None
    generated_at: str
    tables: list[ReportTable] = field(default_factory=list)

    def table(self, name: str) -> ReportTable:
        """The table called ``name`` (KeyError if absent)."""
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    def to_json(self) -> dict[str, object]:
        """One JSON-ready document: period metadata and each table's rows as objects."""
        return {
            "title": self.title,
            "since": self.since,
            "until": self.until,
            "timezone": self.timezone,
            "by": self.by,
            "source": self.source,
            "generated_at": self.generated_at,
            "tables": {
                t.name: {
                    "title": t.title,
                    "columns": t.columns,
                    "rows": t.records(),
                    "note": t.note,
                }
                for t in self.tables
            },
        }


# -- statistics -----------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return percentile_at(len(ordered), q, ordered.__getitem__)


def percentile_ranks(n: int, q: float) -> tuple[int, int, float]:
    """``(low, high, fraction)``: the 0-based ranks the ``q``-th percentile of ``n`` sorted
    values lies between, and how far; ``low`` is ``(n - 1) * q // 100`` for whole ``q``."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    pos = (n - 1) * q / 100.0
    low = math.floor(pos)
    return low, min(low + 1, n - 1), pos - low


def percentile_at(n: int, q: float, value_at: Callable[[int], float]) -> float | None:
    """The ``q``-th percentile of ``n`` sorted values of which ``value_at(rank)`` reads one.

    The same arithmetic as :func:`percentile`, for a store that sorted the values
    itself and hands back only the ranks asked for (a report's median need not
    hold every wait time in Python).
    """
    if n <= 0:
        return None
    low, high, fraction = percentile_ranks(n, q)
    below = value_at(low)
    return below + (value_at(high) - below) * fraction


def share_rows(counts: Mapping[str, int], order: Sequence[str] = ()) -> list[list[Cell]]:
    """``[label, count, share]`` rows: labels in ``order`` first (zeros kept), then by count."""
    total = sum(counts.values())
    labels = list(order) + sorted(
        (k for k in counts if k not in order), key=lambda k: (-counts[k], k)
    )
    return [
        [label, counts.get(label, 0), (counts.get(label, 0) / total) if total else 0.0]
        for label in labels
    ]


# -- time buckets ---------------------------------------------------------------
def local_bucket(ts: float, tz: tzinfo, by: str) -> date:
    """The local day (or the Monday of the local ISO week) that unix time ``ts`` falls in."""
    day = datetime.fromtimestamp(ts, tz).date()
    if by == "week":
        day -= timedelta(days=day.weekday())
    elif by != "day":
        raise ValueError(f"bucket must be day or week, got {by!r}")
    return day


def bucket_dates(since: datetime, until: datetime, tz: tzinfo, by: str) -> list[date]:
    """Every bucket from ``since`` to ``until`` (exclusive), so empty days show as zero."""
    first = local_bucket(since.timestamp(), tz, by)
    last = local_bucket(max(until.timestamp() - 1e-3, since.timestamp()), tz, by)
    step = timedelta(days=7 if by == "week" else 1)
    out: list[date] = []
    current = first
    while current <= last:
        out.append(current)
        current += step
    return out


def volume_by_bucket(
    slots: Iterable[tuple[str, int, int]],
    since: datetime,
    until: datetime,
    tz: tzinfo,
    by: str,
) -> ReportTable:
    """Regroup ``(source, 15-minute slot, count)`` rows into local days/weeks per source."""
    buckets = bucket_dates(since, until, tz, by)
    counts: dict[tuple[date, str], int] = {}
    sources: set[str] = set()
    for source, slot, n in slots:
        key = (local_bucket(slot * QUARTER_SECONDS, tz, by), source)
        counts[key] = counts.get(key, 0) + n
        sources.add(source)
    names = sorted(sources)
    rows: list[list[Cell]] = []
    for b in buckets:
        per = [counts.get((b, s), 0) for s in names]
        rows.append([b.isoformat(), sum(per), *per])
    return ReportTable(
        name="volume",
        title=f"Mentions per {by} and source",
        columns=[by, "total", *names],
        rows=rows,
        chart="stacked",
        chart_value="total",
        note="Buckets are local to the report's time zone; the first and last may be partial.",
    )


# -- star ratings (reviews) -------------------------------------------------------
STARS = (1, 2, 3, 4, 5)


def _average(dist: Mapping[int, int]) -> float | None:
    n = sum(dist.values())
    return sum(stars * count for stars, count in dist.items()) / n if n else None


def rating_summary(
    current: Iterable[tuple[str, int, int, int]], previous: Iterable[tuple[str, int, int]]
) -> ReportTable:
    """Average and distribution of star ratings per source, against the previous period.

    ``current`` is ``(source, 15-minute slot, stars, reviews)`` rows of the period,
    ``previous`` ``(source, stars, reviews)`` of the period of the same length
    just before it. ``average_change`` is this period's average minus the
    previous one (None when either has no reviews).
    """
    now: dict[str, dict[int, int]] = {}
    before: dict[str, dict[int, int]] = {}
    for source, _slot, stars, n in current:
        for key in ("all", source):
            dist = now.setdefault(key, {})
            dist[stars] = dist.get(stars, 0) + n
    for source, stars, n in previous:
        for key in ("all", source):
            dist = before.setdefault(key, {})
            dist[stars] = dist.get(stars, 0) + n
    rows: list[list[Cell]] = []
    keys = sorted(set(now) | set(before), key=lambda k: (k != "all", k))
    for key in keys:
        dist, old = now.get(key, {}), before.get(key, {})
        avg, old_avg = _average(dist), _average(old)
        rows.append(
            [
                key,
                sum(dist.values()),
                avg,
                *(dist.get(s, 0) for s in STARS),
                sum(old.values()),
                old_avg,
                None if avg is None or old_avg is None else avg - old_avg,
            ]
        )
    return ReportTable(
        name="ratings",
        title="Star ratings per source (reviews), and the change vs the previous period",
        columns=[
            "source",
            "reviews",
            "average",
            *(f"stars_{s}" for s in STARS),
            "previous_reviews",
            "previous_average",
            "average_change",
        ],  # fmt: skip
        rows=rows,
        chart="bars",
        chart_value="average",
        note="Reviews by the time they were written, with their current stars (an edit "
        "changes the stars, not the time); the previous period is as long, just before.",
    )


def rating_trend(
    current: Iterable[tuple[str, int, int, int]],
    since: datetime,
    until: datetime,
    tz: tzinfo,
    by: str,
) -> ReportTable:
    """Reviews, average stars and the share of 1-2 star reviews per local day/week."""
    per: dict[date, dict[int, int]] = {}
    for _source, slot, stars, n in current:
        dist = per.setdefault(local_bucket(slot * QUARTER_SECONDS, tz, by), {})
        dist[stars] = dist.get(stars, 0) + n
    rows: list[list[Cell]] = []
    for b in bucket_dates(since, until, tz, by):
        dist = per.get(b, {})
        n = sum(dist.values())
        low = dist.get(1, 0) + dist.get(2, 0)
        rows.append([b.isoformat(), n, _average(dist), low / n if n else None])
    return ReportTable(
        name="rating_trend",
        title=f"Star ratings per {by} (all review sources)",
        columns=[by, "reviews", "average", "low_rate"],
        rows=rows if per else [],
        chart="bars",
        chart_value="average",
        note="low rate: the share of 1- and 2-star reviews.",
    )


_SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float]) -> str:
    """A one-line chart of ``values`` (block characters), empty for no values."""
    if not values:
        return ""
    top = max(values)
    if top <= 0:
        return _SPARKS[0] * len(values)
    return "".join(_SPARKS[min(int(v / top * (len(_SPARKS) - 1) + 0.5), 7)] for v in values)


def bar(value: float, top: float, width: int = 30) -> str:
    """A horizontal bar of ``width`` cells at most, proportional to ``value / top``."""
    if top <= 0 or value <= 0:
        return ""
    cells = value / top * width
    full = int(cells)
    part = " ▏▎▍▌▋▊▉"[int((cells - full) * 8)]
    return ("█" * full + (part if part != " " else "")).rstrip()


# -- terms ----------------------------------------------------------------------
#: a classic English list plus chat filler; "down" is kept out on purpose ("app is down")

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<![\w@])@\w+")
_TOKEN = re.compile(r"#\w*[^\W\d_]\w*|[^\W\d_][\w']*")


def tokenize(text: str) -> list[str]:
    """Lower-cased words and ``#hashtags`` of ``text``: no links, @handles, numbers or stopwords.

    Simple on purpose (regex words, an English stopword list): the point is
    to surface "refund", "outage", "#down" in complaints, not linguistics.
    """
    text = text.lower()
    # the substitutions are skipped when they cannot match: this runs on every negative text
    if "http" in text or "www." in text:
        text = _URL.sub(" ", text)
    if "@" in text:
        text = _HANDLE.sub(" ", text)
    if "’" in text:
        text = text.replace("’", "'")
    out: list[str] = []
    for token in _TOKEN.findall(text):
        if token[0] == "#":
            out.append(token)
            continue
        if "'" in token:
            token = token.strip("'")
            if token.endswith("'s"):
                token = token[:-2]
        if len(token) >= 3 and token not in _NOT_TERMS:
            out.append(token)
    return out


#: words no term list should show: English stopwords and other languages' function words
_NOT_TERMS = STOPWORDS | OTHER_LANGUAGE_FUNCTION_WORDS


def term_document_counts(texts: Iterable[str]) -> tuple[Counter[str], int]:
    """How many texts contain each term (a ranting post counts once), and how many texts."""
    counts: Counter[str] = Counter()
    docs = 0
    for text in texts:
        docs += 1
        counts.update(set(tokenize(text)))
    return counts, docs


def top_terms(
    texts: Iterable[str], limit: int = 20, *, exclude: Iterable[str] = ()
) -> list[tuple[str, int]]:
    """The ``limit`` terms found in the most texts (ties alphabetical), grouped by stem.

    "refund", "refunds" and "refunded" are one term, counted once per text that
    has any of them, and shown as the form written most often; ``exclude`` (the
    brand's own names and handles) and their stems are left out, since every
    mention names the brand (as a word or a hashtag). Hashtags are kept as written.
    """
    stem = _stemmer()
    skip = {w.strip().lower().lstrip("@#") for w in exclude if w.strip()}
    skip_stems = {stem(w) for w in skip}
    docs: Counter[str] = Counter()
    forms: Counter[str] = Counter()
    key_of: dict[str, str | None] = {}
    for text in texts:
        keys = set()
        for term in set(tokenize(text)):
            key = key_of.get(term, "")
            if key == "":
                key = term if term[0] == "#" else stem(term)
                if term.lstrip("#") in skip or key in skip_stems:
                    key = None
                key_of[term] = key
            if key is not None:
                keys.add(key)
                forms[term] += 1
        docs.update(keys)
    shown: dict[str, tuple[int, str]] = {}
    for term, n in forms.items():
        key = key_of[term]
        assert key is not None
        best = shown.get(key)
        if best is None or (-n, term) < (-best[0], best[1]):
            shown[key] = (n, term)
    grouped = [(shown[key][1], n) for key, n in docs.items()]
    return sorted(grouped, key=lambda kv: (-kv[1], kv[0]))[:limit]


def _stemmer() -> Callable[[str], str]:
    """English Snowball (Porter 2) stems, memoised: term lists repeat the same words.

    snowballstemmer: the reference Snowball stemmers in pure Python, no
    dependencies, maintained by the Snowball project (Sphinx uses it too).
    """
    global _STEM
    if _STEM is None:
        import snowballstemmer

        _STEM = functools.lru_cache(maxsize=65536)(snowballstemmer.stemmer("english").stemWord)
    return _STEM


_STEM: Callable[[str], str] | None = None


# -- response times ---------------------------------------------------------------
@dataclass(frozen=True)
class ResponseFacts:
    """What the store knows about one mention's handling (unix seconds, None = never)."""

    intent: str
    created_ts: float
    first_response_ts: float | None
    sla_due_ts: float | None
    first_close_ts: float | None
    resolved_ts: float | None


#: the percentiles of a duration table: median and 90th
DURATION_PERCENTILES = (50, 90)


@dataclass(frozen=True)
class Durations:
    """How many durations one intent has, and their median and 90th percentile (seconds)."""

    count: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Durations:
        """The figures of a list of durations."""
        return cls(len(values), percentile(values, 50), percentile(values, 90))


@dataclass
class ResponseFigures:
    """First-response, SLA and resolution figures per intent (and ``all``), as tables.

    Built by :meth:`ResponseSummary.figures` from every duration, or by the
    report's store queries from SQL aggregates and the few sorted ranks the
    percentiles need (the same numbers without a Python object per mention).
    """

    first_response: dict[str, Durations] = field(default_factory=dict)
    resolution: dict[str, Durations] = field(default_factory=dict)
    sla: dict[str, dict[str, int]] = field(default_factory=dict)

    def first_response_table(self) -> ReportTable:
        """Median and 90th percentile first-response time per intent."""
        return _duration_table(
            "first_response",
            "First-response time (created -> first sent reply or native answer)",
            "answered",
            self.first_response,
        )

    def resolution_table(self) -> ReportTable:
        """Median and 90th percentile resolution time per intent."""
        return _duration_table(
            "resolution",
            "Resolution time (created -> last close, closed mentions)",
            "resolved",
            self.resolution,
        )

    def sla_table(self) -> ReportTable:
        """SLA breach rate per intent: breached / (breached + met); pending left out."""
        rows: list[list[Cell]] = []
        for intent in _intent_order(self.sla):
            c = self.sla[intent]
            decided = c["breached"] + c["met"]
            rate = c["breached"] / decided if decided else None
            rows.append([intent, c["with_sla"], c["met"], c["breached"], c["pending"], rate])
        return ReportTable(
            name="sla",
            title="SLA breach rate per intent",
            columns=["intent", "with_sla", "met", "breached", "pending", "breach_rate"],
            rows=rows,
            chart="bars",
            chart_value="breach_rate",
            note="Breached: answered after the SLA, or neither answered nor closed by it. "
            "Pending (unanswered, not yet due) is left out of the rate.",
        )


@dataclass
class ResponseSummary:
    """Every first-response and resolution time per intent (and ``all``), and SLA counts."""

    first_response: dict[str, list[float]] = field(default_factory=dict)
    resolution: dict[str, list[float]] = field(default_factory=dict)
    sla: dict[str, dict[str, int]] = field(default_factory=dict)

    def figures(self) -> ResponseFigures:
        """Counts and percentiles of the durations held here."""
        return ResponseFigures(
            first_response={k: Durations.of(v) for k, v in self.first_response.items()},
            resolution={k: Durations.of(v) for k, v in self.resolution.items()},
            sla=self.sla,
        )

    def first_response_table(self) -> ReportTable:
        """Median and 90th percentile first-response time per intent."""
        return self.figures().first_response_table()

    def resolution_table(self) -> ReportTable:
        """Median and 90th percentile resolution time per intent."""
        return self.figures().resolution_table()

    def sla_table(self) -> ReportTable:
        """SLA breach rate per intent: breached / (breached + met); pending left out."""
        return self.figures().sla_table()


def _intent_order(keyed: Mapping[str, object]) -> list[str]:
    """``all`` first, then intents alphabetically (stable table order)."""
    return (["all"] if "all" in keyed else []) + sorted(k for k in keyed if k != "all")


def _duration_table(
    name: str, title: str, count_col: str, values: Mapping[str, Durations]
) -> ReportTable:
    rows: list[list[Cell]] = []
    for intent in _intent_order(values):
        d = values[intent]
        rows.append([intent, d.count, d.median, d.p90])
    return ReportTable(
        name=name,
        title=title,
        columns=["intent", count_col, "median_seconds", "p90_seconds"],
        rows=rows,
        chart="bars",
        chart_value="median_seconds",
    )


def summarise_responses(facts: Iterable[ResponseFacts], now_ts: float) -> ResponseSummary:
    """Fold per-mention facts into first-response, SLA and resolution figures.

    A mention closed without any answer counts as handled at its first close
    for the SLA (an agent decided it needed no reply); it has no first-response
    time.
    """
    out = ResponseSummary()
    out.first_response["all"] = []
    out.resolution["all"] = []
    for f in facts:
        keys = ("all", f.intent)
        if f.first_response_ts is not None:
            wait = max(f.first_response_ts - f.created_ts, 0.0)
            for k in keys:
                out.first_response.setdefault(k, []).append(wait)
        if f.resolved_ts is not None:
            took = max(f.resolved_ts - f.created_ts, 0.0)
            for k in keys:
                out.resolution.setdefault(k, []).append(took)
        if f.sla_due_ts is None:
            continue
        handled = f.first_response_ts if f.first_response_ts is not None else f.first_close_ts
        if handled is not None:
            outcome = "breached" if handled > f.sla_due_ts else "met"
        else:
            outcome = "breached" if now_ts > f.sla_due_ts else "pending"
        for k in keys:
            c = out.sla.setdefault(k, {"with_sla": 0, "met": 0, "breached": 0, "pending": 0})
            c["with_sla"] += 1
            c[outcome] += 1
    return out


# -- spikes ---------------------------------------------------------------------
@dataclass(frozen=True)
class SpikeRule:
    """When a window's negative/complaint count is a spike (see :func:`detect_spike`).

    Args:
        sigma: the count must exceed the baseline mean + ``sigma`` standard deviations.
        alpha: ... and be this unlikely under a Poisson law with the baseline mean.
        min_count: ... and be at least this many mentions (3 after 0 is not news).
        min_baseline: baseline windows needed before anything is called a spike.
        lambda_floor: the Poisson mean used when the baseline is (nearly) all zero.
    """

    sigma: float = 3.0
    alpha: float = 0.001
    min_count: int = 5
    min_baseline: int = 3
    lambda_floor: float = 0.5


@dataclass(frozen=True)
class SpikeResult:
    """The verdict on one window and the numbers behind it."""

    count: int
    baseline_windows: int
    mean: float
    std: float
    threshold: float
    p_value: float | None
    spike: bool
    reason: str


def poisson_sf(count: int, lam: float) -> float:
    """P(X >= count) for X ~ Poisson(lam), summed upward in log space (no underflow games)."""
    if count <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    log_term = count * math.log(lam) - lam - math.lgamma(count + 1)
    term = math.exp(log_term)
    total = 0.0
    k = count
    while term > 0:
        total += term
        k += 1
        term *= lam / k
        if term < total * 1e-17 and k > lam:
            break
    return min(total, 1.0)


def detect_spike(count: int, baseline: Sequence[int], rule: SpikeRule | None = None) -> SpikeResult:
    """Is ``count`` (the last window) a spike against ``baseline`` (the windows before it)?

    Yes when all hold: at least ``min_baseline`` baseline windows; ``count >=
    min_count``; ``count > mean + sigma * std`` (population std of the
    baseline); and ``P(X >= count) < alpha`` for X ~ Poisson(max(mean,
    lambda_floor)). The sigma test copes with bursty (over-dispersed)
    baselines; the Poisson test stops a flat baseline (std 0) from calling
    6-after-5 a spike.
    """
    rule = rule or SpikeRule()
    n = len(baseline)
    mean = sum(baseline) / n if n else 0.0
    std = math.sqrt(sum((b - mean) ** 2 for b in baseline) / n) if n else 0.0
    threshold = mean + rule.sigma * std
    if n < rule.min_baseline:
        return SpikeResult(
            count,
            n,
            mean,
            std,
            threshold,
            None,
            False,
            f"baseline too short ({n} < {rule.min_baseline} windows)",
        )
    p_value = poisson_sf(count, max(mean, rule.lambda_floor))
    if count < rule.min_count:
        reason, spike = f"below the minimum count ({rule.min_count})", False
    elif count <= threshold:
        reason, spike = f"within mean + {rule.sigma:g} std", False
    elif p_value >= rule.alpha:
        reason, spike = f"not significant (Poisson p >= {rule.alpha:g})", False
    else:
        reason, spike = "spike", True
    return SpikeResult(count, n, mean, std, threshold, p_value, spike, reason)


@dataclass(frozen=True)
class TermLift:
    """A term over-represented in the spike window compared with the baseline."""

    term: str
    window: int
    baseline: int
    expected: float
    lift: float


def driving_terms(
    window: Mapping[str, int],
    window_docs: int,
    baseline: Mapping[str, int],
    baseline_docs: int,
    *,
    limit: int = 5,
    min_count: int = 2,
    min_lift: float = 2.0,
) -> list[TermLift]:
    """Terms found in the window far more often than the baseline's share predicts.

    ``expected = baseline_count * window_docs / baseline_docs``; a driver
    appears in at least ``min_count`` window texts with ``lift = (window +
    0.5) / (expected + 0.5) >= min_lift``. Ranked by excess (window -
    expected), the number of extra texts the term explains.
    """
    out: list[TermLift] = []
    for term, n in window.items():
        if n < min_count:
            continue
        base = baseline.get(term, 0)
        expected = base * window_docs / baseline_docs if baseline_docs else 0.0
        lift = (n + 0.5) / (expected + 0.5)
        if lift >= min_lift:
            out.append(TermLift(term, n, base, expected, lift))
    out.sort(key=lambda t: (-(t.window - t.expected), t.term))
    return out[:limit]


# -- formatting -------------------------------------------------------------------
def format_cell(column: str, value: Cell) -> str:
    """A cell as people read it: durations as ``3h05m``, rates as percentages."""
    if value is None:
        return "-"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if column.endswith("_seconds"):
            return format_age(float(value))
        if column == "p_value":
            return f"{value:.2g}"
        if column.endswith("_change"):
            return f"{value:+.2f}"
        if column == "share" or column.endswith("_rate"):
            return f"{value:.1%}"
        if isinstance(value, float):
            return f"{value:.2f}"
        return str(value)
    return str(value)


@dataclass(frozen=True)
class SpikeFinding:
    """The spike verdict for one scope (all sources, or one) and what drove it."""

    scope: str
    window_start: str
    window_end: str
    result: SpikeResult
    drivers: list[TermLift]


def spike_table(findings: Sequence[SpikeFinding]) -> ReportTable:
    """One row per scope: the window's count, the baseline, the verdict and its drivers."""
    rows: list[list[Cell]] = []
    for f in findings:
        r = f.result
        rows.append(
            [
                f.scope,
                f.window_start,
                f.window_end,
                r.count,
                r.baseline_windows,
                round(r.mean, 3),
                round(r.std, 3),
                round(r.threshold, 3),
                r.p_value,
                "yes" if r.spike else "no",
                r.reason,
                ", ".join(f"{d.term} ({d.window} vs {d.expected:.1f})" for d in f.drivers),
            ]
        )
    return ReportTable(
        name="spikes",
        title="Negative / complaint spikes in the last window",
        columns=[
            "scope",
            "window_start",
            "window_end",
            "count",
            "baseline_windows",
            "baseline_mean",
            "baseline_std",
            "threshold",
            "p_value",
            "spike",
            "reason",
            "drivers",
        ],
        rows=rows,
    )


#: column names as a reader says them (others: underscores become spaces, units dropped)
_LABELS = {
    "with_sla": "with an SLA",
    "met": "within SLA",
    "breached": "past SLA",
    "breach_rate": "breach rate",
    "median_seconds": "median",
    "p90_seconds": "90th percentile",
    "past_sla": "past SLA",
    "oldest_id": "oldest mention",
    "oldest_waiting_seconds": "oldest waiting",
    "native_answers": "answered natively",
    "low_rate": "1-2 stars",
    "baseline_windows": "baseline windows",
    "baseline_mean": "baseline mean",
    "baseline_std": "baseline std. dev.",
    "p_value": "p-value",
}


def column_label(column: str) -> str:
    """A column's name for people (HTML headers, terminal tables); JSON and CSV keep the key."""
    label = _LABELS.get(column)
    if label is not None:
        return label
    for unit in ("_seconds", "_ts"):
        if column.endswith(unit):
            column = column[: -len(unit)]
    return column.replace("_", " ")


def _headline_cells(report: Report) -> list[tuple[str, str, Cell]]:
    """(label, formatting column, raw value) of the five headline numbers."""

    def find(table: str, key: str, column: str) -> Cell:
        try:
            t = report.table(table)
        except KeyError:
            return None
        for record in t.records():
            if record[t.columns[0]] == key:
                return record.get(column)
        return None

    try:
        mentions: Cell = sum(int(v or 0) for v in report.table("volume").column("total"))
    except KeyError:
        mentions = 0
    return [
        ("mentions", "count", mentions),
        ("negative", "share", find("sentiment", "negative", "share")),
        ("median first response", "x_seconds", find("first_response", "all", "median_seconds")),
        ("SLA breach rate", "breach_rate", find("sla", "all", "breach_rate")),
        ("open backlog", "open", find("backlog", "all", "open")),
    ]


def headline(report: Report) -> list[tuple[str, str]]:
    """The five numbers a lead asks for first, formatted, from the report's own tables."""
    return [(label, format_cell(column, value)) for label, column, value in _headline_cells(report)]


@dataclass(frozen=True)
class HeadlineCard:
    """One headline number and how it moved since the previous period of the same length.

    ``better`` is True when the move is good news (fewer negatives, faster
    answers), False when bad, None when unchanged or not comparable (mentions
    and backlog are neither: more mentions may be a launch).
    """

    label: str
    value: str
    change: str
    better: bool | None


def headline_changes(report: Report, previous: Report | None) -> list[HeadlineCard]:
    """The headline numbers with their change vs ``previous`` ("+12%", "-3.1 pts", "new")."""
    before = {label: value for label, _, value in _headline_cells(previous)} if previous else {}
    cards = []
    for label, column, value in _headline_cells(report):
        text = format_cell(column, value)
        old = before.get(label)
        now_n, old_n = _number_or_none(value), _number_or_none(old)
        if previous is None:
            cards.append(HeadlineCard(label, text, "", None))
            continue
        if now_n is None or old_n is None:
            change = "no previous figure" if old_n is None and now_n is not None else ""
            cards.append(HeadlineCard(label, text, change, None))
            continue
        diff = now_n - old_n
        if column in ("share", "breach_rate"):
            change = f"{diff * 100:+.1f} pts" if abs(diff) >= 0.0005 else "no change"
        elif old_n == 0:
            change = "new" if now_n else "no change"
        else:
            change = f"{diff / old_n:+.0%}" if diff else "no change"
        if label == "open backlog":  # the backlog is "now" in both reports: no change to tell
            cards.append(HeadlineCard(label, text, "", None))
            continue
        lower_is_better = label in ("negative", "median first response", "SLA breach rate")
        better = None if not diff or not lower_is_better else diff < 0
        cards.append(HeadlineCard(label, text, f"{change} vs previous period", better))
    return cards


def _number_or_none(value: Cell) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None
