"""The ingest engine with scripted sources, and ``status``/``gaps`` through CliRunner.

The scripted sources here stand in for a platform only where the feature is
the engine's own (folding, budgets, settings, health); the adapters' part is
tested through tweepy and praw in ``test_ingest_twitter.py``/``_reddit.py``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
import typer
from typer.testing import CliRunner

from socialcare.commands.listen import ALERT_EXIT_CODE, gaps, make_waiter, parse_max_wait, status
from socialcare.config import Config
from socialcare.errors import ConfigError, UsageError
from socialcare.models import Mention, Page, to_iso, utcnow
from socialcare.poll import IngestSettings, WaitLimit, ingest_status, poll, poll_source
from socialcare.sources.base import Source
from socialcare.store import Store, open_store
from socialcare.store.ingest import add_usage, open_gap
from socialcare.store.migrations.sqlite import MIGRATIONS

runner = CliRunner()
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=timezone.utc)


def mention(native: str, *, author: str = "u1", text: str | None = None, second: int = 0,
            kind: str = "post", repost_of: str | None = None, parent: str | None = None) -> Mention:  # fmt: skip
    return Mention(
        source="scripted",
        native_id=native,
        text=text if text is not None else f"text {native}",
        created_at=T0 + timedelta(seconds=second),
        author_id=author,
        author_handle=author,
        kind=kind,
        repost_of=repost_of,
        parent_id=parent,
        query="q",
    )


class Scripted(Source):
    """Yields the pages it is given (oldest-first semantics: each page carries a cursor)."""

    name = "scripted"

    def __init__(self, config: Any = None, pages: list[Page] | None = None) -> None:
        super().__init__(config or {}, brand_handles=("acmehelp",))
        self.pages = pages or []

    def queries(self) -> list[str]:
        return ["q"]

    def poll(self, query: str, cursor: str | None) -> Iterator[Page]:
        yield from self.pages


def ids(store: Store, table: str = "mentions") -> set[str]:
    return {r[0] for r in store.conn.execute(f"SELECT id FROM {table}")}


# -- folding -----------------------------------------------------------------------


def test_duplicate_text_folds_whichever_order_the_copies_arrive(store: Store) -> None:
    later, earlier = mention("2", text="help!!", second=120), mention("1", text="help!!")
    poll_source(store, Scripted(pages=[Page([later], cursor="a")]))
    [r] = poll_source(store, Scripted(pages=[Page([earlier], cursor="b")]))
    # the copy stored first stays the queue item (it may be claimed already)
    assert ids(store) == {"scripted:2"} and r.folded == 1
    assert store.get_mention("scripted:2")["repost_count"] == 1

    same_page = [mention("4", text="again", second=60), mention("3", text="again")]
    poll_source(store, Scripted(pages=[Page(same_page, cursor="c")]))
    assert "scripted:3" in ids(store) and "scripted:4" in ids(store, "reposts")


@pytest.mark.parametrize(
    ("copy", "folds"),
    [
        (mention("2", text="help", second=599), True),
        (mention("2", text="help", second=601), False),  # outside the window
        (mention("2", text="help ", second=10), False),  # not the exact text
        (mention("2", text="help", author="u2", second=10), False),  # another author
        (mention("2", text="", second=10), None),  # empty text: nothing to compare
        (mention("2", text="help", author="acmehelp", second=10), False),  # the brand's own
    ],
)
def test_duplicate_window_rules(store: Store, copy: Mention, folds: bool | None) -> None:
    first = mention("1", text="" if folds is None else "help")
    author = copy.author_id
    if author == "acmehelp":
        first = mention("1", text="help", author="acmehelp")
    poll_source(store, Scripted(pages=[Page([first, copy], cursor="x")]))
    assert ("scripted:2" in ids(store, "reposts")) is bool(folds)


def test_stored_copies_fold_around_each_mention_of_a_batch_spread_over_days(
    store: Store,
) -> None:
    """The stored copies are looked up around each author's own mentions of the batch (not
    one range over the whole batch): copies at both ends of a 3-day batch still fold, and
    a copy just outside one mention's window does not."""
    day = 86_400
    stored = [
        mention("1", text="refund?", second=0),
        mention("2", text="still down", second=3 * day),
        mention("3", text="hello", author="u2", second=day),
    ]
    poll_source(store, Scripted(pages=[Page(stored, cursor="a")]))
    batch = [
        mention("4", text="refund?", second=300),  # u1, near 1
        mention("5", text="still down", second=3 * day - 599),  # u1, near 2
        mention("6", text="hello", author="u2", second=day + 601),  # u2, just outside
        mention("7", text="other", author="u3", second=2 * day),
    ]
    [r] = poll_source(store, Scripted(pages=[Page(batch, cursor="b")]))
    assert ids(store, "reposts") == {"scripted:4", "scripted:5"} and r.folded == 2
    assert store.get_mention("scripted:1")["repost_count"] == 1
    assert store.get_mention("scripted:2")["repost_count"] == 1
    assert "scripted:6" in ids(store) and store.get_mention("scripted:3")["repost_count"] == 0


def test_stored_copies_are_read_by_author_and_text(store: Store) -> None:
    """The duplicate look-up reads back only stored mentions with a batch mention's author
    and exact text in its window, not every mention of its authors in the batch's span:
    a text that differs (by case or a space) or another author's is not read."""
    from socialcare.store.ingest import _stored_texts

    stored = [
        mention("1", text="refund?", second=0),
        mention("2", text="Refund?", second=10),
        mention("3", text="refund? ", second=20),
        mention("4", text="something else", second=30),
        mention("5", text="refund?", author="u2", second=40),
    ]
    poll_source(store, Scripted({"duplicate_window_seconds": 0}, [Page(stored, cursor="a")]))
    found = _stored_texts(store, [mention("9", text="refund?", second=100)], 600.0)
    assert found == {("scripted:u1", "refund?"): [(T0.timestamp(), "scripted:1")]}
    assert _stored_texts(store, [mention("9", text="refund?", second=700)], 600.0) == {}


def test_duplicate_window_zero_turns_folding_off(store: Store) -> None:
    pages = [Page([mention("1", text="hi"), mention("2", text="hi", second=5)], cursor="x")]
    poll_source(store, Scripted({"duplicate_window_seconds": 0}, pages))
    assert ids(store) == {"scripted:1", "scripted:2"}


def test_repost_of_a_folded_copy_and_answers_to_folded_copies(store: Store) -> None:
    original = mention("1", text="lost parcel")
    copy = mention("2", text="lost parcel", second=30)
    reply = mention("3", author="AcmeHelp", text="@u1 sorry", second=90, parent="2")
    poll_source(store, Scripted(pages=[Page([original, copy, reply], cursor="x")]))
    # the brand answered the copy: the kept original is what the queue shows, so it is marked
    row = store.get_mention("scripted:1")
    assert (row["status"], row["answered_by"]) == ("replied", "@AcmeHelp")


def test_native_answer_is_logged_and_only_new_mentions_are_marked(store: Store) -> None:
    question = mention("1", text="where is it?")
    reply = mention("2", author="AcmeHelp", text="here", second=60, parent="1")
    poll_source(store, Scripted(pages=[Page([question, reply], cursor="x")]))
    assert [e["agent"] for e in store.events(action="answered_natively")] == ["@AcmeHelp"]
    store.set_status("scripted:1", "open")  # an agent reopens it on purpose
    poll_source(store, Scripted(pages=[Page([question, reply], cursor="y")]))  # re-read
    assert store.get_mention("scripted:1")["status"] == "open"


# -- settings, budget, waiting -----------------------------------------------------


@pytest.mark.parametrize(
    "section",
    [
        {"fold_reposts": "yes"},
        {"duplicate_window_seconds": -1},
        {"monthly_request_budget": 0},
        {"monthly_item_budget": 1.5},
        {"budget_warn_at": 1.5},
        {"silent_after": "soon"},
        {"silent_after": 6},
    ],
)
def test_bad_ingest_settings_name_the_key(section: dict[str, Any]) -> None:
    key = next(iter(section))
    with pytest.raises(ConfigError, match=f"sources.x.{key}"):
        IngestSettings.from_config("x", section)


def test_overlap_seconds_is_validated_by_the_adapters() -> None:
    from socialcare.sources.twitter import TwitterSource

    with pytest.raises(ConfigError, match="overlap_seconds"):
        TwitterSource({"queries": ["a"], "overlap_seconds": -5})


def test_budget_refuses_before_any_request_for_oldest_first_sources(store: Store) -> None:
    add_usage(store, "scripted", "q", requests=10)
    src = Scripted({"monthly_request_budget": 10}, [Page([mention("1")], cursor="1")])
    [r] = poll_source(store, src)
    assert r.error_code == 5 and r.pages == 0 and store.mention_count() == 0


def test_usage_counts_one_request_per_page_for_adapters_that_do_not_count(store: Store) -> None:
    pages = [Page([mention("1")], cursor="1"), Page([mention("2")], cursor="2")]
    [r] = poll_source(store, Scripted(pages=pages))
    assert (r.requests, r.items_read) == (2, 2)


def test_wait_limit_is_shared_across_waits() -> None:
    seen: list[float] = []
    limit = WaitLimit(lambda s, why: seen.append(s), max_wait=60)
    assert limit(40, "a") and not limit(30, "b") and limit(20, "c")
    assert seen == [40, 20] and limit.declined


def test_quiet_waiter_logs_one_line_and_sleeps(capsys: pytest.CaptureFixture[str]) -> None:
    slept: list[float] = []
    wait = make_waiter(quiet=True, sleep=slept.append)
    assert wait(90, "Twitter rate limit reached (search 'acme')\x1b[2J") is True
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "waiting 1m" in err and "\x1b" not in err
    assert slept == [90]


def test_max_wait_parsing() -> None:
    assert parse_max_wait("90") == 90 and parse_max_wait("10m") == 600
    assert parse_max_wait(None) is None
    with pytest.raises(UsageError):
        parse_max_wait("-1")


def test_demo_source_needs_no_gaps(database: str) -> None:
    cfg = Config(database=database, agent="a", sources={"demo": {}})
    store = open_store(cfg.database)
    summary = poll(cfg, store, max_wait=0)
    assert summary.exit_code == 0 and store.rows("SELECT * FROM gaps") == []


def test_m003_creates_the_usage_table(store: Store) -> None:
    assert "m003_ingest_usage" in [m.__name__ for m in MIGRATIONS]
    assert store.rows("SELECT * FROM ingest_usage") == []


# -- status and gaps through the CLI -----------------------------------------------


def mini_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context, config: Optional[str] = typer.Option(None, "--config")) -> None:
        ctx.obj = {"config": config}

    app.command()(status)
    app.command()(gaps)
    return app


def write_config(tmp_path: Path, database: str, **demo: Any) -> Path:
    """A config file polling the demo source into ``database`` (the test's store)."""
    lines = [f'database = "{database}"', "[sources.demo]"]
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in demo.items()]
    path = tmp_path / "c.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def status_of(path: Path, *args: str) -> Any:
    return runner.invoke(
        mini_app(), ["--config", str(path), "status", *args], env={"COLUMNS": "250"}
    )


def polled(tmp_path: Path, database: str, **demo: Any) -> tuple[Path, Store]:
    path = write_config(tmp_path, database, **demo)
    from socialcare.config import load_config

    cfg = load_config(path)
    store = open_store(cfg.database)
    assert poll(cfg, store).exit_code == 0
    return path, store


def test_status_of_a_healthy_source_exits_0(tmp_path: Path, database: str) -> None:
    path, _ = polled(tmp_path, database)
    result = status_of(path, "--alert")
    assert result.exit_code == 0, result.output
    assert "demo" in result.stdout and "file" in result.stdout and "ago" in result.stdout


def test_status_alert_on_failing_source_with_hostile_error(tmp_path: Path, database: str) -> None:
    path, store = polled(tmp_path, database)
    store.record_poll(
        "demo", "file", items=None, error="HTTP 503 \x1b]8;;http://evil\x07[bold]x[/bold]"
    )
    plain = status_of(path)
    assert plain.exit_code == 0  # without --alert, status only reports
    result = status_of(path, "--alert")
    assert result.exit_code == ALERT_EXIT_CODE == 10
    assert "ALERT: demo: failing" in result.stderr
    assert "\x1b" not in result.stdout + result.stderr
    assert "[bold]x[/bold]" in result.stdout  # shown literally, not as markup


def test_status_alert_on_silent_source(tmp_path: Path, database: str) -> None:
    path, store = polled(tmp_path, database, silent_after="1h")
    two_hours_ago = to_iso(utcnow() - timedelta(hours=2))
    store.conn.execute("UPDATE source_health SET last_success_at = ?", [two_hours_ago])
    result = status_of(path, "--alert")
    assert result.exit_code == 10 and "silent" in result.stderr


def test_status_alert_on_silent_platform_though_polls_succeed(
    tmp_path: Path, database: str
) -> None:
    path, store = polled(tmp_path, database, silent_after="1h")
    store.conn.execute("UPDATE mentions SET created_ts = ?", [utcnow().timestamp() - 7200])
    result = status_of(path, "--alert")
    assert result.exit_code == 10 and "nothing new since" in result.stderr


def test_status_budget_warns_then_alerts(tmp_path: Path, database: str) -> None:
    path, store = polled(tmp_path, database, monthly_request_budget=100)
    add_usage(store, "demo", "file", requests=85)
    warned = status_of(path, "--alert")
    assert warned.exit_code == 0 and "polling stops at the budget" in warned.stdout
    add_usage(store, "demo", "file", requests=20)
    result = status_of(path, "--alert")
    assert result.exit_code == 10 and "monthly budget reached" in result.stderr


def test_ingest_status_counts_items_gaps_and_next_poll(tmp_path: Path, database: str) -> None:
    path, store = polled(tmp_path, database)
    open_gap(store, "demo", "file", "1", "9", "test")
    from socialcare.config import load_config

    st = ingest_status(load_config(path), store)
    [q] = st.queries
    assert q.items_last_poll == q.items_24h > 0 and q.open_gaps == 1 and not q.failing
    assert st.alerts == []


def test_gaps_lists_open_gaps(tmp_path: Path, database: str) -> None:
    path, store = polled(tmp_path, database)
    app = mini_app()
    empty = runner.invoke(app, ["--config", str(path), "gaps"])
    assert empty.exit_code == 0 and "No open gaps" in empty.stdout
    open_gap(store, "demo", "file", "100", "250", "Twitter rate limit reached\x1b[2J")
    result = runner.invoke(app, ["--config", str(path), "gaps", "--source", "demo"])
    assert result.exit_code == 0
    assert "250" in result.stdout and "open" in result.stdout and "\x1b" not in result.stdout
