"""The fast VADER path gives bit-identical scores to stock ``vaderSentiment`` on every text.

``socialcare.triage.sentiment`` reimplements ``polarity_scores`` to skip its
repeated work (emoji pass, per-helper lowercasing, words outside the lexicon).
These tests compare it with the stock analyzer on every text we have, and on
hypothesis-generated texts built from the words VADER's rules look at:
negations, boosters, ALL CAPS, "but", "!" and "?", emoji and idioms.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from socialcare.triage import sentiment as sent

pytestmark = pytest.mark.store_free

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
SHARED = ROOT.parent / "shared" / "data"
STOCK = SentimentIntensityAnalyzer()


def _jsonl_texts(path: Path) -> list[str]:
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return [str(r["text"]) for r in rows if isinstance(r.get("text"), str)]


def _shared_texts() -> list[str]:
    """Every line of text under shared/data (the VADER ground-truth tweets and the like)."""
    texts: list[str] = []
    if not SHARED.is_dir():
        return texts
    for path in sorted(SHARED.rglob("*")):
        if path.suffix not in (".txt", ".jsonl", ".tsv", ".csv") or not path.is_file():
            continue
        for line in path.read_text("utf-8", errors="replace").splitlines():
            if path.suffix == ".jsonl":
                try:
                    value = json.loads(line).get("text")
                except (ValueError, AttributeError):
                    value = None
                if isinstance(value, str):
                    texts.append(value)
            else:
                texts.append(line.split("\t")[-1])
    return texts


def _assert_same(text: str) -> None:
    assert sent.vader_scores(text) == STOCK.polarity_scores(text), repr(text)


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.jsonl")))
def test_identical_on_every_test_data_text(name: str) -> None:
    for text in _jsonl_texts(DATA / name):
        _assert_same(text)


def test_identical_on_every_shared_data_text() -> None:
    texts = _shared_texts()
    if not texts:
        pytest.skip(f"{SHARED} not found")
    for text in texts:
        _assert_same(text)


def test_identical_on_emoji_next_to_words_spaces_and_emoji() -> None:
    """The emoji pass: a space before a description unless at the start or after a space."""
    for text in [
        "😍", " 😍", "😍😍", "love it😍", "love it 😍", "love it😍!", "😍love", "a\t😍",
        "bad 😡😡 service", "👍👎", "no 👍", "not 😀 at all", "🙏 please", "ok 🙄 but fine",
        "NOT happy 😠!!", "£20 charged twice 😤", "café 😀 ☕", "©®", "x\u00a0😍",
    ]:  # fmt: skip
        _assert_same(text)


_EMOJI = sorted(k for k in STOCK.emojis if len(k) == 1)
_WORDS = [
    # lexicon words, positive and negative, and their capitals
    "good", "GOOD", "great", "bad", "BAD", "love", "hate", "terrible", "happy", "sad",
    "ok", "okay", "fine", "awful", "nice", "worst", "best", "lol", "sux", "no", "NO",
    ":)", ":(", ":D", "<3", "(:", ";)",
    # negations and their neighbours
    "not", "never", "isn't", "don't", "without", "doubt", "nor", "or", "cant", "n't",
    "nothing", "uh-uh", "least", "at", "very", "so", "this",
    # boosters and dampeners, phrases of both
    "really", "REALLY", "extremely", "kind", "of", "sort", "kinda", "barely", "just",
    "enough", "most", "less",
    # special cases and idioms
    "the", "shit", "bomb", "bad", "ass", "badass", "yeah", "right", "kiss", "death",
    "to", "die", "for", "bus", "stop", "beating", "heart", "cut", "mustard",
    # contrast and plain words
    "but", "BUT", "But", "service", "wifi", "@AcmeHelp", "http://x.co/y", "#fail",
    "I", "my", "it", "was", "is", "and",
]  # fmt: skip
_PUNCT = ["", "", "", "!", "!!", "!!!!!", "?", "??", "????", ".", ",", "...", "'", '"', "-"]

_token = st.one_of(
    st.tuples(st.sampled_from(_WORDS), st.sampled_from(_PUNCT)).map("".join),
    st.sampled_from(_EMOJI),
    st.sampled_from(["😍", "😡", "👍", "🙏", "🙄", "❤"]),
    st.text(alphabet="abcXYZ!?.:;'()-😀é", min_size=1, max_size=4),
)
_separator = st.sampled_from([" ", " ", " ", "  ", "", "\t", "\n", "\u00a0"])


@st.composite
def _texts(draw: st.DrawFn) -> str:
    tokens = draw(st.lists(_token, min_size=0, max_size=14))
    out = draw(st.sampled_from(["", " ", "  "]))
    for tok in tokens:
        out += tok + draw(_separator)
    return out


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts())
def test_identical_on_generated_texts(text: str) -> None:
    _assert_same(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_identical_on_arbitrary_text(text: str) -> None:
    _assert_same(text)


#: stock's score names, in the order of _score_valence's tuple
_KEYS = ("neg", "neu", "pos", "compound")
_SENTIMENT = st.one_of(
    st.sampled_from([0, 0.0, -0.0, 1.9, -1.9, 2.5, -0.8, 0.3]),
    st.floats(-4.0, 4.0, allow_nan=False),
)


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(_SENTIMENT, min_size=1, max_size=8),
    st.lists(st.sampled_from([0, 0.0, -0.0]), max_size=4),
    st.text(alphabet="!?a ", max_size=8),
)
def test_remembered_valence_scores_equal_stock(
    sentiments: list[float], zeros: list[float], text: str
) -> None:
    """_score_valence's memo (keyed by the nonzero sentiments, the zeros counted) against
    stock score_valence: the same sentiments with their zeros moved share a key."""
    nonzero, zero = [s for s in sentiments if s], [s for s in sentiments if not s]
    for case in (sentiments, zero + nonzero, nonzero + zeros + zero, sentiments):
        got = dict(zip(_KEYS, sent._score_valence(list(case), text), strict=True))
        expected = STOCK.score_valence(list(case), text)
        assert repr(got) == repr(expected), (case, text)
