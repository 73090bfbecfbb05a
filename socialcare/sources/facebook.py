"""The Facebook source: a Page's posts, visitor posts, comments and replies, and Messenger.

It polls with a Page access token through the Graph API (see
:mod:`socialcare.sources.graph` for versions, paging, errors and rate limits);
a team using its own Meta app for its own Page needs no App Review.

Queries:

* ``feed``: ``/{page-id}/feed`` (the Page's posts and visitors' posts) with
  each post's comments inlined (``filter(stream)``, so replies come flat with
  their ``parent``, ``order(reverse_chronological)``); a post's further
  comments are paged from ``/{post-id}/comments`` until they are older than the
  cursor. The ``posts`` most recent posts are watched (default 25);
* ``tagged`` (``tagged = true``): posts that tag the Page (``/{page-id}/tagged``);
* ``messenger`` (``messenger = true``, the default): ``/{page-id}/conversations
  ?platform=messenger`` and their messages, as ``kind="dm"`` mentions whose
  ``conversation_id`` is the conversation (one conversation, one queue item).

The cursor is the newest ``created_time`` seen (unix seconds); only the last
page of a run carries it. The Page's own posts, comments and messages are
stored as the brand's (``is_own``): never queued, and they mark what they
answer.

Replies: a comment is answered with ``POST /{comment-id}/comments`` (a reply
to a reply goes to its top-level comment: Facebook threads two levels); a
visitor post with ``POST /{post-id}/comments``; a DM by Messenger's Send API
inside the rules (:func:`~socialcare.sources.graph.message_params`). A private
reply (``followup add ID --dm``) goes to ``POST /{page-id}/messages`` with
``recipient.comment_id``, within 7 days of the comment.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any, Iterator
from urllib.parse import quote

from ..errors import ConfigError, SourceError
from ..models import Mention, Page, SentPost
from .base import DmPolicy, identity
from .graph import GRAPH_CONFIG_KEYS, GraphSource, graph_time, message_params, obj

__all__ = ["FacebookSource", "PRIVATE_REPLY_WINDOW"]

log = logging.getLogger("socialcare.sources.facebook")

_PAGE_ID_ENV = "FACEBOOK_PAGE_ID"
#: a commenter can be answered privately for this long after the comment
PRIVATE_REPLY_WINDOW = timedelta(days=7)
_COMMENT_FIELDS = "id,message,created_time,from{id,name},parent{id},is_hidden,permalink_url"
_POST_FIELDS = "id,message,story,created_time,updated_time,from{id,name},permalink_url"
_MESSAGE_FIELDS = "id,message,created_time,from,attachments{id}"
_SITE = "https://www.facebook.com"


def _epoch(dt: datetime) -> int:
    return int(dt.timestamp())


class FacebookSource(GraphSource):
    """A Facebook Page over the Graph API (httpx).

    Config keys of ``[sources.facebook]``:

    * ``page_id_env`` (default ``FACEBOOK_PAGE_ID``) and ``access_token_env``
      (default ``FACEBOOK_PAGE_ACCESS_TOKEN``): the variables holding the Page's id and token;
    * ``graph_version`` (default ``v23.0``);
    * ``feed`` (default true), ``tagged`` (default false), ``messenger`` (default true);
    * ``posts`` (1..100, default 25): how many recent posts to watch for comments;
    * ``limit`` (1..100, default 25) items per page; ``max_pages`` (default 10);
    * ``token_warn_days`` (default 7), ``slowdown_at_percent`` (default 80),
      ``recheck_limit`` (default 25), ``max_wait_seconds``, ``timeout_seconds``.
    """

    name = "facebook"
    platform = "Facebook"
    description = "Facebook Page: posts, visitor posts, comments, replies and Messenger (Graph API)"
    env_vars = ("FACEBOOK_PAGE_ACCESS_TOKEN", _PAGE_ID_ENV)
    config_keys = GRAPH_CONFIG_KEYS | {"page_id_env", "feed", "tagged", "messenger", "posts"}
    #: Facebook takes comments up to 8,000 characters
    max_length = 8000
    #: Messenger answers (24 h; HUMAN_AGENT up to 7 days, people only) and one private
    #: reply to a commenter within 7 days, which is how "take it to DM" opens one
    dm_policy = DmPolicy(
        reads=True,
        sends=True,
        starts="open",
        max_length=2000,
        note="Messenger: 24 h window, HUMAN_AGENT tag to 7 days (people only); a commenter "
        "gets one private reply within 7 days",
    )
    #: ``find_sent`` looks for the Page's own comment or message with the same text
    finds_sent = True

    def _configure(self) -> None:
        """Validate ``[sources.facebook]``."""
        self._configure_graph()
        self.feed = self._bool_setting("feed", True)
        self.tagged = self._bool_setting("tagged", False)
        self.messenger = self._bool_setting("messenger", True)
        self.posts = self._int_setting("posts", 25, 1, 100)

    @property
    def page_id(self) -> str:
        """The Page's id (from ``page_id_env``)."""
        return self._env_id("page_id", _PAGE_ID_ENV)

    def check_credentials(self) -> None:
        """The token and the Page id are set (no network)."""
        self._token()
        _ = self.page_id

    def required_permissions(self) -> list[str]:
        """What the enabled features need of the Page token."""
        needed = ["pages_show_list", "pages_read_engagement", "pages_manage_engagement"]
        if self.feed or self.tagged:
            needed.append("pages_read_user_content")
        if self.messenger:
            needed.append("pages_messaging")
        return needed

    def is_own(self, mention: Mention) -> bool:
        """The Page wrote it (its id), or a brand handle did."""
        try:
            page = self.page_id
        except ConfigError:
            page = ""
        return bool(page and mention.author_id == page) or super().is_own(mention)

    # -- normalising ------------------------------------------------------------
    def _post(self, post: dict[str, Any], query: str) -> Mention:
        native = identity(post.get("id"))
        if not native:
            raise ValueError("the post has no id")
        author = obj(post.get("from"))
        text = str(post.get("message") or post.get("story") or "")
        created = graph_time(post["created_time"])
        return Mention(
            source=self.name,
            native_id=native,
            text=text,
            created_at=created,
            author_id=identity(author.get("id")),
            author_handle=str(author.get("name") or ""),
            author_name=str(author.get("name") or ""),
            url=str(post.get("permalink_url") or f"{_SITE}/{native}"),
            conversation_id=native,
            query=query,
            kind="post",
            raw={k: v for k, v in post.items() if k != "comments"},
        )

    def _comment(self, comment: dict[str, Any], post_id: str, query: str) -> Mention:
        native = identity(comment.get("id"))
        if not native:
            raise ValueError("the comment has no id")
        author = obj(comment.get("from"))
        parent = comment.get("parent") if isinstance(comment.get("parent"), dict) else None
        parent_id = identity(parent.get("id")) if parent else ""
        return Mention(
            source=self.name,
            native_id=native,
            text=str(comment.get("message") or ""),
            created_at=graph_time(comment["created_time"]),
            author_id=identity(author.get("id")),
            author_handle=str(author.get("name") or ""),
            author_name=str(author.get("name") or ""),
            url=str(comment.get("permalink_url") or f"{_SITE}/{native}"),
            conversation_id=post_id,
            parent_id=parent_id or post_id,
            query=query,
            kind="reply" if parent_id else "comment",
            raw=comment,
            meta={"hidden": True} if comment.get("is_hidden") else {},
        )

    def _message(
        self, message: dict[str, Any], conversation: dict[str, Any], query: str
    ) -> Mention:
        native = identity(message.get("id"))
        if not native:
            raise ValueError("the message has no id")
        author = obj(message.get("from"))
        text = str(message.get("message") or "")
        if not text and message.get("attachments"):
            text = "[attachment]"
        link = str(conversation.get("link") or "")
        return Mention(
            source=self.name,
            native_id=native,
            text=text,
            created_at=graph_time(message["created_time"]),
            author_id=identity(author.get("id")),
            author_handle=str(author.get("name") or author.get("username") or ""),
            author_name=str(author.get("name") or ""),
            # the inbox link is a path on facebook.com; anything else is not a link we show
            url=f"{_SITE}{link}" if link.startswith("/") and not link.startswith("//") else "",
            conversation_id=str(conversation["id"]),
            query=query,
            kind="dm",
            raw=message,
        )

    # -- polling ------------------------------------------------------------------
    def queries(self) -> list[str]:
        """``feed``, ``tagged`` and ``messenger``, as enabled."""
        out = [q for q, on in (("feed", self.feed), ("tagged", self.tagged)) if on]
        if self.messenger:
            out.append("messenger")
        if not out:
            raise ConfigError(
                "sources.facebook has nothing to poll: set feed, tagged or messenger to true"
            )
        return out

    def _cutoff(self, cursor: str | None) -> float:
        if not cursor:
            return float("-inf")
        try:
            return float(cursor) - self.overlap_seconds
        except ValueError:
            return float("-inf")

    def _page(
        self, mentions: list[Mention], skipped: list[dict[str, Any]], cursor: str | None
    ) -> Page:
        page = Page(mentions, cursor=cursor)
        page.skipped = skipped
        return page

    def poll(self, query: str, cursor: str | None) -> Iterator[Page]:
        """Yield pages newest first; the last carries the newest ``created_time`` seen."""
        if query == "feed":
            pages = self._poll_posts(query, "feed", cursor)
        elif query == "tagged":
            pages = self._poll_posts(query, "tagged", cursor)
        elif query == "messenger":
            pages = self._poll_messenger(query, cursor)
        else:
            raise ConfigError(
                f"unknown facebook query {query!r}: expected 'feed', 'tagged' or 'messenger'"
            )
        newest = int(float(cursor)) if cursor and cursor.replace(".", "", 1).isdigit() else None
        for mentions, skipped in pages:
            for m in mentions:
                newest = max(newest or 0, _epoch(m.created_at))
            yield self._page(mentions, skipped, None)
        yield self._page([], [], str(newest) if newest is not None else cursor)

    def _poll_posts(
        self, query: str, edge: str, cursor: str | None
    ) -> Iterator[tuple[list[Mention], list[dict[str, Any]]]]:
        """The newest ``posts`` posts, then each one's comments newer than the cursor."""
        cutoff = self._cutoff(cursor)
        comments = (
            f"comments.filter(stream).order(reverse_chronological).limit({self.limit})"
            f"{{{_COMMENT_FIELDS}}}"
        )
        params = {"fields": f"{_POST_FIELDS},{comments}", "limit": self.posts}
        what = f"{edge} of the Page"
        seen = 0
        for data in self.pages(
            f"/{quote(self.page_id, safe='')}/{edge}",
            what=what,
            params=params,
            permission="pages_read_engagement",
        ):
            for post in data:
                if seen >= self.posts:
                    return
                seen += 1
                yield self._post_and_comments(post, query, cutoff)
            if seen >= self.posts:
                return

    def _post_and_comments(
        self, post: Any, query: str, cutoff: float
    ) -> tuple[list[Mention], list[dict[str, Any]]]:
        mentions: list[Mention] = []
        skipped: list[dict[str, Any]] = []
        if not isinstance(post, dict) or not identity(post.get("id")):
            self.skip(skipped, "post without an id", post, query=query)
            return mentions, skipped
        post_id = str(post["id"])
        created = post.get("created_time")
        try:
            fresh = graph_time(created).timestamp() > cutoff if created else False
        except (TypeError, ValueError):
            fresh = True  # let normalise record why it cannot be read
        if fresh:
            m = self.normalise(partial(self._post, post, query), post, skipped, query=query)
            if m is not None:
                mentions.append(m)
        inline = post.get("comments") if isinstance(post.get("comments"), dict) else None
        if inline is None:
            return mentions, skipped
        params = {
            "fields": _COMMENT_FIELDS,
            "filter": "stream",
            "order": "reverse_chronological",
            "limit": self.limit,
        }
        for data in self.pages(
            f"/{quote(post_id, safe='')}/comments",
            what=f"comments of {post_id}",
            params=params,
            first=inline,
            permission="pages_read_engagement",
        ):
            older = False
            for comment in data:
                m = self.normalise(
                    partial(self._comment, comment, post_id, query), comment, skipped, query=query
                )
                if m is None:
                    continue
                if m.created_at.timestamp() <= cutoff:
                    older = True  # newest first: the rest of this post's comments are older
                    continue
                mentions.append(m)
            if older:
                break
        return mentions, skipped

    def _poll_messenger(
        self, query: str, cursor: str | None
    ) -> Iterator[tuple[list[Mention], list[dict[str, Any]]]]:
        """Conversations by ``updated_time`` (newest first) and their messages above the cursor."""
        cutoff = self._cutoff(cursor)
        params = {
            "platform": self.messaging_platform,
            "fields": f"id,updated_time,link,messages.limit({self.limit}){{{_MESSAGE_FIELDS}}}",
            "limit": self.limit,
        }
        for data in self.pages(
            f"/{quote(self.messaging_account, safe='')}/conversations",
            what=f"{self.messaging_platform} conversations",
            params=params,
            permission=self.messaging_permission,
        ):
            mentions: list[Mention] = []
            skipped: list[dict[str, Any]] = []
            done = False
            for conversation in data:
                if not isinstance(conversation, dict) or not identity(conversation.get("id")):
                    self.skip(skipped, "conversation without an id", conversation, query=query)
                    continue
                updated = conversation.get("updated_time")
                try:
                    if updated and graph_time(updated).timestamp() <= cutoff:
                        done = True  # conversations come by last activity: the rest are older
                        break
                except (TypeError, ValueError):
                    pass
                mentions += self._conversation_messages(conversation, query, cutoff, skipped)
            yield mentions, skipped
            if done:
                return

    def _conversation_messages(
        self,
        conversation: dict[str, Any],
        query: str,
        cutoff: float,
        skipped: list[dict[str, Any]],
    ) -> list[Mention]:
        out: list[Mention] = []
        inline = (
            conversation.get("messages") if isinstance(conversation.get("messages"), dict) else None
        )
        if inline is None:
            return out
        conv_id = str(conversation["id"])
        for data in self.pages(
            f"/{quote(conv_id, safe='')}/messages",
            what=f"messages of {conv_id}",
            params={"fields": _MESSAGE_FIELDS, "limit": self.limit},
            first=inline,
            permission=self.messaging_permission,
        ):
            older = False
            for message in data:
                m = self.normalise(
                    partial(self._message, message, conversation, query),
                    message,
                    skipped,
                    query=query,
                )
                if m is None:
                    continue
                if m.created_at.timestamp() <= cutoff:
                    older = True
                    continue
                out.append(m)
            if older:
                break
        return out

    # -- messaging, shared with Instagram ------------------------------------------
    #: ``platform=`` of the conversations edge
    messaging_platform = "messenger"
    messaging_permission = "pages_messaging"
    #: whether the platform takes a HUMAN_AGENT-tagged message after 24 hours
    human_agent_tag = True

    @property
    def messaging_account(self) -> str:
        """Whose conversations and Send API (the Page)."""
        return self.page_id

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.api.clock(), tz=timezone.utc)

    def _last_customer_message(self, mention: Mention) -> datetime:
        """When the customer last wrote in the mention's conversation (read now)."""
        conv = mention.conversation_id or ""
        if not conv:
            return mention.created_at
        body = self.call(
            "GET",
            f"/{quote(conv, safe='')}",
            what=f"conversation {conv}",
            params={"fields": "messages.limit(25){id,created_time,from}"},
            permission=self.messaging_permission,
        )
        messages = body.get("messages") if isinstance(body, dict) else None
        data = messages.get("data") if isinstance(messages, dict) else None
        latest = mention.created_at
        for message in data if isinstance(data, list) else []:
            author = message.get("from") if isinstance(message, dict) else None
            if (
                not isinstance(author, dict)
                or identity(author.get("id")) in self._own_account_ids()
            ):
                continue
            try:
                latest = max(latest, graph_time(message["created_time"]))
            except (KeyError, TypeError, ValueError):
                continue
        return latest

    def _own_account_ids(self) -> set[str]:
        return {self.page_id}

    #: the Send API's longest text: Messenger counts 2,000 characters
    message_max = 2000
    message_unit = "characters"

    def message_length(self, text: str) -> int:
        """Length of a message as the Send API counts it against :attr:`message_max`."""
        return len(text)

    def _send(
        self, recipient: dict[str, str], text: str, extra: dict[str, str], what: str
    ) -> SentPost:
        length = self.message_length(text)
        if length > self.message_max:
            # comments take far longer texts than messages: refused here, not by Meta
            raise SourceError(
                f"{self.platform} ({what}): a message is at most {self.message_max} "
                f"{self.message_unit}, this one is {length}: shorten it"
            )
        body = self.call(
            "POST",
            f"/{quote(self.messaging_account, safe='')}/messages",
            what=what,
            json={"recipient": recipient, "message": {"text": text}, **extra},
            write=True,
            permission=self.messaging_permission,
        )
        return SentPost(native_id=self._sent_id(body, what, "message_id"))

    def _send_dm(self, mention: Mention, text: str) -> SentPost:
        """Answer a DM in its conversation, inside the platform's messaging window."""
        if self.is_own(mention) or not mention.author_id:
            raise SourceError(
                f"cannot answer {mention.id}: it is the brand's own message or has no sender id"
            )
        extra = message_params(
            self.platform,
            self._last_customer_message(mention),
            self._now(),
            human_agent_tag=self.human_agent_tag,
            by_person=self.sent_by_person,
        )
        return self._send({"id": mention.author_id}, text, extra, f"message to {mention.id}")

    def private_reply(self, mention: Mention, text: str) -> SentPost:
        """A private message to a commenter (``recipient.comment_id``), within 7 days; a DM
        mention is answered in its conversation."""
        if mention.kind == "dm":
            return self._send_dm(mention, text)
        if mention.kind not in ("comment", "reply", "post"):
            raise SourceError(f"cannot reply privately to {mention.id}: it is a {mention.kind}")
        age = self._now() - mention.created_at
        if age > PRIVATE_REPLY_WINDOW:
            raise SourceError(
                f"{self.platform}: {mention.id} was written {age.days} days ago; a private reply "
                "is allowed only within 7 days of the comment: reply publicly instead"
            )
        return self._send(
            {"comment_id": mention.native_id}, text, {}, f"private reply to {mention.id}"
        )

    # -- publishing -------------------------------------------------------------------
    def _reply_target(self, mention: Mention) -> str:
        """Where a public reply goes: a reply's top-level comment, else the item itself."""
        if mention.kind == "reply" and mention.parent_id:
            return mention.parent_id
        return mention.native_id

    def reply(self, mention: Mention, text: str) -> SentPost:
        """Comment under a comment or visitor post; answer a DM by Messenger."""
        if mention.kind == "dm":
            return self._send_dm(mention, text)
        target = self._reply_target(mention)
        what = f"reply to {mention.id}"
        body = self.call(
            "POST",
            f"/{quote(target, safe='')}/comments",
            what=what,
            json={"message": text},
            write=True,
            permission="pages_manage_engagement",
        )
        native = self._sent_id(body, what)
        return SentPost(native_id=native, url=f"{_SITE}/{native}")

    def hide(self, mention: Mention, *, hidden: bool = True) -> None:
        """Hide (or unhide) a comment or visitor post: ``POST /{id}`` with ``is_hidden``."""
        if mention.kind == "dm":
            raise SourceError(f"{mention.id} is a private message: only comments can be hidden")
        self._hide(
            mention.native_id,
            {"is_hidden": "true" if hidden else "false"},
            permission="pages_manage_engagement",
        )

    def find_sent(self, mention: Mention | None, text: str) -> SentPost | None:
        """The Page's comment (or message) with ``text`` under the mention's target, if any."""
        if mention is None:
            raise SourceError("facebook publishes no posts from socialcare: look on the Page")
        wanted = " ".join(text.split())
        if mention.kind == "dm":
            path = f"/{quote(mention.conversation_id or '', safe='')}/messages"
            fields = "id,message,from"
        else:
            path = f"/{quote(self._reply_target(mention), safe='')}/comments"
            fields = "id,message,from"
        params = {"fields": fields, "limit": 50}
        if mention.kind != "dm":
            params.update({"filter": "stream", "order": "reverse_chronological"})
        for data in self.pages(
            path, what=f"sent reply to {mention.id}", params=params, max_pages=2
        ):
            for item in data:
                author = item.get("from") if isinstance(item, dict) else None
                if (
                    not isinstance(author, dict)
                    or identity(author.get("id")) not in self._own_account_ids()
                ):
                    continue
                if " ".join(str(item.get("message") or "").split()) == wanted:
                    native = str(item["id"])
                    return SentPost(native_id=native, url=f"{_SITE}/{native}")
        return None

    # -- re-reading --------------------------------------------------------------------
    def fetch(self, native_ids: list[str]) -> list[Mention]:
        """Posts and comments by id, for ``show``'s missing thread parents; gone ones are left out.

        A Page's (and its visitors') post ids start with the Page id; anything
        else is a comment. A fetched comment's post is unknown, so it roots no thread.
        """
        out: list[Mention] = []
        for native in native_ids:
            is_post = native.startswith(f"{self.page_id}_")
            body = self.call(
                "GET",
                f"/{quote(native, safe='')}",
                what=f"fetch {native}",
                params={"fields": _POST_FIELDS if is_post else _COMMENT_FIELDS},
                gone_ok=True,
            )
            if not isinstance(body, dict):
                continue
            build = (
                partial(self._post, body, "") if is_post else partial(self._comment, body, "", "")
            )
            m = self.normalise(build, body, [])
            if m is None:
                continue
            if not is_post:
                m.conversation_id = None
                m.parent_id = m.parent_id or None
            out.append(m)
        return out

    def _fetch_one(self, mention: Mention) -> Mention | None:
        path = f"/{quote(mention.native_id, safe='')}"
        what = f"re-read {mention.id}"
        if mention.kind in ("comment", "reply"):
            body = self.call(
                "GET", path, what=what, params={"fields": _COMMENT_FIELDS}, gone_ok=True
            )
            if body is None:
                return None
            fresh = self._comment(body, mention.conversation_id or "", mention.query)
        else:
            body = self.call("GET", path, what=what, params={"fields": _POST_FIELDS}, gone_ok=True)
            if body is None:
                return None
            fresh = self._post(body, mention.query)
        fresh.updated_at = self._now()
        return fresh
