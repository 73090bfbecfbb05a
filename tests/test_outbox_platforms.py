"""Replies through the outbox with the REAL tweepy and praw code, HTTP answered by `responses`.

The adapters' own tests check request building; these check the outbox around
them: the right body reaches the platform, failures become `failed` with a
readable reason, and a crash after the platform accepted leaves `sending` until
an agent retries.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs

import pytest
import responses
from responses import matchers
from typer.testing import CliRunner

from socialcare.app import Socialcare
from socialcare.cli import app
from socialcare.config import Config
from socialcare.errors import Conflict
from socialcare.models import Mention
from tests.outbox_helpers import abandon

FIXTURES = Path(__file__).parent / "fixtures"
TWEETS = "https://api.twitter.com/2/tweets"
REDDIT_TOKEN = "https://www.reddit.com/api/v1/access_token"
REDDIT_COMMENT = "https://oauth.reddit.com/api/comment/"
RL_OK = {"x-ratelimit-remaining": "995.0", "x-ratelimit-used": "5", "x-ratelimit-reset": "300"}


def load(platform: str, name: str) -> Any:
    return json.loads((FIXTURES / platform / name).read_text(encoding="utf-8"))


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("TWITTER_BEARER_TOKEN", "TWITTER_CONSUMER_KEY", "TWITTER_CONSUMER_SECRET",
                "TWITTER_ACCESS_TOKEN", "TWITTER_ACCESS_TOKEN_SECRET", "REDDIT_CLIENT_ID",
                "REDDIT_CLIENT_SECRET", "REDDIT_USERNAME", "REDDIT_PASSWORD"):  # fmt: skip
        monkeypatch.setenv(key, f"value-of-{key.lower()}")


@pytest.fixture
def sc(database: str, creds: None) -> Iterator[Socialcare]:
    cfg = Config(
        database=database, agent="alice", brand_handles=("acmehelp",),
        sources={"twitter": {"queries": ["acme"]},
                 "reddit": {"searches": [{"subreddit": "all", "query": "acme"}]}},
    )  # fmt: skip
    care = Socialcare(cfg)
    when = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
    care.store.upsert_mentions([
        Mention(source="twitter", native_id="1790000000000000005", text="@AcmeHelp where is my order?",
                created_at=when, author_id="42", author_handle="dana_k", author_name="Dana K"),
        Mention(source="reddit", native_id="t1_kx93ab", text="Acme router blinking orange again",
                created_at=when, author_id="t2_abc", author_handle="router_woes"),
    ])  # fmt: skip
    yield care
    care.shutdown()


def test_twitter_reply_body_and_sent_state(sc: Socialcare) -> None:
    with responses.RequestsMock() as api:
        api.add(responses.POST, TWEETS, status=201, json=load("twitter", "create_tweet.json"),
                match=[matchers.json_params_matcher({
                    "text": "Hi Dana, checking now!",
                    "reply": {"in_reply_to_tweet_id": "1790000000000000005"}})])  # fmt: skip
        outcome = sc.reply("twitter:1790000000000000005", text="Hi {first_name}, checking now!")
    item = outcome.item or {}
    assert (item["status"], item["platform_id"]) == ("sent", "1790000000000000100")
    mention = sc.store.get_mention("twitter:1790000000000000005")
    assert (mention["status"], mention["answered_by"]) == ("replied", "alice")


@pytest.mark.parametrize(
    "status, fixture, reason, state",
    [
        (403, "error_403_duplicate.json", "duplicate content", "failed"),
        (429, "error_429.json", "rate", "failed"),
        # a 5xx answers a request that went out: the tweet may exist
        (503, "error_503.json", "503", "unknown"),
    ],
)
def test_twitter_errors_mark_failed_or_unknown_with_reason(
    sc: Socialcare, status: int, fixture: str, reason: str, state: str
) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.add(responses.POST, TWEETS, status=status, json=load("twitter", fixture),
                headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": "1900000000"})  # fmt: skip
        outcome = sc.reply("twitter:1790000000000000005", text="Hello")
    item = outcome.item or {}
    assert item["status"] == state
    assert reason.lower() in item["error"].lower()
    assert sc.store.get_mention("twitter:1790000000000000005")["status"] == "open"
    assert [o["status"] for o in sc.outbox()] == [state]


def _refused() -> Exception:
    import requests
    import urllib3

    reason = urllib3.exceptions.NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/2/tweets", reason))  # type: ignore[arg-type]


def _dropped() -> Exception:
    import requests
    import urllib3

    return requests.ConnectionError(
        urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
    )


def _timed_out() -> Exception:
    import requests

    return requests.ReadTimeout("read timed out")


@pytest.mark.parametrize(
    "answer, state",
    [
        ({"body": _refused()}, "failed"),
        ({"body": _dropped()}, "unknown"),
        ({"body": _timed_out()}, "unknown"),
        ({"status": 201, "body": "<html>created</html>", "content_type": "text/html"}, "unknown"),
        ({"status": 201, "json": {"data": {"text": "Hello"}}}, "unknown"),
    ],
    ids=["refused", "closed-mid-response", "read-timeout", "201-not-json", "201-without-id"],
)
def test_twitter_unknown_outcomes_block_replies_until_resolved(
    sc: Socialcare, answer: dict[str, Any], state: str
) -> None:
    with responses.RequestsMock() as api:
        api.add(responses.POST, TWEETS, **answer)
        outcome = sc.reply("twitter:1790000000000000005", text="Hello")
    item = outcome.item or {}
    assert item["status"] == state, item["error"]
    if state == "failed":
        return
    assert "may have been published" in item["error"]
    with pytest.raises(Conflict, match="may already be on the platform"):
        sc.reply("twitter:1790000000000000005", text="Hello again", force=True)
    # Twitter cannot be checked from here: retry needs the agent's word
    with pytest.raises(Conflict, match="cannot be checked from here.*--force"):
        sc.retry(item["id"])
    assert sc.resolve(item["id"], sent=True, url="https://x.com/i/web/status/1")["status"] == "sent"
    assert sc.store.get_mention("twitter:1790000000000000005")["status"] == "replied"


def test_reddit_server_error_on_a_comment_is_unknown(sc: Socialcare) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.add(responses.POST, REDDIT_TOKEN, json=load("reddit", "token.json"))
        for _ in range(4):
            api.add(responses.POST, REDDIT_COMMENT, status=500, body="oops")
        outcome = sc.reply("reddit:t1_kx93ab", text="Sorry about that")
        comments = [c for c in api.calls if str(c.request.url).startswith(REDDIT_COMMENT)]
    item = outcome.item or {}
    assert item["status"] == "unknown", item["error"]
    assert len(comments) == 1  # prawcore would retry a 5xx by itself: a second comment


def test_reddit_read_timeout_on_a_comment_is_unknown_and_sent_once(sc: Socialcare) -> None:
    import requests

    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.add(responses.POST, REDDIT_TOKEN, json=load("reddit", "token.json"))
        for _ in range(4):
            api.add(responses.POST, REDDIT_COMMENT, body=requests.ReadTimeout("slow"))
        outcome = sc.reply("reddit:t1_kx93ab", text="Sorry about that")
        comments = [c for c in api.calls if str(c.request.url).startswith(REDDIT_COMMENT)]
    assert (outcome.item or {})["status"] == "unknown"
    assert len(comments) == 1


def test_crash_after_twitter_accepted_is_not_resent_without_retry(sc: Socialcare) -> None:
    def power_cut(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt("killed between the platform's answer and our commit")

    with responses.RequestsMock() as api:
        api.add(responses.POST, TWEETS, status=201, json=load("twitter", "create_tweet.json"))
        with pytest.MonkeyPatch.context() as mp, pytest.raises(KeyboardInterrupt):
            mp.setattr("socialcare.outbox._commit_sent", power_cut)
            sc.reply("twitter:1790000000000000005", text="Hello")
        assert len(api.calls) == 1
    items = sc.outbox()
    assert [i["status"] for i in items] == ["sending"]
    with pytest.raises(Conflict, match="already has a sending reply"):
        sc.reply("twitter:1790000000000000005", text="Hello")  # no second post by accident
    with pytest.raises(Conflict, match="still being sent"):
        sc.retry(items[0]["id"])  # its sender may still be waiting on Twitter
    abandon(sc.store, items[0]["id"])
    with pytest.raises(Conflict, match="cannot be checked from here"):
        sc.retry(items[0]["id"])  # Twitter cannot be asked: the agent looks first
    with responses.RequestsMock() as api:
        api.add(responses.POST, TWEETS, status=201, json=load("twitter", "create_tweet.json"))
        assert sc.retry(items[0]["id"], force=True)["status"] == "sent"  # on the agent's word
        assert len(api.calls) == 1


def test_reddit_reply_body_and_forbidden(sc: Socialcare) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.add(responses.POST, REDDIT_TOKEN, json=load("reddit", "token.json"))
        api.add(responses.POST, REDDIT_COMMENT, json=load("reddit", "comment_reply.json"),
                headers=RL_OK)  # fmt: skip
        outcome = sc.reply("reddit:t1_kx93ab", text="Sorry about that, try a restart.")
        body = parse_qs(api.calls[-1].request.body)
    assert body["thing_id"] == ["t1_kx93ab"]
    assert body["text"] == ["Sorry about that, try a restart."]
    assert (outcome.item or {})["status"] == "sent"
    sc.reopen("reddit:t1_kx93ab")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.add(responses.POST, REDDIT_TOKEN, json=load("reddit", "token.json"))
        api.add(responses.POST, REDDIT_COMMENT, status=403, json=load("reddit", "forbidden.json"))
        outcome = sc.reply("reddit:t1_kx93ab", text="Another one", force=True)
    item = outcome.item or {}
    assert item["status"] == "failed"
    assert "403" in item["error"] or "forbidden" in item["error"].lower()


def test_cli_reply_failure_exits_8_and_names_retry(sc: Socialcare, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'database = "{sc.config.database}"\nbrand_handles = ["AcmeHelp"]\n'
                      '[sources.twitter]\nqueries = ["acme"]\n')  # fmt: skip
    with responses.RequestsMock() as api:
        api.add(
            responses.POST, TWEETS, status=403, json=load("twitter", "error_403_duplicate.json")
        )
        result = CliRunner().invoke(app, ["--config", str(config), "reply",
                                          "twitter:1790000000000000005", "Hello"])  # fmt: skip
    assert result.exit_code == 8
    assert "socialcare outbox retry 1" in result.output and "Traceback" not in result.output


def test_show_fetches_a_missing_parent_online_and_says_so_offline(sc: Socialcare) -> None:
    child = Mention(
        source="twitter", native_id="1790000000000000777", text="@AcmeHelp still delayed?",
        created_at=datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc), author_id="42",
        author_handle="dana_k", conversation_id="1789999999999999000",
        parent_id="1789999999999999000", kind="reply",
    )  # fmt: skip
    sc.store.upsert_mentions([child])
    offline = sc.show(child.id, online=False)
    assert offline.thread_notes == [
        "offline: parent twitter:1789999999999999000 is not in the store"
    ]
    with responses.RequestsMock() as api:
        api.add(responses.GET, TWEETS, json=load("twitter", "tweets_lookup.json"),
                match=[matchers.query_param_matcher({"ids": "1789999999999999000"},
                                                    strict_match=False)])  # fmt: skip
        online = sc.show(child.id)
    assert online.thread_notes == []
    assert [t["native_id"] for t in online.thread] == ["1789999999999999000", child.native_id]


class _KeepAliveStatuses(BaseHTTPRequestHandler):
    """Mastodon's ``POST /api/v1/statuses`` over HTTP/1.1 keep-alive, noting each client port."""

    protocol_version = "HTTP/1.1"
    server: Any

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.ports.append(self.client_address[1])
        status = load("mastodon", "status_created.json")
        status["id"] = str(113_000_000_000_000_000 + len(self.server.ports))
        out = json.dumps(status).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: Any) -> None:
        pass


def test_replies_in_one_session_share_one_connection_and_shutdown_closes_it(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Building an adapter (an HTTP client, TLS context and all) per reply cost more CPU than
    the reply; one session keeps one adapter, and ``shutdown`` closes its connection."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAliveStatuses)
    server.ports = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("MASTODON_TOKEN", "token-value")
    instance = f"http://127.0.0.1:{server.server_address[1]}"
    cfg = Config(
        database=database, agent="alice", brand_handles=("acmehelp",),
        sources={"mastodon": {"instance": instance, "access_token_env": "MASTODON_TOKEN"}},
    )  # fmt: skip
    care = Socialcare(cfg)
    when = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
    care.store.upsert_mentions([
        Mention(source="mastodon", native_id=str(n), text="@acmehelp my order?", created_at=when,
                author_id=f"a{n}", author_handle=f"user{n}@example.social")
        for n in (1, 2, 3)
    ])  # fmt: skip
    try:
        for n in (1, 2, 3):
            outcome = care.reply(f"mastodon:{n}", text="Looking into it now")
            assert (outcome.item or {})["status"] == "sent"
        ports = list(server.ports)  # type: ignore[attr-defined]
        assert len(ports) == 3 and len(set(ports)) == 1, ports
        client = care.adapters.get("mastodon").api._client
        assert client is not None and not client.is_closed
        care.shutdown()
        assert client.is_closed
    finally:
        care.shutdown()
        server.shutdown()
        server.server_close()
