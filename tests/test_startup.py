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


def test_the_command_table_is_what_the_modules_define() -> None:
    """``--help`` lists commands from cli.COMMANDS: each line must match the real command."""
    from socialcare import cli

    for name, (module, short_help) in cli.COMMANDS.items():
        command = cli._build(name)
        assert command.name == name
        assert command.get_short_help_str(10**9) == short_help, name
        assert not command.hidden
        callbacks = [command.callback] if command.callback else []
        callbacks += [c.callback for c in getattr(command, "commands", {}).values() if c.callback]
        modules = {getattr(getattr(f, "__wrapped__", f), "__module__", "") for f in callbacks}
        assert f"socialcare.commands.{module}" in modules, (name, modules)
    for module in {module for module, _ in cli.COMMANDS.values()}:
        holder = cli._module_app(module)
        defined = {c.name or c.callback.__name__ for c in holder.registered_commands}  # type: ignore[union-attr]
        defined |= {g.name for g in holder.registered_groups}
        listed = {name for name, (where, _) in cli.COMMANDS.items() if where == module}
        assert defined == listed, module


def test_help_lists_the_same_commands_as_the_built_group() -> None:
    """The table's stand-ins print exactly what the built commands would."""
    from typer.main import get_command

    from socialcare.cli import app

    def help_text(build: bool) -> str:
        group = get_command(app)
        if build:
            for name in list(group.commands):
                group.commands[name]  # builds it, as the old eager registration did
        ctx = group.make_context("socialcare", [], resilient_parsing=True, terminal_width=100)
        return group.get_help(ctx)

    lazy, built = help_text(False), help_text(True)
    assert lazy == built and "queue" in lazy and "notify" in lazy
