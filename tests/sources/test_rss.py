"""The RSS/Atom adapter: conditional GETs through ``httpx.MockTransport``, parsing by feedparser.

The transport plays the feed server: it answers 304 when the request carries
the ETag or Last-Modified it handed out, like a real server, so the tests see
which conditional headers the adapter sends.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from socialcare.errors import ConfigError, SourceError
from socialcare.poll import poll_source
from socialcare.sources.rss import SEEN_LIMIT, RssSource, entry_native_id
from socialcare.store import Store

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rss"
FEED = "https://forum.acme.example/latest.rss"
ETAG = 'W/"5f1c-18f6a0b7e40"'
LAST_MODIFIED = "Mon, 13 May 2024 10:05:00 GMT"
NOW = 1_715_600_000.0


class FeedServer:
    """Serves one fixture file with an ETag, honouring If-None-Match / If-Modified-Since."""

    def __init__(
        self, fixture: str = "feed.xml", content_type: str = "application/rss+xml"
    ) -> None:
        self.body = (FIXTURES / fixture).read_bytes()
        self.etag = ETAG
        self.content_type = content_type
        self.requests: list[httpx.Request] = []
        self.status: int | None = None  # force a status (e.g. 500)

    def serve(self, fixture: str, etag: str) -> None:
        self.body = (FIXTURES / fixture).read_bytes()
        self.etag = etag

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status is not None:
            return httpx.Response(self.status, text="oops")
        if request.headers.get("if-none-match") == self.etag:
            return httpx.Response(304, headers={"ETag": self.etag})
        return httpx.Response(
            200,
            content=self.body,
            headers={
                "Content-Type": f"{self.content_type}; charset=utf-8",
                "ETag": self.etag,
                "Last-Modified": LAST_MODIFIED,
            },
        )


def make(server: FeedServer, **config: Any) -> RssSource:
    cfg: dict[str, Any] = {"feeds": [FEED], **config}
    return RssSource(
        cfg, transport=httpx.MockTransport(server), sleep=lambda s: None, clock=lambda: NOW
    )


def test_first_poll_stores_entries_and_remembers_validators(store: Store) -> None:
    server = FeedServer()
    src = make(server)
    assert src.queries() == [FEED]
    [result] = poll_source(store, src)
    assert (result.new, result.error) == (2, None)
    assert "if-none-match" not in server.requests[0].headers
    cursor = json.loads(store.get_cursor("rss", FEED) or "")
    assert cursor == {
        "etag": ETAG,
        "last_modified": LAST_MODIFIED,
        "seen": ["forum.acme.example-topic-812", "forum.acme.example-topic-811"],
    }


def test_unchanged_feed_costs_one_304_with_conditional_headers(store: Store) -> None:
    server = FeedServer()
    src = make(server)
    poll_source(store, src)
    before = store.get_cursor("rss", FEED)
    [again] = poll_source(store, src)
    request = server.requests[1]
    assert request.headers["if-none-match"] == ETAG
    assert request.headers["if-modified-since"] == LAST_MODIFIED
    assert (again.fetched, again.new, again.error) == (0, 0, None)
    assert store.get_cursor("rss", FEED) == before
    assert store.mention_count() == 2


def test_changed_feed_stores_only_unseen_entries(store: Store) -> None:
    server = FeedServer()
    src = make(server)
    poll_source(store, src)
    server.serve("feed_updated.xml", 'W/"new"')
    [again] = poll_source(store, src)
    assert (again.fetched, again.new) == (1, 1)
    cursor = json.loads(store.get_cursor("rss", FEED) or "")
    assert cursor["etag"] == 'W/"new"'
    assert cursor["seen"][0].startswith("sha256:")  # the new entry's id is a very long link
    assert cursor["seen"][1:] == ["forum.acme.example-topic-812", "forum.acme.example-topic-811"]
    # a third poll with the new validators is a 304 again
    poll_source(store, src)
    assert server.requests[2].headers["if-none-match"] == 'W/"new"'
    assert store.mention_count() == 3


def test_entries_are_normalised() -> None:
    server = FeedServer()
    [page] = list(make(server).poll(FEED, None))
    router, dark = page.mentions
    assert router.native_id == "forum.acme.example-topic-812"
    assert router.text == (
        "Router keeps rebooting after update\n\n"
        "Since firmware 2.4 my router reboots every hour.\nAnyone else?\n\nModel: AX-3000"
    )
    assert (router.author_handle, router.url) == (
        "jdoe",
        "https://forum.acme.example/t/router-keeps-rebooting/812",
    )
    assert router.created_at.isoformat() == "2024-05-13T10:05:00+00:00"
    assert router.query == FEED and router.kind == "post"
    assert dark.author_handle == "Acme Community Forum"  # no author: the feed's title
    assert dark.text.endswith("Please add dark mode & a bigger font.")
    json.dumps(router.raw)  # stored as JSON: no struct_time may leak in


def test_atom_feeds_work_too() -> None:
    server = FeedServer("atom.xml", "application/atom+xml")
    [page] = list(make(server).poll(FEED, None))
    [entry] = page.mentions
    assert entry.native_id == "tag:status.acme.example,2024:Incident/9f2k"
    assert entry.text == (
        "Degraded performance: EU login\n\nWe are investigating slow logins in the EU region."
    )
    assert entry.author_handle == "Acme Status"


def test_a_web_page_instead_of_a_feed_is_a_clear_error(store: Store) -> None:
    server = FeedServer("not_a_feed.html", "text/html")
    [result] = poll_source(store, make(server))
    assert result.error_code == 4
    assert "not a readable RSS/Atom feed" in (result.error or "")
    assert "sources.rss.feeds" in (result.error or "")
    assert store.get_cursor("rss", FEED) is None


def test_http_errors_are_source_errors() -> None:
    server = FeedServer()
    server.status = 404
    with pytest.raises(SourceError, match="HTTP 404"):
        list(make(server).poll(FEED, None))


def test_seen_list_is_bounded(store: Store) -> None:
    old = json.dumps(
        {"etag": None, "last_modified": None, "seen": [f"old-{i}" for i in range(SEEN_LIMIT)]}
    )
    [page] = list(make(FeedServer()).poll(FEED, old))
    seen = json.loads(page.cursor or "")["seen"]
    assert len(seen) == SEEN_LIMIT
    assert seen[:3] == ["forum.acme.example-topic-812", "forum.acme.example-topic-811", "old-0"]


def test_native_id_prefers_id_then_link_and_hashes_long_ones() -> None:
    assert entry_native_id({"id": "a", "link": "b"}) == "a"
    assert entry_native_id({"link": "https://x.example/1"}) == "https://x.example/1"
    long = entry_native_id({"link": "https://x.example/" + "q" * 300}) or ""
    assert long.startswith("sha256:") and len(long) == 7 + 64
    assert entry_native_id({"title": "no id"}) is None


def test_read_only_source_refuses_to_publish() -> None:
    src = make(FeedServer())
    [page] = list(src.poll(FEED, None))
    with pytest.raises(SourceError, match="source 'rss' is read-only"):
        src.reply(page.mentions[0], "Thanks for the report")
    with pytest.raises(SourceError, match="read-only"):
        src.post("New release")


def test_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="feed URLs"):
        RssSource({"feeds": ["forum.acme.example/latest.rss"]})
    with pytest.raises(ConfigError, match="nothing to poll"):
        RssSource({}).queries()
