"""The store core: connection, transactions, mentions and the queue, on either backend.

One :class:`Store` serves both backends: the embedded SQLite file (through
sqlite-utils' connection) and a shared PostgreSQL server for a team (through
:class:`~socialcare.store.pg.PgConnection`, which accepts the same placeholders).
Queries are written once; the few fragments the two databases spell
differently come from :attr:`Store.dialect`. Times are stored as UTC ISO text;
mentions also keep ``created_ts`` (unix seconds) so the queue can add the
waiting-time term in SQL at read time.
"""

from __future__ import annotations

import bisect
import json
import math
import operator
import sqlite3
import sys
import uuid
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence, TypeVar

from ..errors import ConfigError, NotAStore, NotFound, check_choice
from ..models import INTENTS, QUEUE_STATUSES, Mention, deferred_dataclass, to_iso, utcnow
from ..safety import private_dir, private_file
from .dialect import Dialect, PostgresDialect, SqliteDialect
from .migrations import applied_migrations, migrate, migration_names

__all__ = ["Store", "open_store", "is_postgres_url", "QueueFilter", "QUEUE_KINDS", "Row"]

Row = dict[str, Any]

_MENTION_COLUMNS = (
    "id",
    "source",
    "native_id",
    "query",
    "url",
    "author_key",
    "author_id",
    "author_handle",
    "author_name",
    "author_followers",
    "text",
    "created_at",
    "created_ts",
    "fetched_at",
    "language",
    "conversation_id",
    "parent_id",
    "kind",
    "repost_of",
    "raw",
    "is_own",
    "rating",
    "updated_at",
    "meta",
)
# Columns a re-poll may refresh; status, assignee, triage and tags are ours and kept.
_REFRESHED = (
    "url",
    "author_handle",
    "author_name",
    "author_followers",
    "text",
    "fetched_at",
    "language",
    "conversation_id",
    "parent_id",
    "raw",
    "rating",
    "updated_at",
    "meta",
)
_UPSERT_MENTION = (
    f"INSERT INTO mentions ({', '.join(_MENTION_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _MENTION_COLUMNS)}) "
    f"ON CONFLICT(id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _REFRESHED)} "
    # A stale copy (an older listing page of an edited review) never undoes the edit;
    # UTC ISO text with a Z suffix sorts as time.
    "WHERE mentions.updated_at IS NULL OR excluded.updated_at IS NULL "
    "OR excluded.updated_at >= mentions.updated_at"
)
_UPSERT_AUTHOR = (
    "INSERT INTO authors (id, source, native_id, handle, name, followers, first_seen, last_seen) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
    "handle = excluded.handle, name = excluded.name, "
    "followers = coalesce(excluded.followers, authors.followers), last_seen = excluded.last_seen"
)
TRIAGE_COLUMNS = (
    "sentiment_compound",
    "sentiment_pos",
    "sentiment_neu",
    "sentiment_neg",
    "sentiment_scored",
    "intent",
    "static_score",
    "signals",
    "sla_due_ts",
    "triaged_at",
)
# A new mention inserted with its triage; on a conflict (stored meanwhile) the same
# refresh as _UPSERT_MENTION, triage kept.
# The assignment routing decided before the insert rides in it too (NULL when none).
_CLAIM_COLUMNS = ("assignee", "claimed_at")
_UNCLAIMED: tuple[str | None, str | None] = (None, None)
#: the triage a scored insert writes: ``triage_fp`` (m014) too, NULL unless the scorer gives it
_SCORED_COLUMNS = (*TRIAGE_COLUMNS, "triage_fp")
_UPSERT_SCORED_MENTION = _UPSERT_MENTION.replace(
    f"{', '.join(_MENTION_COLUMNS)}) VALUES ({', '.join('?' for _ in _MENTION_COLUMNS)})",
    f"{', '.join(_MENTION_COLUMNS + _SCORED_COLUMNS + _CLAIM_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _MENTION_COLUMNS + _SCORED_COLUMNS + _CLAIM_COLUMNS)})",
)


#: rows per multi-row ``INSERT`` on SQLite (:meth:`Store._insert_rows`), largest first; the
#: widest (scored) row has 37 values, so 128 rows bind 4,736 (SQLite allows 32,766 since
#: 3.32; a step over the connection's own limit is skipped)
_MULTI_ROW_SIZES = (128, 16, 4, 1)


@lru_cache(maxsize=32)
def _multi_row_sql(sql: str, rows: int) -> str:
    """``sql`` (an INSERT of one ``VALUES (?, ...)`` row) inserting ``rows`` rows at once."""
    start = sql.index("VALUES (") + len("VALUES ")
    end = sql.index(")", start) + 1
    return f"{sql[:start]}{', '.join([sql[start:end]] * rows)}{sql[end:]}"


_MENTION_VALUES = operator.itemgetter(*_MENTION_COLUMNS)
_AUTHOR_KEY_AT = _MENTION_COLUMNS.index("author_key")
#: what :meth:`Store.waiting_before` reads of a row
_WAIT_INPUTS = operator.itemgetter("author_key", "is_own", "created_ts")
#: ``json.dumps(value, ensure_ascii=False, default=str)``, without building an encoder per call
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)
_JSON_TEXT = _ENCODER.encode


def _c_json() -> Any:
    """The C encoder ``_JSON_TEXT`` builds on each call, built once (None without the C
    module). No circular check (its markers dict would be state shared between threads):
    a loop recurses to an error, and then the checked encoder raises its own."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    e = _ENCODER
    return make(
        None, e.default, json.encoder.encode_basestring, e.indent, e.key_separator,
        e.item_separator, e.sort_keys, e.skipkeys, e.allow_nan,
    )  # fmt: skip


_C_JSON = _c_json()


def _stored_values(row: Row) -> tuple[Any, ...]:
    """A :meth:`Store.mention_rows` row's ``_MENTION_COLUMNS`` values (its JSON made once)."""
    values: tuple[Any, ...] = _MENTION_VALUES(row)
    key = values[_AUTHOR_KEY_AT]
    stored = stored_author_key(key)
    if stored is not key:
        values = (*values[:_AUTHOR_KEY_AT], stored, *values[_AUTHOR_KEY_AT + 1 :])
    return values


def _json_text(value: Any) -> str:
    """A payload as stored: JSON text, not ASCII-escaped, anything unknown as its ``str``."""
    if value.__class__ is dict:
        if not value:
            return "{}"  # most ``meta`` (what json.dumps makes of it too)
        if _C_JSON is not None:  # every ``raw``: a poll stores one a mention
            try:
                return "".join(_C_JSON(value, 0))
            except RecursionError:
                pass  # a loop (or too deep): the checked encoder raises its own error
    return _JSON_TEXT(value)


def _mention_values(m: Mention, now: str, own: set[str], mid: str) -> tuple[Any, ...]:
    """One mention's ``_MENTION_COLUMNS`` values, as stored (``mid``: its ``id``, made once
    by the caller: the property builds the text on every read)."""
    updated = m.updated_at
    return (
        mid,
        m.source,
        m.native_id,
        m.query,
        m.url,
        stored_author_key(m.author_key),
        m.author_id,
        m.author_handle,
        m.author_name,
        m.author_followers,
        m.text,
        to_iso(m.created_at),
        m.created_at.timestamp(),
        now,
        m.language,
        m.conversation_id,
        m.parent_id,
        m.kind,
        m.repost_of,
        _json_text(m.raw),
        1 if m.author_handle.lower() in own else 0,
        m.rating,
        to_iso(updated) if updated is not None else None,
        _json_text(m.meta),
    )


@deferred_dataclass(frozen=True)  # made by the first queue: `show` makes none
class QueueFilter:
    """What ``queue`` shows; every field narrows the list."""

    status: str = "open"
    source: str | None = None
    assignee: str | None = None
    intent: str | None = None
    min_score: float | None = None
    since_ts: float | None = None
    search: str | None = None
    limit: int = 50
    sort: str = "score"  # score or sla
    #: ``dm`` (private conversations) or ``public`` (everything else); None: both
    kind: str | None = None


#: what ``queue --kind`` takes
QUEUE_KINDS = ("dm", "public")


_T = TypeVar("_T")

#: an open DM is in the queue only if no newer open DM of the customer shares its conversation
_NEWEST_OPEN_DM = (
    "(m.kind != 'dm' OR m.conversation_id IS NULL OR NOT EXISTS (SELECT 1 FROM mentions n "
    "WHERE n.kind = 'dm' AND n.status = 'open' AND n.is_own = 0 AND n.source = m.source "
    "AND n.conversation_id = m.conversation_id AND (n.created_ts > m.created_ts "
    "OR (n.created_ts = m.created_ts AND n.id > m.id))))"
)
#: implies :data:`_NEWEST_OPEN_DM` (a mention in no private conversation is always its own
#: queue item): a cheap condition for rows that certainly belong in the queue
_NOT_IN_A_CONVERSATION = "(m.kind != 'dm' OR m.conversation_id IS NULL)"

#: PostgreSQL's claim without ``--force``: one call of m026's ``socialcare_claim_row``
#: (id, agent, now, the event's detail when the mention was free / already the agent's)
_CLAIM_CALL = "SELECT * FROM socialcare_claim_row(?, ?, ?, ?, ?)"


@lru_cache(maxsize=64)
def _claim_details(agent: str) -> tuple[str, str]:
    """The ``claim`` event's detail exactly as ``log_event`` writes it, for the two holders
    that win (none, and ``agent`` itself): the same per agent, so encoded once."""
    return (
        json.dumps({"previous": None, "forced": False}, default=str),
        json.dumps({"previous": agent, "forced": False}, default=str),
    )


@deferred_dataclass(frozen=True)  # made by the first claim: `queue` makes none
class ClaimOutcome:
    """What :meth:`Store.claim_checked` decided."""

    #: the assignee before the claim (None: it was free)
    holder: str | None
    #: when ``holder`` claimed it
    claimed_at: str | None
    #: whether the mention is now the agent's (and a ``claim`` event was logged)
    won: bool
    #: another open mention of the customer held by another agent (then nothing changed)
    other_id: str | None
    other_assignee: str | None


#: values per ``IN (...)`` list: well under SQLite's bound-parameter limit
IN_CHUNK = 500


def in_chunks(values: Sequence[_T], size: int = IN_CHUNK) -> Iterator[list[_T]]:
    """``values`` in slices of ``size``, for queries with one ``IN (...)`` list each."""
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def stored_author_key(author_key: str) -> str | None:
    """What ``mentions.author_key`` holds: NULL for an unlinked author, never "".

    The column is a foreign key to ``authors`` (m016), and an unknown author has
    no authors row: an empty id never becomes an identity, so it is no key either.
    """
    return author_key or None


def is_postgres_url(database: str | Path) -> bool:
    """Whether ``database`` names a PostgreSQL server rather than a SQLite file."""
    return str(database).startswith(("postgresql://", "postgres://"))


def unanswered_before_sql(count: int, dialect: Dialect) -> str:
    """The repeat-contact count for ``count`` mention ids (a plan test reads it too).

    Its inner count matches ``idx_mentions_author_open`` exactly, so it stays
    an index-only range scan even before PostgreSQL has any statistics.
    """
    marks = ", ".join("?" for _ in range(count))
    return f"SELECT m.id, {_waiting_sql(dialect)} FROM mentions m WHERE m.id IN ({marks})"


def _waiting_sql(dialect: Dialect) -> str:
    """The repeat-contact count of the mention ``m``: its author's earlier open mentions."""
    return (
        f"(SELECT count(*) FROM mentions o {dialect.open_by_author_hint()} "
        "WHERE o.author_key = m.author_key AND o.created_ts < m.created_ts "
        "AND o.status = 'open' AND o.is_own = 0 AND m.author_key <> '')"
    )


def open_created_of_sql(count: int, dialect: Dialect) -> str:
    """The creation times of ``count`` authors' open mentions (the in-memory repeat count).

    The same predicate as :func:`unanswered_before_sql`'s inner count, so it reads
    ``idx_mentions_author_open`` alone.
    """
    marks = ", ".join("?" for _ in range(count))
    return (
        f"SELECT author_key, created_ts FROM mentions {dialect.open_by_author_hint()} "
        f"WHERE author_key IN ({marks}) AND status = 'open' AND is_own = 0 AND author_key <> ''"
    )


def open_mentions_of_sql(count: int, dialect: Dialect) -> str:
    """The collision check's read of ``count`` identities' open mentions (see the plan test)."""
    marks = ", ".join("?" for _ in range(count))
    return (
        f"SELECT id, assignee, status FROM mentions {dialect.open_by_author_hint()} "
        f"WHERE author_key IN ({marks}) AND status = 'open' AND is_own = 0 AND author_key <> ''"
    )


def business_waited_sql(spans: int, dialect: Dialect) -> str:
    """Business seconds a mention has waited, given ``spans`` open spans as parameters
    ``:be{i}`` (end) and ``:bl{i}`` (length): each span counts what of it lies after
    ``created_ts``. :func:`business_waited` is the same sum in Python."""
    if not spans:
        return "0.0"
    terms = (
        dialect.least(dialect.greatest(f":be{i} - m.created_ts", "0"), f":bl{i}")
        for i in range(spans)
    )
    return f"({' + '.join(terms)})"


def business_waited(spans: Sequence[tuple[float, float]], created_ts: float) -> float:
    """Business seconds waited since ``created_ts`` (the SQL of :func:`business_waited_sql`):
    never more for a newer mention, so an hour range's oldest row waited longest."""
    total = 0.0
    for start, end in spans:
        total += min(max(end - created_ts, 0.0), end - start)
    return total


def _rank_hours(
    now: float, cap_hours: float, max_groups: int, cap_start: float | None = None
) -> tuple[float, list[tuple[int, int, float]], int] | None:
    """For the index-ranked queue: where the cap starts, the young hours, the current hour.

    ``cap_start``: where the cap starts when it is not ``now - cap`` (business time).

    Returns ``(young, groups, top)``: mentions created before ``young`` (an hour
    boundary at or before ``now - cap``) all get the full waiting term; the hours
    from ``young`` to ``top`` (the hour of ``now``) come in at most
    ``max_groups`` groups ``(first hour, last hour, earliest created_ts)``.
    None when the numbers are too far out for hour arithmetic.
    """
    start = (now - cap_hours * 3600.0 if cap_start is None else cap_start) / 3600.0
    if not (math.isfinite(start) and math.isfinite(now)) or abs(start) > 1e12 or abs(now) > 1e15:
        return None
    first, top = math.floor(start), math.floor(now / 3600.0)
    young = first * 3600.0
    count = top - first + 1
    size = max(1, -(-count // max_groups))
    groups = []
    for lo in range(first, top + 1, size):
        hi = min(lo + size - 1, top)
        # The SQL hour truncates toward zero, so before 1970 an hour starts one earlier.
        oldest = max(young, lo * 3600.0 if lo > 0 else (lo - 1) * 3600.0)
        groups.append((lo, hi, oldest))
    return young, groups, top


#: ``Store(db=WRAP_SQLITE)``: wrap the SQLite connection in sqlite-utils' Database when
#: ``Store.db`` is first read
WRAP_SQLITE: Any = object()


class Store:
    """A migrated socialcare database and the queries the rest of the package needs."""

    #: rank the open queue from index ranges (False: sort every open row, the reference
    #: the property test compares with)
    index_ranking: bool = True
    #: on SQLite, a queue of at most this many rows of its status is sorted instead: the
    #: ranged statement's ~3 ms prepare is more than sorting them (0: always ranged)
    plain_rank_rows: int = 1000

    def __init__(
        self, conn: Any, path: str, dialect: Dialect | None = None, db: Any | None = None
    ) -> None:
        #: sqlite3.Connection or PgConnection: both take ``?``/``:name`` parameters
        self.conn: Any = conn
        self.path = path
        #: everything this backend does differently (one instance per store)
        self.dialect: Dialect = dialect or SqliteDialect()
        # the sqlite-utils Database (SQLite only), or WRAP_SQLITE to build it when first read
        self._db = db

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.dialect.name

    @property
    def location(self) -> str:
        """Where the data lives, safe to print (a PostgreSQL URL loses its password)."""
        return self.dialect.location(self.path)

    # -- plumbing -----------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (BEGIN IMMEDIATE): all of it commits, or none."""
        if self.conn.in_transaction:
            yield  # nested: the outer transaction decides
            return
        self.conn.execute(self.dialect.begin)
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            self.dialect.rolled_back()
            raise
        self.conn.execute("COMMIT")
        self.dialect.committed(self.conn)

    def refresh_statistics(self) -> None:
        """After a bulk load (``db copy``): refresh the planner's statistics, if it keeps any."""
        self.dialect.refresh_statistics(self.conn)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Row]:
        """Run a query and return dict rows (for the query modules of this package only)."""
        return self._rows(sql, params)

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Row]:
        cur = self.conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        hidden = self.dialect.hidden_columns
        if hidden and rows and any(h in names for h in hidden):
            for row in rows:
                for column in hidden:
                    row.pop(column, None)
        return rows

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run an INSERT into a table with an integer ``id`` key; return the new row's id."""
        return self.dialect.insert_returning_id(self.conn, sql, params)

    def schema_version(self) -> int:
        """Number of migrations applied."""
        return len(self.applied_migrations())

    def applied_migrations(self) -> list[str]:
        """Names of the migrations this store has applied."""
        return applied_migrations(self.conn, self.dialect)

    @property
    def db(self) -> Any:
        """The sqlite-utils Database over this SQLite store's connection (None on PostgreSQL).

        Built on first use: migrations and sqlite-utils' own tools need it, but
        importing sqlite-utils costs more than a whole ``socialcare queue``, so an
        open store whose schema is current never does.
        """
        if self._db is WRAP_SQLITE:
            self._db = _sqlite_utils().Database(self.conn)
        return self._db

    @property
    def _migration_handle(self) -> Any:
        """What migrations run on: the sqlite-utils Database, or the PostgreSQL connection."""
        return self.db if self.db is not None else self.conn

    def pending_migrations(self) -> list[str]:
        """Migrations this version of socialcare knows and the store lacks, in order."""
        done = set(self.applied_migrations())
        return [name for name in migration_names(self.dialect) if name not in done]

    def upgrade(self) -> list[str]:
        """Apply pending migrations; return their names."""
        return migrate(self._migration_handle, self.dialect)

    @contextmanager
    def job_lock(self, job: str, wait_seconds: float = 0) -> Iterator[None]:
        """Hold this store's ``job`` lock (``poll``, ``due``) or raise LockHeld.

        SQLite: a lock file beside the database. PostgreSQL: a session advisory
        lock, so cron on several hosts sharing one server still runs one at a
        time, and a crashed run's lock goes with its connection.
        """
        with self.dialect.job_lock(self.conn, self.path, job, wait_seconds):
            yield

    def counts(self) -> dict[str, int]:
        """Row counts of the main tables, for ``status`` and checks."""
        out: dict[str, int] = {}
        for table in ("mentions", "authors", "customers", "events", "outbox", "cursors"):
            out[table] = int(self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        return out

    # -- mentions -----------------------------------------------------------
    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are already stored."""
        found: set[str] = set()
        for chunk in in_chunks(ids):
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT id FROM mentions WHERE id IN ({marks})"
            found.update(map(operator.itemgetter(0), self.conn.execute(sql, chunk)))
        return found

    def upsert_mentions(
        self,
        mentions: Iterable[Mention],
        own_handles: Sequence[str] = (),
        *,
        triage: Mapping[str, Mapping[str, Any]] | None = None,
        rows: Mapping[str, Row] | None = None,
        assigned: Mapping[str, tuple[str, str]] | None = None,
    ) -> int:
        """Insert or refresh mentions (and their authors); return how many were new.

        ``triage`` maps ids of new mentions to their ``TRIAGE_COLUMNS`` (and
        ``triage_fp``, NULL when left out): those rows are inserted already scored (one write per mention instead of an insert
        and then an UPDATE). A known id keeps its triage, as without ``triage``.
        ``rows``: the :meth:`mention_rows` they were scored from, inserted as they are.
        ``assigned``: new scored mentions routing gave an (assignee, claimed_at) before
        the insert (``store.ingest.RoutingScorer``), inserted claimed.
        Call inside :meth:`transaction` together with :meth:`set_cursor` so the
        cursor never moves past mentions that were not stored.
        """
        batch = {m.id: m for m in mentions}  # the last copy of each id
        if not batch:
            return 0
        existing = self.existing_ids(list(batch))
        now = to_iso(utcnow())
        own = {h.lower() for h in own_handles}
        mention_rows = []
        scored_rows = []
        author_rows = []
        for mid, m in batch.items():
            cols = triage.get(mid) if triage is not None and mid not in existing else None
            if cols is None:
                mention_rows.append(_mention_values(m, now, own, mid))
            else:  # the row it was scored from (is_own as own_ids make it, the same in the end)
                built = rows.get(mid) if rows is not None else None
                values = (
                    _mention_values(m, now, own, mid) if built is None else _stored_values(built)
                )
                claim = assigned.get(mid, _UNCLAIMED) if assigned else _UNCLAIMED
                scored_rows.append((*values, *map(cols.get, _SCORED_COLUMNS), *claim))
            author_key = m.author_key
            if not author_key:
                continue  # an unknown author is no identity: no author row, no customer
            author_rows.append(
                (
                    author_key,
                    m.source,
                    m.author_id,
                    m.author_handle,
                    m.author_name,
                    m.author_followers,
                    now,
                    now,
                )
            )
        new = len(batch) - len(existing)  # existing_ids: of these ids only
        with self.transaction():
            self._insert_rows(_UPSERT_AUTHOR, author_rows)
            self._insert_rows(_UPSERT_MENTION, mention_rows)
            self._insert_rows(_UPSERT_SCORED_MENTION, scored_rows)
            self.dialect.rows_added(self.conn, new)
        return new

    def _insert_rows(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """``executemany(sql, rows)``; on SQLite, many rows per ``INSERT`` statement.

        Each SQLite statement that writes inside a transaction and may fire triggers
        opens and closes a statement journal (and the FTS5 index's savepoint, the
        ``mentions_ai`` trigger's) around itself: per row under ``executemany``, that
        was ~40% of the poll's storing. One ``VALUES`` list of many rows runs the same
        upserts in the same order (a later row sees the earlier ones, as before), in
        one statement. Row counts come from a fixed ladder so the connection's
        statement cache keeps every text it needs.
        """
        if not rows:
            return
        limit = self.dialect.bound_values_limit(self.conn)
        if limit is None:
            self.conn.executemany(sql, rows)
            return
        start = 0
        # a lower limit of bound values (999 before SQLite 3.32) gets smaller steps
        most = limit // len(rows[0])
        for size in _MULTI_ROW_SIZES:
            if size > most and size > 1:
                continue
            many = _multi_row_sql(sql, size)
            while len(rows) - start >= size:
                chunk = rows[start : start + size]
                self.conn.execute(many, list(chain.from_iterable(chunk)))
                start += size

    def mention_rows(
        self, mentions: Sequence[Mention], own_handles: Sequence[str] = (), own_ids: Any = ()
    ) -> list[Row]:
        """Mentions as the rows :meth:`upsert_mentions` would store for them (not stored).

        What triage reads of a stored row, with the same values (``raw`` as its
        JSON text, ``created_ts`` in seconds, ``is_own`` after ``own_ids``), so
        a page can be scored before it is inserted.
        """
        now = to_iso(utcnow())
        own = {h.lower() for h in own_handles}
        rows = []
        for m in mentions:
            mid = m.id
            row = dict(zip(_MENTION_COLUMNS, _mention_values(m, now, own, mid), strict=True))
            if mid in own_ids:
                row["is_own"] = 1
            rows.append(row)
        return rows

    def waiting_before(self, rows: Sequence[Row]) -> list[int]:
        """Per row about to be inserted: earlier mentions by its author still waiting.

        ``unanswered_before_many``'s count, as it will be once ``rows`` are stored
        (open, not the brand's own, created earlier; the brand's own rows and
        unknown authors get 0), read in one query per 500 authors: the stored
        open mentions of the page's authors, plus the page's own earlier rows.
        """
        # each row's three inputs read once (this runs on every page a poll stores)
        page = list(map(_WAIT_INPUTS, rows))
        authors = sorted({str(key) for key, _, _ in page if key})
        times: dict[str, list[float]] = {}
        for chunk in in_chunks(authors):
            for key, ts in self.conn.execute(open_created_of_sql(len(chunk), self.dialect), chunk):
                times.setdefault(str(key), []).append(float(ts))
        for key, own, ts in page:  # inserted open: the page's own earlier mentions wait too
            if key and not own:
                times.setdefault(str(key), []).append(float(ts))
        for found in times.values():
            found.sort()
        return [
            0 if own or not key else bisect.bisect_left(times[str(key)], float(ts))
            for key, own, ts in page
        ]

    def get_mention(self, mention_id: str, *, lock: bool = False) -> Row:
        """One mention by id, or :class:`NotFound` naming the id.

        ``lock`` (inside a transaction) row-locks it on PostgreSQL until the
        transaction ends, so a check-then-write on the mention cannot interleave
        with another agent's; SQLite's write transaction already excludes them.
        """
        sql = "SELECT * FROM mentions WHERE id = ?" + (self.dialect.for_update() if lock else "")
        rows = self._rows(sql, [mention_id])
        if not rows:
            raise NotFound(f"no mention with id '{mention_id}' (see `socialcare queue`)")
        return rows[0]

    def mention_count(self) -> int:
        """How many mentions are stored."""
        return int(self.conn.execute("SELECT count(*) FROM mentions").fetchone()[0])

    def mention_ids(self, prefix: str = "", limit: int = 50) -> list[str]:
        """Stored mention ids starting with ``prefix``, open ones first (shell completion)."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self.conn.execute(
            "SELECT id FROM mentions WHERE id LIKE ? ESCAPE '\\' "
            "ORDER BY status != 'open', created_ts DESC LIMIT ?",
            [escaped + "%", limit],
        ).fetchall()
        return [str(r[0]) for r in rows]

    def has_source(self, source: str) -> bool:
        """Whether any mention of ``source`` is stored (an index lookup)."""
        row = self.conn.execute("SELECT 1 FROM mentions WHERE source = ? LIMIT 1", [source])
        return row.fetchone() is not None

    def agent_names(self) -> list[str]:
        """Agents the store knows: assignees and the authors of outbox items (completion)."""
        rows = self.conn.execute(
            "SELECT assignee FROM mentions WHERE assignee IS NOT NULL AND assignee != '' "
            "UNION SELECT agent FROM outbox WHERE agent IS NOT NULL AND agent != ''"
        ).fetchall()
        return sorted({str(r[0]) for r in rows})

    #: the columns re-scoring reads (``triage --all``): what triage needs, and the
    #: current triage to compare with, without ``raw``-sized neighbours like ``meta``
    TRIAGE_READ = (
        "id", "text", "language", "author_followers", "query", "raw", "rating",
        "created_ts", "created_at", "kind", "is_own", *TRIAGE_COLUMNS, "triage_fp",
    )  # fmt: skip

    def iter_mentions(
        self,
        batch_size: int = 2000,
        ids: Sequence[str] | None = None,
        *,
        columns: Sequence[str] | None = None,
        waiting: bool = False,
    ) -> Iterator[list[Row]]:
        """Mentions in rowid order, a batch at a time (bounded memory on huge stores).

        ``columns`` (names of ``mentions`` columns) reads only those, plus ``_rowid``.
        ``waiting`` adds ``_waiting``, what :meth:`unanswered_before_many` counts for the
        row, in the same query: ``triage --all`` needs it for every row, and a second
        query by id per batch looked every row up again through the id index (100k
        polled rows, same run: 0.55 CPU-s for the counts by id, 0.28 read with the rows).
        """
        if columns is not None:
            known = set(_MENTION_COLUMNS) | set(TRIAGE_COLUMNS) | set(self.TRIAGE_READ)
            bad = [c for c in columns if c not in known]
            if bad:
                raise ValueError(f"not a mentions column: {', '.join(bad)}")
        what = "m.*" if columns is None else ", ".join(f"m.{c}" for c in columns)
        if waiting:
            what += f", {_waiting_sql(self.dialect)} AS _waiting"
        if ids is not None:
            for chunk in in_chunks(ids, batch_size):
                marks = ", ".join("?" for _ in chunk)
                yield self._rows(
                    f"SELECT m.rowid AS _rowid, {what} FROM mentions m WHERE m.id IN ({marks})",
                    chunk,
                )
            return
        last = -1
        while True:
            rows = self._rows(
                f"SELECT m.rowid AS _rowid, {what} FROM mentions m WHERE m.rowid > ? "
                "ORDER BY m.rowid LIMIT ?",
                [last, batch_size],
            )
            if not rows:
                return
            yield rows
            last = rows[-1]["_rowid"]

    def unanswered_before_many(self, mention_ids: Sequence[str]) -> dict[str, int]:
        """For each stored mention: how many earlier mentions of its author still wait
        for an answer (open, not the brand's own)."""
        out: dict[str, int] = {}
        for chunk in in_chunks(mention_ids):
            for mid, n in self.conn.execute(unanswered_before_sql(len(chunk), self.dialect), chunk):
                out[str(mid)] = int(n)
        return out

    def save_triage(self, results: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Write the static triage columns for many mentions at once.

        ``triage_fp`` (m014) is written too, NULL unless given: the signals just
        written were scored with other inputs than the ones it fingerprinted.
        """
        sets = ", ".join(f"{c} = ?" for c in (*TRIAGE_COLUMNS, "triage_fp"))
        params = [
            tuple(r.get(c) for c in TRIAGE_COLUMNS) + (r.get("triage_fp"), mid)
            for mid, r in results
        ]
        with self.transaction():
            self.conn.executemany(f"UPDATE mentions SET {sets} WHERE id = ?", params)

    def queue(
        self,
        flt: QueueFilter,
        now_ts: float,
        age_weight: float,
        age_cap_hours: float,
        *,
        business: Sequence[tuple[float, float]] | None = None,
    ) -> list[Row]:
        """Open mentions ranked by static score plus the waiting-time term, computed now.

        The age term is ``age_weight * min(hours waited, cap) / cap`` so a
        mention's rank rises while it waits, without re-scoring the store.
        ``business`` (``[hours]``): the open spans ``(start_ts, end_ts)``, oldest first,
        of the last ``cap`` business hours before now; hours waited are then business
        hours (see :func:`business_waited`). None: wall-clock hours.
        """
        check_choice(flt.status, QUEUE_STATUSES, "status")
        check_choice(flt.intent, INTENTS, "intent")
        check_choice(flt.sort, ("score", "sla"), "sort")
        check_choice(flt.kind, QUEUE_KINDS, "kind")
        d = self.dialect
        where = ["m.is_own = 0"]
        if flt.kind == "dm":
            where.append("m.kind = 'dm'")
        elif flt.kind == "public":
            where.append("m.kind != 'dm'")
        if flt.status in ("open", "snoozed"):
            # a private conversation is one item: its newest open message stands for it
            where.append(_NEWEST_OPEN_DM)
        params: dict[str, Any] = {
            "now": now_ts,
            "now_iso": to_iso(datetime.fromtimestamp(now_ts, tz=timezone.utc)),
            "w": age_weight,
            "cap": max(age_cap_hours, 1e-9),
            "limit": flt.limit,
        }
        if flt.status == "open":
            where.append(
                "m.status = 'open' AND (m.snoozed_until IS NULL OR m.snoozed_until <= :now_iso)"
            )
        elif flt.status == "snoozed":
            where.append("m.status = 'open' AND m.snoozed_until > :now_iso")
        elif flt.status != "all":
            where.append("m.status = :status")
            params["status"] = flt.status
        for col in ("source", "assignee", "intent"):
            value = getattr(flt, col)
            if value is not None:
                where.append(f"m.{col} = :{col}")
                params[col] = value
        if flt.since_ts is not None:
            where.append("m.created_ts >= :since")
            params["since"] = flt.since_ts
        if flt.search:
            where.append(d.mention_search("m", "q"))
            params["q"] = d.search_terms(flt.search)
        if business is None:
            waited = d.greatest(":now - m.created_ts", "0")
        else:
            waited = business_waited_sql(len(business), d)
            for i, (start, end) in enumerate(business):
                params[f"be{i}"], params[f"bl{i}"] = end, end - start
        score = f"(m.static_score + :w * {d.least(f'{waited} / 3600.0', ':cap')} / :cap)"
        if flt.min_score is not None:
            where.append(f"{score} >= :min_score")
            params["min_score"] = flt.min_score
        order = (  # expressions, not output names: PostgreSQL allows only bare names there
            f"{score} DESC, m.rowid"
            if flt.sort == "score"
            else f"coalesce(m.sla_due_ts - :now, 1e18) ASC, {score} DESC, m.rowid"
        )
        ranked = self._rank(flt, where, params, score, order, business=business)
        if not ranked:
            return []
        marks = ", ".join("?" for _ in ranked)
        full = {
            r["_rowid"]: r
            for r in self._rows(
                f"SELECT rowid AS _rowid, * FROM mentions WHERE rowid IN ({marks})",
                [r[0] for r in ranked],
            )
        }
        out = []
        for rowid, score_value, sla_left, age in ranked:
            row = full[rowid]
            del row["_rowid"]
            row.update(score=score_value, sla_left=sla_left, age_seconds=age)
            out.append(row)
        self._add_conversation_counts(out, now_ts)
        return out

    def _add_conversation_counts(self, rows: list[Row], now_ts: float) -> None:
        """Give each DM row ``messages``: its conversation's open messages from the customer,
        and ``sla_left`` from the oldest of them (the customer has waited since then)."""
        for row in rows:
            row["messages"] = 1
        dms = [r for r in rows if r.get("kind") == "dm" and r.get("conversation_id")]
        by_source: dict[str, list[str]] = {}
        for row in dms:
            by_source.setdefault(str(row["source"]), []).append(str(row["conversation_id"]))
        found: dict[tuple[str, str], tuple[int, Any]] = {}
        for source, conversations in by_source.items():  # one query per source, not per row
            for chunk in in_chunks(sorted(set(conversations))):
                marks = ", ".join("?" for _ in chunk)
                for conv, n, due in self.conn.execute(
                    "SELECT conversation_id, count(*), min(sla_due_ts) FROM mentions "
                    "WHERE kind = 'dm' AND status = 'open' AND is_own = 0 AND source = ? "
                    f"AND conversation_id IN ({marks}) GROUP BY conversation_id",
                    [source, *chunk],
                ):
                    found[(source, str(conv))] = (int(n), due)
        for row in dms:
            n, due = found.get((str(row["source"]), str(row["conversation_id"])), (1, None))
            row["messages"] = max(n, 1)
            if due is not None:
                row["sla_left"] = float(due) - now_ts

    def open_conversation_ids(self, mention_id: str) -> list[str]:
        """The open messages from the customer in ``mention_id``'s private conversation
        (itself included), oldest first; just ``[mention_id]`` for anything but a DM."""
        row = self.get_mention(mention_id)
        if row.get("kind") != "dm" or not row.get("conversation_id"):
            return [mention_id]
        ids = [
            str(r[0])
            for r in self.conn.execute(
                "SELECT id FROM mentions WHERE kind = 'dm' AND status = 'open' AND is_own = 0 "
                "AND source = ? AND conversation_id = ? ORDER BY created_ts, id",
                [row["source"], row["conversation_id"]],
            )
        ]
        return ids if mention_id in ids else [*ids, mention_id]

    def _rank(
        self,
        flt: QueueFilter,
        where: list[str],
        params: dict[str, Any],
        score: str,
        order: str,
        *,
        business: Sequence[tuple[float, float]] | None = None,
    ) -> list[tuple[Any, ...]]:
        """``(rowid, score, sla_left, age_seconds)`` of the top ``flt.limit`` mentions.

        The waiting term is flat (the cap) for mentions older than the cap and
        linear in ``created_ts`` for younger ones, so the open queue ranked by
        score is read from index ranges instead of sorting every open row:

        1. a probe reads the best-``static_score`` rows (overall, and among those
           past the cap) in index order; the ``limit``-th best exact score among
           them, ``floor``, is a lower bound of the answer's last score;
        2. only rows that can reach ``floor`` are read: past the cap, those with
           ``static_score >= floor - age_weight``; younger, per hour range of
           ``idx_mentions_open_hour``, those with ``static_score >= floor`` minus
           the largest waiting term of that range; future ones ``>= floor``
           (``static_score`` is NOT NULL, so every row has a score);
        3. those few are ranked by the same score expression and order as the
           full sort, so the result is identical (ties broken by rowid).

        All of it is one statement: one round trip on PostgreSQL.

        Other orders, statuses and full-text search keep the plain sort.

        With ``business`` spans the waiting term counts business time; it is still
        monotone in ``created_ts``, so each hour range's largest term is at its oldest
        row (:func:`business_waited`), and the cap starts at the first span.
        """
        d = self.dialect
        columns = (
            f"m.rowid AS rid, {score} AS score, (m.sla_due_ts - :now) AS sla_left, "
            "(:now - m.created_ts) AS age_seconds"
        )
        base = " AND ".join(where)
        queue_hint = d.open_queue_hint() if flt.status in ("open", "snoozed") else ""
        plain = (
            f"SELECT {columns} FROM mentions m {queue_hint} WHERE {base} "
            f"ORDER BY {order} LIMIT :limit"
        )
        now, weight, cap = float(params["now"]), float(params["w"]), float(params["cap"])
        cap_start = None if business is None else (business[0][0] if business else now)
        hours = _rank_hours(now, cap, d.rank_hour_groups, cap_start)
        if (
            not self.index_ranking
            or flt.sort != "score"
            or flt.status not in ("open", "snoozed")
            or flt.search
            or flt.limit <= 0
            or hours is None
        ):
            return [tuple(r) for r in self.conn.execute(plain, params).fetchall()]
        young, groups, top = hours
        p = dict(params, young=young, probe_offset=flt.limit - 1, top=top, t_old=weight)
        # A backend may rank in a shape of its own (PostgreSQL: planning is its cost).
        own = d.index_rank_sql(
            columns=columns,
            where=where,
            probe_where=[_NOT_IN_A_CONVERSATION if w == _NEWEST_OPEN_DM else w for w in where],
            reach_where=[w for w in where if w != _NEWEST_OPEN_DM],
            score=score,
            queue_hint=queue_hint,
            limit=flt.limit,
            by_assignee=flt.assignee is not None,
        )
        if own is not None:
            # prepared from its first run: once the server settles on a generic plan
            # (after five custom ones), a queue refresh is planned no more
            return [tuple(r) for r in self.conn.execute(own, p, prepare=True).fetchall()]
        if self._at_most_rows(flt.status, self.plain_rank_rows):
            return [tuple(r) for r in self.conn.execute(plain, params).fetchall()]
        probe = (
            f"SELECT rid, score FROM (SELECT m.rowid AS rid, {score} AS score FROM mentions m "
            f"{queue_hint} WHERE {base} AND m.created_ts < :young "
            "ORDER BY m.static_score DESC LIMIT :limit) old "
            f"UNION SELECT rid, score FROM (SELECT m.rowid AS rid, {score} AS score FROM mentions m "
            f"{queue_hint} WHERE {base} ORDER BY m.static_score DESC LIMIT :limit) best"
        )
        # The floor: the limit-th best probed score, or -1e308 when fewer rows match
        # (then every row is a candidate). Bounds are loosened by a hair (e) so float
        # rounding can only add candidates; ``score >= v`` then drops exactly the rows
        # that cannot make the cut.
        floor = (
            "fl AS MATERIALIZED (SELECT f AS v, 1e-9 * (1 + abs(f) + :w) AS e FROM (SELECT "
            f"coalesce((SELECT score FROM ({probe}) p ORDER BY score DESC LIMIT 1 "
            "OFFSET :probe_offset), -1e308) AS f) x)"
        )
        reaches = f"{score} >= (SELECT v FROM fl)"
        hour = d.trunc_int("m.created_ts / 3600")
        hour_hint = d.open_hour_hint()
        branches = [
            f"SELECT {columns} FROM mentions m {queue_hint} WHERE {base} "
            "AND m.created_ts < :young AND m.static_score >= (SELECT v - :t_old - e FROM fl) "
            f"AND {reaches}",
            # future mentions (clock skew) have no waiting term yet
            f"SELECT {columns} FROM mentions m {hour_hint} WHERE {base} "
            f"AND m.created_ts >= :young AND {hour} > :top "
            f"AND m.static_score >= (SELECT v - e FROM fl) AND {reaches}",
        ]
        for i, (first, last, oldest_ts) in enumerate(groups):
            waited = now - oldest_ts if business is None else business_waited(business, oldest_ts)
            term = weight * min(max(waited, 0.0) / 3600.0, cap) / cap
            p[f"h{i}a"], p[f"h{i}b"], p[f"t{i}"] = first, last, term
            in_hours = f"{hour} = :h{i}a" if first == last else f"{hour} BETWEEN :h{i}a AND :h{i}b"
            branches.append(
                f"SELECT {columns} FROM mentions m {hour_hint} WHERE {base} "
                f"AND m.created_ts >= :young AND {in_hours} "
                f"AND m.static_score >= (SELECT v - :t{i} - e FROM fl) AND {reaches}"
            )
        # One statement (one round trip to a team server). MATERIALIZED: otherwise
        # SQLite turns the outer ORDER BY into one sort per branch and a merge, four
        # times slower for a dozen branches of a few rows each.
        sql = (
            f"WITH {floor}, candidates AS MATERIALIZED ({' UNION ALL '.join(branches)}) "
            "SELECT rid, score, sla_left, age_seconds FROM candidates "
            "ORDER BY score DESC, rid LIMIT :limit"
        )
        return [tuple(r) for r in self.conn.execute(sql, p).fetchall()]

    def _at_most_rows(self, status: str, most: int) -> bool:
        """Whether at most ``most`` mentions have ``status`` (reads at most ``most + 1``)."""
        if most <= 0:
            return False
        (n,) = self.conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM mentions WHERE status = ? LIMIT ?) AS s",
            (status, most + 1),
        ).fetchone()
        return int(n) <= most

    # -- workflow state -----------------------------------------------------
    def claim(self, mention_id: str, agent: str, *, force: bool = False) -> str | None:
        """Atomically assign to ``agent`` unless someone else holds it.

        Returns the previous assignee (None if it was free). When another agent
        holds it and ``force`` is false, nothing changes and that agent's name
        is returned, so two processes can never both believe they won.

        The claim is one conditional UPDATE (``WHERE assignee IS NULL OR
        assignee = me``): the database decides the race, on SQLite by its write
        lock and on PostgreSQL by the row lock the UPDATE takes, under which
        the loser re-reads the row, sees the winner and changes nothing.
        """
        now = to_iso(utcnow())
        with self.transaction():
            row = self.conn.execute(
                "SELECT assignee FROM mentions WHERE id = ?" + self.dialect.for_update(),
                [mention_id],
            ).fetchone()
            if row is None:
                raise NotFound(f"no mention with id '{mention_id}' (see `socialcare queue`)")
            holder = row[0]
            condition = "" if force else " AND (assignee IS NULL OR assignee = ?)"
            cur = self.conn.execute(
                f"UPDATE mentions SET assignee = ?, claimed_at = ? WHERE id = ?{condition}",
                [agent, now, mention_id] + ([] if force else [agent]),
            )
            if cur.rowcount != 1:
                return str(holder)
        return None if holder is None else str(holder)

    def claim_checked(self, mention_id: str, agent: str, *, force: bool = False) -> ClaimOutcome:
        """``claim`` with its collision checks and its audit event, as one decision.

        Under the customer's lock (:meth:`serialize_customer`) and the mention's
        row lock: unless ``force``, another agent holding one of the customer's
        other open mentions, or this one, leaves everything unchanged; otherwise
        the mention is assigned to ``agent`` and a ``claim`` event (``previous``,
        ``forced``) is logged. :class:`NotFound` for an unknown id.

        On PostgreSQL a claim without ``force`` is one statement: a call of m026's
        ``socialcare_claim_row`` function, which takes the customer's lock and then
        checks, updates and logs in one statement of data-modifying CTEs. One
        round trip instead of eleven, each of which costs a wake-up of the server
        and of the client on a loaded machine, and no pipeline mode, whose
        bookkeeping cost the client more CPU than the claim's own work.
        """
        if self.dialect.one_statement_claim and not force:
            return self._claim_one_call(mention_id, agent)
        with self.transaction():
            row = self.get_mention(mention_id)
            self.serialize_customer(row["author_key"])
            row = self.get_mention(mention_id, lock=True)
            if not force:
                keys = self.linked_author_keys(row["author_key"])
                others = [
                    r
                    for r in self.open_mentions_of(keys)
                    if r["id"] != row["id"] and r["assignee"] and r["assignee"] != agent
                ]
                if others:
                    return ClaimOutcome(
                        row["assignee"], row["claimed_at"], False, others[0]["id"],
                        others[0]["assignee"],
                    )  # fmt: skip
            holder = self.claim(mention_id, agent, force=force)
            won = force or not holder or holder == agent
            if won:
                self.log_event(
                    "claim", agent=agent, mention_id=mention_id, previous=holder, forced=force
                )
            return ClaimOutcome(holder, row["claimed_at"], won, None, None)

    def _claim_one_call(self, mention_id: str, agent: str) -> ClaimOutcome:
        """PostgreSQL's claim without ``force``: one statement (see :meth:`claim_checked`)."""
        params = [mention_id, agent, to_iso(utcnow()), *_claim_details(agent)]
        # Outside a transaction the call is its own (autocommit) transaction, which
        # holds the customer's lock until it commits; inside one, the outer decides.
        # call_row: libpq's prepared call without a psycopg cursor (text in, text out).
        row = self.conn.call_row(_CLAIM_CALL, params)
        if not self.conn.in_transaction:
            self.dialect.committed(self.conn)
        # one row always (OUT parameters); ``won`` is NULL only when there is no such mention
        holder, claimed_at, other_id, other_assignee, won = row or (None,) * 5
        if won is None:
            raise NotFound(f"no mention with id '{mention_id}' (see `socialcare queue`)")
        return ClaimOutcome(holder, claimed_at, won == "1", other_id, other_assignee)

    def set_assignee(self, mention_id: str, agent: str | None) -> None:
        """Assign to someone (or nobody) regardless of who holds it."""
        self.get_mention(mention_id)
        claimed = to_iso(utcnow()) if agent else None
        self.conn.execute(
            "UPDATE mentions SET assignee = ?, claimed_at = ? WHERE id = ?",
            [agent, claimed, mention_id],
        )

    def set_status(self, mention_id: str, status: str, *, snoozed_until: str | None = None) -> None:
        """Change a mention's workflow status (open, replied, closed)."""
        self.get_mention(mention_id)
        self.conn.execute(
            "UPDATE mentions SET status = ?, snoozed_until = ? WHERE id = ?",
            [status, snoozed_until, mention_id],
        )

    def set_tags(self, mention_id: str, tags: list[str]) -> None:
        """Replace a mention's tag list."""
        self.conn.execute(
            "UPDATE mentions SET tags = ? WHERE id = ?", [json.dumps(tags), mention_id]
        )

    def mark_answered(
        self, mention_id: str, at: str, by: str, *, conversation: bool = False
    ) -> None:
        """Record the first answer (keeps the earliest) and mark the mention replied.

        ``conversation`` (a reply in a private conversation) answers every open
        message of that conversation: the queue showed them as one item.
        """
        ids = self.open_conversation_ids(mention_id) if conversation else [mention_id]
        self.conn.executemany(
            "UPDATE mentions SET status = CASE WHEN status = 'open' THEN 'replied' ELSE status END, "
            "answered_at = coalesce(answered_at, ?), answered_by = coalesce(answered_by, ?) "
            "WHERE id = ?",
            [(at, by, i) for i in ids],
        )

    def conversation(self, source: str, conversation_id: str, limit: int = 200) -> list[Row]:
        """Stored mentions of one thread, oldest first."""
        return self._rows(
            "SELECT * FROM mentions WHERE source = ? AND conversation_id = ? "
            "ORDER BY created_ts LIMIT ?",
            [source, conversation_id, limit],
        )

    def find_mention(self, source: str, native_id: str) -> Row | None:
        """A stored mention by platform id, or None."""
        rows = self._rows(
            "SELECT * FROM mentions WHERE source = ? AND native_id = ?", [source, native_id]
        )
        return rows[0] if rows else None

    # -- authors and customers ----------------------------------------------
    def get_author(self, author_key: str) -> Row | None:
        """One platform identity, or None."""
        rows = self._rows("SELECT * FROM authors WHERE id = ?", [author_key])
        return rows[0] if rows else None

    def linked_author_keys(self, author_key: str) -> list[str]:
        """This identity and every identity linked to the same customer."""
        rows = self.conn.execute(
            "SELECT a2.id FROM authors a1 JOIN authors a2 ON a2.customer_id = a1.customer_id "
            "WHERE a1.id = ? AND a1.customer_id IS NOT NULL ORDER BY a2.id",
            [author_key],
        ).fetchall()
        keys = [r[0] for r in rows]
        return keys or [author_key]

    def serialize_customer(self, author_key: str) -> None:
        """Inside a transaction: one agent at a time decides about this customer.

        Claim and reply check the customer's other open mentions before writing;
        on PostgreSQL a transaction-scoped advisory lock on the customer (its
        first linked identity) makes that check and the write one step. SQLite
        needs nothing: its write transaction already admits one writer.
        """
        self.dialect.serialize_customer(self.conn, lambda: self.linked_author_keys(author_key)[0])

    def link_authors(self, first: str, second: str, name: str = "") -> int:
        """Put two identities under one customer (merging customers); returns its id."""
        with self.transaction():
            ids = []
            for key in (first, second):
                row = self.conn.execute(
                    "SELECT customer_id FROM authors WHERE id = ?", [key]
                ).fetchone()
                if row is None:
                    raise NotFound(f"no author '{key}' (use an author key or a mention id)")
                ids.append(row[0])
            customer = ids[0] or ids[1]
            if customer is None:
                customer = self.insert(
                    "INSERT INTO customers (name, created_at) VALUES (?, ?)",
                    [name, to_iso(utcnow())],
                )
            for key, old in zip((first, second), ids, strict=True):
                if old is not None and old != customer:
                    self.conn.execute(
                        "UPDATE authors SET customer_id = ? WHERE customer_id = ?", [customer, old]
                    )
                self.conn.execute(
                    "UPDATE authors SET customer_id = ? WHERE id = ?", [customer, key]
                )
        return int(customer)

    def unlink_author(self, author_key: str) -> None:
        """Detach one identity from its customer."""
        if self.get_author(author_key) is None:
            raise NotFound(f"no author '{author_key}'")
        self.conn.execute("UPDATE authors SET customer_id = NULL WHERE id = ?", [author_key])

    def authors_of_customer(self, author_key: str) -> list[Row]:
        """Every identity linked with this one (itself included)."""
        if not author_key:
            return []
        keys = self.linked_author_keys(author_key)
        marks = ", ".join("?" for _ in keys)
        return self._rows(f"SELECT * FROM authors WHERE id IN ({marks}) ORDER BY id", keys)

    def history(self, author_keys: Sequence[str], limit: int = 50) -> list[Row]:
        """Mentions by these identities, newest first ("" is no identity: no history)."""
        author_keys = [k for k in author_keys if k]
        if not author_keys:
            return []
        marks = ", ".join("?" for _ in author_keys)
        return self._rows(
            f"SELECT * FROM mentions WHERE author_key IN ({marks}) ORDER BY created_ts DESC LIMIT ?",
            [*author_keys, limit],
        )

    def open_mentions_of(self, author_keys: Sequence[str]) -> list[Row]:
        """Open mentions of these identities, for collision checks.

        ``is_own = 0`` (a customer's identities never post as the brand) makes
        the condition ``idx_mentions_author_open``'s own, so the check reads
        only this customer's rows; without it SQLite chose the status index
        and read every open mention: 2 s per claim in a store of 1M open.
        """
        keys = [k for k in author_keys if k]
        if not keys:
            return []
        return self._rows(open_mentions_of_sql(len(keys), self.dialect), keys)

    # -- outbox -------------------------------------------------------------
    def outbox_add(
        self,
        *,
        kind: str,
        source: str,
        mention_id: str | None,
        text: str,
        agent: str,
        due_at: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> int:
        """Queue something to send (status pending); returns its id.

        The item gets its idempotency key now: one per item, sent on every attempt.
        """
        now = to_iso(utcnow())
        return self.insert(
            "INSERT INTO outbox (kind, source, mention_id, text, status, agent, created_at, "
            "updated_at, due_at, options, idempotency_key) "
            "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)",
            [kind, source, mention_id, text, agent, now, now, due_at, json.dumps(options or {}),
             uuid.uuid4().hex],
        )  # fmt: skip

    def outbox_get(self, item_id: int) -> Row:
        """One outbox item or NotFound."""
        rows = self._rows("SELECT * FROM outbox WHERE id = ?", [item_id])
        if not rows:
            raise NotFound(f"no outbox item {item_id} (see `socialcare outbox`)")
        return rows[0]

    def outbox_transition(
        self, item_id: int, from_states: Sequence[str], to_state: str, **fields: Any
    ) -> bool:
        """Move an item to ``to_state`` only if it is in one of ``from_states``.

        A conditional UPDATE, so of two processes racing for the same item only
        one sees True: that is what makes a double send impossible.
        """
        sets = ["status = ?", "updated_at = ?"] + [f"{k} = ?" for k in fields]
        marks = ", ".join("?" for _ in from_states)
        cur = self.conn.execute(
            f"UPDATE outbox SET {', '.join(sets)} WHERE id = ? AND status IN ({marks})",
            [to_state, to_iso(utcnow()), *fields.values(), item_id, *from_states],
        )
        return bool(cur.rowcount == 1)

    def outbox_for_mention(self, mention_id: str) -> list[Row]:
        """Outbox items (replies, follow-ups) for one mention, oldest first."""
        return self._rows("SELECT * FROM outbox WHERE mention_id = ? ORDER BY id", [mention_id])

    def outbox_for_mentions(self, mention_ids: Sequence[str]) -> list[Row]:
        """Outbox items for several mentions (customer history), newest first."""
        if not mention_ids:
            return []
        marks = ", ".join("?" for _ in mention_ids)
        return self._rows(
            f"SELECT * FROM outbox WHERE mention_id IN ({marks}) ORDER BY id DESC",
            list(mention_ids),
        )

    def outbox_list(
        self,
        statuses: Sequence[str] = ("pending", "sending", "unknown", "failed"),
        kind: str | None = None,
        limit: int = 200,
    ) -> list[Row]:
        """Outbox items in these states, oldest first."""
        marks = ", ".join("?" for _ in statuses)
        where = f"status IN ({marks})"
        params: list[Any] = list(statuses)
        if kind:
            where += " AND kind = ?"
            params.append(kind)
        return self._rows(
            f"SELECT * FROM outbox WHERE {where} ORDER BY id LIMIT ?", [*params, limit]
        )

    def notes_for_mentions(self, mention_ids: Sequence[str]) -> list[Row]:
        """Internal notes on these mentions, newest first."""
        if not mention_ids:
            return []
        marks = ", ".join("?" for _ in mention_ids)
        return self._rows(
            f"SELECT * FROM events WHERE action = 'note' AND mention_id IN ({marks}) ORDER BY id DESC",
            list(mention_ids),
        )

    # -- cursors ------------------------------------------------------------
    def get_cursor(self, source: str, query: str) -> str | None:
        """The stored cursor for a source's query, or None before the first poll."""
        row = self.conn.execute(
            "SELECT cursor FROM cursors WHERE source = ? AND query = ?", [source, query]
        ).fetchone()
        return None if row is None else row[0]

    def set_cursor(self, source: str, query: str, cursor: str) -> None:
        """Move a cursor; call inside the transaction that stored its mentions."""
        self.conn.execute(
            "INSERT INTO cursors (source, query, cursor, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(source, query) DO UPDATE SET cursor = excluded.cursor, "
            "updated_at = excluded.updated_at",
            [source, query, cursor, to_iso(utcnow())],
        )

    def cursors(self) -> list[Row]:
        """Every cursor, for status displays."""
        return self._rows("SELECT * FROM cursors ORDER BY source, query")

    # -- source health ------------------------------------------------------
    def record_poll(
        self,
        source: str,
        query: str,
        *,
        items: int | None,
        error: str | None,
        rate_limit_remaining: int | None = None,
        rate_limit_reset: str | None = None,
    ) -> None:
        """Remember how a poll of one query went (success or the error in one line)."""
        now = to_iso(utcnow())
        with self.transaction():
            self.conn.execute(
                "INSERT INTO source_health (source, query) VALUES (?, ?) "
                "ON CONFLICT(source, query) DO NOTHING",
                [source, query],
            )
            if error is None:
                self.conn.execute(
                    "UPDATE source_health SET last_attempt_at = ?, last_success_at = ?, "
                    "items_last_poll = ?, rate_limit_remaining = coalesce(?, rate_limit_remaining), "
                    "rate_limit_reset = coalesce(?, rate_limit_reset) WHERE source = ? AND query = ?",
                    [now, now, items, rate_limit_remaining, rate_limit_reset, source, query],
                )
            else:
                self.conn.execute(
                    "UPDATE source_health SET last_attempt_at = ?, last_error = ?, last_error_at = ?, "
                    "rate_limit_remaining = coalesce(?, rate_limit_remaining), "
                    "rate_limit_reset = coalesce(?, rate_limit_reset) WHERE source = ? AND query = ?",
                    [now, error, now, rate_limit_remaining, rate_limit_reset, source, query],
                )

    def source_health(self) -> list[Row]:
        """Per source and query: last success, last error, items, rate limit."""
        return self._rows("SELECT * FROM source_health ORDER BY source, query")

    # -- audit log ----------------------------------------------------------
    def log_event(
        self, action: str, *, agent: str = "", mention_id: str | None = None, **detail: Any
    ) -> None:
        """Append to the audit log (who did what to which mention, when)."""
        # where the store counts the table's rows (m024), the row and its count commit together
        counted = "events" in self.dialect.store_counted
        with self.transaction() if counted else nullcontext():
            self.conn.execute(
                "INSERT INTO events (at, agent, action, mention_id, detail) VALUES (?, ?, ?, ?, ?)",
                [to_iso(utcnow()), agent, action, mention_id, json.dumps(detail, default=str)],
            )
            self.dialect.rows_inserted(self.conn, "events", 1)
        if not self.conn.in_transaction:
            self.conn.commit()

    def events(
        self,
        *,
        mention_id: str | None = None,
        agent: str | None = None,
        action: str | None = None,
        limit: int = 100,
    ) -> list[Row]:
        """Newest audit-log entries first, optionally filtered."""
        where, params = ["1 = 1"], []
        for col, value in (("mention_id", mention_id), ("agent", agent), ("action", action)):
            if value is not None:
                where.append(f"{col} = ?")
                params.append(value)
        return self._rows(
            f"SELECT * FROM events WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
            [*params, limit],
        )


def _sqlite_utils() -> Any:
    """sqlite-utils, imported without numpy and pandas unless something already loaded them.

    sqlite-utils imports both (when installed) only to map their scalar types to
    column types when it infers a table from values; the store declares every
    column itself, and loading numpy took most of a `socialcare queue` run.
    """
    if "sqlite_utils" in sys.modules:
        return sys.modules["sqlite_utils"]
    hidden = [name for name in ("numpy", "pandas") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import numpy` fail
    try:
        import sqlite_utils
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]
    return sqlite_utils


def open_store(database: str | Path, *, upgrade: bool = True) -> Store:
    """Open a store and (unless ``upgrade`` is false) migrate it to the newest schema.

    ``database`` is a SQLite file path (created if needed), ``:memory:``, or a
    ``postgresql://`` URL of a team server (whose database must exist).
    """
    target = str(database)
    if is_postgres_url(target):
        from .pg import PgConnection, connect

        pg = PgConnection(connect(target))
        store = Store(pg, target, PostgresDialect())
        try:
            check_is_socialcare_store(store)
        except NotAStore:
            store.close()
            raise
        if upgrade:
            migrate(pg, store.dialect)
        return store
    if "://" in target:
        scheme = target.split("://", 1)[0]
        raise ConfigError(
            f"database: unsupported URL scheme '{scheme}://' (use postgresql://... for a team "
            "server, or a file path for the embedded SQLite store)"
        )
    if target != ":memory:":
        try:
            private_file(private_dir(Path(target).expanduser().parent) / Path(target).name)
        except OSError as exc:
            raise ConfigError(f"database: cannot create {target} ({exc.strerror})") from None
    try:
        conn = sqlite3.connect(target, isolation_level=None, timeout=30)
    except sqlite3.OperationalError as exc:
        raise ConfigError(f"database: cannot open {target} ({exc})") from None
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA foreign_keys = ON")
    # what sqlite-utils' Database sets on every connection it wraps, which each open did
    # before the Database was built only for migrations: triggers behave as they did
    conn.execute("PRAGMA recursive_triggers = ON")
    store = Store(conn, target, SqliteDialect(), WRAP_SQLITE)
    try:
        applied = check_is_socialcare_store(store)  # first, before WAL mode rewrites the header
        if target != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            # A bigger page cache keeps the indexes' hot pages in memory on large stores.
            conn.execute("PRAGMA cache_size = -65536")
            # Reading through a memory map avoids a read() syscall per page on big stores.
            conn.execute("PRAGMA mmap_size = 1073741824")
            # Each row of an insert with triggers (FTS) and ON CONFLICT keeps a statement
            # journal of every page it touches; on disk that was ~64 KB written per
            # mention, 20-30x the store's size over a poll. In memory it is freed per row.
            conn.execute("PRAGMA temp_store = MEMORY")
        if upgrade and set(migration_names(store.dialect)) - set(applied):
            migrate(store.db, store.dialect)  # builds sqlite-utils' Database: only when needed
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise NotAStore(
            f"database: {target} is not a socialcare store ({exc}); point `database` at "
            "another file, or move this one away"
        ) from None
    except NotAStore:
        conn.close()
        raise
    return store


def check_is_socialcare_store(store: Store) -> list[str]:
    """Refuse a database socialcare must not write: another program's, or a newer schema.

    An empty database becomes a store; one with tables but no record of
    socialcare's migrations belongs to someone else; one that has applied
    migrations this version does not know was upgraded by a newer socialcare,
    and writing to it with older code could corrupt it. Returns the names of the
    migrations the store has applied (empty for a new one).
    """
    applied = store.applied_migrations()
    if not applied:
        tables = store.dialect.user_tables(store.conn)
        if tables:
            raise NotAStore(
                f"database: {store.location} already holds {tables} table(s) of another program "
                "and no socialcare schema; use a new file for socialcare"
            )
        return []
    known = set(migration_names(store.dialect))
    unknown = sorted(set(applied) - known)
    if unknown:
        raise NotAStore(
            f"database: {store.location} has schema version {len(applied)} (with "
            f"{', '.join(unknown)}), newer than this socialcare knows ({len(known)}): upgrade "
            "socialcare (`pip install -U socialcare`) before using it; nothing was written"
        )
    return applied
