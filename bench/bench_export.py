"""Benchmark: `export mentions` to CSV from a store of N generated mentions (default 1,000,000).

Usage: python bench/bench_export.py [N] [--keep DB]

Generates the store (executemany in 10k batches inside one transaction),
then exports it in child processes so the memory figures are the export's
alone: one timed run (rows/s, ru_maxrss) and one under tracemalloc (peak
Python allocation). Bounded memory is the point: the peak must not grow
with N. Output goes to a temporary file (use /dev/null-like sinks and you
mostly measure the formatter, which is what we want anyway).
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# socialcare is imported inside the child processes only: ru_maxrss survives exec on
# Linux, so a lean parent keeps the children's figures their own.

WORDS = (
    "refund charged twice outage down app login broken thanks love great help please when "
    "store open bill contract signal router slow cancel hacked scam why how can my the a is "
    '=SUM(A1) +1 -2 @admin café naïve 😀 "quoted"'
).split()
BATCH = 10_000
_INSERT = (
    "INSERT INTO mentions (id, source, native_id, query, url, author_key, author_id, "
    "author_handle, author_name, author_followers, text, created_at, created_ts, fetched_at, "
    "language, kind, raw, status, intent, sentiment_compound, sentiment_scored, static_score, "
    "sla_due_ts) VALUES (?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'en', 'post', '{}', ?, ?, ?, "
    "1, ?, ?)"
)


def generate(db: Path, n: int) -> float:
    """Fill a fresh store with ``n`` mentions; returns seconds taken."""
    from socialcare.store import open_store

    rnd = random.Random(42)
    store = open_store(db)
    start_ts = 1_761_955_200.0  # 2025-11-01T00:00:00Z
    started = time.perf_counter()
    with store.transaction():
        for base in range(0, n, BATCH):
            rows = []
            for i in range(base, min(base + BATCH, n)):
                ts = start_ts + i * 7.0  # ~81 days per million
                created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
                source = "twitter" if i % 3 else "reddit"
                author = f"u{rnd.randint(0, n // 5)}"
                text = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(6, 30)))
                if i % 50 == 0:
                    text = "line one\nline two, with a comma"
                rows.append(
                    (
                        f"{source}:{i}",
                        source,
                        str(i),
                        f"https://example.com/{i}",
                        f"{source}:{author}",
                        author,
                        f"user{author}",
                        "Generated User",
                        rnd.randint(0, 100_000),
                        text,
                        created,
                        ts,
                        created,
                        rnd.choice(("open", "replied", "closed")),
                        rnd.choice(("complaint", "question", "praise", "other")),
                        rnd.uniform(-1, 1),
                        rnd.random(),
                        ts + 3600,
                    )
                )
            store.conn.executemany(_INSERT, rows)
    store.close()
    return time.perf_counter() - started


def export_child(db: str, traced: bool) -> None:
    """Run one export in this (child) process and print its figures as JSON."""
    from socialcare.reports.export import open_output, write_rows
    from socialcare.store import open_store
    from socialcare.store.reports import EXPORT_COLUMNS, ExportQuery, iter_export

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    store = open_store(db)
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "mentions.csv"
        with open_output(target) as out:
            count = write_rows(
                out, "csv", EXPORT_COLUMNS["mentions"], iter_export(store, ExportQuery("mentions"))
            )
        size = target.stat().st_size
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if traced else None
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hwm = _vm_hwm_kb()
    print(
        json.dumps(
            {
                "rows": count,
                "seconds": seconds,
                "bytes": size,
                "tracemalloc_peak": peak,
                "maxrss_before_kb": rss_before,
                "maxrss_after_kb": rss_after,
                "vm_hwm_kb": hwm,
            }
        )
    )


def _vm_hwm_kb() -> int | None:
    """This process's own peak resident set (Linux), which exec does not inherit."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def run_child(db: Path, traced: bool) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(db), "traced" if traced else "plain"],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        export_child(sys.argv[2], sys.argv[3] == "traced")
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--generate":
        count = int(sys.argv[3])
        took = generate(Path(sys.argv[2]), count)
        print(f"generated {count:,} mentions in {took:.1f}s ({count / took:,.0f} rows/s)")
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    keep = sys.argv[sys.argv.index("--keep") + 1] if "--keep" in sys.argv else None
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(keep) if keep else Path(tmp) / "bench.db"
        if not db.exists():
            out = subprocess.run(
                [sys.executable, __file__, "--generate", str(db), str(n)],
                check=True,
                capture_output=True,
                text=True,
            )
            print(out.stdout.strip())
        print(f"store size {os.path.getsize(db) / 1e6:,.0f} MB")
        plain = run_child(db, traced=False)
        traced = run_child(db, traced=True)
    rate = plain["rows"] / plain["seconds"]
    print(
        f"export mentions -> CSV: {plain['rows']:,.0f} rows in {plain['seconds']:.1f}s "
        f"= {rate:,.0f} rows/s ({plain['bytes'] / 1e6:,.0f} MB written)"
    )
    print(
        f"peak memory: tracemalloc {traced['tracemalloc_peak'] / 1e6:.2f} MB (Python objects); "
        f"ru_maxrss {plain['maxrss_after_kb'] / 1024:.1f} MB for the whole process "
        f"({plain['maxrss_before_kb'] / 1024:.1f} MB of it before the store was opened); "
        f"VmHWM {(plain['vm_hwm_kb'] or 0) / 1024:.1f} MB"
    )


if __name__ == "__main__":
    main()
