"""The scorer's fast paths give exactly what the straightforward code gives.

Each speed-up of issue 19's scorer keeps a plain reference beside it, and
these tests compare the two on hypothesis-generated input, bit for bit:

* the learned model's ``predict_explain``, ``predict_line`` and ``predict_lines``
  (one set intersection for words and pairs, looked up for the whole batch at once,
  one global rank of the weights, explanation words built once per feature and
  lines remembered by their hits) against the feature dict summed with ``math.fsum`` and explained by sorting every
  contribution, on a model with tied weights and every kind of feature;
* VADER's emoji pass (a position scan) against the regex substitution;
* the sarcasm pre-test's quote-mark gate against the bare regex, the clauses
  each "?" closes (one pass over the marks) against the quadratic regex, and the
  clause-opening regex (lookaheads on the openings' first characters) against
  itself without them, and every opening's text against that lookahead;
* the batch sentiment passes (``analyse_many``) against ``analyse`` text by text,
  the capitalised-word regex (capital first) against its lookbehind-first form,
  the brand-name regex (each name before its lookbehind) against the lookbehind
  first, the slang pre-check (``in`` tests) against its regex alternation, and the
  batch path's slang gate (a flag of each remembered VADER token) against the slang step;
* the cue matcher (words tested by a comprehension, one-word phrase tails taken
  as matched, the fallback regexes behind one substring gate) against its plain
  loop, with the built-in cues and every pack, and
  intent's problem strength (terms counted) against the complaint cue strings;
* language detection's ASCII letter count (bytes.translate) against str.translate.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcare.triage import BUILTIN_DOMAINS, TriageSettings, learned, signals
from socialcare.triage import sentiment as sent
from socialcare.triage.learned import LearnedModel, features

pytestmark = pytest.mark.store_free

#: words, pairs, the question mark, intents and signals; ties in |weight| on purpose
#: (0.5 and -0.5, 1.25 thrice), so the top words are cut by name as well as by weight
MODEL = LearnedModel(
    weights={
        "w:cancelled": 1.25,
        "w:refund": 1.25,
        "w:thanks": -1.25,
        "w:love": -0.5,
        "w:bill": 0.5,
        "w:my": 0.125,
        "w:0": 0.3,
        "w:<link>": -0.7,
        "w:don't": 0.2,
        "w:?": 0.6,
        "b:my bill": 0.9,
        "b:flight cancelled": 1.1,
        "b:thanks for": -0.5,
        "b:0 hours": 0.4,
        "s:intent=complaint": 1.8,
        "s:intent=question": 1.25,
        "s:intent=praise": -2.5,
        "s:sentiment": 0.35,
        "s:urgency": -0.1,
        "s:direct": 1.5,
        "s:reach": 0.35,
    },
    intercept=-0.4,
    trained_at="2026-01-01T00:00:00Z",
    positives=100,
    negatives=100,
    cv_auc=0.9,
)

_WORDS = st.sampled_from(
    [
        "cancelled", "refund", "thanks", "love", "bill", "my", "flight", "for", "hours",
        "12", "don't", "don’t", "?", "http://t.co/x?y", "www.x.com/a?b", "@AcmeHelp",
        "Cancelled!", "MY", "BILL", "again", "😀", "naïve", "(order", "39260)", "?!",
    ]
)  # fmt: skip
_VALUE = st.one_of(
    st.just(0.0), st.floats(-1.0, 1.0, allow_nan=False), st.just(1), st.just(True), st.just("x")
)


@st.composite
def _texts(draw: st.DrawFn) -> str:
    return " ".join(draw(st.lists(_WORDS, max_size=14)))


@st.composite
def _values(draw: st.DrawFn) -> dict[str, float | str]:
    out: dict[str, float | str] = {}
    intent = draw(st.sampled_from(["complaint", "question", "praise", "other", "", None]))
    if intent is not None:
        out["intent"] = intent
    for name in ("sentiment", "urgency", "direct", "reach"):
        if draw(st.booleans()):
            out[name] = draw(_VALUE)
    return out


def _reference(text: str, values: dict[str, float | str], top: int) -> tuple[float, str]:
    """The straightforward path: every feature, exactly summed, every contribution sorted."""
    feats = features(text, values)
    weights = MODEL.weights
    terms = [MODEL.intercept] + [weights[f] * v for f, v in feats.items() if f in weights]
    return learned._sigmoid(math.fsum(terms)), MODEL.explain(text, values, top=top)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts(), _values(), st.integers(1, 6))
def test_learned_fast_path_equals_the_feature_dict(
    text: str, values: dict[str, float | str], top: int
) -> None:
    expected = _reference(text, values, top)
    assert MODEL.predict_explain(text, top=top, values=values) == expected
    assert MODEL.predict_explain(text, values, top=top) == expected
    assert MODEL.predict(text, values) == expected[0]


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts(), _values(), st.integers(1, 6))
def test_learned_scorer_path_equals_the_feature_dict(
    text: str, values: dict[str, float | str], top: int
) -> None:
    """``predict_line`` (the intent and signal values as a tuple, as score_rows has them)."""
    signals = tuple(values.get(name) for name in learned.SIGNAL_FEATURES)
    got = MODEL.predict_line(text, values.get("intent"), signals, top)  # type: ignore[arg-type]
    assert got == _reference(text, values, top)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_texts(), _values()), max_size=6), st.integers(-1, 6))
def test_learned_batch_path_equals_the_feature_dict(
    batch: list[tuple[str, dict[str, float | str]]], top: int
) -> None:
    """``predict_lines`` (score_rows' whole batch in one loop) against each text's reference."""
    texts = [text for text, _ in batch]
    intents = [values.get("intent") for _, values in batch]
    rows = [tuple(values.get(name) for name in learned.SIGNAL_FEATURES) for _, values in batch]
    got = MODEL.predict_lines(texts, intents, rows, top)  # type: ignore[arg-type]
    split = [text.split() for text in texts]  # as score_rows hands them over
    assert MODEL.predict_lines(texts, intents, rows, top, tokens=split) == got  # type: ignore[arg-type]
    if top <= 0:
        assert got == [
            MODEL.predict_line(*args, top) for args in zip(texts, intents, rows, strict=True)
        ]  # type: ignore[arg-type]
    else:
        assert got == [_reference(text, values, top) for text, values in batch]


def test_learned_lines_remembered_keep_the_sign_of_a_zero() -> None:
    """A reach of +-5e-324 contributes 0.0 or -0.0 (one memo key): each keeps its own line."""
    texts = ["thanks", "thanks", "thanks"]
    rows = [(None, None, None, 5e-324), (None, None, None, -5e-324), (None, None, None, 5e-324)]
    got = MODEL.predict_lines(texts, [None, None, None], rows, 3)  # type: ignore[arg-type]
    assert [line for _, line in got] == [
        "'thanks' -1.2, reach signal +0.0",
        "'thanks' -1.2, reach signal -0.0",
        "'thanks' -1.2, reach signal +0.0",
    ]
    assert got == [_reference(t, {"reach": r[3]}, 3) for t, r in zip(texts, rows, strict=True)]


def test_learned_ties_are_cut_by_name() -> None:
    """Words and an intent of weight 1.25 (one down): the top two are the first by name."""
    _, line = MODEL.predict_explain("thanks refund cancelled", top=2, values={})
    assert line == "'cancelled' +1.2, 'refund' +1.2"
    _, line = MODEL.predict_explain("thanks refund", top=2, values={"intent": "question"})
    assert line == "intent question +1.2, 'refund' +1.2"


_EMOJI = sorted(sent._ANALYZER._emoji_chars)


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(_EMOJI),
            st.sampled_from([" ", "  ", "a", "É", "\n", ":)", "£", "é"]),
            st.text(max_size=2),
        ),
        max_size=16,
    )
)
def test_emoji_scan_equals_the_regex_substitution(pieces: list[str]) -> None:
    text = "".join(pieces)
    analyzer = sent._ANALYZER
    assert analyzer._describe_emoji(text) == analyzer._describe_emoji_regex(text)


def test_emoji_scan_spaces_like_stock() -> None:
    analyzer = sent._ANALYZER
    out = analyzer._describe_emoji("😀😀 ok 😀")
    assert out == analyzer._describe_emoji_regex("😀😀 ok 😀")
    assert out.startswith("grinning face grinning face ok grinning face")


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(st.sampled_from(["'", '"', "“", "”", "‘", "’", " ", "(", "a", "I", "\n"]), max_size=10)
)
def test_quote_gate_changes_no_answer(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert signals._may_be_sarcastic(text, {}) == (signals._QUOTE_OPEN.search(text) is not None)


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(st.sampled_from(["?", "？", ".", "!", ";", ":", "\n", "(", "[", ")", "a", " ", "b c"]))
)
def test_asked_clauses_equal_the_regex(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert signals._asked(text) == signals._ASKED.findall(text)


#: the clause-opening regex without its lookaheads (the first two characters of each opening)
_PLAIN_CLAUSE_START = re.compile(signals._CLAUSE_START.pattern.replace(signals._OPENING, ""))
#: every clause opening and lead word, glued pieces, handles and near misses
_OPENING_PIECES = st.sampled_from(
    [
        "how", "how many more", "how long do i", "is anybody actually", "is it normal",
        "what exactly am i even paying for", "why", "what", "what's", "whats", "when", "where",
        "who", "which", "can", "could", "do", "does", "did", "is", "are", "will my", "should i",
        "any", "anyone", "anybody", "cómo", "qué", "cuándo", "dónde", "por qué", "cuánto", "wie",
        "wann", "warum", "wieso", "comment", "pourquoi", "quand", "où", "est-ce", "combien",
        "quando", "onde", "quanto", "perché", "dove", "hoe", "wanneer", "waarom", "hi", "hey",
        "hello", "morning", "evening", "ok", "so", "and", "but", "also", "@acmehelp", "@", ".",
        " ", "  ", "\n", "\t", ",", "!", ":", "'", "’", "not", "nice", "a lot of", "x", "sohow",
        "hiwhy", "@acmewhich", "HOW", "É", "o\u0300", "d", "w", "1", "(",
    ]
)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.one_of(_OPENING_PIECES, st.text(max_size=2)), max_size=10))
def test_clause_opening_lookaheads_change_no_match(pieces: list[str]) -> None:
    """The lookaheads only stop attempts that fail anyway: same span, same kind."""
    text = "".join(pieces)
    for clause in (text, text.lower(), *signals._CLAUSE.split(text.lower())):
        _assert_same_opening(clause)


def test_clause_opening_lookaheads_change_no_data_text() -> None:
    """Every clause of every data text (the labelled sets among them) opens the same."""
    for path in sorted(_DATA.glob("*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            text = str(json.loads(line).get("text") or "")
            for clause in signals._CLAUSE.split(text.lower()):
                _assert_same_opening(clause)


@settings(max_examples=1500, deadline=None)
@given(
    st.sampled_from(signals._OPENING_ALTERNATIVES).flatmap(
        lambda alt: st.from_regex(alt, fullmatch=True)
    )
)
def test_every_clause_opening_passes_its_gate(opening: str) -> None:
    """The gate is derived from the lead items and openings: none of their texts is stopped."""
    assert re.match(signals._OPENING, opening), opening


def test_the_clause_gate_follows_its_alternatives() -> None:
    """A new opening widens the gate; a start the gate cannot name is refused, not dropped."""
    gate = signals._opening_gate([*signals._OPENING_ALTERNATIVES, "zut"], "[@.]")
    assert re.match(gate, "zut alors") and not re.match(signals._OPENING, "zut alors")
    assert not re.match(signals._OPENING, "the app")  # still a gate
    for unnameable in ("z?ut", "[xy]ou", "(?:a|b)c"):
        with pytest.raises(ValueError, match="first two characters"):
            signals._opening_gate([unnameable], "[@.]")


def _assert_same_opening(clause: str) -> None:
    fast, plain = signals._CLAUSE_START.match(clause), _PLAIN_CLAUSE_START.match(clause)
    assert (fast and (fast.span(), fast.lastgroup)) == (
        plain and (plain.span(), plain.lastgroup)
    ), clause


_DATA = Path(__file__).resolve().parents[2] / "tests" / "data"
_BRAND = sent.brand_pattern(["acmehelp", "acme", "skyway"])


def _one_by_one(
    texts: list[str], languages: list[Any], brand: re.Pattern[str] | None
) -> list[sent.Sentiment]:
    """The per-text path ``score_rows`` took before its batch passes."""
    return [
        sent.analyse(t, lang, scored_text=sent.text_for_sentiment(t, brand))
        for t, lang in zip(texts, languages, strict=True)
    ]


def test_batch_sentiment_equals_one_by_one_on_every_data_text() -> None:
    rows = [
        json.loads(line)
        for path in sorted(_DATA.glob("*.jsonl"))
        for line in path.read_text("utf-8").splitlines()
    ]
    texts = [str(r.get("text") or "") for r in rows]
    for languages in ([r.get("language") for r in rows], [None] * len(rows), ["en"] * len(rows)):
        for brand in (_BRAND, None):
            assert sent.analyse_many(texts, languages, brand) == _one_by_one(
                texts, languages, brand
            )


_SENTIMENT_PIECES = st.sampled_from(
    [
        "@AcmeHelp", "Acme's", "great", "GREAT", "not", "bloody", "brilliant", "sick", "of",
        "Bloody", "Mary", "killed", "it", "http://t.co/x", "#fail", "😀", "🙏", "llevo",
        "días", "sin", "internet", "kein", "Netz", "seit", "Tagen", "but", "no", "!", "?",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.lists(st.one_of(_SENTIMENT_PIECES, st.text(max_size=3)), max_size=12),
            st.sampled_from([None, "en", "es", "und", "EN-gb", 3]),
        ),
        max_size=8,
    )
)
def test_batch_sentiment_equals_one_by_one(batch: list[tuple[list[str], Any]]) -> None:
    texts = [" ".join(words) for words, _ in batch]
    languages = [lang for _, lang in batch]
    assert sent.analyse_many(texts, languages, _BRAND) == _one_by_one(texts, languages, _BRAND)


_SLANG_PIECES = st.sampled_from(
    [
        *sent._SLANG_WORDS, *sent._SLANG_PHRASE_STEMS, "killed it", "Smashed  it", "nailed\tit",
        "\u017fick", "\u212ailler", "MAD", "made", "Bloody", "Mary", "Dead", "Sea", "Awful",
        "Worst", "Service", "Ever", " Dead Sea", " Awful", "great", "it", "of", "so", "No", "X",
        "@AcmeHelp", "http://t.co/x", "#sick", " ", "\t", "\n", "\x1c", "\u00a0", "\u2003",
        "\u200b", ".", "!", "?", "-", "'", "(", "1", "£", "😀",
    ]
)  # fmt: skip


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_SLANG_PIECES, st.text(max_size=2)), max_size=12))
def test_slang_token_gate_equals_the_slang_step(pieces: list[str]) -> None:
    """A text none of whose tokens may read as slang is what the slang step leaves it, and
    the batch path's scores (tokens gated) are the reference path's, bit for bit."""
    text = "".join(pieces)
    out = sent._without_names(text, _BRAND)
    if not any(map(sent._may_read_slang, out.split())):
        # none of the slang step's own tests would fire: no stem, slang word or name
        assert sent._SLANG_PHRASE_STEM.search(out.casefold()) is None
        assert sent._SLANG_WORD.search(out) is None
        assert sent._negative().isdisjoint(w.lower() for w in sent._CAPITALISED.findall(out))
        assert sent._read_slang(out) == out
    analyzer = sent._analyzer()
    expected = analyzer.scores(sent.text_for_sentiment(text, _BRAND))
    assert analyzer.clean_scores(out) == expected
    assert analyzer.clean_scores(out) == expected  # its tokens remembered this time


def _reference_find(matcher: signals.TermMatcher, text: str) -> dict[str, list[signals.Match]]:
    """``TermMatcher.find`` as it was before its fast paths: every word tested in the
    loop, every phrase tail checked word by word (its first word too)."""
    toks = signals.words(text)
    found: dict[str, list[signals.Match]] = {}
    ends: dict[str, int] = {}
    for tok in set(toks):
        if tok not in matcher._memo:
            matcher._candidates(tok)
    for i, tok in enumerate(toks):
        heads = matcher._memo.get(tok)
        if heads is None:
            continue
        if heads.phrases or heads.wild:
            nxt = toks[i + 1] if i + 1 < len(toks) else ""
            tails = heads.phrases.get(nxt, ())
            tails += tuple(w for w in heads.wild if nxt.startswith(w[1][0][:-1]))
            for name, tail in tails:
                if ends.get(name, 0) <= i and signals._tail_matches(tail, toks, i + 1):
                    end = i + 1 + len(tail)
                    found.setdefault(name, []).append(signals.Match(" ".join(toks[i:end]), i, end))
                    ends[name] = end
        for name in heads.singles:
            if ends.get(name, 0) <= i:
                found.setdefault(name, []).append(signals.Match(tok, i, i + 1))
                ends[name] = i + 1
    tokset = set(toks)
    for name, vocab in matcher._presence:
        if not vocab.isdisjoint(tokset):
            found[name] = [signals.Match(min(vocab.intersection(tokset)), -1, -1)]
    for name, pattern, _, _ in matcher._fallback:
        extra = [signals.Match(m.group(0).lower(), -1, -1) for m in pattern.finditer(text)]
        if extra:
            found.setdefault(name, []).extend(extra)
    return found


_PACK_MATCHER = TriageSettings(domains=BUILTIN_DOMAINS).matcher
#: words that start cue terms (and phrases of them), and some that start none
_CUE_WORDS = sorted(
    {
        w
        for terms in signals.CUES.values()
        for term in terms
        for w in term.replace("*", "").split()
        if w.isascii()
    }
    | {"cancelled", "working", "works", "delayed", "lost", "luggage", "the", "bill", "10/10", "/s"}
)


#: every phrase whose second word ends in "*" ("not work*"), as it may be written
_WILD_TEXTS = sorted(
    {
        f"so {head}{more} {tail[0][:-1]}{ending} now"
        for head, tail in [
            *((h, t) for h, entries in _PACK_MATCHER._exact.items() for _, t in entries),
            *((h, t) for entries in _PACK_MATCHER._prefix.values() for h, _, t in entries),
        ]
        if tail and tail[0].endswith("*")
        for more in ("", "s")
        for ending in ("", "s", "ing", "ed out")
    }
    | {"not wor", "not", "no problem", "no problems at all", "any updates?"}
)


@pytest.mark.parametrize("text", _WILD_TEXTS)
def test_matcher_wild_tails_equal_the_plain_loop(text: str) -> None:
    """Phrases with a ``*`` second word, behind their stems' one startswith gate."""
    for matcher in (signals.BUILTIN_MATCHER, _PACK_MATCHER):
        assert matcher.find(text) == _reference_find(matcher, text)


def test_fallback_gate_keeps_a_needle_of_every_list() -> None:
    """The one substring test before the fallback regexes (the plain loop below has none)."""
    assert signals._fallback_gate([("🙃", "/", "🙄"), ("10/10",)]) == ("/", "🙃", "🙄")
    assert signals._fallback_gate([("/",), None]) is None  # a list without needles: no gate
    assert signals._fallback_gate([]) == ()


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.sampled_from(_CUE_WORDS),
            st.sampled_from(["x", "!", ",", "'", "🙄", "Cancelled", "NOT", "don’t", "(order"]),
        ),
        max_size=16,
    )
)
def test_matcher_equals_the_plain_loop(pieces: list[str]) -> None:
    text = " ".join(pieces)
    for matcher in (signals.BUILTIN_MATCHER, _PACK_MATCHER):
        expected = _reference_find(matcher, text)
        assert matcher.find(text) == expected, repr(text)
        signals._TEXT_WORDS.pop(text, None)  # its words read from the scorer's split this time
        assert matcher.find(text, text.split()) == expected, repr(text)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.sampled_from(_CUE_WORDS),
            st.sampled_from(["x", "!", "can't fault", "not fixed", "broken", "not", "down", "🙄"]),
        ),
        max_size=16,
    )
)
def test_strength_equals_the_complaint_cues(pieces: list[str]) -> None:
    """Intent's problem strength (counted terms) against the cue strings it skips building."""
    text = " ".join(pieces)
    for matcher in (signals.BUILTIN_MATCHER, _PACK_MATCHER):
        cues = signals.apply_context(text, matcher.find(text))
        expected = signals.complaint_strength(signals.complaint_cues(text, cues))
        got = signals._strength(text, cues)
        assert got == expected, repr(text)  # halves add exactly
        assert type(got) is float or "negated_fix" in cues or "negated_praise" in cues


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(
        st.sampled_from([*sorted(signals.NEGATORS)[:6], "down", "fixed", "x", ""]), max_size=8
    ),
    st.integers(-2, 10),
)
def test_negation_window_equals_the_word_loop(toks: list[str], start: int) -> None:
    window = toks[max(0, start - signals.NEGATION_WINDOW) : start]
    assert signals.negated_at(toks, start) == any(t in signals.NEGATORS for t in window)


_PLAIN_CAPITALISED = re.compile(r"(?<=\s)[A-Z][a-z]+")


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                [" ", "\t", "\n", "\u00a0", "\u2003", "A", "Z", "a", "z", "É", "é", "Bloody",
                 "Mary's", "DEAD", "Dead", "1", "(", "@", "İ", "ǅ"]
            ),
            st.text(max_size=2),
        ),
        max_size=14,
    )
)  # fmt: skip
def test_capitalised_words_equal_the_lookbehind_regex(pieces: list[str]) -> None:
    """VADER's name check finds the same capitalised words as the plain lookbehind regex."""
    text = "".join(pieces)
    assert sent._CAPITALISED.findall(text) == _PLAIN_CAPITALISED.findall(text)


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from([*sent._SLANG_WORDS, "damne", "insan", "ma", "d", "ly", " ", "-"]),
            st.text(max_size=2),
        ),
        max_size=8,
    )
)
def test_slang_substring_test_equals_the_regex(pieces: list[str]) -> None:
    """The slang pre-check (``in`` tests of the minimal words) against the alternation."""
    low = "".join(pieces).casefold()
    expected = sent._SLANG_SUBSTRING.search(low) is not None
    assert any(map(low.__contains__, sent._SLANG_SUBSTRINGS)) == expected


def _plain_brand_pattern(names: list[str]) -> re.Pattern[str] | None:
    """``brand_pattern`` with its lookbehind first, as it was written before."""
    alts = sorted({n.strip().lstrip("@").lower() for n in names if n.strip("@ ")}, key=len)
    if not alts:
        return None
    body = "|".join(re.escape(a) for a in reversed(alts))
    return re.compile(r"(?<![\w@])(?:" + body + r")(?:['’]s)?(?!\w)", re.IGNORECASE)


_NAME_PIECES = st.sampled_from(
    ["acme", "ACME", "help", "sky", " ", "way", ".", "'", "é", "ß", "K", "ı", "İ", "ſ", "is", "kit"]
)  # fmt: skip


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(_NAME_PIECES, min_size=1, max_size=3).map("".join), max_size=3),
    st.lists(
        st.one_of(
            _NAME_PIECES,
            st.sampled_from(["@", "x", "_", "'s", "’s", "s", "!", "\n", "#", "1"]),
            st.text(max_size=2),
        ),
        max_size=14,
    ),
)
def test_brand_names_equal_the_lookbehind_first_regex(names: list[str], pieces: list[str]) -> None:
    text = "".join(pieces)
    fast, plain = sent.brand_pattern(names), _plain_brand_pattern(names)
    if plain is None:
        assert fast is None
        return
    assert fast is not None
    assert fast.sub(" ", text) == plain.sub(" ", text)
    assert [m.span() for m in fast.finditer(text)] == [m.span() for m in plain.finditer(text)]
    # text_for_sentiment's brand step (lowercased, on ASCII text) against the regex
    for case in (text, text.encode("ascii", "ignore").decode()):
        assert sent._without_brand(case, fast) == plain.sub(" ", case), repr(case)


@pytest.mark.parametrize(
    "text", ["kıt £5", "KİT's fine, é", "ſky €", "KIT é", "skit é", "£ no brand here", "ıı"]
)
def test_brand_names_on_non_ascii_text_equal_the_regex(text: str) -> None:
    """The non-ASCII gate keeps the names IGNORECASE finds through "ı", "İ", "ſ", "K"."""
    names = ["kit", "sky", "sk"]
    assert sent._without_brand(text, sent.brand_pattern(names)) == _plain_brand_pattern(names).sub(
        " ", text
    )  # type: ignore[union-attr]


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                ["HTTP://", "https://", "Www.", "www.", "bit.ly/", "BIT.LY/", "T.co/", "tinyurl.com/",
                 "/", " ", "\n", "x", "a.b", "_", "@", "#"]
            ),
            st.text(alphabet=st.characters(max_codepoint=127), max_size=2),
        ),
        max_size=10,
    )
)  # fmt: skip
def test_links_on_ascii_text_equal_the_ignorecase_regex(pieces: list[str]) -> None:
    """The link step on ASCII text: the lowercase pattern on the text lowercased."""
    text = "".join(pieces)
    got = sent._lowercase_sub(text, text.lower(), sent._url_lowercase())
    assert got == sent._URL.sub(" ", text)


def test_brand_fold_gives_every_ignorecase_match_its_ascii_character() -> None:
    """The brand step's gate on non-ASCII text: every character IGNORECASE matches to an
    ASCII one folds to it (so a text whose fold has no name has no match)."""
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    for a in map(chr, range(33, 127)):
        for c in re.findall(re.escape(a), every, re.IGNORECASE):
            assert c.replace("İ", "i").casefold().replace("ı", "i") == a.lower(), (a, c)


@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=40))
def test_ascii_letter_count_equals_the_translate_count(text: str) -> None:
    """_letter_counts' bytes path for ASCII text against str.translate's letter count."""
    expected = len(text) - len(text.translate(sent._ASCII_LETTERS))
    assert sent._letter_counts(text) == (expected, 0, 0)


_MONEY_PIECES = st.sampled_from(
    ["earn", "EARN", "Earn", "learn", " ", "  ", "up", "to", "$", "£", "€", "5", "200", ",",
     "+", "a", "per", "/", "every", "day", "Week", "hour", "month", "x", "ſ", "\n"]
)  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(st.lists(_MONEY_PIECES, max_size=12))
def test_money_rate_halves_equal_the_regex(pieces: list[str]) -> None:
    """is_spam's money-rate test (each half behind its literal) against the one regex."""
    text = "".join(pieces)
    assert signals._money_rate(text) == (signals._MONEY_RATE.search(text) is not None), text
