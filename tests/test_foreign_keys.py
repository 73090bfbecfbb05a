"""Declared foreign keys (m016): mentions -> authors, events and outbox -> mentions.

Datasette and sqlite-utils link rows through declared keys only. An unlinked
author is stored as NULL (an empty id is no identity, and no authors row could
match ""); a store made before m016 is migrated with its rowids, indexes and
full-text search intact, its broken pointers repaired and logged; deleting a
mention or an author still works and keeps outbox items and events; ``db copy``
moves a store with keys on both sides.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from socialcare.models import Mention, SentPost
from socialcare.outbox import send_item
from socialcare.sources.base import Source
from socialcare.store import QueueFilter, Store, open_store
from socialcare.store.copy import TableCopy, copy_store, table_counts
from socialcare.store.ingest import ingest_mentions
from socialcare.store.migrations import postgres as pg_migrations
from socialcare.store.migrations import sqlite as sqlite_migrations

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=timezone.utc)
NOW = 1.8e9
#: (table, column, parent table, parent column, ON DELETE)
KEYS = {
    ("mentions", "author_key", "authors", "id", "SET NULL"),
    ("events", "mention_id", "mentions", "id", "SET NULL"),
    ("outbox", "mention_id", "mentions", "id", "SET NULL"),
}


def make(native: str, text: str = "hello", author: str = "a1") -> Mention:
    return Mention(
        source="demo",
        native_id=native,
        text=text,
        created_at=T0,
        author_id=author,
        author_handle=f"h_{author}" if author else "",
        author_name="Name",
        query="q",
    )


def declared_keys(store: Store) -> set[tuple[str, str, str, str, str]]:
    """Every foreign key the store's catalogue declares."""
    if store.backend == "sqlite":
        found = set()
        for table in ("mentions", "events", "outbox", "authors"):
            for row in store.conn.execute(f"PRAGMA foreign_key_list({table})").fetchall():
                found.add((table, row[3], row[2], row[4], row[6]))
        return found
    rows = store.conn.execute(
        "SELECT tc.table_name, kcu.column_name, ccu.table_name, ccu.column_name, rc.delete_rule "
        "FROM information_schema.table_constraints tc "
        "JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name "
        "AND kcu.table_schema = tc.table_schema "
        "JOIN information_schema.constraint_column_usage ccu "
        "ON ccu.constraint_name = tc.constraint_name AND ccu.table_schema = tc.table_schema "
        "JOIN information_schema.referential_constraints rc "
        "ON rc.constraint_name = tc.constraint_name AND rc.constraint_schema = tc.table_schema "
        "WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema()"
    ).fetchall()
    return {tuple(str(v) for v in r) for r in rows}  # type: ignore[misc]


def no_broken_pointers(store: Store) -> bool:
    """SQLite's own check of every key (PostgreSQL enforces validated keys on every write)."""
    if store.backend == "sqlite":
        return store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    unvalidated = store.conn.execute(
        "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND NOT convalidated"
    ).fetchone()[0]
    return bool(unvalidated == 0)


def test_the_foreign_keys_are_declared(store: Store) -> None:
    assert KEYS <= declared_keys(store)
    if store.backend == "sqlite":  # restored after migrating with them off
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert no_broken_pointers(store)


@pytest.mark.sqlite_only
def test_datasette_style_introspection_sees_the_links(store: Store) -> None:
    """Datasette links a column to its row through sqlite-utils' ``Table.foreign_keys``."""
    found = {
        (fk.table, fk.column, fk.other_table, fk.other_column)
        for table in ("mentions", "events", "outbox")
        for fk in store.db[table].foreign_keys
    }
    assert found == {k[:4] for k in KEYS}


def test_a_mention_with_no_author_stores_null_and_is_queued(store: Store) -> None:
    out = ingest_mentions(store, [make("1", "my refund never came", author=""), make("2")])
    assert out.new == 2
    assert store.get_mention("demo:1")["author_key"] is None
    assert store.get_mention("demo:2")["author_key"] == "demo:a1"
    assert [a["id"] for a in store.rows("SELECT id FROM authors")] == ["demo:a1"]
    queued = [r["id"] for r in store.queue(QueueFilter(limit=10), NOW, 0, 24)]
    assert sorted(queued) == ["demo:1", "demo:2"]
    found = store.queue(QueueFilter(search="refund", limit=10), NOW, 0, 24)
    assert [r["id"] for r in found] == ["demo:1"]


def test_a_pointer_to_nothing_is_refused(store: Store) -> None:
    """The keys are enforced, not only declared (SQLite: foreign_keys is on)."""
    with pytest.raises(Exception, match="(?i)foreign key"):
        with store.transaction():
            store.outbox_add(
                kind="reply", source="demo", mention_id="demo:nope", text="hi", agent="ana"
            )
    assert store.outbox_list(("pending",)) == []


# -- delete paths -----------------------------------------------------------------------------


class _Recorder(Source):
    """Records what the outbox asked it to publish."""

    name = "demo"

    def __init__(self) -> None:
        super().__init__({})
        self.sent: list[str] = []

    def queries(self) -> list[str]:
        return []

    def poll(self, query: str, cursor: str | None) -> Iterator[Any]:
        return iter(())

    def post(self, text: str) -> SentPost:
        self.sent.append(f"post:{text}")
        return SentPost("p-1", "https://example.invalid/p-1")

    def reply(self, mention: Mention, text: str) -> SentPost:
        self.sent.append(f"reply:{text}")
        return SentPost("r-1", "https://example.invalid/r-1")


class _Only:
    def __init__(self, source: Source) -> None:
        self.source = source

    def get(self, name: str) -> Source:
        return self.source


def test_deleting_a_mention_keeps_its_outbox_items_and_events(store: Store) -> None:
    store.upsert_mentions([make("1", "my refund never came"), make("2", author="a2")])
    sent = store.outbox_add(
        kind="reply", source="demo", mention_id="demo:1", text="Sorry", agent="a"
    )
    store.outbox_transition(
        sent, ("pending",), "sent", platform_id="x1", sent_at="2026-11-02T11:00:00Z"
    )
    pending = store.outbox_add(
        kind="reply", source="demo", mention_id="demo:1", text="More", agent="a"
    )
    store.log_event("note", agent="ana", mention_id="demo:1", text="VIP")
    with store.transaction():
        store.conn.execute("DELETE FROM mentions WHERE id = ?", ["demo:1"])
    assert store.outbox_get(sent)["mention_id"] is None  # the never-send-twice record stays
    assert store.outbox_get(sent)["platform_id"] == "x1"
    assert [e["mention_id"] for e in store.events(limit=10) if e["action"] == "note"] == [None]
    assert store.queue(QueueFilter(search="refund", limit=10), NOW, 0, 24) == []
    # An answer whose mention is gone is refused, never published as a post instead.
    recorder = _Recorder()
    item = send_item(store, _Only(recorder), pending, agent="ana")
    assert item["status"] == "failed" and "deleted" in str(item["error"])
    assert recorder.sent == []


def test_deleting_an_author_unlinks_its_mentions(store: Store) -> None:
    store.upsert_mentions([make("1", author="a1"), make("2", author="a2")])
    with store.transaction():
        store.conn.execute("DELETE FROM authors WHERE id = ?", ["demo:a1"])
    assert store.get_mention("demo:1")["author_key"] is None
    assert store.get_mention("demo:2")["author_key"] == "demo:a2"
    assert no_broken_pointers(store)


# -- migrating a store made before m016 ------------------------------------------------------


@contextmanager
def migrations_before(name: str) -> Iterator[None]:
    """Both backends' migration lists cut before ``name`` (a store made by an older version)."""
    lists = (sqlite_migrations.MIGRATIONS, pg_migrations.MIGRATIONS)
    saved = [list(steps) for steps in lists]
    for steps in lists:
        steps[:] = [fn for fn in steps if fn.__name__ < name]
    try:
        yield
    finally:
        for steps, old in zip(lists, saved, strict=True):
            steps[:] = old


@pytest.fixture
def old_database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new, empty database for a store made at m015: a file, or a database of its own."""
    if backend == "sqlite":
        yield str(tmp_path / "m015.db")
        return
    from tests import pg_server

    server = request.getfixturevalue("pg_server")
    pg_server._recreate_database(server.admin_url, "socialcare_m015")
    try:
        yield pg_server._with_database(server.url, "socialcare_m015")
    finally:
        with pg_server._connect(server.admin_url) as conn:
            pg_server._drop(conn, "socialcare_m015")


_RAW_MENTION = (
    "INSERT INTO mentions (id, source, native_id, author_key, author_id, author_handle, text, "
    "created_at, created_ts, fetched_at) VALUES (?, 'demo', ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _schema(store: Store) -> set[tuple[str, str, str]]:
    """Indexes and triggers of the rebuilt tables (SQLite), or their indexes (PostgreSQL)."""
    if store.backend == "sqlite":
        rows = store.conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
            "AND tbl_name IN ('mentions', 'events', 'outbox') AND sql IS NOT NULL"
        ).fetchall()
    else:
        rows = store.conn.execute(
            "SELECT 'index', indexname, indexdef FROM pg_indexes "
            "WHERE tablename IN ('mentions', 'events', 'outbox')"
        ).fetchall()
    return {(str(a), str(b), str(c)) for a, b, c in rows}


def test_migrating_an_m015_store_repairs_pointers_and_keeps_rowids_and_search(
    old_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    with migrations_before("m016"):
        old = open_store(old_database)
        assert "m016_foreign_keys" not in old.applied_migrations()
        old.upsert_mentions([make(str(i), f"order {i} never arrived") for i in range(1, 4)])
        iso, ts = "2026-11-02T10:00:00Z", T0.timestamp()
        with old.transaction():  # what m015-era code and bulk loads left behind
            old.conn.execute("DELETE FROM mentions WHERE id = 'demo:2'")  # a rowid gap
            old.conn.execute(
                _RAW_MENTION, ["demo:5", "5", "", "", "", "my refund never came", iso, ts, iso]
            )
            old.conn.execute(
                _RAW_MENTION,
                ["demo:6", "6", "demo:ghost", "ghost", "ghosty", "refund please", iso, ts, iso],
            )
        kept = old.outbox_add(
            kind="reply", source="demo", mention_id="demo:1", text="On it", agent="a"
        )
        lost = old.outbox_add(
            kind="reply", source="demo", mention_id="demo:2", text="Sorry", agent="a"
        )
        for text in ("one", "two", "three"):
            old.log_event("note", agent="ana", mention_id="demo:2", text=text)
        with old.transaction():
            old.conn.execute("DELETE FROM events WHERE id = 3")  # ids are never reused
        rowids = old.conn.execute("SELECT id, rowid FROM mentions ORDER BY id").fetchall()
        schema = _schema(old)
        outbox_rows = table_counts(old)["outbox"]
        old.close()
    # m016 alone: later migrations add indexes and triggers of their own to the schema
    with caplog.at_level(logging.WARNING, logger="socialcare.store.migrations"):
        with migrations_before("m017"):
            store = open_store(old_database)
    try:
        assert "m016_foreign_keys" in store.applied_migrations()
        assert KEYS <= declared_keys(store) and no_broken_pointers(store)
        assert store.conn.execute("SELECT id, rowid FROM mentions ORDER BY id").fetchall() == rowids
        assert _schema(store) == schema
        assert store.get_mention("demo:5")["author_key"] is None  # "" became NULL
        ghost = store.get_author("demo:ghost")  # its identity and history survive
        assert ghost is not None and ghost["handle"] == "ghosty"
        assert table_counts(store)["outbox"] == outbox_rows  # no outbox row is ever deleted
        assert store.outbox_get(kept)["mention_id"] == "demo:1"
        assert store.outbox_get(lost)["mention_id"] is None
        notes = [e for e in store.events(limit=10) if e["action"] == "note"]
        assert [e["mention_id"] for e in notes] == [None, None]
        logged = " | ".join(r.getMessage() for r in caplog.records)
        for said in ("m016: 1 mentions with an empty author key", "m016: 1 author keys had no",
                     "m016: 1 outbox items", "m016: 2 events"):  # fmt: skip
            assert said in logged
        # Full-text search still finds the old rows through their rowids, and its
        # triggers feed it new ones.
        hits = store.queue(QueueFilter(search="refund", limit=10), NOW, 0, 24)
        assert sorted(r["id"] for r in hits) == ["demo:5", "demo:6"]
        arrived = store.queue(QueueFilter(search="arrived", limit=10), NOW, 0, 24)
        assert sorted(r["id"] for r in arrived) == ["demo:1", "demo:3"]
        store.upsert_mentions([make("7", "another refund", author="")])
        hits = store.queue(QueueFilter(search="refund", limit=10), NOW, 0, 24)
        assert sorted(r["id"] for r in hits) == ["demo:5", "demo:6", "demo:7"]
        if store.backend == "sqlite":
            matched = store.conn.execute(
                "SELECT m.id FROM mentions_fts f JOIN mentions m ON m.rowid = f.rowid "
                "WHERE mentions_fts MATCH 'arrived' ORDER BY m.id"
            ).fetchall()
            assert [r[0] for r in matched] == ["demo:1", "demo:3"]
            assert store.db["mentions"].detect_fts() == "mentions_fts"
        store.log_event("note", agent="ana", mention_id="demo:1", text="four")
        assert max(e["id"] for e in store.events(limit=10)) == 4
    finally:
        store.close()


# -- db copy ------------------------------------------------------------------------------------


def test_db_copy_round_trip_with_keys_on_both_sides(database: str, tmp_path: Path) -> None:
    source = open_store(tmp_path / "laptop.db")
    source.upsert_mentions(
        [make("1", "refund?"), make("2", "hidden author", author=""), make("3", author="a3")]
    )
    source.link_authors("demo:a1", "demo:a3", "Maria")
    item = source.outbox_add(kind="reply", source="demo", mention_id="demo:1", text="Hi", agent="a")
    source.log_event("note", agent="ana", mention_id="demo:2", text="VIP")
    target = open_store(database)
    copy_store(source, target, batch=2)  # several pages per table
    back = open_store(tmp_path / "back.db")
    copy_store(target, back)
    try:
        for copied in (target, back):
            assert table_counts(copied) == table_counts(source)
            assert KEYS <= declared_keys(copied) and no_broken_pointers(copied)
            assert copied.get_mention("demo:2")["author_key"] is None
            assert copied.outbox_get(item)["mention_id"] == "demo:1"
            assert len(copied.authors_of_customer("demo:a1")) == 2
    finally:
        for s in (source, target, back):
            s.close()


def test_db_copy_of_a_store_written_meanwhile_never_splits_a_mention_from_its_author(
    database: str, tmp_path: Path
) -> None:
    """A poll storing a new author and its mention while the copy is past ``authors``."""
    source = open_store(database)
    source.upsert_mentions([make("1"), make("2", author="a2")])
    poller = open_store(database)
    target = open_store(tmp_path / "copy.db")

    def poll_meanwhile(done: TableCopy) -> None:
        if done.table == "authors" and not poller.get_author("demo:late"):
            poller.upsert_mentions([make("3", "arrived during the copy", author="late")])

    try:
        copy_store(source, target, batch=1, progress=poll_meanwhile)  # the instant it started
        assert target.mention_count() == 2 and target.get_author("demo:late") is None
        assert no_broken_pointers(target)
        copy_store(source, target)  # the next run brings the rest, whole
        assert target.get_mention("demo:3")["author_key"] == "demo:late"
        assert table_counts(target) == table_counts(source)
    finally:
        for s in (source, poller, target):
            s.close()
