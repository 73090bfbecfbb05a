"""Make untrusted text (mention text, author names) safe to print and to open in spreadsheets.

Strangers choose what we display. Printing their text raw lets them clear the
agent's screen, fake hyperlinks (OSC 8), or restyle the UI through rich
markup; a CSV cell starting with ``=`` runs as a formula in Excel/Sheets.
"""

from __future__ import annotations

import re

from rich.markup import escape

__all__ = ["clean_text", "one_line", "markup_safe", "csv_safe", "storable_text", "storable_data"]

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), DCS/SOS/PM/APC strings, and 2-byte escapes.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
# C0 except tab/newline, DEL, C1, and bidi overrides/isolates (Trojan-source style reordering).
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Lone surrogates ("\ud800" in platform JSON, or undecodable bytes kept by surrogateescape)
# cannot be encoded as UTF-8; NUL cannot go into a PostgreSQL text column.
_UNENCODABLE = re.compile("[\ud800-\udfff]")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def clean_text(text: str | None) -> str:
    """Strip terminal escape sequences and control characters, keeping newlines and tabs."""
    if not text:
        return ""
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
    return escape(clean_text(text))


def csv_safe(value: object) -> object:
    """Neutralise spreadsheet formulas: prefix a leading ``= + - @ tab CR`` with an apostrophe.

    Numbers pass through unchanged so numeric columns stay numeric.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


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
