"""socialcare: social customer care from the terminal.

The CLI is one client of this library. Start from :class:`Socialcare`
(``socialcare.app``): it ties a config, a store, the sources and triage together.

The names below are loaded on first use (PEP 562), so importing a light module
such as ``socialcare.sources.http`` (which reads ``__version__``) does not open
the door to the store, the CLI or the platform libraries.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "Config": "socialcare.config",
    "load_config": "socialcare.config",
    "EXIT_CODES": "socialcare.errors",
    "SocialcareError": "socialcare.errors",
    "Mention": "socialcare.models",
    "Page": "socialcare.models",
    "SentPost": "socialcare.models",
    "QueueFilter": "socialcare.store",
    "Store": "socialcare.store",
    "open_store": "socialcare.store",
    "Socialcare": "socialcare.app",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'socialcare' has no attribute {name!r}")
