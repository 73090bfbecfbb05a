"""Triage: sentiment, urgency signals and explainable scores (pure functions, no I/O).

``score_row`` turns a mention row into a :class:`TriageResult` (intent,
sentiment, signals, static score, SLA due time); ``explain`` breaks a stored
mention's current queue score into its parts. Domain packs (``packs``) give the
urgency and problem words per industry; ``learned.train`` fits an optional
"needs an answer" model that ``TriageSettings.model`` adds. Nothing here reads or
writes the store: :mod:`socialcare.scoring` applies these functions to stored mentions.

The public names load with their module on first use (PEP 562): importing one
submodule (``socialcare.triage.codec``) no longer runs the sentiment analyser's and
the cue matcher's regex compilation, which cost ``show`` most of its start-up
(issue 18 item 7).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .learned import LearnedModel, train
    from .packs import BUILTIN_DOMAINS, DEFAULT_DOMAINS, DomainPack, load_packs
    from .score import (
        DEFAULT_SLA,
        Contribution,
        Rule,
        TriageResult,
        TriageSettings,
        Weights,
        explain,
        parse_duration,
        score_row,
        score_rows,
        waiting_term,
    )
    from .sentiment import Sentiment, analyse, decide_language
    from .signals import DEFAULT_URGENCY_WORDS, INTENTS

#: each public name -> the submodule that defines it (imported when the name is first used)
_WHERE = {
    "LearnedModel": "learned",
    "train": "learned",
    "BUILTIN_DOMAINS": "packs",
    "DEFAULT_DOMAINS": "packs",
    "DomainPack": "packs",
    "load_packs": "packs",
    "DEFAULT_SLA": "score",
    "Contribution": "score",
    "Rule": "score",
    "TriageResult": "score",
    "TriageSettings": "score",
    "Weights": "score",
    "explain": "score",
    "parse_duration": "score",
    "score_row": "score",
    "score_rows": "score",
    "waiting_term": "score",
    "Sentiment": "sentiment",
    "analyse": "sentiment",
    "decide_language": "sentiment",
    "DEFAULT_URGENCY_WORDS": "signals",
    "INTENTS": "signals",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{where}"), name)
    globals()[name] = value  # once: later lookups are plain module attributes
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


__all__ = [
    "BUILTIN_DOMAINS",
    "Contribution",
    "DEFAULT_DOMAINS",
    "DomainPack",
    "LearnedModel",
    "load_packs",
    "train",
    "DEFAULT_SLA",
    "DEFAULT_URGENCY_WORDS",
    "INTENTS",
    "Rule",
    "Sentiment",
    "TriageResult",
    "TriageSettings",
    "Weights",
    "analyse",
    "decide_language",
    "explain",
    "parse_duration",
    "score_row",
    "score_rows",
    "waiting_term",
]
