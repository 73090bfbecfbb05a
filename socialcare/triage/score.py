"""Combine the signals into one explainable static score, and read ``[triage]``.

``static_score`` is a weighted sum: every signal value (a number in a small
documented range, see :mod:`socialcare.triage.signals`) times its weight from
``[triage.weights]``. It is stored with the mention; the waiting-time term
``age_weight * min(hours waited, age_cap_hours) / age_cap_hours`` is added by
the store's ``queue()`` at read time, so ranks rise while mentions wait
without re-scoring. :func:`explain` rebuilds the same sum, waiting term
included, so an agent can see why a mention sits where it does.

Default weights and why:

* intent: complaint 3.0, question 2.5 (both need an answer; a complaint
  sooner), praise 0, other 0, spam -10: the other default weights add at
  most 6.5, so spam stays below 0, the floor of every other mention, even
  after a full day of waiting (+2);
* urgency 2.0 (0..1 from the lexicon: one word gives 1.0, two 1.5);
* sentiment 1.5 (0..1 negative strength, so an angry complaint rises);
* repeat 1.5 (0..1, three earlier unanswered mentions by the author is 1.0);
* direct 1.0 (talking *to* the brand vs *about* it);
* reach 0.5 (0..1, log-scaled followers: a big account is a risk, but a
  reach-led queue would ignore most customers);
* age_weight 2.0 over age_cap_hours 24: a full day of waiting is worth almost
  an intent level, so an old question overtakes a fresh, slightly hotter one;
* learned 2.0 (0..1, the trained model's probability; only with a model);
* rating 2.0 (0..1 for reviews: 1 star is 1.0, 2 stars 0.5, 3 or more 0). A
  review of 1 or 2 stars is a complaint whatever its words say ("Why can't I
  export?" with one star is not a mere question); only spam stays spam, and
  the rating adds nothing to spam, so spam stays below every other mention.

Urgency and repeat count only for mentions that need an answer (complaints
and questions): "helped us in an emergency" is a thank-you, and someone who
posts a lot of chatter should not rise for it. Sentiment is read from the text
without @handles, links and the brand's names (see ``text_for_sentiment``), and
sarcastic praise counts as negative.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple, Sequence

from ..errors import ConfigError
from ..models import INTENTS, deferred_dataclass, on_first_use, parse_iso, to_iso, utcnow
from .codec import (  # noqa: F401
    PASSING,
    SIGNALS_VERSION,
    Sentiment,
    decode_signals,
    encode_signals,
    reach,
    repeat_contact,
)
from .packs import DEFAULT_DOMAINS, load_packs

if TYPE_CHECKING:
    from . import sentiment as _sentiment
    from . import signals as sig
    from .learned import LearnedModel
else:
    # Imported on first use (scoring text): explaining a row from its current stored
    # signals (``show``) needs neither VADER nor the cue tables (issue 18 item 7).
    from importlib import import_module

    sig = on_first_use(globals(), "sig", import_module, "socialcare.triage.signals")
    _sentiment = on_first_use(globals(), "_sentiment", import_module, "socialcare.triage.sentiment")

#: ``learned.MIN_LABELS`` (tests/test_startup.py checks they agree), here so that settings
#: are read without importing the model's code: only a store with a model needs it
MIN_LABELS = 200

__all__ = [
    "Contribution",
    "Weights",
    "Rule",
    "TriageSettings",
    "TriageResult",
    "score_row",
    "score_rows",
    "rescore_stored",
    "explain",
    "waiting_term",
    "parse_duration",
    "DEFAULT_SLA",
]

#: SLA targets in seconds per intent; praise and spam have none by default
DEFAULT_SLA: Mapping[str, float] = MappingProxyType(
    {"complaint": 3600.0, "question": 4 * 3600.0, "other": 24 * 3600.0}
)
_NO_SLA = frozenset({"", "none", "off", "no"})
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_TOP_KEYS = (
    "weights", "urgency_words", "extra_urgency_words", "rules", "sla", "age_weight",
    "age_cap_hours", "domains", "brand_names", "retrain_every", "min_labels",
)  # fmt: skip
#: intents whose urgency and repeat contact count (the ones that need an answer)
ANSWERED_INTENTS = frozenset({"complaint", "question"})
#: endings of care-account handles that are not part of the brand's name
_HANDLE_SUFFIXES = (
    "help",
    "support",
    "cares",
    "care",
    "service",
    "team",
    "official",
    "hq",
    "uk",
    "us",
)
_RULE_KEYS = ("tag", "weight", "pattern", "keywords")


class Contribution(NamedTuple):
    """One line of a score breakdown: ``contribution == value * weight``."""

    name: str
    value: float
    weight: float
    contribution: float
    detail: str


def _part(name: str, value: float, weight: float, detail: str) -> Contribution:
    # tuple.__new__: the same NamedTuple as Contribution(...), without the generated
    # Python-level __new__ (about half the cost; several lines per mention)
    return _new(Contribution, (name, value, weight, value * weight, detail))


#: builds a NamedTuple from a tuple of its fields at C speed (see :func:`_part`)
_new = tuple.__new__


class Weights(NamedTuple):
    """``[triage.weights]``: one weight per signal, and one per intent.

    A NamedTuple, not a frozen dataclass: settings are built by every command
    that scores or explains, and making the dataclass at import cost ``show``
    ~8M instructions of start-up (issue 18 item 7).
    """

    sentiment: float = 1.5
    urgency: float = 2.0
    direct: float = 1.0
    reach: float = 0.5
    repeat: float = 1.5
    complaint: float = 3.0
    question: float = 2.5
    praise: float = 0.0
    other: float = 0.0
    spam: float = -10.0
    learned: float = 2.0
    rating: float = 2.0

    def for_intent(self, intent: str) -> float:
        """The weight of an intent (``other`` for anything unknown)."""
        return float(getattr(self, intent)) if intent in INTENTS else self.other


@deferred_dataclass(frozen=True)  # made for a configured rule: most configs have none
class Rule:
    """A ``[[triage.rules]]`` entry: when it matches, add ``weight`` and ``tag``.

    It matches by ``pattern`` (a case-insensitive regex) or by ``keywords``
    (whole words or phrases, ``*`` for any word ending, like the lexicon).
    """

    tag: str
    weight: float
    pattern: re.Pattern[str] | None = None
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class TriageSettings:
    """Everything the scorer needs, validated once (see :meth:`from_config`)."""

    weights: Weights = field(default_factory=Weights)
    #: the urgency lexicon; None: the ``domains`` packs' urgency words
    urgency_words: tuple[str, ...] | None = None
    rules: tuple[Rule, ...] = ()
    sla_seconds: Mapping[str, float] = field(default_factory=lambda: DEFAULT_SLA)
    age_weight: float = 2.0
    age_cap_hours: float = 24.0
    brand_handles: tuple[str, ...] = ()
    #: domain packs (built-in names or pack file paths) giving urgency and problem words
    domains: tuple[str, ...] = DEFAULT_DOMAINS
    #: added to the urgency lexicon (after ``urgency_words`` or the packs' words)
    extra_urgency_words: tuple[str, ...] = ()
    #: the brand's names as written in posts ("United"), beyond those in its handles
    brand_names: tuple[str, ...] = ()
    #: a trained "needs an answer" model; adds the ``learned`` signal when set
    model: LearnedModel | None = field(default=None, compare=False)
    #: retrain the model after this many new labels in the store (0: never by itself)
    retrain_every: int = 0
    #: fewer labels than this and ``triage train`` keeps the zero-label score
    min_labels: int = MIN_LABELS
    #: first-response targets per mention kind (``[triage.sla] dm``), which replace the
    #: intent's target when triage is saved (``socialcare.scoring``; the scorer knows intents)
    kind_sla: Mapping[str, float] = field(default_factory=dict)
    #: the urgency words in effect (``~`` marks context-checked ones)
    lexicon: tuple[str, ...] = field(init=False, repr=False, compare=False)
    brand: frozenset[str] = field(init=False, repr=False, compare=False)
    #: the contributions that are the same for many mentions (intent, "no urgency
    #: words", "passing mention", "0 earlier"), built once instead of per mention
    fixed_parts: Mapping[str, Contribution] = field(init=False, repr=False, compare=False)
    #: the lines that recur with the same inputs (an address, the same urgency words, a
    #: repeat count), each built once: see :func:`_remembered`
    part_memo: dict[tuple[Any, ...], Contribution] = field(init=False, repr=False, compare=False)

    @property
    def brand_terms(self) -> tuple[str, ...]:
        """The brand's handles and names as words (report term lists leave them out)."""
        return tuple(dict.fromkeys(_brand_names(self.brand, self.brand_names)))

    def __post_init__(self) -> None:
        # Built once here: score_row runs for every mention of every poll (the matcher
        # on first use, see below).
        brand = frozenset(h.strip().lstrip("@").lower() for h in self.brand_handles if h.strip())
        pack = load_packs(self.domains)
        if self.urgency_words is None:
            lexicon = tuple(f"~{t}" if t in pack.context else t for t in pack.urgency)
        else:
            lexicon = tuple(self.urgency_words)
        lexicon += tuple(self.extra_urgency_words)
        object.__setattr__(self, "lexicon", lexicon)
        object.__setattr__(self, "brand", brand)
        w = self.weights
        fixed = {i: _part("intent", 1.0, w.for_intent(i), i) for i in INTENTS}
        fixed["urgency"] = _part("urgency", 0.0, w.urgency, "none")
        fixed["direct"] = _part("direct", 0.0, w.direct, PASSING)
        fixed["repeat"] = _part("repeat", 0.0, w.repeat, "0 earlier")
        object.__setattr__(self, "fixed_parts", MappingProxyType(fixed))
        object.__setattr__(self, "part_memo", {})

    @cached_property
    def brand_words(self) -> re.Pattern[str] | None:
        """The brand's names and handles as words, removed before sentiment (built on
        first use, like :attr:`matcher`)."""
        return _sentiment.brand_pattern(_brand_names(self.brand, self.brand_names))

    @cached_property
    def handles(self) -> re.Pattern[str] | None:
        """The brand's ``@handles`` (direct address), built on first use."""
        return sig.handles_pattern(self.brand)

    @cached_property
    def matcher(self) -> sig.TermMatcher:
        """One matcher for the cue lists, the lexicon and keyword rules, found in one pass.

        Built on first use, once per settings: ``show`` of a row explained from its
        stored signals matches nothing.
        """
        lexicon = self.lexicon
        pack = load_packs(self.domains)
        problem = [f"~{t}" if t in pack.context else t for t in pack.problem]
        lists: dict[str, tuple[str, ...]] = {
            **sig.CUES,
            "urgency": tuple(t for t in lexicon if not t.startswith("~")),
            "urgency_context": tuple(t[1:] for t in lexicon if t.startswith("~")),
            "problem": sig.CUES["problem"] + tuple(t for t in problem if not t.startswith("~")),
            "problem_context": sig.CUES["problem_context"]
            + tuple(t[1:] for t in problem if t.startswith("~")),
        }
        lists.update({_rule_list(n): r.keywords for n, r in enumerate(self.rules) if r.keywords})
        return sig.TermMatcher(lists, sig.PRESENCE_CUES)

    @classmethod
    def from_config(
        cls,
        triage_table: Mapping[str, Any],
        brand_handles: Sequence[str],
        *,
        model: LearnedModel | None = None,
    ) -> TriageSettings:
        """Validate the raw ``[triage]`` table; ConfigError names the bad key.

        ``model`` is the trained model to score with (from the store), if any.
        """
        table = _table(triage_table, "triage")
        _known_keys(table, _TOP_KEYS, "triage")
        words = None
        if "urgency_words" in table:
            words = _words(table["urgency_words"], "triage.urgency_words")
        extra = _words(table.get("extra_urgency_words", []), "triage.extra_urgency_words")
        domains = DEFAULT_DOMAINS
        if "domains" in table:
            domains = _words(table["domains"], "triage.domains")
            if not domains:
                raise ConfigError('triage.domains must name at least one pack, e.g. ["travel"]')
        names = _words(table.get("brand_names", []), "triage.brand_names")
        age_weight = _number(table.get("age_weight", 2.0), "triage.age_weight")
        if age_weight < 0:
            raise ConfigError(f"triage.age_weight must be 0 or more, got {age_weight!r}")
        cap = _number(table.get("age_cap_hours", 24.0), "triage.age_cap_hours")
        if cap <= 0:
            raise ConfigError(f"triage.age_cap_hours must be more than 0, got {cap!r}")
        retrain = _count(table.get("retrain_every", 0), "triage.retrain_every", 0)
        min_labels = _count(table.get("min_labels", MIN_LABELS), "triage.min_labels", 10)
        return cls(
            weights=_weights(table.get("weights", {})),
            urgency_words=words,
            rules=_rules(table.get("rules", [])),
            sla_seconds=_sla(table.get("sla", {})),
            age_weight=age_weight,
            age_cap_hours=cap,
            brand_handles=tuple(brand_handles),
            domains=domains,
            extra_urgency_words=extra,
            brand_names=names,
            model=model,
            retrain_every=retrain,
            min_labels=min_labels,
        )


def _brand_names(handles: frozenset[str], names: Sequence[str]) -> list[str]:
    """The handles, the given names, and each handle without its care suffix (AcmeHelp: acme)."""
    out = [*handles, *(n.strip().lower() for n in names if n.strip())]
    for handle in handles:
        stem = handle.strip("_")
        for suffix in _HANDLE_SUFFIXES:
            if stem.endswith(suffix) and len(stem) - len(suffix) >= 3:
                stem = stem[: -len(suffix)].rstrip("_")
                break
        if len(stem) >= 3:
            out.append(stem)
    return out


# -- config validation ----------------------------------------------------------
def _table(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key} must be a table, got {value!r}")
    return value


def _known_keys(table: Mapping[str, Any], known: Sequence[str], key: str) -> None:
    for name in table:
        if name not in known:
            raise ConfigError(f"{key}.{name} is not a known key (use one of: {', '.join(known)})")


def _number(value: Any, key: str) -> float:
    """A finite int or float (TOML booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{key} must be a number, got {value!r}")
    return float(value)


def _count(value: Any, key: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"{key} must be a whole number of at least {least}, got {value!r}")
    return value


def _words(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(w, str) and w.strip() for w in value):
        raise ConfigError(f"{key} must be a list of words or phrases, got {value!r}")
    return tuple(w.strip() for w in value)


def _weights(value: Any) -> Weights:
    table = _table(value, "triage.weights")
    names = list(Weights._fields)
    _known_keys(table, names, "triage.weights")
    return Weights(**{k: _number(v, f"triage.weights.{k}") for k, v in table.items()})


def _rules(value: Any) -> tuple[Rule, ...]:
    if not isinstance(value, list):
        raise ConfigError(
            f"triage.rules must be an array of tables ([[triage.rules]]), got {value!r}"
        )
    return tuple(_rule(item, f"triage.rules[{n}]") for n, item in enumerate(value, start=1))


def _rule(value: Any, key: str) -> Rule:
    """One rule; exactly one of ``pattern`` (regex) or ``keywords`` (list) says what matches."""
    table = _table(value, key)
    _known_keys(table, _RULE_KEYS, key)
    tag = table.get("tag")
    if not isinstance(tag, str) or not tag.strip():
        raise ConfigError(f"{key}.tag must be a non-empty string, got {tag!r}")
    weight = _number(table.get("weight", 1.0), f"{key}.weight")
    if ("pattern" in table) == ("keywords" in table):
        raise ConfigError(f"{key} needs exactly one of 'pattern' (a regex) or 'keywords' (a list)")
    if "keywords" in table:
        keywords = _words(table["keywords"], f"{key}.keywords")
        if not keywords:
            raise ConfigError(f"{key}.keywords must not be empty")
        return Rule(tag.strip(), weight, keywords=keywords)
    pattern = table["pattern"]
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError(f"{key}.pattern must be a non-empty string, got {pattern!r}")
    try:
        return Rule(tag.strip(), weight, pattern=re.compile(pattern, re.IGNORECASE))
    except re.error as exc:
        raise ConfigError(f"{key}.pattern is not a valid regular expression ({exc})") from None


def parse_duration(value: str) -> float:
    """Seconds in ``"30m"``, ``"4h"``, ``"2d"``, ``"1w"`` or ``"1h30m"``; ValueError otherwise."""
    text = value.strip()
    total, pos = 0.0, 0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2).lower()]
        pos = m.end()
    if not text or pos != len(text):
        raise ValueError(f"not a duration: {value!r}")
    return total


def _sla(value: Any) -> Mapping[str, float]:
    """Per-intent SLA targets over the defaults; "none" (or false) removes one."""
    table = _table(value, "triage.sla")
    _known_keys(table, INTENTS, "triage.sla")
    out = dict(DEFAULT_SLA)
    for intent, raw in table.items():
        key = f"triage.sla.{intent}"
        if raw is False or (isinstance(raw, str) and raw.strip().lower() in _NO_SLA):
            out.pop(intent, None)
            continue
        if not isinstance(raw, str):
            raise ConfigError(f'{key} must be a duration like "30m", "4h" or "2d", or "none"')
        try:
            seconds = parse_duration(raw)
        except ValueError:
            raise ConfigError(
                f'{key} must be a duration like "30m", "4h" or "2d", or "none"; got {raw!r}'
            ) from None
        if seconds <= 0:
            raise ConfigError(f"{key} must be longer than 0, got {raw!r}")
        out[intent] = seconds
    return MappingProxyType(out)


# -- scoring --------------------------------------------------------------------
class TriageResult(NamedTuple):
    """The static triage of one mention, ready for ``Store.save_triage``.

    A NamedTuple rather than a frozen dataclass: it is built once per mention
    on the poll's hot path, and its construction is several times cheaper.
    """

    signals: tuple[Contribution, ...]
    intent: str
    sentiment: Sentiment
    tags: tuple[str, ...]
    static_score: float
    sla_due_ts: float | None
    repeat_count: int = 0

    def columns(self, triaged_at: str | None = None) -> dict[str, Any]:
        """Exactly the store's ``TRIAGE_COLUMNS``; ``signals`` is the compact encoding
        of the parts, tags, language and repeat count (:mod:`socialcare.triage.codec`).

        ``triaged_at`` (UTC ISO, default now): a batch passes its one time, as
        reading the clock per mention cost a poll more than encoding its signals.
        """
        s = self.sentiment
        return {
            "sentiment_compound": s.compound,
            "sentiment_pos": s.pos,
            "sentiment_neu": s.neu,
            "sentiment_neg": s.neg,
            "sentiment_scored": 1 if s.scored else 0,
            "intent": self.intent,
            "static_score": self.static_score,
            "signals": encode_signals(
                self.signals,
                tags=self.tags,
                language=s.language,
                language_source=s.language_source,
                repeat_count=self.repeat_count,
            ),
            "sla_due_ts": self.sla_due_ts,
            "triaged_at": to_iso(utcnow()) if triaged_at is None else triaged_at,
        }


def _created_ts(row: Mapping[str, Any]) -> float | None:
    """The mention's time in unix seconds (``created_ts``, else ``created_at``)."""
    ts = row.get("created_ts")
    if isinstance(ts, (int, float)) and not isinstance(ts, bool):
        return float(ts)
    created = row.get("created_at")
    if isinstance(created, str) and created:
        try:
            return parse_iso(created).timestamp()
        except ValueError:
            return None
    return None


def _sentiment_part(
    s: Sentiment, weight: float, text: str, found: sig.Found, intent: str
) -> Contribution:
    if not s.scored or s.compound is None:
        return _part(
            "sentiment", 0.0, weight, f"unscored: language {s.language} ({s.language_source})"
        )
    if s.compound > 0 and intent == "complaint":
        why = sig.sarcasm(text, found)
        if why is not None:  # sarcastic praise is as negative as it sounds positive
            detail = f"compound {s.compound:+.2f} ({s.language}, {s.language_source})"
            return _part("sentiment", min(s.compound, 1.0), weight, f"{detail}, sarcastic: {why}")
    # the plain line depends on these four values only: compounds have 4 decimals and
    # languages are few, so the same lines recur and are built once
    # (the signs too: -0.0 == 0.0 as a key, but "-0.00" is not "+0.00")
    key = (
        s.compound,
        math.copysign(1.0, s.compound),
        weight,
        math.copysign(1.0, weight),
        s.language,
        s.language_source,
    )
    part = _SENTIMENT_PARTS.get(key)
    if part is None:
        detail = f"compound {s.compound:+.2f} ({s.language}, {s.language_source})"
        part = _part("sentiment", sig.negative_strength(s.compound), weight, detail)
        if len(_SENTIMENT_PARTS) >= 50_000:
            _SENTIMENT_PARTS.clear()
        _SENTIMENT_PARTS[key] = part
    return part


_SENTIMENT_PARTS: dict[tuple[float, float, float, float, str, str], Contribution] = {}


def _counted(
    name: str, value: float, weight: float, detail: str, answered: bool, intent: str
) -> Contribution:
    """A signal that counts only for mentions needing an answer (its detail says when not)."""
    if answered:
        return _part(name, value, weight, detail)
    return _part(name, 0.0, weight, f"{detail} (not counted: {intent})")


def _urgency_part(
    urgent: list[str], settings: TriageSettings, answered: bool, intent: str
) -> Contribution:
    """The urgency line of a mention with urgency words (remembered by words and intent)."""
    key = ("urgency", intent, *urgent)
    part = settings.part_memo.get(key)
    if part is None:
        w = settings.weights.urgency
        part = _counted("urgency", sig.urgency(urgent), w, ", ".join(urgent), answered, intent)
        _remembered(settings, key, part)
    return part


def _direct_part(direct: float, why: str, settings: TriageSettings) -> Contribution:
    """The direct-address line of a mention that addresses the brand (remembered)."""
    key = ("direct", direct, why)
    part = settings.part_memo.get(key)
    if part is None:
        part = _part("direct", direct, settings.weights.direct, why)
        _remembered(settings, key, part)
    return part


def _reach_part(followers: Any, weight: float) -> Contribution:
    """The reach line: the author's follower count, weighted."""
    return _part("reach", reach(followers), weight, f"{followers or 0} followers")


def _repeat_part(
    repeat_count: int, settings: TriageSettings, answered: bool, intent: str
) -> Contribution:
    """The repeat-contact line: earlier waiting mentions of the author, if any."""
    if repeat_count <= 0:
        return settings.fixed_parts["repeat"]
    key = ("repeat", intent, repeat_count)
    part = settings.part_memo.get(key) if type(repeat_count) is int else None
    if part is None:
        part = _counted(
            "repeat",
            repeat_contact(repeat_count),
            settings.weights.repeat,
            f"{repeat_count} earlier",
            answered,
            intent,
        )
        _remembered(settings, key, part)
    return part


def _remembered(settings: TriageSettings, key: tuple[Any, ...], part: Contribution) -> None:
    """Keep a line built from exactly ``key`` (its name, the intent, its inputs) for reuse.

    Most mentions' direct, urgency and repeat lines are one of a few, and the same
    object again costs neither building it nor its text in the ``signals`` column
    (``codec`` remembers the text of a part object it has written). ``answered`` is a
    function of the intent, and the weights are the settings', so the key decides
    the line; bool repeat counts are not remembered (``True`` keys as ``1``).
    """
    memo = settings.part_memo
    if len(memo) >= 50_000:
        memo.clear()
    memo[key] = part


def _rule_list(index: int) -> str:
    """The matcher list name of a keyword rule."""
    return f"rule:{index}"


def _rule_parts(text: str, rules: Sequence[Rule], found: sig.Found) -> list[Contribution]:
    parts = []
    for n, rule in enumerate(rules):
        if rule.pattern is not None:
            m = rule.pattern.search(text)
            hit = m.group(0) if m else None
        else:
            terms = found.get(_rule_list(n))
            hit = terms[0].term if terms else None
        if hit is not None:
            parts.append(_part(f"rule:{rule.tag}", 1.0, rule.weight, f"matched '{hit}'"))
    return parts


def score_row(
    row: Mapping[str, Any], settings: TriageSettings, repeat_count: int = 0
) -> TriageResult:
    """Score one mention row (a ``mentions`` row or a dict shaped like one).

    Reads ``text``, ``language``, ``author_followers``, ``query``, ``raw``,
    ``rating`` (reviews) and ``created_ts`` (or ``created_at``). ``repeat_count``
    is how many earlier mentions by the same author are still unanswered
    (``Store.unanswered_before_many``). The same code as :func:`score_rows`,
    so one row and a batch can never score differently (without the batch's pause
    of the garbage collector, which buys nothing for one row).
    """
    return _score_rows((row,), settings, (repeat_count,))[0]


def score_rows(
    rows: Sequence[Mapping[str, Any]],
    settings: TriageSettings,
    repeat_counts: Sequence[int] | None = None,
) -> list[TriageResult]:
    """:func:`score_row` for many rows at once (same results), as ``triage_ids`` uses it.

    Each step runs for the whole batch before the next (languages, the texts VADER
    reads, VADER, cue words, direct address, intent, the signal lines, the learned
    model): each then keeps its own code and tables hot in the CPU caches, which
    measured ~15% faster than running all the steps mention by mention
    (bench/bench_triage.py).

    The garbage collector is paused meanwhile (and resumed if it ran): a batch
    builds tens of thousands of small containers, none in a reference cycle, and
    the collections they set off scanned the long-lived word memos and model
    tables again and again (~10% of the batch's time). What the batch leaves is
    collected as usual afterwards.
    """
    import gc  # here, not at the top: another change edits those lines

    enabled = gc.isenabled()
    gc.disable()
    try:
        return _score_rows(rows, settings, repeat_counts)
    finally:
        if enabled:
            gc.enable()


def _score_rows(
    rows: Sequence[Mapping[str, Any]],
    settings: TriageSettings,
    repeat_counts: Sequence[int] | None,
) -> list[TriageResult]:
    """:func:`score_rows` with the collector paused."""

    texts = [_text(row) for row in rows]
    # what _analyse gives each row, in batch passes (see analyse_many)
    sentiments = _sentiment.analyse_many(
        texts, [row.get("language") for row in rows], settings.brand_words
    )
    counts = [0] * len(rows) if repeat_counts is None else repeat_counts
    find, apply_context = settings.matcher.find, sig.apply_context
    # each text split once, for the cue matcher's words and the model's (hashed once too)
    raws = [t.split() for t in texts]
    founds = [apply_context(t, find(t, raw)) for t, raw in zip(texts, raws, strict=True)]
    handles, brand, direct_address = settings.handles, settings.brand, sig.direct_address
    directs = [
        direct_address(t, handles, brand, query=str(row.get("query") or ""), raw=row.get("raw"))
        for t, row in zip(texts, rows, strict=True)
    ]
    classify = sig.classify_intent
    intents = [
        classify(t, s.compound, direct=d[0] > 0, found=f)
        for t, s, f, d in zip(texts, sentiments, founds, directs, strict=True)
    ]
    partial = [
        _signal_parts(row, t, s, f, d, intent, n, settings)
        for row, t, s, f, d, intent, n in zip(
            rows, texts, sentiments, founds, directs, intents, counts, strict=True
        )
    ]
    if settings.model is not None:
        _add_learned(partial, texts, raws, settings.model, settings.weights.learned)
    return [
        _result(row, text, sentiment, found, settings, n, *sp)
        for row, text, sentiment, found, n, sp in zip(
            rows, texts, sentiments, founds, counts, partial, strict=True
        )
    ]


class StoredSignalsError(ValueError):
    """Stored signals that :func:`rescore_stored` cannot rebuild a triage from."""


#: the parts whose value and detail depend on the text inputs only (their weight is reread)
_TEXT_PARTS = ("sentiment", "urgency", "direct", "rating", "learned")


def rescore_stored(
    rows: Sequence[Mapping[str, Any]],
    payloads: Sequence[Mapping[str, Any]],
    settings: TriageSettings,
    repeat_counts: Sequence[int],
) -> list[TriageResult]:
    """:func:`score_rows` from each row's stored signals (``decode_signals``) instead of its text.

    Only for rows whose signals were scored with the same text inputs as
    ``settings`` (``socialcare.scoring`` checks a fingerprint first): the
    intent, the sentiment, the urgency, direct, rating and learned lines and
    the rule matches are then what scoring the text would give again, so they
    are kept with today's weights; reach, repeat, the SLA and the total are
    recomputed as :func:`_signal_parts` and :func:`_result` do. The result is
    the same, bit for bit, at a fraction of the cost (no sentiment, no cue
    matching, no model). Raises :class:`StoredSignalsError` on a payload it
    cannot read (the caller scores that batch from text).
    """
    w = settings.weights
    fixed = settings.fixed_parts
    weight_of = {
        "sentiment": w.sentiment,
        "urgency": w.urgency,
        "direct": w.direct,
        "rating": w.rating,
        "learned": w.learned,
    }
    out = []
    for row, payload, repeat_count in zip(rows, payloads, repeat_counts, strict=True):
        stored = payload.get("signals")
        if not stored or stored[0][0] != "intent" or stored[0][4] not in fixed:
            raise StoredSignalsError("no intent line")
        intent = str(stored[0][4])
        if intent not in INTENTS:
            raise StoredSignalsError(f"unknown intent {intent!r}")
        answered = intent in ANSWERED_INTENTS
        parts = [fixed[intent]]
        rules = learned = False
        for name, value, _weight, _contribution, detail in stored[1:]:
            if name in weight_of:
                parts.append(_part(name, value, weight_of[name], detail))
                learned = learned or name == "learned"
            elif name == "reach":
                parts.append(_reach_part(row.get("author_followers"), w.reach))
            elif name == "repeat":
                parts.append(_repeat_part(repeat_count, settings, answered, intent))
            elif name.startswith("rule:"):  # the rules are in the fingerprint, weights included
                parts.append(_part(name, value, _weight, detail))
                rules = True
            else:
                raise StoredSignalsError(f"unknown signal {name!r}")
        if (settings.model is not None) != learned:
            raise StoredSignalsError("learned line and model disagree")
        language, source = payload.get("language"), payload.get("language_source")
        if not isinstance(language, str) or not isinstance(source, str):
            raise StoredSignalsError("no language")
        sentiment = Sentiment(
            row.get("sentiment_compound"),
            row.get("sentiment_pos"),
            row.get("sentiment_neu"),
            row.get("sentiment_neg"),
            language,
            source,
        )
        target = settings.sla_seconds.get(intent)
        created = _created_ts(row) if target is not None else None
        out.append(
            TriageResult(
                signals=tuple(parts),
                intent=intent,
                sentiment=sentiment,
                tags=tuple(dict.fromkeys(p.name[5:] for p in parts if p.name.startswith("rule:")))
                if rules
                else (),
                static_score=sum([p.contribution for p in parts]),
                sla_due_ts=None if created is None or target is None else created + target,
                repeat_count=repeat_count,
            )
        )
    return out


def _text(row: Mapping[str, Any]) -> str:
    return str(row.get("text") or "")


def _analyse(text: str, row: Mapping[str, Any], settings: TriageSettings) -> Sentiment:
    """Sentiment of the text without handles, links and brand names (language from all of it)."""
    return _sentiment.analyse(
        text,
        row.get("language"),
        scored_text=_sentiment.text_for_sentiment(text, settings.brand_words),
    )


def _signal_parts(
    row: Mapping[str, Any],
    text: str,
    sentiment: Sentiment,
    found: sig.Found,
    direct_why: tuple[float, str],
    intent: str,
    repeat_count: int,
    settings: TriageSettings,
) -> tuple[str, list[Contribution]]:
    """The final intent (low stars make a complaint) and its signal lines, without rules."""
    w = settings.weights
    fixed = settings.fixed_parts
    urgent = sig.urgency_words_found(found)
    direct, why = direct_why
    stars = _stars(row.get("rating"))
    low = stars is not None and stars <= sig.COMPLAINT_STARS
    by_stars = low and intent not in ("complaint", "spam")
    if by_stars:
        intent = "complaint"
    answered = intent in ANSWERED_INTENTS
    followers = row.get("author_followers")
    parts = [
        fixed[intent],
        _sentiment_part(sentiment, w.sentiment, text, found, intent),
        _urgency_part(urgent, settings, answered, intent) if urgent else fixed["urgency"],
        _direct_part(direct, why, settings) if direct else fixed["direct"],
        _reach_part(followers, w.reach),
        _repeat_part(repeat_count, settings, answered, intent),
    ]
    if stars is not None:
        parts.append(_rating_part(stars, w.rating, intent, by_stars))
    return intent, parts


def _add_learned(
    partial: Sequence[tuple[str, list[Contribution]]],
    texts: Sequence[str],
    raws: Sequence[list[str]],
    model: LearnedModel,
    weight: float,
) -> None:
    """Append the ``learned`` line to each mention's signal lines (the whole batch at once)."""
    # signal_values(parts), read straight from the parts just built, in the order of
    # learned.SIGNAL_FEATURES (sentiment, urgency, direct, reach)
    lines = model.predict_lines(
        texts,
        [intent for intent, _ in partial],
        [(parts[1][1], parts[2][1], parts[3][1], parts[4][1]) for _, parts in partial],
        3,
        tokens=raws,
    )
    for (_, parts), (p, top) in zip(partial, lines, strict=True):
        parts.append(_part("learned", p, weight, f"p={p:.2f}: {top}"))


def _result(
    row: Mapping[str, Any],
    text: str,
    sentiment: Sentiment,
    found: sig.Found,
    settings: TriageSettings,
    repeat_count: int,
    intent: str,
    parts: list[Contribution],
) -> TriageResult:
    """The keyword and pattern rules, the SLA and the total: the finished result."""
    rules = _rule_parts(text, settings.rules, found) if settings.rules else []
    if rules:
        parts += rules
    target = settings.sla_seconds.get(intent)
    created = _created_ts(row) if target is not None else None
    # TriageResult(signals, intent, sentiment, tags, static_score, sla_due_ts, repeat_count)
    return _new(
        TriageResult,
        (
            tuple(parts),
            intent,
            sentiment,
            tuple(dict.fromkeys(p.name[5:] for p in rules)) if rules else (),
            sum([p.contribution for p in parts]),
            None if created is None or target is None else created + target,
            repeat_count,
        ),
    )


def _stars(value: Any) -> int | None:
    """A stored 1..5 rating, or None (not a review, or a value no platform gives)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    stars = int(value)
    return stars if 1 <= stars <= 5 and stars == value else None


def _rating_part(stars: int, weight: float, intent: str, by_stars: bool) -> Contribution:
    """The review's stars: 1 or 2 push it up the queue (nothing for spam).

    The intent line's detail stays the bare intent (the learned model reads it
    as the intent), so this line says when the stars made the complaint.
    """
    value = sig.low_rating(stars)
    noun = "star" if stars == 1 else "stars"
    if intent == "spam":
        return _part("rating", 0.0, weight, f"{stars} {noun} (not counted: spam)")
    low = ""
    if value:
        made = ", whatever the words say" if by_stars else ""
        low = f" (1-{sig.COMPLAINT_STARS} stars: a complaint{made})"
    return _part("rating", value, weight, f"{stars} {noun}{low}")


def waiting_term(
    created_ts: float, now_ts: float, settings: TriageSettings, *, waited: float | None = None
) -> Contribution:
    """The queue's age term, computed exactly as ``Store.queue`` does in SQL.

    ``waited``: the seconds the queue counts as waited when that is not the wall clock
    (``[hours]``: business seconds, ``store.business_waited`` of the queue's spans).
    """
    cap = max(settings.age_cap_hours, 1e-9)
    business = waited is not None
    hours = max(now_ts - created_ts if waited is None else waited, 0) / 3600.0
    value = min(hours, cap) / cap
    contribution = settings.age_weight * min(hours, cap) / cap
    unit = " business hours" if business else "h"
    detail = f"waited {hours:.1f}{unit} (counts up to {settings.age_cap_hours:g}{unit})"
    return Contribution("waiting", value, settings.age_weight, contribution, detail)


def _stored_payload(row: Mapping[str, Any]) -> Mapping[str, Any]:
    """The row's stored signals in the version-1 shape, whichever version wrote them."""
    return decode_signals(row.get("signals"))


def explain(
    row: Mapping[str, Any],
    settings: TriageSettings,
    now_ts: float,
    *,
    waited: Callable[[float], float] | None = None,
    current: bool = False,
) -> list[Contribution]:
    """The current score of a stored mention, line by line; the lines sum to the queue's score.

    ``waited(created_ts)``: the seconds the queue counts as waited, when not the wall
    clock (``[hours]``: business time), so the waiting line is the queue's own.

    The signals are recomputed from the row (the repeat count comes from the
    stored signals, being the one input not in the row). If the stored
    ``static_score`` differs, because ``[triage]`` changed since or the
    mention was never triaged, a ``stale`` line carries the difference, so the
    total still equals what ``queue`` shows and says how to refresh it.

    ``current``: the caller checked that the stored signals were scored from this
    row's text inputs with these settings' text-derived inputs (``triage_fp``, see
    ``socialcare.scoring``). The lines are then rebuilt from the stored signals with
    today's weights (:func:`rescore_stored`, the same lines bit for bit) instead of
    running sentiment and the cue matcher again; signals that do not read fall back
    to scoring the text.
    """
    payload = _stored_payload(row)
    repeat = payload.get("repeat_count", 0)
    repeat = repeat if isinstance(repeat, int) else 0
    result = None
    if current:
        try:
            result = rescore_stored([row], [payload], settings, [repeat])[0]
        except (StoredSignalsError, ValueError, TypeError, IndexError, KeyError, AttributeError):
            result = None  # damaged or odd stored signals: score the text, as before
    if result is None:
        result = score_row(row, settings, repeat)
    parts = list(result.signals)
    stored = float(row.get("static_score") or 0.0)
    if abs(stored - result.static_score) > 1e-9:
        why = "scored with other [triage] settings" if row.get("triaged_at") else "not triaged yet"
        diff = stored - result.static_score
        parts.append(Contribution("stale", 1.0, diff, diff, f"{why}: `socialcare triage --all`"))
    created = _created_ts(row)
    if created is not None:
        business = None if waited is None else waited(created)
        parts.append(waiting_term(created, now_ts, settings, waited=business))
    return parts
