"""The library API the CLI (and tests, and scripts) call: one object per config + store.

``Socialcare`` ties config, store, sources and triage together so each CLI
command is one method call plus rendering.
"""

from __future__ import annotations

import time
from dataclasses import field
from datetime import datetime, timezone
from functools import cached_property
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from .config import Config, default_config_path, load_config, queue_age_terms
from .errors import Conflict, NotFound, SocialcareError, SourceError, UsageError
from .models import (
    Mention,
    ProgressHook,
    Step,
    deferred_dataclass,
    item_options,
    parse_iso,
    to_iso,
    utcnow,
)
from .safety import one_line, private_dir, private_file

# Everything below is imported where a method needs it, so that `socialcare --help` and
# `socialcare queue` load neither the knowledge base, the reports, the learned model's
# training code nor the platform adapters (issue 18: start-up).
if TYPE_CHECKING:
    import logging

    import httpx

    from .followups import DueReport, Preview
    from .incident.matching import FoldedIncident
    from .incident.service import IncidentView, PostResult, ReplyReport, ResolveReport
    from .kb import DeflectionReport, KbSettings, SourceResult, Suggestion
    from .poll import Adapters, IngestStatus, PollSummary
    from .reports.collect import ReportParams
    from .reports.metrics import Report, SpikeFinding, SpikeRule
    from .scoring import TrainReport
    from .sources.base import Source, Waiter
    from .sources.graph import TokenReport
    from .store import QueueFilter, Row, Store
    from .store.copy import TableCopy
    from .store.reports import EXPORT_COLUMNS, ExportQuery
    from .team.hours import BusinessHours
    from .team.notify import InsertedColumns, NotifyRun, NotifySettings, OutboxAdapters
    from .team.routing import Decision, RoutingSettings, RuleCheck
    from .triage import Contribution, LearnedModel, TriageSettings


def _log() -> logging.Logger:
    """This module's logger: logging is imported when something is logged, not by ``queue``."""
    import logging

    return logging.getLogger("socialcare.app")


#: the value types this API re-exports (loaded on first use, PEP 562) -> their module
_LAZY = {
    "DeflectionReport": "socialcare.kb",
    "Decision": "socialcare.team.routing",
    "NotifyRun": "socialcare.team.notify",
    "RuleCheck": "socialcare.team.routing",
    "DueReport": "socialcare.followups",
    "FoldedIncident": "socialcare.incident.matching",
    "IncidentView": "socialcare.incident.service",
    "PostResult": "socialcare.incident.service",
    "ReplyReport": "socialcare.incident.service",
    "ResolveReport": "socialcare.incident.service",
    "EXPORT_COLUMNS": "socialcare.store.reports",
    "ExportQuery": "socialcare.store.reports",
    "IngestStatus": "socialcare.poll",
    "Preview": "socialcare.followups",
    "QueueFilter": "socialcare.store",
    "Report": "socialcare.reports.metrics",
    "ReportParams": "socialcare.reports.collect",
    "Row": "socialcare.store",
    "SourceResult": "socialcare.kb",
    "SpikeFinding": "socialcare.reports.metrics",
    "SpikeRule": "socialcare.reports.metrics",
    "Suggestion": "socialcare.kb",
    "TableCopy": "socialcare.store.copy",
    "TrainReport": "socialcare.scoring",
    "Waiter": "socialcare.sources.base",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'socialcare.app' has no attribute {name!r}")


__all__ = [
    "Socialcare",
    "SourceInfo",
    "MentionView",
    "ReplyOutcome",
    "DmOutcome",
    "init_config",
    "TrainReport",
    "STARTER_CONFIG",
    # the value types of this API, re-exported so callers need no service or store import
    "DeflectionReport",
    "Decision",
    "NotifyRun",
    "RuleCheck",
    "AgentInfo",
    "ResponseTimes",
    "EXPORT_COLUMNS",
    "DueReport",
    "ExportQuery",
    "FoldedIncident",
    "IncidentView",
    "IngestStatus",
    "PostResult",
    "ReplyReport",
    "ResolveReport",
    "Preview",
    "QueueFilter",
    "Report",
    "ReportParams",
    "Row",
    "SourceResult",
    "SpikeFinding",
    "SpikeRule",
    "TableCopy",
    "Waiter",
    "Suggestion",
]


@deferred_dataclass
class MentionView:
    """Everything ``show`` prints about one mention."""

    mention: Row
    contributions: list[Contribution]
    thread: list[Row]
    thread_notes: list[str]
    identities: list[Row]
    history: list[Row]
    replies: list[Row]
    notes: list[Row]

    @property
    def score(self) -> float:
        return sum(c.contribution for c in self.contributions)

    @property
    def private(self) -> bool:
        """A private conversation (DM): ``show`` marks it, reports and exports leave it out."""
        return self.mention.get("kind") == "dm"


@deferred_dataclass
class ReplyOutcome:
    """What ``reply`` did: the text, its length check, and the outbox item (unless dry run)."""

    text: str
    length: int
    limit: int | None
    item: Row | None = None
    #: what this reply replaces on a one-response platform (see ``reply_replaces``)
    replaces: str | None = None


@deferred_dataclass
class DmOutcome:
    """What ``dm`` did: the private message's outbox item, the public reply's (if any),
    and one line per thing worth telling the agent (what was not sent, and why)."""

    dm: Row | None = None
    public: Row | None = None
    notes: list[str] = field(default_factory=list)
    #: the texts as rendered (for a dry run's preview)
    dm_text: str = ""
    public_text: str = ""


@deferred_dataclass
class SourceInfo:
    """One adapter as ``socialcare sources`` lists it."""

    name: str
    description: str
    enabled: bool
    configured: bool
    problem: str = ""
    #: what the platform says about the token (Facebook, Instagram: permissions and expiry)
    access: str = ""
    #: private messages: reads / sends / who may be messaged first (``DmPolicy.summary``)
    dms: str = "no DMs"


@deferred_dataclass
class AgentInfo:
    """One agent of the roster as ``agent list`` shows it."""

    name: str
    teams: list[str]
    away: bool
    load: int
    cap: int | None
    changed_at: str | None = None


@deferred_dataclass
class ResponseTimes:
    """First-response times of a period, on the wall clock and in business time (seconds)."""

    answered: int
    wall_median: float | None
    wall_p90: float | None
    business_median: float | None
    business_p90: float | None
    timezone: str | None
    #: next response: a customer's follow-up in a conversation already answered
    next_answered: int = 0
    next_wall_median: float | None = None
    next_business_median: float | None = None


#: what the queue (and ``show``) add to a mention about when its reply is due
_RESPONSE_CLOCK = ("sla_left", "sla_paused", "follow_up", "next_response_left")


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


class Socialcare:
    """A configured socialcare: its store, sources and triage settings."""

    def __init__(self, config: Config, store: Store | None = None) -> None:
        self.config = config
        self._store = store

    @cached_property
    def adapters(self) -> Adapters:
        """One adapter per source for this session (replies share its HTTP client)."""
        from .poll import Adapters

        return Adapters(self.config)

    @classmethod
    def from_config_file(cls, path: str | Path | None = None) -> Socialcare:
        """Load config (``--config``, ``SOCIALCARE_CONFIG`` or the default path)."""
        return cls(load_config(path))

    @property
    def store(self) -> Store:
        """The store, opened (and migrated) on first use."""
        from .store import open_store

        if self._store is None:
            self._store = open_store(self.config.database)
        return self._store

    @cached_property
    def _zero_label_settings(self) -> TriageSettings:
        """``[triage]`` without the learned model (enough for the queue's waiting term)."""
        from .scoring import care_settings

        return care_settings(self.config.triage, self.config.brand_handles)

    @cached_property
    def triage_settings(self) -> TriageSettings:
        """Weights, lexicon, rules and SLAs from ``[triage]``, plus the store's active model.

        Loaded once per Socialcare (a poll or ``triage --all`` run), never per mention.
        """
        from .scoring import care_settings, load_model

        return care_settings(
            self.config.triage, self.config.brand_handles, model=load_model(self.store)
        )

    def _model_changed(self) -> None:
        self.__dict__.pop("triage_settings", None)

    @cached_property
    def kb_settings(self) -> KbSettings:
        """Knowledge-base search settings from ``[kb]``."""
        from .kb.search import KbSettings

        return KbSettings.from_mapping(self.config.kb)

    def suggestions(self, row: Row) -> list[Suggestion]:
        """Knowledge-base articles that answer this mention well enough (maybe none)."""
        if not self.config.kb:  # default settings, which cannot be wrong: is there a KB?
            from .store import kb as store_kb

            if not store_kb.article_count(self.store):
                return []  # what the search finds in an empty KB (without loading it)
        from .kb.search import suggest

        return suggest(self.store, row["text"], self.kb_settings)

    def shutdown(self) -> None:
        """Close the adapters' HTTP clients and the store, where they were opened."""
        if "adapters" in self.__dict__:  # built only by a command that needed one
            self.adapters.close()
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- listen -------------------------------------------------------------
    def poll(
        self,
        sources: Sequence[str] | None = None,
        *,
        waiter: Waiter | None = None,
        max_wait: float | None = None,
        progress: ProgressHook | None = None,
    ) -> PollSummary:
        """Poll sources into the store, triaging new mentions in the same transaction.

        Args:
            waiter: shows (or logs) rate-limit waits; tests pass a recorder.
            max_wait: total seconds to wait on rate limits before stopping cleanly.
            progress: hears of each query as it starts and each page stored
                (``Step(task="SOURCE QUERY", done=items read, note="page N, M new")``).
        """
        from .poll import poll
        from .scoring import maybe_retrain, page_scorer

        settings = self.triage_settings
        routing = self.routing_settings
        stored: list[str] = []
        scorer = page_scorer(settings)
        router = None
        if routing.rules:  # team mode: new mentions are inserted routed (PageRouter)
            from .team.routing import PageRouter

            scorer = router = PageRouter(routing, scorer)

        def on_stored(store: Store, ids: list[str]) -> None:
            from .incident.matching import attach_new

            # triaged already: the ingest scored the page as it stored it (page_scorer)
            attach_new(store, ids)  # open incidents catch new matching mentions, same transaction
            rest = router.rest(ids) if router is not None else []
            if rest:  # re-read mentions, routed in the same transaction as the ingest
                from .team.routing import route_ids

                route_ids(store, routing, rest)
            if self.notify_settings.targets:
                stored.extend(ids)

        started = utcnow()
        summary = poll(
            self.config, self.store, sources, on_stored=on_stored, waiter=waiter,
            max_wait=max_wait, progress=progress, scorer=scorer,
        )  # fmt: skip
        names = list(sources or self.config.enabled_sources())
        edited, deleted = self._recheck(names, utcnow(), seen_since=started)
        if edited or deleted:
            _log().info("re-read comments: %d edited, %d deleted on the platform", edited, deleted)
        if self.notify_settings.targets:
            inserted = router.inserted(self.store) if router is not None else None
            self.notify(mention_ids=stored, health=True, inserted=inserted)
        retrained = maybe_retrain(self.store, settings)
        if retrained is not None and retrained.model is not None:
            self._model_changed()
            summary.retrained = (
                f"Retrained the triage model on {retrained.model.labels} labels "
                f"(cross-validated ROC AUC {retrained.model.cv_auc}); "
                f"re-scored {retrained.rescored} open mentions"
            )
        return summary

    def sources(self) -> list[SourceInfo]:
        """Every known adapter, whether config enables it and whether its credentials are set."""
        from .poll import build_source
        from .sources.registry import source_classes

        out = []
        for name, cls in source_classes().items():
            section = self.config.sources.get(name)
            enabled = section is not None and bool(section.get("enabled", True))
            configured, problem = (
                section is not None,
                "" if section is not None else "no [sources.%s] table" % name,
            )
            access = ""
            if section is not None:
                try:
                    adapter = build_source(self.config, name)
                    adapter.check_credentials()
                except SocialcareError as exc:
                    configured, problem = False, str(exc)
                else:
                    if enabled:
                        report = self._token_report(adapter, utcnow())
                        if report is not None:
                            access = report.summary
                            problem = "; ".join(report.alerts + report.warnings)
                    adapter.close()
            out.append(
                SourceInfo(
                    name,
                    cls.description or "",
                    enabled,
                    configured,
                    problem,
                    access,
                    dms=cls.dm_policy.summary(),
                )
            )
        return out

    @staticmethod
    def _token_report(adapter: Any, now: datetime) -> TokenReport | None:
        """The platform's word on the adapter's token, for adapters that can ask (Graph)."""
        report = getattr(adapter, "token_report", None)
        return report(now) if callable(report) else None

    def status(self, now: datetime | None = None, *, notify: bool = False) -> IngestStatus:
        """Per-source and per-query health: last poll, errors, budgets, open gaps.

        Facebook and Instagram also ask Meta about their token: a missing permission,
        an invalid token or one expiring within ``token_warn_days`` is an alert. A
        notify target whose newest message failed is an alert too; with ``notify``
        (``status --alert``) the alerts are also announced to the targets that want them.
        """
        from .poll import ingest_status
        from .sources.registry import get_source_class

        now = now or utcnow()
        st = ingest_status(self.config, self.store, now)
        enabled = set(self.config.enabled_sources())
        for health in st.sources:
            if health.source not in enabled:
                continue
            try:
                # only adapters that can ask are built: the others cost nothing here
                if not hasattr(get_source_class(health.source), "token_report"):
                    continue
                adapter = self.adapters.get(health.source)
                adapter.check_credentials()
            except SocialcareError:
                continue  # the poll's own error (or the config alert) already says so
            report = self._token_report(adapter, now)
            if report is not None:
                health.alerts += report.alerts
                health.warnings += report.warnings
        if self.notify_settings.targets:
            if notify:
                self.notify(health=True, status=st, now=now)
            st.outbox_alerts += self.notify_alerts(now)
        return st

    def hide(self, mention_id: str, *, unhide: bool = False) -> Row:
        """Hide (or show again) a comment on its platform, audited; returns the mention.

        Hiding is moderation, not a message: the platform keeps the comment
        for its author and their friends and hides it from everyone else, and
        hiding twice changes nothing, so it does not go through the outbox.
        """
        row = self.store.get_mention(mention_id)
        source = self.adapters.get(row["source"])
        hide = getattr(source, "hide", None)
        if not callable(hide):
            raise UsageError(
                f"{mention_id}: source '{row['source']}' cannot hide comments "
                "(Facebook and Instagram can)"
            )
        source.check_credentials()
        hide(Mention.from_row(row), hidden=not unhide)
        self.store.log_event(
            "unhide" if unhide else "hide", agent=self.agent, mention_id=mention_id
        )
        return row

    def _recheck(
        self, names: Sequence[str], now: datetime, *, seen_since: datetime | None = None
    ) -> tuple[int, int]:
        """Re-read recent open comments on platforms that list no deletions (Graph).

        An edited comment comes back through the store's usual edit path (its
        ``updated_at`` is the time it was re-read, so the new text wins); a
        deleted one is closed with a note saying so. Comments the poll itself
        read again (``fetched_at`` after ``seen_since``) exist: they cost no
        request. Returns (edited, deleted).
        """
        from datetime import timedelta

        from .scoring import triage_ids
        from .sources.registry import get_source_class
        from .store import QueueFilter
        from .store import ingest as store_ingest

        edited = deleted = 0
        weight, cap = queue_age_terms(self.config.triage)
        for name in names:
            try:
                if not hasattr(get_source_class(name), "recheck"):
                    continue
                source = self.adapters.get(name)
            except SocialcareError:
                continue
            recheck = getattr(source, "recheck", None)
            limit = int(getattr(source, "recheck_limit", 0) or 0)
            if not callable(recheck) or limit <= 0:
                continue
            flt = QueueFilter(
                status="open", source=name, limit=limit,
                since_ts=(now - timedelta(days=7)).timestamp(),
            )  # fmt: skip
            rows = self.store.queue(flt, now.timestamp(), weight, cap)
            if seen_since is not None:
                fresh = to_iso(seen_since)
                rows = [r for r in rows if str(r.get("fetched_at") or "") < fresh]
            if not rows:
                continue
            try:
                present, gone = recheck([Mention.from_row(r) for r in rows])
            except SocialcareError as exc:
                _log().warning("%s: could not re-read stored comments: %s", name, exc)
                continue
            with self.store.transaction():
                if present:
                    store_ingest.ingest_mentions(
                        self.store, present, own_handles=self.config.brand_handles
                    )
                    triage_ids(self.store, [m.id for m in present], self.triage_settings)
                    edited += len(present)
                platform = getattr(source, "platform", name)
                for m in gone:
                    self.store.set_status(m.id, "closed")
                    self.store.log_event(
                        "note", agent="socialcare", mention_id=m.id,
                        text=f"deleted on {platform} by its author or a moderator; closed",
                    )  # fmt: skip
                    self.store.log_event(
                        "close", agent="socialcare", mention_id=m.id, previous="open",
                        reason="deleted on the platform",
                    )  # fmt: skip
                    deleted += 1
        return edited, deleted

    def gaps(self, *, source: str | None = None, include_closed: bool = False) -> list[Row]:
        """Ranges a cut-short poll skipped (open ones, or all)."""
        from .store import ingest as store_ingest

        self.check_source(source)
        return store_ingest.list_gaps(self.store, source=source, include_closed=include_closed)

    def database(self) -> tuple[str, dict[str, int]]:
        """Where the store is (password redacted) and its row counts."""
        return self.store.location, self.store.counts()

    # -- triage -------------------------------------------------------------
    def mention(self, mention_id: str) -> Row:
        """One stored mention, or NotFound."""
        return self.store.get_mention(mention_id)

    def check_source(self, name: str | None) -> None:
        """Refuse a ``--source`` that config does not name and the store has never seen.

        A typo would otherwise show an empty queue or report; a source removed from
        config still has its stored mentions, so those stay allowed.
        """
        if name is None or name in self.config.sources or self.store.has_source(name):
            return
        import difflib

        known = sorted(self.config.sources)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UsageError(
            f"source {name!r} is not configured and has no stored mentions; "
            f"{hint}configured: {', '.join(known) or 'none'}"
        )

    def mention_ids(self, prefix: str = "", limit: int = 50) -> list[str]:
        """Mention ids starting with ``prefix``, open ones first (for shell completion)."""
        return self.store.mention_ids(prefix, limit)

    def agent_names(self) -> list[str]:
        """This agent and every agent the store knows (for shell completion)."""
        return sorted({self.agent, *self.store.agent_names()})

    def mention_count(self) -> int:
        """How many mentions the store holds."""
        return self.store.mention_count()

    def queue(self, flt: QueueFilter, now: float | None = None) -> list[Row]:
        """Mentions ranked by score at this moment (static part + waiting time)."""
        # the waiting term needs two numbers of [triage], not the scorer (its lexicons and
        # regexes take longer to load than the queue takes to read)
        self.check_source(flt.source)
        weight, cap = queue_age_terms(self.config.triage)
        now = now or time.time()
        rows = self.store.queue(flt, now, weight, cap, business=self._business_spans(now, cap))
        if self.config.hours:
            self._business_sla(rows, now)
        self._next_responses(rows)
        return rows

    def _business_spans(self, now_ts: float, cap_hours: float) -> list[tuple[float, float]] | None:
        """With ``[hours]``: the open spans of the last ``cap_hours`` business hours, for the
        queue's waiting term (None around the clock: wall-clock hours, as before).

        The queue is one ranking for everyone, so it counts ``[hours]`` itself, not a
        team's own schedule (``[hours.teams.NAME]`` moves that team's SLA clocks only).
        """
        hours = self.hours_for(None) if self.config.hours else None
        if hours is None:
            return None
        now = datetime.fromtimestamp(now_ts, tz=timezone.utc)
        spans = hours.spans_back(now, max(cap_hours, 1e-9) * 3600.0)
        return [(a.timestamp(), b.timestamp()) for a, b in spans]

    def _next_responses(self, rows: list[Row]) -> None:
        """Mark the customer's follow-ups (``follow_up``) and give each its next-response
        clock, ``next_response_left``: seconds until the reply is due (negative: overdue).

        A follow-up is what ``report response`` counts as one
        (:func:`socialcare.store.team.follow_up_sql`); its reply is due by its own SLA
        (``[triage.sla]``, counted from the follow-up, in business time with ``[hours]``),
        so this is ``sla_left`` for those rows and None for the rest.
        """
        from .store import team as store_team

        waiting = [str(r["id"]) for r in rows if r.get("answered_at") is None]
        found = store_team.follow_ups(self.store, waiting) if waiting else set()
        for row in rows:
            row["follow_up"] = str(row["id"]) in found
            row["next_response_left"] = row.get("sla_left") if row["follow_up"] else None

    # -- team mode: routing, business hours, notifications -----------------------------
    @cached_property
    def routing_settings(self) -> RoutingSettings:
        """``[routing]``, checked (a bad rule fails every team command with its key)."""
        from .team.routing import RoutingSettings

        return RoutingSettings.from_config(self.config.routing)

    @cached_property
    def business_hours(self) -> tuple[BusinessHours | None, dict[str, BusinessHours]]:
        """``[hours]`` and its per-team schedules (None: the team works around the clock)."""
        from .team.hours import hours_from_config

        return hours_from_config(self.config.hours)

    @cached_property
    def notify_settings(self) -> NotifySettings:
        """The ``[[notify]]`` targets, checked."""
        from .team.notify import NotifySettings

        return NotifySettings.from_config(list(self.config.notify))

    def hours_for(self, team: str | None) -> BusinessHours | None:
        """The schedule of ``team`` (its own, else ``[hours]``), or None around the clock."""
        default, teams = self.business_hours
        return teams.get(team, default) if team else default

    def _business_sla(self, rows: list[Row], now_ts: float) -> None:
        """Turn each row's SLA into business time: ``sla_left`` until the business-time
        breach, ``sla_paused`` ("opens 08:00") outside hours."""
        from .store import team as store_team

        teams = store_team.route_teams(self.store, [str(r["id"]) for r in rows])
        now = datetime.fromtimestamp(now_ts, tz=timezone.utc)
        for row in rows:
            hours = self.hours_for(teams.get(str(row["id"])))
            if hours is None or row.get("sla_due_ts") is None:
                continue
            created = datetime.fromtimestamp(float(row["created_ts"]), tz=timezone.utc)
            due = hours.add(created, float(row["sla_due_ts"]) - float(row["created_ts"]))
            if due is None:
                continue
            row["sla_left"] = (due - now).total_seconds()
            if not hours.is_open(now) and row.get("answered_at") is None:
                opens = hours.next_open(now)
                if opens is not None:
                    local = hours.local(opens)
                    same_day = local.date() == hours.local(now).date()
                    row["sla_paused"] = "opens " + local.strftime(
                        "%H:%M" if same_day else "%a %H:%M"
                    )

    def route(self, mention_id: str) -> Decision:
        """Route one mention now by ``[routing]`` (if it was never routed); audited."""
        from .team.routing import Decision, route_ids

        self.store.get_mention(mention_id)
        with self.store.transaction():
            done = route_ids(self.store, self.routing_settings, [mention_id])
        if done:
            return done[0]
        _, decision = self.route_explain(mention_id)
        return (
            decision
            if decision.rule is None or decision.reason.startswith("already")
            else Decision(
                mention_id, None, None, None, "not routable: closed, assigned or the brand's own"
            )
        )

    def route_explain(self, mention_id: str) -> tuple[list[RuleCheck], Decision]:
        """Every rule's verdict on a mention and what routing would do now; writes nothing."""
        from .store import team as store_team
        from .team.routing import explain_route

        row = store_team.route_row(self.store, mention_id)
        if row is None:
            self.store.get_mention(mention_id)  # NotFound with the usual hint
            raise NotFound(f"no mention with id '{mention_id}'")
        return explain_route(self.store, self.routing_settings, row)

    def _check_agent(self, name: str) -> None:
        roster = self.routing_settings.agents
        if roster and name not in roster:
            raise UsageError(f"agent {name!r} is not in routing.teams; agents: {', '.join(roster)}")

    def agent_away(self, name: str | None = None, *, away: bool = True) -> str:
        """Mark an agent (default: this one) away, or back; routing skips away agents."""
        from .store import team as store_team

        who = name or self.agent
        self._check_agent(who)
        with self.store.transaction():
            store_team.set_away(self.store, who, away, self.agent)
            self.store.log_event("agent_away" if away else "agent_back", agent=self.agent, who=who)
        return who

    def agent_list(self) -> list[AgentInfo]:
        """The roster (and anyone holding open items) with availability and open load."""
        from .store import team as store_team

        settings = self.routing_settings
        rows = {str(r["name"]): r for r in store_team.agent_rows(self.store)}
        loads = store_team.open_loads(self.store)
        names = list(dict.fromkeys([*settings.agents, *sorted(loads), *sorted(rows)]))
        return [
            AgentInfo(
                n,
                settings.team_of(n),
                bool(rows.get(n, {}).get("away")),
                loads.get(n, 0),
                settings.cap,
                rows.get(n, {}).get("changed_at"),
            )  # fmt: skip
            for n in names
        ]

    def notify_alerts(self, now: datetime | None = None) -> list[str]:
        """One line per notify target whose newest message failed to send."""
        from .store import team as store_team
        from .team.notify import since

        out = []
        for r in store_team.notify_failures(self.store, since(now or utcnow())):
            if r["status"] == "failed":
                out.append(
                    f"notify: target '{r['target']}' is failing ({r['failed']} failed in 24h): "
                    f"{one_line(r['error'], 160)}; `socialcare notify test {r['target']}` tries it"
                )
        return out

    def notify(
        self,
        *,
        mention_ids: Sequence[str] = (),
        health: bool = False,
        status: IngestStatus | None = None,
        now: datetime | None = None,
        transport: httpx.BaseTransport | None = None,
        inserted: InsertedColumns | None = None,
    ) -> NotifyRun:
        """Announce what the targets want, each (event, target) once, and send the items.

        Looks at the new mentions of a poll (``mention_ids``), SLAs near or past their
        end, failed outbox items and, with ``health``, failing sources and spikes.
        ``inserted``: the poll's new mentions as stored (``PageRouter.inserted``), so
        those no target takes are not read back (``notify.quiet_mentions``).
        """
        from .store import team as store_team
        from .team import notify as nt

        settings = self.notify_settings
        now = now or utcnow()
        events: list[nt.Event] = []
        if mention_ids and settings.wanted("mention"):
            # only mentions of the last day are news, and only those some target could want
            wanting = [t for t in settings.targets if t.enabled and "mention" in t.events]
            scores = [t.score_above for t in wanting]
            intents = [t.intents for t in wanting]
            since_ts = now.timestamp() - 86400
            rows = store_team.mentions_for_notify(
                self.store, list(dict.fromkeys(mention_ids)), since_ts=since_ts,
                min_score=None if None in scores else min(s for s in scores if s is not None),
                intents=None if () in intents else sorted({i for t in intents for i in t}),
                skip=nt.quiet_mentions(settings, inserted, since_ts) if inserted else (),
            )  # fmt: skip
            events += nt.mention_events(rows)
        if settings.wanted("sla_soon") or settings.wanted("sla_breached"):
            window = max((t.sla_within for t in settings.targets), default=0.0)
            rows = store_team.sla_candidates(self.store, now.timestamp() + window)
            teams = store_team.route_teams(self.store, [str(r["id"]) for r in rows])
            events += [
                e
                for e in nt.sla_events(rows, now, lambda mid: self.hours_for(teams.get(mid)))
                if settings.wanted(e.kind)
            ]
        if settings.wanted("outbox_failed"):
            for r in store_team.failed_outbox_items(self.store, nt.since(now)):
                events.append(
                    nt.Event(
                        "outbox_failed",
                        f"{r['id']}@{r['updated_at']}",
                        f"Outbox item #{r['id']} ({r['kind']} on {r['source']}) failed",
                        text=str(r.get("error") or ""),
                        source=str(r["source"]),
                        mention_id=r.get("mention_id"),
                    )  # fmt: skip
                )
        if health and settings.wanted("source_unhealthy"):
            st = status or self.status(now)
            day = now.date().isoformat()
            for s in st.sources:
                for line in s.alerts:
                    events.append(
                        nt.Event("source_unhealthy", f"{s.source}:{day}:{line[:60]}",
                                 f"Source {s.source} needs attention", text=line, source=s.source)
                    )  # fmt: skip
        if health and settings.wanted("spike"):
            for f in self.spikes(window_s=3600, windows=24, now=now):
                if f.result.spike:
                    terms = ", ".join(d.term for d in f.drivers[:5])
                    events.append(
                        nt.Event("spike", f"{f.scope}:{f.window_end}", f"Spike on {f.scope}",
                                 text=f"{f.result.count} mentions in the last hour; terms: {terms}",
                                 source=f.scope)
                    )  # fmt: skip
        return self._deliver(events, transport=transport)

    def _deliver(
        self,
        events: Sequence[Any],
        *,
        only: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> NotifyRun:
        from .store import team as store_team
        from .team import notify as nt

        run = nt.enqueue(self.store, self.notify_settings, events, agent=self.agent, only=only)
        if not store_team.pending_notifications(self.store, limit=1):
            return run  # nothing to send: no HTTP client (building one costs a poll page)
        senders = nt.Senders(self.notify_settings, transport)
        try:
            return nt.send_pending(self.store, senders, run, agent=self.agent)
        finally:
            senders.close()

    def notify_test(
        self, target: str | None = None, *, transport: httpx.BaseTransport | None = None
    ) -> NotifyRun:
        """Send a test message to one target (or every target) now."""
        from .team import notify as nt

        settings = self.notify_settings
        if not settings.targets:
            raise UsageError("no notify targets: add a [[notify]] table (see config.example.toml)")
        if target is not None:
            settings.get(target)
        import uuid

        event = nt.Event(  # a fresh subject: every `notify test` is its own event
            "test", f"{self.agent}:{to_iso(utcnow())}:{uuid.uuid4().hex}", "socialcare test message",
            text=f"Sent by {self.agent} with `socialcare notify test`.",
        )  # fmt: skip
        return self._deliver([event], only=target, transport=transport)

    def response_times(
        self, *, since: datetime, until: datetime | None = None, source: str | None = None
    ) -> ResponseTimes:
        """First- and next-response times of mentions created in the period, on the wall
        clock and in business time (a next response answers a follow-up in a conversation
        that had been answered already)."""
        from .models import parse_iso
        from .store import team as store_team

        self.check_source(source)
        end = until or utcnow()
        rows = store_team.first_responses(self.store, since.timestamp(), end.timestamp(), source)
        hours = self.hours_for(None)
        wall: dict[bool, list[float]] = {False: [], True: []}
        business: dict[bool, list[float]] = {False: [], True: []}
        for r in rows:
            created = datetime.fromtimestamp(float(r["created_ts"]), tz=timezone.utc)
            answered = parse_iso(str(r["answered_at"]))
            nxt = bool(r["follow_up"])
            wall[nxt].append(max((answered - created).total_seconds(), 0.0))
            if hours is not None:
                business[nxt].append(hours.business_seconds(created, answered))
        first = wall[False]
        return ResponseTimes(
            len(first), _quantile(first, 0.5), _quantile(first, 0.9),
            _quantile(business[False], 0.5), _quantile(business[False], 0.9),
            hours.zone_name if hours is not None else None,
            len(wall[True]), _quantile(wall[True], 0.5), _quantile(business[True], 0.5),
        )  # fmt: skip

    def explain(self, mention_id: str, now: float | None = None) -> tuple[Row, list[Contribution]]:
        """A mention and the contributions that make up its current score."""
        from .triage.score import explain

        row = self.store.get_mention(mention_id)
        now = now or time.time()
        settings = self.triage_settings
        current = self._scored_as_now(row, settings)
        return row, explain(row, settings, now, waited=self._waited(now), current=current)

    @staticmethod
    def _scored_as_now(row: Row, settings: TriageSettings) -> bool:
        """Whether the row's stored signals came from its text inputs as they are now, with
        these settings' text-derived inputs (its ``triage_fp``, as ``triage --all`` checks):
        then ``explain`` rebuilds its lines from them instead of scoring the text again."""
        fp = row.get("triage_fp")
        if fp is None:  # never fingerprinted, or its inputs changed since: score the text
            return False
        from .scoring import _row_fingerprint, text_fingerprint

        return bool(fp == _row_fingerprint(text_fingerprint(settings), row))

    def _waited(self, now_ts: float) -> Callable[[float], float] | None:
        """With ``[hours]``: seconds waited as the queue counts them (business time, over
        :meth:`_business_spans`), for ``explain``; None: the wall clock, as the queue."""
        from .store.core import business_waited

        spans = self._business_spans(now_ts, queue_age_terms(self.config.triage)[1])
        if spans is None:
            return None
        return lambda created_ts: business_waited(spans, created_ts)

    def retriage(self, progress: Callable[[int], None] | None = None) -> int:
        """Re-score every stored mention (after weights change); returns how many."""
        from .scoring import retriage_all

        return retriage_all(self.store, self.triage_settings, progress)

    def triage_train(
        self, *, labels_file: str | Path | None = None, min_labels: int | None = None
    ) -> TrainReport:
        """Train the "needs an answer" model on the store's history (and a labels file).

        Stores it as the team's model and re-scores open mentions; with too few
        labels the report's ``refused`` says why and the zero-label score stays.
        """
        from .scoring import read_labels, train_model

        labels = read_labels(labels_file) if labels_file is not None else None
        report = train_model(
            self.store, self._zero_label_settings, file_labels=labels, min_labels=min_labels
        )
        if report.trained:
            self._model_changed()
            self.store.log_event(
                "triage_train",
                agent=self.agent,
                model=report.model_id,
                labels=report.answer + report.no_answer,
            )
        return report

    def triage_reset(self) -> tuple[int, int]:
        """Back to the zero-label score: (models switched off, open mentions re-scored)."""
        from .scoring import reset_model

        off, rescored = reset_model(self.store, self._zero_label_settings)
        self._model_changed()
        if off:
            self.store.log_event("triage_reset", agent=self.agent)
        return off, rescored

    def triage_model(self) -> tuple[LearnedModel | None, Row | None]:
        """The model in use and its store row, or (None, None) for the zero-label score.

        A stored model this version cannot read is a UsageError that says to retrain.
        """
        from .store import triage as store_triage
        from .triage import LearnedModel

        row = store_triage.active_model(self.store)
        if row is None:
            return None, None
        return LearnedModel.from_bytes(str(row["model"]).encode("utf-8")), row

    # -- agent workflow -----------------------------------------------------
    @property
    def agent(self) -> str:
        """Who is acting: config ``agent`` or SOCIALCARE_AGENT."""
        return self.config.agent

    def claim(self, mention_id: str, *, force: bool = False) -> str | None:
        """Claim for this agent; returns the previous holder."""
        from . import workflow

        return workflow.claim(self.store, mention_id, self.agent, force=force)

    def assign(self, mention_id: str, to: str) -> None:
        """Assign to another agent."""
        from . import workflow

        workflow.assign(self.store, mention_id, to, self.agent)

    def release(self, mention_id: str, *, force: bool = False) -> None:
        """Release a claim."""
        from . import workflow

        workflow.release(self.store, mention_id, self.agent, force=force)

    def close(self, mention_id: str) -> list[int]:
        """Close a mention; returns the follow-ups that config rules scheduled.

        Closing a private conversation's queue item closes every open message of it.
        """
        from . import followups, workflow

        scheduled: list[int] = []
        for mid in self.store.open_conversation_ids(mention_id):
            before = workflow.close(self.store, mid, self.agent)
            if mid == mention_id:
                scheduled = followups.on_close(self.store, self.config, before, self.agent)
        return scheduled

    def reopen(self, mention_id: str) -> None:
        """Reopen a mention."""
        from . import workflow

        workflow.reopen(self.store, mention_id, self.agent)

    def snooze(self, mention_id: str, until: datetime) -> None:
        """Hide until a time."""
        from . import workflow

        workflow.snooze(self.store, mention_id, until, self.agent)

    def tag(self, mention_id: str, tags: list[str]) -> list[str]:
        """Add tags."""
        from . import workflow

        return workflow.add_tags(self.store, mention_id, tags, self.agent)

    def note(self, mention_id: str, text: str) -> None:
        """Add an internal note."""
        from . import workflow

        workflow.add_note(self.store, mention_id, text, self.agent)

    def templates(self) -> dict[str, Path]:
        """Available reply templates."""
        from .templates import list_templates

        return list_templates(self.config)

    def _kb_choice(self, row: Row, kb: int | None) -> Suggestion | None:
        from .kb.search import pick_suggestion

        return pick_suggestion(self.store, row["text"], kb, self.kb_settings) if kb else None

    def draft_reply(
        self, mention_id: str, *, text: str | None = None, template: str | None = None,
        kb: int | None = None,
    ) -> str:  # fmt: skip
        """Render a reply without checking or sending it (for the editor's pre-fill)."""
        from . import workflow

        row = self.store.get_mention(mention_id)
        chosen = self._kb_choice(row, kb)
        return workflow.prepare_reply(
            self.config, row, text=text, template=template, agent=self.agent,
            kb=(chosen.title, chosen.url) if chosen else None,
        )  # fmt: skip

    def reply_replaces(self, mention_id: str) -> str | None:
        """What replying would replace on a one-response platform, said in one line; else None.

        App Store, Google Play and Business Profile keep one developer response
        per review: replying again overwrites it. The response is the one seen
        in the last poll, or the last reply sent through socialcare.
        """
        row = self.store.get_mention(mention_id)
        source = self.adapters.get(row["source"])
        if not source.reply_replaces:
            return None
        sent = [
            o
            for o in self.store.outbox_for_mention(mention_id)
            if o["kind"] == "reply" and o["status"] in ("pending", "sending", "unknown", "sent")
        ]
        existing = source.existing_reply(Mention.from_row(row))
        if sent:
            existing = str(sent[-1]["text"])
        if existing is None and not row["answered_by"]:
            return None
        platform = getattr(source, "platform", row["source"])
        shown = f': "{one_line(existing, 60)}"' if existing else ""
        return (
            f"{platform} keeps one response per review: this reply replaces the response "
            f"already there{shown}"
        )

    def reply(
        self,
        mention_id: str,
        *,
        text: str | None = None,
        template: str | None = None,
        dry_run: bool = False,
        force: bool = False,
        send: bool = True,
        kb: int | None = None,
        replace: bool = False,
    ) -> ReplyOutcome:
        """Render, check length and collisions, queue in the outbox, and send.

        Nothing reaches the platform unless every check passes; a platform error
        leaves the outbox item ``failed`` with the reason. On a one-response
        platform a reply to an answered review is refused unless ``replace``
        (or ``force``) says to replace the response (:meth:`reply_replaces`).
        """
        from . import workflow
        from .outbox import send_item
        from .store import kb as store_kb

        row = self.store.get_mention(mention_id)
        chosen = self._kb_choice(row, kb)
        body = workflow.prepare_reply(
            self.config, row, text=text, template=template, agent=self.agent,
            kb=(chosen.title, chosen.url) if chosen else None,
        )  # fmt: skip
        if not body:
            raise UsageError("the reply is empty: nothing sent")
        source = self.adapters.get(row["source"])
        private = row.get("kind") == "dm"
        if private:
            self._check_dm(source, row, opening=False)
            length, limit = source.dm_length(body), source.dm_max_length()
        else:
            length, limit = source.text_length(body), source.max_length
        if limit is not None and length > limit:
            what = "private message" if private else "reply"
            raise UsageError(
                f"{what} is {length} characters as {row['source']} counts them; the limit is {limit}"
            )
        outcome = ReplyOutcome(body, length, limit, replaces=self.reply_replaces(mention_id))
        if dry_run:
            return outcome
        replace = replace and source.reply_replaces
        item_id = workflow.queue_reply(
            self.store, row, body, self.agent, force=force, replace=replace,
            options={"dm": True} if private else None,
        )  # fmt: skip
        if chosen:
            store_kb.set_outbox_article(self.store, item_id, chosen.article_id)
        outcome.item = self.store.outbox_get(item_id)
        if send:
            outcome.item = send_item(self.store, self.adapters, item_id, agent=self.agent)
        return outcome

    # -- private conversations ------------------------------------------------------
    def _check_dm(self, source: Source, row: Row, *, opening: bool) -> None:
        """Refuse, before anything is queued, a private message the platform would not take."""
        refusal = source.dm_policy.refusal(
            opening=opening,
            last_customer_message=None if opening else parse_iso(str(row["created_at"])),
            now=utcnow(),
        )
        if refusal is None and opening:
            refusal = source.dm_refusal(Mention.from_row(row))
        if refusal is not None:
            raise SourceError(
                f"cannot send a private message to @{one_line(str(row['author_handle']), 40)} on "
                f"{row['source']}: {refusal}; nothing was sent"
            )

    def _dm_pair(self, mention_id: str) -> tuple[Row | None, Row | None]:
        """The take-it-to-DM pair of ``mention_id`` not finished yet: (DM, public reply)."""
        items = self.store.outbox_for_mention(mention_id)
        dms = [o for o in items if o["kind"] == "dm" and item_options(o).get("pair")]
        if not dms:
            return None, None
        dm = dms[-1]
        key = item_options(dm)["pair"]
        public = next(
            (o for o in items if o["kind"] == "reply" and item_options(o).get("pair") == key), None
        )
        busy = ("pending", "sending", "unknown")
        if dm["status"] in busy or (public is not None and public["status"] in busy):
            return dm, public
        return None, None

    def take_to_dm(
        self,
        mention_id: str,
        *,
        text: str | None = None,
        template: str | None = None,
        public: str | None = None,
        public_template: str | None = None,
        public_only_if_dm_fails: bool = False,
        dry_run: bool = False,
        force: bool = False,
    ) -> DmOutcome:
        """ "Take it to DM": a private message to a public mention's author and, optionally,
        a short public reply, both through the outbox, each exactly once.

        The DM is sent first; the public reply only once the DM is sent, or, with
        ``public_only_if_dm_fails``, when the DM cannot be sent. A pair left
        unfinished (a crash between the two sends) is finished by calling this
        again: nothing already sent is sent twice.
        """
        import uuid

        from . import workflow

        row = self.store.get_mention(mention_id)
        if row.get("kind") == "dm":
            raise UsageError(
                f"{mention_id} is already a private conversation: answer it with "
                f"`socialcare reply {mention_id}`"
            )
        dm_item, public_item = self._dm_pair(mention_id)
        if dm_item is not None:
            if dry_run:
                return DmOutcome(dm_item, public_item, ["an unfinished pair exists: not sent"])
            return self._send_pair(dm_item, public_item)
        body = workflow.prepare_reply(
            self.config, row, text=text, template=template, agent=self.agent
        )
        if not body:
            raise UsageError("the private message is empty: give TEXT or --template; nothing sent")
        public_body = ""
        if public or public_template:
            public_body = workflow.prepare_reply(
                self.config, row, text=public, template=public_template, agent=self.agent
            )
        source = self.adapters.get(row["source"])
        self._check_lengths(source, body, public_body)
        try:
            self._check_dm(source, row, opening=True)
        except SourceError as exc:
            if not (public_only_if_dm_fails and public_body):
                hint = (
                    " (the public reply was not sent alone: add --public-only-if-dm-fails)"
                    if public_body
                    else ""
                )
                raise SourceError(f"{exc}{hint}") from None
            note = f"{exc}; sent the public reply only (--public-only-if-dm-fails)"
            if dry_run:
                return DmOutcome(notes=[note], public_text=public_body)
            reply = self.reply(mention_id, text=public_body, force=force)
            return DmOutcome(None, reply.item, [note], public_text=public_body)
        if dry_run:
            return DmOutcome(notes=[], dm_text=body, public_text=public_body)
        key = uuid.uuid4().hex
        with self.store.transaction():  # both queued, or neither
            dm_id = workflow.queue_reply(
                self.store, row, body, self.agent, force=force, kind="dm",
                options={"dm": True, "pair": key, "public_only_if_dm_fails":
                         public_only_if_dm_fails},
            )  # fmt: skip
            public_id = None
            if public_body:
                public_id = workflow.queue_reply(
                    self.store, row, public_body, self.agent, force=True,
                    options={"pair": key, "after_dm": dm_id},
                )  # fmt: skip
        return self._send_pair(
            self.store.outbox_get(dm_id),
            self.store.outbox_get(public_id) if public_id is not None else None,
        )

    def _check_lengths(self, source: Source, body: str, public_body: str) -> None:
        limit = source.dm_max_length()
        if limit is not None and source.dm_length(body) > limit:
            raise UsageError(
                f"private message is {source.dm_length(body)} {source.dm_policy.unit} as "
                f"{source.name} counts them; the limit is {limit}"
            )
        if public_body and source.max_length is not None:
            n = source.text_length(public_body)
            if n > source.max_length:
                raise UsageError(
                    f"public reply is {n} characters as {source.name} counts them; "
                    f"the limit is {source.max_length}"
                )

    def _send_pair(self, dm: Row, public: Row | None) -> DmOutcome:
        """Send what of a pair is still pending, DM first; the public reply waits for it."""
        from .outbox import UNRESOLVED, cancel_item, send_item

        notes: list[str] = []
        before = dm["status"]
        if before == "pending":
            dm = send_item(self.store, self.adapters, int(dm["id"]), agent=self.agent)
        if dm["status"] in UNRESOLVED:
            note = (
                f"the private message (outbox #{dm['id']}) is {dm['status']}: it may or may not "
                f"have been sent. `socialcare outbox retry {dm['id']}` checks first; then run "
                f"`socialcare dm {dm['mention_id']}` again to finish"
                + (" (the public reply waits)" if public is not None else "")
            )
            if before in UNRESOLVED:  # found so, not made so by this run
                raise Conflict(note)
            return DmOutcome(dm, public, [note])
        if public is None or public["status"] != "pending":
            return DmOutcome(dm, public, notes)
        if dm["status"] == "sent" or item_options(dm).get("public_only_if_dm_fails"):
            if dm["status"] != "sent":
                notes.append(
                    f"the private message failed ({one_line(str(dm.get('error')))}); sending "
                    "the public reply only (--public-only-if-dm-fails)"
                )
            public = send_item(self.store, self.adapters, int(public["id"]), agent=self.agent)
        else:
            public = cancel_item(self.store, int(public["id"]), self.agent, what="public reply")
            notes.append(
                f"the private message failed, so the public reply (outbox #{public['id']}) was "
                "cancelled, not sent alone (--public-only-if-dm-fails sends it anyway)"
            )
        return DmOutcome(dm, public, notes)

    def outbox(
        self, statuses: Sequence[str] = ("pending", "sending", "unknown", "failed")
    ) -> list[Row]:
        """Outbox items needing attention."""
        return self.store.outbox_list(statuses)

    def retry(self, item_id: int, *, force: bool = False) -> Row:
        """Resend a failed item, or resolve an unknown one, on the agent's explicit word.

        An ``unknown`` (or abandoned ``sending``) item is looked for on the platform
        first and marked ``sent`` if it is there; ``force`` sends without looking
        (needed where the adapter cannot look). See :func:`socialcare.outbox.retry_item`.
        """
        from .outbox import retry_item

        lookup = self._outbox_adapters()
        try:
            return retry_item(self.store, lookup, item_id, self.agent, force=force)
        finally:
            lookup.close()

    def _outbox_adapters(self) -> OutboxAdapters:
        """Adapters for any outbox item, notifications (``notify:TARGET``) included."""
        from .team.notify import OutboxAdapters

        return OutboxAdapters(self.adapters, lambda: self.notify_settings)

    def resolve(self, item_id: int, *, sent: bool, url: str = "") -> Row:
        """Record what the agent found on the platform for an unknown item: there, or not."""
        from .outbox import adapter_for_item, resolve_item

        item = self.store.outbox_get(item_id)
        lookup = self._outbox_adapters()
        try:
            limit = adapter_for_item(lookup, item).send_timeout
        finally:
            lookup.close()
        return resolve_item(
            self.store, item_id, self.agent, sent=sent, url=url, limit_seconds=limit
        )

    def cancel(self, item_id: int) -> Row:
        """Cancel a pending or failed outbox item of any kind (audited); it is never sent."""
        from .outbox import cancel_item

        return cancel_item(self.store, item_id, self.agent)

    def log(self, **filters: Any) -> list[Row]:
        """The audit log, newest first."""
        return self.store.events(**filters)

    # -- follow-ups, scheduled posts and the due run -----------------------------
    def parse_when(self, text: str) -> datetime:
        """A future time typed by the agent (``3d``, ``2026-12-01T09:00`` in their zone), UTC."""
        from . import followups

        return followups.parse_when(text, tz=self.config.timezone)

    def followup_add(
        self,
        mention_id: str,
        *,
        when: datetime,
        template: str | None = None,
        text: str | None = None,
        dm: bool = False,
        subject: str | None = None,
    ) -> Row:
        """Schedule a follow-up to a mention's customer; returns the outbox item."""
        from . import followups

        item_id = followups.schedule_followup(
            self.config, self.store, mention_id, when=when, agent=self.agent,
            template=template, text=text, dm=dm, subject=subject,
        )  # fmt: skip
        return self.store.outbox_get(item_id)

    def followups(
        self, *, status: str | None = "pending", agent: str | None = None, due: bool = False
    ) -> list[Row]:
        """Follow-ups soonest first."""
        from . import followups

        return followups.list_followups(self.store, status=status, agent=agent, due=due)

    def followup(self, item_id: int) -> Row:
        """One follow-up (NotFound for another kind of outbox item)."""
        from . import followups

        return followups.get_followup(self.store, item_id)

    def followup_cancel(self, item_id: int) -> Row:
        """Cancel a pending follow-up."""
        from . import followups

        return followups.cancel_followup(self.store, item_id, self.agent)

    def followup_edit(
        self,
        item_id: int,
        *,
        text: str | None = None,
        template: str | None = None,
        when: datetime | None = None,
    ) -> Row:
        """Change a pending follow-up's text/template and/or time."""
        from . import followups

        return followups.edit_followup(
            self.config, self.store, item_id, agent=self.agent, text=text, template=template,
            when=when,
        )  # fmt: skip

    def preview(self, item: Row) -> Preview:
        """What sending a scheduled item now would do (skip, text or error); writes nothing."""
        from . import followups

        return followups.preview(self.config, self.store, item, self.adapters)

    def post_add(self, source: str, *, when: datetime, text: str) -> Row:
        """Schedule a proactive post on ``source``; returns the outbox item."""
        from . import followups

        item_id = followups.schedule_post(
            self.config, self.store, source, when=when, text=text, agent=self.agent
        )
        return self.store.outbox_get(item_id)

    def posts(self, *, status: str | None = "pending") -> list[Row]:
        """Scheduled posts soonest first."""
        from . import followups

        return followups.list_posts(self.store, status=status)

    def post_cancel(self, item_id: int) -> Row:
        """Cancel a pending scheduled post."""
        from . import followups

        return followups.cancel_post(self.store, item_id, self.agent)

    def due(self, *, dry_run: bool = False) -> DueReport:
        """Send every follow-up and post that is due, once, under the ``due`` lock."""
        from . import followups

        report = followups.run_due(self.config, self.store, dry_run=dry_run)
        if self.notify_settings.targets and not dry_run:
            self.notify()
        return report

    # -- knowledge base -----------------------------------------------------------
    def kb_add(
        self, locations: Sequence[str], *, transport: httpx.BaseTransport | None = None
    ) -> list[SourceResult]:
        """Index files, folders, pages, sitemaps or feeds (re-adding one refreshes it)."""
        from .kb.index import add_sources

        return add_sources(self.store, locations, self.kb_settings, transport=transport)

    def kb_refresh(
        self, sources: Sequence[str] | None = None, *, transport: httpx.BaseTransport | None = None
    ) -> list[SourceResult]:
        """Re-read every knowledge-base source, or the ones named."""
        from .kb.index import refresh_sources

        return refresh_sources(self.store, sources, self.kb_settings, transport=transport)

    def kb_sources(self) -> list[Row]:
        """Knowledge-base sources with their article counts and last problems."""
        from .store import kb as store_kb

        _ = self.kb_settings  # a bad [kb] table fails every kb command alike
        return store_kb.list_sources(self.store)

    def kb_articles(self, *, source: str | None = None, limit: int = 100) -> list[Row]:
        """Articles, of one source (id or location) if given."""
        from .kb.index import resolve_source
        from .store import kb as store_kb

        _ = self.kb_settings  # a bad [kb] table fails every kb command alike
        sid = int(resolve_source(self.store, source)["id"]) if source else None
        return store_kb.list_articles(self.store, source_id=sid, limit=limit)

    def kb_article(self, ref: str) -> Row:
        """One article by id or URL, or NotFound."""
        from .store import kb as store_kb

        _ = self.kb_settings  # a bad [kb] table fails every kb command alike
        row = (
            store_kb.get_article(self.store, int(ref))
            if ref.isdigit()
            else store_kb.article_by_url(self.store, ref)
        )
        if row is None:
            raise NotFound(
                f"no knowledge-base article '{ref}' (see `socialcare kb list --articles`)"
            )
        return row

    def kb_remove(self, source: str) -> tuple[Row, int]:
        """Forget a source and delete its articles: (the source, articles removed)."""
        from .kb.index import remove_source

        _ = self.kb_settings  # a bad [kb] table fails every kb command alike
        return remove_source(self.store, source)

    def kb_search(self, text: str, *, limit: int = 10) -> list[Suggestion]:
        """Articles ranked for ``text`` by BM25, best first."""
        from .kb.search import search

        return search(self.store, text, self.kb_settings, limit=limit)

    def kb_report(
        self, *, since: datetime | None = None, questions: int = 1000, top: int = 15
    ) -> DeflectionReport:
        """Deflection: replies carrying an article, and questions no article answers."""
        from .kb.report import deflection_report

        return deflection_report(
            self.store, self.kb_settings, since=to_iso(since) if since else None,
            question_limit=questions, top=top,
        )  # fmt: skip

    # -- reports and exports -----------------------------------------------------
    def export(
        self, query: ExportQuery, *, progress: ProgressHook | None = None
    ) -> tuple[tuple[str, ...], Iterator[tuple[Any, ...]]]:
        """``(columns, rows)`` of one export; bad options fail now, before any row is read.

        ``progress`` hears how many rows have been read, every page (1,000 rows) and at
        the end (the rows still stream: nothing is counted in advance). The rows keep
        their pages (``ExportRows``), so a CSV writer takes them a page at a time.
        """
        from .store.reports import EXPORT_COLUMNS, iter_export

        self.check_source(query.source)
        rows = iter_export(self.store, query)
        if progress is not None:
            task, report = f"export {query.kind}", progress
            rows = rows.counted(lambda done, last: report(Step(task, done, done if last else None)))
        return EXPORT_COLUMNS.get(query.kind, ()), rows

    def report(self, params: ReportParams) -> Report:
        """Every report table for the period, in display order."""
        from .reports.collect import collect_report

        self.check_source(params.source)
        if not params.exclude_terms:
            from dataclasses import replace

            params = replace(params, exclude_terms=self.triage_settings.brand_terms)
        return collect_report(self.store, params)

    def spikes(
        self,
        *,
        window_s: float,
        windows: int,
        rule: SpikeRule | None = None,
        source: str | None = None,
        now: datetime | None = None,
    ) -> list[SpikeFinding]:
        """Spike verdicts for all sources and each source, with driving terms."""
        from .reports.collect import collect_spikes

        self.check_source(source)
        return collect_spikes(
            self.store, now=now or utcnow(), window_s=window_s, windows=windows, rule=rule,
            source=source,
        )  # fmt: skip

    # -- incidents ------------------------------------------------------------------
    def incident_open(
        self,
        name: str,
        *,
        match: str | None = None,
        since: datetime | None = None,
        from_spike: bool = False,
        window_s: float = 3600.0,
        windows: int = 24,
    ) -> tuple[Row, int]:
        """Open an incident: (incident, open mentions it catches now).

        ``from_spike`` takes the latest spike's window start and driving terms
        (:meth:`spikes`, all sources first); ``match`` and ``since`` override them.
        """
        from .incident.service import IncidentSettings, open_incident
        from .timeutil import parse_since

        spike: dict[str, Any] | None = None
        if from_spike:
            found = [f for f in self.spikes(window_s=window_s, windows=windows) if f.result.spike]
            if not found:
                raise NotFound(
                    "no spike in the latest window (see `socialcare report spikes`): "
                    "open the incident with --match instead"
                )
            best = found[0]  # "all" comes first when the whole volume spiked
            spike = {
                "scope": best.scope,
                "window_start": best.window_start,
                "window_end": best.window_end,
                "count": best.result.count,
                "terms": [d.term for d in best.drivers],
            }
        elif not match:
            raise UsageError(
                'say what the incident is about: --match "login or 502" or --from-spike'
            )
        if since is None and spike is None:
            default = IncidentSettings.from_config(self.config).default_since
            since = parse_since(default, tz=self.config.timezone, what="incidents.default_since")
        incident, caught = open_incident(
            self.store, name=name, match=match, since=since, agent=self.agent, spike=spike
        )
        return incident, caught

    def incidents(self, *, status: str | None = None) -> list[Row]:
        """Incidents newest first, with mention, open and customer counts."""
        from .errors import check_choice
        from .incident.service import list_incidents

        check_choice(status, ("open", "resolved"), "--status")
        return list_incidents(self.store, status=status)

    def incident(self, name: str) -> IncidentView:
        """One incident: counts by source and hour, customers, answered, samples."""
        from .incident.service import show_incident

        return show_incident(self.store, name)

    def incident_add(self, name: str, mention_ids: Sequence[str]) -> int:
        """Attach mentions to an incident by hand."""
        from .incident.service import add_mentions

        return add_mentions(self.store, name, mention_ids, self.agent)

    def incident_remove(self, name: str, mention_ids: Sequence[str]) -> int:
        """Detach mentions from an incident (polls will not attach them again)."""
        from .incident.service import remove_mentions

        return remove_mentions(self.store, name, mention_ids, self.agent)

    def incident_reply(
        self,
        name: str,
        *,
        template: str | None = None,
        text: str | None = None,
        dry_run: bool = False,
        progress: Callable[[int, int], None] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> ReplyReport:
        """One acknowledgement per affected customer, through the outbox, exactly once."""
        from .incident.service import reply_all

        return reply_all(
            self.config, self.store, self.adapters, name, agent=self.agent, template=template,
            text=text, dry_run=dry_run, progress=progress, sleep=sleep or time.sleep,
        )  # fmt: skip

    def incident_post(
        self,
        name: str,
        *,
        text: str,
        sources: Sequence[str] = (),
        when: datetime | None = None,
    ) -> list[PostResult]:
        """A status post about the incident on each source (now, or at ``when`` by ``due``)."""
        from .incident.service import post_status

        for s in sources:
            self.check_source(s)
        return post_status(
            self.config, self.store, self.adapters, name, text=text, sources=list(sources),
            agent=self.agent, when=when,
        )  # fmt: skip

    def incident_resolve(
        self,
        name: str,
        *,
        template: str | None = None,
        text: str | None = None,
        when: datetime | None = None,
    ) -> ResolveReport:
        """Close the incident and schedule "fixed now" follow-ups to answered customers."""
        from .incident.service import resolve_incident

        return resolve_incident(
            self.config, self.store, name, agent=self.agent, template=template, text=text,
            when=when,
        )  # fmt: skip

    def queue_folded(
        self, flt: QueueFilter, *, incident: str | None = None, now: float | None = None
    ) -> tuple[list[Row], list[FoldedIncident]]:
        """The queue with each open incident's mentions folded into one line (or one
        incident's mentions only, with ``incident``)."""
        from dataclasses import replace

        from .incident.matching import fold_queue

        return fold_queue(
            self.store,
            lambda n: self.queue(replace(flt, limit=n), now),
            flt.limit,
            expand=incident,
        )

    # -- the store itself -----------------------------------------------------------
    def _unmigrated(self, location: str | None = None) -> Store:
        """The configured store (or ``location``) opened without migrating it."""
        from .store import open_store

        return open_store(location or self.config.database, upgrade=False)

    def db_status(self) -> dict[str, Any]:
        """Backend, redacted location, schema version of latest, pending migrations, counts.

        ``estimated`` names the tables whose count is the planner's estimate
        (PostgreSQL, big tables); the others are exact.
        """
        from .store.copy import COPY_TABLES
        from .store.migrations import migration_names
        from .store.reports import table_sizes

        store = self._unmigrated()
        try:
            applied = store.applied_migrations()
            pending = store.pending_migrations()
            counts, estimated = (
                table_sizes(store, [t for t, _ in COPY_TABLES]) if not pending else ({}, [])
            )
            return {
                "backend": store.backend,
                "location": store.location,
                "schema_version": len(applied),
                "latest_version": len(migration_names(store.dialect)),
                "pending": pending,
                "counts": counts,
                "estimated": estimated,
            }
        finally:
            store.close()

    def db_upgrade(self) -> tuple[list[str], int]:
        """Apply pending migrations: (names applied now, schema version after)."""
        store = self._unmigrated()
        try:
            return store.upgrade(), store.schema_version()
        finally:
            store.close()

    def db_copy(
        self,
        to: str,
        *,
        from_: str | None = None,
        batch: int = 2000,
        progress: ProgressHook | None = None,
    ) -> tuple[list[TableCopy], str]:
        """Copy every table into another store: (per-table results, "source -> target").

        ``progress`` hears of each table's rows read so far out of its row count,
        after every page (``Step(task="copy TABLE", done, total)``).
        """
        from .store import open_store
        from .store.copy import copy_store, table_counts

        source = open_store(from_ or self.config.database)
        try:
            target = open_store(to)
            try:
                hook = None if progress is None else _copy_steps(table_counts(source), progress)
                results = copy_store(source, target, batch=batch, progress=hook)
                return results, f"{source.location} -> {target.location}"
            finally:
                target.close()
        finally:
            source.close()

    # -- customers ----------------------------------------------------------
    def link(self, first: str, second: str) -> int:
        """Link two identities (author keys or mention ids) as one customer."""
        from . import workflow

        a = workflow.resolve_author(self.store, first)
        b = workflow.resolve_author(self.store, second)
        customer = self.store.link_authors(a, b)
        self.store.log_event("customer_link", agent=self.agent, authors=[a, b], customer=customer)
        return customer

    def unlink(self, ref: str) -> str:
        """Detach an identity from its customer."""
        from . import workflow

        key = workflow.resolve_author(self.store, ref)
        self.store.unlink_author(key)
        self.store.log_event("customer_unlink", agent=self.agent, author=key)
        return key

    def customer(self, ref: str) -> tuple[list[Row], list[Row]]:
        """(identities, mentions newest first) of the customer behind ``ref``."""
        from . import workflow

        key = workflow.resolve_author(self.store, ref)
        identities = self.store.authors_of_customer(key)
        return identities, self.store.history([i["id"] for i in identities])

    def show(self, mention_id: str, *, online: bool = True) -> MentionView:
        """A mention with its explanation, thread and the customer's history everywhere."""
        row, parts = self.explain(mention_id)
        notes: list[str] = []
        if online:
            notes += self._fetch_missing_parents(row)
        thread = []
        if row.get("conversation_id"):
            thread = self.store.conversation(row["source"], row["conversation_id"])
        if not online:
            missing = self._missing_parent(row)
            if missing:
                notes.append(f"offline: parent {row['source']}:{missing} is not in the store")
        identities = self.store.authors_of_customer(row["author_key"])
        history = [
            h for h in self.store.history([i["id"] for i in identities]) if h["id"] != mention_id
        ]
        ids = [mention_id] + [h["id"] for h in history]
        clock = dict(row)  # the queue's SLA fields, for this one mention
        due = row.get("sla_due_ts")
        now_ts = time.time()
        clock["sla_left"] = None if due is None else float(due) - now_ts
        if self.config.hours:
            self._business_sla([clock], now_ts)
        self._next_responses([clock])
        row = {**row, **{k: clock.get(k) for k in _RESPONSE_CLOCK}}
        return MentionView(
            row,
            parts,
            thread,
            notes,
            identities,
            history,
            self.store.outbox_for_mentions(ids),
            self.store.notes_for_mentions(ids),
        )

    def _missing_parent(self, row: Row) -> str | None:
        parent = row.get("parent_id")
        if parent and self.store.find_mention(row["source"], parent) is None:
            return str(parent)
        return None

    def _fetch_missing_parents(self, row: Row, depth: int = 5) -> list[str]:
        """Walk up the reply chain, fetching parents the store lacks through the adapter."""
        from .scoring import triage_ids

        current = row
        for _ in range(depth):
            missing = self._missing_parent(current)
            if missing is None:
                parent = current.get("parent_id")
                if not parent:
                    return []
                found = self.store.find_mention(current["source"], parent)
                if found is None:
                    return []
                current = found
                continue
            try:
                source = self.adapters.get(current["source"])
                source.check_credentials()
                fetched: list[Mention] = source.fetch([missing])
            except SocialcareError as exc:
                return [f"parent {current['source']}:{missing} not fetched: {exc}"]
            if not fetched:
                return [f"parent {current['source']}:{missing} no longer exists on the platform"]
            settings = self.triage_settings
            with self.store.transaction():
                self.store.upsert_mentions(fetched, self.config.brand_handles)
                triage_ids(self.store, [m.id for m in fetched], settings)
            current = self.store.get_mention(fetched[0].id)
        return []


def _copy_steps(totals: dict[str, int], progress: ProgressHook) -> Callable[[TableCopy], None]:
    """``db copy``'s per-page callback as progress steps, each table out of its row count."""

    def step(result: TableCopy) -> None:
        progress(Step(f"copy {result.table}", result.source_rows, totals.get(result.table)))

    return step


STARTER_CONFIG = """# socialcare config: see config.example.toml in the repository for every key.
# The database defaults to socialcare.db in the data dir (SOCIALCARE_HOME or the platform's).
# database = "~/socialcare.db"
brand_handles = ["AcmeHelp"]   # your brand's own accounts (their posts are never queued)
# agent = "alice"              # or SOCIALCARE_AGENT

[sources.demo]                 # offline sample mentions: try every command with no account
enabled = true

# [sources.twitter]
# queries = ["acme -is:retweet"]
# user_id = "1234567890"       # brand account id: polls its mentions too

# [sources.reddit]
# searches = [{ subreddit = "all", query = "acme" }]
"""


def init_config(path: str | Path | None = None, *, force: bool = False) -> tuple[Path, bool]:
    """Write the starter config unless one exists; returns (path, written)."""
    target = Path(path).expanduser() if path else default_config_path()
    if target.exists() and not force:
        return target, False
    private_dir(target.parent)
    private_file(target)
    target.write_text(STARTER_CONFIG, encoding="utf-8")
    return target, True
