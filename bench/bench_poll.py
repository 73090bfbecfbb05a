"""Benchmark: `poll --source demo` on a large generated JSONL file (mentions stored per second).

Usage: python bench/bench_poll.py [N]   (default 100000)

Prints rows/s for the storage path alone (no triage) and for the full poll
(triage in the same transaction, as `socialcare poll` does), and peak memory.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from socialcare.app import Socialcare  # noqa: E402
from socialcare.config import Config  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_triage import generate as realistic_mentions  # noqa: E402


def generate(path: Path, n: int) -> None:
    """A demo JSONL file of n realistic care mentions (the triage benchmark's generator)."""
    rnd = random.Random(42)
    with path.open("w", encoding="utf-8") as fh:
        for i, m in enumerate(realistic_mentions(n)):
            fh.write(json.dumps({
                "id": str(i), "author_id": f"u{rnd.randint(0, n // 5)}", "author": f"user{i % 9973}",
                "name": "Generated User", "followers": m["author_followers"], "text": m["text"],
                "lang": m["language"], "created_at": f"2026-11-{1 + i % 20:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
            }) + "\n")  # fmt: skip


def run(n: int, triage: bool, *, traced: bool = False) -> tuple[float, float]:
    """Poll n generated mentions into a fresh store; returns (mentions/s, peak heap MB).

    tracemalloc slows Python severalfold, so rates come from untraced runs and
    the peak heap from a separate traced one.
    """
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "demo.jsonl"
        generate(data, n)
        cfg = Config(
            database=str(Path(tmp) / "b.db"),
            agent="bench",
            brand_handles=("acmehelp",),
            sources={"demo": {"path": str(data), "page_size": 1000}},
        )
        sc = Socialcare(cfg)
        if traced:
            tracemalloc.start()
        started = time.perf_counter()
        if triage:
            summary = sc.poll(["demo"])
        else:
            from socialcare.poll import poll

            summary = poll(cfg, sc.store, ["demo"])
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
        tracemalloc.stop()
        assert summary.new == n, summary
        assert sc.store.mention_count() == n
        sc.shutdown()
        return n / elapsed, peak / 1e6


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    for triage, label in ((False, "store only "), (True, "with triage")):
        rate, _ = run(n, triage)
        _, peak = run(min(n, 20_000), triage, traced=True)
        print(f"poll demo, {label}: {n:,} mentions, {rate:,.0f} mentions/s; "
              f"peak Python heap {peak:.1f} MB (traced run of {min(n, 20_000):,})")  # fmt: skip


if __name__ == "__main__":
    main()
