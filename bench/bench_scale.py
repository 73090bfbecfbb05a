"""Benchmark: issue 25's table (performance at scale), every row today / baseline / ratio.

Usage: python bench/bench_scale.py [--mentions 100000] [--backend sqlite|postgresql|all]
                                   [--keep DIR] [--only ROW[,ROW...]]

One run builds a store of N mentions with raw ``executemany`` (not through
poll: a 1M store would take an hour that way), spread over 30 days ending now,
2% of them open (the issue's 20k of 1M), then measures each row of the table
against a baseline measured in the same run on the same store:

* ``queue_rank``: ``queue --limit 50`` (index-ranked ranking plus reading its
  50 rows) against an index-ordered top-50 by ``static_score``; ``before`` is
  the same query with ``Store.index_ranking`` off (one sort of every open row).
  Repeated with 20% open (the issue's 200k of 1M).
* ``agent loads`` / ``queue --assignee`` (with the queue rows, both shares open): 8
  agents holding 40 open mentions each; their loads against one count of the open
  rows, the assignee's queue against the plain one (:func:`assigned_rows`).
* ``status`` / ``spikes`` / ``backlog`` / ``db_status``: the status lines against
  one ``max(created_ts)`` index probe.
* ``report_7d`` (no data in the window) and ``report_45d`` (all of it) against
  one plain full scan of ``mentions`` (every column into Python).
* ``export_csv``: ``export mentions --format csv`` against the csv module
  writing the same SELECT from one cursor.
* ``poll`` (SQLite): 100k demo mentions through the real poll path (``bench_poll``'s
  generator) against stock VADER plus raw ``executemany`` of the same rows into a
  fresh store (same b-trees and FTS5); ``before`` is the insert / read back / UPDATE
  path. ``poll_bytes``: bytes written (``/proc/self/io`` wchar and write_bytes, the
  final checkpoint included) over the final store size.
* ``triage_all``: ``triage --all`` on the built store against stock VADER on its texts;
  on SQLite also on a store the real poll filled (:func:`triage_polled_rows`): its first
  run after the poll, once current, after a weight edit and after a ``brand_names`` edit.
* ``claim`` (PostgreSQL runs): one agent alone claiming (and releasing) mentions
  of a 10k store on the server against the same on a SQLite file built alike;
  in wall seconds, and in CPU seconds (:func:`cpu_clock`: on PostgreSQL this
  process's plus its server process's).

Every row has a ``heap`` column: the peak Python heap (tracemalloc) of one
call of the row's work (the largest among its timed functions' warm-up calls,
unless the row names today's own; the timed calls run untraced, since tracing
slows Python). Heap, not RSS, is the memory
figure: on SQLite the process maps up to ``mmap_size`` (1 GiB) of the store
file, and those pages count in RSS although they are the kernel's page cache,
shared and dropped under memory pressure, not memory socialcare allocated.
Each run ends with a line that shows the split (``RssFile`` against
``RssAnon``). On PostgreSQL the heap is the client's only.

Times are medians of wall-clock seconds (PostgreSQL does its work in another
process); the report and export rows are CPU seconds of this process on SQLite.
The PostgreSQL queue and claim rows come twice: wall seconds, and CPU seconds of
this process plus the server process of its connection (:func:`cpu_clock`), which
a loaded machine does not inflate with scheduling waits.
The JSON goes to ``bench/results/scale-<backend>-<N>-<UTC time>.json``.
PostgreSQL runs on a throwaway server (``tests/pg_server.py``), or on
``SOCIALCARE_TEST_PG_URL``'s; with ``--keep DIR`` on a cluster kept in
``DIR/pg-<N>`` (created on the first run, stopped after each, started again by the
next), whose store is built once. The 20%-open rows put the statuses back after
they ran, so a kept store (either backend) starts the next run at 2% open.

A PostgreSQL store is vacuumed and analysed after the build (and after the
20%-open change), as autovacuum would do within a minute of such bulk writes:
an index-only scan skips heap fetches only for pages the visibility map marks
all-visible, and only VACUUM sets those marks. The queue rows measure the
steady state a team store is in, not the minute after a bulk load.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from socialcare.app import Socialcare  # noqa: E402
from socialcare.config import Config  # noqa: E402
from socialcare.models import NEGATIVE_MAX, POSITIVE_MIN, to_iso  # noqa: E402
from socialcare.store import QueueFilter, Store  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
WORDS = (
    "refund charged twice outage down app login broken thanks love great help please when "
    "store open bill contract signal router slow cancel hacked scam why how can my the a is "
    '=SUM(A1) +1 -2 @admin café naïve "quoted"'
).split()
INTENTS = (("complaint", 3.0), ("question", 2.5), ("praise", 0.0), ("other", 0.0), ("spam", -10.0))
_INSERT = (
    "INSERT INTO mentions (id, source, native_id, query, url, author_key, author_id, "
    "author_handle, author_name, author_followers, text, created_at, created_ts, fetched_at, "
    "language, kind, raw, status, intent, sentiment_compound, sentiment_pos, sentiment_neu, "
    "sentiment_neg, sentiment_scored, static_score, signals, sla_due_ts, triaged_at, "
    "answered_at, answered_by) VALUES (?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'en', 'post', "
    "'{}', ?, ?, ?, ?, ?, ?, 1, ?, '{}', ?, ?, ?, ?)"
)
_AUTHOR = (
    "INSERT INTO authors (id, source, native_id, handle, name, followers, first_seen, last_seen) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING"
)
SOURCES = ("twitter", "reddit", "mastodon", "hn")


def build(store: Store, n: int, now: float, open_share: float, seed: int = 25) -> float:
    """Fill ``store`` with ``n`` triaged mentions over the 30 days before ``now``; seconds."""
    rnd = random.Random(seed)
    span = 30 * 86400.0
    started = time.perf_counter()
    batch = 5000
    for base in range(0, n, batch):
        rows, authors = [], {}
        for i in range(base, min(base + batch, n)):
            ts = now - span + span * i / n
            iso = to_iso(datetime.fromtimestamp(ts, tz=timezone.utc))
            source = SOURCES[i % len(SOURCES)]
            author = f"u{rnd.randint(0, n // 5)}"
            key = f"{source}:{author}"
            intent, level = INTENTS[min(int(rnd.expovariate(0.9)), 4)]
            compound = rnd.uniform(-1, 1)
            static = level + 1.5 * max(0.0, -compound) + rnd.random() * 2 + rnd.random() * 0.5
            status = "open" if rnd.random() < open_share else rnd.choice(("replied", "closed"))
            answered = None
            if status == "replied":
                answered = to_iso(datetime.fromtimestamp(ts + 1800, tz=timezone.utc))
            text = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(6, 30)))
            rows.append((
                f"{source}:{i}", source, str(i), f"https://example.com/{i}", key, author,
                f"user{author}", "Generated User", rnd.randint(0, 100_000), text, iso, ts, iso,
                status, intent, compound, max(compound, 0), 0.5, max(-compound, 0),
                round(static, 6), ts + 3600, iso, answered, "bench" if answered else None,
            ))  # fmt: skip
            authors[key] = (key, source, author, f"user{author}", "Generated User", 10, iso, iso)
        with store.transaction():
            store.conn.executemany(_AUTHOR, list(authors.values()))
            store.conn.executemany(_INSERT, rows)
    store.refresh_statistics()
    if store.backend == "sqlite":
        store.conn.execute("ANALYZE")
    settle(store)
    return time.perf_counter() - started


def settle(store: Store) -> None:
    """On PostgreSQL, VACUUM (ANALYZE) ``mentions`` as autovacuum would after bulk writes.

    Only VACUUM marks pages all-visible, and an index-only scan fetches the heap
    row of every entry on a page without that mark (see the module docstring).
    """
    if store.backend == "postgresql":
        store.conn.execute("VACUUM (ANALYZE) mentions")


#: peak heap (bytes) of each ``median_time`` warm-up call since the table's last row
_HEAPS: list[int] = []


def traced_peak(fn: Callable[[], Any]) -> int:
    """Peak bytes of Python heap that one call of ``fn`` allocated (tracemalloc)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def median_time(fn: Callable[[], Any], repeat: int = 15, cpu: bool = False) -> float:
    """Median seconds of ``fn()`` (after one warm-up call, whose peak heap is noted)."""
    return _median_on(time.process_time if cpu else time.perf_counter, fn, repeat)


class Table:
    """Rows of the issue's table: work, today, baseline, ratio (and before, when measured)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        work: str,
        today: float,
        baseline: float,
        unit: str,
        before: float | None = None,
        heap: int | None = None,
    ) -> None:
        """One row; ``heap`` (bytes) defaults to the largest warm-up peak since the last row."""
        ratio = today / baseline if baseline else float("inf")
        if heap is None:
            heap = max(_HEAPS, default=0)
        _HEAPS.clear()
        row = {"work": work, "today": today, "baseline": baseline, "ratio": ratio, "unit": unit}
        row["heap_mb"] = heap / 2**20
        if before is not None:
            row["before"] = before
        self.rows.append(row)
        shown = f"before {_fmt(before, unit):>11}  " if before is not None else " " * 20
        print(
            f"{work:46s} today {_fmt(today, unit):>11}  baseline {_fmt(baseline, unit):>11}  "
            f"{shown}ratio {ratio:8.2f}x  heap {heap / 2**20:8.2f} MB",
            flush=True,
        )


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit == "s":
        return f"{value * 1000:.3f} ms" if value < 1 else f"{value:.2f} s"
    return f"{value:,.0f} {unit}"


def cpu_clock(store: Store) -> tuple[Callable[[], float], str]:
    """A clock of CPU seconds spent on ``store``'s work, and what it counts.

    SQLite: this process. PostgreSQL: this process plus the server process of the
    store's connection (``/proc/<pid>/schedstat``, nanoseconds, when the server runs
    on this machine; else wall seconds). On a 2-core machine shared with other work,
    a wall figure of a sub-millisecond statement is mostly the time the two processes
    wait to be scheduled after each round trip; CPU time is what the work costs.

    Either clock is corrected for its own cost (:func:`_self_corrected`): a reading of
    the PostgreSQL clock costs ~0.01 ms of client CPU, and one reading falls inside
    every interval, which counted against PostgreSQL in a 0.15-0.5 ms claim.
    """
    if store.backend != "postgresql":
        return _self_corrected(time.process_time), "CPU"
    try:
        fd = os.open(f"/proc/{store.conn.raw.info.backend_pid}/schedstat", os.O_RDONLY)
    except OSError:
        return time.perf_counter, "wall"

    # one pread of a kept descriptor (~0.01 ms): read_text()'s open, read and close cost
    # ~0.05 ms of client CPU a sample, a third of a SQLite claim (bench_claim_indexes.py)
    def clock() -> float:
        return time.process_time() + int(os.pread(fd, 64, 0).split()[0]) / 1e9

    return _self_corrected(clock), "CPU, client + server"


def _self_corrected(clock: Callable[[], float], samples: int = 201) -> Callable[[], float]:
    """``clock`` less its own cost: each reading subtracts the median cost of one reading
    (measured here, back to back), so ``b - a`` of two readings is the work between them.

    Only differences of readings mean anything, as with ``process_time`` itself.
    """
    calls = itertools.count(1)
    cost = 0.0

    def corrected() -> float:
        return clock() - next(calls) * cost

    costs = []
    for _ in range(samples):  # the corrected clock's own readings, wrapper included
        a = corrected()
        costs.append(corrected() - a)
    cost = statistics.median(costs)
    calls = itertools.count(1)

    return corrected


def _median_on(clock: Callable[[], float], fn: Callable[[], Any], repeat: int = 15) -> float:
    """Median ``clock`` seconds of ``fn()`` (after one warm-up call, whose heap is noted)."""
    _HEAPS.append(traced_peak(fn))
    times = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times)


def queue_rows(sc: Socialcare, table: Table, label: str) -> None:
    """The ranking SQL alone (``Store._rank``), then the whole ``queue`` call.

    Each timed call is measured on two clocks at once: wall and :func:`cpu_clock`
    (on SQLite both are this process's CPU). PostgreSQL's rows show both.
    """
    store = sc.store
    d = store.dialect
    cpu_of, what = cpu_clock(store)
    wall_of = time.perf_counter if store.backend == "postgresql" else time.process_time
    flt = QueueFilter(limit=50)
    now = time.time()
    weight, cap = 2.0, 24.0
    ids = [r["id"] for r in store.queue(flt, now, weight, cap)]
    rank = store._rank
    spent: list[tuple[float, float]] = []

    def timed(*args: Any, **kwargs: Any) -> Any:
        c0, w0 = cpu_of(), wall_of()
        out = rank(*args, **kwargs)
        spent.append((wall_of() - w0, cpu_of() - c0))
        return out

    def medians() -> tuple[float, float]:
        out = (statistics.median(w for w, _ in spent), statistics.median(c for _, c in spent))
        spent.clear()
        return out

    def whole(repeat: int = 15) -> tuple[float, float]:
        calls: list[tuple[float, float]] = []

        def one() -> None:
            c0, w0 = cpu_of(), wall_of()
            store.queue(flt, now, weight, cap)
            calls.append((wall_of() - w0, cpu_of() - c0))

        _HEAPS.append(traced_peak(one))
        calls.clear()
        spent.clear()
        for _ in range(repeat):
            one()
        return statistics.median(w for w, _ in calls), statistics.median(c for _, c in calls)

    store._rank = timed  # type: ignore[method-assign]
    try:
        today = whole()
        today_heap = _HEAPS[-1]
        today_rank = medians()
        shared_rank = None
        own = d.index_rank_sql(
            columns="", where=[], probe_where=[], reach_where=[], score="", queue_hint="", limit=1
        )
        if own is not None:
            # this backend's own shape off: the shared UNION of hour ranges, in this run
            d.index_rank_sql = lambda **kwargs: None  # type: ignore[method-assign]
            assert [r["id"] for r in store.queue(flt, now, weight, cap)] == ids, "rankings differ"
            whole()
            shared_rank = medians()
            del d.index_rank_sql
        store.index_ranking = False
        assert [r["id"] for r in store.queue(flt, now, weight, cap)] == ids, "rankings differ"
        before = whole(repeat=5)
        before_rank = medians()
    finally:
        store.index_ranking = True
        del store._rank
        d.__dict__.pop("index_rank_sql", None)
    base_sql = (
        f"SELECT m.rowid FROM mentions m {d.open_queue_hint()} WHERE m.status = 'open' "
        "AND m.is_own = 0 ORDER BY m.static_score DESC LIMIT 50"
    )
    base_calls: list[tuple[float, float]] = []

    def base() -> None:
        c0, w0 = cpu_of(), wall_of()
        store.conn.execute(base_sql).fetchall()
        base_calls.append((wall_of() - w0, cpu_of() - c0))

    _median_on(time.perf_counter, base)
    baseline = (statistics.median(w for w, _ in base_calls[1:]),
                statistics.median(c for _, c in base_calls[1:]))  # fmt: skip
    clocks = ((0, ""),) if store.backend == "sqlite" else ((0, "wall, "), (1, f"{what}, "))
    for i, clock in clocks:
        table.add(f"queue --limit 50, ranking SQL ({clock}{label})", today_rank[i], baseline[i],
                  "s", before_rank[i], heap=today_heap)  # fmt: skip
        table.add(f"queue --limit 50, whole call ({clock}{label})", today[i], baseline[i], "s",
                  before[i], heap=today_heap)  # fmt: skip
        if shared_rank is not None:
            table.add(f"queue --limit 50, ranking SQL, shared shape ({clock}{label})",
                      shared_rank[i], baseline[i], "s", heap=today_heap)  # fmt: skip


#: the agents of :func:`assigned_rows`, each holding this many open mentions
LOAD_AGENTS, HELD = tuple(f"agent{i}" for i in range(8)), 40


def assigned_rows(sc: Socialcare, table: Table, label: str) -> None:
    """Per-agent open loads and ``queue --assignee`` with 8 agents holding 40 open each.

    ``open_loads`` for the 8 agents (routing's caps and least-loaded pick, under the
    routing lock of each poll page) and for everyone (``agent list``), against one
    count of the open rows (the open-queue index alone); ``queue --assignee`` against
    the plain ``queue``. On PostgreSQL no index of ``mentions`` names ``assignee`` since
    m023 (a claim is a HOT update): both read its table of open, assigned mentions. The
    assignments are undone afterwards, so a kept store stays as it was.
    """
    store = sc.store
    ids = [r[0] for r in store.conn.execute(
        "SELECT id FROM mentions WHERE status = 'open' ORDER BY rowid"
    ).fetchall()]  # fmt: skip
    held = random.Random(8).sample(ids, min(len(ids), len(LOAD_AGENTS) * HELD))
    _assign(store, [(LOAD_AGENTS[k % len(LOAD_AGENTS)], i) for k, i in enumerate(held)])
    try:
        from socialcare.store import team as store_team

        cpu_of, what = cpu_clock(store)
        clocks = [(time.perf_counter, "wall")] + ([(cpu_of, what)] * (store.backend != "sqlite"))
        now = time.time()
        count = "SELECT count(*) FROM mentions WHERE status = 'open'"
        works = {
            "agent loads, 8 agents": (lambda: store_team.open_loads(store, LOAD_AGENTS),
                                      lambda: store.conn.execute(count).fetchone()),
            "agent loads, everyone": (lambda: store_team.open_loads(store),
                                      lambda: store.conn.execute(count).fetchone()),
            "queue --limit 50 --assignee, whole call": (
                lambda: store.queue(QueueFilter(limit=50, assignee="agent3"), now, 2.0, 24.0),
                lambda: store.queue(QueueFilter(limit=50), now, 2.0, 24.0)),
        }  # fmt: skip
        for work, (today, baseline) in works.items():
            for clock, name in clocks:
                table.add(f"{work} ({name}, {label})", _median_on(clock, today),
                          _median_on(clock, baseline), "s")  # fmt: skip
    finally:
        _assign(store, [(None, i) for i in held])


def _assign(store: Store, pairs: list[tuple[str | None, str]]) -> None:
    """Set these assignees, then settle the store (as autovacuum would)."""
    with store.transaction():
        store.conn.executemany("UPDATE mentions SET assignee = ? WHERE id = ?", pairs)
    settle(store)


def status_rows(sc: Socialcare, table: Table) -> None:
    from socialcare.store import reports as q

    store = sc.store
    probe_sql = "SELECT max(created_ts) FROM mentions"
    probe = median_time(lambda: store.conn.execute(probe_sql).fetchone())
    old_newest = (
        "SELECT source, max(created_ts) AS ts FROM mentions WHERE is_own = 0 GROUP BY source"
    )
    table.add("status (ingest status lines)", median_time(sc.status), probe, "s")
    table.add("  newest mention per source", median_time(lambda: q_newest(store)), probe, "s",
              median_time(lambda: store.rows(old_newest), repeat=3))  # fmt: skip
    table.add(
        "report spikes (1h, baseline 24)",
        median_time(lambda: sc.spikes(window_s=3600, windows=24), repeat=5),
        probe,
        "s",
    )
    now = datetime.now(timezone.utc)
    table.add("backlog cards", median_time(lambda: q.backlog_rows(store, now, None), 5), probe, "s")
    from socialcare.store.copy import table_counts

    # before: count(*) of every table, as db status did before m019's counters
    table.add("db status", median_time(sc.db_status, repeat=5), probe, "s",
              median_time(lambda: table_counts(store), repeat=3))  # fmt: skip


def q_newest(store: Store) -> dict[str, float]:
    from socialcare.store import ingest

    return ingest.newest_item_ts(store)


def report_rows(sc: Socialcare, table: Table) -> None:
    from socialcare.reports.collect import ReportParams

    store = sc.store
    now = datetime.now(timezone.utc)

    def full_scan() -> None:
        for _ in store.conn.execute("SELECT * FROM mentions"):
            pass

    scan = median_time(full_scan, repeat=1, cpu=store.backend == "sqlite")
    for label, days in (("report (7d, default)", 7), ("report --since 45d", 45)):
        params = ReportParams(
            since=now - timedelta(days=days), until=now, now=now, tz=timezone.utc, tz_name="UTC"
        )
        took = median_time(lambda p=params: sc.report(p), repeat=1, cpu=store.backend == "sqlite")
        table.add(label, took, scan, "s")
        # peak Python heap of one more run (tracemalloc slows it, so not the timed one):
        # flat in the window size means the same figure at 100k and at 1M
        tracemalloc.start()
        sc.report(params)
        table.rows[-1]["peak_heap_bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"  peak heap {table.rows[-1]['peak_heap_bytes'] / 1e6:.1f} MB", flush=True)


def export_rows(sc: Socialcare, table: Table, tmp: Path) -> None:
    from socialcare.reports.export import open_output, write_rows
    from socialcare.store import reports as q

    store = sc.store
    columns = q.EXPORT_COLUMNS["mentions"]
    target = tmp / "export.csv"

    def ours() -> None:
        with open_output(target) as out:
            write_rows(out, "csv", columns, q.iter_export(store, q.ExportQuery("mentions")))

    select = ", ".join(f"m.{c}" for c in columns if c not in ("sentiment", "sla_due_at"))

    def plain_csv() -> None:
        with open(target, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(columns)
            writer.writerows(
                store.conn.execute(f"SELECT {select} FROM mentions m ORDER BY m.rowid")
            )

    # The fair baseline: the csv module writing ours' very SELECT (the sentiment CASE and
    # the SLA's unix-to-ISO included) in ours' order (created_ts, then rowid), one cursor;
    # the rowid-order one above skips both and reads the table in storage order.
    exprs = {"{sla_due_at}": store.dialect.unix_to_iso("m.sla_due_ts")}
    same = ", ".join(f"{exprs.get(e, e)} AS {c}" for c, e in q._MENTION_EXPORT)

    def same_order_csv() -> None:
        with open(target, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(columns)
            writer.writerows(
                store.conn.execute(
                    f"SELECT {same} FROM mentions m WHERE NOT m.kind = 'dm' "
                    "ORDER BY m.created_ts, m.rowid",
                    {"neg": NEGATIVE_MAX, "pos": POSITIVE_MIN},
                )
            )

    cpu = store.backend == "sqlite"
    n = store.mention_count()
    # Interleaved rounds (ours, then each baseline, three times; medians): load from other
    # processes then hits every side alike, where one timed call each did not.
    clock = time.process_time if cpu else time.perf_counter
    sides = (ours, same_order_csv, plain_csv)
    heaps = [traced_peak(fn) for fn in sides]  # the warm-up calls
    times: list[list[float]] = [[] for _ in sides]
    for _ in range(3):
        for fn, took in zip(sides, times, strict=True):
            t0 = clock()
            fn()
            took.append(clock() - t0)
    today, same, rowid = (n / statistics.median(t) for t in times)
    table.add("export mentions --format csv (same SELECT and order)", today, same, "rows/s",
              heap=max(heaps[:2]))  # fmt: skip
    table.add("export mentions --format csv (vs rowid order)", today, rowid, "rows/s",
              heap=heaps[2])  # fmt: skip


# -- issue 25 item 1: the write path (poll, its bytes, triage --all) ------------------------


def _io() -> tuple[int, int]:
    """(wchar, write_bytes) of this process so far: bytes passed to write(2), bytes to disk."""
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return int(fields["wchar"]), int(fields["write_bytes"])


def _poll_once(
    tmp: Path, data: Path, label: str, *, old_path: bool, batch: int | None = None
) -> dict[str, float]:
    """One ``poll --source demo`` of ``data`` into a fresh SQLite store: CPU s, bytes, size.

    ``old_path``: the reference path (insert, then ``triage_ids`` in the hook reads the
    rows back and UPDATEs their triage), as ``Socialcare.poll`` did before. ``batch``:
    store at most this many mentions per transaction (1: a commit per page, as before).
    """
    import socialcare.poll as poll_module
    import socialcare.triage.score as score_module
    from socialcare.poll import poll
    from socialcare.scoring import page_scorer, triage_ids

    db = tmp / f"poll-{label}.db"
    cfg = Config(
        database=str(db), agent="bench", brand_handles=("acmehelp",),
        sources={"demo": {"path": str(data), "page_size": 1000}},
    )  # fmt: skip
    sc = Socialcare(cfg)
    settings = sc.triage_settings
    scoring_cpu = [0.0]

    def timed(score: Any) -> Any:
        def run(rows: Any, counts: Any) -> Any:
            t0 = time.process_time()
            try:
                return score(rows, counts)
            finally:
                scoring_cpu[0] += time.process_time() - t0

        return run

    encode, batched = score_module.encode_signals, poll_module.BATCH_MENTIONS
    if batch is not None:
        poll_module.BATCH_MENTIONS = batch
    if old_path:  # and the version-1 JSON it wrote
        score_module.encode_signals = _v1_signals  # type: ignore[assignment]
    io0, cpu0 = _io(), time.process_time()
    try:
        if old_path:
            poll(cfg, sc.store, ["demo"], on_stored=lambda st, ids: triage_ids(st, ids, settings))
        else:
            poll(cfg, sc.store, ["demo"], scorer=timed(page_scorer(settings)))
    finally:
        score_module.encode_signals, poll_module.BATCH_MENTIONS = encode, batched
    cpu = time.process_time() - cpu0
    sc.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    io1 = _io()
    n = sc.store.mention_count()
    signals = sc.store.conn.execute("SELECT avg(length(signals)) FROM mentions").fetchone()[0]
    sc.shutdown()
    size = sum(p.stat().st_size for p in tmp.glob(f"poll-{label}.db*"))
    return {"n": n, "cpu": cpu, "wchar": io1[0] - io0[0], "disk": io1[1] - io0[1],
            "size": size, "signals": float(signals or 0), "scoring": scoring_cpu[0]}  # fmt: skip


def _v1_signals(
    parts: Any, *, tags: Any, language: str, language_source: str, repeat_count: int
) -> str:
    """The ``signals`` column as version 1 wrote it (JSON with every part in full)."""
    return json.dumps(
        {"version": 1, "signals": [list(p) for p in parts], "tags": list(tags),
         "language": language, "language_source": language_source,
         "repeat_count": repeat_count},
        ensure_ascii=False,
    )  # fmt: skip


def _stock_vader_cpu(texts: list[str]) -> float:
    """CPU seconds of stock VADER's ``polarity_scores`` on each text (the baseline's scorer)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    stock = SentimentIntensityAnalyzer()
    cpu0 = time.process_time()
    for text in texts:
        stock.polarity_scores(text)
    return time.process_time() - cpu0


def _floor(tmp: Path, texts: list[str], rows: list[dict[str, Any]]) -> tuple[float, float]:
    """CPU seconds of the baseline: stock VADER on the texts, raw executemany of the rows.

    The rows go into a fresh socialcare store (its b-trees, FTS5 and authors) by one
    ``executemany`` per 1000, with the triage columns of a scored mention.
    """

    vader = _stock_vader_cpu(texts)
    store = Socialcare(Config(database=str(tmp / "floor.db"), agent="bench")).store
    cols = list(rows[0])
    sql = f"INSERT INTO mentions ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
    authors = sorted({(r["author_key"], r["source"], r["author_id"]) for r in rows})
    cpu0 = time.process_time()
    with store.transaction():
        store.conn.executemany(_AUTHOR, [(k, s, a, a, "", 0, "x", "x") for k, s, a in authors])
    for start in range(0, len(rows), 1000):
        with store.transaction():
            store.conn.executemany(
                sql, [tuple(r[c] for c in cols) for r in rows[start : start + 1000]]
            )
    insert = time.process_time() - cpu0
    store.close()
    return vader, insert


def poll_rows(table: Table, tmp: Path, n: int) -> None:
    """``poll``: n demo mentions through the real poll path, today and before, against the
    floor (stock VADER + raw executemany); ``poll_bytes``: bytes written / final size."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_poll import generate

    warm = tmp / "warm.jsonl"
    generate(warm, 2000)  # loads VADER, the language model and the packs before timing
    _poll_once(tmp, warm, "warm", old_path=False)
    data = tmp / "demo.jsonl"
    generate(data, n)
    today = _poll_once(tmp, data, "today", old_path=False)
    before = _poll_once(tmp, data, "before", old_path=True)
    paged = _poll_once(tmp, data, "paged", old_path=False, batch=1)
    # the least a WAL store can write: every page once to the log, once by the checkpoint
    whole = _poll_once(tmp, data, "whole", old_path=False, batch=n)
    store = Socialcare(Config(database=str(tmp / "poll-today.db"), agent="bench")).store
    rows = [dict(r) for batch in store.iter_mentions(5000) for r in batch]
    store.close()
    for r in rows:
        r.pop("_rowid", None)
        r.pop("rowid", None)
    vader, insert = _floor(tmp, [str(r["text"]) for r in rows], rows)
    print(f"[poll] floor: stock VADER {n / vader:,.0f}/CPU-s, raw executemany {n / insert:,.0f}/CPU-s"
          f"; signals column {before['signals']:.0f} -> {today['signals']:.0f} bytes on average")  # fmt: skip
    table.add(f"poll {n:,} demo mentions, with triage (CPU)", today["cpu"], vader + insert, "s",
              before["cpu"])  # fmt: skip
    print(f"[poll] today {n / today['cpu']:,.0f}/CPU-s, before {n / before['cpu']:,.0f}/CPU-s,"
          f" floor {n / (vader + insert):,.0f}/CPU-s; scoring {today['scoring']:.1f} CPU-s"
          f" ({100 * today['scoring'] / today['cpu']:.0f}% of the poll), the rest storing,"
          f" reading and sanitising")  # fmt: skip
    for key, what in (("wchar", "write(2)"), ("disk", "to disk")):
        table.add(f"poll_bytes: {what} / final store size", today[key] / today["size"], 1.0, "x",
                  before[key] / before["size"])  # fmt: skip
    print(f"[poll] final size {today['size'] / 1e6:.0f} MB today, {before['size'] / 1e6:.0f} MB before;"
          f" written today {today['wchar'] / 1e6:,.0f} MB, before {before['wchar'] / 1e6:,.0f} MB")  # fmt: skip
    print(f"[poll] a commit per page (today's path otherwise): {paged['cpu']:.1f} CPU-s"
          f" ({n / paged['cpu']:,.0f}/CPU-s), written {paged['wchar'] / 1e6:,.0f} MB ="
          f" {paged['wchar'] / paged['size']:.1f}x its final size; batched: {today['cpu']:.1f}"
          f" CPU-s, {today['wchar'] / today['size']:.1f}x")  # fmt: skip
    table.add("poll_bytes: one transaction for the whole poll (WAL's least)",
              whole["wchar"] / whole["size"], 1.0, "x")  # fmt: skip
    print(f"[poll] one transaction for all {n:,}: {whole['cpu']:.1f} CPU-s, written"
          f" {whole['wchar'] / 1e6:,.0f} MB; under WAL every page goes to the log and then to"
          " the file, so no commit size writes less than about 2x")  # fmt: skip
    first, from_text = _triage_polled(tmp, "today")
    table.add("triage --all on the polled store (its first run)", n / first, n / vader,
              "mentions/CPU-s", n / from_text)  # fmt: skip


def _triage_polled(tmp: Path, label: str) -> tuple[float, float]:
    """CPU s of the first ``triage --all`` on a polled store, then of one from text only.

    The poll's settings (same brand handles, no ``[triage]`` table): the first run
    rebuilds from stored signals the rows whose fingerprint the poll wrote; the
    second (``reuse=False``, the same-run baseline) scores every row from its text.
    """
    from socialcare import scoring

    cfg = Config(database=str(tmp / f"poll-{label}.db"), agent="bench", brand_handles=("acmehelp",))
    sc = Socialcare(cfg)
    settings = sc.triage_settings
    try:
        cpu0 = time.process_time()
        scoring.retriage_all(sc.store, settings)
        first = time.process_time() - cpu0
        cpu0 = time.process_time()
        scoring.retriage_all(sc.store, settings, reuse=False)
        from_text = time.process_time() - cpu0
    finally:
        sc.shutdown()
    return first, from_text


def triage_all_rows(sc: Socialcare, table: Table) -> None:
    """``triage --all`` on the built store against stock VADER on its texts (same run).

    ``today`` re-scores the synthetic store (no fingerprints: every row scored from
    its text, every row changes and is written); ``before`` is the previous loop
    (every column read, every row UPDATEd, which also clears the fingerprints). Then
    one untimed run records the fingerprints, and: nothing changed, scored from text
    (``reuse=False``) and from the stored signals; a weight edit (``question`` +0.5)
    re-scored from the stored signals, ``before`` being another weight edit scored
    from text.
    """
    import dataclasses

    from socialcare import scoring

    store = sc.store
    settings = sc.triage_settings
    n = store.mention_count()
    texts = [str(r[0]) for r in store.conn.execute("SELECT text FROM mentions")]
    vader = _stock_vader_cpu(texts)
    del texts

    def old() -> None:
        for rows in store.iter_mentions(batch_size=scoring.BATCH_SIZE):
            scoring._triage_batch(store, rows, settings)

    clock = time.process_time if store.backend == "sqlite" else time.perf_counter

    def timed(fn: Callable[[], Any]) -> float:
        start = clock()
        fn()
        return clock() - start

    def edited(question: float) -> Any:
        weights = settings.weights._replace(question=question)
        return dataclasses.replace(settings, weights=weights)

    today = timed(lambda: scoring.retriage_all(store, settings))
    before = timed(old)
    scoring.retriage_all(store, settings)  # records the fingerprints (writes them only)
    same = timed(lambda: scoring.retriage_all(store, settings, reuse=False))
    same_fp = timed(lambda: scoring.retriage_all(store, settings))
    question = settings.weights.question
    from_text = timed(lambda: scoring.retriage_all(store, edited(question + 0.25), reuse=False))
    weight = timed(lambda: scoring.retriage_all(store, edited(question + 0.5)))
    table.add("triage --all (every row changed)", n / today, n / vader, "mentions/CPU-s",
              n / before)  # fmt: skip
    table.add("triage --all (nothing changed)", n / same, n / vader, "mentions/CPU-s")
    table.add("triage --all (nothing changed, stored signals)", n / same_fp, n / vader,
              "mentions/CPU-s")  # fmt: skip
    table.add("triage --all after a weight change", n / weight, n / vader, "mentions/CPU-s",
              n / from_text)  # fmt: skip


def triage_polled_rows(table: Table, tmp: Path, n: int, keep: Path | None) -> None:
    """``triage --all`` on a store the real poll filled (SQLite), against stock VADER on its
    texts in the same run, CPU seconds (each including the WAL checkpoint it leaves).

    The poll stores each mention's triage and fingerprint; ``triage --all`` with the same
    settings then rewrites only the rows whose repeat count the poll could not know (the
    demo file is not in time order: a mention polled later but created earlier is one
    more earlier mention of its author for those polled before it). Then the same store
    once it is current, after a weight edit (rebuilt from the stored signals), and after a
    ``[triage]`` edit the fingerprint covers (``brand_names``): every row scored from its
    text, bounded by the scorer's own speed. The polled store is built once per ``--keep``
    directory (``triage-polled-N.db``) and copied for each run.
    """
    import dataclasses
    import shutil

    from socialcare import scoring
    from socialcare.poll import poll
    from socialcare.store import triage as store_triage
    from socialcare.triage.score import score_rows

    home = keep or tmp
    pristine = home / f"triage-polled-{n}.db"
    if not pristine.exists():
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_poll import generate

        data = tmp / "triage-demo.jsonl"
        generate(data, n)
        cfg = Config(
            database=str(pristine), agent="bench", brand_handles=("acmehelp",),
            sources={"demo": {"path": str(data), "page_size": 1000}},
        )  # fmt: skip
        sc = Socialcare(cfg)
        poll(cfg, sc.store, ["demo"], scorer=scoring.page_scorer(sc.triage_settings))
        sc.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        sc.shutdown()
        print(f"[triage] polled {n:,} demo mentions into {pristine}")
    work = tmp / "triage-polled-work.db"
    shutil.copy(pristine, work)
    sc = Socialcare(Config(database=str(work), agent="bench", brand_handles=("acmehelp",)))
    store, settings = sc.store, sc.triage_settings
    texts = [str(r[0]) for r in store.conn.execute("SELECT text FROM mentions")]
    vader = _stock_vader_cpu(texts)
    score_rows([{"text": t} for t in texts[:50]], settings)  # loads the scorer, as VADER is
    del texts
    written = [0]
    real = store_triage.save_rescored

    def counted(store_: Store, changes: Any) -> None:
        written[0] += len(changes)
        real(store_, changes)

    def timed(fn: Callable[[], Any]) -> tuple[float, int]:
        written[0] = 0
        start = time.process_time()
        fn()
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return time.process_time() - start, written[0]

    def edited(**weights: float) -> Any:
        return dataclasses.replace(settings, weights=settings.weights._replace(**weights))

    question = settings.weights.question
    store_triage.save_rescored = counted  # type: ignore[assignment]
    try:
        first, first_n = timed(lambda: scoring.retriage_all(store, settings))
        current, current_n = timed(lambda: scoring.retriage_all(store, settings))
        weight, weight_n = timed(
            lambda: scoring.retriage_all(store, edited(question=question + 0.5))
        )
        named = dataclasses.replace(settings, brand_names=("Acme",))
        text, text_n = timed(lambda: scoring.retriage_all(store, named))
        heap = traced_peak(lambda: scoring.retriage_all(store, edited(question=question + 0.25)))
    finally:
        store_triage.save_rescored = real  # type: ignore[assignment]
        sc.shutdown()
    for label, cpu, changed in (
        ("after a poll", first, first_n),
        ("on a current polled store", current, current_n),
        ("after a weight edit (polled)", weight, weight_n),
        ("after a brand_names edit (from text)", text, text_n),
    ):
        table.add(f"triage --all {label}", n / cpu, n / vader, "mentions/CPU-s", heap=heap)
        print(f"[triage] {label}: {changed:,} of {n:,} rows rewritten")
    print("[triage] heap: one traced weight-edit run on the polled store")


def claim_times(
    sc: Socialcare, ids: list[str], rounds: int = 3, clock: Callable[[], float] = time.perf_counter
) -> list[float]:
    """Seconds of ``claim`` on ``clock`` (wall by default; each then released, untimed),
    one agent alone."""
    times = []
    for _ in range(rounds):
        for mention_id in ids:
            t0 = clock()
            sc.claim(mention_id)
            times.append(clock() - t0)
            sc.release(mention_id)
    return times


def _pipelined_claim(sc: Socialcare, mention_id: str) -> None:
    """``before`` on PostgreSQL: the claim as it was until m021, the customer's lock and
    then the claim statement (the same two that ``socialcare_claim`` runs) sent as one
    psycopg pipeline."""
    import json
    import re

    from socialcare.models import utcnow
    from socialcare.store.migrations import postgres

    def named(sql: str) -> str:
        return re.sub(r"\$([1-5])", r"%(p\1)s", sql)

    agent = sc.agent
    params = {
        "p1": mention_id,
        "p2": agent,
        "p3": to_iso(utcnow()),
        "p4": json.dumps({"previous": None, "forced": False}),
        "p5": json.dumps({"previous": agent, "forced": False}),
    }
    raw = sc.store.conn.raw
    with raw.pipeline():
        raw.cursor().execute(named(postgres.CLAIM_LOCK_M021), params, prepare=True)
        cur = raw.cursor()
        cur.execute(named(postgres.CLAIM_QUERY_M021), params, prepare=True)
    cur.fetchone()


def _timed_claims(
    sc: Socialcare,
    ids: list[str],
    claim: Callable[[str], Any],
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    """Seconds of ``claim`` per id on ``clock`` (each then released, untimed)."""
    times = []
    for mention_id in ids:
        t0 = clock()
        claim(mention_id)
        times.append(clock() - t0)
        sc.release(mention_id)
    return times


def claim_rows(table: Table, tmp: Path, server_url: str, n: int = 10_000, rounds: int = 5) -> None:
    """A lone agent's ``claim`` on a 10k store: PostgreSQL (this server) against SQLite.

    Both stores are built alike in this run; the PostgreSQL one in a second
    database on the server, so the main store stays as it is. The two are timed
    in alternating rounds (wall, then CPU, SQLite then PostgreSQL, ``rounds``
    times) so that load from other work hits both alike: on a shared 2-core
    machine, timing one backend after the other made the ratio swing 2.9-7.8x.
    On PostgreSQL ``before`` is the pipelined claim (:func:`_pipelined_claim`),
    timed in the same rounds.
    """
    import psycopg

    base, name = server_url.rsplit("/", 1)
    claim_db = f"{name}_claim"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{claim_db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{claim_db}"')
    opened: dict[str, Socialcare] = {}
    try:
        ids: dict[str, list[str]] = {}
        heap: dict[str, int] = {}
        for label, database in (("sqlite", str(tmp / "claim.db")), ("pg", f"{base}/{claim_db}")):
            sc = opened[label] = Socialcare(
                Config(database=database, agent="bench", brand_handles=("acmehelp",))
            )
            build(sc.store, n, time.time(), 0.02)
            ids[label] = [r["id"] for r in sc.queue(QueueFilter(limit=40))]
            claim_times(sc, ids[label][:5], rounds=1)  # warm: connection, caches, prepared plans
            heap[label] = traced_peak(lambda sc=sc, i=ids[label]: claim_times(sc, i[:1], rounds=1))
        pg = opened["pg"]
        pipelined = lambda i: _pipelined_claim(pg, i)  # noqa: E731
        _timed_claims(pg, ids["pg"][:5], pipelined)
        clocks = {label: cpu_clock(sc.store)[0] for label, sc in opened.items()}
        wall: dict[str, list[float]] = {"sqlite": [], "pg": []}
        cpu: dict[str, list[float]] = {"sqlite": [], "pg": []}
        before: list[float] = []
        before_cpu: list[float] = []
        for _ in range(rounds):
            for label, sc in opened.items():
                wall[label] += claim_times(sc, ids[label], rounds=1)
                cpu[label] += claim_times(sc, ids[label], rounds=1, clock=clocks[label])
            before += _timed_claims(pg, ids["pg"], pipelined)
            before_cpu += _timed_claims(pg, ids["pg"], pipelined, clock=clocks["pg"])
    finally:
        for sc in opened.values():
            sc.shutdown()
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{claim_db}" WITH (FORCE)')
    med = statistics.median
    table.add(f"claim, one agent alone ({n // 1000}k store, PG vs SQLite)", med(wall["pg"]),
              med(wall["sqlite"]), "s", med(before), heap=heap["pg"])  # fmt: skip
    table.add(f"claim, one agent alone ({n // 1000}k, PG vs SQLite, CPU: client + server)",
              med(cpu["pg"]), med(cpu["sqlite"]), "s", med(before_cpu),
              heap=heap["pg"])  # fmt: skip


def memory_line(backend: str) -> str:
    """Peak RSS and how much of the RSS now is the mapped store file (not heap)."""
    status = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "RssAnon", "RssFile"):
            status[key] = int(value.split()[0]) / 1024
    return (
        f"[{backend}] memory: peak RSS {status.get('VmHWM', 0):,.0f} MB; RSS now "
        f"{status.get('RssAnon', 0):,.0f} MB anonymous (heap and the libraries' own) + "
        f"{status.get('RssFile', 0):,.0f} MB file-backed (code and, on SQLite, the pages of the "
        "store read through mmap_size: the page cache's, not socialcare's). The heap column is "
        "the memory figure."
    )


ROWS = ("queue", "status", "report", "export", "poll", "triage_all", "claim")


class KeptServer:
    """A PostgreSQL cluster kept in a directory across runs (``--keep`` on PostgreSQL)."""

    def __init__(self, root: Path) -> None:
        import os
        import pwd
        import shutil

        from tests.pg_server import SERVER_USER, find_binaries

        binaries = find_binaries()
        if binaries is None:
            raise SystemExit("no PostgreSQL server binaries (initdb) found")
        initdb, pg_ctl = binaries
        self.as_user: list[str] = []
        root.mkdir(parents=True, exist_ok=True)
        self.data, self.log = root / "data", root / "server.log"
        if os.geteuid() == 0:  # initdb refuses to run as root
            owner = pwd.getpwnam(SERVER_USER)
            os.chown(root, owner.pw_uid, owner.pw_gid)
            self.as_user = [shutil.which("runuser") or "runuser", "-u", SERVER_USER, "--"]
        self.ctl = [*self.as_user, str(pg_ctl), "-D", str(self.data)]
        self.marker = root / "built"
        self.fresh = not self.marker.exists()
        if not self.data.exists():
            self._run([*self.as_user, str(initdb), "-D", str(self.data), "-A", "trust", "-U",
                       SERVER_USER, "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])  # fmt: skip
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )
        self._run([*self.ctl, "-w", "-t", "120", "-l", str(self.log), "-o", options, "start"])
        admin = f"postgresql://{SERVER_USER}@127.0.0.1:{port}/postgres"
        if self.fresh:  # never built, or a build that did not finish
            import psycopg

            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute("DROP DATABASE IF EXISTS scale WITH (FORCE)")
                conn.execute("CREATE DATABASE scale")
        self.url = admin.rsplit("/", 1)[0] + "/scale"

    def _run(self, cmd: list[str]) -> None:
        import subprocess

        subprocess.run(cmd, check=True, capture_output=True, cwd="/")

    def stop(self) -> None:
        """Stop the server; its files stay for the next run."""
        self._run([*self.ctl, "-m", "fast", "-w", "stop"])


def run_backend(backend: str, n: int, only: set[str], keep: Path | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        server: Any = None
        fresh = True
        if backend == "postgresql" and keep is not None:
            server = KeptServer(keep / f"pg-{n}")
            database, fresh = server.url, server.fresh
        elif backend == "postgresql":
            import os

            from tests.pg_server import start_server, truncate_tables

            server = start_server(tmp, os.environ.get("SOCIALCARE_TEST_PG_URL") or None)
            truncate_tables(server.url)
            database = server.url
        else:
            database = str((keep or tmp) / f"scale-{n}.db")
            fresh = not Path(database).exists()
        sc = Socialcare(Config(database=database, agent="bench", brand_handles=("acmehelp",)))
        table = Table()
        now = time.time()
        try:
            if fresh:
                took = build(sc.store, n, now, 0.02)
                print(f"[{backend}] built {n:,} mentions in {took:.1f}s ({n / took:,.0f}/s)")
                if isinstance(server, KeptServer):
                    server.marker.touch()
            print(f"[{backend}] {sc.store.mention_count():,} mentions")
            if "queue" in only:
                queue_rows(sc, table, "2% open")
                assigned_rows(sc, table, "2% open")
            if "status" in only:
                status_rows(sc, table)
            if "report" in only:
                report_rows(sc, table)
            if "export" in only and backend == "sqlite":
                export_rows(sc, table, tmp)
            if "poll" in only and backend == "sqlite":
                poll_rows(table, tmp, min(n, 100_000))
            if "triage_all" in only:
                triage_all_rows(sc, table)
                if backend == "sqlite":
                    triage_polled_rows(table, tmp, min(n, 100_000), keep)
            if "queue" in only:
                rnd = random.Random(5)
                was = dict(sc.store.conn.execute(
                    "SELECT id, status FROM mentions WHERE status != 'open' ORDER BY rowid"
                ).fetchall())  # fmt: skip
                closed = list(was)
                more = rnd.sample(closed, min(len(closed), int(n * 0.18)))
                with sc.store.transaction():
                    sc.store.conn.executemany(
                        "UPDATE mentions SET status = 'open' WHERE id = ?", [(i,) for i in more]
                    )
                sc.store.refresh_statistics()
                settle(sc.store)
                queue_rows(sc, table, "20% open")
                assigned_rows(sc, table, "20% open")
                with sc.store.transaction():  # back to 2% open, for the next run on a kept store
                    sc.store.conn.executemany(
                        "UPDATE mentions SET status = ? WHERE id = ?", [(was[i], i) for i in more]
                    )
                sc.store.refresh_statistics()
                settle(sc.store)
            if "claim" in only and server is not None:
                claim_rows(table, tmp, server.url)
            print(memory_line(backend), flush=True)
        finally:
            sc.shutdown()
            if server is not None:
                server.stop()
    return {"backend": backend, "mentions": n, "rows": table.rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"), default="sqlite")
    parser.add_argument("--keep", type=Path, help="keep the SQLite store in this directory")
    parser.add_argument("--only", default=",".join(ROWS), help=f"rows: {','.join(ROWS)}")
    args = parser.parse_args()
    only = set(args.only.split(","))
    unknown = only - set(ROWS)
    if unknown:  # a row name that matches nothing ran a whole build and measured nothing
        parser.error(f"--only {','.join(sorted(unknown))}: not a row; use {','.join(ROWS)}")
    backends = ("sqlite", "postgresql") if args.backend == "all" else (args.backend,)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(exist_ok=True)
    for backend in backends:
        result = run_backend(backend, args.mentions, only, args.keep)
        result["at"] = stamp
        out = RESULTS / f"scale-{backend}-{args.mentions}-{stamp}.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"[{backend}] wrote {out}")


if __name__ == "__main__":
    main()
