"""Triage: sentiment, urgency signals and explainable scores (pure functions, no I/O).

``score_row`` turns a mention row into a :class:`TriageResult` (intent,
sentiment, signals, static score, SLA due time); ``explain`` breaks a stored
mention's current queue score into its parts. Domain packs (``packs``) give the
urgency and problem words per industry; ``learned.train`` fits an optional
"needs an answer" model that ``TriageSettings.model`` adds. Nothing here reads or
writes the store: :mod:`socialcare.scoring` applies these functions to stored mentions.
"""

from __future__ import annotations

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
