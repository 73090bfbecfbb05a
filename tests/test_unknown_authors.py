"""An empty author id is no identity: strangers the platform hid stay strangers in the store.

Adapters give such mentions ``author_key == ""`` (tests/sources/test_identities.py);
here the store keeps them apart (``author_key`` NULL): no author row or customer, no duplicate folding
between them, no shared history, no collision between two agents, no repeat contact.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socialcare import workflow
from socialcare.cli import app
from socialcare.errors import NotFound
from socialcare.models import Mention
from socialcare.store import Store
from socialcare.store.ingest import ingest_mentions
from socialcare.store.reports import ReportWindow, author_rows

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=timezone.utc)


def hidden(native: str, *, text: str = "my card was charged twice", second: int = 0) -> Mention:
    return Mention(
        source="twitter",
        native_id=native,
        text=text,
        created_at=T0 + timedelta(seconds=second),
        author_id="",
        author_handle="",
        query="q",
    )


def test_unknown_authors_get_no_author_row_and_are_not_folded_together(store: Store) -> None:
    out = ingest_mentions(store, [hidden("1"), hidden("2", second=30)], duplicate_window=600)
    assert out.new == 2  # same text, same "author" "", 30 s apart: two people, both kept
    assert store.counts()["authors"] == 0
    assert store.get_mention("twitter:1")["author_key"] is None  # stored NULL, never ""
    assert store.history([""]) == []
    assert store.authors_of_customer("") == []


def test_two_agents_can_claim_two_unknown_authors_mentions(store: Store) -> None:
    ingest_mentions(store, [hidden("1"), hidden("2", text="where is my parcel", second=5)])
    assert workflow.claim(store, "twitter:1", "ana") is None
    assert workflow.claim(store, "twitter:2", "ben") is None  # not "the same customer"
    assert store.get_mention("twitter:2")["assignee"] == "ben"


def test_an_unknown_author_is_never_a_repeat_contact(store: Store) -> None:
    ingest_mentions(store, [hidden(str(i), text=f"problem {i}", second=i) for i in range(4)])
    counts = store.unanswered_before_many(["twitter:3"])
    assert counts == {"twitter:3": 0}
    window = ReportWindow(
        since=T0 - timedelta(days=1), until=T0 + timedelta(days=1), now=T0 + timedelta(hours=1)
    )
    assert author_rows(store, window, advocates=False, minimum=1, limit=10) == []


def test_linking_or_resolving_an_unknown_author_says_why(store: Store) -> None:
    ingest_mentions(store, [hidden("1")])
    with pytest.raises(NotFound, match="no known author"):
        workflow.resolve_author(store, "twitter:1")


def test_show_says_the_author_is_unknown(tmp_path: Path, database: str) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        json.dumps({"id": "7", "author_id": "", "author": "", "text": "my bill is wrong",
                    "minutes_ago": 5}) + "\n",
        "utf-8",
    )  # fmt: skip
    config = tmp_path / "c.toml"
    config.write_text(f'[sources.demo]\npath = "{feed}"\n', "utf-8")
    runner = CliRunner()
    assert runner.invoke(app, ["--config", str(config), "poll", "--quiet"]).exit_code == 0
    result = runner.invoke(app, ["--config", str(config), "show", "demo:7", "--offline"])
    assert result.exit_code == 0, result.output
    assert "author unknown: the platform sent no author id" in " ".join(result.output.split())
