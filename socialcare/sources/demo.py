"""The offline ``demo`` source: mentions from a JSONL file, so everything works with no account.

Each line is one mention: ``id``, ``author_id``, ``author``, ``name``,
``followers``, ``text``, ``lang``, and either ``created_at`` (ISO) or
``minutes_ago`` (relative to the first poll, so the shipped demo always looks
fresh), plus optional ``parent_id``, ``conversation_id`` and ``kind``. The
cursor is the number of lines already stored; replies are appended to
``demo-sent.jsonl`` next to the database instead of going anywhere.

Lines of ``kind`` ``dm`` are private messages, threaded by ``conversation_id``
(the shipped file has two conversations, one with the brand's own answer in
it); private messages sent are recorded with ``"private": true``. An author
line with ``"accepts_dm": false`` stands for a customer whose settings refuse
DMs from the brand, so "take it to DM" can be refused offline too.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from importlib import resources
from json.scanner import make_scanner
from pathlib import Path
from typing import Any, Callable, Iterator

from ..config import data_dir
from ..errors import ConfigError, NotFound
from ..models import Mention, Page, SentPost, parse_iso, to_iso, utcnow
from ..safety import private_dir, private_file
from .base import DmPolicy, Source

__all__ = ["DemoSource", "DEMO_FILE"]

DEMO_FILE = "demo_mentions.jsonl"

#: ``json.loads`` without its wrappers (the C scanner where there is one): (value, end)
_scan: Callable[[str, int], tuple[Any, int]] = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
#: what JSON takes as whitespace (``str.strip`` would take more)
_JSON_SPACE = " \t\n\r"


def _line_value(line: str) -> Any:
    """``json.loads(line)``: a line that is one value then JSON whitespace is scanned
    directly (a poll reads a line a mention, and loads' wrappers cost about as much as
    the scan); any other line gets ``json.loads``' own value or error."""
    try:
        value, end = _scan(line, 0)
    except (StopIteration, ValueError):  # leading space, a BOM, bad JSON: loads says
        return json.loads(line)
    if line[end:].strip(_JSON_SPACE):
        return json.loads(line)  # extra data after the value: loads' error
    return value


def _url(native: str) -> str:
    return f"https://demo.socialcare.invalid/reply/{native}"


def _default_path() -> Path:
    return Path(str(resources.files("socialcare.sources").joinpath("data", DEMO_FILE)))


class DemoSource(Source):
    """Offline sample mentions (complaints, questions, praise, spam, other languages)."""

    name = "demo"
    config_keys = frozenset({"path", "page_size"})
    description = "offline sample mentions from a JSONL file (no account needed)"
    max_length = 280
    #: ``find_sent`` reads ``demo-sent.jsonl``, the demo's "platform"
    finds_sent = True
    finds_sent_dm = True
    dm_policy = DmPolicy(
        reads=True, sends=True, starts="open", max_length=1000,
        note="offline: private messages go to demo-sent.jsonl",
    )  # fmt: skip

    def __init__(self, config: Any, *, brand_handles: tuple[str, ...] = ()) -> None:
        super().__init__(config, brand_handles=brand_handles)
        path = config.get("path") or ""
        if not isinstance(path, str):
            raise ConfigError("sources.demo.path must be a file path in quotes")
        self.path = Path(path).expanduser() if path else _default_path()
        if self.path.is_dir():
            raise ConfigError(f"sources.demo.path: {self.path} is a directory, not a JSONL file")
        self.page_size = self._int_setting("page_size", 1000, 1, 100_000)

    def queries(self) -> list[str]:
        return ["file"]

    def _parse(self, line_no: int, obj: dict[str, Any]) -> Mention:
        try:
            if "created_at" in obj:
                created = parse_iso(str(obj["created_at"]))
            else:
                created = utcnow() - timedelta(minutes=float(obj.get("minutes_ago", 0)))
            native = str(obj["id"])
            return Mention(
                source=self.name,
                native_id=native,
                text=str(obj.get("text", "")),
                created_at=created,
                author_id=str(obj.get("author_id") or obj["author"]),
                author_handle=str(obj["author"]),
                author_name=str(obj.get("name", "")),
                author_followers=obj.get("followers"),
                url=f"https://demo.socialcare.invalid/{obj['author']}/{native}",
                language=obj.get("lang"),
                conversation_id=obj.get("conversation_id") or native,
                parent_id=obj.get("parent_id"),
                query="file",
                kind=str(obj.get("kind", "post")),
                repost_of=obj.get("repost_of"),
                raw=obj,
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ConfigError(f"{self.path}:{line_no}: bad demo mention ({exc})") from None

    def poll(self, query: str, cursor: str | None) -> Iterator[Page]:
        if not self.path.exists():
            raise NotFound(f"demo file {self.path} does not exist (sources.demo.path)")
        done = int(cursor or 0)
        batch: list[Mention] = []
        line_no = 0
        with self.path.open(encoding="utf-8") as fh:
            for line_no, line in enumerate(fh, start=1):
                if line_no <= done or not line.strip():
                    continue
                try:
                    obj = _line_value(line)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{self.path}:{line_no}: not JSON ({exc.msg})") from None
                batch.append(self._parse(line_no, obj))
                if len(batch) >= self.page_size:
                    yield Page(batch, cursor=str(line_no))
                    batch = []
        if batch or line_no > done:
            yield Page(batch, cursor=str(max(line_no, done)))

    @staticmethod
    def _sent_file() -> Path:
        return data_dir() / "demo-sent.jsonl"

    def _record(self, payload: dict[str, Any]) -> SentPost:
        native = f"demo-{uuid.uuid4().hex[:12]}"
        out = self._sent_file()
        private_file(private_dir(out.parent) / out.name)
        record = {"id": native, "at": to_iso(utcnow()), **payload}
        if self.idempotency_key:
            record["idempotency_key"] = self.idempotency_key
        with out.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        return SentPost(native, _url(native))

    def find_sent(
        self, mention: Mention | None, text: str, *, private: bool = False
    ) -> SentPost | None:
        """The reply to ``mention`` (or the post) with this text in ``demo-sent.jsonl``."""
        path = self._sent_file()
        if not path.exists():
            return None
        want = mention.native_id if mention is not None else None
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a crash mid-write
                if (
                    isinstance(rec, dict)
                    and rec.get("in_reply_to") == want
                    and rec.get("text") == text
                    and bool(rec.get("private")) == private
                ):
                    return SentPost(str(rec["id"]), _url(str(rec["id"])))
        return None

    def find_sent_dm(self, mention: Mention, text: str) -> SentPost | None:
        """The private message with this text to ``mention``'s author in ``demo-sent.jsonl``."""
        return self.find_sent(mention, text, private=True)

    def reply(self, mention: Mention, text: str) -> SentPost:
        return self._record({"in_reply_to": mention.native_id, "text": text})

    def dm_refusal(self, mention: Mention) -> str | None:
        """A demo author line with ``"accepts_dm": false`` does not take DMs from the brand."""
        if mention.raw.get("accepts_dm") is False:
            return "the customer does not accept private messages from the brand"
        return super().dm_refusal(mention)

    def send_dm(self, mention: Mention, text: str) -> SentPost:
        """Record a private message: in the mention's conversation, or opening one."""
        conversation = mention.conversation_id if mention.kind == "dm" else None
        return self._record(
            {
                "private": True,
                "to": mention.author_id,
                "conversation": conversation,
                "in_reply_to": mention.native_id,
                "text": text,
            }
        )

    def post(self, text: str) -> SentPost:
        return self._record({"text": text})
