"""Private data is private on disk: stores, WAL, sent-logs, exports and reports are 0600, dirs 0700.

Run as a real process under the common umask 022, as a user's shell would.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.store_free, pytest.mark.skipif(os.name != "posix", reason="POSIX modes")]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_everything_socialcare_writes_is_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "SOCIALCARE_HOME": str(home), "SOCIALCARE_AGENT": "alice"}
    env.pop("SOCIALCARE_DATABASE", None)
    env.pop("SOCIALCARE_CONFIG", None)
    script = (
        "import os, sys; os.umask(0o022); sys.argv = ['socialcare'] + sys.argv[1:]; "
        "from socialcare.cli import main; main()"
    )

    def run(*args: str) -> None:
        proc = subprocess.run(
            [sys.executable, "-c", script, *args], env=env, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)

    run("init")
    run("poll", "--quiet")
    run("reply", "demo:1013", "Thanks, we are on it")
    (tmp_path / "out").mkdir()
    run("export", "mentions", "-o", str(tmp_path / "out" / "mentions.csv"))
    run("report", "--html", str(tmp_path / "report.html"))
    assert _mode(home) == 0o700
    for name in ("socialcare.db", "config.toml", "demo-sent.jsonl"):
        assert _mode(home / name) == 0o600, name
    for extra in home.glob("socialcare.db-*"):  # WAL and shared-memory files
        assert _mode(extra) & 0o077 == 0, extra.name
    assert _mode(tmp_path / "out" / "mentions.csv") == 0o600
    assert _mode(tmp_path / "report.html") == 0o600
    assert _mode(home / "templates") == 0o700
