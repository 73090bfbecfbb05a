"""An example socialcare source plugin: the smallest adapter that polls.

Install it (``pip install ./examples/socialcare-example-source``) and
``socialcare sources`` lists ``example``; add ``[sources.example]`` to the
config and ``socialcare poll`` stores its two posts once. A real adapter builds
its HTTP client from its config table in ``__init__`` and yields one
:class:`~socialcare.models.Page` per API page.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, Iterator

from socialcare.models import Mention, Page
from socialcare.sources.base import Source

__all__ = ["ExampleSource", "register_sources"]

#: (native id, author, text): what a platform's API would return
_POSTS = [
    ("ex-1", "alice", "Where is my order #1001? It is a week late."),
    ("ex-2", "bob", "Thanks for fixing my login so quickly!"),
]


class ExampleSource(Source):
    """Two fixed posts; read-only, so reply/post refuse with a clear message."""

    name = "example"
    description = "example plugin: two fixed posts (read-only, offline)"
    read_only = True

    def queries(self) -> list[str]:
        return ["all"]

    def poll(self, query: str, cursor: str | None) -> Iterator[Page]:
        # the cursor is how many posts were stored; storing a page stores its cursor too
        done = int(cursor or 0)
        new = [
            Mention(
                source=self.name,
                native_id=native,
                text=text,
                created_at=datetime(2024, 5, 13, 10, n, tzinfo=timezone.utc),
                author_id=author,
                author_handle=author,
                url=f"https://example.invalid/{native}",
                query=query,
            )
            for n, (native, author, text) in enumerate(_POSTS, start=1)
            if n > done
        ]
        yield Page(new, cursor=str(len(_POSTS)))


def register_sources(register: Callable[[type[Source]], object]) -> None:
    """The ``socialcare.sources`` entry point: register every adapter of this package."""
    register(ExampleSource)
