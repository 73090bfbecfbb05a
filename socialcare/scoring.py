"""Apply triage to stored mentions, through ``Store`` methods only (no SQL here).

:func:`triage_ids` is what ``poll`` calls from its ``on_stored`` hook, inside
the page's transaction: a page's mentions and their scores commit together,
so the queue never shows an untriaged mention from a finished poll.
:func:`retriage_all` re-scores the whole store after ``[triage]`` changes,
a batch at a time so memory stays flat on a store of millions of mentions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from .triage.score import TriageSettings, score_rows

if TYPE_CHECKING:
    from .store import Store

__all__ = ["triage_ids", "retriage_all", "BATCH_SIZE"]

#: mentions read, scored and written per store round trip
BATCH_SIZE = 2000


def _repeat_counts(store: Store, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Per row: earlier mentions by the same author still waiting (the brand's own posts: none).

    One query for the whole batch: a query per mention costs a round trip
    each, which on a PostgreSQL server across the network dominated ingest.
    """
    waiting = store.unanswered_before_many(
        [str(row["id"]) for row in rows if not row.get("is_own")]
    )
    return [0 if row.get("is_own") else waiting.get(str(row["id"]), 0) for row in rows]


def _triage_batch(store: Store, rows: Sequence[Mapping[str, Any]], settings: TriageSettings) -> int:
    counts = _repeat_counts(store, rows)
    results = score_rows(rows, settings, counts)
    store.save_triage([(str(row["id"]), r.columns()) for row, r in zip(rows, results, strict=True)])
    return len(results)


def triage_ids(store: Store, ids: Sequence[str], settings: TriageSettings) -> int:
    """Score the mentions with these ids and save their triage; returns how many.

    Safe inside an open ``store.transaction()`` (the poll's per-page one):
    ``save_triage`` joins it instead of committing on its own.
    """
    unique = list(dict.fromkeys(ids))
    done = 0
    for rows in store.iter_mentions(batch_size=BATCH_SIZE, ids=unique):
        done += _triage_batch(store, rows, settings)
    return done


def retriage_all(
    store: Store, settings: TriageSettings, progress: Callable[[int], None] | None = None
) -> int:
    """Re-score every stored mention in batches; ``progress(n)`` after each batch of n."""
    done = 0
    for rows in store.iter_mentions(batch_size=BATCH_SIZE):
        n = _triage_batch(store, rows, settings)
        done += n
        if progress is not None:
            progress(n)
    return done
