"""Knowledge-base queries: every SQL statement the ``kb`` feature runs lives here.

Functions take a :class:`~socialcare.store.Store` and use only parameterised
SQL, so a second backend re-implements this module and nothing else. The
schema (``kb_sources``, ``kb_articles``, the external-content ``kb_fts``
index and its triggers, ``outbox.kb_article_id``) is migration m002.
"""

from __future__ import annotations

import json
import math
from typing import Iterable, Sequence

from ..errors import NotFound
from .core import Row, Store, in_chunks
from .dialect import fts_phrases

__all__ = [
    "ArticleRow",
    "add_source",
    "get_source",
    "source_by_location",
    "list_sources",
    "delete_source",
    "record_fetch",
    "article_last_seen",
    "upsert_articles",
    "touch_articles",
    "delete_articles",
    "article_count",
    "get_article",
    "article_by_url",
    "list_articles",
    "article_urls",
    "rank",
    "snippets",
    "doc_frequencies",
    "sent_replies",
    "question_mentions",
    "set_outbox_article",
]

#: (url, title, body, tags) as the loaders produce them
ArticleRow = tuple[str, str, str, Sequence[str]]


# -- sources -----------------------------------------------------------------
def add_source(store: Store, location: str, kind: str) -> int:
    """Insert a source and return its id (the caller checked it is new)."""
    return store.insert("INSERT INTO kb_sources (location, kind) VALUES (?, ?)", [location, kind])


def get_source(store: Store, source_id: int) -> Row:
    """One source or NotFound."""
    rows = store.rows("SELECT * FROM kb_sources WHERE id = ?", [source_id])
    if not rows:
        raise NotFound(f"no knowledge-base source {source_id} (see `socialcare kb list`)")
    return rows[0]


def source_by_location(store: Store, location: str) -> Row | None:
    """The source added with exactly this location, or None."""
    rows = store.rows("SELECT * FROM kb_sources WHERE location = ?", [location])
    return rows[0] if rows else None


def list_sources(store: Store) -> list[Row]:
    """Every source with its article count, oldest first."""
    return store.rows(
        "SELECT s.*, (SELECT count(*) FROM kb_articles a WHERE a.source_id = s.id) AS articles "
        "FROM kb_sources s ORDER BY s.id"
    )


def delete_source(store: Store, source_id: int) -> int:
    """Delete a source and its articles; returns how many articles went."""
    with store.transaction():
        cur = store.conn.execute("DELETE FROM kb_articles WHERE source_id = ?", [source_id])
        store.conn.execute("DELETE FROM kb_sources WHERE id = ?", [source_id])
    return int(cur.rowcount)


def record_fetch(
    store: Store,
    source_id: int,
    *,
    fetched_at: str,
    error: str | None,
    etag: str | None = None,
    last_modified: str | None = None,
    keep_validators: bool = False,
) -> None:
    """Remember when a source was read, its HTTP validators and the last problem (or None)."""
    if keep_validators:
        store.conn.execute(
            "UPDATE kb_sources SET last_fetched = ?, last_error = ? WHERE id = ?",
            [fetched_at, error, source_id],
        )
        return
    store.conn.execute(
        "UPDATE kb_sources SET last_fetched = ?, last_error = ?, etag = ?, last_modified = ? "
        "WHERE id = ?",
        [fetched_at, error, etag, last_modified, source_id],
    )


# -- articles ----------------------------------------------------------------
def article_last_seen(store: Store, source_id: int) -> dict[str, str]:
    """URL -> last_seen of a source's articles (to skip pages a sitemap says are unchanged)."""
    return {
        r[0]: r[1]
        for r in store.conn.execute(
            "SELECT url, last_seen FROM kb_articles WHERE source_id = ?", [source_id]
        )
    }


def article_contents(store: Store, source_id: int) -> dict[str, tuple[str, str, str]]:
    """url -> (title, body, tags JSON) of a source's articles: what a refresh compares against."""
    return {
        str(url): (str(title or ""), str(body or ""), str(tags or "[]"))
        for url, title, body, tags in store.conn.execute(
            "SELECT url, title, body, tags FROM kb_articles WHERE source_id = ?", [source_id]
        )
    }


def upsert_articles(
    store: Store, source_id: int, articles: Iterable[ArticleRow], seen_at: str
) -> None:
    """Insert or refresh articles by URL (a URL found by a newer source moves to it)."""
    store.conn.executemany(
        "INSERT INTO kb_articles (source_id, url, title, body, tags, last_seen) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET "
        "source_id = excluded.source_id, title = excluded.title, body = excluded.body, "
        "tags = excluded.tags, last_seen = excluded.last_seen",
        [
            (source_id, url, title, body, json.dumps(list(tags), ensure_ascii=False), seen_at)
            for url, title, body, tags in articles
        ],
    )


def touch_articles(store: Store, source_id: int, urls: Iterable[str], seen_at: str) -> None:
    """Mark articles as seen without re-reading them (their page is unchanged)."""
    store.conn.executemany(
        "UPDATE kb_articles SET last_seen = ? WHERE source_id = ? AND url = ?",
        [(seen_at, source_id, url) for url in urls],
    )


def delete_articles(store: Store, source_id: int, urls: Sequence[str]) -> int:
    """Delete these articles of a source; returns how many went."""
    gone = 0
    for chunk in in_chunks(urls):
        marks = ", ".join("?" for _ in chunk)
        cur = store.conn.execute(
            f"DELETE FROM kb_articles WHERE source_id = ? AND url IN ({marks})",
            [source_id, *chunk],
        )
        gone += cur.rowcount
    return gone


def article_count(store: Store, source_id: int | None = None) -> int:
    """Articles in the knowledge base (or in one source)."""
    if source_id is None:
        row = store.conn.execute("SELECT count(*) FROM kb_articles").fetchone()
    else:
        row = store.conn.execute(
            "SELECT count(*) FROM kb_articles WHERE source_id = ?", [source_id]
        ).fetchone()
    return int(row[0])


def _decode(row: Row) -> Row:
    row["tags"] = json.loads(row.get("tags") or "[]")
    return row


def get_article(store: Store, article_id: int) -> Row:
    """One article (tags decoded, with its source's location) or NotFound."""
    rows = store.rows(
        "SELECT a.*, s.location AS source_location, s.kind AS source_kind FROM kb_articles a "
        "LEFT JOIN kb_sources s ON s.id = a.source_id WHERE a.id = ?",
        [article_id],
    )
    if not rows:
        raise NotFound(
            f"no knowledge-base article {article_id} (see `socialcare kb list --articles`)"
        )
    return _decode(rows[0])


def article_by_url(store: Store, url: str) -> Row | None:
    """The article with exactly this URL, or None."""
    rows = store.rows("SELECT id FROM kb_articles WHERE url = ?", [url])
    return get_article(store, int(rows[0]["id"])) if rows else None


def list_articles(store: Store, *, source_id: int | None = None, limit: int = 100) -> list[Row]:
    """Articles (without bodies) in id order, optionally of one source."""
    where, params = "", []
    if source_id is not None:
        where, params = "WHERE source_id = ?", [source_id]
    rows = store.rows(
        f"SELECT id, source_id, url, title, tags, last_seen FROM kb_articles {where} "
        "ORDER BY id LIMIT ?",
        [*params, limit],
    )
    return [_decode(r) for r in rows]


def article_urls(store: Store) -> list[Row]:
    """id, title and url of every article (the deflection report matches reply text to them)."""
    return store.rows("SELECT id, title, url FROM kb_articles ORDER BY id")


# -- search --------------------------------------------------------------------
#: FTS5's BM25 constants, which the PostgreSQL ranking reproduces
_K1 = 1.2
_B = 0.75

Weights = tuple[float, float, float]


class _Fts5Search:
    """SQLite: the ``kb_fts`` FTS5 table does ranking, snippets and counts itself."""

    def rank(self, store: Store, match: str, weights: Weights, limit: int) -> list[Row]:
        return store.rows(
            "SELECT a.id, a.title, a.url, -r.score AS bm25 FROM ("
            "  SELECT rowid, bm25(kb_fts, ?, ?, ?) AS score FROM kb_fts WHERE kb_fts MATCH ?"
            "  ORDER BY score LIMIT ?"
            ") r JOIN kb_articles a ON a.id = r.rowid ORDER BY r.score",
            [*weights, match, limit],
        )

    def snippets(
        self, store: Store, match: str, ids: Sequence[int], start: str, end: str, tokens: int
    ) -> dict[int, str]:
        marks = ", ".join("?" for _ in ids)
        cur = store.conn.execute(
            f"SELECT rowid, snippet(kb_fts, 1, ?, ?, '…', ?) FROM kb_fts "
            f"WHERE kb_fts MATCH ? AND rowid IN ({marks})",
            [start, end, tokens, match, *ids],
        )
        return {int(r[0]): str(r[1] or "") for r in cur}

    def matching(self, store: Store, phrase: str) -> int:
        return int(
            store.conn.execute(
                "SELECT count(*) FROM kb_fts WHERE kb_fts MATCH ?", [phrase]
            ).fetchone()[0]
        )


class _TsvectorSearch:
    """PostgreSQL: the GIN-indexed ``search`` tsvector, with FTS5's BM25 reproduced in SQL."""

    def _lexemes(self, store: Store, match: str) -> list[str]:
        """The English lexemes of an FTS5 expression's phrases (stopwords drop out)."""
        words = fts_phrases(match)
        if not words:
            return []
        row = store.conn.execute(
            "SELECT array_agg(DISTINCT u.lexeme) FROM unnest(CAST(? AS text[])) AS w(word) "
            "CROSS JOIN LATERAL unnest(to_tsvector('english', w.word)) AS u",
            [words],
        ).fetchone()
        # Lexemes of single words are plain word characters; anything else is left out
        # rather than spliced into tsquery syntax.
        return sorted(x for x in (row[0] or []) if x.replace("_", "").isalnum())

    @staticmethod
    def _any_lexeme(param: str) -> str:
        """A tsquery matching any of the lexemes bound to ``:param`` (a text array)."""
        return (
            "(SELECT to_tsquery('simple', string_agg(quote_literal(l), ' | ')) "
            f"FROM unnest(CAST(:{param} AS text[])) AS l)"
        )

    def rank(self, store: Store, match: str, weights: Weights, limit: int) -> list[Row]:
        """FTS5's bm25 (column weights, k1 = 1.2, b = 0.75) over the tsvector.

        Each article's tsvector marks title/body/tags positions A/B/C; a term's
        frequency is its weighted hit count, the document length ``search_len``,
        and IDF is FTS5's (floored at 1e-6), so scores are on the same scale as
        SQLite's and the suggestion threshold means the same on both backends.
        """
        lexemes = self._lexemes(store, match)
        if not lexemes:
            return []
        total = int(store.conn.execute("SELECT count(*) FROM kb_articles").fetchone()[0])
        idf = []
        for lex in lexemes:
            n = int(
                store.conn.execute(
                    "SELECT count(*) FROM kb_articles WHERE search @@ CAST(? AS tsquery)",
                    [f"'{lex}'"],
                ).fetchone()[0]
            )
            value = math.log((total - n + 0.5) / (n + 0.5)) if total else 0.0
            idf.append(value if value > 0 else 1e-6)
        return store.rows(
            "WITH q AS (SELECT * FROM unnest(CAST(:lex AS text[]), CAST(:idf AS float8[])) "
            "  AS q(lexeme, idf)), "
            "avgdl AS (SELECT greatest(avg(search_len), 1) AS v FROM kb_articles), "
            "hits AS (SELECT a.id, a.search_len AS dl, u.lexeme, "
            "  (SELECT sum(CASE w WHEN 'A' THEN :wa WHEN 'B' THEN :wb ELSE :wc END) "
            "   FROM unnest(u.weights) AS w) AS tf "
            f"  FROM kb_articles a CROSS JOIN LATERAL unnest(a.search) AS u "
            f"  WHERE a.search @@ {self._any_lexeme('lex')} "
            "  AND u.lexeme = ANY(CAST(:lex AS text[]))), "
            "scored AS (SELECT h.id, sum(q.idf * h.tf * (:k1 + 1) / "
            "  (h.tf + :k1 * (1 - :b + :b * h.dl / avgdl.v))) AS bm25 "
            "  FROM hits h JOIN q ON q.lexeme = h.lexeme CROSS JOIN avgdl GROUP BY h.id) "
            "SELECT a.id, a.title, a.url, s.bm25 FROM scored s JOIN kb_articles a ON a.id = s.id "
            "ORDER BY s.bm25 DESC, a.id LIMIT :limit",
            {
                "lex": lexemes,
                "idf": idf,
                "wa": weights[0],
                "wb": weights[1],
                "wc": weights[2],
                "k1": _K1,
                "b": _B,
                "limit": limit,
            },
        )

    def snippets(
        self, store: Store, match: str, ids: Sequence[int], start: str, end: str, tokens: int
    ) -> dict[int, str]:
        lexemes = self._lexemes(store, match)
        if not lexemes:
            return {}
        options = (
            f'StartSel="{start}", StopSel="{end}", MaxWords={max(tokens, 2)}, '
            f"MinWords={max(tokens // 2, 1)}, HighlightAll=false"
        )
        cur = store.conn.execute(
            f"SELECT id, ts_headline('english', body, {self._any_lexeme('lex')}, :opts) "
            f"FROM kb_articles WHERE id = ANY(CAST(:ids AS bigint[]))",
            {"lex": lexemes, "opts": options, "ids": list(ids)},
        )
        return {int(r[0]): str(r[1] or "") for r in cur}

    def matching(self, store: Store, phrase: str) -> int:
        words = " ".join(fts_phrases(phrase))
        return int(
            store.conn.execute(
                "SELECT count(*) FROM kb_articles WHERE search @@ phraseto_tsquery('english', ?)",
                [words],
            ).fetchone()[0]
        )


#: the article search of each backend, by dialect name
_SEARCH: dict[str, _Fts5Search | _TsvectorSearch] = {
    "sqlite": _Fts5Search(),
    "postgresql": _TsvectorSearch(),
}


def rank(store: Store, match: str, weights: Weights, limit: int) -> list[Row]:
    """Best articles for an FTS5 ``match`` expression: id, title, url and ``bm25`` (higher is better).

    FTS5's ``bm25()`` is negative (smaller is better); it is negated here so
    callers deal with one direction. Snippets are fetched separately for the
    few rows kept, because SQLite would otherwise build one for every match.
    """
    return _SEARCH[store.dialect.name].rank(store, match, weights, limit)


def snippets(
    store: Store, match: str, ids: Sequence[int], *, start: str, end: str, tokens: int
) -> dict[int, str]:
    """article id -> a snippet of its body around the terms of ``match``."""
    if not ids:
        return {}
    return _SEARCH[store.dialect.name].snippets(store, match, ids, start, end, tokens)


def doc_frequencies(store: Store, phrases: Sequence[str]) -> tuple[int, list[int]]:
    """(articles in the index, articles matching each FTS5 phrase): the inputs of BM25's IDF."""
    total = int(store.conn.execute("SELECT count(*) FROM kb_articles").fetchone()[0])
    search = _SEARCH[store.dialect.name]
    return total, [search.matching(store, phrase) for phrase in phrases]


# -- deflection ------------------------------------------------------------------
def sent_replies(store: Store, *, since: str | None = None) -> list[Row]:
    """Sent replies (id, text, kb_article_id), optionally only those sent since an ISO time."""
    where, params = "", []
    if since is not None:
        where, params = "AND sent_at >= ?", [since]
    return store.rows(
        "SELECT id, mention_id, text, kb_article_id FROM outbox "
        f"WHERE kind = 'reply' AND status = 'sent' {where} ORDER BY id",
        params,
    )


def question_mentions(store: Store, *, since: str | None = None, limit: int = 1000) -> list[Row]:
    """Customer questions still open or already answered, newest first."""
    where, params = "", []
    if since is not None:
        where, params = "AND created_at >= ?", [since]
    return store.rows(
        "SELECT id, text FROM mentions WHERE intent = 'question' AND is_own = 0 AND kind != 'dm' "
        f"AND (status = 'open' OR answered_at IS NOT NULL) {where} "
        "ORDER BY created_ts DESC LIMIT ?",
        [*params, limit],
    )


def set_outbox_article(store: Store, outbox_id: int, article_id: int | None) -> None:
    """Record which article a queued reply carries (for the deflection report)."""
    cur = store.conn.execute(
        "UPDATE outbox SET kb_article_id = ? WHERE id = ?", [article_id, outbox_id]
    )
    if cur.rowcount != 1:
        raise NotFound(f"no outbox item {outbox_id} (see `socialcare outbox`)")
