"""Benchmark: `queue --limit 50` on a store of 1M mentions with 20k open, and `triage --all` memory.

Usage: python bench/bench_queue.py [TOTAL] [OPEN]     (defaults 1000000 20000)

Builds the store through the library (upsert_mentions in batches), closes all
but OPEN mentions, re-scores everything with `retriage_all` (timing it and
recording peak memory), then times the ranked queue query as `socialcare queue`
runs it, plus a filtered and a full-text variant.
"""

from __future__ import annotations

import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from socialcare.app import Socialcare  # noqa: E402
from socialcare.config import Config  # noqa: E402
from socialcare.models import Mention  # noqa: E402
from socialcare.store import QueueFilter  # noqa: E402

WORDS = (
    "refund charged twice outage down app login broken thanks love great help please when "
    "store open bill contract signal router slow cancel hacked scam why how can my the a is"
).split()


def build(sc: Socialcare, total: int, open_: int) -> None:
    rnd = random.Random(7)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    batch: list[Mention] = []
    for i in range(total):
        text = "@AcmeHelp " + " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(5, 25)))
        batch.append(Mention(
            source="demo", native_id=str(i), text=text,
            created_at=start + timedelta(seconds=i * 2), author_id=f"u{rnd.randint(0, total // 4)}",
            author_handle=f"user{i % 50000}", author_followers=rnd.randint(0, 50000), language="en",
        ))  # fmt: skip
        if len(batch) == 5000:
            sc.store.upsert_mentions(batch)
            batch = []
    sc.store.upsert_mentions(batch)
    # keep OPEN random mentions open: the rest were handled long ago
    sc.store.conn.execute("UPDATE mentions SET status = 'closed'")
    open_ids = rnd.sample(range(total), open_)
    sc.store.conn.executemany(
        "UPDATE mentions SET status = 'open' WHERE id = ?", [(f"demo:{i}",) for i in open_ids]
    )


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    open_ = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Config(database=str(Path(tmp) / "q.db"), agent="bench", brand_handles=("acmehelp",))
        sc = Socialcare(cfg)
        t0 = time.perf_counter()
        build(sc, total, open_)
        print(f"built {total:,} mentions ({open_:,} open) in {time.perf_counter() - t0:.1f}s")
        t0 = time.perf_counter()
        count = sc.retriage()
        elapsed = time.perf_counter() - t0
        print(f"triage --all: {count:,} mentions in {elapsed:.1f}s = {count / elapsed:,.0f}/s")
        # Memory is measured in a second pass: tracemalloc slows Python down severalfold.
        tracemalloc.start()
        sc.retriage()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"triage --all memory: peak Python heap {peak / 1e6:.1f} MB; process max RSS "
              f"{rss:.0f} MB (includes the store's memory-mapped pages)")  # fmt: skip
        sc.store.conn.execute("ANALYZE")
        for label, flt in (
            ("queue --limit 50", QueueFilter(limit=50)),
            ("queue --limit 50 --sort sla", QueueFilter(limit=50, sort="sla")),
            ("queue --limit 50 --intent complaint", QueueFilter(limit=50, intent="complaint")),
            ("queue --limit 50 --search refund", QueueFilter(limit=50, search="refund")),
        ):
            times = []
            for _ in range(20):
                t0 = time.perf_counter()
                rows = sc.queue(flt)
                times.append((time.perf_counter() - t0) * 1000)
            print(f"{label:40s}: median {statistics.median(times):6.1f} ms, "
                  f"max {max(times):6.1f} ms ({len(rows)} rows)")  # fmt: skip
        sc.shutdown()


if __name__ == "__main__":
    main()
