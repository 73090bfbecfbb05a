"""The reply buffer ``$EDITOR`` opens (as ``git commit`` does): the draft, then the mention quoted.

Every string from the platform goes through :func:`socialcare.safety.clean_text`
before it reaches the buffer, so an editor never receives escape sequences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import click

from ..errors import UsageError
from ..safety import clean_text, one_line

__all__ = ["EDITOR_HELP", "EditedReply", "edit_reply", "editor_message", "parse_editor_message"]

#: what opens the buffer: ``click.edit`` (returns None when the file was not saved)
Editor = Callable[[str], "str | None"]

EDITOR_HELP = "# Write your reply above. Lines starting with # are ignored; an empty reply aborts."


def editor_message(row: Mapping[str, Any], draft: str) -> str:
    """What ``$EDITOR`` opens with: the draft, then the mention quoted in comment lines."""
    quoted = [f"# {line}" for line in clean_text(row["text"]).splitlines() or [""]]
    handle = clean_text(row["author_handle"])
    return (
        "\n".join(
            [
                draft,
                "",
                EDITOR_HELP,
                f"# Replying to @{handle} on {clean_text(row['source'])} ({clean_text(row['id'])}):",
                *quoted,
            ]
        )
        + "\n"
    )


def parse_editor_message(text: str) -> str:
    """The reply an agent wrote: comment lines dropped, surrounding blank lines trimmed."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("#")).strip()


@dataclass(frozen=True)
class EditedReply:
    """What came back from the editor: the text, and whether it is the draft untouched."""

    text: str
    unchanged: bool


def edit_reply(row: Mapping[str, Any], draft: str, edit: Editor | None = None) -> EditedReply:
    """Open ``$EDITOR`` on the draft; an editor that cannot start is one clear UsageError.

    Closing the editor without saving (or saving the draft as it was) is not an
    empty reply: it comes back ``unchanged``, so the caller asks "send this as
    is?" instead of claiming the agent wrote nothing.
    """
    opener = edit or (lambda text: click.edit(text, extension=".txt"))
    try:
        edited = opener(editor_message(row, draft))
    except click.ClickException as exc:
        raise UsageError(
            f"the editor could not run ({one_line(exc.format_message(), 160)}): set $EDITOR "
            "(or $VISUAL) to an editor that works, or pass the reply text as an argument"
        ) from None
    if edited is None:
        return EditedReply(draft.strip(), unchanged=bool(draft.strip()))
    text = parse_editor_message(edited)
    return EditedReply(text, unchanged=bool(text) and text == draft.strip())
