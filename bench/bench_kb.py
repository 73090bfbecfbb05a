"""Benchmark: knowledge-base suggestions on a labelled Acme help centre.

Usage: python bench/bench_kb.py [--articles N] [--threshold T] [--title-weight W]
                                 [--tags-weight W] [--unmatched-weight W]

Data (bench/kb_data/): 103 help-centre articles for a fictional telecom/ISP
("Acme") as Markdown with front matter, and questions.jsonl: 70 customer
tweets, each labelled with the article that answers it, plus 16 off-topic
tweets (label null) that should get no suggestion at all.

Prints, on the real articles:
  * ranking accuracy (top-1/top-3 of `search`, no threshold) and suggestion
    accuracy (top-1/top-3 of `suggest`: threshold and max applied, so an
    abstention counts as a miss), overall and for two halves of the questions
    (odd ids were used to tune the defaults; even ids were held out);
  * how often an off-topic tweet gets a suggestion anyway;
  * a threshold sweep, to show what the normalised score's scale means;
then latency: ms per `suggest` on N articles (default 10,000): the base
articles plus variants (product-line titles, shuffled and thinned sentences,
sentences borrowed from other articles) in a temporary on-disk store.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from socialcare.kb import KbSettings, add_sources, search, suggest  # noqa: E402
from socialcare.kb.loaders import markdown_to_article  # noqa: E402
from socialcare.store import Store, open_store  # noqa: E402
from socialcare.store import kb as store_kb  # noqa: E402

DATA = Path(__file__).resolve().parent / "kb_data"
PREFIXES = (
    "Acme Business", "Acme Prepay", "Acme Family", "Acme Fibre 900", "Acme Essentials",
    "Acme Student", "Acme SIM Only", "Acme Flex", "Acme TV", "Acme Home Phone",
    "Scotland", "Wales", "Northern Ireland", "Archived 2023", "Acme Basics", "Legacy plans",
)  # fmt: skip


def load_questions() -> list[dict[str, str | None]]:
    with (DATA / "questions.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def slug_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1].split("--", 1)[0]


def evaluate(
    store: Store, questions: list[dict[str, str | None]], cfg: KbSettings
) -> dict[str, float]:
    """Accuracy figures for one store and settings (labels matched by URL slug)."""
    out: dict[str, list[bool]] = {
        k: [] for k in ("rank1", "rank3", "sugg1", "sugg3", "abstain", "dev3", "held3", "off")
    }
    for q in questions:
        label = q["article"]
        if label is None:
            out["off"].append(bool(suggest(store, str(q["text"]), cfg)))
            continue
        ranked = [slug_of(s.url) for s in search(store, str(q["text"]), cfg, limit=3)]
        sugg = [slug_of(s.url) for s in suggest(store, str(q["text"]), cfg)]
        out["rank1"].append(ranked[:1] == [label])
        out["rank3"].append(label in ranked)
        out["sugg1"].append(sugg[:1] == [label])
        out["sugg3"].append(label in sugg)
        out["abstain"].append(not sugg)
        half = "dev3" if int(str(q["id"])[1:]) % 2 else "held3"
        out[half].append(label in sugg)
    return {k: (sum(v) / len(v) if v else 0.0) for k, v in out.items()} | {
        "n": float(len(out["rank1"])),
        "n_off": float(len(out["off"])),
    }


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", text) if len(s.split()) > 3]


def build_large(path: Path, n: int, seed: int = 7) -> tuple[Store, float]:
    """A store with the base articles plus variants up to ``n`` articles; returns (store, seconds)."""
    rnd = random.Random(seed)
    base = [
        markdown_to_article(p.read_text(encoding="utf-8"), p.resolve().as_uri())
        for p in sorted((DATA / "articles").glob("*.md"))
    ]
    pool = [s for a in base for s in sentences(a.body)]
    store = open_store(path)
    started = time.perf_counter()
    rows: list[tuple[str, str, str, list[str]]] = [
        (a.url, a.title, a.body, list(a.tags)) for a in base
    ]
    i = 0
    while len(rows) < n:
        a = base[i % len(base)]
        i += 1
        prefix = rnd.choice(PREFIXES)
        own = sentences(a.body)
        rnd.shuffle(own)
        kept = own[: max(2, int(len(own) * rnd.uniform(0.5, 0.9)))]
        kept += rnd.sample(pool, rnd.randint(2, 5))
        rnd.shuffle(kept)
        rows.append(
            (
                f"{a.url}--v{i}",
                f"{prefix}: {a.title}",
                " ".join(kept),
                [*a.tags, prefix.split()[-1].lower()],
            )
        )
    with store.transaction():
        sid = store_kb.add_source(store, "bench://variants", "folder")
        store_kb.upsert_articles(store, sid, rows, "2026-01-01T00:00:00Z")
    return store, time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--articles", type=int, default=10_000)
    defaults = KbSettings()
    ap.add_argument("--threshold", type=float, default=defaults.threshold)
    ap.add_argument("--title-weight", type=float, default=defaults.title_weight)
    ap.add_argument("--tags-weight", type=float, default=defaults.tags_weight)
    ap.add_argument("--unmatched-weight", type=float, default=defaults.unmatched_weight)
    args = ap.parse_args()
    cfg = replace(
        defaults,
        threshold=args.threshold,
        title_weight=args.title_weight,
        tags_weight=args.tags_weight,
        unmatched_weight=args.unmatched_weight,
    )
    questions = load_questions()
    print(
        f"settings: threshold={cfg.threshold} max={cfg.max_suggestions} weights(title, body, tags)="
        f"{cfg.weights} unmatched_weight={cfg.unmatched_weight}"
    )

    with tempfile.TemporaryDirectory() as tmp:
        small = open_store(Path(tmp) / "kb.db")
        t0 = time.perf_counter()
        (res,) = add_sources(small, [str(DATA / "articles")], cfg)
        print(f"indexed {res.total} articles from Markdown in {time.perf_counter() - t0:.2f}s")
        m = evaluate(small, questions, cfg)
        print(f"\n{int(m['n'])} customer questions, {int(m['n_off'])} off-topic tweets")
        print(
            f"  ranking (search, no threshold):   top-1 {m['rank1']:.0%}   top-3 {m['rank3']:.0%}"
        )
        print(
            f"  suggestions (threshold, max {cfg.max_suggestions}): top-1 {m['sugg1']:.0%}   "
            f"top-3 {m['sugg3']:.0%}   (no suggestion for {m['abstain']:.0%})"
        )
        print(
            f"    top-3 on odd ids (tuning half) {m['dev3']:.0%}, even ids (held out) {m['held3']:.0%}"
        )
        print(f"  off-topic tweets given a suggestion: {m['off']:.0%}")
        print("\n  threshold  top-1  top-3  no-suggestion  off-topic-suggested")
        for t in (0.0, 0.1, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6):
            s = evaluate(small, questions, replace(cfg, threshold=t))
            print(
                f"  {t:>9.2f}  {s['sugg1']:>5.0%}  {s['sugg3']:>5.0%}  {s['abstain']:>13.0%}  "
                f"{s['off']:>19.0%}"
            )
        small.close()

        big, build_s = build_large(Path(tmp) / "big.db", args.articles)
        total = store_kb.article_count(big)
        print(f"\n{total} articles (base + variants) inserted and FTS-indexed in {build_s:.1f}s")
        texts = [str(q["text"]) for q in questions]
        for text in texts[:5]:
            suggest(big, text, cfg)  # warm the page cache
        times: list[float] = []
        for _ in range(3):
            for text in texts:
                t = time.perf_counter()
                suggest(big, text, cfg)
                times.append((time.perf_counter() - t) * 1000)
        times.sort()
        print(
            f"  suggest(): {statistics.mean(times):.1f} ms mean, {times[len(times) // 2]:.1f} p50, "
            f"{times[int(len(times) * 0.95)]:.1f} p95, {times[-1]:.1f} max over {len(times)} calls"
        )
        mb = evaluate(big, questions, cfg)
        print(
            f"  accuracy at {total} (a variant of the right article counts): "
            f"suggestion top-1 {mb['sugg1']:.0%}, top-3 {mb['sugg3']:.0%}; "
            f"off-topic suggested {mb['off']:.0%}"
        )
        big.close()


if __name__ == "__main__":
    main()
