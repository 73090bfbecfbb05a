"""``db copy``: move a whole store between backends (SQLite -> PostgreSQL and back).

Tables are read in keyset pages on their primary key, so memory stays flat
for millions of rows, and each page is written in one transaction with
``INSERT ... ON CONFLICT DO NOTHING``: running the copy again (after an
interruption, or to pick up rows added since) inserts only what is missing
and duplicates nothing. The source is read in one snapshot (a read-only
transaction), so rows written meanwhile come in whole on the next run, never
as a mention without its author. Ids are kept, so outbox items, events and customer
links still point at the same rows; PostgreSQL's id sequences are moved past
the copied ids at the end. Full-text indexes are rebuilt by the target's own
triggers. At the end every table's row count is compared: the target must
hold at least every row the source has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ..errors import IncompleteCopy, UsageError
from .core import Store

__all__ = ["COPY_TABLES", "TableCopy", "copy_store", "table_counts"]

#: (table, primary key) in dependency order: parents before the rows that refer to them
COPY_TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("customers", ("id",)),
    ("authors", ("id",)),
    ("mentions", ("id",)),
    ("reposts", ("id",)),
    ("cursors", ("source", "query")),
    ("source_health", ("source", "query")),
    ("gaps", ("id",)),
    ("ingest_usage", ("source", "query", "hour")),
    ("events", ("id",)),
    ("outbox", ("id",)),
    ("kb_sources", ("id",)),
    ("kb_articles", ("id",)),
    ("triage_models", ("id",)),
    ("incidents", ("id",)),
    ("incident_mentions", ("incident_id", "mention_id")),
    ("incident_sends", ("incident_id", "kind", "target")),
    ("team_agents", ("name",)),
    ("team_routes", ("mention_id",)),
    ("team_turns", ("team",)),
    ("team_notifications", ("key",)),
)
#: tables whose integer ids come from a sequence on PostgreSQL
_IDENTITY = (
    "customers", "events", "outbox", "gaps", "kb_sources", "kb_articles", "triage_models",
    "incidents",
)  # fmt: skip


@dataclass
class TableCopy:
    """What copying one table did."""

    table: str
    source_rows: int = 0
    inserted: int = 0
    already_there: int = 0
    target_rows: int = 0

    @property
    def complete(self) -> bool:
        """The target holds at least as many rows as the source."""
        return self.target_rows >= self.source_rows


def table_counts(store: Store) -> dict[str, int]:
    """Rows per copied table."""
    return {
        table: int(store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        for table, _ in COPY_TABLES
    }


def _columns(store: Store, table: str) -> list[str]:
    cur = store.conn.execute(f"SELECT * FROM {table} LIMIT 0")
    hidden = store.dialect.hidden_columns
    return [str(d[0]) for d in cur.description if str(d[0]) not in hidden]


def _pages(
    store: Store, table: str, key: tuple[str, ...], columns: list[str], batch: int
) -> Iterator[list[tuple[Any, ...]]]:
    """Rows of ``table`` in primary-key order, ``batch`` at a time (keyset paging)."""
    select = ", ".join(columns)
    order = ", ".join(key)
    positions = [columns.index(k) for k in key]
    last: tuple[Any, ...] | None = None
    while True:
        if last is None:
            sql, params = f"SELECT {select} FROM {table} ORDER BY {order} LIMIT ?", [batch]
        else:
            marks = ", ".join("?" for _ in key)
            cond = f"({order}) > ({marks})" if len(key) > 1 else f"{key[0]} > ?"
            sql = f"SELECT {select} FROM {table} WHERE {cond} ORDER BY {order} LIMIT ?"
            params = [*last, batch]
        rows = [tuple(r) for r in store.conn.execute(sql, params).fetchall()]
        if not rows:
            return
        yield rows
        last = tuple(rows[-1][i] for i in positions)
        if len(rows) < batch:
            return


def copy_store(
    source: Store,
    target: Store,
    *,
    batch: int = 2000,
    progress: Callable[[TableCopy], None] | None = None,
) -> list[TableCopy]:
    """Copy every table of ``source`` into ``target``; raise IncompleteCopy if counts fall short.

    Both stores must be migrated to the same schema version (open_store does
    that). ``progress`` is called after each page with the table's running totals.
    """
    if source.location == target.location and source.dialect == target.dialect:
        raise UsageError("db copy: the source and the target are the same store")
    if source.schema_version() != target.schema_version():
        raise UsageError(
            f"db copy: schema versions differ (source {source.schema_version()}, "
            f"target {target.schema_version()}); run `socialcare db upgrade` on both"
        )
    if batch < 1:
        raise UsageError("--batch-size must be at least 1")
    results: list[TableCopy] = []
    # One instant of the source throughout: a poll writing an author and its mention
    # while the copy is past ``authors`` would otherwise hand the target a mention
    # whose author it never got, which its foreign key refuses. A rerun copies the rest.
    source.conn.execute(source.dialect.read_snapshot)
    try:
        for table, key in COPY_TABLES:
            columns = _columns(source, table)
            wanted = set(_columns(target, table))
            missing = [c for c in columns if c not in wanted]
            if missing:
                raise UsageError(f"db copy: the target's {table} lacks {', '.join(missing)}")
            insert = (
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' for _ in columns)}) ON CONFLICT DO NOTHING"
            )
            result = TableCopy(table)
            for rows in _pages(source, table, key, columns, batch):
                with target.transaction():
                    cur = target.conn.executemany(insert, rows)
                    added = max(int(cur.rowcount), 0)
                    target.dialect.rows_inserted(target.conn, table, added)  # m024's tables
                result.source_rows += len(rows)
                result.inserted += added
                result.already_there += len(rows) - added
                if progress is not None:
                    progress(result)
            if table in _IDENTITY:
                target.dialect.after_bulk_insert(target.conn, table)
            results.append(result)
        source_counts = table_counts(source)
    finally:
        source.conn.execute("ROLLBACK")  # it only read
    target.refresh_statistics()  # the planner's view of the new rows, before agents use them
    target_counts = table_counts(target)
    short = []
    for result in results:
        result.source_rows = source_counts[result.table]
        result.target_rows = target_counts[result.table]
        if not result.complete:
            short.append(f"{result.table} {result.target_rows}/{result.source_rows}")
    if short:
        raise IncompleteCopy(
            "db copy: the target has fewer rows than the source in " + ", ".join(short)
        )
    return results
