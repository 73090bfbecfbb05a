"""Make untrusted text (mention text, author names, their HTML) safe to store, print and open.

Strangers choose what we display. Printing their text raw lets them clear the
agent's screen, fake hyperlinks (OSC 8), or restyle the UI through rich
markup; a CSV cell starting with ``=`` runs as a formula in Excel/Sheets.
Their HTML (Mastodon statuses, HN comments, feed entries, help-centre pages)
becomes plain text through one extractor, :func:`read_html`, built on the
standard library's :class:`html.parser.HTMLParser`: no extra dependency, it
never fetches or runs anything, and it tolerates broken markup.
"""

from __future__ import annotations

import os
import re
from dataclasses import field
from functools import lru_cache
from itertools import compress, islice
from operator import methodcaller
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence, cast

from .models import deferred_dataclass, on_first_use

if TYPE_CHECKING:
    from html.parser import HTMLParser as _ParserBase
else:  # the real base is added when HTML is first read (see _html_reader)
    _ParserBase = object

__all__ = [
    "clean_text",
    "one_line",
    "markup_safe",
    "csv_safe",
    "csv_rows",
    "csv_page",
    "storable_text",
    "storable_data",
    "html_to_text",
    "read_html",
    "HtmlDocument",
    "PRIVATE_UMASK",
    "private_dir",
    "private_file",
    "keep_files_private",
]


def _on_first_use(name: str, pattern: str) -> re.Pattern[str]:
    """This module's pattern ``name``, compiled when first used: a character class beyond
    Latin-1 costs a bitmap of the BMP (~0.2 ms each), and ``queue`` needs none of these."""
    return cast("re.Pattern[str]", on_first_use(globals(), name, re.compile, pattern))


# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), DCS/SOS/PM/APC strings, and 2-byte escapes.
_ESCAPES = _on_first_use(
    "_ESCAPES",
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]",
)
# C0 except tab/newline, DEL, C1, and bidi overrides/isolates (Trojan-source style reordering).
_CONTROLS = _on_first_use("_CONTROLS", r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CSV_CONTROLS = _on_first_use(
    "_CSV_CONTROLS", r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: cell types csv_safe returns unchanged (what the stores hand back besides text)
_PLAIN_CELLS = frozenset({type(None), int, float, bool, bytes})
_TEXT = frozenset({str})
_TEXT_OR_NONE = frozenset({str, type(None)})
_PLAIN_OR_TEXT = _PLAIN_CELLS | _TEXT
# csv_page joins a column's text cells with this pair (rare in text, and ASCII so an
# ASCII column stays one byte per character)
_JOIN = "~~"
_FORMULA_AFTER_JOIN = _on_first_use(
    "_FORMULA_AFTER_JOIN", re.escape(_JOIN) + "[" + re.escape("".join(_FORMULA_START)) + "]"
)
_STARTS_FORMULA = methodcaller("startswith", _FORMULA_START)


@lru_cache(maxsize=1)
def _latin1_marks() -> bytes:
    """A ``bytes.translate`` table for Latin-1 text: what each character is to the checks.

    Translated by it, Latin-1 text reads "C" where csv_safe strips a character and "F"
    where a formula character is, and the join separator reads "SS". Built on the first
    CSV page (``queue`` and ``show`` write none).
    """
    marks = bytearray(b"a" * 256)  # "a": nothing csv_safe looks at
    for b in range(256):
        if b != 13 and _CONTROLS.match(chr(b)):  # _CSV_CONTROLS: _CONTROLS but CR
            marks[b] = ord("C")  # a character csv_safe strips
        elif chr(b) in _FORMULA_START:
            marks[b] = ord("F")  # a formula character
        elif chr(b) in _JOIN:
            marks[b] = ord("S")  # the separator's character
    return bytes(marks)


#: a formula character right after a separator, in the marks
_MARKED_FORMULA_AFTER_JOIN = b"SSF"
# Lone surrogates ("\ud800" in platform JSON, or undecodable bytes kept by surrogateescape)
# cannot be encoded as UTF-8; NUL cannot go into a PostgreSQL text column.
_UNENCODABLE = _on_first_use("_UNENCODABLE", "[\ud800-\udfff]")
_UNSTORABLE = _on_first_use("_UNSTORABLE", "[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def clean_text(text: str | None) -> str:
    """Strip terminal escape sequences and control characters, keeping newlines and tabs."""
    if not text:
        return ""
    if text.isprintable() or text.replace("\n", "").replace("\t", "").isprintable():
        # no escape, control or bidi character (each is unprintable, Cc or Cf), no CR:
        # nothing to strip, and no pattern compiled for it (start-up of `queue`)
        return text
    text = _ESCAPES.sub("", text.replace("\r\n", "\n"))
    return _CONTROLS.sub("", text.replace("\r", "\n"))


def one_line(text: str | None, width: int | None = None) -> str:
    """Cleaned text on one line (whitespace collapsed), cut to ``width`` with an ellipsis."""
    flat = " ".join(clean_text(text).split())
    if width is not None and len(flat) > width:
        return flat[: max(width - 1, 0)] + "…"
    return flat


def markup_safe(text: str | None) -> str:
    """Cleaned text with rich markup escaped, for interpolation into a markup string."""
    from rich.markup import escape  # here: `import socialcare.cli` needs no rich markup

    return escape(clean_text(text))


def csv_safe(value: object) -> object:
    """One CSV cell from untrusted text: the one neutraliser for every CSV path.

    Terminal escapes and control characters are stripped (CSV often lands on a
    terminal first: ``queue --csv | less``), then a leading ``= + - @ tab CR``
    gets an apostrophe so spreadsheets never run it as a formula. Numbers pass
    through unchanged so numeric columns stay numeric.
    """
    if not isinstance(value, str):
        return value
    if not value.isprintable():
        # clean_text's rule, except that CR stays a CR: it is data in a CSV cell
        value = _CSV_CONTROLS.sub("", _ESCAPES.sub("", value))
    if value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_rows(rows: Iterable[Sequence[object]], *, page: int = 1000) -> Iterator[Sequence[object]]:
    """Rows with every cell as :func:`csv_safe` makes it, for a ``csv.writer``: same bytes, faster.

    Rows are checked a page at a time and column by column, in C (see
    :func:`csv_page`); only the cells that the checks cannot clear go through
    :func:`csv_safe`, so the rule keeps one definition. A function call per cell
    was most of the time of a million-row export.
    """
    source = iter(rows)
    while chunk := list(islice(source, page)):
        yield from _safe_page(chunk, 0)


def csv_page(chunk: Sequence[Sequence[object]], *, first: int = 0) -> Sequence[Sequence[object]]:
    """One page of rows made safe as :func:`csv_rows` makes them (for ``writerows``).

    Cells before column ``first`` are left as they are (a keyset's keys, which
    the caller does not write). Each column is checked once for the page: a
    column of numbers and None needs nothing; a column of text needs nothing when
    its cells joined hold no character that ``csv_safe`` strips (one
    ``bytes.translate`` for Latin-1 text) and no cell starts with a formula
    character (one search on the join). In a text column that fails, only the
    cells that start with a formula character or hold such a character go
    through ``csv_safe``. Rows with a changed cell are copied (as lists); the
    other rows are the page's own objects.
    """
    return _safe_page(chunk, first)


def _safe_page(chunk: Sequence[Sequence[object]], first: int) -> Sequence[Sequence[object]]:
    if not chunk:
        return chunk
    if len(set(map(len, chunk))) != 1:  # ragged rows: no columns to check
        return [[*row[:first], *map(csv_safe, row[first:])] for row in chunk]
    # Only the cells csv_safe changes are written back, into copies of their rows:
    # rebuilding every row of a page from its columns cost more than the checks.
    fixed: dict[int, list[object]] = {}
    for i, column in enumerate(islice(zip(*chunk, strict=True), first, None), first):
        for j in _suspects(column):
            old = column[j]
            new = csv_safe(old)
            if new is not old:
                row = fixed.get(j)
                if row is None:
                    row = fixed[j] = list(chunk[j])
                row[i] = new
    if not fixed:
        return chunk
    rows = list(chunk)
    for j, row in fixed.items():
        rows[j] = row
    return rows


def _suspects(column: Sequence[object]) -> Iterable[int]:
    """Indices of the cells of ``column`` that csv_safe may change (a superset; checked in C)."""
    try:
        joined = _JOIN.join(column)  # type: ignore[arg-type]
    except TypeError:  # not all text: numbers, None, or a mix
        return _mixed_suspects(column)
    texts = cast("Sequence[str]", column)
    # A cell starting with a formula character leaves one after a separator. A
    # separator and such a character inside a cell is a false alarm: the cells
    # found below are the ones that really start so.
    controls, formula = _flags(joined)
    if not controls:
        if not formula:
            return ()
        return compress(range(len(texts)), map(_STARTS_FORMULA, texts))
    # Rare: a control character or escape in some cell (csv_safe strips them).
    suspects = set(compress(range(len(texts)), map(_CSV_CONTROLS.search, texts)))
    if formula:
        suspects.update(compress(range(len(texts)), map(_STARTS_FORMULA, texts)))
    return suspects


def _mixed_suspects(column: Sequence[object]) -> Iterable[int]:
    kinds = set(map(type, column))
    if str not in kinds:
        return () if kinds <= _PLAIN_CELLS else range(len(column))
    if kinds == _TEXT_OR_NONE:
        texts: Iterable[str] = filter(None, column)  # type: ignore[arg-type]
    elif kinds <= _PLAIN_OR_TEXT:
        texts = [v for v in column if v.__class__ is str]
    else:
        return range(len(column))  # a str subclass among others, or another type: every cell
    controls, formula = _flags(_JOIN + _JOIN.join(texts))
    if not controls and not formula:
        return ()
    return range(len(column))  # rare (a mixed column of text that fails): every cell


def _flags(joined: str) -> tuple[bool, bool]:
    """Whether ``joined`` (cells joined by ``_JOIN``) holds a character that csv_safe strips
    (so any escape too), and whether it starts with, or has after a separator, a formula
    character."""
    try:
        # Latin-1 text (most columns) encodes by a plain copy, one translate marks what
        # csv_safe looks at, and two searches in C read the marks: far cheaper than
        # isprintable, or a regular expression that stopped at every separator.
        marks = joined.encode("latin-1").translate(_latin1_marks())
    except UnicodeEncodeError:  # beyond U+00FF (emoji, CJK, bidi controls, surrogates)
        controls = not (joined.isprintable() or _CSV_CONTROLS.search(joined) is None)
        formula = (
            joined.startswith(_FORMULA_START) or _FORMULA_AFTER_JOIN.search(joined) is not None
        )
        return controls, formula
    return b"C" in marks, marks.startswith(b"F") or _MARKED_FORMULA_AFTER_JOIN in marks


def storable_text(text: str) -> tuple[str, int]:
    """``text`` with what UTF-8 or a database text column cannot hold (lone surrogates, NUL)
    replaced by U+FFFD, and how many were replaced: one poisoned post must not block ingest."""
    if text.isascii() and "\x00" not in text:
        return text, 0
    return _UNSTORABLE.subn(REPLACEMENT, text)


def storable_data(value: object) -> tuple[object, int]:
    """A JSON-like value (dicts, lists, strings) with lone surrogates replaced, and how many.

    NUL is kept: JSON text escapes it, so a payload stays as the platform sent it.
    """
    if isinstance(value, str):
        if value.isascii():
            return value, 0
        return _UNENCODABLE.subn(REPLACEMENT, value)
    if isinstance(value, dict):
        out: dict[object, object] = {}
        total = 0
        for key, item in value.items():
            new_key, n_key = storable_data(key) if isinstance(key, str) else (key, 0)
            new_item, n_item = storable_data(item)
            out[new_key] = new_item
            total += n_key + n_item
        return (out, total) if total else (value, 0)
    if isinstance(value, list | tuple):
        items = [storable_data(v) for v in value]
        total = sum(n for _, n in items)
        return ([v for v, _ in items], total) if total else (value, 0)
    return value, 0


# -- HTML ------------------------------------------------------------------------
#: never text: their content is code, styles or embedded objects
_HIDDEN_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "object"})
#: page furniture, dropped when reading a whole page (kept in fragments)
_FURNITURE_TAGS = frozenset({"nav", "header", "footer", "aside", "form", "button", "select"})
_BLOCK_TAGS = frozenset(
    {
        "p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table",
        "section", "article", "main", "blockquote", "pre", "dt", "dd", "hr", "figcaption", "td",
    }
)  # fmt: skip
_NOT_A_TAG = _on_first_use("_NOT_A_TAG", r"<(?=[^<>]*(?:<|\Z))")
_SPACES = _on_first_use("_SPACES", r"[ \t\r\f\v]+")
_BLANK_LINES = _on_first_use("_BLANK_LINES", r"\n{3,}")


@deferred_dataclass  # made when HTML is first read: `queue` reads none
class HtmlDocument:
    """What :func:`read_html` found: visible text (all of it and of ``<main>``), title candidates."""

    text: str = ""
    main: str = ""
    title: str = ""
    h1: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    article_tags: list[str] = field(default_factory=list)


class _HtmlReading(_ParserBase):
    """Collects visible text with its line and paragraph breaks, plus title and meta tags.

    The handlers of :func:`_html_reader`'s parser: html.parser (and the html package)
    is imported only when some HTML is read, not by every command that imports this
    module (``queue`` reads none).
    """

    def __init__(self, page: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.doc = HtmlDocument()
        self._text: list[str] = []
        self._main: list[str] = []
        self._title: list[str] = []
        self._h1: list[str] = []
        self._hidden = 0
        self._furniture = 0
        self._in_main = 0
        self._in_title = False
        self._in_h1 = False
        self._h1_done = False
        self._started = False  # any visible non-space text yet (no leading blank lines)
        self._trailing = 0  # newlines at the end of the text so far

    def _emit(self, data: str) -> None:
        if self._hidden or self._furniture or not data:
            return
        self._text.append(data)
        if self._in_main:
            self._main.append(data)
        stripped = data.rstrip("\n")
        if stripped.strip():
            self._started = True
        self._trailing = len(data) - len(stripped) + (self._trailing if not stripped else 0)

    def _newlines(self, count: int) -> None:
        if self._started and self._trailing < count:
            self._emit("\n" * (count - self._trailing))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden += 1
        elif self.page and tag in _FURNITURE_TAGS:
            self._furniture += 1
        elif tag == "meta":
            a = {k.lower(): v or "" for k, v in attrs}
            name = (a.get("name") or a.get("property") or "").lower()
            if name == "article:tag":
                self.doc.article_tags.append(a.get("content", ""))
            elif name:
                self.doc.meta.setdefault(name, a.get("content", ""))
        elif tag == "title":
            self._in_title = True
        elif tag == "h1" and not self._h1_done:
            self._in_h1 = True
        if tag in ("main", "article"):
            self._in_main += 1
        if tag == "br":
            self._emit("\n")
        elif tag == "li":
            self._newlines(1)
            self._emit("- ")
        elif tag in _BLOCK_TAGS:
            # HN separates paragraphs with bare <p> tags, never closed
            self._newlines(2 if tag == "p" else 1)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._emit("\n")
        else:
            self.handle_starttag(tag, attrs)
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden = max(self._hidden - 1, 0)
        elif self.page and tag in _FURNITURE_TAGS:
            self._furniture = max(self._furniture - 1, 0)
        elif tag == "title":
            self._in_title = False
        elif tag == "h1" and self._in_h1:
            self._in_h1 = False
            self._h1_done = bool("".join(self._h1).strip())
        if tag == "p":
            self._newlines(2)
        elif tag in _BLOCK_TAGS:
            self._newlines(1)
        if tag in ("main", "article"):
            self._in_main = max(self._in_main - 1, 0)

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        if self._in_title:
            self._title.append(data)
            return
        if self._in_h1:
            self._h1.append(data)  # kept even inside <header>: that is where titles live
        self._emit(data)

    def result(self) -> HtmlDocument:
        self.doc.text = "".join(self._text)
        self.doc.main = "".join(self._main)
        self.doc.title = "".join(self._title)
        self.doc.h1 = "".join(self._h1)
        return self.doc


_READER: list[type[_HtmlReading]] = []


def _html_reader(page: bool) -> _HtmlReading:
    """A fresh parser: :class:`html.parser.HTMLParser` with :class:`_HtmlReading`'s handlers."""
    if not _READER:
        from html.parser import HTMLParser

        class _HtmlReader(_HtmlReading, HTMLParser):
            """The one HTML parser: the standard library's, with our handlers."""

        _READER.append(_HtmlReader)
    return _READER[0](page)


def read_html(html: str, *, page: bool = False) -> HtmlDocument:
    """Parse HTML once: visible text (scripts, styles and embeds dropped) and title candidates.

    ``page=True`` reads a whole web page and also drops its furniture
    (navigation, header, footer, forms); fragments keep every element's text.
    """
    reader = _html_reader(page)
    if "<" in html:
        # A "<" with another "<" (or the end) before its ">" can't open a tag: make it
        # text. Without this, "<a<a<a..." from a stranger makes the stdlib parser
        # rescan the rest on every "<" (quadratic: 20 KB took 1 s, 1 MB would take hours).
        html = _NOT_A_TAG.sub("&lt;", html)
    reader.feed(html)
    reader.close()
    return reader.result()


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, breaks kept.

    ``<br>`` becomes a line break and ``</p>`` a blank line, so a Mastodon
    status or HN comment reads as its author laid it out; runs of spaces and
    blank lines collapse. Text inside tags such as Mastodon's
    ``<span class="invisible">`` is kept, so shortened links come out whole.
    """
    if "<" not in html and "&" not in html:
        return html.strip()
    text = read_html(html).text.replace("\xa0", " ")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


# -- private data on disk ------------------------------------------------------------
#: what ssh and gpg use: files 0600, directories 0700 (customer messages, internal notes)
PRIVATE_UMASK = 0o077


def keep_files_private() -> None:
    """From here on this process creates files 0600 and directories 0700 (the CLI calls it).

    Stores, WAL files, exports, HTML reports, sent-logs and configs hold customer
    messages and internal notes, so none of them is readable by other accounts.
    """
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """``path`` as a directory (created if needed) that only its owner can enter."""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask; be exact
        except OSError:
            pass
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` (if missing) readable and writable by its owner only."""
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    return path
