"""Which source adapters exist: built-ins plus the ``socialcare.sources`` entry points.

Third-party packages expose a callable in the entry-point group
``socialcare.sources``; it receives ``register`` and calls it with each
``Source`` subclass, exactly as the built-ins below do (the llm plugin style).
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import Callable

from ..errors import NotFound
from .base import Source

__all__ = ["register", "unregister", "get_source_class", "source_classes", "load_plugins"]

log = logging.getLogger("socialcare.sources")
ENTRY_POINT_GROUP = "socialcare.sources"

_REGISTRY: dict[str, type[Source]] = {}
_loaded = False
#: tests switch entry-point loading off so an installed plugin cannot leak in
LOAD_ENTRY_POINTS = True


def register(cls: type[Source]) -> type[Source]:
    """Make ``cls`` available under ``cls.name`` (later registrations win)."""
    _REGISTRY[cls.name] = cls
    return cls


def unregister(name: str) -> None:
    """Forget a source (used by tests that register fakes)."""
    _REGISTRY.pop(name, None)


def _register_builtins(register_fn: Callable[[type[Source]], object]) -> None:
    from .appstore import AppStoreSource
    from .bluesky import BlueskySource
    from .demo import DemoSource
    from .facebook import FacebookSource
    from .gbp import GbpSource
    from .googleplay import GooglePlaySource
    from .hackernews import HackerNewsSource
    from .instagram import InstagramSource
    from .mastodon import MastodonSource
    from .reddit import RedditSource
    from .rss import RssSource
    from .twitter import TwitterSource

    for cls in (
        DemoSource, TwitterSource, RedditSource, MastodonSource, BlueskySource,
        HackerNewsSource, RssSource, AppStoreSource, GooglePlaySource,
        GbpSource, FacebookSource, InstagramSource,
    ):  # fmt: skip
        register_fn(cls)


def load_plugins() -> None:
    """Register built-ins and every ``socialcare.sources`` entry point, once."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    _register_builtins(register)
    if not LOAD_ENTRY_POINTS:
        return
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            hook = ep.load()
            hook(register)
        except Exception as exc:  # a broken plugin must not break the tool
            log.warning("source plugin %s failed to load: %s", ep.name, exc)


def source_classes() -> dict[str, type[Source]]:
    """Every registered adapter by name."""
    load_plugins()
    return dict(sorted(_REGISTRY.items()))


def get_source_class(name: str) -> type[Source]:
    """The adapter called ``name``, or NotFound listing the known ones."""
    classes = source_classes()
    if name not in classes:
        raise NotFound(f"unknown source '{name}' (known: {', '.join(classes)})")
    return classes[name]
