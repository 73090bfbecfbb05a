"""Replying to reviews from the CLI: the one-response rule and Google Play's 350 characters.

The adapters are built from config by the app, as in real use; ``respx`` answers their
httpx clients at the transport, so the real request building and parsing run.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import respx
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from socialcare.app import Socialcare
from socialcare.cli import app
from socialcare.config import Config
from socialcare.errors import Conflict, UsageError
from socialcare.models import Mention
from tests.sources.test_appstore import API, APP, R3, R4, key_file, load

__all__ = ["key_file"]  # the fixture, used by name

runner = CliRunner()
LISTING = f"{API}/v1/apps/{APP}/customerReviews"
RESPONSES = f"{API}/v1/customerReviewResponses"


@pytest.fixture
def cfg(tmp_path: Path, database: str, key_file: ec.EllipticCurvePrivateKey) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'database = "{database}"\nagent = "alice"\nbrand_handles = ["AcmeHelp"]\n'
        f'[sources.appstore]\napps = ["{APP}"]\nlimit = 2\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def apple() -> Iterator[respx.MockRouter]:
    """App Store Connect: the two fixture pages, then created responses."""
    page2 = load("reviews_page2.json")
    with respx.mock(assert_all_called=False) as router:
        first = {"page": load("reviews_page1.json")}  # a test may swap in an edited page

        def listing(request: httpx.Request) -> httpx.Response:
            page = page2 if "cursor" in request.url.params else first["page"]
            return httpx.Response(200, json=page)

        router.first = first  # type: ignore[attr-defined]

        router.get(LISTING).mock(side_effect=listing)
        router.post(RESPONSES).mock(
            return_value=httpx.Response(201, json=load("response_created.json"))
        )
        yield router


def run(cfg: Path, *args: str, input: str | None = None) -> Any:
    result = runner.invoke(app, ["--config", str(cfg), *args], input=input)
    result.flat = " ".join(result.output.split())  # rich wraps long warnings
    return result


def posts(router: respx.MockRouter) -> list[dict[str, Any]]:
    return [json.loads(c.request.content) for c in router.calls if c.request.method == "POST"]


def polled(cfg: Path) -> None:
    result = run(cfg, "poll", "--quiet")
    assert result.exit_code == 0, result.output


def test_replying_to_a_review_with_a_response_warns_and_asks_first(
    cfg: Path, apple: respx.MockRouter
) -> None:
    polled(cfg)
    result = run(cfg, "reply", f"appstore:{R3}", "Sync is faster in 4.3!", input="n\n")
    assert result.exit_code == 2
    assert "App Store Connect keeps one response per review" in result.flat
    assert "Thanks! Sync speed-ups ship in 4.3 next week." in result.flat
    assert "Replace it?" in result.output and posts(apple) == []
    result = run(cfg, "reply", f"appstore:{R3}", "Sync is faster in 4.3!", input="y\n")
    assert result.exit_code == 0, result.output
    assert "Sent reply" in result.output
    [body] = posts(apple)
    assert body["data"]["attributes"]["responseBody"] == "Sync is faster in 4.3!"
    assert body["data"]["relationships"]["review"]["data"]["id"] == R3


def test_a_second_reply_replaces_the_first_and_says_so(cfg: Path, apple: respx.MockRouter) -> None:
    polled(cfg)
    first = run(cfg, "reply", f"appstore:{R4}", "Sorry! 4.2.1 fixes the crash.")
    assert first.exit_code == 0, first.output
    assert "Warning" not in first.output and "Replace it?" not in first.output
    again = run(cfg, "reply", f"appstore:{R4}", "4.2.1 is live now.", "--replace")
    assert again.exit_code == 0, again.output
    assert "replaces the response already there" in again.flat
    assert "Sorry! 4.2.1 fixes the crash." in again.flat  # what is being replaced
    assert [p["data"]["attributes"]["responseBody"] for p in posts(apple)] == [
        "Sorry! 4.2.1 fixes the crash.",
        "4.2.1 is live now.",
    ]


def test_dry_run_shows_the_warning_without_asking(cfg: Path, apple: respx.MockRouter) -> None:
    polled(cfg)
    result = run(cfg, "reply", f"appstore:{R3}", "Hello", "--dry-run")
    assert result.exit_code == 0
    assert "replaces the response already there" in result.flat and "Would send" in result.output
    assert posts(apple) == []


def test_the_library_refuses_a_second_response_unless_told_to_replace(
    cfg: Path, apple: respx.MockRouter
) -> None:
    polled(cfg)
    sc = Socialcare.from_config_file(cfg)
    try:
        with pytest.raises(Conflict, match="already answered"):
            sc.reply(f"appstore:{R3}", text="Hi")
        outcome = sc.reply(f"appstore:{R3}", text="Hi", replace=True)
        assert (outcome.item or {})["status"] == "sent"
        assert outcome.replaces and "Thanks! Sync" in outcome.replaces
        assert sc.reply_replaces("appstore:" + R4) is None
    finally:
        sc.shutdown()


@pytest.fixture
def play(database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Socialcare]:
    monkeypatch.setenv("GOOGLEPLAY_SERVICE_ACCOUNT_FILE", str(tmp_path / "unused.json"))
    cfg = Config(
        database=database,
        agent="alice",
        sources={"googleplay": {"packages": ["com.acme.lists"]}},
    )
    sc = Socialcare(cfg)
    sc.store.upsert_mentions(
        [
            Mention(
                source="googleplay",
                native_id="gp:AOqpTOFmAVORqfWGcaqfF39ftwFjGkjecjvCXnC9m0bKQ4",
                text="Widget broke after update",
                created_at=datetime(2024, 5, 13, 9, 0, tzinfo=timezone.utc),
                author_id="review:gp:1",
                author_handle="Priya",
                query="com.acme.lists",
                kind="review",
                rating=2,
            )
        ]
    )
    yield sc
    sc.shutdown()


def test_google_play_refuses_351_characters_before_anything_is_sent(play: Socialcare) -> None:
    mid = "googleplay:gp:AOqpTOFmAVORqfWGcaqfF39ftwFjGkjecjvCXnC9m0bKQ4"
    with respx.mock(assert_all_called=False) as router:
        with pytest.raises(UsageError, match="351 characters.*limit is 350"):
            play.reply(mid, text="x" * 351)
        assert len(router.calls) == 0
    assert play.store.outbox_for_mention(mid) == []
    assert play.reply(mid, text="x" * 350, dry_run=True).limit == 350


def test_work_asks_before_replacing_the_response_of_a_reopened_review(
    cfg: Path, apple: respx.MockRouter
) -> None:
    polled(cfg)
    german = load("reviews_page2.json")["data"][0]["id"]
    for mid in (R4, german):
        assert run(cfg, "close", f"appstore:{mid}").exit_code == 0
    edited = load("reviews_page1.json")
    sync = edited["data"][1]
    sync["attributes"].update(rating=2, createdDate="2024-05-14T09:00:00Z")
    edited["data"] = [sync]
    edited["links"].pop("next")
    apple.first["page"] = edited  # type: ignore[attr-defined]
    result = run(cfg, "poll")
    assert result.exit_code == 0 and "1 reopened" in result.flat
    result = run(cfg, "work", input="r\nSorry, 4.3 fixes sync.\nn\nq\n")
    assert "replaces the response already there" in result.flat and posts(apple) == []
    result = run(cfg, "work", input="r\nSorry, 4.3 fixes sync.\ny\ny\n")  # replace, then send
    assert result.exit_code == 0, result.output
    assert "Sent reply" in result.flat and "Queue is clear" in result.flat
    [body] = posts(apple)
    assert body["data"]["relationships"]["review"]["data"]["id"] == R3


def test_show_prints_the_stars_and_platform_extras(cfg: Path, apple: respx.MockRouter) -> None:
    polled(cfg)
    result = run(cfg, "show", f"appstore:{R4}", "--offline")
    assert result.exit_code == 0, result.output
    assert "★☆☆☆☆ 1/5" in result.output and "territory USA" in result.output
    assert "rating +2.00" in result.output  # the stars in the score explanation


def test_a_rejected_key_is_exit_4_with_one_line(cfg: Path) -> None:
    with respx.mock(assert_all_called=False) as router:
        router.get(LISTING).mock(return_value=httpx.Response(401, json=load("error_401.json")))
        result = runner.invoke(app, ["--config", str(cfg), "poll", "--quiet"])
    assert result.exit_code == 4
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "App Store Connect rejected the API key" in errors[0]
    assert "BEGIN PRIVATE KEY" not in result.output
