"""One JSON shape everywhere (issue 18 item 1): ``--json`` is one array on every listing
(``[]`` when empty), one object on commands that describe one thing; ``--jsonl``/``--nl``
one object per line; field names are ``export``'s columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socialcare.cli import app
from socialcare.store.reports import EXPORT_COLUMNS

runner = CliRunner()

MENTION = set(EXPORT_COLUMNS["mentions"])
OUTBOX = set(EXPORT_COLUMNS["replies"])
EVENT = set(EXPORT_COLUMNS["log"])


@pytest.fixture
def cfg(tmp_path: Path, isolated_home: Path) -> Path:
    """The demo source polled once, with one follow-up scheduled (so the outbox has an item)."""
    path = tmp_path / "config.toml"
    for args in (["init"], ["poll", "--quiet"]):
        result = runner.invoke(app, ["--config", str(path), *args])
        assert result.exit_code == 0, result.output
    result = runner.invoke(
        app, ["--config", str(path), "followup", "add", "demo:1001", "--in", "2d", "--text", "hi"]
    )
    assert result.exit_code == 0, result.output
    return path


def _out(cfg: Path, *args: str) -> str:
    result = runner.invoke(app, ["--config", str(cfg), *args])
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


def _followup_id(cfg: Path) -> str:
    return str(json.loads(_out(cfg, "followup", "list", "--json"))[0]["id"])


#: (argv, shape, fields every element or the object must have); "{followup}" is filled in
CASES: list[tuple[list[str], str, set[str]]] = [
    (["queue", "--json"], "array", MENTION | {"score", "sla_left", "age_seconds", "messages"}),
    (["queue", "--json", "--intent", "praise", "--search", "zzzznothing"], "empty", set()),
    (["outbox", "--json"], "array", OUTBOX),
    (["outbox", "--json", "--all"], "array", OUTBOX),
    (["log", "--json"], "array", EVENT),
    (["followup", "list", "--json"], "array", OUTBOX | {"options"}),
    (["followup", "show", "{followup}", "--json"], "array", OUTBOX | {"options", "preview"}),
    (["post", "list", "--json"], "empty", set()),
    (["kb", "search", "refund", "--json"], "empty", set()),
    (["kb", "list", "--json"], "empty", set()),
    (["kb", "list", "--articles", "--json"], "empty", set()),
    (["sources", "--json"], "array", {"name", "enabled", "configured", "problem"}),
    (["status", "--json"], "array", {"source", "queries"}),
    (["gaps", "--json"], "empty", set()),
    (["templates", "--json"], "array", {"name", "path", "text"}),
    (["customer", "show", "demo:1001", "--json"], "array", MENTION),
    (["show", "demo:1001", "--json"], "object", MENTION | {"score", "contributions", "thread"}),
    (["explain", "demo:1001", "--json"], "object", {"id", "score", "contributions"}),
    (["report", "--json", "--since", "30d"], "object", set()),
    (["report", "spikes", "--json"], "array", set()),
    (["db", "status", "--json"], "object", {"backend", "schema_version"}),
    (["export", "mentions", "--json"], "array", MENTION),
    (["queue", "--jsonl"], "lines", MENTION | {"score"}),
    (["queue", "--nl"], "lines", MENTION | {"score"}),
    (["log", "--jsonl"], "lines", EVENT),
    (["export", "mentions", "--jsonl"], "lines", MENTION),
    (["export", "log", "--nl"], "lines", EVENT),
]


@pytest.mark.parametrize("argv, shape, fields", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_json_shape(cfg: Path, argv: list[str], shape: str, fields: set[str]) -> None:
    if "{followup}" in argv:
        argv = [_followup_id(cfg) if a == "{followup}" else a for a in argv]
    out = _out(cfg, *argv)
    if shape == "lines":
        items = [json.loads(line) for line in out.splitlines()]
        assert items and all(isinstance(i, dict) for i in items)
    else:
        data = json.loads(out)  # one document, nothing else on stdout
        if shape == "object":
            assert isinstance(data, dict)
            items = [data]
        else:
            assert isinstance(data, list)
            assert (data == []) == (shape == "empty")
            assert all(isinstance(i, dict) for i in data)
            items = data
    for item in items:
        assert fields <= set(item), (argv, fields - set(item))


def test_json_strings_are_cleaned_for_terminals(cfg: Path) -> None:
    out = _out(cfg, "queue", "--json", "--status", "all", "--limit", "100")
    assert "\x1b" not in out and "\x9b" not in out and "\u202e" not in out
