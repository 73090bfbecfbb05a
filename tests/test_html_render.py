"""The HTML report in a real browser: headless Chromium renders it, and a probe checks the layout.

Skipped where Debian's ``chromium`` is not installed (``apt-get install -y chromium``);
``bench/render_html_report.sh`` is the same check by hand, and keeps the screenshot.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.store_free

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "render_html_report.sh"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK), reason="chromium is not installed"
)


def _render(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": sys.executable, "CHROMIUM": CHROMIUM}
    env["KEEP_PNG"] = str(tmp_path / "kept.png")
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=ROOT,
    )


@needs_chromium
def test_the_report_renders_without_layout_errors(tmp_path: Path) -> None:
    done = _render(tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "OK:" in done.stdout
    assert (tmp_path / "kept.png").stat().st_size > 40_000


@needs_chromium
def test_the_probe_catches_a_page_that_spills_out(tmp_path: Path) -> None:
    page = tmp_path / "wide.html"
    page.write_text(
        '<!DOCTYPE html><html><body><section id="t"><table><tr><td>'
        '<div style="width:3000px">x</div></td></tr></table></section>'
        '<svg width="100" height="40" aria-label="c"><text x="90" y="20">spills over</text></svg>'
        "</body></html>",
        encoding="utf-8",
    )
    done = _render(str(page), str(tmp_path / "wide.png"), tmp_path=tmp_path)
    assert done.returncode == 1
    assert "page wider than window" in done.stderr
    assert "table wider than page: t" in done.stderr
    assert "label outside chart c: spills over" in done.stderr
