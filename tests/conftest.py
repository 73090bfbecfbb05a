"""Shared fixtures: an isolated SOCIALCARE_HOME, a migrated in-memory store, a CLI runner."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from socialcare.sources import registry
from socialcare.store import Store, open_store


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data/config dir and no stray socialcare env vars."""
    import os

    for key in list(os.environ):
        if key.startswith(("SOCIALCARE_", "TWITTER_", "REDDIT_")):
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    monkeypatch.setenv("SOCIALCARE_HOME", str(home))
    monkeypatch.setenv("SOCIALCARE_AGENT", "alice")
    monkeypatch.setenv("EDITOR", "false")  # never open a real editor in a test
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setattr(registry, "LOAD_ENTRY_POINTS", False)
    registry.load_plugins()
    # Tests register fakes and unregister sources; each test starts from the built-ins.
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    return home


@pytest.fixture
def store() -> Iterator[Store]:
    """A migrated in-memory store."""
    s = open_store(":memory:")
    yield s
    s.close()


@pytest.fixture
def file_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated on-disk store (WAL), for tests that need a second connection."""
    s = open_store(tmp_path / "store.db")
    yield s
    s.close()
