"""A learned "needs an answer" model: trained with scikit-learn, applied in pure Python.

:func:`train` fits a logistic regression over word and bigram features of a
mention's text plus its static triage signals (intent, sentiment, urgency,
direct address, reach) on labelled examples, and cross-validates it (5-fold,
stratified ROC AUC) so the team sees how well it ranks before trusting it.

The fitted model keeps only its nonzero weights, by readable feature name, in
a :class:`LearnedModel`. Applying it is a dot product over a dict in pure
Python: scoring never imports numpy or scikit-learn (they load only inside
:func:`train`), so a poll's start-up and per-mention cost stay small, and the
model can be explained word by word ("'cancelled' +0.9, 'thanks' -0.4").

:meth:`LearnedModel.to_bytes` writes versioned, compact JSON, never pickle:
the bytes live in the shared store, and loading them must not run code.

Feature scheme 1 (:data:`FEATURE_SCHEME`; a model of another scheme is refused):

* ``w:<word>`` and ``b:<word> <word>``: 1.0 when present in the text,
  lowercased, with @handles and links removed (links become the word
  ``<link>``) and digit runs written ``0``; ``w:?`` for a question mark;
* ``s:<signal>``: the static signal values (``sentiment``, ``urgency``,
  ``direct``, ``reach``), and ``s:intent=<intent>`` 1.0 for the rule-based
  intent. ``repeat`` is left out on purpose: it counts how much someone
  posts, not what they need, and would let a prolific author inflate the
  model. ``learned`` itself, rules and waiting time are left out too.
"""

from __future__ import annotations

import json
import math
import re
import string
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Iterable, Mapping, NamedTuple, Sequence, Union, cast

from ..errors import UsageError
from ..models import to_iso, utcnow
from .codec import decode_signals
from .words import fill_new_tokens, memo_words

__all__ = [
    "FEATURE_SCHEME",
    "FORMAT",
    "MIN_LABELS",
    "LearnedModel",
    "SignalsLike",
    "features",
    "signal_values",
    "train",
]

#: how features are built from a text and its signals (see the module docstring)
FEATURE_SCHEME = 1
#: the ``format`` tag of :meth:`LearnedModel.to_bytes`, and its version
FORMAT = "socialcare-learned-triage"
FORMAT_VERSION = 1
#: fewer labelled examples than this and :func:`train` refuses
MIN_LABELS = 200
#: weights smaller than this (in absolute value) are not stored
_MIN_WEIGHT = 1e-3
#: static signals used as features; ``repeat`` is left out (see the module docstring)
SIGNAL_FEATURES = ("sentiment", "urgency", "direct", "reach")

#: ``(?<![\w@])@\w+`` written to start with the literal "@", so the regex engine
#: jumps between "@"s instead of trying every position (same matches)
_HANDLE = re.compile(r"@(?<![\w@]@)\w+")
_LINK = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_WORD = re.compile(r"<link>|[a-z0-9]+(?:['’][a-z]+)?")

#: what a caller may pass as the signals of a text: ``{"intent": "complaint",
#: "urgency": 0.5, ...}``, a TriageResult's ``signals`` (Contributions), or a
#: stored mention row (its ``signals`` JSON column)
SignalsLike = Union[Mapping[str, Any], Sequence[Any], None]


#: bytes kept by the fast tokeniser (a-z, 0-9 and the apostrophe and <> the regex may need)
_KEEP = bytes(c if chr(c) in "abcdefghijklmnopqrstuvwxyz0123456789'<>" else 32 for c in range(256))
_DIGIT_BYTES = b"0123456789"


def _words(text: str) -> list[str]:
    """The lowercased word tokens of ``text`` under :data:`FEATURE_SCHEME`.

    Each whitespace-separated token's words are remembered: every step below
    (handles, links, digits, the word pattern) acts within a token, and
    ``lower()`` reads no context across whitespace, so the text's words are
    its tokens' words in order; most tokens recur from post to post.
    """
    return memo_words(text, _TOKEN_WORDS, _token_words)


_TOKEN_WORDS: dict[str, tuple[str, ...]] = {}


def _token_words(token: str) -> tuple[str, ...]:
    core = token.strip(_DIGIT_EDGES)
    # an order number or a price in brackets: its one word is "0" (no handle, link or
    # apostrophe can be in it), without the seven steps of _text_words (most new tokens)
    found = ("0",) if core.isdigit() and core.isascii() else tuple(_text_words(token))
    _TOKEN_WORDS[token] = found
    return found


#: ASCII punctuation that is only a separator to _text_words (not ' < > @ or a word's)
_DIGIT_EDGES = "".join(c for c in string.punctuation if c not in "'<>@")


def _text_words(text: str) -> list[str]:
    """:func:`_words` without the per-token memo (the reference it must equal).

    The same tokens as ``_WORD.findall`` over the cleaned text, found faster:
    substitutions run only when they can match, and text whose words are plain
    ASCII letters and digits is split at C speed (bytes.translate + split).
    """
    if "@" in text:
        text = _HANDLE.sub(" ", text)
    low = text.lower()
    if "http" in low or "www." in low:
        low = _LINK.sub(" <link> ", low)
    if "’" in low:
        low = low.replace("’", "'")
    if not low.isascii():
        low = _DIGITS.sub("0", low)  # Unicode digits too, before they become separators
        data = low.encode("ascii", "replace")
    else:
        data = low.encode("ascii")
        if len(data.translate(None, _DIGIT_BYTES)) != len(data):
            data = _DIGITS.sub("0", low).encode("ascii")
    kept = data.translate(_KEEP)
    if b"'" in kept or b"<" in kept or b">" in kept:
        return _WORD.findall(kept.decode("ascii"))
    return kept.decode("ascii").split()


def signal_values(signals: SignalsLike) -> dict[str, float | str]:
    """The signals of a text as ``{name: value}`` with ``intent`` as its name.

    Accepts a plain dict, a sequence of ``Contribution`` (name, value, weight,
    contribution, detail), or a stored mention row whose ``signals`` column is
    what ``TriageResult.columns`` wrote (either version of ``triage.codec``).
    """
    if signals is None:
        return {}
    if isinstance(signals, (list, tuple)):  # Contributions: the scoring path, checked first
        return _part_values(signals)
    if isinstance(signals, Mapping):
        if "signals" in signals and not isinstance(signals.get("signals"), (int, float)):
            return _row_signals(signals)
        return {str(k): v for k, v in signals.items() if isinstance(v, (int, float, str))}
    return _part_values(signals)


def _part_values(signals: Sequence[Any]) -> dict[str, float | str]:
    out: dict[str, float | str] = {}
    for part in signals:
        if isinstance(part, (list, tuple)) and len(part) >= 5:
            name, value, detail = str(part[0]), part[1], part[4]
            if name == "intent":
                out["intent"] = str(detail)
            elif isinstance(value, (int, float)):
                out[name] = float(value)
    return out


def _row_signals(row: Mapping[str, Any]) -> dict[str, float | str]:
    payload = decode_signals(row.get("signals"))
    parts = payload.get("signals", [])
    out = signal_values(parts if isinstance(parts, list) else [])
    if isinstance(row.get("intent"), str) and row["intent"]:
        out["intent"] = row["intent"]
    return out


def features(text: str, signals: SignalsLike = None) -> dict[str, float]:
    """The features of one example under :data:`FEATURE_SCHEME` (name -> value)."""
    toks = _words(text)
    feats = {f"w:{t}": 1.0 for t in toks}
    for a, b in zip(toks, toks[1:], strict=False):
        feats[f"b:{a} {b}"] = 1.0
    if "?" in _LINK.sub(" ", text):
        feats["w:?"] = 1.0
    values = signal_values(signals)
    intent = values.get("intent")
    if isinstance(intent, str) and intent:
        feats[f"s:intent={intent}"] = 1.0
    for name in SIGNAL_FEATURES:
        value = values.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value:
            feats[f"s:{name}"] = float(value)
    return feats


def describe_feature(name: str) -> str:
    """A feature in plain words: 'cancelled', 'flight cancelled', intent complaint."""
    kind, _, body = name.partition(":")
    if kind in ("w", "b"):
        return "a question mark" if body == "?" else f"'{body}'"
    if body.startswith("intent="):
        return f"intent {body[7:]}"
    return f"{body} signal"


_DESCRIBED: dict[str, str] = {}


def _described(name: str) -> str:
    """:func:`describe_feature`, remembered (a few thousand feature names at most)."""
    text = _DESCRIBED.get(name)
    if text is None:
        text = describe_feature(name)
        if len(_DESCRIBED) < 100_000:
            _DESCRIBED[name] = text
    return text


@dataclass(frozen=True)
class LearnedModel:
    """A trained linear "needs an answer" model: nonzero weights by feature, and metadata."""

    weights: Mapping[str, float]
    intercept: float
    trained_at: str
    positives: int
    negatives: int
    cv_auc: float | None
    scheme: int = FEATURE_SCHEME
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Lookup tables for the scoring path: words and word pairs are looked up as they
        # are (str, tuple) instead of building every feature name of a text.
        words: dict[str, float] = {}
        pairs: dict[tuple[str, str], float] = {}
        other: dict[str, float] = {}
        for name, w in self.weights.items():
            if name.startswith("w:") and name != "w:?":
                words[name[2:]] = w
            elif name.startswith("b:") and name.count(" ") == 1:
                a, _, b = name[2:].partition(" ")
                pairs[(a, b)] = w
            else:
                other[name] = w
        # One global order of the weights, heaviest first, ties by feature name: the top
        # words of a text are then a C-level sort on a rank, with the same result as
        # sorting every contribution by (-|weight|, name).
        order = sorted(self.weights.items(), key=_by_weight)
        rank = {name: n for n, (name, _) in enumerate(order)}
        rank_of: dict[str | tuple[str, str], int] = {}
        rank_of.update((w, rank["w:" + w]) for w in words)
        rank_of.update((p, rank[f"b:{p[0]} {p[1]}"]) for p in pairs)
        tables = _Tables(
            weight_by_rank=tuple(w for _, w in order),
            rank_of=rank_of,
            signals=any(n.startswith("s:") for n in other),
            signal_index=tuple(
                (i, f"s:{name}", other[f"s:{name}"])
                for i, name in enumerate(SIGNAL_FEATURES)
                if f"s:{name}" in other
            ),
            intents={
                n[9:]: (-abs(w), n, w)
                for n, w in other.items()
                if n.startswith("s:intent=") and n[9:]
            },
            question=(-abs(other["w:?"]), "w:?", other["w:?"]) if "w:?" in other else None,
            ranked=tuple((-abs(w), name, w) for name, w in order),
            segments={},
            lines={},
        )
        object.__setattr__(self, "_tables", tables)

    def _fast(
        self, text: str, signals: SignalsLike, top: int = 0
    ) -> tuple[float, list[tuple[str, float]]]:
        """(margin, the ``top`` heaviest (feature, contribution)) without the feature dict.

        The same sum as ``margin(features(text, signals))`` and the same top as
        :meth:`contributions` (ties included, then cut by name): a test keeps them equal.
        """
        tables: _Tables = self._tables  # type: ignore[attr-defined]
        values = signal_values(signals) if tables.signals else {}
        margin, keyed = self._scored(text, values, top)
        return margin, [k[1:] for k in keyed]

    def _scored(
        self, text: str, values: Mapping[str, float | str], top: int
    ) -> tuple[float, list[tuple[float, str, float]]]:
        """:meth:`_core` of a :func:`signal_values` mapping."""
        get = values.get
        return self._core(text, get("intent"), [get(name) for name in SIGNAL_FEATURES], top)

    def _core(
        self, text: str, intent: Any, signal_values: Sequence[Any], top: int
    ) -> tuple[float, list[tuple[float, str, float]]]:
        """(margin, hits as (-|contribution|, feature, contribution)), best first.

        ``signal_values``: the values of :data:`SIGNAL_FEATURES`, in that order.
        ``top`` <= 0: the hits are the question mark and signal features only, unsorted.
        """
        toks = memo_words(text, _TOKEN_WORDS, _token_words)  # _words(text), one call less
        tables: _Tables = self._tables  # type: ignore[attr-defined]
        # the ranks (see ``ranked``) of the words and word pairs (a word is a str, a pair
        # a tuple) that have a weight: one dict lookup per word and pair, each once
        rank_of = tables.rank_of.get
        keys = cast(
            "Iterable[str | tuple[str, str]]", chain(toks, zip(toks, toks[1:], strict=False))
        )
        found = set(map(rank_of, keys))
        found.discard(None)
        ranks = cast("list[int]", sorted(found) if top > 0 else list(found))
        # math.fsum: exactly rounded, so the sum does not depend on the order in which the
        # sets (string hashes, random per process) give their members
        terms = [self.intercept, *map(tables.weight_by_rank.__getitem__, ranks)]
        # (-|contribution|, name, contribution): sorted as tuples, without a key function
        keyed: list[tuple[float, str, float]] = []
        question = tables.question
        if question is not None and "?" in text and "?" in _LINK.sub(" ", text):
            keyed.append(question)
            terms.append(question[2])
        if tables.signals:
            if isinstance(intent, str):
                hit = tables.intents.get(intent)
                if hit is not None:
                    keyed.append(hit)
                    terms.append(hit[2])
            _signal_terms(tables.signal_index, signal_values, keyed, terms)
        margin = math.fsum(terms)
        if top <= 0:
            return margin, keyed
        if ranks:
            # words and pairs contribute their weight (value 1.0), so their global rank is
            # their order by (-|contribution|, name): the first ``top`` ranks are their best
            ranked = tables.ranked
            if not keyed:
                return margin, [ranked[r] for r in ranks[:top]]
            keyed += [ranked[r] for r in ranks[:top]]
        keyed.sort()
        return margin, keyed[:top]

    def predict_line(
        self, text: str, intent: str, signal_values: Sequence[float], top: int = 3
    ) -> tuple[float, str]:
        """:meth:`predict_explain` given the intent and the values of :data:`SIGNAL_FEATURES`.

        The scorer's path: it has these values as plain numbers already, so no
        mapping is built and read per mention.
        """
        margin, keyed = self._core(text, intent, signal_values, top)
        return _sigmoid(margin), self._hit_line(keyed)

    def predict_lines(
        self,
        texts: Sequence[str],
        intents: Sequence[str],
        signal_rows: Sequence[Sequence[float]],
        top: int = 3,
        *,
        tokens: Sequence[list[str]] | None = None,
    ) -> list[tuple[float, str]]:
        """:meth:`predict_line` of each text of a batch (``score_rows``), the same results.

        :meth:`_core`'s steps in one loop, its tables and helpers read once per batch
        instead of once per text (a third of the model's cost was that overhead).
        ``tokens``: each text's ``text.split()``, when the caller has them (the scorer
        splits once for the cue matcher and the model, and the matcher's token memo
        has hashed those strings already).
        """
        if top <= 0:
            rows = zip(texts, intents, signal_rows, strict=True)
            return [self.predict_line(text, i, values, top) for text, i, values in rows]
        tables: _Tables = self._tables  # type: ignore[attr-defined]
        memo, split_token = _TOKEN_WORDS, _token_words
        rank_of = tables.rank_of.get
        weight_of = tables.weight_by_rank.__getitem__
        ranked, question, intercept = tables.ranked, tables.question, self.intercept
        signal_index = tables.signal_index if tables.signals else ()
        intent_hits = tables.intents if tables.signals else {}
        link_sub, fsum, hit_line, from_iterable = (
            _LINK.sub,
            math.fsum,
            self._hit_line,
            chain.from_iterable,
        )
        out = []
        raws = map(str.split, texts) if tokens is None else tokens
        for text, intent, values, raw in zip(texts, intents, signal_rows, raws, strict=True):
            # memo_words(text, ...) inline: the text is split and looked up once
            parts = list(map(memo.get, raw))
            if None in parts:
                fill_new_tokens(raw, parts, memo, split_token)
            toks: list[str] = list(from_iterable(parts))  # type: ignore[arg-type]
            # the words, then the pairs: two C-level passes (no chain between them), and no
            # typing.cast calls, which run on every text
            found = set(map(rank_of, toks))
            found.update(map(rank_of, zip(toks, toks[1:], strict=False)))
            found.discard(None)
            ranks: list[int] = sorted(found)  # type: ignore[arg-type]
            terms = [intercept, *map(weight_of, ranks)]
            keyed: list[tuple[float, str, float]] = []
            if question is not None and "?" in text and "?" in link_sub(" ", text):
                keyed.append(question)
                terms.append(question[2])
            if intent_hits and isinstance(intent, str):
                hit = intent_hits.get(intent)
                if hit is not None:
                    keyed.append(hit)
                    terms.append(hit[2])
            _signal_terms(signal_index, values, keyed, terms)
            margin = fsum(terms)
            if ranks and not keyed:
                hits = [ranked[r] for r in ranks[:top]]
            else:
                if ranks:
                    keyed += [ranked[r] for r in ranks[:top]]
                keyed.sort()
                hits = keyed[:top]
            out.append((_sigmoid(margin), hit_line(hits)))
        return out

    @property
    def labels(self) -> int:
        """How many labelled examples it was trained on."""
        return self.positives + self.negatives

    def margin(self, feats: Mapping[str, float]) -> float:
        """The linear score (log-odds) of a feature dict."""
        get = self.weights.get
        return self.intercept + sum(get(f, 0.0) * v for f, v in feats.items())

    def predict(self, text: str, signals: SignalsLike = None) -> float:
        """Probability (0..1) that the mention needs an answer."""
        return _sigmoid(self._fast(text, signals)[0])

    def contributions(
        self, text: str, signals: SignalsLike = None, top: int = 5
    ) -> list[tuple[str, float]]:
        """The ``top`` features that moved this prediction most, as (plain words, log-odds)."""
        return self._top(features(text, signals), top)

    def _top(self, feats: Mapping[str, float], top: int) -> list[tuple[str, float]]:
        weights = self.weights
        parts = [(f, weights[f] * v) for f, v in feats.items() if f in weights]
        parts.sort(key=lambda p: (-abs(p[1]), p[0]))
        return [(describe_feature(f), c) for f, c in parts[:top]]

    def explain(self, text: str, signals: SignalsLike = None, top: int = 5) -> str:
        """The top contributions in one line: "'cancelled' +0.9, 'thanks' -0.4"."""
        return _line(self.contributions(text, signals, top))

    def predict_explain(
        self,
        text: str,
        signals: SignalsLike = None,
        top: int = 3,
        *,
        values: Mapping[str, float | str] | None = None,
    ) -> tuple[float, str]:
        """:meth:`predict` and :meth:`explain` at once, building the features once (scoring).

        ``values``: :func:`signal_values` of ``signals``, when the caller has them already.
        """
        if values is None:
            tables: _Tables = self._tables  # type: ignore[attr-defined]
            values = signal_values(signals) if tables.signals else {}
        margin, keyed = self._scored(text, values, top)
        return _sigmoid(margin), self._hit_line(keyed)

    def _hit_line(self, hits: Sequence[tuple[float, str, float]]) -> str:
        """``_line`` of the hits in plain words, remembered per model by the hits themselves.

        A text's line depends on its hits only (each a feature and its contribution),
        and few combinations recur: ~300 lines in a batch of 2,000 mentions. A line with
        a zero contribution is not remembered: 0.0 and -0.0 are one key, two lines.
        """
        lines = self._tables.lines  # type: ignore[attr-defined]
        key = tuple(hits)
        line: str | None = lines.get(key)
        if line is None:
            line = self._built_line(hits)
            if all(c for _, _, c in hits):
                if len(lines) >= _LINE_MEMO_SIZE:
                    lines.clear()
                lines[key] = line
        return line

    def _built_line(self, hits: Sequence[tuple[float, str, float]]) -> str:
        """``_line`` of the hits in plain words; each fixed feature's words are built once.

        A feature other than a scaled signal contributes its weight, so its
        "'cancelled' +0.9" is the same in every text and is remembered per model.
        """
        segments = self._tables.segments  # type: ignore[attr-defined]
        out = []
        for _, name, c in hits:
            seg = segments.get(name)
            if seg is None:
                if name in _SCALED:
                    # a scaled signal's line depends on its contribution too; most recur
                    # (direct is 1.0, urgency 0.5 or 0.75, compounds have 4 decimals).
                    # Not for a zero: 0.0 and -0.0 are one key but print "+0.0", "-0.0"
                    key = (name, c)
                    seg = _SCALED_SEGMENTS.get(key)
                    if seg is None:
                        seg = f"{_described(name)} {c:+.1f}"
                        if c:
                            if len(_SCALED_SEGMENTS) >= 20_000:
                                _SCALED_SEGMENTS.clear()
                            _SCALED_SEGMENTS[key] = seg
                else:
                    seg = f"{_described(name)} {c:+.1f}"
                    segments[name] = seg
            out.append(seg)
        return ", ".join(out) or "no known words"

    def top_features(
        self, top: int = 10
    ) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        """The ``top`` heaviest weights each way, in plain words: (towards an answer, against)."""
        ranked = sorted(self.weights.items(), key=lambda kv: (-kv[1], kv[0]))
        ups = [(describe_feature(f), w) for f, w in ranked[:top] if w > 0]
        downs = [(describe_feature(f), w) for f, w in reversed(ranked[-top:]) if w < 0]
        return ups, downs

    def summary(self) -> str:
        """One line for a status screen: labels, cross-validated AUC, when trained."""
        auc = "n/a" if self.cv_auc is None else f"{self.cv_auc:.3f}"
        return (
            f"{self.labels} labels ({self.positives} need an answer, {self.negatives} do not), "
            f"cross-validated ROC AUC {auc}, {len(self.weights)} weights, trained {self.trained_at}"
        )

    def to_bytes(self) -> bytes:
        """Compact versioned JSON (UTF-8); never pickle, since the store is shared."""
        payload = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "scheme": self.scheme,
            "trained_at": self.trained_at,
            "positives": self.positives,
            "negatives": self.negatives,
            "cv_auc": self.cv_auc,
            "params": dict(self.params),
            "intercept": self.intercept,
            "weights": dict(sorted(self.weights.items())),
        }
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> LearnedModel:
        """Load :meth:`to_bytes` output; UsageError (retrain) for anything else."""
        try:
            payload = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise UsageError(_RETRAIN.format("it is not a socialcare model")) from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise UsageError(_RETRAIN.format("it is not a socialcare model"))
        if payload.get("version") != FORMAT_VERSION or payload.get("scheme") != FEATURE_SCHEME:
            got = f"version {payload.get('version')}, scheme {payload.get('scheme')}"
            raise UsageError(_RETRAIN.format(f"it was saved by another socialcare ({got})"))
        try:
            weights = {str(k): float(v) for k, v in payload["weights"].items()}
            cv = payload.get("cv_auc")
            return cls(
                weights=weights,
                intercept=float(payload["intercept"]),
                trained_at=str(payload["trained_at"]),
                positives=int(payload["positives"]),
                negatives=int(payload["negatives"]),
                cv_auc=None if cv is None else float(cv),
                scheme=FEATURE_SCHEME,
                params=dict(payload.get("params") or {}),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise UsageError(_RETRAIN.format("its contents are damaged")) from None


class _Tables(NamedTuple):
    """A model's weights arranged for scoring (see :meth:`LearnedModel._core`)."""

    #: the weight of every feature by its place in :attr:`ranked`
    weight_by_rank: tuple[float, ...]
    #: each word's (str) and word pair's (tuple) place in :attr:`ranked`
    rank_of: dict[str | tuple[str, str], int]
    signals: bool
    #: (index in SIGNAL_FEATURES, its feature name, weight) for the signals with a weight
    signal_index: tuple[tuple[int, str, float], ...]
    #: intent -> (-|weight|, its feature name, weight), for the intents that have a weight
    intents: dict[str, tuple[float, str, float]]
    #: (-|weight|, "w:?", weight) of the question mark, if it has a weight
    question: tuple[float, str, float] | None
    #: every (-|weight|, feature, weight), heaviest first, ties by name (the ranks index it)
    ranked: tuple[tuple[float, str, float], ...]
    #: feature -> its "'word' +0.9" in an explanation, filled as features occur
    segments: dict[str, str]
    #: the hits of a text -> its explanation line (see :meth:`LearnedModel._hit_line`)
    lines: dict[tuple[tuple[float, str, float], ...], str]


#: the features whose contribution is their weight times a signal's value
_SCALED = frozenset(f"s:{name}" for name in SIGNAL_FEATURES)
#: explanation lines a model remembers (then it starts again)
_LINE_MEMO_SIZE = 20_000
#: (scaled signal feature, contribution) -> its words in an explanation (any model)
_SCALED_SEGMENTS: dict[tuple[str, float], str] = {}


def _by_weight(part: tuple[str, float]) -> tuple[float, str]:
    return (-abs(part[1]), part[0])


def _line(parts: Sequence[tuple[str, float]]) -> str:
    return ", ".join([f"{name} {c:+.1f}" for name, c in parts]) or "no known words"


_RETRAIN = "cannot load the triage model: {}; retrain it with `socialcare triage train`"


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


#: one labelled example: the text, its signals (see :func:`signal_values`), needs an answer
Example = tuple[str, SignalsLike, bool]


def train(
    examples: Iterable[Example],
    *,
    min_labels: int = MIN_LABELS,
    folds: int = 5,
    c: float = 1.0,
    min_count: int = 2,
    seed: int = 0,
) -> LearnedModel:
    """Fit a logistic regression on labelled examples and cross-validate it.

    Words and bigrams seen in fewer than ``min_count`` examples are dropped
    (they cannot generalise and would bloat the stored model). ``cv_auc`` is
    the ROC AUC of ``folds``-fold stratified cross-validation predictions.
    Raises UsageError with fewer than ``min_labels`` examples or one class only.
    """
    rows = [(features(text, signals), bool(label)) for text, signals, label in examples]
    positives = sum(label for _, label in rows)
    negatives = len(rows) - positives
    if len(rows) < min_labels:
        raise UsageError(
            f"need at least {min_labels} labelled mentions to train, got {len(rows)}; "
            "label more (answered mentions count as 'needs an answer')"
        )
    if min(positives, negatives) < folds:
        raise UsageError(
            f"need at least {folds} labelled mentions of each kind to train, got {positives} "
            f"needing an answer and {negatives} not; label some of the other kind"
        )
    # scikit-learn (and numpy) load here only: scoring must stay free of them
    from sklearn.feature_extraction import DictVectorizer  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
    from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]
    from sklearn.model_selection import StratifiedKFold, cross_val_predict  # type: ignore[import-untyped]

    counts: dict[str, int] = {}
    for feats, _ in rows:
        for name in feats:
            counts[name] = counts.get(name, 0) + 1
    keep = {n for n, k in counts.items() if k >= min_count or n.startswith("s:")}
    vectorizer = DictVectorizer()
    x = vectorizer.fit_transform([{n: v for n, v in f.items() if n in keep} for f, _ in rows])
    y = [label for _, label in rows]
    clf = LogisticRegression(C=c, solver="lbfgs", max_iter=2000)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    margins = cross_val_predict(clf, x, y, cv=cv, method="decision_function")
    cv_auc = float(roc_auc_score(y, margins))
    clf.fit(x, y)
    names = vectorizer.get_feature_names_out()
    weights = {
        str(name): round(float(w), 4)
        for name, w in zip(names, clf.coef_[0], strict=True)
        if abs(w) >= _MIN_WEIGHT
    }
    return LearnedModel(
        weights=weights,
        intercept=round(float(clf.intercept_[0]), 4),
        trained_at=to_iso(utcnow()),
        positives=positives,
        negatives=negatives,
        cv_auc=round(cv_auc, 4),
        params={"c": c, "min_count": min_count, "folds": folds},
    )


def _signal_terms(
    signal_index: Sequence[tuple[int, str, float]],
    values: Sequence[Any],
    keyed: list[tuple[float, str, float]],
    terms: list[float],
) -> None:
    """Append each numeric signal's contribution (weight × value) to ``terms`` and, as
    (-|contribution|, feature, contribution), to ``keyed``: booleans and text are not
    numbers here, and zero adds nothing. One rule for the one-text and batch paths."""
    for i, key, weight in signal_index:
        value = values[i]
        if value and (
            type(value) is float
            or (isinstance(value, (int, float)) and not isinstance(value, bool))
        ):
            c = weight * float(value)
            keyed.append((-abs(c), key, c))
            terms.append(c)
