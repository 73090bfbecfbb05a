"""The Instagram source: comments on a professional account's media, tags, and Instagram DMs.

It uses the Instagram Graph API through the Facebook Page the account is
linked to, with that Page's access token (see :mod:`socialcare.sources.graph`).

Queries:

* ``comments``: ``/{ig-user-id}/media`` (the ``media`` most recent, default 25)
  with each medium's comments and their ``replies`` inlined, further comments
  paged from ``/{media-id}/comments``;
* ``tags`` (``tags = true``): media other accounts tagged the account in
  (``/{ig-user-id}/tags``), as posts;
* ``dms`` (``dms = true``, the default): ``/{page-id}/conversations?platform=instagram``
  and their messages, as ``kind="dm"`` mentions of their conversation.

Answers: a comment with ``POST /{comment-id}/replies`` (a reply to a reply goes
to its top-level comment), a DM inside 24 hours of the customer's last message
(Instagram offers no longer window here), one private reply to a commenter
within 7 days (``followup add ID --dm``), and ``hide`` with ``POST /{comment-id}?hide=true``.
The account's own comments and messages are the brand's: never queued.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any, Iterator
from urllib.parse import quote

from ..errors import ConfigError, SourceError
from ..models import Mention, SentPost
from .base import DmPolicy, identity
from .facebook import FacebookSource
from .graph import graph_time, obj

__all__ = ["InstagramSource"]

_IG_USER_ENV = "INSTAGRAM_USER_ID"
_PAGE_ID_ENV = "FACEBOOK_PAGE_ID"
_REPLY_FIELDS = "id,text,timestamp,username,from{id,username},hidden,parent_id"
_COMMENT_FIELDS = f"{_REPLY_FIELDS},replies{{{_REPLY_FIELDS}}}"
_MEDIA_FIELDS = "id,caption,timestamp,permalink,username,comments_count"
_MESSAGE_FIELDS = "id,message,created_time,from,attachments{id}"
_PRIVATE_REPLY_WINDOW = timedelta(days=7)


class InstagramSource(FacebookSource):
    """An Instagram professional account over the Instagram Graph API (httpx).

    It shares Facebook's Graph client, messaging rules and paging, and differs
    in paths, fields and the account id. Config keys of ``[sources.instagram]``:

    * ``ig_user_id_env`` (default ``INSTAGRAM_USER_ID``), ``page_id_env`` (default
      ``FACEBOOK_PAGE_ID``, the linked Page, for DMs) and ``access_token_env``
      (default ``FACEBOOK_PAGE_ACCESS_TOKEN``);
    * ``comments`` (default true), ``tags`` (default false), ``dms`` (default true);
    * ``media`` (1..100, default 25): how many recent media to watch for comments;
    * the Graph keys of ``[sources.facebook]`` (``graph_version``, ``limit``, ...).
    """

    name = "instagram"
    platform = "Instagram"
    description = "Instagram: comments and replies on your media, tags and DMs (Graph API)"
    env_vars = ("FACEBOOK_PAGE_ACCESS_TOKEN", _IG_USER_ENV)
    config_keys = (FacebookSource.config_keys or frozenset()) - {
        "feed", "tagged", "messenger", "posts"
    } | {"ig_user_id_env", "comments", "tags", "dms", "media"}  # fmt: skip
    #: Instagram takes comments up to 2,200 characters
    max_length = 2200
    dm_policy = DmPolicy(
        reads=True,
        sends=True,
        starts="open",
        max_length=1000,
        unit="bytes",
        note="DMs within 24 h of the customer's last message; a commenter gets one private "
        "reply within 7 days",
    )
    messaging_platform = "instagram"

    def dm_length(self, text: str) -> int:
        """Instagram counts a message's UTF-8 bytes against its 1,000 limit."""
        return len(text.encode("utf-8"))

    messaging_permission = "instagram_manage_messages"
    #: the issue's rule for Instagram: DMs only inside the 24-hour window
    human_agent_tag = False
    #: Instagram messages are at most 1,000 bytes of UTF-8
    message_max = 1000
    message_unit = "bytes"

    def message_length(self, text: str) -> int:
        """Instagram counts a message's UTF-8 bytes."""
        return len(text.encode("utf-8"))

    def _configure(self) -> None:
        """Validate ``[sources.instagram]``."""
        self._configure_graph()
        self.comments = self._bool_setting("comments", True)
        self.tags = self._bool_setting("tags", False)
        self.dms = self._bool_setting("dms", True)
        self.media = self._int_setting("media", 25, 1, 100)
        self.feed = self.tagged = self.messenger = False
        self.posts = self.media

    @property
    def ig_user_id(self) -> str:
        """The Instagram professional account's id (from ``ig_user_id_env``)."""
        return self._env_id("ig_user_id", _IG_USER_ENV)

    @property
    def messaging_account(self) -> str:
        """The linked Page: Instagram conversations and sends go through it."""
        return self.page_id

    def check_credentials(self) -> None:
        """The token and account ids are set (the Page's only when DMs are polled)."""
        self._token()
        _ = self.ig_user_id
        if self.dms:
            _ = self.page_id

    def required_permissions(self) -> list[str]:
        """What the enabled features need of the Page token."""
        needed = ["instagram_basic", "instagram_manage_comments", "pages_read_engagement"]
        if self.dms:
            needed.append("instagram_manage_messages")
        return needed

    def _own_account_ids(self) -> set[str]:
        return {self.ig_user_id}

    def is_own(self, mention: Mention) -> bool:
        """The account wrote it (its id), or a brand handle did."""
        try:
            own = self.ig_user_id
        except ConfigError:
            own = ""
        return bool(own and mention.author_id == own) or super(FacebookSource, self).is_own(mention)

    # -- normalising -------------------------------------------------------------
    def _ig_comment(self, comment: dict[str, Any], media_id: str, query: str) -> Mention:
        native = identity(comment.get("id"))
        if not native:
            raise ValueError("the comment has no id")
        author = obj(comment.get("from"))
        username = str(comment.get("username") or author.get("username") or "")
        parent = identity(comment.get("parent_id"))
        return Mention(
            source=self.name,
            native_id=native,
            text=str(comment.get("text") or ""),
            created_at=graph_time(comment["timestamp"]),
            author_id=identity(author.get("id")),
            author_handle=username,
            author_name=username,
            url="",
            conversation_id=media_id,
            parent_id=parent or media_id,
            query=query,
            kind="reply" if parent else "comment",
            raw={k: v for k, v in comment.items() if k != "replies"},
            meta={"hidden": True} if comment.get("hidden") else {},
        )

    def _media(self, media: dict[str, Any], query: str) -> Mention:
        native = identity(media.get("id"))
        if not native:
            raise ValueError("the media has no id")
        username = str(media.get("username") or "")
        return Mention(
            source=self.name,
            native_id=native,
            text=str(media.get("caption") or ""),
            created_at=graph_time(media["timestamp"]),
            author_id="",  # the tags edge names the tagging account only by username
            author_handle=username,
            author_name=username,
            url=str(media.get("permalink") or ""),
            conversation_id=native,
            query=query,
            kind="post",
            raw=media,
        )

    # -- polling ---------------------------------------------------------------------
    def queries(self) -> list[str]:
        """``comments``, ``tags`` and ``dms``, as enabled."""
        out = [
            q
            for q, on in (("comments", self.comments), ("tags", self.tags), ("dms", self.dms))
            if on
        ]
        if not out:
            raise ConfigError(
                "sources.instagram has nothing to poll: set comments, tags or dms to true"
            )
        return out

    def poll(self, query: str, cursor: str | None) -> Iterator[Any]:
        """Yield pages newest first; the last carries the newest time seen."""
        if query == "comments":
            pages = self._poll_comments(query, cursor)
        elif query == "tags":
            pages = self._poll_tags(query, cursor)
        elif query == "dms":
            pages = self._poll_messenger(query, cursor)
        else:
            raise ConfigError(
                f"unknown instagram query {query!r}: expected 'comments', 'tags' or 'dms'"
            )
        newest = int(float(cursor)) if cursor and cursor.replace(".", "", 1).isdigit() else None
        for mentions, skipped in pages:
            for m in mentions:
                newest = max(newest or 0, int(m.created_at.timestamp()))
            yield self._page(mentions, skipped, None)
        yield self._page([], [], str(newest) if newest is not None else cursor)

    def _poll_comments(
        self, query: str, cursor: str | None
    ) -> Iterator[tuple[list[Mention], list[dict[str, Any]]]]:
        cutoff = self._cutoff(cursor)
        inline = f"comments.limit({self.limit}){{{_COMMENT_FIELDS}}}"
        seen = 0
        for data in self.pages(
            f"/{quote(self.ig_user_id, safe='')}/media",
            what="media of the account",
            params={"fields": f"{_MEDIA_FIELDS},{inline}", "limit": self.media},
            permission="instagram_basic",
        ):
            for media in data:
                if seen >= self.media:
                    return
                seen += 1
                yield self._media_comments(media, query, cutoff)
            if seen >= self.media:
                return

    def _media_comments(
        self, media: Any, query: str, cutoff: float
    ) -> tuple[list[Mention], list[dict[str, Any]]]:
        mentions: list[Mention] = []
        skipped: list[dict[str, Any]] = []
        if not isinstance(media, dict) or not identity(media.get("id")):
            self.skip(skipped, "media without an id", media, query=query)
            return mentions, skipped
        media_id = str(media["id"])
        first = media.get("comments") if isinstance(media.get("comments"), dict) else None
        if first is None:
            return mentions, skipped  # no comments (Graph leaves the edge out)
        # Instagram documents no order for comments: every page is read and filtered
        for data in self.pages(
            f"/{quote(media_id, safe='')}/comments",
            what=f"comments of {media_id}",
            params={"fields": _COMMENT_FIELDS, "limit": self.limit},
            first=first,
            permission="instagram_manage_comments",
        ):
            for comment in data:
                items = [comment]
                replies = comment.get("replies") if isinstance(comment, dict) else None
                if isinstance(replies, dict) and isinstance(replies.get("data"), list):
                    items += replies["data"]
                for item in items:
                    m = self.normalise(
                        partial(self._ig_comment, item, media_id, query), item, skipped, query=query
                    )
                    if m is not None and m.created_at.timestamp() > cutoff:
                        mentions.append(m)
        return mentions, skipped

    def _poll_tags(
        self, query: str, cursor: str | None
    ) -> Iterator[tuple[list[Mention], list[dict[str, Any]]]]:
        cutoff = self._cutoff(cursor)
        for data in self.pages(
            f"/{quote(self.ig_user_id, safe='')}/tags",
            what="media the account is tagged in",
            params={"fields": "id,caption,timestamp,permalink,username", "limit": self.limit},
            permission="instagram_basic",
        ):
            mentions: list[Mention] = []
            skipped: list[dict[str, Any]] = []
            older = False
            for media in data:
                m = self.normalise(partial(self._media, media, query), media, skipped, query=query)
                if m is None:
                    continue
                if m.created_at.timestamp() <= cutoff:
                    older = True
                    continue
                mentions.append(m)
            yield mentions, skipped
            if older:
                return

    # -- publishing ----------------------------------------------------------------------
    def reply(self, mention: Mention, text: str) -> SentPost:
        """Reply under a comment (``/{comment-id}/replies``); answer a DM in its conversation."""
        if mention.kind == "dm":
            return self._send_dm(mention, text)
        if mention.kind not in ("comment", "reply"):
            raise SourceError(
                f"cannot reply to {mention.id} from socialcare: Instagram takes replies to "
                "comments and DMs; comment on the post in the app"
            )
        target = self._reply_target(mention)
        what = f"reply to {mention.id}"
        body = self.call(
            "POST",
            f"/{quote(target, safe='')}/replies",
            what=what,
            json={"message": text},
            write=True,
            permission="instagram_manage_comments",
        )
        return SentPost(native_id=self._sent_id(body, what))

    def private_reply(self, mention: Mention, text: str) -> SentPost:
        """One private reply to a commenter within 7 days; a DM in its conversation."""
        if mention.kind == "dm":
            return self._send_dm(mention, text)
        if mention.kind not in ("comment", "reply"):
            raise SourceError(f"cannot reply privately to {mention.id}: it is a {mention.kind}")
        age = self._now() - mention.created_at
        if age > _PRIVATE_REPLY_WINDOW:
            raise SourceError(
                f"Instagram: {mention.id} was written {age.days} days ago; a private reply is "
                "allowed only within 7 days of the comment: reply publicly instead"
            )
        return self._send(
            {"comment_id": mention.native_id}, text, {}, f"private reply to {mention.id}"
        )

    def hide(self, mention: Mention, *, hidden: bool = True) -> None:
        """Hide (or unhide) a comment: ``POST /{comment-id}?hide=true``."""
        if mention.kind not in ("comment", "reply"):
            raise SourceError(f"{mention.id} is a {mention.kind}: only comments can be hidden")
        self._hide(
            mention.native_id,
            {"hide": "true" if hidden else "false"},
            permission="instagram_manage_comments",
        )

    def find_sent(self, mention: Mention | None, text: str) -> SentPost | None:
        """The account's reply with ``text`` under the mention's comment (or in its DM), if any."""
        if mention is None:
            raise SourceError("instagram publishes no posts from socialcare: look in the app")
        if mention.kind == "dm":
            return super().find_sent(mention, text)
        wanted = " ".join(text.split())
        target = self._reply_target(mention)
        for data in self.pages(
            f"/{quote(target, safe='')}/replies",
            what=f"sent reply to {mention.id}",
            params={"fields": _REPLY_FIELDS, "limit": 50},
            max_pages=2,
        ):
            for item in data:
                author = item.get("from") if isinstance(item, dict) else None
                if not isinstance(author, dict) or identity(author.get("id")) != self.ig_user_id:
                    continue
                if " ".join(str(item.get("text") or "").split()) == wanted:
                    return SentPost(native_id=str(item["id"]))
        return None

    def _fetch_one(self, mention: Mention) -> Mention | None:
        what = f"re-read {mention.id}"
        body = self.call(
            "GET",
            f"/{quote(mention.native_id, safe='')}",
            what=what,
            params={"fields": _REPLY_FIELDS},
            gone_ok=True,
        )
        if body is None:
            return None
        fresh = self._ig_comment(body, mention.conversation_id or "", mention.query)
        fresh.updated_at = self._now()
        return fresh
