"""``triage --all``'s restamp (issue 25): the stored compact signals rebuilt directly.

``scoring._Restamper`` rebuilds a row whose fingerprint is current from its
``signals`` text without the version-1 shape in between. The reference is
``scoring._rescore_batch`` (``decode_signals``, ``rescore_stored``,
``encode_signals``): on random payloads, written by the real encoder from random
lines or damaged afterwards, with random settings, repeat counts and rows, the
restamp gives the reference's columns bit for bit, or None (then the reference
decides); and it does not give None for what the encoder writes.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcare import scoring
from socialcare.scoring import care_settings
from socialcare.store import TRIAGE_COLUMNS
from socialcare.triage.codec import encode_signals
from socialcare.triage.learned import LearnedModel
from socialcare.triage.score import Contribution
from tests.test_rescore_stored import MODEL

COMPARED = [c for c in TRIAGE_COLUMNS if c != "triaged_at"]
INTENTS = ("complaint", "question", "praise", "spam", "other")
numbers = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, 0.5, 2.0, 3.0, -10.0, 0.3818, 1e-300, 2.0**60]),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(-5, 5).map(float),
)


def _line(name: str, value: float, weight: float, detail: str) -> Contribution:
    return Contribution(name, value, weight, value * weight, detail)


@st.composite
def _lines(draw: Any, model: bool, language: str, source: str, repeat: int) -> list[Any]:
    intent = draw(st.sampled_from(INTENTS))
    lines = [_line("intent", 1.0, draw(numbers), intent)]
    compound = draw(st.sampled_from(["+0.32", "-0.38", "+0.00", "-0.00"]))
    sentiment = draw(
        st.sampled_from(
            [
                f"compound {compound} ({language}, {source})",
                f"compound {compound} ({language}, {source}), sarcastic: 'love' next to 'down'",
                f"unscored: language {language} ({source})",
                "",
            ]
        )
    )
    optional = [
        _line("sentiment", draw(numbers), draw(numbers), sentiment),
        _line(
            "urgency",
            draw(numbers),
            draw(numbers),
            draw(st.sampled_from(["none", "charged twice", "outage (not counted: praise)"])),
        ),
        _line(
            "direct",
            draw(numbers),
            draw(numbers),
            draw(st.sampled_from(["passing mention", "addresses @AcmeHelp", ""])),
        ),
        _line("reach", draw(numbers), draw(numbers), f"{draw(st.integers(0, 99))} followers"),
        _line(
            "repeat",
            draw(numbers),
            draw(numbers),
            draw(st.sampled_from([f"{repeat} earlier", "2 earlier (not counted: praise)"])),
        ),
        _line("rating", draw(numbers), draw(numbers), draw(st.sampled_from(["1 star", "4 stars"]))),
        _line("rule:vip", draw(numbers), draw(numbers), draw(st.sampled_from(["", "vip", "x"]))),
        _line("rule:bag", draw(numbers), draw(numbers), "bag"),
    ]
    picked = draw(st.lists(st.sampled_from(optional), max_size=8))
    lines += picked
    if model:
        lines.append(_line("learned", draw(numbers), draw(numbers), "p=0.93: 'refund' +0.9"))
    return lines


def _damaged(text: str, how: int, at: int) -> str:
    """One of a few ways a stored payload goes wrong (each still JSON, or not)."""
    raw = json.loads(text)
    if how == 0:
        return text[: at % max(len(text), 1)]  # cut short
    if how == 1 and len(raw) > 5:
        part = raw[5 + at % (len(raw) - 5)]
        part[at % len(part)] = [True, None, "zz", 2.5, {"a": 1}][at % 5]
    elif how == 2:
        raw[at % 5] = [1, "en", None, [], 2.0][at % 5]
    elif how == 3:
        raw.append(["zz", 1, 1, "?"] if at % 2 else ["i", 1, 2.5, "question"])
    elif how == 4 and len(raw) > 5:
        del raw[5]
    return json.dumps(raw, separators=(",", ":"))


weights_st = st.dictionaries(
    st.sampled_from(["sentiment", "urgency", "direct", "reach", "repeat", "complaint",
                     "question", "spam", "learned", "rating", "praise", "other"]),
    st.sampled_from([0.0, -1.0, 0.5, 3.0, 7.25, 1e-9]),
    max_size=5,
)  # fmt: skip
config_st = st.fixed_dictionaries(
    {},
    optional={
        "weights": weights_st,
        "sla": st.fixed_dictionaries(
            {},
            optional={
                "question": st.sampled_from(["1h", "none"]),
                "complaint": st.sampled_from(["30m", "2d"]),
                "dm": st.sampled_from(["2h", "none"]),
            },
        ),
    },
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    config=config_st,
    model=st.booleans(),
    stored_model=st.booleans(),
    count=st.integers(0, 5),
    stored_count=st.integers(0, 5),
    language=st.sampled_from(["en", "es", "und"]),
    source=st.sampled_from(["platform", "detected", "short"]),
    followers=st.sampled_from([None, 0, 7, 150, 150.0, 90_000, -3, 1e12]),
    compound=st.sampled_from([None, 0.0, -0.4, 0.75]),
    created=st.sampled_from([None, 1_800_000_000.0, 1_800_000_000]),
    kind=st.sampled_from(["post", "dm", "review", None]),
    damage=st.one_of(st.none(), st.tuples(st.integers(0, 4), st.integers(0, 999))),
)
def test_restamp_is_the_reference_rescore(
    data: Any,
    config: dict[str, Any],
    model: bool,
    stored_model: bool,
    count: int,
    stored_count: int,
    language: str,
    source: str,
    followers: Any,
    compound: Any,
    created: Any,
    kind: Any,
    damage: Any,
) -> None:
    settings_ = care_settings(config, ["acmehelp"], model=MODEL if model else None)
    lines = data.draw(_lines(stored_model, language, source, stored_count))
    text = _encoded(lines, language, source, stored_count)
    if damage is not None:
        text = _damaged(text, *damage)
    row = _row(text, followers=followers, compound=compound, created=created, kind=kind)
    restamped = _check(settings_, row, count)
    if damage is None and model == stored_model:
        assert restamped  # what the encoder writes is restamped, not left to the reference


def _encoded(lines: list[Any], language: str, source: str, repeat: int) -> str:
    tags = [line.name[5:] for line in lines if line.name.startswith("rule:")]
    return encode_signals(
        lines,
        tags=list(dict.fromkeys(tags)),
        language=language,
        language_source=source,
        repeat_count=repeat,
    )


def _row(text: str, **fields: Any) -> dict[str, Any]:
    return {
        "_rowid": 1, "id": "demo:1", "text": "@acmehelp my bag is lost, refund?",
        "language": "en", "query": "acme", "raw": None, "rating": None,
        "author_followers": fields.get("followers"), "created_ts": fields.get("created"),
        "created_at": None, "kind": fields.get("kind"), "is_own": 0,
        "sentiment_compound": fields.get("compound"), "sentiment_pos": 0.1,
        "sentiment_neu": 0.8, "sentiment_neg": 0.1, "sentiment_scored": 1,
        "intent": "question", "static_score": 1.5, "signals": text, "sla_due_ts": None,
        "triaged_at": None, "triage_fp": 7,
    }  # fmt: skip


def _check(settings_: Any, row: dict[str, Any], count: int, stamper: Any = None) -> bool:
    """The restamp's columns are the reference's, bit for bit; or it left the row to the
    reference (None). Returns whether it restamped. ``stamper``: one kept across rows."""
    got = scoring._restamp(stamper or scoring._Restamper(settings_), row, count)
    try:
        want = scoring._rescore_batch([row], settings_, [count], [row["triage_fp"]])[0]
    except Exception:  # a payload the reference cannot even decode: never restamped
        assert got is None
        return False
    if got is None:
        return False
    assert {c: _bits(got[c]) for c in COMPARED} == {c: _bits(want[c]) for c in COMPARED}
    return True


def _bits(value: Any) -> Any:
    """A float by its bits (``-0.0`` is not ``0.0``, and NaN is itself), else the value."""
    if isinstance(value, float):
        return ("float", struct.pack("<d", value)) if not math.isnan(value) else ("nan",)
    return (type(value).__name__, value)


def test_the_comparison_has_teeth(monkeypatch: pytest.MonkeyPatch) -> None:
    """A restamp that kept a stale weight, or a repeat line of another count, fails."""
    old = care_settings({}, ["acmehelp"])
    new = care_settings({"weights": {"sentiment": 4.0}}, ["acmehelp"])
    lines = [
        old.fixed_parts["question"],
        _line("sentiment", 0.38, 1.5, "compound -0.38 (en, platform)"),
        _line("urgency", 0.5, 2.0, "charged twice"),
        old.fixed_parts["repeat"],
    ]
    row = _row(_encoded(lines, "en", "platform", 0), compound=-0.38, created=1.8e9)
    assert _check(new, row, 0) and _check(new, row, 2)
    real = scoring._Restamper.__init__

    def stale(self: Any, settings_: Any) -> None:
        real(self, settings_)
        self.lines["s"] = (self.lines["s"][0], 1.5, None)

    monkeypatch.setattr(scoring._Restamper, "__init__", stale)
    with pytest.raises(AssertionError):
        _check(new, row, 0)

    def remembered(self: Any, settings_: Any) -> None:  # a memo that ignored the count
        real(self, settings_)
        self._repeat[(2, "question")] = ('["p",0,1.5]', 0.0)

    monkeypatch.setattr(scoring._Restamper, "__init__", remembered)
    assert _check(new, row, 0)
    with pytest.raises(AssertionError):
        _check(new, row, 2)


def test_a_model_mismatch_is_left_to_the_reference() -> None:
    plain = care_settings({}, ["acmehelp"])
    lines = [plain.fixed_parts["question"], _line("learned", 0.9, 2.0, "p=0.90: x")]
    row = _row(_encoded(lines, "en", "platform", 0))
    assert scoring._Restamper(plain).columns(row, 0) is None
    assert isinstance(MODEL, LearnedModel)
    assert _check(care_settings({}, ["acmehelp"], model=MODEL), row, 0)


@st.composite
def _stored_rows(draw: Any, pool: list[tuple[list[Any], str, str, int]]) -> dict[str, Any]:
    """A row with lines from ``pool`` (so lines recur across rows) as a poll writes it, or
    with its header's language and source rewritten to the lines' own (its lines then read
    in another context: one kept in full may fit that one's template)."""
    pick = st.sampled_from
    lines, language, source, stored_count = draw(pick(pool))
    header = (draw(pick(["en", "es"])), draw(pick(["platform", "detected"])))
    text = _encoded(lines, *header, stored_count)
    if draw(st.booleans()):
        raw = json.loads(text)
        raw[2], raw[3] = language, source
        text = json.dumps(raw, separators=(",", ":"), ensure_ascii=False)
    return _row(
        text,
        followers=draw(pick([None, 0, 7, 150, 150.0, 90_000])),
        compound=draw(pick([None, 0.0, -0.4])),
        created=draw(pick([None, 1_800_000_000.0])),
        kind=draw(pick(["post", "dm"])),
    )


@st.composite
def _pool(draw: Any, model: bool) -> tuple[list[Any], str, str, int]:
    """Lines scored in some language and source (the details say which), with a count."""
    language, source = (
        draw(st.sampled_from(["en", "es"])),
        draw(st.sampled_from(["platform", "detected"])),
    )
    count = draw(st.integers(0, 3))
    stored_model = draw(st.booleans()) if draw(st.booleans()) else model
    return draw(_lines(stored_model, language, source, count)), language, source, count


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), config=config_st, model=st.booleans(), passes=st.integers(1, 2))
def test_one_restamp_over_many_rows_is_the_reference(
    data: Any, config: dict[str, Any], model: bool, passes: int
) -> None:
    """One restamp for a whole run, as ``triage --all`` keeps it: its memos of lines, heads,
    reach and repeat lines, filled by earlier rows (other counts, languages, followers),
    give every later row the reference's columns too."""
    settings_ = care_settings(config, ["acmehelp"], model=MODEL if model else None)
    pool = data.draw(st.lists(_pool(model), min_size=1, max_size=3))
    rows = data.draw(st.lists(_stored_rows(pool), min_size=1, max_size=12))
    counts = data.draw(st.lists(st.integers(0, 4), min_size=len(rows), max_size=len(rows)))
    stamper = scoring._Restamper(settings_)
    for shift in range(passes):
        for row, count in zip(rows, counts, strict=True):
            _check(settings_, row, (count + shift) % 5, stamper)


def test_a_run_of_lines_is_not_reused_in_another_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lines before the reach line are memoised together, by their text (issue 25). A
    line kept in full in one context fits its template in another, so a run read in one
    language and source is read again in the other; a memo blind to that fails."""
    settings_ = care_settings({}, ["acmehelp"])
    lines = [
        settings_.fixed_parts["question"],
        _line("sentiment", 0.32, 1.5, "compound +0.32 (en, platform)"),
        _line("reach", 0.5, 0.5, "1000 followers"),
        settings_.fixed_parts["repeat"],
    ]
    text = _encoded(lines, "es", "detected", 0)  # its sentiment detail fits no template here
    raw = json.loads(text)
    raw[2], raw[3] = "en", "platform"
    rows = [_row(t, followers=1000) for t in (text, json.dumps(raw, separators=(",", ":")))]
    stamper = scoring._Restamper(settings_)
    for _ in range(2):
        assert all(_check(settings_, row, 0, stamper) for row in rows)
    assert len(stamper._runs) == 1
    remember = scoring._Restamper._remember_run

    def blind(self: Any, *args: Any) -> None:
        remember(self, *args[:-1], None)

    monkeypatch.setattr(scoring._Restamper, "_remember_run", blind)
    stamper = scoring._Restamper(settings_)
    with pytest.raises(AssertionError):
        for row in rows:
            _check(settings_, row, 0, stamper)


@settings(max_examples=300, deadline=None)
@given(
    followers=st.one_of(
        st.integers(), st.integers(-5, 5), st.sampled_from([10**30, 2**53 + 1, 999_999, 10**6])
    ),
    weight=st.sampled_from([0.5, 0.0, -1.0, 3.0, 1e-9]),
)
def test_an_int_follower_count_writes_the_reference_reach_line(
    followers: int, weight: float
) -> None:
    """An int follower count's reach line is made without the ``Contribution`` in between
    (the usual case); it is the encoder's text for ``_reach_part``'s line, bit for bit."""
    from socialcare.triage import score

    stamper = scoring._Restamper(care_settings({"weights": {"reach": weight}}, ["acmehelp"]))
    text, contribution = stamper._reach_line(followers, "en", "platform", 0)
    line = score._reach_part(followers, stamper.w_reach)
    assert text == json.dumps(
        stamper._encoded(line, "en", "platform", 0), separators=(",", ":"), ensure_ascii=False
    )
    assert _bits(contribution) == _bits(line.contribution)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    config=config_st,
    rows=st.lists(
        st.tuples(
            st.sampled_from(INTENTS),
            st.sampled_from([None, 0, 7, 150, 90_000, -3]),  # the row's follower count
            st.integers(0, 4),  # the repeat count stored
            st.integers(0, 4),  # the repeat count today
            st.booleans(),  # the reach line as today writes it (else another count's)
        ),
        min_size=2,
        max_size=10,
    ),
)
def test_rows_as_the_poll_writes_them_are_the_reference(
    config: dict[str, Any], rows: list[tuple[str, Any, int, int, bool]]
) -> None:
    """Rows whose lines end with their reach line and then the repeat line, as the poll
    writes them, sharing their first lines: after the first, each takes the run memo and
    its reach and repeat lines the short way (``_Restamper._tail``), with the reference's
    columns."""
    from socialcare.triage import score

    settings_ = care_settings(config, ["acmehelp"])
    old = care_settings({}, ["acmehelp"])
    stamper = scoring._Restamper(settings_)
    for intent, followers, stored, count, current in rows:
        lines = [
            old.fixed_parts[intent],
            _line("sentiment", -0.0, 1.5, "compound +0.00 (en, platform)"),
            _line("urgency", 0.0, 2.0, "none"),
            score._reach_part(followers if current else 12, old.weights.reach),
            score._repeat_part(stored, old, intent in score.ANSWERED_INTENTS, intent),
        ]
        row = _row(_encoded(lines, "en", "platform", stored), followers=followers)
        assert _check(settings_, row, count, stamper)
    assert stamper._runs
