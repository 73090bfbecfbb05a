"""The knowledge base: index help-centre articles, search them, suggest them, measure deflection.

Sources are files, folders, web pages, sitemaps and RSS/Atom feeds
(:mod:`.loaders`, :mod:`.index`); search and suggestions are SQLite FTS5 with
BM25, normalised so one threshold works for every query (:mod:`.search`);
the deflection report is in :mod:`.report`. SQL lives in
:mod:`socialcare.store.kb`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# search is light and loaded at once: its function ``search`` must win over the submodule
# of the same name, which Python binds on the package when it is imported
from .search import (
    MARK_END,
    MARK_START,
    KbSettings,
    Suggestion,
    build_match_query,
    pick_suggestion,
    plain_snippet,
    query_terms,
    search,
    suggest,
)

if TYPE_CHECKING:
    from .index import SourceResult, add_sources, refresh_sources, remove_source, resolve_source
    from .loaders import Article, LoadResult
    from .report import ArticleUse, DeflectionReport, UnansweredQuestion, deflection_report

#: public name -> the submodule that defines it: loaded on first use (PEP 562), so `show`
#: (which only searches) never loads the page, sitemap and feed loaders
_EXPORTS = {
    **dict.fromkeys(
        ("SourceResult", "add_sources", "refresh_sources", "remove_source", "resolve_source"),
        "socialcare.kb.index",
    ),
    **dict.fromkeys(("Article", "LoadResult"), "socialcare.kb.loaders"),
    **dict.fromkeys(
        ("ArticleUse", "DeflectionReport", "UnansweredQuestion", "deflection_report"),
        "socialcare.kb.report",
    ),
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'socialcare.kb' has no attribute {name!r}")


__all__ = [
    "Article",
    "ArticleUse",
    "DeflectionReport",
    "KbSettings",
    "LoadResult",
    "MARK_END",
    "MARK_START",
    "SourceResult",
    "Suggestion",
    "UnansweredQuestion",
    "add_sources",
    "build_match_query",
    "deflection_report",
    "pick_suggestion",
    "plain_snippet",
    "query_terms",
    "refresh_sources",
    "remove_source",
    "resolve_source",
    "search",
    "suggest",
]
