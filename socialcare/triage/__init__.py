"""Triage: sentiment, urgency signals and explainable scores (pure functions, no I/O).

``score_row`` turns a mention row into a :class:`TriageResult` (intent,
sentiment, signals, static score, SLA due time); ``explain`` breaks a stored
mention's current queue score into its parts. Nothing here reads or writes the
store: :mod:`socialcare.scoring` applies these functions to stored mentions.
"""

from __future__ import annotations

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
    "Contribution",
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
