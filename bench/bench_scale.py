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
* ``status`` / ``spikes`` / ``backlog`` / ``db_status``: the status lines against
  one ``max(created_ts)`` index probe.
* ``report_7d`` (no data in the window) and ``report_45d`` (all of it) against
  one plain full scan of ``mentions`` (every column into Python).
* ``export_csv``: ``export mentions --format csv`` against the csv module
  writing the same SELECT from one cursor.

Times are medians of wall-clock seconds (PostgreSQL does its work in another
process); the report and export rows are CPU seconds of this process on SQLite.
The JSON goes to ``bench/results/scale-<backend>-<N>-<UTC time>.json``.
PostgreSQL runs on a throwaway server (``tests/pg_server.py``), or on
``SOCIALCARE_TEST_PG_URL``'s.
"""

from __future__ import annotations

import argparse
import csv
import json
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
from socialcare.models import to_iso  # noqa: E402
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
    return time.perf_counter() - started


def median_time(fn: Callable[[], Any], repeat: int = 15, cpu: bool = False) -> float:
    """Median seconds of ``fn()`` (after one warm-up call)."""
    clock = time.process_time if cpu else time.perf_counter
    fn()
    times = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times)


class Table:
    """Rows of the issue's table: work, today, baseline, ratio (and before, when measured)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(
        self, work: str, today: float, baseline: float, unit: str, before: float | None = None
    ) -> None:
        ratio = today / baseline if baseline else float("inf")
        row = {"work": work, "today": today, "baseline": baseline, "ratio": ratio, "unit": unit}
        if before is not None:
            row["before"] = before
        self.rows.append(row)
        shown = f"before {_fmt(before, unit):>11}  " if before is not None else " " * 20
        print(
            f"{work:46s} today {_fmt(today, unit):>11}  baseline {_fmt(baseline, unit):>11}  "
            f"{shown}ratio {ratio:8.2f}x",
            flush=True,
        )


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit == "s":
        return f"{value * 1000:.3f} ms" if value < 1 else f"{value:.2f} s"
    return f"{value:,.0f} {unit}"


def queue_rows(sc: Socialcare, table: Table, label: str) -> None:
    """The ranking SQL alone (``Store._rank``), then the whole ``queue`` call."""
    store = sc.store
    d = store.dialect
    cpu = store.backend == "sqlite"
    flt = QueueFilter(limit=50)
    now = time.time()
    weight, cap = 2.0, 24.0
    ids = [r["id"] for r in store.queue(flt, now, weight, cap)]
    rank = store._rank
    spent: list[float] = []
    clock = time.process_time if cpu else time.perf_counter

    def timed(*args: Any) -> Any:
        t0 = clock()
        out = rank(*args)
        spent.append(clock() - t0)
        return out

    store._rank = timed  # type: ignore[method-assign]
    try:
        today = median_time(lambda: store.queue(flt, now, weight, cap), cpu=cpu)
        today_rank, spent[:] = statistics.median(spent), []
        store.index_ranking = False
        assert [r["id"] for r in store.queue(flt, now, weight, cap)] == ids, "rankings differ"
        before = median_time(lambda: store.queue(flt, now, weight, cap), repeat=5, cpu=cpu)
        before_rank = statistics.median(spent)
    finally:
        store.index_ranking = True
        del store._rank
    base_sql = (
        f"SELECT m.rowid FROM mentions m {d.open_queue_hint()} WHERE m.status = 'open' "
        "AND m.is_own = 0 ORDER BY m.static_score DESC LIMIT 50"
    )
    baseline = median_time(lambda: store.conn.execute(base_sql).fetchall(), cpu=cpu)
    table.add(f"queue --limit 50, ranking SQL ({label})", today_rank, baseline, "s", before_rank)
    table.add(f"queue --limit 50, whole call ({label})", today, baseline, "s", before)


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

    cpu = store.backend == "sqlite"
    n = store.mention_count()
    table.add("export mentions --format csv", n / median_time(ours, 1, cpu), n /
              median_time(plain_csv, 1, cpu), "rows/s")  # fmt: skip


ROWS = ("queue", "status", "report", "export")


def run_backend(backend: str, n: int, only: set[str], keep: Path | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        server = None
        if backend == "postgresql":
            import os

            from tests.pg_server import start_server, truncate_tables

            server = start_server(tmp, os.environ.get("SOCIALCARE_TEST_PG_URL") or None)
            truncate_tables(server.url)
            database = server.url
        else:
            database = str((keep or tmp) / f"scale-{n}.db")
        fresh = backend == "postgresql" or not Path(database).exists()
        sc = Socialcare(Config(database=database, agent="bench", brand_handles=("acmehelp",)))
        table = Table()
        now = time.time()
        try:
            if fresh:
                took = build(sc.store, n, now, 0.02)
                print(f"[{backend}] built {n:,} mentions in {took:.1f}s ({n / took:,.0f}/s)")
            print(f"[{backend}] {sc.store.mention_count():,} mentions")
            if "queue" in only:
                queue_rows(sc, table, "2% open")
            if "status" in only:
                status_rows(sc, table)
            if "report" in only:
                report_rows(sc, table)
            if "export" in only and backend == "sqlite":
                export_rows(sc, table, tmp)
            if "queue" in only:
                rnd = random.Random(5)
                closed = [r[0] for r in sc.store.conn.execute(
                    "SELECT id FROM mentions WHERE status != 'open'").fetchall()]  # fmt: skip
                more = rnd.sample(closed, min(len(closed), int(n * 0.18)))
                with sc.store.transaction():
                    sc.store.conn.executemany(
                        "UPDATE mentions SET status = 'open' WHERE id = ?", [(i,) for i in more]
                    )
                sc.store.refresh_statistics()
                queue_rows(sc, table, "20% open")
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
