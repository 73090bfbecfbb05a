"""Team mode: routing rules, business hours and notifications.

* :mod:`.routing`: ``[routing]`` rules, run at poll time inside the ingest transaction;
* :mod:`.hours`: ``[hours]`` schedules and business-time arithmetic (pure, no clock);
* :mod:`.notify`: ``[[notify]]`` targets, sent through the outbox exactly once per event.

A service layer like :mod:`socialcare.followups`: it uses the store and the
outbox, and is used by :class:`socialcare.app.Socialcare` only.
"""
