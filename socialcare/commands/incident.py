"""`incident`: open an outage, see it, answer every affected customer once, post, resolve.

Thin typer over :class:`socialcare.app.Socialcare`'s ``incident_*`` methods;
``cli.py`` mounts ``incident_app`` as the ``incident`` group.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Optional

import typer
from rich.table import Table
from rich.text import Text

from ..errors import NotFound, UsageError
from ..safety import one_line
from ..timeutil import parse_duration, parse_since
from .common import (
    JSON_OPTION,
    complete_mention_id,
    complete_source,
    complete_template,
    console,
    err_console,
    interactive,
    print_json,
    sc_of,
)

if TYPE_CHECKING:
    from ..app import ReplyReport

__all__ = ["incident_app"]

incident_app = typer.Typer(
    help="Incidents: one outage, every affected customer answered once, posted, followed up.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

NAME_ARG = typer.Argument(..., metavar="NAME", help="The incident's name (e.g. login-outage).")
IDS_ARG = typer.Argument(
    ..., metavar="ID...", help="Mention ids.", autocompletion=complete_mention_id
)


@incident_app.command("open")
def incident_open(
    ctx: typer.Context,
    name: str = NAME_ARG,
    match: Optional[str] = typer.Option(
        None, "--match", "-m", help='What it is about: "login or 502" (each part needs all words).'
    ),
    since: Optional[str] = typer.Option(
        None, "--since", help="Catch mentions newer than 2h, 1d or an ISO time (default 24h)."
    ),
    from_spike: bool = typer.Option(
        False, "--from-spike", help="Use the latest spike's window and driving terms."
    ),
    window: str = typer.Option("1h", "--window", help="Spike window with --from-spike: 1h, 30m."),
) -> None:
    """Open an incident; it catches matching mentions now and at every poll until resolved.

    Example: socialcare incident open login-outage --match "login or sign in" --since 2h
    """
    sc = sc_of(ctx)
    when = parse_since(since, tz=sc.config.timezone) if since else None
    window_s = parse_duration(window, what="--window").total_seconds()
    incident, caught = sc.incident_open(
        name, match=match, since=when, from_spike=from_spike, window_s=window_s
    )
    console.print(
        Text(
            f"Incident {incident['name']} open: matching {one_line(incident['match'], 80)!r}"
            f"{' since ' + incident['since_at'] if incident['since_at'] else ''}; "
            f"{caught} open mention(s) caught now"
        )
    )


@incident_app.command("list")
def incident_list(
    ctx: typer.Context,
    status: Optional[str] = typer.Option(None, "--status", help="open or resolved (default all)."),
    json_: bool = JSON_OPTION,
) -> None:
    """List incidents, newest first, with their mention and customer counts.

    Example: socialcare incident list --status open
    """
    rows = sc_of(ctx).incidents(status=status)
    keys = ("name", "status", "match", "since_at", "opened_at", "resolved_at", "mentions",
            "open_mentions", "customers")  # fmt: skip
    if json_:
        print_json([{k: r[k] for k in keys} for r in rows])
        return
    if not rows:
        console.print("No incidents (open one with `socialcare incident open NAME --match ...`).")
        return
    table = Table("name", "status", "match", "opened", "mentions", "open", "customers")
    for r in rows:
        table.add_row(
            one_line(r["name"]), r["status"], one_line(r["match"], 40), r["opened_at"],
            str(r["mentions"]), str(r["open_mentions"]), str(r["customers"]),
        )  # fmt: skip
    console.print(table)


@incident_app.command("show")
def incident_show(ctx: typer.Context, name: str = NAME_ARG, json_: bool = JSON_OPTION) -> None:
    """Show an incident: counts by source and hour, customers affected and answered, samples.

    Example: socialcare incident show login-outage
    """
    view = sc_of(ctx).incident(name)
    if json_:
        print_json([view.to_json()])
        return
    inc = view.incident
    console.print(
        Text(
            f"Incident {inc['name']} ({inc['status']}) matching {one_line(inc['match'], 80)!r}, "
            f"opened {inc['opened_at']} by {inc['opened_by'] or '-'}"
            + (f", resolved {inc['resolved_at']}" if inc["resolved_at"] else "")
        )
    )
    console.print(
        Text(
            f"{view.mentions} mention(s), {view.open_mentions} open; {view.customers} "
            f"customer(s) affected, {view.answered} answered, {view.acknowledged} acknowledged; "
            f"{view.followups} follow-up(s) scheduled"
        )
    )
    sources = Table("source", "mentions")
    for r in view.by_source:
        sources.add_row(one_line(r["source"]), str(r["mentions"]))
    hours = Table("hour (UTC)", "mentions")
    for r in view.by_hour:
        hours.add_row(f"{r['hour']}:00", str(r["mentions"]))
    console.print(sources)
    console.print(hours)
    for s in view.samples:
        console.print(
            Text(f"  {s['id']} @{one_line(s['author_handle'], 30)}: {one_line(s['text'], 100)}")
        )


@incident_app.command("add")
def incident_add(ctx: typer.Context, name: str = NAME_ARG, ids: List[str] = IDS_ARG) -> None:
    """Attach mentions to an incident by hand.

    Example: socialcare incident add login-outage demo:1001 demo:1002
    """
    count = sc_of(ctx).incident_add(name, ids)
    console.print(Text(f"Attached {count} mention(s) to {name}"))


@incident_app.command("remove")
def incident_remove(ctx: typer.Context, name: str = NAME_ARG, ids: List[str] = IDS_ARG) -> None:
    """Detach mentions from an incident (later polls do not attach them again).

    Example: socialcare incident remove login-outage demo:1003
    """
    count = sc_of(ctx).incident_remove(name, ids)
    console.print(Text(f"Detached {count} mention(s) from {name}"))


def _reply_summary(report: ReplyReport) -> str:
    totals = report.totals
    order = ("sent", "would-send", "already", "skipped", "too-long", "failed", "unknown")
    parts = [f"{totals[k]} {k}" for k in order if totals.get(k)]
    rate = ""
    if totals.get("sent") and report.seconds > 0:
        rate = f" ({totals['sent'] / report.seconds:.1f}/s)"
    what = "Dry run" if report.dry_run else "Acknowledgements"
    return f"{what} for {report.incident}: {', '.join(parts) or 'nothing to do'}{rate}"


@incident_app.command("reply")
def incident_reply(
    ctx: typer.Context,
    name: str = NAME_ARG,
    template: Optional[str] = typer.Option(
        None, "--template", "-t", help="Template name.", autocompletion=complete_template
    ),
    text: Optional[str] = typer.Option(None, "--text", help="The text ({placeholders} allowed)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be sent; send nothing."),
    json_: bool = JSON_OPTION,
) -> None:
    """Acknowledge every affected customer once (their latest mention), paced, via the outbox.

    Rerunning it (after a crash too) sends only what was not sent; customers an
    agent already answered are skipped.

    Example: socialcare incident reply login-outage --template outage-ack --dry-run
    """
    sc = sc_of(ctx)
    from rich.progress import Progress

    with Progress(console=err_console, transient=True, disable=not interactive()) as bar:
        task = bar.add_task("acknowledging", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = sc.incident_reply(
            name, template=template, text=text, dry_run=dry_run, progress=advance
        )
    if json_:
        print_json([line.__dict__ for line in report.lines])
        return
    shown = [line for line in report.lines if line.action not in ("sent", "already")]
    for line in shown[:20]:
        detail = line.detail or one_line(line.text, 80)
        console.print(Text(f"  {line.action:<10} {line.mention_id}  {one_line(detail, 120)}"))
    if len(shown) > 20:
        console.print(Text(f"  ... and {len(shown) - 20} more (see --json)"))
    console.print(Text(_reply_summary(report)))


def _read_text(text: Optional[str], file: Optional[Path]) -> str:
    if file is not None and text is None:
        try:
            return file.read_text(encoding="utf-8")
        except OSError as exc:
            raise NotFound(f"--file: cannot read {file} ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise UsageError(f"--file: {file} is not UTF-8 text (is it the right file?)") from None
    if (file is None) == (text is None):
        raise UsageError("give exactly one of --text or --file")
    return text or ""


@incident_app.command("post")
def incident_post(
    ctx: typer.Context,
    name: str = NAME_ARG,
    text: Optional[str] = typer.Option(None, "--text", help="The status post."),
    file: Optional[Path] = typer.Option(None, "--file", help="Read the post from a UTF-8 file."),
    source: Optional[List[str]] = typer.Option(
        None,
        "--source",
        "-s",
        help="Where to post (repeatable; default: the incident's sources).",
        autocompletion=complete_source,
    ),  # fmt: skip
    at: Optional[str] = typer.Option(
        None, "--at", help="Post later (`due` sends it): 2026-12-01T09:00 or 30m."
    ),
) -> None:
    """Publish a status post about the incident now (or schedule it with --at).

    Example: socialcare incident post login-outage -s twitter --text "Login is down; on it."
    """
    sc = sc_of(ctx)
    when = sc.parse_when(at) if at else None
    results = sc.incident_post(name, text=_read_text(text, file), sources=source or (), when=when)
    for r in results:
        item = r.item
        where = f" {item['url']}" if item.get("url") else ""
        extra = f": {one_line(item['error'], 100)}" if item.get("error") else ""
        console.print(Text(f"Post {item['id']} on {r.source}: {item['status']}{where}{extra}"))


@incident_app.command("resolve")
def incident_resolve(
    ctx: typer.Context,
    name: str = NAME_ARG,
    followup_template: Optional[str] = typer.Option(
        None,
        "--followup-template",
        help='Template of the "fixed now" follow-up.',
        autocompletion=complete_template,
    ),  # fmt: skip
    followup_text: Optional[str] = typer.Option(
        None, "--followup-text", help="Text of the follow-up ({placeholders} allowed)."
    ),
    in_: str = typer.Option("1h", "--in", help="Follow-ups due after: 30m, 1h, 1d."),
) -> None:
    """Resolve the incident; schedule a "fixed now" follow-up to every answered customer.

    Follow-ups skip customers who wrote again since their answer (and, at `due`,
    since the follow-up was scheduled).

    Example: socialcare incident resolve login-outage --followup-text "Fixed now!" --in 30m
    """
    sc = sc_of(ctx)
    when = sc.parse_when(in_) if (followup_template or followup_text) else None
    report = sc.incident_resolve(name, template=followup_template, text=followup_text, when=when)
    skipped = _count_reasons(report.skipped)
    console.print(
        Text(
            f"Incident {name} resolved; {len(report.scheduled)} follow-up(s) scheduled"
            + (f"; skipped: {skipped}" if skipped else "")
        )
    )


def _count_reasons(skipped: list[tuple[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for _, why in skipped:
        key = "wrote again" if str(why).startswith("wrote again") else str(why)
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
