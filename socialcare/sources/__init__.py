"""Source adapters: one interface (``base.Source``), a registry, and the built-ins."""

from .base import Source
from .registry import get_source_class, register, source_classes

__all__ = ["Source", "get_source_class", "register", "source_classes"]
