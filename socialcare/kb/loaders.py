"""Turn files, folders, web pages, sitemaps and RSS/Atom feeds into articles.

Library choices, and why:

* HTML -> text is socialcare's one extractor, :func:`socialcare.safety.read_html`
  (standard library parser: never fetches or runs anything, tolerates broken
  markup). Navigation, headers, footers, scripts and forms are dropped; when a
  page has ``<main>`` or ``<article>``, only that part is kept.
* Markdown is rendered by markdown-it-py (already installed with rich) and
  then goes through the same HTML path, so both formats are read alike.
* Feeds are parsed by feedparser, which copes with the many malformed RSS and
  Atom dialects found in the wild (encodings, relative links, RSS 0.9x/1.0).
* Sitemaps are parsed with :mod:`xml.etree.ElementTree`; a sitemap never needs
  a DTD, so any ``<!ENTITY`` is refused before parsing.

HTTP goes through one ``httpx.Client`` (timeout, size cap, redirects); tests
pass a ``transport``. The top document of a remote source is fetched with
``If-None-Match`` / ``If-Modified-Since`` so an unchanged source costs one 304.
"""

from __future__ import annotations

import gzip
import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping
from urllib.parse import unquote, urlsplit

import feedparser  # type: ignore[import-untyped]
import httpx
from markdown_it import MarkdownIt

from ..errors import NotFound, SourceError, UsageError
from ..safety import clean_text, read_html

__all__ = [
    "Article",
    "LoadResult",
    "Fetched",
    "MARKDOWN_SUFFIXES",
    "HTML_SUFFIXES",
    "TEXT_SUFFIXES",
    "html_to_article",
    "markdown_to_article",
    "text_to_article",
    "parse_front_matter",
    "load_file",
    "load_local",
    "parse_sitemap",
    "parse_feed",
    "detect_kind",
    "make_client",
    "fetch",
    "load_remote",
]

MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdown", ".mkd")
HTML_SUFFIXES = (".html", ".htm", ".xhtml")
TEXT_SUFFIXES = (".txt", ".text")
MAX_BODY_CHARS = 100_000  # a help article; anything longer is truncated, not refused
MAX_FILE_BYTES = 5_000_000
MAX_CHILD_SITEMAPS = 50
USER_AGENT = "socialcare-kb/0.1 (+https://github.com/socialcare)"


@dataclass(frozen=True)
class Article:
    """One article as read from its source, before it is stored."""

    url: str
    title: str
    body: str
    tags: tuple[str, ...] = ()


@dataclass
class LoadResult:
    """What reading a source produced.

    ``keep`` holds URLs that are still listed but were not re-read (a sitemap
    ``lastmod`` says they are unchanged, or a page failed transiently), so
    they must not be removed.
    """

    kind: str
    articles: list[Article] = field(default_factory=list)
    keep: set[str] = field(default_factory=set)
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    warnings: list[str] = field(default_factory=list)


# -- HTML ----------------------------------------------------------------------
def _tidy(text: str) -> str:
    """Collapse runs of spaces inside lines and of blank lines, strip control codes."""
    lines = (" ".join(line.split()) for line in clean_text(text).split("\n"))
    out = "\n".join(line for line in lines if line)
    return out[:MAX_BODY_CHARS]


def _split_tags(values: Any) -> tuple[str, ...]:
    """Tags from a list or a comma-separated string, de-duplicated case-insensitively."""
    items: list[str] = []
    for value in values if isinstance(values, (list, tuple)) else [values]:
        if isinstance(value, str):
            items.extend(value.split(","))
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        tag = " ".join(clean_text(item).split()).strip("#")
        if tag and tag.lower() not in seen:
            seen.add(tag.lower())
            out.append(tag)
    return tuple(out)


def _title_from_url(url: str) -> str:
    path = urlsplit(url).path.rstrip("/")
    stem = unquote(path.rsplit("/", 1)[-1]) if path else urlsplit(url).netloc
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", stem)
    return " ".join(re.split(r"[-_\s]+", stem)).strip().capitalize() or url


def html_to_article(html: str, url: str) -> Article:
    """An article from an HTML page: title from <h1>, og:title or <title>; tags from meta keywords."""
    p = read_html(html, page=True)
    body = _tidy(p.main) or _tidy(p.text)
    title = next(
        (t for t in (_tidy(p.h1), _tidy(p.meta.get("og:title", "")), _tidy(p.title)) if t),
        _title_from_url(url),
    )
    tags = _split_tags([p.meta.get("keywords", ""), *p.article_tags])
    return Article(url=url, title=" ".join(title.split()), body=body, tags=tags)


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment (feed entries), one line per block."""
    p = read_html(html, page=True)
    return _tidy(p.main) or _tidy(p.text)


# -- Markdown and text -------------------------------------------------------------
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$")
_ITEM = re.compile(r"^\s*-\s+(.*)$")
_MD = MarkdownIt("commonmark")


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def parse_front_matter(text: str) -> tuple[dict[str, str | list[str]], str]:
    """Split ``---`` front matter from a Markdown document.

    Reads the YAML subset help-centre exports use (``key: value``, inline
    ``[a, b]`` lists and ``- item`` lists) so no YAML library is needed;
    anything else in the block is ignored rather than failing the article.
    """
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text
    data: dict[str, str | list[str]] = {}
    current: str | None = None
    for line in m.group(1).splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        item = _ITEM.match(line)
        key = _KEY.match(line)
        if item and current is not None and isinstance(data.get(current), list):
            listed = data[current]
            assert isinstance(listed, list)
            listed.append(_unquote(item.group(1)))
        elif key:
            name, value = key.group(1).lower(), key.group(2).strip()
            current = name
            if not value:
                data[name] = []
            elif value.startswith("[") and value.endswith("]"):
                data[name] = [_unquote(v) for v in value[1:-1].split(",") if v.strip()]
            else:
                data[name] = _unquote(value)
    return data, text[m.end() :]


def markdown_to_article(text: str, url: str) -> Article:
    """An article from Markdown: front matter ``title``, ``tags`` and ``url`` win over the content.

    ``url:`` in front matter names the published page, so replies link to the
    help centre rather than to a file on the agent's disk.
    """
    meta, content = parse_front_matter(text)
    html_body = _MD.render(content)
    p = read_html(html_body, page=True)
    body = _tidy(p.text)
    front_title = meta.get("title")
    title = front_title if isinstance(front_title, str) and front_title.strip() else ""
    title = title or _tidy(p.h1) or _title_from_url(url)
    link = meta.get("url")
    tags = _split_tags(meta.get("tags", meta.get("keywords", [])))
    return Article(
        url=link.strip() if isinstance(link, str) and link.strip() else url,
        title=" ".join(clean_text(title).split()),
        body=body,
        tags=tags,
    )


def text_to_article(text: str, url: str) -> Article:
    """An article from plain text: the first non-empty line is the title."""
    body = _tidy(text)
    first = body.split("\n", 1)[0].lstrip("# ").strip() if body else ""
    title = first if 0 < len(first) <= 200 else _title_from_url(url)
    return Article(url=url, title=title, body=body)


def load_file(path: Path) -> Article | None:
    """Read one Markdown, HTML or text file (None for other kinds of file)."""
    suffix = path.suffix.lower()
    if suffix not in MARKDOWN_SUFFIXES + HTML_SUFFIXES + TEXT_SUFFIXES:
        return None
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise SourceError(f"{path}: larger than {MAX_FILE_BYTES // 1_000_000} MB, not indexed")
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror})") from None
    url = path.resolve().as_uri()
    if suffix in MARKDOWN_SUFFIXES:
        return markdown_to_article(text, url)
    if suffix in HTML_SUFFIXES:
        return html_to_article(text, url)
    return text_to_article(text, url)


def _walk(folder: Path) -> Iterator[Path]:
    """Files under ``folder`` in a stable order, skipping hidden files and folders."""
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).parts
        if any(part.startswith(".") for part in rel) or not path.is_file():
            continue
        yield path


def load_local(location: str) -> LoadResult:
    """Read a file or (recursively) a folder of Markdown, HTML and text files."""
    path = Path(location)
    if path.is_file():
        article = load_file(path)
        if article is None:
            known = ", ".join(MARKDOWN_SUFFIXES + HTML_SUFFIXES + TEXT_SUFFIXES)
            raise UsageError(f"{path}: not a Markdown, HTML or text file ({known})")
        return LoadResult(kind="file", articles=[article])
    if path.is_dir():
        result = LoadResult(kind="folder")
        for file in _walk(path):
            try:
                article = load_file(file)
            except SourceError as exc:
                result.warnings.append(str(exc))
                continue
            if article is not None:
                result.articles.append(article)
        return result
    raise NotFound(f"{location}: no such file or folder")


# -- HTTP ------------------------------------------------------------------------
@dataclass(frozen=True)
class Fetched:
    """A fetched document (``status`` 200, 304, or 404/410 when missing is allowed)."""

    url: str
    status: int
    content: bytes = b""
    content_type: str = ""
    encoding: str = "utf-8"
    etag: str | None = None
    last_modified: str | None = None

    @property
    def text(self) -> str:
        """The body decoded with the charset the server declared (UTF-8 otherwise)."""
        try:
            return self.content.decode(self.encoding, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")


def make_client(
    timeout: float, transport: httpx.BaseTransport | None = None, user_agent: str = USER_AGENT
) -> httpx.Client:
    """The HTTP client every remote source uses (tests pass a mock ``transport``)."""
    return httpx.Client(
        timeout=timeout,
        follow_redirects=True,
        transport=transport,
        headers={"User-Agent": user_agent},
    )


def fetch(
    client: httpx.Client,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    missing_ok: bool = False,
    max_bytes: int = MAX_FILE_BYTES,
) -> Fetched:
    """GET ``url`` (conditionally when validators are given); SourceError on failure."""
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        with client.stream("GET", url, headers=headers) as resp:
            if resp.status_code == 304:
                return Fetched(url, 304, etag=etag, last_modified=last_modified)
            if missing_ok and resp.status_code in (404, 410):
                return Fetched(url, resp.status_code)
            if resp.status_code >= 400:
                raise SourceError(f"{url}: HTTP {resp.status_code} {resp.reason_phrase}".strip())
            declared = resp.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise SourceError(f"{url}: larger than {max_bytes // 1_000_000} MB, not indexed")
            buf = io.BytesIO()
            for chunk in resp.iter_bytes():
                buf.write(chunk)
                if buf.tell() > max_bytes:
                    raise SourceError(
                        f"{url}: larger than {max_bytes // 1_000_000} MB, not indexed"
                    )
            return Fetched(
                url=url,
                status=resp.status_code,
                content=buf.getvalue(),
                content_type=resp.headers.get("Content-Type", "").split(";")[0].strip().lower(),
                encoding=resp.charset_encoding or "utf-8",
                etag=resp.headers.get("ETag"),
                last_modified=resp.headers.get("Last-Modified"),
            )
    except httpx.TimeoutException:
        raise SourceError(f"{url}: timed out (raise [kb] timeout if the site is slow)") from None
    except httpx.HTTPError as exc:
        raise SourceError(f"{url}: {type(exc).__name__}: {exc}") from None


# -- sitemaps and feeds ----------------------------------------------------------------
def _gunzip(content: bytes, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """Unpack ``sitemap.xml.gz`` (served as a gzip file, not as Content-Encoding), capped."""
    if content[:2] != b"\x1f\x8b":
        return content
    with gzip.GzipFile(fileobj=io.BytesIO(content)) as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise SourceError(f"compressed document unpacks to more than {max_bytes // 1_000_000} MB")
    return data


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def parse_sitemap(content: bytes) -> tuple[bool, list[tuple[str, str | None]]]:
    """(is a sitemap index, [(loc, lastmod)]) from sitemap XML."""
    data = _gunzip(content)
    if b"<!ENTITY" in data:
        raise SourceError("sitemap declares XML entities; refused (sitemaps never need them)")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise SourceError(f"sitemap is not valid XML ({exc})") from None
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise SourceError(f"not a sitemap (root element <{kind}>)")
    entries: list[tuple[str, str | None]] = []
    for child in root:
        if _local(child.tag) not in ("url", "sitemap"):
            continue
        loc = lastmod = None
        for part in child:
            name = _local(part.tag)
            if name == "loc" and part.text:
                loc = part.text.strip()
            elif name == "lastmod" and part.text:
                lastmod = part.text.strip()
        if loc:
            entries.append((loc, lastmod))
    return kind == "sitemapindex", entries


def parse_feed(content: bytes, base_url: str) -> list[Article]:
    """Articles from an RSS or Atom feed: link, title, full content (else summary), categories."""
    parsed = feedparser.parse(content, response_headers={"content-location": base_url})
    if parsed.get("bozo") and not parsed.get("entries"):
        reason = parsed.get("bozo_exception")
        raise SourceError(f"{base_url}: not a readable RSS/Atom feed ({reason})")
    out: list[Article] = []
    for entry in parsed.get("entries", []):
        link = entry.get("link") or ""
        if not link.startswith(("http://", "https://")):
            continue
        contents = entry.get("content") or []
        html = (contents[0].get("value") if contents else None) or entry.get("summary") or ""
        title = _tidy(entry.get("title") or "") or _title_from_url(link)
        tags = _split_tags([t.get("term") or "" for t in entry.get("tags") or []])
        out.append(
            Article(url=link, title=" ".join(title.split()), body=html_to_text(html), tags=tags)
        )
    return out


_PROLOGUE = re.compile(
    rb"\s*(?:<\?[^>]*\?>|<!--.*?-->|<!DOCTYPE[^>]*>|\xef\xbb\xbf)", re.DOTALL | re.I
)
_FIRST_TAG = re.compile(rb"\s*<([A-Za-z][\w:.-]*)")


def detect_kind(doc: Fetched) -> str:
    """``sitemap``, ``feed`` or ``page`` from a document's root element (then its Content-Type)."""
    head = _gunzip(doc.content)[:8192]
    pos = 0
    while True:
        m = _PROLOGUE.match(head, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
    first = _FIRST_TAG.match(head, pos)
    root = first.group(1).decode("ascii", "replace").lower() if first else ""
    if root in ("urlset", "sitemapindex"):
        return "sitemap"
    if root in ("rss", "feed", "rdf:rdf"):
        return "feed"
    if root in ("html", "head", "body") or "html" in doc.content_type:
        return "page"
    if doc.content_type.startswith("text/plain"):
        return "page"
    raise SourceError(
        f"{doc.url}: not an HTML page, sitemap or RSS/Atom feed "
        f"(Content-Type {doc.content_type or 'unknown'})"
    )


def _page_article(doc: Fetched, url: str) -> Article | None:
    if "html" in doc.content_type or not doc.content_type:
        return html_to_article(doc.text, url)
    if doc.content_type.startswith("text/plain"):
        return text_to_article(doc.text, url)
    return None


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def _parse_time(value: str) -> datetime | None:
    """A sitemap ``lastmod`` or stored ISO time as aware UTC (None if unparsable)."""
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _unchanged(lastmod: str | None, last_seen: str | None) -> bool:
    if not lastmod or not last_seen:
        return False
    changed, seen = _parse_time(lastmod), _parse_time(last_seen)
    return changed is not None and seen is not None and changed <= seen


def _sitemap_urls(
    client: httpx.Client, doc: Fetched, max_pages: int, warnings: list[str]
) -> list[tuple[str, str | None]]:
    """Page URLs of a sitemap, following one level of sitemap index, on the sitemap's host only.

    The same-host rule (the sitemaps protocol's own) stops a hostile sitemap
    from making us fetch arbitrary or internal addresses.
    """
    is_index, entries = parse_sitemap(doc.content)
    host = _host(doc.url)
    if is_index:
        pages: list[tuple[str, str | None]] = []
        for loc, _ in entries[:MAX_CHILD_SITEMAPS]:
            if _host(loc) != host:
                warnings.append(f"skipped sitemap on another host: {loc}")
                continue
            # A failing child sitemap fails the whole read (raises): carrying on
            # would delete every article it lists.
            child_index, child = parse_sitemap(fetch(client, loc).content)
            if not child_index:
                pages.extend(child)
        if len(entries) > MAX_CHILD_SITEMAPS:
            warnings.append(
                f"sitemap index lists {len(entries)} sitemaps; read the first {MAX_CHILD_SITEMAPS}"
            )
        entries = pages
    kept: list[tuple[str, str | None]] = []
    for loc, lastmod in entries:
        if urlsplit(loc).scheme not in ("http", "https") or _host(loc) != host:
            warnings.append(f"skipped page on another host: {loc}")
            continue
        kept.append((loc, lastmod))
    if len(kept) > max_pages:
        warnings.append(
            f"sitemap lists {len(kept)} pages; indexed the first {max_pages} (raise [kb] max_pages)"
        )
        kept = kept[:max_pages]
    return kept


def load_remote(
    client: httpx.Client,
    location: str,
    *,
    kind: str | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    known: Mapping[str, str] | None = None,
    max_pages: int = 2000,
) -> LoadResult:
    """Read a sitemap (and each page), a feed, or one page; ``kind=None`` detects it.

    ``known`` maps already-stored URLs to when they were last read: a page
    whose sitemap ``lastmod`` is not newer is kept without fetching it.
    """
    doc = fetch(client, location, etag=etag, last_modified=last_modified)
    if doc.status == 304:
        return LoadResult(
            kind=kind or "page", not_modified=True, etag=etag, last_modified=last_modified
        )
    kind = kind or detect_kind(doc)
    result = LoadResult(kind=kind, etag=doc.etag, last_modified=doc.last_modified)
    known = known or {}
    if kind == "feed":
        result.articles = parse_feed(doc.content, location)
    elif kind == "sitemap":
        for loc, lastmod in _sitemap_urls(client, doc, max_pages, result.warnings):
            if _unchanged(lastmod, known.get(loc)):
                result.keep.add(loc)
                continue
            try:
                page = fetch(client, loc, missing_ok=True)
            except SourceError as exc:
                result.warnings.append(str(exc))
                if loc in known:
                    result.keep.add(loc)  # a hiccup is not a removal
                continue
            if page.status != 200:
                continue  # 404/410: the page is gone
            article = _page_article(page, loc)
            if article is None:
                result.warnings.append(f"{loc}: skipped {page.content_type} (not HTML or text)")
                continue
            result.articles.append(article)
    else:
        article = _page_article(doc, location)
        if article is None:
            raise SourceError(f"{location}: {doc.content_type} is not HTML or text")
        result.articles.append(article)
    return result
