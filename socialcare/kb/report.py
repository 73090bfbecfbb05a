"""Deflection: how often replies point customers to the knowledge base, and where it has gaps.

A sent reply *carries* an article when the agent attached one
(``outbox.kb_article_id``, set by ``reply --kb N``) or when its text contains
an article's URL (agents paste links too). URLs are compared without the
fragment, a trailing slash or trailing punctuation, and with and without the
query string, so ``https://help.acme.example/roaming/?utm=x).`` still counts.

The gap list runs :func:`~socialcare.kb.search.suggest` on customer
questions (intent ``question``, open or answered) and counts the words of
those with no suggestion: the topics customers ask about that no article
covers well enough.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit, urlunsplit

from ..store import Store
from ..store import kb as store_kb
from .search import KbSettings, query_terms, suggest

__all__ = ["ArticleUse", "UnansweredQuestion", "DeflectionReport", "deflection_report", "urls_in"]

_URL = re.compile(r"(?:https?|file)://[^\s<>\"']+", re.I)
_TRAILING = ".,;:!?)]}>'\"…"


@dataclass(frozen=True)
class ArticleUse:
    """How many sent replies carried one article (``title`` is empty if it was removed since)."""

    article_id: int
    title: str
    url: str
    replies: int


@dataclass(frozen=True)
class UnansweredQuestion:
    """A question no article matches well enough."""

    mention_id: str
    text: str


@dataclass(frozen=True)
class DeflectionReport:
    """Totals, per-article use, and the questions (and their words) without an article."""

    sent_replies: int
    replies_with_article: int
    by_article: list[ArticleUse]
    questions_checked: int
    unanswered: list[UnansweredQuestion]
    top_terms: list[tuple[str, int]]

    @property
    def deflection_rate(self) -> float:
        """Share of sent replies that carried an article (0 when nothing was sent)."""
        return self.replies_with_article / self.sent_replies if self.sent_replies else 0.0


def _norm(url: str, *, keep_query: bool = True) -> str:
    parts = urlsplit(url.rstrip(_TRAILING))
    path = parts.path.rstrip("/")
    query = parts.query if keep_query else ""
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, query, ""))


def urls_in(text: str) -> list[str]:
    """URLs written in a reply, trailing punctuation removed."""
    return [m.rstrip(_TRAILING) for m in _URL.findall(text or "")]


def deflection_report(
    store: Store,
    settings: KbSettings | Mapping[str, Any] | None = None,
    *,
    since: str | None = None,
    question_limit: int = 1000,
    top: int = 15,
) -> DeflectionReport:
    """Count sent replies carrying an article, per article, and list questions with no article.

    Args:
        since: UTC ISO time; only replies sent and questions created since then.
        question_limit: how many of the newest questions to check (each is one search).
        top: how many words to list for the unanswered questions.
    """
    cfg = settings if isinstance(settings, KbSettings) else KbSettings.from_mapping(settings)
    articles = store_kb.article_urls(store)
    by_url: dict[str, int] = {}
    for a in articles:
        by_url.setdefault(_norm(a["url"]), int(a["id"]))
        by_url.setdefault(_norm(a["url"], keep_query=False), int(a["id"]))
    info = {int(a["id"]): a for a in articles}

    replies = store_kb.sent_replies(store, since=since)
    per_article: Counter[int] = Counter()
    carried = 0
    for reply in replies:
        ids: set[int] = set()
        if reply["kb_article_id"] is not None:
            ids.add(int(reply["kb_article_id"]))
        for url in urls_in(reply["text"]):
            found = by_url.get(_norm(url)) or by_url.get(_norm(url, keep_query=False))
            if found is not None:
                ids.add(found)
        if ids:
            carried += 1
            per_article.update(ids)
    uses = [
        ArticleUse(
            article_id=aid,
            title=str(info[aid]["title"]) if aid in info else "",
            url=str(info[aid]["url"]) if aid in info else "",
            replies=n,
        )
        for aid, n in sorted(per_article.items(), key=lambda kv: (-kv[1], kv[0]))
    ]

    questions = store_kb.question_mentions(store, since=since, limit=question_limit)
    unanswered = [
        UnansweredQuestion(str(q["id"]), str(q["text"]))
        for q in questions
        if not suggest(store, str(q["text"]), cfg)
    ]
    words: Counter[str] = Counter()
    for q in unanswered:
        words.update(set(query_terms(q.text)))  # one vote per question, not per repetition
    return DeflectionReport(
        sent_replies=len(replies),
        replies_with_article=carried,
        by_article=uses,
        questions_checked=len(questions),
        unanswered=unanswered,
        top_terms=sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))[:top],
    )
