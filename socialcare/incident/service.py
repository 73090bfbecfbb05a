"""Incident mode: from a spike to every affected customer answered, updated and followed up.

An incident is a named matching rule (full-text alternatives, since a time)
plus the mentions it caught, by the rule at every poll or by hand. Three sends
hang off it, each through the outbox and each at most once per target, because
``incident_sends`` has one row per (incident, kind, target) written in the same
transaction as its outbox item:

* ``reply``: one acknowledgement per affected customer (author key), to their
  latest mention. It runs in two phases: first every acknowledgement is
  queued (pending, with an idempotency key derived from the incident and the
  customer, so a platform that honours keys dedupes even a forced resend),
  then each is sent. A rerun after a crash sends only what is still pending;
  an item a crash left ``sending`` is never sent again automatically (see
  :mod:`socialcare.outbox`). Customers an agent already answered, or who are
  claimed by another agent, are skipped; just before each send that check is
  repeated, so an agent's reply meanwhile cancels the acknowledgement.
* ``post``: a status post per source, through the scheduled posts of
  :mod:`socialcare.followups` (the same text twice on one source is refused).
* ``resolve``: closes the incident and schedules a "fixed now" follow-up for
  every answered customer through :func:`socialcare.followups.schedule_followup`,
  so ``due`` applies the follow-up rules (skipped when the customer wrote
  again); customers who wrote again after their answer are skipped at once.

Pacing: sends to one source are spaced by its minimum interval
(``[incidents] min_interval``, defaults in :data:`DEFAULT_INTERVALS`) and
sources are interleaved, so one slow platform does not hold up the others.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping, Sequence

from ..config import Config
from ..errors import ConfigError, Conflict, NotFound, SocialcareError, UsageError
from ..followups import schedule_followup, schedule_post
from ..models import parse_iso, to_iso, utcnow
from ..outbox import AdapterLookup, cancel_item, send_item
from ..sources.registry import get_source_class
from ..store import Row, Store
from ..store import incidents as sql
from ..workflow import prepare_reply

__all__ = [
    "DEFAULT_INTERVALS",
    "SETTINGS_KEYS",
    "IncidentSettings",
    "IncidentView",
    "ReplyLine",
    "ReplyReport",
    "ResolveReport",
    "PostResult",
    "parse_match",
    "check_name",
    "open_incident",
    "list_incidents",
    "show_incident",
    "add_mentions",
    "remove_mentions",
    "reply_all",
    "post_status",
    "resolve_incident",
    "ack_key",
]

#: seconds between two sends to one platform, under its documented write limits:
#: X/Twitter v2 100 posts per 15 min per user, Mastodon 300 statuses per 3 h per
#: account, Bluesky 1,666 creates per hour (5,000 points at 3 each); others one a second
DEFAULT_INTERVALS: dict[str, float] = {
    "twitter": 9.0,
    "mastodon": 36.0,
    "bluesky": 2.2,
    "reddit": 1.0,
    "demo": 0.0,
}
_OTHER_INTERVAL = 1.0
#: ``[incidents]`` keys (config.KNOWN_KEYS lists the same)
SETTINGS_KEYS = frozenset({"min_interval", "default_since"})

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SPLIT = re.compile(r"\s+or\s+|,|\|", re.IGNORECASE)


@dataclass(frozen=True)
class IncidentSettings:
    """``[incidents]``: pacing per source and the default age of mentions to catch."""

    min_interval: Mapping[str, float] = field(default_factory=dict)
    default_since: str = "24h"

    @classmethod
    def from_config(cls, config: Config) -> IncidentSettings:
        table = config.incidents
        intervals = table.get("min_interval", {})
        if not isinstance(intervals, dict):
            raise ConfigError(
                "incidents.min_interval must be a table of seconds per source, e.g. "
                "{ twitter = 9, mastodon = 36 }"
            )
        checked: dict[str, float] = {}
        for name, value in intervals.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigError(
                    f"incidents.min_interval.{name} must be a number of seconds >= 0 "
                    f"(got {value!r})"
                )
            checked[str(name)] = float(value)
        since = table.get("default_since", "24h")
        if not isinstance(since, str):
            raise ConfigError('incidents.default_since must be a duration in quotes, e.g. "24h"')
        return cls(min_interval=checked, default_since=since)

    def interval(self, source: str) -> float:
        """Seconds between two sends to ``source``."""
        if source in self.min_interval:
            return self.min_interval[source]
        return DEFAULT_INTERVALS.get(source, _OTHER_INTERVAL)


def parse_match(text: str) -> list[str]:
    """``"login or 502, cannot sign in"`` -> the alternatives (each needs all its words)."""
    terms = [" ".join(t.split()) for t in _SPLIT.split(text or "")]
    terms = [t for t in terms if t]
    if not terms:
        raise UsageError('--match needs words to look for, e.g. --match "login or 502"')
    return terms


def check_name(name: str) -> str:
    """An incident name fit for a command line: letters, digits, ``.``, ``_``, ``-``."""
    if not _NAME.match(name or ""):
        raise UsageError(
            f"incident name {name!r}: use letters, digits, '.', '_' or '-' "
            "(up to 64, starting with a letter or digit), e.g. login-outage"
        )
    return name


def ack_key(incident: Mapping[str, Any], kind: str, target: str) -> str:
    """The deterministic idempotency key of one incident send: the same on every rerun.

    The incident's id, name and opening time are all in it, so two stores (a test
    store, a restored backup) whose incident #1 differ never share a key on the platform.
    """
    who = f"{incident['id']}:{incident['name']}:{incident['opened_at']}"
    digest = hashlib.sha256(f"socialcare-incident:{who}:{kind}:{target}".encode())
    return digest.hexdigest()[:32]


# -- open, list, show, add, remove --------------------------------------------
def open_incident(
    store: Store,
    *,
    name: str,
    match: str | None,
    since: datetime | None,
    agent: str,
    spike: Mapping[str, Any] | None = None,
) -> tuple[Row, int]:
    """Create an incident and attach what it matches already; (incident, open mentions caught).

    With ``spike`` (``window_start`` and ``terms``) the rule is the spike's driving
    terms since its window started, unless ``match`` or ``since`` say otherwise.
    """
    check_name(name)
    terms = parse_match(match) if match else list((spike or {}).get("terms") or [])
    if not terms:
        raise UsageError("the spike has no driving terms: give --match")
    if since is None and spike is not None:
        since = parse_iso(str(spike["window_start"]))
    with store.transaction():
        if sql.exists(store, name):
            raise Conflict(f"incident {name!r} already exists (see `socialcare incident show`)")
        iid = sql.create(
            store, name=name, match=match or " or ".join(terms), terms=terms,
            since_at=to_iso(since) if since else None,
            since_ts=since.timestamp() if since else None, agent=agent,
            spike=dict(spike) if spike else None,
        )  # fmt: skip
        incident = sql.get_by_id(store, iid)
        sql.attach_matching(store, incident)
        store.log_event("incident_open", agent=agent, incident=name, terms=terms)
    caught = sum(1 for m in sql.member_rows(store, iid) if m["status"] == "open")
    return incident, caught


def list_incidents(store: Store, *, status: str | None = None) -> list[Row]:
    """Incidents newest first with their counts."""
    return sql.list_all(store, status=status)


@dataclass
class IncidentView:
    """Everything ``incident show`` prints."""

    incident: Row
    mentions: int
    open_mentions: int
    customers: int
    answered: int
    acknowledged: int
    by_source: list[Row]
    by_hour: list[Row]
    samples: list[Row]
    followups: int = 0
    posts: list[Row] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        inc = self.incident
        return {
            "name": inc["name"],
            "status": inc["status"],
            "match": inc["match"],
            "terms": json.loads(inc["terms"] or "[]"),
            "since": inc["since_at"],
            "opened_at": inc["opened_at"],
            "opened_by": inc["opened_by"],
            "resolved_at": inc["resolved_at"],
            "mentions": self.mentions,
            "open_mentions": self.open_mentions,
            "customers": self.customers,
            "answered": self.answered,
            "acknowledged": self.acknowledged,
            "followups": self.followups,
            "by_source": {r["source"]: r["mentions"] for r in self.by_source},
            "by_hour": {r["hour"]: r["mentions"] for r in self.by_hour},
            "samples": [
                {k: r[k] for k in ("id", "source", "author_handle", "created_at", "text")}
                for r in self.samples
            ],
            "posts": [
                {
                    "source": p["target"].split(":", 1)[0],
                    "outbox_id": p["outbox_id"],
                    "status": p["outbox_status"],
                }
                for p in self.posts
            ],  # fmt: skip
        }


def show_incident(store: Store, name: str) -> IncidentView:
    """Counts by source and hour, customers affected and answered, sample texts."""
    inc = sql.get(store, name)
    iid = int(inc["id"])
    members = sql.member_rows(store, iid)
    customers: dict[str, list[Row]] = {}
    for m in members:
        if m["author_key"]:
            customers.setdefault(str(m["author_key"]), []).append(m)
    answered = sum(1 for rows in customers.values() if any(r["answered_at"] for r in rows))
    acks = sql.sends(store, iid, "ack")
    return IncidentView(
        incident=inc,
        mentions=len(members),
        open_mentions=sum(1 for m in members if m["status"] == "open"),
        customers=len(customers),
        answered=answered,
        acknowledged=sum(1 for a in acks.values() if a["outbox_status"] == "sent"),
        by_source=sql.counts_by_source(store, iid),
        by_hour=sql.counts_by_hour(store, iid),
        samples=sql.samples(store, iid),
        followups=len(sql.sends(store, iid, "followup")),
        posts=list(sql.sends(store, iid, "post").values()),
    )


def _ids_known(store: Store, ids: Sequence[str]) -> list[str]:
    wanted = list(dict.fromkeys(i for i in ids if i))
    if not wanted:
        raise UsageError("give at least one mention id")
    known = sql.known_mentions(store, wanted)
    missing = [i for i in wanted if i not in known]
    if missing:
        raise NotFound(f"no mention {', '.join(missing[:5])} (see `socialcare queue`)")
    return wanted


def add_mentions(store: Store, name: str, ids: Sequence[str], agent: str) -> int:
    """Attach mentions by hand; returns how many ids were given and exist."""
    return _change_members(store, name, ids, agent, sql.add_members, "incident_add")


def remove_mentions(store: Store, name: str, ids: Sequence[str], agent: str) -> int:
    """Detach mentions by hand (the rule will not attach them again)."""
    return _change_members(store, name, ids, agent, sql.remove_members, "incident_remove")


def _change_members(
    store: Store,
    name: str,
    ids: Sequence[str],
    agent: str,
    change: Callable[[Store, int, Sequence[str], str], object],
    action: str,
) -> int:
    """Add or remove existing mentions by hand, audited; returns how many were given."""
    inc = sql.get(store, name)
    wanted = _ids_known(store, ids)
    with store.transaction():
        change(store, int(inc["id"]), wanted, agent)
        store.log_event(action, agent=agent, incident=name, mentions=wanted)
    return len(wanted)


# -- reply ---------------------------------------------------------------------
@dataclass
class ReplyLine:
    """What happened (or would happen) for one customer."""

    customer: str
    mention_id: str
    source: str
    action: str  # queued, sent, failed, unknown, already, skipped, too-long, would-send
    detail: str = ""
    outbox_id: int | None = None
    text: str = ""


@dataclass
class ReplyReport:
    """What ``incident reply`` did, customer by customer, and the totals."""

    incident: str
    dry_run: bool
    lines: list[ReplyLine] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, action: str) -> int:
        return sum(1 for line in self.lines if line.action == action)

    @property
    def totals(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for line in self.lines:
            out[line.action] = out.get(line.action, 0) + 1
        return out


@dataclass
class _Target:
    customer: str
    latest: Row
    mentions: list[Row]


def _targets(store: Store, incident_id: int) -> tuple[list[_Target], int]:
    """One target per customer (their latest mention); and how many mentions had no author."""
    by_customer: dict[str, list[Row]] = {}
    anonymous = 0
    for m in sql.member_rows(store, incident_id):
        if not m["author_key"] or m["is_own"]:
            anonymous += 1 if not m["author_key"] else 0
            continue  # an empty id never becomes a customer
        by_customer.setdefault(str(m["author_key"]), []).append(m)
    targets = [
        _Target(key, max(rows, key=lambda r: (r["created_ts"], r["id"])), rows)
        for key, rows in by_customer.items()
    ]
    targets.sort(key=lambda t: (t.latest["created_ts"], t.customer))
    return targets, anonymous


def _answered_why(
    target: _Target, replies: Mapping[str, list[Row]], agent: str, own_item: int | None
) -> str | None:
    """Why this customer must not get the acknowledgement: answered or claimed elsewhere."""
    for m in target.mentions:
        for r in replies.get(str(m["id"]), []):
            if r["id"] != own_item:
                who = r["agent"] or "someone"
                return f"already answered by {who} on {m['id']} (outbox #{r['id']}, {r['status']})"
        if m["answered_at"] and own_item is None:
            return f"already answered by {m['answered_by'] or 'someone'} on {m['id']}"
        if m["assignee"] and m["assignee"] != agent:
            return f"claimed by {m['assignee']} ({m['id']})"
    return None


class _Pacer:
    """Per-source minimum spacing between sends; picks the source that is ready first."""

    def __init__(
        self,
        settings: IncidentSettings,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.sleep = sleep
        self.clock = clock
        self.last: dict[str, float] = {}

    def ready_at(self, source: str) -> float:
        if source not in self.last:
            return 0.0
        return self.last[source] + self.settings.interval(source)

    def wait(self, source: str) -> None:
        delay = self.ready_at(source) - self.clock()
        if delay > 0:
            self.sleep(delay)
        self.last[source] = self.clock()


def _render(config: Config, row: Row, template: str | None, text: str | None, agent: str) -> str:
    return prepare_reply(config, row, text=text, template=template, agent=agent)


def reply_all(
    config: Config,
    store: Store,
    adapters: AdapterLookup,
    name: str,
    *,
    agent: str,
    template: str | None = None,
    text: str | None = None,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ReplyReport:
    """Acknowledge every affected customer once (see the module docstring).

    Nothing is queued unless every new acknowledgement fits its platform's
    length limit (a UsageError names the longest); ``dry_run`` reports what
    would be sent, too-long ones included, and writes nothing.
    """
    if bool(template) == bool(text):
        raise UsageError("give exactly one of --template or --text")
    started = clock()
    inc = sql.get(store, name)
    if inc["status"] != "open":
        raise Conflict(f"incident {name!r} is {inc['status']}: reply is for open incidents")
    iid = int(inc["id"])
    report = ReplyReport(name, dry_run)
    targets, _ = _targets(store, iid)
    acks = sql.sends(store, iid, "ack")
    replies = sql.replies_to(store, [m["id"] for t in targets for m in t.mentions])
    new: list[tuple[_Target, str]] = []
    too_long: list[ReplyLine] = []
    for t in targets:
        if t.customer in acks:
            continue  # handled in the send phase
        why = _answered_why(t, replies, agent, None)
        source_name = str(t.latest["source"])
        if why is None and get_source_class(source_name).read_only:
            why = f"{source_name} is read-only: nothing can be sent there"
        if why is not None:
            report.lines.append(
                ReplyLine(t.customer, str(t.latest["id"]), source_name, "skipped", why)
            )
            continue
        body = _render(config, store.get_mention(str(t.latest["id"])), template, text, agent)
        if not body:
            raise UsageError("the acknowledgement is empty: nothing sent")
        source = adapters.get(source_name)
        length, limit = source.text_length(body), source.max_length
        if limit is not None and length > limit:
            too_long.append(
                ReplyLine(t.customer, str(t.latest["id"]), source_name, "too-long",
                          f"{length} characters, {source_name} allows {limit}", text=body)
            )  # fmt: skip
            continue
        new.append((t, body))
    if too_long and not dry_run:
        worst = max(too_long, key=lambda line: len(line.text))
        raise UsageError(
            f"{len(too_long)} acknowledgement(s) are over their platform's limit (e.g. to "
            f"{worst.mention_id}: {worst.detail}): shorten the text; nothing was sent"
        )
    if dry_run:
        report.lines += too_long
        for t, body in new:
            report.lines.append(
                ReplyLine(t.customer, str(t.latest["id"]), str(t.latest["source"]),
                          "would-send", text=body)
            )  # fmt: skip
        for customer, ack in acks.items():
            report.lines.append(
                ReplyLine(customer, str(ack["mention_id"]), "", "already",
                          f"outbox #{ack['outbox_id']} is {ack['outbox_status']}",
                          outbox_id=ack["outbox_id"])
            )  # fmt: skip
        report.seconds = clock() - started
        return report
    # Phase 1: queue every new acknowledgement, each with its send row, in one transaction.
    if new:
        with store.transaction():
            for t, body in new:
                mention_id = str(t.latest["id"])
                item_id = store.outbox_add(
                    kind="reply", source=str(t.latest["source"]), mention_id=mention_id,
                    text=body, agent=agent, options={"incident": name},
                )  # fmt: skip
                sql.set_outbox_key(store, item_id, ack_key(inc, "ack", t.customer))
                if not sql.add_send(
                    store, iid, "ack", t.customer, mention_id=mention_id, outbox_id=item_id
                ):
                    raise Conflict(
                        f"another `incident reply {name}` is queueing acknowledgements "
                        "right now: wait for it, then run this again"
                    )
            store.log_event("incident_reply_queued", agent=agent, incident=name, count=len(new))
    # Phase 2: send every pending acknowledgement (new ones and a crashed run's leftovers).
    acks = sql.sends(store, iid, "ack")
    by_customer = {t.customer: t for t in targets}
    pending: dict[str, list[Row]] = {}
    for customer, ack in sorted(acks.items(), key=lambda kv: int(kv[1]["outbox_id"] or 0)):
        status = ack["outbox_status"]
        if status == "pending":
            item = store.outbox_get(int(ack["outbox_id"]))
            pending.setdefault(str(item["source"]), []).append(ack)
        else:
            action = {"sent": "already", "sending": "unknown", "unknown": "unknown"}.get(
                str(status), str(status)
            )
            if status == "sent" and customer in by_customer:
                _cover_siblings(store, by_customer[customer], ack, agent)
            detail = f"outbox #{ack['outbox_id']} is {status}"
            if action == "failed":
                detail += f" ({ack['outbox_error']}; `socialcare outbox retry {ack['outbox_id']}`)"
            if action == "unknown":
                detail += (
                    " (may be on the platform: `socialcare outbox retry "
                    f"{ack['outbox_id']}` checks before sending)"
                )
            report.lines.append(
                ReplyLine(customer, str(ack["mention_id"]), "", action, detail,
                          outbox_id=ack["outbox_id"])
            )  # fmt: skip
    total = sum(len(v) for v in pending.values())
    done = 0
    pacer = _Pacer(IncidentSettings.from_config(config), sleep, clock)
    queues = {s: list(v) for s, v in pending.items()}
    while queues:
        source_name = min(queues, key=lambda s: (pacer.ready_at(s), s))
        ack = queues[source_name].pop(0)
        if not queues[source_name]:
            del queues[source_name]
        item_id = int(ack["outbox_id"])
        customer = str(ack["target"])
        line = ReplyLine(customer, str(ack["mention_id"]), source_name, "", outbox_id=item_id)
        target = by_customer.get(customer)
        fresh = _recheck(store, target, agent, item_id) if target else None
        if fresh is not None:
            try:
                cancel_item(store, item_id, agent, what="acknowledgement")
                line.action, line.detail = "skipped", f"{fresh}: acknowledgement cancelled"
            except Conflict as exc:
                line.action, line.detail = "unknown", str(exc)
        else:
            pacer.wait(source_name)
            try:
                item = send_item(store, adapters, item_id, agent=agent)
                line.action = {"sent": "sent", "failed": "failed"}.get(
                    str(item["status"]), "unknown"
                )
                line.detail = str(item.get("error") or "")
                if line.action == "sent" and target is not None:
                    _cover_siblings(store, target, item, agent)
            except Conflict as exc:  # another run took it meanwhile: it is theirs to send
                line.action, line.detail = "already", str(exc)
            except SocialcareError as exc:
                line.action, line.detail = "failed", str(exc)
        report.lines.append(line)
        done += 1
        if progress is not None:
            progress(done, total)
    report.seconds = clock() - started
    return report


def _cover_siblings(store: Store, target: _Target, item: Mapping[str, Any], agent: str) -> None:
    """The acknowledgement answers all the customer's incident mentions, not only the latest
    it was sent to: mark the others answered too, so they leave the queue with it."""
    at = str(item.get("sent_at") or to_iso(utcnow()))
    others = [str(m["id"]) for m in target.mentions if m["id"] != item["mention_id"]]
    if others:
        with store.transaction():
            for mention_id in others:
                store.mark_answered(mention_id, at, agent)


def _recheck(store: Store, target: _Target, agent: str, own_item: int) -> str | None:
    """Just before sending: has an agent answered or claimed this customer meanwhile?"""
    fresh = [store.get_mention(str(m["id"])) for m in target.mentions]
    replies = sql.replies_to(store, [m["id"] for m in fresh])
    mine = {str(m["id"]): m for m in fresh}
    again = _Target(target.customer, mine[str(target.latest["id"])], fresh)
    why = _answered_why(again, replies, agent, own_item)
    if why is None:
        for m in fresh:
            if m["answered_at"] and m["answered_by"] != agent:
                return f"already answered by {m['answered_by']} on {m['id']}"
    return why


# -- status posts --------------------------------------------------------------
@dataclass
class PostResult:
    """One status post: its source and outbox item."""

    source: str
    item: Row


def post_status(
    config: Config,
    store: Store,
    adapters: AdapterLookup,
    name: str,
    *,
    text: str,
    sources: Sequence[str],
    agent: str,
    when: datetime | None = None,
) -> list[PostResult]:
    """A status post on each source, now (sent in this call) or at ``when`` (by ``due``).

    Uses the scheduled posts: each is a ``post`` outbox item with a ``due_at``,
    so if this process dies before sending, ``socialcare due`` sends it. The
    same text on the same source for this incident is refused: no double post.
    """
    inc = sql.get(store, name)
    iid = int(inc["id"])
    if not text.strip():
        raise UsageError("the post is empty")
    if not sources:
        sources = sorted({str(r["source"]) for r in sql.counts_by_source(store, iid)})
        sources = [s for s in sources if s in config.sources and _writable(s)]
        if not sources:
            raise UsageError(
                "no configured source to post on: name one with --source (e.g. -s twitter)"
            )
    digest = hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:16]
    existing = sql.sends(store, iid, "post")
    for s in sources:
        already = existing.get(f"{s}:{digest}")
        if already is not None:
            raise Conflict(
                f"this text was already posted on {s} for incident {name!r} "
                f"(outbox #{already['outbox_id']}, {already['outbox_status']})"
            )
    results: list[PostResult] = []
    for s in sources:
        due = when or utcnow() + timedelta(seconds=1)
        item_id = schedule_post(config, store, s, when=due, text=text, agent=agent)
        with store.transaction():
            if not sql.add_send(store, iid, "post", f"{s}:{digest}", mention_id=None,
                                outbox_id=item_id):  # fmt: skip
                raise Conflict(f"this text is being posted on {s} by another run right now")
            sql.set_outbox_key(store, item_id, ack_key(inc, "post", f"{s}:{digest}"))
            store.log_event("incident_post", agent=agent, incident=name, outbox_id=item_id,
                            source=s)  # fmt: skip
        item = store.outbox_get(item_id)
        if when is None:
            try:
                item = send_item(store, adapters, item_id, agent=agent)
            except Conflict:
                item = store.outbox_get(item_id)  # `due` took it first: sent once all the same
        results.append(PostResult(s, item))
    return results


def _writable(source: str) -> bool:
    try:
        return not get_source_class(source).read_only
    except NotFound:
        return False


# -- resolve -------------------------------------------------------------------
@dataclass
class ResolveReport:
    """What ``incident resolve`` did: follow-ups scheduled and customers skipped (why)."""

    incident: Row
    scheduled: list[tuple[str, int]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)


def resolve_incident(
    config: Config,
    store: Store,
    name: str,
    *,
    agent: str,
    template: str | None = None,
    text: str | None = None,
    when: datetime | None = None,
) -> ResolveReport:
    """Close the incident; with a template or text, schedule "fixed now" follow-ups.

    Every affected customer who was answered (by the acknowledgement or by an
    agent) gets one follow-up on their answered mention, due at ``when``,
    unless they wrote again after the answer. ``due`` later skips the ones who
    write again before it is sent (:func:`socialcare.followups.skip_reason`).
    """
    if template and text:
        raise UsageError("give at most one of --followup-template or --followup-text")
    inc = sql.get(store, name)
    if inc["status"] != "open":
        raise Conflict(f"incident {name!r} is already {inc['status']} (at {inc['resolved_at']})")
    iid = int(inc["id"])
    report = ResolveReport(inc)
    if template or text:
        if when is None:
            raise UsageError("say when the follow-ups are due: --in 1h")
        targets, _ = _targets(store, iid)
        acks = sql.sends(store, iid, "ack")
        done = sql.sends(store, iid, "followup")
        replies = sql.replies_to(store, [m["id"] for t in targets for m in t.mentions])
        for t in targets:
            if t.customer in done:
                continue  # an earlier, interrupted resolve scheduled it
            answered = _answered_mention(t, acks.get(t.customer), replies)
            if answered is None:
                report.skipped.append((t.customer, "not answered"))
                continue
            mention_id, answered_at = answered
            wrote = sql.wrote_after(store, t.customer, parse_iso(answered_at).timestamp())
            if wrote is not None:
                report.skipped.append((t.customer, f"wrote again after the answer ({wrote['id']})"))
                continue
            try:
                with store.transaction():
                    item_id = schedule_followup(
                        config, store, mention_id, when=when, agent=agent,
                        template=template, text=text,
                    )  # fmt: skip
                    sql.add_send(
                        store, iid, "followup", t.customer, mention_id=mention_id,
                        outbox_id=item_id,
                    )  # fmt: skip
            except SocialcareError as exc:
                report.errors.append((t.customer, str(exc)))
                continue
            report.scheduled.append((t.customer, item_id))
    if report.errors:
        first = report.errors[0]
        raise UsageError(
            f"incident {name!r} stays open: {len(report.errors)} follow-up(s) could not be "
            f"scheduled (e.g. {first[0]}: {first[1]}); {len(report.scheduled)} were. Fix it and "
            "run resolve again (scheduled ones are not scheduled twice)"
        )
    with store.transaction():
        if not sql.resolve(store, iid, agent):
            raise Conflict(f"incident {name!r} was resolved by another agent meanwhile")
        store.log_event(
            "incident_resolve", agent=agent, incident=name, followups=len(report.scheduled)
        )
    report.incident = sql.get_by_id(store, iid)
    return report


def _answered_mention(
    target: _Target, ack: Row | None, replies: Mapping[str, list[Row]]
) -> tuple[str, str] | None:
    """(mention id, answered at) of the customer's answer about the incident, newest first."""
    if ack is not None and ack["outbox_status"] == "sent" and ack["sent_at"]:
        return str(ack["mention_id"]), str(ack["sent_at"])
    for m in sorted(target.mentions, key=lambda r: r["created_ts"], reverse=True):
        if m["answered_at"]:
            return str(m["id"]), str(m["answered_at"])
        sent = [r for r in replies.get(str(m["id"]), []) if r["status"] == "sent" and r["sent_at"]]
        if sent:
            return str(m["id"]), str(sent[-1]["sent_at"])
    return None
