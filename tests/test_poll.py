"""The poll engine with the demo source and a scripted fake: idempotent, cursor-safe, locked."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from socialcare.config import Config
from socialcare.errors import LockHeld, SourceError
from socialcare.models import Mention, Page
from socialcare.poll import poll, poll_source
from socialcare.sources import registry
from socialcare.sources.base import Source
from socialcare.sources.demo import DemoSource
from socialcare.store import Store, open_store


def demo_config(database: str, path: Path | None = None, **extra: Any) -> Config:
    """A config polling the demo source into the test's store (SQLite file or PostgreSQL)."""
    section: dict[str, Any] = {"path": str(path)} if path else {}
    section.update(extra)
    return Config(database=database, agent="alice", sources={"demo": section})


def write_demo(path: Path, ids: range) -> None:
    with path.open("a") as fh:
        for i in ids:
            fh.write(
                json.dumps(
                    {
                        "id": str(i),
                        "author": f"u{i % 7}",
                        "text": f"msg {i}",
                        "created_at": "2026-11-01T10:00:00Z",
                    }
                )
                + "\n"
            )


def test_demo_poll_is_incremental_and_idempotent(tmp_path: Path, database: str) -> None:
    data = tmp_path / "demo.jsonl"
    write_demo(data, range(1, 6))
    cfg = demo_config(database, data, page_size=2)
    store = open_store(cfg.database)
    first = poll(cfg, store)
    assert (first.results[0].fetched, first.new) == (5, 5)
    assert store.get_cursor("demo", "file") == "5"
    again = poll(cfg, store)
    assert (again.results[0].fetched, again.new) == (0, 0)
    write_demo(data, range(6, 9))
    third = poll(cfg, store)
    assert (third.results[0].fetched, third.new) == (3, 3)
    assert store.mention_count() == 8


def test_shipped_demo_file_polls_with_hostile_text(database: str) -> None:
    cfg = demo_config(database)
    store = open_store(cfg.database)
    summary = poll(cfg, store)
    assert summary.exit_code == 0
    assert store.mention_count() >= 30
    texts = [r[0] for r in store.conn.execute("SELECT text FROM mentions")]
    assert any("\x1b" in t for t in texts), "demo should include control sequences to test escaping"
    langs = {r[0] for r in store.conn.execute("SELECT language FROM mentions")}
    assert {"pt", "de", "ja"} <= langs


class ScriptedSource(Source):
    """Yields scripted pages; an exception in the script is raised at that point."""

    name = "scripted"
    script: list[Any] = []

    def queries(self) -> list[str]:
        return ["q1", "q2"]

    def poll(self, query: str, cursor: str | None) -> Iterator[Page]:
        for step in self.script:
            if isinstance(step, Exception):
                raise step
            yield step


def mention(native: str, query: str = "q1") -> Mention:
    return Mention(
        source="scripted",
        native_id=native,
        text=f"t{native}",
        query=query,
        created_at=datetime(2026, 11, 1, tzinfo=timezone.utc),
        author_id="a",
        author_handle="a",
    )


@pytest.fixture
def scripted() -> Iterator[type[ScriptedSource]]:
    registry.register(ScriptedSource)
    yield ScriptedSource
    registry.unregister("scripted")


def test_failure_mid_pagination_keeps_pages_and_cursor(
    store: Store, scripted: type[ScriptedSource]
) -> None:
    scripted.script = [Page([mention("3"), mention("2")]), SourceError("HTTP 503 from platform")]
    results = poll_source(store, scripted({}))
    assert results[0].error == "HTTP 503 from platform" and results[0].error_code == 4
    assert store.mention_count() == 2  # what was fetched is kept
    assert store.get_cursor("scripted", "q1") is None  # but the cursor did not move
    health = {(r["source"], r["query"]): r for r in store.source_health()}
    assert health[("scripted", "q1")]["last_error"] == "HTTP 503 from platform"
    scripted.script = [Page([mention("3"), mention("2")]), Page([mention("1")], cursor="3")]
    results = poll_source(store, scripted({}))
    assert results[0].error is None and store.get_cursor("scripted", "q1") == "3"
    assert store.mention_count() == 3


def test_same_mention_from_two_queries_stored_once(
    store: Store, scripted: type[ScriptedSource]
) -> None:
    scripted.script = [Page([mention("7")], cursor="7")]
    results = poll_source(store, scripted({}))
    assert [r.new for r in results] == [1, 0]
    assert store.mention_count() == 1


def test_unknown_source_is_not_found(database: str) -> None:
    from socialcare.errors import NotFound

    cfg = demo_config(database)
    store = open_store(cfg.database)
    with pytest.raises(NotFound, match="unknown source 'nosuch'"):
        poll(cfg, store, ["nosuch"])
    store.close()


def test_lock_refuses_a_second_poll_in_another_process(database: str) -> None:
    cfg = demo_config(database)
    store = open_store(cfg.database)
    holder = textwrap.dedent(
        f"""
        import sys
        from socialcare.store import open_store
        with open_store({cfg.database!r}).job_lock("poll"):
            print("locked", flush=True)
            sys.stdin.readline()
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(LockHeld, match="another 'poll' run"):
            poll(cfg, store)
        assert store.mention_count() == 0
    finally:
        assert proc.stdin is not None
        proc.stdin.write("\n")
        proc.stdin.close()
        proc.wait(timeout=10)
    assert poll(cfg, store).exit_code == 0  # released when the other process ends


def test_lock_is_free_again_after_release(database: str) -> None:
    store, other = open_store(database), open_store(database)
    try:
        with store.job_lock("due"):
            with pytest.raises(LockHeld, match="another 'due' run"):
                with other.job_lock("due"):
                    pass  # pragma: no cover - the lock is held
        with other.job_lock("due"):  # released: another connection takes it at once
            pass
        with store.job_lock("due"):
            pass
    finally:
        store.close()
        other.close()


def test_demo_source_bad_line_is_config_error(tmp_path: Path) -> None:
    from socialcare.errors import ConfigError

    data = tmp_path / "bad.jsonl"
    data.write_text("{not json\n")
    src = DemoSource({"path": str(data)})
    with pytest.raises(ConfigError, match="bad.jsonl:1"):
        list(src.poll("file", None))
