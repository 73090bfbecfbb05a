"""The per-token word memos give exactly the words of the whole-text tokenisers.

``signals.words`` and ``learned._words`` remember each whitespace-separated
token's words; these tests compare them with the whole-text regexes they
replace, on every data text and on hypothesis texts with handles, links,
digits, apostrophes, hyphens, capitals, Greek sigma and odd whitespace.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcare.triage import learned, signals

pytestmark = pytest.mark.store_free

DATA = Path(__file__).resolve().parents[2] / "tests" / "data"
_TOKEN = re.compile(r"\w+(?:['-]\w+)*")


def _matcher_words(text: str) -> list[str]:
    """What signals.words returned before the memo: one regex over the lowercased text."""
    low = text.lower().replace("’", "'")
    return _TOKEN.findall(low)


def _same(text: str) -> None:
    signals._TEXT_WORDS.clear()
    assert signals.words(text) == _matcher_words(text), repr(text)
    assert learned._words(text) == learned._text_words(text), repr(text)


def test_same_words_on_every_data_text() -> None:
    for path in sorted(DATA.glob("*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            text = json.loads(line).get("text")
            if isinstance(text, str):
                _same(text)


def test_same_words_on_edge_cases() -> None:
    for text in [
        "", "   ", "@AcmeHelp hi", "a@b.com @x_y! (@z)", "see http://x.co/a?b=1 now",
        "WWW.Example.com/x", "£20 x2 3rd 2024-01-01", "don’t can't rock'n'roll rip-off",
        "ΣΑΣ ΟΔΟΣ Σ", "İstanbul ǅemal", "a\u00a0b\u2003c\x1cd", "١٢٣ digits ٤", "x'", "'y",
        "<link> <b>bold</b>", "under_score snake_case", "https://a.b/@handle",
    ]:  # fmt: skip
        _same(text)


_PIECES = st.sampled_from(
    [
        "@AcmeHelp",
        "@x_1",
        "http://t.co/Ab1",
        "www.x.com",
        "don't",
        "It’s",
        "rip-off",
        "ΣΑΣ",
        "Σ",
        "é",
        "Straße",
        "12",
        "٣",
        "<",
        ">",
        "'",
        "-",
        "_",
        "!",
        "?",
        "😀",
        "OK",
        "bill",
        "a@b",
        "#tag",
        "(",
        ")",
        "/",
    ]  # fmt: skip
)
_SEP = st.sampled_from([" ", "", "", "\t", "\n", "\u00a0", "\u2003", "  "])


@st.composite
def _texts(draw: st.DrawFn) -> str:
    out = ""
    for piece in draw(st.lists(st.one_of(_PIECES, st.text(max_size=3)), max_size=12)):
        out += piece + draw(_SEP)
    return out


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts())
def test_same_words_on_generated_texts(text: str) -> None:
    _same(text)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40))
def test_same_words_on_arbitrary_text(text: str) -> None:
    _same(text)


_FALLBACK_TERMS = ["10/10", "/s", "🙄", "5/5 stars", "a+ service", "24/7*"]
_MATCHER = signals.TermMatcher({"x": _FALLBACK_TERMS})


def _found_without_needles(text: str) -> dict[str, list[signals.Match]]:
    m = signals.TermMatcher({"x": _FALLBACK_TERMS})
    m._fallback = [(n, p, f, None) for n, p, f, _ in m._fallback]
    return m.find(text)


def test_fallback_terms_still_found_with_their_substring_precheck() -> None:
    signals._TEXT_WORDS.clear()
    assert [m.term for m in _MATCHER.find("Rated 10/10, would fly again /S 🙄")["x"]] == [
        "10/10", "/s", "🙄",
    ]  # fmt: skip
    assert "x" not in _MATCHER.find("order 1010 on 10/1 for 10 / 10")


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(["10", "/", "1", "0", "/s", "/S", "🙄", " ", "5/5 stars",
                                 "24/7", "24/7s", "a+", "x", "A+ SERVICE"]), max_size=10))  # fmt: skip
def test_fallback_precheck_changes_no_match(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert _MATCHER.find(text) == _found_without_needles(text), repr(text)


#: digits in punctuation (the tokens' digit fast paths) and what must not take them
_DIGIT_PIECES = st.sampled_from(
    ["0", "7", "39260", "٣", "²", "(", ")", "#", "$", "£", ".", ",", ":", "/", "-", "'", "’",
     "_", "<", ">", "@", "!", "?", "a", "X", "http", "www.", "\x00", "k"]
)  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(st.lists(_DIGIT_PIECES, min_size=1, max_size=8))
def test_digit_tokens_split_like_the_regexes(pieces: list[str]) -> None:
    """Each new token's words (the memos' fill functions, called fresh) against the regexes."""
    token = "".join(pieces)
    assert signals._token_words(token) == tuple(_matcher_words(token)), repr(token)
    assert learned._token_words(token) == tuple(learned._text_words(token)), repr(token)


def test_new_tokens_filled_in_place_like_a_fresh_memo(monkeypatch: pytest.MonkeyPatch) -> None:
    """fill_new_tokens: repeated new tokens, known ones between, and a memo restart."""
    from socialcare.triage import words

    text = "@AcmeHelp 39260) bill 39260) (77) bill new-ish 39260)"
    for limit in (10**9, 1):  # 1: the memo restarts while the text is being filled
        monkeypatch.setattr(words, "TOKEN_MEMO_LIMIT", limit)
        memo: dict[str, tuple[str, ...]] = {"bill": ("bill",), "@AcmeHelp": ("acmehelp",)}

        def fill(token: str, memo: dict[str, tuple[str, ...]] = memo) -> tuple[str, ...]:
            memo[token] = tuple(_matcher_words(token))
            return memo[token]

        assert words.memo_words(text, memo, fill) == _matcher_words(text)
        assert words.memo_words(text, memo, fill) == _matcher_words(text)  # all known now
