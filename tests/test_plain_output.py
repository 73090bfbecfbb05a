"""Piped ``queue`` without rich (issue 18, start-up): the same bytes as rich's table.

``queue`` writes its table itself when stdout is a pipe (see
``socialcare.commands.plain``); each case runs the command twice on the same
store, once that way and once through rich, and compares the output byte for
byte, hostile text included (escapes, bidi overrides, tabs, wide characters,
emoji codes, a raw id as an older version stored it).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socialcare.cli import app
from socialcare.commands import agent as agent_module
from socialcare.commands import common, plain
from socialcare.commands import queue as queue_module
from socialcare.models import Mention
from socialcare.store import open_store

runner = CliRunner()

#: texts strangers send: escapes, controls, bidi, tabs and newlines, wide and
#: zero-width characters, rich markup and emoji codes, and one very long line
HOSTILE_TEXTS = [
    "refund \x1b[31mnow\x1b[0m \x9b2J please\x07 \u202eevil\u202c",
    "tabs\tand\nnewlines\r\nand\x0bmore\x0c",
    "請求書が二重です 😡👍🏽 👨‍👩‍👧 café \u200b zero width",
    "[bold red]markup[/] :smile: :thumbs_up: [link=file:///etc/passwd]x[/]",
    "long " * 400,
]


@pytest.fixture
def config(tmp_path: Path, database: str) -> Path:
    """The demo store plus the hostile texts, stored raw (and scored) as a plugin might."""
    path = tmp_path / "config.toml"
    for argv in (["init"], ["poll", "--quiet"]):
        result = runner.invoke(app, ["--config", str(path), *argv])
        assert result.exit_code == 0, result.output
    store = open_store(database)
    try:
        store.upsert_mentions(
            [
                Mention(
                    source="demo", native_id=f"90{n}", text=text,
                    created_at=datetime.now(timezone.utc) - timedelta(minutes=5 + n),
                    author_id=f"u{n}", author_handle=f"h{n}\x1b[1m請求" if n % 2 else f"p{n}",
                    url="https://x.example/",
                )
                for n, text in enumerate(HOSTILE_TEXTS)
            ]
        )  # fmt: skip
    finally:
        store.close()
    result = runner.invoke(app, ["--config", str(path), "triage", "--all"])
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(autouse=True)
def fresh_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each run builds its console afresh (it reads COLUMNS when built), as a process does."""
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    object.__setattr__(common.console, "_real", None)


#: both runs of a case see the same clock (ages and SLA times are computed at this moment)
NOW = time.time()


def _queue(config: Path, args: list[str], *, rich: bool, monkeypatch: pytest.MonkeyPatch) -> str:
    object.__setattr__(common.console, "_real", None)
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: NOW)
        if rich:
            patch.setattr(queue_module, "_write_plain_queue", lambda rows: False)
            patch.setattr(queue_module, "write_line", lambda text, kind: False)
        result = runner.invoke(app, ["--config", str(config), "queue", *args])
    object.__setattr__(common.console, "_real", None)
    assert result.exit_code == 0, result.output
    return result.stdout


def _plain_tables(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each table of the next runs was written by the plain path."""
    written: list[bool] = []
    real = plain.table_lines

    def spy(*args: object, **kwargs: object) -> list[str] | None:
        lines = real(*args, **kwargs)  # type: ignore[arg-type]
        written.append(lines is not None)
        return lines

    monkeypatch.setattr(queue_module, "table_lines", spy)
    return written


@pytest.mark.parametrize("columns", [None, "120", "100", "70", "50", "200"])
@pytest.mark.parametrize(
    "args", [["--status", "all", "--limit", "100"], ["--kind", "dm"], ["--search", "zzzz"]]
)
def test_piped_queue_is_rich_s_bytes_without_rich(
    config: Path, monkeypatch: pytest.MonkeyPatch, columns: str | None, args: list[str]
) -> None:
    if columns is not None:
        monkeypatch.setenv("COLUMNS", columns)
    written = _plain_tables(monkeypatch)
    fast = _queue(config, args, rich=False, monkeypatch=monkeypatch)
    slow = _queue(config, args, rich=True, monkeypatch=monkeypatch)
    assert fast == slow
    if "zzzz" in args:
        assert "Queue is empty" in fast and written == []
        return
    assert fast.count("\n") > 1 and "\x1b" not in fast and "\u202e" not in fast
    # the hostile texts are in the table (cleaned), and the plain path wrote it, unless
    # the least widths are wider than the terminal (rich shrinks columns then)
    assert written == [columns != "50"], written
    if args[0] == "--status":
        assert "請求" in fast and "refund now" in fast


@pytest.mark.parametrize(
    ("cell", "kind"),
    [("a\tb", "text"), ("x\u202ey", "text"), ("x\ny", "text"), (":smile:", "str"), ("\x07", "str")],
)
def test_a_cell_rich_would_change_is_left_to_rich(cell: str, kind: plain.CellKind) -> None:
    """A raw cell rich would expand, split, clean or turn into an emoji: rich writes the table."""
    columns = [
        plain.PlainColumn("id", 3, ["demo:1"], "text"),
        plain.PlainColumn("x", None, [cell], kind),
    ]
    assert plain.table_lines(columns, 1000, True) is None
    columns[1] = plain.PlainColumn("x", None, ["fine"], kind)
    assert plain.table_lines(columns, 1000, True) is not None
    assert plain.table_lines(columns, 8, False) is None  # wider than the terminal


@pytest.mark.parametrize("env", [{"FORCE_COLOR": "1"}, {"TTY_COMPATIBLE": "1"}, {"COLUMNS": "x"}])
def test_a_forced_terminal_or_odd_width_is_rich_s(
    config: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    written = _plain_tables(monkeypatch)
    _queue(config, [], rich=False, monkeypatch=monkeypatch)
    assert written == []


def _show(config: Path, args: list[str], *, rich: bool, monkeypatch: pytest.MonkeyPatch) -> str:
    object.__setattr__(common.console, "_real", None)
    with monkeypatch.context() as patch:
        patch.setattr(time, "time", lambda: NOW)
        if rich:
            for name in ("write_line", "write_prose", "write_rule"):
                patch.setattr(agent_module, name, lambda *a: False)
        result = runner.invoke(app, ["--config", str(config), "show", *args, "--offline"])
    object.__setattr__(common.console, "_real", None)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("columns", [None, "120", "60", "20"])
def test_piped_show_is_rich_s_bytes_without_rich(
    config: Path, monkeypatch: pytest.MonkeyPatch, columns: str | None
) -> None:
    """Every line of ``show`` (rules, the text, thread, history, KB suggestions) on a pipe,
    for a public mention, a private conversation and each hostile text."""
    if columns is not None:
        monkeypatch.setenv("COLUMNS", columns)
    written: list[str] = []
    real = plain.write_lines
    monkeypatch.setattr(plain, "write_lines", lambda lines: (written.extend(lines), real(lines)))
    for mention in ["demo:1001", "demo:2005", *(f"demo:90{n}" for n in range(len(HOSTILE_TEXTS)))]:
        written.clear()
        fast = _show(config, [mention], rich=False, monkeypatch=monkeypatch)
        plain_lines = list(written)
        slow = _show(config, [mention], rich=True, monkeypatch=monkeypatch)
        assert fast == slow, mention
        assert "\x1b" not in fast and "\u202e" not in fast
        # the plain path wrote the lines (the rules and the header at least)
        assert any("─" in line for line in plain_lines) and mention in plain_lines[0], mention


def test_latin_letters_are_counted_as_rich_counts_them_without_its_tables() -> None:
    """``_cells``' shortcut for U+00A0..U+02FF agrees with rich's tables, char by char and
    mixed; anything else (wide, zero-width, C1 controls) still goes to rich."""
    from rich.cells import cell_len

    samples = [chr(c) for c in range(0x20, 0x7F)] + [chr(c) for c in range(0x80, 0x310)]
    samples += ["María González", "Ærøskøbing ŁÓDŹ ǅ", "naïve 東京", "a\u0301", "x\u200by", "\x85"]
    for text in samples:
        assert plain._cells(text) == cell_len(text), repr(text)
