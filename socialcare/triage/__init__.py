"""Triage: sentiment, urgency signals and explainable scores (pure functions, no I/O)."""
