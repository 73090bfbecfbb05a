"""rich's Console for socialcare: every text cleaned, pipes not cut to 80 columns.

Its own module so that ``socialcare.commands.common`` imports no rich at start-up
(issue 18, start-up): the consoles there are built from this class on first use,
and piped ``queue`` output is written without rich at all
(:mod:`socialcare.commands.plain`).
"""

from __future__ import annotations

import os
from typing import Any, Iterable

from rich.console import Console, ConsoleDimensions
from rich.segment import Segment
from rich.style import Style

from ..safety import clean_text
from .common import PIPE_WIDTH

__all__ = ["PIPE_WIDTH", "TerminalConsole"]


#: rules (``show``'s section lines) stay this wide when there is no terminal to span
_PIPE_RULE = 80


class TerminalConsole(Console):
    """rich's Console, cleaning every text it writes and quiet when the reader went away.

    rich exits 1 on a broken pipe; the CLI's error handler turns
    ``BrokenPipeError`` into a quiet exit 0, so every console hands it there.

    When it writes to a pipe or a file, rich would still fit every table to the
    width of whatever terminal is on stderr, or to 80 columns: piped output would
    be cut where no one asked. Then the width is :data:`PIPE_WIDTH` instead (unless
    ``COLUMNS`` says otherwise), and each line loses the padding after its end.
    """

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError

    @property
    def unbounded(self) -> bool:
        """True when there is no terminal width to fit (a pipe or a file, no ``COLUMNS``)."""
        return self._width is None and not self.is_terminal and not os.environ.get("COLUMNS")

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        return ConsoleDimensions(PIPE_WIDTH, size.height) if self.unbounded else size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size

    def rule(
        self,
        title: Any = "",
        *,
        characters: str = "─",
        style: str | Style = "rule.line",
        align: Any = "center",
    ) -> None:
        """A section line as wide as the terminal, or 80 characters in a pipe."""
        from rich.rule import Rule

        rule = Rule(title=title, characters=characters, style=style, align=align)
        self.print(rule, width=_PIPE_RULE if self.unbounded else None)

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        """The last step before the terminal: every piece of text passes ``clean_text``.

        Commands clean what they print, but ids, keys, URLs and error bodies reach
        tables and f-strings in many places; here no escape sequence, control
        character or bidi override from any of them can get through, whatever
        path it took. Rich's own styling is added after this, from the styles.
        """
        rendered = super()._render_buffer(
            Segment(clean_text(text), style, control)
            if control is None and text and not text.isprintable() and text != "\n"
            else Segment(text, style, control)
            for text, style, control in buffer
        )
        if self.unbounded and " \n" in rendered:
            # a table's last column is padded to its longest cell: in a pipe that is
            # thousands of spaces after a short row
            rendered = "\n".join(line.rstrip(" ") for line in rendered.split("\n"))
        return rendered
