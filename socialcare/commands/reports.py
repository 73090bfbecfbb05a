"""The ``export`` and ``report`` commands: a thin typer layer over the report library.

Parsing options, one call into :class:`socialcare.app.Socialcare`, and
rendering (rich in the terminal, or CSV/JSON/HTML files). ``cli.py``
registers them::

    app.command("export")(export)
    app.add_typer(report_app, name="report")

Library errors (UsageError, NotFound, ...) propagate to the root command's
handler, which prints one line and exits with the error's code.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.table import Table
from rich.text import Text

from ..config import Config
from ..errors import UsageError
from ..models import utcnow
from ..safety import one_line
from ..timeutil import parse_duration, resolve_tz
from .common import (
    JSONL_OPTION,
    MAX_COUNT,
    complete_source,
    console,
    err_console,
    exclusive,
    progress_bar,
    read_since,
    sc_of,
    time_text,
)

if TYPE_CHECKING:
    from ..reports.metrics import Report, ReportTable, SpikeFinding

__all__ = ["export", "report_app", "SPIKE_EXIT_CODE"]

#: ``report spikes --alert`` exits with this code when a spike is found
SPIKE_EXIT_CODE = 9
_BAR_WIDTH = 16


def _zone(cfg: Config) -> tuple[tzinfo, str]:
    tz = resolve_tz(cfg.timezone)
    return tz, cfg.timezone or str(tz)


# -- export -----------------------------------------------------------------------
def export(
    ctx: typer.Context,
    what: str = typer.Argument(
        ..., metavar="WHAT", help="mentions, replies, followups (and posts) or log (audit events)."
    ),
    since: Optional[str] = typer.Option(
        None, "--since", help="From 7d / 12h ago or an ISO time (no offset = your zone)."
    ),
    until: Optional[str] = typer.Option(None, "--until", help="Up to (exclusive), same forms."),
    source: Optional[str] = typer.Option(
        None, "--source", help="Only this source.", autocompletion=complete_source
    ),
    status: Optional[str] = typer.Option(
        None, "--status", help="Mentions: open, replied, closed, spam. Outbox: pending, sent, ..."
    ),
    format_: Optional[str] = typer.Option(
        None, "--format", "-f", help="csv (default), jsonl or json."
    ),
    json_: bool = typer.Option(False, "--json", help="Same as --format json: one JSON array."),
    jsonl: bool = JSONL_OPTION,
    output: Optional[str] = typer.Option(
        None, "--output", "-o", metavar="FILE", help="Write here instead of stdout."
    ),
    excel: bool = typer.Option(False, "--excel", help="Start the CSV with a UTF-8 BOM for Excel."),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No progress bar and no summary line (cron)."
    ),
    include_dm: bool = typer.Option(
        False, "--include-dm", help="Include private conversations (DMs and private replies)."
    ),
) -> None:
    """Stream mentions, replies, follow-ups or the audit log as CSV, JSON lines or JSON.

    Columns come in a fixed documented order and times are UTC ISO-8601.
    CSV cells that start with = + - @ tab or CR get a leading apostrophe so
    spreadsheets never run them as formulas. Memory use stays flat. On a
    terminal, stderr shows a running count of rows and the rate (nothing when
    stderr is a pipe, or with --quiet). Private
    conversations are private data: left out unless --include-dm.

    Example: socialcare export mentions --since 7d -o mentions.csv
    """
    from ..app import ExportQuery
    from ..reports.export import open_output, write_rows

    exclusive(json=json_, jsonl=jsonl, format=format_ is not None)
    format_ = "json" if json_ else "jsonl" if jsonl else format_ or "csv"
    sc = sc_of(ctx)
    tz, _ = _zone(sc.config)
    now = utcnow()
    query = ExportQuery(
        kind=what,
        since=read_since(sc, since, "--since", now=now),
        until=read_since(sc, until, "--until", now=now),
        source=source,
        status=status,
        include_dm=include_dm,
    )
    # rows written to the terminal itself would mix with the bar: a bar only beside a file
    on_screen = output in (None, "-") and sys.stdout.isatty()
    try:
        with progress_bar(quiet=quiet or on_screen) as progress:
            columns, rows = sc.export(query, progress=progress)
            with open_output(output) as out:
                count = write_rows(out, format_, columns, rows, excel=excel)
    except BrokenPipeError:
        # the reader (head, less) stopped early: that is its choice, not our failure
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    if output and output != "-" and not quiet:
        err_console.print(Text(f"Exported {count} {what} to {output}"))


# -- report -----------------------------------------------------------------------
report_app = typer.Typer(
    invoke_without_command=True,
    no_args_is_help=False,
    add_completion=False,
    rich_markup_mode=None,
)


@report_app.callback(invoke_without_command=True)
def report(
    ctx: typer.Context,
    since: str = typer.Option("7d", "--since", help="Period start: 7d, 12h or an ISO time."),
    until: Optional[str] = typer.Option(None, "--until", help="Period end (default: now)."),
    by: str = typer.Option("day", "--by", help="Volume buckets: day or week (your time zone)."),
    source: Optional[str] = typer.Option(
        None, "--source", help="Only this source.", autocompletion=complete_source
    ),
    top: int = typer.Option(
        10, "--top", min=1, max=MAX_COUNT, help="Rows in the author and term tables."
    ),
    csv_dir: Optional[str] = typer.Option(
        None, "--csv", metavar="DIR", help="Write each table to DIR/<table>.csv."
    ),
    json_: bool = typer.Option(False, "--json", help="Print every table as one JSON document."),
    html: Optional[str] = typer.Option(
        None, "--html", metavar="FILE", help="Write a self-contained HTML page."
    ),
) -> None:
    """Volume, sentiment, intent, first response, SLA, resolution, backlog, agents, authors, terms.

    First response runs from a mention's creation to its first sent reply (or
    native answer); SLA breach means answered (or closed) after the SLA, or
    still unanswered past it. See `report spikes` for spike alerts.

    Example: socialcare report --since 30d --by week --html report.html
    """
    from ..app import ReportParams
    from ..reports.export import write_report_csv
    from ..reports.html import render_html

    if ctx.invoked_subcommand is not None:
        return
    sc = sc_of(ctx)
    tz, tz_name = _zone(sc.config)
    now = utcnow()
    start = read_since(sc, since, "--since", now=now) or now - timedelta(days=7)
    params = ReportParams(
        since=start,
        until=read_since(sc, until, "--until", now=now) or now,
        now=now,
        tz=tz,
        tz_name=tz_name,
        by=by,
        source=source,
        top=top,
    )
    result = sc.report(params)
    if csv_dir:
        files = write_report_csv(result, csv_dir)
        err_console.print(Text(f"Wrote {len(files)} CSV files to {csv_dir}"))
    if html:
        previous = sc.report(params.previous_period())  # each headline card's change
        _write_html(html, render_html(result, tz, previous=previous))
    if json_:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    elif not csv_dir and not html:
        _print_report(result, tz)


def _write_html(path: str, page: str) -> None:
    target = Path(path).expanduser()
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--html {target}: cannot write ({exc.strerror})") from None
    err_console.print(Text(f"Wrote {target}"))


def _header(column: str) -> str:
    """A column's name for people: ``median``, not ``median_seconds``, when the cell is ``1h11m``.

    Cells of ``*_seconds`` columns are shown as durations (``format_cell``), so the
    unit in the name would be wrong; JSON and CSV keep the full names.
    """
    return column.removesuffix("_seconds").replace("_", " ")


def _rich_table(table: ReportTable, width: int, *, wrap_text: bool = False) -> Table:
    """A report table as a rich Table; untrusted cells are Text, never markup.

    Numbers are never cut (their headers wrap at word breaks instead); text
    columns are cut with an ellipsis unless ``wrap_text``; the bar column
    takes what is left of ``width``, because a cropped bar would lie about
    proportions.
    """
    from ..reports.metrics import bar, format_cell, sparkline

    out = Table(title=table.title, title_justify="left", caption=table.note or None)
    cells = [
        [one_line(format_cell(c, v), 60) for c, v in zip(table.columns, row, strict=True)]
        for row in table.rows
    ]
    headers = [one_line(_header(name), 30) for name in table.columns]
    numeric = [
        bool(table.rows) and all(isinstance(r[i], (int, float)) or r[i] is None for r in table.rows)
        for i in range(len(table.columns))
    ]
    needs = [
        max([len(word) for word in headers[i].split()] + [len(r[i]) for r in cells])
        if numeric[i]
        else min(max([len(headers[i])] + [len(r[i]) for r in cells]), 12)
        for i in range(len(table.columns))
    ]
    charted = bool(table.chart and table.chart_value)
    fixed = 1 + 3 * (len(table.columns) + charted) + sum(needs)
    bar_width = max(min(width - fixed, _BAR_WIDTH), 6) if charted else 0
    text_needs = [n for n, is_num in zip(needs, numeric, strict=True) if not is_num]
    # share what numbers and the bar leave among the text columns, so rich never has
    # to squeeze a number column to fit
    spare = width - fixed - bar_width + sum(text_needs)
    text_max = min(max(spare // max(len(text_needs), 1), 6), 40)
    for header, is_num, need in zip(headers, numeric, needs, strict=True):
        if is_num:
            out.add_column(Text(header), justify="right", min_width=need)
        else:
            out.add_column(
                Text(header),
                no_wrap=not wrap_text,
                overflow="fold" if wrap_text else "ellipsis",
                min_width=min(need, text_max),
                max_width=text_max,
            )
    values: list[float] = []
    if charted and table.chart_value:
        values = [float(v or 0) for v in table.column(table.chart_value)]
        out.add_column(Text(""), no_wrap=True, min_width=bar_width, max_width=bar_width)
    top = max(values, default=0.0)
    for i, row_cells in enumerate(cells):
        texts = [Text(c) for c in row_cells]
        if values:
            texts.append(Text(bar(values[i], top, bar_width), style="cyan"))
        out.add_row(*texts)
    if table.chart == "stacked" and values:
        out.caption = f"trend {sparkline(values)}" + (f"  ({table.note})" if table.note else "")
    return out


def _print_report(result: Report, tz: tzinfo) -> None:
    from ..reports.metrics import headline

    since, until = (time_text(t, tz) for t in (result.since, result.until))
    scope = f", source {result.source}" if result.source else ""
    console.print(
        Text(
            f"Report {since} to {until} ({result.timezone}, by {result.by}{scope})",
            style="bold",
        )
    )
    console.print(Text("  ".join(f"{label}: {value}" for label, value in headline(result))))
    for table in result.tables:
        if not table.rows:
            console.print(Text(f"{table.title}: no data for this period", style="dim"))
            continue
        console.print(_rich_table(table, console.width))


@report_app.command("spikes")
def spikes(
    ctx: typer.Context,
    window: str = typer.Option("1h", "--window", help="Window length: 1h, 1d, 30m, ..."),
    baseline: int = typer.Option(
        24, "--baseline", min=1, max=MAX_COUNT, help="How many previous windows form the baseline."
    ),
    sigma: float = typer.Option(3.0, "--sigma", help="Spike above baseline mean + SIGMA std."),
    min_count: int = typer.Option(
        5, "--min-count", min=1, max=MAX_COUNT, help="Ignore windows below this."
    ),
    source: Optional[str] = typer.Option(
        None, "--source", help="Only this source.", autocompletion=complete_source
    ),
    alert: bool = typer.Option(False, "--alert", help="Exit with code 9 if a spike is found."),
    json_: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """Detect a jump in negative or complaint mentions in the last window, and what drives it.

    The last window's count is a spike when it is at least --min-count, above
    the baseline mean + --sigma standard deviations, and has a Poisson tail
    probability below 0.001 (so a flat baseline does not alarm on +1). The
    baseline is the --baseline windows before it (only those after the first
    stored mention). Driving terms are those far more frequent in the window
    than in the baseline. With --alert, exit code 9 means a spike was found.

    Example: socialcare report spikes --window 1h --alert
    """
    from ..reports.metrics import SpikeRule

    window_s = parse_duration(window, what="--window").total_seconds()
    rule = SpikeRule(sigma=sigma, min_count=min_count)
    sc = sc_of(ctx)
    findings = sc.spikes(window_s=window_s, windows=baseline, rule=rule, source=source)
    if json_:
        typer.echo(json.dumps(_spikes_json(findings), ensure_ascii=False, indent=2))
    else:
        _print_spikes(findings, window, sc.config.timezone)
    if alert and any(f.result.spike for f in findings):
        raise typer.Exit(SPIKE_EXIT_CODE)


def _print_spikes(findings: list[SpikeFinding], window: str, tz: str | None) -> None:
    from ..reports.metrics import spike_table

    if findings:
        f = findings[0]
        start, end = time_text(f.window_start, tz), time_text(f.window_end, tz)
        console.print(
            Text(
                f"Last {window}: {start} to {end}, baseline "
                f"{f.result.baseline_windows} windows before it (negative or complaint mentions)"
            )
        )
    narrow = spike_table(findings).select(
        ["scope", "count", "baseline_mean", "threshold", "p_value", "spike", "reason"]
    )
    console.print(_rich_table(narrow, console.width, wrap_text=True))
    for f in findings:
        if f.result.spike:
            drivers = ", ".join(d.term for d in f.drivers) or "no single term stands out"
            console.print(
                Text(
                    f"SPIKE in {f.scope}: {f.result.count} vs {f.result.mean:.1f} usual; "
                    f"driven by: {one_line(drivers, 200)}",
                    style="bold red",
                )
            )


def _spikes_json(findings: list[SpikeFinding]) -> list[dict[str, Any]]:
    return [
        {
            "scope": f.scope,
            "window_start": f.window_start,
            "window_end": f.window_end,
            "count": f.result.count,
            "baseline_windows": f.result.baseline_windows,
            "baseline_mean": f.result.mean,
            "baseline_std": f.result.std,
            "threshold": f.result.threshold,
            "p_value": f.result.p_value,
            "spike": f.result.spike,
            "reason": f.result.reason,
            "drivers": [
                {
                    "term": d.term,
                    "window": d.window,
                    "baseline": d.baseline,
                    "expected": round(d.expected, 3),
                    "lift": round(d.lift, 3),
                }
                for d in f.drivers
            ],
        }
        for f in findings
    ]
