"""The few SQL fragments that differ between SQLite and PostgreSQL.

Every query in the store layer is written once; where the two databases
genuinely disagree (scalar ``min``/``max``, integer truncation, JSON access,
time conversion, string aggregation, full-text search, index hints) the query
asks its store's :class:`Dialect` for the fragment. Fragments take SQL
expressions (never values), so parameters stay bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Dialect", "SQLITE", "POSTGRESQL", "fts_phrases"]

_PHRASE = re.compile(r'"((?:[^"]|"")*)"')


def fts_phrases(match: str) -> list[str]:
    """The quoted phrases of an FTS5 expression built by socialcare (``"a" OR "b c"``)."""
    return [m.group(1).replace('""', '"') for m in _PHRASE.finditer(match)]


@dataclass(frozen=True)
class Dialect:
    """SQL fragments for one backend; ``name`` is ``sqlite`` or ``postgresql``."""

    name: str

    @property
    def is_pg(self) -> bool:
        """True for PostgreSQL."""
        return self.name == "postgresql"

    @property
    def begin(self) -> str:
        """Start a write transaction (SQLite takes the write lock at once)."""
        return "BEGIN" if self.is_pg else "BEGIN IMMEDIATE"

    def least(self, *exprs: str) -> str:
        """The smallest of several expressions."""
        return f"{'LEAST' if self.is_pg else 'min'}({', '.join(exprs)})"

    def greatest(self, *exprs: str) -> str:
        """The largest of several expressions."""
        return f"{'GREATEST' if self.is_pg else 'max'}({', '.join(exprs)})"

    def trunc_int(self, expr: str) -> str:
        """``expr`` truncated toward zero to an integer (PostgreSQL's CAST rounds)."""
        if self.is_pg:
            return f"CAST(trunc({expr}) AS BIGINT)"
        return f"CAST({expr} AS INTEGER)"

    def json_text(self, column: str, key: str) -> str:
        """A top-level key of a JSON text column, as text (``key`` is a constant)."""
        if not re.fullmatch(r"[a-z_]+", key):
            raise ValueError(f"bad JSON key {key!r}")
        if self.is_pg:
            return f"(CAST({column} AS jsonb) ->> '{key}')"
        return f"json_extract({column}, '$.{key}')"

    def iso_to_unix(self, expr: str) -> str:
        """Unix seconds (integer) of a stored UTC ISO text time."""
        if self.is_pg:
            return f"CAST(extract(epoch FROM CAST({expr} AS timestamptz)) AS BIGINT)"
        return f"CAST(strftime('%s', {expr}) AS INTEGER)"

    def unix_to_iso(self, expr: str) -> str:
        """The store's UTC ISO text (``2026-03-29T08:00:00Z``) of unix seconds."""
        if self.is_pg:
            return (
                f"to_char(to_timestamp({expr}) AT TIME ZONE 'UTC', "
                '\'YYYY-MM-DD"T"HH24:MI:SS"Z"\')'
            )
        return f"strftime('%Y-%m-%dT%H:%M:%SZ', {expr}, 'unixepoch')"

    def concat_distinct(self, expr: str) -> str:
        """Distinct values of ``expr`` in a group, comma-separated (order unspecified)."""
        if self.is_pg:
            return f"string_agg(DISTINCT {expr}, ',')"
        return f"group_concat(DISTINCT {expr})"

    def open_queue_hint(self) -> str:
        """Force the partial covering index for open-queue ranking (SQLite's planner needs it)."""
        return "" if self.is_pg else "INDEXED BY idx_mentions_open_queue"

    def open_by_author_hint(self) -> str:
        """Force the open-by-author partial index: without statistics SQLite's planner
        prefers the status index for ``author_key IN (a, b)``, reading every open mention."""
        return "" if self.is_pg else "INDEXED BY idx_mentions_author_open"

    def mention_search(self, alias: str, param: str) -> str:
        """Condition: mention ``alias`` matches the full-text query bound to ``:param``.

        SQLite uses the FTS5 table (``param`` holds a quoted-words FTS5 query);
        PostgreSQL the GIN-indexed ``search`` tsvector (``param`` holds plain
        words, every one required, stemmed like FTS5's porter tokenizer).
        """
        if self.is_pg:
            return f"{alias}.search @@ plainto_tsquery('english', :{param})"
        return (
            f"{alias}.rowid IN (SELECT rowid FROM mentions_fts WHERE mentions_fts MATCH :{param})"
        )

    def for_update(self) -> str:
        """Row-lock suffix for a SELECT inside a transaction (SQLite locks the whole file)."""
        return " FOR UPDATE" if self.is_pg else ""


SQLITE = Dialect("sqlite")
POSTGRESQL = Dialect("postgresql")
