"""End-to-end CLI tests on the demo source: exit codes, output, hostile text."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socialcare.cli import app
from socialcare.store import open_store

runner = CliRunner()


@pytest.fixture
def cfg(tmp_path: Path, isolated_home: Path) -> Path:
    """A config with the demo source, polled once."""
    path = tmp_path / "config.toml"
    result = runner.invoke(app, ["--config", str(path), "init"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["--config", str(path), "poll", "--quiet"])
    assert result.exit_code == 0, result.output
    return path


def run(cfg: Path, *args: str, input: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(cfg), *args], input=input)
    return result.exit_code, result.output


def test_init_writes_config_templates_and_db(
    cfg: Path, isolated_home: Path, database: str, pg_url: str | None
) -> None:
    assert "[sources.demo]" in cfg.read_text()
    assert (isolated_home / "templates" / "apology.txt").exists()
    store = open_store(database, upgrade=False)  # the store of this run: file, or PostgreSQL
    try:
        assert store.backend == ("postgresql" if pg_url else "sqlite")
        assert store.mention_count() == 38  # init migrated it and the poll filled it
    finally:
        store.close()
    if pg_url is not None:  # SOCIALCARE_DATABASE wins: no SQLite file on the side
        assert not (isolated_home / "socialcare.db").exists()
    code, out = run(cfg, "init")
    assert code == 0 and "Kept existing config" in out


def test_queue_ranks_complaints_first_and_hides_own_posts(cfg: Path) -> None:
    code, out = run(cfg, "queue", "--jsonl")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows and all(r["author_handle"] != "AcmeHelp" for r in rows)
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    top_intents = {r["intent"] for r in rows[:5]}
    assert top_intents <= {"complaint", "question"}
    assert rows[-1]["intent"] in ("spam", "praise", "other")


def test_queue_table_is_safe_from_hostile_text(cfg: Path) -> None:
    code, out = run(cfg, "queue", "--limit", "100")
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out
    # rich markup in a stranger's text is printed literally, not interpreted
    code, out = run(cfg, "queue", "--search", "verify", "--limit", "5")
    assert "[link=http://evil.example]" in out.replace("\n", "") or "[link=" in out


def test_queue_csv_neutralises_formulas(cfg: Path) -> None:
    code, out = run(cfg, "queue", "--csv", "--search", "hacked")
    assert code == 0
    assert "'=HYPERLINK" in out
    assert ",=HYPERLINK" not in out


def test_queue_filters(cfg: Path) -> None:
    code, out = run(cfg, "queue", "--jsonl", "--intent", "question")
    assert code == 0 and out
    assert {json.loads(line)["intent"] for line in out.splitlines()} == {"question"}
    code, out = run(cfg, "queue", "--jsonl", "--search", "refund")
    assert all("refund" in json.loads(line)["text"].lower() for line in out.splitlines())
    code, out = run(cfg, "queue", "--jsonl", "--sort", "sla", "--limit", "3")
    lefts = [json.loads(line)["sla_left"] for line in out.splitlines()]
    assert lefts == sorted(lefts)


def test_explain_sums_to_queue_score(cfg: Path) -> None:
    code, out = run(cfg, "explain", "demo:1001")
    assert code == 0 and "total" in out
    assert "urgency" in out.lower() or "intent" in out.lower()


def test_unknown_id_is_one_line_exit_3(cfg: Path) -> None:
    for cmd in (["explain", "demo:nope"], ["show", "demo:nope"], ["claim", "demo:nope"],
                ["close", "demo:nope"]):  # fmt: skip
        code, out = run(cfg, *cmd)
        assert code == 3, (cmd, out)
        assert out.strip().startswith("Error: no mention with id 'demo:nope'")
        assert "Traceback" not in out


def test_malformed_config_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[sources.demo\n")
    result = runner.invoke(app, ["--config", str(bad), "queue"])
    assert result.exit_code == 2
    assert result.output.startswith("Error: ") and "not valid TOML" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_missing_credential_names_variable_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[sources.twitter]\nqueries = ["acme"]\n')
    result = runner.invoke(app, ["--config", str(path), "poll", "--source", "twitter"])
    assert result.exit_code == 2
    assert "TWITTER_BEARER_TOKEN" in result.output and "Traceback" not in result.output


def test_sources_lists_adapters_and_readiness(cfg: Path) -> None:
    code, out = run(cfg, "sources")
    assert code == 0
    assert "demo" in out and "twitter" in out and "reddit" in out


def test_claim_conflict_and_force(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(cfg, "claim", "demo:1001")[0] == 0
    monkeypatch.setenv("SOCIALCARE_AGENT", "bob")
    code, out = run(cfg, "claim", "demo:1001")
    assert code == 7 and "claimed by alice" in out
    code, out = run(cfg, "claim", "demo:1001", "--force")
    assert code == 0 and "taken over from alice" in out
    assert run(cfg, "release", "demo:1001")[0] == 0
    assert run(cfg, "assign", "demo:1001", "--to", "carol")[0] == 0
    code, out = run(cfg, "queue", "--jsonl", "--assignee", "carol")
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["demo:1001"]


def test_reply_dry_run_then_send_then_refuse_second(cfg: Path, isolated_home: Path) -> None:
    code, out = run(cfg, "reply", "demo:1013", "Hi {first_name}, 10am-4pm!", "--dry-run")
    assert code == 0 and "Would send" in out and "Hi Ben, 10am-4pm!" in out
    assert not (isolated_home / "demo-sent.jsonl").exists()
    code, out = run(cfg, "reply", "demo:1013", "Hi {first_name}, 10am-4pm!")
    assert code == 0 and "Sent reply #1" in out
    sent = (isolated_home / "demo-sent.jsonl").read_text().splitlines()
    assert len(sent) == 1 and json.loads(sent[0])["in_reply_to"] == "1013"
    code, out = run(cfg, "reply", "demo:1013", "again")
    assert code == 7 and "already has a sent reply" in out
    assert len((isolated_home / "demo-sent.jsonl").read_text().splitlines()) == 1
    code, out = run(cfg, "queue", "--jsonl", "--status", "replied")
    assert "demo:1013" in out


def test_reply_template_and_unknown_placeholder(cfg: Path, isolated_home: Path) -> None:
    code, out = run(cfg, "reply", "demo:1001", "--template", "apology", "--no-edit", "--dry-run")
    assert code == 0 and "Hi María" in out
    code, out = run(cfg, "reply", "demo:1001", "Dear {customer}")
    assert code == 2 and "unknown placeholder {customer}" in out
    code, out = run(cfg, "reply", "demo:1001", "--template", "nosuch", "--no-edit")
    assert code == 3 and "no template 'nosuch'" in out
    assert not (isolated_home / "demo-sent.jsonl").exists()


def test_reply_length_limit(cfg: Path) -> None:
    code, out = run(cfg, "reply", "demo:1001", "x" * 281)
    assert code == 2 and "limit is 280" in out


def fake_editor(tmp_path: Path, body: str) -> str:
    script = tmp_path / "editor.py"
    script.write_text(
        "import sys\n"
        "path = sys.argv[1]\n"
        "original = open(path).read()\n"
        f"open(path, 'w').write({body!r} + '\\n' + original)\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return f"{sys.executable} {script}"


def test_reply_in_editor(cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         isolated_home: Path) -> None:  # fmt: skip
    monkeypatch.setenv("EDITOR", fake_editor(tmp_path, "Sorry Jo, here is how: ..."))
    code, out = run(cfg, "reply", "demo:1019")
    assert code == 0, out
    sent = json.loads((isolated_home / "demo-sent.jsonl").read_text().splitlines()[0])
    assert sent["text"] == "Sorry Jo, here is how: ..."  # comment lines stripped


def test_empty_editor_message_aborts(cfg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     isolated_home: Path) -> None:  # fmt: skip
    monkeypatch.setenv("EDITOR", fake_editor(tmp_path, ""))
    code, out = run(cfg, "reply", "demo:1019")
    assert code == 2 and "empty reply" in out
    assert not (isolated_home / "demo-sent.jsonl").exists()


def test_status_actions_and_log(cfg: Path) -> None:
    assert run(cfg, "close", "demo:1002")[0] == 0
    code, out = run(cfg, "queue", "--jsonl", "--limit", "100")
    assert "demo:1002" not in out
    assert run(cfg, "reopen", "demo:1002")[0] == 0
    assert run(cfg, "snooze", "demo:1002", "--until", "2h")[0] == 0
    code, out = run(cfg, "queue", "--jsonl", "--limit", "100")
    assert "demo:1002" not in out
    code, out = run(cfg, "snooze", "demo:1002", "--until", "2020-01-01T00:00")
    assert code == 2 and "past" in out
    code, out = run(cfg, "snooze", "demo:1002", "--until", "tomorrowish")
    assert code == 2 and "cannot read" in out
    assert run(cfg, "tag", "demo:1002", "outage", "manchester")[0] == 0
    assert run(cfg, "note", "demo:1002", "Escalated to network ops")[0] == 0
    code, out = run(cfg, "log", "--mention", "demo:1002")
    assert code == 0
    for action in ("close", "reopen", "snooze", "tag", "note"):
        assert action in out


def test_show_has_thread_history_and_escapes(cfg: Path) -> None:
    code, out = run(cfg, "show", "demo:1030", "--offline")
    assert code == 0, out
    assert "demo:1001" in out and "demo:1006" in out  # María's earlier messages
    code, out = run(cfg, "show", "demo:1010", "--offline")
    assert code == 0 and "\x1b" not in out and "[bold red]ADMIN[/bold red]" in out.replace("\n", "")


def test_customer_link_and_show(cfg: Path) -> None:
    code, out = run(cfg, "customer", "link", "demo:1001", "demo:1017")
    assert code == 0 and "customer" in out
    code, out = run(cfg, "customer", "show", "demo:u16")
    assert code == 0 and "demo:1001" in out and "demo:1017" in out
    assert run(cfg, "customer", "unlink", "demo:1017")[0] == 0
    code, out = run(cfg, "customer", "show", "demo:u16")
    assert "demo:1001" not in out


def test_outbox_lists_failed_and_retry_refuses_sent(cfg: Path) -> None:
    code, out = run(cfg, "outbox")
    assert code == 0 and "clear" in out
    run(cfg, "reply", "demo:1013", "hello")
    code, out = run(cfg, "outbox", "retry", "1")
    assert code == 7 and "only failed, unknown or sending" in out
    code, out = run(cfg, "outbox", "retry", "99")
    assert code == 3


def test_templates_lists_starters(cfg: Path) -> None:
    code, out = run(cfg, "templates")
    assert code == 0 and "apology" in out and "{first_name}" in out


def test_triage_all_rescores(cfg: Path) -> None:
    code, out = run(cfg, "triage", "--all")
    assert code == 0 and "Re-scored 38 mentions" in out
    assert run(cfg, "triage")[0] == 2


def test_work_loop_via_runner(cfg: Path, isolated_home: Path) -> None:
    # skip the top one, close the next, reply by template to the third (yes), then quit
    code, out = run(cfg, "work", input="s\nc\nt\n1\ny\nq\n")
    assert code == 0, out
    assert "Handled 2 mention(s)" in out
    assert len((isolated_home / "demo-sent.jsonl").read_text().splitlines()) == 1


def test_debug_env_reraises(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALCARE_DEBUG", "1")
    result = runner.invoke(app, ["--config", str(cfg), "explain", "demo:nope"])
    assert result.exit_code != 0 and result.exception is not None


def test_no_secrets_in_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[sources.twitter]\nqueries = ["acme"]\n')
    monkeypatch.setenv("TWITTER_BEARER_TOKEN", "SECRET-TOKEN-VALUE-123")
    result = runner.invoke(app, ["--config", str(path), "sources"])
    assert "SECRET-TOKEN-VALUE-123" not in result.output
    assert os.environ["TWITTER_BEARER_TOKEN"] == "SECRET-TOKEN-VALUE-123"


@pytest.mark.parametrize(
    "args",
    [
        ["show", "demo:1010", "--offline"],
        ["explain", "demo:1010"],
        ["customer", "show", "demo:1010"],
        ["queue", "--status", "all", "--limit", "100"],
        ["log", "--mention", "demo:1010"],
        ["export", "mentions"],
        ["report"],
        ["status"],
    ],
)
def test_hostile_text_never_reaches_the_terminal(cfg: Path, args: list[str]) -> None:
    run(cfg, "note", "demo:1010", "\x1b[2Jnote with [bold]markup[/bold]")
    code, out = run(cfg, *args)
    assert code == 0, out
    for bad in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert bad not in out, (args, bad)


def test_hostile_markup_is_shown_literally_in_show(cfg: Path) -> None:
    code, out = run(cfg, "show", "demo:1010", "--offline")
    flat = out.replace("\n", "")
    assert "[link=http://evil.example]Click" in flat
    assert "YOUR ACCOUNT IS SUSPENDED" in flat


def test_an_unknown_reply_is_listed_alerts_blocks_replies_and_retry_finds_it(
    cfg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo platform took the reply, but the answer was lost: one post, whatever follows."""
    from socialcare.errors import SendOutcomeUnknown
    from socialcare.sources.demo import DemoSource

    publish = DemoSource.reply

    def lost_answer(self: DemoSource, mention: object, text: str) -> object:
        publish(self, mention, text)  # type: ignore[arg-type]
        raise SendOutcomeUnknown("demo: the answer was lost: it may have been published")

    monkeypatch.setattr(DemoSource, "reply", lost_answer)
    code, out = run(cfg, "reply", "demo:1013", "hello")
    assert code == 8 and "may or may not have been posted" in out and "outbox retry 1" in out
    monkeypatch.setattr(DemoSource, "reply", publish)
    code, out = run(cfg, "outbox")
    assert code == 0 and "unknown" in out and "demo:" in out
    code, out = run(cfg, "status", "--alert")
    assert code == 10 and "may or may not have been posted (#1)" in out
    code, out = run(cfg, "reply", "demo:1013", "hello again", "--force")
    assert code == 7 and "outbox retry 1" in out
    code, out = run(cfg, "outbox", "retry", "1")
    assert code == 0 and "already on the platform" in out
    sent = (cfg.parent / "home" / "demo-sent.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(sent) == 1 and json.loads(sent[0])["idempotency_key"]
    assert run(cfg, "status", "--alert")[0] == 0
    code, out = run(cfg, "outbox", "resolve", "1", "--sent")
    assert code == 7 and "only unknown or sending" in out
    assert run(cfg, "outbox", "resolve", "1")[0] == 2
