"""`queue`, `explain` and `triage` (re-score, `train`, `model`): the ranked queue and why."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import typer

from ..models import Step
from ..safety import clean_text, csv_safe, one_line
from ..timeutil import format_age
from .common import (
    JSON_OPTION,
    JSONL_OPTION,
    MAX_COUNT,
    CommandSet,
    complete_agent,
    complete_mention_id,
    complete_source,
    console,
    contribution_json,
    err_console,
    exclusive,
    fit,
    mention_json,
    print_json,
    print_jsonl,
    progress_bar,
    read_since,
    sc_of,
    time_text,
)
from .plain import (
    CellKind,
    PlainColumn,
    plain_fit,
    plain_width,
    table_lines,
    write_line,
    write_lines,
)

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text

    from ..app import Row

commands = CommandSet()


# -- triage ------------------------------------------------------------------
#: a cell as text and its style on a terminal (a pipe gets the text alone)
Cell = tuple[str, str]


def _sla_cell(row: Row) -> Cell:
    if row.get("follow_up") and row.get("next_response_left") is not None:
        return _next_response_cell(row)
    left = row.get("sla_left")
    if row.get("sla_paused"):  # outside business hours ([hours]): the clock stands still
        return f"SLA paused ({row['sla_paused']})", "dim"
    if left is None:
        return "-", "dim"
    if left < 0:
        return f"over {format_age(-left)}", "bold red"
    return format_age(left), "yellow" if left < 1800 else ""


def _sla_text(row: Row) -> Text:
    from rich.text import Text

    return Text(*_sla_cell(row))


def _next_response_cell(row: Row) -> Cell:
    left = row.get("next_response_left")
    if row.get("sla_paused"):
        return f"next reply paused ({row['sla_paused']})", "dim"
    if left is None:
        return "next reply: no SLA", "dim"
    if left < 0:
        return f"next reply overdue {format_age(-left)}", "bold red"
    return f"next reply due {format_age(left)}", "yellow" if left < 1800 else ""


def next_response_text(row: Row) -> Text:
    """A follow-up's next-response clock ("next reply due 14m", "next reply overdue 1h");
    ``queue`` and ``show`` both print it."""
    from rich.text import Text

    return Text(*_next_response_cell(row))


def _sentiment_cell(row: Row) -> Cell:
    if not row.get("sentiment_scored"):
        return "unscored", "dim"
    value = float(row.get("sentiment_compound") or 0.0)
    return f"{value:+.2f}", "red" if value <= -0.05 else "green" if value >= 0.05 else ""


def _dm_mark(row: Row) -> str | None:
    """A private conversation's mark before its text (``DM×3 ``), None for a public mention."""
    if row.get("kind") != "dm":
        return None
    n = int(row.get("messages") or 1)
    return f"DM×{n} " if n > 1 else "DM "


def _text_cell(row: Row, width: int) -> Text:
    """The mention's text on one line; a private conversation is marked, with its count."""
    from rich.text import Text

    mark = _dm_mark(row)
    if mark is None:
        return fit(row["text"], width)
    cell = Text(mark, style="bold magenta")
    cell.append_text(fit(row["text"], max(width - len(mark), 8)))
    return cell


def _plain_text_cell(row: Row, width: int, unbounded: bool) -> str:
    """:func:`_text_cell` for a pipe: the same characters, without rich."""
    mark = _dm_mark(row)
    if mark is None:
        return plain_fit(row["text"], width, unbounded)
    return mark + plain_fit(row["text"], max(width - len(mark), 8), unbounded)


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


#: what ``queue --json`` adds to a mention's export fields: the rank at this moment, and
#: (for a private conversation, shown as one item) how many of its messages wait
#: (and, for a customer's follow-up after our reply, when the next reply is due)
QUEUE_EXTRA = ("score", "sla_left", "age_seconds", "messages", "follow_up", "next_response_left")


def _timestamp(when: datetime | None) -> float | None:
    return None if when is None else when.timestamp()


#: text gets at least this many columns; below it, the queue drops author, then age
_MIN_TEXT = 16


def _queue_layout(rows: list[Row], width: int) -> tuple[list[tuple[str, int]], int]:
    """The queue's columns (name, least width) before the text, and the text's width.

    Narrow terminals keep the columns an agent needs (a terminal under ~75 columns
    drops author, then age, before the text gets too short to read); wide ones add
    rank and sentiment.
    """
    columns: list[tuple[str, int]] = [
        ("id", max(len(r["id"]) for r in rows)),
        ("score", 5),
        # wide enough for "next reply overdue 1h" or "SLA paused (opens Mon 08:00)"
        ("SLA", max(10, *(len(_sla_cell(r)[0]) for r in rows))),
        ("intent", 9),
        ("age", 6),
        ("author", 14),
    ]
    if width >= 110:
        columns.insert(0, ("#", len(str(len(rows)))))
        columns.insert(5, ("sentiment", 9))
    for optional in ("author", "age"):
        if width - sum(w + 1 for _, w in columns) - 1 >= _MIN_TEXT:
            break
        columns = [c for c in columns if c[0] != optional]
    # Cut the text ourselves: rich drops whole columns when one cell is too long.
    return columns, max(width - sum(w + 1 for _, w in columns) - 1, _MIN_TEXT)


def _queue_table(rows: list[Row]) -> Table:
    """The ranked queue, fitted to the terminal (in a pipe: every column, whole)."""
    from rich.table import Table
    from rich.text import Text

    cells: dict[str, Callable[[int, Row], Any]] = {
        "#": lambda n, r: str(n),
        "id": lambda n, r: Text(r["id"]),
        "score": lambda n, r: f"{r['score']:.2f}",
        "SLA": lambda n, r: _sla_text(r),
        "intent": lambda n, r: r.get("intent") or "-",
        "sentiment": lambda n, r: Text(*_sentiment_cell(r)),
        "age": lambda n, r: format_age(r["age_seconds"]),
        "author": lambda n, r: fit("@" + (r["author_handle"] or ""), 14),
    }
    columns, text_width = _queue_layout(rows, console.width)
    table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold")
    for name, least in columns:
        table.add_column(name, no_wrap=True, min_width=least)
    table.add_column("text", no_wrap=True)
    for n, row in enumerate(rows, start=1):
        table.add_row(*(cells[name](n, row) for name, _ in columns), _text_cell(row, text_width))
    return table


def _write_plain_queue(rows: list[Row]) -> bool:
    """The queue table on a pipe without rich, byte for byte what :func:`_queue_table`
    prints there; False when rich must print it (a terminal, a cell rich would change)."""
    layout = plain_width()
    if layout is None:
        return False
    width, unbounded = layout
    columns, text_width = _queue_layout(rows, width)
    cells: dict[str, tuple[CellKind, Callable[[int, Row], str]]] = {
        "#": ("str", lambda n, r: str(n)),
        "id": ("text", lambda n, r: r["id"]),
        "score": ("str", lambda n, r: f"{r['score']:.2f}"),
        "SLA": ("text", lambda n, r: _sla_cell(r)[0]),
        "intent": ("str", lambda n, r: r.get("intent") or "-"),
        "sentiment": ("text", lambda n, r: _sentiment_cell(r)[0]),
        "age": ("str", lambda n, r: format_age(r["age_seconds"])),
        "author": (
            "clean",
            lambda n, r: plain_fit("@" + (r["author_handle"] or ""), 14, unbounded),
        ),
    }
    table = [
        PlainColumn(
            name, least, [cells[name][1](n, r) for n, r in enumerate(rows, 1)], cells[name][0]
        )
        for name, least in columns
    ]
    texts = [_plain_text_cell(r, text_width, unbounded) for r in rows]
    table.append(PlainColumn("text", None, texts, "clean"))
    lines = table_lines(table, width, unbounded)
    if lines is None:
        return False
    write_lines(lines)
    return True


@commands.command()
def queue(
    ctx: typer.Context,
    source: Optional[str] = typer.Option(
        None, "--source", help="Only this source.", autocompletion=complete_source
    ),
    status: str = typer.Option(
        "open", "--status", help="open, snoozed, replied, closed, spam or all."
    ),
    assignee: Optional[str] = typer.Option(
        None, "--assignee", help="Only mentions assigned to NAME.", autocompletion=complete_agent
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
    limit: int = typer.Option(50, "--limit", "-n", min=1, max=MAX_COUNT, help="How many to show."),
    sort: str = typer.Option(
        "score", "--sort", help="score (default) or sla (least time left first)."
    ),
    incident: Optional[str] = typer.Option(
        None, "--incident", help="Only this incident's mentions (otherwise folded to one line)."
    ),
    kind: Optional[str] = typer.Option(
        None, "--kind", help="dm (private conversations, one item each) or public."
    ),
    json_: bool = JSON_OPTION,
    jsonl: bool = JSONL_OPTION,
    csv_: bool = typer.Option(False, "--csv", help="CSV for spreadsheets (formulas neutralised)."),
) -> None:
    """Show open mentions ranked by urgency, scored at this moment.

    An open incident's mentions are folded into one line (see `incident`).
    A private conversation is one item (its newest message, marked DM with the
    number of messages waiting).

    Example: socialcare queue --intent complaint --limit 20
    """
    from ..app import QueueFilter

    exclusive(json=json_, jsonl=jsonl, csv=csv_)
    if sort not in ("score", "sla"):
        raise typer.BadParameter("use score or sla", param_hint="--sort")
    sc = sc_of(ctx)
    flt = QueueFilter(
        status=status,
        source=source,
        assignee=assignee,
        intent=intent,
        min_score=min_score,
        since_ts=_timestamp(read_since(sc, since)),
        search=search,
        limit=limit,
        sort=sort,
        kind=kind,
    )
    rows, folded = sc.queue_folded(flt, incident=incident)
    if json_ or jsonl:
        items = (mention_json(row, QUEUE_EXTRA) for row in rows)
        print_jsonl(items) if jsonl else print_json(list(items))
        return
    if csv_:
        import csv  # only here: the table and JSON paths (most runs) need no csv module

        writer = csv.writer(sys.stdout)
        writer.writerow(QUEUE_COLUMNS)
        for row in rows:
            writer.writerow([csv_safe(row.get(k)) for k in QUEUE_COLUMNS])
        return
    for f in folded:  # one line per open incident instead of its mentions
        line = (
            f"[incident {f.name}] {f.open_mentions} open mention(s) from {f.customers} "
            f"customer(s), top score {f.top_score:.2f}: `socialcare queue --incident "
            f"{f.name}`, `socialcare incident reply {f.name}`"
        )
        if not write_line(line, "text"):
            from rich.text import Text

            console.print(Text(line))
    if not rows:
        empty = "Queue is empty: nothing waiting. (Try `socialcare poll`.)"
        if not folded and not write_line(empty, "str"):
            console.print(empty)
        return
    if not _write_plain_queue(rows):
        console.print(_queue_table(rows))


@commands.command()
def explain(
    ctx: typer.Context,
    mention_id: str = typer.Argument(
        ..., metavar="ID", help="Mention id, e.g. twitter:1234.", autocompletion=complete_mention_id
    ),
    json_: bool = typer.Option(False, "--json", help="One JSON object for scripts."),
) -> None:
    """Break a mention's current score into its signals and their contributions.

    Example: socialcare explain demo:1001
    """
    from rich.table import Table
    from rich.text import Text

    row, parts = sc_of(ctx).explain(mention_id)
    if json_:
        return print_json(
            {
                "id": row["id"],
                "score": sum(p.contribution for p in parts),
                "contributions": [contribution_json(p) for p in parts],
            }
        )
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


triage_app = typer.Typer()
commands.group(triage_app, name="triage")


@triage_app.callback(invoke_without_command=True)
def triage(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "--all", help="Re-score every stored mention."),
) -> None:
    """Re-score stored mentions after weights, lexicon, SLAs or the model change.

    New mentions are triaged automatically by `poll`; run this after editing [triage].
    `triage train` fits a model on the team's own answers; `triage model` shows it.

    Example: socialcare triage --all
    """
    if ctx.invoked_subcommand:
        return
    if not all_:
        raise typer.BadParameter("say --all to re-score every stored mention", param_hint="--all")
    sc = sc_of(ctx)
    total = sc.mention_count()
    started = time.perf_counter()
    with progress_bar() as progress:
        done = [0]

        def advance(n: int) -> None:
            done[0] += n
            progress(Step("triage", done[0], total))

        count = sc.retriage(advance)
    console.print(f"Re-scored {count} mentions in {time.perf_counter() - started:.1f}s")


def _auc(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.3f}"


@triage_app.command("train")
def triage_train(
    ctx: typer.Context,
    labels: Optional[Path] = typer.Option(
        None, "--labels", metavar="FILE", help="CSV or JSONL of id,label (answer/no_answer, 1/0)."
    ),
    min_labels: Optional[int] = typer.Option(
        None,
        "--min-labels",
        min=10,
        help="Fewer labels than N: keep the zero-label score.",
    ),
    reset: bool = typer.Option(False, "--reset", help="Stop using the model: zero-label score."),
) -> None:
    """Learn "needs an answer" from the team's replies and closes, and score with it.

    Replied mentions (outbox sent or a native brand answer) count as needing an
    answer; ones closed with no reply, or spam, as not. The model is stored in
    the store (shared by the team), and open mentions are re-scored.

    Example: socialcare triage train --labels history.csv
    """
    from rich.text import Text

    sc = sc_of(ctx)
    if reset:
        if labels is not None or min_labels is not None:
            raise typer.BadParameter("--reset takes no other option", param_hint="--reset")
        off, rescored = sc.triage_reset()
        what = "Stopped using the learned model" if off else "No learned model was in use"
        console.print(f"{what}: zero-label score; re-scored {rescored} open mentions")
        return
    r = sc.triage_train(labels_file=labels, min_labels=min_labels)
    source = f"{r.from_store} from the store's history"
    if labels is not None:
        source += f", {r.from_file} from {clean_text(labels.name)}"
    console.print(f"Labels: {r.answer} needed an answer, {r.no_answer} did not ({source})")
    if r.unknown_ids:
        err_console.print(f"Warning: {r.unknown_ids} ids in the labels file are not in the store")
    if r.model is None:
        console.print(Text(f"Not trained: {r.refused}. Keeping the zero-label score."))
        return
    console.print(
        f"Trained in {r.seconds:.1f}s: cross-validated ROC AUC {_auc(r.model.cv_auc)}, "
        f"{len(r.model.weights)} weights; re-scored {r.rescored} open mentions"
    )


@triage_app.command("model")
def triage_model(
    ctx: typer.Context,
    top: int = typer.Option(10, "--top", min=1, max=MAX_COUNT, help="Features to show each way."),
) -> None:
    """Show the model in use: when trained, on how many labels, its AUC, its top features.

    Example: socialcare triage model --top 5
    """
    from rich.table import Table
    from rich.text import Text

    sc = sc_of(ctx)
    model, row = sc.triage_model()
    if model is None or row is None:
        console.print(
            "No learned model: the zero-label score is in use. (Train one with "
            "`socialcare triage train`.)"
        )
        return
    console.print(
        f"Model #{row['id']}, trained {time_text(model.trained_at, sc.config.timezone)} "
        f"on {model.labels} labels "
        f"({model.positives} needed an answer, {model.negatives} did not); "
        f"cross-validated ROC AUC {_auc(model.cv_auc)}; {len(model.weights)} weights"
    )
    table = Table("towards 'needs an answer'", "weight", "towards 'no answer'", "weight")
    ups, downs = model.top_features(top)
    for n in range(max(len(ups), len(downs))):
        up = ups[n] if n < len(ups) else ("", None)
        down = downs[n] if n < len(downs) else ("", None)
        table.add_row(
            Text(clean_text(up[0])), "" if up[1] is None else f"{up[1]:+.2f}",
            Text(clean_text(down[0])), "" if down[1] is None else f"{down[1]:+.2f}",
        )  # fmt: skip
    console.print(table)
