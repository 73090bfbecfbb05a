"""Each urgency signal on its own: ranges, edges, and the intent rules."""

from __future__ import annotations

import json

import pytest

from socialcare.triage import signals as sig

pytestmark = pytest.mark.store_free

BRAND = frozenset({"acmehelp", "acme_uk"})
HANDLES = sig.handles_pattern(BRAND)


@pytest.mark.parametrize(
    ("compound", "expected"),
    [(None, 0.0), (0.9, 0.0), (0.0, 0.0), (-0.05, 0.05), (-0.5, 0.5), (-1.0, 1.0), (-1.5, 1.0)],
)
def test_negative_strength(compound: float | None, expected: float) -> None:
    assert sig.negative_strength(compound) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("followers", "expected"),
    [
        (None, 0.0), (0, 0.0), (-5, 0.0), (float("nan"), 0.0), (9, 1 / 6), (999, 0.5),
        (999_999, 1.0), (50_000_000, 1.0),
    ],
)  # fmt: skip
def test_reach_is_log_scaled_and_clamped(followers: float | None, expected: float) -> None:
    assert sig.reach(followers) == pytest.approx(expected)


@pytest.mark.parametrize(("n", "expected"), [(-1, 0.0), (0, 0.0), (1, 1 / 3), (3, 1.0), (10, 1.0)])
def test_repeat_contact_saturates_at_three(n: int, expected: float) -> None:
    assert sig.repeat_contact(n) == pytest.approx(expected)


@pytest.mark.parametrize(("n", "expected"), [(0, 0.0), (1, 0.5), (2, 0.75), (3, 0.875)])
def test_urgency_value(n: int, expected: float) -> None:
    assert sig.urgency(["w"] * n) == expected


LEXICON = sig.TermMatcher({"urgency": sig.DEFAULT_URGENCY_WORDS})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I want a REFUND", ["refund"]),
        ("refunds please, I was Charged   Twice", ["refunds", "charged twice"]),
        ("cancelling today, cancellation form please", ["cancelling", "cancellation"]),
        ("the download page is slow", []),  # "down" only as a whole word
        ("service is down", ["down"]),
        ("#outage in Leeds", ["outage"]),
        ("my card was hacked", ["hacked"]),
        ("hackedoff", []),
        ("app not working", ["not working"]),
        ("can’t log in since Monday", ["can't log in"]),  # curly apostrophe
        ("talking to my lawyer and legal team", ["lawyer", "legal"]),
        ("love the new plan", []),
    ],
)
def test_urgency_words_match_whole_words(text: str, expected: list[str]) -> None:
    assert sig.urgency_words_found(LEXICON.find(text)) == expected


def test_matcher_keeps_leftmost_longest_per_list() -> None:
    m = sig.TermMatcher({"a": ["keeps dropping", "keeps", "drop*"], "b": ["dropping"]})
    found = m.find("wifi keeps dropping, drops again")
    assert [x.term for x in found["a"]] == ["keeps dropping", "drops"]
    assert [x.term for x in found["b"]] == ["dropping"]  # lists do not shadow each other


def test_matcher_falls_back_to_regex_for_non_words() -> None:
    m = sig.TermMatcher({"p": ["10/10", "🙄"]})
    assert [x.term for x in m.find("10/10 would recommend")["p"]] == ["10/10"]
    assert "p" not in m.find("110/100")


@pytest.mark.parametrize(
    ("text", "query", "raw", "expected"),
    [
        ("@AcmeHelp my bill", "acme", None, 1.0),
        ("hey @acmehelp!", "", None, 1.0),
        (".@ACME_UK what now", "", None, 1.0),
        ("@AcmeHelpers are great", "", None, 0.0),  # a different account
        ("email me at x@acmehelp.com", "", None, 0.0),
        ("Acme's new ad is funny", "acme", None, 0.0),
        ("Acme's new ad is funny", "mentions", None, 1.0),
        ("Acme's new ad is funny", "inbox:mentions", None, 1.0),
        ("yes that one", "", '{"in_reply_to_screen_name": "AcmeHelp"}', 1.0),
        ("yes that one", "", '{"in_reply_to": {"username": "acme_uk"}}', 1.0),
        ("yes that one", "", {"parent_author": "acmehelp"}, 1.0),
        ("yes that one", "", '{"in_reply_to_screen_name": "someone_else"}', 0.0),
        ("yes that one", "", "{not json in_reply_to", 0.0),
        ("yes that one", "", "{}", 0.0),
    ],
)
def test_direct_address(text: str, query: str, raw: object, expected: float) -> None:
    value, why = sig.direct_address(text, HANDLES, BRAND, query=query, raw=raw)
    assert value == expected
    assert why == "passing mention" if expected == 0.0 else why != "passing mention"


def test_direct_address_without_brand_handles() -> None:
    assert sig.direct_address("@AcmeHelp hi", None, frozenset())[0] == 0.0


@pytest.mark.parametrize(
    ("text", "spam"),
    [
        ("Earn $5000 a week from home!!! DM me now http://bit.ly/xyz", True),
        ("Claim your FREE iPhone now http://acme-rewards.example", True),
        ("follow back for follow back f4f", True),
        ("Gana 500€ al día con bitcoin http://bit.ly/g", True),
        ("@AcmeHelp please DM me, I was charged twice", False),  # one cue, no link
        ("@AcmeHelp your promo code SAVE20 does not work, see http://acme.example/offer", False),
        ("@AcmeHelp you guaranteed 100Mbps, I get 5 http://speedtest.example/r/1", False),
        ("my bill is $45 a month higher", False),
    ],
)
def test_is_spam(text: str, spam: bool) -> None:
    assert sig.is_spam(text) is spam


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("Does Acme do student discounts?", True),
        ("@AcmeHelp how do I get my PAC code", True),  # no question mark
        ("@AcmeHelp hi, moving to Spain, which add-on should I get", True),  # mid-post
        ("@AcmeHelp ¿cómo cambio mi tarifa", True),
        ("@AcmeHelp please let me know when the engineer is coming", True),  # a request
        ("Who else remembers the old Acme ads?", False),  # rhetorical
        ("Was told it would be fixed by Friday", False),
        ("Do not buy the Acme hub", False),
        ("Can't wait for the new phone", False),
        ("see http://acme.example/faq?id=3", False),  # "?" only inside a link
    ],
)
def test_is_question(text: str, question: bool) -> None:
    assert sig.is_question(text) is question


@pytest.mark.parametrize(
    ("text", "compound", "direct", "intent"),
    [
        # complaints: with and without urgency words, sarcasm, rhetorical questions
        ("@AcmeHelp charged twice and nobody answers", -0.3, True, "complaint"),
        ("@AcmeHelp the engineer didn't turn up. Again.", 0.0, True, "complaint"),
        ("Great, another outage. Love paying for nothing", 0.85, False, "complaint"),
        ("@AcmeHelp how many more times do I have to call", 0.0, True, "complaint"),
        ("@AcmeHelp why does my internet stop working every evening", 0.0, True, "complaint"),
        ("@AcmeHelp llevo tres días sin internet y nadie responde", None, True, "complaint"),
        # questions, including one with a single problem word ("cancel")
        ("@AcmeHelp how do I cancel my contract", 0.0, True, "question"),
        ("@AcmeHelp is wifi calling supported on the Pixel 8", 0.3, True, "question"),
        ("@AcmeHelp comment changer mon forfait ?", None, True, "question"),
        # praise, including praise with "down" and negated negatives
        ("Huge thanks @AcmeHelp, sorted in five minutes!", 0.85, True, "praise"),
        ("@AcmeHelp never let me down in 6 years, best network", 0.64, True, "praise"),
        ("Internet was down 10 min but @AcmeHelp fixed it fast, brilliant", 0.6, True, "praise"),
        ("Can't fault @AcmeHelp today, sorted a stolen phone in an hour", -0.24, True, "praise"),
        ("Merci @AcmeHelp pour le dépannage rapide", None, True, "praise"),
        # spam and other
        ("Claim your FREE iPhone now http://x.example", 0.5, False, "spam"),
        ("Acme stock down 3% after the outage reports", -0.3, False, "other"),
        ("Acme's new ad is pretty funny ngl", 0.7, False, "other"),
        ("@AcmeHelp ok", 0.3, True, "other"),
    ],
)
def test_classify_intent(text: str, compound: float | None, direct: bool, intent: str) -> None:
    assert sig.classify_intent(text, compound, direct=direct) == intent


def test_first_person_makes_a_passing_post_a_complaint() -> None:
    text = "my Acme router is broken again, useless"
    assert sig.classify_intent(text, -0.5, direct=False) == "complaint"
    assert sig.classify_intent("the Acme router is broken again, useless", -0.5) == "other"


def test_complaint_cues_mark_weak_words_and_drop_negated_praise() -> None:
    assert sig.complaint_cues("still no internet") == ["no internet", "(still)", "(no)"]
    assert sig.complaint_cues("no complaints, can't fault them") == []
    assert "isn't sorted" in sig.complaint_cues("it isn't sorted yet")
    assert sig.complaint_strength(["broken", "(not)"]) == 1.5
    assert sig.praise_cues("it isn't sorted") == []


def test_intents_are_the_documented_five() -> None:
    assert set(sig.INTENTS) == {"complaint", "question", "praise", "spam", "other"}
    assert json.dumps(sig.INTENTS)  # plain strings, storable


def test_matcher_memo_restart_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "@AcmeHelp still no internet, cancelling, thanks for nothing"
    expected = sig.TermMatcher(sig.CUES, sig.PRESENCE_CUES).find(text)
    small = sig.TermMatcher(sig.CUES, sig.PRESENCE_CUES)
    monkeypatch.setattr(small, "MEMO_SIZE", 2)
    assert small.find(text) == expected
    assert small.find(text) == expected  # again, through the restarted memo
