"""SQL for team mode: agents' availability, routing decisions, round-robin turns, notifications.

Every function takes a :class:`Store` and runs parameterised SQL. The races
(two pollers routing one mention, two cron runs announcing one event) are
decided by primary keys and row locks in the database, not by the callers:

* ``team_routes.mention_id`` is the primary key, so only one ``record_routes``
  for a mention inserts a row (ON CONFLICT DO NOTHING for any other);
* :func:`lock_team` updates the team's ``team_turns`` row first thing in the
  routing transaction: on PostgreSQL the second poller waits on that row lock,
  then sees the first one's assignments (READ COMMITTED reads afresh per
  statement); SQLite's ``BEGIN IMMEDIATE`` serialises writers anyway;
* ``team_notifications.key`` is the (event, target) key: the insert that wins
  is the one that enqueues the outbox item.
"""

from __future__ import annotations

import json
from operator import itemgetter
from typing import Any, Collection, Sequence

from ..models import to_iso, utcnow
from .core import Row, Store, in_chunks

__all__ = [
    "away_agents",
    "set_away",
    "agent_rows",
    "open_loads",
    "lock_team",
    "add_routes",
    "unassign",
    "customer_ids",
    "customer_authors",
    "set_turn",
    "team_turn",
    "route_row",
    "route_teams",
    "record_routes",
    "log_route_events",
    "log_route_rows",
    "log_route_columns",
    "route_of",
    "routable_mentions",
    "claim_notification",
    "set_notification_outbox",
    "notification_sent",
    "set_notification_key",
    "pending_notifications",
    "notify_failures",
    "failed_outbox_items",
    "sla_candidates",
    "mentions_for_notify",
    "commit_version",
    "first_responses",
    "follow_up_sql",
    "follow_ups",
]


# -- agents ----------------------------------------------------------------------------
def set_away(store: Store, name: str, away: bool, by: str) -> None:
    """Mark ``name`` away (or back); an agent with no row is available."""
    store.conn.execute(
        "INSERT INTO team_agents (name, away, changed_at, changed_by) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(name) DO UPDATE SET away = excluded.away, changed_at = excluded.changed_at, "
        "changed_by = excluded.changed_by",
        [name, 1 if away else 0, to_iso(utcnow()), by],
    )


def away_agents(store: Store) -> set[str]:
    """Names of the agents marked away."""
    return {str(r["name"]) for r in store.rows("SELECT name FROM team_agents WHERE away = 1")}


def agent_rows(store: Store) -> list[Row]:
    """Every agent with an availability row (name, away, changed_at, changed_by)."""
    return store.rows("SELECT * FROM team_agents ORDER BY name")


def open_loads(store: Store, agents: Sequence[str] | None = None) -> dict[str, int]:
    """Open mentions assigned, per agent (all assignees when ``agents`` is None)."""
    if agents is not None and not agents:
        return {}
    kept = store.dialect.open_loads_sql
    if agents is not None and kept is None:
        # One count per agent, each an equality on idx_mentions_open_assigned (m013: only
        # open, assigned rows). With ``assignee IN (...)`` SQLite's planner, without
        # statistics, took the status index and read every open mention (73 ms a call on
        # 10k open, against 5 ms), and routing reads the loads on every page.
        out: dict[str, int] = {}
        for chunk in in_chunks(list(agents)):
            counts = ", ".join(
                "(SELECT count(*) FROM mentions WHERE assignee = ? AND status = 'open')"
                for _ in chunk
            )
            row = store.conn.execute(f"SELECT {counts}", chunk).fetchone()
            out.update((a, int(n)) for a, n in zip(chunk, row, strict=True) if n)
        return out
    # SQLite: idx_mentions_open_assigned (m013), only open, assigned rows, by assignee.
    # PostgreSQL: m023's table of them (no index of mentions names assignee: HOT claims).
    rows = store.rows(
        kept
        or "SELECT assignee, count(*) AS n FROM mentions WHERE status = 'open' "
        "AND assignee IS NOT NULL GROUP BY assignee"
    )
    loads = {str(r["assignee"]): int(r["n"]) for r in rows}
    return loads if agents is None else {a: loads[a] for a in agents if a in loads}


# -- routing ---------------------------------------------------------------------------
def lock_team(store: Store, team: str) -> int:
    """Take the team's routing row lock (inside a transaction) and return its turn."""
    store.conn.execute(
        "INSERT INTO team_turns (team, turn) VALUES (?, 0) ON CONFLICT(team) DO NOTHING", [team]
    )
    store.conn.execute("UPDATE team_turns SET turn = turn WHERE team = ?", [team])
    row = store.conn.execute("SELECT turn FROM team_turns WHERE team = ?", [team]).fetchone()
    return int(row[0]) if row else 0


def team_turn(store: Store, team: str) -> int:
    """The team's round-robin position, read without locking (for ``route --explain``)."""
    rows = store.rows("SELECT turn FROM team_turns WHERE team = ?", [team])
    return int(rows[0]["turn"]) if rows else 0


def set_turn(store: Store, team: str, turn: int) -> None:
    """Where the team's next round-robin pick starts."""
    store.conn.execute("UPDATE team_turns SET turn = ? WHERE team = ?", [turn, team])


def add_routes(
    store: Store, routes: Sequence[tuple[str, str, str | None, str]], now: str | None = None
) -> None:
    """Record (mention, rule, team, agent) routes, one statement for the page; the mentions'
    assignee is set by the caller (the insert itself, or :func:`record_routes`).

    The rows go in in mention-id order, the table's key (its B-tree on SQLite, WITHOUT
    ROWID): keys in order cost a page's insert ~25% less than the routing order, which
    is by creation time, scattered over the ids. The sort is stable, so of two rows of
    one mention the first still wins the ON CONFLICT, and no reader has an order but
    the key's.
    """
    if not routes:
        return
    now = now or to_iso(utcnow())
    _insert_columns(
        store,
        "team_routes",
        "(routed_at, mention_id, rule, team, assignee)",
        list(zip(*sorted(routes, key=itemgetter(0)), strict=True)),
        " ON CONFLICT(mention_id) DO NOTHING",
        same=(now,),
    )


def record_routes(store: Store, routes: Sequence[tuple[str, str, str | None, str]]) -> None:
    """Record (mention, rule, team, agent) routes and assign each mention still unassigned."""
    if not routes:
        return
    now = to_iso(utcnow())
    add_routes(store, routes, now)
    # one statement per agent (and 500 ids), not one per mention: a page has few agents
    by_agent: dict[str, list[str]] = {}
    for m, _, _, agent in routes:
        by_agent.setdefault(agent, []).append(m)
    for agent, ids in by_agent.items():
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            store.conn.execute(
                f"UPDATE mentions SET assignee = ?, claimed_at = ? WHERE id IN "
                f"({', '.join('?' for _ in chunk)}) AND assignee IS NULL",
                [agent, now, *chunk],
            )


def unassign(store: Store, ids: Sequence[str]) -> None:
    """Take back assignments a page's insert made (before any route or audit row of theirs
    was written): routing then decides for the stored page afresh."""
    for chunk in in_chunks(ids):
        store.conn.execute(
            f"UPDATE mentions SET assignee = NULL, claimed_at = NULL WHERE id IN "
            f"({', '.join('?' for _ in chunk)})",
            chunk,
        )


def customer_ids(store: Store, author_keys: Sequence[str]) -> dict[str, Any]:
    """author key -> customer id, for those of ``author_keys`` linked to a customer."""
    return _linked_authors(store, "id", author_keys)


def customer_authors(store: Store, customers: Sequence[int]) -> dict[str, Any]:
    """author key -> customer id, for the authors linked to one of ``customers``
    (idx_authors_customer: a few rows per customer, whatever the page)."""
    return _linked_authors(store, "customer_id", customers)


def _linked_authors(store: Store, column: str, values: Sequence[Any]) -> dict[str, Any]:
    """author key -> customer id of the authors linked to a customer whose ``column``
    (``id`` or ``customer_id``, never user input) is one of ``values``."""
    out: dict[str, Any] = {}
    for chunk in in_chunks(list(values)):
        for r in store.rows(
            f"SELECT id, customer_id FROM authors WHERE {column} IN "
            f"({', '.join('?' for _ in chunk)}) AND customer_id IS NOT NULL",
            chunk,
        ):
            out[str(r["id"])] = r["customer_id"]
    return out


def log_route_events(
    store: Store, events: Sequence[tuple[str, str, dict[str, Any]]], *, actor: str
) -> None:
    """Audit-log rows (mention, action, detail) in one statement (the page's routing)."""
    texts: dict[int, str] = {}  # a page's events share few detail objects: each dumped once
    rows = []
    for m, action, detail in events:
        text = texts.get(id(detail))
        if text is None:
            text = texts[id(detail)] = json.dumps(detail)
        rows.append((m, action, text))
    log_route_rows(store, rows, actor=actor)


def log_route_rows(store: Store, events: Sequence[tuple[str, str, str]], *, actor: str) -> None:
    """Audit-log rows (mention, action, detail as JSON text) in one statement."""
    if not events:
        return
    mention_ids, actions, texts = zip(*events, strict=True)
    log_route_columns(store, mention_ids, actions, texts, actor=actor)


def log_route_columns(
    store: Store,
    mention_ids: Sequence[str],
    actions: Sequence[str],
    details: Sequence[str],
    *,
    actor: str,
) -> None:
    """:func:`log_route_rows` given column by column (what a page's plan builds)."""
    n = len(mention_ids)
    if not n:
        return
    _insert_columns(
        store,
        "events",
        "(at, agent, action, mention_id, detail)",
        [actions, mention_ids, details],
        same=(to_iso(utcnow()), actor),
    )


#: rows per multi-row INSERT: 500 parameters for five columns, as :data:`IN_CHUNK`
_ROWS_PER_INSERT = 100


def _insert_columns(
    store: Store,
    table: str,
    names: str,
    columns: Sequence[Sequence[Any]],
    tail: str = "",
    *,
    same: Sequence[Any] = (),
) -> None:
    """Rows of ``table`` (its columns ``names``, in parentheses) given column by column
    (each column one value per row), ``_ROWS_PER_INSERT`` rows a statement, in order;
    then the rows inserted are counted for ``db status`` (m024), once for them all.
    ``same``: the values of the first columns of ``names``, one for every row (then
    ``columns`` are the others), bound once a statement: ``INSERT ... SELECT ?, ?,
    column1, ... FROM (VALUES ...)``, whose rows come in the order of the list.

    One statement per row (executemany) cost a page's audit insert a fifth more on
    SQLite: each row's statement run also updates ``events``' AUTOINCREMENT counter.
    The parameters are laid out by slice assignment, a column at a time (a loop over
    rows and values cost a page's routing ~1 ms of its ~10). A value bound per row
    costs ~0.1 us (SQLite copies it, under the connection's mutex): the audit rows'
    time and actor bound once a statement took a tenth off their insert.
    """
    width, count = len(columns), len(columns[0]) if columns else 0
    if not count:
        return
    flat: list[Any] = [None] * (width * count)
    for k, column in enumerate(columns):
        flat[k::width] = column
    head = f"INSERT INTO {table} {names} VALUES "
    if same:
        picks = ", ".join([*("?" for _ in same), *(f"column{k + 1}" for k in range(width))])
        head = f"INSERT INTO {table} {names} SELECT {picks} FROM (VALUES "
        # WHERE: SQLite would read an ON CONFLICT right after the FROM as a join's ON
        tail = ") AS v WHERE true" + tail
    one = "(" + ", ".join("?" for _ in range(width)) + ")"
    full = head + ", ".join(one for _ in range(_ROWS_PER_INSERT)) + tail
    inserted = 0
    for start in range(0, count, _ROWS_PER_INSERT):
        rows = min(count - start, _ROWS_PER_INSERT)
        sql = (
            full if rows == _ROWS_PER_INSERT else head + ", ".join(one for _ in range(rows)) + tail
        )
        values = flat[start * width : (start + rows) * width]
        # ON CONFLICT DO NOTHING: rowcount is the rows the statement did insert
        inserted += store.conn.execute(sql, [*same, *values] if same else values).rowcount
    store.dialect.rows_inserted(store.conn, table, inserted)


def route_of(store: Store, mention_id: str) -> Row | None:
    """How a mention was routed, if it was."""
    rows = store.rows("SELECT * FROM team_routes WHERE mention_id = ?", [mention_id])
    return rows[0] if rows else None


#: what a routing rule can look at
_ROUTE_FIELDS = (
    "m.id, m.source, m.kind, m.intent, m.language, m.tags, m.signals, m.text, m.static_score, "
    "m.author_key, m.status, m.assignee, a.customer_id"
)


def route_row(store: Store, mention_id: str) -> Row | None:
    """One mention with the fields routing rules match on."""
    rows = store.rows(
        f"SELECT {_ROUTE_FIELDS} FROM mentions m LEFT JOIN authors a ON a.id = m.author_key "
        "WHERE m.id = ?",
        [mention_id],
    )
    return rows[0] if rows else None


def route_teams(store: Store, ids: Sequence[str]) -> dict[str, str]:
    """mention id -> the team routing gave it, for those of ``ids`` routed to a team."""
    out: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        if not chunk:
            break
        marks = ", ".join("?" for _ in chunk)
        for r in store.rows(
            f"SELECT mention_id, team FROM team_routes WHERE mention_id IN ({marks}) "
            "AND team IS NOT NULL",
            chunk,
        ):
            out[str(r["mention_id"])] = str(r["team"])
    return out


def _page_of(marks: str, columns: str) -> str:
    """``page``: the mentions of one id list, read by primary key first.

    MATERIALIZED keeps the other conditions out of that read: with them, a store
    without planner statistics searched the ``is_own`` or status index instead, i.e.
    every stored (or every open) mention per page, growing with the store.
    """
    return f"WITH page AS MATERIALIZED (SELECT {columns} FROM mentions WHERE id IN ({marks})) "


#: the columns :data:`_ROUTE_FIELDS` and the routing conditions read
_ROUTE_PAGE = (
    "id, source, kind, intent, language, tags, signals, text, static_score, author_key, "
    "status, assignee, is_own, created_ts"
)


def routable_mentions(
    store: Store, ids: Sequence[str], *, customers: bool = True, tags: bool = True
) -> list[Row]:
    """Of ``ids``: open, unassigned, not the brand's own, never routed; with the customer id
    when ``customers`` (a rule matches on it: the authors join costs a poll some speed), and
    tags and signals when ``tags`` (signals are the largest column a rule could read)."""
    fields = _ROUTE_FIELDS
    if not customers:
        fields = fields.replace("a.customer_id", "NULL AS customer_id")
    if not tags:
        fields = fields.replace("m.tags, m.signals", "NULL AS tags, NULL AS signals")
    source = f"SELECT {fields} FROM page m" + (
        " LEFT JOIN authors a ON a.id = m.author_key" if customers else ""
    )
    out: list[Row] = []
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        marks = ", ".join("?" for _ in chunk)
        out += store.rows(
            f"{_page_of(marks, _ROUTE_PAGE)}{source} WHERE m.status = 'open' "
            "AND m.assignee IS NULL AND m.is_own = 0 "
            "AND NOT EXISTS (SELECT 1 FROM team_routes r WHERE r.mention_id = m.id)"
            " ORDER BY m.created_ts, m.id",
            chunk,
        )
    return out


# -- notifications ---------------------------------------------------------------------
def claim_notification(store: Store, key: str, *, target: str, event: str, subject: str) -> bool:
    """Record that (event, target) ``key`` is being announced; False if it already was."""
    cur = store.conn.execute(
        "INSERT INTO team_notifications (key, target, event, subject, created_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING",
        [key, target, event, subject, to_iso(utcnow())],
    )
    return bool(cur.rowcount == 1)


def set_notification_outbox(store: Store, key: str, outbox_id: int) -> None:
    """Link a claimed notification to the outbox item that carries it."""
    store.conn.execute(
        "UPDATE team_notifications SET outbox_id = ? WHERE key = ?", [outbox_id, key]
    )


def set_notification_key(store: Store, item_id: int, key: str) -> None:
    """A notify item's idempotency key is its (event, target) key, the same on every host."""
    store.conn.execute("UPDATE outbox SET idempotency_key = ? WHERE id = ?", [key, item_id])


def pending_notifications(store: Store, limit: int = 500) -> list[Row]:
    """Notify items still to send, oldest first."""
    return store.rows(
        "SELECT id, source FROM outbox WHERE kind = 'notify' AND status = 'pending' "
        "ORDER BY id LIMIT ?",
        [limit],
    )


def notification_sent(store: Store, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` are already recorded (so a run skips them without a write)."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = list(keys[start : start + 500])
        marks = ", ".join("?" for _ in chunk)
        found |= {
            str(r["key"])
            for r in store.rows(f"SELECT key FROM team_notifications WHERE key IN ({marks})", chunk)
        }
    return found


def notify_failures(store: Store, since_iso: str) -> list[Row]:
    """Per target: its newest notification's outbox status and error, and failures since."""
    return store.rows(
        "SELECT n.target, o.status, o.error, o.updated_at, "
        "(SELECT count(*) FROM team_notifications n2 JOIN outbox o2 ON o2.id = n2.outbox_id "
        " WHERE n2.target = n.target AND o2.status = 'failed' AND n2.created_at >= ?) AS failed "
        "FROM team_notifications n JOIN outbox o ON o.id = n.outbox_id "
        "WHERE n.created_at = (SELECT max(n3.created_at) FROM team_notifications n3 "
        " WHERE n3.target = n.target AND n3.outbox_id IS NOT NULL) ORDER BY n.target",
        [since_iso],
    )


def failed_outbox_items(store: Store, since_iso: str, limit: int = 100) -> list[Row]:
    """Failed outbox items (not notifications themselves) changed since ``since_iso``."""
    return store.rows(
        "SELECT id, kind, source, mention_id, error, updated_at FROM outbox "
        "WHERE status = 'failed' AND kind != 'notify' AND updated_at >= ? ORDER BY id LIMIT ?",
        [since_iso, limit],
    )


def sla_candidates(store: Store, due_before_ts: float, limit: int = 500) -> list[Row]:
    """Open, unanswered mentions whose SLA ends before ``due_before_ts``, soonest first."""
    return store.rows(
        "SELECT id, source, intent, text, author_handle, url, static_score, sla_due_ts, "
        "created_ts, assignee FROM mentions WHERE status = 'open' AND is_own = 0 "
        "AND answered_at IS NULL AND sla_due_ts IS NOT NULL AND sla_due_ts <= ? "
        "ORDER BY sla_due_ts LIMIT ?",
        [due_before_ts, limit],
    )


def commit_version(store: Store) -> int | None:
    """A number that changes whenever another connection commits to the store (SQLite's
    ``PRAGMA data_version``; it does not move for this connection's own commits), or
    None where there is no such number (PostgreSQL): then every read must be made again.

    Two equal answers mean that nothing this connection read in between can have been
    changed by anyone else: what it read then is still what it would read now.
    """
    return store.dialect.commit_version(store.conn)


def mentions_for_notify(
    store: Store,
    ids: Sequence[str],
    *,
    since_ts: float = 0.0,
    min_score: float | None = None,
    intents: Sequence[str] | None = None,
    skip: Collection[str] = (),
) -> list[Row]:
    """The fields a notification shows, for new mentions of a poll (open, not the brand's,
    created since ``since_ts``), narrowed in SQL by what every target asks at least.

    ``skip``: ids the caller knows no target would take (not read at all). The rows
    come in the order the full list gives them: ``ids`` are cut into the same slices
    either way, and each slice is ordered by creation and then id (SQLite's order for
    ties already; PostgreSQL's is otherwise whatever its plan gives), so leaving out
    rows that would not have been returned moves none of the others.
    """
    where = "p.status = 'open' AND p.is_own = 0 AND p.created_ts >= ?"
    extra: list[Any] = [since_ts]
    if min_score is not None:
        where += " AND p.static_score > ?"
        extra.append(min_score)
    if intents is not None:
        if not intents:
            return []
        where += f" AND p.intent IN ({', '.join('?' for _ in intents)})"
        extra.extend(intents)
    # the page holds only what the filter reads; the few rows that pass are read in full
    columns = ", ".join(
        f"m.{c}"
        for c in (
            "id", "source", "intent", "text", "author_handle", "url", "static_score",
            "sla_due_ts", "created_ts", "assignee",
        )
    )  # fmt: skip
    out: list[Row] = []
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        if skip:
            chunk = [i for i in chunk if i not in skip]
            if not chunk:
                continue
        marks = ", ".join("?" for _ in chunk)
        out += store.rows(
            f"{_page_of(marks, 'id, status, is_own, created_ts, static_score, intent')}"
            f"SELECT {columns} FROM page p JOIN mentions m ON m.id = p.id "
            f"WHERE {where} ORDER BY p.created_ts, p.id",
            [*chunk, *extra],
        )
    return out


def follow_up_sql(alias: str) -> str:
    """Whether mention ``alias`` is a customer's follow-up: an earlier message of the same
    author in the same conversation had been answered before it was written.

    The one definition of a follow-up: ``report response`` counts the answer to one as
    a next response, and ``queue`` shows its next-response clock (:func:`follow_ups`).
    A mention with no conversation id is never one (NULL matches nothing).
    """
    m = alias
    return (
        f"EXISTS (SELECT 1 FROM mentions p WHERE p.source = {m}.source "
        f"AND p.conversation_id = {m}.conversation_id AND p.author_key = {m}.author_key "
        f"AND p.id != {m}.id AND p.created_ts < {m}.created_ts AND p.answered_at IS NOT NULL "
        f"AND p.answered_at <= {m}.created_at)"
    )


def follow_ups(store: Store, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` are follow-ups (:func:`follow_up_sql`) still waiting for an answer."""
    out: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        if not chunk:
            break
        marks = ", ".join("?" for _ in chunk)
        out |= {
            str(r["id"])
            for r in store.rows(
                f"SELECT m.id FROM mentions m WHERE m.id IN ({marks}) "
                f"AND m.answered_at IS NULL AND {follow_up_sql('m')}",
                chunk,
            )
        }
    return out


def first_responses(
    store: Store, since_ts: float, until_ts: float, source: str | None = None
) -> list[Row]:
    """Answered mentions created in the period: creation and answer times, and whether
    each is a customer's follow-up in a conversation already answered."""
    # follow_up: the customer wrote again in a conversation we had already answered,
    # so this answer is a next response, not a first one
    sql = (
        "SELECT m.id, m.source, m.intent, m.created_ts, m.created_at, m.answered_at, "
        f"{follow_up_sql('m')} AS follow_up FROM mentions m "
        "WHERE m.answered_at IS NOT NULL AND m.is_own = 0 AND m.created_ts >= ? "
        "AND m.created_ts < ?"
    )
    params: list[Any] = [since_ts, until_ts]
    if source is not None:
        sql += " AND m.source = ?"
        params.append(source)
    return store.rows(sql + " ORDER BY m.created_ts", params)
