"""Placeholder, replaced by the real adapter."""

from __future__ import annotations

from typing import Iterator

from ..models import Page
from .base import Source


class RedditSource(Source):
    name = "reddit"

    def queries(self) -> list[str]:
        return []

    def poll(self, query: str, cursor: str | None) -> Iterator[Page]:
        return iter(())
