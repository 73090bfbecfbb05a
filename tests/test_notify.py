"""Notifications: delivery to a real HTTP server on 127.0.0.1, exactly once across two
concurrent runs, retries on 500, a failing target in ``status``, escaping of hostile text."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
from typer.testing import CliRunner

from socialcare.app import Socialcare
from socialcare.cli import app
from socialcare.config import load_config
from socialcare.errors import ConfigError
from socialcare.store import open_store
from socialcare.team.notify import (
    Event,
    NotifySettings,
    Target,
    markdown_escape,
    render,
    slack_escape,
)
from tests.pg_server import truncate_tables

runner = CliRunner()
HOSTILE = "<!channel> @here @everyone & <https://evil.example|click me> *bold* \x1b[31mred"


@dataclass
class Hook:
    """A webhook receiver on 127.0.0.1 that records every request and answers as told."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    #: status codes to answer, in order; then 200
    answers: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.requests.append(
                    {
                        "path": self.path,
                        "body": body.decode("utf-8"),
                        "key": self.headers.get("Idempotency-Key"),
                        "type": self.headers.get("Content-Type"),
                    }
                )
                code = state.answers.pop(0) if state.answers else 200
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b"ok" if code == 200 else b"server on fire")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def write_config(tmp_path: Path, database: str, targets: str, demo: str | None = None) -> Path:
    demo_line = f'path = "{demo}"' if demo else ""
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'database = "{database}"\nbrand_handles = ["AcmeHelp"]\n'
        f"[sources.demo]\nenabled = true\n{demo_line}\n{targets}"
    )
    return cfg


def hostile_demo(tmp_path: Path) -> str:
    path = tmp_path / "demo.jsonl"
    rows = [
        {"id": "1", "author_id": "u1", "author": "mallory", "name": "M", "followers": 5,
         "text": f"@AcmeHelp refund now! I was charged twice {HOSTILE}", "lang": "en",
         "minutes_ago": 5},
        {"id": "2", "author_id": "u2", "author": "nice", "name": "N", "followers": 5,
         "text": "love it, thanks", "lang": "en", "minutes_ago": 4},
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return str(path)


# -- rendering and filters (no store) -------------------------------------------------
@pytest.mark.store_free
def test_slack_block_kit_escapes_and_neutralises_pings() -> None:
    target = Target(name="s", type="slack", url_value="https://hooks.example/x")
    event = Event("mention", "demo:1", "New <complaint>", text=HOSTILE, source="demo",
                  author="<!here>", url="https://x.example/1")  # fmt: skip
    body = json.loads(render(target, event))
    text = json.dumps(body, ensure_ascii=False)
    assert "<!channel>" not in text and "<!here>" not in text and "<https://evil" not in text
    quote = body["blocks"][1]["text"]["text"]
    assert "&lt;!channel&gt;" in quote and "&amp;" in quote
    assert "@\u2060here" in quote and "@\u2060everyone" in quote
    assert "\x1b" not in text
    assert body["blocks"][0]["type"] == "header" and body["text"]
    assert body["blocks"][-1]["text"]["text"] == "<https://x.example/1|Open>"  # our own link
    assert slack_escape("a<b>&c") == "a&lt;b&gt;&amp;c"


@pytest.mark.store_free
@pytest.mark.parametrize("kind", ["teams", "mattermost"])
def test_markdown_targets_escape_markup_and_pings(kind: str) -> None:
    target = Target(name="t", type=kind, url_value="https://hooks.example/x")
    body = render(
        target, Event("mention", "demo:1", "New", text="[click](https://evil) @channel <at>x</at>")
    )
    data = json.loads(body)
    text = (
        data["text"]
        if kind == "mattermost"
        else data["attachments"][0]["content"]["body"][0]["text"]
    )
    assert "[click](https://evil)" not in text and "\\[click\\]\\(https://evil\\)" in text
    assert "@\u2060channel" in text and "<at>" not in text
    if kind == "teams":
        assert data["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert markdown_escape("*a*") == "\\*a\\*"


@pytest.mark.store_free
def test_filters_pick_events() -> None:
    t = Target(name="t", type="webhook", url_value="http://x", events=("mention", "sla_soon"),
               score_above=5.0, intents=("complaint",), sources=("twitter",), sla_within=600)  # fmt: skip
    good = Event("mention", "1", "x", source="twitter", intent="complaint", score=6.0)
    assert t.wants(good)
    assert not t.wants(Event("mention", "1", "x", source="twitter", intent="complaint", score=4.0))
    assert not t.wants(Event("mention", "1", "x", source="reddit", intent="complaint", score=6.0))
    assert not t.wants(Event("mention", "1", "x", source="twitter", intent="praise", score=6.0))
    assert not t.wants(
        Event("sla_breached", "1", "x", source="twitter", intent="complaint", score=9)
    )
    soon = Event("sla_soon", "1", "x", source="twitter", intent="complaint", score=9, sla_left=300)
    assert t.wants(soon)
    late = Event("sla_soon", "1", "x", source="twitter", intent="complaint", score=9, sla_left=900)
    assert not t.wants(late)


@pytest.mark.store_free
@pytest.mark.parametrize(
    ("entry", "key"),
    [
        ({"name": "a", "type": "discord", "url": "https://x"}, "notify[0].type"),
        ({"name": "a", "type": "slack"}, "notify[0]: give `url` or `url_env`"),
        ({"name": "a", "url": "https://x", "events": ["everything"]}, "notify[0].events"),
        ({"name": "a", "url": "https://x", "sla_within": "soon"}, "notify[0].sla_within"),
        ({"name": "a", "url": "https://x", "retry": 3}, "did you mean `retries`"),
        ({"name": "a", "url": "ftp://x"}, "notify[0].url"),
    ],
)
def test_bad_targets_are_one_error_naming_the_key(entry: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        NotifySettings.from_config([entry])
    assert key in str(err.value) and "\n" not in str(err.value)


# -- delivery ------------------------------------------------------------------------
def slack_complaints(url: str) -> str:
    """A ``[[notify]]`` Slack target at ``url``/slack for new complaints (keys may follow)."""
    return f"""
[[notify]]
name = "slack"
type = "slack"
url = "{url}/slack"
events = ["mention"]
intents = ["complaint"]
"""


def test_poll_announces_new_mentions_once_to_slack_escaped(
    tmp_path: Path, database: str, hook: Hook
) -> None:
    targets = slack_complaints(hook.url)
    cfg = write_config(tmp_path, database, targets, hostile_demo(tmp_path))
    result = runner.invoke(app, ["--config", str(cfg), "poll"])
    assert result.exit_code == 0, result.output
    assert len(hook.requests) == 1, hook.requests  # the complaint only
    req = hook.requests[0]
    assert req["path"] == "/slack" and req["type"] == "application/json" and req["key"]
    assert "<!channel>" not in req["body"] and "&lt;!channel&gt;" in req["body"]
    # a second poll (the same mentions re-read) sends nothing more
    assert runner.invoke(app, ["--config", str(cfg), "poll"]).exit_code == 0
    assert len(hook.requests) == 1
    store = open_store(database)
    try:
        items = store.outbox_list(("sent",), kind="notify")
        assert len(items) == 1 and items[0]["idempotency_key"] == req["key"]
        recorded = store.rows("SELECT * FROM team_notifications")
        assert len(recorded) == 1 and recorded[0]["outbox_id"] == items[0]["id"]
    finally:
        store.close()


def test_retry_on_500_then_delivered_with_one_key(
    tmp_path: Path, database: str, hook: Hook
) -> None:
    hook.answers = [500, 503]
    targets = f"""
[[notify]]
name = "hook"
url = "{hook.url}/h"
backoff = 0
retries = 3
"""
    cfg = write_config(tmp_path, database, targets)
    result = runner.invoke(app, ["--config", str(cfg), "notify", "test", "hook"])
    assert result.exit_code == 0, result.output
    assert "Sent 1 test message" in result.output
    assert len(hook.requests) == 3
    assert len({r["key"] for r in hook.requests}) == 1
    assert json.loads(hook.requests[-1]["body"])["event"] == "test"


def test_a_target_that_keeps_failing_shows_in_status(
    tmp_path: Path, database: str, hook: Hook
) -> None:
    hook.answers = [500] * 10
    targets = f"""
[[notify]]
name = "flaky"
url = "{hook.url}/f"
backoff = 0
retries = 1
"""
    cfg = write_config(tmp_path, database, targets)
    result = runner.invoke(app, ["--config", str(cfg), "notify", "test"])
    assert result.exit_code == 8, result.output
    assert len(hook.requests) == 2  # the first try and one retry
    result = runner.invoke(app, ["--config", str(cfg), "status"])
    assert "notify: target 'flaky' is failing" in result.output and "HTTP 500" in result.output
    result = runner.invoke(app, ["--config", str(cfg), "status", "--alert", "--quiet"])
    assert result.exit_code == 10
    assert runner.invoke(app, ["--config", str(cfg), "notify", "test", "nope"]).exit_code == 3


def test_a_4xx_fails_at_once_and_the_url_stays_secret(
    tmp_path: Path, database: str, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook.answers = [404]
    monkeypatch.setenv("MY_HOOK", f"{hook.url}/secret-token-123")
    targets = '[[notify]]\nname = "h"\nurl_env = "MY_HOOK"\nbackoff = 0\n'
    cfg = write_config(tmp_path, database, targets)
    result = runner.invoke(app, ["--config", str(cfg), "notify", "test"])
    assert result.exit_code == 8 and len(hook.requests) == 1
    assert "secret-token-123" not in result.output
    monkeypatch.delenv("MY_HOOK")
    result = runner.invoke(app, ["--config", str(cfg), "notify", "test"])
    assert result.exit_code == 8 and "MY_HOOK" in result.output


def test_outbox_retry_resends_a_failed_notification_once_with_its_key(
    tmp_path: Path, database: str, hook: Hook
) -> None:
    """A failed notify item goes through `outbox retry` like a reply: the same item and key,
    no second claim, and a sent one is not retried again."""
    hook.answers = [500]
    targets = f"""
[[notify]]
name = "slack"
type = "slack"
url = "{hook.url}/slack"
events = ["mention"]
intents = ["complaint"]
retries = 0
backoff = 0
"""
    cfg = write_config(tmp_path, database, targets, hostile_demo(tmp_path))
    assert runner.invoke(app, ["--config", str(cfg), "poll"]).exit_code == 0
    assert len(hook.requests) == 1
    store = open_store(database)
    try:
        failed = store.outbox_list(("failed",), kind="notify")
        assert len(failed) == 1 and "HTTP 500" in failed[0]["error"]
        item_id = failed[0]["id"]
    finally:
        store.close()
    # the next poll sees the event claimed: nothing new is enqueued or sent
    assert runner.invoke(app, ["--config", str(cfg), "poll"]).exit_code == 0
    assert len(hook.requests) == 1
    result = runner.invoke(app, ["--config", str(cfg), "outbox", "retry", str(item_id)])
    assert result.exit_code == 0, result.output
    assert f"Sent outbox item {item_id}" in result.output
    assert len(hook.requests) == 2
    assert hook.requests[0]["key"] == hook.requests[1]["key"]
    assert hook.requests[0]["body"] == hook.requests[1]["body"]
    again = runner.invoke(app, ["--config", str(cfg), "outbox", "retry", str(item_id)])
    assert again.exit_code == 7 and len(hook.requests) == 2  # sent: never sent twice
    assert runner.invoke(app, ["--config", str(cfg), "poll"]).exit_code == 0
    assert len(hook.requests) == 2
    store = open_store(database)
    try:
        assert [i["id"] for i in store.outbox_list(("sent",), kind="notify")] == [item_id]
        assert len(store.rows("SELECT * FROM team_notifications")) == 1
        retries = store.events(action="retry")
        assert len(retries) == 1 and json.loads(retries[0]["detail"])["outbox_id"] == item_id
    finally:
        store.close()


def test_an_unknown_notification_needs_force_to_retry(
    tmp_path: Path, database: str, hook: Hook
) -> None:
    """A webhook cannot be asked whether it took a message: an unknown item needs --force."""
    targets = f'[[notify]]\nname = "hook"\nurl = "{hook.url}/h"\nbackoff = 0\n'
    cfg = write_config(tmp_path, database, targets)
    assert runner.invoke(app, ["--config", str(cfg), "notify", "test"]).exit_code == 0
    store = open_store(database)
    try:
        item_id = store.outbox_list(("sent",), kind="notify")[0]["id"]
        store.conn.execute("UPDATE outbox SET status = 'unknown' WHERE id = ?", [item_id])
        store.conn.commit()
    finally:
        store.close()
    result = runner.invoke(app, ["--config", str(cfg), "outbox", "retry", str(item_id)])
    assert result.exit_code == 7 and "--force" in result.output and len(hook.requests) == 1
    result = runner.invoke(app, ["--config", str(cfg), "outbox", "retry", str(item_id), "--force"])
    assert result.exit_code == 0, result.output
    assert len(hook.requests) == 2 and hook.requests[0]["key"] == hook.requests[1]["key"]


def test_due_announces_breached_slas(tmp_path: Path, database: str, hook: Hook) -> None:
    targets = f"""
[[notify]]
name = "hook"
url = "{hook.url}/sla"
events = ["sla_breached"]
"""
    cfg = write_config(tmp_path, database, targets)
    assert runner.invoke(app, ["--config", str(cfg), "poll"]).exit_code == 0
    before = len(hook.requests)  # poll may announce demo complaints already past their SLA
    store = open_store(database)
    try:
        store.conn.execute(
            "UPDATE mentions SET sla_due_ts = created_ts + 60 WHERE intent = 'complaint'"
        )
        store.conn.commit()
        breached = {
            r["id"]
            for r in store.rows(
                "SELECT id FROM mentions WHERE status = 'open' AND answered_at IS NULL "
                "AND is_own = 0 AND sla_due_ts <= ?",
                [time.time()],
            )
        }
    finally:
        store.close()
    result = runner.invoke(app, ["--config", str(cfg), "due"])
    assert result.exit_code == 0, result.output
    events = [json.loads(r["body"]) for r in hook.requests]
    assert len(events) > before  # the complaints made overdue were announced by `due`
    assert [e["subject"] for e in events if e["subject"] in breached] == [
        e["subject"] for e in events
    ]
    assert {e["subject"] for e in events} == breached and len(events) == len(breached)
    assert {e["event"] for e in events} == {"sla_breached"}
    assert runner.invoke(app, ["--config", str(cfg), "due"]).exit_code == 0
    assert len(hook.requests) == len(breached)  # once


RUN = """
import sys
from socialcare.app import Socialcare
from socialcare.config import load_config
sc = Socialcare(load_config(sys.argv[1]))
ids = [r["id"] for r in sc.store.rows("SELECT id FROM mentions")]
sys.stdin.readline()  # start together
run = sc.notify(mention_ids=ids)
print(run.enqueued, run.sent)
sc.shutdown()
"""


def test_two_concurrent_runs_send_each_event_exactly_once(
    tmp_path: Path, database: str, hook: Hook
) -> None:
    targets = f"""
[[notify]]
name = "a"
url = "{hook.url}/a"
events = ["mention"]
[[notify]]
name = "b"
type = "mattermost"
url = "{hook.url}/b"
events = ["mention"]
"""
    cfg = write_config(tmp_path, database, targets)
    # store the mentions without announcing them: poll with no targets first
    (tmp_path / "plain").mkdir()
    plain = write_config(tmp_path / "plain", database, "")
    assert runner.invoke(app, ["--config", str(plain), "poll"]).exit_code == 0
    sc = Socialcare(load_config(plain))
    # a poll announces mentions of the last day (an old one re-read is not news)
    count = len(
        sc.store.rows(
            "SELECT id FROM mentions WHERE status = 'open' AND is_own = 0 AND created_ts >= ?",
            [time.time() - 86400],
        )
    )
    sc.shutdown()
    assert count > 10
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(RUN), str(cfg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(2)
    ]
    outs = []
    for p in procs:
        out, err = p.communicate("go\n", timeout=120)
        assert p.returncode == 0, err
        outs.append([int(x) for x in out.split()])
    assert sum(o[0] for o in outs) == 2 * count  # every (event, target) enqueued by one run
    assert sum(o[1] for o in outs) == 2 * count
    keys = [r["key"] for r in hook.requests]
    assert len(keys) == 2 * count and len(set(keys)) == 2 * count  # nothing twice
    assert {r["path"] for r in hook.requests} == {"/a", "/b"}


def test_status_alert_announces_a_failing_source_once_a_day(
    tmp_path: Path, database: str, hook: Hook
) -> None:
    targets = f"""
[[notify]]
name = "ops"
type = "teams"
url = "{hook.url}/ops"
events = ["source_unhealthy"]
"""
    cfg = write_config(tmp_path, database, targets)
    assert runner.invoke(app, ["--config", str(cfg), "poll"]).exit_code == 0
    assert hook.requests == []  # healthy
    store = open_store(database)
    try:
        store.record_poll("demo", "file", items=None, error="HTTP 401 <!channel> token expired")
    finally:
        store.close()
    result = runner.invoke(app, ["--config", str(cfg), "status", "--alert", "--quiet"])
    assert result.exit_code == 10
    assert len(hook.requests) == 1
    card = json.loads(hook.requests[0]["body"])["attachments"][0]["content"]
    text = card["body"][0]["text"]
    assert "Source demo needs attention" in text and "<!channel>" not in text
    runner.invoke(app, ["--config", str(cfg), "status", "--alert", "--quiet"])
    assert len(hook.requests) == 1  # the same alert is not announced again that day


def test_mentions_for_notify_reads_what_the_full_page_read_gave(store: Any) -> None:
    """The notify read filters a narrow page and then reads the few passing rows in full:
    the same rows, in the same order, as filtering the page of every shown column."""
    from datetime import datetime, timedelta, timezone

    from socialcare.models import Mention
    from socialcare.store import team as store_team
    from socialcare.store.team import _page_of

    now = datetime.now(timezone.utc)
    mentions = [
        Mention(source="demo", native_id=str(i), text=f"text {i} <@here>", author_id=f"u{i % 4}",
                author_handle=f"h{i}", created_at=now - timedelta(hours=i % 30, seconds=i))
        for i in range(40)
    ]  # fmt: skip
    store.upsert_mentions(mentions)
    intents = ["complaint", "question", "praise", None]
    for i in range(40):
        store.conn.execute(
            "UPDATE mentions SET static_score = ?, intent = ?, status = ?, is_own = ? WHERE id = ?",
            [float(i % 10), intents[i % 4], "done" if i % 7 == 0 else "open", int(i % 11 == 0),
             f"demo:{i}"],
        )  # fmt: skip
    ids = [f"demo:{i}" for i in range(40)] + ["demo:missing"]
    since = (now - timedelta(hours=24)).timestamp()
    columns = (
        "id, source, intent, text, author_handle, url, static_score, sla_due_ts, created_ts, "
        "assignee"
    )

    def reference(min_score: float | None, wanted: list[str] | None) -> list[Any]:
        where, extra = "status = 'open' AND is_own = 0 AND created_ts >= ?", [since]
        if min_score is not None:
            where, extra = where + " AND static_score > ?", [*extra, min_score]
        if wanted is not None:
            where += f" AND intent IN ({', '.join('?' for _ in wanted)})"
            extra += wanted
        out: list[Any] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            out += store.rows(
                f"{_page_of(marks, columns + ', status, is_own')}SELECT {columns} FROM page "
                f"WHERE {where} ORDER BY created_ts",
                [*chunk, *extra],
            )
        return out

    for min_score, wanted in [
        (None, None), (4.0, None), (None, ["complaint"]), (6.5, ["question", "complaint"]),
    ]:  # fmt: skip
        got = store_team.mentions_for_notify(
            store, ids, since_ts=since, min_score=min_score, intents=wanted
        )
        assert got == reference(min_score, wanted) and got
    assert store_team.mentions_for_notify(store, ids, since_ts=since, intents=[]) == []


@pytest.mark.store_free
def test_quiet_mentions_are_those_no_target_would_announce() -> None:
    """``quiet_mentions`` leaves out a new mention exactly when the event its stored row
    makes would pass no enabled mention target's filters, or the store's read drops it."""
    import random

    from socialcare.team.notify import mention_events, quiet_mentions

    settings = NotifySettings.from_config(
        [
            {"name": "a", "url": "http://a", "events": ["mention"], "intents": ["complaint"],
             "score_above": 5.0},
            {"name": "b", "url": "http://b", "events": ["mention"], "sources": ["demo"],
             "intents": ["question", "complaint"], "score_above": 7.0},
            {"name": "c", "url": "http://c", "events": ["mention"], "sources": ["reddit"]},
            {"name": "off", "url": "http://d", "events": ["mention"], "enabled": False},
            {"name": "sla", "url": "http://e", "events": ["sla_breached"]},
        ]
    )  # fmt: skip
    rnd = random.Random(7)
    since = 1000.0
    inserted = {
        f"demo:{i}": (
            rnd.choice(["demo", "reddit", "twitter"]), rnd.choice([0, 0, 0, 1]),
            rnd.choice([999.0, 1000.0, 1500.0]),
            rnd.choice(["complaint", "question", "praise", None]),
            rnd.choice([None, 0.0, 5.0, 5.5, 7.0, 7.25, 9.0]),
        )
        for i in range(2000)
    }  # fmt: skip
    columns = (list(inserted), *map(list, zip(*inserted.values(), strict=True)))
    quiet = quiet_mentions(settings, columns, since)  # type: ignore[arg-type]
    rows = [
        {"id": i, "source": src, "intent": intent, "static_score": score, "text": "t"}
        for i, (src, own, ts, intent, score) in inserted.items()
    ]
    loud = {
        e.subject
        for e in mention_events(rows)
        if not inserted[e.subject][1]
        and inserted[e.subject][2] >= since
        and any(t.wants(e) for t in settings.targets)
    }
    assert quiet == inserted.keys() - loud
    assert 100 < len(loud) < 1900


def test_a_poll_announces_what_reading_every_mention_back_announces(
    tmp_path: Path, database: str, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With routing on, the poll reads back only the new mentions a target may take
    (``PageRouter.inserted`` and ``quiet_mentions``): the same notifications, in the
    same order, as reading all of them, over pages of many ties in creation time, a
    mention answered by the brand on a later page, and one re-read later in the poll."""
    from socialcare.team.routing import PageRouter

    complaint, question = "worst service ever, cancel my account now", "how do I reset it?"
    lines = []
    for i in range(1300):  # pages of 200: slices of 500 ids in the notify read, many ties
        text = complaint if i % 20 == 3 else question if i % 25 == 1 else "love the app"
        lines.append({"id": str(i), "author_id": f"u{i % 97}", "author": f"user{i}",
                      "text": f"{text} #{i % 13}", "lang": "en",
                      "minutes_ago": 5 + (i % 3)})  # fmt: skip
    lines.append({"id": "r1", "author_id": "brand", "author": "AcmeHelp", "text": "so sorry",
                  "parent_id": "3", "minutes_ago": 1})  # fmt: skip
    # an earlier page's mention read again, edited into a complaint (re-scored: announced)
    lines.append({**lines[10], "text": complaint})
    demo = tmp_path / "demo.jsonl"
    demo.write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    targets = f"""
[routing.teams]
care = ["alice", "bob"]
[[routing.rules]]
name = "all"
team = "care"
{slack_complaints(hook.url)}score_above = 2.0
[[notify]]
name = "hook"
url = "{hook.url}/hook"
events = ["mention"]
intents = ["question"]
"""
    records = []
    for read_all in (False, True):
        if read_all:
            monkeypatch.setattr(PageRouter, "inserted", lambda self, store: None)
        db = str(tmp_path / f"s{read_all}.db") if "://" not in database else database
        cfg = write_config(tmp_path, db, targets, str(demo))
        cfg.write_text(
            cfg.read_text().replace("[sources.demo]\n", "[sources.demo]\npage_size = 200\n")
        )
        sc = Socialcare(load_config(cfg))
        try:
            sc.poll(["demo"])
            records.append(
                (
                    [(r["source"], r["mention_id"], r["text"], r["status"]) for r in
                     sc.store.rows("SELECT * FROM outbox WHERE kind = 'notify' ORDER BY id")],
                    sc.store.rows("SELECT key, target, event, subject FROM team_notifications "
                                  "ORDER BY key"),
                )
            )  # fmt: skip
            if "://" in database:
                truncate_tables(database)
        finally:
            sc.shutdown()
    fast, reference = records
    assert fast == reference
    sent = {m for _, m, _, _ in fast[0]}
    assert len(sent) > 80 and "demo:3" not in sent  # answered by the brand's reply
    assert "demo:10" in sent
    assert len(hook.requests) == 2 * len(fast[0])


def test_plain_http_targets_get_a_client_that_never_loads_the_ca_bundle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An http:// target is sent with a client built without the CA bundle (its TLS context
    trusts nothing); https://, a test transport, or a proxy in the environment get
    httpx's default client. Each is built once, on first use."""
    import ssl

    import httpx

    from socialcare.team.notify import Senders

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    settings = NotifySettings.from_config([{"name": "h", "url": "http://127.0.0.1:9/x"}])
    loaded: list[str] = []
    real = ssl.create_default_context

    def default_context(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        loaded.append("ca")  # httpx's verified context: it loads the CA bundle
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", default_context)
    senders = Senders(settings)
    try:
        plain = senders.client_for("http://127.0.0.1:9/x")
        assert loaded == [] and senders.client_for("HTTP://127.0.0.1:9/y") is plain
        verified = senders.client_for("https://hooks.example/x")
        assert loaded == ["ca"] and verified is not plain
        assert senders.client_for("https://hooks.example/y") is verified and loaded == ["ca"]
    finally:
        senders.close()
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    senders = Senders(settings)
    try:  # a proxy for http:// URLs: the default client, which honours it
        assert senders.client_for("http://127.0.0.1:9/x") is senders.client_for("https://x.example")
    finally:
        senders.close()
    monkeypatch.delenv("HTTP_PROXY")
    mock = httpx.MockTransport(lambda request: httpx.Response(200))
    senders = Senders(settings, mock)
    try:  # a test transport serves every URL
        assert senders.client_for("http://a") is senders.client_for("https://b")
        sent = senders.get("notify:h").post("{}")  # type: ignore[attr-defined]
        assert sent.native_id == ""
    finally:
        senders.close()
