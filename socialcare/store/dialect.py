"""What SQLite and PostgreSQL do differently, in one place: one class per backend.

Every query in the store layer is written once. Where the two databases
genuinely disagree, the query asks its store's :class:`Dialect` instead of
testing which backend it runs on:

* SQL fragments (scalar ``min``/``max``, integer truncation, JSON access, time
  conversion, string aggregation, full-text search, index hints, row locks).
  Fragments take SQL expressions (never values), so parameters stay bound.
* The few behaviours around the SQL: how a new row's id comes back, how a job
  is locked against overlapping cron runs, how one customer is serialised, how
  planner statistics are kept fresh, what a printable location looks like.

Read :class:`PostgresDialect` to see everything the team server does
differently from the embedded default, :class:`SqliteDialect` for the reverse.
A store owns its dialect instance (PostgreSQL's keeps per-connection counters).
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterator, Sequence

if TYPE_CHECKING:
    import sqlite_utils

__all__ = [
    "Dialect",
    "SqliteDialect",
    "PostgresDialect",
    "SQLITE",
    "POSTGRESQL",
    "fts_phrases",
    "fts_words_query",
]

_PHRASE = re.compile(r'"((?:[^"]|"")*)"')


def fts_phrases(match: str) -> list[str]:
    """The quoted phrases of an FTS5 expression built by socialcare (``"a" OR "b c"``)."""
    return [m.group(1).replace('""', '"') for m in _PHRASE.finditer(match)]


def fts_words_query(text: str) -> str:
    """Quote each word so user input is matched as words, never parsed as FTS syntax."""
    words = [w.replace('"', '""') for w in text.split()]
    return " ".join(f'"{w}"' for w in words if w)


class Dialect:
    """The interface both backends implement; ``name`` is ``sqlite`` or ``postgresql``."""

    name: ClassVar[str]
    #: start a write transaction
    begin: ClassVar[str]
    #: start a read-only transaction that sees one instant of the store throughout
    read_snapshot: ClassVar[str]
    #: backend-only columns (row numbers, search vectors): never handed out, never copied
    hidden_columns: ClassVar[tuple[str, ...]] = ()
    #: how many hour ranges the index-ranked queue reads young mentions in: more ranges
    #: read fewer rows, but each is one more UNION branch to plan
    rank_hour_groups: ClassVar[int] = 12
    #: whether a claim's lock, check, update and audit insert are one call of the store's
    #: ``socialcare_claim_row`` function (m026): worth it where each statement is a round
    #: trip to a server
    one_statement_claim: ClassVar[bool] = False
    #: every agent's open load in one statement of ``(assignee, n)`` rows, where a backend
    #: keeps them apart from ``mentions`` (None: counts of ``mentions`` itself)
    open_loads_sql: ClassVar[str | None] = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def bound_values_limit(self, conn: Any) -> int | None:
        """How many values one statement of ``conn`` may bind, where a page's upserts go
        in as INSERTs of many ``VALUES`` rows each (``Store._insert_rows``); None where
        they go in by ``executemany``, which a server's driver pipelines already."""
        return None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dialect) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    # -- SQL fragments ----------------------------------------------------------
    def least(self, *exprs: str) -> str:
        """The smallest of several expressions."""
        raise NotImplementedError

    def greatest(self, *exprs: str) -> str:
        """The largest of several expressions."""
        raise NotImplementedError

    def trunc_int(self, expr: str) -> str:
        """``expr`` truncated toward zero to an integer."""
        raise NotImplementedError

    def json_text(self, column: str, key: str) -> str:
        """A top-level key of a JSON text column, as text (``key`` is a constant)."""
        raise NotImplementedError

    def iso_to_unix(self, expr: str) -> str:
        """Unix seconds (integer) of a stored UTC ISO text time."""
        raise NotImplementedError

    def unix_to_iso(self, expr: str) -> str:
        """The store's UTC ISO text (``2026-03-29T08:00:00Z``) of unix seconds."""
        raise NotImplementedError

    def concat_distinct(self, expr: str) -> str:
        """Distinct values of ``expr`` in a group, comma-separated (order unspecified)."""
        raise NotImplementedError

    def open_queue_hint(self) -> str:
        """Index hint for open-queue ranking ("" where the planner needs none)."""
        return ""

    def open_by_author_hint(self) -> str:
        """Index hint for open mentions of some authors ("" where the planner needs none)."""
        return ""

    def open_backlog_hint(self) -> str:
        """Index hint for the backlog cards ("" where the planner needs none)."""
        return ""

    def open_hour_hint(self) -> str:
        """Index hint for open mentions of some hours by static score ("" if not needed)."""
        return ""

    def commit_version(self, conn: Any) -> int | None:
        """A number that moves whenever another connection commits, or None where the
        backend has none (then every read must be made again)."""
        return None

    def spikes_hint(self) -> str:
        """Index hint for the spike windows' counts ("" where the planner needs none)."""
        return ""

    def mention_search(self, alias: str, param: str) -> str:
        """Condition: mention ``alias`` matches the full-text query bound to ``:param``."""
        raise NotImplementedError

    def index_rank_sql(
        self,
        *,
        columns: str,
        where: Sequence[str],
        probe_where: Sequence[str],
        reach_where: Sequence[str],
        score: str,
        queue_hint: str,
        limit: int,
        by_assignee: bool = False,
    ) -> str | None:
        """The index-ranked queue in this backend's own shape, or None for the shared
        one (:meth:`Store._rank`, whose parameters it takes). ``probe_where`` admits only
        rows that ``where`` admits (fewer, more cheaply tested); ``reach_where`` admits
        every row that ``where`` admits (more, without the conversation look-up); ``limit``
        is ``flt.limit`` (at least 1); ``by_assignee``: ``where`` holds ``--assignee``."""
        return None

    def search_terms(self, text: str) -> str:
        """What to bind to :meth:`mention_search`'s parameter for a user's search words."""
        raise NotImplementedError

    def for_update(self) -> str:
        """Row-lock suffix for a SELECT inside a transaction."""
        return ""

    # -- behaviours ---------------------------------------------------------------
    def location(self, path: str) -> str:
        """Where the data lives, safe to print."""
        return path

    def insert_returning_id(self, conn: Any, sql: str, params: Sequence[Any]) -> int:
        """Run an INSERT into a table with an integer ``id`` key; return the new id."""
        raise NotImplementedError

    @contextmanager
    def job_lock(self, conn: Any, path: str, job: str, wait_seconds: float) -> Iterator[None]:
        """Hold the exclusive ``job`` lock of this store (or raise LockHeld)."""
        raise NotImplementedError
        yield  # pragma: no cover

    def pipeline(self, conn: Any) -> AbstractContextManager[Any]:
        """Statements run inside are sent together and answered in one round trip
        (results can be read once it ends); nothing to gain in-process."""
        return nullcontext()

    def serialize_customer(self, conn: Any, customer_key: Callable[[], str]) -> None:
        """Inside a write transaction: make this customer's check-then-write one step.

        ``customer_key`` is called only by a backend that needs the key."""

    def rows_added(self, conn: Any, count: int) -> None:
        """Note ``count`` new mentions in the current transaction (for statistics)."""

    def committed(self, conn: Any) -> None:
        """A transaction committed: keep planner statistics fresh if needed."""

    def rolled_back(self) -> None:
        """A transaction rolled back: forget what :meth:`rows_added` noted."""

    def kept_row_counts(
        self, conn: Any, tables: Sequence[str]
    ) -> tuple[dict[str, int], frozenset[str]]:
        """Row counts of ``tables`` known without counting, and which of them are estimates.

        ``db status`` counts the tables missing from the answer itself.
        """
        return {}, frozenset()

    #: tables whose inserts the store's own writers count (:meth:`rows_inserted`)
    store_counted: ClassVar[frozenset[str]] = frozenset()

    def rows_inserted(self, conn: Any, table: str, count: int) -> None:
        """Inside the writer's transaction: ``count`` rows were just inserted into ``table``
        (kept for ``db status`` where the store, not a trigger, counts that table)."""

    def refresh_statistics(self, conn: Any) -> None:
        """After a bulk load (``db copy``): refresh the planner's view of every table."""

    def after_bulk_insert(self, conn: Any, table: str) -> None:
        """After copying rows with their ids into ``table``: make new ids not collide."""

    @contextmanager
    def bulk_writes(self, conn: Any) -> Iterator[None]:
        """Held around a run of large write transactions (a poll's batches)."""
        yield

    # -- migrations ---------------------------------------------------------------
    def migration_steps(self) -> list[Callable[[Any], None]]:
        """This backend's migrations, in order."""
        raise NotImplementedError

    def migrations_recorded(self, conn: Any) -> bool:
        """Whether the table of applied migrations exists yet."""
        raise NotImplementedError

    def user_tables(self, conn: Any) -> int:
        """How many tables the database holds (an empty one may become a store)."""
        raise NotImplementedError

    @contextmanager
    def migrating(self, conn: Any) -> Iterator[None]:
        """Held while migrations run, so two processes starting at once do not race."""
        yield


class SqliteDialect(Dialect):
    """The embedded default: one file, one writer at a time, FTS5, index hints."""

    name = "sqlite"
    # SQLite takes the write lock at once, so a check-then-write inside is one step.
    begin = "BEGIN IMMEDIATE"
    # A deferred transaction's first read fixes its WAL snapshot; writers go on meanwhile.
    read_snapshot = "BEGIN"

    def bound_values_limit(self, conn: Any) -> int | None:
        """The connection's own limit (999 before SQLite 3.32, 32,766 since): each statement
        that writes inside a transaction and may fire triggers opens and closes a statement
        journal around itself, so a page's rows go in as few statements as it allows."""
        return int(conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))

    def commit_version(self, conn: Any) -> int | None:
        """``PRAGMA data_version``: it does not move for this connection's own commits."""
        return int(conn.execute("PRAGMA data_version").fetchone()[0])

    #: WAL pages (4 KiB) a poll lets gather before a checkpoint copies them into the file
    #: (512 MiB: a poll of up to ~150k mentions is checkpointed once, after its last batch)
    BULK_CHECKPOINT_PAGES = 131072

    @contextmanager
    def bulk_writes(self, conn: Any) -> Iterator[None]:
        """Checkpoint the WAL seldom while the poll commits its batches, then as before.

        Each batch rewrites most index pages (random keys); with the default
        checkpoint (every 1000 WAL pages, so after every batch) each of them was
        also copied into the file once per batch. Checkpointed every 128 MiB
        instead, a page rewritten by many batches is copied far fewer times
        (a 50k poll wrote 3.2x the store's final size, 2.6x with no checkpoint
        until the end); every 512 MiB, a 100k poll (a WAL of ~320 MB) is copied
        once, by the checkpoint as the poll ends (3.50x -> 3.32x its final
        size). The WAL's frames are the rest: each commit writes every page it
        dirtied, so a poll writes at least twice the store (WAL, then file) plus
        the index pages each later batch rewrites.
        Commits and crash-safety are the same: a checkpoint only moves committed
        pages from the WAL into the file.
        """
        (before,) = conn.execute("PRAGMA wal_autocheckpoint").fetchone()
        conn.execute(f"PRAGMA wal_autocheckpoint = {int(self.BULK_CHECKPOINT_PAGES)}")
        try:
            yield
        finally:
            conn.execute(f"PRAGMA wal_autocheckpoint = {int(before)}")
            if not conn.in_transaction:
                # now, not at some later commit: readers stop searching a long WAL
                # (PASSIVE never waits for them; what they still read stays in the WAL)
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def least(self, *exprs: str) -> str:
        return f"min({', '.join(exprs)})"

    def kept_row_counts(
        self, conn: Any, tables: Sequence[str]
    ) -> tuple[dict[str, int], frozenset[str]]:
        """m019's kept counts (exact), for tables whose two triggers still exist, or (m024)
        whose delete trigger does and whose inserts the store counts."""
        triggers = {
            str(name)
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'table_rows_%'"
            )
        }
        if not triggers:
            return {}, frozenset()
        counts = {
            str(name): int(n)
            for name, n in conn.execute("SELECT name, n FROM table_rows")
            if name in tables
            and (name in self.store_counted or f"table_rows_{name}_ins" in triggers)
            and f"table_rows_{name}_del" in triggers
        }
        return counts, frozenset()

    #: m024: ``events`` and ``team_routes`` are counted by the statements that insert them
    store_counted = frozenset(("events", "team_routes"))

    #: whether this store has applied m024 (known once it has: see :meth:`rows_inserted`)
    _m024 = False

    def rows_inserted(self, conn: Any, table: str, count: int) -> None:
        """One counter update per statement (m024), in place of a trigger call per row.

        A store still being migrated from before m024 (its opening runs the migrations
        with today's writers) counts these tables by its triggers, if it has any yet.
        """
        if not (count and table in self.store_counted):
            return
        if not self._m024:
            self._m024 = bool(
                conn.execute(
                    "SELECT 1 FROM _socialcare_migrations WHERE name = ?",
                    ["m024_store_counted_inserts"],
                ).fetchone()
            )
            if not self._m024:
                return
        conn.execute("UPDATE table_rows SET n = n + ? WHERE name = ?", [count, table])

    def greatest(self, *exprs: str) -> str:
        return f"max({', '.join(exprs)})"

    def trunc_int(self, expr: str) -> str:
        return f"CAST({expr} AS INTEGER)"

    def json_text(self, column: str, key: str) -> str:
        return f"json_extract({column}, '$.{_json_key(key)}')"

    def iso_to_unix(self, expr: str) -> str:
        return f"CAST(strftime('%s', {expr}) AS INTEGER)"

    def unix_to_iso(self, expr: str) -> str:
        return f"strftime('%Y-%m-%dT%H:%M:%SZ', {expr}, 'unixepoch')"

    def concat_distinct(self, expr: str) -> str:
        return f"group_concat(DISTINCT {expr})"

    def open_queue_hint(self) -> str:
        """Force the partial covering index for open-queue ranking (the planner needs it)."""
        return "INDEXED BY idx_mentions_open_queue"

    def open_backlog_hint(self) -> str:
        """Force m019's narrow backlog index (the planner took the status index)."""
        return "INDEXED BY idx_mentions_open_backlog"

    def open_hour_hint(self) -> str:
        """Force the open-by-hour partial index for the queue's young-hour ranges."""
        return "INDEXED BY idx_mentions_open_hour"

    def spikes_hint(self) -> str:
        """Force the covering spikes index: after ANALYZE SQLite preferred a skip-scan of
        the per-source index, reading each window row's table page."""
        return "INDEXED BY idx_mentions_spikes"

    def open_by_author_hint(self) -> str:
        """Force the open-by-author partial index: without statistics SQLite's planner
        prefers the status index for ``author_key IN (a, b)``, reading every open mention."""
        return "INDEXED BY idx_mentions_author_open"

    def mention_search(self, alias: str, param: str) -> str:
        """The FTS5 table (``param`` holds a quoted-words FTS5 query)."""
        return (
            f"{alias}.rowid IN (SELECT rowid FROM mentions_fts WHERE mentions_fts MATCH :{param})"
        )

    def search_terms(self, text: str) -> str:
        return fts_words_query(text)

    def insert_returning_id(self, conn: Any, sql: str, params: Sequence[Any]) -> int:
        return int(conn.execute(sql, params).lastrowid or 0)

    @contextmanager
    def job_lock(self, conn: Any, path: str, job: str, wait_seconds: float) -> Iterator[None]:
        """A lock file next to the database (filelock: dropped when the process dies)."""
        from . import locks

        with locks.job_lock(path, job, wait_seconds):
            yield

    def migration_steps(self) -> list[Callable[[sqlite_utils.Database], None]]:
        from .migrations.sqlite import MIGRATIONS

        return list(MIGRATIONS)

    def migrations_recorded(self, conn: Any) -> bool:
        return bool(
            conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = '_socialcare_migrations'"
            ).fetchone()
        )

    def user_tables(self, conn: Any) -> int:
        return int(
            conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%'"
            ).fetchone()[0]
        )

    @contextmanager
    def migrating(self, conn: Any) -> Iterator[None]:
        """Foreign keys off while migrations run, as SQLite's table rebuild requires.

        With them on, dropping a parent table during a rebuild deletes its rows
        first and fires the children's ON DELETE actions. The pragma is a no-op
        inside a transaction, so it is set here, around every migration's own;
        a migration that rebuilds tables runs ``PRAGMA foreign_key_check`` before
        it commits (see m016).
        """
        enforced = bool(conn.execute("PRAGMA foreign_keys").fetchone()[0])
        if enforced:
            conn.execute("PRAGMA foreign_keys = OFF")
        try:
            yield
        finally:
            if enforced:
                conn.execute("PRAGMA foreign_keys = ON")


#: rows from which PostgreSQL's ``db status`` shows the planner's estimate, not a count
_ESTIMATE_FROM = 10_000
#: advisory-lock key serialising PostgreSQL migrations (any constant unique to socialcare)
_MIGRATION_LOCK = 0x50C1A1CA


class PostgresDialect(Dialect):
    """The shared team store: many writers, row locks, advisory locks, tsvector search."""

    name = "postgresql"
    begin = "BEGIN"
    read_snapshot = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
    hidden_columns = ("rowid", "search", "search_len")
    # PostgreSQL plans a UNION branch in about 1 ms (SQLite in microseconds), far more
    # than reading every young open row of the hour index once: one range it is.
    rank_hour_groups = 1
    one_statement_claim = True
    # m023 took assignee out of every index of mentions (a claim is a HOT update); the
    # open, assigned mentions are kept by triggers in a table of their own
    open_loads_sql = "SELECT assignee, count(*) AS n FROM mentions_open_assigned GROUP BY assignee"

    def __init__(self) -> None:
        #: mentions inserted since the planner statistics were last refreshed
        self._new_since_analyze = 0
        #: rows ``mentions`` had at that refresh (None: not read yet)
        self._analyzed_rows: float | None = None

    def least(self, *exprs: str) -> str:
        return f"LEAST({', '.join(exprs)})"

    def kept_row_counts(
        self, conn: Any, tables: Sequence[str]
    ) -> tuple[dict[str, int], frozenset[str]]:
        """The planner's estimates (``pg_class.reltuples``) of tables past 10,000 rows.

        Counting a million rows takes PostgreSQL most of a second; autovacuum keeps
        these within a few percent. Smaller (or never analysed, -1) tables are left
        to an exact count.
        """
        counts = {
            str(name): int(n)
            for name, n in conn.execute(
                "SELECT c.relname, c.reltuples FROM pg_class c "
                "WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace"
            ).fetchall()
            if name in tables and n >= _ESTIMATE_FROM
        }
        return counts, frozenset(counts)

    def greatest(self, *exprs: str) -> str:
        return f"GREATEST({', '.join(exprs)})"

    def trunc_int(self, expr: str) -> str:
        """PostgreSQL's CAST rounds, so truncate first."""
        return f"CAST(trunc({expr}) AS BIGINT)"

    def json_text(self, column: str, key: str) -> str:
        return f"(CAST({column} AS jsonb) ->> '{_json_key(key)}')"

    def iso_to_unix(self, expr: str) -> str:
        return f"CAST(extract(epoch FROM CAST({expr} AS timestamptz)) AS BIGINT)"

    def unix_to_iso(self, expr: str) -> str:
        return f"to_char(to_timestamp({expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

    def concat_distinct(self, expr: str) -> str:
        return f"string_agg(DISTINCT {expr}, ',')"

    def mention_search(self, alias: str, param: str) -> str:
        """The GIN-indexed ``search`` tsvector (``param`` holds plain words, every one
        required, stemmed like FTS5's porter tokenizer)."""
        return f"{alias}.search @@ plainto_tsquery('english', :{param})"

    def search_terms(self, text: str) -> str:
        return text

    def index_rank_sql(
        self,
        *,
        columns: str,
        where: Sequence[str],
        probe_where: Sequence[str],
        reach_where: Sequence[str],
        score: str,
        queue_hint: str,
        limit: int,
        by_assignee: bool = False,
    ) -> str | None:
        """One index range of the open rows that can reach the floor, not a UNION per hour range.

        PostgreSQL planned the shared shape in 20-30 ms (execution: 1-2 ms), so here:

        * the floor is the ``limit``-th best exact score of the best-``static_score``
          rows (overall, and among those past the cap) of ``probe_where``: any rows of
          the queue give a lower bound of its ``limit``-th score, and these need no
          look-up of newer messages in the conversation (the NOT EXISTS each scan of
          ``where`` carries is a subplan to plan);
        * the floor's subquery is kept from being pulled up (``OFFSET 0``): pulled up,
          its SubLink was copied into each reference of ``f``, planned and run twice;
        * the waiting term is never more than ``max(age_weight, 0)`` (it lies between 0
          and the weight), so one range of ``idx_mentions_open_queue``,
          ``static_score >= floor - max(w, 0)``, holds every row that can reach the
          floor, wherever its hour: the rows past the cap have that very term, and
          with one hour group (``rank_hour_groups``) the shared shape's bounds were
          this one too. That range is read index-only under ``reach_where``: with the
          conversation look-up in it, the planner took the open-by-hour index (it holds
          ``kind`` and ``conversation_id``) and read all 20k open rows of 1M, 5 ms;
        * the few rows that reach the floor are fetched by rowid, tested against all of
          ``where`` and ranked by the same score expression and order as the full sort
          (ties by rowid), so the result is the same.

        ``limit`` goes in as integer literals, not parameters: the statement is prepared
        (:meth:`Store._rank`), and with a parameter for LIMIT the server's generic plan
        assumes a tenth of the rows, costs more than a custom one and is never chosen,
        so each call was planned again (1.5 ms on a 1M store); with literals it is
        chosen after five calls.

        That choice still depended on the store: a custom plan sees the parameters'
        values (``young``, ``now_iso``, a ``--source``), so its row estimates differ
        from the generic plan's, and on a 1M store freshly built and analysed the
        generic one's estimate stayed above theirs: every call planned again (0.6-1 ms
        of server CPU, as much as running it). So every parameter is read once, as an
        InitPlan of a ``prm`` CTE (:func:`_params_as_initplans`): custom and generic
        plans then estimate alike, the custom ones also pay for their planning, and
        the generic plan wins from the sixth call on, whatever the statistics. The
        plan is the one it was: its bounds came from the floor's InitPlan already.
        """
        top, offset = int(limit), int(limit) - 1
        if by_assignee:
            return _params_as_initplans(_assignee_rank_sql(columns, where, reach_where, score, top))
        best = (
            f"SELECT m.rowid AS rid, {score} AS score FROM mentions m {queue_hint} "
            f"WHERE {' AND '.join(probe_where)}"
        )
        probe = (
            f"SELECT rid, score FROM ({best} AND m.created_ts < :young "
            f"ORDER BY m.static_score DESC LIMIT {top}) old "
            f"UNION SELECT rid, score FROM ({best} ORDER BY m.static_score DESC LIMIT {top}) best"
        )
        return _params_as_initplans(
            "WITH fl AS MATERIALIZED (SELECT f AS v, 1e-9 * (1 + abs(f) + abs(:w)) AS e FROM ("
            f"SELECT coalesce((SELECT score FROM ({probe}) p ORDER BY score DESC LIMIT 1 "
            f"OFFSET {offset}), -1e308) AS f OFFSET 0) x), "
            "reach AS MATERIALIZED (SELECT m.rowid AS rid FROM mentions m "
            f"{queue_hint} WHERE {' AND '.join(reach_where)} "
            "AND m.static_score >= (SELECT v - GREATEST(:w, 0) - e FROM fl) "
            f"AND {score} >= (SELECT v FROM fl)) "
            f"SELECT {columns} FROM mentions m WHERE m.rowid IN (SELECT rid FROM reach) "
            f"AND {' AND '.join(where)} ORDER BY {score} DESC, m.rowid LIMIT {top}"
        )

    def for_update(self) -> str:
        return " FOR UPDATE"

    def location(self, path: str) -> str:
        """A PostgreSQL URL loses its password."""
        from .pg import redact_url

        return redact_url(path)

    def insert_returning_id(self, conn: Any, sql: str, params: Sequence[Any]) -> int:
        return int(conn.execute(sql + " RETURNING id", params).fetchone()[0])

    @contextmanager
    def job_lock(self, conn: Any, path: str, job: str, wait_seconds: float) -> Iterator[None]:
        """A session advisory lock on the server: cron on several hosts sharing one
        server still runs one at a time, and a crashed run's lock goes with its connection."""
        from . import locks

        with locks.advisory_lock(conn, job, wait_seconds, where=self.location(path)):
            yield

    def pipeline(self, conn: Any) -> AbstractContextManager[Any]:
        """psycopg's pipeline mode: one round trip for the statements inside."""
        return conn.pipeline()  # type: ignore[no-any-return]

    def serialize_customer(self, conn: Any, customer_key: Callable[[], str]) -> None:
        """A transaction-scoped advisory lock on the customer (SQLite's write
        transaction already admits one writer, so it needs nothing)."""
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [f"customer:{customer_key()}"])

    def rows_added(self, conn: Any, count: int) -> None:
        self._new_since_analyze += count

    def rolled_back(self) -> None:
        self._new_since_analyze = 0

    def committed(self, conn: Any) -> None:
        """ANALYZE ``mentions`` once it has grown by half since the last time.

        A fresh or bulk-filled table has no planner statistics until autovacuum
        gets to it (up to a minute later), and without them PostgreSQL plans
        the per-author lookups over every open mention: a first poll of 1M ran
        at 850/s until then. Growth by half means about 20 refreshes from 1k to
        1M rows, each sampling at most 30k rows. (SQLite relies on index hints
        instead, and never pays for an ANALYZE it would have to repeat.)
        """
        if self._new_since_analyze < 1000:
            return
        if self._analyzed_rows is None:
            row = conn.execute(
                "SELECT reltuples FROM pg_class WHERE oid = 'mentions'::regclass"
            ).fetchone()
            self._analyzed_rows = max(float(row[0]), 0.0)
        if self._new_since_analyze < 0.5 * self._analyzed_rows:
            return
        busy = conn.execute(
            "SELECT 1 FROM pg_stat_progress_vacuum WHERE relid = 'mentions'::regclass "
            "UNION ALL SELECT 1 FROM pg_stat_progress_analyze WHERE relid = 'mentions'::regclass"
        ).fetchone()
        if busy is not None:
            return  # autovacuum is on it; our ANALYZE would cancel its VACUUM. Next commit.
        conn.execute("ANALYZE mentions")
        self._analyzed_rows += self._new_since_analyze
        self._new_since_analyze = 0

    def refresh_statistics(self, conn: Any) -> None:
        conn.execute("ANALYZE")
        self._new_since_analyze, self._analyzed_rows = 0, None

    def after_bulk_insert(self, conn: Any, table: str) -> None:
        """Move the id sequence past the copied ids."""
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
        )

    def migration_steps(self) -> list[Callable[[Any], None]]:
        from .migrations.postgres import MIGRATIONS

        return list(MIGRATIONS)

    def migrations_recorded(self, conn: Any) -> bool:
        return bool(conn.execute("SELECT to_regclass('_socialcare_migrations')").fetchone()[0])

    def user_tables(self, conn: Any) -> int:
        return int(
            conn.execute(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            ).fetchone()[0]
        )

    @contextmanager
    def migrating(self, conn: Any) -> Iterator[None]:
        """A session advisory lock keeps two agents starting at once from racing."""
        conn.execute("SELECT pg_advisory_lock(?)", [_MIGRATION_LOCK])
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(?)", [_MIGRATION_LOCK])


def _assignee_rank_sql(
    columns: str, where: Sequence[str], reach_where: Sequence[str], score: str, top: int
) -> str:
    """PostgreSQL's ``queue --assignee`` (``where`` holds ``m.assignee = :assignee``): the
    agent's open mentions from ``mentions_open_assigned``, then ranked.

    No index of ``mentions`` names ``assignee`` (m023: claims are HOT updates), so the
    floor's probes and range (:meth:`PostgresDialect.index_rank_sql`) would test the
    heap row of every open row when the agent holds fewer than ``limit``, as an agent
    mostly does: 70 ms at 20k open of 1M, against 1-2 ms before. The table m023's
    triggers keep lists exactly the open, assigned ones by assignee; all of ``where``
    is tested again on those rows of ``mentions``, ranked by the full sort's score and
    order (ties by rowid), so the result is the same.
    """
    return (
        "WITH reach AS MATERIALIZED (SELECT m.rowid AS rid FROM mentions m WHERE m.id IN "
        "(SELECT mention_id FROM mentions_open_assigned WHERE assignee = :assignee) "
        f"AND {' AND '.join(reach_where)}) "
        f"SELECT {columns} FROM mentions m WHERE m.rowid IN (SELECT rid FROM reach) "
        f"AND {' AND '.join(where)} ORDER BY {score} DESC, m.rowid LIMIT {top}"
    )


#: quoted text (group 1 empty: left as it is), or a ``:name`` parameter (not a ``::`` cast)
_PARAM = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|(?<![:\w]):([A-Za-z_]\w*)")


@lru_cache(maxsize=256)
def _params_as_initplans(sql: str) -> str:
    """``sql`` (a ``WITH`` statement) with each ``:name`` read from a one-row CTE instead.

    ``WITH prm AS MATERIALIZED (SELECT :a AS "a", ...)`` and ``(SELECT "a" FROM prm)``
    for each use: the planner sees no parameter value in any plan (see
    :meth:`PostgresDialect.index_rank_sql`). Each is computed once per execution.
    Quoted text is left alone, as :func:`~socialcare.store.pg.translate` leaves it.
    Cached: a queue refresh builds the same text again.
    """
    names = list(dict.fromkeys(name for name in _PARAM.findall(sql) if name))
    if not names:
        return sql

    def initplan(m: re.Match[str]) -> str:
        return m.group(0) if m.group(1) is None else f'(SELECT "{m.group(1)}" FROM prm)'

    body = _PARAM.sub(initplan, sql.removeprefix("WITH "))
    values = ", ".join(f':{name} AS "{name}"' for name in names)
    return f"WITH prm AS MATERIALIZED (SELECT {values}), {body}"


def _json_key(key: str) -> str:
    if not re.fullmatch(r"[a-z_]+", key):
        raise ValueError(f"bad JSON key {key!r}")
    return key


#: stateless instances, for code that only needs fragments or migration names
SQLITE: Dialect = SqliteDialect()
POSTGRESQL: Dialect = PostgresDialect()
