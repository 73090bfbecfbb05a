"""``socialcare db ...``: the store itself: schema status, upgrades, copying between backends.

A thin typer layer over :class:`socialcare.app.Socialcare`'s ``db_*`` methods.
These commands open the store without migrating it, so ``db status`` can say
what an upgrade would apply before ``db upgrade`` applies it. Locations are
printed with any password removed.
"""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.table import Table

from .common import console, progress_bar, sc_of

__all__ = ["db_app"]

db_app = typer.Typer(
    help="The store: backend, schema version and counts; upgrades; copying between backends.",
    no_args_is_help=True,
)


@db_app.command("status")
def db_status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="One JSON object."),
) -> None:
    """Backend, where the data is, schema version (and pending migrations), row counts.

    Counts are exact (kept by the store as rows come and go) except on
    PostgreSQL for tables past 10,000 rows: there they are the planner's
    estimate, marked ~ (counting a million rows takes most of a second).

    Example: socialcare db status
    """
    info = sc_of(ctx).db_status()
    pending, counts = info["pending"], info["counts"]
    if as_json:
        console.print_json(json.dumps(info))
        return
    console.print(f"backend   {info['backend']}", markup=False)
    console.print(f"location  {info['location']}", markup=False)
    console.print(
        f"schema    version {info['schema_version']} of {info['latest_version']}"
        + (f" ({len(pending)} pending: run `socialcare db upgrade`)" if pending else ""),
        markup=False,
    )
    if counts:
        estimated = set(info["estimated"])
        table = Table("table", "rows", box=None, pad_edge=False)
        for name, n in counts.items():
            table.add_row(name, f"~{n:,}" if name in estimated else f"{n:,}")
        console.print(table)
        if estimated:
            console.print("~ the planner's estimate, not a count", markup=False)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply the schema migrations this version has and the store lacks (safe to repeat).

    Example: socialcare db upgrade
    """
    applied, version = sc_of(ctx).db_upgrade()
    if applied:
        console.print(f"Applied {', '.join(applied)}: now at version {version}", markup=False)
    else:
        console.print(f"Already at the newest schema (version {version})", markup=False)


@db_app.command("copy")
def db_copy(
    ctx: typer.Context,
    to: str = typer.Option(
        ..., "--to", help="Target: postgresql://user@host/db or a SQLite file path."
    ),
    from_: Optional[str] = typer.Option(
        None, "--from", help="Source (default: the configured database)."
    ),
    batch_size: int = typer.Option(2000, "--batch-size", help="Rows per read and per commit."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing when all went well."),
) -> None:
    """Copy every table into another store (SQLite <-> PostgreSQL); running it twice adds nothing.

    Reads in keyset pages and commits page by page, so it streams millions
    of rows in flat memory and an interrupted copy can simply be run again.
    Ends with each table's counts checked (exit 12 if the target has fewer rows).
    On a terminal a bar per table shows rows copied out of its count (not with
    --quiet, and never in a pipe).

    Example: socialcare db copy --to postgresql://care@db.example.com/socialcare
    """

    with progress_bar(quiet=quiet) as progress:
        results, where = sc_of(ctx).db_copy(to, from_=from_, batch=batch_size, progress=progress)
    if quiet:
        return
    table = Table("table", "source", "copied", "already there", "target", box=None)
    for r in results:
        table.add_row(
            r.table, f"{r.source_rows:,}", f"{r.inserted:,}", f"{r.already_there:,}",
            f"{r.target_rows:,}",
        )  # fmt: skip
    console.print(f"Copied {where}", markup=False)
    console.print(table)
    console.print("Counts check: every table complete.", markup=False)
