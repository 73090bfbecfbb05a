"""``triage --all`` from stored signals (issue 25): bit-identical to scoring every row's text.

A row whose ``triage_fp`` still matches is rebuilt from its stored signals
(``score.rescore_stored``); the property test scores random stores once, changes
random settings (weights, SLAs, domain packs, brand names, rules, a model trained
or reset), re-scores with the fingerprint path, then once more from text only:
the second pass must find nothing to change in any triage column.
"""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcare import scoring
from socialcare.models import Mention
from socialcare.poll import poll_source
from socialcare.scoring import care_settings, page_scorer, retriage_all
from socialcare.store import TRIAGE_COLUMNS, Store
from socialcare.triage import TriageSettings, explain
from socialcare.triage import score as score_mod
from socialcare.triage.learned import LearnedModel, train
from tests.test_write_once import ScriptSource, _fresh, _m, _script
from tests.test_write_once import _pages as _poll_pages

T0 = datetime(2027, 1, 15, 8, 0, tzinfo=timezone.utc)
WORDS = (
    "refund charged twice outage down app login broken thanks love great help please when "
    "why how can my the is not working urgent asap emergency flight bag lost delayed card "
    "fraud signal router bill slow awesome terrible hate Acme Skyways Love Super ? ! :) "
    "@AcmeHelp @other #fail https://x.co/a cancelled"
).split()
BRANDS = ("Skyways", "Love", "Super", "Acme")
PACKS = ("travel", "banking", "retail", "saas", "telecom", "utilities")
COLUMNS = (*TRIAGE_COLUMNS, "triage_fp")


def _model() -> LearnedModel:
    """One small trained model (labels from a word: 'refund' and '?' need an answer)."""
    zero = TriageSettings.from_config({}, ["acmehelp"])
    texts = [" ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(6)) for i in range(80)]
    rows = [{"text": t, "language": "en"} for t in texts]
    results = score_mod.score_rows(rows, zero)
    labels = [("refund" in t or "?" in t) for t in texts]
    examples = [(t, r.signals, y) for t, r, y in zip(texts, results, labels, strict=True)]
    return train(examples, min_labels=20)


MODEL = _model()

mentions_st = st.lists(
    st.tuples(
        st.lists(st.sampled_from(WORDS), min_size=0, max_size=12).map(" ".join),
        st.sampled_from([None, "en", "es"]),
        st.sampled_from([None, 1, 2, 3, 5]),
        st.integers(0, 3),  # author
        st.sampled_from([None, 0, 150, 90_000]),
        st.sampled_from(["post", "dm", "review"]),
    ),
    min_size=1,
    max_size=12,
)
weights_st = st.dictionaries(
    st.sampled_from(["sentiment", "urgency", "direct", "reach", "repeat", "complaint",
                     "question", "spam", "learned", "rating"]),
    st.sampled_from([0.0, -1.0, 0.5, 3.0, 7.25]),
    max_size=4,
)  # fmt: skip
config_st = st.fixed_dictionaries(
    {},
    optional={
        "weights": weights_st,
        "domains": st.lists(st.sampled_from(PACKS), min_size=1, max_size=2, unique=True),
        "brand_names": st.lists(st.sampled_from(BRANDS), max_size=2, unique=True),
        "extra_urgency_words": st.lists(st.sampled_from(["lost", "bag", "slow"]), max_size=2),
        "sla": st.fixed_dictionaries({}, optional={"question": st.sampled_from(["1h", "none"])}),
        "age_weight": st.sampled_from([0.0, 2.0, 5.0]),
        "rules": st.lists(
            st.fixed_dictionaries(
                {
                    "tag": st.sampled_from(["vip", "bag"]),
                    "keywords": st.lists(
                        st.sampled_from(["bag", "card", "flight"]), min_size=1, max_size=2
                    ),
                    "weight": st.sampled_from([1.0, 2.5]),
                }  # fmt: skip
            ),
            max_size=2,
        ),
    },
)
setting_st = st.tuples(config_st, st.booleans())


def _settings(config: dict[str, Any], model: bool) -> TriageSettings:
    return TriageSettings.from_config(config, ["acmehelp"], model=MODEL if model else None)


def _fill(store: Store, rows: list[tuple[Any, ...]]) -> None:
    with store.transaction():
        store.conn.execute("DELETE FROM mentions")
    mentions = [
        Mention(
            source="demo", native_id=str(n), text=text, language=lang, rating=rating,
            created_at=T0 + timedelta(minutes=n), author_id=f"u{author}",
            author_handle=f"h{author}", author_followers=followers, kind=kind, query="acme",
        )
        for n, (text, lang, rating, author, followers, kind) in enumerate(rows)
    ]  # fmt: skip
    store.upsert_mentions(mentions, own_handles=["acmehelp"])


def _snapshot(store: Store) -> dict[str, tuple[Any, ...]]:
    return {
        str(r["id"]): tuple(r[c] for c in COLUMNS if c != "triaged_at")
        for batch in store.iter_mentions(columns=["id", *COLUMNS])
        for r in batch
    }


@contextmanager
def _counting_reuse() -> Iterator[list[int]]:
    """Counts the rows rebuilt from their stored signals, by either way ``retriage_all``
    has: ``rescore_stored`` (the reference) and the compact restamp (``_restamp``)."""
    reused: list[int] = []
    real, restamp = score_mod.rescore_stored, scoring._restamp

    def counting(rows: Any, *args: Any) -> Any:
        reused.append(len(rows))
        return real(rows, *args)

    def restamping(*args: Any) -> Any:
        cols = restamp(*args)
        if cols is not None:
            reused.append(1)
        return cols

    scoring.rescore_stored = counting  # type: ignore[assignment]
    scoring._restamp = restamping  # type: ignore[assignment]
    try:
        yield reused
    finally:
        scoring.rescore_stored = real  # type: ignore[assignment]
        scoring._restamp = restamp  # type: ignore[assignment]


def _both_ways(store: Store, rows: list[Any], first: TriageSettings, then: TriageSettings) -> int:
    """Score with ``first``, re-score with ``then`` by fingerprint, then from text only.

    Returns how many rows the fingerprint path rebuilt; asserts both ways agree.
    """
    _fill(store, rows)
    retriage_all(store, first)
    return _retriage_both_ways(store, then)


def _retriage_both_ways(store: Store, then: TriageSettings) -> int:
    """``triage --all`` with ``then`` by fingerprint, then once more from text only;
    asserts the second finds nothing to change. Returns the rows rebuilt from signals."""
    with _counting_reuse() as reused:
        retriage_all(store, then)
    fast = _snapshot(store)
    retriage_all(store, then, reuse=False)
    assert _snapshot(store) == fast
    return sum(reused)


_EDITS = ("weights", "sla", "age_weight")


def edited(
    first: tuple[dict[str, Any], bool], then: tuple[dict[str, Any], bool]
) -> tuple[dict[str, Any], bool]:
    """The first settings with the weights, SLAs and waiting term of the second (the edits
    a row's stored signals stay current through)."""
    config = {k: v for k, v in first[0].items() if k not in _EDITS}
    config.update({k: v for k, v in then[0].items() if k in _EDITS})
    return config, first[1]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=mentions_st, first=setting_st, then=setting_st, edit_only=st.booleans())
def test_rescore_from_stored_signals_is_full_rescore(
    store: Store,
    rows: list[Any],
    first: tuple[dict[str, Any], bool],
    then: tuple[dict[str, Any], bool],
    edit_only: bool,
) -> None:
    """Random settings both times; or (``edit_only``) the first ones with the weights,
    SLAs and waiting term of the second, when every row must be rebuilt from its signals."""
    if edit_only:
        then = edited(first, then)
    reused = _both_ways(store, rows, _settings(*first), _settings(*then))
    if edit_only:
        assert reused == len(rows)


def test_a_weight_edit_rebuilds_every_row_from_its_signals(store: Store) -> None:
    rows = [(f"@AcmeHelp my bag is lost {n}?", "en", None, n % 2, 10, "post") for n in range(5)]
    first = _settings({}, True)
    then = _settings({"weights": {"question": 9.0, "learned": 0.5}}, True)
    assert _both_ways(store, rows, first, then) == 5
    # a brand name is a text input: nothing is reused, everything still agrees
    named = _settings({"brand_names": ["Love"]}, True)
    assert _both_ways(store, rows, first, named) == 0


def test_the_property_fails_when_the_fingerprint_omits_brand_names(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check has teeth: leave brand names out of the fingerprint and it finds stale rows."""
    real = scoring.text_fingerprint
    monkeypatch.setattr(
        scoring, "text_fingerprint", lambda s: real(dataclasses.replace(s, brand_names=()))
    )
    rows = [("Love Airlines lost my bag, terrible", "en", None, 0, 10, "post")]
    with pytest.raises(AssertionError):
        _both_ways(store, rows, _settings({}, False), _settings({"brand_names": ["Love"]}, False))


def test_explain_reads_rows_rebuilt_from_signals(store: Store) -> None:
    rows = [("@AcmeHelp refund please, charged twice!", "en", 2, 0, 5000, "review")]
    then = _settings({"weights": {"complaint": 4.0}}, False)
    assert _both_ways(store, rows, _settings({}, False), then) == 1
    row = store.get_mention("demo:0")
    parts = explain(row, then, T0.timestamp() + 3600)
    assert not any(p.name == "stale" for p in parts)


def test_an_edited_text_is_scored_from_its_text(store: Store) -> None:
    _fill(store, [("@AcmeHelp thanks, great help", "en", None, 0, 10, "post")])
    settings_ = _settings({}, False)
    retriage_all(store, settings_)
    with store.transaction():  # the text changed under the stored triage (an edited review)
        store.conn.execute("UPDATE mentions SET text = 'urgent: app down, refund?'")
    retriage_all(store, settings_)
    fast = _snapshot(store)
    retriage_all(store, settings_, reuse=False)
    assert _snapshot(store) == fast
    assert store.get_mention("demo:0")["intent"] != "praise"


def test_a_damaged_payload_is_scored_from_text_and_the_rest_reused(store: Store) -> None:
    rows = [
        (f"@AcmeHelp my card was charged twice {n}", "en", None, n, 10, "post") for n in range(4)
    ]
    settings_ = _settings({}, False)
    _fill(store, rows)
    retriage_all(store, settings_)
    with store.transaction():  # an unknown line, fingerprint left as it was
        store.conn.execute(
            "UPDATE mentions SET signals = ? WHERE id = 'demo:2'",
            ['[2,0,"en","platform",[],["zz",1,1,"?"]]'],
        )
    reused: list[int] = []
    real = scoring._rescore_one

    def counting(*args: Any) -> Any:
        result = real(*args)
        reused.append(result is not None)
        return result

    restamp = scoring._restamp

    def restamping(*args: Any) -> Any:
        cols = restamp(*args)
        if cols is not None:
            reused.append(True)
        return cols

    scoring._rescore_one = counting  # type: ignore[assignment]
    scoring._restamp = restamping  # type: ignore[assignment]
    try:
        retriage_all(store, _settings({"weights": {"complaint": 5.0}}, False))
    finally:
        scoring._rescore_one = real  # type: ignore[assignment]
        scoring._restamp = restamp  # type: ignore[assignment]
    assert sorted(reused) == [False, True, True, True]
    fast = _snapshot(store)
    retriage_all(store, _settings({"weights": {"complaint": 5.0}}, False), reuse=False)
    assert _snapshot(store) == fast
    assert '"zz"' not in str(store.get_mention("demo:2")["signals"])


# -- a polled store: poll writes the fingerprint with the triage columns ---------------


def _polled_both_ways(
    pg_url: str | None, pages: list[list[Mention]], first: TriageSettings, then: TriageSettings
) -> tuple[int, int]:
    """Poll ``pages`` scored with ``first``, then ``triage --all`` with ``then`` by
    fingerprint and once more from text only; asserts both agree.

    Returns (rows stored, rows the fingerprint path rebuilt from stored signals).
    """
    with _fresh(pg_url) as store:
        poll_source(store, ScriptSource(pages), own_handles=["acmehelp"], scorer=page_scorer(first))
        return store.mention_count(), _retriage_both_ways(store, then)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(raw=_poll_pages, first=setting_st, then=setting_st, edit_only=st.booleans())
def test_triage_all_on_a_polled_store_is_full_rescore(
    pg_url: str | None,
    raw: list[list[dict[str, Any]]],
    first: tuple[dict[str, Any], bool],
    then: tuple[dict[str, Any], bool],
    edit_only: bool,
) -> None:
    """A polled store (new, re-read and edited mentions, the brand's answers) re-scored
    with other settings equals a from-text re-score; after a weight, SLA or waiting-term
    edit alone every row is rebuilt from the signals the poll stored."""
    if edit_only:
        then = edited(first, then)
    n, reused = _polled_both_ways(pg_url, _script(raw), _settings(*first), _settings(*then))
    if edit_only:
        assert reused == n


def test_poll_writes_the_fingerprint_triage_all_would(store: Store) -> None:
    """Right after a poll, ``triage --all`` with the same settings has nothing to write."""
    settings_ = care_settings({}, ["acmehelp"])
    pages = [
        [_m(1, 0, "u1", "@acmehelp where is my refund?"), _m(2, 3, "u2", "love the app")],
        [_m(3, 5, "u1", "@acmehelp still nothing?"), _m(4, 6, "brand", "DM us", parent_id="1")],
    ]
    poll_source(store, ScriptSource(pages), own_handles=["acmehelp"], scorer=page_scorer(settings_))
    polled = _snapshot(store)
    assert all(row[-1] is not None for row in polled.values())  # triage_fp, last of COLUMNS
    written: list[Any] = []
    real = scoring.store_triage.save_rescored

    def recording(store_: Store, changes: Any) -> None:
        written.extend(changes)
        real(store_, changes)

    scoring.store_triage.save_rescored = recording  # type: ignore[assignment]
    try:
        retriage_all(store, settings_)
    finally:
        scoring.store_triage.save_rescored = real  # type: ignore[assignment]
    assert written == [] and _snapshot(store) == polled
