"""Each misfire class of zero-label triage, with sentences of our own (not the issue's)."""

from __future__ import annotations

from typing import Any

import pytest

from socialcare.triage import TriageSettings, score_row
from socialcare.triage import signals as sig
from socialcare.triage.sentiment import brand_pattern, text_for_sentiment, vader_scores

pytestmark = pytest.mark.store_free

TELECOM = TriageSettings.from_config({}, ["JoyHelp"])
TRAVEL = TriageSettings.from_config({"domains": ["travel"]}, ["JoyHelp"])


def row(text: str, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"text": text, "language": "en", "author_followers": 10, "query": "joy"}
    base.update(extra)
    return base


def part(result: Any, name: str) -> Any:
    return next(p for p in result.signals if p.name == name)


# -- sentiment reads the text without handles, links and brand names ------------------
@pytest.mark.parametrize(
    ("text", "without"),
    [
        ("@Joy my order is late", "my order is late"),  # "joy" is a VADER word (+)
        ("Joy lost my order", "lost my order"),  # the brand's name from its handle JoyHelp
        ("@JoyHelp @Joy please see https://x.example/a", "please see"),
    ],
)
def test_sentiment_ignores_handles_links_and_brand_names(text: str, without: str) -> None:
    s = TriageSettings.from_config({}, ["JoyHelp", "Joy"])
    result = score_row(row(text), s)
    assert result.sentiment.compound == vader_scores(without)["compound"]
    assert vader_scores(text)["compound"] != vader_scores(without)["compound"]


def test_brand_names_from_config_are_removed_too() -> None:
    s = TriageSettings.from_config({"brand_names": ["Sunshine Air"]}, ["SunAirHelp"])
    assert (
        score_row(row("Sunshine Air cancelled my trip"), s).sentiment.compound
        == (vader_scores("cancelled my trip")["compound"])
    )
    assert brand_pattern([]) is None


# -- sarcasm --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("@JoyHelp fantastic, my router is broken again", "complaint"),
        ("@JoyHelp wonderful work losing my parcel", "complaint"),
        ("@JoyHelp the 'express' delivery took nine days", "complaint"),  # praise in quotes
        ('@JoyHelp so your "support" team hung up on me', "complaint"),
        ("@JoyHelp oh lovely, the app is frozen", "complaint"),
        # honest praise next to a problem: a "but", or something put right
        ("@JoyHelp router was broken but the engineer was brilliant", "praise"),
        ("@JoyHelp thanks for sorting my broken router so quickly", "praise"),
        ("@JoyHelp great, my missing parcel was found", "praise"),
    ],
)
def test_sarcastic_praise_is_a_complaint(text: str, intent: str) -> None:
    assert score_row(row(text), TELECOM).intent == intent


def test_sarcasm_counts_as_negative_sentiment() -> None:
    result = score_row(row("@JoyHelp fantastic, my router is broken again"), TELECOM)
    sentiment = part(result, "sentiment")
    assert result.sentiment.compound is not None and result.sentiment.compound > 0
    assert sentiment.value == pytest.approx(result.sentiment.compound)
    assert "sarcastic" in sentiment.detail
    assert sig.sarcasm("the router is broken but the engineer was brilliant") is None


# -- positive slang and names are not anger -------------------------------------------
@pytest.mark.parametrize(
    "text",
    ["wicked fast delivery, cheers", "damn good coffee on board", "the crew killed it tonight",
     "sick new phone mate", "bloody brilliant engineer"],
)  # fmt: skip
def test_positive_slang_reads_positive(text: str) -> None:
    stock = vader_scores(text)["compound"]  # stock VADER reads it as anger or near neutral
    assert vader_scores(text_for_sentiment(text))["compound"] > max(stock, 0.0) + 0.2


@pytest.mark.parametrize("text", ["I feel sick", "sick of waiting", "Awful Service Again"])
def test_literal_negative_words_stay_negative(text: str) -> None:
    assert vader_scores(text_for_sentiment(text))["compound"] < 0


@pytest.mark.parametrize(
    "text",
    [
        "@JoyHelp pour me a Bloody Caesar for the match",
        "@JoyHelp we watched Bad Santa on the way home",
    ],
)
def test_negative_words_inside_names_make_no_complaint(text: str) -> None:
    assert score_row(row(text), TELECOM).intent != "complaint"


def test_a_negative_compound_alone_is_no_complaint() -> None:
    assert sig.classify_intent("@JoyHelp that finale was killer", -0.7, direct=True) == "other"
    assert sig.classify_intent("my signal here is so bad", -0.7) == "complaint"  # first person


# -- urgency words in context ------------------------------------------------------------
@pytest.mark.parametrize(
    ("settings", "text", "urgent"),
    [
        (TELECOM, "@JoyHelp this phone never lets me down", ""),
        (TELECOM, "@JoyHelp calm down everyone, great match", ""),
        (TELECOM, "@JoyHelp the network is down again", "down"),
        (TELECOM, "@JoyHelp broadband down since 7am", "down"),
        (TELECOM, "@JoyHelp your shop helped me in an emergency, thank you", ""),
        (TELECOM, "@JoyHelp not an emergency but how do I add a line", ""),
        (TRAVEL, "@JoyHelp no delays at all on my trip, thanks", ""),
        (TRAVEL, "@JoyHelp train delayed 2 hours and no information", "delayed"),
    ],
)
def test_urgency_words_need_their_context(settings: TriageSettings, text: str, urgent: str) -> None:
    urgency = part(score_row(row(text), settings), "urgency")
    assert (urgency.detail if urgency.value else "") == urgent


def test_urgency_counts_only_when_an_answer_is_needed() -> None:
    praise = score_row(row("@JoyHelp refund arrived already, brilliant, thank you"), TELECOM)
    assert praise.intent == "praise"
    urgency = part(praise, "urgency")
    assert urgency.value == 0.0 and "not counted: praise" in urgency.detail


# -- questions need a real interrogative ---------------------------------------------------
@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("What a match!", False),  # exclamative
        ("How lovely is this view", False),
        ("(Gareth?)", False),  # "?" after fewer than 3 words
        ("Loving it?", False),
        ("I want to sleep for a week", False),
        ("the new tariff includes roaming?", True),  # "?" closing a clause of 5 words
        ("Hang on, is my order even shipped", True),  # aux verb at clause start
        ("What time does the shop open", True),
    ],
)
def test_questions_need_an_interrogative(text: str, question: bool) -> None:
    assert sig.is_question(text) is question


# -- a problem word survives a positive compound ------------------------------------------
def test_a_problem_word_survives_a_positive_compound() -> None:
    text = "@JoyHelp my parcel is damaged, have a good weekend"
    assert sig.classify_intent(text, 0.6, direct=True) == "complaint"


# -- repeat contact ---------------------------------------------------------------------------
def test_repeat_contact_does_not_lift_chatter() -> None:
    chatter = score_row(row("Joy's new advert is fun"), TELECOM, repeat_count=3)
    complaint = score_row(row("@JoyHelp my router is broken"), TELECOM, repeat_count=3)
    assert part(chatter, "repeat").contribution == 0.0
    assert part(complaint, "repeat").contribution == pytest.approx(1.5)
