"""The ``socialcare`` command: the root typer app, over :class:`socialcare.app.Socialcare`.

The commands live in :mod:`socialcare.commands`, one module per group; this
module registers them and maps errors to exit codes, in one place. Each command
parses options, calls one library method and renders the result.
Every ``SocialcareError`` becomes one ``Error: ...`` line on stderr and the
error's exit code (see ``socialcare.errors``); set ``SOCIALCARE_DEBUG=1`` to
get the traceback instead.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Optional

import typer
from typer.core import TyperGroup

from .errors import SocialcareError
from .safety import keep_files_private, one_line

__all__ = ["app", "main"]


#: exit code after Ctrl-C (128 + SIGINT, what shells report)
INTERRUPTED = 130


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _aborts() -> tuple[type[BaseException], ...]:
    """Ctrl-C, and Ctrl-D at a prompt: typer's Abort, and click's once a command imported click."""
    found: list[type[BaseException]] = [KeyboardInterrupt, typer.Abort]
    click = sys.modules.get("click")  # imported only by commands that prompt (work, editor)
    if click is not None:
        found.append(click.exceptions.Abort)
    return tuple(found)


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
            typer.echo(f"Error: {one_line(str(exc))}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except _aborts():  # evaluated when raised: click may have been imported since
            # Ctrl-C anywhere, Ctrl-D at a prompt: one line, the shell's code for SIGINT
            if os.environ.get("SOCIALCARE_DEBUG"):
                raise
            typer.echo("\nInterrupted", err=True)
            raise typer.Exit(INTERRUPTED) from None
        except BrokenPipeError:
            # the reader went away (``show ID | head -1``): it has what it wanted
            _silence_stdout()
            raise typer.Exit(0) from None
        except Exception as exc:  # a bug: say so briefly, exit 1
            # typer's (and click's) own exceptions carry usage errors and exits: let them through.
            if os.environ.get("SOCIALCARE_DEBUG") or _is_cli_exception(exc):
                raise
            typer.echo(
                f"Error: unexpected {type(exc).__name__}: {one_line(str(exc), 200)} "
                "(run with SOCIALCARE_DEBUG=1 for the traceback)",
                err=True,
            )
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Group,
    help="Social customer care from the terminal: listen, triage, respond, follow up, report.",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"socialcare {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
    config: Optional[str] = typer.Option(
        None,
        "--config",
        "-c",
        help="Config file (default: SOCIALCARE_CONFIG or the config dir).",
        metavar="PATH",
    ),
) -> None:
    from .commands.common import setup_logging

    setup_logging()
    keep_files_private()
    ctx.obj = {"config": config}


def _register() -> None:
    """Add every command group in the order ``--help`` lists them."""
    from .commands import (
        agent,
        db,
        followups,
        incident,
        kb,
        listen,
        moderation,
        queue,
        reports,
        team,
        work,
    )

    listen.commands.register(app)
    queue.commands.register(app)
    agent.commands.register(app)
    moderation.commands.register(app)
    work.commands.register(app)
    app.add_typer(followups.followup_app, name="followup")
    app.add_typer(followups.post_app, name="post")
    app.command("due")(followups.due)
    app.add_typer(incident.incident_app, name="incident")
    app.add_typer(kb.kb_app, name="kb")
    app.command("export")(reports.export)
    reports.report_app.command("response")(team.report_response)
    app.add_typer(reports.report_app, name="report")
    app.command("status")(listen.status)
    app.command("gaps")(listen.gaps)
    app.add_typer(db.db_app, name="db")
    team.commands.register(app)


_register()


def main() -> None:
    """Console-script entry point: also quiet on Ctrl-C at start-up and on a closed pipe at exit."""
    code: int | str | None = 0
    try:
        app()
    except SystemExit as exc:
        code = exc.code
    except KeyboardInterrupt:
        typer.echo("\nInterrupted", err=True)
        code = INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        code = 0
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    sys.exit(code)
