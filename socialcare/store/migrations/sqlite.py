"""SQLite schema migrations, append-only: never edit or renumber one after it is merged.

Each ``mNNN_what(db)`` runs once, in its own transaction, and is recorded by
name with its UTC time in ``_socialcare_migrations``. ``open_db`` runs
:func:`migrate` on every open, so a store is always at the newest schema.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # the runner builds the Database only when a migration is pending
    import sqlite_utils

from .pointers import FOREIGN_KEYS, repair_pointers

Migration = Callable[["sqlite_utils.Database"], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    """Register ``fn`` as the next migration (order of definition is the order applied)."""
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_create_core(db: sqlite_utils.Database) -> None:
    """Mentions, authors, customers, cursors, events, outbox, source health, FTS."""
    db.execute(
        """
        CREATE TABLE mentions (
            id TEXT PRIMARY KEY,            -- source:native_id
            source TEXT NOT NULL,
            native_id TEXT NOT NULL,
            query TEXT NOT NULL DEFAULT '',
            url TEXT NOT NULL DEFAULT '',
            author_key TEXT NOT NULL,       -- source:author_id -> authors.id
            author_id TEXT NOT NULL,
            author_handle TEXT NOT NULL DEFAULT '',
            author_name TEXT NOT NULL DEFAULT '',
            author_followers INTEGER,
            text TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,       -- UTC ISO-8601
            created_ts REAL NOT NULL,       -- same instant, unix seconds, for fast age maths
            fetched_at TEXT NOT NULL,
            language TEXT,
            conversation_id TEXT,
            parent_id TEXT,
            kind TEXT NOT NULL DEFAULT 'post',
            repost_of TEXT,
            repost_count INTEGER NOT NULL DEFAULT 0,
            raw TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL DEFAULT 'open',   -- open, replied, closed, spam
            is_own INTEGER NOT NULL DEFAULT 0,     -- posted by one of the brand's accounts
            assignee TEXT,
            claimed_at TEXT,
            snoozed_until TEXT,
            tags TEXT NOT NULL DEFAULT '[]',
            answered_at TEXT,
            answered_by TEXT,
            -- triage (static part; the age term is added at read time)
            sentiment_compound REAL,
            sentiment_pos REAL,
            sentiment_neu REAL,
            sentiment_neg REAL,
            sentiment_scored INTEGER NOT NULL DEFAULT 0,
            intent TEXT,
            static_score REAL NOT NULL DEFAULT 0,
            signals TEXT NOT NULL DEFAULT '{}',
            sla_due_ts REAL,
            triaged_at TEXT
        )
        """
    )
    db.execute("CREATE UNIQUE INDEX idx_mentions_source_native ON mentions(source, native_id)")
    db.execute("CREATE INDEX idx_mentions_author ON mentions(author_key, created_ts)")
    db.execute("CREATE INDEX idx_mentions_status_score ON mentions(status, static_score)")
    db.execute("CREATE INDEX idx_mentions_created ON mentions(created_ts)")
    db.execute("CREATE INDEX idx_mentions_conversation ON mentions(source, conversation_id)")
    db.execute(
        """
        CREATE TABLE customers (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE authors (
            id TEXT PRIMARY KEY,            -- source:author_id
            source TEXT NOT NULL,
            native_id TEXT NOT NULL,
            handle TEXT NOT NULL DEFAULT '',
            name TEXT NOT NULL DEFAULT '',
            followers INTEGER,
            customer_id INTEGER REFERENCES customers(id),
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_authors_customer ON authors(customer_id)")
    db.execute(
        """
        CREATE TABLE cursors (
            source TEXT NOT NULL,
            query TEXT NOT NULL,
            cursor TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (source, query)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            agent TEXT NOT NULL DEFAULT '',
            action TEXT NOT NULL,
            mention_id TEXT,
            detail TEXT NOT NULL DEFAULT '{}'
        )
        """
    )
    db.execute("CREATE INDEX idx_events_mention ON events(mention_id, id)")
    db.execute("CREATE INDEX idx_events_at ON events(at)")
    db.execute(
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,             -- reply, followup, post
            source TEXT NOT NULL,
            mention_id TEXT,
            text TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',  -- pending, sending, sent, failed, cancelled, skipped
            agent TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            due_at TEXT,
            sent_at TEXT,
            platform_id TEXT,
            url TEXT,
            error TEXT,
            options TEXT NOT NULL DEFAULT '{}'
        )
        """
    )
    db.execute("CREATE INDEX idx_outbox_status_due ON outbox(status, due_at)")
    db.execute("CREATE INDEX idx_outbox_mention ON outbox(mention_id)")
    db.execute(
        """
        CREATE TABLE source_health (
            source TEXT NOT NULL,
            query TEXT NOT NULL,
            last_attempt_at TEXT,
            last_success_at TEXT,
            last_error TEXT,
            last_error_at TEXT,
            items_last_poll INTEGER,
            rate_limit_remaining INTEGER,
            rate_limit_reset TEXT,
            PRIMARY KEY (source, query)
        )
        """
    )
    # External-content FTS5 index kept in step by triggers (written by hand rather
    # than with enable_fts, whose executescript would commit our transaction).
    db.execute(
        """
        CREATE VIRTUAL TABLE mentions_fts USING fts5(
            text, author_handle, author_name,
            content='mentions', content_rowid='rowid',
            tokenize='porter unicode61 remove_diacritics 2'
        )
        """
    )
    db.execute(
        """
        CREATE TRIGGER mentions_ai AFTER INSERT ON mentions BEGIN
            INSERT INTO mentions_fts (rowid, text, author_handle, author_name)
            VALUES (new.rowid, new.text, new.author_handle, new.author_name);
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER mentions_ad AFTER DELETE ON mentions BEGIN
            INSERT INTO mentions_fts (mentions_fts, rowid, text, author_handle, author_name)
            VALUES ('delete', old.rowid, old.text, old.author_handle, old.author_name);
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER mentions_au AFTER UPDATE OF text, author_handle, author_name ON mentions
        BEGIN
            INSERT INTO mentions_fts (mentions_fts, rowid, text, author_handle, author_name)
            VALUES ('delete', old.rowid, old.text, old.author_handle, old.author_name);
            INSERT INTO mentions_fts (rowid, text, author_handle, author_name)
            VALUES (new.rowid, new.text, new.author_handle, new.author_name);
        END
        """
    )


@migration
def m002_followups_ingest_kb(db: sqlite_utils.Database) -> None:
    """Schema for follow-ups, gap tracking, repost folding, poll budgets and the knowledge base."""
    db.execute("CREATE INDEX idx_outbox_kind_status_due ON outbox(kind, status, due_at)")
    # Ranges a cut-short newest-first poll skipped; backfilled by later polls, closed when filled.
    db.execute(
        """
        CREATE TABLE gaps (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            source TEXT NOT NULL,
            query TEXT NOT NULL,
            after_cursor TEXT,          -- exclusive lower bound (the old cursor), NULL = beginning
            before_cursor TEXT NOT NULL, -- exclusive upper bound (oldest item fetched)
            resume_token TEXT,          -- adapter's pagination token to continue the backfill
            created_at TEXT NOT NULL,
            closed_at TEXT,
            reason TEXT NOT NULL DEFAULT ''
        )
        """
    )
    db.execute("CREATE INDEX idx_gaps_open ON gaps(source, query, closed_at)")
    # Reposts/retweets folded into the original mention instead of queued.
    db.execute(
        """
        CREATE TABLE reposts (
            id TEXT PRIMARY KEY,        -- source:native_id of the repost
            original_id TEXT NOT NULL,  -- mentions.id of the original
            author_key TEXT NOT NULL,
            author_handle TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX idx_reposts_original ON reposts(original_id)")
    db.execute("ALTER TABLE source_health ADD COLUMN next_poll_at TEXT")
    db.execute("ALTER TABLE source_health ADD COLUMN requests_used INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE source_health ADD COLUMN budget_period_start TEXT")
    # Knowledge base: where articles come from, the articles, and their FTS index.
    db.execute(
        """
        CREATE TABLE kb_sources (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            location TEXT NOT NULL UNIQUE,  -- path or URL as given to `kb add`
            kind TEXT NOT NULL,             -- file, folder, sitemap, feed, page
            etag TEXT,
            last_modified TEXT,
            last_fetched TEXT,
            last_error TEXT
        )
        """
    )
    db.execute(
        """
        CREATE TABLE kb_articles (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            source_id INTEGER REFERENCES kb_sources(id),
            url TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL DEFAULT '',
            body TEXT NOT NULL DEFAULT '',
            tags TEXT NOT NULL DEFAULT '[]',
            last_seen TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE VIRTUAL TABLE kb_fts USING fts5(
            title, body, tags,
            content='kb_articles', content_rowid='id',
            tokenize='porter unicode61 remove_diacritics 2'
        )
        """
    )
    db.execute(
        """
        CREATE TRIGGER kb_ai AFTER INSERT ON kb_articles BEGIN
            INSERT INTO kb_fts (rowid, title, body, tags) VALUES (new.id, new.title, new.body, new.tags);
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER kb_ad AFTER DELETE ON kb_articles BEGIN
            INSERT INTO kb_fts (kb_fts, rowid, title, body, tags)
            VALUES ('delete', old.id, old.title, old.body, old.tags);
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER kb_au AFTER UPDATE ON kb_articles BEGIN
            INSERT INTO kb_fts (kb_fts, rowid, title, body, tags)
            VALUES ('delete', old.id, old.title, old.body, old.tags);
            INSERT INTO kb_fts (rowid, title, body, tags) VALUES (new.id, new.title, new.body, new.tags);
        END
        """
    )
    # Which knowledge-base article a reply carried (deflection report).
    db.execute("ALTER TABLE outbox ADD COLUMN kb_article_id INTEGER")


@migration
def m003_ingest_usage(db: sqlite_utils.Database) -> None:
    """Per-hour request/item counters (monthly budgets, last-24h counts) and a parent index.

    Counters are bumped in the same transaction as each stored page, so a
    crash can never make the budget forget requests already paid for. The
    index lets a stored mention find the brand's reply that arrived first.
    """
    db.execute(
        """
        CREATE TABLE ingest_usage (
            source TEXT NOT NULL,
            query TEXT NOT NULL,
            hour TEXT NOT NULL,             -- UTC 'YYYY-MM-DDTHH'
            requests INTEGER NOT NULL DEFAULT 0,
            items INTEGER NOT NULL DEFAULT 0,
            new INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (source, query, hour)
        )
        """
    )
    db.execute("CREATE INDEX idx_mentions_parent ON mentions(source, parent_id)")


@migration
def m004_queue_covering_index(db: sqlite_utils.Database) -> None:
    """A partial covering index over open mentions, so ranking the queue never reads the table.

    The queue's score has a waiting-time term computed at read time, so no
    index can hold the order; but with every column the ranking and its
    filters need in one small index of open rows, sorting 20k open mentions
    costs a few milliseconds even in a store of millions.
    """
    db.execute(
        "CREATE INDEX idx_mentions_open_queue ON mentions("
        "static_score, created_ts, sla_due_ts, is_own, snoozed_until, source, intent, assignee"
        ") WHERE status = 'open'"
    )


@migration
def m005_open_by_author_index(db: sqlite_utils.Database) -> None:
    """A partial index of each author's open mentions, for the repeat-contact count.

    Triage counts, per new mention, the author's earlier mentions still open.
    PostgreSQL without fresh statistics (a new store's first big poll) ANDed
    ``idx_mentions_author`` with the status index, reading every open mention
    once per new one: ingest went quadratic. An index holding exactly the
    rows that count leaves one plan on both backends: an index-only range scan.
    """
    db.execute(
        "CREATE INDEX idx_mentions_author_open ON mentions(author_key, created_ts) "
        "WHERE status = 'open' AND is_own = 0"
    )


@migration
def m006_queue_index_carries_rowid(db: sqlite_utils.Database) -> None:
    """Nothing to do on SQLite: every SQLite index already carries the rowid.

    PostgreSQL's twin adds ``rowid`` to the open-queue index, so ranking the
    queue is an index-only scan there too.
    """


@migration
def m007_triage_model(db: sqlite_utils.Database) -> None:
    """Trained "needs an answer" models, shared by everyone on the store.

    ``model`` is the model's versioned JSON (never pickle: the store is
    shared and loading must not run code). At most one row is ``active``;
    training inserts a new active row and deactivates the old one in the
    same transaction, so a reader sees the old model or the new, never half
    of one. ``--reset`` deactivates every row; old rows stay as history.
    ``store_labels`` is how many labels the store's own history held at
    training time, for ``[triage] retrain_every``.
    """
    db.execute(
        """
        CREATE TABLE triage_models (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at TEXT NOT NULL,       -- UTC ISO-8601
            labels_answer INTEGER NOT NULL,
            labels_no_answer INTEGER NOT NULL,
            store_labels INTEGER NOT NULL DEFAULT 0,
            cv_auc REAL,
            model TEXT NOT NULL,            -- LearnedModel.to_bytes() JSON
            active INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    db.execute("CREATE INDEX idx_triage_models_active ON triage_models(active, id)")


@migration
def m008_review_fields(db: sqlite_utils.Database) -> None:
    """Review columns on mentions: star ``rating``, platform ``updated_at`` and ``meta``.

    ``rating`` is 1..5 for reviews (NULL otherwise); ``updated_at`` is when the
    platform last changed the item (an edited review), UTC ISO text; ``meta``
    is a JSON object of platform extras (app version, territory, location).
    The index serves the rating report (reviews of one period by source).
    """
    db.execute("ALTER TABLE mentions ADD COLUMN rating INTEGER")
    db.execute("ALTER TABLE mentions ADD COLUMN updated_at TEXT")
    db.execute("ALTER TABLE mentions ADD COLUMN meta TEXT NOT NULL DEFAULT '{}'")
    db.execute(
        "CREATE INDEX idx_mentions_rated ON mentions(created_ts, source, rating) "
        "WHERE rating IS NOT NULL"
    )


@migration
def m009_outbox_unknown_owner(db: sqlite_utils.Database) -> None:
    """Exactly once under unknown outcomes: the outbox item's key and its sender.

    ``idempotency_key`` is made once per item and sent on every attempt, so a
    platform that honours it publishes a retried item once. ``owner_host``,
    ``owner_pid`` and ``owner_started_at`` name the process that moved the item
    to ``sending`` and when: retry refuses while that process may still be
    waiting on the platform. The new status ``unknown`` needs no DDL (status is
    free text); it marks an item the platform may or may not have published.
    """
    db.execute("ALTER TABLE outbox ADD COLUMN idempotency_key TEXT")
    db.execute("ALTER TABLE outbox ADD COLUMN owner_host TEXT")
    db.execute("ALTER TABLE outbox ADD COLUMN owner_pid INTEGER")
    db.execute("ALTER TABLE outbox ADD COLUMN owner_started_at TEXT")


@migration
def m010_conversations(db: sqlite_utils.Database) -> None:
    """Private conversations: one queue item per open DM conversation.

    The queue shows only the newest open message of each ``dm`` conversation,
    so the open-queue index now carries ``kind`` and ``conversation_id`` (the
    ranking stays an index-only scan), and a partial index of open DMs by
    conversation answers "is there a newer open message?" and the per-item
    message count with a range scan. No new column: ``conversation_id`` was on
    every row since m001, and a take-it-to-DM pair is linked in ``outbox.options``.
    """
    db.execute("DROP INDEX idx_mentions_open_queue")
    db.execute(
        "CREATE INDEX idx_mentions_open_queue ON mentions("
        "static_score, created_ts, sla_due_ts, is_own, snoozed_until, source, intent, assignee, "
        "kind, conversation_id) WHERE status = 'open'"
    )
    db.execute(
        "CREATE INDEX idx_mentions_open_dm ON mentions(source, conversation_id, created_ts) "
        "WHERE kind = 'dm' AND status = 'open' AND is_own = 0"
    )


@migration
def m011_incidents(db: sqlite_utils.Database) -> None:
    """Incidents: an outage's matching rule, its mentions, and what was sent about it.

    ``incidents.terms`` is the matching rule as a JSON list of alternatives
    (each one a full-text query whose words are all required); a mention
    created at or after ``since_ts`` that matches any of them is attached.
    ``incident_mentions.removed`` keeps an agent's ``incident remove`` from
    being undone by the next poll. ``incident_sends`` has one row per
    (incident, kind, target): its primary key is what makes ``incident reply``
    send one acknowledgement per customer (kind ``ack``, target the author
    key), one "fixed" follow-up (``followup``) and one status post per source
    and text (``post``), whatever reruns or crashes happen in between.
    """
    db.execute(
        """
        CREATE TABLE incidents (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            match TEXT NOT NULL DEFAULT '',      -- the rule as the agent typed it
            terms TEXT NOT NULL DEFAULT '[]',    -- JSON list of full-text alternatives
            since_at TEXT,                       -- UTC ISO-8601; NULL = any age
            since_ts REAL,
            status TEXT NOT NULL DEFAULT 'open', -- open, resolved
            opened_at TEXT NOT NULL,
            opened_by TEXT NOT NULL DEFAULT '',
            resolved_at TEXT,
            resolved_by TEXT,
            spike TEXT                           -- JSON: the spike it came from, if any
        )
        """
    )
    db.execute("CREATE INDEX idx_incidents_status ON incidents(status)")
    db.execute(
        """
        CREATE TABLE incident_mentions (
            incident_id INTEGER NOT NULL,
            mention_id TEXT NOT NULL,
            added_at TEXT NOT NULL,
            added_by TEXT NOT NULL DEFAULT '',   -- '' = the matching rule
            removed INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (incident_id, mention_id)
        )
        """
    )
    db.execute("CREATE INDEX idx_incident_mentions_mention ON incident_mentions(mention_id)")
    db.execute(
        """
        CREATE TABLE incident_sends (
            incident_id INTEGER NOT NULL,
            kind TEXT NOT NULL,                  -- ack, followup, post
            target TEXT NOT NULL,                -- author key, or source:text hash for posts
            mention_id TEXT,
            outbox_id INTEGER,
            created_at TEXT NOT NULL,
            PRIMARY KEY (incident_id, kind, target)
        )
        """
    )


@migration
def m012_scale_indexes(db: sqlite_utils.Database) -> None:
    """Indexes that keep the queue, status lines and reports off whole-store scans.

    * ``idx_mentions_open_hour``: open mentions by hour of creation, then static
      score. Within one hour the waiting term varies by at most
      ``age_weight / age_cap_hours``, so the queue reads each young hour's
      best-scored rows by range instead of sorting every open mention (the
      hour is a fixed 3600 s, so no setting is baked into the index).
    * ``idx_mentions_source_own_created``: newest and first mention per source
      (``status``, ``report spikes``) as one index probe per source.
    * ``idx_mentions_answered``: the report's answered-in-window query.
    * ``idx_mentions_spikes``: every column ``report spikes`` counts, so its 25
      windows are read from the index alone (it starts with ``is_own``, not
      ``created_ts``, so the export's ``created_ts, rowid`` order keeps
      ``idx_mentions_created``).

    Both open-queue indexes end with ``status``: SQLite does not infer a column's
    value from a partial index's WHERE, so without it every ranked row was read
    from the table to re-check ``status = 'open'`` (``idx_mentions_open_queue`` is
    rebuilt for that, keeping m010's ``kind`` and ``conversation_id``; PostgreSQL's
    twin needs no such column).
    """
    db.execute(
        "CREATE INDEX idx_mentions_open_hour ON mentions("
        "CAST(created_ts / 3600 AS INTEGER), static_score, created_ts, sla_due_ts, is_own, "
        "snoozed_until, source, intent, assignee, kind, conversation_id, status) "
        "WHERE status = 'open'"
    )
    db.execute("DROP INDEX idx_mentions_open_queue")
    db.execute(
        "CREATE INDEX idx_mentions_open_queue ON mentions("
        "static_score, created_ts, sla_due_ts, is_own, snoozed_until, source, intent, assignee, "
        "kind, conversation_id, status) WHERE status = 'open'"
    )
    db.execute(
        "CREATE INDEX idx_mentions_source_own_created ON mentions(source, is_own, created_ts)"
    )
    db.execute(
        "CREATE INDEX idx_mentions_answered ON mentions(answered_at) WHERE answered_at IS NOT NULL"
    )
    db.execute(
        "CREATE INDEX idx_mentions_spikes ON mentions(is_own, created_ts, status, source, intent, "
        "sentiment_scored, sentiment_compound)"
    )


@migration
def m013_team(db: sqlite_utils.Database) -> None:
    """Team mode: agents' availability, routing decisions and their turns, notifications sent.

    ``team_agents`` holds who is away (the roster itself is config's
    ``[routing.teams]``). ``team_routes`` has one row per routed mention: its
    primary key is what keeps two pollers from routing one mention twice.
    ``team_turns`` is each team's round-robin position; updating its row first
    serialises two pollers routing into the same team. ``team_notifications``
    has one row per (event, target) key: the insert that wins is the one send.
    ``team_routes`` is WITHOUT ROWID: a routed mention costs one B-tree insert, not
    two. ``idx_mentions_open_assigned`` serves the per-agent load: it holds only open,
    assigned mentions, so ingest of unassigned ones does not maintain it.
    """
    db.execute(
        """
        CREATE TABLE team_agents (
            name TEXT PRIMARY KEY,
            away INTEGER NOT NULL DEFAULT 0,
            changed_at TEXT NOT NULL,
            changed_by TEXT NOT NULL DEFAULT ''
        )
        """
    )
    db.execute(
        """
        CREATE TABLE team_routes (
            mention_id TEXT PRIMARY KEY,
            rule TEXT NOT NULL,
            team TEXT,
            assignee TEXT,
            routed_at TEXT NOT NULL
        ) WITHOUT ROWID
        """
    )
    db.execute(
        """
        CREATE TABLE team_turns (
            team TEXT PRIMARY KEY,
            turn INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    db.execute(
        """
        CREATE TABLE team_notifications (
            key TEXT PRIMARY KEY,
            target TEXT NOT NULL,
            event TEXT NOT NULL,
            subject TEXT NOT NULL DEFAULT '',
            outbox_id INTEGER,
            created_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        "CREATE INDEX idx_team_notifications_target ON team_notifications(target, created_at)"
    )
    db.execute(
        "CREATE INDEX idx_mentions_open_assigned ON mentions(assignee) "
        "WHERE status = 'open' AND assignee IS NOT NULL"
    )


#: the external-content FTS5 indexes: (index, content table, its rowid, indexed columns)
_FTS_INDEXES = (
    ("mentions_fts", "mentions", "rowid", "text, author_handle, author_name"),
    ("kb_fts", "kb_articles", "id", "title, body, tags"),
)


@migration
def m015_datasette_fts(db: sqlite_utils.Database) -> None:
    """Full-text indexes that Datasette and sqlite-utils recognise as their table's.

    Both look for ``content="mentions"`` (double quotes, as ``enable_fts``
    writes it) in the index's SQL; m001 and m002 wrote ``content='mentions'``,
    so Datasette offered no search box and ``sqlite-utils search`` found no
    index. The index is dropped and made again with the same columns and
    tokenizer, then rebuilt from its content table (on a large store this
    takes a while, once). The triggers that keep it in step name the index,
    not its definition, and stay as they are.
    """
    for index, table, rowid, columns in _FTS_INDEXES:
        db.execute(f"DROP TABLE {index}")
        db.execute(
            f"CREATE VIRTUAL TABLE {index} USING fts5({columns}, "
            f'content="{table}", content_rowid="{rowid}", '
            "tokenize='porter unicode61 remove_diacritics 2')"
        )
        db.execute(f"INSERT INTO {index} ({index}) VALUES ('rebuild')")


#: m016's column definitions: as m001 wrote them, and with the foreign key
_FK_COLUMNS = {
    "mentions": (
        "author_key TEXT NOT NULL,",
        "author_key TEXT REFERENCES authors(id) ON DELETE SET NULL,",
    ),
    "events": ("mention_id TEXT,", "mention_id TEXT REFERENCES mentions(id) ON DELETE SET NULL,"),
    "outbox": ("mention_id TEXT,", "mention_id TEXT REFERENCES mentions(id) ON DELETE SET NULL,"),
}


def _rebuild(db: sqlite_utils.Database, table: str, old: str, new: str) -> None:
    """SQLite's 12-step rebuild of ``table`` with column definition ``old`` made ``new``.

    https://www.sqlite.org/lang_altertable.html#otheralter (foreign keys are off
    while migrations run, see ``SqliteDialect.migrating``). The new table is the
    stored CREATE statement with that one definition changed, so columns added
    since by ALTER TABLE come along. Kept as they were: every row's rowid (the
    FTS index and the queue read rowids), every index and trigger, the table's
    planner statistics and its AUTOINCREMENT high-water mark.
    """
    conn = db.conn
    (sql,) = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
    ).fetchone()
    head = re.match(rf'CREATE TABLE "?{table}"?\s*\(', sql)
    if head is None or sql.count(old) != 1:
        raise RuntimeError(f"m016: unexpected schema of {table}: {sql}")
    temp = f"_m016_{table}"
    conn.execute(f"CREATE TABLE {temp} (" + sql[head.end() :].replace(old, new))
    info = conn.execute(f"PRAGMA table_info({table})").fetchall()
    columns = ", ".join(str(r[1]) for r in info)
    keys = [r for r in info if r[5]]
    has_alias = len(keys) == 1 and str(keys[0][2]).upper() == "INTEGER"  # id is the rowid
    copied = columns if has_alias else f"rowid, {columns}"
    kept = conn.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') "
        "AND sql IS NOT NULL ORDER BY type, rowid",
        [table],
    ).fetchall()
    stats: list[Any] = []
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone():
        stats = conn.execute(
            "SELECT tbl, idx, stat FROM sqlite_stat1 WHERE tbl = ?", [table]
        ).fetchall()
    sequence = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", [table]).fetchone()
    conn.execute(f"INSERT INTO {temp} ({copied}) SELECT {copied} FROM {table}")
    conn.execute(f"DROP TABLE {table}")
    conn.execute(f"ALTER TABLE {temp} RENAME TO {table}")
    for (statement,) in kept:
        conn.execute(statement)
    if stats:
        conn.executemany("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)", stats)
    if sequence is not None:
        if not conn.execute(
            "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", [sequence[0], table]
        ).rowcount:
            conn.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", [table, sequence[0]]
            )


@migration
def m016_foreign_keys(db: sqlite_utils.Database) -> None:
    """Foreign keys where rows point at each other, so Datasette links them.

    ``mentions.author_key`` -> ``authors``, ``events.mention_id`` and
    ``outbox.mention_id`` -> ``mentions``. SQLite declares a foreign key only
    in CREATE TABLE, so the three tables are rebuilt (:func:`_rebuild`; on a
    store of 1M mentions this takes a while, once). ``author_key`` loses its
    NOT NULL: an unlinked author is NULL, no longer "" (which no authors row
    could match). Then :func:`~.pointers.repair_pointers` fixes pointers that
    would break a key, and ``PRAGMA foreign_key_check`` proves none is left.

    ON DELETE SET NULL throughout: deleting a mention keeps its outbox items
    (the never-send-twice record) and events (the audit log), and deleting an
    author leaves its mentions unlinked, as for an author the platform hid.
    Every pointing column already has an index, so those deletes stay lookups.
    """
    for table, (old, new) in _FK_COLUMNS.items():
        _rebuild(db, table, old, new)
    repair_pointers(db)
    for table, _, _ in FOREIGN_KEYS:
        broken = db.execute(f"PRAGMA foreign_key_check({table})").fetchall()
        if broken:
            raise RuntimeError(f"m016: {len(broken)} rows of {table} point at missing rows")


#: tables whose rows m019 counts as they come and go (the ones ``db copy`` copies)
COUNTED_TABLES = (
    "customers", "authors", "mentions", "reposts", "cursors", "source_health", "gaps",
    "ingest_usage", "events", "outbox", "kb_sources", "kb_articles", "triage_models",
    "incidents", "incident_mentions", "incident_sends", "team_agents", "team_routes",
    "team_turns", "team_notifications",
)  # fmt: skip


@migration
def m019_row_counters(db: sqlite_utils.Database) -> None:
    """Row counts kept by triggers, so ``db status`` reads 20 rows instead of counting 1M.

    ``table_rows`` holds one count per table, set here from ``count(*)`` and then
    moved by an AFTER INSERT and an AFTER DELETE trigger per table (SQLite runs
    them in the writer's transaction, and a store has one writer at a time, so
    the count is exact). ``INSERT ... ON CONFLICT DO NOTHING`` and upserts fire
    no insert trigger for rows not inserted; nothing in the store uses
    ``INSERT OR REPLACE``, whose implicit delete would skip the delete trigger.
    A later migration that rebuilds a table drops its triggers with it: readers
    check that both triggers exist and count the table themselves otherwise.

    ``idx_mentions_open_backlog`` covers the backlog cards (open, not own, not
    spam; by source) in 7 narrow columns: one pass over 20k open of 1M took
    ~100 ms through the 12-column open-queue index, 14 ms through this one.
    """
    db.execute(
        "CREATE INDEX idx_mentions_open_backlog ON mentions("
        "source, sla_due_ts, created_ts, snoozed_until, status, is_own, intent) "
        "WHERE status = 'open' AND is_own = 0 AND coalesce(intent, '') != 'spam'"
    )
    db.execute("CREATE TABLE table_rows (name TEXT PRIMARY KEY, n INTEGER NOT NULL)")
    for table in COUNTED_TABLES:
        db.execute(f"INSERT INTO table_rows (name, n) SELECT '{table}', count(*) FROM {table}")
        db.execute(
            f"CREATE TRIGGER table_rows_{table}_ins AFTER INSERT ON {table} BEGIN "
            f"UPDATE table_rows SET n = n + 1 WHERE name = '{table}'; END"
        )
        db.execute(
            f"CREATE TRIGGER table_rows_{table}_del AFTER DELETE ON {table} BEGIN "
            f"UPDATE table_rows SET n = n - 1 WHERE name = '{table}'; END"
        )


@migration
def m014_triage_fingerprint(db: sqlite_utils.Database) -> None:
    """``mentions.triage_fp``: which text inputs the row's stored signals were scored with.

    A 64-bit hash of the scorer's text settings (code, lexicons, packs, brand
    names, rules, model) and of the row's own text inputs, written by
    ``triage --all`` (``socialcare.scoring.retriage_all``). When it still
    matches, a re-score after a weight or SLA edit rebuilds the row's triage
    from its stored signals instead of running sentiment and the cue matcher
    again. NULL (old, polled or synthetic rows): the full re-score from text.
    No index: it is only read alongside the row.
    """
    db.execute("ALTER TABLE mentions ADD COLUMN triage_fp INTEGER")


@migration
def m021_claim_function(db: sqlite_utils.Database) -> None:
    """Nothing to do: the PostgreSQL twin makes the claim one function call (one round
    trip to the server); SQLite runs in-process. Kept so both lists of names match."""


@migration
def m023_hot_claims(db: sqlite_utils.Database) -> None:
    """Nothing to do: the PostgreSQL twin takes ``assignee`` out of every index of
    ``mentions`` so that a claim is a HOT update there (no index entries written).
    SQLite has no HOT: a claim rewrites the row in its B-tree and touches only the
    indexes holding a changed column, and it is already the fast side. Its
    ``idx_mentions_open_assigned`` keeps serving the per-agent loads. Kept so both
    lists of names match."""


#: tables whose inserts m024 leaves to the statements that write them (the store's writers
#: add each statement's row count: ``SqliteDialect.rows_inserted``)
M024_STORE_COUNTED = ("events", "team_routes")


@migration
def m024_store_counted_inserts(db: sqlite_utils.Database) -> None:
    """``events`` and ``team_routes`` are counted by the statements that insert them, not
    by a trigger per row.

    A routed page writes a route and an audit row per mention, and m019's insert
    triggers ran an UPDATE of ``table_rows`` for each: ~25 ms of CPU per 10k routed
    mentions, a tenth of what routing and notify add to a poll. Their writers
    (``Store.log_event``, ``store.team.add_routes`` and ``log_route_columns``, ``db
    copy``) now add each statement's row count (one UPDATE per statement, in the same
    transaction, so the count stays exact and a rollback takes it back). The delete
    triggers stay (deletes are rare, and any program's delete is still counted);
    ``db status`` trusts these two counts while the delete trigger exists. A row
    inserted by hand, outside socialcare, is not counted. The counts are set again
    from ``count(*)`` here, once.
    """
    for table in M024_STORE_COUNTED:
        db.execute(f"DROP TRIGGER IF EXISTS table_rows_{table}_ins")
        db.execute(
            f"UPDATE table_rows SET n = (SELECT count(*) FROM {table}) WHERE name = ?", [table]
        )


@migration
def m026_claim_row(db: sqlite_utils.Database) -> None:
    """Nothing to do: the PostgreSQL twin adds ``socialcare_claim_row``, m021's claim in one
    round trip with a leaner plan. SQLite claims in-process in a few statements (no round
    trips to save). Kept so both lists of names match."""
