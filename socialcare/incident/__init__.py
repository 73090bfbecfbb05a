"""Incident mode: open an incident from a spike, answer every affected customer once,
announce, resolve and follow up (see :mod:`socialcare.incident.service`).

Names load on first use (PEP 562): ``queue`` and the poll hook need only
:mod:`socialcare.incident.matching`, not the outbox and follow-up services.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_SERVICE = "socialcare.incident.service"
_MATCHING = "socialcare.incident.matching"
_LAZY = {
    "DEFAULT_INTERVALS": _SERVICE,
    "IncidentSettings": _SERVICE,
    "IncidentView": _SERVICE,
    "PostResult": _SERVICE,
    "ReplyLine": _SERVICE,
    "ReplyReport": _SERVICE,
    "ResolveReport": _SERVICE,
    "ack_key": _SERVICE,
    "add_mentions": _SERVICE,
    "list_incidents": _SERVICE,
    "open_incident": _SERVICE,
    "parse_match": _SERVICE,
    "post_status": _SERVICE,
    "remove_mentions": _SERVICE,
    "reply_all": _SERVICE,
    "resolve_incident": _SERVICE,
    "show_incident": _SERVICE,
    "FoldedIncident": _MATCHING,
    "attach_new": _MATCHING,
    "fold_queue": _MATCHING,
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'socialcare.incident' has no attribute {name!r}")
