"""Terminal conventions from a working day: interrupts, closed pipes, editors, quiet cron runs.

Each of these once printed a traceback, a wrong message or output under
``--quiet``; the CLI runs in-process (CliRunner) or as a real process where
the behaviour depends on the operating system (pipes, signals).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from socialcare.commands.common import quiet_logging, setup_logging
from socialcare.store import open_store
from tests.test_cli import cfg, fake_editor, run  # noqa: F401  (cfg is a fixture)

ROOT = Path(__file__).resolve().parents[1]


def test_eof_at_a_prompt_is_interrupted_exit_130_without_traceback(cfg: Path) -> None:  # noqa: F811
    code, out = run(cfg, "work", input="")
    assert code == 130
    assert "Interrupted" in out and "Traceback" not in out and "Abort" not in out


def test_a_closed_pipe_ends_quietly_with_exit_0(cfg: Path, isolated_home: Path) -> None:  # noqa: F811
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte, like `| head -0`
    env = {**os.environ, "SOCIALCARE_HOME": str(isolated_home)}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "socialcare", "--config", str(cfg), "show", "demo:1001",
             "--offline"],
            stdout=write_end, stderr=subprocess.PIPE, env=env, timeout=60, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b""


def test_an_editor_that_cannot_start_is_one_line_exit_2(
    cfg: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    isolated_home: Path,
) -> None:
    monkeypatch.setenv("EDITOR", "/nonexistent/editor-xyz")
    monkeypatch.delenv("VISUAL", raising=False)
    code, out = run(cfg, "reply", "demo:1019")
    assert code == 2
    assert "editor could not run" in out and "Traceback" not in out
    assert len(out.strip().splitlines()) == 1
    assert not (isolated_home / "demo-sent.jsonl").exists()


@pytest.mark.parametrize(("answer", "sent"), [("y", True), ("n", False)])
def test_an_unedited_template_asks_before_sending(
    cfg: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    isolated_home: Path,
    answer: str,
    sent: bool,
) -> None:
    monkeypatch.setenv("EDITOR", "true")  # closes without saving, as ":q" does
    code, out = run(cfg, "reply", "demo:1019", "--template", "apology", input=f"{answer}\n")
    assert "empty reply" not in out
    assert "unedited draft" in out
    outbox = isolated_home / "demo-sent.jsonl"
    if sent:
        assert code == 0, out
        assert len(outbox.read_text().splitlines()) == 1
    else:
        assert code == 2 and "not sent" in out
        assert not outbox.exists()


def test_work_previews_a_typed_reply_and_no_returns_to_the_same_mention(
    cfg: Path,  # noqa: F811
    isolated_home: Path,
    database: str,
) -> None:
    # type a reply, decline it at the preview, then close the same mention, then quit
    code, out = run(cfg, "work", input="r\nThanks for flagging this\nn\nc\nq\n")
    assert code == 0, out
    assert re.search(r"Send this reply \(24/\d+ chars\)\?", out)
    assert "Not sent." in out
    assert not (isolated_home / "demo-sent.jsonl").exists()
    top = re.search(r"(demo:\d+)", out)
    assert top is not None
    store = open_store(database, upgrade=False)
    try:
        assert store.get_mention(top.group(1))["status"] == "closed"  # the one shown, not the next
    finally:
        store.close()
    assert "Handled 1 mention(s)" in out


def test_work_counts_every_action_that_moves_a_mention_on(cfg: Path) -> None:  # noqa: F811
    # skip, close, assign, snooze: three handled (skip is not handling)
    code, out = run(cfg, "work", input="s\nc\na\nbob\nz\n2h\nq\n")
    assert code == 0, out
    assert "Handled 3 mention(s)" in out


def _cron_commands() -> list[tuple[list[str], bool]]:
    """(arguments, handled) per README cron line; ``handled``: the line acts on a non-zero exit."""
    readme = (ROOT / "README.md").read_text("utf-8")
    block = readme.split("## Cron recipe", 1)[1].split("```cron", 1)[1].split("```", 1)[0]
    out = []
    for line in block.splitlines():
        if not re.match(r"^[\d*/,-]+\s", line):
            continue  # variables and comments
        command = line.split("socialcare ", 1)[1]
        handled = "||" in command
        command = re.split(r"\s*(?:>|\|\||&&|;)", command)[0]
        out.append((shlex.split(command), handled))
    return out


def test_the_readme_cron_lines_run_and_are_quiet_on_a_healthy_store(cfg: Path) -> None:  # noqa: F811
    commands = _cron_commands()
    assert len(commands) >= 4 and (["status", "--alert", "--quiet"], False) in commands
    for args, handled in commands:
        code, out = run(cfg, *args)
        # a line that acts on its exit code may alert (the freshly polled demo is a spike)
        assert code == 0 or (handled and code == 9), (args, out)
        if "--quiet" in args:
            assert out.strip() == "", (args, out)


def test_status_quiet_still_prints_alerts(cfg: Path, tmp_path: Path) -> None:  # noqa: F811
    text = cfg.read_text("utf-8")
    cfg.write_text(text.replace("[sources.demo]", '[sources.demo]\nsilent_after = "1s"'), "utf-8")
    code, out = run(cfg, "status", "--alert", "--quiet")
    assert code == 10 and "ALERT" in out
    assert "last poll" not in out  # no tables


def test_library_warnings_are_one_clean_line_and_quiet_silences_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_logging()
    logging.getLogger("prawcore").warning("slow down\x1b[2J\nplease")
    err = capsys.readouterr().err
    assert err.strip() == "warning: slow down please"
    quiet_logging()
    logging.getLogger("prawcore").warning("hidden")
    logging.getLogger("socialcare.poll").error("shown")
    err = capsys.readouterr().err
    assert "hidden" not in err and "error: shown" in err
    setup_logging()


def test_queue_csv_and_json_strip_terminal_escapes(cfg: Path) -> None:  # noqa: F811
    code, out = run(cfg, "queue", "--csv", "--status", "all", "--limit", "100")
    assert code == 0 and "demo:1010" in out
    assert "\x1b" not in out and "\x9b" not in out
    code, out = run(cfg, "queue", "--jsonl", "--status", "all", "--limit", "100")
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows and all("\x1b" not in json.dumps(r, ensure_ascii=False) for r in rows)


# -- issue 18 item 5: pipes and narrow terminals ------------------------------------------
def _piped(config: Path, home: Path, *args: str, columns: str | None = None):  # noqa: ANN202
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["SOCIALCARE_HOME"] = str(home)
    if columns is not None:
        env["COLUMNS"] = columns
    return subprocess.run(
        [sys.executable, "-m", "socialcare", "--config", str(config), *args],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


def test_piped_output_keeps_the_full_row(cfg: Path, isolated_home: Path) -> None:  # noqa: F811
    from socialcare.safety import one_line

    code, out = run(cfg, "queue", "--json")
    texts = [one_line(m["text"]) for m in json.loads(out)]
    proc = _piped(cfg, isolated_home, "queue")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) > 80  # not cut to 80 columns
    assert all(text in proc.stdout for text in texts)  # every text whole, no "…"
    assert "…" not in proc.stdout
    assert all(line == line.rstrip() for line in lines)  # and no padding after the row
    assert lines[0].split()[-2:] == ["author", "text"] and "sentiment" in lines[0]
    assert "sent." not in lines[0]


def test_a_narrow_terminal_fits_the_queue_and_shows_ages(cfg: Path, isolated_home: Path) -> None:  # noqa: F811
    import pexpect

    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env.update(SOCIALCARE_HOME=str(isolated_home), TERM="xterm")
    run(cfg, "note", "demo:1001", "checked with billing")
    for args in (["queue"], ["log"]):
        child = pexpect.spawn(sys.executable, ["-m", "socialcare", "--config", str(cfg), *args],
                              env=env, encoding="utf-8", timeout=60, dimensions=(40, 70))  # fmt: skip
        child.expect(pexpect.EOF)
        child.close()
        plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", child.before)
        lines = [line for line in plain.splitlines() if line.strip()]
        assert child.exitstatus == 0, plain
        assert lines and max(len(line) for line in lines) <= 70, plain
        if args == ["log"]:
            # ages where the table is narrow ("now" under a second: a fast start-up gets there)
            assert re.search(r"(?m)^\W*(now|\d+[smhd]\S* ago) ", plain), plain


def test_first_run_messages_and_errors_never_wrap(
    tmp_path: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from typer.testing import CliRunner

    from socialcare.cli import app

    narrow = CliRunner()
    path = tmp_path / "deep" / ("very-long-directory-name-" * 3) / "config.toml"
    result = narrow.invoke(app, ["--config", str(path), "init"], env={"COLUMNS": "40"})
    assert result.exit_code == 0, result.output
    assert f"Wrote config {path}" in result.output.splitlines()
    result = narrow.invoke(app, ["--config", str(path), "queue"], env={"COLUMNS": "40"})
    assert result.output.strip() == "Queue is empty: nothing waiting. (Try `socialcare poll`.)"
    proc = _piped(path, isolated_home, "queue", "--source", "x" * 300, columns="40")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("Error: ")
    from rich.text import Text

    from socialcare.commands.common import err_console

    os.environ["COLUMNS"] = "40"
    try:
        err_console.print(Text("Warning: " + "a long warning from a platform " * 10))
    finally:
        del os.environ["COLUMNS"]
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_the_log_detail_is_a_sentence(cfg: Path) -> None:  # noqa: F811
    run(cfg, "note", "demo:1001", "checked with billing")
    run(cfg, "assign", "demo:1002", "--to", "bob")
    run(cfg, "tag", "demo:1002", "billing", "refund")
    code, out = run(cfg, "log", "--limit", "5")
    assert code == 0
    assert "note: checked with billing" in out
    assert "to bob" in out and "tags billing, refund" in out
    assert '{"' not in out  # no raw JSON in the human table
    code, out = run(cfg, "log", "--json", "--limit", "5")
    assert {"text": "checked with billing"} in [e["detail"] for e in json.loads(out)]


@pytest.mark.store_free
def test_report_columns_are_named_for_what_they_hold() -> None:
    from rich.console import Console

    from socialcare.commands.reports import _rich_table
    from socialcare.reports.metrics import ReportTable

    table = ReportTable("first_response", "First response", ["intent", "replied",
                        "median_seconds", "p90_seconds"], [["complaint", 3, 4260.0, 7200.0]])  # fmt: skip
    screen = Console(width=100, record=True, color_system=None)
    screen.print(_rich_table(table, 100))
    shown = screen.export_text()
    assert "median" in shown and "p90" in shown and "1h11m" in shown
    assert "seconds" not in shown


@pytest.mark.store_free
@pytest.mark.parametrize(
    "action, detail, sentence",
    [
        ("note", {"text": "checked\nwith billing"}, "note: checked with billing"),
        ("assign", {"to": "bob"}, "to bob"),
        ("snooze", {"until": "2027-07-01T08:00:00Z"}, "until 2027-07-01 09:00 BST"),
        ("sent", {"outbox_id": 3, "kind": "reply", "platform_id": "99"},
         "outbox #3; reply; posted as 99"),
        ("followup_scheduled", {"outbox_id": 4, "due_at": "2027-01-04T09:00:00Z", "rule": None,
                                "dm": True}, "outbox #4; due 2027-01-04 09:00 GMT; as a private message"),
        ("claim", {"previous": None, "forced": False}, ""),
        ("poll", {"source": "demo", "query": "file", "new": 3}, "source demo; query file; 3 new"),
        ("odd", "not json \x1b[2J", "not json"),
    ],
)  # fmt: skip
def test_every_event_detail_reads_as_words(action: str, detail: object, sentence: str) -> None:
    from socialcare.commands.common import event_sentence

    text = detail if isinstance(detail, str) else json.dumps(detail)
    assert event_sentence(action, text, "Europe/London") == sentence
