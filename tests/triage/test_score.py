"""Settings from [triage], the weighted combination, SLAs and the stored columns."""

from __future__ import annotations

import json
from typing import Any

import pytest

from socialcare.errors import ConfigError
from socialcare.store import TRIAGE_COLUMNS
from socialcare.triage import (
    DEFAULT_SLA,
    TriageSettings,
    Weights,
    explain,
    parse_duration,
    score_row,
    score_rows,
    waiting_term,
)
from socialcare.triage.codec import decode_signals

pytestmark = pytest.mark.store_free

T0 = 1_800_000_000.0
BRAND = ["acmehelp"]


def row(text: str, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "text": text, "language": "en", "author_followers": 100, "author_handle": "someone",
        "query": "acme", "kind": "post", "raw": "{}", "created_ts": T0,
    }  # fmt: skip
    base.update(extra)
    return base


def settings(**table: Any) -> TriageSettings:
    return TriageSettings.from_config(table, BRAND)


# -- config ----------------------------------------------------------------------
def test_defaults() -> None:
    s = settings()
    assert s.weights == Weights()
    assert (s.age_weight, s.age_cap_hours) == (2.0, 24.0)
    assert dict(s.sla_seconds) == {"complaint": 3600, "question": 14400, "other": 86400}
    assert "praise" not in s.sla_seconds
    assert s.domains == ("telecom",) and s.urgency_words is None  # from the telecom pack
    assert "refund*" in s.lexicon and "~down" in s.lexicon


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30m", 1800), ("4h", 14400), ("2d", 172800), ("1w", 604800), ("90s", 90),
     (" 1h30m ", 5400), ("1.5h", 5400), ("2H", 7200)],
)  # fmt: skip
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "4", "h", "4 hours", "-1h", "1h 30", "1x"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_sla_overrides_merge_with_defaults_and_can_be_removed() -> None:
    s = settings(sla={"complaint": "30m", "praise": "2d", "other": "none", "question": False})
    assert dict(s.sla_seconds) == {"complaint": 1800, "praise": 172800}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"weights": {"sentiment": "high"}}, "triage.weights.sentiment must be a number"),
        ({"weights": {"sentiment": True}}, "triage.weights.sentiment must be a number"),
        ({"weights": {"sentiment": float("nan")}}, "triage.weights.sentiment must be a number"),
        ({"weights": {"sentimnet": 1.0}}, "triage.weights.sentimnet is not a known key"),
        ({"weights": [1, 2]}, "triage.weights must be a table"),
        ({"weigths": {}}, "triage.weigths is not a known key"),
        ({"age_weight": "2"}, "triage.age_weight must be a number"),
        ({"age_weight": -1}, "triage.age_weight must be 0 or more"),
        ({"age_cap_hours": 0}, "triage.age_cap_hours must be more than 0"),
        ({"urgency_words": "refund"}, "triage.urgency_words must be a list"),
        ({"extra_urgency_words": ["ok", ""]}, "triage.extra_urgency_words must be a list"),
        ({"sla": {"complaint": "soon"}}, "triage.sla.complaint must be a duration"),
        ({"sla": {"complaint": 60}}, "triage.sla.complaint must be a duration"),
        ({"sla": {"complaint": "0m"}}, "triage.sla.complaint must be longer than 0"),
        ({"sla": {"urgent": "1h"}}, "triage.sla.urgent is not a known key"),
        ({"rules": {"tag": "x"}}, "triage.rules must be an array of tables"),
        ({"rules": [{"pattern": "x"}]}, "triage.rules[1].tag must be a non-empty string"),
        ({"rules": [{"tag": "a", "pattern": "x", "weight": "1"}]}, "triage.rules[1].weight"),
        ({"rules": [{"tag": "a"}]}, "triage.rules[1] needs exactly one of"),
        ({"rules": [{"tag": "a", "pattern": "x", "keywords": ["y"]}]}, "needs exactly one of"),
        ({"rules": [{"tag": "a", "pattern": "(x"}]}, "triage.rules[1].pattern is not a valid"),
        ({"rules": [{"tag": "a", "keywords": []}]}, "triage.rules[1].keywords must not be empty"),
        ({"rules": [{"tag": "a", "keywords": "vip"}]}, "triage.rules[1].keywords must be a list"),
        ({"rules": [{"tag": "a", "pattern": "x"}, {"tag": "b", "colour": 1}]}, "rules[2].colour"),
    ],
)
def test_invalid_config_names_the_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        TriageSettings.from_config(table, BRAND)


def test_lexicon_can_be_replaced_or_extended() -> None:
    text = "@AcmeHelp my parcel is lost and I want a refund"
    base = score_row(row(text), settings())
    replaced = score_row(row(text), settings(urgency_words=["parcel"]))
    extended = score_row(row(text), settings(extra_urgency_words=["parcel", "lost"]))
    assert _detail(base, "urgency") == "refund"
    assert _detail(replaced, "urgency") == "parcel"
    assert _detail(extended, "urgency") == "parcel, lost, refund"  # order of appearance
    assert _value(extended, "urgency") == 0.875


def _part(result: Any, name: str) -> Any:
    return next(p for p in result.signals if p.name == name)


def _value(result: Any, name: str) -> float:
    return float(_part(result, name).value)


def _detail(result: Any, name: str) -> str:
    return str(_part(result, name).detail)


# -- rules ---------------------------------------------------------------------------
def test_keyword_and_pattern_rules_add_weight_and_tags() -> None:
    s = settings(
        rules=[
            {"keywords": ["fibre", "broadband"], "weight": 1.5, "tag": "network"},
            {"pattern": r"\bVIP-\d+", "weight": 3, "tag": "vip"},
            {"keywords": ["roaming"], "weight": 1, "tag": "roaming"},
        ]
    )
    result = score_row(row("@AcmeHelp fibre is slow again, account vip-123"), s)
    assert result.tags == ("network", "vip")
    assert _part(result, "rule:network").contribution == 1.5
    assert _detail(result, "rule:vip") == "matched 'vip-123'"
    plain = score_row(row("@AcmeHelp fibre is slow again, account vip-123"), settings())
    assert result.static_score == pytest.approx(plain.static_score + 4.5)
    assert score_row(row("fibrelink is great"), s).tags == ()  # whole words only


# -- combination ---------------------------------------------------------------------
def test_contributions_are_value_times_weight_and_sum_to_static_score() -> None:
    result = score_row(row("@AcmeHelp charged twice, refund NOW, worst service"), settings())
    assert [p.name for p in result.signals] == [
        "intent", "sentiment", "urgency", "direct", "reach", "repeat",
    ]  # fmt: skip
    for p in result.signals:
        assert p.contribution == pytest.approx(p.value * p.weight)
    assert result.static_score == sum(p.contribution for p in result.signals)
    assert result.intent == "complaint"


def test_each_signal_raises_the_score() -> None:
    s = settings()
    base = score_row(row("my router is broken", author_followers=0), s).static_score
    assert (
        score_row(row("@AcmeHelp my router is broken", author_followers=0), s).static_score > base
    )
    assert score_row(row("my router is broken", author_followers=10**5), s).static_score > base
    assert score_row(row("my router is broken", author_followers=0), s, 2).static_score > base
    angrier = score_row(row("my router is broken, worst company ever", author_followers=0), s)
    assert angrier.static_score > base
    urgent = score_row(row("my router is broken, no internet", author_followers=0), s)
    assert urgent.static_score > base


def test_complaints_and_questions_rank_above_praise_and_chatter() -> None:
    s = settings()
    complaint = score_row(row("@AcmeHelp no signal since Friday, sort it out"), s)
    question = score_row(row("@AcmeHelp which plan includes Netflix?"), s)
    praise = score_row(row("@AcmeHelp thank you, brilliant service!"), s)
    chatter = score_row(row("Acme's new ad is pretty funny"), s)
    assert [r.intent for r in (complaint, question, praise, chatter)] == [
        "complaint", "question", "praise", "other",
    ]  # fmt: skip
    assert complaint.static_score > question.static_score > praise.static_score
    assert question.static_score > chatter.static_score


def test_spam_sinks_below_everything_even_with_every_other_signal() -> None:
    s = settings()
    spam = score_row(
        row("@AcmeHelp URGENT refund fraud scam!!! claim your FREE iPhone http://x.example",
            author_followers=5_000_000),
        s,
        repeat_count=5,
    )  # fmt: skip
    quiet = score_row(row("Acme ad on TV", author_followers=0), s)
    assert spam.intent == "spam"
    assert _part(spam, "intent").contribution == -10.0
    assert spam.static_score < 0 <= quiet.static_score
    # even a full day of waiting does not lift it above a fresh, quiet post
    assert spam.static_score + s.age_weight < quiet.static_score


def test_weights_from_config_change_the_order() -> None:
    big_quiet = row("Acme's new ad is pretty funny", author_followers=2_000_000)
    small_question = row("@AcmeHelp which plan includes Netflix?", author_followers=3)
    default = settings()
    assert (
        score_row(small_question, default).static_score > score_row(big_quiet, default).static_score
    )
    reach_led = settings(weights={"reach": 10.0})
    assert (
        score_row(big_quiet, reach_led).static_score
        > score_row(small_question, reach_led).static_score
    )


def test_intent_weights_are_configurable() -> None:
    s = settings(weights={"praise": 5.0})
    praise = score_row(row("@AcmeHelp thank you, brilliant service!"), s)
    assert _part(praise, "intent").contribution == 5.0


# -- sentiment in the score --------------------------------------------------------------
def test_non_english_is_unscored_and_adds_no_sentiment() -> None:
    result = score_row(row("@AcmeHelp llevo tres días sin internet", language=None), settings())
    assert not result.sentiment.scored
    assert result.columns()["sentiment_scored"] == 0
    assert result.columns()["sentiment_compound"] is None
    assert _value(result, "sentiment") == 0.0
    assert _detail(result, "sentiment") == "unscored: language es (detected)"
    assert result.intent == "complaint"  # multilingual cue words still classify it


def test_platform_language_field_wins_over_detection() -> None:
    text = "@AcmeHelp worst service ever, broken again"
    assert score_row(row(text, language="en"), settings()).sentiment.scored
    assert not score_row(row(text, language="fr"), settings()).sentiment.scored


# -- SLA ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "intent", "due"),
    [
        ("@AcmeHelp no signal since Friday, sort it out", "complaint", T0 + 3600),
        ("@AcmeHelp which plan includes Netflix?", "question", T0 + 4 * 3600),
        ("Acme's new ad is pretty funny", "other", T0 + 24 * 3600),
        ("@AcmeHelp thank you, brilliant service!", "praise", None),
        ("claim your FREE iPhone http://x.example", "spam", None),
    ],
)
def test_sla_due_per_intent(text: str, intent: str, due: float | None) -> None:
    result = score_row(row(text), settings())
    assert result.intent == intent
    assert result.sla_due_ts == due


def test_sla_from_created_at_when_no_created_ts() -> None:
    r = row("@AcmeHelp which plan includes Netflix?", created_ts=None)
    r["created_at"] = "2027-01-15T08:00:00Z"
    assert score_row(r, settings()).sla_due_ts == T0 + 4 * 3600  # T0 is that instant


def test_configured_sla() -> None:
    s = settings(sla={"question": "30m", "praise": "2d"})
    assert score_row(row("@AcmeHelp which plan has Netflix?"), s).sla_due_ts == T0 + 1800
    assert score_row(row("@AcmeHelp thank you, brilliant!"), s).sla_due_ts == T0 + 2 * 86400
    assert DEFAULT_SLA["question"] == 14400  # defaults untouched


# -- stored form ----------------------------------------------------------------------
def test_columns_are_exactly_the_store_triage_columns() -> None:
    s = settings(rules=[{"keywords": ["router"], "weight": 1, "tag": "hardware"}])
    cols = score_row(row("@AcmeHelp my router is dead, refund please"), s, 2).columns()
    assert set(cols) == set(TRIAGE_COLUMNS)
    payload = decode_signals(cols["signals"])
    assert payload["tags"] == ["hardware"]
    assert payload["repeat_count"] == 2
    assert [p[0] for p in payload["signals"]][-1] == "rule:hardware"
    assert sum(p[3] for p in payload["signals"]) == pytest.approx(cols["static_score"])
    assert cols["sentiment_scored"] == 1 and cols["intent"] == "complaint"
    assert cols["triaged_at"].endswith("Z")


# -- explain (pure part) ------------------------------------------------------------
def test_waiting_term_matches_the_queue_formula() -> None:
    s = settings(age_weight=3.0, age_cap_hours=10)
    assert waiting_term(T0, T0 - 50, s).contribution == 0.0  # clock skew: never negative
    assert waiting_term(T0, T0 + 5 * 3600, s).contribution == pytest.approx(1.5)
    assert waiting_term(T0, T0 + 10 * 3600, s).contribution == pytest.approx(3.0)
    assert waiting_term(T0, T0 + 99 * 3600, s).contribution == pytest.approx(3.0)  # capped


def test_explain_flags_a_stale_stored_score() -> None:
    s = settings()
    r = row("@AcmeHelp which plan includes Netflix?")
    r.update(score_row(r, s).columns())
    parts = explain(r, settings(weights={"question": 9.0}), T0)
    stale = [p for p in parts if p.name == "stale"]
    assert len(stale) == 1 and "triage --all" in stale[0].detail
    assert sum(p.contribution for p in parts) == pytest.approx(r["static_score"])
    fresh = explain(r, s, T0)
    assert [p.name for p in fresh][-1] == "waiting" and not any(p.name == "stale" for p in fresh)


def test_score_rows_matches_score_row() -> None:
    import pathlib

    path = pathlib.Path(__file__).parent.parent / "data" / "labelled_mentions.jsonl"
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines()][:80]
    s = settings()
    counts = [n % 4 for n in range(len(rows))]
    batch = score_rows(rows, s, counts)
    single = [score_row(r, s, n) for r, n in zip(rows, counts, strict=True)]
    assert [(b.intent, b.static_score, b.signals) for b in batch] == [
        (x.intent, x.static_score, x.signals) for x in single
    ]


def test_score_rows_leaves_the_garbage_collector_as_it_found_it() -> None:
    """The batch pauses the collector; it runs again after, also after an error."""
    import gc

    s = settings()
    assert gc.isenabled()
    score_rows([row("@AcmeHelp my bill is wrong")], s)
    assert gc.isenabled()
    with pytest.raises(AttributeError):
        score_rows([None], s)  # type: ignore[list-item]
    assert gc.isenabled()
    gc.disable()
    try:
        score_rows([row("thanks @AcmeHelp")], s)
        assert not gc.isenabled()
    finally:
        gc.enable()
