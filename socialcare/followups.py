"""Follow-ups and scheduled posts: outbox items with a ``due_at``, sent by ``socialcare due``.

A follow-up is an outbox item of kind ``followup`` tied to a mention; a
scheduled post is kind ``post`` with no mention. Both wait as ``pending`` until
``due_at`` and then go through :func:`socialcare.outbox.send_item`, the same
pending -> sending -> sent/failed path as replies, so the outbox's one-send
guarantee covers them too.

Why some choices:

* A follow-up's text is rendered from its template when it is *sent*, so a
  fixed template or a renamed customer is picked up; it is rendered once when
  scheduled as well, so an unknown placeholder is refused while the agent is
  still at the keyboard rather than at 3 a.m. in cron.
* Before sending, a follow-up is *skipped* (status ``skipped``, reason in
  ``error``, an audit entry) if the customer wrote again on any linked identity
  since it was scheduled, or the mention was reopened: the conversation moved
  on and a canned check-in would read as not listening.
* ``due`` holds the ``due`` job lock; a run that dies mid-send leaves the item
  ``sending``, which is never picked again (see ``socialcare outbox``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from .config import Config
from .errors import ConfigError, Conflict, NotFound, SocialcareError, UsageError
from .models import item_options, parse_iso, to_iso, utcnow
from .outbox import DEFAULT_DM_SUBJECT, cancel_item, send_item
from .poll import Adapters, build_source
from .sources.base import Source
from .sources.registry import get_source_class
from .store import Row, Store
from .store import followups as sql
from .timeutil import parse_duration, parse_future
from .workflow import prepare_reply

__all__ = [
    "FOLLOWUP",
    "POST",
    "STATUSES",
    "DEFAULT_DM_SUBJECT",
    "Rule",
    "FollowupSettings",
    "Preview",
    "DueLine",
    "DueReport",
    "parse_when",
    "schedule_followup",
    "list_followups",
    "get_followup",
    "cancel_followup",
    "edit_followup",
    "schedule_post",
    "list_posts",
    "get_post",
    "cancel_post",
    "on_close",
    "skip_reason",
    "render_item",
    "preview",
    "item_options",
    "due_items",
    "run_due",
]

log = logging.getLogger("socialcare.followups")

FOLLOWUP = "followup"
POST = "post"
#: every outbox status, for ``--status`` validation (``all`` means no filter)
STATUSES = ("pending", "sending", "unknown", "sent", "failed", "cancelled", "skipped")

_RULE_KEYS = {"name", "intents", "max_sentiment", "template", "after", "sources", "enabled"}
_TABLE_KEYS = {"rules", "disabled_sources", "dm_subject"}


# -- config --------------------------------------------------------------------
def _followups_table(config: Config) -> Mapping[str, Any]:
    """``config.followups`` (the ``[followups]`` table); empty while Config lacks the field."""
    table = getattr(config, "followups", None)
    return table if isinstance(table, Mapping) else {}


def _str_list(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f'{key} must be a list of names, e.g. ["reddit"], got {value!r}')
    return tuple(v.strip() for v in value)


@dataclass(frozen=True)
class Rule:
    """One ``[[followups.rules]]`` entry: when closing a matching mention, schedule a follow-up.

    A mention matches when its intent is one of ``intents`` *or* its sentiment
    is at most ``max_sentiment`` (either condition alone is enough, so "a
    complaint, or anything clearly negative" is one rule).
    """

    name: str
    template: str
    after: timedelta
    intents: tuple[str, ...] = ()
    max_sentiment: float | None = None
    sources: tuple[str, ...] | None = None
    enabled: bool = True

    @classmethod
    def from_table(cls, table: Any, index: int) -> Rule:
        """Validate one rule table; errors name the rule and the key to fix."""
        where = f"followups.rules[{index}]"
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where} must be a table ([[followups.rules]])")
        unknown = sorted(set(table) - _RULE_KEYS)
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_RULE_KEYS))})"
            )
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(
                f"{where}: 'name' is required, e.g. name = \"checkin-after-complaint\""
            )
        where = f"followups rule '{name}'"
        template = table.get("template")
        if not isinstance(template, str) or not template.strip():
            raise ConfigError(
                f"{where}: 'template' is required (a template name, e.g. \"checkin\")"
            )
        after_text = table.get("after")
        if not isinstance(after_text, str):
            raise ConfigError(f"{where}: 'after' is required, e.g. after = \"3d\"")
        after = parse_duration(after_text, what=f"{where}: after")
        if after <= timedelta(0):
            raise ConfigError(f"{where}: 'after' must be longer than 0")
        intents = _str_list(table.get("intents", []), f"{where}: intents")
        max_sentiment = table.get("max_sentiment")
        if max_sentiment is not None and (
            isinstance(max_sentiment, bool)
            or not isinstance(max_sentiment, int | float)
            or not -1 <= max_sentiment <= 1
        ):
            raise ConfigError(f"{where}: max_sentiment must be a number from -1 to 1")
        if not intents and max_sentiment is None:
            raise ConfigError(
                f"{where}: give 'intents' and/or 'max_sentiment', or the rule would follow up "
                "on every closed mention"
            )
        sources = table.get("sources")
        enabled = table.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ConfigError(f"{where}: enabled must be true or false")
        return cls(
            name=name.strip(),
            template=template.strip(),
            after=after,
            intents=intents,
            max_sentiment=None if max_sentiment is None else float(max_sentiment),
            sources=None if sources is None else _str_list(sources, f"{where}: sources"),
            enabled=enabled,
        )

    def matches(self, row: Mapping[str, Any]) -> bool:
        """Whether this (enabled) rule applies to a mention row as it was when closed."""
        if not self.enabled:
            return False
        if self.sources is not None and row.get("source") not in self.sources:
            return False
        if row.get("intent") in self.intents:
            return True
        score = row.get("sentiment_compound")
        return self.max_sentiment is not None and score is not None and score <= self.max_sentiment


@dataclass(frozen=True)
class FollowupSettings:
    """The validated ``[followups]`` table."""

    rules: tuple[Rule, ...] = ()
    disabled_sources: tuple[str, ...] = ()
    dm_subject: str = DEFAULT_DM_SUBJECT

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> FollowupSettings:
        """Validate ``[followups]``; a typo is a ConfigError naming the key, not a silent no-op."""
        unknown = sorted(set(table) - _TABLE_KEYS)
        if unknown:
            raise ConfigError(
                f"followups: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_TABLE_KEYS))})"
            )
        raw_rules = table.get("rules", [])
        if not isinstance(raw_rules, list):
            raise ConfigError("followups.rules must be an array of tables ([[followups.rules]])")
        rules = tuple(Rule.from_table(r, i) for i, r in enumerate(raw_rules))
        names = [r.name for r in rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"followups: rule names must be unique ({', '.join(dupes)} repeated)")
        subject = table.get("dm_subject", DEFAULT_DM_SUBJECT)
        if not isinstance(subject, str) or not subject.strip():
            raise ConfigError("followups.dm_subject must be a non-empty string")
        return cls(
            rules=rules,
            disabled_sources=_str_list(
                table.get("disabled_sources", []), "followups.disabled_sources"
            ),
            dm_subject=subject.strip(),
        )

    @classmethod
    def from_config(cls, config: Config) -> FollowupSettings:
        """Settings from ``config.followups``."""
        return cls.from_mapping(_followups_table(config))


# -- times ---------------------------------------------------------------------
#: ``--in``/``--at`` text -> a future UTC time (the one time rule: see socialcare.timeutil)
parse_when = parse_future


def _now(now: datetime | None) -> datetime:
    return (now or utcnow()).astimezone(timezone.utc)


def _check_future(when: datetime, now: datetime) -> str:
    if when.tzinfo is None:
        raise UsageError("the time needs a time zone (use parse_when)")
    if when <= now:
        raise UsageError(f"the time {to_iso(when)} is in the past")
    return to_iso(when)


# -- items ---------------------------------------------------------------------
def _get(store: Store, item_id: int, kind: str) -> Row:
    item = store.outbox_get(item_id)
    if item["kind"] != kind:
        hint = "followup list" if item["kind"] == FOLLOWUP else "post list"
        if item["kind"] not in (FOLLOWUP, POST):
            hint = "outbox"
        raise NotFound(
            f"outbox item {item_id} is a {item['kind']}, not a {kind} (see `socialcare {hint}`)"
        )
    return item


def _check_length(source: Source, text: str, what: str) -> None:
    limit = source.max_length
    if limit is not None:
        length = source.text_length(text)
        if length > limit:
            raise UsageError(
                f"{what} is {length} characters as {source.name} counts them; the limit is {limit}"
            )


def _check_sendable(source_name: str, *, dm: bool) -> None:
    cls = get_source_class(source_name)
    if cls.read_only:
        raise UsageError(f"source '{source_name}' is read-only: it cannot send follow-ups or posts")
    # Facebook and Instagram message a commenter by a private reply to the comment
    if dm and not any(callable(getattr(cls, a, None)) for a in ("send_message", "private_reply")):
        raise UsageError(
            f"source '{source_name}' cannot send private messages: drop --dm to reply in the thread"
        )


def _render_followup(config: Config, mention: Row, opts: Mapping[str, Any], agent: str) -> str:
    """The follow-up text for ``mention`` now (template and placeholders filled)."""
    text = prepare_reply(
        config, mention, text=opts.get("text"), template=opts.get("template"), agent=agent
    )
    if not text:
        raise UsageError("the follow-up text is empty")
    return text


def _content(template: str | None, text: str | None) -> dict[str, Any]:
    if bool(template) == bool(text):
        raise UsageError("give exactly one of --template or --text")
    return {"template": template} if template else {"text": text}


def schedule_followup(
    config: Config,
    store: Store,
    mention_id: str,
    *,
    when: datetime,
    agent: str,
    template: str | None = None,
    text: str | None = None,
    dm: bool = False,
    subject: str | None = None,
    rule: str | None = None,
    now: datetime | None = None,
) -> int:
    """Schedule a follow-up to a mention's customer, same platform and thread; returns its id.

    The text (template or ``text``, placeholders allowed) is rendered now only
    to refuse unknown placeholders and over-long text; the stored ``text`` is a
    preview and is rendered again when sent.
    """
    current = _now(now)
    due_at = _check_future(when, current)
    mention = store.get_mention(mention_id)
    if mention["is_own"]:
        raise UsageError(f"{mention_id} was posted by the brand itself: there is no customer")
    opts = _content(template, text)
    _check_sendable(mention["source"], dm=dm)
    preview_text = _render_followup(config, mention, opts, agent)
    _check_length(build_source(config, mention["source"]), preview_text, "the follow-up")
    # Rules fire on close; record "closed" even if the caller has not committed it yet,
    # so a later "open" reads as reopened (see skip_reason).
    opts.update(dm=dm, rule=rule, mention_status="closed" if rule else mention["status"])
    if dm:
        opts["subject"] = subject or FollowupSettings.from_config(config).dm_subject
    with store.transaction():
        item_id = store.outbox_add(
            kind=FOLLOWUP,
            source=mention["source"],
            mention_id=mention_id,
            text=preview_text,
            agent=agent,
            due_at=due_at,
            options=opts,
        )
        store.log_event(
            "followup_scheduled",
            agent=agent,
            mention_id=mention_id,
            outbox_id=item_id,
            due_at=due_at,
            rule=rule,
            dm=dm,
        )
    return item_id


def _statuses(status: str | None) -> list[str] | None:
    if status in (None, "all"):
        return None
    if status not in STATUSES:
        raise UsageError(f"unknown status {status!r} (use {', '.join(STATUSES)} or all)")
    return [status]


def list_followups(
    store: Store,
    *,
    status: str | None = "pending",
    agent: str | None = None,
    due: bool = False,
    now: datetime | None = None,
    limit: int = 200,
) -> list[Row]:
    """Follow-ups soonest first; ``due`` keeps those whose time has come (pending by default)."""
    return sql.scheduled_items(
        store,
        kind=FOLLOWUP,
        statuses=_statuses(status),
        agent=agent,
        due_by=to_iso(_now(now)) if due else None,
        limit=limit,
    )


def get_followup(store: Store, item_id: int) -> Row:
    """One follow-up, or NotFound (also when the id is another kind of outbox item)."""
    return _get(store, item_id, FOLLOWUP)


def _cancel(store: Store, item: Row, agent: str, what: str) -> Row:
    return cancel_item(store, int(item["id"]), agent, what=what)


def cancel_followup(store: Store, item_id: int, agent: str) -> Row:
    """Cancel a pending or failed follow-up; it is never picked by ``due`` again."""
    return _cancel(store, get_followup(store, item_id), agent, "follow-up")


def edit_followup(
    config: Config,
    store: Store,
    item_id: int,
    *,
    agent: str,
    text: str | None = None,
    template: str | None = None,
    when: datetime | None = None,
    now: datetime | None = None,
) -> Row:
    """Change a pending follow-up's text/template and/or time; Conflict once it is taken."""
    item = get_followup(store, item_id)
    if item["status"] != "pending":
        raise Conflict(f"follow-up {item_id} is {item['status']}: only pending ones can be edited")
    if text is None and template is None and when is None:
        raise UsageError("nothing to change: give --text, --template, --in or --at")
    fields: dict[str, Any] = {}
    opts = item_options(item)
    if text is not None or template is not None:
        opts.pop("text", None)
        opts.pop("template", None)
        opts.update(_content(template, text))
        mention = store.get_mention(item["mention_id"])
        body = _render_followup(config, mention, opts, item["agent"] or agent)
        _check_length(build_source(config, item["source"]), body, "the follow-up")
        fields.update(text=body, options=json.dumps(opts))
    if when is not None:
        fields["due_at"] = _check_future(when, _now(now))
    with store.transaction():
        if not sql.update_pending(store, item_id, **fields):
            now_status = store.outbox_get(item_id)["status"]
            raise Conflict(f"follow-up {item_id} is {now_status}: only pending ones can be edited")
        store.log_event(
            "followup_edited",
            agent=agent,
            mention_id=item["mention_id"],
            outbox_id=item_id,
            changed=sorted(k for k in fields if k != "options"),
            previous_due_at=item["due_at"],
        )
    return store.outbox_get(item_id)


def schedule_post(
    config: Config,
    store: Store,
    source: str,
    *,
    when: datetime,
    text: str,
    agent: str,
    now: datetime | None = None,
) -> int:
    """Schedule a proactive post (an announcement) on ``source``; returns its outbox id."""
    due_at = _check_future(when, _now(now))
    body = text.strip()
    if not body:
        raise UsageError("the post is empty")
    _check_sendable(source, dm=False)  # an unknown name is NotFound, listing the known ones
    if source not in config.sources:
        raise UsageError(
            f"source '{source}' is not configured: add a [sources.{source}] table to the config "
            "first (`socialcare sources` lists what is set up)"
        )
    adapter = build_source(config, source)
    adapter.check_credentials()  # a missing token fails now, not at `due` in the night
    _check_length(adapter, body, "the post")
    with store.transaction():
        item_id = store.outbox_add(
            kind=POST, source=source, mention_id=None, text=body, agent=agent, due_at=due_at
        )
        store.log_event(
            "post_scheduled", agent=agent, outbox_id=item_id, source=source, due_at=due_at
        )
    return item_id


def list_posts(store: Store, *, status: str | None = "pending", limit: int = 200) -> list[Row]:
    """Scheduled posts soonest first."""
    return sql.scheduled_items(store, kind=POST, statuses=_statuses(status), limit=limit)


def get_post(store: Store, item_id: int) -> Row:
    """One scheduled post, or NotFound."""
    return _get(store, item_id, POST)


def cancel_post(store: Store, item_id: int, agent: str) -> Row:
    """Cancel a pending or failed scheduled post."""
    return _cancel(store, get_post(store, item_id), agent, "post")


# -- rules on close ------------------------------------------------------------
def on_close(
    store: Store,
    config: Config,
    row_before_close: Mapping[str, Any],
    agent: str,
    *,
    now: datetime | None = None,
) -> list[int]:
    """Schedule the follow-ups the config rules ask for when a mention is closed; their ids.

    Call it after the close is committed, with the mention row as it was
    before. A rule's earlier pending follow-up for the same mention (closed,
    reopened, closed again) is cancelled and replaced, so the clock restarts
    from this close and the customer gets one check-in, not two.

    Raises ConfigError (after scheduling the rules that worked) when a rule's
    template is missing or has an unknown placeholder.
    """
    settings = FollowupSettings.from_config(config)
    source = row_before_close.get("source")
    if not settings.rules or source in settings.disabled_sources or row_before_close.get("is_own"):
        return []
    try:
        if get_source_class(str(source)).read_only:
            return []  # nothing can be sent there; not a config mistake
    except NotFound:
        return []
    mention_id = str(row_before_close["id"])
    current = _now(now)
    scheduled: list[int] = []
    problems: list[str] = []
    for rule in settings.rules:
        if not rule.matches(row_before_close):
            continue
        with store.transaction():
            try:
                item_id = schedule_followup(
                    config,
                    store,
                    mention_id,
                    when=current + rule.after,
                    agent=agent,
                    template=rule.template,
                    rule=rule.name,
                    now=current,
                )
            except SocialcareError as exc:
                problems.append(f"rule '{rule.name}': {exc}")
                continue
            for old in sql.pending_rule_followups(store, mention_id, rule.name):
                if old["id"] == item_id:
                    continue
                store.outbox_transition(
                    old["id"], ("pending",), "cancelled", error=f"replaced by follow-up {item_id}"
                )
                store.log_event(
                    "followup_cancelled",
                    agent=agent,
                    mention_id=mention_id,
                    outbox_id=old["id"],
                    replaced_by=item_id,
                )
        scheduled.append(item_id)
    if problems:
        done = f"scheduled {scheduled}" if scheduled else "none scheduled"
        raise ConfigError(
            f"{mention_id} is closed, but follow-up rules failed ({done}): "
            + "; ".join(problems)
            + " (fix [followups.rules] or the template, or use `socialcare followup add`)"
        )
    return scheduled


# -- sending -------------------------------------------------------------------
def skip_reason(store: Store, item: Mapping[str, Any]) -> str | None:
    """Why a due follow-up should not be sent any more, or None to send it."""
    if item.get("kind") != FOLLOWUP or not item.get("mention_id"):
        return None
    try:
        mention = store.get_mention(str(item["mention_id"]))
    except NotFound:
        return f"mention {item['mention_id']} no longer exists"
    scheduled = parse_iso(str(item["created_at"]))
    keys = store.linked_author_keys(mention["author_key"])
    wrote = sql.customer_wrote_since(store, keys, scheduled.timestamp(), exclude=mention["id"])
    if wrote is not None:
        return (
            f"the customer wrote again after it was scheduled ({wrote['id']} at "
            f"{wrote['created_at']})"
        )
    if mention["status"] == "open":
        was_open = item_options(item).get("mention_status") == "open"
        if not was_open or sql.reopened_since(store, mention["id"], str(item["created_at"])):
            return f"{mention['id']} was reopened after the follow-up was scheduled"
    if mention["status"] == "spam":
        return f"{mention['id']} was marked as spam"
    return None


def render_item(config: Config, store: Store, item: Mapping[str, Any]) -> str:
    """The text to send now: follow-ups re-rendered from template/text, posts as stored."""
    if item.get("kind") != FOLLOWUP or not item.get("mention_id"):
        return str(item["text"])
    mention = store.get_mention(str(item["mention_id"]))
    return _render_followup(config, mention, item_options(item), str(item.get("agent") or ""))


@dataclass
class Preview:
    """What ``due`` would do with one item right now."""

    text: str | None = None
    skip: str | None = None
    error: str | None = None


def preview(
    config: Config,
    store: Store,
    item: Mapping[str, Any],
    adapters: Adapters | None = None,
) -> Preview:
    """Skip reason, else the rendered text, else the error that would fail it; writes nothing.

    ``adapters`` keeps built sources across the items of one run.
    """
    reason = skip_reason(store, item)
    if reason:
        return Preview(skip=reason)
    try:
        text = render_item(config, store, item)
        dm = bool(item_options(item).get("dm"))
        _check_sendable(str(item["source"]), dm=dm)
        source = (adapters or Adapters(config)).get(str(item["source"]))
        _check_length(source, text, f"{item['kind']} {item['id']}")
    except SocialcareError as exc:
        return Preview(error=str(exc))
    return Preview(text=text)


def due_items(store: Store, now: datetime | None = None) -> list[Row]:
    """Pending items due at ``now`` (``due_at <= now``), oldest due first."""
    return sql.due_items(store, to_iso(_now(now)))


@dataclass
class DueLine:
    """One item's outcome in a ``due`` run: sent, failed, skipped or busy (taken elsewhere)."""

    item_id: int
    kind: str
    target: str
    outcome: str
    detail: str = ""


@dataclass
class DueReport:
    """What a ``due`` run did (or, with ``dry_run``, would do)."""

    dry_run: bool = False
    lines: list[DueLine] = field(default_factory=list)
    #: items still ``sending`` from a run that died: a human must check and retry
    stuck: list[int] = field(default_factory=list)

    def _count(self, outcome: str) -> int:
        return sum(1 for line in self.lines if line.outcome == outcome)

    @property
    def sent(self) -> int:
        return self._count("sent")

    @property
    def failed(self) -> int:
        return self._count("failed")

    @property
    def skipped(self) -> int:
        return self._count("skipped")


def _settle_unsent(store: Store, item: Row, status: str, action: str, reason: str) -> bool:
    """Move a pending item to ``status`` (failed/skipped) without sending it, and log why."""
    with store.transaction():
        moved = store.outbox_transition(item["id"], ("pending",), status, error=reason)
        if moved:
            detail = {"error" if status == "failed" else "reason": reason}
            store.log_event(
                action,
                agent=item["agent"],
                mention_id=item["mention_id"],
                outbox_id=item["id"],
                **detail,
            )
    return moved


def _fail_before_send(store: Store, item: Row, error: str) -> bool:
    return _settle_unsent(store, item, "failed", "send_failed", error)


def _skip(store: Store, item: Row, reason: str) -> bool:
    return _settle_unsent(store, item, "skipped", "followup_skipped", reason)


def _due_pass(config: Config, store: Store, now: datetime, *, dry_run: bool) -> DueReport:
    report = DueReport(dry_run=dry_run)
    adapters = Adapters(config)
    try:
        _due_items_pass(config, store, now, report, adapters)
    finally:
        adapters.close()
    report.stuck = [r["id"] for r in sql.stuck_items(store, to_iso(now))]
    return report


def _due_items_pass(
    config: Config, store: Store, now: datetime, report: DueReport, adapters: Adapters
) -> None:
    """Settle each due item in turn (skip, fail or send), a line per item in ``report``."""
    dry_run = report.dry_run
    for item in due_items(store, now):
        line = DueLine(item["id"], item["kind"], item["mention_id"] or item["source"], "failed")
        report.lines.append(line)
        view = preview(config, store, item, adapters)
        if view.skip:
            line.outcome, line.detail = "skipped", view.skip
            if not dry_run and not _skip(store, item, view.skip):
                line.outcome, line.detail = "busy", "taken by another process meanwhile"
            continue
        if view.text is None:
            line.detail = view.error or "nothing to send"
            if not dry_run and not _fail_before_send(store, item, line.detail):
                line.outcome, line.detail = "busy", "taken by another process meanwhile"
            continue
        line.outcome, line.detail = "sent", view.text
        if dry_run:
            continue
        # Freeze the text rendered now into the item. Conditional, like every write
        # here, so an item another process took meanwhile is left alone.
        if not sql.update_pending(store, item["id"], text=view.text):
            line.outcome, line.detail = "busy", "taken by another process meanwhile"
            continue
        try:
            done = send_item(store, adapters, item["id"], agent=item["agent"])
        except Conflict as exc:
            line.outcome, line.detail = "busy", str(exc)
            continue
        if done["status"] == "unknown":
            line.outcome = "failed"
            line.detail = (
                f"outcome unknown, it may be on the platform: {done.get('error')} "
                f"(`socialcare outbox retry {item['id']}` checks the platform first)"
            )
        elif done["status"] != "sent":
            line.outcome, line.detail = "failed", done.get("error") or done["status"]
        elif done.get("url"):
            line.detail = f"{view.text} ({done['url']})"


def run_due(
    config: Config, store: Store, *, dry_run: bool = False, now: datetime | None = None
) -> DueReport:
    """Send every scheduled item due by ``now``, once, under the ``due`` job lock.

    ``dry_run`` reports what would happen without the lock and without any
    write. Raises LockHeld when another ``due`` run is in progress; send
    failures are in the report (the CLI turns them into exit code 8).
    """
    current = _now(now)
    if dry_run:
        return _due_pass(config, store, current, dry_run=True)
    with store.job_lock("due"):
        return _due_pass(config, store, current, dry_run=False)
