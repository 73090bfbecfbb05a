"""The knowledge base: index help-centre articles, search them, suggest them, measure deflection.

Sources are files, folders, web pages, sitemaps and RSS/Atom feeds
(:mod:`.loaders`, :mod:`.index`); search and suggestions are SQLite FTS5 with
BM25, normalised so one threshold works for every query (:mod:`.search`);
the deflection report is in :mod:`.report`. SQL lives in
:mod:`socialcare.store.kb`.
"""

from __future__ import annotations

from .index import SourceResult, add_sources, refresh_sources, remove_source, resolve_source
from .loaders import Article, LoadResult
from .report import ArticleUse, DeflectionReport, UnansweredQuestion, deflection_report
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
