"""``socialcare kb ...`` through CliRunner, mounted on a small root app like the real one."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from socialcare.commands.kb import NO_MATCH, kb_app, suggestions_text
from socialcare.errors import SocialcareError
from socialcare.kb import Suggestion

DOCS = Path(__file__).parent / "fixtures" / "kb" / "docs"
SITE = Path(__file__).parent / "fixtures" / "kb" / "site"


class _Group(TyperGroup):
    """The real CLI's contract: a library error is one ``Error:`` line and its exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except SocialcareError as exc:
            click.echo(f"Error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None


def _app(transport: httpx.BaseTransport | None = None) -> typer.Typer:
    app = typer.Typer(cls=_Group)

    @app.callback()
    def _root(ctx: typer.Context, config: str = typer.Option(None, "--config")) -> None:
        ctx.obj = {"config": config, "http_transport": transport}

    app.add_typer(kb_app, name="kb")
    return app


@pytest.fixture
def cli(tmp_path: Path, database: str) -> Any:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'database = "{database}"\n')  # a SQLite file, or the PostgreSQL URL
    runner = CliRunner()

    def run(*args: str, transport: httpx.BaseTransport | None = None) -> Any:
        return runner.invoke(_app(transport), ["--config", str(cfg), "kb", *args])

    return run


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "docs"
    shutil.copytree(DOCS, target)
    return target


def test_add_list_show_search_remove(cli: Any, folder: Path) -> None:
    res = cli("add", str(folder))
    assert res.exit_code == 0, res.output
    assert f"#1 folder {folder.resolve()}: 5 articles (5 new, 0 updated, 0 removed)" in res.output

    listed = cli("list")
    assert listed.exit_code == 0 and str(folder.resolve()) in listed.output
    assert "folder" in listed.output and "     5" in listed.output

    articles = cli("list", "--articles")
    assert "Using your phone abroad" in articles.output
    assert "https://help.acme.example/articles/roaming" in articles.output

    shown = cli("show", "https://help.acme.example/articles/roaming")
    assert shown.exit_code == 0
    assert "tags:      roaming, travel" in shown.output and "data roaming" in shown.output

    found = cli("search", 'my data ROAMING isn\'t working abroad "NEAR(" -x*')
    assert found.exit_code == 0, found.output
    assert found.output.splitlines()[0].endswith("Using your phone abroad")
    assert "clear the suggestion threshold" in found.output

    removed = cli("remove", "1")
    assert "Removed source #1" in removed.output and "5 articles" in removed.output
    assert "No sources yet" in cli("list").output


def test_search_says_when_nothing_matches_well_enough(cli: Any, folder: Path) -> None:
    cli("add", str(folder))
    res = cli("search", "--suggest", "happy friday everyone, love the new advert")
    assert res.exit_code == 0
    assert NO_MATCH in res.output


def test_refresh_reports_changes(cli: Any, folder: Path) -> None:
    cli("add", str(folder))
    (folder / "store-hours.txt").unlink()
    res = cli("refresh")
    assert res.exit_code == 0
    assert "4 articles (0 new, 0 updated, 1 removed)" in res.output
    changed = next(p for p in sorted(folder.iterdir()) if p.suffix in (".md", ".txt"))
    changed.write_text(changed.read_text("utf-8") + "\nNew: refunds now take 3 days.\n", "utf-8")
    res = cli("refresh")
    assert "4 articles (0 new, 1 updated, 0 removed)" in res.output
    res = cli("refresh")
    assert "4 articles (0 new, 0 updated, 0 removed)" in res.output


def test_remote_add_and_not_modified_refresh(cli: Any) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if request.headers.get("If-None-Match") == '"x"':
            return httpx.Response(304)
        body = (SITE / "feed.xml").read_bytes()
        return httpx.Response(
            200, content=body, headers={"ETag": '"x"', "Content-Type": "text/xml"}
        )

    transport = httpx.MockTransport(handler)
    url = "https://help.acme.example/feed.xml"
    assert "2 articles (2 new" in cli("add", url, transport=transport).output
    res = cli("refresh", url, transport=transport)
    assert res.exit_code == 0 and "not modified, 2 articles" in res.output
    assert len(calls) == 2


def test_errors_are_one_line_with_exit_codes(cli: Any, tmp_path: Path, folder: Path) -> None:
    res = cli("add", str(tmp_path / "missing"))
    assert res.exit_code == 3
    assert "Error:" in res.output and "no such file or folder" in res.output

    res = cli("add", str(tmp_path / "missing"), str(folder), "ftp://x.example/kb")
    assert res.exit_code == 3  # the first failure's code, after indexing what it could
    assert "2 of 3 sources failed" in res.output and "5 articles" in res.output

    assert cli("show", "999").exit_code == 3
    assert cli("remove", "nothing-here").exit_code == 3


def test_bad_kb_config_is_a_config_error(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(cfg.read_text() + "[kb]\nthreshold = 7\n")
    res = cli("list")
    assert res.exit_code == 2 and "[kb] threshold must be between 0 and 1" in res.output


def test_report(cli: Any) -> None:
    res = cli("report")
    assert res.exit_code == 0
    assert "Sent replies: 0; with an article: 0 (0%)" in res.output
    js = cli("report", "--json", "--since", "30d")
    assert js.exit_code == 0 and '"questions_without_article": 0' in js.output


@pytest.mark.parametrize(
    "command", ["add", "refresh", "list", "show", "remove", "search", "report"]
)
def test_every_command_has_help_ending_with_an_example(command: str) -> None:
    res = CliRunner().invoke(_app(), ["kb", command, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    assert f"Example: socialcare kb {command}" in res.output


def test_suggestions_text_numbers_them_or_says_no_match() -> None:
    assert suggestions_text([]).plain == NO_MATCH
    s = Suggestion(3, "Roaming\x1b[2J", "https://h/r", 0.5, "", 1.0)
    assert suggestions_text([s, s]).plain.splitlines() == [
        "[1] 0.50 Roaming  https://h/r",
        "[2] 0.50 Roaming  https://h/r",
    ]
