"""Fixtures the source adapter tests share."""

from __future__ import annotations

from typing import Iterator

import pytest
import respx

from tests.sources.graph_helpers import PAGE, TOKEN


@pytest.fixture
def graph_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Page credentials every Graph API adapter reads from the environment."""
    monkeypatch.setenv("FACEBOOK_PAGE_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("FACEBOOK_PAGE_ID", PAGE)


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """The platform's HTTP API answered by respx at the httpx transport (modules that
    drive a requests-based client define their own)."""
    with respx.mock(assert_all_called=False) as router:
        yield router
