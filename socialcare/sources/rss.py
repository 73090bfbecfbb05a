"""The RSS/Atom source (read-only): new entries of the feeds you list.

Blogs, forums, status pages and review sites often offer a feed and nothing
else. httpx fetches each feed (feedparser never touches the network here) with
``If-None-Match`` / ``If-Modified-Since`` from the last answer, so an unchanged
feed costs one cheap ``304 Not Modified``; feedparser parses the bytes.

The cursor of a feed is JSON ``{"etag", "last_modified", "seen"}``, where
``seen`` holds the native ids of the newest entries (at most ``SEEN_LIMIT``):
feeds have no reliable order or "since" parameter, so an entry is new exactly
when its id is not in that list. A feed is one request, so it yields one page
that carries the new cursor.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import json
import logging
from datetime import datetime, timezone
from functools import partial
from typing import Any, Iterator, Mapping

from ..errors import ConfigError, SourceError
from ..models import Mention, Page
from .base import identity
from .http import HTTP_CONFIG_KEYS, HttpSource, api_error, html_to_text

__all__ = ["RssSource", "SEEN_LIMIT", "entry_native_id"]

log = logging.getLogger("socialcare.sources.rss")

#: how many entry ids a feed's cursor remembers (feeds rarely carry more than 100 entries)
SEEN_LIMIT = 500
#: longer entry ids (some feeds use whole URLs with tracking parameters) are hashed
_MAX_ID_LENGTH = 200


def entry_native_id(entry: Mapping[str, Any]) -> str | None:
    """The entry's id, else its link; hashed (``sha256:...``) when longer than 200 characters."""
    key = str(entry.get("id") or entry.get("link") or "").strip()
    if not key:
        return None
    if len(key) > _MAX_ID_LENGTH:
        return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()
    return key


def _struct_time(entry: Mapping[str, Any]) -> datetime | None:
    """The entry's published (else updated) time; feedparser normalises it to UTC."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            return datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc)
    return None


class RssSource(HttpSource):
    """RSS and Atom feeds over httpx, parsed with feedparser (read-only).

    Config keys of ``[sources.rss]``:

    * ``feeds``: feed URLs, each polled as its own query with its own cursor (required);
    * ``max_wait_seconds`` (default 60) and ``timeout_seconds`` (default 20).
    """

    name = "rss"
    config_keys = HTTP_CONFIG_KEYS | {"feeds"}
    platform = "RSS"
    description = "RSS/Atom feeds: new entries, fetched with conditional GETs (read-only)"
    read_only = True

    def _configure(self) -> None:
        """Validate ``[sources.rss]`` and point ``self.api`` at the platform."""
        feeds = self.config.get("feeds", [])
        if not isinstance(feeds, list) or not all(
            isinstance(f, str) and f.strip().lower().startswith(("http://", "https://"))
            for f in feeds
        ):
            raise ConfigError("sources.rss.feeds must be a list of http(s) feed URLs")
        self.feeds = list(dict.fromkeys(f.strip() for f in feeds))
        self.api.headers["Accept"] = (
            "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
            "text/xml;q=0.8, */*;q=0.5"
        )

    def queries(self) -> list[str]:
        """The feed URLs."""
        if not self.feeds:
            raise ConfigError('sources.rss has nothing to poll: set feeds = ["https://..."]')
        return list(self.feeds)

    @staticmethod
    def _state(cursor: str | None, feed: str) -> dict[str, Any]:
        if not cursor:
            return {"etag": None, "last_modified": None, "seen": []}
        try:
            state = json.loads(cursor)
            if not isinstance(state, dict) or not isinstance(state.get("seen", []), list):
                raise ValueError("not a JSON object with a seen list")
        except ValueError:
            log.warning("ignoring rss cursor %r for %s: not a cursor of this adapter", cursor, feed)
            return {"etag": None, "last_modified": None, "seen": []}
        return state

    def _mention(
        self, entry: Mapping[str, Any], native: str, feed_title: str, feed: str
    ) -> Mention:
        title = html_to_text(str(entry.get("title") or ""))
        summary = ""
        content = entry.get("content")
        if isinstance(content, list) and content and isinstance(content[0], Mapping):
            summary = str(content[0].get("value") or "")
        summary = html_to_text(summary or str(entry.get("summary") or ""))
        text = "\n\n".join(p for p in (title, summary) if p)
        # the feed's name is shown for an entry without an author, but is nobody's identity
        author_id = identity(entry.get("author"))
        author = author_id or feed_title or feed
        created = _struct_time(entry)
        link = str(entry.get("link") or "")
        raw = {
            "id": entry.get("id"),
            "link": link,
            "title": entry.get("title"),
            "author": entry.get("author"),
            "published": entry.get("published") or entry.get("updated"),
            "feed_title": feed_title,
            "feed_url": feed,
        }
        return Mention(
            source=self.name,
            native_id=native,
            text=text,
            created_at=created or datetime.fromtimestamp(self.clock(), tz=timezone.utc),
            author_id=author_id,
            author_handle=author,
            author_name=author,
            url=link,
            conversation_id=native,
            query=feed,
            kind="post",
            raw={k: v for k, v in raw.items() if v is not None},
        )

    def poll(self, query: str, cursor: str | None) -> Iterator[Page]:
        """Fetch one feed (conditionally) and yield its unseen entries as one page."""
        feed = query
        state = self._state(cursor, feed)
        headers: dict[str, str] = {}
        if state.get("etag"):
            headers["If-None-Match"] = str(state["etag"])
        if state.get("last_modified"):
            headers["If-Modified-Since"] = str(state["last_modified"])
        what = f"feed {feed}"
        response = self.api.request("GET", feed, what=what, headers=headers)
        if response.status_code == 304:
            log.info("rss %s: not modified since the last poll", feed)
            yield Page([])
            return
        if response.status_code >= 400:
            raise api_error("RSS", what, response)
        import feedparser  # type: ignore[import-untyped]  # loaded only when a feed is read

        parsed = feedparser.parse(
            io.BytesIO(response.content),  # a stream, so feedparser never treats it as a path
            response_headers={
                "content-type": response.headers.get("content-type", ""),
                "content-location": str(response.url),
            },
        )
        entries = list(parsed.get("entries") or [])
        if not entries and (parsed.get("bozo") or not parsed.get("version")):
            reason = parsed.get("bozo_exception") or "no RSS or Atom elements"
            raise SourceError(
                f"RSS error ({what}): not a readable RSS/Atom feed ({reason}); "
                "check the URL in sources.rss.feeds"
            )
        seen = [str(s) for s in state.get("seen", [])]
        seen_set = set(seen)
        feed_title = html_to_text(str((parsed.get("feed") or {}).get("title") or ""))
        mentions: list[Mention] = []
        skipped: list[dict[str, Any]] = []
        current: list[str] = []
        for entry in entries:
            native = entry_native_id(entry)
            if native is None:
                log.info("rss %s: skipping an entry with neither id nor link", feed)
                continue
            current.append(native)
            if native in seen_set:
                continue
            seen_set.add(native)
            mention = self.normalise(
                partial(self._mention, entry, native, feed_title, feed),
                dict(entry),
                skipped,
                query=feed,
            )
            if mention is not None:
                mentions.append(mention)
        # the feed's own entries first: they are the ones its next answer will repeat
        new_seen = list(dict.fromkeys(current + seen))[:SEEN_LIMIT]
        new_state = {
            "etag": response.headers.get("etag"),
            "last_modified": response.headers.get("last-modified"),
            "seen": new_seen,
        }
        log.info("rss %s: %d entries, %d new", feed, len(current), len(mentions))
        yield Page(mentions, cursor=json.dumps(new_state), skipped=skipped)
