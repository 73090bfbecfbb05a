"""The tree is the architecture: imports point one way, checked from the source.

commands -> app -> services (poll, workflow, outbox, followups, incident, scoring,
reports.collect)
-> store / sources / triage -> models. A change that makes a lower layer reach up
(the store importing a source or report arithmetic, a source opening the store,
a command reaching past the library API into the store) fails here.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import socialcare

pytestmark = pytest.mark.store_free

PACKAGE = Path(socialcare.__file__).parent

#: services and layers a command may not import: it goes through Socialcare (socialcare.app)
_BELOW_THE_API = (
    "socialcare.store",
    "socialcare.poll",
    "socialcare.followups",
    "socialcare.incident",
    "socialcare.team",
    "socialcare.outbox",
    "socialcare.workflow",
    "socialcare.scoring",
    "socialcare.sources",
    "socialcare.reports.collect",
)
#: the library API and everything above it: no lower layer may reach up into these
_API_AND_ABOVE = (
    "socialcare.app",
    "socialcare.commands",
    "socialcare.cli",
    "socialcare.poll",
    "socialcare.followups",
    "socialcare.incident",
    "socialcare.team",
    "socialcare.outbox",
    "socialcare.workflow",
    "socialcare.scoring",
    "rich",
    "typer",
)
#: layer (a module prefix) -> module prefixes it must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "socialcare.commands": _BELOW_THE_API,
    "socialcare.triage": (
        *_API_AND_ABOVE,
        "socialcare.store",
        "socialcare.sources",
        "socialcare.reports",
        "httpx",
    ),
    "socialcare.store": (
        *_API_AND_ABOVE,
        "socialcare.reports",
        "socialcare.sources",
        "socialcare.triage",
        "socialcare.kb",
    ),
    "socialcare.sources": (
        *_API_AND_ABOVE,
        "socialcare.store",
        "socialcare.triage",
        "socialcare.reports",
    ),
    "socialcare.reports.metrics": ("socialcare.store", "socialcare.sources", "rich", "typer"),
    "socialcare.models": ("socialcare.",),
}
#: the top level stays small: the services and one-job helpers (see STYLE.md)
TOP_LEVEL_LIMIT = 15


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of the modules a file imports (relative imports resolved)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            else:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            names.add(base)
            # "from . import x" imports the module x too
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _matches(name: str, prefix: str) -> bool:
    if prefix.endswith("."):
        return name.startswith(prefix)
    return name == prefix or name.startswith(prefix + ".")


def _violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        for layer, banned in FORBIDDEN.items():
            if not _matches(module, layer):
                continue
            for name in sorted(_imports(path)):
                if name == module:
                    continue
                if any(_matches(name, b) for b in banned):
                    found.append(f"{module} imports {name} (a {layer} module may not)")
    return found


def test_imports_point_one_way() -> None:
    assert _violations() == []


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """The parser resolves relative imports, so a violation written relatively is caught."""
    fake = PACKAGE / "store" / "_layering_probe.py"
    fake.write_text("from ..sources import base\nfrom ..reports.metrics import Report\n")
    try:
        found = _violations()
    finally:
        fake.unlink()
    assert "socialcare.store._layering_probe imports socialcare.sources.base" in " ".join(found)
    assert any("socialcare.reports.metrics" in line for line in found)


def test_the_top_level_stays_small() -> None:
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= TOP_LEVEL_LIMIT, modules
    prefixed = [m for m in modules if m.startswith(("store_", "cli_", "migrations"))]
    assert prefixed == []


def test_a_source_module_does_not_load_the_store() -> None:
    """Importing the adapter base classes (what a plugin does) opens no door to the store."""
    code = (
        "import sys; import socialcare.sources.http, socialcare.sources.base; "
        "print(sorted(m for m in sys.modules if m.startswith('socialcare.store')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


#: where a backend may be named: the dialect classes and the per-backend modules
_BACKEND_MODULES = {"dialect.py", "pg.py", "postgres.py", "sqlite.py", "locks.py"}
_BACKEND_TEST = re.compile(
    r"""is_pg|\.backend\s*[!=]=|dialect\.name\s*[!=]=|isinstance\([^)]*Dialect|["']postgresql["']\s*(?:==|!=|in)"""
)


def test_backend_differences_live_in_the_dialect() -> None:
    """No store module branches on which backend it runs: it asks its Dialect instead."""
    found = []
    for path in sorted((PACKAGE / "store").rglob("*.py")):
        if path.name in _BACKEND_MODULES:
            continue
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if _BACKEND_TEST.search(line):
                found.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert found == []


@pytest.mark.parametrize(
    ("definition", "home"),
    [
        (re.compile(r"class \w+\((?:\w+, )?(?:html\.parser\.)?HTMLParser\)"), "safety.py"),
        (re.compile(r"^STOPWORDS\s*=", re.M), "triage/words.py"),
        (re.compile(r"^def (?:parse_agent_time|parse_since|parse_future)\(", re.M), "timeutil.py"),
        (re.compile(r"^def parse_iso\(", re.M), "models.py"),  # stored and platform times
        (re.compile(r"^def (?:clean_text|csv_safe)\(", re.M), "safety.py"),
    ],
)
def test_one_of_each_helper(definition: re.Pattern[str], home: str) -> None:
    """HTML-to-text, stopwords, time parsing and text cleaning each have one definition."""
    homes = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if definition.search(path.read_text("utf-8"))
    )
    assert homes == [home]
