"""Sentiment of a mention: VADER for English, "unscored" for everything else.

VADER's lexicon is English-only: on Spanish or German it returns a compound
near 0, which the queue would show as a confident "neutral". A mention in
another language is therefore *unscored* (``compound is None``) so agents see
"unscored" instead of a misleading number.

Language decision, cheapest first:

1. the platform's language field (a mention row's ``language``), unless it is
   one of the "undetermined" codes (Twitter's ``und``, ``zxx``, ``qme``, ...);
2. text with fewer than :data:`MIN_LETTERS` Latin letters (after dropping
   links, @handles, #tags) is too short to judge and defaults to English;
3. text whose letters are all ASCII and that has English function words worth
   2 (words shared with Dutch, Spanish... such as "is" or "no" count half) is
   English without running a model: most English posts stop here;
4. otherwise py3langid (ships its model, offline), restricted to
   :data:`DETECTED_LANGUAGES`; a non-English answer below
   :data:`MIN_CONFIDENCE` on mostly-Latin text falls back to English.

Why py3langid: measured by bench/bench_triage.py on
tests/data/short_multilingual.jsonl (140 short customer messages, 40 English,
100 in 8 other languages; 2 vCPUs shared with other jobs, Python 3.11; each
detector alone with all its languages; load = model load time):

    detector                     load    per text  exact lang  English kept  non-English caught
    py3langid 0.4.0 (97 langs)   0.5 s      35 us     0.936        38/40           99/100
    langdetect 1.0.9             0.2 s    2768 us     0.829        31/40           99/100
    lingua 2.1.1, high accuracy  6.7 s    2722 us     0.936        34/40          100/100
    lingua 2.1.1, low accuracy     -       132 us     0.807        25/40          100/100
    this module's decision       0.4 s      31 us     0.950        40/40           96/100

py3langid is as accurate as lingua's high-accuracy mode, ~80x faster, loads
in half a second instead of seven (and is already a dependency), and drops the
fewest English texts: the costly error, since their sentiment is lost. The
steps above keep every English text of that set and 4,184 of the 4,200 English
VADER ground-truth tweets scored (most of the other 16 are in fact Turkish,
Dutch, Spanish or Norwegian; Pearson r with the human ratings stays 0.872).
"""

from __future__ import annotations

import math
import re
import string
from functools import lru_cache
from itertools import compress
from operator import itemgetter
from typing import Any, Iterable, NamedTuple, Sequence

from vaderSentiment import vaderSentiment as _vader

from ..models import on_first_use
from .codec import Sentiment as Sentiment  # defined there: stored signals are read without VADER

__all__ = [
    "Sentiment",
    "analyse",
    "analyse_many",
    "decide_language",
    "detect_language",
    "vader_scores",
    "text_for_sentiment",
    "brand_pattern",
    "SCORED_LANGUAGES",
    "MIN_LETTERS",
    "MIN_CONFIDENCE",
    "DETECTED_LANGUAGES",
]


class _Token(NamedTuple):
    """One token of a text as VADER reads it: the word, lowercased, scored at all, all caps,
    and whether :func:`text_for_sentiment`'s slang step may rewrite a text that has it."""

    word: str
    lower: str
    #: in the lexicon and not a booster: the words whose valence may be nonzero
    scored: bool
    upper: bool
    #: see :func:`_may_read_slang` (the batch path's gate, :meth:`_Analyzer.clean_scores`)
    slang: bool


#: VADER's (neg, neu, pos, compound) of a text without lexicon words (``_EMPTY``: without
#: any words)
_NEUTRAL = (0.0, 1.0, 0.0, 0.0)
_EMPTY = (0.0, 0.0, 0.0, 0.0)
#: VADER's four scores, in the order of :meth:`_Analyzer.scores`
_Scores = tuple[float, float, float, float]


class _Analyzer(_vader.SentimentIntensityAnalyzer):  # type: ignore[misc]
    """VADER 3.3.2's ``polarity_scores``, same scores, without its repeated work.

    Stock ``polarity_scores`` spends most of its time redoing the same thing:

    * it first rebuilds the text character by character to replace emoji with
      their descriptions (~15% of its time on a short post). That pass only
      ever replaces single characters that are keys of its emoji table, so when
      the text shares no character with them (one C-level set test) it returns
      the text unchanged and we skip it; otherwise one regex substitution makes
      the same replacements (a space before a description unless it opens the
      text or follows a space: an emoji after an emoji gets one too);
    * it lowercases every word again in each helper: ``sentiment_valence``,
      ``_negation_check`` and ``_special_idioms_check`` rebuild the lowercase
      list of *all* words for every lexicon word they look at (~100 ``lower()``
      calls per post). Here the words are lowercased once and :meth:`_valence`
      is the same rules as those three methods (and ``_least_check``), read
      from that one list;
    * ``sentiment_valence`` scores a word outside the lexicon 0, so such words
      (most of them) skip the call altogether.

    tests/triage/test_sentiment.py and test_fast_vader.py (hypothesis-generated
    texts too) check the scores stay identical to stock VADER.
    """

    def __init__(self) -> None:
        super().__init__()
        self._emoji_chars = frozenset(k for k in self.emojis if len(k) == 1)
        self._emoji = re.compile("[" + "".join(map(re.escape, sorted(self._emoji_chars))) + "]")
        self._tokens: dict[str, _Token] = {}

    def _describe_emoji(self, text: str) -> str:
        """Stock ``polarity_scores``' emoji pass: each emoji character becomes its description.

        A scan for the emoji's positions, not a regex: the regex's character class of
        some 3,500 emoji (most beyond the BMP) is tested member by member, ~0.7 ms a post.
        """
        emojis, chars = self.emojis, self._emoji_chars
        parts: list[str] = []
        start = 0
        for at in [at for at, ch in enumerate(text) if ch in chars]:
            # stock adds a space unless the last character it wrote was a plain space
            lead = "" if at == 0 or text[at - 1] == " " else " "
            parts += (text[start:at], lead, str(emojis[text[at]]))
            start = at + 1
        parts.append(text[start:])
        return "".join(parts)

    def _describe_emoji_regex(self, text: str) -> str:
        """:meth:`_describe_emoji` by one regex substitution (the reference a test compares)."""
        emojis = self.emojis

        def described(m: re.Match[str]) -> str:
            start = m.start()
            lead = "" if start == 0 or text[start - 1] == " " else " "
            return lead + str(emojis[m.group()])

        return self._emoji.sub(described, text)

    def polarity_scores(self, text: str) -> dict[str, float]:
        neg, neu, pos, compound = self.scores(text)
        return {"neg": neg, "neu": neu, "pos": pos, "compound": compound}

    def scores(self, text: str) -> _Scores:
        """:meth:`polarity_scores` as (neg, neu, pos, compound), without building the dict."""
        if not (text.isascii() or self._emoji_chars.isdisjoint(text)):
            text = self._describe_emoji(text)
        scores = self._read(text.strip(), False)
        assert scores is not None  # only a gated read gives None
        return scores

    def clean_scores(self, text: str) -> _Scores:
        """``scores(text_for_sentiment(t, brand))`` given ``text = _without_names(t, brand)``.

        The slang step only rewrites a text that has a slang word, a slang phrase's
        stem or a capitalised negative word: each a property of one token
        (:func:`_may_read_slang`), remembered with the token's other fields. A text
        without such a token (most) is read as it is, from the tokens VADER looks up
        anyway, instead of being casefolded and scanned for slang first (~7% of a
        mention's instructions with a model). The others take the reference path.
        """
        if text.isascii() or self._emoji_chars.isdisjoint(text):
            scores = self._read(text, True)  # text.strip(): the same tokens and marks
            if scores is not None:
                return scores
        elif not any(map(_SLANG_FIELD, self._infos(text))):
            return self.scores(text)  # the emoji are described after the slang step
        return self.scores(_read_slang(text))

    def _infos(self, text: str) -> list[_Token]:
        """The :class:`_Token` of each whitespace-separated token of ``text``."""
        # SentiText's words_and_emoticons and is_cap_diff, without building the object:
        # what each token becomes is remembered per distinct token (_Token)
        toks = text.split()
        infos: list[Any] = list(map(self._tokens.get, toks))  # a _Token, or None until filled
        if not all(infos):  # a token not seen yet (a _Token is a non-empty tuple: true)
            infos = [info or self._token(t) for t, info in zip(toks, infos, strict=True)]
        return infos

    def _read(self, text: str, gated: bool) -> _Scores | None:
        """The scores of ``text`` (emoji described); ``gated``: None if a token may be slang."""
        infos = self._infos(text)
        if not infos:
            return _EMPTY
        # the fields of every token at once (C speed), not a comprehension each
        words, lowers, scoreds, uppers, slangs = zip(*infos, strict=True)
        if gated and True in slangs:
            return None
        if True not in scoreds:  # no lexicon word: every valence is 0, so the scores are fixed
            return _NEUTRAL
        scored = list(compress(range(len(scoreds)), scoreds))
        is_cap_diff = any(uppers) and not all(uppers)  # _vader.allcap_differential(words)
        last = len(words) - 1
        sentiments: list[float] = [0] * len(words)
        for i in scored:
            if not (lowers[i] == "kind" and i < last and lowers[i + 1] == "of"):
                sentiments[i] = self._valence(i, words, lowers, is_cap_diff)
        if "but" in lowers:  # _but_check changes nothing otherwise
            sentiments = self._but_check(words, sentiments)
        return _score_valence(sentiments, text)

    def _token(self, token: str) -> _Token:
        """What one whitespace-separated token is to VADER (remembered)."""
        word = token if len(s := token.strip(_PUNCTUATION)) <= 2 else s
        lower = word.lower()
        info = _Token(
            word,
            lower,
            lower in self.lexicon and lower not in _vader.BOOSTER_DICT,
            word.isupper(),
            _may_read_slang(token),
        )
        if len(self._tokens) >= 200_000:
            self._tokens.clear()
        self._tokens[token] = info
        return info

    def _valence(
        self, i: int, words: Sequence[str], lowers: Sequence[str], is_cap_diff: bool
    ) -> float:
        """``sentiment_valence`` of lexicon word ``i``, with ``lowers`` its words lowercased."""
        lexicon = self.lexicon
        lower = lowers[i]
        valence: float = lexicon[lower]
        # "no" before a lexicon word negates that word instead of counting itself
        if lower == "no" and i != len(words) - 1 and lowers[i + 1] in lexicon:
            valence = 0.0
        if (
            (i > 0 and lowers[i - 1] == "no")
            or (i > 1 and lowers[i - 2] == "no")
            or (i > 2 and lowers[i - 3] == "no" and lowers[i - 1] in ("or", "nor"))
        ):
            valence = lexicon[lower] * _vader.N_SCALAR
        if words[i].isupper() and is_cap_diff:
            if valence > 0:
                valence += _vader.C_INCR
            else:
                valence -= _vader.C_INCR
        for start_i in range(0, 3):
            j = i - (start_i + 1)
            if i > start_i and lowers[j] not in lexicon:
                s = 0.0
                if lowers[j] in _vader.BOOSTER_DICT:  # scalar_inc_dec is 0.0 otherwise
                    s = _vader.scalar_inc_dec(words[j], valence, is_cap_diff)
                if start_i == 1 and s != 0:
                    s = s * 0.95
                if start_i == 2 and s != 0:
                    s = s * 0.9
                valence = valence + s
                valence = _negation_check(valence, lowers, start_i, i)
                if start_i == 2:
                    valence = _special_idioms_check(valence, lowers, i)
        # _least_check
        if i > 1 and lowers[i - 1] not in lexicon and lowers[i - 1] == "least":
            if lowers[i - 2] != "at" and lowers[i - 2] != "very":
                valence = valence * _vader.N_SCALAR
        elif i > 0 and lowers[i - 1] not in lexicon and lowers[i - 1] == "least":
            valence = valence * _vader.N_SCALAR
        return valence


def _score_valence(sentiments: list[float], text: str) -> _Scores:
    """VADER 3.3.2's ``score_valence`` for a non-empty list, remembered by what it reads.

    The scores depend on the nonzero sentiments in order, how many are zero and
    the text's "!" and "?" counts only: zeros add nothing to a float sum, not
    even a sign (it starts at +0.0, and no sum of nonzero floats is -0.0). Few
    such keys recur (~1,600 in 14,000 scored texts), and the four ``round``
    calls cost most of the ~6 us a text.
    """
    nonzero = [s for s in sentiments if s]  # a zero (0, 0.0 or -0.0) is falsy
    key = (tuple(nonzero), len(sentiments) - len(nonzero), text.count("!"), text.count("?"))
    scores = _SCORES.get(key)
    if scores is None:
        scores = _scores(sentiments, nonzero, key[2], key[3])
        if len(_SCORES) >= _SCORES_SIZE:
            _SCORES.clear()
        _SCORES[key] = scores
    return scores


#: :func:`_score_valence`'s key -> (neg, neu, pos, compound); restarts when full
_SCORES: dict[tuple[tuple[float, ...], int, int, int], _Scores] = {}
_SCORES_SIZE = 50_000


def _scores(
    sentiments: list[float], nonzero: list[float], exclamations: int, questions: int
) -> _Scores:
    """VADER 3.3.2's ``score_valence`` as (neg, neu, pos, compound), its helpers inlined.

    The same float operations in the same order (so the same bits), without its
    six method calls per text. ``nonzero``: the sentiments that are not zero.
    """
    sum_s = float(sum(sentiments))
    # _punctuation_emphasis: _amplify_ep + _amplify_qm
    ep_count = min(exclamations, 4)
    qm_count = questions
    qm_amplifier: float = 0
    if qm_count > 1:
        qm_amplifier = qm_count * 0.18 if qm_count <= 3 else 0.96
    punct_emph_amplifier = ep_count * 0.292 + qm_amplifier
    if sum_s > 0:
        sum_s += punct_emph_amplifier
    elif sum_s < 0:
        sum_s -= punct_emph_amplifier
    compound = min(max(sum_s / math.sqrt((sum_s * sum_s) + 15), -1.0), 1.0)  # normalize
    # _sift_sentiment_scores
    pos_sum = 0.0
    neg_sum = 0.0
    # most words score 0: only the others are summed (in order, so the same bits); a
    # zero (0, 0.0 or -0.0) is falsy and == 0, anything else truthy and != 0
    neu_count = len(sentiments) - len(nonzero)
    for sentiment_score in nonzero:
        if sentiment_score > 0:
            pos_sum += float(sentiment_score) + 1
        elif sentiment_score < 0:
            neg_sum += float(sentiment_score) - 1
    if pos_sum > math.fabs(neg_sum):
        pos_sum += punct_emph_amplifier
    elif pos_sum < math.fabs(neg_sum):
        neg_sum -= punct_emph_amplifier
    total = pos_sum + math.fabs(neg_sum) + neu_count
    return (
        round(math.fabs(neg_sum / total), 3),
        round(math.fabs(neu_count / total), 3),
        round(math.fabs(pos_sum / total), 3),
        round(compound, 4),
    )


_PUNCTUATION = string.punctuation
#: VADER's ``negated([word])`` for one lowercase word is ``word in NEGATE or "n't" in word``
_NEGATE = frozenset(_vader.NEGATE)


def _negated(lower: str) -> bool:
    return lower in _NEGATE or "n't" in lower


def _negation_check(valence: float, lowers: Sequence[str], start_i: int, i: int) -> float:
    """VADER's ``_negation_check`` on already lowercased words."""
    if start_i == 0:
        if _negated(lowers[i - 1]):
            valence = valence * _vader.N_SCALAR
    if start_i == 1:
        if lowers[i - 2] == "never" and (lowers[i - 1] == "so" or lowers[i - 1] == "this"):
            valence = valence * 1.25
        elif lowers[i - 2] == "without" and lowers[i - 1] == "doubt":
            pass
        elif _negated(lowers[i - 2]):
            valence = valence * _vader.N_SCALAR
    if start_i == 2:
        if (
            lowers[i - 3] == "never"
            and (lowers[i - 2] == "so" or lowers[i - 2] == "this")
            or (lowers[i - 1] == "so" or lowers[i - 1] == "this")
        ):
            valence = valence * 1.25
        elif lowers[i - 3] == "without" and (lowers[i - 2] == "doubt" or lowers[i - 1] == "doubt"):
            pass
        elif _negated(lowers[i - 3]):
            valence = valence * _vader.N_SCALAR
    return valence


def _special_idioms_check(valence: float, lowers: Sequence[str], i: int) -> float:
    """VADER's ``_special_idioms_check`` on already lowercased words (``i >= 3``)."""
    special, boosters = _vader.SPECIAL_CASES, _vader.BOOSTER_DICT
    w3, w2, w1, w0 = lowers[i - 3], lowers[i - 2], lowers[i - 1], lowers[i]
    onezero = f"{w1} {w0}"
    twoonezero = f"{w2} {w1} {w0}"
    twoone = f"{w2} {w1}"
    threetwoone = f"{w3} {w2} {w1}"
    threetwo = f"{w3} {w2}"
    for seq in (onezero, twoonezero, twoone, threetwoone, threetwo):
        if seq in special:
            valence = special[seq]
            break
    if len(lowers) - 1 > i:
        zeroone = f"{w0} {lowers[i + 1]}"
        if zeroone in special:
            valence = special[zeroone]
    if len(lowers) - 1 > i + 1:
        zeroonetwo = f"{w0} {lowers[i + 1]} {lowers[i + 2]}"
        if zeroonetwo in special:
            valence = special[zeroonetwo]
    # booster/dampener bi-grams such as "sort of" or "kind of"
    for n_gram in (threetwoone, threetwo, twoone):
        if n_gram in boosters:
            valence = valence + boosters[n_gram]
    return valence


@lru_cache(maxsize=1)
def _analyzer() -> _Analyzer:
    """One analyzer for the process, built on first use: building it parses the lexicon
    file (~5 ms that ``show`` of a row explained from its stored signals never needs)."""
    return _Analyzer()


@lru_cache(maxsize=1)
def _negative() -> frozenset[str]:
    """VADER's negative words, for the "negative word inside a name" check."""
    return frozenset(w for w, v in _analyzer().lexicon.items() if v < 0)


def __getattr__(name: str) -> Any:
    # the names the module-level analyzer and word set had (tests read them)
    if name == "_ANALYZER":
        return _analyzer()
    if name == "_NEGATIVE":
        return _negative()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: languages VADER's lexicon covers; anything else is unscored
SCORED_LANGUAGES = frozenset({"en"})
#: below this many letters a Latin-script text is too short to tell; assume English
MIN_LETTERS = 12
#: a detected non-English language must be at least this probable to overrule English
MIN_CONFIDENCE = 0.3
#: the languages py3langid may answer with; a narrower set is more accurate on short
#: texts (no "Nigerian Pidgin" for English slang) and any non-English answer unscores
DETECTED_LANGUAGES = (
    "af ar az be bg bn bs ca cs cy da de el en eo es et eu fa fi fr ga gl he hi hr hu hy "
    "id is it ja ka kk ko la lt lv mk ml mr ms mt nb nl nn no pl pt ro ru sk sl sq sr sv "
    "sw ta te th tl tr uk ur vi zh"
).split()
#: platform codes that mean "no language" (Twitter: undetermined, no text, media,
#: hashtags/mentions/cashtags only, too short)
_UNDETERMINED = frozenset({"", "und", "zxx", "qme", "qht", "qam", "qct", "qst", "mul", "xx"})
#: English function words rare in the other Latin-script languages of our customers;
#: each counts 1 towards the 2 that make a text English without the model
_ENGLISH_WORDS = frozenset(
    "the and you your my it it's i'm i've i'll are were been this that with have had not "
    "don't can't cannot won't isn't doesn't didn't what how why when where who which just "
    "please thanks thank any there their they our would could should from about if can "
    "will".split()
)
#: English words that are also Dutch, German, Spanish, Italian or Danish words ("is",
#: "in", "me", "was", "of", "for", "no", "do"): each counts only 0.5
_SHARED_WORDS = frozenset("i is in on at to of for a me was no so do get got".split())
# the module's regexes are compiled on first use (``on_first_use``): explaining a mention
# from its stored signals reads none of them
_NOISE: re.Pattern[str] = on_first_use(
    globals(), "_NOISE", re.compile, r"https?://\S+|www\.\S+|[@#$]\w+|&\w+;"
)
_WORD: re.Pattern[str] = on_first_use(globals(), "_WORD", re.compile, r"[a-z']+")


def vader_scores(text: str) -> dict[str, float]:
    """Plain VADER ``polarity_scores`` with the shared analyzer (neg, neu, pos, compound)."""
    scores: dict[str, float] = _analyzer().polarity_scores(text)
    return scores


def _platform_language(value: Any) -> str | None:
    """The primary subtag of a platform language code, or None when it says nothing."""
    if not isinstance(value, str):
        return None
    try:
        return _CODES[value]  # platforms use a handful of codes: normalise each once
    except KeyError:
        pass
    code: str | None = value.strip().lower().replace("_", "-").split("-", 1)[0]
    if code in _UNDETERMINED:
        code = None
    if len(_CODES) < 1000:
        _CODES[value] = code
    return code


_CODES: dict[str, str | None] = {}


@lru_cache(maxsize=1)
def _identifier() -> Any:
    """py3langid's model, loaded on first use (~0.7 s) so commands that never detect skip it."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages([lang for lang in DETECTED_LANGUAGES if lang in ident.labels])
    return ident


@lru_cache(maxsize=4096)
def detect_language(text: str) -> tuple[str, float]:
    """py3langid's best language among :data:`DETECTED_LANGUAGES` and its probability.

    Cached because reposts and copy-paste complaints repeat the same text.
    """
    lang, prob = _identifier().classify(text)
    return str(lang), float(prob)


def decide_language(text: str, platform_language: str | None = None) -> tuple[str, str]:
    """Decide a mention's language; returns ``(code, how)`` (see the module docstring)."""
    given = _platform_language(platform_language)
    if given is not None:
        return given, "platform"
    clean = _NOISE.sub(" ", text)
    ascii_letters, accented, non_latin = _letter_counts(clean)
    latin = ascii_letters + accented
    if latin < MIN_LETTERS and non_latin <= latin:
        return "en", "short"
    if accented == 0 and non_latin == 0 and _looks_english(clean):
        return "en", "stopwords"
    lang, prob = detect_language(clean)
    if lang != "en" and prob < MIN_CONFIDENCE and non_latin < (latin + non_latin) * 0.3:
        return "en", "unsure"
    return lang, "detected"


_ASCII_LETTERS = {c: None for c in range(128) if chr(c).isalpha()}
#: every byte but the ASCII letters: deleted, what is left of ASCII text is its letters
_NOT_ASCII_LETTERS = bytes(c for c in range(256) if not (c < 128 and chr(c).isalpha()))


def _letter_counts(text: str) -> tuple[int, int, int]:
    """Letters by kind: ASCII, accented Latin (é, ñ, ß, ł: below U+0250), and other scripts."""
    if text.isascii():  # bytes.translate: a table, not str.translate's dict (~2x faster)
        return len(text.encode("ascii").translate(None, _NOT_ASCII_LETTERS)), 0, 0
    ascii_letters = len(text) - len(text.translate(_ASCII_LETTERS))  # C speed
    accented = non_latin = 0
    for ch in text:
        if ch.isalpha() and not ch.isascii():
            if ord(ch) < 0x250:
                accented += 1
            else:
                non_latin += 1
    return ascii_letters, accented, non_latin


def _looks_english(ascii_text: str) -> bool:
    """English function words worth 2 (shared ones count half): English without the model.

    "het is in orde" (Dutch) and "no signal in Leeds" score 1 and go to the
    detector; "why is my bill so high" scores 3.
    """
    words = set(_WORD.findall(ascii_text.lower()))
    return len(words & _ENGLISH_WORDS) + 0.5 * len(words & _SHARED_WORDS) >= 2


def analyse(text: str, language: str | None = None, *, scored_text: str | None = None) -> Sentiment:
    """Score ``text`` with VADER if it is English, else return it unscored.

    ``language`` is the platform's field (or a caller's choice); when absent or
    undetermined the language is detected (see :func:`decide_language`).
    ``scored_text`` is what VADER reads instead, usually :func:`text_for_sentiment`.
    """
    lang, how = decide_language(text, language)
    if lang not in SCORED_LANGUAGES:
        return Sentiment(None, None, None, None, lang, how)
    neg, neu, pos, compound = _analyzer().scores(text if scored_text is None else scored_text)
    return Sentiment(compound, pos, neu, neg, lang, how)


def analyse_many(
    texts: Sequence[str],
    languages: Sequence[Any],
    brand: re.Pattern[str] | None = None,
) -> list[Sentiment]:
    """``analyse(t, lang, scored_text=text_for_sentiment(t, brand))`` for each text (same results).

    In three passes over the batch (languages, the texts VADER reads, VADER), not
    the three steps per text: each pass keeps its own tables hot in the CPU caches
    (py3langid's arrays evict VADER's lexicon otherwise), which measured ~25%
    faster on a batch of 2,000 mentions; and non-English texts skip
    :func:`text_for_sentiment`, whose result they never use.
    """
    decided = list(map(decide_language, texts, languages))
    scored = SCORED_LANGUAGES
    clean = [
        _without_names(t, brand) if lang in scored else None
        for t, (lang, _) in zip(texts, decided, strict=True)
    ]
    scores = _analyzer().clean_scores  # no dict to build and read back; slang read there
    new = tuple.__new__  # Sentiment(...) without its Python-level __new__ (same tuple)
    out = []
    for c, (lang, how) in zip(clean, decided, strict=True):
        if c is None:
            out.append(new(Sentiment, (None, None, None, None, lang, how)))
        else:
            neg, neu, pos, compound = scores(c)
            out.append(new(Sentiment, (compound, pos, neu, neg, lang, how)))
    return out


# -- what VADER should read -----------------------------------------------------
#: ``(?<![\w@])@\w+``, starting with the literal "@" so the engine skips to each "@"
_HANDLE: re.Pattern[str] = on_first_use(globals(), "_HANDLE", re.compile, r"@(?<![\w@]@)\w+")
_URL: re.Pattern[str] = on_first_use(
    globals(), "_URL", re.compile,
    r"https?://\S+|www\.\S+|\b(?:bit\.ly|t\.co|tinyurl\.com)/\S+", re.IGNORECASE,
)  # fmt: skip
#: slang intensifiers VADER reads as anger: before a positive word they only intensify
_INTENSIFIERS = frozenset(
    "bloody damn damned dang freaking frickin fricking effing insanely ridiculously "
    "stupidly crazy mad wicked hella".split()
)
#: slang adjectives that are praise before a noun ("sick landing", "wicked lounge")
_SLANG_ADJECTIVES = frozenset("sick wicked killer badass insane mental".split())
#: what makes "sick"/"mental" literal: "sick of", "got sick", "felt sick"
_LITERAL_AFTER = frozenset("of and or with to from after in on at because again all".split())
_LITERAL_BEFORE = frozenset(
    "got get gets getting feel feeling felt fell was is am are were been being very so "
    "i'm im he's she's".split()
)
_SLANG_PHRASES: re.Pattern[str] = on_first_use(
    globals(), "_SLANG_PHRASES", re.compile,
    r"\b(?:killed|killing|smashed|smashing|nailed|crushed|crushing|slayed|slaying|aced)\s+it\b",
    re.IGNORECASE,
)  # fmt: skip
_WORD_RUN: re.Pattern[str] = on_first_use(globals(), "_WORD_RUN", re.compile, r"\S+")
_SLANG_WORD: re.Pattern[str] = on_first_use(
    globals(), "_SLANG_WORD", re.compile,
    r"\b(?:" + "|".join(sorted(_INTENSIFIERS | _SLANG_ADJECTIVES)) + r")\b", re.IGNORECASE,
)  # fmt: skip
_SLANG_WORDS = tuple(sorted(_INTENSIFIERS | _SLANG_ADJECTIVES))
#: every _SLANG_PHRASES alternative contains one of these
_SLANG_PHRASE_STEMS = ("kill", "smash", "nail", "crush", "slay", "aced")
#: any of the stems, or of the slang words, as a plain substring (one C-level scan)
_SLANG_PHRASE_STEM: re.Pattern[str] = on_first_use(
    globals(), "_SLANG_PHRASE_STEM", re.compile, "|".join(map(re.escape, _SLANG_PHRASE_STEMS))
)
_SLANG_SUBSTRING: re.Pattern[str] = on_first_use(
    globals(), "_SLANG_SUBSTRING", re.compile, "|".join(map(re.escape, _SLANG_WORDS))
)
#: the slang words that contain no other ("damn", not "damned"): a text contains one of
#: the slang words iff it contains one of these; ``in`` tests beat the regex alternation
#: (which tries every word at most positions) by ~1.6x
_SLANG_SUBSTRINGS = tuple(
    w for w in _SLANG_WORDS if not any(o != w and o in w for o in _SLANG_WORDS)
)
#: ``(?<=\s)[A-Z][a-z]+`` (a capitalised word after whitespace) written to start with
#: the capital, so the engine skips to each capital instead of testing the lookbehind
#: at every position (same matches, ~2x faster; a test compares the two)
_CAPITALISED: re.Pattern[str] = on_first_use(
    globals(), "_CAPITALISED", re.compile, r"[A-Z](?<=\s[A-Z])[a-z]+"
)


def brand_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """A regex for the brand's own names as plain words ("United", "skyway's"), or None."""
    alts = sorted({n.strip().lstrip("@").lower() for n in names if n.strip("@ ")}, key=len)
    if not alts:
        return None
    # each name, then the lookbehind (fixed width: the name and the one character before
    # it): the same matches as ``(?<![\w@])(?:names)``, which tests the lookbehind at every
    # position before any name; this way the engine tries names first (~2x faster)
    body = "|".join(f"{n}(?<![\\w@]{n})" for n in map(re.escape, reversed(alts)))
    pattern = re.compile(r"(?:" + body + r")(?:['’]s)?(?!\w)", re.IGNORECASE)
    if all(a.isascii() for a in alts) and len(_BRAND_NAMES) < 1000:
        # the names that contain no other ("acme", not "acmehelp"): a text contains one of
        # the names iff it contains one of these
        minimal = tuple(a for a in alts if not any(o != a and o in a for o in alts))
        _BRAND_NAMES[id(pattern)] = (pattern, minimal, re.compile(pattern.pattern))
    return pattern


#: each ASCII :func:`brand_pattern` -> its names that contain no other, and the pattern
#: without IGNORECASE: on ASCII text, IGNORECASE matching is plain lowercase comparison,
#: so a text containing none of the names needs no regex pass, and the others are
#: matched lowercased, where the engine need not fold case at every position (~5x faster).
#: Keyed by the pattern's id (the entry holds the pattern, so the id stays its own): a
#: pattern's hash hashes its compiled code, ~3.5k instructions a text for this lookup
_BRAND_NAMES: dict[int, tuple[re.Pattern[str], tuple[str, ...], re.Pattern[str]]] = {}


def _without_brand(text: str, brand: re.Pattern[str]) -> str:
    """``brand.sub(" ", text)``; on ASCII text, by the lowercase pattern on ``text.lower()``
    (the same places: ASCII lowercasing keeps every character's place and kind), and on
    other text only where a name occurs, folded as IGNORECASE matches it."""
    ascii_brand = _BRAND_NAMES.get(id(brand))
    if ascii_brand is None or ascii_brand[0] is not brand:
        return brand.sub(" ", text)
    _, names, lowercase = ascii_brand
    if not text.isascii():
        # IGNORECASE matches an ASCII name's letter to its two cases and to "İ", "ı", "ſ"
        # or the Kelvin sign only, each of which folds to that letter here (a test checks
        # every code point): text without a folded name has no match (most "£" prices)
        folded = text.replace("İ", "i").casefold().replace("ı", "i")
        if not any(map(folded.__contains__, names)):
            return text
        return brand.sub(" ", text)
    low = text.lower()
    if not any(map(low.__contains__, names)):
        return text
    return _lowercase_sub(text, low, lowercase)


def _lowercase_sub(text: str, low: str, pattern: re.Pattern[str]) -> str:
    """Each match of ``pattern`` in ``low`` (ASCII ``text`` lowercased: the same places)
    replaced by a space in ``text``: an IGNORECASE substitution without folding case."""
    parts: list[str] = []
    last = 0
    for m in pattern.finditer(low):
        start, end = m.span()
        parts += (text[last:start], " ")
        last = end
    parts.append(text[last:])
    return "".join(parts)


@lru_cache(maxsize=1)
def _url_lowercase() -> re.Pattern[str]:
    """:data:`_URL` without IGNORECASE, for ASCII text lowercased (see :func:`_lowercase_sub`)."""
    return re.compile(_URL.pattern)


def text_for_sentiment(text: str, brand: re.Pattern[str] | None = None) -> str:
    """The text VADER should score: no @handles, links or brand names, slang read as meant.

    "@united" is not the word "united" (+1.8); "bloody brilliant" is brilliant,
    a "sick landing" a great one; and a negative word inside a capitalised name
    ("Bloody Mary", "Dead Sea") is part of the name.
    """
    return _read_slang(_without_names(text, brand))


def _without_names(text: str, brand: re.Pattern[str] | None) -> str:
    """:func:`text_for_sentiment`'s first step: links, @handles, brand names and ``#`` out."""
    out = text
    if "/" in text or "www." in text:
        if text.isascii():  # the pattern is ASCII lowercase: matched on the text lowercased
            out = _lowercase_sub(text, text.lower(), _url_lowercase())
        else:
            out = _URL.sub(" ", text)
    if "@" in out:
        out = _HANDLE.sub(" ", out)
    if brand is not None:
        out = _without_brand(out, brand)
    return out.replace("#", " ")


def _read_slang(out: str) -> str:
    """:func:`text_for_sentiment`'s second step: slang read as meant, names kept whole."""
    low = out.casefold()  # casefold: what IGNORECASE matches (the long s, Kelvin sign)
    # Substring pre-checks (C speed) before the word-boundary regexes, which try every position.
    if _SLANG_PHRASE_STEM.search(low) is not None and _SLANG_PHRASES.search(out):
        out = _SLANG_PHRASES.sub("did great", out)
        low = out.casefold()
    # any(...): _SLANG_SUBSTRING.search(low) is not None, faster (a test compares them)
    return _slang(out, any(map(low.__contains__, _SLANG_SUBSTRINGS)))


def _may_read_slang(token: str) -> bool:
    """Whether :func:`_read_slang` may change a text because of this one token.

    Exact per token, as no slang word, stem or capitalised word spans whitespace:
    ``_SLANG_WORD`` finds a word in a text iff in one of its tokens (a token's
    edges are word boundaries in the text too), ``casefold`` maps each character
    alone, and ``_CAPITALISED`` only matches at a token's start (after
    whitespace). The first token of a text counts even when nothing precedes it,
    and any stem counts: both only send a text the reference way.

    Each test needs two letters at least (an ASCII letter's case variants, "ſ" or
    the Kelvin sign, are letters too): most new tokens, an order number or a price,
    are at most one character once digits, punctuation and currency signs are
    stripped, and are answered by that strip (~1.5k instructions instead of ~13k).
    """
    if len(token.strip(_NO_LETTERS)) < 2:
        return False
    if _SLANG_WORD.search(token) is not None:
        return True
    low = token.casefold()
    if any(map(low.__contains__, _SLANG_PHRASE_STEMS)):
        return True
    capitalised = _CAPITALISED.search(" " + token)  # after whitespace: at the token's start
    return capitalised is not None and capitalised.group().lower() in _negative()


#: characters that are no letter, stripped first by :func:`_may_read_slang`
_NO_LETTERS = string.digits + string.punctuation + "£€¥"
#: a :class:`_Token`'s ``slang`` field
_SLANG_FIELD = itemgetter(4)


def _slang(text: str, maybe_slang: bool = True) -> str:
    """Rewrite slang intensifiers, slang praise and negative words inside names.

    ``maybe_slang`` False: the caller saw none of the slang words even as substrings.
    """
    if (not maybe_slang or _SLANG_WORD.search(text) is None) and _negative().isdisjoint(
        [word.lower() for word in _CAPITALISED.findall(text)]
    ):
        return text  # the common case: nothing to rewrite, decided by two C-level scans
    toks = _WORD_RUN.findall(text)
    lexicon = _analyzer().lexicon
    lowers = [t.lower().strip(_PUNCTUATION) for t in toks]
    caps = sum(t[:1].isupper() for t in toks)
    title_case = caps * 3 >= len(toks) * 2  # "Worst Service Ever": capitals say nothing
    changed = False
    for i, low in enumerate(lowers):
        nxt = lowers[i + 1] if i + 1 < len(lowers) else ""
        prev = lowers[i - 1] if i > 0 else ""
        ends_phrase = toks[i][-1:] in ".,!?;:"
        if low in _INTENSIFIERS and not ends_phrase and lexicon.get(nxt, 0.0) > 0:
            toks[i], changed = "really", True
        elif (
            low in _SLANG_ADJECTIVES
            and nxt.isalpha()
            and not ends_phrase
            and nxt not in _LITERAL_AFTER
            and prev not in _LITERAL_BEFORE
            and lexicon.get(nxt, 0.0) >= 0
        ):
            toks[i], changed = "great", True
        elif (
            not title_case
            and i > 0
            and toks[i - 1][-1:] not in ".!?"  # a sentence may open "Awful Service..."
            and lexicon.get(low, 0.0) < 0
            and toks[i][:1].isupper()
            and not toks[i].isupper()
            and not ends_phrase
            and i + 1 < len(toks)
            and toks[i + 1][:1].isupper()
            and not toks[i + 1].isupper()
            and nxt not in lexicon
        ):
            toks[i], changed = "", True  # a name: "Bloody Mary's", "Dead Sea"
    return " ".join(t for t in toks if t) if changed else text
