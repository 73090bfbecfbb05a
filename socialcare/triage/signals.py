"""Urgency signals: small pure functions, each returning a value in a documented range.

The scorer (:mod:`socialcare.triage.score`) multiplies each value by a weight
from ``[triage.weights]`` and sums them, so every function here is kept
separately testable and explainable: no I/O, no config reading, no globals
that change.

Intent is rule-based on purpose: it is cheap (the poll triages every page
inside its transaction), deterministic, and an agent can read why a mention
was called a complaint. The cue lists carry a few words of the languages our
customers write most (es, fr, de, pt, it, nl) where that costs nothing, since
non-English mentions have no sentiment to lean on.

Speed: all word lists (the built-in cues, the urgency lexicon and keyword
rules) are looked up in one pass over the text's words by a
:class:`TermMatcher` (dict lookups), not by one big regex alternation per
list; that alternation cost ~150 us per mention, more than VADER itself.
"""

from __future__ import annotations

import json
import re
import string
from operator import itemgetter
from typing import Any, Callable, Collection, Iterable, Mapping, NamedTuple, Sequence

from ..models import on_first_use
from .codec import PASSING as PASSING  # defined there, read here too
from .codec import reach as reach
from .codec import repeat_contact as repeat_contact
from .words import memo_words

__all__ = [
    "INTENTS",
    "CUES",
    "DEFAULT_URGENCY_WORDS",
    "MENTION_QUERIES",
    "Match",
    "TermMatcher",
    "BUILTIN_MATCHER",
    "PRESENCE_CUES",
    "find_cues",
    "compile_terms",
    "negative_strength",
    "urgency_words_found",
    "urgency",
    "is_spam",
    "is_question",
    "complaint_cues",
    "complaint_strength",
    "is_personal",
    "praise_cues",
    "apply_context",
    "in_context",
    "negated_at",
    "sarcasm",
    "classify_intent",
    "direct_address",
    "handles_pattern",
    "reach",
    "repeat_contact",
    "COMPLAINT_STARS",
    "low_rating",
]

#: every intent :func:`classify_intent` can return
INTENTS = ("complaint", "question", "praise", "spam", "other")

#: default urgency lexicon; ``*`` at the end of a word matches any ending
#: (``cancel*``: cancel, cancelled, cancellation); matching is on whole words
DEFAULT_URGENCY_WORDS: tuple[str, ...] = (
    "refund*", "charged twice", "double charged", "overcharged", "cancel*", "outage*",
    "down", "hacked", "scam*", "legal", "lawyer*", "solicitor*", "sue", "suing",
    "fraud*", "not working", "stopped working", "doesn't work", "does not work",
    "no signal", "no service", "no internet", "no connection", "locked out",
    "can't log in", "cannot log in", "stolen", "unauthorised", "unauthorized",
    "data breach", "emergency", "urgent*", "asap", "ombudsman", "regulator",
    "chargeback", "disconnected", "cut off",
)  # fmt: skip


# -- matching words and phrases ---------------------------------------------------
def _on_first_use(name: str, build: Callable[..., Any], *args: Any) -> Any:
    """``build(*args)`` as this module's global ``name``, built when first used: ``show``
    of a row explained from its stored signals uses none of them (issue 18 item 7)."""
    return on_first_use(globals(), name, build, *args)


_TOKEN: re.Pattern[str] = _on_first_use("_TOKEN", re.compile, r"\w+(?:['-]\w+)*")


def compile_terms(terms: Iterable[str]) -> re.Pattern[str] | None:
    """One case-insensitive regex matching any term on word boundaries (None if no terms).

    Used for terms that are not plain words (``10/10``, emoji); ``*`` matches
    the rest of a word, a space any whitespace, ``'`` either apostrophe.
    """
    parts = []
    for term in sorted({t.strip().lower() for t in terms if t.strip()}, key=len, reverse=True):
        body = re.escape(term).replace(r"\*", r"\w*")
        parts.append(re.sub(r"(\\ )+", r"\\s+", body.replace("'", "['’]")))
    if not parts:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)


def words(text: str, raw: list[str] | None = None) -> list[str]:
    """The lowercased words of ``text`` as :class:`TermMatcher` sees them (keeps ' and -).

    The words of the last :data:`TEXT_MEMO_SIZE` texts are remembered: scoring
    one mention asks for them several times (matcher, context checks, sarcasm),
    and a batch (``score_rows``) asks in separate passes over its texts, so the
    one last text would be another one by then. Callers must not change the list.

    The words of each whitespace-separated token are remembered too: no word
    spans whitespace (``\\w`` never matches it, and ``lower()`` reads no context
    across it), so the text's words are its tokens' words in order, and most
    tokens ("my", "bill", "@AcmeHelp") recur from post to post. ``raw``:
    ``text.split()``, when the caller has it (see :func:`~.words.memo_words`).
    """
    toks = _TEXT_WORDS.get(text)
    if toks is None:
        if len(_TEXT_WORDS) >= TEXT_MEMO_SIZE:
            _TEXT_WORDS.clear()
        toks = memo_words(text, _TOKEN_WORDS, _token_words, raw)
        _TEXT_WORDS[text] = toks
    return toks


def _token_words(token: str) -> tuple[str, ...]:
    """The words of one whitespace-free token (remembered)."""
    core = token.strip(_DIGIT_EDGES)
    if core.isdigit() and core.isascii():  # an order number in brackets: one word, no regex
        found: tuple[str, ...] = (core,)
    else:
        low = token.lower()
        found = tuple(_TOKEN.findall(low.replace("’", "'") if "’" in low else low))
    _TOKEN_WORDS[token] = found
    return found


#: ASCII punctuation that is no part of a word around digits ("_" is a word character)
_DIGIT_EDGES = "".join(c for c in string.punctuation if c != "_")


#: texts whose words :func:`words` remembers (more than a poll's batch of 2,000)
TEXT_MEMO_SIZE = 4096
_TEXT_WORDS: dict[str, list[str]] = {}
_TOKEN_WORDS: dict[str, tuple[str, ...]] = {}


class Match(NamedTuple):
    """One list term found in a text: its words as written, and their word positions."""

    term: str
    start: int
    end: int


#: the words of a term after its first one
_Tail = tuple[str, ...]


class TermMatcher:
    """Finds the terms of many named word lists in one pass over a text's words.

    A term is one or more words; a word ending in ``*`` matches any word that
    starts with it. Matching is case-insensitive on whole words, so "down"
    never fires inside "download". Terms that are not plain words (``10/10``,
    emoji) fall back to a small regex. Within one list, overlapping matches
    keep the leftmost-longest one, so "keeps dropping" counts once.

    ``presence`` names lists of single plain words whose only question is
    "does any occur?": they are answered with one set test and report one of
    the words found, without a position (the cheap path for "my" or "is").
    """

    #: distinct words whose candidate terms are remembered (then the memo restarts)
    MEMO_SIZE = 100_000

    def __init__(self, lists: Mapping[str, Iterable[str]], presence: Collection[str] = ()) -> None:
        self._exact: dict[str, list[tuple[str, _Tail]]] = {}
        self._prefix: dict[str, list[tuple[str, str, _Tail]]] = {}
        self._key_lengths: set[int] = set()
        self._memo: dict[str, _Heads | None] = {}
        #: the memo's words that start no term (most words): skipped by one set difference
        self._misses: set[str] = set()
        self._presence = [
            (name, frozenset(w.lower() for w in lists[name])) for name in presence if name in lists
        ]
        fallback: dict[str, list[str]] = {}
        for name, terms in lists.items():
            if name in presence:
                continue
            for term in terms:
                if not self._add(name, term):
                    fallback.setdefault(name, []).append(term)
        # each fallback regex runs only when its terms' first characters occur, and
        # (see _needles) a literal start of one of its terms ("10/10", not every "1")
        self._fallback = [
            (n, p, re.compile("[" + "".join(re.escape(t[0]) for t in terms) + "]"), _needles(terms))
            for n, terms in fallback.items()
            if (p := compile_terms(terms))
        ]
        self._fallback_gate = _fallback_gate([needles for *_, needles in self._fallback])

    def _add(self, name: str, term: str) -> bool:
        parts = term.strip().lower().replace("’", "'").split()
        if not parts or not all(_TOKEN.fullmatch(p.removesuffix("*")) for p in parts):
            return False
        head, tail = parts[0], tuple(parts[1:])
        if head.endswith("*"):
            stem = head[:-1]
            self._prefix.setdefault(stem[:3], []).append((stem, name, tail))
            self._key_lengths.add(len(stem[:3]))
        else:
            self._exact.setdefault(head, []).append((name, tail))
        return True

    def _candidates(self, word: str) -> _Heads | None:
        """Terms that may start at ``word``, grouped for cheap checks (memoised)."""
        entries = list(self._exact.get(word, ()))
        for k in self._key_lengths:
            for stem, name, tail in self._prefix.get(word[:k], ()):
                if word.startswith(stem):
                    entries.append((name, tail))
        if not entries:  # most new words ("39260", a name): nothing to group
            if len(self._memo) >= self.MEMO_SIZE:
                self._memo.clear()
                self._misses.clear()
            self._memo[word] = None
            self._misses.add(word)
            return None
        entries.sort(key=lambda entry: -len(entry[1]))  # longest first
        singles = tuple(dict.fromkeys(name for name, tail in entries if not tail))
        phrases: dict[str, list[tuple[str, _Tail]]] = {}
        wild = []
        for name, tail in entries:
            if tail and tail[0].endswith("*"):
                wild.append((name, tail))
            elif tail:
                phrases.setdefault(tail[0], []).append((name, tail))
        heads = None
        if entries:
            grouped = {k: tuple(v) for k, v in phrases.items()}
            heads = _Heads(singles, grouped, tuple(wild), tuple(t[0][:-1] for _, t in wild))
        if len(self._memo) >= self.MEMO_SIZE:
            self._memo.clear()
            self._misses.clear()
        self._memo[word] = heads
        if heads is None:
            self._misses.add(word)
        return heads

    def find(self, text: str, raw: list[str] | None = None) -> dict[str, list[Match]]:
        """Every list's matches in ``text`` (lists with none are left out).

        ``raw``: ``text.split()``, when the caller has it (see :func:`words`).
        """
        toks = words(text, raw)
        found: dict[str, list[Match]] = {}
        ends: dict[str, int] = {}
        new = tuple.__new__  # Match(...) without its Python-level __new__ (same tuple)
        # Words that may start a term: most words start none, and set arithmetic (C speed)
        # drops them before the loop; unseen words are looked up (and remembered) first.
        tokset = set(toks)
        maybe = tokset.difference(self._misses)
        if maybe:
            memo = self._memo
            for tok in maybe:
                if tok not in memo:
                    self._candidates(tok)
            maybe.difference_update(self._misses)
        # the positions of those words (a comprehension: cheaper than testing in the loop)
        memo_get, last = self._memo.get, len(toks) - 1
        for i in [i for i, tok in enumerate(toks) if tok in maybe] if maybe else ():
            tok = toks[i]
            heads = memo_get(tok)
            if heads is None:  # the memo restarted while filling it
                heads = self._candidates(tok)
                if heads is None:
                    continue
            singles, phrases, wild, stems = heads  # one unpacking, not an attribute read each
            if phrases or wild:
                nxt = toks[i + 1] if i < last else ""
                tails = phrases.get(nxt, ())
                # those whose first tail word ("work*") the next word fits, if any does
                # (one C-level startswith of all their stems first: "not", "no" have some)
                if wild and nxt.startswith(stems):
                    tails += tuple(w for w in wild if nxt.startswith(w[1][0][:-1]))
                for name, tail in tails:
                    # the tail's first word is the next word already (grouped by it, or
                    # its prefix checked just above): only longer tails need a check
                    if ends.get(name, 0) <= i and (
                        len(tail) == 1 or _tail_matches(tail, toks, i + 1)
                    ):
                        end = i + 1 + len(tail)
                        match = new(Match, (" ".join(toks[i:end]), i, end))
                        hits = found.get(name)
                        if hits is None:
                            found[name] = [match]
                        else:
                            hits.append(match)
                        ends[name] = end
            for name in singles:
                if ends.get(name, 0) <= i:
                    match = new(Match, (tok, i, i + 1))
                    hits = found.get(name)
                    if hits is None:
                        found[name] = [match]
                    else:
                        hits.append(match)
                    ends[name] = i + 1
        for name, vocab in self._presence:
            hit = vocab.intersection(tokset)  # one set operation, not isdisjoint and then this
            if hit:
                found[name] = [new(Match, (min(hit), -1, -1))]
        gate = self._fallback_gate
        for name, pattern, firsts, needles in (
            self._fallback if gate is None or any(map(text.__contains__, gate)) else ()
        ):
            # a needle is the start of a term, so containing one implies a first character
            if (
                any(map(text.__contains__, needles))
                if needles is not None
                else firsts.search(text) is not None
            ):
                extra = [Match(m.group(0).lower(), -1, -1) for m in pattern.finditer(text)]
                if extra:
                    found.setdefault(name, []).extend(extra)
        return found


def _fallback_gate(needles: Sequence[tuple[str, ...] | None]) -> tuple[str, ...] | None:
    """Substrings one of which a text must contain for any fallback list to be tried.

    Every list's needles together, less those that contain another (a text with
    "10/10" has "/"): one C-level test for most texts, not one per list. None
    (no gate) when some list has no needles.
    """
    if any(n is None for n in needles):
        return None
    every = {s for n in needles for s in n or ()}
    return tuple(sorted(s for s in every if not any(o != s and o in s for o in every)))


def _needles(terms: Iterable[str]) -> tuple[str, ...] | None:
    """Substrings one of which a text must contain for :func:`compile_terms`' regex to match.

    Each term's start up to its first letter, space, apostrophe or ``*``: those
    characters the regex matches literally (no case, no other spelling), so a
    match implies the substring. None when some term starts with such a character.
    """
    out = []
    for term in {t.strip().lower() for t in terms if t.strip()}:
        prefix = ""
        for ch in term:
            if ch.isalpha() or ch.isspace() or ch in "'’*" or ch.lower() != ch.upper():
                break
            if ch.casefold() != ch:
                break
            prefix += ch
        if not prefix:
            return None
        out.append(prefix)
    return tuple(out) or None


class _Heads(NamedTuple):
    """The terms that can start at one word: one-word terms, and phrases by next word."""

    singles: tuple[str, ...]
    phrases: dict[str, tuple[tuple[str, _Tail], ...]]
    wild: tuple[tuple[str, _Tail], ...]
    #: the stem of each ``wild`` phrase's first tail word ("work" of "not work*")
    stems: tuple[str, ...]


_UNSEEN = _Heads((), {}, (), ())


def _tail_matches(tail: _Tail, toks: list[str], start: int) -> bool:
    """Whether the words from ``start`` on match ``tail`` (``*`` words by prefix)."""
    if start + len(tail) > len(toks):
        return False
    for offset, want in enumerate(tail):
        got = toks[start + offset]
        if want != got and not (want.endswith("*") and got.startswith(want[:-1])):
            return False
    return True


Found = Mapping[str, Sequence[Match]]


def _terms(found: Found, name: str) -> list[str]:
    """Distinct matched terms of one list, in order of appearance."""
    return list(dict.fromkeys(m.term for m in found.get(name, ())))


# -- the built-in cue lists ---------------------------------------------------------
#: cue word lists used by intent classification (see :func:`classify_intent`)
CUES: Mapping[str, tuple[str, ...]] = {
    "spam": (
        "crypto*", "bitcoin*", "btc", "nft*", "forex", "airdrop*", "giveaway*",
        "free iphone*", "free gift*", "claim your", "claim now", "dm me",
        "dm now", "inbox me", "follow back", "followback", "f4f", "follow me",
        "promo code", "discount code", "use code", "click here", "limited offer",
        "limited time offer", "guaranteed profit*", "guaranteed returns", "passive income",
        "make money", "work from home", "cash app", "whatsapp me", "telegram",
        "onlyfans", "link in bio", "check my bio", "buy followers", "cheap followers", "real followers", "more followers", "gain followers",
        "verify your account", "verify your", "click to", "investment opportunity",
        "win a", "you have won", "you've won", "congratulations you",
    ),
    #: social-media idioms that look like questions but ask nobody anything
    "rhetorical": (
        "who else", "anyone else", "is it just me", "am i the only one", "guess who",
    ),
    "question": (
        "anyone know*", "does anyone", "is there a way", "is it possible", "how do i",
        "how can i", "how do you", "can you", "could you", "can someone", "can anyone",
        "please advise", "pls advise", "let me know", "wondering", "any idea*",
        "need help", "help me", "i need to know", "what's the", "whats the", "do you",
        "who do i", "where can i", "where do i", "not sure how", "no idea how",
        "i'd like to know", "can i", "am i able", "call me back", "please call",
        "get back to me", "do i need", "do i have to", "do i keep", "what do i",
        "how much", "how long", "any update*", "any news", "any chance", "i need a",
        "i need to", "i'd like to", "i would like", "looking to",
        "is there", "are there", "or not", "bitte um", "por favor", "s'il vous plaît",
        "svp",
    ),
    #: problem words; each counts 1 toward "complaint"
    "problem": (
        "not working", "stop* working", "doesn't work*", "does not work*", "won't work*",
        "isn't working", "hasn't work*", "haven't work*", "didn't work*", "not work*",
        "keeps", "keep", "nothing works", "nothing loads", "broken", "broke", "dead",
        "outage*", "no signal", "no service", "no internet", "no connection",
        "no wifi", "no broadband", "no landline", "zero bars", "drop*", "cut* out",
        "cut off", "disconnect*", "crash*", "stuck", "frozen", "freez*", "error*",
        "fail*", "slow", "painfully", "laggy", "overheat*", "reboot*", "crackl*",
        "vanish*", "still waiting", "been waiting", "on hold", "hold music",
        "never arrived", "never showed", "not delivered", "hasn't arrived", "not arrived",
        "no show", "didn't turn up", "tracking", "charged twice", "double charged",
        "two payments", "taken twice", "payment taken", "left my account",
        "taken from my account", "billed", "overcharged", "late fee", "exit fee",
        "admin charge", "debt collector", "price rise", "price increase", "price hike",
        "went up", "gone up", "raised", "wrong", "cracked", "damaged", "missing",
        "without the", "hacked", "fraud*", "scam*", "without my permission",
        "wasn't me", "it wasn't me", "locked out", "privacy", "rip off", "ripoff",
        "rip-off", "useless", "terrible", "awful", "horrible", "worst", "ridiculous",
        "unacceptable", "disgust*", "disgrace*", "shocking", "pathetic", "joke", "rude",
        "fed up", "sick of", "tired of", "disappoint*", "annoy*", "frustrat*",
        "furious", "angry", "worried", "complain*", "nobody", "no one", "no reply",
        "no response", "still nothing", "ignor*", "circles", "starts from zero",
        "third time", "second time", "3rd time", "2nd time", "year running",
        "three times", "four times", "five times", "several times", "multiple times",
        "refund*", "money back", "sort it out", "sort this out", "fix it", "fix this",
        "for nothing", "zero help", "no help", "lawyer*", "ombudsman", "ofcom",
        "regulator", "porting out", "leaving", "i'm done", "losing", "missed", "lost",
        "stolen", "no warning", "never agreed", "never ordered", "promised",
        "no funciona", "sin internet", "sin señal", "sin servicio", "inaceptable",
        "pésimo", "pesimo", "nadie", "funktioniert nicht", "kein internet", "kein netz",
        "störung", "kaputt", "falsch", "doppelt", "niemand", "ne fonctionne",
        "ne marche", "pas de connexion", "pas de réseau", "inadmissible", "toujours pas",
        "nul", "não funciona", "sem internet", "sem sinal", "péssimo", "errad*",
        "non funziona", "pessimo", "nessuno", "sbagliat*", "geen internet",
        "werkt niet", "kapot", "klopt niet", "storing", "belachelijk",
    ),
    #: weak problem words (negations, repetition): each counts 0.5
    "weak_problem": (
        "not", "no", "never", "hasn't", "haven't", "isn't", "wasn't", "didn't",
        "doesn't", "don't", "won't", "can't", "cannot", "couldn't", "unable", "again",
        "still", "without", "late", "hours", "days", "weeks", "seriously", "honestly",
        "charged", "charges", "queue",
        "apparently", "supposed to", "instead",
    ),
    #: praise said through a negation: neither problem nor weak problem
    "negated_praise": (
        "can't fault", "cannot fault", "no complaints", "can't complain", "never had an issue",
        "never had a problem", "never had any problem*", "never let me down", "no issues",
        "couldn't be happier", "not often i say", "no more dead spots", "problem solved",
        "problem is solved", "not bad", "no problem*", "no fee*", "no charge*",
        "no extra charge*", "no hidden", "no hassle", "no fuss", "without any fuss", "no drama",
        "no bother", "no questions asked", "couldn't have gone better",
        "could not have gone better", "couldn't have been better", "couldn't be better",
        "could not be better", "can't ask for more", "couldn't ask for more",
    ),
    #: praise words negated ("isn't sorted"): a problem, and not praise
    "negated_fix": (
        "not sorted", "isn't sorted", "wasn't sorted", "not fixed", "isn't fixed",
        "wasn't fixed", "never fixed", "not resolved", "isn't resolved", "not helpful",
        "wasn't helpful", "not working again", "not happy", "not impressed",
    ),
    #: phrases that turn praise words into sarcasm ("great, another outage")
    "sarcasm": (
        "thanks for nothing", "cheers for nothing", "love how", "love it when",
        "love that for me", "love that i", "oh great", "oh good", "oh cool", "just great",
        "oh wonderful", "oh brilliant", "oh lovely", "oh fantastic", "oh perfect", "oh joy",
        "another outage", "yet again", "as usual", "as always", "/s", "🙄", "🙃",
        "so glad i pay", "great another", "brilliant another", "nothing says",
        "it would be nice if", "would be nice if", "we value your",
    ),
    "praise": (
        "thank*", "thx", "ty", "cheers", "love*", "loving", "great", "awesome", "amazing",
        "brilliant", "excellent", "fantastic", "superb", "best", "kudos", "shout out",
        "shoutout", "props", "credit where", "well done", "nice one", "legend*", "hero*",
        "impressed", "impressive", "happy", "appreciate*", "top notch", "sorted",
        "fixed", "resolved", "solved", "working again", "back up", "spot on", "helpful",
        "kind", "patient", "painless", "quick", "fast", "fastest", "smooth",
        "recommend*", "5 stars", "five stars", "10/10", "miles better", "just works",
        "rock", "unreal", "how you do it", "merci", "gracias", "danke", "obrigad*",
        "grazie", "bedankt", "bravo", "super", "genial", "perfect*", "wonderful",
        "lifesaver", "star", "can't fault", "no complaints", "never let me down",
        "never had an issue", "no more dead spots", "good job", "great job", "great work",
        "lovely", "incredible", "brilliantly", "above and beyond", "class act", "fair play",
        "credit to", "nice", "respect",
    ),
    #: context-checked problem words (see :func:`in_context`): "lay you down" is no outage
    "problem_context": ("down",),
    #: a problem put right: praise next to a problem word is then no sarcasm
    "resolution": (
        "fixed", "sorted", "resolved", "solved", "working again", "back up", "back on",
        "found", "replaced", "rebooked", "refunded", "reimbursed", "arrived", "turned up",
        "landed", "waived", "on its way", "got us on", "got me on", "sorted out", "put right",
        "sorting", "chasing", "got my refund", "got the refund", "got a refund", "applied",
        "credited", "turned around", "turned it around", "made up for",
    ),
    #: words that can open a question clause: only texts with one need the clause scan
    "opener": (
        "how", "what", "what's", "whats", "when", "where", "who", "which", "why", "can",
        "could", "do", "does", "did", "is", "are", "will", "should", "any", "anyone",
        "anybody", "cómo", "qué", "cuándo", "dónde", "por", "cuánto", "wie", "wann",
        "warum", "wieso", "comment", "pourquoi", "quand", "où", "est-ce", "combien",
        "quando", "onde", "quanto", "perché", "perchè", "dove", "hoe", "wanneer", "waarom",
    ),
    "first_person": (
        "i", "i'm", "i've", "i'd", "i'll", "me", "my", "mine", "we", "our", "us", "im", "ive",
    ),
}  # fmt: skip
#: cue lists that are only tested for presence (see :class:`TermMatcher`)
PRESENCE_CUES = ("opener", "first_person")
#: the built-in lists alone (what the pure functions use when given only a text)
BUILTIN_MATCHER: TermMatcher = _on_first_use("BUILTIN_MATCHER", TermMatcher, CUES, PRESENCE_CUES)


def find_cues(text: str, matcher: TermMatcher | None = None) -> Found:
    """All cue-list matches of ``text`` (pass a settings' matcher to include its lexicon)."""
    return (matcher or BUILTIN_MATCHER).find(text)


# -- sentiment --------------------------------------------------------------
def negative_strength(compound: float | None) -> float:
    """0..1: how negative VADER's compound is (0 for neutral, positive or unscored)."""
    if compound is None:
        return 0.0
    return min(max(-compound, 0.0), 1.0)


# -- urgency lexicon ----------------------------------------------------------
def urgency_words_found(found: Found, name: str = "urgency") -> list[str]:
    """The distinct urgency terms among ``found`` (a matcher built with an urgency list)."""
    return _terms(found, name) if name in found else []


def urgency(terms: Sequence[str]) -> float:
    """0..1 from the number of distinct urgency terms: 0, 0.5, 0.75, 0.875, ... -> 1.

    Each extra term adds half of what is left, so one strong word already
    counts while a pile-up of words cannot run away with the score.
    """
    return 1.0 - 0.5 ** len(terms)


# -- intent -------------------------------------------------------------------
_LINK: re.Pattern[str] = _on_first_use(
    "_LINK",
    re.compile,
    r"https?://\S+|www\.\S+|\b(?:bit\.ly|t\.co|tinyurl\.com)/\S+",
    re.IGNORECASE,
)
#: the two halves of a money-rate claim ("earn up to $500", "$200 a day"): each is
#: searched only in a text that has its literal ("earn", a currency sign)
_EARN = r"\bearn\s+(?:up\s+to\s+)?[$£€]?\d"
_PER = r"[$£€]\s?\d[\d,]*\+?\s*(?:a|per|/|every)\s*(?:day|week|month|hour)"
_MONEY_EARN: re.Pattern[str] = _on_first_use("_MONEY_EARN", re.compile, _EARN, re.IGNORECASE)
_MONEY_PER: re.Pattern[str] = _on_first_use("_MONEY_PER", re.compile, _PER, re.IGNORECASE)
#: both halves in one regex: what :func:`_money_rate` answers (a test compares them)
_MONEY_RATE: re.Pattern[str] = _on_first_use(
    "_MONEY_RATE", re.compile, _EARN + "|" + _PER, re.IGNORECASE
)
#: what may precede a clause's first word: @handles ("hi @Acme, which plan") and greetings
_LEAD_HANDLE = r"[@.][\w.]+"
_LEAD_WORDS = ("hi", "hey", "hello", "morning", "evening", "ok", "so", "and", "but", "also")
#: clause openings, matched at the start of each clause (lowercased): questions that are
#: really complaints ("how many more times", "what am I paying for"), "why ...", and
#: ordinary question words; each a regex alternative
_COMPLAINT_OPENINGS = (
    "how many more",
    r"how long (?:do|must|will|am) (?:i|we)\b",
    r"is (?:any|some)(?:body|one) (?:actually|even)\b",
    r"is it normal\b",
    "what (?:exactly )?am i (?:even )?paying for",
)
_WHY_OPENINGS = (r"why\b",)
_QUESTION_OPENINGS = (
    r"how(?!\s+(?:nice|lovely|kind|sweet|cool|good|great|amazing|lucky)\b)",
    r"what(?!\s+(?:an?|a\s+lot\s+of)\b)", "what's", "whats", "when", "where", "who", "which",
    "can", "could", "do", "does", "did", "is", "are", r"will\s+(?:my|it|i|the|his|her|our|you)",
    r"should\s+i", "any", "anyone", "anybody",
    "cómo", "qué", "cuándo", "dónde", r"por\s+qu[ée]", "cuánto", "wie", "wann", "warum", "wieso",
    "comment", "pourquoi", "quand", "où", "est-ce", "combien", "quando", "onde", "quanto",
    r"perch[ée]", "dove", "hoe", "wanneer", "waarom",
)  # fmt: skip
#: every alternative a clause's start may begin with (tests/triage/test_fast_paths.py
#: checks that each passes :data:`_OPENING`)
_OPENING_ALTERNATIVES = (
    _LEAD_HANDLE,
    *_LEAD_WORDS,
    *_COMPLAINT_OPENINGS,
    *_WHY_OPENINGS,
    *_QUESTION_OPENINGS,
)
#: characters that end a regex's literal start
_REGEX_META = frozenset("\\.^$*+?{}[]|()")


def _literal_start(alternative: str) -> str:
    """The characters a regex alternative matches literally before its first construct."""
    n = 0
    while n < len(alternative) and alternative[n] not in _REGEX_META:
        n += 1
    if n < len(alternative) and alternative[n] in "?*{":
        n -= 1  # a quantifier makes the literal before it optional
    return alternative[:n]


def _opening_gate(alternatives: Iterable[str], handle_class: str) -> str:
    """A lookahead on the first two characters any of ``alternatives`` can start with.

    Derived from the alternatives themselves, so a new opening word can never be
    stopped by it. ``handle_class`` opens the lookahead for the alternatives
    that start with that character class (the @handle lead). Any other
    alternative must start with two literal characters, or the gate could not
    name its start: it is refused.
    """
    firsts: dict[str, set[str]] = {}
    for alt in alternatives:
        if alt.startswith(handle_class):
            continue
        start = _literal_start(alt)
        if len(start) < 2:
            raise ValueError(f"clause opening {alt!r}: its first two characters must be literal")
        firsts.setdefault(start[0], set()).add(start[1])
    items = [handle_class] + [
        re.escape(a) + (re.escape(min(bs)) if len(bs) == 1 else f"[{''.join(sorted(bs))}]")
        for a, bs in sorted(firsts.items())
    ]
    return "(?=" + "|".join(items) + ")"


#: the first two characters of every :data:`_LEAD` item and clause opening: a lookahead
#: wherever one may start, so the regex gives up at once where none can (most clauses),
#: instead of trying every alternative at each character of an @handle it backtracks
#: through (~3 us a clause). A necessary condition only: the matches are the same
#: (tests/triage/test_fast_paths.py compares the regex without the lookaheads)
_OPENING = _opening_gate(_OPENING_ALTERNATIVES, "[@.]")
_LEAD = r"(?:(?:" + "|".join((_LEAD_HANDLE, *_LEAD_WORDS)) + r")[:,!]?\s*" + _OPENING + ")*"
_CLAUSE: re.Pattern[str] = _on_first_use("_CLAUSE", re.compile, r"[.,!;:\n]")
_CLAUSE_START: re.Pattern[str] = _on_first_use(
    "_CLAUSE_START",
    re.compile,
    r"\s*" + _OPENING + _LEAD + r"(?:"
    r"(?P<complaint>" + "|".join(_COMPLAINT_OPENINGS) + ")"
    r"|(?P<why>" + "|".join(_WHY_OPENINGS) + ")"
    r"|(?P<question>(?:" + "|".join(_QUESTION_OPENINGS) + r")\b(?!['’]|\s+not\b)))",
)  # matched against lowercased text: IGNORECASE would double its cost
_PRAISE_EMOJI: re.Pattern[str] = _on_first_use(
    "_PRAISE_EMOJI", re.compile, "[👏🙌❤💯🙏😍🥰💙💚⭐🚀]"
)


def _cues(text: str, found: Found | None) -> Found:
    return apply_context(text, BUILTIN_MATCHER.find(text)) if found is None else found


# -- context-checked words ---------------------------------------------------------
#: words that negate the word after them (within :data:`NEGATION_WINDOW` words)
NEGATORS = frozenset(
    "not no never without hardly nothing nobody none nor isn't wasn't aren't weren't "
    "don't doesn't didn't hasn't haven't hadn't won't wouldn't shouldn't ain't".split()
)
NEGATION_WINDOW = 3
#: verbs of state before a context word: "is down", "been delayed", "went down"
STATE_VERBS = frozenset(
    "is are was were been be being am 's it's went gone goes go going keeps kept still "
    "got gets get now again".split()
)
#: what may follow a context word to make it an incident: "down since 6am", "delayed 3 hours"
TIME_WORDS = frozenset(
    "since for again all today tonight now until till yet overnight hours minutes mins "
    "days weeks by".split()
)
#: matcher lists whose matches are context-checked, and the list each joins when it passes
CONTEXT_LISTS = {"problem_context": "problem", "urgency_context": "urgency"}


def negated_at(toks: Sequence[str], start: int) -> bool:
    """Whether a negator occurs in the :data:`NEGATION_WINDOW` words before ``start``.

    One C-speed set test of the window (~0.25 us less a call than a generator over it).
    """
    return not NEGATORS.isdisjoint(toks[max(0, start - NEGATION_WINDOW) : start])


def in_context(toks: Sequence[str], match: Match, other_problem: bool) -> bool:
    """Whether a context-checked word reports an incident here (see the domain pack format).

    Not negated ("never lets me down", "no delays"); and a single word must
    follow a state verb ("is down"), precede a time ("delayed 3 hours", "down
    since Monday"), or share the post with another problem word.
    """
    if match.start < 0 or negated_at(toks, match.start):
        return False
    if match.end - match.start > 1 or other_problem:
        return True
    before = toks[match.start - 1] if match.start > 0 else ""
    after = toks[match.end] if match.end < len(toks) else ""
    two_before = toks[match.start - 2] if match.start > 1 else ""
    return (
        before in STATE_VERBS
        or after in TIME_WORDS
        or after.isdigit()
        or (before in TIME_WORDS and two_before.isdigit())  # "a 4 hour delay"
    )


def apply_context(text: str, found: Found) -> Found:
    """``found`` with the context-checked lists merged into their lists where they pass.

    A thank-you drops them altogether ("helped us in an emergency"): praise with
    no plain problem word. Calling it again on its own result changes nothing.
    """
    if found.keys().isdisjoint(CONTEXT_LISTS):  # most texts: one C-level test, no generator
        return found
    out = {k: v for k, v in found.items() if k not in CONTEXT_LISTS}
    plain = "problem" in found or "urgency" in found
    if "praise" in found and not plain and "sarcasm" not in found:
        return out
    toks = words(text)
    for name, target in CONTEXT_LISTS.items():
        kept = [m for m in found.get(name, ()) if in_context(toks, m, plain)]
        if kept:
            merged = sorted([*out.get(target, ()), *kept], key=lambda m: (m.start, m.end))
            out[target] = merged
    return out


# -- sarcasm ------------------------------------------------------------------------
#: words that put praise and a problem side by side honestly: "down, but fixed fast"
CONTRAST = frozenset("but though although however despite whereas except".split())
#: service words that, quoted, are sarcasm: the "help", 'priority' boarding
_QUOTABLE = frozenset(
    "help helpful service support care customer free priority premium express "
    "upgrade fast quick friendly easy assistance".split()
)
_QUOTED: re.Pattern[str] = _on_first_use(
    "_QUOTED", re.compile, r"(?:^|(?<=[\s(]))['\"“‘]([^'\"“”‘’\n]{2,30}?)['\"”’](?=[\s.,!?;:)]|$)"
)
_QUOTE_OPEN: re.Pattern[str] = _on_first_use("_QUOTE_OPEN", re.compile, r"(?:^|[\s(])['\"“‘]")
#: how many words apart praise and a problem word may be to read as sarcasm
SARCASM_WINDOW = 8
_THANKS = frozenset({"thx", "ty", "cheers", "appreciate", "appreciated", "merci", "gracias"})


def _resolved(text: str, cues: Found) -> bool:
    """Whether something was put right ("found", "rebooked"), not negated ("nobody turned up")."""
    fixes = cues.get("resolution")
    if not fixes:
        return False
    toks = words(text)
    return any(not negated_at(toks, m.start) for m in fixes)


def _inside(match: Match, spans: Sequence[Match]) -> bool:
    return any(match.start < s.end and s.start < match.end for s in spans)


def sarcasm(text: str, found: Found | None = None) -> str | None:
    """Why the praise in ``text`` reads as sarcasm, or None.

    Three signs: a sarcastic phrase ("thanks for nothing", "yet again"); praise
    or a service word in quotes (the 'helpful' agent); or praise within
    :data:`SARCASM_WINDOW` words of a plain problem word when nothing was put
    right and no "but" sets them apart ("Cancelled again. Brilliant work").
    """
    cues = _cues(text, found)
    phrase = cues.get("sarcasm")
    if phrase:
        return f"'{phrase[0].term}'"
    if _QUOTE_OPEN.search(text) is not None:
        for m in _QUOTED.finditer(text):
            inner = m.group(1)
            if _QUOTABLE.intersection(words(inner)) or "praise" in BUILTIN_MATCHER.find(inner):
                return f"quoted '{inner}'"
    praise, problems = cues.get("praise"), cues.get("problem")
    if not praise or not problems or _resolved(text, cues):
        return None
    spans = [*cues.get("negated_praise", ()), *cues.get("negated_fix", ())]
    toks: list[str] | None = None
    for p in praise:
        if p.start < 0 or _inside(p, spans):
            continue
        # thanks are mostly meant: only "thanks for <problem>" right after is sarcasm
        window = 4 if p.term in _THANKS or p.term.startswith("thank") else SARCASM_WINDOW
        for q in problems:
            if q.start < 0 or _inside(q, spans):
                continue
            if not (-SARCASM_WINDOW <= q.start - p.start <= window):
                continue
            if window == 4 and q.start < p.start:
                continue
            toks = words(text) if toks is None else toks
            lo, hi = sorted((p.end, q.end))
            if not CONTRAST.intersection(toks[min(p.start, q.start) : hi]):
                return f"'{p.term}' next to '{q.term}'"
    return None


def _outside(matches: Sequence[Match], spans: Sequence[Match]) -> list[str]:
    """Distinct terms of ``matches`` that do not overlap any of ``spans``."""
    if not spans:
        return list(dict.fromkeys(m.term for m in matches))
    kept = (
        m.term
        for m in matches
        if m.start < 0 or not any(m.start < s.end and s.start < m.end for s in spans)
    )
    return list(dict.fromkeys(kept))


def is_spam(text: str, found: Found | None = None) -> bool:
    """Promotional or scam posts: a link plus one spam cue, or two spam cues without one.

    One cue is not enough on its own: customers write "please DM me", and a
    link plus a cue is no spam when the post also reports a problem in the
    first person or to an @account ("@Acme promo code does not work, see http://...").
    """
    cues = _cues(text, found)
    spam = cues.get("spam")
    if spam is None and "$" not in text and "£" not in text and "€" not in text:
        if "earn" not in text.lower():
            return False  # the common case, decided without regexes
    count = len({m.term for m in spam or ()})
    if count < 2 and _money_rate(text):
        count += 1
    if count >= 2:
        return True
    own_problem = "problem" in cues and ("first_person" in cues or "@" in text)
    return count == 1 and not own_problem and _LINK.search(text) is not None


def _money_rate(text: str) -> bool:
    """Whether ``_MONEY_RATE`` matches: each half searched only where its literal occurs.

    A price ("refund of £39") no longer runs the "earn" half over the whole text,
    nor a text without a currency sign the other: ~0.13 us a mention with one.
    """
    if ("$" in text or "£" in text or "€" in text) and _MONEY_PER.search(text) is not None:
        return True
    return "earn" in text.lower() and _MONEY_EARN.search(text) is not None


_NO_STARTS: frozenset[str] = frozenset()


def _clause_starts(text: str) -> set[str]:
    """Which kinds of clause opening occur: ``complaint``, ``why``, ``question``."""
    kinds = set()
    for clause in _CLAUSE.split(text.lower()):
        m = _CLAUSE_START.match(clause)
        if m is not None and m.lastgroup:
            kinds.add(m.lastgroup)
    return kinds


def is_question(text: str, found: Found | None = None) -> bool:
    """A question or request: a "?", a clause opening with a question word, or an asking phrase.

    Customers often skip the "?" ("how do I change my plan") or ask mid-post
    ("moving to Spain, which add-on should I get"). Words that often open
    statements in tweet-speak ("was told...", "will never...", "do not buy")
    and rhetorical idioms ("who else remembers...") do not count.
    """
    cues = _cues(text, found)
    return _is_question(text, cues, _clause_starts(text) if "opener" in cues else _NO_STARTS)


def _is_question(text: str, cues: Found, starts: Collection[str]) -> bool:
    if "rhetorical" in cues:
        return False
    if starts or "question" in cues:
        return True
    if "?" not in text and "¿" not in text and "？" not in text:
        return False
    body = _LINK.sub(" ", text) if "/" in text else text  # "?" inside a link asks nothing
    if "¿" in body:
        return True
    return any(
        len(_CLAUSE_WORD.findall(clause)) >= MIN_QUESTION_WORDS
        for clause in _asked(body.replace("？", "?"))
    )


def _asked(text: str) -> list[str]:
    """``_ASKED.findall(text)`` in one pass: the text back to the last mark before each "?".

    The regex tries every start position and rescans the clause from each (quadratic
    in the clause); this walks the marks once (a test keeps the two equal).
    """
    out = []
    start = 0
    for m in _MARK.finditer(text):
        if m.group() == "?":
            out.append(text[start : m.start()])
        start = m.end()
    return out


#: a "?" asks only after a clause of at least this many words ("(Tabitha?)" does not)
MIN_QUESTION_WORDS = 3
#: the clause each "?" closes: back to the previous sentence mark or bracket
_ASKED: re.Pattern[str] = _on_first_use("_ASKED", re.compile, r"([^.!?;:\n(\[]*)\?")
#: the marks that end an :data:`_ASKED` clause ("?" among them)
_MARK: re.Pattern[str] = _on_first_use("_MARK", re.compile, r"[.!?;:\n(\[]")
_CLAUSE_WORD: re.Pattern[str] = _on_first_use("_CLAUSE_WORD", re.compile, r"(?<![@\w])\w[\w'’-]*")


def complaint_cues(text: str, found: Found | None = None) -> list[str]:
    """Distinct problem words; weak ones in brackets, "(not)"; "can't fault" is no problem."""
    cues = _cues(text, found)
    negated = cues.get("negated_fix", ())
    spans = (
        [*cues.get("negated_praise", ()), *negated] if negated or "negated_praise" in cues else []
    )
    strong = _outside(cues.get("problem", ()), spans)
    weak = _outside(cues.get("weak_problem", ()), spans)
    return [m.term for m in negated] + strong + [f"({w})" for w in weak]


def complaint_strength(cues: Sequence[str]) -> float:
    """0 and up: 1 per problem word, 0.5 per weak one (shown in brackets by complaint_cues)."""
    return sum(0.5 if c.startswith("(") else 1.0 for c in cues)


def praise_cues(text: str, found: Found | None = None) -> list[str]:
    """Distinct thanks / praise words (and a few praise emoji); "not fixed" is no praise."""
    cues = _cues(text, found)
    terms = _outside(cues.get("praise", ()), cues.get("negated_fix", ()))
    emoji = _PRAISE_EMOJI.search(text)
    return [*terms, emoji.group(0)] if emoji else terms


def is_personal(text: str, found: Found | None = None) -> bool:
    """First-person words: a customer's own experience, not news about the brand."""
    return "first_person" in _cues(text, found)


def classify_intent(
    text: str, compound: float | None, *, direct: bool = False, found: Found | None = None
) -> str:
    """complaint, question, praise, spam or other, by these rules in order.

    1. spam (:func:`is_spam`);
    2. complaint: sarcasm with a problem, or a complaint dressed as a question
       ("why does it keep...", "how many more times"); otherwise the post must
       be the customer's own (``direct`` address or first-person words, so
       "Acme stock down after outage" stays news) and have problem strength
       >= 2, or >= 1 unless VADER is clearly positive (>= 0.3), or >= 0.5
       with a negative compound (<= -0.25), or a very negative compound
       alone (<= -0.6); a question or a thank-you needs strength 2, so "how
       do I cancel?" stays a question and "down for ten minutes but fixed
       fast, thanks!" stays praise;
    3. question or request (:func:`is_question`);
    4. praise: thanks/praise words, unless VADER calls it negative (< -0.25)
       while problem words are present;
    5. other (chatter, news, passing mentions).

    ``compound`` is None for unscored (non-English) texts: cue words decide.
    ``found`` is :func:`find_cues` of ``text``, when the caller already has it.
    """
    cues = _cues(text, found)
    if is_spam(text, cues):
        return "spam"
    score = 0.0 if compound is None else compound
    strength = _strength(text, cues)
    starts = _clause_starts(text) if "opener" in cues else _NO_STARTS
    personal = direct or "first_person" in cues
    if "complaint" in starts or (strength > 0 and "why" in starts):
        return "complaint"
    if (strength > 0 or personal) and _may_be_sarcastic(text, cues) and sarcasm(text, cues):
        return "complaint"
    question = _is_question(text, cues, starts)
    praise = _has_praise(text, cues)
    if praise and strength > 0 and not question:
        last = _after_contrast(text, cues)
        if last is not None:
            return "complaint" if personal and last else "praise"
    praise = praise or _resolved(text, cues)
    own = "first_person" in cues
    if personal and _is_complaint(strength, score, question or praise, own):
        return "complaint"
    if question:
        return "question"
    if praise and (score >= -0.25 or strength == 0):
        return "praise"
    return "other"


def _after_contrast(text: str, cues: Found) -> bool | None:
    """After the last "but": True if a problem follows, False if only praise, None if neither.

    "Delayed, but the crew were great" is praise; "the crew were great but the
    plane was filthy" a complaint.
    """
    toks = words(text)
    cut = max((i for i, t in enumerate(toks) if t in CONTRAST), default=-1)
    if cut < 0:
        return None
    if any(m.start > cut for m in cues.get("problem", ())):
        return True
    if any(m.start > cut for m in cues.get("praise", ())):
        return False
    return None


def _may_be_sarcastic(text: str, cues: Found) -> bool:
    """Cheap pre-test for :func:`sarcasm`: a sarcasm phrase, a quote, or praise and a problem."""
    if "sarcasm" in cues or ("praise" in cues and "problem" in cues):
        return True
    # not every apostrophe ("I'm", "can't"); the regex only where a quote mark occurs at all
    return _has_quote_mark(text) and _QUOTE_OPEN.search(text) is not None


def _has_quote_mark(text: str) -> bool:
    """Whether ``text`` has one of the marks :data:`_QUOTE_OPEN` needs (C-speed tests)."""
    return "'" in text or '"' in text or "“" in text or "‘" in text


def _is_complaint(strength: float, score: float, softened: bool, personal: bool) -> bool:
    """Problem strength first; a question or thanks needs strength 2.

    A problem word is not cancelled by a positive compound (VADER reads "please"
    or "hope" as praise), and a negative compound alone is no complaint
    ("Send Bloody Marys"): it needs at least a weak problem word, or first-person
    words ("my signal is so bad") for a very negative one (<= -0.6).
    """
    if softened and strength < 2:
        return False
    return strength >= 1 or (strength >= 0.5 and score <= -0.25) or (personal and score <= -0.6)


def _strength(text: str, cues: Found) -> float:
    """:func:`complaint_strength` of :func:`complaint_cues`, without building the strings."""
    if "negated_fix" in cues or "negated_praise" in cues:
        return complaint_strength(complaint_cues(text, cues))
    # distinct terms counted at C speed (set of map), an absent list not iterated: a set
    # comprehension per list cost ~0.25 us a mention more (tests/triage/test_fast_paths.py)
    strong, weak = cues.get("problem"), cues.get("weak_problem")
    return (len(set(map(_TERM, strong))) if strong else 0) + 0.5 * (
        len(set(map(_TERM, weak))) if weak else 0
    )


#: a :class:`Match`'s term
_TERM = itemgetter(0)


def _has_praise(text: str, cues: Found) -> bool:
    """``bool(praise_cues(text))``, cheaply."""
    if "negated_fix" in cues:
        return bool(praise_cues(text, cues))
    return "praise" in cues or (not text.isascii() and _PRAISE_EMOJI.search(text) is not None)


# -- who is addressed -----------------------------------------------------------
# PASSING (from codec): the reason :func:`direct_address` gives for a mention that does
# not address the brand
#: account-mentions queries: everything they return names the brand account
MENTION_QUERIES = frozenset({"mentions", "inbox:mentions"})
#: keys in a platform's raw JSON that name the account a reply answers
_REPLY_KEYS = (
    "in_reply_to_screen_name", "in_reply_to_username", "in_reply_to_handle",
    "in_reply_to_user", "in_reply_to", "parent_author", "reply_to",
)  # fmt: skip


def handles_pattern(brand_handles: Iterable[str]) -> re.Pattern[str] | None:
    """A regex finding ``@handle`` of any brand account (case-insensitive, whole handle)."""
    names = sorted({h.strip().lstrip("@").lower() for h in brand_handles if h.strip("@ ")})
    if not names:
        return None
    alts = "|".join(re.escape(n) for n in names)
    return re.compile(r"(?<![\w@])@(?:" + alts + r")(?!\w)", re.IGNORECASE)


def _raw_reply_target(raw: Any) -> str | None:
    """The handle a reply answers, from the raw platform JSON (text or dict), if any."""
    if isinstance(raw, str):
        if not any(key in raw for key in ("in_reply_to", "parent_author", "reply_to")):
            return None  # most rows: skip json.loads entirely
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    if not isinstance(raw, Mapping):
        return None
    for key in _REPLY_KEYS:
        value = raw.get(key)
        if isinstance(value, Mapping):
            value = value.get("username") or value.get("screen_name") or value.get("name")
        if isinstance(value, str) and value:
            return value.lstrip("@").lower()
    return None


def direct_address(
    text: str,
    handles: re.Pattern[str] | None,
    brand_handles: Collection[str],
    *,
    query: str = "",
    raw: Any = None,
) -> tuple[float, str]:
    """1.0 when the brand is addressed directly, 0.0 for a passing mention; plus why.

    Direct means: an ``@brand`` handle in the text, a mention found by an
    account-mentions query, or a reply whose raw JSON shows it answers a
    brand account. "Acme's ad is funny" is a passing mention. ``handles`` comes
    from :func:`handles_pattern`; ``brand_handles`` are lowercase, without ``@``.
    """
    if handles is not None and "@" in text:
        found = handles.search(text)
        if found:
            return 1.0, f"addresses {found.group(0)}"
    if query in MENTION_QUERIES:
        return 1.0, f"from the account-mentions query '{query}'"
    target = _raw_reply_target(raw)
    if target is not None and target in brand_handles:
        return 1.0, f"replies to @{target}"
    return 0.0, PASSING


# -- who is speaking ------------------------------------------------------------
# reach() and repeat_contact() are codec's (imported above): re-scoring stored signals
# recomputes them without importing this module


# -- what a review's stars say ----------------------------------------------------
#: reviews with this many stars or fewer are complaints, whatever their words
COMPLAINT_STARS = 2


def low_rating(stars: int) -> float:
    """0..1: how low a 1..5 star rating is; 1 star is 1.0, 2 stars 0.5, 3 or more 0.

    Only 1 and 2 stars count: 3 stars is the platforms' "it's OK", and a
    4-star review with a problem in its words is found by the words.
    """
    if stars > COMPLAINT_STARS:
        return 0.0
    return 1.0 if stars <= 1 else 0.5
