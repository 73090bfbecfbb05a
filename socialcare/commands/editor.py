"""The reply buffer ``$EDITOR`` opens (as ``git commit`` does): the draft, then the mention quoted.

Every string from the platform goes through :func:`socialcare.safety.clean_text`
before it reaches the buffer, so an editor never receives escape sequences.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..safety import clean_text

__all__ = ["EDITOR_HELP", "editor_message", "parse_editor_message"]

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
