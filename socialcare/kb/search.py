"""Search the knowledge base and suggest articles for a mention.

Query building. Customer text is never passed to FTS5 as syntax: URLs and
@handles are dropped, the rest is split into words, stopwords (including
chat filler such as "hi", "pls", "lol") and bare numbers are removed, and
each remaining word is quoted and the words are OR-ed. A chatty tweet thus
still matches an article that shares only its two or three topic words, and
quotes, ``NEAR``, ``*``, ``-`` or parentheses in the text are just words.

Ranking is FTS5 ``bm25(kb_fts, title_weight, body_weight, tags_weight)``:
a hit in the title counts ``title_weight`` times a hit in the body.

Normalisation. Raw BM25 grows with the number and rarity of the query's
terms, so the same raw score means a strong match for a two-word question
and a weak one for a thirty-word rant: no single threshold fits both. We
divide by the best score the query could reach. FTS5 scores each term as
``idf * f * (k1 + 1) / (f + k1 * L)`` (k1 = 1.2; ``f`` the weighted hit
count, ``L`` the length factor), which approaches ``idf * (k1 + 1)`` and
never reaches it, so the query's ceiling is ``(k1 + 1) * sum(idf)`` over its
terms, with FTS5's own IDF formula and per-term document counts. The
normalised score is therefore in [0, 1) and means *how much of the query's
information the article covers, and how strongly*: one mention of a term in
the body of an average-length article earns about 0.45 of that term's
share, a title hit (weight 10) about 0.9. So an article mentioning every
query word once in its body scores about 0.45, and one whose title holds
words carrying half of the query's IDF weight about the same. The default
threshold, 0.25, asks for roughly half the query's weight in the body or a
quarter-plus of it in the title. Words common to over half the articles
have an IDF of almost 0 and change nothing (a brand name every article
mentions costs nothing). Words no article contains still count towards the ceiling (they
are what the customer asked about, and nothing covers them) but at
``unmatched_weight`` (default 0.5) of their IDF, so a typo or a stray word
does not sink an otherwise good match. The division is a constant per
query, so ranking is unchanged. ``bench/bench_kb.py`` prints how accuracy
and noise move with the threshold.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from typing import Any, Mapping

from ..errors import ConfigError, UsageError
from ..safety import clean_text
from ..store import Store
from ..store import kb as store_kb
from ..triage.words import STOPWORDS

__all__ = [
    "KbSettings",
    "Suggestion",
    "STOPWORDS",
    "MARK_START",
    "MARK_END",
    "query_terms",
    "match_expression",
    "build_match_query",
    "search",
    "suggest",
    "pick_suggestion",
    "plain_snippet",
]

# FTS5's fixed BM25 parameters (fts5_aux.c); the ceiling maths below depends on k1.
K1 = 1.2
#: snippet highlight markers: control characters, which ``clean_text`` strips
#: from every article at load time, so they can never be confused with content
MARK_START = "\x02"
MARK_END = "\x03"


# A scheme starts only where no scheme character precedes it, and is at most 32
# long: without both, a 40,000-letter word made every position try the whole
# rest of the word (quadratic; ``show`` took 37 s).
_URL = re.compile(r"(?<![a-z0-9+.-])(?:[a-z][a-z0-9+.-]{0,31}://|www\.)\S+", re.I)
#: query terms come from the start of a mention; no need to read a megabyte for 24 words
MAX_QUERY_CHARS = 20_000
_HANDLE = re.compile(r"(?<![\w@])@\w+")
# Letters and digits, as FTS5's unicode61 tokenizer sees words (apostrophes split them).
_WORD = re.compile(r"[^\W_]+")
MAX_TERMS = 24


@dataclass(frozen=True)
class KbSettings:
    """The ``[kb]`` config table (every key optional)."""

    threshold: float = 0.25
    max_suggestions: int = 3
    title_weight: float = 10.0
    body_weight: float = 1.0
    tags_weight: float = 5.0
    unmatched_weight: float = 0.5
    snippet_tokens: int = 16
    timeout: float = 15.0
    max_pages: int = 2000

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any] | None) -> KbSettings:
        """Validate a ``[kb]`` table: unknown keys and out-of-range values are ConfigErrors."""
        table = dict(table or {})
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(table) - set(known))
        if unknown:
            raise ConfigError(f"[kb]: unknown key {', '.join(unknown)} (known: {', '.join(known)})")
        values: dict[str, Any] = {}
        for name, value in table.items():
            want_int = known[name].type in ("int", int)
            ok = isinstance(value, int) if want_int else isinstance(value, (int, float))
            if isinstance(value, bool) or not ok:
                kind = "an integer" if want_int else "a number"
                raise ConfigError(f"[kb] {name} must be {kind}, got {value!r}")
            values[name] = value if want_int else float(value)
        out = cls(**values)
        if not 0.0 <= out.threshold <= 1.0:
            raise ConfigError(f"[kb] threshold must be between 0 and 1, got {out.threshold}")
        if not 0.0 <= out.unmatched_weight <= 1.0:
            raise ConfigError(
                f"[kb] unmatched_weight must be between 0 and 1, got {out.unmatched_weight}"
            )
        for name in ("max_suggestions", "snippet_tokens", "max_pages"):
            if getattr(out, name) < 1:
                raise ConfigError(f"[kb] {name} must be at least 1")
        for name in ("title_weight", "body_weight", "tags_weight", "timeout"):
            if getattr(out, name) <= 0:
                raise ConfigError(f"[kb] {name} must be greater than 0")
        return out

    @property
    def weights(self) -> tuple[float, float, float]:
        """(title, body, tags) column weights for ``bm25()``."""
        return (self.title_weight, self.body_weight, self.tags_weight)


@dataclass(frozen=True)
class Suggestion:
    """An article proposed for a text, with its normalised score in [0, 1).

    ``snippet`` is body text around the matched words, which are wrapped in
    :data:`MARK_START` / :data:`MARK_END` (use :func:`plain_snippet` to drop them).
    """

    article_id: int
    title: str
    url: str
    score: float
    snippet: str
    bm25: float


def query_terms(text: str, max_terms: int = MAX_TERMS) -> list[str]:
    """The words of ``text`` worth searching for, lower-case, in order, without repeats."""
    text = _HANDLE.sub(" ", _URL.sub(" ", clean_text(text[:MAX_QUERY_CHARS])))
    terms: list[str] = []
    for word in _WORD.findall(text.lower()):
        if len(word) < 2 or word.isdigit() or word in STOPWORDS or word in terms:
            continue
        terms.append(word)
        if len(terms) >= max_terms:
            break
    return terms


def _phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def match_expression(terms: list[str]) -> str:
    """An FTS5 MATCH string: each term quoted (so it is never syntax), OR-ed together."""
    return " OR ".join(_phrase(t) for t in terms)


def build_match_query(text: str) -> str | None:
    """A safe FTS5 query for user text, or None when nothing searchable is left."""
    terms = query_terms(text)
    return match_expression(terms) if terms else None


def _idf(total: int, hits: int) -> float:
    """FTS5's IDF (floored at 1e-6 like FTS5 does for terms in over half the articles)."""
    idf = math.log((total - hits + 0.5) / (hits + 0.5)) if total else 0.0
    return idf if idf > 0 else 1e-6


def _ceiling(store: Store, terms: list[str], unmatched_weight: float) -> float:
    """The best raw BM25 this query could reach in this index (see the module docstring)."""
    total, hits = store_kb.doc_frequencies(store, [_phrase(t) for t in terms])
    weight = 0.0
    for n in hits:
        idf = _idf(total, n)
        weight += idf if n else unmatched_weight * idf
    return (K1 + 1.0) * weight


def _settings(settings: KbSettings | Mapping[str, Any] | None) -> KbSettings:
    if isinstance(settings, KbSettings):
        return settings
    return KbSettings.from_mapping(settings)


def search(
    store: Store,
    text: str,
    settings: KbSettings | Mapping[str, Any] | None = None,
    *,
    limit: int = 10,
) -> list[Suggestion]:
    """The best ``limit`` articles for ``text`` by BM25, each with its normalised score.

    No threshold is applied: this is what ``kb search`` shows.
    """
    cfg = _settings(settings)
    terms = query_terms(text)
    if not terms or limit < 1:
        return []
    match = match_expression(terms)
    rows = store_kb.rank(store, match, cfg.weights, limit)
    if not rows:
        return []
    ceiling = _ceiling(store, terms, cfg.unmatched_weight)
    snips = store_kb.snippets(
        store,
        match,
        [int(r["id"]) for r in rows],
        start=MARK_START,
        end=MARK_END,
        tokens=cfg.snippet_tokens,
    )
    return [
        Suggestion(
            article_id=int(r["id"]),
            title=str(r["title"]),
            url=str(r["url"]),
            score=min(float(r["bm25"]) / ceiling, 1.0) if ceiling > 0 else 0.0,
            snippet=snips.get(int(r["id"]), ""),
            bm25=float(r["bm25"]),
        )
        for r in rows
    ]


def suggest(
    store: Store, text: str, settings: KbSettings | Mapping[str, Any] | None = None
) -> list[Suggestion]:
    """Up to ``max_suggestions`` articles whose normalised score reaches ``threshold``.

    An empty list means no article matches well enough: show that, rather
    than the least bad article.
    """
    cfg = _settings(settings)
    found = search(store, text, cfg, limit=cfg.max_suggestions)
    return [s for s in found if s.score >= cfg.threshold]


def pick_suggestion(
    store: Store, text: str, n: int, settings: KbSettings | Mapping[str, Any] | None = None
) -> Suggestion:
    """The ``n``-th (1-based) suggestion for ``text``, for ``reply --kb N``; UsageError if none."""
    found = suggest(store, text, settings)
    if not found:
        raise UsageError("--kb: no article matches well enough (see `socialcare kb search`)")
    if not 1 <= n <= len(found):
        raise UsageError(f"--kb {n}: there are only {len(found)} suggestions (use 1-{len(found)})")
    return found[n - 1]


def plain_snippet(snippet: str) -> str:
    """A snippet without its highlight markers, on one line."""
    return " ".join(snippet.replace(MARK_START, "").replace(MARK_END, "").split())
