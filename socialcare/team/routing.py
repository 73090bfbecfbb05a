"""Routing rules: who gets a new mention, decided at poll time in the ingest transaction.

``[routing]`` holds the roster (``[routing.teams]``: team -> agents), the
default ``strategy`` (``round_robin`` or ``least_loaded``) and ``cap`` (the most
open items an agent holds before routing passes them by), and ``[[routing.rules]]``.
A rule matches when every field it gives matches (``sources``, ``kinds``,
``intents``, ``languages``, ``tags``, ``keywords``, ``pattern``, ``min_score``,
``customers``); the first matching rule decides, and assigns to its ``agent``
or picks one of its ``team``. Away agents and agents at their cap are never
picked; when nobody can take it, the mention stays unassigned (and the audit
log says why).

Two pollers at once: each routing batch first takes the store's routing lock
(:func:`socialcare.store.team.lock_team`), so loads and turns are read after
the other poller's assignments committed, and ``team_routes``' primary key
makes the second routing of one mention a no-op.
"""

from __future__ import annotations

import importlib
import json
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate, count, repeat
from json.encoder import encode_basestring_ascii as _json_str
from operator import add, contains, itemgetter, methodcaller
from typing import TYPE_CHECKING, Any, Callable, Collection, Mapping, Sequence

from ..config import check_keys
from ..errors import ConfigError
from ..models import to_iso, utcnow
from ..store import Row, Store
from ..store import team as store_team
from ..store.ingest import Scorer
from ..triage.codec import decode_signals
from ._gc import gc_paused

if TYPE_CHECKING:
    from .notify import InsertedColumns

__all__ = [
    "RULE_KEYS",
    "ROUTING_KEYS",
    "STRATEGIES",
    "KINDS",
    "Rule",
    "RoutingSettings",
    "Decision",
    "PageRouter",
    "RuleCheck",
    "route_ids",
    "explain_route",
]

STRATEGIES = ("round_robin", "least_loaded")
#: what ``kinds`` matches: a review, a private message, or any public post ("mention")
KINDS = ("mention", "dm", "review")
RULE_KEYS = (
    "name", "sources", "kinds", "intents", "languages", "tags", "keywords", "pattern",
    "min_score", "customers", "agent", "team", "strategy", "cap",
)  # fmt: skip
ROUTING_KEYS = ("teams", "strategy", "cap", "rules")
#: the one lock row every routing batch takes (its turn is unused)
_LOCK = "*"
_ACTOR = "routing"


def _choice(value: Any, allowed: tuple[str, ...], key: str) -> None:
    if value not in allowed:
        raise ConfigError(f"{key}: {value!r} is not one of: {', '.join(allowed)}")


def _kind(kind: str) -> str:
    return kind if kind in ("dm", "review") else "mention"


def _strings(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}.{key} must be a list of strings, got {value!r}")
    return tuple(value)


def _needles(words: Sequence[str]) -> tuple[str, ...] | None:
    """The literal part of each keyword, lower-cased, when all are ASCII (else None)."""
    if not words or not all(w.isascii() for w in words):
        return None
    return tuple(dict.fromkeys((w[:-1] if w.endswith("*") else w).lower() for w in words))


def _keywords(words: Sequence[str]) -> re.Pattern[str] | None:
    """Whole words or phrases, case-insensitive; ``refund*`` also matches ``refunds``."""
    if not words:
        return None
    parts = [re.escape(w[:-1]) + r"\w*" if w.endswith("*") else re.escape(w) for w in words]
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)


def _pattern_needles(pattern: re.Pattern[str]) -> tuple[str, ...] | None:
    """Lower-case ASCII literals one of which every match of ``pattern`` contains (None:
    no such set was found), read from the regex's parse tree.

    ``\\b(?:INV|ACC)-\\d+`` gives ``("acc", "inv")``: on a page most texts contain
    neither, and those skip the regex (the joined-page search of :meth:`_Page.maybe`;
    texts that are not ASCII always get the regex, as for ``keywords``).
    """
    try:
        # the stdlib's own regex parser (private: any failure means no filter)
        parser = importlib.import_module("re._parser")
        found = _required(list(parser.parse(pattern.pattern, pattern.flags)), parser)
    except Exception:
        return None
    return tuple(sorted(found)) if found else None


def _required(items: list[tuple[Any, Any]], c: Any) -> set[str] | None:
    """A set of lower-case ASCII strings one of which every match of this parsed
    sequence contains, the one with the longest shortest member; None when none is known.

    Only what a match must contain counts: runs of ASCII literals in a row, a group
    (or atomic group, or a repeat of at least once) by what its body must contain, and
    a branch by the union of what each alternative must contain (when every one must).
    Anything else (classes, ``.``, anchors, lookarounds, backreferences, optional
    parts) only ends a run. Lower-casing both sides keeps this a necessary condition
    under any case flag: an ASCII text matches an ASCII literal only as its lower case.
    ``c`` is the parser module (its opcode constants).
    """
    best: set[str] | None = None

    def consider(cands: set[str] | None) -> None:
        nonlocal best
        if cands and all(cands) and (best is None or min(map(len, cands)) > min(map(len, best))):
            best = cands

    run: list[str] = []
    for op, av in items:
        if op is c.LITERAL and av < 128:
            run.append(chr(av).lower())
            continue
        consider({"".join(run)} if run else None)
        run = []
        if op is c.SUBPATTERN:
            consider(_required(list(av[-1]), c))
        elif op is c.ATOMIC_GROUP:
            consider(_required(list(av), c))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT) and av[0] >= 1:
            consider(_required(list(av[2]), c))
        elif op is c.BRANCH:
            alts = [_required(list(alt), c) for alt in av[1]]
            if all(a is not None for a in alts):
                consider(set().union(*(a for a in alts if a is not None)))
    consider({"".join(run)} if run else None)
    return best


@dataclass(frozen=True)
class Rule:
    """One ``[[routing.rules]]`` entry."""

    name: str
    sources: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    intents: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    keywords: re.Pattern[str] | None = None
    pattern: re.Pattern[str] | None = None
    min_score: float | None = None
    customers: tuple[str, ...] = ()
    agent: str | None = None
    team: str | None = None
    strategy: str = "round_robin"
    cap: int | None = None
    #: lower-case ASCII literals one of which an ASCII text must contain for ``keywords``
    #: to match (None: some keyword is not ASCII, so always run the regex)
    needles: tuple[str, ...] | None = None
    #: the same for ``pattern`` (:func:`_pattern_needles`), used by the page matcher only
    pattern_needles: tuple[str, ...] | None = None

    def checks(self, row: Mapping[str, Any]) -> list[tuple[bool, str]]:
        """(matched, why) for each field the rule gives, in order."""
        out: list[tuple[bool, str]] = []
        if self.sources:
            out.append(
                (row["source"] in self.sources, f"source {row['source']} in {list(self.sources)}")
            )
        if self.kinds:
            kind = _kind(str(row.get("kind") or "post"))
            out.append((kind in self.kinds, f"kind {kind} in {list(self.kinds)}"))
        if self.intents:
            out.append(
                (
                    row.get("intent") in self.intents,
                    f"intent {row.get('intent')} in {list(self.intents)}",
                )
            )
        if self.languages:
            lang = row.get("language")
            out.append((lang in self.languages, f"language {lang} in {list(self.languages)}"))
        if self.tags:
            have = _tags(row)
            out.append((bool(have & set(self.tags)), f"tags {sorted(have)} meet {list(self.tags)}"))
        text = str(row.get("text") or "")
        if self.keywords is not None:
            hit = self.keywords.search(text)
            out.append((hit is not None, f"keyword {hit.group(0)!r}" if hit else "no keyword"))
        if self.pattern is not None:
            hit = self.pattern.search(text)
            out.append(
                (
                    hit is not None,
                    f"pattern matched {hit.group(0)!r}" if hit else "pattern not found",
                )
            )
        if self.min_score is not None:
            score = float(row.get("static_score") or 0.0)
            out.append((score >= self.min_score, f"score {score:.2f} >= {self.min_score:g}"))
        if self.customers:
            ids = {str(row.get("author_key"))}
            if row.get("customer_id") is not None:
                ids.add(f"customer:{row['customer_id']}")
            out.append((bool(ids & set(self.customers)), f"customer in {list(self.customers)}"))
        return out

    def matches(self, row: Mapping[str, Any]) -> bool:
        """Every field the rule gives matches the mention (the poll-time path: no messages)."""
        if self.sources and row["source"] not in self.sources:
            return False
        if self.kinds and _kind(str(row.get("kind") or "post")) not in self.kinds:
            return False
        if self.intents and row.get("intent") not in self.intents:
            return False
        if self.languages and row.get("language") not in self.languages:
            return False
        if self.min_score is not None and float(row.get("static_score") or 0.0) < self.min_score:
            return False
        if self.customers:
            ids = {str(row.get("author_key")), f"customer:{row.get('customer_id')}"}
            if not ids & set(self.customers):
                return False
        if self.tags and not _tags(row) & set(self.tags):
            return False
        text = str(row.get("text") or "")
        if self.keywords is not None:
            # A substring test first, at C speed: on ASCII text the case-blind regex can only
            # match where a keyword's literal is (most mentions contain none of them).
            if self.needles is not None and text.isascii():
                low = text.lower()
                if not any(n in low for n in self.needles):
                    return False
            if self.keywords.search(text) is None:
                return False
        return self.pattern is None or self.pattern.search(text) is not None


def _tags(row: Mapping[str, Any]) -> set[str]:
    """Tags agents added plus the ones triage rules found (in ``signals``)."""
    return _tag_set(row.get("tags"), row.get("signals"))


def _tag_set(tags: Any, signals: Any) -> set[str]:
    """:func:`_tags` of a row's ``tags`` and ``signals`` values."""
    out: set[str] = set()
    # the signals column is encoded (either version): decode_signals reads its tags
    for raw in (tags, decode_signals(signals)):
        try:
            value = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            continue
        if isinstance(value, Mapping):
            value = value.get("tags")
        if isinstance(value, list):
            out.update(str(v) for v in value)
    return out


@dataclass(frozen=True)
class RoutingSettings:
    """``[routing]``: the roster, defaults and rules (empty: routing is off)."""

    teams: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    cap: int | None = None

    @property
    def agents(self) -> list[str]:
        """Every agent of the roster, in roster order."""
        return list(dict.fromkeys(a for members in self.teams.values() for a in members))

    def team_of(self, agent: str) -> list[str]:
        """The teams ``agent`` is on."""
        return [t for t, members in self.teams.items() if agent in members]

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> RoutingSettings:
        """Check and read ``[routing]``; every mistake is one ConfigError naming its key."""
        if not table:
            return cls()
        check_keys(table, ROUTING_KEYS, "routing")
        teams_table = table.get("teams", {})
        if not isinstance(teams_table, dict):
            raise ConfigError(
                f"routing.teams must be a table of team = [agents], got {teams_table!r}"
            )
        teams = {name: _strings(teams_table, name, "routing.teams") for name in teams_table}
        strategy = table.get("strategy", "round_robin")
        _choice(strategy, STRATEGIES, "routing.strategy")
        cap = _cap(table.get("cap"), "routing.cap")
        raw_rules = table.get("rules", [])
        if not isinstance(raw_rules, list):
            raise ConfigError(
                f"routing.rules must be an array of tables ([[routing.rules]]), got {raw_rules!r}"
            )
        roster = {a for members in teams.values() for a in members}
        rules: list[Rule] = []
        for n, entry in enumerate(raw_rules):
            rules.append(_rule(entry, f"routing.rules[{n}]", teams, roster, str(strategy), cap))
        names = [r.name for r in rules]
        for name in names:
            if names.count(name) > 1:
                raise ConfigError(f"routing.rules: two rules are named {name!r}; names must differ")
        return cls(teams, tuple(rules), cap)

    def first_match(self, row: Mapping[str, Any]) -> Rule | None:
        """The rule that decides for this mention, if any."""
        for rule in self.rules:
            if rule.matches(row):
                return rule
        return None

    def first_matches(self, rows: Sequence[Mapping[str, Any]]) -> list[Rule | None]:
        """:meth:`first_match` of each row, decided a rule at a time over the whole page."""
        return _match_page(self.rules, _Page([(r, _NO_COLUMNS) for r in rows]))


_NO_COLUMNS: Mapping[str, Any] = {}
#: between a page's texts when they are searched as one string (no keyword spans it)
_SEP = "\x00"
#: the only letters beyond ASCII that a case-blind regex matches to ASCII ones (U+0130
#: and U+0131 to i, U+017F to s, U+212A to k; test_routing_fast checks every code
#: point): mapped to those, a text lowered contains a keyword's ASCII literal wherever
#: the regex can match it
_FOLDS_TO_ASCII = {0x130: "i", 0x131: "i", 0x17F: "s", 0x212A: "k"}


def _fold_to_ascii(text: str) -> str:
    """``text`` with the letters of :data:`_FOLDS_TO_ASCII` replaced (str.translate costs
    ~0.3 us a character; most texts have none of the four)."""
    for cp, to in _FOLDS_TO_ASCII.items():
        if chr(cp) in text:
            text = text.replace(chr(cp), to)
    return text


class _Page:
    """A page's candidate rows field by field, for :func:`_match_page`.

    Each row is a pair (stored-or-built row, triage columns): a field is read from
    the columns if they have it, else from the row, as the merged row
    ``{**row, **columns}`` would give it. Every field, and every row's tags, is
    read once, when a rule first asks for it, so a page costs what its rules look
    at. ``customer_ids`` (author keys -> customer id) is asked only for the rows
    that reach a ``customers`` check; without it the rows carry ``customer_id``.
    ``customer_authors`` (customer ids -> their authors' keys and customer ids), when
    given, answers a ``customers`` check from the few authors of the customers it names
    instead (:meth:`linked`).
    """

    def __init__(
        self,
        pairs: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]],
        customer_ids: Callable[[list[str]], Mapping[str, Any]] | None = None,
        customer_authors: Callable[[list[int]], Mapping[str, Any]] | None = None,
    ) -> None:
        self.pairs = pairs
        self.customer_ids = customer_ids
        self.customer_authors = customer_authors
        self._columns: dict[str, list[Any]] = {}
        self._known: dict[str, Any] = {}
        self._asked: set[str] = set()
        self._tags: dict[int, set[str]] = {}
        self._needles: dict[str, set[int]] = {}
        self._joined: tuple[str, list[int], list[tuple[int, str]]] | None = None
        self._cols: list[Mapping[str, Any]] | None = None

    def __len__(self) -> int:
        return len(self.pairs)

    def column(self, name: str) -> list[Any]:
        """One field of every row."""
        out = self._columns.get(name)
        if out is None:
            # C loops (map) for the usual page: every row's columns have it, or none do
            cols = self._cols
            if cols is None:
                cols = self._cols = list(map(itemgetter(1), self.pairs))
            if all(map(contains, cols, repeat(name))):
                out = list(map(itemgetter(name), cols))
            elif not any(map(contains, cols, repeat(name))):
                out = list(map(methodcaller("get", name), map(itemgetter(0), self.pairs)))
            else:
                out = [c[name] if name in c else r.get(name) for r, c in self.pairs]
            self._columns[name] = out
        return out

    def read(self, names: Collection[str]) -> None:
        """Read ahead, in one visit per row, the fields of ``names`` that the rows give (no
        row's triage columns have them): :meth:`column` then finds them read.

        A page's rows are large dicts far apart in memory, so a pass over them for each
        field a rule reads cost more than the lookups themselves (~0.2 ms a field on a
        page of 1000). Any row without one of the fields (not a poll's page) leaves
        them all to :meth:`column`, which reads such a row's missing field as None.
        """
        want = [n for n in names if n not in self._columns]
        if len(want) < 2 or not self.pairs:
            return
        cols = self._cols
        if cols is None:
            cols = self._cols = list(map(itemgetter(1), self.pairs))
        mine = [n for n in want if not any(map(contains, cols, repeat(n)))]
        if len(mine) < 2:
            return
        try:
            values = list(map(itemgetter(*mine), map(itemgetter(0), self.pairs)))
        except KeyError:
            return
        for name, column in zip(mine, zip(*values, strict=True), strict=True):
            self._columns[name] = list(column)

    def derived(self, name: str) -> list[Any]:
        """A field as the rules compare it: ``kind`` normalised, ``static_score`` a float,
        ``text`` a string, ``author_key`` a string."""
        key = "=" + name
        out = self._columns.get(key)
        if out is None:
            raw = self.column(name)
            if name == "kind":  # a page has few kinds
                kinds = {v: _kind(str(v or "post")) for v in set(raw)}
                out = list(map(kinds.__getitem__, raw))
            elif name == "static_score":
                out = [float(v or 0.0) for v in raw]
            elif name == "text":
                out = [str(v or "") for v in raw]
            else:
                out = [str(v) for v in raw]
            self._columns[key] = out
        return out

    def customers(self, idx: Sequence[int]) -> list[Any]:
        """The customer id of each row of ``idx``."""
        if self.customer_ids is None:
            ids = self.column("customer_id")
            return [ids[i] for i in idx]
        keys = self.column("author_key")
        want = sorted({str(k) for i in idx if (k := keys[i]) and str(k) not in self._asked})
        if want:
            self._known.update(self.customer_ids(want))
            self._asked.update(want)
        return [self._known.get(str(keys[i])) for i in idx]

    def linked(self, want: Collection[str]) -> set[str] | None:
        """The author keys whose customer id ``c`` gives a ``customer:{c}`` in ``want``
        (read from the customers' side: one indexed query); None when this cannot stand
        in for :meth:`customers` (no ``customer_authors``, or ``want`` names
        ``customer:None``, which an author without a customer matches)."""
        if self.customer_authors is None:
            return None
        numbers: list[int] = []
        for w in want:
            if not w.startswith("customer:"):
                continue
            n = w[len("customer:") :]
            if n == "None":
                return None
            try:
                number = int(n)
            except ValueError:
                continue  # a stored customer id is an integer: none is written like this
            if str(number) == n and -(2**63) <= number < 2**63:
                numbers.append(number)
        if not numbers:
            return set()
        found = self.customer_authors(sorted(set(numbers)))
        return {key for key, c in found.items() if f"customer:{c}" in want}

    def tags(self, i: int) -> set[str]:
        """Row ``i``'s tags (:func:`_tags`)."""
        have = self._tags.get(i)
        if have is None:
            have = self._tags[i] = _tag_set(self.column("tags")[i], self.column("signals")[i])
        return have

    def maybe(self, needle: str) -> set[int]:
        """Rows whose text may contain ``needle`` (lower-case ASCII): every ASCII text
        that does, lower-cased, and every other text that does once lowered with
        :data:`_FOLDS_TO_ASCII` applied (where a case-blind regex could match it)."""
        found = self._needles.get(needle)
        if found is not None:
            return found
        if self._joined is None:
            texts = self.derived("text")
            other = [i for i, text in enumerate(texts) if not text.isascii()]
            folded = [(i, _fold_to_ascii(texts[i]).lower()) for i in other]
            if other:  # left out of the joined text: lowering them there costs ~10x
                texts = list(texts)
                for i in other:
                    texts[i] = ""
            # row i starts after the i texts and i separators before it
            starts = [0, *map(add, accumulate(map(len, texts[:-1])), count(1))] if texts else []
            self._joined = (_SEP.join(texts).lower(), starts, folded)
        low, starts, folded = self._joined
        if not needle or _SEP in needle:
            found = set(range(len(starts)))
        else:
            found = {i for i, text in folded if needle in text}
            end, pos = len(starts), low.find(needle)
            while pos >= 0:  # one find per row that has it: skip to the next row
                i = bisect_right(starts, pos) - 1
                found.add(i)
                pos = low.find(needle, starts[i + 1]) if i + 1 < end else -1
        self._needles[needle] = found
        return found


def _hits(rule: Rule, page: _Page, idx: list[int]) -> list[int]:
    """The rows of ``idx`` that ``rule`` matches (:meth:`Rule.matches`), cheap fields first."""
    if rule.sources:
        want, col = set(rule.sources), page.column("source")
        idx = [i for i in idx if col[i] in want]
    if idx and rule.kinds:
        want, col = set(rule.kinds), page.derived("kind")
        idx = [i for i in idx if col[i] in want]
    if idx and rule.intents:
        want, col = set(rule.intents), page.column("intent")
        idx = [i for i in idx if col[i] in want]
    if idx and rule.languages:
        want, col = set(rule.languages), page.column("language")
        idx = [i for i in idx if col[i] in want]
    if idx and rule.min_score is not None:
        least, scores = rule.min_score, page.derived("static_score")
        idx = [i for i in idx if not scores[i] < least]
    if idx and rule.keywords is not None:
        if rule.needles is not None:
            maybe = set().union(*(page.maybe(n) for n in rule.needles))
            idx = [i for i in idx if i in maybe]
        search, texts = rule.keywords.search, page.derived("text")
        idx = [i for i in idx if search(texts[i])]
    if idx and rule.pattern is not None:
        if rule.pattern_needles is not None:
            maybe = set().union(*(page.maybe(n) for n in rule.pattern_needles))
            idx = [i for i in idx if i in maybe]
        search, texts = rule.pattern.search, page.derived("text")
        idx = [i for i in idx if search(texts[i])]
    if idx and rule.tags:
        want = set(rule.tags)
        idx = [i for i in idx if page.tags(i) & want]
    if idx and rule.customers:
        want, keys = set(rule.customers), page.derived("author_key")
        linked = page.linked(want)
        if linked is not None:
            return [i for i in idx if keys[i] in want or keys[i] in linked]
        idx = [
            i
            for i, c in zip(idx, page.customers(idx), strict=True)
            if keys[i] in want or f"customer:{c}" in want
        ]
    return idx


def _fields(rules: Sequence[Rule]) -> set[str]:
    """The fields of a row that :func:`_hits` may read for ``rules`` (tags and customer ids
    aside: those are read per row, for the rows that reach them)."""
    out: set[str] = set()
    for rule in rules:
        for name, given in (
            ("source", rule.sources), ("kind", rule.kinds), ("intent", rule.intents),
            ("language", rule.languages), ("static_score", rule.min_score is not None),
            ("text", rule.keywords is not None or rule.pattern is not None),
            ("author_key", rule.customers),
        ):  # fmt: skip
            if given:
                out.add(name)
    return out


def _match_page(rules: Sequence[Rule], page: _Page) -> list[Rule | None]:
    """Each row's first matching rule (None: no rule matches), a rule at a time: every
    rule looks only at the rows no earlier rule took."""
    out: list[Rule | None] = [None] * len(page)
    left = list(range(len(page)))
    page.read(_fields(rules))
    for rule in rules:
        if not left:
            break
        hit = _hits(rule, page, left)
        if not hit:
            continue
        for i in hit:
            out[i] = rule
        taken = set(hit)
        left = [i for i in left if i not in taken] if len(hit) < len(left) else []
    return out


def _cap(value: Any, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{key} must be a whole number of at least 1, got {value!r}")
    return value


def _rule(
    entry: Any, where: str, teams: Mapping[str, tuple[str, ...]], roster: set[str],
    strategy: str, cap: int | None,
) -> Rule:  # fmt: skip
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a table, got {entry!r}")
    check_keys(entry, RULE_KEYS, where)
    name = entry.get("name", where)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.name must be a non-empty string, got {name!r}")
    agent, team = entry.get("agent"), entry.get("team")
    if (agent is None) == (team is None):
        raise ConfigError(f"{where}: give exactly one of `agent` or `team`")
    if agent is not None and (not isinstance(agent, str) or agent not in roster):
        known = ", ".join(sorted(roster)) or "none (add [routing.teams])"
        raise ConfigError(
            f"{where}.agent: unknown agent {agent!r}; agents of routing.teams: {known}"
        )
    if team is not None and (not isinstance(team, str) or team not in teams):
        known = ", ".join(sorted(teams)) or "none (add [routing.teams])"
        raise ConfigError(f"{where}.team: unknown team {team!r}; teams: {known}")
    kinds = _strings(entry, "kinds", where)
    for kind in kinds:
        _choice(kind, KINDS, f"{where}.kinds")
    pattern = entry.get("pattern")
    compiled = None
    if pattern is not None:
        if not isinstance(pattern, str) or not pattern:
            raise ConfigError(
                f"{where}.pattern must be a regular expression string, got {pattern!r}"
            )
        try:
            compiled = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise ConfigError(f"{where}.pattern: not a valid regular expression ({exc})") from None
    min_score = entry.get("min_score")
    if min_score is not None and (
        isinstance(min_score, bool) or not isinstance(min_score, (int, float))
    ):
        raise ConfigError(f"{where}.min_score must be a number, got {min_score!r}")
    customers_raw = entry.get("customers", [])
    if not isinstance(customers_raw, list):
        raise ConfigError(f"{where}.customers must be a list of author keys or customer ids")
    customers: list[str] = []
    for c in customers_raw:
        if isinstance(c, int) and not isinstance(c, bool):
            customers.append(f"customer:{c}")
        elif isinstance(c, str) and c:
            customers.append(c)
        else:
            raise ConfigError(f"{where}.customers: {c!r} is not an author key or a customer id")
    rule_strategy = entry.get("strategy", strategy)
    _choice(rule_strategy, STRATEGIES, f"{where}.strategy")
    return Rule(
        name=name,
        sources=_strings(entry, "sources", where),
        kinds=kinds,
        intents=_strings(entry, "intents", where),
        languages=_strings(entry, "languages", where),
        tags=_strings(entry, "tags", where),
        keywords=_keywords(_strings(entry, "keywords", where)),
        needles=_needles(_strings(entry, "keywords", where)),
        pattern=compiled,
        pattern_needles=None if compiled is None else _pattern_needles(compiled),
        min_score=None if min_score is None else float(min_score),
        customers=tuple(customers),
        agent=agent,
        team=team,
        strategy=str(rule_strategy),
        cap=_cap(entry.get("cap"), f"{where}.cap") or cap,
    )


@dataclass
class Decision:
    """What routing did (or would do) with one mention."""

    mention_id: str
    rule: str | None
    assignee: str | None
    team: str | None = None
    reason: str = ""


def _choose(
    members: Sequence[str],
    start: int,
    away: Collection[str],
    loads: Mapping[str, int],
    cap: int | None,
    least_loaded: bool,
) -> tuple[str | None, int]:
    """(agent, their load) a team's pick: from turn ``start`` on, the first free member
    (round robin), or the least loaded free one, the first of them on a tie; None when
    everyone is away or at the ``cap``. The load is 0 for a round-robin pick."""
    chosen: str | None = None
    least = 0
    n = len(members)
    for k in range(start, start + n):
        agent = members[k % n]
        load = loads.get(agent, 0)
        if agent not in away and (cap is None or load < cap):
            if not least_loaded:
                return agent, 0
            if chosen is None or load < least:
                chosen, least = agent, load
    return chosen, least


class _Picker:
    """Chooses agents for one routing batch, from loads and turns read under the lock."""

    def __init__(self, store: Store, settings: RoutingSettings) -> None:
        self.store = store
        self.settings = settings
        self.away = store_team.away_agents(store)
        self.loads = store_team.open_loads(store, settings.agents)
        self.turns: dict[str, int] = {}

    def _free(self, agent: str, cap: int | None) -> str | None:
        """Why ``agent`` cannot take one more, else None."""
        if agent in self.away:
            return f"{agent} is away"
        if cap is not None and self.loads.get(agent, 0) >= cap:
            return f"{agent} is at the cap of {cap} open items"
        return None

    def pick(self, rule: Rule) -> tuple[str | None, str]:
        """(agent, why) for a mention this rule matched; agent None when nobody can take it."""
        if rule.agent is not None:
            busy = self._free(rule.agent, rule.cap)
            return (None, busy) if busy else (rule.agent, f"rule names {rule.agent}")
        team = str(rule.team)
        members = self.settings.teams.get(team, ())
        if not members:
            return None, f"team {team} has no agents"
        if team not in self.turns:
            self.turns[team] = store_team.lock_team(self.store, team)
        n = len(members)
        start = self.turns[team] % n
        cap = rule.cap
        least_loaded = rule.strategy == "least_loaded"
        chosen, least = _choose(members, start, self.away, self.loads, cap, least_loaded)
        why = f"least loaded in {team} ({least} open)" if least_loaded else f"round robin in {team}"
        if chosen is None:
            order = [members[k % n] for k in range(start, start + n)]
            return (
                None,
                f"nobody in team {team} is available ({'; '.join(str(self._free(a, cap)) for a in order)})",
            )
        self.turns[team] = members.index(chosen) + 1
        return chosen, why

    def took(self, agent: str) -> None:
        self.loads[agent] = self.loads.get(agent, 0) + 1

    def pick_all(self, rules: Sequence[Rule]) -> list[tuple[str | None, str]]:
        """:meth:`pick` for each rule in turn, with :meth:`took` after each pick that found
        an agent: the same agents, reasons, loads and turns, without a call per mention.

        What a rule needs (members, first index of each, its reasons) is worked out once;
        a pick that finds nobody is left to :meth:`pick` (it changes nothing).
        """
        out: list[tuple[str | None, str]] = []
        append = out.append
        away, loads, turns = self.away, self.loads, self.turns
        prepared: dict[int, tuple[Any, ...]] = {}
        for rule in rules:
            how = prepared.get(id(rule))
            if how is None:
                how = prepared[id(rule)] = self._prepare(rule)
            cap = rule.cap
            if how[0] == 0:  # a named agent
                agent = how[1]
                if agent in away or (cap is not None and loads.get(agent, 0) >= cap):
                    append(self.pick(rule))
                    continue
                append((agent, how[2]))
                loads[agent] = loads.get(agent, 0) + 1
                continue
            if how[0] == 2:  # a team with no agents
                append(self.pick(rule))
                continue
            _, team, members, n, first, why, least_loaded = how
            turn = turns.get(team)
            if turn is None:
                turn = turns[team] = store_team.lock_team(self.store, team)
            start = turn % n
            chosen = members[start]
            if least_loaded or chosen in away or (cap is not None and loads.get(chosen, 0) >= cap):
                # not the usual round-robin turn, whose first member is free (what
                # _choose returns at once, without the call)
                chosen, least = _choose(members, start, away, loads, cap, least_loaded)
                if least_loaded and chosen is not None:
                    why = f"least loaded in {team} ({least} open)"
            if chosen is None:
                append(self.pick(rule))
                continue
            turns[team] = first[chosen] + 1
            loads[chosen] = loads.get(chosen, 0) + 1
            append((chosen, why))
        return out

    def _prepare(self, rule: Rule) -> tuple[Any, ...]:
        """What :meth:`pick_all` reads of a rule: (0, agent, reason) for a named agent,
        (2,) for a team with no agents, else (1, team, members, size, first index of each
        member, the round-robin reason, least loaded?)."""
        if rule.agent is not None:
            return (0, rule.agent, f"rule names {rule.agent}")
        team = str(rule.team)
        members = tuple(self.settings.teams.get(team, ()))
        if not members:
            return (2,)
        first: dict[str, int] = {}
        for k, agent in enumerate(members):
            first.setdefault(agent, k)
        return (1, team, members, len(members), first, f"round robin in {team}",
                rule.strategy == "least_loaded")  # fmt: skip

    def save_turns(self) -> None:
        for team, turn in self.turns.items():
            store_team.set_turn(self.store, team, turn % max(len(self.settings.teams[team]), 1))


@gc_paused
def route_ids(store: Store, settings: RoutingSettings, ids: Sequence[str]) -> list[Decision]:
    """Route the new mentions among ``ids``: call inside the ingest transaction.

    Every assignment, and every match nobody could take, is in the audit log
    with its rule.
    """
    if not settings.rules or not ids:
        return []
    # The lock comes first: what is routable, and every agent's load, are then read
    # after any other poller's routing committed (PostgreSQL reads afresh per statement).
    store_team.lock_team(store, _LOCK)  # serialises routing batches across pollers and hosts
    rows = store_team.routable_mentions(
        store,
        ids,
        customers=any(r.customers for r in settings.rules),
        tags=any(r.tags for r in settings.rules),
    )
    matched = [(row, rule) for row in rows if (rule := settings.first_match(row)) is not None]
    if not matched:
        return []
    picker = _Picker(store, settings)
    out: list[Decision] = []
    for row, rule in matched:
        agent, why = picker.pick(rule)
        if agent is not None:
            picker.took(agent)
        out.append(Decision(str(row["id"]), rule.name, agent, rule.team, why))
    placed = [d for d in out if d.assignee is not None]
    # One statement per table for the whole page. Under the lock nothing else routes, so
    # the primary key's ON CONFLICT DO NOTHING is only a backstop here.
    store_team.record_routes(store, _routes(placed))
    _audit(
        store, settings, [(d.mention_id, str(d.rule), d.assignee, d.team, d.reason) for d in out]
    )
    picker.save_turns()
    return out


def _routes(placed: Sequence[Decision]) -> list[tuple[str, str, str | None, str]]:
    return [(d.mention_id, str(d.rule), d.team, str(d.assignee)) for d in placed]


#: one routing decision as a page's plan keeps it: (mention id, rule, agent, team, why),
#: a :class:`Decision`'s fields in order (a tuple costs a fifth of the dataclass to make)
_Picked = tuple[str, str, str | None, str | None, str]


def _detail_head(
    rule: str | None, assignee: str | None, team: str | None, strategy: str
) -> str | None:
    """A routing audit detail's text up to its reason's value (what every decision of one
    rule, agent and team shares: a least-loaded reason differs per pick), built from the
    string encoder ``json.dumps`` itself uses; None when a value is not exactly a ``str``
    (then only ``json.dumps`` says what its text is)."""
    if not (
        type(strategy) is str
        and (rule is None or type(rule) is str)
        and (assignee is None or type(assignee) is str)
        and (team is None or type(team) is str)
    ):
        return None
    q = _json_str
    if assignee is None:
        return f'{{"rule": {"null" if rule is None else q(rule)}, "reason": '
    return (
        f'{{"rule": {"null" if rule is None else q(rule)}, "to": {q(assignee)}, '
        f'"team": {"null" if team is None else q(team)}, "strategy": {q(strategy)}, '
        f'"reason": '
    )


def _detail_json(
    rule: str | None, assignee: str | None, team: str | None, strategy: str, reason: str
) -> str:
    """A routing audit row's detail: the text ``json.dumps`` gives for it (its head from
    :func:`_detail_head`, a third of ``json.dumps``' cost per detail)."""
    head = _detail_head(rule, assignee, team, strategy) if type(reason) is str else None
    if head is None:  # not what routing writes: json.dumps itself
        return json.dumps(
            {"rule": rule, "to": assignee, "team": team, "strategy": strategy, "reason": reason}
            if assignee is not None
            else {"rule": rule, "reason": reason}
        )  # fmt: skip
    return head + _json_str(reason) + "}"


def _audit(store: Store, settings: RoutingSettings, picked: Sequence[_Picked]) -> None:
    """The audit rows of a page's routing (:data:`_Picked` decisions), one statement:
    each assignment with its rule, and each match nobody could take with why."""
    # decisions with the same rule, agent, team and reason share one detail (serialised
    # once): the key is the decision without its mention id
    texts: dict[tuple[Any, ...], str] = {}
    # a least-loaded reason names the load, so nearly every such decision has a detail of
    # its own: what precedes the reason is made once per rule, agent and team
    heads: dict[tuple[Any, ...], str | None] = {}
    strategies = {r.name: r.strategy for r in reversed(settings.rules)}  # the first of a name
    details: list[str] = []
    actions: list[str] = []
    add_detail, add_action = details.append, actions.append
    for d in picked:
        key = d[1:]
        text = texts.get(key)
        if text is None:
            rule, agent, team, why = key
            strategy = strategies.get(rule or "", "")
            who = key[:3]
            head = (
                heads[who]
                if who in heads
                else heads.setdefault(who, _detail_head(rule, agent, team, strategy))
            )
            text = texts[key] = (
                head + _json_str(why) + "}"
                if head is not None and type(why) is str
                else _detail_json(rule, agent, team, strategy, why)
            )
        add_detail(text)
        add_action("route" if d[2] is not None else "route_unassigned")
    store_team.log_route_columns(
        store, list(map(itemgetter(0), picked)), actions, details, actor=_ACTOR
    )


@dataclass
class _PagePlan:
    """One page's routing, decided in memory before its insert (a ``RoutePlan``)."""

    router: PageRouter
    settled: list[str]
    #: the page's decisions (:data:`_Picked`), in the order route_ids would make them
    picked: list[_Picked]
    picker: _Picker | None
    assigned: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: the page's new mentions as inserted (:func:`_inserted_columns`)
    inserted: InsertedColumns = field(default_factory=lambda: ([], [], [], [], [], []))

    @gc_paused
    def finish(self, store: Store) -> None:
        """The page's ``team_routes`` rows and audit rows, one multi-row INSERT each."""
        store_team.add_routes(
            store, [(m, r, t, a) for m, r, a, t, _ in self.picked if a is not None]
        )
        _audit(store, self.router.settings, self.picked)
        if self.picker is not None:
            self.picker.save_turns()
        self.router.settled.update(self.settled)
        self.router._decided = self.picked
        self.router.pages.append(self.inserted)

    def undo(self, store: Store) -> None:
        """Unassign what the insert assigned; nothing else was written (turns unsaved), so
        :func:`route_ids` on the stored page decides exactly as it would have alone."""
        store_team.unassign(store, list(self.assigned))


class PageRouter:
    """The poll's scorer with routing riding along (``store.ingest.RoutingScorer``).

    It scores as the wrapped scorer does; :meth:`plan_routes` routes the page's
    new mentions from their scored rows in memory, under the routing lock, so the
    insert carries each assignment (no UPDATE per agent) and ``team_routes`` and
    the audit log get one executemany each. ``settled`` is the ids of the current
    page it decided for: the poll hook leaves them out of :func:`route_ids`
    (:meth:`rest`), which still routes the page's re-read mentions.
    """

    def __init__(self, settings: RoutingSettings, scorer: Scorer) -> None:
        self.settings = settings
        self.scorer = scorer
        self.settled: set[str] = set()
        #: what the latest finished page's plan decided (:attr:`decided`)
        self._decided: list[_Picked] = []
        #: each finished page's new mentions as inserted (:meth:`inserted`)
        self.pages: list[InsertedColumns] = []
        #: ids of earlier pages' new mentions that a later page stored again (re-scored)
        self.reread: set[str] = set()
        #: :func:`store_team.commit_version` at the first plan, and at the latest one
        self._first_version: int | None = None
        self._version: int | None = None

    def __call__(self, rows: Sequence[Row], counts: Sequence[int]) -> list[Mapping[str, Any]]:
        """Score as the wrapped scorer."""
        return self.scorer(rows, counts)

    @property
    def decided(self) -> list[Decision]:
        """What the latest finished page's plan decided, as :func:`route_ids` returns it
        (made on request: the poll itself never reads them)."""
        return [Decision(*d) for d in self._decided]

    @gc_paused
    def plan_routes(
        self, store: Store, rows: Sequence[Row], columns: Mapping[str, Mapping[str, Any]]
    ) -> _PagePlan | None:
        """Route the page's new mentions (``rows`` as they will be inserted, ``columns``
        their triage by id): the same choices :func:`route_ids` makes on the stored page.

        ``rows`` are those the caller read as not stored, after this router's previous
        plan (the ingest reads them for each page): unless another connection committed
        since that plan, they are not read again.
        """
        self.settled, self._decided = set(), []
        if not self.settings.rules or not rows:
            return None
        # The lock first, as in route_ids: then whether a mention is new, and every load,
        # are read after any other poller's page committed (its routing included).
        store_team.lock_team(store, _LOCK)
        ids = list(map(str, map(itemgetter("id"), rows)))
        version = store_team.commit_version(store)
        if version is None or version != self._version:
            stored = store.existing_ids(ids)
            new = [(r, i) for r, i in zip(rows, ids, strict=True) if i not in stored]
        else:
            # Nobody else committed since the previous page's plan, and the caller read
            # these rows as not stored after it: they still are not (no read needed).
            new = list(zip(rows, ids, strict=True))
        if self._first_version is None:
            self._first_version = version
        self._version = version
        # new rows: open, unassigned, no agent tags, never routed; the brand's own are not;
        # in (created, id) order (ids are unique in a page: the rows are never compared)
        order = [(float(r["created_ts"]), i, r) for r, i in new if not r["is_own"]]
        order.sort(key=itemgetter(0, 1))
        routable = [(r, columns[i]) for _, i, r in order]
        # customer ids are read only for the rows that reach a rule on customers
        page = _Page(
            routable,
            lambda keys: store_team.customer_ids(store, keys),
            lambda customers: store_team.customer_authors(store, customers),
        )
        firsts = _match_page(self.settings.rules, page)
        # what notify reads of them, taken while the rows are at hand (kept if it finishes)
        plan = _PagePlan(
            self, [i for _, i in new], [], None, inserted=_inserted_columns(new, columns)
        )
        # each matched row by its id (``str(row["id"])``, made once above)
        matched = [
            (i, rule) for (_, i, _), rule in zip(order, firsts, strict=True) if rule is not None
        ]
        if not matched:
            return plan
        plan.picker = picker = _Picker(store, self.settings)
        now = to_iso(utcnow())
        assigned, add = plan.assigned, plan.picked.append
        picks = picker.pick_all([rule for _, rule in matched])
        for (mention_id, rule), (agent, why) in zip(matched, picks, strict=True):
            if agent is not None:
                assigned[mention_id] = (agent, now)
            add((mention_id, rule.name, agent, rule.team, why))
        return plan

    def rest(self, ids: Sequence[str]) -> list[str]:
        """Of a stored page's ids, those its plan did not decide for (then forgotten)."""
        out = [i for i in ids if i not in self.settled]
        self.settled = set()
        self.reread.update(out)
        return out

    def inserted(self, store: Store) -> InsertedColumns | None:
        """The new mentions of the finished pages as their insert wrote them, column by
        column (ids, sources, is_own, created_ts, intents, static scores); None when
        that may no longer be what is stored.

        A page stored again later in the poll re-scored its rows (left out here); a
        page whose plan was undone moved under it (never kept). Anyone else's write
        shows as a change of :func:`store_team.commit_version` since the first plan
        (and where there is no such number, PostgreSQL, this is always None).
        """
        first = self._first_version
        if first is None or store_team.commit_version(store) != first:
            return None
        out: InsertedColumns = ([], [], [], [], [], [])
        for page in self.pages:
            for column, values in zip(out, page, strict=True):
                column += values
        if self.reread.intersection(out[0]):
            keep = [k for k, i in enumerate(out[0]) if i not in self.reread]
            for column in out:
                column[:] = [column[k] for k in keep]
        return out


def _inserted_columns(
    new: Sequence[tuple[Row, str]], columns: Mapping[str, Mapping[str, Any]]
) -> InsertedColumns:
    """A page's new mentions (row, id) as the insert writes them, column by column: ids,
    sources, is_own, created_ts (from the rows), intents and static scores (from their
    triage ``columns``, None where one is missing, as the insert takes them)."""
    ids = list(map(itemgetter(1), new))
    rows = list(map(itemgetter(0), new))
    triage = list(map(columns.__getitem__, ids))
    try:  # the scorer gives every row both
        intents = list(map(itemgetter("intent"), triage))
        scores = list(map(itemgetter("static_score"), triage))
    except KeyError:
        intents = [c.get("intent") for c in triage]
        scores = [c.get("static_score") for c in triage]
    return (
        ids,
        list(map(itemgetter("source"), rows)),
        list(map(itemgetter("is_own"), rows)),
        list(map(itemgetter("created_ts"), rows)),
        intents,
        scores,
    )


@dataclass
class RuleCheck:
    """One rule's verdict on one mention, for ``route --explain``."""

    rule: str
    matched: bool
    checks: list[tuple[bool, str]]


def explain_route(
    store: Store, settings: RoutingSettings, row: Row
) -> tuple[list[RuleCheck], Decision]:
    """Every rule's verdict on a mention and what routing it now would do; writes nothing."""
    checks = [RuleCheck(r.name, r.matches(row), r.checks(row)) for r in settings.rules]
    done = store_team.route_of(store, str(row["id"]))
    rule = settings.first_match(row)
    if done is not None:
        return checks, Decision(str(row["id"]), str(done["rule"]), done["assignee"], done["team"],
                                f"already routed at {done['routed_at']}")  # fmt: skip
    if rule is None:
        return checks, Decision(str(row["id"]), None, None, None, "no rule matches")
    picker = _Picker(store, settings)
    picker.turns = {t: store_team.team_turn(store, t) for t in settings.teams}
    agent, why = picker.pick(rule)
    return checks, Decision(str(row["id"]), rule.name, agent, rule.team, why)
