"""The ``export`` and ``report`` commands through typer's CliRunner on a small app."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, Optional

import click
import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from socialcare.commands.reports import SPIKE_EXIT_CODE, export, report_app
from socialcare.errors import SocialcareError
from socialcare.store import Store, open_store
from tests.test_reports import add_mention, add_outbox, seed_metrics


class _Group(TyperGroup):
    """Like cli.py's root group: library errors become one line and their exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except SocialcareError as exc:
            click.echo(f"Error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None


def make_app() -> typer.Typer:
    app = typer.Typer(cls=_Group, add_completion=False)

    @app.callback()
    def _root(ctx: typer.Context, config: Optional[str] = typer.Option(None, "--config")) -> None:
        ctx.obj = {"config": config}

    app.command("export")(export)
    app.add_typer(report_app, name="report")
    return app


@pytest.fixture
def setup(tmp_path: Path, database: str) -> Iterator[tuple[Path, Store]]:
    db = database
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'database = "{db}"\ntimezone = "America/New_York"\n', encoding="utf-8")
    store = open_store(db)
    yield cfg, store
    store.close()


def run(cfg: Path, *args: str) -> Any:
    return CliRunner().invoke(make_app(), ["--config", str(cfg), *args])


PERIOD = ["--since", "2026-11-18T00:00:00Z", "--until", "2026-11-20T12:00:00Z"]


def test_export_streams_csv_to_stdout(setup: tuple[Path, Store]) -> None:
    cfg, store = setup
    add_mention(store, "1", datetime(2026, 11, 19, 10, tzinfo=timezone.utc), text="=2+3\nsecond")
    result = run(cfg, "export", "mentions")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout, newline="")))
    assert rows[0][:3] == ["id", "source", "native_id"]
    assert rows[1][9] == "'=2+3\nsecond"


def test_export_to_file_with_excel_bom(setup: tuple[Path, Store], tmp_path: Path) -> None:
    cfg, store = setup
    add_mention(store, "1", datetime(2026, 11, 19, 10, tzinfo=timezone.utc))
    target = tmp_path / "m.csv"
    result = run(cfg, "export", "mentions", "-o", str(target), "--excel")
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(b"\xef\xbb\xbfid,")
    assert result.stdout == ""


def test_export_since_without_offset_is_the_agents_zone(setup: tuple[Path, Store]) -> None:
    cfg, store = setup
    # config zone is New York (UTC-5): 2026-11-19 local midnight is 05:00Z
    add_mention(store, "a", datetime(2026, 11, 19, 4, 59, tzinfo=timezone.utc))
    add_mention(store, "b", datetime(2026, 11, 19, 5, 0, tzinfo=timezone.utc))
    result = run(cfg, "export", "mentions", "--since", "2026-11-19", "-f", "jsonl")
    assert result.exit_code == 0, result.output
    assert [json.loads(x)["id"] for x in result.stdout.splitlines()] == ["twitter:b"]


def test_export_bad_input_is_a_one_line_usage_error(setup: tuple[Path, Store]) -> None:
    cfg, _ = setup
    for args in (
        ["export", "customers"],
        ["export", "mentions", "--since", "last tuesday"],
        ["export", "mentions", "--status", "done"],
        ["export", "log", "--format", "json", "--excel"],
    ):
        result = run(cfg, *args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
        assert result.stdout == ""  # no half-written header before the error


def test_report_terminal_tables(setup: tuple[Path, Store]) -> None:
    cfg, store = setup
    seed_metrics(store)
    result = run(cfg, "report", *PERIOD)
    assert result.exit_code == 0, result.output
    for title in (
        "Mentions per day and source",
        "Sentiment mix",
        "Intent mix",
        "First-response time",
        "SLA breach rate per intent",
        "Resolution time",
        "Backlog now",
        "Replies per agent",
        "Top authors",
        "Advocates",
        "Top terms and hashtags",
    ):
        assert title in result.stdout
    assert "America/New_York" in result.stdout
    assert "█" in result.stdout and "trend " in result.stdout
    # SLA is judged as of the real now: m5 (due 2026-11-20 12:30Z) is overdue by now
    assert re.search(r"all\s+│\s+5\s+│\s+2\s+│\s+3\s+│\s+0\s+│\s+60\.0%", result.stdout)


def test_report_json_uses_the_configured_zone(setup: tuple[Path, Store]) -> None:
    cfg, store = setup
    seed_metrics(store)
    result = run(cfg, "report", *PERIOD, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["timezone"] == "America/New_York"
    # 2026-11-19 10:00Z .. 17:00Z are all on the 19th in New York; 11-20 11:30Z too
    volume = {r["day"]: r["total"] for r in doc["tables"]["volume"]["rows"]}
    assert volume == {"2026-11-17": 0, "2026-11-18": 0, "2026-11-19": 7, "2026-11-20": 1}
    assert doc["tables"]["first_response"]["rows"][0]["median_seconds"] == 1500


def test_report_week_and_source(setup: tuple[Path, Store]) -> None:
    cfg, store = setup
    seed_metrics(store)
    result = run(cfg, "report", *PERIOD, "--by", "week", "--source", "reddit", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["tables"]["volume"]["columns"] == ["week", "total", "reddit"]
    assert doc["tables"]["volume"]["rows"] == [{"week": "2026-11-16", "total": 1, "reddit": 1}]


def test_report_csv_dir(setup: tuple[Path, Store], tmp_path: Path) -> None:
    cfg, store = setup
    seed_metrics(store)
    result = run(cfg, "report", *PERIOD, "--csv", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    sla = list(csv.DictReader((tmp_path / "out" / "sla.csv").open(newline="")))
    # judged as of the real now, when m5 (due 2026-11-20 12:30Z) is overdue too
    assert sla[0] == {
        "intent": "all",
        "with_sla": "5",
        "met": "2",
        "breached": "3",
        "pending": "0",
        "breach_rate": "0.6",
    }


def test_report_html_file_is_safe(setup: tuple[Path, Store], tmp_path: Path) -> None:
    cfg, store = setup
    seed_metrics(store)
    hostile = '"><script src="http://evil.example/x.js"></script>'
    for n in ("h1", "h2"):
        add_mention(
            store, n, datetime(2026, 11, 19, 18, tzinfo=timezone.utc), author=hostile, compound=0.7
        )
    add_outbox(
        store, None, datetime(2026, 11, 19, 19, tzinfo=timezone.utc), "<b>eve</b>", kind="post"
    )
    page_path = tmp_path / "r.html"
    result = run(cfg, "report", *PERIOD, "--html", str(page_path))
    assert result.exit_code == 0, result.output
    page = page_path.read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page, re.IGNORECASE)
    assert "&quot;&gt;&lt;script src=&quot;http://evil.example/x.js&quot;&gt;" in page
    assert "&lt;b&gt;eve&lt;/b&gt;" in page
    assert "SLA breach rate per intent" in page and "<svg" in page


def test_report_bad_by_is_a_usage_error(setup: tuple[Path, Store]) -> None:
    cfg, _ = setup
    result = run(cfg, "report", "--by", "hour")
    assert result.exit_code == 2
    assert "Error: --by 'hour'" in result.stderr


def _seed_recent(store: Store, counts: list[int], text: str, prefix: str) -> None:
    """counts[i] complaints in hour window i before now (0 = the last hour), mid-window."""
    now = datetime.now(timezone.utc)
    for i, c in enumerate(counts):
        for j in range(c):
            created = now - timedelta(hours=i, minutes=30, seconds=j)
            add_mention(
                store, f"{prefix}{i}-{j}", created, text=text, compound=-0.7, intent="complaint"
            )


def test_spikes_alert_exits_9_on_a_spike(setup: tuple[Path, Store]) -> None:
    cfg, store = setup
    _seed_recent(store, [0] + [1] * 30, "slow app", "b")
    _seed_recent(store, [15], "checkout outage error", "s")
    result = run(cfg, "report", "spikes", "--window", "1h", "--alert")
    assert result.exit_code == SPIKE_EXIT_CODE == 9, result.output
    assert "SPIKE in all" in result.stdout and "outage" in result.stdout
    as_json = run(cfg, "report", "spikes", "--json")
    assert as_json.exit_code == 0  # no --alert: a spike is information, not failure
    doc = json.loads(as_json.stdout)
    assert doc[0]["spike"] is True
    assert {d["term"] for d in doc[0]["drivers"]} == {"checkout", "outage", "error"}


def test_spikes_alert_exits_0_when_quiet(setup: tuple[Path, Store]) -> None:
    cfg, store = setup
    _seed_recent(store, [2] * 30, "slow app", "b")
    result = run(cfg, "report", "spikes", "--alert", "--baseline", "24")
    assert result.exit_code == 0, result.output
    assert "SPIKE" not in result.stdout


def test_spikes_bad_window(setup: tuple[Path, Store]) -> None:
    cfg, _ = setup
    result = run(cfg, "report", "spikes", "--window", "soon")
    assert result.exit_code == 2 and "--window" in result.stderr


def test_every_command_has_help_with_an_example() -> None:
    for fn in (export, report_app.registered_callback.callback):  # type: ignore[union-attr]
        assert fn.__doc__ and "Example: socialcare " in fn.__doc__
    for cmd in report_app.registered_commands:
        assert cmd.callback and "Example: socialcare report " in (cmd.callback.__doc__ or "")
    result = CliRunner().invoke(make_app(), ["report", "spikes", "--help"])
    assert result.exit_code == 0 and "--alert" in result.stdout
