"""Sentiment: VADER for English, unscored otherwise; the language decision."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from socialcare.triage import sentiment as sent
from socialcare.triage.sentiment import analyse, decide_language

pytestmark = pytest.mark.store_free

DATA = Path(__file__).parent.parent / "data"


@pytest.mark.parametrize(
    ("text", "platform", "expected"),
    [
        ("my internet is down again", "en", ("en", "platform")),
        ("my internet is down again", "EN-gb", ("en", "platform")),
        ("my internet is down again", "es", ("es", "platform")),  # platform wins
        ("llevo tres días sin internet en casa", "en", ("en", "platform")),
        ("llevo tres días sin internet en casa", None, ("es", "detected")),
        ("llevo tres días sin internet en casa", "und", ("es", "detected")),
        ("llevo tres días sin internet en casa", "zxx", ("es", "detected")),
        ("ok thanks", None, ("en", "short")),
        ("outage?", None, ("en", "short")),
        ("@AcmeHelp 👍 http://x.example/abc", None, ("en", "short")),
        ("", None, ("en", "short")),
        ("why was I charged twice for this month", None, ("en", "stopwords")),
        ("ネットが繋がりません、確認してください", None, ("ja", "detected")),
        ("роутер не работает уже третий день, помогите пожалуйста", None, ("ru", "detected")),
    ],
)
def test_decide_language(text: str, platform: str | None, expected: tuple[str, str]) -> None:
    assert decide_language(text, platform) == expected


def test_non_english_is_unscored_not_neutral() -> None:
    result = analyse("@AcmeHelp llevo tres días sin internet y nadie me responde")
    assert result.language == "es"
    assert not result.scored
    assert (result.compound, result.pos, result.neu, result.neg) == (None, None, None, None)


def test_platform_language_wins_over_detection() -> None:
    spanish = "@AcmeHelp llevo tres días sin internet y nadie me responde"
    assert analyse(spanish, "en").scored  # platform says English: score it
    english = "my router is broken and I am furious about it"
    told_german = analyse(english, "de")
    assert not told_german.scored and told_german.language_source == "platform"


def test_english_is_scored_like_vader() -> None:
    text = "@AcmeHelp worst service ever, still no internet!!"
    result = analyse(text, "en")
    expected = SentimentIntensityAnalyzer().polarity_scores(text)
    assert result.scored
    assert result.compound == expected["compound"] < -0.5
    assert (result.pos, result.neu, result.neg) == (
        expected["pos"],
        expected["neu"],
        expected["neg"],
    )


def _texts() -> list[str]:
    labelled = DATA / "labelled_mentions.jsonl"
    short = DATA / "short_multilingual.jsonl"
    rows = [json.loads(line) for p in (labelled, short) for line in p.read_text().splitlines()]
    extra = [
        "  padded  text :) ", "I LOVE it!!! 😍", "kind of ok", "not bad at all", "",
        "The service is not very good, but the staff were kind of nice :(",
        "café’s wifi is “fine” — sort of",
    ]  # fmt: skip
    return [r["text"] for r in rows] + extra


def test_fast_vader_path_is_identical_to_stock_vader() -> None:
    stock = SentimentIntensityAnalyzer()
    for text in _texts():
        assert sent.vader_scores(text) == stock.polarity_scores(text), text


def test_short_multilingual_set_decisions() -> None:
    """Regression guard for the figures in sentiment.py's docstring (40/40, 96/100)."""
    rows = [json.loads(x) for x in (DATA / "short_multilingual.jsonl").read_text().splitlines()]
    decided = [(r["lang"], decide_language(r["text"])[0]) for r in rows]
    english_kept = sum(1 for gold, got in decided if gold == "en" and got == "en")
    caught = sum(1 for gold, got in decided if gold != "en" and got != "en")
    assert english_kept == 40
    assert caught >= 95
