"""Speed work must not change any result: compare with the golden file of the old scorer.

See tests/triage/golden.py for what the file holds and how it was made.
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from typing import Any

import pytest

from socialcare.triage import LearnedModel, TriageSettings, explain, score_row, score_rows

from .golden import CONFIGS, GOLDEN, as_json, settings

pytestmark = pytest.mark.store_free


@lru_cache(maxsize=1)
def golden() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(gzip.decompress(GOLDEN.read_bytes()).decode("utf-8"))
    return data


@lru_cache(maxsize=1)
def model() -> LearnedModel:
    return LearnedModel.from_bytes(golden()["model"].encode("utf-8"))


def _settings(name: str) -> TriageSettings:
    return settings(name, model())


def _diff(name: str, got: list[dict[str, Any]]) -> list[str]:
    want = golden()["results"][name]
    rows = golden()["rows"]
    assert len(got) == len(want)
    return [
        f"{name} row {i} {rows[i].get('text')!r}: {key} {g[key]!r} != {w[key]!r}"
        for i, (g, w) in enumerate(zip(got, want, strict=True))
        for key in w
        if g[key] != w[key]
    ]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_score_rows_matches_golden(name: str) -> None:
    data = golden()
    results = score_rows(data["rows"], _settings(name), data["repeat_counts"])
    bad = _diff(name, [as_json(r) for r in results])
    assert not bad, "\n".join(bad[:20])


@pytest.mark.parametrize("name", list(CONFIGS))
def test_score_row_matches_golden(name: str) -> None:
    data = golden()
    s = _settings(name)
    got = [
        as_json(score_row(r, s, n))
        for r, n in zip(data["rows"], data["repeat_counts"], strict=True)
    ]
    bad = _diff(name, got)
    assert not bad, "\n".join(bad[:20])


def test_ranking_matches_golden() -> None:
    """The queue order of the static scores (ties by row) is the old one, for every setting."""
    data = golden()
    for name in CONFIGS:
        results = score_rows(data["rows"], _settings(name), data["repeat_counts"])
        want = [r["static_score"] for r in data["results"][name]]
        got = [r.static_score for r in results]
        order = sorted(range(len(got)), key=lambda i: (-got[i], i))
        assert order == sorted(range(len(want)), key=lambda i: (-want[i], i)), name


def test_explain_matches_golden() -> None:
    """explain() rebuilds the stored score line by line: no stale line, same parts."""
    data = golden()
    s = _settings("model_rules")
    for i, (row, n) in enumerate(zip(data["rows"], data["repeat_counts"], strict=True)):
        if i % 7:
            continue
        want = data["results"]["model_rules"][i]
        stored = {
            **row,
            "static_score": want["static_score"],
            "signals": json.dumps({"repeat_count": n}),
            "triaged_at": "x",
        }
        parts = explain(stored, s, now_ts=1_800_100_000.0)
        assert [list(p) for p in parts if p.name != "waiting"] == want["signals"], row


def test_remembered_sentiment_lines_keep_the_sign_of_zero() -> None:
    """-0.0 and 0.0 are one dict key, but their lines differ ("-0.00" vs "+0.00")."""
    from socialcare.triage import Sentiment
    from socialcare.triage.score import _sentiment_part

    neg = _sentiment_part(Sentiment(-0.0, 0.0, 1.0, 0.0, "en", "platform"), 1.5, "x", {}, "other")
    pos = _sentiment_part(Sentiment(0.0, 0.0, 1.0, 0.0, "en", "platform"), 1.5, "x", {}, "other")
    assert neg.detail == "compound -0.00 (en, platform)"
    assert pos.detail == "compound +0.00 (en, platform)"
