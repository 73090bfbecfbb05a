"""The public API of socialcare.triage: exported names, and no network or UI imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import socialcare.triage as triage

pytestmark = pytest.mark.store_free

FORBIDDEN = ("httpx", "requests", "tweepy", "praw", "typer", "rich", "socialcare.sources",
             "socialcare.cli", "socialcare.poll", "socialcare.app", "urllib", "socket")  # fmt: skip
FILES = sorted(Path(triage.__file__).parent.glob("*.py"))


def test_all_names_exist() -> None:
    assert sorted(triage.__all__) == sorted(set(triage.__all__))
    for name in triage.__all__:
        assert hasattr(triage, name), name
    assert {"TriageSettings", "score_row", "explain"} <= set(triage.__all__)


def _imports(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports resolved inside socialcare)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names.add(node.module or "")
            else:  # from ..x import y (level 2) or from .x import y (level 1)
                base = ["socialcare"] if node.level == 2 else ["socialcare", "triage"]
                names.add(".".join(base + ([node.module] if node.module else [])))
    return names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_triage_imports_no_network_or_ui_modules(path: Path) -> None:
    for name in _imports(path):
        assert not any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN), name
