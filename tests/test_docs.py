"""The README and --help stay true: every command is documented, with an example."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Iterator

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from socialcare.cli import app
from socialcare.errors import EXIT_CODES

pytestmark = pytest.mark.store_free

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def commands(group: Any = None, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    group = group or get_command(app)
    for name, cmd in sorted(group.commands.items()):
        path = (*prefix, name)
        if hasattr(cmd, "commands"):
            if cmd.callback is not None and cmd.invoke_without_command:
                yield path
            yield from commands(cmd, path)
        else:
            yield path


def test_there_are_commands() -> None:
    names = {" ".join(c) for c in commands()}
    assert {"poll", "queue", "explain", "reply", "followup add", "kb search", "report"} <= names


def test_every_command_is_in_the_readme_with_an_example() -> None:
    missing = [" ".join(c) for c in commands() if f"socialcare {' '.join(c)}" not in README]
    assert missing == []


def test_every_command_has_help_ending_with_an_example() -> None:
    runner = CliRunner()
    for path in commands():
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "120", "NO_COLOR": "1"})
        assert result.exit_code == 0, (path, result.output)
        assert "Example:" in result.output, f"`socialcare {' '.join(path)} --help` has no example"


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    blocks = re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)
    install, tests = blocks[0].strip(), blocks[1].strip()
    assert "socialcare init" in install and "socialcare queue" in install
    assert tests in (ROOT / ".ci" / "run").read_text()


def test_exit_codes_table_matches_errors_module() -> None:
    for code, _meaning in EXIT_CODES:
        assert re.search(rf"^\| {code} \|", README, flags=re.M), f"exit code {code} not in README"


def test_example_config_parses_and_loads(tmp_path: Path) -> None:
    from socialcare.config import load_config

    text = (ROOT / "config.example.toml").read_text()
    tomllib.loads(text)
    cfg = load_config(ROOT / "config.example.toml")
    assert cfg.brand_handles


def test_typer_app_is_typer() -> None:
    assert isinstance(app, typer.Typer)


def test_example_config_builds_every_source_and_settings() -> None:
    from socialcare.app import Socialcare
    from socialcare.config import load_config
    from socialcare.followups import FollowupSettings
    from socialcare.poll import build_source

    cfg = load_config(ROOT / "config.example.toml")
    assert set(cfg.sources) >= {
        "demo",
        "twitter",
        "reddit",
        "mastodon",
        "bluesky",
        "hackernews",
        "rss",
        "appstore",
        "googleplay",
        "gbp",
    }
    for name in cfg.sources:
        assert build_source(cfg, name).queries(), name
    sc = Socialcare(cfg)
    assert sc.triage_settings.sla_seconds["complaint"] == 3600
    assert sc.kb_settings.threshold == 0.25
    FollowupSettings.from_mapping(cfg.followups)


_DOC_REF = re.compile(r":(?:mod|class|func|meth):`~?(socialcare(?:\.\w+)+)`")


def _resolves(dotted: str) -> bool:
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_docstring_references_name_modules_that_exist() -> None:
    """A docstring naming a moved or deleted module (``socialcare.store_kb``) fails here."""
    package = ROOT / "socialcare"
    broken = sorted(
        f"{path.relative_to(ROOT)}: {ref}"
        for path in package.rglob("*.py")
        for ref in _DOC_REF.findall(path.read_text("utf-8"))
        if not _resolves(ref)
    )
    assert broken == []


def test_readme_layout_names_every_package_and_top_level_module() -> None:
    section = README.split("## How the code is laid out", 1)[1].split("\n## ", 1)[0]
    package = ROOT / "socialcare"
    names = [p.name for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    names += [p.name for p in package.glob("*.py") if not p.name.startswith("_")]
    missing = sorted(n for n in names if not re.search(rf"\b{re.escape(n)}/?", section))
    assert missing == []
