"""Piped output without rich: the bytes rich's console would write, for simple layouts.

``socialcare queue | grep ...`` is the command run most, and most of its start-up
was rich's console and table modules (issue 18, start-up: ``queue`` took 2.4x
the time of importing typer and rich). Where stdout is a pipe or a file, rich
writes no styles, and a table of one-line cells that fits its width is plain
columns: each cell left-aligned and padded to its column's widest cell (header
and ``min_width`` included), one space between columns, trailing padding
stripped when there is no terminal width (see ``TerminalConsole``).

This module writes exactly that, and says "let rich do it" (``None``) for
anything else: a terminal, forced colours, a ``COLUMNS`` rich would read
differently, a console already built (a test or a caller configured it), a
raw cell that is not printable (rich would expand a tab or split a line), a
table wider than the width (rich would shrink columns). Widths are rich's own
cell widths (:mod:`rich.cells`, which loads no console). Text cells are
cleaned by the one cleaning function (``safety.one_line``) before they get
here; cells that are not, such as ids, are refused unless printable, so
nothing reaches the pipe that rich's console would have cleaned.
``tests/test_plain_output.py`` compares both paths byte for byte.
"""

from __future__ import annotations

import builtins
import os
import sys
from typing import Literal, Sequence

from ..safety import one_line
from . import common

#: rules stay this wide in a pipe (``TerminalConsole.rule``)
_PIPE_RULE = 80

__all__ = [
    "CellKind",
    "PlainColumn",
    "plain_fit",
    "plain_width",
    "table_lines",
    "write_line",
    "write_prose",
    "write_rule",
    "write_lines",
    "write_table",
]


def plain_width() -> tuple[int, bool] | None:
    """(width, unbounded) of stdout as ``common.console`` would lay it out, when it would
    write no styles (a pipe or a file); None when rich must write (a terminal and the rest)."""
    console = common.console
    if not isinstance(console, common._Deferred) or object.__getattribute__(console, "_real"):
        return None  # replaced or already built: its settings are not ours to guess
    if sys.platform == "win32" or hasattr(builtins, "get_ipython"):
        return None  # legacy Windows consoles and Jupyter have widths of their own
    stdout = sys.stdout
    if stdout is None or str(getattr(sys.stdin, "__module__", "")).startswith("idlelib"):
        return None
    env = os.environ
    tty_compatible = env.get("TTY_COMPATIBLE", "")
    if tty_compatible == "1":
        return None
    if tty_compatible != "0":
        force_color = env.get("FORCE_COLOR")
        if force_color is not None:
            if force_color != "":
                return None
        else:
            try:
                if stdout.isatty():
                    return None
            except (ValueError, AttributeError):
                return None
    columns = env.get("COLUMNS")
    if not columns:
        return common.PIPE_WIDTH, True
    if columns.isdigit() and int(columns) > 0:
        return int(columns), False
    return None  # rich would ask the terminal on stderr or stdin, or say 80


#: rich counts each of these as one cell: Latin-1's printable half, Latin Extended-A and -B
#: and IPA (U+00A0 to U+02FF), which spell the names of most of Europe and the Americas
_ONE_CELL_FROM, _ONE_CELL_TO = "\u00a0", "\u02ff"


def _cells(text: str) -> int:
    """Terminal cells of ``text``, as rich counts them: ASCII and the Latin letters
    (``María``) without loading rich's width tables (~1.5 ms of ``show``'s start-up)."""
    if text.isascii() or (
        max(text) <= _ONE_CELL_TO and all(c < "\x80" or c >= _ONE_CELL_FROM for c in text)
    ):
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


def plain_fit(text: object, width: int, unbounded: bool) -> str:
    """``common.fit`` as a string: cleaned, one line, cut like rich's ellipsis when bounded."""
    cell = one_line("" if text is None else str(text))
    if not unbounded and _cells(cell) > width:
        from rich.cells import set_cell_size

        cell = set_cell_size(cell, width - 1) + "…"
    return cell


#: how rich gets a column's cells: text that went through ``safety.one_line`` (a ``Text``),
#: other text as a ``Text`` (an id), or a plain ``str`` (numbers, labels: rich reads
#: ``:name:`` in those as an emoji code)
CellKind = Literal["clean", "text", "str"]


class PlainColumn:
    """A column of a plain table: its header, its least width and its cells, as strings."""

    __slots__ = ("header", "min_width", "cells", "kind")

    def __init__(
        self, header: str, min_width: int | None, cells: Sequence[str], kind: CellKind = "str"
    ) -> None:
        self.header = header
        self.min_width = min_width
        self.cells = cells
        self.kind = kind


def _usable(text: str, kind: CellKind) -> bool:
    """Whether rich prints ``text`` as it is: cleaned text always (the cleaning is
    idempotent); other text only when printable (no tab to expand, no line to split, nothing
    for the console to clean), and a plain string only without a colon (no emoji code)."""
    if kind == "clean":
        return True
    return text.isprintable() and (kind == "text" or ":" not in text)


def table_lines(columns: Sequence[PlainColumn], width: int, unbounded: bool) -> list[str] | None:
    """The lines of rich's ``Table(box=None, pad_edge=False, padding=(0, 1, 0, 0))`` with
    no-wrap columns, or None when rich would lay it out another way."""
    if not columns:
        return None
    widths = []
    for column in columns:
        if not _usable(column.header, "str") or not all(
            _usable(c, column.kind) for c in column.cells
        ):
            return None
        w = max(_cells(c) for c in (column.header, *column.cells))
        widths.append(max(w, column.min_width or 0, 1))
    if sum(widths) + len(widths) - 1 > width:
        return None  # rich would shrink or drop columns
    last = len(columns) - 1
    lines = []
    for n in range(len(columns[0].cells) + 1):
        parts = []
        for i, column in enumerate(columns):
            cell = column.header if n == 0 else column.cells[n - 1]
            pad = widths[i] - _cells(cell) + (0 if i == last else 1)
            parts.append(cell + " " * pad)
        line = "".join(parts)
        lines.append(line.rstrip(" ") if unbounded else line)
    return lines


def write_lines(lines: Sequence[str]) -> None:
    """Write ``lines`` to stdout as rich's console would print them: one ``\\n`` each."""
    sys.stdout.write("".join(line + "\n" for line in lines))


def _prose(text: str, width: int, unbounded: bool) -> str:
    """A soft-wrapped line as rich prints it: whole (the reader's terminal wraps it, rich's
    overflow is "ignore"), its trailing spaces dropped only where no width is set."""
    return text.rstrip(" ") if unbounded else text


def write_line(text: str, kind: CellKind) -> bool:
    """Print one line of prose as the console would on a pipe (``kind`` says whether rich
    gets it as a ``Text`` or a ``str``); False, having written nothing, when rich must."""
    return write_prose([text], kind)


def write_prose(lines: Sequence[str], kind: CellKind) -> bool:
    """Print lines of prose (one ``print`` of rich's each, or one multi-line ``Text``) as
    the console would on a pipe; False, having written nothing, when rich must."""
    layout = plain_width()
    if layout is None or not all(line.isprintable() and _usable(line, kind) for line in lines):
        return False
    write_lines([_prose(line, *layout) for line in lines])
    return True


#: what rich's ``Rule`` draws with
_RULE = "─"


def write_rule(title: str, kind: CellKind) -> bool:
    """``TerminalConsole.rule(title)`` on a pipe: a centred title in a line 80 characters
    wide (or ``COLUMNS``); False, having written nothing, when rich must draw it."""
    layout = plain_width()
    if layout is None or not title or not title.isprintable() or not _usable(title, kind):
        return False
    encoding = (getattr(sys.stdout, "encoding", None) or "utf-8").lower()
    if not encoding.startswith("utf"):
        return False  # rich would draw it with "-"
    from rich.cells import set_cell_size

    width = _PIPE_RULE if layout[1] else layout[0]
    if width - 4 <= 0:
        return False
    if _cells(title) > width - 4:
        title = set_cell_size(title, width - 5) + "…"
    side = (width - _cells(title)) // 2
    if side < 2:
        return False
    left = _RULE * (side - 1)
    right = _RULE * min(side + 1, width - (side - 1) - _cells(title))
    line = set_cell_size(f"{left} {title} {right}", width)
    write_lines([line])
    return True


def write_table(columns: Sequence[PlainColumn]) -> bool:
    """Write the table without rich when that gives rich's bytes; False when rich must."""
    layout = plain_width()
    if layout is None:
        return False
    lines = table_lines(columns, *layout)
    if lines is None:
        return False
    write_lines(lines)
    return True
