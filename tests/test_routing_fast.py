"""The poll's page-at-a-time routing against the row-at-a-time reference.

``PageRouter.plan_routes`` matches a page a rule at a time (``_match_page``: cheap
fields first, keyword literals found in the page's joined text, customer ids read
only for the rows that reach a customers rule) and picks agents with a loop that
builds no lists. These properties check both against the plain definitions:
``Rule.matches`` row by row on the merged row, and the picker as it was written
before (kept here as the reference).
"""

from __future__ import annotations

import json
import re
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcare.team import routing
from socialcare.team.routing import RoutingSettings, Rule

pytestmark = pytest.mark.store_free

AGENTS = ["ann", "bo", "cy", "di"]
TEAMS = {"one": ["ann", "bo", "cy"], "two": ["di", "bo"], "solo": ["cy"]}
WORDS = [
    "refund", "Refunds", "REFUND", "refunded", "prefund", "charged twice", "charged  twice",
    "down", "Down!", "outage", "no signal", "INV-12", "inv-7", "café", "CAFÉ", "Kelvin",
    "ſtop", "stop", "hello", "thanks", "\x00", "\n", "ß", "straße", "_down", "down_", "ACC-3",
    "account", "\u212aelvin", "İNV-5", "ınv-6", "charged twıce", "ſtop", "outage😀", "DOWN😀",
    "REFUNDİ", "reﬁund",
]  # fmt: skip
KEYWORDS = [
    "refund*", "charged twice", "down", "outage", "café", "stop*", "kelvin", "straße", "*", "inv",
]  # fmt: skip
PATTERNS = [
    r"\bINV-\d+",
    r"^hello",
    r"(?<![\w])down$",
    r"stop|thanks",
    r"\s\s",
    r"\b(?:INV|ACC)-\d+",
]

texts = st.lists(st.sampled_from(WORDS), max_size=6).map(" ".join) | st.text(max_size=30)
tag_values = st.none() | st.lists(st.sampled_from(["vip", "press", "legal"]), max_size=2).map(
    json.dumps
)
signals = st.none() | st.sampled_from(
    [
        "",
        "{}",
        "not json",
        json.dumps({"tags": ["press"]}),
        json.dumps([2, 0, "en", "text", ["legal", "vip"]]),
        json.dumps([2, 0, "en", "text", []]),
    ]
)
rows = st.fixed_dictionaries(
    {
        "id": st.text(min_size=1, max_size=4),
        "source": st.sampled_from(["demo", "twitter", "reddit"]),
        "kind": st.sampled_from([None, "", "post", "dm", "review", "reply", "repost"]),
        "intent": st.sampled_from([None, "complaint", "question", "praise"]),
        "language": st.sampled_from([None, "en", "fr", "es"]),
        "tags": tag_values,
        "signals": signals,
        "text": st.none() | texts,
        "static_score": st.none()
        | st.floats(min_value=-5, max_value=15, allow_nan=False)
        | st.just(0),
        "author_key": st.sampled_from([None, "", "demo:u1", "demo:u2", "twitter:u3"]),
        "customer_id": st.sampled_from([None, 1, 2, 42]),
    }
)


def _subset(values: list[Any], max_size: int = 2) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.sampled_from(values), min_size=1, max_size=max_size, unique=True)


rule_tables = st.fixed_dictionaries(
    {},
    optional={
        "sources": _subset(["demo", "twitter", "reddit"]),
        "kinds": _subset(["mention", "dm", "review"]),
        "intents": _subset(["complaint", "question", "praise"]),
        "languages": _subset(["en", "fr", "es"]),
        "tags": _subset(["vip", "press", "legal"]),
        "keywords": _subset(KEYWORDS, 3),
        "pattern": st.sampled_from(PATTERNS),
        "min_score": st.sampled_from([0, 2.5, 8.0]),
        "customers": _subset(["demo:u1", "twitter:u3", 42, 2, "customer:None"]),
        "strategy": st.sampled_from(["round_robin", "least_loaded"]),
    },
)
routing_tables = st.lists(
    st.tuples(rule_tables, st.sampled_from(["agent", "team"]), st.integers(0, 3)),
    min_size=1,
    max_size=6,
).map(
    lambda entries: {
        "teams": TEAMS,
        "rules": [
            {
                "name": f"r{n}",
                **table,
                **({"agent": AGENTS[k]} if to == "agent" else {"team": list(TEAMS)[k % 3]}),
            }
            for n, (table, to, k) in enumerate(entries)
        ],
    }
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(routing_tables, st.lists(rows, max_size=25))
def test_page_matching_agrees_with_rule_matches_row_by_row(
    table: dict[str, Any], page: list[dict[str, Any]]
) -> None:
    rs = RoutingSettings.from_config(table)
    assert rs.first_matches(page) == [rs.first_match(r) for r in page]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(routing_tables, st.lists(rows, max_size=25))
def test_page_matching_of_row_and_columns_pairs_reads_customers_lazily(
    table: dict[str, Any], page: list[dict[str, Any]]
) -> None:
    """The poll's form: (built row, triage columns) pairs, the columns overriding the row,
    customer ids looked up by author key, only for rows a customers rule looks at."""
    rs = RoutingSettings.from_config(table)
    triage = ("intent", "static_score", "signals")
    pairs = [
        (
            {k: v for k, v in r.items() if k != "customer_id"} | {"intent": "stale"},
            {k: r[k] for k in triage},
        )
        for r in page
    ]
    customers = {str(r["author_key"]): r["customer_id"] for r in page if r["author_key"]}
    asked: list[list[str]] = []

    def lookup(keys: list[str]) -> dict[str, Any]:
        asked.append(keys)
        assert keys == sorted(set(keys)) and all(keys)
        return {k: customers[k] for k in keys if customers[k] is not None}

    # what plan_routes did before: every row merged, with the customer id of its author
    merged = [
        {**r, **c, "customer_id": customers.get(str(r["author_key"])) if r["author_key"] else None}
        for r, c in pairs
    ]
    got = routing._match_page(rs.rules, routing._Page(pairs, lookup))
    assert got == [rs.first_match(r) for r in merged]
    if not any(rule.customers for rule in rs.rules):
        assert asked == []
    flat = [k for keys in asked for k in keys]
    assert len(flat) == len(set(flat))  # each author key read once


ROW_FIELDS = ["source", "kind", "language", "text", "author_key", "intent", "static_score"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    routing_tables,
    st.lists(
        # every row has a source (Rule.matches reads row['source']); the columns give
        # another row's values, so an override read from the row would show
        st.tuples(
            rows,
            rows,
            st.sets(st.sampled_from(ROW_FIELDS[1:])),
            st.sets(st.sampled_from(ROW_FIELDS)),
        ),
        max_size=12,
    ),
    st.booleans(),
)
def test_fields_read_ahead_agree_when_rows_lack_them_or_columns_give_them(
    table: dict[str, Any],
    page: list[tuple[dict[str, Any], dict[str, Any], set[str], set[str]]],
    complete: bool,
) -> None:
    """``_Page.read`` reads the rows' fields in one visit per row: a row without one of
    them, or triage columns that give one (they override the row), must leave every
    row's value what the merged row has, as :meth:`_Page.column` reads it. ``complete``:
    no row lacks a field (the read ahead is taken, the columns' fields left out of it)."""
    rs = RoutingSettings.from_config(table)
    pairs = [
        (
            {k: v for k, v in r.items() if complete or k not in dropped},
            {k: other[k] for k in given} | {"signals": r["signals"]},
        )
        for r, other, dropped, given in page
    ]
    merged = [{**r, **c} for r, c in pairs]
    got = routing._match_page(rs.rules, routing._Page(pairs))
    assert got == [rs.first_match(m) for m in merged]


def test_a_page_of_poll_rows_reads_their_fields_in_one_visit() -> None:
    """The usual page (every row has the fields, the columns have none of them) is read
    ahead: the rules' row fields are all there before the first rule looks."""
    rs = RoutingSettings.from_config(
        {
            "teams": TEAMS,
            "rules": [
                {
                    "name": "a",
                    "languages": ["fr"],
                    "keywords": ["down"],
                    "kinds": ["dm"],
                    "agent": "ann",
                }
            ],
        }  # fmt: skip
    )
    row = {"source": "demo", "kind": "dm", "language": "fr", "text": "down", "author_key": None}
    page = routing._Page([(dict(row, id=str(i)), {"intent": None}) for i in range(3)])
    page.read(routing._fields(rs.rules))
    assert set(page._columns) == {"kind", "language", "text"}
    assert page._columns["text"] == ["down"] * 3
    assert routing._match_page(rs.rules, page) == [rs.rules[0]] * 3


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(routing_tables, st.lists(rows, max_size=25))
def test_customers_rules_read_from_the_customers_side_agree(
    table: dict[str, Any], page: list[dict[str, Any]]
) -> None:
    """With ``customer_authors`` (the poll's form) a customers rule is answered from the
    authors of the customers it names: the same first rules as looking up every row's
    author, and the per-author lookup is asked only for ``customer:None``."""
    rs = RoutingSettings.from_config(table)
    pairs = [({k: v for k, v in r.items() if k != "customer_id"}, {}) for r in page]
    customers = {str(r["author_key"]): r["customer_id"] for r in page if r["author_key"]}
    asked: list[list[str]] = []

    def lookup(keys: list[str]) -> dict[str, Any]:
        asked.append(keys)
        return {k: customers[k] for k in keys if customers[k] is not None}

    def authors_of(numbers: list[int]) -> dict[str, Any]:
        assert numbers == sorted(set(numbers))
        return {k: c for k, c in customers.items() if c in numbers}

    merged = [
        {**r, "customer_id": customers.get(str(r["author_key"])) if r["author_key"] else None}
        for r, _ in pairs
    ]
    got = routing._match_page(rs.rules, routing._Page(pairs, lookup, authors_of))
    assert got == [rs.first_match(r) for r in merged]
    if not any("customer:None" in rule.customers for rule in rs.rules):
        assert asked == []


def test_the_page_matcher_knows_every_letter_a_case_blind_regex_folds_to_ascii() -> None:
    """``_FOLDS_TO_ASCII`` lists every character beyond ASCII that matches an ASCII
    letter case-blind (whatever this Python's Unicode tables), mapped to that letter,
    and every one whose lower case is not one character."""
    import string
    import sys

    letters = re.compile("[a-z]", re.IGNORECASE)
    folds: dict[int, str] = {}
    for cp in range(0x80, sys.maxunicode + 1):
        c = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        if letters.fullmatch(c):
            (to,) = [a for a in string.ascii_lowercase if re.fullmatch(a, c, re.IGNORECASE)]
            folds[cp] = to
        if len(c.lower()) != 1:
            assert cp in routing._FOLDS_TO_ASCII, hex(cp)
    assert folds == routing._FOLDS_TO_ASCII


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("please ſtop charging me", {"keywords": ["stop*"]}),
        ("\u212aelvin here", {"keywords": ["kelvin"]}),
        ("İnvoice İNV-5 is wrong", {"pattern": r"\bINV-\d+"}),
        ("ınv-6 again 😀", {"pattern": r"\b(?:INV|ACC)-\d+"}),
        ("charged twıce 😀", {"keywords": ["charged twice"]}),
        ("OUTAGE 😀 since noon", {"keywords": ["outage", "down"]}),
    ],
)
def test_texts_beyond_ascii_that_a_keyword_matches_case_blind_are_matched(
    text: str, rule: dict[str, Any]
) -> None:
    """The page's substring test lets through every text the regex matches, including
    letters that fold to ASCII ones (long s, Kelvin sign, dotted and dotless i)."""
    rs = RoutingSettings.from_config(
        {"teams": TEAMS, "rules": [{"name": "r", "team": "one", **rule}]}
    )
    rows = [
        {"id": "1", "source": "demo", "text": text},
        {"id": "2", "source": "demo", "text": "hi"},
    ]
    assert rs.first_match(rows[0]) is not None
    assert rs.first_matches(rows) == [rs.first_match(r) for r in rows]


class _ReferencePicker(routing._Picker):
    """The picker as it was before the loop: orders and free lists built per pick."""

    def pick(self, rule: Rule) -> tuple[str | None, str]:
        if rule.agent is not None:
            busy = self._free(rule.agent, rule.cap)
            return (None, busy) if busy else (rule.agent, f"rule names {rule.agent}")
        team = str(rule.team)
        members = list(self.settings.teams.get(team, ()))
        if not members:
            return None, f"team {team} has no agents"
        if team not in self.turns:
            self.turns[team] = 0
        start = self.turns[team] % len(members)
        order = members[start:] + members[:start]
        if rule.strategy != "least_loaded":
            first = next((a for a in order if self._free(a, rule.cap) is None), None)
            free = [] if first is None else [first]
        else:
            free = [a for a in order if self._free(a, rule.cap) is None]
        if not free:
            reasons = "; ".join(str(self._free(a, rule.cap)) for a in order)
            return None, f"nobody in team {team} is available ({reasons})"
        if rule.strategy == "least_loaded":
            chosen = min(free, key=lambda a: self.loads.get(a, 0))
            why = f"least loaded in {team} ({self.loads.get(chosen, 0)} open)"
        else:
            chosen = free[0]
            why = f"round robin in {team}"
        self.turns[team] = members.index(chosen) + 1
        return chosen, why


def _picker(cls: type[routing._Picker], rs: RoutingSettings, state: Any) -> routing._Picker:
    away, loads, turns = state
    picker = cls.__new__(cls)
    picker.store = None  # type: ignore[assignment]
    picker.settings = rs
    picker.away = set(away)
    picker.loads = dict(loads)
    picker.turns = dict(turns)
    return picker


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["round_robin", "least_loaded"]),
            st.sampled_from([None, 1, 2, 3]),
            st.sampled_from(["one", "two", "solo", "dup", "ann", "cy"]),
        ),
        min_size=1,
        max_size=5,
    ),
    st.sets(st.sampled_from(AGENTS)),
    st.dictionaries(st.sampled_from(AGENTS), st.integers(0, 3)),
    st.dictionaries(st.sampled_from(["one", "two", "solo", "dup"]), st.integers(0, 7)),
    st.lists(st.integers(0, 4), min_size=1, max_size=30),
)
def test_picks_agree_with_the_reference_picker(
    specs: list[tuple[str, int | None, str]],
    away: set[str],
    loads: dict[str, int],
    turns: dict[str, int],
    sequence: list[int],
) -> None:
    """The same agent and reason for every pick of a batch, loads and turns moving."""
    rules = [
        {"name": f"r{n}", "strategy": strategy, **({"cap": cap} if cap else {}),
         **({"agent": to} if to in AGENTS else {"team": to})}
        for n, (strategy, cap, to) in enumerate(specs)
    ]  # fmt: skip
    rs = RoutingSettings.from_config(
        {"teams": {**TEAMS, "dup": ["bo", "ann", "bo"]}, "rules": rules}
    )
    # every team's turn is known up front: no store is read
    state = (away, loads, {t: turns.get(t, 0) for t in rs.teams})
    fast, slow = _picker(routing._Picker, rs, state), _picker(_ReferencePicker, rs, state)
    for k in sequence:
        rule = rs.rules[k % len(rs.rules)]
        got, want = fast.pick(rule), slow.pick(rule)
        assert got == want, rule
        if got[0] is not None:
            fast.took(got[0])
            slow.took(got[0])
    assert fast.turns == slow.turns and fast.loads == slow.loads
    # the batch form the poll uses: every pick of the sequence at once
    batch, one = _picker(routing._Picker, rs, state), _picker(_ReferencePicker, rs, state)
    seq = [rs.rules[k % len(rs.rules)] for k in sequence]
    want_all = []
    for rule in seq:
        want_all.append(one.pick(rule))
        if want_all[-1][0] is not None:
            one.took(str(want_all[-1][0]))
    assert batch.pick_all(seq) == want_all
    assert batch.turns == one.turns and batch.loads == one.loads


@settings(max_examples=300, deadline=None)
@given(
    st.none() | st.text(),
    st.none() | st.text(),
    st.none() | st.text(),
    st.sampled_from(["round_robin", "least_loaded", ""]) | st.text(),
    st.text(),
)
def test_audit_details_are_what_json_dumps_gives(
    rule: str | None, to: str | None, team: str | None, strategy: str, reason: str
) -> None:
    want = json.dumps(
        {"rule": rule, "to": to, "team": team, "strategy": strategy, "reason": reason}
        if to is not None
        else {"rule": rule, "reason": reason}
    )
    assert routing._detail_json(rule, to, team, strategy, reason) == want


picked = st.tuples(
    st.sampled_from(["r0", "r1", "gone"]) | st.text(max_size=3),
    st.none() | st.sampled_from(["ann", "bo"]) | st.text(max_size=3),
    st.none() | st.sampled_from(["one", "two"]) | st.text(max_size=3),
    st.sampled_from(["round robin in one", "rule names ann"])
    | st.integers(0, 3).map(lambda n: f"least loaded in one ({n} open)")
    | st.text(max_size=5),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(picked, max_size=30))
def test_audit_rows_are_what_json_dumps_gives_for_each_decision(
    decisions: list[tuple[str, str | None, str | None, str]],
) -> None:
    """A page's audit rows (details shared per decision, heads per rule, agent and team)
    carry exactly ``json.dumps`` of each decision's detail, in the decisions' order."""
    rs = RoutingSettings.from_config(
        {"teams": TEAMS, "rules": [
            {"name": "r0", "team": "one", "strategy": "least_loaded"},
            {"name": "r1", "agent": "ann"},
        ]}
    )  # fmt: skip
    strategies = {"r0": "least_loaded", "r1": "round_robin"}
    rows = [(f"demo:{k}", *d) for k, d in enumerate(decisions)]
    written: list[tuple[Any, ...]] = []

    def log(store: Any, ids: Any, actions: Any, details: Any, *, actor: str) -> None:
        written.extend(zip(ids, actions, details, strict=True))

    with mock.patch.object(routing.store_team, "log_route_columns", log):
        routing._audit(None, rs, rows)  # type: ignore[arg-type]
    want = [
        (m, "route" if to is not None else "route_unassigned", json.dumps(
            {"rule": rule, "to": to, "team": team, "strategy": strategies.get(rule, ""),
             "reason": why} if to is not None else {"rule": rule, "reason": why}))
        for m, rule, to, team, why in rows
    ]  # fmt: skip
    assert written == want


def test_keyword_literals_found_in_the_joined_page_agree_with_the_regex() -> None:
    """One page of many texts: a literal in several rows (each found), texts that are not
    ASCII (always left to the regex), a keyword that is not ASCII, an empty text."""
    rs = RoutingSettings.from_config(
        {
            "teams": {"t": ["a"]},
            "rules": [
                {"name": "ascii", "keywords": ["refund*", "Charged Twice", "down"], "agent": "a"},
                {"name": "accent", "keywords": ["café"], "agent": "a"},
                {"name": "long-s", "keywords": ["stop*"], "agent": "a"},
            ],
        }
    )
    texts = [
        "REFUNDS please", "I want a Refund.", "prefund", "refund", "charged  twice",
        "CHARGED TWICE!", "was charged twice", "Refünd", "refunds ſ", "nothing here", "",
        "the CAFÉ is shut", "cafe", "unrefunded", "refund_it", "down down", "sundown",
        "ſtop it", "STOP", "naïve refund", "déjà down", "x\x00refund", "refund\x00",
        "café refund", "ǅ stop", "no, downtown", "down",
    ]  # fmt: skip
    page = [{"id": str(n), "source": "demo", "text": t} for n, t in enumerate(texts)]
    got = [r.name if r else None for r in rs.first_matches(page)]
    assert got == [r.name if r else None for r in map(rs.first_match, page)]
    assert got.count("ascii") >= 10 and "long-s" in got and "accent" in got


REGEXES = [
    r"\b(?:INV|ACC)-\d+", r"^hello", r"(?<![\w])down$", r"stop|thanks", r"\s\s", r"(?:INV|IND)-",
    r"a(?:b|)c", r"(abc)+x", r"(?-i:ABC)d", r"café", r"caf[eé]", r"x\x00y", r"a{2}", r"a{0,2}bc",
    r"(?>refund)s?", r"[ab]", r"(?:re)?fund", r"k", r"st", r"(?i)STOP", r"(a|b)(c|d)", r"(x)\1",
    r"(?=down)\w+", r"(?!no)signal", r"ref+und", r"(?:charged|billed) twice", r"in(?:v|d)-7",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(REGEXES), texts | st.sampled_from(WORDS))
def test_pattern_literals_are_in_every_text_the_pattern_matches(regex: str, text: str) -> None:
    """Every ASCII text the pattern matches contains one of its literals (lower-cased):
    so the page matcher may leave the other ASCII texts out of the regex."""
    pattern = routing.re.compile(regex, routing.re.IGNORECASE)
    needles = routing._pattern_needles(pattern)
    if needles is not None and text.isascii() and pattern.search(text):
        assert any(n in text.lower() for n in needles), (regex, text, needles)


def test_pattern_literals_of_common_patterns() -> None:
    """What the parse tree gives (None: no literal every match needs)."""

    def of(regex: str) -> tuple[str, ...] | None:
        return routing._pattern_needles(routing.re.compile(regex, routing.re.IGNORECASE))

    assert of(r"\b(?:INV|ACC)-\d+") == ("acc", "inv")
    assert of(r"^Hello") == ("hello",) and of(r"(?:charged|billed) twice") == ("billed", "charged")
    assert of(r"\s\s") is None and of(r"[ab]") is None and of(r"a(?:b|)c") == ("a",)
    assert of(r"(?:re)?fund") == ("fund",) and of(r"a{0,2}bc") == ("bc",)
    rs = RoutingSettings.from_config(
        {"teams": {"t": ["a"]}, "rules": [{"name": "inv", "pattern": r"INV-\d", "agent": "a"}]}
    )
    assert rs.rules[0].pattern_needles == ("inv-",)
    page = [{"id": str(n), "source": "demo", "text": t} for n, t in
            enumerate(["INV-1", "an inv-2", "invoice", "ÍNV-3", "İNV-4", "x\x00inv-5", ""])]  # fmt: skip
    assert rs.first_matches(page) == [rs.first_match(r) for r in page]


def test_gc_pause_restores_the_collector_and_passes_results_and_errors() -> None:
    """The batch steps' collector pause leaves gc as it found it, on success and on error."""
    import gc

    from socialcare.team._gc import gc_paused

    @gc_paused
    def step(fail: bool) -> bool:
        if fail:
            raise ValueError("boom")
        return gc.isenabled()

    was = gc.isenabled()
    try:
        gc.enable()
        assert step(False) is False and gc.isenabled()
        with pytest.raises(ValueError):
            step(True)
        assert gc.isenabled()
        gc.disable()
        assert step(False) is False and not gc.isenabled()
    finally:
        gc.enable() if was else gc.disable()
