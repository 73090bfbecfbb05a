"""The ``work`` loop: the top of the queue, one short prompt at a time, no ids to type.

Kept apart from ``cli.py`` because it is a small interactive program of its
own; everything it changes goes through :class:`socialcare.app.Socialcare`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import typer
from rich.console import Console
from rich.text import Text

from ..errors import SocialcareError
from ..safety import clean_text, one_line
from ..timeutil import format_age
from .common import CommandSet, console, read_future, sc_of

if TYPE_CHECKING:
    from ..app import Row, Socialcare

__all__ = ["work_loop", "ACTIONS", "commands"]

commands = CommandSet()

ACTIONS = {
    "r": "reply",
    "t": "template",
    "s": "skip",
    "c": "close",
    "z": "snooze",
    "a": "assign",
    "q": "quit",
}


def _next(sc: Socialcare, skipped: set[str]) -> Row | None:
    from ..app import QueueFilter

    for row in sc.queue(QueueFilter(limit=len(skipped) + 25)):
        if row["id"] in skipped:
            continue
        if row["assignee"] and row["assignee"] != sc.agent:
            continue  # someone else is on it
        return row
    return None


def _render(console: Console, row: Row, position: int) -> None:
    console.rule(Text(f"#{position}  {row['id']}  score {row['score']:.2f}"))
    sla = row.get("sla_left")
    sla_text = (
        "-"
        if sla is None
        else (f"over by {format_age(-sla)}" if sla < 0 else format_age(sla) + " left")
    )
    console.print(
        Text(
            f"@{one_line(row['author_handle'], 40)} · {row['intent'] or '-'} · "
            f"waited {format_age(row['age_seconds'])} · SLA {sla_text}"
        )
    )
    console.print(Text(clean_text(row["text"])))
    console.print(Text(clean_text(row["url"]), style="dim"))


def work_loop(
    sc: Socialcare,
    console: Console,
    *,
    prompt: Callable[..., str] | None = None,
    edit: Callable[[str], str | None] | None = None,
) -> int:
    """Run until the queue is empty or the agent quits; returns how many were handled.

    Every action that moves a mention on (reply sent, close, snooze, assign)
    counts; skip does not. A reply the agent declines at its preview returns
    to the same mention's menu.
    """
    import click

    prompt = prompt or click.prompt
    edit = edit or (lambda text: click.edit(text, extension=".txt"))
    skipped: set[str] = set()
    handled = 0
    position = 0
    menu = "  ".join(f"[{k}]{v[1:]}" if v[0] == k else f"[{k}]{v}" for k, v in ACTIONS.items())
    while True:
        row = _next(sc, skipped)
        if row is None:
            console.print("Queue is clear. Nice work.")
            return handled
        position += 1
        _render(console, row, position)
        from .kb import suggestions_text

        console.print(suggestions_text(sc.suggestions(row)))
        while True:  # this mention's menu, until an action moves on
            choice = prompt(menu, type=click.Choice(list(ACTIONS)), show_choices=False, default="s")
            if choice == "q":
                return handled
            try:
                if choice in ("r", "t"):
                    result = _reply(sc, console, row, choice == "t", prompt, edit)
                    if result == "back":
                        console.print("Not sent.")
                        continue
                    if result == "sent":
                        handled += 1
                    else:
                        skipped.add(row["id"])
                elif choice == "s":
                    skipped.add(row["id"])
                elif choice == "c":
                    sc.close(row["id"])
                    handled += 1
                elif choice == "z":
                    until = prompt("snooze for", default="4h")
                    sc.snooze(row["id"], read_future(sc, until, "snooze for"))
                    handled += 1
                elif choice == "a":
                    who = prompt("assign to")
                    sc.assign(row["id"], who)
                    skipped.add(row["id"])
                    handled += 1
            except SocialcareError as exc:
                console.print(Text(f"Error: {one_line(str(exc))}", style="red"))
                skipped.add(row["id"])
            break


def _reply(
    sc: Socialcare,
    console: Console,
    row: Row,
    with_template: bool,
    prompt: Callable[..., str],
    edit: Callable[[str], str | None],
) -> str:
    """Write, preview and send one reply: ``sent``, ``failed``, or ``back`` to the menu."""
    import click

    from .editor import edit_reply

    if with_template:
        names = list(sc.templates())
        if not names:
            console.print("No templates yet: `socialcare init` writes a starter set.")
            return "back"
        for n, name in enumerate(names, start=1):
            console.print(f"  {n}. {name}")
        pick = prompt("template", type=click.IntRange(1, len(names)))
        text = sc.draft_reply(row["id"], template=names[int(pick) - 1])
    else:
        text = prompt("reply (empty opens $EDITOR)", default="", show_default=False)
        if not text.strip():
            text = edit_reply(row, "", edit).text
    warning = sc.reply_replaces(row["id"])
    replace = warning is not None
    if warning is not None:  # one response per review: say what goes, and ask
        console.print(Text(f"Warning: {warning}", style="yellow"))
        if prompt("replace it? [y]es / [n]o", type=click.Choice(["y", "n"]), default="n") != "y":
            return "back"
    while True:
        if not text.strip():
            console.print("Empty reply.")
            return "back"
        preview = sc.reply(row["id"], text=text, dry_run=True, replace=replace)
        limit = f"/{preview.limit}" if preview.limit else ""
        console.print(Text(f"Send this reply ({preview.length}{limit} chars)?", style="bold"))
        console.print(Text(preview.text))
        answer = prompt(
            "[y]es / [e]dit / [n]o",
            type=click.Choice(["y", "e", "n"]),
            show_choices=False,
            default="y",
        )
        if answer == "n":
            return "back"
        if answer == "y":
            break
        text = edit_reply(row, text, edit).text
    outcome = sc.reply(row["id"], text=text, replace=replace)
    item = outcome.item or {}
    if item.get("status") == "sent":
        console.print(Text(f"Sent reply #{item['id']} {item.get('url') or ''}", style="green"))
        return "sent"
    if item.get("status") == "unknown":
        console.print(
            Text(
                f"Reply #{item.get('id')} may or may not have been posted: "
                f"{one_line(str(item.get('error')))} (`socialcare outbox retry {item.get('id')}` "
                "checks the platform first)",
                style="red",
            )
        )
        return "failed"
    console.print(
        Text(f"Reply #{item.get('id')} failed: {one_line(str(item.get('error')))}", style="red")
    )
    return "failed"


@commands.command()
def work(ctx: typer.Context) -> None:
    """Work the queue interactively: reply, template, skip, close, snooze, assign or quit.

    Example: socialcare work
    """
    handled = work_loop(sc_of(ctx), console)
    console.print(f"Handled {handled} mention(s).")
