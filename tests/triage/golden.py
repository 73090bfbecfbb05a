"""Golden triage results: every field of every result, as the unoptimised scorer gave them.

``tests/data/triage_golden.json.gz`` was written by the scorer *before* the speed work
(``python -m tests.triage.golden`` writes it again; do that only on purpose, when a
score is meant to change). test_golden.py scores the same rows with the same settings
and requires identical results: optimisations may not change a score, an intent, a
signal, an explanation or a ranking.

Rows: the two hand-labelled sets, every string literal of the triage tests (with
varied languages, queries, ratings, raw reply targets and repeat counts), the
multilingual set, and bench/bench_triage.py's generated mentions. Settings: the
static default, the travel pack, all packs with rules and custom weights, and a
trained model (stored in the file as its bytes, so training is not re-run), with and
without rules.
"""

from __future__ import annotations

import ast
import gzip
import json
import sys
from pathlib import Path
from typing import Any

from socialcare.triage import LearnedModel, TriageResult, TriageSettings

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
GOLDEN = DATA / "triage_golden.json.gz"
T0 = 1_800_000_000.0
BRANDS = ["AcmeHelp", "SkyWayHelp", "SkyWay"]
_FIXTURE_FILES = [
    *sorted((ROOT / "tests" / "triage").glob("test_*.py")),
    ROOT / "tests" / "test_scoring.py",
    ROOT / "tests" / "test_triage_model.py",
]
_LANGUAGES = ["en", None, "und", "en-GB", None, "es", "en"]
_QUERIES = ["acme", "mentions", "@AcmeHelp OR acme", "skyway", "inbox:mentions"]


def _load(name: str) -> list[dict[str, Any]]:
    lines = (DATA / name).read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _fixture_texts() -> list[str]:
    texts: dict[str, None] = {}
    for path in _FIXTURE_FILES:
        if path.name == "test_golden.py":
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                value = node.value
                if 2 <= len(value) <= 600 and not value.startswith(("socialcare", "tests/")):
                    texts[value] = None
    return list(texts)


def _variant(text: str, i: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "text": text,
        "language": _LANGUAGES[i % len(_LANGUAGES)],
        "author_followers": [0, 12, 850, 40_000, 2_000_000, None][i % 6],
        "query": _QUERIES[i % len(_QUERIES)],
        "raw": "{}",
        "created_ts": T0 + i,
    }
    if i % 5 == 3:
        row["rating"] = i // 5 % 5 + 1
    if i % 11 == 4:
        row["raw"] = json.dumps({"in_reply_to_screen_name": "AcmeHelp"})
    if i % 13 == 6:
        row.pop("created_ts")
        row["created_at"] = "2026-11-30T10:00:00+00:00"
    return row


def rows() -> list[dict[str, Any]]:
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_triage import generate  # noqa: PLC0415

    keep = ("text", "language", "author_followers", "query")
    out = [{k: r.get(k) for k in keep} for r in _load("labelled_mentions.jsonl")]
    out += [{k: r.get(k) for k in keep} for r in _load("labelled_travel.jsonl")]
    out += [_variant(t, i) for i, t in enumerate(_fixture_texts())]
    out += [_variant(r["text"], i + 3) for i, r in enumerate(_load("short_multilingual.jsonl"))]
    out += [{"text": "", "language": None}, {"text": None}, {"text": "   "}]
    out += generate(600, seed=19)
    return out


def repeat_counts(n: int) -> list[int]:
    return [(0, 0, 1, 0, 2, 3, 0, 5)[i % 8] for i in range(n)]


_RULES = [
    {"tag": "legal", "weight": 2.5, "keywords": ["lawyer*", "small claims", "trading standards"]},
    {"tag": "vip", "weight": 1.0, "pattern": r"\b(?:gold|platinum) member\b"},
    {"tag": "refund", "weight": 0.5, "keywords": ["refund*", "money back", "10/10"]},
]
#: name -> the [triage] table, the brand handles, and whether the model is used
CONFIGS: dict[str, tuple[dict[str, Any], list[str], bool]] = {
    "static": ({}, ["AcmeHelp"], False),
    "travel": ({"domains": ["travel"]}, ["SkyWayHelp", "SkyWay"], False),
    "all_packs_rules": (
        {
            "domains": ["telecom", "travel", "retail", "banking", "saas", "utilities"],
            "brand_names": ["United", "Acme Corp"],
            "extra_urgency_words": ["escalat*", "complaint number", "10/10"],
            "rules": _RULES,
            "weights": {"sentiment": 2.0, "reach": 0.25, "praise": 0.5, "learned": 3.0},
            "sla": {"praise": "2d", "other": "none"},
        },
        BRANDS,
        False,
    ),
    "model": ({"domains": ["telecom", "travel"]}, BRANDS, True),
    "model_rules": (
        {"domains": ["telecom", "travel"], "rules": _RULES, "urgency_words": ["asap", "down"]},
        ["AcmeHelp"],
        True,
    ),
}


def settings(name: str, model: LearnedModel) -> TriageSettings:
    table, brands, with_model = CONFIGS[name]
    return TriageSettings.from_config(table, brands, model=model if with_model else None)


def as_json(result: TriageResult) -> dict[str, Any]:
    """Every field of a result, JSON-shaped (floats round-trip exactly through JSON)."""
    return {
        "signals": [list(p) for p in result.signals],
        "intent": result.intent,
        "sentiment": list(result.sentiment),
        "tags": list(result.tags),
        "static_score": result.static_score,
        "sla_due_ts": result.sla_due_ts,
        "repeat_count": result.repeat_count,
    }


def train_model() -> LearnedModel:
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_triage_eval import _examples, synthetic  # noqa: PLC0415

    from socialcare.triage import train  # noqa: PLC0415

    base = TriageSettings.from_config({"domains": ["telecom", "travel"]}, BRANDS)
    labelled = _load("labelled_mentions.jsonl") + _load("labelled_travel.jsonl")
    return train(_examples(labelled + synthetic(1500, seed=23), base))


def main() -> None:
    from socialcare.triage import score_rows  # noqa: PLC0415

    model = train_model()
    data = rows()
    counts = repeat_counts(len(data))
    results = {
        name: [as_json(r) for r in score_rows(data, settings(name, model), counts)]
        for name in CONFIGS
    }
    payload = {
        "model": model.to_bytes().decode("utf-8"),
        "rows": data,
        "repeat_counts": counts,
        "results": results,
    }
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    GOLDEN.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    print(f"{GOLDEN}: {len(data)} rows x {len(CONFIGS)} settings, {GOLDEN.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
