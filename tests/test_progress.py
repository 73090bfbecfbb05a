"""Progress on long work (issue 18 item 6): the library reports steps through a ``progress``
callback; ``poll``, ``export`` and ``db copy`` draw them as a rich bar on a terminal, and
print nothing of it in a pipe or with ``--quiet``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
from typer.testing import CliRunner

from socialcare.app import ExportQuery, Socialcare
from socialcare.cli import app
from socialcare.models import Step

runner = CliRunner()
BAR = "━"  # rich's bar character (tables' heavy header lines use it too)
#: what only a progress display prints: its elapsed-time column and its task names
BAR_ONLY = ("0:00:", "waiting for the first page", "demo file", "export mentions", "copy mentions")


@pytest.fixture
def cfg(tmp_path: Path, isolated_home: Path) -> Path:
    path = tmp_path / "config.toml"
    assert runner.invoke(app, ["--config", str(path), "init"]).exit_code == 0
    return path


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "SOCIALCARE_HOME": str(home), "TERM": "xterm", "COLUMNS": "120"}


def _in_a_terminal(cfg: Path, home: Path, *args: str) -> tuple[int, str]:
    child = pexpect.spawn(sys.executable, ["-m", "socialcare", "--config", str(cfg), *args],
                          env=_env(home), encoding="utf-8", timeout=60,
                          dimensions=(40, 120))  # fmt: skip
    child.expect(pexpect.EOF)
    child.close()
    return int(child.exitstatus or 0), child.before


def _in_a_pipe(cfg: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "socialcare", "--config", str(cfg), *args],
        capture_output=True, text=True, env=_env(home), timeout=60, check=False,
    )  # fmt: skip


# -- the library's callback ----------------------------------------------------------
def test_poll_reports_each_query_as_it_starts_and_each_page(cfg: Path) -> None:
    steps: list[Step] = []
    sc = Socialcare.from_config_file(cfg)
    try:
        summary = sc.poll(["demo"], progress=steps.append)
    finally:
        sc.shutdown()
    fetched = sum(r.items_read for r in summary.results)
    assert fetched > 0
    assert steps[0] == Step("demo file", 0, None, "waiting for the first page")
    pages = steps[1:]
    assert pages and all(s.task == "demo file" for s in pages)
    assert [s.done for s in pages] == sorted(s.done for s in pages)
    assert pages[-1].done == fetched
    assert pages[-1].note == f"page {len(pages)}, {summary.new} new"


def test_export_and_copy_report_rows_as_they_go(cfg: Path, tmp_path: Path) -> None:
    sc = Socialcare.from_config_file(cfg)
    try:
        sc.poll(["demo"])
        steps: list[Step] = []
        _, rows = sc.export(ExportQuery(kind="mentions", include_dm=True), progress=steps.append)
        assert steps == []  # the rows stream: nothing is read (or counted) before they are
        count = len(list(rows))
        assert steps[0] == Step("export mentions", 0)
        assert steps[-1] == Step("export mentions", count, count)
        copied: list[Step] = []
        sc.db_copy(str(tmp_path / "copy.db"), progress=copied.append)
    finally:
        sc.shutdown()
    mentions = [s for s in copied if s.task == "copy mentions"]
    assert mentions and mentions[-1].done == mentions[-1].total == count


# -- the terminal and the pipe -----------------------------------------------------------
def test_poll_draws_a_bar_per_source_on_a_terminal_and_not_with_quiet(
    cfg: Path, isolated_home: Path
) -> None:
    code, out = _in_a_terminal(cfg, isolated_home, "poll")
    assert code == 0, out
    assert BAR in out and "demo file" in out
    assert "waiting for the first page" in out or "page 1" in out
    code, out = _in_a_terminal(cfg, isolated_home, "poll", "--quiet")
    assert code == 0, out
    assert out.strip() == ""


def test_export_and_db_copy_draw_bars_on_a_terminal(
    cfg: Path, isolated_home: Path, tmp_path: Path
) -> None:
    assert runner.invoke(app, ["--config", str(cfg), "poll", "--quiet"]).exit_code == 0
    code, out = _in_a_terminal(cfg, isolated_home, "export", "mentions", "-o",
                               str(tmp_path / "m.csv"))  # fmt: skip
    assert code == 0, out
    assert "export mentions" in out and BAR in out and "0:00:" in out and "Exported" in out
    code, out = _in_a_terminal(cfg, isolated_home, "db", "copy", "--to", str(tmp_path / "c.db"))
    assert code == 0, out
    assert "copy mentions" in out and BAR in out
    code, out = _in_a_terminal(cfg, isolated_home, "export", "mentions", "-q", "-o",
                               str(tmp_path / "q.csv"))  # fmt: skip
    assert code == 0 and out.strip() == "", out


def test_nothing_of_the_bars_reaches_a_pipe(cfg: Path, isolated_home: Path, tmp_path: Path) -> None:
    for args in (
        ["poll"],
        ["export", "mentions", "-o", str(tmp_path / "m.csv")],
        ["export", "mentions"],
        ["db", "copy", "--to", str(tmp_path / "c.db")],
    ):
        proc = _in_a_pipe(cfg, isolated_home, *args)
        assert proc.returncode == 0, proc.stderr
        for stream in (proc.stdout, proc.stderr):
            assert "\x1b[" not in stream, (args, stream)
            # an exported row may hold a time like 10:00:00, so stdout skips the elapsed clock
            markers = BAR_ONLY if stream is proc.stderr else BAR_ONLY[1:]
            assert not [s for s in markers if s in stream], (args, stream)
