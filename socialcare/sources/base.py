"""The one interface every source adapter implements.

An adapter is built from its ``[sources.NAME]`` config table, reads its
credentials from the environment variables that table names, and then:

* ``queries()`` lists what it polls (each has its own cursor);
* ``poll(query, cursor)`` yields :class:`~socialcare.models.Page` objects,
  oldest-safe: a page's ``cursor`` is only set when storing that page (and all
  before it) makes it safe to skip everything up to that cursor next time;
* ``reply(mention, text)`` / ``post(text)`` publish and return the platform id.

Adapters know no screen and no SQL: they return data and raise
``SocialcareError`` subclasses (``RateLimited``, ``AuthError``, ``SourceError``).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Iterator, Mapping

from ..errors import SourceError
from ..models import Mention, Page, SentPost

__all__ = ["Source"]

log = logging.getLogger("socialcare.sources")


class Source(ABC):
    """Base class of source adapters (see the module docstring for the contract)."""

    #: registry name and ``[sources.NAME]`` config table
    name: ClassVar[str]
    #: one-line description for ``socialcare sources``
    description: ClassVar[str] = ""
    #: default environment variables holding credentials (config may rename them)
    env_vars: ClassVar[tuple[str, ...]] = ()
    #: read-only sources refuse reply/post with a clear message
    read_only: ClassVar[bool] = False
    #: the platform's reply length limit in characters (None: unlimited)
    max_length: ClassVar[int | None] = None

    def __init__(self, config: Mapping[str, Any], *, brand_handles: tuple[str, ...] = ()) -> None:
        self.config = config
        self.brand_handles = brand_handles

    @abstractmethod
    def queries(self) -> list[str]:
        """The queries this source polls, each with its own cursor."""

    @abstractmethod
    def poll(self, query: str, cursor: str | None) -> Iterator[Page]:
        """Yield pages of mentions newer than ``cursor`` for ``query``."""

    def reply(self, mention: Mention, text: str) -> SentPost:
        """Publish ``text`` as a reply to ``mention``."""
        raise SourceError(f"source '{self.name}' is read-only: reply on the platform itself")

    def post(self, text: str) -> SentPost:
        """Publish ``text`` as a new post (announcements)."""
        raise SourceError(f"source '{self.name}' is read-only: it cannot publish posts")

    def fetch(self, native_ids: list[str]) -> list[Mention]:
        """Fetch specific posts by native id (e.g. missing parents of a thread)."""
        raise SourceError(f"source '{self.name}' cannot fetch posts by id")

    def check_credentials(self) -> None:
        """Raise ``MissingCredential`` naming the variable if a credential is unset."""
        return None  # sources without credentials (demo, RSS) have nothing to check

    def text_length(self, text: str) -> int:
        """Length of ``text`` as the platform counts it against ``max_length``."""
        return len(text)
