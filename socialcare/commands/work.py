"""The ``work`` loop: the top of the queue, one short prompt at a time, no ids to type.

Kept apart from ``cli.py`` because it is a small interactive program of its
own; everything it changes goes through :class:`socialcare.app.Socialcare`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional

import typer
from rich.console import Console
from rich.text import Text

from ..errors import SocialcareError
from ..safety import clean_text, one_line
from ..timeutil import format_age
from .common import (
    JSON_OPTION,
    CommandSet,
    complete_mention_id,
    complete_template,
    console,
    outbox_json,
    print_json,
    read_future,
    sc_of,
)

if TYPE_CHECKING:
    from ..app import DmOutcome, Row, Socialcare

__all__ = ["work_loop", "ACTIONS", "commands", "dm"]

commands = CommandSet()

ACTIONS = {
    "r": "reply",
    "t": "template",
    "d": "dm",
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
    if row.get("kind") == "dm":
        n = int(row.get("messages") or 1)
        console.print(
            Text(f"private conversation · {n} message(s) waiting · r answers it privately",
                 style="magenta")
        )  # fmt: skip
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
                elif choice == "d":
                    if _take_to_dm(sc, console, row, prompt) == "sent":
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


def _take_to_dm(sc: Socialcare, console: Console, row: Row, prompt: Callable[..., str]) -> str:
    """The ``d`` key: a private message to the author, and an optional public note."""
    if row.get("kind") == "dm":
        console.print("This is already a private conversation: [r]eply answers it privately.")
        return "back"
    text = prompt("private message")
    public = prompt("public reply (empty: none)", default="", show_default=False)
    outcome = sc.take_to_dm(row["id"], text=text, public=public or None)
    _print_dm_outcome(console, outcome)
    return "sent" if (outcome.dm or {}).get("status") == "sent" else "failed"


def _print_dm_outcome(console: Console, outcome: DmOutcome) -> None:
    for label, item in (("private message", outcome.dm), ("public reply", outcome.public)):
        if item is not None:
            style = "green" if item["status"] == "sent" else "red"
            error = f": {one_line(str(item['error']))}" if item.get("error") else ""
            console.print(Text(f"{label} #{item['id']} {item['status']}{error}", style=style))
    for note in outcome.notes:
        console.print(Text(one_line(note, 400), style="yellow"))


@commands.command()
def dm(
    ctx: typer.Context,
    mention_id: str = typer.Argument(
        ..., metavar="ID", help="A public mention, e.g. demo:1001.",
        autocompletion=complete_mention_id,
    ),
    text: Optional[str] = typer.Argument(None, help="The private message (or --template)."),
    template: Optional[str] = typer.Option(
        None, "--template", "-t", help="Private message from this template.",
        autocompletion=complete_template,
    ),
    public: Optional[str] = typer.Option(
        None, "--public", help='Also reply publicly, e.g. "We\'ve sent you a DM".'
    ),
    public_template: Optional[str] = typer.Option(
        None, "--public-template", help="The public reply from this template.",
        autocompletion=complete_template,
    ),
    public_only_if_dm_fails: bool = typer.Option(
        False, "--public-only-if-dm-fails",
        help="Send the public reply even when the private message cannot be sent.",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Render and check; send nothing."),
    force: bool = typer.Option(False, "--force", help="Despite a claim or an earlier answer."),
    json_: bool = JSON_OPTION,
) -> None:  # fmt: skip
    """Take a public mention to DM: a private message to its author and, optionally, a
    public reply, each through the outbox exactly once (the DM first; the public reply
    only once it is sent). Refused before anything is sent where the platform cannot
    open the conversation. Run it again to finish a pair a crash interrupted.

    Example: socialcare dm demo:1001 "Please send us your account number" --public "We've sent you a DM"
    """
    from ..errors import SendFailed

    outcome = sc_of(ctx).take_to_dm(
        mention_id, text=text, template=template, public=public, public_template=public_template,
        public_only_if_dm_fails=public_only_if_dm_fails, dry_run=dry_run, force=force,
    )  # fmt: skip
    items = [i for i in (outcome.dm, outcome.public) if i is not None]
    if json_:
        return print_json([outbox_json(i, ("kind",)) for i in items])
    if dry_run:
        if outcome.dm_text:
            console.print(Text(f"Would send privately:\n{outcome.dm_text}"))
        if outcome.public_text:
            console.print(Text(f"Would reply publicly:\n{outcome.public_text}"))
        for note in outcome.notes:
            console.print(Text(one_line(note, 400), style="yellow"))
        return
    _print_dm_outcome(console, outcome)
    failed = [i for i in items if i["status"] in ("failed", "unknown")]
    if failed:
        raise SendFailed(
            f"outbox #{failed[0]['id']} is {failed[0]['status']}: see `socialcare outbox`"
        )


@commands.command()
def work(ctx: typer.Context) -> None:
    """Work the queue interactively: reply, template, DM, skip, close, snooze, assign or quit.

    Example: socialcare work
    """
    handled = work_loop(sc_of(ctx), console)
    console.print(f"Handled {handled} mention(s).")
