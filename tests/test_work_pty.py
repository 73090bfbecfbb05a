"""`socialcare work` driven in a real pseudo-terminal, as an agent would use it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest

from socialcare.store import open_store


@pytest.fixture
def polled(tmp_path: Path, isolated_home: Path) -> tuple[Path, dict[str, str]]:
    cfg = tmp_path / "config.toml"
    env = {**os.environ, "SOCIALCARE_HOME": str(isolated_home), "COLUMNS": "100", "TERM": "xterm"}
    for args in (["init"], ["poll", "--quiet"]):
        child = pexpect.spawn(sys.executable, ["-m", "socialcare", "--config", str(cfg), *args],
                              env=env, encoding="utf-8", timeout=60)  # fmt: skip
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0, child.before
    return cfg, env


def test_work_in_a_real_terminal_closes_and_quits(polled: tuple[Path, dict[str, str]],
                                                  database: str) -> None:  # fmt: skip
    cfg, env = polled
    child = pexpect.spawn(sys.executable, ["-m", "socialcare", "--config", str(cfg), "work"],
                          env=env, encoding="utf-8", timeout=60, dimensions=(40, 100))  # fmt: skip
    child.expect(r"\[q\]uit")
    first = child.before
    child.sendline("c")  # close the top mention
    child.expect(r"\[q\]uit")
    child.sendline("s")  # skip the next
    child.expect(r"\[q\]uit")
    child.sendline("q")
    child.expect("Handled 1 mention")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "\x1b[2J" not in first  # hostile clear-screen sequences never reach the terminal
    store = open_store(database)  # the store the CLI used: default file, or PostgreSQL
    closed = store.events(action="close")
    assert len(closed) == 1 and closed[0]["agent"] == "alice"


@pytest.mark.parametrize("key", ["ctrl-c", "ctrl-d"])
def test_ctrl_c_or_ctrl_d_at_the_work_prompt_is_one_line_and_exit_130(
    polled: tuple[Path, dict[str, str]], database: str, key: str
) -> None:
    cfg, env = polled
    child = pexpect.spawn(sys.executable, ["-m", "socialcare", "--config", str(cfg), "work"],
                          env=env, encoding="utf-8", timeout=60, dimensions=(40, 100))  # fmt: skip
    child.expect(r"\[q\]uit")
    if key == "ctrl-c":
        child.sendintr()
    else:
        child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    out = child.before
    assert "Interrupted" in out and "Traceback" not in out and "Abort" not in out
    assert "│" not in out  # no rich traceback box either
