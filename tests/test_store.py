"""The store: migrations, idempotent upserts, cursors in the same transaction, FTS."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from socialcare.errors import NotFound
from socialcare.models import Mention
from socialcare.store import QueueFilter, Store
from socialcare.store.migrations import MIGRATIONS, migrate, migration_names


def make(native: str, text: str = "hello", author: str = "a1", **kw: object) -> Mention:
    base: dict[str, object] = dict(
        source="demo",
        native_id=native,
        text=text,
        created_at=datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc),
        author_id=author,
        author_handle=f"h_{author}",
        author_name="Name",
    )
    base.update(kw)
    return Mention(**base)  # type: ignore[arg-type]


def test_migrations_create_schema_and_second_run_is_noop(store: Store) -> None:
    assert store.applied_migrations() == sorted(migration_names(store.dialect))
    assert [m.__name__ for m in MIGRATIONS] == migration_names(store.dialect)
    assert store.upgrade() == []
    counts = store.counts()
    assert set(counts) >= {"mentions", "authors", "customers", "cursors", "events", "outbox"}


@pytest.mark.sqlite_only
def test_sqlite_store_has_the_fts5_tables(store: Store) -> None:
    tables = set(store.db.table_names())
    assert {"mentions_fts", "kb_fts"} <= tables
    assert migrate(store.db) == []


@pytest.mark.sqlite_only
def test_file_store_uses_wal(file_store: Store) -> None:
    assert file_store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_upsert_same_mention_twice_updates_not_duplicates(store: Store) -> None:
    assert store.upsert_mentions([make("1", "first")]) == 1
    store.conn.execute(
        "UPDATE mentions SET status = 'closed', assignee = 'bob' WHERE id = 'demo:1'"
    )
    assert store.upsert_mentions([make("1", "edited"), make("1", "edited")]) == 0
    rows = store.conn.execute("SELECT text, status, assignee FROM mentions").fetchall()
    # Refreshed text, but our own workflow state survives a re-poll.
    assert rows == [("edited", "closed", "bob")]
    assert store.counts()["authors"] == 1


def test_get_mention_unknown_id_names_it(store: Store) -> None:
    with pytest.raises(NotFound, match="nope:1"):
        store.get_mention("nope:1")


def test_cursor_rolls_back_with_the_mentions(store: Store) -> None:
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.upsert_mentions([make("1")])
            store.set_cursor("demo", "q", "1")
            raise RuntimeError("crash before commit")
    assert store.get_cursor("demo", "q") is None
    assert store.mention_count() == 0


def test_fts_search_finds_words_and_ignores_syntax(store: Store) -> None:
    store.upsert_mentions([make("1", "I was charged twice"), make("2", "love it")])
    flt = QueueFilter(search="charging")  # porter stemming
    rows = store.queue(flt, now_ts=1.8e9, age_weight=0, age_cap_hours=24)
    assert [r["id"] for r in rows] == ["demo:1"]
    # Search operators typed by a user (FTS5's or tsquery's) are words, not syntax errors.
    assert store.queue(QueueFilter(search='"AND OR ( & | !'), 1.8e9, 0, 24) == []
    # An edit re-indexes the text (the FTS5 trigger, or the tsvector trigger).
    store.upsert_mentions([make("1", "now about refunds")])
    assert [r["id"] for r in store.queue(QueueFilter(search="refund"), 1.8e9, 0, 24)] == ["demo:1"]
    assert store.queue(QueueFilter(search="charged"), 1.8e9, 0, 24) == []


def test_own_posts_never_queue(store: Store) -> None:
    store.upsert_mentions(
        [make("1", author="brand", author_handle="AcmeHelp"), make("2")], own_handles=["acmehelp"]
    )
    ids = [r["id"] for r in store.queue(QueueFilter(), 1.8e9, 0, 24)]
    assert ids == ["demo:2"]


@pytest.mark.sqlite_only
def test_datasette_and_sqlite_utils_find_the_full_text_indexes(store: Store) -> None:
    """Datasette's search box and ``sqlite-utils search`` use the same detection as detect_fts."""
    store.upsert_mentions([make("1", "my refund never came"), make("2", "love the new app")])
    assert store.db["mentions"].detect_fts() == "mentions_fts"
    assert store.db["kb_articles"].detect_fts() == "kb_fts"
    found = list(store.db["mentions"].search("refund", columns=["native_id"]))
    assert found == [{"native_id": "1"}]


@pytest.mark.sqlite_only
def test_the_fts_migration_keeps_what_was_indexed(tmp_path: Path) -> None:
    from socialcare.store import open_store
    from socialcare.store.migrations import sqlite as sqlite_migrations

    path = tmp_path / "old.db"
    steps = list(sqlite_migrations.MIGRATIONS)
    before = [fn for fn in steps if fn.__name__ < "m015"]
    sqlite_migrations.MIGRATIONS[:] = before
    try:
        old = open_store(str(path))
        old.upsert_mentions([make("1", "my refund never came"), make("2", "love the app")])
        assert old.db["mentions"].detect_fts() is None  # content='mentions': not recognised
        old.conn.close()
    finally:
        sqlite_migrations.MIGRATIONS[:] = steps
    store = open_store(str(path))
    assert "m015_datasette_fts" in store.applied_migrations()
    assert store.db["mentions"].detect_fts() == "mentions_fts"
    hits = store.conn.execute(
        "SELECT m.native_id FROM mentions_fts JOIN mentions m ON m.rowid = mentions_fts.rowid "
        "WHERE mentions_fts MATCH 'refund'"
    ).fetchall()
    assert [h[0] for h in hits] == ["1"]
    store.upsert_mentions([make("3", "another refund please")])  # the triggers still feed it
    found = store.db["mentions"].search("refund", columns=["native_id"])
    assert sorted(r["native_id"] for r in found) == ["1", "3"]
