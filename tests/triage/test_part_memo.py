"""Remembered signal lines (``TriageSettings.part_memo``) are the lines a fresh scorer builds."""

from __future__ import annotations

import random

from socialcare.triage.score import TriageSettings, score_rows

TEXTS = [
    "@acmehelp charged twice, refund now!! outage",
    "@AcmeHelp how do I reset my router? no signal",
    "love it, thanks @acmehelp",
    "the app is down again",
    "win free money now, earn $500 a day",
    "refund",
    "",
]


def _exact(result: object) -> list[tuple[str, str, str, str, str]]:
    """A result's lines with their numbers as text (``-0.0``, types: all visible)."""
    return [tuple(map(repr, p)) for p in result.signals]  # type: ignore[attr-defined, misc]


def test_remembered_lines_are_built_fresh_lines() -> None:
    rnd = random.Random(7)
    rows = [
        {"text": t, "language": "en", "author_followers": rnd.randint(0, 10**6), "rating": r}
        for t in TEXTS
        for r in (None, 1, 5)
    ]
    counts = [rnd.randint(0, 4) for _ in rows]
    warm = TriageSettings(brand_handles=("acmehelp",))
    for _ in range(3):  # every line remembered, in another order each time
        order = list(range(len(rows)))
        rnd.shuffle(order)
        results = score_rows([rows[i] for i in order], warm, [counts[i] for i in order])
        for i, result in zip(order, results, strict=True):
            fresh = score_rows([rows[i]], TriageSettings(brand_handles=("acmehelp",)), [counts[i]])
            assert _exact(result) == _exact(fresh[0])
            assert result.static_score == fresh[0].static_score
    assert warm.part_memo  # the remembered path ran
