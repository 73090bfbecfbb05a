"""A fake Mastodon instance on 127.0.0.1 that can misbehave: the outbox's hostile platform.

It publishes statuses (``POST /api/v1/statuses``) and answers the lookups
``find_sent`` uses (``verify_credentials``, a status's ``context``, the
account's ``statuses``). Each queued fault applies to the next POST:

* ``read-timeout``: publish, then answer only after the client gave up;
* ``close-mid-response``: publish, send the headers and half the body, hang up;
* ``500-after-commit``: publish, then answer 500;
* ``500-before-commit``: answer 500 without publishing;
* ``200-not-json``: publish, answer 200 with an HTML page;
* ``200-no-id``: publish, answer 200 with JSON that carries no id;
* ``422``: refuse (publish nothing), as Mastodon does for a validation error.

``honour_keys`` makes a repeated ``Idempotency-Key`` return the first status
(real Mastodon does); off, every POST that is accepted publishes. ``stop`` and
``start`` on the same port give "connection refused" in between.
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FAULTS", "FakeMastodon", "Post"]

FAULTS = (
    "read-timeout",
    "close-mid-response",
    "500-after-commit",
    "500-before-commit",
    "200-not-json",
    "200-no-id",
    "422",
)
_FIRST_ID = 113_000_000_000_000_000
_ME = {"id": "1", "username": "acmehelp", "acct": "acmehelp", "display_name": "Acme Help"}


@dataclass(frozen=True)
class Post:
    """One status the fake published."""

    id: str
    in_reply_to_id: str | None
    text: str
    idempotency_key: str | None


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _send(self, code: int, body: Any, content_type: str = "application/json") -> None:
        out = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") != f"Bearer {self.server.fake.token}":
            self._send(401, {"error": "The access token is invalid"})
            return False
        return True

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        fake = self.server.fake
        if not self._authorised():
            return
        path = self.path.split("?", 1)[0]
        with fake.lock:
            fake.lookups += 1
            posts = list(fake.posts)
        if path == "/api/v1/accounts/verify_credentials":
            self._send(200, _ME)
            return
        context = re.fullmatch(r"/api/v1/statuses/([^/]+)/context", path)
        if context:
            replies = [fake.status_json(p) for p in posts if p.in_reply_to_id == context[1]]
            self._send(200, {"ancestors": [], "descendants": replies})
            return
        if path == f"/api/v1/accounts/{_ME['id']}/statuses":
            self._send(200, [fake.status_json(p) for p in reversed(posts)][:40])
            return
        self._send(404, {"error": "Record not found"})

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.split("?", 1)[0] != "/api/v1/statuses":
            self._send(404, {"error": "Record not found"})
            return
        if not self._authorised():
            return
        body = json.loads(raw or b"{}")
        key = self.headers.get("Idempotency-Key")
        with fake.lock:
            fake.keys.append(key)
            fault = fake.faults.pop(0) if fake.faults else None
            if fault == "422":
                self._send(422, {"error": "Validation failed: Text is too long"})
                return
            if fault == "500-before-commit":
                self._send(500, {"error": "Internal server error"})
                return
            if fake.honour_keys and key and key in fake.by_key:
                fake.replayed += 1
                status = fake.by_key[key]
            else:
                post = Post(
                    id=str(_FIRST_ID + len(fake.posts) + 1),
                    in_reply_to_id=body.get("in_reply_to_id"),
                    text=str(body.get("status")),
                    idempotency_key=key,
                )
                fake.posts.append(post)
                status = fake.status_json(post)
                if key:
                    fake.by_key[key] = status
        if fault == "read-timeout":
            time.sleep(fake.stall_seconds)
        elif fault == "close-mid-response":
            out = json.dumps(status).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out[: len(out) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        elif fault == "500-after-commit":
            self._send(500, {"error": "Internal server error"})
            return
        elif fault == "200-not-json":
            self._send(200, b"<html><body>Posted!</body></html>", "text/html")
            return
        elif fault == "200-no-id":
            self._send(200, {"status": "ok"})
            return
        try:
            self._send(200, status)
        except OSError:
            pass  # the client gave up waiting (read-timeout)

    def log_message(self, *args: Any) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeMastodon

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client that hung up mid-answer is the point of these tests


class FakeMastodon:
    """The fake instance; ``start`` serves it from a daemon thread."""

    def __init__(self, token: str = "secret", *, honour_keys: bool = True) -> None:
        self.token = token
        self.honour_keys = honour_keys
        self.lock = threading.Lock()
        self.posts: list[Post] = []
        self.by_key: dict[str, dict[str, Any]] = {}
        self.keys: list[str | None] = []
        self.faults: list[str] = []
        self.replayed = 0
        self.lookups = 0
        self.stall_seconds = 1.5
        self.port = 0
        self._server: _Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeMastodon:
        self._server = _Server(("127.0.0.1", self.port), _Handler)
        self._server.fake = self
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def status_json(self, post: Post) -> dict[str, Any]:
        """A Status entity as Mastodon returns it."""
        return {
            "id": post.id,
            "created_at": "2026-11-20T09:05:00.000Z",
            "in_reply_to_id": post.in_reply_to_id,
            "visibility": "unlisted",
            "spoiler_text": "",
            "uri": f"{self.url}/users/acmehelp/statuses/{post.id}",
            "url": f"{self.url}/@acmehelp/{post.id}",
            "content": f"<p>{html.escape(post.text)}</p>",
            "reblog": None,
            "account": {**_ME, "url": f"{self.url}/@acmehelp", "followers_count": 1200},
            "mentions": [],
            "tags": [],
        }
