"""What runs on every poll and every ``queue``: attaching new mentions, folding the queue.

Kept apart from :mod:`socialcare.incident.service` so ``queue`` and the poll
hook load only the store, not the follow-up and outbox machinery (start-up).
"""

from __future__ import annotations

from typing import Callable, Sequence

from ..models import deferred_dataclass
from ..store import Row, Store
from ..store import incidents as sql

__all__ = ["FoldedIncident", "attach_new", "fold_queue"]


def attach_new(store: Store, ids: Sequence[str]) -> int:
    """The poll hook: attach freshly stored mentions to every open incident they match.

    Runs inside the page's transaction; with no open incident it costs one
    indexed read per page.
    """
    if not ids:
        return 0
    return sum(sql.attach_matching(store, inc, ids) for inc in sql.open_incidents(store))


# -- queue ---------------------------------------------------------------------
@deferred_dataclass  # made for the first open incident: most queues have none
class FoldedIncident:
    """One queue line standing for an open incident's open mentions."""

    name: str
    open_mentions: int
    customers: int
    top_score: float


def fold_queue(
    store: Store,
    read: Callable[[int], list[Row]],
    limit: int,
    *,
    expand: str | None = None,
) -> tuple[list[Row], list[FoldedIncident]]:
    """The queue with open incidents' mentions folded into one line each.

    ``read(n)`` is the ordinary queue read with limit ``n``; it is asked for
    ``limit`` plus the folded mentions, so folding never shortens the list of
    other customers. With ``expand`` only that incident's mentions are listed.
    """
    members = sql.open_member_ids(store)
    if expand is not None:
        iid = int(sql.get(store, expand)["id"])
        mine = {m for m, (i, _) in members.items() if i == iid}
        rows = [r for r in read(limit + len(members)) if r["id"] in mine]
        return rows[:limit], []
    if not members:
        return read(limit), []
    names = {int(r["id"]): str(r["name"]) for r in sql.open_incidents(store)}
    folded: dict[int, FoldedIncident] = {}
    authors: dict[int, set[str]] = {}
    for owner, author in members.values():
        line = folded.setdefault(owner, FoldedIncident(names.get(owner, f"#{owner}"), 0, 0, 0.0))
        line.open_mentions += 1
        if author:
            authors.setdefault(owner, set()).add(author)
        line.customers = len(authors.get(owner, ()))
    kept: list[Row] = []
    for row in read(limit + len(members)):
        member = members.get(str(row["id"]))
        if member is None:
            if len(kept) < limit:
                kept.append(row)
            continue
        line = folded[member[0]]
        line.top_score = max(line.top_score, float(row.get("score") or 0.0))
    return kept, sorted(folded.values(), key=lambda f: -f.top_score)
