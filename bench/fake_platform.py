"""A local fake Mastodon instance for benchmarks: ``POST /api/v1/statuses`` and nothing else.

It answers like Mastodon does (a Status entity, see
https://docs.joinmastodon.org/methods/statuses/#create): 200 with the new
status as JSON, 401 without the expected bearer token, 422 without a
``status`` text. Like Mastodon it honours ``Idempotency-Key``: a repeated key
gets the first status back and publishes nothing new.

Every published status is recorded (``in_reply_to_id``, text, visibility,
idempotency key, the id it was given), so a benchmark can prove from the
platform's side that nothing was posted twice.

    server = FakeMastodon(token="secret")   # listens on 127.0.0.1, a free port
    server.start(); ...; server.stop()
    server.url, server.posts, server.requests, server.replayed
"""

from __future__ import annotations

import html
import json
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeMastodon", "Post"]

#: ids like Mastodon's snowflakes: numeric strings, growing with time
_FIRST_ID = 113_000_000_000_000_000


@dataclass(frozen=True)
class Post:
    """One status the fake platform published."""

    id: str
    in_reply_to_id: str | None
    text: str
    visibility: str
    idempotency_key: str | None


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _send(self, code: int, body: Any) -> None:
        out = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with fake.lock:
            fake.requests += 1
        if self.path.split("?", 1)[0] != "/api/v1/statuses":
            self._send(404, {"error": "Record not found"})
            return
        if self.headers.get("Authorization") != f"Bearer {fake.token}":
            self._send(401, {"error": "The access token is invalid"})
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send(400, {"error": "A JSON body is expected"})
            return
        text = body.get("status")
        if not isinstance(text, str) or not text.strip():
            self._send(422, {"error": "Validation failed: Text can't be blank"})
            return
        key = self.headers.get("Idempotency-Key")
        with fake.lock:
            if key and key in fake.by_key:
                fake.replayed += 1
                self._send(200, fake.by_key[key])
                return
            post = Post(
                id=str(_FIRST_ID + len(fake.posts) + 1),
                in_reply_to_id=body.get("in_reply_to_id"),
                text=text,
                visibility=str(body.get("visibility") or "public"),
                idempotency_key=key,
            )
            status = fake.status_json(post)
            fake.posts.append(post)
            if key:
                fake.by_key[key] = status
        self._send(200, status)

    def log_message(self, *args: Any) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    fake: FakeMastodon


class FakeMastodon:
    """The fake instance; ``start`` serves it from a daemon thread."""

    def __init__(self, token: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.token = token
        self.lock = threading.Lock()
        self.posts: list[Post] = []
        self.by_key: dict[str, dict[str, Any]] = {}
        self.requests = 0
        self.replayed = 0
        self._server = _Server((host, port), _Handler)
        self._server.fake = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The instance URL, e.g. ``http://127.0.0.1:41235``."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeMastodon:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def status_json(self, post: Post) -> dict[str, Any]:
        """A Status entity as Mastodon returns it for a status the brand account posted."""
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        return {
            "id": post.id,
            "created_at": now,
            "in_reply_to_id": post.in_reply_to_id,
            "in_reply_to_account_id": None,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": post.visibility,
            "language": "en",
            "uri": f"{self.url}/users/acmehelp/statuses/{post.id}",
            "url": f"{self.url}/@acmehelp/{post.id}",
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
            "edited_at": None,
            "content": f"<p>{html.escape(post.text)}</p>",
            "reblog": None,
            "application": {"name": "socialcare", "website": None},
            "account": {
                "id": "1",
                "username": "acmehelp",
                "acct": "acmehelp",
                "display_name": "Acme Help",
                "url": f"{self.url}/@acmehelp",
                "followers_count": 1200,
            },
            "media_attachments": [],
            "mentions": [],
            "tags": [],
            "emojis": [],
            "card": None,
            "poll": None,
        }
