"""socialcare: social customer care from the terminal.

The CLI is one client of this library. Start from :class:`Socialcare`
(``socialcare.app``): it ties a config, a store, the sources and triage together.
"""

from __future__ import annotations

from .config import Config, load_config
from .errors import EXIT_CODES, SocialcareError
from .models import Mention, Page, SentPost
from .store import QueueFilter, Store, open_store

__version__ = "0.1.0"

__all__ = [
    "Config",
    "EXIT_CODES",
    "Mention",
    "Page",
    "QueueFilter",
    "SentPost",
    "SocialcareError",
    "Store",
    "__version__",
    "load_config",
    "open_store",
]
