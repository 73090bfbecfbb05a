"""Listening: ``init``, ``sources``, ``poll``, ``status`` and ``gaps``, and poll's rate-limit waiter.

Thin typer functions over :class:`socialcare.app.Socialcare`, registered as
top-level commands by ``cli.py``.
Every platform-supplied string (queries, error messages, cursors) goes through
:mod:`socialcare.safety` and into ``rich.text.Text``, so a hostile error body
can neither restyle the table nor send escape sequences to the terminal.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from typing import TYPE_CHECKING, Callable, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..app import init_config
from ..errors import UsageError
from ..models import parse_iso, utcnow
from ..safety import one_line
from ..timeutil import format_age, parse_duration
from .common import (
    JSON_OPTION,
    CommandSet,
    TerminalConsole,
    complete_source,
    console,
    err_console,
    fit,
    print_json,
    progress_bar,
    progress_console,
    quiet_logging,
    sc_of,
)

if TYPE_CHECKING:
    from ..app import IngestStatus, Waiter

__all__ = ["status", "gaps", "make_waiter", "parse_max_wait", "ALERT_EXIT_CODE", "commands"]

commands = CommandSet()

#: ``status --alert`` exits with this when a source is failing, silent or over budget
ALERT_EXIT_CODE = 10


def _ago(iso: str | None, now: datetime) -> Text:
    if not iso:
        return Text("never", style="dim")
    return Text(f"{format_age((now - parse_iso(iso)).total_seconds())} ago")


def _until(iso: str | None, now: datetime) -> Text:
    if not iso:
        return Text("now")
    left = (parse_iso(iso) - now).total_seconds()
    return Text("now") if left <= 0 else Text(f"in {format_age(left)}", style="yellow")


def _queries_table(st: IngestStatus, now: datetime) -> Table:
    table = Table(
        "source", "query", "last ok", "items last/24h", "rate limit", "next poll", "gaps", "error"
    )
    for q in st.queries:
        limit = "-"
        if q.rate_limit_remaining is not None:
            limit = f"{q.rate_limit_remaining} left"
            if q.rate_limit_reset:
                limit += f", resets {_until(q.rate_limit_reset, now).plain}"
        last = "-" if q.items_last_poll is None else str(q.items_last_poll)
        table.add_row(
            fit(q.source, 20),
            fit(q.query, 40),
            _ago(q.last_success_at, now),
            f"{last}/{q.items_24h}",
            Text(limit),
            _until(q.next_poll_at, now),
            Text(str(q.open_gaps), style="yellow" if q.open_gaps else ""),
            fit(q.last_error, 80, style="red" if q.failing else "dim")
            if q.last_error
            else Text("-", style="dim"),
        )
    return table


def _budget_text(used: int, budget: int | None) -> str:
    return f"{used}" if budget is None else f"{used}/{budget} ({100 * used / budget:.0f}%)"


def _sources_table(st: IngestStatus, now: datetime) -> Table:
    table = Table("source", "requests (month)", "items (month)", "newest item", "state")
    for s in st.sources:
        state = Text()
        for a in s.alerts:
            state.append(one_line(a, 120) + "\n", style="bold red")
        for w in s.warnings:
            state.append(one_line(w, 120) + "\n", style="yellow")
        state.rstrip()
        table.add_row(
            fit(s.source, 20),
            _budget_text(s.requests_month, s.request_budget),
            _budget_text(s.items_month, s.item_budget),
            _ago(s.newest_item_at, now) if s.newest_item_at else Text("-", style="dim"),
            state if state.plain else Text("ok", style="green"),
        )
    return table


def _status_json(st: IngestStatus) -> list[dict[str, object]]:
    """``status --json``: one object per source (health, budget, alerts) with its queries."""
    from dataclasses import asdict

    out = []
    for s in st.sources:
        item: dict[str, object] = asdict(s)
        item["queries"] = [asdict(q) for q in st.queries if q.source == s.source]
        out.append(item)
    known = {s.source for s in st.sources}
    for name in dict.fromkeys(q.source for q in st.queries if q.source not in known):
        out.append({"source": name, "queries": [asdict(q) for q in st.queries if q.source == name]})
    return out


def status(
    ctx: typer.Context,
    alert: bool = typer.Option(
        False,
        "--alert",
        help=f"Exit {ALERT_EXIT_CODE} if a source is failing, silent or over budget, or an "
        "outbox item's outcome is unknown (cron).",
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Print nothing unless there is an alert (cron)."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Show source health: last poll, last error, items, rate limit, next poll, gaps, budget.

    A source is silent when no poll succeeded, or nothing new arrived, for longer
    than its silent_after; it is over budget at monthly_request_budget or
    monthly_item_budget. An outbox item that may or may not have been posted
    (unknown, or sending for over 15 minutes) alerts too. With --alert those
    print to stderr and the exit code is 10;
    --quiet prints the tables never, the alerts only.

    Example: socialcare status --alert
    """
    sc = sc_of(ctx)
    now = utcnow()
    st = sc.status(now, notify=alert)
    if json_:
        print_json(_status_json(st))
    elif quiet:
        quiet_logging()
    elif not st.queries and not st.sources:
        console.print("No sources configured or polled yet. (Try `socialcare poll`.)")
    else:
        console.print(_queries_table(st, now))
        console.print(_sources_table(st, now))
    if not quiet:
        for line in st.outbox_alerts:
            console.print(Text(one_line(line), style="bold red"))
    if alert and st.alerts:
        for line in st.alerts:
            err_console.print(Text(f"ALERT: {one_line(line)}"))
        raise typer.Exit(ALERT_EXIT_CODE)


def gaps(
    ctx: typer.Context,
    source: Optional[str] = typer.Option(
        None, "--source", "-s", help="Only this source.", autocompletion=complete_source
    ),
    all_: bool = typer.Option(False, "--all", help="Include gaps already filled."),
    json_: bool = JSON_OPTION,
) -> None:
    """List ranges that cut-short polls skipped and later polls still have to backfill.

    Each poll works the open gaps of a query first, oldest first, and closes a
    gap once the platform has been read across it.

    Example: socialcare gaps --source twitter
    """
    rows = sc_of(ctx).gaps(source=source, include_closed=all_)
    if json_:
        return print_json([dict(g) for g in rows])
    if not rows:
        console.print("No open gaps: every poll reached its previous cursor or was backfilled.")
        return
    now = utcnow()
    table = Table("id", "source", "query", "after", "before", "opened", "state", "reason")
    for g in rows:
        closed = g["closed_at"]
        table.add_row(
            str(g["id"]),
            fit(g["source"], 20),
            fit(g["query"], 40),
            fit(g["after_cursor"] or "(start)", 40),
            fit(g["before_cursor"], 40),
            _ago(g["created_at"], now),
            Text("filled", style="green") if closed else Text("open", style="yellow"),
            fit(g["reason"], 80),
        )
    console.print(table)


# -- poll's waiting ----------------------------------------------------------------


def parse_max_wait(text: str | None) -> float | None:
    """``--max-wait``: seconds (``90``) or a duration (``90s``, ``10m``, ``1h``)."""
    if text is None:
        return None
    try:
        seconds = float(text)
    except ValueError:
        return parse_duration(text, what="--max-wait").total_seconds()
    if seconds < 0:
        raise UsageError("--max-wait: must be >= 0 seconds")
    return seconds


def make_waiter(
    *,
    quiet: bool,
    console: Console | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Waiter:
    """The poll command's waiter: a live countdown on a terminal, else one stderr line.

    Either way the wait really happens (Ctrl-C stops it; pages already stored
    stay stored and the rest of the run becomes a gap).
    """
    out = console or TerminalConsole(stderr=True, highlight=False, markup=False)

    def wait(seconds: float, reason: str) -> bool:
        text = one_line(reason, 160)
        if quiet or not out.is_terminal:
            typer.echo(f"socialcare poll: waiting {format_age(seconds)}: {text}", err=True)
            sleep(seconds)
            return True
        end = time.monotonic() + seconds
        with out.status(Text(text)) as live:
            while (left := end - time.monotonic()) > 0:
                live.update(Text(f"{text}: waiting {format_age(left)} (Ctrl-C stops the poll)"))
                sleep(min(1.0, left))
        return True

    return wait


# -- set-up ------------------------------------------------------------------
@commands.command()
def init(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", help="Overwrite an existing config file."),
) -> None:
    """Write a starter config (demo source enabled) and create the database.

    Example: socialcare init
    """
    from ..templates import write_default_templates

    obj = ctx.find_root().obj or {}
    path, written = init_config(
        obj.get("config") or os.environ.get("SOCIALCARE_CONFIG"), force=force
    )
    sc = sc_of(ctx)
    write_default_templates(sc.config)
    location, counts = sc.database()
    verb = "Wrote" if written else "Kept existing"
    console.print(f"{verb} config {path}")
    console.print(f"Database {location} ready ({counts['mentions']} mentions)", markup=False)


@commands.command()
def sources(ctx: typer.Context, json_: bool = JSON_OPTION) -> None:
    """List source adapters, whether each is enabled, its credentials are set, and what it
    does with private messages (reads, sends, who may be messaged first).

    Example: socialcare sources
    """
    if json_:
        from dataclasses import asdict

        return print_json([asdict(info) for info in sc_of(ctx).sources()])
    table = Table("source", "enabled", "ready", "description / problem")
    for info in sc_of(ctx).sources():
        lines = (info.problem or info.description, info.access, f"DMs: {info.dms}")
        table.add_row(
            info.name,
            "yes" if info.enabled else "no",
            "yes" if info.configured else "no",
            Text("\n".join(t for t in lines if t)),
        )
    console.print(table)


# -- listen ------------------------------------------------------------------
@commands.command()
def poll(
    ctx: typer.Context,
    source: list[str] = typer.Option(
        [],
        "--source",
        "-s",
        help="Poll only this source (repeatable). Default: all enabled.",
        autocompletion=complete_source,
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
    On a terminal a bar per source and query shows pages, items read, new
    mentions and the rate (stderr; nothing in a pipe or with --quiet).

    Example: socialcare poll --source demo
    """
    from .listen import make_waiter, parse_max_wait

    if quiet:
        quiet_logging()
    sc = sc_of(ctx)
    with progress_bar(quiet=quiet) as progress:
        summary = sc.poll(
            source or None,
            waiter=make_waiter(quiet=quiet, console=progress_console),
            max_wait=parse_max_wait(max_wait),
            progress=progress,
        )
    for r in summary.results:
        if r.warning and not quiet:
            err_console.print(Text(f"Warning: {one_line(r.warning)}"))
    failed = [r for r in summary.results if r.error]
    if not quiet:
        table = Table("source", "query", "fetched", "new", "folded", "status")
        for r in summary.results:
            if r.error:
                status = fit(r.error, 80, style="red")
            elif r.reopened:  # edited reviews that got worse are back in the queue
                status = Text(f"ok, {r.reopened} reopened", style="yellow")
            else:
                status = Text("ok", style="green")
            table.add_row(
                r.source, fit(r.query, 40), str(r.fetched), str(r.new),
                str(r.folded), status,
            )  # fmt: skip
        console.print(table)
    if summary.retrained:
        err_console.print(Text(summary.retrained))
    for r in failed:
        err_console.print(Text(f"Error: {r.source} [{one_line(r.query, 40)}]: {one_line(r.error)}"))
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)
