"""The CLI's command groups, one module each, over the one library API (:class:`socialcare.app.Socialcare`).

* :mod:`.listen`: init, sources, poll, status, gaps;
* :mod:`.queue`: queue, explain, triage;
* :mod:`.agent`: show, claim, assign, release, reply, outbox, templates, close,
  reopen, snooze, tag, note, log, customer;
* :mod:`.moderation`: hide (comments on Facebook and Instagram);
* :mod:`.work`: the interactive loop;
* :mod:`.followups`: followup, post, due;
* :mod:`.reports`: report, export;
* :mod:`.kb`: the knowledge base;
* :mod:`.db`: the store's schema and copies;
* :mod:`.common`: consoles, the per-invocation Socialcare, shared rendering.
"""
