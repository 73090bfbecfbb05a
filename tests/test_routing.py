"""Routing rules: matching, round robin and least loaded, caps, away agents, the audit log,
``route --explain``, config errors, and two pollers routing at once (on both backends)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from socialcare.app import Socialcare
from socialcare.cli import app
from socialcare.config import KNOWN_KEYS, load_config
from socialcare.errors import ConfigError
from socialcare.models import Mention
from socialcare.scoring import care_settings, page_scorer
from socialcare.store import Store, open_store
from socialcare.store.ingest import ingest_mentions
from socialcare.team.routing import (
    ROUTING_KEYS,
    RULE_KEYS,
    PageRouter,
    RoutingSettings,
    route_ids,
)
from tests.pg_server import truncate_tables

runner = CliRunner()
NOW = datetime.now(timezone.utc)


def mention(
    native: str, text: str = "my bill is wrong", author: str | None = None, **kw: Any
) -> Mention:
    return Mention(
        source=kw.pop("source", "demo"),
        native_id=native,
        text=text,
        author_id=author or f"u{native}",
        author_handle=f"h{native}",
        created_at=NOW - timedelta(minutes=5),
        **kw,
    )


def settings(**routing: Any) -> RoutingSettings:
    table: dict[str, Any] = {"teams": {"care": ["alice", "bob", "carol"]}, **routing}
    table.setdefault("rules", [{"name": "all", "team": "care"}])
    return RoutingSettings.from_config(table)


def ingest(
    store: Store, rs: RoutingSettings, mentions: list[Mention], inline: bool = False
) -> list[Any]:
    """What a poll page does: store, then route in the same transaction.

    ``inline``: as ``poll`` does it, the page's new mentions routed in memory and inserted
    assigned (PageRouter), the rest by ``route_ids``; else the page is stored scored and
    then routed by ``route_ids`` alone (the reference the inline path must equal).
    """
    scorer = page_scorer(care_settings({}, ()))
    router = PageRouter(rs, scorer) if inline else None
    with store.transaction():
        outcome = ingest_mentions(store, mentions, scorer=router or scorer)
        ids = outcome.stored_ids
        decided = router.decided if router is not None else []
        return decided + route_ids(store, rs, router.rest(ids) if router is not None else ids)


def assignees(store: Store) -> dict[str, str | None]:
    return {r["id"]: r["assignee"] for r in store.rows("SELECT id, assignee FROM mentions")}


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "after"])
def test_round_robin_is_fair_and_persists_across_batches(store: Store, inline: bool) -> None:
    rs = settings()
    ingest(store, rs, [mention(str(i)) for i in range(4)], inline)
    ingest(store, rs, [mention(str(i)) for i in range(4, 9)], inline)
    got = assignees(store)
    order = [got[f"demo:{i}"] for i in range(9)]
    assert order == ["alice", "bob", "carol"] * 3


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "after"])
def test_least_loaded_picks_the_agent_with_fewest_open_items(store: Store, inline: bool) -> None:
    store.upsert_mentions([mention("90"), mention("91")])
    store.set_assignee("demo:90", "alice")
    store.set_assignee("demo:91", "bob")
    rs = settings(strategy="least_loaded")
    ingest(store, rs, [mention("1"), mention("2"), mention("3")], inline)
    got = assignees(store)
    assert got["demo:1"] == "carol"  # 0 open
    assert sorted([got["demo:2"], got["demo:3"]]) == ["alice", "bob"]


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "after"])
def test_away_agents_and_capped_agents_are_skipped(store: Store, inline: bool) -> None:
    from socialcare.store import team as store_team

    store_team.set_away(store, "bob", True, "lead")
    rs = settings(cap=2)
    decisions = ingest(store, rs, [mention(str(i)) for i in range(6)], inline)
    got = assignees(store)
    assert "bob" not in got.values()
    loads = {a: list(got.values()).count(a) for a in ("alice", "carol")}
    assert loads == {"alice": 2, "carol": 2}  # the cap
    unassigned = [d for d in decisions if d.assignee is None]
    assert len(unassigned) == 2 and "cap" in unassigned[0].reason
    # nobody could take them: logged, left unassigned, and routable later
    events = store.events(action="route_unassigned")
    assert len(events) == 2 and json.loads(events[0]["detail"])["rule"] == "all"
    store_team.set_away(store, "bob", False, "lead")
    assert route_ids(store, rs, ["demo:4", "demo:5"])[0].assignee == "bob"


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "after"])
def test_every_assignment_is_audited_with_its_rule(store: Store, inline: bool) -> None:
    rs = RoutingSettings.from_config(
        {
            "teams": {"billing": ["alice"], "social": ["bob"]},
            "rules": [
                {"name": "refunds", "keywords": ["refund*"], "team": "billing"},
                {"name": "rest", "team": "social"},
            ],
        }
    )
    ingest(store, rs, [mention("1", "I want my refunds now"), mention("2", "hello there")], inline)
    got = assignees(store)
    assert got == {"demo:1": "alice", "demo:2": "bob"}
    events = {e["mention_id"]: json.loads(e["detail"]) for e in store.events(action="route")}
    assert events["demo:1"]["rule"] == "refunds" and events["demo:1"]["to"] == "alice"
    assert events["demo:2"]["rule"] == "rest"


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "after"])
def test_match_fields(store: Store, inline: bool) -> None:
    rules = [
        {"name": "fr", "languages": ["fr"], "agent": "alice"},
        {"name": "vip", "customers": ["demo:vip1"], "agent": "bob"},
        {"name": "dm", "kinds": ["dm"], "agent": "carol"},
        {"name": "inv", "pattern": r"\bINV-\d+", "agent": "alice"},
        {"name": "src", "sources": ["other"], "agent": "bob"},
    ]
    rs = settings(rules=rules)
    ingest(
        store,
        rs,
        [
            mention("1", "bonjour", language="fr"),
            mention("2", "hi", author="vip1"),
            mention("3", "private", kind="dm"),
            mention("4", "about INV-123"),
            mention("5", "nothing matches"),
        ],
        inline,
    )
    got = assignees(store)
    assert got == {
        "demo:1": "alice",
        "demo:2": "bob",
        "demo:3": "carol",
        "demo:4": "alice",
        "demo:5": None,
    }


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "after"])
def test_a_claimed_or_routed_mention_is_never_routed_again(store: Store, inline: bool) -> None:
    rs = settings()
    store.upsert_mentions([mention("1")])
    store.claim("demo:1", "dan")
    ingest(store, rs, [mention("1"), mention("2")], inline)
    assert assignees(store)["demo:1"] == "dan"
    ingest(store, rs, [mention("2")], inline)  # re-polled
    assert len(store.events(action="route")) == 1


def _routing_record(store: Store) -> tuple[Any, ...]:
    """Everything routing wrote: assignments, routes, audit rows (times left out), turns."""
    return (
        assignees(store),
        sorted(
            (r["mention_id"], r["rule"], r["team"], r["assignee"])
            for r in store.rows("SELECT * FROM team_routes")
        ),
        sorted(
            (e["mention_id"], e["action"], e["agent"], e["detail"])
            for e in store.events()
            if str(e["action"]).startswith("route")
        ),
        store.rows("SELECT team, turn FROM team_turns ORDER BY team"),
    )


def test_inline_routing_writes_what_routing_after_the_insert_writes(pg_url: str | None) -> None:
    """The poll's in-memory routing (assignment in the insert) against ``route_ids`` on the
    stored page: the same assignees, routes, audit rows and turns, page after page, with
    every kind of rule, a strategy each, a cap, an away agent, a customer, re-read and
    claimed mentions, and the brand's own posts."""
    from socialcare.store import team as store_team

    rs = RoutingSettings.from_config(
        {
            "teams": {"billing": ["alice", "bob"], "care": ["carol", "dan", "erin"]},
            "cap": 6,
            "rules": [
                {"name": "refunds", "keywords": ["refund*"], "team": "billing"},
                {"name": "inv", "pattern": r"\bINV-\d+", "agent": "alice"},
                {"name": "vip", "customers": [7], "agent": "bob"},
                {"name": "fr", "languages": ["fr"], "agent": "erin"},
                {"name": "dm", "kinds": ["dm"], "team": "care", "strategy": "least_loaded"},
                {"name": "hot", "min_score": 5.0, "team": "care"},
                {"name": "complaints", "intents": ["complaint"], "team": "care"},
                {"name": "rest", "sources": ["demo"], "team": "care", "cap": 4},
            ],
        }
    )
    texts = [
        "I want a refund now", "where is INV-42?", "bonjour, ça ne marche pas",
        "this is the worst service ever, cancel my account", "thanks, all good",
        "my bill is wrong again", "URGENT outage everything is down!!",
    ]  # fmt: skip
    pages = [
        [
            mention(
                str(p * 10 + i),
                texts[(p + i) % len(texts)],
                author="vip" if i == 3 else None,
                kind="dm" if i % 4 == 1 else "post",
                language="fr" if "bonjour" in texts[(p + i) % len(texts)] else "en",
            )
            for i in range(7)
        ]
        + ([mention("1")] if p else [])  # re-read: already stored
        for p in range(5)
    ]
    records = []
    for inline in (True, False):
        store = open_store(pg_url if pg_url is not None else ":memory:")
        try:
            store.upsert_mentions([mention("1"), mention("vip-seed", author="vip")])
            store.conn.execute("UPDATE authors SET customer_id = 7 WHERE id = 'demo:uvip'")
            store.claim("demo:1", "dan")
            store_team.set_away(store, "carol", True, "lead")
            for n, page in enumerate(pages):
                if n == 3:
                    store_team.set_away(store, "carol", False, "lead")
                ingest(store, rs, page, inline)
            records.append(_routing_record(store))
        finally:
            store.close()
        if pg_url is not None:  # the second run starts from an empty database too
            truncate_tables(pg_url)
    inline_record, after_record = records
    assert inline_record == after_record
    assigned = [a for a in inline_record[0].values() if a]
    assert len(assigned) > 20 and "bob" in assigned and "erin" in assigned


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "after"])
def test_a_mention_answered_on_arrival_is_not_routed(store: Store, inline: bool) -> None:
    """The brand's reply in the same page answers the mention: the inline plan is taken
    back (the page moved under it) and the mention stays unassigned, unrouted, unaudited."""
    rs = settings()
    reply = mention("9", "sorry, DM us", author="brand", parent_id="1")
    scorer = page_scorer(care_settings({}, ()))
    router = PageRouter(rs, scorer) if inline else None
    with store.transaction():
        outcome = ingest_mentions(
            store, [mention("1"), mention("2"), reply], own_ids=frozenset({reply.id}),
            scorer=router or scorer,
        )  # fmt: skip
        ids = router.rest(outcome.stored_ids) if router is not None else outcome.stored_ids
        route_ids(store, rs, ids)
    got = assignees(store)
    assert got["demo:1"] is None and got["demo:9"] is None and got["demo:2"] == "alice"
    assert [e["mention_id"] for e in store.events(action="route")] == ["demo:2"]
    assert [r["mention_id"] for r in store.rows("SELECT * FROM team_routes")] == ["demo:2"]


def ingest_after_another_poller(
    store: Store, other: Store, rs: RoutingSettings, router: PageRouter,
    page: list[Mention], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Ingest ``page`` through ``router`` while the other poller commits the same page
    after this one read what is stored and before its transaction: nothing is decided."""
    begin = store.transaction

    def other_poller_first() -> Any:
        monkeypatch.setattr(store, "transaction", begin)
        ingest(other, rs, page, True)
        return begin()

    monkeypatch.setattr(store, "transaction", other_poller_first)
    stored = ingest_mentions(store, page, scorer=router).stored_ids
    assert router.decided == [] and route_ids(store, rs, router.rest(stored)) == []


def test_a_page_another_poller_stored_first_is_routed_once(
    file_store: Store, tmp_path: Path, pg_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other poller commits the same page after this one read what is stored and
    before its transaction: under the routing lock the plan sees the page stored, so
    nothing is assigned, routed or audited twice."""
    other = open_store(pg_url if pg_url is not None else tmp_path / "store.db")
    rs = settings()
    page = [mention(str(i)) for i in range(4)]
    router = PageRouter(rs, page_scorer(care_settings({}, ())))
    try:
        ingest_after_another_poller(file_store, other, rs, router, page, monkeypatch)
    finally:
        other.close()
    assert assignees(file_store) == {
        f"demo:{i}": a for i, a in enumerate(["alice", "bob", "carol", "alice"])
    }
    assert len(store_events := file_store.events(action="route")) == 4, store_events
    assert len(file_store.rows("SELECT * FROM team_routes")) == 4


def test_a_later_page_another_poller_stored_first_is_routed_once(
    file_store: Store, tmp_path: Path, pg_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above, on the router's second page: the plan skips its read of what is stored
    only while nobody else committed since the previous page's plan (SQLite's
    data_version), so the other poller's commit in between is seen under the lock."""
    other = open_store(pg_url if pg_url is not None else tmp_path / "store.db")
    rs = settings()
    router = PageRouter(rs, page_scorer(care_settings({}, ())))
    first = [mention(str(i)) for i in range(10, 13)]
    with file_store.transaction():
        stored = ingest_mentions(file_store, first, scorer=router).stored_ids
        route_ids(file_store, rs, router.rest(stored))
    assert len(router.decided) == 3
    page = [mention(str(i)) for i in range(4)]
    try:
        ingest_after_another_poller(file_store, other, rs, router, page, monkeypatch)
        # what the first page inserted may have been changed meanwhile: not vouched for
        assert router.inserted(file_store) is None
    finally:
        other.close()
    assert len(file_store.events(action="route")) == 7
    assert len(file_store.rows("SELECT * FROM team_routes")) == 7


def test_the_router_keeps_the_rows_it_inserted_until_they_move(file_store: Store) -> None:
    """``inserted`` is each finished page's new rows as stored, minus those a later page
    stored again (re-scored); on PostgreSQL (no data_version) it vouches for nothing."""
    rs = settings()
    router = PageRouter(rs, page_scorer(care_settings({}, ())))
    for page in ([mention("1"), mention("2")], [mention("2"), mention("3")]):
        with file_store.transaction():
            stored = ingest_mentions(file_store, page, scorer=router).stored_ids
            route_ids(file_store, rs, router.rest(stored))
    got = router.inserted(file_store)
    if file_store.dialect.name != "sqlite":
        assert got is None
        return
    assert got is not None and got[0] == ["demo:1", "demo:3"]
    stored_rows = {
        r["id"]: (r["source"], r["is_own"], r["created_ts"], r["intent"], r["static_score"])
        for r in file_store.rows(
            "SELECT id, source, is_own, created_ts, intent, static_score FROM mentions"
        )
    }
    assert [stored_rows[i] for i in got[0]] == list(zip(*got[1:], strict=True))


@pytest.mark.store_free
def test_the_keyword_prefilter_agrees_with_the_regex() -> None:
    """The substring test before the keyword regex never changes a verdict."""
    settings = RoutingSettings.from_config(
        {
            "teams": {"t": ["a"]},
            "rules": [
                {"name": "ascii", "keywords": ["refund*", "Charged Twice"], "team": "t"},
                {"name": "accent", "keywords": ["café"], "team": "t"},
            ],
        }
    )
    ascii_rule, accent = settings.rules
    assert ascii_rule.needles == ("refund", "charged twice") and accent.needles is None
    texts = [
        "REFUNDS please", "I want a Refund.", "prefund", "refund", "charged  twice",
        "CHARGED TWICE!", "was charged twice", "Refünd", "refunds ſ", "nothing here", "",
        "the CAFÉ is shut", "cafe", "unrefunded", "refund_it",
    ]  # fmt: skip
    for text in texts:
        for rule in settings.rules:
            assert rule.keywords is not None
            row = {"source": "demo", "text": text}
            assert rule.matches(row) == (rule.keywords.search(text) is not None), (rule, text)


@pytest.mark.store_free
@pytest.mark.parametrize(
    ("routing", "key"),
    [
        ({"rules": [{"name": "x", "team": "care", "colour": "red"}]}, "routing.rules[0].colour"),
        (
            {"rules": [{"name": "x", "team": "care", "pattern": "(unclosed"}]},
            "routing.rules[0].pattern",
        ),
        ({"rules": [{"name": "x", "agent": "zed"}]}, "routing.rules[0].agent: unknown agent 'zed'"),
        ({"rules": [{"name": "x", "team": "nope"}]}, "routing.rules[0].team: unknown team"),
        ({"strategy": "random"}, "routing.strategy"),
        ({"rules": [{"name": "x"}]}, "routing.rules[0]: give exactly one of"),
        ({"cap": 0}, "routing.cap"),
        ({"rules": [{"name": "x", "team": "care", "kinds": ["tweet"]}]}, "routing.rules[0].kinds"),
    ],
)
def test_invalid_rules_are_one_error_naming_the_key(routing: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        settings(**routing)
    assert key in str(err.value) and "\n" not in str(err.value)


@pytest.mark.store_free
def test_a_typo_in_routing_fails_every_command_with_a_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[routing]\nstrategyy = "round_robin"\n')
    with pytest.raises(ConfigError, match="did you mean `strategy`"):
        load_config(path)


@pytest.mark.store_free
def test_config_known_keys_match_the_team_modules() -> None:
    from socialcare.team.hours import HOURS_KEYS
    from socialcare.team.notify import NOTIFY_KEYS

    assert set(KNOWN_KEYS["routing"]) == set(ROUTING_KEYS)
    assert set(KNOWN_KEYS["routing.rules[]"]) == set(RULE_KEYS)
    assert set(KNOWN_KEYS["hours"]) == set(HOURS_KEYS)
    assert set(KNOWN_KEYS["notify[]"]) == set(NOTIFY_KEYS)


@pytest.mark.store_free
def test_the_example_config_team_block_is_valid(tmp_path: Path) -> None:
    """config.example.toml's commented team block, uncommented, loads and checks."""
    text = (Path(__file__).resolve().parents[1] / "config.example.toml").read_text()
    block = text.split("# Team mode:", 1)[1]
    lines = [
        ln[2:] for ln in block.splitlines() if ln.startswith("# ") and not ln.startswith("# #")
    ]
    toml = "\n".join(ln for ln in lines if "=" in ln or ln.startswith("["))
    path = tmp_path / "team.toml"
    path.write_text(toml)
    sc = Socialcare(load_config(path))
    assert [r.name for r in sc.routing_settings.rules] == ["refunds"]
    default, teams = sc.business_hours
    assert default is not None and "social" in teams
    assert sc.notify_settings.targets[0].type == "slack"


CONFIG = """
database = "{db}"
[sources.demo]
enabled = true
[routing]
cap = 50
[routing.teams]
care = ["alice", "bob"]
[[routing.rules]]
name = "complaints"
intents = ["complaint"]
team = "care"
"""


def test_poll_routes_in_the_ingest_and_route_explain_says_why(
    tmp_path: Path, database: str
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(db=database))
    result = runner.invoke(app, ["--config", str(cfg), "poll"])
    assert result.exit_code == 0, result.output
    store = open_store(database)
    try:
        routed = store.rows("SELECT mention_id, assignee FROM team_routes")
        complaints = store.rows("SELECT id, assignee FROM mentions WHERE intent = 'complaint'")
        assert routed and len(routed) == len(complaints)
        assert all(r["assignee"] in ("alice", "bob") for r in complaints)
        other = store.rows("SELECT id FROM mentions WHERE intent = 'praise' LIMIT 1")[0]["id"]
    finally:
        store.close()
    first = complaints[0]["id"]
    result = runner.invoke(app, ["--config", str(cfg), "route", first, "--explain"])
    assert result.exit_code == 0, result.output
    assert "rule complaints: fires" in result.output and "already routed" in result.output
    result = runner.invoke(app, ["--config", str(cfg), "route", other, "--explain", "--json"])
    data = json.loads(result.output)
    assert data[0]["rule"] is None and data[0]["rules"][0]["matched"] is False
    assert "intent praise in ['complaint']" in data[0]["rules"][0]["checks"][0]["why"]
    # agent list shows the load; agent away is audited
    result = runner.invoke(app, ["--config", str(cfg), "agent", "list", "--json"])
    loads = {a["name"]: a["load"] for a in json.loads(result.output)}
    assert loads["alice"] + loads["bob"] == len(complaints)
    assert abs(loads["alice"] - loads["bob"]) <= 1
    assert runner.invoke(app, ["--config", str(cfg), "agent", "away", "bob"]).exit_code == 0
    result = runner.invoke(app, ["--config", str(cfg), "agent", "list", "--json"])
    assert {a["name"]: a["away"] for a in json.loads(result.output)}["bob"] is True
    result = runner.invoke(app, ["--config", str(cfg), "agent", "away", "zed"])
    assert result.exit_code == 2 and "not in routing.teams" in result.output


ROUTER = """
import sys
from datetime import datetime, timedelta, timezone
from socialcare.models import Mention
from socialcare.store import open_store
from socialcare.scoring import care_settings, page_scorer
from socialcare.store.ingest import ingest_mentions
from socialcare.team.routing import PageRouter, RoutingSettings, route_ids
rs = RoutingSettings.from_config({
    "teams": {"care": ["alice", "bob", "carol"]}, "cap": 12,
    "rules": [{"name": "all", "team": "care"}],
})
s = open_store(sys.argv[1])
inline = sys.argv[2] == "inline"
router = PageRouter(rs, page_scorer(care_settings({}, ())))
ids = sys.argv[3:]
now = datetime.now(timezone.utc)
sys.stdin.readline()  # start together
for start in range(0, len(ids), 5):  # pages of five, each its own ingest transaction
    page = [Mention(source="demo", native_id=i, text="help", author_id="u" + i, author_handle="h" + i,
                    created_at=now) for i in ids[start:start + 5]]
    with s.transaction():
        if inline:  # as poll does it: routed in memory, inserted assigned
            stored = ingest_mentions(s, page, scorer=router).stored_ids
            decided = router.decided + route_ids(s, rs, router.rest(stored))
        else:
            s.upsert_mentions(page)
            decided = route_ids(s, rs, [m.id for m in page])
        for d in decided:
            print(d.mention_id, d.assignee)
s.close()
"""


@pytest.mark.parametrize("path", ["inline", "after"])
def test_two_pollers_at_once_route_each_mention_once_within_caps(database: str, path: str) -> None:
    """Two processes ingest overlapping pages at the same time: one route per mention,
    every agent within the cap, and the load spread evenly (routed in memory and inserted
    assigned, as poll does, or routed after the insert)."""
    first = [str(i) for i in range(0, 24)]
    second = [str(i) for i in range(12, 36)]  # 12 shared with the first
    open_store(database).close()  # migrated before the race
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(ROUTER), database, path, *ids],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for ids in (first, second)
    ]
    outs = []
    for p in procs:
        out, err = p.communicate("go\n", timeout=120)
        assert p.returncode == 0, err
        outs.append(out)
    lines = [ln.split() for out in outs for ln in out.splitlines()]
    routed = [mid for mid, _ in lines]
    assert len(routed) == len(set(routed)), "a mention was routed twice"
    store = open_store(database)
    try:
        rows = store.rows("SELECT mention_id, assignee FROM team_routes")
        assert len(rows) == 36 and len(store.events(action="route")) == 36
        loads = store.rows(
            "SELECT assignee, count(*) AS n FROM mentions WHERE assignee IS NOT NULL "
            "GROUP BY assignee"
        )
        counts = {r["assignee"]: int(r["n"]) for r in loads}
        assert counts == {"alice": 12, "bob": 12, "carol": 12}  # fair and at the cap exactly
    finally:
        store.close()


def test_route_and_audit_rows_are_written_in_order_across_statements(store: Store) -> None:
    """A page's route and audit rows go in multi-row INSERTs of 100 rows: 250 rows (two full
    statements and a short one) land as given, in order, and a mention already routed is
    left as it was (ON CONFLICT DO NOTHING)."""
    from socialcare.store import team as store_team

    store.upsert_mentions([mention(str(i)) for i in range(250)])
    store_team.add_routes(store, [("demo:7", "first", None, "zed")])
    routes = [(f"demo:{i}", f"r{i % 3}", "care" if i % 2 else None, "alice") for i in range(250)]
    events = [
        (f"demo:{i}", "route", json.dumps({"n": i, "why": 'it\'s "quoted"'})) for i in range(250)
    ]
    with store.transaction():
        store_team.add_routes(store, routes)
        store_team.log_route_rows(store, events, actor="routing")
    got = {r["mention_id"]: (r["rule"], r["team"], r["assignee"])
           for r in store.rows("SELECT * FROM team_routes")}  # fmt: skip
    assert got == {m: (rule, team, agent) for m, rule, team, agent in routes} | {
        "demo:7": ("first", None, "zed")
    }
    logged = store.rows(
        "SELECT agent, action, mention_id, detail FROM events WHERE agent = 'routing' ORDER BY id"
    )
    assert [(e["mention_id"], e["action"], e["detail"]) for e in logged] == events


def test_route_rows_in_key_order_keep_the_first_of_a_mention_and_audit_rows_one_time(
    store: Store,
) -> None:
    """add_routes sorts a page's rows by mention id (stable: of two rows of one mention the
    first given wins the ON CONFLICT, as unsorted); audit rows bind their time and actor
    once a statement (150 rows: two statements), every row getting them, in order."""
    from socialcare.store import team as store_team

    store.upsert_mentions([mention(str(i)) for i in range(150)])
    with store.transaction():
        store_team.add_routes(
            store,
            [("demo:9", "first", None, "ann"), ("demo:10", "x", "t", "bo"),
             ("demo:9", "second", None, "cy")],
        )  # fmt: skip
        ids = [f"demo:{i}" for i in reversed(range(150))]
        store_team.log_route_columns(
            store, ids, ["route"] * 150, [f'{{"n": {i}}}' for i in range(150)], actor="routing"
        )
    got = {
        r["mention_id"]: (r["rule"], r["assignee"]) for r in store.rows("SELECT * FROM team_routes")
    }
    assert got == {"demo:9": ("first", "ann"), "demo:10": ("x", "bo")}
    logged = store.rows(
        "SELECT at, agent, mention_id, detail FROM events WHERE action = 'route' ORDER BY id"
    )
    assert [(e["mention_id"], e["detail"]) for e in logged] == [
        (m, f'{{"n": {i}}}') for i, m in enumerate(ids)
    ]
    assert {e["agent"] for e in logged} == {"routing"} and len({e["at"] for e in logged}) == 1
