"""Moderation on the platform itself: hide a comment (Facebook, Instagram)."""

from __future__ import annotations

import typer

from .common import CommandSet, complete_mention_id, console, sc_of

commands = CommandSet()

_ID_ARG = typer.Argument(
    ...,
    metavar="ID",
    help="A comment's mention id, e.g. facebook:123_456.",
    autocompletion=complete_mention_id,
)


@commands.command()
def hide(
    ctx: typer.Context,
    mention_id: str = _ID_ARG,
    unhide: bool = typer.Option(False, "--unhide", help="Show a hidden comment again."),
) -> None:
    """Hide a comment on Facebook or Instagram (its author still sees it; others do not).

    Moderation is part of care there: hide spam or abuse without deleting it.
    Hiding is logged in the audit log; the mention keeps its status.

    Example: socialcare hide facebook:123456_789012
    """
    sc_of(ctx).hide(mention_id, unhide=unhide)
    console.print(f"{mention_id} {'shown again' if unhide else 'hidden'} on the platform")
