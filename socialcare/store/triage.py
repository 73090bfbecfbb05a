"""SQL for the learned triage model: the stored models and the labels the team's work gives.

A model row holds the model's JSON as text; this module never parses it (the
store knows no scoring). Labels come from what agents did with a mention:

* **answer**: the brand replied (an outbox reply or follow-up ``sent``), or a
  native brand answer was recorded (``answered_at``);
* **no_answer**: an agent closed it with no reply, or it was marked spam;
* open and snoozed mentions, and the brand's own posts, are unlabelled.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from .core import TRIAGE_COLUMNS, Row, Store, in_chunks

__all__ = [
    "LABEL_COLUMNS",
    "active_model",
    "deactivate_models",
    "labelled_mentions",
    "mentions_for_labels",
    "open_mention_ids",
    "save_model",
    "save_rescored",
    "store_label_count",
]

#: what a labelled mention row carries: the whole row, so training can score it afresh
LABEL_COLUMNS = "m.*"

_ANSWERED = (
    "(m.answered_at IS NOT NULL OR EXISTS (SELECT 1 FROM outbox o "
    "WHERE o.mention_id = m.id AND o.status = 'sent' AND o.kind IN ('reply', 'followup')))"
)
_LABELLED = f"m.is_own = 0 AND ({_ANSWERED} OR m.status IN ('closed', 'spam'))"


def labelled_mentions(store: Store) -> list[Row]:
    """Every mention the team's work labelled: the mention row plus ``label``.

    ``label`` is 1 for "needed an answer" and 0 for "did not" (see the module docstring).
    """
    return store.rows(
        f"SELECT {LABEL_COLUMNS}, CASE WHEN {_ANSWERED} THEN 1 ELSE 0 END AS label "
        f"FROM mentions m WHERE {_LABELLED} ORDER BY m.id"
    )


def store_label_count(store: Store) -> int:
    """How many mentions the store's history labels (for ``retrain_every``)."""
    row = store.conn.execute(f"SELECT count(*) FROM mentions m WHERE {_LABELLED}").fetchone()
    return int(row[0])


def mentions_for_labels(store: Store, ids: Sequence[str]) -> list[Row]:
    """The stored mentions among ``ids`` (a labels file's), with the columns training needs."""
    out: list[Row] = []
    for chunk in in_chunks(list(dict.fromkeys(ids))):
        marks = ", ".join("?" for _ in chunk)
        out.extend(
            store.rows(f"SELECT {LABEL_COLUMNS} FROM mentions m WHERE m.id IN ({marks})", chunk)
        )
    return out


def open_mention_ids(store: Store) -> list[str]:
    """Ids of every open (or snoozed) mention: the ones a new model re-scores."""
    return [
        str(r["id"])
        for r in store.rows("SELECT id FROM mentions WHERE status = 'open' ORDER BY id")
    ]


def active_model(store: Store) -> Row | None:
    """The model in use (the newest active row), or None for the zero-label score."""
    rows = store.rows("SELECT * FROM triage_models WHERE active = 1 ORDER BY id DESC LIMIT 1")
    return rows[0] if rows else None


def save_model(
    store: Store,
    *,
    model: str,
    created_at: str,
    labels_answer: int,
    labels_no_answer: int,
    cv_auc: float | None,
    store_labels: int,
) -> int:
    """Store a model as the active one, in one transaction; returns its id."""
    with store.transaction():
        store.conn.execute("UPDATE triage_models SET active = 0 WHERE active = 1")
        return store.insert(
            "INSERT INTO triage_models (created_at, labels_answer, labels_no_answer, "
            "store_labels, cv_auc, model, active) VALUES (?, ?, ?, ?, ?, ?, 1)",
            [created_at, labels_answer, labels_no_answer, store_labels, cv_auc, model],
        )


def deactivate_models(store: Store) -> int:
    """Go back to the zero-label score: no model is active; returns how many were."""
    with store.transaction():
        cur = store.conn.execute("UPDATE triage_models SET active = 0 WHERE active = 1")
        return max(int(cur.rowcount or 0), 0)


#: what ``save_rescored`` may set (names are spliced into its SQL, so they are checked)
RESCORED_COLUMNS = frozenset((*TRIAGE_COLUMNS, "triage_fp"))


def save_rescored(store: Store, changes: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
    """Write each ``(rowid, {column: value})``: only the columns that changed, by rowid.

    One statement per distinct set of columns (a weight edit changes
    ``static_score`` and ``signals`` alone, so a batch is one or two). Measured
    on a 20k copy of the bench store (rows/CPU-s, same run): an UPDATE naming an
    indexed column costs even with the value unchanged (``static_score`` 76k-106k
    against 120k-131k for the unindexed ``signals``), so unchanged columns are left
    out; by rowid beats by ``id`` (131k against 111k: no lookup through its index).
    ``executemany`` on both backends: on SQLite one ``UPDATE ... FROM (VALUES ...)``
    per batch once measured faster, but not on today's first ``triage --all`` after
    a poll (55k of 100k rows changed, ``signals`` and often ``static_score``): 1.10,
    1.10, 1.15 CPU-s against 1.24, 1.43, 1.74 for its writes alone (alternated runs),
    46M fewer instructions (callgrind, 20k rows: -1.1% of the whole run).
    """
    groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for rowid, cols in changes:
        names = tuple(sorted(cols))
        groups.setdefault(names, []).append((rowid, *(cols[c] for c in names)))
    if not groups:
        return
    with store.transaction():
        for names, params in groups.items():
            bad = set(names) - RESCORED_COLUMNS
            if bad:
                raise ValueError(f"not a triage column: {', '.join(sorted(bad))}")
            sets = ", ".join(f"{c} = ?" for c in names)
            store.conn.executemany(
                f"UPDATE mentions SET {sets} WHERE rowid = ?", [(*p[1:], p[0]) for p in params]
            )
