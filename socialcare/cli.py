"""The ``socialcare`` command: a thin typer layer over :class:`socialcare.app.Socialcare`.

Each command parses options, calls one library method and renders the result.
Every ``SocialcareError`` becomes one ``Error: ...`` line on stderr and the
error's exit code (see ``socialcare.errors``); set ``SOCIALCARE_DEBUG=1`` to
get the traceback instead.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from typing import Any, Optional

import click
import typer
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from .app import Socialcare, init_config
from .cli_common import console, err_console, socialcare_for
from .errors import SocialcareError
from .safety import clean_text, csv_safe, one_line
from .store import QueueFilter, Row
from .timeutil import format_age, parse_since

__all__ = ["app", "main"]


def _is_cli_exception(exc: BaseException) -> bool:
    module = type(exc).__module__
    return module.startswith(("typer", "click"))


class _Group(TyperGroup):
    """Maps library errors to one line and an exit code, in one place."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except SocialcareError as exc:
            if os.environ.get("SOCIALCARE_DEBUG"):
                raise
            click.echo(f"Error: {one_line(str(exc))}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except Exception as exc:  # a bug: say so briefly, exit 1
            # typer's (and click's) own exceptions carry usage errors and exits: let them through.
            if os.environ.get("SOCIALCARE_DEBUG") or _is_cli_exception(exc):
                raise
            click.echo(
                f"Error: unexpected {type(exc).__name__}: {one_line(str(exc), 200)} "
                "(run with SOCIALCARE_DEBUG=1 for the traceback)",
                err=True,
            )
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Group,
    help="Social customer care from the terminal: listen, triage, respond, follow up, report.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Optional[str] = typer.Option(
        None,
        "--config",
        "-c",
        help="Config file (default: SOCIALCARE_CONFIG or the config dir).",
        metavar="PATH",
    ),
) -> None:
    ctx.obj = {"config": config}


def _sc(ctx: typer.Context) -> Socialcare:
    """The Socialcare for this invocation, built once from ``--config``."""
    return socialcare_for(ctx)


def _interactive() -> bool:
    return sys.stdout.isatty()


# -- set-up ------------------------------------------------------------------
@app.command()
def init(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", help="Overwrite an existing config file."),
) -> None:
    """Write a starter config (demo source enabled) and create the database.

    Example: socialcare init
    """
    from .templates import write_default_templates

    obj = ctx.find_root().obj or {}
    path, written = init_config(
        obj.get("config") or os.environ.get("SOCIALCARE_CONFIG"), force=force
    )
    sc = _sc(ctx)
    write_default_templates(sc.config)
    counts = sc.store.counts()
    verb = "Wrote" if written else "Kept existing"
    console.print(f"{verb} config {path}")
    console.print(
        f"Database {sc.store.location} ready ({counts['mentions']} mentions)", markup=False
    )


@app.command()
def sources(ctx: typer.Context) -> None:
    """List source adapters, whether each is enabled and its credentials are set.

    Example: socialcare sources
    """
    table = Table("source", "enabled", "ready", "description / problem")
    for info in _sc(ctx).sources():
        table.add_row(
            info.name,
            "yes" if info.enabled else "no",
            "yes" if info.configured else "no",
            Text(info.problem or info.description),
        )
    console.print(table)


# -- listen ------------------------------------------------------------------
@app.command()
def poll(
    ctx: typer.Context,
    source: list[str] = typer.Option(
        [], "--source", "-s", help="Poll only this source (repeatable). Default: all enabled."
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No output unless something failed (cron)."
    ),
    max_wait: Optional[str] = typer.Option(
        None,
        "--max-wait",
        metavar="DURATION",
        help="Wait at most this long in total on rate limits (90, 90s, 10m); then stop "
        "cleanly, leaving the rest as a gap for the next poll.",
    ),  # fmt: skip
) -> None:
    """Fetch new mentions from sources into the store, incrementally and idempotently.

    Safe from cron: a second overlapping run exits with code 6 and does nothing.

    Example: socialcare poll --source demo
    """
    from .cli_status import make_waiter, parse_max_wait

    summary = _sc(ctx).poll(
        source or None,
        waiter=make_waiter(quiet=quiet, console=err_console),
        max_wait=parse_max_wait(max_wait),
    )
    for r in summary.results:
        if r.warning:
            err_console.print(Text(f"Warning: {one_line(r.warning)}"))
    failed = [r for r in summary.results if r.error]
    if not quiet:
        table = Table("source", "query", "fetched", "new", "folded", "status")
        for r in summary.results:
            status = (
                Text("ok", style="green")
                if not r.error
                else Text(one_line(r.error, 80), style="red")
            )
            table.add_row(
                r.source, Text(one_line(r.query, 40)), str(r.fetched), str(r.new),
                str(r.folded), status,
            )  # fmt: skip
        console.print(table)
    for r in failed:
        err_console.print(Text(f"Error: {r.source} [{one_line(r.query, 40)}]: {one_line(r.error)}"))
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


# -- triage ------------------------------------------------------------------
def _sla_text(row: Row) -> Text:
    left = row.get("sla_left")
    if left is None:
        return Text("-", style="dim")
    if left < 0:
        return Text(f"over {format_age(-left)}", style="bold red")
    return Text(format_age(left), style="yellow" if left < 1800 else "")


def _sentiment_text(row: Row) -> Text:
    if not row.get("sentiment_scored"):
        return Text("unscored", style="dim")
    value = float(row.get("sentiment_compound") or 0.0)
    style = "red" if value <= -0.05 else "green" if value >= 0.05 else ""
    return Text(f"{value:+.2f}", style=style)


QUEUE_COLUMNS = [
    "id",
    "score",
    "sla_left",
    "intent",
    "sentiment_compound",
    "age_seconds",
    "source",
    "author_handle",
    "author_name",
    "status",
    "assignee",
    "created_at",
    "url",
    "text",
]


@app.command()
def queue(
    ctx: typer.Context,
    source: Optional[str] = typer.Option(None, "--source", help="Only this source."),
    status: str = typer.Option("open", "--status", help="open, snoozed, replied, closed or all."),
    assignee: Optional[str] = typer.Option(
        None, "--assignee", help="Only mentions assigned to NAME."
    ),
    intent: Optional[str] = typer.Option(
        None, "--intent", help="complaint, question, praise, spam, other."
    ),
    min_score: Optional[float] = typer.Option(None, "--min-score", help="Hide lower scores."),
    since: Optional[str] = typer.Option(
        None, "--since", help="Only newer than 7d, 12h or an ISO time."
    ),
    search: Optional[str] = typer.Option(
        None, "--search", help="Full-text search of mention text."
    ),
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="How many to show."),
    sort: str = typer.Option(
        "score", "--sort", help="score (default) or sla (least time left first)."
    ),
    json_: bool = typer.Option(False, "--json", help="JSON lines for scripts."),
    csv_: bool = typer.Option(False, "--csv", help="CSV for spreadsheets (formulas neutralised)."),
) -> None:
    """Show open mentions ranked by urgency, scored at this moment.

    Example: socialcare queue --intent complaint --limit 20
    """
    if sort not in ("score", "sla"):
        raise typer.BadParameter("use score or sla", param_hint="--sort")
    flt = QueueFilter(
        status=status,
        source=source,
        assignee=assignee,
        intent=intent,
        min_score=min_score,
        since_ts=parse_since(since).timestamp() if since else None,
        search=search,
        limit=limit,
        sort=sort,
    )
    rows = _sc(ctx).queue(flt)
    if json_:
        for row in rows:
            print(json.dumps({k: row.get(k) for k in QUEUE_COLUMNS}, ensure_ascii=False))
        return
    if csv_:
        writer = csv.writer(sys.stdout)
        writer.writerow(QUEUE_COLUMNS)
        for row in rows:
            writer.writerow([csv_safe(row.get(k)) for k in QUEUE_COLUMNS])
        return
    if not rows:
        console.print("Queue is empty: nothing waiting. (Try `socialcare poll`.)")
        return
    # Narrow terminals keep the columns an agent needs; wide ones add rank and sentiment.
    wide = console.width >= 110
    table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold")
    columns = [("id", max(len(r["id"]) for r in rows)), ("score", 5), ("SLA", 10), ("intent", 9)]
    if wide:
        columns = [("#", len(str(len(rows))))] + columns + [("sent.", 8)]
    columns += [("age", 6), ("author", 14)]
    for name, width in columns:
        table.add_column(name, no_wrap=True, min_width=width)
    table.add_column("text", no_wrap=True)
    # Cut the text ourselves: rich drops whole columns when one cell is too long.
    text_width = max(console.width - sum(w + 1 for _, w in columns) - 1, 16)
    for n, row in enumerate(rows, start=1):
        cells: list[Any] = [Text(row["id"]), f"{row['score']:.2f}", _sla_text(row),
                            row.get("intent") or "-"]  # fmt: skip
        if wide:
            cells = [str(n), *cells, _sentiment_text(row)]
        cells += [
            format_age(row["age_seconds"]),
            Text(one_line("@" + (row["author_handle"] or ""), 14)),
            Text(one_line(row["text"], text_width)),
        ]
        table.add_row(*cells)
    console.print(table)


@app.command()
def explain(
    ctx: typer.Context,
    mention_id: str = typer.Argument(..., metavar="ID", help="Mention id, e.g. twitter:1234."),
) -> None:
    """Break a mention's current score into its signals and their contributions.

    Example: socialcare explain demo:1001
    """
    row, parts = _sc(ctx).explain(mention_id)
    console.print(
        Text(f"{row['id']}  @{one_line(row['author_handle'])}: {one_line(row['text'], 200)}")
    )
    table = Table("signal", "value", "weight", "contribution", "why")
    for part in parts:
        table.add_row(
            part.name,
            f"{part.value:.2f}",
            f"{part.weight:+.2f}",
            f"{part.contribution:+.2f}",
            Text(clean_text(part.detail)),
        )
    table.add_row("total", "", "", f"{sum(p.contribution for p in parts):+.2f}", "")
    console.print(table)


@app.command()
def triage(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "--all", help="Re-score every stored mention."),
) -> None:
    """Re-score stored mentions after weights, lexicon or SLAs change.

    New mentions are triaged automatically by `poll`; run this after editing [triage].

    Example: socialcare triage --all
    """
    if not all_:
        raise typer.BadParameter("say --all to re-score every stored mention", param_hint="--all")
    sc = _sc(ctx)
    total = sc.store.mention_count()
    started = time.perf_counter()
    from rich.progress import Progress

    with Progress(console=err_console, transient=True, disable=not _interactive()) as progress:
        task = progress.add_task("triage", total=total)
        count = sc.retriage(lambda n: progress.advance(task, n))
    console.print(f"Re-scored {count} mentions in {time.perf_counter() - started:.1f}s")


# -- agent workflow --------------------------------------------------------------
ID_ARG = typer.Argument(..., metavar="ID", help="Mention id, e.g. twitter:1234 or demo:1001.")


def _when(row: Row, key: str, tz: Optional[str]) -> str:
    from .models import parse_iso
    from .timeutil import format_local

    value = row.get(key)
    return format_local(parse_iso(value), tz) if value else "-"


@app.command()
def show(
    ctx: typer.Context,
    mention_id: str = ID_ARG,
    offline: bool = typer.Option(False, "--offline", help="Do not fetch missing thread parents."),
) -> None:
    """Show a mention in full: link, score explanation, thread and the customer's history.

    Example: socialcare show demo:1001
    """
    sc = _sc(ctx)
    view = sc.show(mention_id, online=not offline)
    m, tz = view.mention, sc.config.timezone
    console.rule(Text(f"{m['id']}  score {view.score:.2f}  {m['status']}"))
    console.print(
        Text(
            f"@{clean_text(m['author_handle'])} ({clean_text(m['author_name'])}, "
            f"{m['author_followers'] or 0} followers) on {m['source']}, "
            f"{_when(m, 'created_at', tz)}"
        )
    )
    console.print(Text(clean_text(m["url"]), style="blue"))
    console.print(Text(clean_text(m["text"])), "")
    tags = json.loads(m.get("tags") or "[]")
    console.print(
        Text(
            f"intent {m['intent'] or '-'}  assignee {m['assignee'] or '-'}  "
            f"tags {', '.join(tags) or '-'}"
        )
    )
    why = ", ".join(f"{c.name} {c.contribution:+.2f}" for c in view.contributions if c.contribution)
    console.print(Text(f"why: {why}", style="dim"))
    from .cli_kb import suggestions_text

    console.rule("knowledge base")
    console.print(suggestions_text(sc.suggestions(m)))
    if view.thread or view.thread_notes:
        console.rule("thread")
        for t in view.thread:
            marker = "▶ " if t["id"] == m["id"] else "  "
            console.print(
                Text(f"{marker}@{one_line(t['author_handle'], 20)}: {one_line(t['text'], 160)}")
            )
        for note in view.thread_notes:
            console.print(Text(one_line(note), style="yellow"))
    console.rule("customer")
    idents = ", ".join(f"{i['id']} (@{one_line(i['handle'], 30)})" for i in view.identities)
    console.print(Text(f"identities: {idents}"))
    for h in view.history[:20]:
        console.print(
            Text(
                f"  {h['id']} {_when(h, 'created_at', tz)} [{h['status']}] "
                f"{one_line(h['text'], 100)}"
            )
        )
    for r in view.replies[:20]:
        console.print(
            Text(f"  reply #{r['id']} {r['status']} by {r['agent']}: {one_line(r['text'], 100)}")
        )
    for n in view.notes[:20]:
        text = json.loads(n["detail"]).get("text", "")
        console.print(Text(f"  note by {n['agent']} {n['at']}: {one_line(text, 120)}"))
    if not (view.history or view.replies or view.notes):
        console.print(Text("  no earlier contact", style="dim"))


@app.command()
def claim(
    ctx: typer.Context,
    mention_id: str = ID_ARG,
    force: bool = typer.Option(False, "--force", help="Take it over from another agent."),
) -> None:
    """Claim a mention so other agents see you are on it.

    Example: socialcare claim demo:1001
    """
    sc = _sc(ctx)
    previous = sc.claim(mention_id, force=force)
    taken = f" (taken over from {previous})" if previous and previous != sc.agent else ""
    console.print(f"{mention_id} claimed by {sc.agent}{taken}")


@app.command()
def assign(
    ctx: typer.Context,
    mention_id: str = ID_ARG,
    to: str = typer.Option(..., "--to", help="Agent name."),
) -> None:
    """Assign a mention to an agent.

    Example: socialcare assign demo:1001 --to bob
    """
    _sc(ctx).assign(mention_id, to)
    console.print(Text(f"{mention_id} assigned to {to}"))


@app.command()
def release(
    ctx: typer.Context,
    mention_id: str = ID_ARG,
    force: bool = typer.Option(False, "--force", help="Release another agent's claim."),
) -> None:
    """Release your claim on a mention.

    Example: socialcare release demo:1001
    """
    _sc(ctx).release(mention_id, force=force)
    console.print(f"{mention_id} released")


@app.command()
def reply(
    ctx: typer.Context,
    mention_id: str = ID_ARG,
    text: Optional[str] = typer.Argument(None, help="Reply text; omit to write it in $EDITOR."),
    template: Optional[str] = typer.Option(
        None, "--template", "-t", help="Start from this template."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Render and check; send nothing."),
    force: bool = typer.Option(False, "--force", help="Reply despite a claim or an earlier reply."),
    no_edit: bool = typer.Option(
        False, "--no-edit", help="With --template and no TEXT: send the template as is."
    ),
    kb: Optional[int] = typer.Option(
        None,
        "--kb",
        min=1,
        metavar="N",
        help="Include the Nth suggested article ({kb_title} {kb_url}; see `show`).",
    ),  # fmt: skip
) -> None:
    """Reply through the platform, via the outbox (never posted twice).

    With no TEXT, $EDITOR opens with the template and the mention quoted
    (as `git commit` does); an empty message aborts.

    Example: socialcare reply demo:1001 --template apology
    """
    from .workflow import editor_message, parse_editor_message

    sc = _sc(ctx)
    if text is None and not (no_edit and template):
        draft = sc.draft_reply(mention_id, template=template, kb=kb)
        edited = click.edit(
            editor_message(sc.store.get_mention(mention_id), draft), extension=".txt"
        )
        text = parse_editor_message(edited or "")
        if not text:
            from .errors import UsageError

            raise UsageError("empty reply: aborted, nothing sent")
        template = None
    outcome = sc.reply(
        mention_id, text=text, template=template, dry_run=dry_run, force=force, kb=kb
    )
    limit = f"/{outcome.limit}" if outcome.limit else ""
    if dry_run:
        console.print(Text(f"Would send ({outcome.length}{limit} chars):\n{outcome.text}"))
        return
    item = outcome.item or {}
    if item.get("status") == "sent":
        console.print(
            Text(
                f"Sent reply #{item['id']} ({outcome.length}{limit} chars): {item.get('url') or ''}"
            )
        )
        return
    from .errors import SendFailed

    raise SendFailed(
        f"reply #{item.get('id')} failed: {item.get('error')} "
        f"(fix it, then `socialcare outbox retry {item.get('id')}`)"
    )


outbox_app = typer.Typer()
app.add_typer(outbox_app, name="outbox")


@outbox_app.callback(invoke_without_command=True)
def outbox_list(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "--all", help="Include sent, cancelled and skipped items."),
) -> None:
    """List outbox items that are pending, sending (maybe stuck) or failed.

    Example: socialcare outbox
    """
    if ctx.invoked_subcommand:
        return
    statuses = (
        ("pending", "sending", "sent", "failed", "cancelled", "skipped")
        if all_
        else ("pending", "sending", "failed")
    )
    rows = _sc(ctx).outbox(statuses)
    if not rows:
        console.print("Outbox is clear.")
        return
    table = Table("#", "kind", "status", "mention", "agent", "updated", "text / error")
    for r in rows:
        detail = r["error"] if r["status"] == "failed" else r["text"]
        table.add_row(
            str(r["id"]),
            r["kind"],
            r["status"],
            r["mention_id"] or "-",
            r["agent"],
            r["updated_at"],
            Text(one_line(detail, 80)),
        )
    console.print(table)


@outbox_app.command("retry")
def outbox_retry(
    ctx: typer.Context,
    item_id: int = typer.Argument(..., metavar="ID", help="Outbox item number."),
) -> None:
    """Send a failed (or stuck 'sending') item again: check the platform first!

    Example: socialcare outbox retry 3
    """
    item = _sc(ctx).retry(item_id)
    if item["status"] != "sent":
        from .errors import SendFailed

        raise SendFailed(f"outbox item {item_id} failed again: {item['error']}")
    console.print(Text(f"Sent outbox item {item_id}: {item.get('url') or ''}"))


@app.command()
def templates(ctx: typer.Context) -> None:
    """List reply templates (plain files in the templates dir) and their placeholders.

    Example: socialcare templates
    """
    from .templates import PLACEHOLDERS, templates_dir

    sc = _sc(ctx)
    found = sc.templates()
    console.print(f"Templates in {templates_dir(sc.config)}:")
    for name, path in found.items():
        console.print(Text(f"  {name}: {one_line(path.read_text(encoding='utf-8'), 90)}"))
    if not found:
        console.print("  none yet (`socialcare init` writes a starter set)")
    console.print("Placeholders: " + ", ".join("{" + k + "}" for k in PLACEHOLDERS))


@app.command()
def close(ctx: typer.Context, mention_id: str = ID_ARG) -> None:
    """Close a mention: handled, out of the queue.

    Example: socialcare close demo:1001
    """
    ids = _sc(ctx).close(mention_id)
    scheduled = f"; follow-up(s) {', '.join(map(str, ids))} scheduled" if ids else ""
    console.print(f"{mention_id} closed{scheduled}")


@app.command()
def reopen(ctx: typer.Context, mention_id: str = ID_ARG) -> None:
    """Reopen a closed or replied mention.

    Example: socialcare reopen demo:1001
    """
    _sc(ctx).reopen(mention_id)
    console.print(f"{mention_id} reopened")


@app.command()
def snooze(
    ctx: typer.Context,
    mention_id: str = ID_ARG,
    until: str = typer.Option(..., "--until", help="A duration (4h, 2d) or an ISO time."),
) -> None:
    """Hide a mention from the queue until a time; it comes back by itself.

    Example: socialcare snooze demo:1001 --until 4h
    """
    from .timeutil import parse_future

    sc = _sc(ctx)
    when = parse_future(until, tz=sc.config.timezone)
    sc.snooze(mention_id, when)
    from .timeutil import format_local

    console.print(f"{mention_id} snoozed until {format_local(when, sc.config.timezone)}")


@app.command()
def tag(
    ctx: typer.Context,
    mention_id: str = ID_ARG,
    tags: list[str] = typer.Argument(..., metavar="TAG...", help="Tags to add."),
) -> None:
    """Tag a mention.

    Example: socialcare tag demo:1001 billing refund
    """
    merged = _sc(ctx).tag(mention_id, tags)
    console.print(Text(f"{mention_id} tags: {', '.join(merged)}"))


@app.command()
def note(
    ctx: typer.Context,
    mention_id: str = ID_ARG,
    text: str = typer.Argument(..., help="The note (internal, never posted)."),
) -> None:
    """Add an internal note to a mention (never posted).

    Example: socialcare note demo:1001 "Refund approved by billing, ref 5521"
    """
    _sc(ctx).note(mention_id, text)
    console.print(f"Note added to {mention_id}")


@app.command("log")
def log_(
    ctx: typer.Context,
    mention_id: Optional[str] = typer.Option(None, "--mention", help="Only this mention."),
    agent: Optional[str] = typer.Option(None, "--agent", help="Only this agent."),
    action: Optional[str] = typer.Option(
        None, "--action", help="Only this action (claim, note, sent, ...)."
    ),
    limit: int = typer.Option(50, "--limit", "-n", min=1),
) -> None:
    """Show the audit log: who did what, when.

    Example: socialcare log --agent alice --limit 20
    """
    rows = _sc(ctx).log(mention_id=mention_id, agent=agent, action=action, limit=limit)
    table = Table("at", "agent", "action", "mention", "detail")
    for r in rows:
        table.add_row(
            r["at"],
            Text(r["agent"]),
            r["action"],
            Text(r["mention_id"] or "-"),
            Text(one_line(r["detail"], 80)),
        )
    console.print(table)


customer_app = typer.Typer(help="One customer across platforms: link identities, see history.")
app.add_typer(customer_app, name="customer")


@customer_app.command("link")
def customer_link(
    ctx: typer.Context,
    first: str = typer.Argument(..., metavar="ID1", help="Author key (twitter:123) or mention id."),
    second: str = typer.Argument(..., metavar="ID2", help="Author key or mention id."),
) -> None:
    """Link two identities as the same customer.

    Example: socialcare customer link demo:1001 reddit:t1_abc
    """
    customer_id = _sc(ctx).link(first, second)
    console.print(f"Linked as customer {customer_id}")


@customer_app.command("unlink")
def customer_unlink(
    ctx: typer.Context,
    ref: str = typer.Argument(..., metavar="ID", help="Author key or mention id."),
) -> None:
    """Detach an identity from its customer.

    Example: socialcare customer unlink reddit:t2_xyz
    """
    key = _sc(ctx).unlink(ref)
    console.print(Text(f"Unlinked {key}"))


@customer_app.command("show")
def customer_show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., metavar="ID", help="Author key or mention id."),
) -> None:
    """Show a customer's identities and every mention from them.

    Example: socialcare customer show demo:1001
    """
    identities, mentions = _sc(ctx).customer(ref)
    for i in identities:
        console.print(Text(f"{i['id']}  @{one_line(i['handle'], 40)}  {one_line(i['name'], 40)}"))
    table = Table("id", "created", "status", "intent", "text")
    for m in mentions:
        table.add_row(
            Text(m["id"]),
            m["created_at"],
            m["status"],
            m["intent"] or "-",
            Text(one_line(m["text"], 90)),
        )
    console.print(table)


@app.command()
def work(ctx: typer.Context) -> None:
    """Work the queue interactively: reply, template, skip, close, snooze, assign or quit.

    Example: socialcare work
    """
    from .work import work_loop

    handled = work_loop(_sc(ctx), console)
    console.print(f"Handled {handled} mention(s).")


from .cli_db import db_app  # noqa: E402
from .cli_followup import due, followup_app, post_app  # noqa: E402
from .cli_kb import kb_app  # noqa: E402
from .cli_report import export, report_app  # noqa: E402
from .cli_status import gaps, status  # noqa: E402

app.add_typer(followup_app, name="followup")
app.add_typer(post_app, name="post")
app.command("due")(due)
app.add_typer(kb_app, name="kb")
app.command("export")(export)
app.add_typer(report_app, name="report")
app.command("status")(status)
app.command("gaps")(gaps)
app.add_typer(db_app, name="db")


def main() -> None:
    """Console-script entry point."""
    app()
