"""One pause of the cyclic garbage collector, for team mode's per-batch steps."""

from __future__ import annotations

import functools
import gc
from typing import Callable, ParamSpec, TypeVar

__all__ = ["gc_paused"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def gc_paused(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``func`` with the cyclic collector paused (and resumed after, if it ran).

    A routing plan, its audit rows and a poll's notifications build tens of thousands
    of small containers per batch (decisions, row tuples, detail keys), none in a
    reference cycle; the collections they set off scanned them and the long-lived
    triage tables again (a poll with routing ran ~80 more young and ~7 more middle
    collections per 10k mentions, and sometimes one more full one, which walks the
    whole heap). What the batch leaves is collected as usual afterwards, as
    ``triage.score.score_rows`` does for scoring.
    """

    @functools.wraps(func)
    def paused(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return paused
