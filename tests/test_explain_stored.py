"""``explain`` from the stored signals (issue 18 item 7): the same lines as from the text.

``show`` and ``explain`` rebuild a mention's explanation from its stored signals
(``score.rescore_stored``, today's weights) when its ``triage_fp`` says they were
scored from its text inputs as they are now, instead of running sentiment and the
cue matcher again. For such a row every line, the total and the absence (or the
amount) of the ``stale`` line must be what scoring the text gives; for any other
row (never fingerprinted, text settings changed since) the text is scored, as before.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcare.app import Socialcare
from socialcare.scoring import retriage_all
from socialcare.store import Store
from socialcare.triage import Contribution, TriageSettings
from socialcare.triage import score as score_mod
from socialcare.triage.score import explain
from tests.test_rescore_stored import (
    T0,
    WORDS,
    _fill,
    _settings,
    edited,
    mentions_st,
    setting_st,
)

NOW = T0.timestamp() + 5400.0


def _no_text_scoring(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make scoring a text fail: the explanation must come from the stored signals."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("scored the text of a row whose stored signals are current")

    monkeypatch.setattr(score_mod, "score_rows", refuse)


def _edited(first: tuple[dict[str, Any], bool], then: tuple[dict[str, Any], bool]) -> Any:
    """The first settings with the weights, SLAs and waiting term of the second."""
    return _settings(*edited(first, then))


def _scored_rows(rows: list[Any], scored_with: TriageSettings) -> list[dict[str, Any]]:
    """Mention rows as the store holds them, triaged with ``scored_with`` (repeat counts vary)."""
    out = []
    for n, (text, lang, rating, author, followers, kind) in enumerate(rows):
        row: dict[str, Any] = {
            "id": f"demo:{n}", "text": text, "language": lang, "rating": rating,
            "author_followers": followers, "kind": kind, "query": "acme", "raw": None,
            "created_ts": T0.timestamp() + 60 * n,
        }  # fmt: skip
        result = score_mod.score_row(row, scored_with, repeat_count=author)
        row.update(result.columns("2027-01-15T08:00:00Z"))
        out.append(row)
    return out


@settings(max_examples=60, deadline=None)
@given(rows=mentions_st, first=setting_st, then=setting_st)
def test_explaining_from_stored_signals_is_explaining_from_text(
    rows: list[Any], first: tuple[dict[str, Any], bool], then: tuple[dict[str, Any], bool]
) -> None:
    """Random rows scored with random settings, explained after an edit of the weights,
    SLAs or waiting term (or none): both paths give the same lines, stale line included."""
    scored_with = _settings(*first)
    now = _edited(first, then)
    for row in _scored_rows(rows, scored_with):
        from_text = explain(row, now, NOW)
        real = score_mod.score_rows
        score_mod.score_rows = None  # type: ignore[assignment]  # any text scoring fails
        try:
            stored = explain(row, now, NOW, current=True)
        finally:
            score_mod.score_rows = real
        assert stored == from_text
        assert [type(p) for p in stored] == [Contribution] * len(stored)
        total = sum(p.contribution for p in stored)
        waiting = stored[-1].contribution if stored[-1].name == "waiting" else 0.0
        assert total == pytest.approx(float(row["static_score"]) + waiting, abs=1e-9)
        assert any(p.name == "stale" for p in stored) == (
            abs(float(row["static_score"]) - sum(p.contribution for p in stored if p.name not in ("stale", "waiting"))) > 1e-9
        )  # fmt: skip


def test_a_weight_edit_keeps_the_stale_line_and_the_queue_total(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (row,) = _scored_rows([("@AcmeHelp refund please, charged twice!", "en", 2, 1, 5000, "review")],
                          _settings({}, False))  # fmt: skip
    edited = _settings({"weights": {"complaint": 4.0}, "age_weight": 5.0}, False)
    from_text = explain(row, edited, NOW)
    _no_text_scoring(monkeypatch)
    stored = explain(row, edited, NOW, current=True)
    assert stored == from_text
    stale = [p for p in stored if p.name == "stale"]
    assert len(stale) == 1 and "triage --all" in stale[0].detail
    assert sum(p.contribution for p in stored[:-1]) == pytest.approx(row["static_score"])
    assert stored[-1].name == "waiting" and stored[-1].weight == 5.0


@pytest.mark.parametrize(
    "signals",
    ["", "{}", "not json", '[2,0,"en","platform",[],["zz",1,1,"?"]]', '[2,0,"en","platform",[]]',
     '{"signals": [["intent", 1, 3, 3, "complaint"], [5]]}'],
)  # fmt: skip
def test_stored_signals_that_do_not_read_are_explained_from_the_text(signals: str) -> None:
    (row,) = _scored_rows([("@AcmeHelp my card was charged twice", "en", None, 0, 10, "post")],
                          _settings({}, False))  # fmt: skip
    row["signals"] = signals
    settings_ = _settings({}, False)
    assert explain(row, settings_, NOW, current=True) == explain(row, settings_, NOW)
    assert explain(row, settings_, NOW)[0].name == "intent"


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=mentions_st, first=setting_st, then=setting_st, edit_only=st.booleans())
def test_the_fingerprint_decides_and_both_paths_agree_on_a_store(
    store: Store,
    rows: list[Any],
    first: tuple[dict[str, Any], bool],
    then: tuple[dict[str, Any], bool],
    edit_only: bool,
) -> None:
    """Rows of a store triaged (``triage --all``) with one set of settings, explained with
    another: the rows ``Socialcare`` finds current are rebuilt from their signals, all of
    them when only weights, SLAs or the waiting term changed; each explanation is the one
    from the text, and its total is the stored score plus the waiting line."""
    _fill(store, rows)
    retriage_all(store, _settings(*first))
    now = _edited(first, then) if edit_only else _settings(*then)
    current = 0
    for batch in store.iter_mentions():
        for row in batch:
            mention = store.get_mention(str(row["id"]))
            is_current = Socialcare._scored_as_now(mention, now)
            current += is_current
            expected = explain(mention, now, NOW)
            assert explain(mention, now, NOW, current=is_current) == expected
            total = sum(p.contribution for p in expected)
            waiting = expected[-1].contribution if expected[-1].name == "waiting" else 0.0
            assert total == pytest.approx(float(mention["static_score"]) + waiting, abs=1e-9)
    if edit_only:
        assert current == len(rows)


def test_rows_without_a_current_fingerprint_are_scored_from_the_text(store: Store) -> None:
    """Never fingerprinted (NULL), or a text setting changed since: not current."""
    _fill(store, [(f"{WORDS[n]} @AcmeHelp bag lost, Love it not", "en", None, 0, 10, "post")
                  for n in range(3)])  # fmt: skip
    plain = _settings({}, False)
    row = store.get_mention("demo:0")
    assert row["triage_fp"] is None and not Socialcare._scored_as_now(row, plain)
    retriage_all(store, plain)
    row = store.get_mention("demo:0")
    assert row["triage_fp"] is not None and Socialcare._scored_as_now(row, plain)
    assert Socialcare._scored_as_now(row, _settings({"weights": {"urgency": 9.0}}, False))
    assert not Socialcare._scored_as_now(row, _settings({"brand_names": ["Love"]}, False))
    assert not Socialcare._scored_as_now({**row, "text": "edited"}, plain)
