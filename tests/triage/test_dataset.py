"""The labelled mentions: well-formed, and the full static score still ranks them well."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from socialcare.triage import INTENTS, TriageSettings, score_row

pytestmark = pytest.mark.store_free

PATH = Path(__file__).parent.parent / "data" / "labelled_mentions.jsonl"
ROWS: list[dict[str, Any]] = [json.loads(line) for line in PATH.read_text("utf-8").splitlines()]
SETTINGS = TriageSettings.from_config({}, ["AcmeHelp"])


def auc(scored: list[tuple[float, bool]]) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    pos = [s for s, y in scored if y]
    neg = [s for s, y in scored if not y]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def test_rows_are_well_formed() -> None:
    assert len(ROWS) >= 220
    assert len({r["id"] for r in ROWS}) == len(ROWS)
    assert len({r["text"] for r in ROWS}) == len(ROWS)
    for r in ROWS:
        assert r["intent"] in INTENTS
        assert r["needs_answer"] is (r["intent"] in ("complaint", "question")), r["id"]
        assert r["split"] in ("dev", "holdout")
    assert set(Counter(r["intent"] for r in ROWS)) == set(INTENTS)


@pytest.mark.parametrize(("split", "floor"), [("dev", 0.90), ("holdout", 0.75)])
def test_static_score_ranks_mentions_needing_an_answer_first(split: str, floor: float) -> None:
    """Regression guard; bench/bench_triage.py prints the exact figures."""
    rows = [r for r in ROWS if r["split"] == split]
    scored = [(score_row(r, SETTINGS).static_score, bool(r["needs_answer"])) for r in rows]
    assert auc(scored) >= floor


def test_auc_helper() -> None:
    assert auc([(2, True), (1, False)]) == 1.0
    assert auc([(1, True), (2, False)]) == 0.0
    assert auc([(1, True), (1, False)]) == 0.5
