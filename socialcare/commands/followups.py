"""CLI for follow-ups, scheduled posts and the ``due`` cron job: thin typer over Socialcare.

``followup_app`` and ``post_app`` are typer groups and ``due`` is a plain
command function; ``cli.py`` mounts them. Errors are library
``SocialcareError`` subclasses, which the root group's handler turns into one
``Error: ...`` line and the error's exit code.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.table import Table
from rich.text import Text

from ..errors import NotFound, SendFailed, UsageError
from ..models import item_options
from ..safety import clean_text, one_line
from .common import (
    JSON_OPTION,
    complete_agent,
    complete_mention_id,
    complete_source,
    complete_template,
    console,
    err_console,
    fit,
    outbox_json,
    print_json,
    quiet_logging,
    read_future,
    relative_times,
    sc_of,
    time_text,
)

if TYPE_CHECKING:
    from ..app import DueReport, Row, Socialcare

__all__ = ["followup_app", "post_app", "due"]

# rich_markup_mode=None like the root app, so --help renders the same in every group.
followup_app = typer.Typer(
    help="Schedule, list, edit and cancel follow-ups to customers.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
post_app = typer.Typer(
    help="Schedule proactive posts (announcements).", no_args_is_help=True, rich_markup_mode=None
)


ITEM_ARG = typer.Argument(..., metavar="ID", help="Outbox item id (see the list command).")
IN_OPT = typer.Option(None, "--in", help="Send after a duration: 30m, 4h, 2d, 1w.")
AT_OPT = typer.Option(
    None, "--at", help="Send at a time: 2026-12-01T09:00 (your timezone) or with an offset."
)
STATUS_HELP = "pending (default), sending, unknown, sent, failed, cancelled, skipped or all."


def _maybe_when(sc: Socialcare, in_: str | None, at: str | None) -> datetime | None:
    """``--in`` or ``--at`` (not both) as a future UTC time, or None if neither is given."""
    if in_ and at:
        raise UsageError("give either --in or --at, not both")
    if in_ is not None:
        return read_future(sc, in_, "--in")
    return None if at is None else read_future(sc, at, "--at")


def _when(sc: Socialcare, in_: str | None, at: str | None) -> datetime:
    """Exactly one of ``--in`` / ``--at`` as a future UTC time."""
    when = _maybe_when(sc, in_, at)
    if when is None:
        raise UsageError("say when: --in 2d or --at 2026-12-01T09:00")
    return when


def _local(value: str | None, tz: str | None, *, relative: bool = False) -> str:
    return time_text(value, tz, relative=relative)


def _item_json(item: Row) -> dict[str, object]:
    """A follow-up or post: the export's outbox fields plus its options (template, dm, rule)."""
    return {**outbox_json(item), "options": item_options(item)}


def _what(item: Row) -> str:
    """A short description of an item's content for tables."""
    opts = item_options(item)
    parts = []
    if opts.get("dm"):
        parts.append("DM:")
    if opts.get("template"):
        parts.append(f"template {opts['template']}")
    else:
        parts.append(one_line(item["text"]))
    if opts.get("rule"):
        parts.append(f"[rule {opts['rule']}]")
    return " ".join(parts)


def _table(rows: list[Row], tz: str | None, *, posts: bool = False) -> Table:
    """One line per item, cut to the terminal width; a note column only if some item has one."""
    headers = ["id", "due", "status", "source" if posts else "mention", "agent"]
    relative = relative_times()
    fixed = [
        [
            str(r["id"]),
            _local(r["due_at"], tz, relative=relative),
            r["status"],
            r["source"] if posts else r["mention_id"] or "-",
            r["agent"] or "-",
        ]
        for r in rows
    ]
    widths = [max([len(h), *(len(cells[i]) for cells in fixed)]) for i, h in enumerate(headers)]
    notes = [one_line(r["error"] or r["url"] or "") for r in rows]
    columns = len(headers) + (2 if any(notes) else 1)
    # Ids and times stay whole; the text gets what is left (3 border characters per column).
    room = max(console.width - sum(widths) - 3 * columns - 1, 16)
    what_width, note_width = (room * 2 // 3, room - room * 2 // 3) if any(notes) else (room, 0)
    table = Table(*headers, "what", *(["note"] if any(notes) else []))
    for r, cells, note in zip(rows, fixed, notes, strict=True):
        extra = [fit(note, note_width)] if any(notes) else []
        table.add_row(*(Text(c) for c in cells), fit(_what(r), what_width), *extra)
    return table


def _show(sc: Socialcare, item: Row) -> None:
    tz = sc.config.timezone
    opts = item_options(item)
    target = item["mention_id"] or item["source"]
    console.rule(Text(f"{item['kind']} {item['id']}  {item['status']}  {target}"))
    console.print(Text(f"due      {_local(item['due_at'], tz)} ({item['due_at']})"))
    console.print(Text(f"created  {_local(item['created_at'], tz)} by {item['agent'] or '-'}"))
    if opts.get("template"):
        console.print(Text(f"template {opts['template']}"))
    if opts.get("dm"):
        console.print(Text(f"private message, subject: {one_line(opts.get('subject'))}"))
    if opts.get("rule"):
        console.print(Text(f"rule     {opts['rule']}"))
    if item["sent_at"]:
        console.print(Text(f"sent     {_local(item['sent_at'], tz)} {item['url'] or ''}"))
    if item["error"]:
        console.print(Text(f"note     {one_line(item['error'])}", style="yellow"))
    console.print(Text(clean_text(item["text"])))
    if item["status"] == "pending":
        view = sc.preview(item)
        if view.skip:
            console.print(Text(f"If due now it would be skipped: {view.skip}", style="yellow"))
        elif view.error:
            console.print(Text(f"If due now it would fail: {one_line(view.error)}", style="red"))


# -- follow-ups ----------------------------------------------------------------
@followup_app.command("add")
def followup_add(
    ctx: typer.Context,
    mention_id: str = typer.Argument(
        ..., metavar="ID", help="The mention to follow up on.", autocompletion=complete_mention_id
    ),
    in_: Optional[str] = IN_OPT,
    at: Optional[str] = AT_OPT,
    template: Optional[str] = typer.Option(
        None,
        "--template",
        "-t",
        help="Template name (rendered when sent).",
        autocompletion=complete_template,
    ),
    text: Optional[str] = typer.Option(None, "--text", help="The text ({placeholders} allowed)."),
    dm: bool = typer.Option(False, "--dm", help="Send as a private message (Reddit)."),
    subject: Optional[str] = typer.Option(
        None, "--subject", help="Subject of the private message (with --dm)."
    ),
) -> None:
    """Schedule a follow-up to the customer, on the same platform and thread.

    Example: socialcare followup add reddit:t1_abc --in 3d --template checkin
    """
    sc = sc_of(ctx)
    if subject and not dm:
        raise UsageError("--subject is for private messages: add --dm")
    item = sc.followup_add(
        mention_id, when=_when(sc, in_, at), template=template, text=text, dm=dm, subject=subject
    )
    due = _local(item["due_at"], sc.config.timezone)
    console.print(Text(f"Follow-up {item['id']} for {mention_id} due {due}"))


@followup_app.command("list")
def followup_list(
    ctx: typer.Context,
    due_: bool = typer.Option(False, "--due", help="Only those whose time has come."),
    status: str = typer.Option("pending", "--status", help=STATUS_HELP),
    agent: Optional[str] = typer.Option(
        None, "--agent", help="Only those scheduled by agent.", autocompletion=complete_agent
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """List follow-ups, soonest first, times in your timezone.

    Example: socialcare followup list --status all --agent alice
    """
    sc = sc_of(ctx)
    rows = sc.followups(status=status, agent=agent, due=due_)
    if json_:
        return print_json([_item_json(r) for r in rows])
    if not rows:
        console.print("No follow-ups.")
        return
    console.print(_table(rows, sc.config.timezone))
    console.print(_SHARED_IDS, style="dim")


@followup_app.command("show")
def followup_show(ctx: typer.Context, item_id: int = ITEM_ARG, json_: bool = JSON_OPTION) -> None:
    """Show one follow-up: when, what, and whether it would be skipped if due now.

    --json prints the same array as `followup list --json`, of this one item, with
    what `due` would do with it now ("preview": text, skip or error).

    Example: socialcare followup show 12
    """
    sc = sc_of(ctx)
    item = sc.followup(item_id)
    if json_:
        out = _item_json(item)
        if item["status"] == "pending":
            view = sc.preview(item)
            out["preview"] = {"text": view.text, "skip": view.skip, "error": view.error}
        return print_json([out])
    _show(sc, item)


@followup_app.command("cancel")
def followup_cancel(ctx: typer.Context, item_id: int = ITEM_ARG) -> None:
    """Cancel a pending follow-up.

    Example: socialcare followup cancel 12
    """
    sc_of(ctx).followup_cancel(item_id)
    console.print(f"Follow-up {item_id} cancelled")


@followup_app.command("edit")
def followup_edit(
    ctx: typer.Context,
    item_id: int = ITEM_ARG,
    in_: Optional[str] = IN_OPT,
    at: Optional[str] = AT_OPT,
    template: Optional[str] = typer.Option(
        None, "--template", "-t", help="New template name.", autocompletion=complete_template
    ),
    text: Optional[str] = typer.Option(None, "--text", help="New text (replaces the template)."),
) -> None:
    """Change a pending follow-up's text, template or time.

    Example: socialcare followup edit 12 --in 1w
    """
    sc = sc_of(ctx)
    if text is not None and template is not None:
        raise UsageError("give either --text or --template, not both")
    when = _maybe_when(sc, in_, at)
    item = sc.followup_edit(item_id, text=text, template=template, when=when)
    console.print(Text(f"Follow-up {item_id} due {_local(item['due_at'], sc.config.timezone)}"))


# -- posts ---------------------------------------------------------------------
@post_app.command("add")
def post_add(
    ctx: typer.Context,
    source: str = typer.Option(
        ...,
        "--source",
        "-s",
        help="Where to post (twitter, reddit, ...).",
        autocompletion=complete_source,
    ),
    in_: Optional[str] = IN_OPT,
    at: Optional[str] = AT_OPT,
    text: Optional[str] = typer.Option(None, "--text", help="The post."),
    file: Optional[Path] = typer.Option(None, "--file", help="Read the post from a UTF-8 file."),
) -> None:
    """Schedule a proactive post (an announcement); `socialcare due` publishes it.

    Example: socialcare post add -s twitter --at 2026-12-01T09:00 --text "We're back!"
    """
    sc = sc_of(ctx)
    if file is not None and text is None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise NotFound(f"--file: cannot read {file} ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise UsageError(f"--file: {file} is not UTF-8 text (is it the right file?)") from None
    elif (file is None) == (text is None):
        raise UsageError("give exactly one of --text or --file")
    item = sc.post_add(source, when=_when(sc, in_, at), text=text or "")
    due = _local(item["due_at"], sc.config.timezone)
    console.print(Text(f"Post {item['id']} on {source} due {due}"))


@post_app.command("list")
def post_list(
    ctx: typer.Context,
    status: str = typer.Option("pending", "--status", help=STATUS_HELP),
    json_: bool = JSON_OPTION,
) -> None:
    """List scheduled posts, soonest first.

    Example: socialcare post list --status all
    """
    sc = sc_of(ctx)
    rows = sc.posts(status=status)
    if json_:
        return print_json([_item_json(r) for r in rows])
    if not rows:
        console.print("No scheduled posts.")
        return
    console.print(_table(rows, sc.config.timezone, posts=True))
    console.print(_SHARED_IDS, style="dim")


@post_app.command("cancel")
def post_cancel(ctx: typer.Context, item_id: int = ITEM_ARG) -> None:
    """Cancel a pending scheduled post.

    Example: socialcare post cancel 7
    """
    sc_of(ctx).post_cancel(item_id)
    console.print(f"Post {item_id} cancelled")


# -- the cron job --------------------------------------------------------------
_DRY = {"sent": "would send", "failed": "would fail", "skipped": "would skip", "busy": "busy"}


#: said under every list, because a follow-up "#7" may follow reply #6 in the outbox
_SHARED_IDS = (
    "ids are outbox item numbers, shared with replies and posts "
    "(`socialcare outbox --all` lists every item)"
)


def _print_report(report: DueReport, *, quiet: bool) -> None:
    """A line per item (failures on stderr, even when quiet), then a summary unless quiet."""
    for line in report.lines:
        outcome = _DRY[line.outcome] if report.dry_run else line.outcome
        message = Text(f"{outcome} {line.kind} {line.item_id} ({line.target}): ")
        message.append(one_line(line.detail, 120))
        if line.outcome == "failed" and not report.dry_run:
            err_console.print(message)
        elif not quiet:
            console.print(message)
    if quiet:
        return
    if report.stuck:
        ids = ", ".join(str(i) for i in report.stuck)
        console.print(
            Text(f"still 'sending' from an interrupted run: {ids} (see `socialcare outbox`)")
        )
    counts = (report.sent, report.skipped, report.failed)
    if report.dry_run:
        console.print("Would send %d, skip %d, fail %d (dry run: nothing changed)" % counts)
    else:
        console.print("Sent %d, skipped %d, failed %d" % counts)


def due(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would go; change nothing."),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No output unless something failed (cron)."
    ),
) -> None:
    """Send the follow-ups and posts that are due (run from cron every 5 minutes).

    Exits 8 when something failed to send and 6 when another run holds the lock.

    Example: socialcare due --quiet
    """
    if quiet:
        quiet_logging()
    report = sc_of(ctx).due(dry_run=dry_run)
    _print_report(report, quiet=quiet)
    if report.failed and not dry_run:
        raise SendFailed(
            f"{report.failed} of {len(report.lines)} due item(s) failed to send "
            "(see `socialcare outbox`; fix, then `socialcare outbox retry ID`)"
        )
