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
