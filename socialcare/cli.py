"""The ``socialcare`` command: the root typer app, over :class:`socialcare.app.Socialcare`.

The commands live in :mod:`socialcare.commands`, one module per group; this
module registers them and maps errors to exit codes, in one place. Each command
parses options, calls one library method and renders the result. Registration
is lazy (issue 18, start-up): ``--help`` lists :data:`COMMANDS`, and a command's
module is imported, and its options built, only when that command runs.
Every ``SocialcareError`` becomes one ``Error: ...`` line on stderr and the
error's exit code (see ``socialcare.errors``); set ``SOCIALCARE_DEBUG=1`` to
get the traceback instead.
"""

from __future__ import annotations

import functools
import gc
import importlib
import os
import re
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, Optional

import typer
from typer.core import TyperCommand, TyperGroup

from .errors import SocialcareError
from .safety import keep_files_private, one_line

if TYPE_CHECKING:
    from typer._click import Command  # typer's own copy of click: its command class

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


#: Every top-level command in ``--help`` order: its name, the module of
#: ``socialcare.commands`` that defines it, and its one-line help. ``--help`` and shell
#: completion list commands from here, so neither imports a command module; a
#: command's module is imported only when that command runs (each module pulls in
#: rich tables, the library API and its own helpers). tests/test_startup.py checks
#: every line against the command its module builds.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("listen", "Write a starter config (demo source enabled) and create the database."),
    "sources": ("listen", "List source adapters, whether each is enabled, its credentials are set, and what it does with private messages (reads, sends, who may be messaged first)."),
    "poll": ("listen", "Fetch new mentions from sources into the store, incrementally and idempotently."),
    "queue": ("queue", "Show open mentions ranked by urgency, scored at this moment."),
    "explain": ("queue", "Break a mention's current score into its signals and their contributions."),
    "show": ("agent", "Show a mention in full: link, score explanation, thread and the customer's history."),
    "claim": ("agent", "Claim a mention so other agents see you are on it."),
    "assign": ("agent", "Assign a mention to an agent."),
    "release": ("agent", "Release your claim on a mention."),
    "reply": ("agent", "Reply through the platform, via the outbox (never posted twice)."),
    "templates": ("agent", "List reply templates (plain files in the templates dir) and their placeholders."),
    "close": ("agent", "Close a mention: handled, out of the queue."),
    "reopen": ("agent", "Reopen a closed or replied mention."),
    "snooze": ("agent", "Hide a mention from the queue until a time; it comes back by itself."),
    "tag": ("agent", "Tag a mention."),
    "note": ("agent", "Add an internal note to a mention (never posted)."),
    "log": ("agent", "Show the audit log: who did what, when."),
    "hide": ("moderation", "Hide a comment on Facebook or Instagram (its author still sees it; others do not)."),
    "dm": ("work", "Take a public mention to DM: a private message to its author and, optionally, a public reply, each through the outbox exactly once (the DM first; the public reply only once it is sent)."),
    "work": ("work", "Work the queue interactively: reply, template, DM, skip, close, snooze, assign or quit."),
    "due": ("followups", "Send the follow-ups and posts that are due (run from cron every 5 minutes)."),
    "export": ("reports", "Stream mentions, replies, follow-ups or the audit log as CSV, JSON lines or JSON."),
    "status": ("listen", "Show source health: last poll, last error, items, rate limit, next poll, gaps, budget."),
    "gaps": ("listen", "List ranges that cut-short polls skipped and later polls still have to backfill."),
    "route": ("team", "Route a mention by the [routing] rules now, or explain what they would do."),
    "triage": ("queue", "Re-score stored mentions after weights, lexicon, SLAs or the model change."),
    "outbox": ("agent", "List outbox items that are pending, sending (maybe stuck), unknown or failed."),
    "customer": ("agent", "One customer across platforms: link identities, see history."),
    "agent": ("agent", "Agents' availability and load: away, back, list."),
    "followup": ("followups", "Schedule, list, edit and cancel follow-ups to customers."),
    "post": ("followups", "Schedule proactive posts (announcements)."),
    "incident": ("incident", "Incidents: one outage, every affected customer answered once, posted, followed up."),
    "kb": ("kb", "Knowledge base: index help-centre articles, search them, suggest them, report deflection."),
    "report": ("reports", "Volume, sentiment, intent, first response, SLA, resolution, backlog, agents, authors, terms."),
    "db": ("db", "The store: backend, schema version and counts; upgrades; copying between backends."),
    "notify": ("team", "Notifications to Slack, Teams, Mattermost or a JSON webhook."),
}  # fmt: skip


def _mount(module: str, target: typer.Typer) -> None:
    """Add the commands and groups that ``socialcare.commands.<module>`` defines to ``target``."""
    commands = importlib.import_module(f"{__package__}.commands.{module}")
    if module == "followups":
        target.add_typer(commands.followup_app, name="followup")
        target.add_typer(commands.post_app, name="post")
        target.command("due")(commands.due)
    elif module == "incident":
        target.add_typer(commands.incident_app, name="incident")
    elif module == "kb":
        target.add_typer(commands.kb_app, name="kb")
    elif module == "reports":
        from .commands import team

        target.command("export")(commands.export)
        commands.report_app.command("response")(team.report_response)  # once: _module_app
        target.add_typer(commands.report_app, name="report")
    elif module == "db":
        target.add_typer(commands.db_app, name="db")
    else:
        commands.commands.register(target)
        if module == "listen":
            target.command("status")(commands.status)
            target.command("gaps")(commands.gaps)


@functools.cache
def _module_app(module: str) -> typer.Typer:
    """A Typer holding one command module's commands, built once per process."""
    holder = typer.Typer()
    _mount(module, holder)
    return holder


def _build(name: str) -> Command:
    """The click command for the top-level command ``name``, importing only its module."""
    from typer.main import get_command_from_info, get_command_name, get_group_from_info

    holder = _module_app(COMMANDS[name][0])
    for info in holder.registered_commands:
        callback = info.callback
        if (info.name or (callback and get_command_name(callback.__name__))) == name:
            return get_command_from_info(
                info,
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
            )
    for group in holder.registered_groups:
        if group.name == name:
            return get_group_from_info(
                group,
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
                suggest_commands=app.suggest_commands,
            )
    raise LookupError(f"socialcare.commands.{COMMANDS[name][0]} defines no command {name!r}")


#: what a plain value check returns when typer's own coercion must decide
_UNDECIDED: Any = object()
#: a float option's value typed as plain ASCII decimals (``7``, ``0.5``, ``-1.25``)
_DECIMAL = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?")


def _plain_value(descriptor: Any, value: Any) -> Any:
    """``value`` as typer's pydantic coercion would return it, where that is plain to see.

    A ``str`` option given a string, an ``int`` given an int or ASCII digits, a
    ``float`` given a number or plain decimals, each inside the option's ``min``/``max``, come back
    as they are (the int as ``int(value)``, the number as a float). Anything
    else (a bad value, a choice, a path, a parser) is :data:`_UNDECIDED`, and
    typer's own coercion runs, with its own error messages.
    """
    annotation = descriptor.annotation
    info = descriptor.parameter_info
    if info.parser is not None or descriptor.file_annotation is not None:
        return _UNDECIDED
    if annotation is str:
        return value if type(value) is str else _UNDECIDED
    if annotation is int:
        if type(value) is str and value.isascii() and value.isdigit() and len(value) < 19:
            value = int(value)
        if type(value) is not int:
            return _UNDECIDED
    elif annotation is float:
        if type(value) is str and _DECIMAL.fullmatch(value):
            value = float(value)
        elif type(value) is int:
            value = float(value)
        if type(value) is not float or value != value:  # NaN: let typer say what it does
            return _UNDECIDED
    else:
        return _UNDECIDED
    if (info.min is not None and value < info.min) or (info.max is not None and value > info.max):
        return _UNDECIDED
    return value


@functools.cache
def _deferred_coercion() -> Any:
    """The runtime-coercion class that builds typer's pydantic TypeAdapter only when needed.

    typer (0.2x) coerces every option value, the default ``None`` included,
    through a pydantic TypeAdapter it builds on first use: importing pydantic
    and building one adapter per option cost more than the rest of
    ``socialcare queue``. This class answers ``None`` and the plain values of
    :func:`_plain_value` itself, and hands every other value to the adapter
    typer would have used, so errors and results are typer's own. None on a
    typer without that layer (nothing to defer).
    """
    try:
        from typer import _coercion
    except ImportError:  # pragma: no cover - typer before its pydantic coercion
        return None

    class Deferred(_coercion.RuntimeParam):
        # not a dataclass of its own: making one compiles six methods from source, a cost
        # every command paid at start-up for a field nothing compares or prints
        descriptor: Any

        def __init__(self, *, parameter_info: Any, annotation: Any, descriptor: Any) -> None:
            super().__init__(parameter_info=parameter_info, annotation=annotation)
            object.__setattr__(self, "descriptor", descriptor)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            plain = _plain_value(self.descriptor, value)
            if plain is not _UNDECIDED:
                return plain
            typers = _coercion.build_runtime_param(self.descriptor)
            param._runtime_param = typers  # from now on, typer's own
            return typers._coerce_value(value, param=param, ctx=ctx)

    return Deferred


def _defer_coercion(command: Command, ctx: Any) -> None:
    """Give each option of ``command`` and of its subcommands, ``--help`` included, the
    deferred coercion (``ctx`` names the help option, as it does for every subcommand)."""
    _defer_params(command.get_params(ctx))
    for sub in getattr(command, "commands", {}).values():
        _defer_coercion(sub, ctx)


def _defer_params(params: list[Any]) -> None:
    deferred = _deferred_coercion()
    if deferred is None:  # pragma: no cover - older typer
        return
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is not None and getattr(param, "_runtime_param", 0) is None:
            param._runtime_param = deferred(
                parameter_info=descriptor.parameter_info,
                annotation=descriptor.annotation,
                descriptor=descriptor,
            )


class _LazyCommands(MutableMapping[str, "Command"]):
    """The root's commands: every name of :data:`COMMANDS`, each built when first looked up.

    ``--help``, completion and "did you mean" see the names (and :meth:`peek`'s
    one-line stand-ins) without importing anything; ``queue`` imports the queue
    module alone.
    """

    def __init__(self, given: Mapping[str, Command]) -> None:
        self._built: dict[str, Command] = dict(given)
        self._names = [*COMMANDS, *(name for name in given if name not in COMMANDS)]

    def __getitem__(self, name: str) -> Command:
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built[name] = _build(name)
        return self._built[name]

    def __setitem__(self, name: str, command: Command) -> None:
        if name not in self._names:
            self._names.append(name)
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        self._names.remove(name)
        self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names))

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def peek(self, name: str) -> Command | None:
        """The command if built, else a stand-in with its name and one-line help only."""
        if name in self._built:
            return self._built[name]
        if name not in COMMANDS:
            return None
        return TyperCommand(name=name, help=COMMANDS[name][1], rich_markup_mode=None)


class _Root(_Group):
    """The ``socialcare`` group: commands from :data:`COMMANDS`, each module imported when run.

    Listing (``--help``, completing a command name) reads the table; running or
    completing inside a command builds that command alone.
    """

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _LazyCommands(self.commands)
        self._listing = False

    def get_command(self, ctx: Any, cmd_name: str) -> Command | None:
        commands = self.commands
        if self._listing and isinstance(commands, _LazyCommands):
            return commands.peek(cmd_name)
        return super().get_command(ctx, cmd_name)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        _defer_params(self.get_params(ctx))  # the root's own; a command's in resolve_command
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None:
            _defer_coercion(command, ctx)
        return name, command, rest

    def list_commands(self, ctx: Any) -> list[str]:
        # the names alone: typer's own list_commands reads items(), which would build each
        return list(self.commands)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False

    def shell_complete(self, ctx: Any, incomplete: str) -> list[Any]:
        self._listing = True
        try:
            return super().shell_complete(ctx, incomplete)
        finally:
            self._listing = False


app = typer.Typer(
    cls=_Root,
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


def main() -> None:
    """Console-script entry point: also quiet on Ctrl-C at start-up and on a closed pipe at exit.

    The objects made so far (typer, rich, this module's tables: ~100k) live as long as
    the process; frozen, the collections the command sets off no longer walk them all
    again (``show`` and ``queue`` each ran ~26M fewer instructions, 10% of
    ``import typer, rich``: issue 18 item 7). Nothing of the command's own is frozen.
    """
    gc.freeze()
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
