"""Team mode commands: ``route`` (and ``route --explain``), ``notify test`` and
``report response`` (first-response times on the wall clock and in business time)."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table
from rich.text import Text

from ..safety import one_line
from .common import JSON_OPTION, CommandSet, complete_mention_id, console, print_json, sc_of

commands = CommandSet()

notify_app = typer.Typer(help="Notifications to Slack, Teams, Mattermost or a JSON webhook.")
commands.group(notify_app, name="notify")


@commands.command()
def route(
    ctx: typer.Context,
    mention_id: str = typer.Argument(
        ..., metavar="ID", help="Mention id, e.g. demo:1001.", autocompletion=complete_mention_id
    ),
    explain: bool = typer.Option(
        False, "--explain", help="Show which rule would fire and why; change nothing."
    ),
    json_: bool = JSON_OPTION,
) -> None:
    """Route a mention by the [routing] rules now, or explain what they would do.

    Poll routes new mentions by itself; this is for one mention, or to see why.

    Example: socialcare route demo:1001 --explain
    """
    sc = sc_of(ctx)
    if explain:
        checks, decision = sc.route_explain(mention_id)
    else:
        checks, decision = [], sc.route(mention_id)
    if json_:
        return print_json(
            [
                {
                    "mention_id": decision.mention_id,
                    "rule": decision.rule,
                    "assignee": decision.assignee,
                    "team": decision.team,
                    "reason": decision.reason,
                    "rules": [
                        {
                            "rule": c.rule,
                            "matched": c.matched,
                            "checks": [{"ok": ok, "why": why} for ok, why in c.checks],
                        }  # fmt: skip
                        for c in checks
                    ],
                }
            ]
        )
    for c in checks:
        mark = "fires" if c.matched else "no"
        console.print(
            Text(f"rule {one_line(c.rule, 40)}: {mark}", style="bold" if c.matched else "dim")
        )
        for ok, why in c.checks:
            console.print(Text(f"  {'+' if ok else '-'} {one_line(why, 100)}"))
    who = decision.assignee or "nobody"
    rule = f"rule {decision.rule}" if decision.rule else "no rule"
    verb = "would go to" if explain else "->"
    console.print(Text(f"{mention_id} {verb} {who} ({rule}: {one_line(decision.reason, 120)})"))


@notify_app.command("test")
def notify_test(
    ctx: typer.Context,
    target: Optional[str] = typer.Argument(
        None, metavar="[TARGET]", help="A [[notify]] name (default: every target)."
    ),
) -> None:
    """Send a test message to a notify target (or all of them) through the outbox.

    Exits 8 when a target did not take it.

    Example: socialcare notify test slack-care
    """
    from ..errors import SendFailed

    run = sc_of(ctx).notify_test(target)
    console.print(f"Sent {run.sent} test message(s)")
    for line in run.failed:
        console.print(Text(one_line(line, 200), style="bold red"))
    if run.failed:
        raise SendFailed(f"{len(run.failed)} test message(s) failed (see `socialcare outbox`)")


def _minutes(value: float | None) -> str:
    from ..timeutil import format_age

    return "-" if value is None else format_age(value)


def report_response(
    ctx: typer.Context,
    since: str = typer.Option("7d", "--since", help="Mentions newer than 7d, 12h or an ISO time."),
    source: Optional[str] = typer.Option(None, "--source", help="Only this source."),
    json_: bool = JSON_OPTION,
) -> None:
    """First- and next-response times on the wall clock and in business time ([hours]).

    A next response answers a customer's follow-up in a conversation already answered.

    Example: socialcare report response --since 30d
    """
    from ..timeutil import parse_since

    sc = sc_of(ctx)
    rt = sc.response_times(since=parse_since(since, tz=sc.config.timezone), source=source)
    if json_:
        return print_json([rt.__dict__])
    table = Table("first response", "median", "p90")
    table.add_row("wall clock", _minutes(rt.wall_median), _minutes(rt.wall_p90))
    zone = f"business time ({rt.timezone})" if rt.timezone else "business time (no [hours])"
    table.add_row(zone, _minutes(rt.business_median), _minutes(rt.business_p90))
    table.add_row("next response, wall clock", _minutes(rt.next_wall_median), "")
    table.add_row("next response, business time", _minutes(rt.next_business_median), "")
    console.print(f"{rt.answered} first and {rt.next_answered} next response(s)")
    console.print(table)
