"""Ids, keys and links come from strangers too: no view prints them raw or reads them as markup.

A crafted status id or RSS guid once printed ESC, OSC 8/52, C1 controls and
bidi overrides in every view, and ``[link=file:///etc/passwd]`` in an id
became a terminal hyperlink. Two layers are tested: the adapter boundary
cleans ids before they are stored, and every console cleans what it prints
(for mentions stored before that, written here straight into the store).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socialcare.cli import app
from socialcare.models import Mention
from socialcare.store import open_store

runner = CliRunner()
HOSTILE_ID = "[link=file:///etc/passwd]x[/]\x1b[31m\u202e\x9b2J\x07\x1b]52;c;ZXZpbA==\x07"
RAW = ("\x1b", "\x9b", "\u202e", "\x07")


@pytest.fixture
def config(tmp_path: Path, database: str) -> Path:
    feed = tmp_path / "hostile.jsonl"
    feed.write_text(
        json.dumps(
            {
                "id": f"1{HOSTILE_ID}",
                "author_id": f"u{HOSTILE_ID}",
                "author": f"bob{HOSTILE_ID}",
                "name": "Bob",
                "followers": 1,
                "text": "my refund is broken, please help",
                "minutes_ago": 30,
            }
        )
        + "\n",
        "utf-8",
    )
    path = tmp_path / "config.toml"
    path.write_text(f'[sources.demo]\npath = "{feed}"\n', "utf-8")
    assert runner.invoke(app, ["--config", str(path), "poll", "--quiet"]).exit_code == 0
    store = open_store(database)
    try:  # a mention stored raw, as an older version (or a plugin bypassing the engine) did
        store.upsert_mentions(
            [
                Mention(
                    source="demo", native_id=f"2{HOSTILE_ID}", text="still broken",
                    created_at=datetime(2026, 11, 30, tzinfo=timezone.utc),
                    author_id=f"v{HOSTILE_ID}", author_handle=f"eve{HOSTILE_ID}",
                    url=f"https://x.example/{HOSTILE_ID}",
                )
            ]
        )  # fmt: skip
    finally:
        store.close()
    return path


def _ids(config: Path) -> list[str]:
    result = runner.invoke(app, ["--config", str(config), "queue", "--csv", "--status", "all"])
    store_ids = [line.split(",", 1)[0] for line in result.output.splitlines()[1:]]
    assert len(store_ids) == 2
    return store_ids


def test_the_boundary_stores_ids_without_escapes(config: Path, database: str) -> None:
    store = open_store(database, upgrade=False)
    try:
        row = store.get_mention("demo:1[link=file:///etc/passwd]x[/]")
    finally:
        store.close()
    assert not any(c in row["id"] + row["author_key"] + row["author_handle"] for c in RAW)


def test_no_view_prints_a_hostile_id_raw_or_as_markup(config: Path, database: str) -> None:
    store = open_store(database, upgrade=False)
    try:
        raw_id = next(r["id"] for r in store.rows("SELECT id FROM mentions") if "\x1b" in r["id"])
    finally:
        store.close()
    clean_id = next(i for i in _ids(config) if "\x1b" not in i and i.startswith("demo:1"))
    views = []
    for mention in (raw_id, clean_id):
        views += [
            ["explain", mention], ["show", mention, "--offline"], ["customer", "show", mention],
            ["claim", mention], ["note", mention, "checked"], ["release", mention],
            ["followup", "add", mention, "--in", "2d", "--text", "ok?"],
            ["reply", mention, "Sorry about that"], ["close", mention], ["reopen", mention],
        ]  # fmt: skip
    views += [
        ["queue", "--status", "all"], ["log"], ["outbox", "--all"], ["followup", "list"],
        ["followup", "show", "1"], ["work"],
    ]  # fmt: skip
    for args in views:
        result = runner.invoke(app, ["--config", str(config), *args], input="q\n")
        assert result.exit_code == 0, (args, result.output)
        out = result.output
        assert not any(c in out for c in RAW), (args, out)
        if args[0] in ("queue", "explain", "show", "claim", "close"):
            assert "[link=file:///etc/passwd]x[/]" in out, (args, out)  # literal, not a link
