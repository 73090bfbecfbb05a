"""The ``followup``, ``post`` and ``due`` commands: exit codes and output through CliRunner.

The commands are mounted on a small typer app whose root group is the real
CLI's error handler (``socialcare.cli._Group``) when it imports, so library
errors show up here exactly as users see them: one line and the exit code.
Overlapping ``due`` runs are real processes sharing one file store.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
import typer
from typer.testing import CliRunner

from socialcare import followups
from socialcare.commands.followups import due, followup_app, post_app
from socialcare.config import Config
from socialcare.errors import SocialcareError
from socialcare.models import utcnow
from socialcare.store import Row, Store, open_store
from tests.test_followups import (
    CHECKIN,
    REPO,
    add_mention,
    make_config,
    register_fakes,
    sent,
    write_templates,
)

try:
    from socialcare.cli import _Group as RootGroup
except Exception:  # cli.py is being changed by others; keep the same contract here
    from typer.core import TyperGroup

    class RootGroup(TyperGroup):  # type: ignore[no-redef]
        def invoke(self, ctx: Any) -> Any:
            try:
                return super().invoke(ctx)
            except SocialcareError as exc:
                typer.echo(f"Error: {exc}", err=True)
                raise typer.Exit(exc.exit_code) from None


def build_app() -> typer.Typer:
    """The three pieces as cli.py mounts them, under a root with ``--config``."""
    app = typer.Typer(cls=RootGroup, add_completion=False, rich_markup_mode=None)

    @app.callback()
    def _root(ctx: typer.Context, config: Optional[str] = typer.Option(None, "--config")) -> None:
        ctx.obj = {"config": config}

    app.add_typer(followup_app, name="followup")
    app.add_typer(post_app, name="post")
    app.command("due")(due)
    return app


CONFIG = """
database = "{db}"
agent = "alice"
timezone = "Europe/London"
templates_dir = "{templates}"

[sources.fake]
log = "{log}"
{fake}

[sources.plain]
log = "{log}"
"""


def write_config(workdir: Path, database: str, **fake: Any) -> Path:
    path = workdir / "config.toml"
    extra = "\n".join(f"{k} = {json.dumps(v)}" for k, v in fake.items())
    path.write_text(
        CONFIG.format(
            db=database,
            templates=workdir / "templates",
            log=workdir / "sent.jsonl",
            fake=extra,
        ),
        encoding="utf-8",
    )
    return path


class Env:
    """A config file, its file store and a way to run commands against them."""

    def __init__(self, workdir: Path, database: str) -> None:
        self.workdir = workdir
        self.database = database
        self.config_path = write_config(workdir, database)
        self.store = open_store(database)
        self.cfg: Config = make_config(self.store.path, workdir)
        self.app = build_app()

    def run(self, *args: str) -> Any:
        return CliRunner().invoke(self.app, ["--config", str(self.config_path), *args])

    def overdue(self, mention: str = "1", **kw: Any) -> Row:
        """A follow-up that was scheduled a day ago for an hour ago (so it is due now)."""
        mid = add_mention(self.store, mention, author=f"a{mention}")
        past = utcnow() - timedelta(days=1)
        item_id = followups.schedule_followup(
            self.cfg,
            self.store,
            mid,
            when=utcnow() - timedelta(hours=1),
            agent="alice",
            template="checkin",
            now=past,
            **kw,
        )
        return self.store.outbox_get(item_id)


@pytest.fixture(autouse=True)
def fakes() -> Iterator[None]:
    from socialcare.sources import registry

    register_fakes()
    yield
    registry.unregister("fake")
    registry.unregister("plain")


@pytest.fixture
def env(tmp_path: Path, database: str) -> Iterator[Env]:
    write_templates(tmp_path)
    e = Env(tmp_path, database)
    yield e
    e.store.close()


def outbox(store: Store) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in store.conn.execute("SELECT * FROM outbox ORDER BY id")]


# -- followup ----------------------------------------------------------------------------
def test_followup_add_at_a_london_summer_time_is_stored_in_utc_and_shown_in_bst(
    env: Env,
) -> None:
    add_mention(env.store, "1")
    result = env.run(
        "followup", "add", "fake:1", "--at", "2027-03-28T09:00", "--template", "checkin"
    )
    assert result.exit_code == 0, result.stderr
    assert "due 2027-03-28 09:00 BST" in result.stdout
    [item] = followups.list_followups(env.store)
    assert item["due_at"] == "2027-03-28T08:00:00Z"
    listed = env.run("followup", "list")
    assert "2027-03-28 09:00 BST" in listed.stdout and "template checkin" in listed.stdout
    shown = env.run("followup", "show", str(item["id"]))
    assert "2027-03-28 09:00 BST (2027-03-28T08:00:00Z)" in shown.stdout


def test_followup_add_refuses_unknown_placeholders_and_past_times(env: Env) -> None:
    add_mention(env.store, "1")
    bad = env.run("followup", "add", "fake:1", "--in", "2d", "--text", "Hi {nick}")
    assert bad.exit_code == 2
    assert bad.stderr.startswith("Error: template: unknown placeholder {nick}")
    past = env.run("followup", "add", "fake:1", "--at", "2020-01-01T09:00", "--text", "hi")
    assert past.exit_code == 2 and "is in the past" in past.stderr
    neither = env.run("followup", "add", "fake:1", "--text", "hi")
    assert neither.exit_code == 2 and "say when" in neither.stderr
    unknown = env.run("followup", "add", "fake:404", "--in", "1d", "--text", "hi")
    assert unknown.exit_code == 3
    assert outbox(env.store) == []


def test_followup_list_filters_by_status_agent_and_due(env: Env) -> None:
    env.overdue("1")
    add_mention(env.store, "2", author="b")
    later_id = followups.schedule_followup(
        env.cfg, env.store, "fake:2", when=utcnow() + timedelta(days=2), agent="bob", text="hi"
    )
    everything = env.run("followup", "list").stdout
    assert "fake:1" in everything and "fake:2" in everything
    only_due = env.run("followup", "list", "--due").stdout
    assert "fake:1" in only_due and "fake:2" not in only_due
    bobs = env.run("followup", "list", "--agent", "bob").stdout
    assert "fake:2" in bobs and "fake:1" not in bobs
    env.run("followup", "cancel", str(later_id))
    assert "fake:2" not in env.run("followup", "list").stdout
    assert "cancelled" in env.run("followup", "list", "--status", "cancelled").stdout
    wrong = env.run("followup", "list", "--status", "done")
    assert wrong.exit_code == 2 and "unknown status 'done'" in wrong.stderr


def test_edit_and_cancel_work_only_while_pending(env: Env) -> None:
    item = env.overdue("1")
    edited = env.run("followup", "edit", str(item["id"]), "--text", "Still ok, {first_name}?")
    assert edited.exit_code == 0, edited.stderr
    assert env.store.outbox_get(item["id"])["text"] == "Still ok, Maria?"
    assert env.run("due", "--quiet").exit_code == 0
    again = env.run("followup", "edit", str(item["id"]), "--in", "1d")
    assert again.exit_code == 7 and "only pending ones can be edited" in again.stderr
    cancel = env.run("followup", "cancel", str(item["id"]))
    assert cancel.exit_code == 7
    assert "is sent: only pending or failed items can be cancelled" in cancel.stderr
    assert [s["text"] for s in sent(env.workdir)] == ["Still ok, Maria?"]


# -- post ---------------------------------------------------------------------------------
def test_post_add_list_cancel(env: Env, tmp_path: Path) -> None:
    announcement = tmp_path / "news.txt"
    announcement.write_text("Maintenance tonight 22:00-23:00.\n", encoding="utf-8")
    added = env.run("post", "add", "--source", "fake", "--in", "2h", "--file", str(announcement))
    assert added.exit_code == 0, added.stderr
    second = env.run("post", "add", "-s", "fake", "--at", "2030-01-01T09:00", "--text", "Hi")
    assert "due 2030-01-01 09:00 GMT" in second.stdout
    listed = env.run("post", "list").stdout
    assert "Maintenance tonight" in listed and "2030-01-01 09:00 GMT" in listed
    first_id = followups.list_posts(env.store)[0]["id"]
    assert env.run("post", "cancel", str(first_id)).exit_code == 0
    assert "Maintenance" not in env.run("post", "list").stdout
    both = env.run("post", "add", "-s", "fake", "--in", "1h", "--text", "a", "--file", "x")
    assert both.exit_code == 2 and "exactly one of --text or --file" in both.stderr
    as_followup = env.run("followup", "cancel", str(first_id))
    assert as_followup.exit_code == 3 and "is a post, not a followup" in as_followup.stderr


def test_post_add_refuses_a_source_that_is_not_set_up(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    unknown = env.run("post", "add", "--source", "mastodon", "--in", "1h", "--text", "Hi")
    assert unknown.exit_code == 2
    assert "source 'mastodon' is not configured: add a [sources.mastodon] table" in unknown.stderr
    with env.config_path.open("a", encoding="utf-8") as f:
        f.write('\n[sources.twitter]\nqueries = ["acme"]\n')
    monkeypatch.delenv("TWITTER_BEARER_TOKEN", raising=False)
    no_token = env.run("post", "add", "--source", "twitter", "--in", "1h", "--text", "Hi")
    assert no_token.exit_code == 2 and "TWITTER_BEARER_TOKEN" in no_token.stderr
    assert outbox(env.store) == []


def _cli(env: Env, *args: str) -> Any:
    from socialcare.cli import app

    return CliRunner().invoke(app, ["--config", str(env.config_path), *args])


def test_a_failed_post_can_be_cancelled_and_is_never_sent(env: Env) -> None:
    write_config(env.workdir, env.database, fail=True)
    item_id = followups.schedule_post(
        env.cfg, env.store, "fake", when=utcnow() - timedelta(minutes=5), text="Down tonight",
        agent="alice", now=utcnow() - timedelta(hours=1),
    )  # fmt: skip
    assert env.run("due", "--quiet").exit_code == 8
    assert env.store.outbox_get(item_id)["status"] == "failed"
    retried = _cli(env, "outbox", "retry", str(item_id))
    assert retried.exit_code == 8
    assert retried.output.count("403 you are not allowed") == 1  # said once, not twice
    cancelled = _cli(env, "outbox", "cancel", str(item_id))
    assert cancelled.exit_code == 0, cancelled.output
    assert f"Cancelled outbox item {item_id} (post)" in cancelled.output
    assert env.store.outbox_get(item_id)["status"] == "cancelled"
    [event] = env.store.events(action="post_cancelled")
    detail = json.loads(event["detail"])
    assert detail["outbox_id"] == item_id and detail["previous"] == "failed"
    write_config(env.workdir, env.database)  # the platform works again: still nothing goes out
    assert env.run("due", "--quiet").exit_code == 0 and sent(env.workdir) == []
    again = _cli(env, "outbox", "cancel", str(item_id))
    assert again.exit_code == 7 and "is cancelled" in again.output


# -- due ------------------------------------------------------------------------------------
def test_due_sends_and_reports(env: Env) -> None:
    item = env.overdue("1")
    result = env.run("due")
    assert result.exit_code == 0, result.stderr
    assert f"sent followup {item['id']} (fake:1)" in result.stdout
    assert "Sent 1, skipped 0, failed 0" in result.stdout
    assert [s["text"] for s in sent(env.workdir)] == [
        CHECKIN.format(first_name="Maria", agent="alice")
    ]


def test_due_quiet_prints_nothing_when_all_went_well(env: Env) -> None:
    env.overdue("1")
    result = env.run("due", "--quiet")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert len(sent(env.workdir)) == 1


def test_due_dry_run_shows_and_changes_nothing(env: Env) -> None:
    item = env.overdue("1")
    before = outbox(env.store)
    result = env.run("due", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert f"would send followup {item['id']} (fake:1): Hi Maria" in result.stdout
    assert "Would send 1, skip 0, fail 0 (dry run: nothing changed)" in result.stdout
    assert outbox(env.store) == before and sent(env.workdir) == []


def test_due_exits_8_when_something_failed(env: Env) -> None:
    write_config(env.workdir, env.database, fail=True)
    item = env.overdue("1")
    result = env.run("due", "--quiet")
    assert result.exit_code == 8
    assert result.stdout == ""
    assert f"failed followup {item['id']}" in result.stderr
    assert "Error: 1 of 1 due item(s) failed to send" in result.stderr
    assert env.store.outbox_get(item["id"])["status"] == "failed"


CHILD_DUE = """
    import sys
    from tests.test_due_cli import build_app
    from tests.test_followups import register_fakes

    register_fakes()
    build_app()(["--config", sys.argv[1], "due"], prog_name="socialcare")
"""


def test_overlapping_due_runs_send_once_and_the_second_exits_6(env: Env) -> None:
    started, release = env.workdir / "started", env.workdir / "release"
    write_config(env.workdir, env.database, started=str(started), release=str(release))
    item = env.overdue("1")
    cmd = [sys.executable, "-c", textwrap.dedent(CHILD_DUE), str(env.config_path)]
    first = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.05)
        assert started.exists(), "the first run never reached the platform"
        second = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
        assert second.returncode == 6, second.stderr
        assert "another 'due' run holds the lock" in second.stderr
        assert len(sent(env.workdir)) == 1  # only the first run's send
    finally:
        release.write_text("go")
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert len(sent(env.workdir)) == 1
    assert env.store.outbox_get(item["id"])["status"] == "sent"


def test_every_command_has_help_ending_with_an_example() -> None:
    commands = {
        "followup": followup_app,
        "post": post_app,
    }
    docs = [due.__doc__ or ""]
    for group in commands.values():
        docs += [(c.callback.__doc__ or "") for c in group.registered_commands if c.callback]
    assert len(docs) == 9
    for doc in docs:
        assert inspect.cleandoc(doc).splitlines()[-1].startswith("Example: socialcare ")


def test_lists_say_that_ids_are_outbox_numbers(env: Env) -> None:
    env.overdue("1")
    followups.schedule_post(
        env.cfg, env.store, "fake", when=utcnow() + timedelta(hours=2), text="Hi", agent="alice"
    )
    for group in ("followup", "post"):
        out = env.run(group, "list").stdout
        assert "ids are outbox item numbers, shared with replies and posts" in out
