"""No quadratic work on stranger text: every regex path stays linear on 1 MB inputs.

A 40,000-letter word once took ``show`` 37 s (the KB query's URL pattern tried
the rest of the word at every position), and ``"<a<a<a..."`` made the HTML
parser rescan on every ``<``. Each function that reads mention text runs on a
short input and on one 50 times longer; linear work takes ~50 times as long,
quadratic ~2,500 times. The bound (200 times, plus a second for a busy machine)
is a ratio measured in the same run, never a fixed speed.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import pytest

from socialcare.kb.search import query_terms
from socialcare.reports.metrics import tokenize
from socialcare.safety import clean_text, csv_safe, html_to_text, one_line
from socialcare.sources.tweet_length import weighted_length
from socialcare.triage import TriageSettings, score_row

pytestmark = pytest.mark.store_free

_SETTINGS = TriageSettings.from_config({}, ("acmehelp",))


def _score(text: str) -> Any:
    row = {
        "id": "x:1", "source": "demo", "text": text, "author_handle": "a",
        "author_followers": 1, "created_ts": 0.0, "created_at": "2026-01-01T00:00:00Z",
        "language": None, "kind": "post", "is_own": 0,
    }  # fmt: skip
    return score_row(row, _SETTINGS)


FUNCTIONS: dict[str, Callable[[str], Any]] = {
    "clean_text": clean_text,
    "one_line": one_line,
    "csv_safe": csv_safe,
    "html_to_text": html_to_text,
    "kb query_terms": query_terms,
    "report tokenize": tokenize,
    "tweet weighted_length": weighted_length,
    "triage score_row": _score,
}
#: the shapes that made the patterns backtrack: one long word, separators, tag and URL starts
SHAPES: dict[str, str] = {
    "word": "a",
    "dots": "a.",
    "www": "www",
    "scheme": "a:/",
    "tags": "<a",
    "handles": "@a",
    "questions": "what?",
}
SHORT, LONG = 20_000, 1_000_000


def _seconds(fn: Callable[[str], Any], text: str) -> float:
    start = time.perf_counter()
    fn(text)
    return time.perf_counter() - start


@pytest.mark.parametrize("name", FUNCTIONS)
def test_stranger_text_costs_linear_time(name: str) -> None:
    fn = FUNCTIONS[name]
    for shape, unit in SHAPES.items():
        short = unit * (SHORT // len(unit))
        long = unit * (LONG // len(unit))
        base = min(_seconds(fn, short) for _ in range(3))
        took = _seconds(fn, long)
        assert took <= 200 * base + 1.0, f"{name} on {LONG} chars of {shape!r}: {took:.2f}s"
