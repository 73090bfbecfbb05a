"""Start-up: the CLI loads platform clients, numpy, the adapters, KB and report code only
when a command needs them (issue 18 item 7). Each check runs in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.store_free

#: module prefixes no start-up may load: platform clients, numerics, language
#: detection, the adapters, and the knowledge base and report code
HEAVY = (
    "tweepy",
    "praw",
    "prawcore",
    "numpy",
    "sklearn",
    "pandas",
    "feedparser",
    "py3langid",
    "google.auth",
    "google.oauth2",
    "jwt",
    "markdown_it",
    "socialcare.sources.",
    "socialcare.kb",
    "socialcare.reports",
)

_PROBE = """
import json, sys
{body}
print(json.dumps(sorted(sys.modules)))
"""


def _loaded(body: str, home: Path) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALCARE_")}
    env["SOCIALCARE_HOME"] = str(home)
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(body=body)],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    modules: list[str] = json.loads(out.strip().splitlines()[-1])
    return [m for m in modules if m == "socialcare.sources" or m.startswith(HEAVY)]


def test_importing_the_cli_loads_nothing_heavy(tmp_path: Path) -> None:
    assert _loaded("import socialcare.cli", tmp_path) == []


@pytest.mark.parametrize("argv", [["--help"], ["queue"], ["queue", "--json"], ["--version"]])
def test_light_commands_load_nothing_heavy(tmp_path: Path, argv: list[str]) -> None:
    body = (
        "import socialcare.cli\n"
        "try:\n"
        f"    socialcare.cli.app({argv!r}, prog_name='socialcare')\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
    )
    assert _loaded(body, tmp_path) == []
