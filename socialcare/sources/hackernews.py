"""The Hacker News source (read-only): stories and comments that match a search.

It uses the public Algolia HN Search API (no account, no key):
``/api/v1/search_by_date`` with ``tags=(story,comment)``, newest first, paged
with ``page`` up to ``nbPages``. HN has no API for posting, so the source is
read-only: answer on news.ycombinator.com itself.

The cursor is JSON ``{"created_at_i": N, "ids": [...]}``: the newest creation
second seen and the objectIDs seen in that second. The next poll asks for
``created_at_i>=N`` (not ``>``, which would lose a comment posted in the same
second as the last one seen) and skips the listed ids. Only the last page of a
successful run carries the new cursor, so a failure mid-way refetches the window.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from functools import partial
from typing import Any, Iterator

from ..errors import ConfigError
from ..models import Mention, Page
from .base import identity
from .http import HTTP_CONFIG_KEYS, HttpSource, api_error, html_to_text

__all__ = ["HackerNewsSource", "ALGOLIA_URL", "item_url"]

log = logging.getLogger("socialcare.sources.hackernews")

ALGOLIA_URL = "https://hn.algolia.com/api/v1"
_TAGS = "(story,comment)"


def item_url(object_id: str) -> str:
    """The news.ycombinator.com page of a story or comment."""
    return f"https://news.ycombinator.com/item?id={object_id}"


def _parse_cursor(cursor: str | None, query: str) -> tuple[int | None, frozenset[str]]:
    """``(created_at_i, ids)`` of a stored cursor; a bare number is accepted too."""
    if not cursor:
        return None, frozenset()
    try:
        data = json.loads(cursor)
        if isinstance(data, int) and not isinstance(data, bool):
            return data, frozenset()
        return int(data["created_at_i"]), frozenset(str(i) for i in data.get("ids", []))
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning(
            "ignoring hackernews cursor %r for %r: not a cursor of this adapter", cursor, query
        )
        return None, frozenset()


class HackerNewsSource(HttpSource):
    """Hacker News via the Algolia search API (read-only).

    Config keys of ``[sources.hackernews]``:

    * ``queries``: search strings, each with its own cursor (required);
    * ``hits_per_page`` (1..1000, default 100); ``max_pages`` (default 10) per poll;
    * ``max_wait_seconds`` (default 60) and ``timeout_seconds`` (default 20).
    """

    name = "hackernews"
    config_keys = HTTP_CONFIG_KEYS | {"queries", "hits_per_page", "max_pages"}
    platform = "Hacker News"
    description = "Hacker News stories and comments via the Algolia search API (read-only)"
    read_only = True

    def _configure(self) -> None:
        """Validate ``[sources.hackernews]`` and point ``self.api`` at the platform."""
        self._queries = self._strings_setting("queries")
        self.hits_per_page = self._int_setting("hits_per_page", 100, 1, 1000)
        self.max_pages = self._int_setting("max_pages", 10, 1, None)
        self.api.base_url = ALGOLIA_URL

    def queries(self) -> list[str]:
        """The configured search strings."""
        if not self._queries:
            raise ConfigError('sources.hackernews has nothing to poll: set queries = ["..."]')
        return list(self._queries)

    def _mention(self, hit: dict[str, Any], query: str) -> Mention:
        """One Algolia hit (a story or a comment) as a :class:`Mention`."""
        native = str(hit["objectID"])
        tags = hit.get("_tags") or []
        is_comment = "comment" in tags or hit.get("comment_text") is not None
        if is_comment:
            text = html_to_text(str(hit.get("comment_text") or ""))
        else:
            parts = [str(hit.get("title") or "")]
            if hit.get("url"):
                parts.append(str(hit["url"]))
            if hit.get("story_text"):
                parts.append(html_to_text(str(hit["story_text"])))
            text = "\n\n".join(p for p in parts if p)
        story_id = hit.get("story_id")
        parent_id = hit.get("parent_id")
        author = identity(hit.get("author"))
        return Mention(
            source=self.name,
            native_id=native,
            text=text,
            created_at=datetime.fromtimestamp(int(hit["created_at_i"]), tz=timezone.utc),
            author_id=author,
            author_handle=author,
            url=item_url(native),
            conversation_id=str(story_id) if story_id is not None else native,
            parent_id=str(parent_id) if is_comment and parent_id is not None else None,
            query=query,
            kind="comment" if is_comment else "post",
            raw={k: v for k, v in hit.items() if k != "_highlightResult"},
        )

    def poll(self, query: str, cursor: str | None) -> Iterator[Page]:
        """Yield pages of hits since the cursor, newest first; the last page carries the cursor."""
        since, seen = _parse_cursor(cursor, query)
        newest, newest_ids = since, set(seen)
        page = 0
        what = f"search {query!r}"
        while True:
            params: dict[str, str | int] = {
                "query": query,
                "tags": _TAGS,
                "hitsPerPage": self.hits_per_page,
                "page": page,
            }
            if since is not None:
                params["numericFilters"] = f"created_at_i>={since}"
            response = self.api.request("GET", "/search_by_date", what=what, params=params)
            if response.status_code >= 400:
                raise api_error("Hacker News", what, response)
            body = self.api.json(response, what)
            hits = self.api.items(body, what, "hits")
            mentions: list[Mention] = []
            skipped: list[dict[str, Any]] = []
            for hit in hits:
                native = identity(hit.get("objectID")) if isinstance(hit, dict) else ""
                if not native:
                    self.skip(skipped, "no objectID", hit, query=query)
                    continue
                try:
                    at = int(hit["created_at_i"])
                except (KeyError, TypeError, ValueError, OverflowError):
                    self.skip(skipped, "no usable created_at_i", hit, query=query)
                    continue
                if since is not None and (at < since or (at == since and native in seen)):
                    continue
                if newest is None or at > newest:
                    newest, newest_ids = at, {native}
                elif at == newest:
                    newest_ids.add(native)
                mention = self.normalise(
                    partial(self._mention, hit, query), hit, skipped, query=query
                )
                if mention is not None:
                    mentions.append(mention)
            pages = int(body.get("nbPages") or 0)
            page += 1
            last = not hits or page >= pages or page >= self.max_pages
            if last and hits and page < pages:
                log.warning(
                    "hackernews %r: stopped at max_pages=%d; older hits of this poll are skipped",
                    query,
                    self.max_pages,
                )
            new_cursor = None
            if last and newest is not None:
                new_cursor = json.dumps({"created_at_i": newest, "ids": sorted(newest_ids)})
            yield Page(mentions, cursor=new_cursor, skipped=skipped)
            if last:
                return
